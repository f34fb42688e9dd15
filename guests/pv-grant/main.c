/*
 * pv-grant: grant tables, versions 1 and 2, as a 64-bit PV guest uses them (hypercall 20,
 * grant_table_op), in dom0 and in a domU.
 *
 * Xen 4.17 and c447b7308b alike (xen/common/grant_table.c, xen/arch/x86/pv/grant_table.c,
 * public/grant_table.h; GNTST_ okay 0, general_error -1, bad_domain -2, bad_gntref -3,
 * bad_handle -4, bad_virt_addr -5, permission_denied -8, bad_page -9, bad_copy_arg -10;
 * errno as Linux's):
 * - do_grant_table_op: a count negative as an int -EINVAL; opaque bits above the 12-bit
 *   command on anything but cache_flush -EINVAL; dump_table (3, no case) -ENOSYS;
 *   cache_flush (12) -ENOSYS since Xen 4.21 on x86 (5642a6055c, "x86/gnttab: do not
 *   implement GNTTABOP_cache_flush"; 4.17 does count 0 flushes: 0).  Per-element errors are
 *   the element's status; the call gives 0.
 * - A domain starts with one table frame (grant_table_init: INITIAL_NR_GRANT_FRAMES 1) and
 *   may grow to gnttab_max_frames, 64 by default (opt_max_grant_frames; dom0's build and
 *   the toolstack's -1 both take it).  query_size / setup_table / get_status_frames need
 *   count 1 (-EINVAL), look the domain up by any id (DOMID_SELF too; none:
 *   GNTST_bad_domain) and, from a domU, refuse another domain (XSM_TARGET:
 *   GNTST_permission_denied).  setup_table: more than the maximum GNTST_general_error;
 *   a frame list in Xen's range -EFAULT (guest_handle_okay), one that cannot be written
 *   GNTST_bad_virt_addr; otherwise the table grows and the list gets each frame's MFN (a
 *   PV guest's GFN is its MFN).  The frames are the domain's, writable: the guest maps
 *   them with update_va_mapping and edits its entries there.
 * - set_version: 1 is the version already in use (0, version 1 written back); anything
 *   but 1 and 2 -EINVAL (the current version still written back).  get_version of an
 *   unknown domain -ESRCH.  get_status_frames: a v1 table has no status frames, so 0
 *   frames is GNTST_okay and 1 GNTST_general_error.
 * - map_grant_ref: neither host_map nor device_map GNTST_bad_gntref; the domain is looked
 *   up by id only (DOMID_SELF: GNTST_bad_domain; the caller's own id maps its own grants);
 *   a ref past the table GNTST_bad_gntref; on the first pin the entry must be
 *   GTF_permit_access for the caller (else GNTST_general_error), a writable map of a
 *   GTF_readonly entry GNTST_general_error; Xen sets GTF_reading (and GTF_writing for a
 *   writable map) in the granter's entry and clears them with the last pin.  A writable
 *   map of a page-table page fails (get_page_type).  The host mapping
 *   (create_grant_pv_mapping) needs an L1 table of the caller for host_addr (none:
 *   GNTST_general_error) and writes P, A, D, US, NX, RW unless GNTMAP_readonly, and for
 *   a kernel mapping _PAGE_GUEST_KERNEL (bit 52) (_PAGE_GNTTAB, bit 62, only in debug
 *   builds: asm/page.h); a write through a read-only one is a #PF the guest kernel sees
 *   with error code P|W (pv/traps.c clears the user bit for a fault in guest kernel
 *   mode).  The handle comes from the maptrack free list: a fresh list hands out 0 and
 *   then 1, 2, ...; a handle given back (unmap, or a map that failed after taking one)
 *   goes to the tail.
 * - unmap_grant_ref: an unknown handle GNTST_bad_handle; host_addr must still map the
 *   granted frame as the grant did (else GNTST_general_error); host_addr 0 unmaps nothing
 *   and keeps the handle.  unmap_and_replace moves new_addr's PTE to host_addr.
 * - copy: a side named by frame must say DOMID_SELF (the numeric id:
 *   GNTST_permission_denied), a frame the caller does not own GNTST_bad_page; a gref side
 *   is checked as a map is (a read-only grant as destination GNTST_general_error); an
 *   offset + length past the page GNTST_bad_copy_arg; a zero length GNTST_okay whatever
 *   else since Xen 4.19 (a4a790f432, "gnttab: fully ignore zero-size copy requests"; 4.17
 *   looked the domains up first: GNTST_bad_domain for an unknown one).  The pins a copy
 *   takes are gone when it returns.
 * - Version 2 (gnttab_set_version; opt_gnttab_max_version is 2 and dom0 and xl domUs get
 *   it): a switch with any entry from ref 8 (GNTTAB_NR_RESERVED_ENTRIES) on pinned -EBUSY;
 *   entries 0-7 may stay mapped and are kept across the switch (their GTF_reading /
 *   GTF_writing move between the v1 flags and the v2 status word), every other entry is
 *   cleared; the version in use is written back whatever the result.  v1 -> v2 allocates
 *   the status frames (one u16 per entry, 2048 a frame: one for two table frames of 256
 *   16-byte grant_entry_v2), which get_status_frames lists (more than there are:
 *   GNTST_general_error) and the guest may map writable; a v2 entry's header keeps its
 *   type and GTF_readonly and the status word says reading / writing.  v2 -> v1: a
 *   reserved entry v1 cannot say (a frame of 32 bits or more, a transitive grant) -ERANGE;
 *   a status frame the guest still maps -EBUSY (XSA-255); then the status frames are
 *   freed and update_va_mapping of one fails (-EBUSY: no longer the guest's page).
 *   A sub-page grant (GTF_sub_page) cannot be mapped (GNTST_general_error); a copy must
 *   stay inside its page_off..page_off+length (else GNTST_general_error).  A transitive
 *   entry cannot be mapped; a copy through one naming its granter itself or a domain
 *   that does not exist is GNTST_general_error, its status word left clear.
 * - swap_grant_ref: two refs of the caller's table swap entries (and status words); a ref
 *   past the table GNTST_bad_gntref, the same ref twice a no-op, a pinned one GNTST_eagain.
 * - transfer: the frame must be the caller's and unreferenced (steal_page); a frame that
 *   is mapped, or not a valid frame, GNTST_bad_page.
 *
 * As a domU (start_info without SIF_INITDOMAIN) the guest is domid 1, the toolstack's
 * first domain, and has a peer: dom0, the backend (src/hosts/xen/backend-domain.ts).  Its
 * table starts with entries 0 and 1 granting the console and xenstore pages to dom0
 * (libxenguest's seed).  The backend grants ref 8 (page A) and ref 9 (page B, read-only)
 * to domid 1, and serves a request page the guest grants it at ref 16 (with a read-only
 * page at ref 17) when the guest yields.  Real Xen's dom0 runs alone, so those lines are
 * printed only as a domU.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3; notes/xen-2007.md): grant_table_op had the
 * operations of public/grant_table.h of the day, 0-5 in 3.0.4-branched and 0-6 (with
 * query_size) in 3.1.0-branched, and do_grant_table_op's default answered the rest, version
 * 2 and everything after it, -ENOSYS.  There the guest checks that and nothing else: the
 * version 1 operations of 2007 (3.0.4-branched xen/common/grant_table.c) are not what this
 * guest's expectations describe, so they are not applicable on Xen 3.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_grant_table_op 20

#define EINVAL 22
#define EFAULT 14
#define ESRCH 3
#define ENOSYS 38
#define DOMID_SELF 0x7ff0

#define GNTTABOP_map_grant_ref     0
#define GNTTABOP_unmap_grant_ref   1
#define GNTTABOP_setup_table       2
#define GNTTABOP_dump_table        3
#define GNTTABOP_copy              5
#define GNTTABOP_query_size        6
#define GNTTABOP_unmap_and_replace 7
#define GNTTABOP_set_version       8
#define GNTTABOP_get_status_frames 9
#define GNTTABOP_get_version       10
#define GNTTABOP_swap_grant_ref    11
#define GNTTABOP_transfer          4
#define EBUSY 16
#define ERANGE 34
#define GNTTABOP_cache_flush       12

#define GNTMAP_device_map      1
#define GNTMAP_host_map        2
#define GNTMAP_readonly        4
#define GNTMAP_contains_pte    16

#define GTF_permit_access 1
#define GTF_transitive    3
#define GTF_readonly      4
#define GTF_sub_page      0x100

#define GNTCOPY_source_gref 1
#define GNTCOPY_dest_gref   2

struct grant_entry_v1 { u16 flags; u16 domid; u32 frame; };
struct gnttab_setup_table { u16 dom; u32 nr_frames; s16 status; u64 frame_list; };
struct gnttab_query_size { u16 dom; u32 nr_frames; u32 max_nr_frames; s16 status; };
struct gnttab_map_grant_ref { u64 host_addr; u32 flags; u32 ref; u16 dom; s16 status; u32 handle; u64 dev_bus_addr; };
struct gnttab_unmap_grant_ref { u64 host_addr; u64 dev_bus_addr; u32 handle; s16 status; };
struct gnttab_unmap_and_replace { u64 host_addr; u64 new_addr; u32 handle; s16 status; };
struct gnttab_copy_ptr { u64 ref_or_gmfn; u16 domid; u16 offset; };
struct gnttab_copy { struct gnttab_copy_ptr source, dest; u16 len; u16 flags; s16 status; };
struct gnttab_get_status_frames { u32 nr_frames; u16 dom; s16 status; u64 frame_list; };
struct gnttab_get_version { u16 dom; u16 pad; u32 version; };
/* grant_entry_v2 as full_page (pad) and sub_page (page_off, length) overlay it. */
struct grant_entry_v2 { u16 flags; u16 domid; u16 page_off; u16 length; u64 frame; };
struct gnttab_swap_grant_ref { u32 ref_a; u32 ref_b; s16 status; };
struct gnttab_transfer { u64 mfn; u16 domid; u32 ref; s16 status; };

