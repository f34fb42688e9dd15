/*
 * linux-entry: the kernel's C side: set-up, the system-call dispatchers with Linux's
 * opportunistic-SYSRET checks, and exceptions, which become faults delivered to the user
 * program's handler (the kernel's stand-in for signals).
 *
 * do_syscall_64() returns whether SYSRET may return to user mode, with Linux's checks
 * (arch/x86/entry/common.c, "Returns true to return using SYSRET, or false to use IRET"):
 *   - regs->cx == regs->ip and regs->r11 == regs->flags (SYSRET takes RIP from RCX and RFLAGS
 *     from R11: SDM Vol. 2B SYSRET "Operation");
 *   - regs->cs == __USER_CS and regs->ss == __USER_DS (SYSRET loads the selectors IA32_STAR
 *     gives, whatever the frame says);
 *   - regs->ip is canonical: Linux compares with TASK_SIZE_MAX, here the sign-extension test
 *     from bit 47 (bit 56 with CR4.LA57) of Linux's older assembler: on Intel a non-canonical
 *     RCX makes SYSRET raise #GP(0) at CPL 0 on the user's stack and GS (SDM SYSRET; the
 *     CVE-2012-0217 trap); on AMD SYSRET returns and the fetch faults at CPL 3 (APM SYSRET);
 *   - neither RF nor TF in regs->flags (SYSRET clears RF, and with TF = 1 it traps before the
 *     first user instruction, which an IRET does not: Linux's comment, and kvm-unit-tests
 *     x86/syscall.c on hardware).
 * The 32-bit fast paths (SYSENTER, compat SYSCALL) return with SYSRETL under Linux's
 * do_fast_syscall_32 checks: ip at the landing pad, cs/ss the STAR values, no RF/TF/VM.
 *
 * X86_BUG_SYSRET_SS_ATTRS (Linux, set on AMD): AMD's SYSRET loads SS's selector and leaves its
 * hidden part as it was (APM SYSRET).  If SS was null in the kernel (an IDT delivery from CPL 3
 * loads a null SS: SDM Vol. 3A §6.14.4), user mode gets SS = __USER_DS that faults when used
 * as a stack in compatibility mode.  Linux reloads __KERNEL_DS into SS when it switches tasks;
 * here sched_yield() stands for the switch to a task that entered through an interrupt gate,
 * loading the null SS it would leave, and applies the same fix on AMD unless k_no_ss_fix.
 *
 * NMI and #DB arrive on IST stacks through the paranoid entry (entry.S), which may find the
 * user's GS.base at CPL 0 (the syscall gap: gap.c); do_debug handles #DB.
 *
 * FRED: when CPUID.(EAX=7,ECX=1):EAX[17] enumerates it, the kernel enables it as Linux does
 * (fred.c): every event then enters asm_fred_entrypoint_user/_kernel (entry.S) and returns with
 * ERETU/ERETS; the IDT, TSS.RSP0/IST, LSTAR, CSTAR and the SYSENTER MSRs stay set but unused.
 * The system-call and fault handlers below serve both; "exit" accounting says which return
 * instruction left the kernel.
 */
#include "linux.h"
#include "mix.h"
#include "xen.h"

volatile struct vvar vvar;
bool k_unsafe_sysret, k_no_ss_fix, k_fred;

struct percpu {
    u64 user_rsp;
    u64 top;
    u64 apic_timer_irqs;
    u64 self;
};
_Static_assert(__builtin_offsetof(struct percpu, user_rsp) == PERCPU_USER_RSP, "percpu");
_Static_assert(__builtin_offsetof(struct percpu, top) == PERCPU_TOP, "percpu");
_Static_assert(__builtin_offsetof(struct percpu, apic_timer_irqs) == PERCPU_APIC_TIMER_IRQS, "percpu");
_Static_assert(__builtin_offsetof(struct percpu, self) == PERCPU_SELF, "percpu");

static struct percpu percpu;
u64 k_percpu_base;                      /* &percpu: the paranoid entries compare IA32_GS_BASE with it */
/* 64-byte aligned: its top is IA32_FRED_RSP0 under FRED (FRED specification §4.1). */
static u8 kstack[KSTACK_SIZE] __attribute__((aligned(64)));
static u8 ustack[16384] __attribute__((aligned(16)));
static u8 sigstack[8192] __attribute__((aligned(16)));
static u64 sig_handler;
static u64 canonical_shift;             /* 47, or 56 with LA57 */
static bool ss_attrs_bug;
extern char vdso32_landing_pad[];

