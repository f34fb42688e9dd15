/*
 * pv-privop: Xen's emulation of privileged instructions for a 64-bit PV guest, whose
 * kernel runs in ring 3 where each of them raises #GP(0).
 *
 * Xen 4.17 (and today, c447b7308b):
 * - do_general_protection (xen/arch/x86/traps.c) hands a guest #GP with error code 0 to
 *   pv_emulate_privileged_op (xen/arch/x86/pv/emul-priv-op.c); its validate() hook
 *   admits IN/OUT/INS/OUTS, CLTS, WBINVD, MOV CR/DR, RDMSR/WRMSR, RDTSC(P), CPUID,
 *   CLI/STI, XSETBV, and x86_emulate treats the guest kernel as CPL 0 (read_segment fakes
 *   DPL 0) and guest user mode as CPL 3 (mode_ring0 fails: #GP(0)). Anything else (HLT,
 *   INVLPG, LMSW, SWAPGS, ...) is UNHANDLEABLE and the #GP(0) is passed on, RIP at the
 *   instruction; an emulated one leaves RIP after it;
 * - read_cr: CR0 = (Xen's CR0 & ~TS) | the virtual TS, Xen's CR0 being PG|AM|WP|NE|ET|MP|PE
 *   (0x80050033); CR2 the virtual CR2 (write_cr sets it, and vcpu_info's arch.cr2:
 *   arch_set_cr2); CR3 the kernel L4's MFN << 12; CR4 the guest's bits | Xen's
 *   PAE|MCE|OSFXSR|OSXMMEXCPT (PV_CR4_GUEST_VISIBLE_MASK; 0x660 when Xen has all four);
 *   CR8 and others UNHANDLEABLE. write_cr of CR0: only TS may differ from Xen's CR0
 *   (do_fpu_taskswitch), else UNHANDLEABLE: #GP(0); CLTS clears the virtual TS;
 * - WBINVD: a no-op without cache-flush rights, a flush with them (dom0); not visible;
 * - read_msr: APIC_BASE 0xfee00800 | BSP (0x100) on vCPU 0; CR_PAT Xen's
 *   0x0000050100070406; EFER Xen's & EFER_KNOWN_MASK & ~SVME: SCE|LME|LMA|NXE (0xd01);
 *   FS_BASE the live base; anything unknown (here STAR) #GP(0), unless the guest has no
 *   #GP handler at all, when it reads 0 ("faking RDMSR"); write_msr of FS_BASE refuses a
 *   non-canonical base with #GP(0) (is_canonical_address; XSA-193);
 * - guest_rdmsr/guest_wrmsr (xen/arch/x86/msr.c) first: vMCE (cpu/mcheck/vmce.c) answers
 *   P5_MC_ADDR/TYPE, MCG_CAP..MCG_CTL, MCi_CTL2 and MCi_CTL..MCi_MISC of all 32 banks for
 *   every PV domain: MCG_CAP's count is GUEST_MC_BANK_NUM (2) without MCG_CTL_P, so
 *   MCG_CTL reads 0; MCi_CTL of banks 0-1 reads all ones and ignores writes; their STATUS,
 *   ADDR and MISC take only 0 (else #GP(0)); banks 2-31 read 0 and drop writes; MCG_STATUS
 *   keeps what is written; MCG_EXT_CTL is #GP(0) without LMCE. TSC_AUX (RDTSCP in the
 *   policy) keeps bits 31:0, #GP(0) for a value above them. read_msr: MISC_ENABLE is the
 *   host's with PERF_AVAIL and MONITOR_ENABLE cleared and BTS_UNAVAIL, PEBS_UNAVAIL,
 *   XTPR_DISABLE set (guest_misc_enable; other bits are the host's, not printed), and a
 *   write of another value is dropped; PERF_CAPABILITIES and (no CPUID faulting for dom0)
 *   PLATFORM_INFO read 0; an index no layer knows (0x480) is #GP(0);
 * - CLI/STI and IN/OUT need the virtual IOPL (PHYSDEVOP_set_iopl, 0 at boot) to cover the
 *   guest's CPL, 1 for its kernel (iopl_ok without VMASST_architectural_iopl), 3 for user:
 *   else #GP(0); with it CLI/STI are no-ops ("too dangerous" to change the event mask) and
 *   port 0x21 (the PIC: dom0_setup_permissions denies it to dom0, a domU has no ports) reads 0xff
 *   (guest_io_read: a port without rights reads all ones) and ignores writes;
 * - do_invalid_op: `ud2; .ascii "xen"; cpuid` (emulate_forced_invalid_op) runs CPUID from
 *   Xen's policy, RIP after the 7 bytes, in both guest modes (no CPUID faulting asked);
 *   leaf 0x40000000: max leaf 0x40000005, "XenVMMXenVMM"; 0x40000001: major << 16 | minor
 *   (as XENVER_version); 0x40000002: 1 hypercall page, its MSR 0x40000000, ECX
 *   XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD (1, PV); any other #UD stays #UD.
 * Only values that do not depend on the host are printed (not CPUID leaf 1, not the TSC).
 * Each fault resumes after the instruction (EXTABLE); its frame must be #GP(0) (or #UD)
 * at the instruction with the mode's CS.
 *
 * Xen in FRED mode (xen/fred, xen-nocompat/fred; guest.json "expect"): SWAPGS is #UD
 * whenever CR4.FRED = 1 (SDM SWAPGS; FRED specification: LKGS replaces it), at any CPL,
 * so the guest kernel's SWAPGS reaches Xen as #UD (do_invalid_op) and is bounced as #UD,
 * not as the #GP(0) ring 3 raises in IDT mode.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_physdev_op 33
#define PHYSDEVOP_set_iopl 6

static u64 site;
static struct { u64 rax, rbx, rcx, rdx; } in, out;

#define OP(fn, insn)                                                            \
static NOINLINE u64 fn(u64 a)                                                  \
{                                                                               \
    asm volatile("lea 1f(%%rip), %%r8\n\t"                                     \
                 "mov %%r8, %[site]\n\t"                                        \
                 "mov %[ia], %%rax\n\t"                                         \
                 "mov %[ib], %%rbx\n\t"                                         \
                 "mov %[ic], %%rcx\n\t"                                         \
                 "mov %[id], %%rdx\n\t"                                         \
                 "1: " insn "\n"                                                \
                 "2:\n\t"                                                       \
                 "mov %%rax, %[oa]\n\t"                                         \
                 "mov %%rbx, %[ob]\n\t"                                         \
                 "mov %%rcx, %[oc]\n\t"                                         \
                 "mov %%rdx, %[od]\n\t"                                         \
                 EXTABLE(1b, 2b)                                                \
                 : [site] "=m"(site), [oa] "=m"(out.rax), [ob] "=m"(out.rbx),   \
                   [oc] "=m"(out.rcx), [od] "=m"(out.rdx)                       \
                 : [ia] "m"(in.rax), [ib] "m"(in.rbx), [ic] "m"(in.rcx), [id] "m"(in.rdx) \
                 : "rax", "rbx", "rcx", "rdx", "r8", "memory", "cc");           \
    return a;                                                                   \
}

OP(rd_cr0, "mov %%cr0, %%rax")
OP(rd_cr2, "mov %%cr2, %%rax")
OP(rd_cr3, "mov %%cr3, %%rax")
OP(rd_cr4, "mov %%cr4, %%rax")
OP(rd_cr8, "mov %%cr8, %%rax")
OP(wr_cr0, "mov %%rax, %%cr0")
OP(wr_cr2, "mov %%rax, %%cr2")
OP(clts, "clts")
OP(wbinvd, "wbinvd")
OP(rdmsr, "rdmsr")
OP(wrmsr, "wrmsr")
OP(cli, "cli")
OP(sti, "sti")
OP(inb21, "inb $0x21, %%al")
OP(outb21, "outb %%al, $0x21")
OP(hlt, "hlt")
OP(invlpg, "invlpg (%%rax)")
OP(lmsw, "lmsw %%ax")
OP(swapgs, "swapgs")
OP(fcpuid, "ud2; .ascii \"xen\"; cpuid")
OP(ud2, "ud2")

enum result { EMULATED, GP0, UD };
static const char *const result_names[] = { "emulated", "#GP(0)", "#UD" };

static void check(const char *name, const char *field, u64 got, u64 want)
{
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

static void show(const char *name, const char *field, u64 got, u64 want)
{
    printk("%s.%s: 0x%lx\n", name, field, got);
    check(name, field, got, want);
}

/* Run fn (in user mode if asked) with in = {rax, rcx, rdx}; return what happened. */
static enum result run(u64 (*fn)(u64), bool user, u64 rax, u64 rcx, u64 rdx)
{
    const volatile struct pv_event *ev = &last_event;