/* Pages: the table's first frame, where grants get mapped, what the guest grants. */
static u8 table_va[4096] __attribute__((aligned(4096)));
static u8 map_rw[4096] __attribute__((aligned(4096)));
static u8 map_ro[4096] __attribute__((aligned(4096)));
static u8 map_pte[4096] __attribute__((aligned(4096)));
static u8 spare[4096] __attribute__((aligned(4096)));
static u8 granted[4][4096] __attribute__((aligned(4096)));
static u8 status_va[4096] __attribute__((aligned(4096)));

static bool dom0;
static u16 self;
static long version;
static volatile struct grant_entry_v1 *gt = (volatile struct grant_entry_v1 *)table_va;
static volatile struct grant_entry_v2 *gt2 = (volatile struct grant_entry_v2 *)table_va;
static volatile u16 *st = (volatile u16 *)status_va;

static long gnttab(u64 cmd, void *uop, u64 count)
{
    return _hypercall3(__HYPERVISOR_grant_table_op, cmd, uop, count);
}

/* The L1 entry mapping `va`, found through the guest's own read-only page tables (every
 * table frame is in the bootstrap region, pseudo-physical frame n at n * 4 KiB). */
static volatile u64 *pte_of(const void *va)
{
    u64 lin = (u64)(uintptr_t)va;
    volatile u64 *table = (volatile u64 *)pv_start_info->pt_base;
    for (int level = 4; level > 1; level--) {
        u64 e = table[(lin >> (12 + 9 * (level - 1))) & 511];
        table = (volatile u64 *)(uintptr_t)(M2P[(e & 0x000ffffffffff000UL) >> 12] << 12);
    }
    return &table[(lin >> 12) & 511];
}

static u64 pte_maddr(const void *va)
{
    volatile u64 *p = pte_of(va);
    return (pv_mfn((const void *)p) << 12) | ((u64)(uintptr_t)p & 0xfff);
}

static void grant(unsigned int ref, u16 flags, u16 domid, u64 mfn)
{
    gt[ref].domid = domid;
    gt[ref].frame = (u32)mfn;
    barrier();
    gt[ref].flags = flags;
}

static struct gnttab_map_grant_ref map(u16 dom, u32 ref, u32 flags, void *host)
{
    struct gnttab_map_grant_ref op = { .host_addr = (u64)(uintptr_t)host, .flags = flags, .ref = ref, .dom = dom,
                                       .status = 99, .handle = 0xdead };
    long rc = gnttab(GNTTABOP_map_grant_ref, &op, 1);
    if (rc)
        test_fail("map_grant_ref: rc %ld", rc);
    return op;
}