#define EXC_GATES 8
extern char asm_exc_nmi[], asm_exc_debug[], asm_exc_0[], asm_exc_3[], asm_exc_6[], asm_exc_11[], asm_exc_12[],
    asm_exc_13[], asm_exc_14[], asm_exc_17[];

/* The pt_regs of an event from user mode: below the CPU's frame at the top of the kernel stack
 * (IDT: TSS.RSP0, SS the last slot); under FRED the frame is 64 bytes, event data and a
 * reserved quadword above pt_regs' SS (FRED specification §5.1.2). */
static struct pt_regs *top_regs(void)
{
    return (struct pt_regs *)(percpu.top - PTREGS_SIZE - (k_fred ? 16 : 0));
}

void linux_kernel_init(void)
{
    struct cpuid_regs v = cpuid(0, 0);
    vvar.vendor_amd = v.ebx == 0x68747541;     /* "Auth" */
    ss_attrs_bug = vvar.vendor_amd;
    printk("kernel.vendor: %s\n", vvar.vendor_amd ? "AuthenticAMD" : "GenuineIntel");
    bool fred = v.eax >= 7 && (cpuid(7, 1).eax & (1u << 17));
    canonical_shift = (read_cr4() & CR4_LA57) ? 56 : 47;
    percpu.top = (u64)(uintptr_t)kstack + KSTACK_SIZE;
    percpu.self = k_percpu_base = (u64)(uintptr_t)&percpu;

    if (k_xenpv) {
        /* A Xen PV kernel (xen.c): Xen owns the IDT, the TSS, the GDT's system part and the
         * MSRs; the kernel registers their PV counterparts.  FRED is Xen's, never the guest's. */
        xen_kernel_init(percpu.top, k_percpu_base);
        printk("kernel.fred: %s\n", fred ? "enumerated, not enabled" : "not enumerated");
        return;
    }

    /* User programs run with IF = 1, as Linux's do: mask both 8259 PICs so that no interrupt
     * arrives (QEMU has them; Ringside models no interrupt controller yet). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    ring3_init();
    user_tss.rsp0 = percpu.top;

    static const struct { unsigned int vec; char *entry; } gates[EXC_GATES] = {
        {0, asm_exc_0}, {3, asm_exc_3}, {6, asm_exc_6}, {11, asm_exc_11},
        {12, asm_exc_12}, {13, asm_exc_13}, {14, asm_exc_14}, {17, asm_exc_17},
    };
    for (unsigned int i = 0; i < EXC_GATES; i++)
        idt_set_gate(gates[i].vec, (u64)(uintptr_t)gates[i].entry, GATE_INT, gates[i].vec == 3 ? 3 : 0, 0);
    idt_set_gate(1, (u64)(uintptr_t)asm_exc_debug, GATE_INT, 0, IST_DB);
    idt_set_gate(2, (u64)(uintptr_t)asm_exc_nmi, GATE_INT, 0, IST_NMI);
    idt_set_gate(0x80, (u64)(uintptr_t)entry_INT80_compat, GATE_INT, 3, 0);

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, ((u64)(__USER32_CS - 3) << 48) | ((u64)__KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (u64)(uintptr_t)entry_SYSCALL_64);
    wrmsr(MSR_CSTAR, (u64)(uintptr_t)entry_SYSCALL_compat);
    /* Linux's syscall_init(): every arithmetic flag and TF, IF, DF, IOPL, NT, RF, AC, ID. */
    wrmsr(MSR_SYSCALL_MASK, X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF |
          X86_EFLAGS_SF | X86_EFLAGS_TF | X86_EFLAGS_IF | X86_EFLAGS_DF | X86_EFLAGS_OF |
          X86_EFLAGS_IOPL | X86_EFLAGS_NT | X86_EFLAGS_RF | X86_EFLAGS_AC | X86_EFLAGS_ID);
    wrmsr(MSR_SYSENTER_CS, __KERNEL_CS);
    wrmsr(MSR_SYSENTER_ESP, percpu.top);
    wrmsr(MSR_SYSENTER_EIP, (u64)(uintptr_t)entry_SYSENTER_compat);
    wrmsr(MSR_GS_BASE, k_percpu_base);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    k_fred = vvar.fred = fred && fred_setup(percpu.top);
    printk("kernel.fred: %s\n", k_fred ? "enabled" : fred ? "enumerated, not enabled" : "not enumerated");
}