    in.rax = rax;
    in.rbx = 0;
    in.rcx = rcx;
    in.rdx = rdx;
    pv_event_reset();
    if (user)
        pv_exec_user(fn, 0);
    else
        fn(0);
    if (ev->count == 0)
        return EMULATED;
    if (ev->count != 1 || ev->rip != site || ev->cs != ((1UL << 32) | (user ? FLAT_USER_CS : KERNEL_CS_RPL0)))
        test_fail("event %s count %lu rip 0x%lx (site 0x%lx) cs 0x%lx", exc_name((unsigned int)ev->vector),
                  ev->count, ev->rip, site, ev->cs);
    if (ev->vector == 13 && ev->error_code == 0)
        return GP0;
    if (ev->vector == 6)
        return UD;
    test_fail("unexpected %s error code 0x%lx", exc_name((unsigned int)ev->vector), ev->error_code);
    return GP0;
}

static void expect(const char *name, enum result got, enum result want)
{
    printk("%s: %s\n", name, result_names[got]);
    if (got != want)
        test_fail("%s: %s, expected %s", name, result_names[got], result_names[want]);
}

static u64 rdmsr_value(void)
{
    return (out.rdx << 32) | (u32)out.rax;
}

static void control_regs(void)
{
    const u64 xen_cr0 = 0x80050033;
    enum result r;

    r = run(rd_cr0, false, 0, 0, 0);
    expect("mov_from_cr0", r, EMULATED);
    show("mov_from_cr0", "value", out.rax, xen_cr0);

    r = run(wr_cr2, false, 0x123456789000, 0, 0);
    expect("mov_to_cr2", r, EMULATED);
    r = run(rd_cr2, false, 0, 0, 0);
    expect("mov_from_cr2", r, EMULATED);
    show("mov_from_cr2", "value", out.rax, 0x123456789000);
    show("vcpu_info", "cr2", pv_vcpu0->cr2, 0x123456789000);

    r = run(rd_cr3, false, 0, 0, 0);
    expect("mov_from_cr3", r, EMULATED);
    show("mov_from_cr3", "is_l4_mfn", out.rax == pv_mfn((void *)pv_start_info->pt_base) << 12, 1);

    r = run(rd_cr4, false, 0, 0, 0);
    expect("mov_from_cr4", r, EMULATED);
    show("mov_from_cr4", "value", out.rax, 0x660);

    r = run(rd_cr8, false, 0, 0, 0);
    expect("mov_from_cr8", r, GP0);

    /* TS set, read back, cleared by CLTS: no FPU instruction in between (-mgeneral-regs-only). */
    enum result set = run(wr_cr0, false, xen_cr0 | 8, 0, 0);
    enum result rd1 = run(rd_cr0, false, 0, 0, 0);
    u64 with_ts = out.rax;
    enum result cl = run(clts, false, 0, 0, 0);
    enum result rd2 = run(rd_cr0, false, 0, 0, 0);
    u64 after_clts = out.rax;
    expect("mov_to_cr0_ts", set, EMULATED);
    expect("mov_from_cr0_ts", rd1, EMULATED);
    show("mov_from_cr0_ts", "value", with_ts, xen_cr0 | 8);
    expect("clts", cl, EMULATED);
    expect("mov_from_cr0_after_clts", rd2, EMULATED);
    show("mov_from_cr0_after_clts", "value", after_clts, xen_cr0);

    r = run(wr_cr0, false, xen_cr0 & ~0x40000UL, 0, 0);     /* AM cleared */
    expect("mov_to_cr0_am_clear", r, GP0);
    r = run(wbinvd, false, 0, 0, 0);
    expect("wbinvd", r, EMULATED);
}