static s16 unmap(u64 host, u32 handle)
{
    struct gnttab_unmap_grant_ref op = { .host_addr = host, .handle = handle, .status = 99 };
    long rc = gnttab(GNTTABOP_unmap_grant_ref, &op, 1);
    if (rc)
        test_fail("unmap_grant_ref: rc %ld", rc);
    return op.status;
}

static s16 copy(u64 src, u16 sdom, u16 soff, u64 dst, u16 ddom, u16 doff, u16 len, u16 flags)
{
    struct gnttab_copy op = { .source = { src, sdom, soff }, .dest = { dst, ddom, doff }, .len = len, .flags = flags,
                              .status = 99 };
    long rc = gnttab(GNTTABOP_copy, &op, 1);
    if (rc)
        test_fail("copy: rc %ld", rc);
    return op.status;
}

static void dispatcher(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    pv_expect_rc("op.negative_count", gnttab(GNTTABOP_query_size, &q, 0xffffffffUL), -EINVAL);
    pv_expect_rc("op.opaque_bits", gnttab(GNTTABOP_query_size | 0x1000, &q, 1), -EINVAL);
    pv_expect_rc("op.dump_table", gnttab(GNTTABOP_dump_table, &q, 1), -ENOSYS);
    pv_expect_rc("op.cache_flush", gnttab(GNTTABOP_cache_flush, &q, 0), version >= 0x40015 ? -ENOSYS : 0);
    pv_expect_rc("op.unknown_13", gnttab(13, &q, 1), -ENOSYS);
    pv_expect_rc("op.map_xen_range", gnttab(GNTTABOP_map_grant_ref, (void *)0xffff800000000000UL, 1), -EFAULT);
    pv_expect_rc("op.map_unreadable", gnttab(GNTTABOP_map_grant_ref, (void *)8, 1), -EFAULT);
    pv_expect_rc("op.map_count_0", gnttab(GNTTABOP_map_grant_ref, (void *)8, 0), 0);
}

static void sizes(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF, .status = 99 };
    pv_expect_rc("query_size.count_2", gnttab(GNTTABOP_query_size, &q, 2), -EINVAL);
    pv_expect_rc("query_size.rc", gnttab(GNTTABOP_query_size, &q, 1), 0);
    pv_expect_rc("query_size.status", q.status, 0);
    pv_expect_rc("query_size.nr_frames", q.nr_frames, 1);
    pv_expect_rc("query_size.max_nr_frames", q.max_nr_frames, 64);
    q = (struct gnttab_query_size){ .dom = self, .status = 99 };
    gnttab(GNTTABOP_query_size, &q, 1);
    pv_expect_rc("query_size.own_id_status", q.status, 0);
    q = (struct gnttab_query_size){ .dom = 5, .status = 99 };
    gnttab(GNTTABOP_query_size, &q, 1);
    pv_expect_rc("query_size.absent_domain_status", q.status, -2);

    u64 frames[4] = { 0, 0, 0, 0 };
    struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = 1, .status = 99, .frame_list = (u64)(uintptr_t)frames };
    pv_expect_rc("setup_table.count_0", gnttab(GNTTABOP_setup_table, &s, 0), -EINVAL);
    pv_expect_rc("setup_table.rc", gnttab(GNTTABOP_setup_table, &s, 1), 0);
    pv_expect_rc("setup_table.status", s.status, 0);
    u64 frame0 = frames[0];
    pv_expect_rc("setup_table.frame0_not_a_pseudo_physical_frame", frame0 != pv_mfn(table_va) && frame0 != 0, 1);
    s.nr_frames = 65;
    s.status = 99;
    gnttab(GNTTABOP_setup_table, &s, 1);
    pv_expect_rc("setup_table.nr_65_status", s.status, -1);
    s = (struct gnttab_setup_table){ .dom = 5, .nr_frames = 1, .status = 99, .frame_list = (u64)(uintptr_t)frames };
    gnttab(GNTTABOP_setup_table, &s, 1);
    pv_expect_rc("setup_table.absent_domain_status", s.status, -2);
    s = (struct gnttab_setup_table){ .dom = DOMID_SELF, .nr_frames = 1, .status = 99, .frame_list = 0xffff800000000000UL };
    pv_expect_rc("setup_table.list_in_xen_range", gnttab(GNTTABOP_setup_table, &s, 1), -EFAULT);
    s = (struct gnttab_setup_table){ .dom = DOMID_SELF, .nr_frames = 1, .status = 99, .frame_list = pv_start_info->pt_base };
    pv_expect_rc("setup_table.list_read_only_rc", gnttab(GNTTABOP_setup_table, &s, 1), 0);
    pv_expect_rc("setup_table.list_read_only_status", s.status, -5);
    s = (struct gnttab_setup_table){ .dom = DOMID_SELF, .nr_frames = 2, .status = 99, .frame_list = (u64)(uintptr_t)frames };
    gnttab(GNTTABOP_setup_table, &s, 1);
    pv_expect_rc("setup_table.nr_2_status", s.status, 0);
    pv_expect_rc("setup_table.nr_2_frame0_same", frames[0] == frame0, 1);
    pv_expect_rc("setup_table.nr_2_frame1_differs", frames[1] != frame0 && frames[1] != 0, 1);
    q = (struct gnttab_query_size){ .dom = DOMID_SELF };
    gnttab(GNTTABOP_query_size, &q, 1);
    pv_expect_rc("query_size.after_setup_nr_frames", q.nr_frames, 2);

    struct gnttab_get_status_frames sf = { .nr_frames = 0, .dom = DOMID_SELF, .status = 99, .frame_list = (u64)(uintptr_t)frames };
    pv_expect_rc("get_status_frames.count_2", gnttab(GNTTABOP_get_status_frames, &sf, 2), -EINVAL);
    pv_expect_rc("get_status_frames.nr_0_rc", gnttab(GNTTABOP_get_status_frames, &sf, 1), 0);
    pv_expect_rc("get_status_frames.nr_0_status", sf.status, 0);
    sf.nr_frames = 1;
    gnttab(GNTTABOP_get_status_frames, &sf, 1);
    pv_expect_rc("get_status_frames.nr_1_status", sf.status, -1);

    u32 ver = 1;
    pv_expect_rc("set_version.1", gnttab(GNTTABOP_set_version, &ver, 1), 0);
    pv_expect_rc("set_version.1_version", ver, 1);
    ver = 0;
    pv_expect_rc("set_version.0", gnttab(GNTTABOP_set_version, &ver, 1), -EINVAL);
    pv_expect_rc("set_version.0_version", ver, 1);
    ver = 3;
    pv_expect_rc("set_version.3", gnttab(GNTTABOP_set_version, &ver, 0), -EINVAL);
    struct gnttab_get_version gv = { .dom = DOMID_SELF, .version = 99 };
    pv_expect_rc("get_version.rc", gnttab(GNTTABOP_get_version, &gv, 1), 0);
    pv_expect_rc("get_version.version", gv.version, 1);
    gv = (struct gnttab_get_version){ .dom = 5 };
    pv_expect_rc("get_version.absent_domain", gnttab(GNTTABOP_get_version, &gv, 1), -ESRCH);

    /* The first frame, mapped over table_va: the guest's grant entries. */
    pv_expect_rc("table.map_frame0", hypercall_update_va_mapping((u64)(uintptr_t)table_va, (frame0 << 12) | 0x67, UVMF_INVLPG), 0);
    if (!dom0) {
        pv_expect("table.entry0_flags", gt[0].flags, GTF_permit_access);
        pv_expect_rc("table.entry0_domid", gt[0].domid, 0);
        pv_expect_rc("table.entry0_is_console", gt[0].frame == pv_start_info->console.domU.mfn, 1);
        pv_expect("table.entry1_flags", gt[1].flags, GTF_permit_access);
        pv_expect_rc("table.entry1_is_xenstore", gt[1].frame == pv_start_info->store_mfn, 1);
    }
    pv_expect("table.entry8_flags_initially", gt[8].flags, 0);
}

