/*
 * pv-segbase: HYPERVISOR_set_segment_base, the 64-bit PV guest's way to set the FS
 * and GS bases (it runs in ring 3 and cannot write the MSRs).
 *
 * Xen 4.17 (xen/arch/x86/pv/misc-hypercalls.c: do_set_segment_base; the same at
 * c447b7308b in IDT mode):
 * - SEGBASE_FS writes the FS base, seen in both guest modes (toggle_guest_mode swaps
 *   only GS);
 * - SEGBASE_GS_KERNEL writes the active GS base (the guest kernel's);
 *   SEGBASE_GS_USER writes the shadow GS base, which SWAPGS in toggle_guest_mode makes
 *   user mode's;
 * - SEGBASE_GS_USER_SEL loads the user's %gs selector between two SWAPGS (RPL forced
 *   to 3), so user mode's GS base becomes the descriptor's (0 for FLAT_USER_DS32,
 *   0xe02b) and the kernel's stays; the selector itself is shared by both modes;
 * - a non-canonical base is refused with -EINVAL (-22) and changes nothing (XSA-193
 *   made the checks), as is an unknown `which`.
 * The bases are read back through %fs:/%gs: memory operands on a page whose quadwords
 * hold their own index (RDFSBASE needs CR4.FSGSBASE, which Xen may leave off for PV).
 */
#include "ringside-pv.h"

static u64 page[512] __attribute__((aligned(4096)));

static NOINLINE u64 read_fs(u64 off)
{
    u64 v;
    asm volatile("mov %%fs:(%1), %0" : "=r"(v) : "r"(off) : "memory");
    return v;
}

static NOINLINE u64 read_gs(u64 off)
{
    u64 v;
    asm volatile("mov %%gs:(%1), %0" : "=r"(v) : "r"(off) : "memory");
    return v;
}

static NOINLINE u64 read_gs_sel(u64 unused)
{
    u64 v = 0;
    (void)unused;
    asm volatile("mov %%gs, %k0" : "+r"(v));
    return v;
}

/* A read returned page[got] (each quadword holds its own index). */
static void expect_index(const char *name, u64 got, u64 want_index)
{
    printk("%s: page[%lu]\n", name, got);
    if (got != want_index)
        test_fail("%s: read page[%lu], expected page[%lu]", name, got, want_index);
}

void test_main(void)
{
    const u64 base = (u64)(uintptr_t)page;
    const u64 noncanonical = 0x8000000000000000UL;

    for (unsigned int i = 0; i < 512; i++)
        page[i] = i;

    pv_expect_rc("fs.rc", hypercall_set_segment_base(SEGBASE_FS, base), 0);
    expect_index("fs.kernel_read", read_fs(8), 1);
    expect_index("fs.user_read", pv_exec_user(read_fs, 16), 2);

    pv_expect_rc("gs_kernel.rc", hypercall_set_segment_base(SEGBASE_GS_KERNEL, base + 0x800), 0);
    pv_expect_rc("gs_user.rc", hypercall_set_segment_base(SEGBASE_GS_USER, base + 0x400), 0);
    expect_index("gs.kernel_read", read_gs(0), 256);
    expect_index("gs.user_read", pv_exec_user(read_gs, 8), 129);
    expect_index("gs.kernel_read_after_user", read_gs(16), 258);

    pv_expect_rc("gs_user_sel.rc", hypercall_set_segment_base(SEGBASE_GS_USER_SEL, FLAT_USER_SS), 0);
    expect_index("gs_user_sel.user_read", pv_exec_user(read_gs, base + 24), 3);
    expect_index("gs_user_sel.kernel_read", read_gs(32), 260);
    u64 sel_user = pv_exec_user(read_gs_sel, 0), sel_kernel = read_gs_sel(0);
    printk("gs_user_sel.user_selector: 0x%lx\n", sel_user);
    printk("gs_user_sel.kernel_selector: 0x%lx\n", sel_kernel);
    if (sel_user != FLAT_USER_SS || sel_kernel != FLAT_USER_SS)
        test_fail("gs selector: user 0x%lx kernel 0x%lx, expected 0x%x", sel_user, sel_kernel, FLAT_USER_SS);

    pv_expect_rc("fs_noncanonical.rc", hypercall_set_segment_base(SEGBASE_FS, noncanonical), -22);
    expect_index("fs_noncanonical.kernel_read", read_fs(40), 5);
    pv_expect_rc("gs_kernel_noncanonical.rc", hypercall_set_segment_base(SEGBASE_GS_KERNEL, noncanonical), -22);
    expect_index("gs_kernel_noncanonical.kernel_read", read_gs(48), 262);
    pv_expect_rc("gs_user_noncanonical.rc", hypercall_set_segment_base(SEGBASE_GS_USER, noncanonical), -22);
    expect_index("gs_user_noncanonical.user_read", pv_exec_user(read_gs, base + 56), 7);
    pv_expect_rc("unknown_which.rc", hypercall_set_segment_base(4, base), -22);
}