static void msrs(void)
{
    enum result r;

    r = run(rdmsr, false, 0, 0x1b, 0);
    expect("rdmsr_apic_base", r, EMULATED);
    show("rdmsr_apic_base", "value", rdmsr_value(), 0xfee00900);
    r = run(rdmsr, false, 0, 0x277, 0);
    expect("rdmsr_pat", r, EMULATED);
    show("rdmsr_pat", "value", rdmsr_value(), 0x0000050100070406);
    r = run(rdmsr, false, 0, 0xc0000080, 0);
    expect("rdmsr_efer", r, EMULATED);
    show("rdmsr_efer", "value", rdmsr_value(), 0xd01);

    r = run(wrmsr, false, 0x56789000, 0xc0000100, 0x1234);
    expect("wrmsr_fs_base", r, EMULATED);
    r = run(rdmsr, false, 0, 0xc0000100, 0);
    expect("rdmsr_fs_base", r, EMULATED);
    show("rdmsr_fs_base", "value", rdmsr_value(), 0x123456789000);
    r = run(wrmsr, false, 0, 0xc0000100, 0x8000);           /* 0x0000800000000000 */
    expect("wrmsr_fs_base_noncanonical", r, GP0);
    r = run(rdmsr, false, 0, 0xc0000100, 0);
    show("rdmsr_fs_base_after", "value", rdmsr_value(), 0x123456789000);
    r = run(wrmsr, false, 0, 0xc0000100, 0);
    expect("wrmsr_fs_base_zero", r, EMULATED);

    r = run(rdmsr, false, 0, 0xc0000081, 0);                /* STAR */
    expect("rdmsr_star", r, GP0);
    /* No trap table at all: no #GP handler, so Xen fakes the read as 0. */
    if (hypercall_set_trap_table(NULL))
        test_fail("set_trap_table(NULL)");
    r = run(rdmsr, false, 0x5555, 0xc0000081, 0x6666);
    if (pv_trap_reset())
        test_abort("trap table reset");
    expect("rdmsr_star_no_gp_handler", r, EMULATED);
    show("rdmsr_star_no_gp_handler", "value", rdmsr_value(), 0);
}