/* Start fn at CPL 3 in 64-bit mode (CS 0x33, SS 0x2b, IF = 1) on the user stack; its return
 * goes to user_exit_stub, which calls exit() with its result. */
u64 run_user(u64 (*fn)(void))
{
    extern char user_exit_stub[];
    struct pt_regs *r = top_regs();
    u64 *sp = (u64 *)(ustack + sizeof(ustack)) - 1;

    *sp = (u64)(uintptr_t)user_exit_stub;
    memset(r, 0, sizeof(*r));
    r->ip = (u64)(uintptr_t)fn;
    r->cs = __USER_CS;
    r->flags = X86_EFLAGS_FIXED | X86_EFLAGS_IF;
    r->sp = (u64)(uintptr_t)sp;
    r->ss = __USER_DS;
    sig_handler = 0;
    if (k_fred)
        fred_exit_to_user();
    else {
        vvar.last_exit = EXIT_IRET;
        vvar.iret_exits++;
    }
    return run_user_regs(r);
}

/* The per-CPU area as %gs reaches it (Linux's this_cpu_read(this_cpu_off)). */
u64 percpu_self(void)
{
    u64 v;
    asm volatile("movq %%gs:%c1, %0" : "=r"(v) : "i"(PERCPU_SELF));
    return v;
}

bool on_kernel_stack(u64 sp)
{
    return sp > (u64)(uintptr_t)kstack && sp <= percpu.top;
}

static bool canonical(u64 a)
{
    s64 s = (s64)a >> canonical_shift;
    return s == 0 || s == -1;
}

static void write_console(u64 buf, u64 len)
{
    const char *p = (const char *)(uintptr_t)buf;
    for (u64 i = 0; i < len; i++)
        putchar(p[i]);
}

/* The sched_yield stand-in (header): leave SS as a return from a task switch would. */
static void yield_to_interrupted_task(void)
{
    asm volatile("mov %0, %%ss" :: "r"(0) : "memory");
    if (ss_attrs_bug && !k_no_ss_fix) {
        u16 ss;
        asm volatile("mov %%ss, %0" : "=r"(ss));
        if (ss != __KERNEL_DS)
            asm volatile("mov %0, %%ss" :: "r"(__KERNEL_DS) : "memory");
    }
}

static u64 sys_rt_sigreturn(struct pt_regs *regs, const struct uregs *u)
{
    *regs = u->regs;
    regs->orig_ax = -1;
    return regs->ax;
}

/* ERETU, the one way back under FRED (SYSRET and SYSEXIT are #UD there: SDM SYSRET, SYSEXIT). */
void fred_exit_to_user(void)
{
    vvar.last_exit = EXIT_ERETU;
    vvar.eretu_exits++;
}

static bool exit_to_user(struct pt_regs *regs, bool sysret)
{
    if (k_fred)
        return false;           /* fred_entry_from_user counts the ERETU */
    if (sysret) {
        vvar.last_exit = EXIT_SYSRET;
        vvar.sysret_exits++;
    } else {
        vvar.last_exit = EXIT_IRET;
        vvar.iret_exits++;
    }
    (void)regs;
    return sysret;
}

bool do_syscall_64(struct pt_regs *regs, long nr)
{
    switch (nr) {
    case NR_write:
        write_console(regs->si, regs->dx);
        regs->ax = regs->dx;
        break;
    case NR_rt_sigaction:
        sig_handler = regs->di;
        regs->ax = 0;
        break;
    case NR_rt_sigreturn:
        regs->ax = sys_rt_sigreturn(regs, (const struct uregs *)(uintptr_t)regs->di);
        break;
    case NR_sched_yield:
        yield_to_interrupted_task();
        regs->ax = 0;
        break;
#ifdef LINUX_APIC_TIMER
    case NR_setitimer:
        if (regs->di)
            apic_timer_periodic(regs->di, regs->si);
        else
            apic_timer_stop();
        regs->ax = 0;
        break;
#endif
    case NR_getpid:
#ifdef LINUX_MIX_BENCH
        mix_stats.getpid++;
#endif
        regs->ax = TEST_PID;
        break;
    case NR_getppid:
        regs->ax = 0;
        break;
    case NR_exit:
        kernel_exit_to_runner(regs->di);
    default:
        regs->ax = (u64)-ENOSYS;
        break;
    }

    if (k_unsafe_sysret)
        return exit_to_user(regs, true);
    /* Linux since afd30525a659 (2020): "XEN PV guests always use the IRET path". */
    if (k_xenpv && k_xen_entry == XEN_ENTRY_TODAY)
        return exit_to_user(regs, false);
    if (regs->cx != regs->ip || regs->r11 != regs->flags)
        return exit_to_user(regs, false);
    if (regs->cs != __USER_CS || regs->ss != __USER_DS)
        return exit_to_user(regs, false);
    if (!canonical(regs->ip))
        return exit_to_user(regs, false);
    if (regs->flags & (X86_EFLAGS_RF | X86_EFLAGS_TF))
        return exit_to_user(regs, false);
    return exit_to_user(regs, true);
}