static void mapping(void)
{
    granted[0][0] = 0x5a;
    grant(8, GTF_permit_access, self, pv_mfn(granted[0]));
    grant(9, GTF_permit_access | GTF_readonly, self, pv_mfn(granted[1]));
    grant(11, GTF_permit_access, self, pv_mfn((void *)pv_start_info->pt_base));

    struct gnttab_map_grant_ref m = map(self, 8, GNTMAP_host_map, map_rw);
    pv_expect_rc("map.rw_status", m.status, 0);
    pv_expect_rc("map.rw_handle", m.handle, 0);
    pv_expect_rc("map.rw_dev_bus_addr_is_frame", m.dev_bus_addr == pv_mfn(granted[0]) << 12, 1);
    pv_expect("map.rw_entry_flags", gt[8].flags, 0x19);
    u64 pte = *pte_of(map_rw);
    pv_expect_rc("map.rw_pte_frame_is_granted", (pte & 0x000ffffffffff000UL) >> 12 == pv_mfn(granted[0]), 1);
    pv_expect("map.rw_pte_flags", pte & 0xfff0000000000fffUL, 0x8010000000000067UL);
    pv_expect("map.rw_reads_granted_page", *(volatile u8 *)map_rw, 0x5a);
    *(volatile u8 *)(map_rw + 1) = 0xa5;
    pv_expect("map.rw_write_seen_in_granted_page", *(volatile u8 *)&granted[0][1], 0xa5);
    u32 rw_handle = m.handle;

    m = map(self, 9, GNTMAP_host_map, map_ro);
    pv_expect_rc("map.readonly_grant_writable_status", m.status, -1);
    pv_expect("map.readonly_grant_writable_entry_flags", gt[9].flags, 0x5);
    pv_expect("map.readonly_grant_writable_handle_untouched", m.handle, 0xdead);
    m = map(self, 9, GNTMAP_host_map | GNTMAP_readonly, map_ro);
    pv_expect_rc("map.readonly_status", m.status, 0);
    pv_expect_rc("map.readonly_handle", m.handle, 2);
    pv_expect("map.readonly_entry_flags", gt[9].flags, 0xd);
    pv_expect("map.readonly_pte_flags", *pte_of(map_ro) & 0xfff0000000000fffUL, 0x8010000000000065UL);
    u32 ro_handle = m.handle;

    pv_event_reset();
    asm volatile("1: movb $1, %0\n2:\n" EXTABLE(1b, 2b) : "=m"(map_ro[0]) :: "memory");
    pv_expect_rc("map.readonly_write_vector", last_event.vector, 14);
    pv_expect("map.readonly_write_error_code", last_event.error_code, 3);

    pv_expect_rc("map.domid_self_status", map(DOMID_SELF, 8, GNTMAP_host_map, map_pte).status, -2);
    pv_expect_rc("map.absent_domain_status", map(5, 8, GNTMAP_host_map, map_pte).status, -2);
    pv_expect_rc("map.no_map_flags_status", map(self, 8, 0, map_pte).status, -3);
    pv_expect_rc("map.ref_past_table_status", map(self, 1024, GNTMAP_host_map, map_pte).status, -3);
    pv_expect_rc("map.invalid_entry_status", map(self, 10, GNTMAP_host_map, map_pte).status, -1);
    pv_expect_rc("map.page_table_writable_status", map(self, 11, GNTMAP_host_map, map_pte).status, -1);
    pv_expect("map.page_table_writable_entry_flags", gt[11].flags, 1);
    pv_expect_rc("map.xen_range_status", map(self, 8, GNTMAP_host_map, (void *)0xffff830000000000UL).status, -1);
    pv_expect_rc("map.no_l1_status", map(self, 8, GNTMAP_host_map, (void *)0x7f0000000000UL).status, -1);
    pv_expect_rc("map.contains_pte_misaligned_status", map(self, 8, GNTMAP_host_map | GNTMAP_contains_pte,
                                                     (void *)(uintptr_t)(pte_maddr(map_pte) + 4)).status, -1);
    pv_expect("map.refused_entry8_flags", gt[8].flags, 0x19);
    m = map(self, 8, GNTMAP_host_map | GNTMAP_contains_pte, (void *)(uintptr_t)pte_maddr(map_pte));
    pv_expect_rc("map.contains_pte_status", m.status, 0);
    pv_expect_rc("map.contains_pte_handle", m.handle, 9);
    pv_expect("map.contains_pte_reads_granted_page", *(volatile u8 *)map_pte, 0x5a);
    pv_expect_rc("unmap.contains_pte_status", unmap(pte_maddr(map_pte), m.handle), 0);
    pv_expect("unmap.contains_pte_pte", *pte_of(map_pte), 0);

    pv_expect_rc("unmap.unknown_handle_status", unmap((u64)(uintptr_t)map_rw, 9999), -4);
    pv_expect_rc("unmap.wrong_address_status", unmap((u64)(uintptr_t)map_ro, rw_handle), -1);
    pv_expect_rc("unmap.host_addr_0_status", unmap(0, rw_handle), 0);
    pv_expect("unmap.host_addr_0_entry_flags", gt[8].flags, 0x19);
    pv_expect_rc("unmap.rw_status", unmap((u64)(uintptr_t)map_rw, rw_handle), 0);
    pv_expect("unmap.rw_entry_flags", gt[8].flags, 1);
    pv_expect("unmap.rw_pte", *pte_of(map_rw), 0);
    pv_expect_rc("unmap.again_status", unmap((u64)(uintptr_t)map_rw, rw_handle), -4);
    pv_expect_rc("unmap.readonly_status", unmap((u64)(uintptr_t)map_ro, ro_handle), 0);
    pv_expect("unmap.readonly_entry_flags", gt[9].flags, 5);

    /* unmap_and_replace: map_rw gets map_pte's mapping (spare's frame); map_pte loses it. */
    spare[0] = 0x33;
    pv_expect_rc("replace.map_spare", hypercall_update_va_mapping((u64)(uintptr_t)map_pte, (pv_mfn(spare) << 12) | 0x67, UVMF_INVLPG), 0);
    m = map(self, 8, GNTMAP_host_map, map_rw);
    pv_expect_rc("replace.map_status", m.status, 0);
    pv_expect_rc("replace.map_handle", m.handle, 10);
    struct gnttab_unmap_and_replace r = { .host_addr = (u64)(uintptr_t)map_rw, .new_addr = (u64)(uintptr_t)map_pte,
                                          .handle = m.handle, .status = 99 };
    pv_expect_rc("replace.rc", gnttab(GNTTABOP_unmap_and_replace, &r, 1), 0);
    pv_expect_rc("replace.status", r.status, 0);
    pv_expect("replace.host_addr_reads_spare", *(volatile u8 *)map_rw, 0x33);
    pv_expect("replace.new_addr_pte", *pte_of(map_pte), 0);
    pv_expect("replace.entry_flags", gt[8].flags, 1);
    if (hypercall_update_va_mapping((u64)(uintptr_t)map_rw, (pv_mfn(map_rw) << 12) | 0x67, UVMF_INVLPG) ||
        hypercall_update_va_mapping((u64)(uintptr_t)map_pte, (pv_mfn(map_pte) << 12) | 0x67, UVMF_INVLPG))
        test_abort("restoring the mapping pages");

    m = map(self, 8, GNTMAP_device_map, NULL);
    pv_expect_rc("map.device_status", m.status, 0);
    pv_expect("map.device_entry_flags", gt[8].flags, 0x19);
    struct gnttab_unmap_grant_ref u = { .dev_bus_addr = 0x1000, .handle = m.handle, .status = 99 };
    gnttab(GNTTABOP_unmap_grant_ref, &u, 1);
    pv_expect_rc("unmap.device_wrong_bus_addr_status", u.status, -6);
    u = (struct gnttab_unmap_grant_ref){ .dev_bus_addr = pv_mfn(granted[0]) << 12, .handle = m.handle, .status = 99 };
    gnttab(GNTTABOP_unmap_grant_ref, &u, 1);
    pv_expect_rc("unmap.device_status", u.status, 0);
    pv_expect("unmap.device_entry_flags", gt[8].flags, 1);
}

