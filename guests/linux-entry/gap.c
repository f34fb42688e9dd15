/*
 * linux-entry: the syscall gap -- an NMI or a #DB taken at each instruction of the SYSCALL entry
 * and the SYSRET exit (entry.S's gap table), and what the kernel sees there.
 *
 * SYSCALL switches to CPL 0 without touching RSP or GS (SDM Vol. 2B SYSCALL "Operation"); the
 * entry's SWAPGS and stack switch, and the exit's stack switch and SWAPGS before SYSRET, leave
 * a few instructions at CPL 0 on the user's stack or with the user's GS.base.  An NMI (never
 * masked by IF, §6.7) or an instruction-breakpoint #DB (§18.3.1.1: a fault, before the
 * instruction) can arrive at any of them.  Linux survives that with IST stacks for both
 * (§6.14.5: a known stack whatever RSP held) and a paranoid entry that reads IA32_GS_BASE
 * instead of trusting CS (entry.S).  What the handler records (struct gap_seen): the
 * interrupted RIP (an index in the gap table), CS, whether the interrupted RSP was the user's
 * (gap_out[GAP_OUT_RSP_IN], its RSP at SYSCALL) or on the kernel stack, whether GS.base on
 * arrival was the user's (so the handler did SWAPGS), whether %gs then reached the per-CPU area,
 * and the IST stack its frame was on.  The expectation follows from the position: GS is the
 * user's at the entry's first instruction (its SWAPGS has not run) and at SYSRETQ (the exit's
 * has); RSP is the user's before entry_SYSCALL_64_safe_stack and from
 * entry_SYSRETQ_unsafe_stack on.  The user program (gap_probe) then checks its registers, RSP,
 * its red zone and its GS survived.
 *
 * NMI (main.c, built with LINUX_SYSCALL_GAP_NMI): injected from outside, `--inject
 * nmi@rip=ADDR`, for each address by test/syscall-gap.test.ts; the kernel runs gap_probe once
 * and reports.  Not comparable with QEMU: its NMI sources (the monitor's `nmi` command, taken
 * wherever the vCPU is when it arrives; the APIC) cannot place an NMI before a chosen
 * instruction (docs/architecture.md, "The syscall gap").
 *
 * Under FRED the table is the FRED entry's and exit's (entry.S fred_gap_*): what SYSCALL enters
 * and ERETU leaves by.  There is no gap there: the CPU switched stack and GS before the entry's
 * first instruction and switches both back in ERETU itself (FRED specification §5.1, SDM
 * ERETU), so every position expects the kernel's stack and GS; NMI and #DB arrive on their
 * stack levels' stacks (IA32_FRED_RSP2 and RSP1: the IST stacks above, fred.c).
 *
 * #DB (the default run, after the other programs): for each address the kernel arms DR0 with
 * DR7.L0/G0 (R/W0 = 00: instruction execution, LEN0 = 00), runs gap_probe, and disarms; the
 * handler returns with RF set in the frame so the instruction then runs (§18.3.1.1, §17.3.1.1
 * in older editions), and DR7 stays armed until the program has exited.  QEMU TCG runs these.
 */
#include "linux.h"

#define DR6_B0    (1UL << 0)
#define DR7_L0    (1UL << 0)
#define DR7_G0    (1UL << 1)
#define GAP_DB_MAX_HITS 8       /* a breakpoint that RF does not suppress re-fires: stop there */

volatile struct gap_seen gap_seen;
u64 prog_syscall_gap(void);
u64 prog_syscall_gap_db(void);

/* The table of the entry and exit in use: SYSCALL/SYSRET's, or FRED's. */
static const u64 *gap_table(void)
{
    return vvar.fred ? fred_gap_entry : syscall_gap_entry;
}

static u64 gap_count(void)
{
    return vvar.fred ? (u64)(fred_gap_end - fred_gap_entry) : (u64)(syscall_gap_end - syscall_gap_entry);
}