static void do_syscall_32(struct pt_regs *regs)
{
    switch ((u32)regs->orig_ax) {
    case NR32_write:
        write_console((u32)regs->cx, (u32)regs->dx);
        regs->ax = (u32)regs->dx;
        break;
    case NR32_getpid:
        regs->ax = TEST_PID;
        break;
    case NR32_exit:
        kernel_exit_to_runner((u32)regs->bx);
    default:
        regs->ax = (u32)-ENOSYS;
        break;
    }
}

void do_int80_syscall_32(struct pt_regs *regs)
{
    do_syscall_32(regs);
    exit_to_user(regs, false);
}

/* SYSENTER and compat SYSCALL: the vsyscall stub's convention (ECX, EDX, EBP saved on the user
 * stack, EBP restored from it); return to the landing pad; SYSRETL when Linux would use it. */
bool do_fast_syscall_32(struct pt_regs *regs)
{
    regs->ip = (u64)(uintptr_t)vdso32_landing_pad;
    regs->bp = *(volatile u32 *)(uintptr_t)(u32)regs->sp;
    do_syscall_32(regs);
    if (k_fred)
        return false;           /* fred_entry_from_user counts the ERETU */
    if (regs->ip != (u64)(uintptr_t)vdso32_landing_pad || regs->cs != __USER32_CS ||
        regs->ss != __USER_DS || (regs->flags & (X86_EFLAGS_RF | X86_EFLAGS_TF | X86_EFLAGS_VM))) {
        exit_to_user(regs, false);
        return false;
    }
    vvar.last_exit = EXIT_SYSRETL;
    vvar.sysretl_exits++;
    return true;
}

bool do_SYSENTER_32(struct pt_regs *regs)
{
    return do_fast_syscall_32(regs);
}

/* A fault of the user program: record it in vvar.sig and run its handler on the signal stack
 * (IRET exit); with no handler the program ends with exit code 128 + vector. */
static int deliver_fault(const struct pt_regs *at, unsigned int vector, u64 error, u64 kernel_ip)
{
    struct pt_regs state = *at;
    struct pt_regs *r = top_regs();

    /* What the program sees of CS and SS is the selector (Linux's sigcontext): a FRED frame's
     * upper bits are the event's (FRED specification §5.1.2). */
    state.cs &= 0xffff;
    state.ss &= 0xffff;
    vvar.sig.count++;
    vvar.sig.vector = vector;
    vvar.sig.error = error;
    vvar.sig.cr2 = read_cr2();
    memcpy((void *)&vvar.sig.regs, &state, sizeof(state));
    vvar.sig.kernel_ip = kernel_ip;
    if (!sig_handler)
        kernel_exit_to_runner(128 + vector);
    memset(r, 0, sizeof(*r));
    r->ip = sig_handler;
    r->cs = __USER_CS;
    r->flags = X86_EFLAGS_FIXED | X86_EFLAGS_IF;
    r->sp = (u64)(uintptr_t)(sigstack + sizeof(sigstack)) - 8;
    r->ss = __USER_DS;
    r->di = vector;
    r->si = (u64)(uintptr_t)&vvar.sig;
    return 1;
}

#define DR6_BS (1UL << 14)

