/*
 * pv-memory: memory_op for a 64-bit PV guest (xen/common/memory.c do_memory_op,
 * xen/arch/x86/mm.c arch_memory_op, xen/arch/x86/x86_64/mm.c subarch_memory_op), in
 * dom0 and in a domU.
 *
 * Xen 4.17 and c447b7308b alike (errno values as Linux's: EPERM 1, ESRCH 3, ENOMEM 12,
 * EACCES 13, EFAULT 14, EBUSY 16, EINVAL 22, EDOM 33, ENOSYS 38):
 * - cmd's bits 6.. are a continuation's start extent: a query given one -EINVAL; the
 *   arch operations switch on the whole cmd (memory_map | 1 << 6 -ENOSYS).
 * - current_reservation is the domain's tot_pages (start_info's nr_pages for a fresh
 *   domain), maximum_reservation its max_pages (a domU: libxl's maxmem + 1 MiB,
 *   LIBXL_MAXMEM_CONSTANT; dom0: all free memory), maximum_gpfn (shared_info
 *   arch.max_pfn ?: 1) - 1, whatever the guest wrote there; an unreadable argument
 *   -EFAULT, an unknown domain -ESRCH, dom0 named by a domU -EPERM (XSM_TARGET).
 * - machphys_mapping: the read-only M2P at 0xffff800000000000..0xffff804000000000,
 *   max_mfn MACH2PHYS_NR_ENTRIES - 1 (0x7ffffffff), or max_page - 1 for the hardware
 *   domain; machphys_mfn_list one MFN per 2 MiB of M2P, up to max_extents.
 * - memory_map: a domU gets libxl's one RAM entry of its memory; nothing set dom0's
 *   (-ENOSYS).  machine_memory_map from a domU -EPERM (XSM_PRIV, before the copy).
 * - add_to_physmap and remove_from_physmap -EACCES for a PV domain (not translated),
 *   XENMAPSPACE_gmfn_foreign -ENOSYS first, a start extent past 16 bits -EDOM.
 * - exchange: orders above max_order -EPERM (domU 9, dom0 as control domain 18), list
 *   sizes that do not match -EINVAL, an output list reaching Xen's range -EFAULT.  An
 *   exchange (memory_exchange) takes the in extents' frames (MFNs, as the domain is not
 *   translated) with steal_page, which wants each frame the domain's with only its
 *   allocation reference and is not a Xen-heap page: a page still mapped (writable, or
 *   read-only: a general reference without a type one), the pinned L4, shared_info and
 *   the grant table's first frame (setup_table's MFN, not mapped: Xen-heap pages shared
 *   with the domain, is_special_page) are refused -EINVAL, as is a frame past RAM (!mfn_valid), and nothing changes, nr_exchanged 0.
 *   A frame the guest has unmapped is exchanged: the out slot's gpfn
 *   becomes the new frame's M2P entry and the slot receives its MFN, nr_exchanged counts
 *   it, tot_pages stays (MEMF_no_refcount both ways), the new frame maps; the old one is
 *   freed (its M2P entry INVALID_M2P_ENTRY) and no longer maps (-EBUSY) nor takes an M2P
 *   update (-EINVAL).  With the out slot unreadable the exchange still happens (the old
 *   frame is gone, tot_pages stays: the new frame is the domain's, nowhere named) but it
 *   answers -EFAULT with nr_exchanged 0.  A chunk (the larger order's extent: two order-0
 *   in extents for one order-1 out extent) whose second frame is refused gives the first
 *   back; with address_bits 13 in the out mem_flags (frames below 2^1, zone 1, never in
 *   the heap) there is no out frame, -ENOMEM, and the stolen frame is given back.
 * - increase_reservation / decrease_reservation / populate_physmap return the extents
 *   done, never an errno: a refused request (unreadable, too many extents, a bad domain,
 *   address_bits <= 12, an order above max_order, a list in Xen's range) does none.
 *   decrease_reservation takes MFNs: a page still mapped stays allocated (its last
 *   reference frees it), one not the domain's stops the batch; increase_reservation
 *   returns fresh MFNs without touching the M2P, populate_physmap sets M2P[mfn] to the
 *   given gpfn.
 * Values that differ between dom0 and domU are labelled with the domain.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3; notes/xen-2007.md): the start extent began
 * at bit 4 of cmd then (START_EXTENT_SHIFT, 3.0.4-branched xen/common/memory.c) and the
 * sub-ops stopped at 13 (3.0.4-branched public/memory.h) or 14, maximum_gpfn
 * (3.1.0-branched); the rest answered -ENOSYS.  The expectations above are not 2007's, so
 * there the guest checks only current_reservation (d->tot_pages, start_info's nr_pages)
 * and which sub-ops exist; the rest is not applicable on Xen 3.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_mmu_update 1
#define __HYPERVISOR_memory_op 12
#define __HYPERVISOR_grant_table_op 20
#define GNTTABOP_setup_table 2

#define EPERM 1
#define EBUSY 16
#define ESRCH 3
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EINVAL 22
#define EDOM 33
#define ENOSYS 38

#define DOMID_SELF 0x7ff0
#define UNMAPPED 8UL

#define XENMEM_increase_reservation 0
#define XENMEM_decrease_reservation 1
#define XENMEM_maximum_ram_page 2
#define XENMEM_current_reservation 3
#define XENMEM_maximum_reservation 4
#define XENMEM_machphys_mfn_list 5
#define XENMEM_populate_physmap 6
#define XENMEM_add_to_physmap 7
#define XENMEM_memory_map 9
#define XENMEM_machine_memory_map 10
#define XENMEM_exchange 11
#define XENMEM_machphys_mapping 12
#define XENMEM_maximum_gpfn 14
#define XENMEM_remove_from_physmap 15

struct reservation { u64 extent_start; u64 nr_extents; u32 extent_order; u32 mem_flags; u16 domid; u16 pad[3]; };
struct exchange { struct reservation in, out; u64 nr_exchanged; };
struct machphys_mapping { u64 v_start, v_end, max_mfn; };
struct mfn_list { u32 max_extents; u32 pad; u64 extent_start; u32 nr_extents; u32 pad2; };
struct memory_map { u32 nr_entries; u32 pad; u64 buffer; };
struct e820entry { u64 addr; u64 size; u32 type; } __attribute__((packed));
struct add_to_physmap { u16 domid; u16 size; u32 space; u64 idx; u64 gpfn; };
struct remove_from_physmap { u16 domid; u16 pad[3]; u64 gpfn; };
struct mmu_update { u64 ptr; u64 val; };
struct gnttab_setup_table { u16 dom; u32 nr_frames; s16 status; u64 frame_list; };

static u8 page[2][4096] __attribute__((aligned(4096)));
static bool dom0;

static long memop(u64 cmd, const void *arg) { return _hypercall2(__HYPERVISOR_memory_op, cmd, arg); }

static long query(u64 cmd, u16 domid)
{
    u16 d = domid;
    return memop(cmd, &d);
}

static long reserve(u64 cmd, u64 list, u64 nr, u32 order, u32 flags, u16 domid)
{
    struct reservation r = { list, nr, order, flags, domid, { 0 } };
    return memop(cmd, &r);
}

static long machphys(u64 mfn, u64 pfn)
{
    struct mmu_update r = { (mfn << 12) | 1, pfn };
    return _hypercall4(__HYPERVISOR_mmu_update, &r, 1, 0, DOMID_SELF);
}

static void queries(void)
{
    u64 nr = pv_start_info->nr_pages;
    long cur = query(XENMEM_current_reservation, DOMID_SELF);
    long max = query(XENMEM_maximum_reservation, DOMID_SELF);
    long ram = memop(XENMEM_maximum_ram_page, NULL);
    pv_expect("current_reservation.is_nr_pages", cur == (long)nr, 1);
    if (dom0)
        pv_expect("maximum_reservation.at_least_current.dom0", max >= cur, 1);
    else
        pv_expect_rc("maximum_reservation.minus_current.domU", max - cur, 256);
    pv_expect("maximum_ram_page.above_current", ram > cur, 1);
    pv_expect_rc("current_reservation.start_extent", query(XENMEM_current_reservation | (1 << 6), DOMID_SELF), -EINVAL);
    pv_expect_rc("current_reservation.unreadable", memop(XENMEM_current_reservation, (void *)UNMAPPED), -EFAULT);
    pv_expect_rc("current_reservation.domid_5", query(XENMEM_current_reservation, 5), -ESRCH);
    if (dom0)
        pv_expect("current_reservation.domid_0.dom0", query(XENMEM_current_reservation, 0) == cur, 1);
    else
        pv_expect_rc("current_reservation.domid_0.domU", query(XENMEM_current_reservation, 0), -EPERM);
    pv_expect_rc("maximum_ram_page.start_extent", memop(XENMEM_maximum_ram_page | (1 << 6), NULL), -EINVAL);

    volatile u64 *max_pfn = (volatile u64 *)(pv_shared_info + 0xc10);
    u64 saved = *max_pfn;
    *max_pfn = 0x1234;
    pv_expect_rc("maximum_gpfn.max_pfn_0x1234", query(XENMEM_maximum_gpfn, DOMID_SELF), 0x1233);
    *max_pfn = 0;
    pv_expect_rc("maximum_gpfn.max_pfn_0", query(XENMEM_maximum_gpfn, DOMID_SELF), 0);
    *max_pfn = saved;

    struct machphys_mapping m = { 0 };
    pv_expect_rc("machphys_mapping", memop(XENMEM_machphys_mapping, &m), 0);
    pv_expect("machphys_mapping.v_start", m.v_start, 0xffff800000000000UL);
    pv_expect("machphys_mapping.v_end", m.v_end, 0xffff804000000000UL);
    if (dom0)
        pv_expect("machphys_mapping.max_mfn_is_max_page.dom0", m.max_mfn == (u64)ram - 1, 1);
    else
        pv_expect("machphys_mapping.max_mfn.domU", m.max_mfn, 0x7ffffffffUL);
    pv_expect_rc("machphys_mapping.unwritable", memop(XENMEM_machphys_mapping, (void *)UNMAPPED), -EFAULT);

    u64 mfns[2] = { 0, 0 };
    struct mfn_list l = { 1, 0, (u64)(uintptr_t)mfns, 99, 0 };
    pv_expect_rc("machphys_mfn_list", memop(XENMEM_machphys_mfn_list, &l), 0);
    pv_expect("machphys_mfn_list.nr_extents", l.nr_extents, 1);
    pv_expect("machphys_mfn_list.mfn_nonzero", mfns[0] != 0, 1);
    l.max_extents = 0;
    pv_expect_rc("machphys_mfn_list.max_0", memop(XENMEM_machphys_mfn_list, &l), 0);
    pv_expect("machphys_mfn_list.max_0_nr_extents", l.nr_extents, 0);

    struct e820entry e[2] = { { 7, 7, 7 }, { 7, 7, 7 } };
    struct memory_map mm = { 2, 0, (u64)(uintptr_t)e };
    if (dom0) {
        pv_expect_rc("memory_map.dom0", memop(XENMEM_memory_map, &mm), -ENOSYS);
    } else {
        pv_expect_rc("memory_map.domU", memop(XENMEM_memory_map, &mm), 0);
        pv_expect("memory_map.domU.nr_entries", mm.nr_entries, 1);
        pv_expect("memory_map.domU.addr", e[0].addr, 0);
        pv_expect("memory_map.domU.size_is_nr_pages", e[0].size == nr * 4096, 1);
        pv_expect("memory_map.domU.type", e[0].type, 1);
        pv_expect_rc("machine_memory_map.domU", memop(XENMEM_machine_memory_map, &mm), -EPERM);
    }
    pv_expect_rc("memory_map.with_start_extent", memop(XENMEM_memory_map | (1 << 6), &mm), -ENOSYS);
    pv_expect_rc("memory_op.cmd_63", memop(63, &mm), -ENOSYS);

    struct add_to_physmap a = { DOMID_SELF, 0, 0 /* shared_info */, 0, 0x100 };
    pv_expect_rc("add_to_physmap.shared_info", memop(XENMEM_add_to_physmap, &a), -EACCES);
    a.space = 4;
    pv_expect_rc("add_to_physmap.gmfn_foreign", memop(XENMEM_add_to_physmap, &a), -ENOSYS);
    pv_expect_rc("add_to_physmap.start_extent_17_bits", memop(XENMEM_add_to_physmap | (0x10000UL << 6), &a), -EDOM);
    struct remove_from_physmap rm = { DOMID_SELF, { 0 }, 0x100 };
    pv_expect_rc("remove_from_physmap", memop(XENMEM_remove_from_physmap, &rm), -EACCES);

    u64 in = 0;
    struct exchange x = { { (u64)(uintptr_t)&in, 1, 0, 0, DOMID_SELF, { 0 } }, { 0, 1, 19, 0, DOMID_SELF, { 0 } }, 0 };
    pv_expect_rc("exchange.order_19", memop(XENMEM_exchange, &x), -EPERM);
    x.out.extent_order = 1;
    pv_expect_rc("exchange.sizes_differ", memop(XENMEM_exchange, &x), -EINVAL);
    x.out.extent_order = 0;
    x.out.extent_start = 0xffff82d040000000UL;   /* Xen's text */
    pv_expect_rc("exchange.out_in_xen_range", memop(XENMEM_exchange, &x), -EFAULT);
    x.nr_exchanged = 1;
    pv_expect_rc("exchange.all_done", memop(XENMEM_exchange, &x), 0);
}

