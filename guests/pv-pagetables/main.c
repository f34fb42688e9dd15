/*
 * pv-pagetables: page types, page-table validation and the page-table hypercalls of a
 * 64-bit PV guest (xen/arch/x86/mm.c and pv/mm.h), in dom0 and in a domU.
 *
 * Xen 4.17 and c447b7308b alike (errno values as Linux's: EINVAL 22, EBUSY 16,
 * EPERM 1, EACCES 13, EFAULT 14, ENOSYS 38):
 * - A frame has one type at a time with a count of its uses (_get_page_type): a page
 *   mapped writable (PGT_writable_page) cannot be pinned as a page table (-EINVAL, "Bad
 *   type"), and a page-table page cannot be mapped writable (get_page_from_l1e:
 *   get_page_type(PGT_writable_page) fails, could_not_pin -EBUSY) by update_va_mapping
 *   or by an L1 entry of a table being validated.  Pinning a pinned table -EINVAL
 *   (test_and_set_bit(_PGT_pinned)); unpinning an unpinned one -EINVAL.
 * - Validation (promote_l[1-4]_table): each present entry must pass get_page_from_lNe.
 *   L1 entries may not carry PWT/PCD/PAT unless the domain may flush caches (dom0,
 *   which has I/O memory: l1_disallow_mask; bit 62, _PAGE_GNTTAB, only in debug builds); L2..L4 entries
 *   never PSE or G (base_disallow_mask) -EINVAL; an L2..L4 entry must reference a
 *   table of the next level (get_page_and_type_from_mfn), else a validated table of its
 *   own level read-only (get_lN_linear_pagetable), and an entry referencing its own
 *   table read-only is always allowed; a writable self-reference -EINVAL.  A validated
 *   L1 entry gets adjust_guest_l1e's flags: a kernel page (no US) US and
 *   _PAGE_GUEST_KERNEL (bit 52), a user page G.  A new L4 gets Xen's slots 256..271
 *   (init_xen_l4_slots: the linear slot 258 mapping the L4 itself; the read-only M2P's
 *   slot 256 stays empty without VMASST m2p_strict until NEW_BASEPTR installs the L4,
 *   fill_ro_mpt); mod_l4_entry refuses those slots -EINVAL.
 * - mmu_update (do_mmu_update): ptr & 7 is the command: MMU_NORMAL_PT_UPDATE (0) goes
 *   through mod_lN_entry for a validated table and is a plain write on a page of no
 *   type; MMU_PT_UPDATE_PRESERVE_AD (2) keeps the old entry's A and D; MMU_MACHPHYS_
 *   UPDATE (1) writes the M2P entry of a frame the domain owns (else -EINVAL); others
 *   -ENOSYS.  The batch stops at the first failure, which changes nothing, and *pdone
 *   gets the number of requests done.
 * - update_va_mapping's flags: UVMF_NONE 0, TLB_FLUSH 1, INVLPG 2, with LOCAL 0, ALL 4
 *   or a pointer to a vCPU mask (MULTI); an unreadable mask -EFAULT after the update.
 *   mmuext_op: NEW_BASEPTR / NEW_USER_BASEPTR take an L4 type reference (validating a
 *   new L4), the TLB/INVLPG flushes succeed, *_MULTI with an unreadable mask -EINVAL,
 *   SET_LDT with more than 8192 entries or an unaligned or Xen-range base -EINVAL,
 *   otherwise LDTR is Xen's LDT selector 0xe050 (load_LDT) or null for 0 entries,
 *   CLEAR_PAGE / COPY_PAGE need a destination that can be writable (-EINVAL), FLUSH_CACHE
 *   needs cache-flush rights (a domU -EACCES).
 * - The LDT (pv/descriptor-tables.c, pv/mm.c pv_map_ldt_shadow_page): Xen maps a page of
 *   it on the first #PF in its LDT area, if the guest kernel's tables map the page and it
 *   can become a descriptor page (PGT_seg_desc_page: not writable anywhere); otherwise
 *   the guest gets the #PF at ldt_base + offset (handle_gdt_ldt_mapping_fault). A mapped
 *   LDT page holds its type until SET_LDT changes the LDT (pv_destroy_ldt).  A selector
 *   past the LDT's limit is the CPU's #GP(selector).
 * Values that differ between dom0 and domU are labelled with the domain.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_mmu_update 1

#define EPERM 1
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EINVAL 22
#define ENOSYS 38

#define P   0x1UL
#define RW  0x2UL
#define US  0x4UL
#define PWT 0x8UL
#define PCD 0x10UL
#define A   0x20UL
#define D   0x40UL
#define PS  0x80UL
#define G   0x100UL
#define GUEST_KERNEL (1UL << 52)
#define BIT62 (1UL << 62)               /* _PAGE_GNTTAB only in debug builds */
#define UNMAPPED 8UL                      /* page 0: the library unmapped it */