static u64 gap_entry_count(void)
{
    return vvar.fred ? (u64)(fred_gap_exit - fred_gap_entry) : (u64)(syscall_gap_exit - syscall_gap_entry);
}

/* The position of ip in the gap table, or -1. */
static long gap_index(u64 ip)
{
    for (u64 i = 0; i < gap_count(); i++)
        if (gap_table()[i] == ip)
            return (long)i;
    return -1;
}

/* "entry.N" or "exit.N" (N from the path's first instruction), or "outside". */
static const char *gap_name(u64 ip, char *buf)
{
    long i = gap_index(ip);
    if (i < 0)
        return "outside";
    bool entry = (u64)i < gap_entry_count();
    u64 n = entry ? (u64)i : (u64)i - gap_entry_count();
    char *p = buf;
    for (const char *s = entry ? "entry." : "exit."; *s; s++)
        *p++ = *s;
    if (n >= 10)
        *p++ = (char)('0' + n / 10);
    *p++ = (char)('0' + n % 10);
    *p = 0;
    return buf;
}

static bool expect_user_gs(u64 ip)
{
    if (vvar.fred)
        return false;
    return ip == (u64)(uintptr_t)entry_SYSCALL_64 || ip == (u64)(uintptr_t)entry_SYSRETQ;
}

static bool expect_user_stack(u64 ip)
{
    if (vvar.fred)
        return false;
    if (gap_index(ip) < (long)gap_entry_count())
        return ip < (u64)(uintptr_t)entry_SYSCALL_64_safe_stack;
    return ip >= (u64)(uintptr_t)entry_SYSRETQ_unsafe_stack;
}

static const char *stack_name(u64 sp)
{
    if (sp == gap_out[GAP_OUT_RSP_IN])
        return "user";
    return on_kernel_stack(sp) ? "kernel" : "other";
}

/* The IST stack (1-7) whose top the frame sits at, else 0 (a FRED frame has its event data
 * and a reserved quadword above pt_regs). */
static u64 frame_ist(const struct pt_regs *regs)
{
    u64 top = (u64)(uintptr_t)regs + sizeof(*regs) + (vvar.fred ? 16 : 0);
    for (unsigned int n = 1; n <= 7; n++)
        if (top == ist_top(n))
            return n;
    return 0;
}

static void observe(const struct pt_regs *regs, bool gs_was_user, u64 dr6)
{
    if (gap_seen.count++)
        return;
    gap_seen.ip = regs->ip;
    gap_seen.cs = regs->cs;
    gap_seen.sp = regs->sp;
    gap_seen.dr6 = dr6;
    gap_seen.gs_was_user = gs_was_user;
    gap_seen.percpu_ok = percpu_self() == k_percpu_base;
    gap_seen.frame_ist = frame_ist(regs);
}

/* The NMI handler (paranoid entry on IST_NMI). */
void do_nmi(struct pt_regs *regs, bool gs_was_user)
{
    observe(regs, gs_was_user, 0);
}

/* #DB at CPL 0 on a gap instruction (do_debug): record, and let the instruction run. */
bool gap_debug(struct pt_regs *regs, bool gs_was_user, u64 dr6)
{
    if (!(dr6 & DR6_B0) || gap_index(regs->ip) < 0)
        return false;
    observe(regs, gs_was_user, dr6);
    if (gap_seen.count >= GAP_DB_MAX_HITS)
        asm volatile("mov %0, %%dr7" :: "r"(0UL));
    regs->flags |= X86_EFLAGS_RF;
    return true;
}

/* Whether what the handler saw is what the position implies; names the first difference. */
static const char *seen_mismatch(u64 want_ist)
{
    u64 ip = gap_seen.ip;
    if (gap_index(ip) < 0)
        return "the event was not taken at a gap instruction";
    if (gap_seen.cs != __KERNEL_CS)
        return "CS is not the kernel's";
    bool user_stack = gap_seen.sp == gap_out[GAP_OUT_RSP_IN];
    if (expect_user_stack(ip) ? !user_stack : !on_kernel_stack(gap_seen.sp))
        return "the interrupted RSP is not the one the position implies";
    if (gap_seen.gs_was_user != expect_user_gs(ip))
        return "GS.base on arrival is not the one the position implies";
    if (!gap_seen.percpu_ok)
        return "%gs did not reach the per-CPU area in the handler";
    if (gap_seen.frame_ist != want_ist)
        return "the frame is not on the IST stack";
    return 0;
}

