/*
 * linux-entry: a Linux-style kernel and user programs in the spirit of Linux's x86 selftests,
 * for the legacy fast system calls (SDM Vol. 2B SYSCALL, SYSRET, SYSENTER, SWAPGS; Vol. 3A
 * §6.14 for INT $0x80 and exceptions; AMD APM Vol. 3 for the AMD flavour).
 *
 * The kernel (entry.S, kernel.c) enters from user mode the way Linux's entry_64.S and
 * entry_64_compat.S do -- SWAPGS, the per-CPU area through %gs, a pt_regs frame in Linux's
 * order -- and returns with SYSRET when Linux's checks allow it (RCX == RIP, R11 == RFLAGS,
 * CS/SS the STAR values, a canonical RIP, neither RF nor TF), else with IRET.  It takes
 * INT $0x80 (a DPL-3 gate), SYSENTER and, on AMD, compat SYSCALL through IA32_CSTAR, for 32-bit
 * user code.  Faults of user programs go to the program's handler (kernel.c, deliver_fault).
 *
 * The user programs (user.c, user64.S) print what they observe, `name: value`, and check it
 * against the manual of the vendor CPUID reports:
 *   syscall_regs     RCX/R11 after SYSCALL, RFLAGS/CS/SS after SYSRET, registers kept;
 *   sysret_rip       returns to non-canonical addresses take the IRET path and fault there;
 *                    with the kernel's checks off, Intel's SYSRET #GP at CPL 0 vs AMD's fault
 *                    at CPL 3;
 *   sysret_ss_attrs  SS after SYSRET when the kernel's SS was null (AMD keeps the stale hidden
 *                    part; Linux's fix reloads SS);
 *   single_step      where TF traps land across SYSCALL, SYSRET, INT $0x80 and SYSENTER;
 *   syscall_nt       NT, AC, DF, TF across SYSCALL;
 *   compat32         INT $0x80, SYSENTER and compat SYSCALL from 32-bit code;
 *   syscall_gap      (gap.c) a #DB from DR0 at each instruction of the SYSCALL entry and the
 *                    SYSRET exit, one line per address: where the kernel took it, CS, the
 *                    interrupted stack (user's or kernel's), GS.base on arrival (so whether
 *                    the paranoid entry did SWAPGS), %gs reaching the per-CPU area, the IST
 *                    stack, DR6.B0, hits, and whether the program's registers, RSP, red zone
 *                    and GS survived (QEMU TCG runs these too).
 * Built with LINUX_SYSCALL_GAP_NMI, it only runs gap_probe once and reports the NMI its handler
 * took, for test/syscall-gap.test.ts, which injects one at each gap instruction with
 * `--inject nmi@rip=ADDR` (not comparable with QEMU: nothing there places an NMI before a
 * chosen instruction).
 * Built with LINUX_BENCH_ITERS=N, it only runs N getpid round trips (the benchmark).
 * Built with LINUX_IRQ_BENCH=N (and LINUX_IRQ_PERIOD=P, default 100), it only runs the
 * interrupt benchmark (apic.c): the local APIC timer calibrated against the TSC with a
 * one-shot tick taken at CPL 0 in STI; HLT, then periodic every P counts, armed by the user
 * program irq (setitimer) before it spins, until N ticks have interrupted it; the registers it holds must survive
 * (SDM Vol. 3A §6.14.2-§6.14.3: the frame, IRET), and N ticks must span N periods of the
 * TSC: none lost, none extra (§11.5.4: periodic mode reloads at each expiry).
 *
 * Built with LINUX_MIX_BENCH=N, it only runs the kernel-heavy mix (mix.h, mm.c, user.c prog_mix):
 * N iterations of getpid round trips, page faults the kernel resolves from its page cache, a
 * REP MOVSQ copy and a pointer chase over more pages than Ringside's TLB holds, under the
 * periodic APIC timer (calibrated as for LINUX_IRQ_BENCH).  The program checks what it computed
 * (the copies, the chase's sum, the file's words); the kernel checks its counts against mix.h
 * (N * MIX_GETPID getpid calls, N * MIX_FAULTS faults resolved, each but the first evicting the
 * page before) and the ticks against the TSC: as many as periods in the window, within one
 * (§11.5.4).  QEMU 7.2's periodic timer expires every period + 1 counts
 * (test/linux-entry-irq.test.ts); the kernel accepts that span too and prints which one held.
 *
 * The kernel reads CPUID.(EAX=7,ECX=1):EAX[17] (FRED) and, where it is enumerated
 * (native/fred), enables FRED as Linux does (fred.c, entry.S): every event then enters
 * asm_fred_entrypoint_user/_kernel and leaves by ERETU/ERETS, and the user programs expect
 * FRED's answers (user.c): RCX and R11 kept across SYSCALL, no SYSRET, ERETU's pending
 * single-step trap after a system call made with TF; the gap sweep covers the FRED entry and
 * exit.  One image runs on native/idt, native/idt-amd and native/fred.
 *
 * The same image is a Xen PV kernel (xen-asm.S, xen.c): entered through its PV notes on the
 * xen profiles, it runs the programs xen_programs() lists through Xen's callbacks, with the
 * SYSCALL entry the command line chooses (xen_entry=2016: Linux's before 2017; else today's).
 */