static u64 read_dr6(void)
{
    u64 v;
    asm volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

static void log_trap(volatile struct trap_entry *log, volatile u64 *count, const struct pt_regs *regs, u64 dr6)
{
    if (*count < TRAP_LOG_MAX) {
        log[*count].ip = regs->ip;
        log[*count].cs = regs->cs & 0xffff;
        log[*count].flags = regs->flags;
        log[*count].dr6 = dr6;
    }
    (*count)++;
}

/* #DB, through the paranoid entry on IST_DB (entry.S): from user mode a single-step trap,
 * logged for the program; at CPL 0 a useless trap in the SYSENTER entry (Linux's
 * is_sysenter_singlestep; stepping stops at the entry's POPFQ) or a breakpoint of the syscall
 * gap sweep (gap.c). */
void do_debug(struct pt_regs *regs, bool gs_was_user)
{
    u64 dr6 = read_dr6();
    asm volatile("mov %0, %%dr6" :: "r"(0UL));
    handle_debug(regs, gs_was_user, dr6);
}

/* A #DB with its DR6 bits (IDT: read from DR6; FRED: the event data, which holds them in the
 * same positive form: FRED specification §5.2.2, Linux's exc_debug under FRED). */
void handle_debug(struct pt_regs *regs, bool gs_was_user, u64 dr6)
{
    if (regs->cs & 3) {
        log_trap(vvar.user_log, &vvar.user_traps, regs, dr6);
        if (vvar.user_traps >= TRAP_LOG_MAX)
            regs->flags &= ~(u64)X86_EFLAGS_TF;     /* a runaway step ends here */
        return;
    }
    u64 ip = regs->ip;
    if (ip >= (u64)(uintptr_t)entry_SYSENTER_compat && ip < (u64)(uintptr_t)__end_SYSENTER_singlestep_region) {
        log_trap(vvar.kernel_log, &vvar.kernel_traps, regs, dr6);
        return;
    }
    if (gap_debug(regs, gs_was_user, dr6))
        return;
    printk("kernel: unexpected #DB at rip 0x%lx, dr6 0x%lx, rsp 0x%lx\n", ip, dr6, regs->sp);
    test_abort("unexpected kernel-mode #DB at 0x%lx", ip);
}

/* The user state a failed return was loading, from its frame's RIP slot on (RIP, CS, RFLAGS,
 * RSP, SS), delivered to the program as a #GP. */
static int fault_at_return(const struct pt_regs *regs, const u64 *frame, u64 error)
{
    struct pt_regs user = *regs;
    user.ip = frame[0];
    user.cs = frame[1];
    user.flags = frame[2];
    user.sp = frame[3];
    user.ss = frame[4];
    return deliver_fault(&user, 13, error, regs->ip);
}

int do_exception(struct pt_regs *regs, unsigned int vector)
{
    u64 error = regs->orig_ax;

#ifdef LINUX_MIX_BENCH
    /* A page fault the kernel resolves: back to the faulting instruction with the same frame.
     * The address: CR2, or under FRED the frame's event data, as Linux reads it (FRED
     * specification §5.2.2). */
    if (vector == 14 && (regs->cs & 3) &&
        mix_handle_fault(k_fred ? ((const u64 *)(regs + 1))[0] : read_cr2(), error))
        return 1;
#endif
    if (regs->cs & 3)
        return deliver_fault(regs, vector, vector == 3 || vector == 6 || vector == 0 ? 0 : error, 0);

    u64 ip = regs->ip;
    /* A return to user mode that failed at CPL 0 (a non-canonical RIP: SDM IRET, ERETU #GP(0)):
     * the user program faulted at the state the frame held (Linux's fixup_bad_iret and its
     * EX_TYPE_ERETU fixup). IRETQ faults with RSP at the frame's RIP; ERETU, which skips the
     * error code itself, with RSP at the error code. The GPRs the exit had popped are in the
     * new pt_regs. */
    if (vector == 13 && ip == (u64)(uintptr_t)native_irq_return_iret)
        return fault_at_return(regs, (const u64 *)(uintptr_t)regs->sp, error);
    if (vector == 13 && ip == (u64)(uintptr_t)asm_fred_eretu)
        return fault_at_return(regs, (const u64 *)(uintptr_t)regs->sp + 1, error);
    if (vector == 13 && ip == (u64)(uintptr_t)entry_SYSRETQ) {
        /* Intel: SYSRET with a non-canonical RCX faulted at CPL 0, on the user's stack
         * (regs->sp) -- only reachable with k_unsafe_sysret. */
        struct pt_regs user = *regs;
        user.ip = regs->cx;
        user.cs = __USER_CS;
        user.flags = regs->r11;
        user.ss = __USER_DS;
        return deliver_fault(&user, vector, error, ip);
    }
    printk("kernel: unexpected %s at rip 0x%lx, error 0x%lx, rsp 0x%lx\n", exc_name(vector), ip, error, regs->sp);
    test_abort("unexpected kernel-mode %s at 0x%lx", exc_name(vector), ip);
}