/* gap_tls is the user's GS.base: IA32_KERNEL_GS_BASE while the kernel runs. */
static u64 run_gap_program(u64 (*prog)(void))
{
    gap_tls[0] = (u64)(uintptr_t)gap_tls;
    wrmsr(MSR_KERNEL_GS_BASE, (u64)(uintptr_t)gap_tls);
    u64 failed = run_user(prog);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    return failed;
}

void run_gap_nmi(void)
{
    char buf[16];
    memset((void *)&gap_seen, 0, sizeof(gap_seen));
    u64 failed = run_gap_program(prog_syscall_gap);
    if (failed)
        test_fail("syscall_gap: %lu check(s) failed", failed);
    printk("syscall_gap.nmi.count: %lu\n", gap_seen.count);
    if (!gap_seen.count)
        return;
    printk("syscall_gap.nmi.at: %s\n", gap_name(gap_seen.ip, buf));
    printk("syscall_gap.nmi.cs: 0x%lx\n", gap_seen.cs);
    printk("syscall_gap.nmi.stack: %s\n", stack_name(gap_seen.sp));
    printk("syscall_gap.nmi.gs: %s\n", gap_seen.gs_was_user ? "user" : "kernel");
    printk("syscall_gap.nmi.percpu: %s\n", gap_seen.percpu_ok ? "ok" : "wrong");
    printk("syscall_gap.nmi.frame: ist%lu\n", gap_seen.frame_ist);
    const char *bad = seen_mismatch(IST_NMI);
    if (gap_seen.count != 1)
        test_fail("%lu NMIs for one injection", gap_seen.count);
    else if (bad)
        test_fail("NMI at %s: %s", gap_name(gap_seen.ip, buf), bad);
}

void run_gap_debug_sweep(void)
{
    char buf[16], at[16];
    printk("syscall_gap.db.addresses: %lu entry, %lu exit\n", gap_entry_count(), gap_count() - gap_entry_count());
    for (u64 i = 0; i < gap_count(); i++) {
        u64 addr = gap_table()[i];
        memset((void *)&gap_seen, 0, sizeof(gap_seen));
        gap_hits_at_return = 0;
        asm volatile("mov %0, %%dr0" :: "r"(addr));
        asm volatile("mov %0, %%dr7" :: "r"(DR7_L0 | DR7_G0));
        u64 failed = run_gap_program(prog_syscall_gap_db);
        asm volatile("mov %0, %%dr7" :: "r"(0UL));
        printk("syscall_gap.db.%s: at=%s cs=0x%lx stack=%s gs=%s percpu=%s frame=ist%lu dr6.b0=%lu hits=%lu user=%s\n",
               gap_name(addr, buf), gap_seen.count ? gap_name(gap_seen.ip, at) : "none", gap_seen.cs,
               stack_name(gap_seen.sp), gap_seen.gs_was_user ? "user" : "kernel", gap_seen.percpu_ok ? "ok" : "wrong",
               gap_seen.frame_ist, gap_seen.dr6 & DR6_B0, gap_hits_at_return, failed ? "FAILED" : "kept");
        const char *bad = seen_mismatch(IST_DB);
        if (failed)
            test_fail("#DB at %s: %lu check(s) of the user program failed", gap_name(addr, buf), failed);
        else if (gap_hits_at_return != 1 || gap_seen.ip != addr)
            test_fail("#DB at %s: %lu hits during the system call, expected 1 at the breakpoint", gap_name(addr, buf), gap_hits_at_return);
        else if (bad)
            test_fail("#DB at %s: %s", gap_name(addr, buf), bad);
    }
}