#include "linux.h"
#include "mix.h"
#include "xen.h"

u64 prog_syscall_regs(void);
u64 prog_sysret_rip(void);
u64 prog_sysret_rip_unsafe(void);
u64 prog_ss_attrs_fixed(void);
u64 prog_ss_attrs_unfixed(void);
u64 prog_single_step(void);
u64 prog_single_step_sysret(void);
u64 prog_syscall_nt(void);
u64 prog_compat32(void);
u64 prog_bench(void);
u64 prog_irq(void);
u64 prog_mix(void);

extern char high_page[];

/* Page tables mapping linear 0x7ffffffff000 (the last page below 2^47) to high_page, user
 * executable (SDM Vol. 3A §4.5: PML4[255] -> PDPT[511] -> PD[511] -> PT[511]). */
static u64 hi_pdpt[512] __attribute__((aligned(4096)));
static u64 hi_pd[512] __attribute__((aligned(4096)));
static u64 hi_pt[512] __attribute__((aligned(4096)));

static void map_high_page(void)
{
    const u64 flags = PTE_P | PTE_W | PTE_U;
    boot_pml4[255] = (u64)(uintptr_t)hi_pdpt | flags;
    hi_pdpt[511] = (u64)(uintptr_t)hi_pd | flags;
    hi_pd[511] = (u64)(uintptr_t)hi_pt | flags;
    hi_pt[511] = (u64)(uintptr_t)high_page | flags;
    write_cr3(read_cr3());
}

static void run(const char *name, u64 (*prog)(void))
{
    u64 failed = run_user(prog);
    if (failed >= 128)
        test_fail("%s: ended by an unhandled fault, vector %lu at 0x%lx", name, failed - 128, vvar.sig.regs.ip);
    else if (failed)
        test_fail("%s: %lu check(s) failed", name, failed);
}

#ifdef LINUX_IRQ_BENCH
static void irq_bench(void)
{
    const u64 period = LINUX_IRQ_PERIOD, n = LINUX_IRQ_BENCH;

    apic_timer_init();
    printk("irq.calibration.from_kernel: %lu\n", irq_stats.from_kernel);
    if (irq_stats.from_kernel != 1)
        test_fail("the one-shot tick in STI; HLT: %lu interrupts at CPL 0, expected 1", irq_stats.from_kernel);
    run("irq", prog_irq);
    printk("irq.period: %lu\n", period);
    printk("irq.ticks: %lu\n", vvar.timer_ticks);
    printk("irq.from_user: %lu\n", irq_stats.from_user);
    printk("irq.from_kernel: %lu\n", irq_stats.from_kernel);
    if (vvar.timer_ticks != n || irq_stats.from_user != n)
        test_fail("%lu ticks, %lu from user mode; expected %lu, all from user mode", vvar.timer_ticks, irq_stats.from_user, n);
    if (!n)
        return;
    /* The ticks the TSC says the window spanned, in periods (TSC per count from calibration). */
    u64 elapsed = irq_stats.end_tsc - irq_stats.start_tsc;
    u64 by_time = elapsed * irq_stats.calibrate_count / (irq_stats.calibrate_tsc * period);
    printk("irq.ticks_by_time: %lu\n", by_time);
    if (by_time + 1 < n || by_time > n + 1)
        test_fail("%lu ticks in a window of %lu periods", n, by_time);
}
#endif

#ifdef LINUX_MIX_BENCH
/* Timer counts in a window of `elapsed` TSC cycles, by the calibration's TSC per count in
 * 16.16 fixed point (a window of up to 2^48 cycles without overflow). */
static u64 counts_in(u64 elapsed)
{
    return (elapsed << 16) / ((irq_stats.calibrate_tsc << 16) / irq_stats.calibrate_count);
}

