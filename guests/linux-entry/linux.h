/*
 * linux-entry: what the kernel (entry.S, kernel.c) and its user programs (user*.c, user*.S)
 * share: struct pt_regs in Linux's order, the selectors and flags of the entry code, the
 * per-CPU area reached through %gs, system-call numbers, and the "vvar" data the kernel
 * publishes to user programs (every page of the identity map is user-readable: ring3_init()).
 *
 * Usable from C and from assembler.
 */
#ifndef LINUX_ENTRY_H
#define LINUX_ENTRY_H

#include "ringside.h"
#include "fred.h"               /* ERETU, ERETS as bytes: binutils 2.40 lacks the mnemonics */

/* The local APIC timer and its interrupt (apic.c) are built for the two benchmarks that take
 * timer interrupts: LINUX_IRQ_BENCH and LINUX_MIX_BENCH (main.c). */
#if defined(LINUX_IRQ_BENCH) || defined(LINUX_MIX_BENCH)
#define LINUX_APIC_TIMER 1
#endif

/* Linux's segment selectors (arch/x86/include/asm/segment.h): __KERNEL_CS 0x10 there; here the
 * library's 0x08/0x10 kernel pair, and the user ones at Linux's values so STAR works alike. */
#define __KERNEL_CS   SEL_CODE64
#define __KERNEL_DS   SEL_DATA
#define __USER32_CS   SEL_USER_CODE32     /* 0x23 */
#define __USER_DS     SEL_USER_DATA       /* 0x2b */
#define __USER_CS     SEL_USER_CODE64     /* 0x33 */

/* RFLAGS bits (SDM Vol. 1 §3.4.3). */
#define X86_EFLAGS_CF    0x00000001
#define X86_EFLAGS_FIXED 0x00000002
#define X86_EFLAGS_PF    0x00000004
#define X86_EFLAGS_AF    0x00000010
#define X86_EFLAGS_ZF    0x00000040
#define X86_EFLAGS_SF    0x00000080
#define X86_EFLAGS_TF    0x00000100
#define X86_EFLAGS_IF    0x00000200
#define X86_EFLAGS_DF    0x00000400
#define X86_EFLAGS_OF    0x00000800
#define X86_EFLAGS_IOPL  0x00003000
#define X86_EFLAGS_NT    0x00004000
#define X86_EFLAGS_RF    0x00010000
#define X86_EFLAGS_VM    0x00020000
#define X86_EFLAGS_AC    0x00040000
#define X86_EFLAGS_ID    0x00200000

/* MSRs (SDM Vol. 4). */
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_SYSCALL_MASK   0xc0000084
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define EFER_SCE           (1 << 0)

/* FRED (Intel FRED specification; Linux's arch/x86/include/asm/fred.h read for the facts). */
#define MSR_FRED_RSP0      0x1cc        /* IA32_FRED_RSP0..3: 1CCH..1CFH */
#define MSR_FRED_STKLVLS   0x1d0
#define MSR_FRED_CONFIG    0x1d4
#define X86_CR4_FRED       (1UL << 32)
#define FRED_CONFIG_REDZONE (1UL << 6)  /* CONFIG[8:6] = 1: one 64-byte line below a same-level frame */
#define FRED_CONFIG_INT_STKLVL(l) ((u64)(l) << 9)
#define FRED_STKLVL(vec, l) ((u64)(l) << (2 * (vec)))
/* Stack levels of the events Linux gives their own stacks (IA32_FRED_RSP1..3 = the IST tops). */
#define FRED_DB_STACK_LEVEL  1
#define FRED_NMI_STACK_LEVEL 2
#define FRED_MC_STACK_LEVEL  2
#define FRED_DF_STACK_LEVEL  3
/* The augmented SS of the frame (struct fred_ss): event type and vector, 64-bit mode, nested,
 * instruction length; and the software-event bit ERETU reads back as "pending #DB". */