struct mmuext_op { u32 cmd; u32 pad; u64 arg1; u64 arg2; };
struct mmu_update { u64 ptr; u64 val; };

static u8 page[8][4096] __attribute__((aligned(4096)));
static bool dom0;
static u64 l4_mfn;

static long mmuext2(u32 cmd, u64 arg1, u64 arg2)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = arg1, .arg2 = arg2 };
    return hypercall_mmuext_op(&op, 1);
}
#define mmuext(cmd, arg1) mmuext2(cmd, arg1, 0)

static long mmu_update(const struct mmu_update *req, u64 count, u32 *done)
{
    return _hypercall4(__HYPERVISOR_mmu_update, req, count, done, 0x7ff0);
}

static long mmu1(u64 ptr, u64 val)
{
    struct mmu_update r = { ptr, val };
    return mmu_update(&r, 1, NULL);
}

static u64 va(int k) { return (u64)(uintptr_t)page[k]; }
static u64 mfn(int k) { return pv_mfn(page[k]); }
static volatile u64 *ent(int k) { return (volatile u64 *)page[k]; }

/* Map page k's own address read-only or writable (a kernel mapping). */
static long map_ro(int k) { return hypercall_update_va_mapping(va(k), (mfn(k) << 12) | P | A, UVMF_INVLPG); }
static long map_rw(int k) { return hypercall_update_va_mapping(va(k), (mfn(k) << 12) | P | RW | A | D, UVMF_INVLPG); }

static void clear(int k)
{
    for (int i = 0; i < 512; i++)
        ent(k)[i] = 0;
}

static void types_and_pins(void)
{
    clear(0);
    pv_expect_rc("pin_l1.writably_mapped", mmuext(0, mfn(0)), -EINVAL);
    pv_expect_rc("map_ro.page0", map_ro(0), 0);
    pv_expect_rc("pin_l1.read_only", mmuext(0, mfn(0)), 0);
    pv_expect_rc("pin_l1.again", mmuext(0, mfn(0)), -EINVAL);
    pv_expect_rc("pin_l2.pinned_l1", mmuext(1, mfn(0)), -EINVAL);
    pv_expect_rc("map_rw.pinned_l1", map_rw(0), -EBUSY);
    pv_expect_rc("unpin.l1", mmuext(4, mfn(0)), 0);
    pv_expect_rc("unpin.again", mmuext(4, mfn(0)), -EINVAL);
    pv_expect_rc("map_rw.unpinned", map_rw(0), 0);
    pv_expect_rc("pin_l1.foreign_mfn0", mmuext(0, 0), -EINVAL);
}

/* Page 0 as an L1 holding one entry `e`; validated by a pin. */
static long validate_l1(u64 e)
{
    map_rw(0);
    clear(0);
    ent(0)[1] = e;
    map_ro(0);
    long rc = mmuext(0, mfn(0));
    if (rc == 0)
        mmuext(4, mfn(0));
    return rc;
}

static void l1_validation(void)
{
    pv_expect_rc("l1.data_rw", validate_l1((mfn(2) << 12) | P | RW | A | D), 0);
    pv_expect_rc("l1.l4_rw", validate_l1((l4_mfn << 12) | P | RW | A), -EBUSY);
    pv_expect_rc("l1.l4_ro", validate_l1((l4_mfn << 12) | P | A), 0);
    pv_expect_rc("l1.avail_high_bit62", validate_l1((mfn(2) << 12) | P | A | BIT62), 0);
    pv_expect_rc("l1.global_nx_avail", validate_l1((mfn(2) << 12) | P | A | G | 0xe00 | (1UL << 63)), 0);
    /* Cache attributes need cache-flush rights: dom0 has them, a domU does not. */
    pv_expect_rc(dom0 ? "l1.pcd.dom0" : "l1.pcd.domU", validate_l1((mfn(2) << 12) | P | A | PCD), dom0 ? 0 : -EINVAL);
    /* pin_l1 rewrote the entries (adjust_guest_l1e): kernel page: US and bit 52. */
    map_rw(0);
    clear(0);
    ent(0)[1] = (mfn(2) << 12) | P | RW | A | D;
    ent(0)[2] = (mfn(3) << 12) | P | US | A;
    map_ro(0);
    pv_expect_rc("l1.pin_adjust", mmuext(0, mfn(0)), 0);
    pv_expect("l1.adjusted_kernel_flags", ent(0)[1] & ~0x000ffffffffff000UL, GUEST_KERNEL | US | D | A | RW | P);
    pv_expect("l1.adjusted_user_flags", ent(0)[2] & ~0x000ffffffffff000UL, G | US | A | P);
    /* While page 2 is mapped writable by the pinned L1, it cannot be an L1 itself. */
    pv_expect_rc("pin_l1.mapped_rw_by_l1", mmuext(0, mfn(2)), -EINVAL);
    pv_expect_rc("unpin.adjusted", mmuext(4, mfn(0)), 0);
}