static void copying(void)
{
    memcpy(granted[1], "read-only grant", 16);
    memset(granted[0], 0, 64);
    pv_expect_rc("copy.frames", copy(pv_mfn(granted[1]), DOMID_SELF, 0, pv_mfn(granted[0]), DOMID_SELF, 32, 16, 0), 0);
    pv_expect_rc("copy.frames_copied", memcmp(granted[0] + 32, "read-only grant", 16), 0);
    pv_expect_rc("copy.grefs", copy(9, DOMID_SELF, 5, 8, DOMID_SELF, 0, 10, GNTCOPY_source_gref | GNTCOPY_dest_gref), 0);
    pv_expect_rc("copy.grefs_copied", memcmp(granted[0], "only grant", 10), 0);
    pv_expect("copy.grefs_entry8_flags_after", gt[8].flags, 1);
    pv_expect("copy.grefs_entry9_flags_after", gt[9].flags, 5);
    pv_expect_rc("copy.gref_own_id", copy(9, self, 0, 8, self, 0, 4, GNTCOPY_source_gref | GNTCOPY_dest_gref), 0);
    pv_expect_rc("copy.dest_readonly_gref", copy(8, DOMID_SELF, 0, 9, DOMID_SELF, 0, 4, GNTCOPY_source_gref | GNTCOPY_dest_gref), -1);
    pv_expect("copy.dest_readonly_gref_entry8_flags", gt[8].flags, 1);
    pv_expect_rc("copy.frame_own_numeric_id", copy(pv_mfn(granted[1]), self, 0, pv_mfn(granted[0]), DOMID_SELF, 0, 4, 0), -8);
    pv_expect_rc("copy.frame_not_owned", copy(0, DOMID_SELF, 0, pv_mfn(granted[0]), DOMID_SELF, 0, 4, 0), -9);
    pv_expect_rc("copy.dest_page_table", copy(pv_mfn(granted[1]), DOMID_SELF, 0, pv_mfn((void *)pv_start_info->pt_base),
                                        DOMID_SELF, 0, 4, 0), -1);
    pv_expect_rc("copy.past_page", copy(pv_mfn(granted[1]), DOMID_SELF, 4000, pv_mfn(granted[0]), DOMID_SELF, 0, 200, 0), -10);
    pv_expect_rc("copy.dest_past_page", copy(pv_mfn(granted[1]), DOMID_SELF, 0, pv_mfn(granted[0]), DOMID_SELF, 4095, 2, 0), -10);
    pv_expect_rc("copy.zero_length", copy(0, 5, 0, 0, 5, 0, 0, 0), version >= 0x40013 ? 0 : -2);
    pv_expect_rc("copy.absent_domain_gref", copy(8, 5, 0, 8, DOMID_SELF, 0, 4, GNTCOPY_source_gref | GNTCOPY_dest_gref), -2);
    pv_expect_rc("copy.gref_past_table", copy(1024, DOMID_SELF, 0, 8, DOMID_SELF, 0, 4, GNTCOPY_source_gref | GNTCOPY_dest_gref), -3);
    pv_expect_rc("copy.invalid_gref", copy(10, DOMID_SELF, 0, 8, DOMID_SELF, 0, 4, GNTCOPY_source_gref | GNTCOPY_dest_gref), -1);

    struct gnttab_copy two[2] = {
        { .source = { pv_mfn(granted[1]), DOMID_SELF, 0 }, .dest = { pv_mfn(granted[2]), DOMID_SELF, 0 }, .len = 4, .status = 99 },
        { .source = { pv_mfn(granted[1]), DOMID_SELF, 0 }, .dest = { pv_mfn(granted[2]), DOMID_SELF, 0 }, .len = 4,
          .flags = 99, .status = 99 },
    };
    two[1].flags = GNTCOPY_dest_gref;
    two[1].dest.ref_or_gmfn = 9;
    pv_expect_rc("copy.batch_rc", gnttab(GNTTABOP_copy, two, 2), 0);
    pv_expect_rc("copy.batch_0_status", two[0].status, 0);
    pv_expect_rc("copy.batch_1_status", two[1].status, -1);
}