#define FRED_SS_SWEVENT     (1UL << 17)
#define FRED_SS_VECTOR(ss)  (((ss) >> 32) & 0xff)
#define FRED_SS_TYPE(ss)    (((ss) >> 48) & 0xf)
#define FRED_SS_L           (1UL << 57)
#define FRED_SS_NESTED      (1UL << 58)
#define FRED_SS_INSNLEN(ss) (((ss) >> 60) & 0xf)
#define EVENT_TYPE_EXTINT     0
#define EVENT_TYPE_NMI        2
#define EVENT_TYPE_HWEXC      3
#define EVENT_TYPE_SWINT      4
#define EVENT_TYPE_PRIV_SWEXC 5
#define EVENT_TYPE_SWEXC      6
#define EVENT_TYPE_OTHER      7

/* struct pt_regs, Linux's order (arch/x86/include/asm/ptrace.h), as byte offsets. */
#define R15 0
#define R14 8
#define R13 16
#define R12 24
#define RBP 32
#define RBX 40
#define R11 48
#define R10 56
#define R9  64
#define R8  72
#define RAX 80
#define RCX 88
#define RDX 96
#define RSI 104
#define RDI 112
#define ORIG_RAX 120
#define RIP 128
#define CS  136
#define EFLAGS 144
#define RSP 152
#define SS  160
#define PTREGS_SIZE 168

/* The per-CPU area, at GS.base while in the kernel (IA32_KERNEL_GS_BASE while in user mode). */
#define PERCPU_USER_RSP 0       /* scratch: the user RSP during SYSCALL entry */
#define PERCPU_TOP      8       /* top of the kernel stack (= TSS.RSP0 = SYSENTER_ESP) */
#define PERCPU_APIC_TIMER_IRQS 16  /* local APIC timer interrupts (apic.c; Linux's irq_stat) */
#define PERCPU_SELF     24      /* the area's own address (Linux's this_cpu_off) */

/* The IST stacks (TSS.IST1-7, guests/lib/user.c) of the paranoid entries, Linux's numbering. */
#define IST_NMI 2
#define IST_DB  3

#define KSTACK_SIZE 16384
#define ENOSYS 38

/* 64-bit system calls (Linux's numbers), and three of the kernel's own for the tests. */
#define NR_write        1
#define NR_rt_sigaction 13      /* here: rdi = handler for every fault, rsi = its stack */
#define NR_rt_sigreturn 15      /* here: rdi = struct uregs *, loaded as the user state */
#define NR_sched_yield  24      /* here: also leaves SS null in the kernel (see kernel.c) */
#define NR_setitimer    38      /* here: rdi = period in APIC timer counts, rsi = ticks; rdi = 0 stops it (apic.c) */
#define NR_getpid       39
#define NR_exit         60
#define NR_getppid      110
/* 32-bit (compat) numbers. */
#define NR32_exit   1
#define NR32_write  4
#define NR32_getpid 20

#define TEST_PID 1

/* Exit paths the kernel took back to user mode (vvar.last_exit). */
#define EXIT_SYSRET   1
#define EXIT_IRET     2
#define EXIT_SYSRETL  3
#define EXIT_ERETU    4

#define TRAP_LOG_MAX 40

/* What the single-step sequences (user64.S) put in RCX and R11 before their system call. */
#define STEP_RCX_SENTINEL 0x5ca1ab1e0b57ac1e
#define STEP_R11_SENTINEL 0xfeedfacedeadbeef

/* gap_probe (user64.S) stores what it saw in gap_out[], quadwords: the fifteen registers after
 * SYSCALL in probe order (rax rbx rcx rdx rsi rdi rbp r8-r15), RSP before and after, the red-zone
 * quadwords that kept their pattern, and %gs:0 (the user's GS.base points at gap_tls). */
#define GAP_OUT_RSP_IN  15
#define GAP_OUT_RSP     16
#define GAP_OUT_REDZONE 17
#define GAP_OUT_GS      18
#define GAP_OUT_N       19
#define GAP_REDZONE_QWORDS 16   /* the 128-byte red zone of the x86-64 ABI */
#define GAP_REDZONE_PATTERN 0x5eda7e5eda7e5edaUL