static void upper_validation(void)
{
    /* page 0: an empty L1, page 1: an L2, page 4: an L3. */
    map_rw(0); clear(0); map_ro(0);
    map_rw(1); clear(1);
    ent(1)[3] = (mfn(0) << 12) | P | RW | A;
    map_ro(1);
    pv_expect_rc("l2.pin", mmuext(1, mfn(1)), 0);
    pv_expect("l2.entry_gets_us", ent(1)[3] & 0xfff, P | RW | US | A);
    pv_expect_rc("l1.as_pinned_l2_child_rw", map_rw(0), -EBUSY);
    pv_expect_rc("unpin.l2", mmuext(4, mfn(1)), 0);
    pv_expect_rc("l1.free_after_l2_unpin", map_rw(0), 0);

    map_rw(1); clear(1); ent(1)[0] = (mfn(0) << 12) | P | RW | A | PS; map_ro(1);
    pv_expect_rc("l2.pse", mmuext(1, mfn(1)), -EINVAL);
    map_rw(1); clear(1); ent(1)[0] = (mfn(2) << 12) | P | RW | A; map_ro(1);
    pv_expect_rc("l2.writable_child", mmuext(1, mfn(1)), -EINVAL);
    map_rw(1); clear(1); ent(1)[0] = (mfn(1) << 12) | P | A; map_ro(1);
    pv_expect_rc("l2.self_read_only", mmuext(1, mfn(1)), 0);
    pv_expect_rc("unpin.l2_self", mmuext(4, mfn(1)), 0);
    map_rw(1); clear(1); ent(1)[0] = (mfn(1) << 12) | P | RW | A; map_ro(1);
    pv_expect_rc("l2.self_writable", mmuext(1, mfn(1)), -EINVAL);

    map_rw(4); clear(4); ent(4)[0] = (mfn(1) << 12) | P | RW | A | G; map_ro(4);
    pv_expect_rc("l3.global", mmuext(2, mfn(4)), -EINVAL);
    map_rw(1); clear(1); map_ro(1);
    map_rw(4); clear(4); ent(4)[0] = (mfn(1) << 12) | P | RW | A; map_ro(4);
    pv_expect_rc("l3.pin", mmuext(2, mfn(4)), 0);
    pv_expect_rc("pin_l2.child_of_l3", mmuext(1, mfn(1)), 0);
    pv_expect_rc("unpin.l2_child", mmuext(4, mfn(1)), 0);
    pv_expect_rc("l2.child_still_typed", map_rw(1), -EBUSY);
    pv_expect_rc("unpin.l3", mmuext(4, mfn(4)), 0);
    pv_expect_rc("l2.free_after_l3_unpin", map_rw(1), 0);
    map_rw(4);
}