/* With the backend domain (a domU only: real Xen's dom0 has no other domain). */
static void backend(void)
{
    struct gnttab_map_grant_ref m = map(0, 8, GNTMAP_host_map, map_rw);
    pv_expect_rc("backend.map_rw_status", m.status, 0);
    printk("backend.map_rw_reads: %s\n", (const char *)map_rw);
    if (strcmp((const char *)map_rw, "backend page A"))
        test_fail("backend page A: %s", (const char *)map_rw);
    pv_expect_rc("backend.unmap_rw_status", unmap((u64)(uintptr_t)map_rw, m.handle), 0);
    pv_expect_rc("backend.map_ro_writable_status", map(0, 9, GNTMAP_host_map, map_ro).status, -1);
    m = map(0, 9, GNTMAP_host_map | GNTMAP_readonly, map_ro);
    pv_expect_rc("backend.map_ro_status", m.status, 0);
    printk("backend.map_ro_reads: %s\n", (const char *)map_ro);
    pv_expect_rc("backend.unmap_ro_status", unmap((u64)(uintptr_t)map_ro, m.handle), 0);
    pv_expect_rc("backend.map_invalid_ref_status", map(0, 10, GNTMAP_host_map, map_ro).status, -1);
    memset(granted[3], 0, 32);
    pv_expect_rc("backend.copy_from_gref", copy(9, 0, 0, pv_mfn(granted[3]), DOMID_SELF, 0, 14, GNTCOPY_source_gref), 0);
    printk("backend.copy_from_gref_copied: %s\n", (const char *)granted[3]);
    pv_expect_rc("backend.copy_to_readonly_gref", copy(pv_mfn(granted[3]), DOMID_SELF, 0, 9, 0, 0, 4, GNTCOPY_dest_gref), -1);
    pv_expect_rc("backend.copy_to_gref", copy(pv_mfn(granted[1]), DOMID_SELF, 0, 8, 0, 20, 4, GNTCOPY_dest_gref), 0);

    struct gnttab_query_size q = { .dom = 0, .status = 99 };
    gnttab(GNTTABOP_query_size, &q, 1);
    pv_expect_rc("backend.query_size_status", q.status, -8);
    u64 frame;
    struct gnttab_setup_table s = { .dom = 0, .nr_frames = 1, .status = 99, .frame_list = (u64)(uintptr_t)&frame };
    gnttab(GNTTABOP_setup_table, &s, 1);
    pv_expect_rc("backend.setup_table_status", s.status, -8);

    /* A request: granted[2] at ref 16 (writable), granted[1] at ref 17 (read-only). */
    memset(granted[2], 0, 4096);
    memcpy(granted[2] + 4, "hello backend", 14);
    grant(16, GTF_permit_access, 0, pv_mfn(granted[2]));
    grant(17, GTF_permit_access | GTF_readonly, 0, pv_mfn(granted[1]));
    *(volatile u32 *)granted[2] = 1;
    pv_expect_rc("backend.request_response_before_yield", *(volatile u32 *)(granted[2] + 2048), 0);
    pv_expect_rc("backend.yield", hypercall_sched_op(0 /* SCHEDOP_yield */, NULL), 0);
    pv_expect_rc("backend.response_seq", *(volatile u32 *)(granted[2] + 2048), 1);
    printk("backend.response: %s\n", (const char *)(granted[2] + 2052));
    pv_expect("backend.entry16_flags_after", gt[16].flags, 1);
    pv_expect("backend.entry17_flags_after", gt[17].flags, 5);
}

static long set_version(u32 *ver, u32 want)
{
    *ver = want;
    return gnttab(GNTTABOP_set_version, ver, 1);
}

static u32 get_version(void)
{
    struct gnttab_get_version gv = { .dom = DOMID_SELF, .version = 99 };
    if (gnttab(GNTTABOP_get_version, &gv, 1))
        test_fail("get_version failed");
    return gv.version;
}

static s16 swap(u32 a, u32 b)
{
    struct gnttab_swap_grant_ref op = { .ref_a = a, .ref_b = b, .status = 99 };
    long rc = gnttab(GNTTABOP_swap_grant_ref, &op, 1);
    if (rc)
        test_fail("swap_grant_ref: rc %ld", rc);
    return op.status;
}

static void grant2(unsigned int ref, u16 flags, u16 domid, u16 off, u16 len, u64 frame)
{
    gt2[ref].domid = domid;
    gt2[ref].page_off = off;
    gt2[ref].length = len;
    gt2[ref].frame = frame;
    barrier();
    gt2[ref].flags = flags;
}