#ifdef __ASSEMBLER__
/*
 * XENPV_BEGIN ... XENPV_END target: Linux's ALTERNATIVE "<these instructions>", "jmp target",
 * X86_FEATURE_XENPV (arch/x86/include/asm/alternative.h), the paravirt patching that makes
 * the native entry code a Xen PV kernel's.  The site's bounds and target go in the table
 * xenpv_patch_start .. xenpv_patch_end (entry.S); entered as a Xen PV kernel, xen.c rewrites
 * each site at boot, before anything runs it: a JMP rel32 to the target, or NOPs for target 0
 * (SWAPGS, which Xen does itself when it switches the guest between kernel and user mode).
 * Natively nothing is rewritten: the bytes are the native instructions.
 */
.macro XENPV_BEGIN
771:
.endm
.macro XENPV_END target=0
772:
        .pushsection .rodata.xenpv_patch, "a"
        .balign 8
        .quad   771b, 772b, \target
        .popsection
.endm
#endif

#ifndef __ASSEMBLER__

struct pt_regs {
    u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
    u64 orig_ax, ip, cs, flags, sp, ss;
};
_Static_assert(sizeof(struct pt_regs) == PTREGS_SIZE, "pt_regs");
_Static_assert(__builtin_offsetof(struct pt_regs, orig_ax) == ORIG_RAX, "orig_ax");
_Static_assert(__builtin_offsetof(struct pt_regs, ss) == SS, "ss");

/* One single-step or debug trap as the kernel's #DB handler saw it. */
struct trap_entry {
    u64 ip, cs, flags, dr6;
};

/* What a fault delivered to the user's handler looked like (the siginfo/ucontext stand-in). */
struct usig {
    u64 count;
    u64 vector, error, cr2;
    struct pt_regs regs;        /* the user state at the fault (for a failed IRET: its frame) */
    u64 kernel_ip;              /* where the kernel was, for a fault the kernel turned into a signal */
};

/* Data the kernel publishes to user programs. */
struct vvar {
    u64 last_exit;              /* EXIT_* of the latest return from a system call */
    u64 sysret_exits, iret_exits, sysretl_exits;
    u64 user_traps;             /* #DB traps from user mode logged in user_log */
    struct trap_entry user_log[TRAP_LOG_MAX];
    u64 kernel_traps;           /* single-step traps in the SYSENTER entry (kernel mode) */
    struct trap_entry kernel_log[TRAP_LOG_MAX];
    struct usig sig;
    u64 vendor_amd;
    u64 fred;                   /* the kernel enabled FRED (CR4.FRED = 1): events and returns are FRED's */
    u64 eretu_exits;
    u64 timer_ticks;            /* local APIC timer interrupts handled (apic.c) */
};
extern volatile struct vvar vvar;

/* Kernel knobs the tests set between user programs (kernel.c). */
extern bool k_unsafe_sysret;    /* skip do_syscall_64's SYSRET checks: always SYSRET */
extern bool k_no_ss_fix;        /* do not apply Linux's X86_BUG_SYSRET_SS_ATTRS fix */
extern bool k_fred;             /* FRED is enabled (entry.S reads it: the exit to user mode) */

/* The state rt_sigreturn loads (the ucontext stand-in). */
struct uregs {
    struct pt_regs regs;
};

/* apic.c (LINUX_APIC_TIMER): the timer's interrupts by the CPL they interrupted, the TSC at
 * the periodic timer's start and at its last tick, and the calibration (TSC per count). */
struct irq_stats {
    u64 from_user, from_kernel, target;
    u64 start_tsc, end_tsc;
    u64 calibrate_tsc, calibrate_count;
};
extern struct irq_stats irq_stats;
void apic_timer_init(void);
void apic_timer_periodic(u64 period, u64 target);
void apic_timer_stop(void);

#endif /* !__ASSEMBLER__ */

/* The user program's spin loop under timer interrupts (user64.S irq_spin): RDI points at the
 * tick count, RSI holds the target, RCX counts iterations, and every other general register
 * but RSP holds IRQ_PATTERN(k) while it spins; struct irq_spin is what it leaves. */