static void new_l4(void)
{
    /* page 5: a copy of the running L4's guest half. */
    const volatile u64 *cur = (const volatile u64 *)pv_start_info->pt_base;
    map_rw(5);
    clear(5);
    for (int i = 0; i < 256; i++)
        ent(5)[i] = cur[i];
    ent(5)[260] = (mfn(2) << 12) | P | A;   /* a Xen slot: not validated, overwritten */
    map_ro(5);
    pv_expect_rc("l4.pin", mmuext(3, mfn(5)), 0);
    pv_expect("l4.ro_m2p_slot_256_after_pin", ent(5)[256] & P, 0);
    pv_expect("l4.linear_slot_258_is_itself", ((ent(5)[258] >> 12) & 0xffffffffffUL) == mfn(5), 1);
    pv_expect("l4.xen_slot_260_replaced", ((ent(5)[260] >> 12) & 0xffffffffffUL) != mfn(2), 1);
    pv_expect_rc("l4.mmu_update_xen_slot", mmu1((mfn(5) << 12) + 256 * 8, 0), -EINVAL);
    pv_expect_rc("new_baseptr.pinned_l4", mmuext(5, mfn(5)), 0);
    static volatile u64 probe = 0x5a;
    pv_expect("new_baseptr.running", probe, 0x5a);
    pv_expect("new_baseptr.ro_m2p_slot_256_filled", ent(5)[256] & P, 1);
    pv_expect("new_baseptr.m2p_readable", M2P[mfn(7)], pv_pfn(page[7]));
    pv_expect_rc("new_user_baseptr.new", mmuext(15, mfn(5)), 0);
    pv_expect_rc("new_baseptr.back", mmuext(5, l4_mfn), 0);
    pv_expect_rc("unpin.l4_in_use_as_user", mmuext(4, mfn(5)), 0);
    pv_expect_rc("l4.still_typed", map_rw(5), -EBUSY);
    pv_expect_rc("new_user_baseptr.back", mmuext(15, l4_mfn), 0);
    pv_expect_rc("l4.free", map_rw(5), 0);
    pv_expect_rc("new_baseptr.data_page", mmuext(5, mfn(5)), -EINVAL);
    pv_expect_rc("new_user_baseptr.foreign_mfn0", mmuext(15, 0), 0);   /* 0: none */
    pv_expect_rc("new_user_baseptr.restore", mmuext(15, l4_mfn), 0);
}

static void mmu_updates(void)
{
    u32 done = 77;
    /* page 0: a pinned L1. */
    map_rw(0); clear(0); map_ro(0);
    mmuext(0, mfn(0));
    u64 e0 = (mfn(0) << 12);
    pv_expect_rc("mmu_update.l1", mmu1(e0 + 8, (mfn(2) << 12) | P | RW | A), 0);
    pv_expect("mmu_update.l1_entry_frame", (ent(0)[1] >> 12 & 0xffffffffffUL) == mfn(2), 1);
    pv_expect("mmu_update.l1_entry_flags", ent(0)[1] & ~0x000ffffffffff000UL, GUEST_KERNEL | US | A | RW | P);
    pv_expect_rc("mmu_update.l1_pt_rw", mmu1(e0 + 16, (l4_mfn << 12) | P | RW | A), -EBUSY);
    pv_expect("mmu_update.l1_refused_unchanged", ent(0)[2], 0);
    pv_expect_rc("mmu_update.l1_ad", mmu1(e0 + 24, (mfn(3) << 12) | P | A | D), 0);
    pv_expect_rc("mmu_update.preserve_ad", mmu1(e0 + 24 + 2, (mfn(3) << 12) | P), 0);
    pv_expect("mmu_update.preserve_ad_entry", ent(0)[3] & 0xfff, P | US | A | D);
    pv_expect_rc("mmu_update.normal_drops_ad", mmu1(e0 + 24, (mfn(3) << 12) | P), 0);
    pv_expect("mmu_update.normal_entry", ent(0)[3] & 0xfff, P | US);
    pv_expect_rc("mmu_update.no_translate", mmu1(e0 + 24 + 3, (mfn(3) << 12) | P | A), 0);
    pv_expect("mmu_update.no_translate_entry", ent(0)[3] & 0xfff, P | US | A);
    pv_expect_rc("mmu_update.bad_cmd", mmu1(e0 + 4, 0), -ENOSYS);
    pv_expect_rc("mmu_update.foreign_mfn0", mmu1(8, 0), -EINVAL);

    struct mmu_update batch[3] = {
        { e0 + 32, (mfn(3) << 12) | P | A },
        { e0 + 40, (l4_mfn << 12) | P | RW | A },
        { e0 + 48, (mfn(3) << 12) | P | A },
    };
    pv_expect_rc("mmu_update.batch", mmu_update(batch, 3, &done), -EBUSY);
    pv_expect("mmu_update.batch_done", done, 1);
    pv_expect("mmu_update.batch_first_applied", ent(0)[4] & P, 1);
    pv_expect("mmu_update.batch_third_not", ent(0)[6], 0);

    /* A page of no type: a plain write. */
    page[6][8] = 0;
    pv_expect_rc("mmu_update.untyped_page", mmu1((mfn(6) << 12) + 8, 0x1122334455667788UL), 0);
    pv_expect("mmu_update.untyped_written", *(volatile u64 *)&page[6][8], 0x1122334455667788UL);

    /* L2: page 1 pinned, its slot 5 to page 0 (the pinned L1), to a writable page. */
    map_rw(1); clear(1); map_ro(1);
    pv_expect_rc("mmu_update.l2_pin", mmuext(1, mfn(1)), 0);
    pv_expect_rc("mmu_update.l2", mmu1((mfn(1) << 12) + 40, (mfn(0) << 12) | P | RW | A), 0);
    pv_expect_rc("mmu_update.l2_writable_child", mmu1((mfn(1) << 12) + 48, (mfn(2) << 12) | P | RW | A), -EINVAL);
    pv_expect_rc("mmu_update.l2_clear", mmu1((mfn(1) << 12) + 40, 0), 0);
    pv_expect_rc("unpin.mmu_l2", mmuext(4, mfn(1)), 0);
    pv_expect_rc("unpin.mmu_l1", mmuext(4, mfn(0)), 0);

    /* MMU_MACHPHYS_UPDATE, read back through Xen's read-only M2P. */
    u64 m = mfn(7), pfn = M2P[m];
    pv_expect("m2p.page7_is_its_pfn", pfn, pv_pfn(page[7]));
    pv_expect_rc("machphys.set", mmu1((m << 12) | 1, 0x12345), 0);
    pv_expect("machphys.read_back", M2P[m], 0x12345);
    pv_expect_rc("machphys.restore", mmu1((m << 12) | 1, pfn), 0);
    pv_expect("machphys.restored", M2P[m], pfn);
    pv_expect_rc("machphys.foreign_mfn0", mmu1(1, 0), -EINVAL);
}