static void version2(void)
{
    u32 ver;
    granted[0][0] = 0x5a;
    grant(8, GTF_permit_access, self, pv_mfn(granted[0]));
    struct gnttab_map_grant_ref m = map(self, 8, GNTMAP_host_map, map_rw);
    pv_expect_rc("v2.pinned_map_status", m.status, 0);
    pv_expect_rc("v2.set_2_with_ref8_pinned", set_version(&ver, 2), -EBUSY);
    pv_expect_rc("v2.set_2_with_ref8_pinned_version", ver, 1);
    pv_expect_rc("v2.pinned_unmap_status", unmap((u64)(uintptr_t)map_rw, m.handle), 0);

    /* A reserved entry stays mapped across the switch. */
    grant(2, GTF_permit_access, self, pv_mfn(granted[0]));
    struct gnttab_map_grant_ref r = map(self, 2, GNTMAP_host_map, map_pte);
    pv_expect_rc("v2.reserved_map_status", r.status, 0);
    pv_expect("v2.reserved_v1_flags", gt[2].flags, 0x19);
    pv_expect_rc("v2.set_2", set_version(&ver, 2), 0);
    pv_expect_rc("v2.set_2_version", ver, 2);
    pv_expect_rc("v2.get_version", get_version(), 2);
    pv_expect_rc("v2.set_2_again", set_version(&ver, 2), 0);
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    gnttab(GNTTABOP_query_size, &q, 1);
    pv_expect_rc("v2.query_size_nr_frames", q.nr_frames, 2);
    pv_expect("v2.entry2_flags", gt2[2].flags, GTF_permit_access);
    pv_expect_rc("v2.entry2_domid", gt2[2].domid, self);
    pv_expect_rc("v2.entry2_frame_kept", gt2[2].frame == pv_mfn(granted[0]), 1);
    pv_expect("v2.entry4_flags_cleared", gt2[4].flags, 0);
    if (!dom0) {
        pv_expect("v2.entry0_flags", gt2[0].flags, GTF_permit_access);
        pv_expect_rc("v2.entry0_is_console", gt2[0].frame == pv_start_info->console.domU.mfn, 1);
        pv_expect_rc("v2.entry1_is_xenstore", gt2[1].frame == pv_start_info->store_mfn, 1);
    }

    u64 sframe[2] = { 0, 0 };
    struct gnttab_get_status_frames sf = { .nr_frames = 2, .dom = DOMID_SELF, .status = 99, .frame_list = (u64)(uintptr_t)sframe };
    gnttab(GNTTABOP_get_status_frames, &sf, 1);
    pv_expect_rc("v2.get_status_frames_nr_2_status", sf.status, -1);
    sf.nr_frames = 1;
    sf.status = 99;
    gnttab(GNTTABOP_get_status_frames, &sf, 1);
    pv_expect_rc("v2.get_status_frames_status", sf.status, 0);
    pv_expect_rc("v2.status_frame_is_new", sframe[0] != 0 && sframe[0] != pv_mfn(table_va) && sframe[0] != sframe[1], 1);
    pv_expect_rc("v2.map_status_frame", hypercall_update_va_mapping((u64)(uintptr_t)status_va, (sframe[0] << 12) | 0x67, UVMF_INVLPG), 0);
    pv_expect("v2.status2_mapped_rw", st[2], 0x18);
    pv_expect_rc("v2.reserved_unmap_status", unmap((u64)(uintptr_t)map_pte, r.handle), 0);
    pv_expect("v2.status2_unmapped", st[2], 0);
    pv_expect("v2.entry2_flags_unmapped", gt2[2].flags, GTF_permit_access);

    /* A v2 grant: reading / writing in the status word, not the header. */
    grant2(8, GTF_permit_access, self, 0, 0, pv_mfn(granted[0]));
    struct gnttab_map_grant_ref ro = map(self, 8, GNTMAP_host_map | GNTMAP_readonly, map_ro);
    pv_expect_rc("v2.map_ro_status", ro.status, 0);
    pv_expect("v2.map_ro_reads", *(volatile u8 *)map_ro, 0x5a);
    pv_expect("v2.map_ro_status8", st[8], 0x08);
    pv_expect("v2.map_ro_entry8_flags", gt2[8].flags, GTF_permit_access);
    m = map(self, 8, GNTMAP_host_map, map_rw);
    pv_expect_rc("v2.map_rw_status", m.status, 0);
    pv_expect("v2.map_rw_status8", st[8], 0x18);
    pv_expect_rc("v2.unmap_rw_status", unmap((u64)(uintptr_t)map_rw, m.handle), 0);
    pv_expect("v2.unmap_rw_status8", st[8], 0x08);
    pv_expect_rc("v2.unmap_ro_status", unmap((u64)(uintptr_t)map_ro, ro.handle), 0);
    pv_expect("v2.unmap_ro_status8", st[8], 0);
    gt2[8].flags = GTF_permit_access | GTF_readonly;
    pv_expect_rc("v2.readonly_map_writable_status", map(self, 8, GNTMAP_host_map, map_rw).status, -1);
    pv_expect("v2.readonly_map_writable_status8", st[8], 0);

    /* Sub-page and transitive entries. */
    memcpy(granted[1], "0123456789abcdefSUB-PAGE GRANT, 32 BYTES LONG!..tail", 53);
    grant2(9, GTF_permit_access | GTF_sub_page, self, 16, 32, pv_mfn(granted[1]));
    pv_expect_rc("v2.sub_page_map_status", map(self, 9, GNTMAP_host_map | GNTMAP_readonly, map_ro).status, -1);
    memset(granted[3], 0, 64);
    pv_expect_rc("v2.sub_page_copy", copy(9, DOMID_SELF, 16, pv_mfn(granted[3]), DOMID_SELF, 0, 32, GNTCOPY_source_gref), 0);
    printk("v2.sub_page_copied: %s\n", (const char *)granted[3]);
    pv_expect_rc("v2.sub_page_copy_before", copy(9, DOMID_SELF, 8, pv_mfn(granted[3]), DOMID_SELF, 0, 16, GNTCOPY_source_gref), -1);
    pv_expect_rc("v2.sub_page_copy_after", copy(9, DOMID_SELF, 40, pv_mfn(granted[3]), DOMID_SELF, 0, 16, GNTCOPY_source_gref), -1);
    pv_expect("v2.sub_page_status9", st[9], 0);
    grant2(10, GTF_transitive, self, self, 0, 8);
    pv_expect_rc("v2.transitive_map_status", map(self, 10, GNTMAP_host_map | GNTMAP_readonly, map_ro).status, -1);
    pv_expect_rc("v2.transitive_self_copy", copy(10, DOMID_SELF, 0, pv_mfn(granted[3]), DOMID_SELF, 0, 4, GNTCOPY_source_gref), -1);
    grant2(10, GTF_transitive, self, 5, 0, 8);
    pv_expect_rc("v2.transitive_absent_domain_copy", copy(10, DOMID_SELF, 0, pv_mfn(granted[3]), DOMID_SELF, 0, 4, GNTCOPY_source_gref), -1);
    pv_expect("v2.transitive_status10", st[10], 0);

    /* swap_grant_ref swaps entries and status words. */
    pv_expect_rc("v2.swap_8_9", swap(8, 9), 0);
    pv_expect("v2.swap_entry8_flags", gt2[8].flags, GTF_permit_access | GTF_sub_page);
    pv_expect("v2.swap_entry9_flags", gt2[9].flags, GTF_permit_access | GTF_readonly);
    pv_expect_rc("v2.swap_entry9_frame", gt2[9].frame == pv_mfn(granted[0]), 1);
    pv_expect_rc("v2.swap_same", swap(8, 8), 0);
    pv_expect_rc("v2.swap_past_table", swap(8, 512), -3);
    ro = map(self, 9, GNTMAP_host_map | GNTMAP_readonly, map_ro);
    pv_expect_rc("v2.swapped_map_status", ro.status, 0);
    pv_expect("v2.swapped_status9", st[9], 0x08);
    pv_expect_rc("v2.swap_pinned", swap(10, 9), -12);
    pv_expect_rc("v2.set_1_with_ref9_pinned", set_version(&ver, 1), -EBUSY);
    pv_expect_rc("v2.set_1_with_ref9_pinned_version", ver, 2);
    pv_expect_rc("v2.swapped_unmap_status", unmap((u64)(uintptr_t)map_ro, ro.handle), 0);

    /* Back to v1: reserved entries v1 cannot say, then the mapped status frame. */
    grant2(3, GTF_permit_access, self, 0, 0, 1UL << 32);
    pv_expect_rc("v2.set_1_wide_frame", set_version(&ver, 1), -ERANGE);
    grant2(3, GTF_transitive, self, 0, 0, 0);
    pv_expect_rc("v2.set_1_transitive", set_version(&ver, 1), -ERANGE);
    pv_expect_rc("v2.set_1_transitive_version", ver, 2);
    gt2[3].flags = 0;
    pv_expect_rc("v2.set_1_status_frame_mapped", set_version(&ver, 1), -EBUSY);
    pv_expect_rc("v2.get_version_still", get_version(), 2);
    pv_expect_rc("v2.unmap_status_frame", hypercall_update_va_mapping((u64)(uintptr_t)status_va, (pv_mfn(status_va) << 12) | 0x67, UVMF_INVLPG), 0);
    pv_expect_rc("v2.set_1", set_version(&ver, 1), 0);
    pv_expect_rc("v2.set_1_version", ver, 1);
    pv_expect_rc("v1.get_version", get_version(), 1);
    sf.status = 99;
    gnttab(GNTTABOP_get_status_frames, &sf, 1);
    pv_expect_rc("v1.get_status_frames_status", sf.status, -1);
    pv_expect_rc("v1.map_freed_status_frame", hypercall_update_va_mapping((u64)(uintptr_t)status_va, (sframe[0] << 12) | 0x67, UVMF_INVLPG), -EBUSY);
    pv_expect("v1.entry2_flags", gt[2].flags, GTF_permit_access);
    pv_expect_rc("v1.entry2_frame_kept", gt[2].frame == pv_mfn(granted[0]), 1);
    pv_expect("v1.entry8_flags_cleared", gt[8].flags, 0);
    if (!dom0) {
        pv_expect("v1.entry0_flags", gt[0].flags, GTF_permit_access);
        pv_expect_rc("v1.entry0_is_console", gt[0].frame == pv_start_info->console.domU.mfn, 1);
    }

    grant(8, GTF_permit_access, self, pv_mfn(granted[0]));
    grant(9, GTF_permit_access | GTF_readonly, self, pv_mfn(granted[1]));
    pv_expect_rc("v1.swap_8_9", swap(8, 9), 0);
    pv_expect("v1.swap_entry8_flags", gt[8].flags, GTF_permit_access | GTF_readonly);
    pv_expect_rc("v1.swap_entry8_frame", gt[8].frame == pv_mfn(granted[1]), 1);
    pv_expect_rc("v1.swap_past_table", swap(8, 1024), -3);

    struct gnttab_transfer tr = { .mfn = pv_mfn(granted[3]), .domid = self, .ref = 8, .status = 99 };
    pv_expect_rc("transfer.mapped_rc", gnttab(GNTTABOP_transfer, &tr, 1), 0);
    pv_expect_rc("transfer.mapped_status", tr.status, -9);
    tr = (struct gnttab_transfer){ .mfn = 1UL << 40, .domid = self, .ref = 8, .status = 99 };
    gnttab(GNTTABOP_transfer, &tr, 1);
    pv_expect_rc("transfer.invalid_frame_status", tr.status, -9);
}