static void reservations(void)
{
    u64 va = (u64)(uintptr_t)page[0];
    u64 pfn = pv_pfn(page[0]);
    u64 mfn = pv_mfn(page[0]);
    long cur0 = query(XENMEM_current_reservation, DOMID_SELF);
    u64 list[2] = { mfn, 0 };

    pv_expect_rc("decrease.mapped_page", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    pv_expect_rc("decrease.mapped_page_stays_allocated", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);
    pv_expect_rc("decrease.unmap", hypercall_update_va_mapping(va, 0, UVMF_INVLPG), 0);
    pv_expect_rc("decrease.freed_on_unmap", query(XENMEM_current_reservation, DOMID_SELF) - cur0, -1);
    pv_expect_rc("decrease.freed_page_not_ours", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 0);

    list[0] = 0;
    pv_expect_rc("increase.one", reserve(XENMEM_increase_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    pv_expect_rc("increase.reservation_back", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);
    u64 fresh = list[0];
    pv_expect("increase.mfn_nonzero", fresh != 0, 1);
    pv_expect_rc("increase.machphys_update", machphys(fresh, pfn), 0);
    pv_expect("increase.m2p_reads_pfn", M2P[fresh], pfn);
    pv_expect_rc("increase.map", hypercall_update_va_mapping(va, (fresh << 12) | 0x63, UVMF_INVLPG), 0);
    page[0][100] = 0xab;
    pv_expect("increase.page_usable", page[0][100], 0xab);
    ((u64 *)(uintptr_t)pv_start_info->mfn_list)[pfn] = fresh;

    list[0] = 0x7777;
    pv_expect_rc("populate.one", reserve(XENMEM_populate_physmap, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    u64 pop = list[0];
    pv_expect("populate.list_holds_mfn", pop != 0x7777 && pop != 0, 1);
    pv_expect("populate.m2p_is_gpfn", M2P[pop], 0x7777);
    pv_expect_rc("populate.reservation", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 1);
    pv_expect_rc("populate.give_back", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    pv_expect_rc("populate.given_back", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);

    list[0] = 0;
    pv_expect_rc("decrease.mfn_0", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 0);
    list[0] = 1UL << 40;
    pv_expect_rc("decrease.mfn_past_ram", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 0);
    pv_expect_rc("increase.unreadable", memop(XENMEM_increase_reservation, (void *)UNMAPPED), 0);
    pv_expect_rc("increase.too_many_extents", reserve(XENMEM_increase_reservation, 0, 1UL << 26, 0, 0, DOMID_SELF), 0);
    pv_expect_rc("increase.start_past_nr", reserve(XENMEM_increase_reservation | (2 << 6), 0, 1, 0, 0, DOMID_SELF), 2);
    pv_expect_rc("increase.domid_5", reserve(XENMEM_increase_reservation, 0, 1, 0, 0, 5), 0);
    pv_expect_rc("increase.address_bits_12", reserve(XENMEM_increase_reservation, 0, 1, 0, 12, DOMID_SELF), 0);
    pv_expect_rc("increase.order_19", reserve(XENMEM_increase_reservation, 0, 1, 19, 0, DOMID_SELF), 0);
    if (!dom0) {
        pv_expect_rc("increase.order_10.domU", reserve(XENMEM_increase_reservation, 0, 1, 10, 0, DOMID_SELF), 0);
        pv_expect_rc("increase.exact_node.domU", reserve(XENMEM_increase_reservation, 0, 1, 0, (1 << 8) | (1 << 17), DOMID_SELF), 0);
        pv_expect_rc("increase.domid_0.domU", reserve(XENMEM_increase_reservation, 0, 1, 0, 0, 0), 0);
    } else {
        pv_expect_rc("increase.node_64.dom0", reserve(XENMEM_increase_reservation, 0, 1, 0, 65 << 8, DOMID_SELF), 0);
    }
    pv_expect_rc("populate.list_in_xen_range", reserve(XENMEM_populate_physmap, 0xffff82d040000000UL, 1, 0, 0, DOMID_SELF), 0);
    pv_expect_rc("populate.list_unreadable", reserve(XENMEM_populate_physmap, UNMAPPED, 1, 0, 0, DOMID_SELF), 0);
    pv_expect_rc("reservation.unchanged", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);
}

static long exchange1(u64 in, u64 *slot, struct exchange *x)
{
    static u64 in_list[1];
    in_list[0] = in;
    *x = (struct exchange){ { (u64)(uintptr_t)in_list, 1, 0, 0, DOMID_SELF, { 0 } },
                            { (u64)(uintptr_t)slot, 1, 0, 0, DOMID_SELF, { 0 } }, 0 };
    return memop(XENMEM_exchange, x);
}

static void exchanges(void)
{
    u64 va = (u64)(uintptr_t)page[1];
    u64 pfn = pv_pfn(page[1]);
    u64 mfn = pv_mfn(page[1]);
    long cur0 = query(XENMEM_current_reservation, DOMID_SELF);
    struct exchange x;
    u64 slot = pfn;

    page[1][0] = 0x5a;
    pv_expect_rc("exchange.mapped_page", exchange1(mfn, &slot, &x), -EINVAL);
    pv_expect_rc("exchange.mapped_page.nr_exchanged", x.nr_exchanged, 0);
    pv_expect("exchange.mapped_page.slot_untouched", slot == pfn, 1);
    pv_expect("exchange.mapped_page.contents_kept", page[1][0], 0x5a);
    pv_expect_rc("exchange.remap_read_only", hypercall_update_va_mapping(va, (mfn << 12) | 0x61, UVMF_INVLPG), 0);
    pv_expect_rc("exchange.mapped_read_only", exchange1(mfn, &slot, &x), -EINVAL);
    pv_expect_rc("exchange.pinned_l4", exchange1(pv_mfn((void *)(uintptr_t)pv_start_info->pt_base), &slot, &x), -EINVAL);
    pv_expect_rc("exchange.shared_info", exchange1(pv_start_info->shared_info >> 12, &slot, &x), -EINVAL);
    u64 grant_frame = 0;
    struct gnttab_setup_table gs = { DOMID_SELF, 1, 99, (u64)(uintptr_t)&grant_frame };
    pv_expect_rc("exchange.grant_frame.setup_table", _hypercall3(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, &gs, 1), 0);
    pv_expect_rc("exchange.grant_frame", exchange1(grant_frame, &slot, &x), -EINVAL);
    pv_expect_rc("exchange.mfn_past_ram", exchange1(1UL << 40, &slot, &x), -EINVAL);
    pv_expect_rc("exchange.refused.reservation", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);

    pv_expect_rc("exchange.unmap", hypercall_update_va_mapping(va, 0, UVMF_INVLPG), 0);
    pv_expect_rc("exchange.unmapped_page", exchange1(mfn, &slot, &x), 0);
    u64 fresh = slot;
    pv_expect_rc("exchange.unmapped_page.nr_exchanged", x.nr_exchanged, 1);
    pv_expect("exchange.slot_holds_new_mfn", fresh != mfn && fresh != pfn, 1);
    pv_expect("exchange.new_m2p_is_gpfn", M2P[fresh], pfn);
    pv_expect("exchange.old_m2p_invalid", M2P[mfn], ~0UL);
    pv_expect_rc("exchange.reservation", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);
    pv_expect_rc("exchange.old_frame_maps", hypercall_update_va_mapping(va, (mfn << 12) | 0x63, UVMF_INVLPG), -EBUSY);
    pv_expect_rc("exchange.old_frame_machphys_update", machphys(mfn, pfn), -EINVAL);
    pv_expect_rc("exchange.new_frame_maps", hypercall_update_va_mapping(va, (fresh << 12) | 0x63, UVMF_INVLPG), 0);
    page[1][0] = 0xcd;
    pv_expect("exchange.new_frame_usable", page[1][0], 0xcd);
    ((u64 *)(uintptr_t)pv_start_info->mfn_list)[pfn] = fresh;

    pv_expect_rc("exchange.unmap_new", hypercall_update_va_mapping(va, 0, UVMF_INVLPG), 0);
    pv_expect_rc("exchange.out_unmapped", exchange1(fresh, (u64 *)UNMAPPED, &x), -EFAULT);
    pv_expect_rc("exchange.out_unmapped.nr_exchanged", x.nr_exchanged, 0);
    pv_expect_rc("exchange.out_unmapped.in_frame_gone", machphys(fresh, pfn), -EINVAL);
    pv_expect("exchange.out_unmapped.in_m2p_invalid", M2P[fresh], ~0UL);
    pv_expect_rc("exchange.out_unmapped.reservation", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);

    u64 list[1] = { pfn };
    pv_expect_rc("exchange.populate", reserve(XENMEM_populate_physmap, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    u64 pop = list[0];
    static u64 two[2];
    two[0] = pop;
    two[1] = pv_mfn(page[0]);
    slot = pfn;
    x = (struct exchange){ { (u64)(uintptr_t)two, 2, 0, 0, DOMID_SELF, { 0 } },
                           { (u64)(uintptr_t)&slot, 1, 1, 0, DOMID_SELF, { 0 } }, 0 };
    pv_expect_rc("exchange.chunk_second_mapped", memop(XENMEM_exchange, &x), -EINVAL);
    pv_expect_rc("exchange.chunk_second_mapped.nr_exchanged", x.nr_exchanged, 0);
    pv_expect_rc("exchange.chunk_second_mapped.first_given_back", machphys(pop, pfn), 0);
    x = (struct exchange){ { (u64)(uintptr_t)two, 1, 0, 0, DOMID_SELF, { 0 } },
                           { (u64)(uintptr_t)&slot, 1, 0, 13 /* address_bits */, DOMID_SELF, { 0 } }, 0 };
    pv_expect_rc("exchange.address_bits_13", memop(XENMEM_exchange, &x), -ENOMEM);
    pv_expect_rc("exchange.address_bits_13.nr_exchanged", x.nr_exchanged, 0);
    pv_expect_rc("exchange.address_bits_13.given_back", machphys(pop, pfn), 0);
    pv_expect_rc("exchange.give_back", reserve(XENMEM_decrease_reservation, (u64)(uintptr_t)list, 1, 0, 0, DOMID_SELF), 1);
    pv_expect_rc("exchange.given_back.reservation", query(XENMEM_current_reservation, DOMID_SELF) - cur0, 0);
}

static void xen3(long version)
{
    printk("xen3: only current_reservation and the sub-ops that exist are checked\n");
    pv_expect_rc("xen3.current_reservation_is_nr_pages", query(XENMEM_current_reservation, DOMID_SELF) == (long)pv_start_info->nr_pages, 1);
    if (version == 0x30000)
        pv_expect_rc("xen3.maximum_gpfn", query(XENMEM_maximum_gpfn, DOMID_SELF), -ENOSYS);
    pv_expect_rc("xen3.remove_from_physmap", memop(XENMEM_remove_from_physmap, page[0]), -ENOSYS);
}

void test_main(void)
{
    dom0 = (pv_start_info->flags & SIF_INITDOMAIN) != 0;
    const long version = hypercall_xen_version(0 /* XENVER_version */, NULL);
    if (version >> 16 == 3) {
        xen3(version);
        return;
    }
    queries();
    reservations();
    exchanges();
}