static void mix_bench(void)
{
    const u64 n = LINUX_MIX_BENCH;

    apic_timer_init();
    mix_mm_init();
    run("mix", prog_mix);
    u64 ticks = vvar.timer_ticks;
    printk("mix.kernel.getpid: %lu\n", mix_stats.getpid);
    printk("mix.kernel.faults: %lu\n", mix_stats.faults);
    printk("mix.kernel.evictions: %lu\n", mix_stats.evictions);
    printk("mix.ticks: %lu\n", ticks);
    printk("mix.ticks_from_user: %lu\n", irq_stats.from_user);
    if (mix_stats.getpid != n * MIX_GETPID)
        test_fail("%lu getpid calls, expected %lu", mix_stats.getpid, n * MIX_GETPID);
    if (mix_stats.faults != n * MIX_FAULTS)
        test_fail("%lu faults resolved, expected %lu", mix_stats.faults, n * MIX_FAULTS);
    if (mix_stats.evictions != (n ? n * MIX_FAULTS - 1 : 0))
        test_fail("%lu pages evicted, expected one for each fault but the first", mix_stats.evictions);
    if (irq_stats.from_user != ticks)
        test_fail("%lu of %lu ticks interrupted user mode; the kernel runs with IF = 0", irq_stats.from_user, ticks);
    /* The window runs from the setitimer that armed the timer to the one that stopped it. */
    u64 elapsed = irq_stats.end_tsc - irq_stats.start_tsc;
    u64 counts = counts_in(elapsed);
    u64 sdm = counts / MIX_TIMER_PERIOD, qemu = counts / (MIX_TIMER_PERIOD + 1);
    /* One count per instruction on Ringside and under QEMU's -icount shift=0: the loop's
     * instructions, which the bench reads where it cannot count them itself (QEMU). */
    printk("mix.window_counts: %lu\n", counts);
    printk("mix.ticks_by_time: %lu\n", sdm);
    if (ticks + 1 >= sdm && ticks <= sdm + 1)
        printk("mix.timer.counts_per_tick: %lu\n", (u64)MIX_TIMER_PERIOD);
    else if (ticks + 1 >= qemu && ticks <= qemu + 1)
        printk("mix.timer.counts_per_tick: %lu\n", (u64)MIX_TIMER_PERIOD + 1);
    else
        test_fail("%lu ticks in a window of %lu periods", ticks, sdm);
}
#endif

/* As a Xen PV kernel (xen.c): the programs whose kernel side has a PV form here.  Left out:
 * sysret_rip (its page at 0x7ffffffff000 would need page tables built through mmu_update),
 * sysret_ss_attrs (loads a null SS at CPL 0, which a PV kernel in ring 3 cannot), single_step
 * and compat32 (the SYSENTER, syscall32 and INT $0x80 callbacks are not registered), the
 * unsafe-SYSRET runs (Xen, not the kernel, executes SYSRET) and the syscall gap (DR0 needs
 * HYPERVISOR_set_debugreg; there is no gap: Xen switches stack and GS). */
static void xen_programs(void)
{
    run("syscall_regs", prog_syscall_regs);
    run("syscall_nt", prog_syscall_nt);
}

void test_main(void)
{
    linux_kernel_init();
    if (k_xenpv) {
        xen_programs();
        return;
    }
    map_high_page();
#ifdef LINUX_BENCH_ITERS
    run("bench", prog_bench);
#elif defined(LINUX_IRQ_BENCH)
    irq_bench();
#elif defined(LINUX_MIX_BENCH)
    mix_bench();
#elif defined(LINUX_SYSCALL_GAP_NMI)
    run_gap_nmi();
#else
    run("syscall_regs", prog_syscall_regs);
    run("sysret_rip", prog_sysret_rip);
    k_unsafe_sysret = true;
    run("sysret_rip_unsafe", prog_sysret_rip_unsafe);
    k_unsafe_sysret = false;
    run("sysret_ss_attrs_fixed", prog_ss_attrs_fixed);
    k_no_ss_fix = true;
    run("sysret_ss_attrs_unfixed", prog_ss_attrs_unfixed);
    k_no_ss_fix = false;
    run("single_step", prog_single_step);
    k_unsafe_sysret = true;
    run("single_step_sysret", prog_single_step_sysret);
    k_unsafe_sysret = false;
    run("syscall_nt", prog_syscall_nt);
    run("compat32", prog_compat32);
    run_gap_debug_sweep();
#endif
}