/* Xen 3: which operations exist. */
static void xen3(void)
{
    const unsigned int last = version == 0x30000 ? GNTTABOP_copy : GNTTABOP_query_size;
    static const unsigned int later[] = { GNTTABOP_query_size, GNTTABOP_unmap_and_replace, GNTTABOP_set_version,
                                          GNTTABOP_get_status_frames, GNTTABOP_get_version, GNTTABOP_swap_grant_ref,
                                          GNTTABOP_cache_flush };
    u8 arg[64] = { 0 };

    printk("xen3: version 2 and the later operations not applicable (operations 0-%u)\n", last);
    for (unsigned int i = 0; i < ARRAY_SIZE(later); i++) {
        if (later[i] <= last)
            continue;
        char name[40];
        snprintk(name, sizeof(name), "xen3.op_%u", later[i]);
        pv_expect_rc(name, gnttab(later[i], arg, 1), -ENOSYS);
    }
}

void test_main(void)
{
    dom0 = (pv_start_info->flags & SIF_INITDOMAIN) != 0;
    self = dom0 ? 0 : 1;
    version = hypercall_xen_version(0 /* XENVER_version */, NULL);
    if (version >> 16 == 3) {
        xen3();
        return;
    }
    dispatcher();
    sizes();
    mapping();
    copying();
    if (!dom0)
        backend();
    version2();
}