static void rd(const char *name, u32 index, enum result want, u64 mask, u64 value)
{
    enum result r = run(rdmsr, false, 0, index, 0);
    expect(name, r, want);
    if (want == EMULATED)
        show(name, "value", rdmsr_value() & mask, value);
}

static void wr(const char *name, u32 index, u64 value, enum result want)
{
    expect(name, run(wrmsr, false, (u32)value, index, value >> 32), want);
}

static void guest_msrs(void)
{
    rd("rdmsr_p5_mc_addr", 0x0, EMULATED, ~0UL, 0);
    rd("rdmsr_mcg_cap", 0x179, EMULATED, 0xff, 2);
    rd("rdmsr_mcg_ctl", 0x17b, EMULATED, ~0UL, 0);
    rd("rdmsr_mc0_ctl", 0x400, EMULATED, ~0UL, ~0UL);
    rd("rdmsr_mc1_ctl", 0x404, EMULATED, ~0UL, ~0UL);
    rd("rdmsr_mc1_status", 0x405, EMULATED, ~0UL, 0);
    rd("rdmsr_mc2_ctl", 0x408, EMULATED, ~0UL, 0);
    rd("rdmsr_mc31_misc", 0x47f, EMULATED, ~0UL, 0);
    rd("rdmsr_mc31_ctl2", 0x29f, EMULATED, ~0UL, 0);
    rd("rdmsr_0x480", 0x480, GP0, 0, 0);
    rd("rdmsr_mcg_ext_ctl", 0x4d0, GP0, 0, 0);
    wr("wrmsr_mc0_ctl_zero", 0x400, 0, EMULATED);
    rd("rdmsr_mc0_ctl_after", 0x400, EMULATED, ~0UL, ~0UL);
    wr("wrmsr_mc1_status_nonzero", 0x405, 1, GP0);
    wr("wrmsr_mc1_status_zero", 0x405, 0, EMULATED);
    wr("wrmsr_mc2_status_nonzero", 0x409, 1, EMULATED);
    wr("wrmsr_mcg_status", 0x17a, 4, EMULATED);
    rd("rdmsr_mcg_status", 0x17a, EMULATED, ~0UL, 4);
    wr("wrmsr_mcg_status_zero", 0x17a, 0, EMULATED);
    rd("rdmsr_misc_enable", 0x1a0, EMULATED, 0x841880, 0x801800);
    wr("wrmsr_misc_enable_other", 0x1a0, 0, EMULATED);
    rd("rdmsr_misc_enable_after", 0x1a0, EMULATED, 0x841880, 0x801800);
    rd("rdmsr_perf_capabilities", 0x345, EMULATED, ~0UL, 0);
    rd("rdmsr_platform_info", 0xce, EMULATED, ~0UL, 0);
    wr("wrmsr_tsc_aux", 0xc0000103, 0x1234, EMULATED);
    rd("rdmsr_tsc_aux", 0xc0000103, EMULATED, ~0UL, 0x1234);
    wr("wrmsr_tsc_aux_high", 0xc0000103, 1UL << 32, GP0);
    wr("wrmsr_tsc_aux_zero", 0xc0000103, 0, EMULATED);
}

static long set_iopl(u32 iopl)
{
    struct { u32 iopl; } arg = { iopl };
    return _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &arg);
}