static void uvm_flags(void)
{
    static u64 mask_self = 1;
    u64 v = va(6);
    page[6][0] = 0x66;
    page[7][0] = 0x77;
    pv_expect_rc("uvm.none", hypercall_update_va_mapping(v, (mfn(7) << 12) | P | RW | A | D, 0), 0);
    pv_expect_rc("uvm.tlb_flush_local", hypercall_update_va_mapping(v, (mfn(7) << 12) | P | RW | A | D, 1), 0);
    pv_expect("uvm.reads_page7", page[6][0], 0x77);
    pv_expect_rc("uvm.invlpg_all", hypercall_update_va_mapping(v, (mfn(6) << 12) | P | RW | A | D, 2 | 4), 0);
    pv_expect("uvm.reads_page6", page[6][0], 0x66);
    pv_expect_rc("uvm.tlb_flush_multi", hypercall_update_va_mapping(v, (mfn(7) << 12) | P | RW | A | D, 1 | (u64)(uintptr_t)&mask_self), 0);
    pv_expect("uvm.multi_reads_page7", page[6][0], 0x77);
    pv_expect_rc("uvm.invlpg_multi_bad_mask", hypercall_update_va_mapping(v, (mfn(6) << 12) | P | RW | A | D, 2 | UNMAPPED), -EFAULT);
    mmuext(7, v);
    pv_expect("uvm.bad_mask_still_updated", page[6][0], 0x66);
    pv_expect_rc("uvm.flush_type_3", hypercall_update_va_mapping(v, (mfn(6) << 12) | P | RW | A | D, 3), 0);
    pv_expect_rc("uvm.none_bad_mask_unread", hypercall_update_va_mapping(v, (mfn(6) << 12) | P | RW | A | D, UNMAPPED), 0);
}