#ifndef LINUX_IRQ_PERIOD
#define LINUX_IRQ_PERIOD 100    /* the interrupt benchmark's timer period, in counts (main.c) */
#endif

#define IRQ_SPIN_TICKS  0
#define IRQ_SPIN_TARGET 8
#define IRQ_SPIN_ITERS  16
#define IRQ_SPIN_OUT    24      /* rax rbx rdx rbp r8-r15, then rsi rdi */
#define IRQ_SPIN_REGS   14
#ifdef __ASSEMBLER__
#define IRQ_PATTERN(k)  (0x1111111111111111 * ((k) + 1))
#else
#define IRQ_PATTERN(k)  (0x1111111111111111UL * ((k) + 1))
#endif

#ifndef __ASSEMBLER__
struct irq_spin {
    volatile u64 *ticks;
    u64 target;
    u64 iterations;
    u64 out[IRQ_SPIN_REGS];
};
_Static_assert(__builtin_offsetof(struct irq_spin, out) == IRQ_SPIN_OUT, "irq_spin");

/* kernel.c */
void linux_kernel_init(void);
u64 run_user(u64 (*fn)(void));
extern u64 k_percpu_base;
u64 percpu_self(void);
bool on_kernel_stack(u64 sp);

/* gap.c: the syscall gap (main.c's header). */
struct gap_seen {
    u64 count;                  /* NMIs (or #DBs) taken */
    u64 ip, cs, sp, dr6;        /* the first one's interrupted context, and DR6 for a #DB */
    bool gs_was_user;           /* GS.base on arrival was the user's: the handler did SWAPGS */
    bool percpu_ok;             /* %gs:PERCPU_SELF in the handler was the per-CPU area */
    u64 frame_ist;              /* the IST stack the frame was on (0: none) */
};
extern volatile struct gap_seen gap_seen;
extern u64 gap_out[GAP_OUT_N];
extern u64 gap_tls[1];
extern volatile u64 gap_hits_at_return;
void gap_probe(void);
extern char gap_probe_ret[];
void run_gap_nmi(void);
void run_gap_debug_sweep(void);
bool gap_debug(struct pt_regs *regs, bool gs_was_user, u64 dr6);

/* entry.S */
extern char entry_SYSCALL_64[], entry_SYSCALL_64_safe_stack[], entry_SYSRETQ_unsafe_stack[],
    entry_SYSCALL_compat[], entry_SYSENTER_compat[],
    entry_INT80_compat[], __end_SYSENTER_singlestep_region[], entry_SYSRETQ[], entry_SYSRETL[],
    native_irq_return_iret[];
extern const u64 syscall_gap_entry[], syscall_gap_exit[], syscall_gap_end[];
extern const u64 fred_gap_entry[], fred_gap_exit[], fred_gap_end[];
struct xenpv_patch { u64 start, end, target; };
extern const struct xenpv_patch xenpv_patch_start[], xenpv_patch_end[];
u64 run_user_regs(struct pt_regs *top);
NORETURN void kernel_exit_to_runner(u64 code);
extern char asm_fred_entrypoint_user[], asm_fred_entrypoint_kernel[], asm_fred_eretu[], asm_fred_erets[];

/* fred.c: the FRED entries' dispatchers, by event type (Linux's entry_fred.c). */
void fred_entry_from_user(struct pt_regs *regs);
int fred_entry_from_kernel(struct pt_regs *regs);
bool fred_setup(u64 kernel_stack_top);

/* kernel.c, for fred.c */
bool do_syscall_64(struct pt_regs *regs, long nr);
void do_int80_syscall_32(struct pt_regs *regs);
bool do_fast_syscall_32(struct pt_regs *regs);
int do_exception(struct pt_regs *regs, unsigned int vector);
void handle_debug(struct pt_regs *regs, bool gs_was_user, u64 dr6);
void do_nmi(struct pt_regs *regs, bool gs_was_user);
void fred_exit_to_user(void);
#ifdef LINUX_APIC_TIMER
void sysvec_apic_timer_interrupt(struct pt_regs *regs);
#endif


#endif /* !__ASSEMBLER__ */
#endif /* LINUX_ENTRY_H */