static void iopl(void)
{
    enum result r;

    expect("cli_iopl0", run(cli, false, 0, 0, 0), GP0);
    expect("sti_iopl0", run(sti, false, 0, 0, 0), GP0);
    expect("inb_0x21_iopl0", run(inb21, false, 0x11223344, 0, 0), GP0);
    show("set_iopl_1", "rc", (u64)set_iopl(1), 0);
    expect("cli_iopl1", run(cli, false, 0, 0, 0), EMULATED);
    show("cli_iopl1", "upcall_mask", pv_vcpu0->evtchn_upcall_mask, 1);
    expect("sti_iopl1", run(sti, false, 0, 0, 0), EMULATED);
    show("sti_iopl1", "upcall_mask", pv_vcpu0->evtchn_upcall_mask, 1);
    r = run(inb21, false, 0x11223344, 0, 0);
    expect("inb_0x21_iopl1", r, EMULATED);
    show("inb_0x21_iopl1", "rax", out.rax, 0x112233ff);
    expect("outb_0x21_iopl1", run(outb21, false, 0xff, 0, 0), EMULATED);
    expect("user_inb_0x21_iopl1", run(inb21, true, 0x11223344, 0, 0), GP0);
    expect("user_cli_iopl1", run(cli, true, 0, 0, 0), GP0);
    show("set_iopl_0", "rc", (u64)set_iopl(0), 0);
}

static void not_emulated(void)
{
    static u64 page_var;

    expect("hlt", run(hlt, false, 0, 0, 0), GP0);
    expect("invlpg", run(invlpg, false, (u64)(uintptr_t)&page_var, 0, 0), GP0);
    expect("lmsw", run(lmsw, false, 0x33, 0, 0), GP0);
    expect("swapgs", run(swapgs, false, 0, 0, 0), GP0);
    expect("ud2", run(ud2, false, 0, 0, 0), UD);
}

static void forced_cpuid(bool user)
{
    const char *p = user ? "user_" : "";
    char name[48];
    long ver = hypercall_xen_version(0 /* XENVER_version */, NULL);

    printk("xen_version: %ld.%ld\n", ver >> 16, ver & 0xffff);
    snprintk(name, sizeof(name), "%sforced_cpuid_40000000", p);
    expect(name, run(fcpuid, user, 0x40000000, 0, 0), EMULATED);
    show(name, "eax", out.rax, 0x40000005);
    show(name, "ebx", out.rbx, 0x566e6558);
    show(name, "ecx", out.rcx, 0x65584d4d);
    show(name, "edx", out.rdx, 0x4d4d566e);
    snprintk(name, sizeof(name), "%sforced_cpuid_40000001", p);
    expect(name, run(fcpuid, user, 0x40000001, 0, 0), EMULATED);
    printk("%s.eax_is_xen_version: %u\n", name, out.rax == (u64)ver);
    check(name, "eax", out.rax, (u64)ver);
    show(name, "ebx", out.rbx, 0);
    show(name, "ecx", out.rcx, 0);
    show(name, "edx", out.rdx, 0);
    snprintk(name, sizeof(name), "%sforced_cpuid_40000002", p);
    expect(name, run(fcpuid, user, 0x40000002, 0, 0), EMULATED);
    show(name, "eax", out.rax, 1);
    show(name, "ebx", out.rbx, 0x40000000);
    show(name, "ecx", out.rcx, 1);
    show(name, "edx", out.rdx, 0);
}

static void user_mode(void)
{
    expect("user_mov_from_cr0", run(rd_cr0, true, 0, 0, 0), GP0);
    expect("user_mov_from_cr3", run(rd_cr3, true, 0, 0, 0), GP0);
    expect("user_mov_to_cr0", run(wr_cr0, true, 0x80050033, 0, 0), GP0);
    expect("user_clts", run(clts, true, 0, 0, 0), GP0);
    expect("user_wbinvd", run(wbinvd, true, 0, 0, 0), GP0);
    expect("user_rdmsr_apic_base", run(rdmsr, true, 0, 0x1b, 0), GP0);
    expect("user_cli_iopl0", run(cli, true, 0, 0, 0), GP0);
    expect("user_ud2", run(ud2, true, 0, 0, 0), UD);
}

void test_main(void)
{
    control_regs();
    msrs();
    guest_msrs();
    iopl();
    not_emulated();
    forced_cpuid(false);
    forced_cpuid(true);
    user_mode();
}