static void mmuext_misc(void)
{
    static u64 mask_self = 1;
    pv_expect_rc("mmuext.tlb_flush_local", mmuext(6, 0), 0);
    pv_expect_rc("mmuext.invlpg_local", mmuext(7, va(6)), 0);
    pv_expect_rc("mmuext.tlb_flush_all", mmuext(10, 0), 0);
    pv_expect_rc("mmuext.invlpg_all", mmuext(11, va(6)), 0);
    pv_expect_rc("mmuext.tlb_flush_multi", mmuext2(8, 0, (u64)(uintptr_t)&mask_self), 0);
    pv_expect_rc("mmuext.invlpg_multi", mmuext2(9, va(6), (u64)(uintptr_t)&mask_self), 0);
    pv_expect_rc("mmuext.tlb_flush_multi_bad_mask", mmuext2(8, 0, UNMAPPED), -EINVAL);
    pv_expect_rc("mmuext.invlpg_multi_bad_mask", mmuext2(9, va(6), UNMAPPED), -EINVAL);
    pv_expect_rc("mmuext.set_ldt_none", mmuext2(13, 0, 0), 0);
    pv_expect_rc("mmuext.set_ldt_too_many", mmuext2(13, va(6), 8193), -EINVAL);
    pv_expect_rc("mmuext.set_ldt_unaligned", mmuext2(13, va(6) + 8, 1), -EINVAL);
    pv_expect_rc("mmuext.set_ldt_xen_range", mmuext2(13, 0xffff800000000000UL, 1), -EINVAL);
    pv_expect_rc(dom0 ? "mmuext.flush_cache.dom0" : "mmuext.flush_cache.domU", mmuext(12, 0), dom0 ? 0 : -EACCES);

    for (int i = 0; i < 4096; i++)
        page[7][i] = (u8)i;
    page[6][0] = 1;
    pv_expect_rc("mmuext.copy_page", mmuext2(17, mfn(6), mfn(7)), 0);
    pv_expect("mmuext.copied", page[6][4095] | (page[6][0] << 8), 0xff);
    pv_expect_rc("mmuext.clear_page", mmuext(16, mfn(6)), 0);
    pv_expect("mmuext.cleared", page[6][4095] | page[6][0], 0);
    map_ro(0); mmuext(0, mfn(0));
    pv_expect_rc("mmuext.clear_page_table", mmuext(16, mfn(0)), -EINVAL);
    pv_expect_rc("mmuext.copy_to_page_table", mmuext2(17, mfn(0), mfn(7)), -EINVAL);
    pv_expect_rc("mmuext.copy_from_page_table", mmuext2(17, mfn(6), mfn(0)), 0);
    mmuext(4, mfn(0)); map_rw(0);
    pv_expect_rc("mmuext.copy_to_foreign_mfn0", mmuext2(17, 0, mfn(7)), -EINVAL);
}

/* Load %fs with `sel`: the vector taken (0: none) and %fs afterwards. */
static u64 load_fs(u16 sel)
{
    pv_event_reset();
    asm volatile("1: mov %0, %%fs\n2:\n\t" EXTABLE(1b, 2b) :: "r"(sel) : "memory");
    return last_event.count ? last_event.vector : 0;
}

static void ldt(void)
{
    /* page 3: an LDT whose entry 1 is a flat DPL-3 data segment. */
    map_rw(3);
    clear(3);
    ent(3)[1] = 0x00cff3000000ffffUL;
    u16 sldt;
    pv_expect_rc("set_ldt.two_entries", mmuext2(13, va(3), 2), 0);
    asm volatile("sldt %0" : "=r"(sldt));
    pv_expect("set_ldt.sldt", sldt, 0xe050);
    /* Writable in the guest's tables: it cannot be a descriptor page; the guest gets
     * #PF at the LDT's own address (pv_map_ldt_shadow_page fails). */
    pv_expect("ldt.load_writable_page.vector", load_fs(0xf), 14);
    pv_expect("ldt.load_writable_page.cr2_is_ldt_entry", pv_vcpu0->cr2 == va(3) + 8, 1);
    pv_expect("ldt.load_writable_page.error_code", last_event.error_code, 0);
    pv_expect_rc("ldt.map_ro", map_ro(3), 0);
    pv_expect("ldt.load.vector", load_fs(0xf), 0);
    u16 fs;
    asm volatile("mov %%fs, %0" : "=r"(fs));
    pv_expect("ldt.load.fs", fs, 0xf);
    pv_expect_rc("ldt.page_in_use_map_rw", map_rw(3), -EBUSY);
    pv_expect("ldt.past_limit.vector", load_fs(0x17), 13);
    pv_expect("ldt.past_limit.error_code", last_event.error_code, 0x14);
    asm volatile("mov %0, %%fs" :: "r"(0));
    pv_expect_rc("set_ldt.none", mmuext2(13, 0, 0), 0);
    asm volatile("sldt %0" : "=r"(sldt));
    pv_expect("set_ldt.none.sldt", sldt, 0);
    pv_expect_rc("ldt.released_map_rw", map_rw(3), 0);
}

void test_main(void)
{
    dom0 = (pv_start_info->flags & SIF_INITDOMAIN) != 0;
    l4_mfn = pv_mfn((void *)pv_start_info->pt_base);
    types_and_pins();
    l1_validation();
    upper_validation();
    new_l4();
    mmu_updates();
    uvm_flags();
    mmuext_misc();
    ldt();
}
