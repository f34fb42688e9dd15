/*
 * fred: FRED event delivery, ERETU and ERETS, SYSCALL and SYSENTER under FRED (Intel SDM
 * Vol. 3 §8.3 "FRED Event Delivery", §8.4 "FRED Return Instructions"; Vol. 2 ERETU, ERETS,
 * SYSCALL, SYSENTER "Operation", FRED-era edition).
 *
 * What the specification requires:
 * - CPUID.(EAX=7,ECX=1):EAX[17] enumerates FRED; CR4.FRED (bit 32) enables it in IA-32e mode.
 *   Without it this guest prints "FRED not enumerated" and skips.
 * - Every event enters ring 0 at IA32_FRED_CONFIG[63:12] when it occurred at CPL 3 and 256
 *   bytes beyond at CPL 0 (§8.3), with RFLAGS = 2 (no flag set), and pushes one 64-byte frame:
 *   error code (0 if none), RIP, augmented CS (selector; bits 17:16 the interrupted stack
 *   level, 0 from ring 3), RFLAGS (RF = 1 for faults), RSP, augmented SS (selector; bit 16
 *   STI blocking; 17 SYSCALL/SYSENTER/INT n; 18 NMI; 39:32 vector; 51:48 type; 57 64-bit
 *   mode; 58 nested exception; 63:60 length of INT n/INT1/INT3/SYSCALL/SYSENTER), event data
 *   (CR2 for #PF, 0 for NMI and most others), 0.
 * - Types: 0 external interrupt, 2 NMI, 3 hardware exception, 4 INT n (CD ib, INT $3 too),
 *   5 INT1 (F1), 6 INT3 (CC)/INTO, 7 SYSCALL (vector 1) and SYSENTER (vector 2).
 * - Stack levels: an event from ring 3 goes to level 0 unless it is a nested exception or
 *   #DF; otherwise exceptions and NMI take IA32_FRED_STKLVLS' level for their vector,
 *   external interrupts IA32_FRED_CONFIG[10:9], INT n and SYSCALL level 0; never below the
 *   current level (CONFIG[1:0]), which delivery sets. RSP := IA32_FRED_RSPn on an event
 *   from ring 3 or a level increase, else (RSP - CONFIG[8:6] * 64) & ~63; the frame lies
 *   below it.
 * - From ring 3 CS := IA32_STAR[47:32], SS := that + 8, and GS.base is swapped with
 *   IA32_KERNEL_GS_BASE; SYSCALL and SYSENTER change no general-purpose register (RCX and
 *   R11 keep their values; SDM SYSCALL: "FRED event delivery of SYSCALL").
 * - An exception while delivering another event is nested: SS bit 58, delivered at its
 *   STKLVLS level even for an event from ring 3 (the KVM FRED selftest's case: #PF while
 *   pushing onto an unmapped IA32_FRED_RSP0).
 * - NMI delivery blocks NMIs; ERETS/ERETU with SS bit 18 set unblock them.
 * - ERETS: #GP(0) unless RIP is canonical, CS (bits 18:16 ignored, 63:19 zero) and SS (bits
 *   18:16 ignored) equal the current selectors, RFLAGS has bit 1 set and VM and reserved
 *   bits clear; the stack level becomes min(CSL, CS[17:16]). ERETU: #GP(0) if CSL > 0, CS or
 *   SS RPL is not 3 or CS bits 63:16 are set, or RFLAGS.IOPL != 0. Both are #UD at CPL 3.
 * - #DF (SDM Vol. 3A §6.15 Table 6-5, which FRED keeps: here a #PF while delivering a #PF) is
 *   delivered at IA32_FRED_STKLVLS' level for vector 8, also for an event from ring 3, with
 *   error code 0, event data 0 and the nested bit clear; its RIP is undefined (an abort) and not
 *   printed. A fault while delivering #DF shuts the processor down: built with FRED_TRIPLE=1
 *   the guest ends that way after everything else (test/fred.test.ts asserts the crash).
 * - ERETU with SS bit 17 (pend_DB) and RFLAGS.TF = 1 pends a single-step #DB delivered before
 *   the first user instruction; without it the trap follows that instruction. A #DB's event
 *   data is its DR6 conditions in positive polarity: BS (bit 14), BD (bit 13, general detect).
 * - ERETS with SS bit 16 and RFLAGS.IF = 1 establishes STI blocking (a pending interrupt waits
 *   one instruction); ERETS or ERETU with SS bit 18 unblock NMIs, without it they stay blocked.
 * - ERETU with selectors other than IA32_STAR[63:48] (+8, +16) loads them from the GDT as IRET
 *   does: a compatibility-mode segment there, its limit checked ("newRIP > CS limit THEN
 *   #GP(0)"), after "newRIP[63:32] := 0" (so a non-canonical RIP is no fault there); all 16
 *   selector bits are compared with STAR's. SYSENTER in compatibility mode is type 7 vector 2
 *   with SS bit 57 clear. WRMSR of a non-canonical IA32_FRED_CONFIG is #GP(0); SYSCALL under
 *   FRED does not look at EFER.SCE (never set here). docs/fred-readings.md lists the
 *   observations where Bochs behaves otherwise.
 * Every observation is printed; test/fred.test.ts checks each against the specification.
 */
#include "ringside.h"
#include "apic.h"
#include "fred.h"

#define MSR_STAR            0xc0000081
#define MSR_GS_BASE         0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102
#define MSR_FRED_RSP0       0x1cc
#define MSR_FRED_STKLVLS    0x1d0
#define MSR_FRED_CONFIG     0x1d4
#define CR4_FRED            (1UL << 32)
#define REDZONE_LINES       2
#define INT_LEVEL           1
#define GS_KERNEL           0xaaaa000UL
#define GS_USER             0xbbbb000UL
#define RFLAGS_TF           (1UL << 8)
#define EFER_SCE            (1UL << 0)
#define SS_STI              (1UL << 16)
#define SS_PEND_DB          (1UL << 17)
#define SS_NMI              (1UL << 18)
#define SEL_USER_COMPAT     (SEL_SPARE | 3)     /* a GDT compatibility-mode code segment, not STAR's */
#define STKLVL(v, l)        ((u64)(l) << (2 * (v)))
#define STKLVLS (STKLVL(2, 1) | STKLVL(3, 2) | STKLVL(8, 3) | STKLVL(14, 1))

struct fred_regs {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 entry_rflags;
    u64 error_code, rip, cs, rflags, rsp, ss, edata, resv;
};

struct rec {
    u64 f[8];           /* the FRED frame as delivered */
    u64 frame;          /* its address */
    u64 kernel_entry;   /* entered at the ring-0 entry point */
    u64 csl, rflags, rcx, r11, gs, kgs;
};

#define NREC 96
static volatile struct rec ev[NREC];
static volatile unsigned int nev;
volatile u64 fixup;                 /* resume a hardware exception here (written by user code too) */
static volatile u64 pf_fix_page;    /* a nested #PF's page, to map again */
static volatile int levels_hook, nmi_resend;
static volatile u64 ud_rsp, ud_csl_after;
static volatile unsigned int nmis, nmis_in_handler;
static volatile int nmi_keep_blocked;   /* NMIs whose handler returns without SS bit 18 */
volatile u64 fixup_cs;                  /* with fixup: the CS to resume with (a compat-mode fault) */

static u8 fred_stack[4][8192] __attribute__((aligned(4096)));
static u8 bad_stack[2][4096] __attribute__((aligned(4096)));
static u8 hole[4096] __attribute__((aligned(4096)));

extern char fred_entry_user[];
extern u64 fred_exec_user(u64 rip, u64 rsp, u64 rflags);
extern NORETURN void fred_user_exit(u64 value);
extern char user_prog[], u_syscall_next[], u_sysenter_next[], u_int81_next[], u_int3_next[], u_intcd3_next[],
    u_int1_next[], u_hlt[], u_pf[], u_erets[], u_eretu[], user_exit[], user_gp[], user_gp_hlt[],
    user_df[], u_step[], u_step_next[], u32_prog[], u32_sysenter_next[], u32_exit[];
extern u64 fred_exec_user_frame(u64 rip, u64 rsp, u64 rflags, u64 cs, u64 ss);
volatile u64 u_rcx, u_r11, u_hole;

static u64 stack_top(int level) { return (u64)(uintptr_t)fred_stack[level] + sizeof fred_stack[level]; }
static u64 type_of(const volatile struct rec *r) { return (r->f[5] >> 48) & 0xf; }
static u64 vector_of(const volatile struct rec *r) { return (r->f[5] >> 32) & 0xff; }

void fred_handler(struct fred_regs *r, u64 from_kernel, u64 entry_rflags)
{
    u64 type = (r->ss >> 48) & 0xf, vector = (r->ss >> 32) & 0xff;
    if (nev < NREC) {
        volatile struct rec *e = &ev[nev];
        const u64 *f = &r->error_code;
        for (int k = 0; k < 8; k++) e->f[k] = f[k];
        e->frame = (u64)(uintptr_t)f;
        e->kernel_entry = from_kernel;
        e->csl = rdmsr(MSR_FRED_CONFIG) & 3;
        e->rflags = entry_rflags;
        e->rcx = r->rcx;
        e->r11 = r->r11;
        e->gs = rdmsr(MSR_GS_BASE);
        e->kgs = rdmsr(MSR_KERNEL_GS_BASE);
    }
    nev++;
    if (type == 0)
        apic_write(APIC_EOI, 0);
    if (type == 2 && nmi_keep_blocked) {
        nmi_keep_blocked--;
        r->ss &= ~SS_NMI;       /* this ERETS leaves NMIs blocked */
    }
    if (type == 2 && ++nmis == 1 && nmi_resend) {
        apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);  /* blocked until this ERETS */
        nmis_in_handler = nmis;
    }
    if (type == 6 && vector == 3 && levels_hook) {
        /* #BP at level 2: a #UD (STKLVLS level 0) here stays at level 2, on this stack. */
        levels_hook = 0;
        u64 sp;
        asm volatile("lea 2f(%%rip), %%rax\n\t"
                     "mov %%rax, fixup(%%rip)\n\t"
                     "mov %%rsp, %0\n\t"
                     "1: ud2\n\t"
                     "2:" : "=&r"(sp) :: "rax", "memory");
        ud_rsp = sp;
        ud_csl_after = rdmsr(MSR_FRED_CONFIG) & 3;
    }
    if (type == 3) {
        if (vector == 8) {
            /* #DF: the stack a delivery was pointed at is broken; point FRED at good ones. */
            wrmsr(MSR_FRED_RSP0, stack_top(0));
            wrmsr(MSR_FRED_RSP0 + 1, stack_top(1));
        }
        if (vector == 1) {
            r->rflags &= ~RFLAGS_TF;    /* single step or general detect: record, go on */
        } else if (vector == 14 && pf_fix_page) {
            pte_set((void *)(uintptr_t)pf_fix_page, PTE_P);
            invlpg((void *)(uintptr_t)pf_fix_page);
            pf_fix_page = 0;
        } else if (fixup) {
            r->rip = fixup;
            fixup = 0;
            if (fixup_cs) {
                r->cs = fixup_cs;
                fixup_cs = 0;
            }
        } else {
            test_abort("unexpected exception vector %lu error 0x%lx at 0x%lx", vector, r->error_code, r->rip);
        }
    }
    if (type == 4 && vector == 0x80 && (r->cs & 3) == 3)
        fred_user_exit(r->rax);
    /* ERETU needs stack level 0 (a nested exception from ring 3 ran at a higher one). */
    if ((r->cs & 3) == 3 && (rdmsr(MSR_FRED_CONFIG) & 3))
        wrmsr(MSR_FRED_CONFIG, rdmsr(MSR_FRED_CONFIG) & ~3UL);
}

/* One line per field of a recorded event; the RIP only where the SDM defines it (not for the
 * abort #DF). */
static void print_event_rip(const char *name, const volatile struct rec *e, int rip_defined)
{
    printk("%s.type: %lu\n", name, type_of(e));
    printk("%s.vector: 0x%lx\n", name, vector_of(e));
    printk("%s.error: 0x%lx\n", name, e->f[0]);
    if (rip_defined)
        printk("%s.rip: 0x%lx\n", name, e->f[1]);
    printk("%s.cs: 0x%lx\n", name, e->f[2] & 0xffff);
    printk("%s.cs_sl: %lu\n", name, (e->f[2] >> 16) & 3);
    printk("%s.cs_high: 0x%lx\n", name, e->f[2] >> 18);
    printk("%s.rflags: 0x%lx\n", name, e->f[3]);
    printk("%s.rsp: 0x%lx\n", name, e->f[4]);
    printk("%s.ss: 0x%lx\n", name, e->f[5] & 0xffff);
    printk("%s.ss_sti: %lu\n", name, (e->f[5] >> 16) & 1);
    printk("%s.ss_swevent: %lu\n", name, (e->f[5] >> 17) & 1);
    printk("%s.ss_nmi: %lu\n", name, (e->f[5] >> 18) & 1);
    printk("%s.ss_l: %lu\n", name, (e->f[5] >> 57) & 1);
    printk("%s.ss_nested: %lu\n", name, (e->f[5] >> 58) & 1);
    printk("%s.ss_insnlen: %lu\n", name, e->f[5] >> 60);
    printk("%s.ss_zero: 0x%lx\n", name, e->f[5] & 0x09f0ff00fff80000UL);
    printk("%s.edata: 0x%lx\n", name, e->f[6]);
    printk("%s.reserved: 0x%lx\n", name, e->f[7]);
    printk("%s.frame: 0x%lx\n", name, e->frame);
    printk("%s.kernel_entry: %lu\n", name, e->kernel_entry);
    printk("%s.csl: %lu\n", name, e->csl);
    printk("%s.handler_rflags: 0x%lx\n", name, e->rflags);
}

static void print_event(const char *name, const volatile struct rec *e)
{
    print_event_rip(name, e, 1);
}

/* The event recorded `back` events ago. */
static const volatile struct rec *last(unsigned int back) { return &ev[nev - 1 - back]; }

/* ERETS or ERETU (eretu) on a frame built here; returns whether it raised #GP(0) at itself. */
static void eret_case(const char *name, int eretu, u64 rip, u64 cs, u64 rflags, u64 rsp, u64 ss)
{
    unsigned int before = nev;
    u64 at;
#define ERET_BODY(insn)                                          \
    asm volatile("lea 2f(%%rip), %%rax\n\t"                      \
                 "mov %%rax, fixup(%%rip)\n\t"                   \
                 "lea 1f(%%rip), %0\n\t"                         \
                 "mov %%rsp, %%r12\n\t"                          \
                 "and $~63, %%rsp\n\t"                           \
                 "push %5\n\t push %4\n\t push %3\n\t push %2\n\t push %1\n\t push $0\n\t" \
                 "1: " insn                                      \
                 "2: mov %%r12, %%rsp\n\t"                       \
                 : "=&r"(at) : "r"(rip), "r"(cs), "r"(rflags), "r"(rsp), "r"(ss) : "rax", "r12", "memory")
    if (eretu)
        ERET_BODY(ASM_ERETU);
    else
        ERET_BODY(ASM_ERETS);
    printk("%s.events: %u\n", name, nev - before);
    printk("%s.vector: 0x%lx\n", name, vector_of(last(0)));
    printk("%s.error: 0x%lx\n", name, last(0)->f[0]);
    printk("%s.at_eret: %u\n", name, last(0)->f[1] == at);
}

/* Ring-3 code: every instruction that enters ring 0 under FRED, in a row. */
asm(".text\n"
    ".globl user_prog\n"
    "user_prog:\n\t"
    "mov $0x1111, %rcx\n\t"
    "mov $0x2222, %r11\n\t"
    "syscall\n"
    ".globl u_syscall_next\n"
    "u_syscall_next:\n\t"
    "mov %rcx, u_rcx(%rip)\n\t"
    "mov %r11, u_r11(%rip)\n\t"
    "sysenter\n"
    ".globl u_sysenter_next\n"
    "u_sysenter_next:\n\t"
    "int $0x81\n"
    ".globl u_int81_next\n"
    "u_int81_next:\n\t"
    "int3\n"
    ".globl u_int3_next\n"
    "u_int3_next:\n\t"
    ".byte 0xcd, 0x03\n"             /* INT $3: gas would emit INT3 (CC) */
    ".globl u_intcd3_next\n"
    "u_intcd3_next:\n\t"
    ".byte 0xf1\n"
    ".globl u_int1_next\n"
    "u_int1_next:\n\t"
    "lea 1f(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n"
    ".globl u_hlt\n"
    "u_hlt: hlt\n"
    "1: lea 1f(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n\t"
    "mov u_hole(%rip), %rbx\n"
    ".globl u_pf\n"
    "u_pf: mov (%rbx), %rax\n"
    "1: lea 1f(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n"
    ".globl u_erets\n"
    "u_erets: " ASM_ERETS
    "1: lea 1f(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n"
    ".globl u_eretu\n"
    "u_eretu: " ASM_ERETU
    "1:\n"
    ".globl user_exit\n"
    "user_exit: mov $0x600d, %eax\n\t"
    "int $0x80\n"
    /* The nested case: HLT's #GP cannot be pushed onto IA32_FRED_RSP0's unmapped page. */
    ".globl user_gp\n"
    "user_gp: lea user_exit(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n"
    ".globl user_gp_hlt\n"
    "user_gp_hlt: hlt\n"
    /* #DF from ring 3: a #PF whose delivery faults (#PF) on an unmapped IA32_FRED_RSP0. */
    ".globl user_df\n"
    "user_df: lea user_exit(%rip), %rax\n\t"
    "mov %rax, fixup(%rip)\n\t"
    "mov u_hole(%rip), %rbx\n\t"
    "mov (%rbx), %rax\n"
    /* Entered by ERETU with RFLAGS.TF = 1. */
    ".globl u_step\n"
    "u_step: nop\n"
    ".globl u_step_next\n"
    "u_step_next: nop\n\t"
    "jmp user_exit\n"
    /* Compatibility mode: SYSENTER, then the exit by INT $0x80. */
    ".code32\n"
    ".globl u32_prog\n"
    "u32_prog: sysenter\n"
    ".globl u32_sysenter_next\n"
    "u32_sysenter_next:\n"
    ".globl u32_exit\n"
    "u32_exit: mov $0xc0de, %eax\n\t"
    "int $0x80\n"
    ".code64\n");

static void ring0_events(void)
{
    /* #GP in ring 0: same level, below the red zone, 64-byte aligned. */
    u64 sp, at;
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, fixup(%%rip)\n\t"
                 "lea 1f(%%rip), %1\n\t"
                 "movabs $0x8000000000000000, %%rax\n\t"
                 "mov %%rsp, %0\n\t"
                 "1: mov (%%rax), %%rax\n\t"
                 "2:" : "=&r"(sp), "=&r"(at) :: "rax", "memory");
    print_event("gp0", last(0));
    printk("gp0.fault_rsp: 0x%lx\n", sp);
    printk("gp0.at_insn: %u\n", last(0)->f[1] == at);
    printk("gp0.csl_after: %lu\n", rdmsr(MSR_FRED_CONFIG) & 3);

    /* #PF in ring 0: STKLVLS gives it level 1 -- a level increase: IA32_FRED_RSP1. */
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, fixup(%%rip)\n\t"
                 "1: mov (%1), %%rax\n\t"
                 "2:" : "=&r"(at) : "r"(hole) : "rax", "memory");
    print_event("pf0", last(0));
    printk("pf0.hole: 0x%lx\n", (u64)(uintptr_t)hole);
    printk("pf0.cr2: 0x%lx\n", read_cr2());
    printk("pf0.csl_after: %lu\n", rdmsr(MSR_FRED_CONFIG) & 3);

    /* INT3 in ring 0: level 2 (STKLVLS), and a #UD inside its handler stays at level 2. */
    levels_hook = 1;
    asm volatile("int3" ::: "memory");
    print_event("bp0", last(1));
    print_event("ud0", last(0));
    printk("ud0.handler_rsp: 0x%lx\n", ud_rsp);
    printk("ud0.csl_after_erets: %lu\n", ud_csl_after);
    printk("bp0.csl_after: %lu\n", rdmsr(MSR_FRED_CONFIG) & 3);

    /* INT $3 (CD 03) is INT n: type 4, level 0. STI; INT3 records STI blocking. */
    asm volatile(".byte 0xcd, 0x03" ::: "memory");
    print_event("intcd3_0", last(0));
    asm volatile("sti; int3; cli" ::: "memory");
    printk("sti_int3.ss_sti: %lu\n", (last(0)->f[5] >> 16) & 1);
    printk("sti_int3.rflags_if: %lu\n", (last(0)->f[3] >> 9) & 1);

    /* SYSCALL in ring 0 is delivered too (type 7 from ring 0: the ring-0 entry point). */
    asm volatile("mov $0x3333, %%rcx; mov $0x4444, %%r11; syscall; mov %%rcx, %0; mov %%r11, %1"
                 : "=r"(u_rcx), "=r"(u_r11) :: "rcx", "r11", "memory");
    print_event("syscall0", last(0));
    printk("syscall0.rcx_after: 0x%lx\n", u_rcx);
    printk("syscall0.r11_after: 0x%lx\n", u_r11);
}

static void interrupts(void)
{
    apic_map_mmio();
    apic_write(APIC_SVR, 0x1ff);
    apic_write(APIC_LVT0, LVT_MASKED);
    apic_write(APIC_LVT1, LVT_MASKED);
    apic_write(APIC_TPR, 0);

    /* A fixed self-IPI in ring 0: level IA32_FRED_CONFIG[10:9]. */
    u64 at;
    apic_write(APIC_ICR, ICR_SELF | 0x40);
    asm volatile("lea 1f(%%rip), %0; sti; nop; 1: cli" : "=r"(at) :: "memory");
    print_event("ext0", last(0));
    printk("ext0.at_boundary: %u\n", last(0)->f[1] == at);

    /* NMI by self-IPI: a second one sent from the handler waits for its ERETS. */
    nmi_resend = 1;
    apic_write(APIC_ICR2, apic_read(APIC_ID) & 0xff000000u);
    apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);
    for (int k = 0; k < 10 && nmis < 2; k++)
        asm volatile("nop" ::: "memory");
    print_event("nmi0", last(1));
    printk("nmi.count_in_handler: %u\n", nmis_in_handler);
    printk("nmi.count: %u\n", nmis);
    nmi_resend = 0;
}

static void ring3(void)
{
    u64 ustack = user_stack_top & ~63UL;
    u_hole = (u64)(uintptr_t)hole;

    unsigned int first = nev;
    u64 v = fred_exec_user((u64)(uintptr_t)user_prog, ustack, RFLAGS_FIXED);
    printk("user.exit: 0x%lx\n", v);
    printk("user.events: %u\n", nev - first);
    const char *names[] = { "syscall", "sysenter", "int81", "int3", "intcd3", "int1", "hlt", "pf", "erets3", "eretu3", "exit" };
    for (unsigned int k = 0; k < ARRAY_SIZE(names) && first + k < NREC; k++)
        print_event(names[k], &ev[first + k]);
    printk("syscall.rcx_at_entry: 0x%lx\n", ev[first].rcx);
    printk("syscall.r11_at_entry: 0x%lx\n", ev[first].r11);
    printk("syscall.gs_base: 0x%lx\n", ev[first].gs);
    printk("syscall.kernel_gs_base: 0x%lx\n", ev[first].kgs);
    printk("user.rcx_after_syscall: 0x%lx\n", u_rcx);
    printk("user.r11_after_syscall: 0x%lx\n", u_r11);
    printk("rip.syscall_next: %u\n", ev[first].f[1] == (u64)(uintptr_t)u_syscall_next);
    printk("rip.sysenter_next: %u\n", ev[first + 1].f[1] == (u64)(uintptr_t)u_sysenter_next);
    printk("rip.int81_next: %u\n", ev[first + 2].f[1] == (u64)(uintptr_t)u_int81_next);
    printk("rip.int3_next: %u\n", ev[first + 3].f[1] == (u64)(uintptr_t)u_int3_next);
    printk("rip.intcd3_next: %u\n", ev[first + 4].f[1] == (u64)(uintptr_t)u_intcd3_next);
    printk("rip.int1_next: %u\n", ev[first + 5].f[1] == (u64)(uintptr_t)u_int1_next);
    printk("rip.hlt: %u\n", ev[first + 6].f[1] == (u64)(uintptr_t)u_hlt);
    printk("rip.pf: %u\n", ev[first + 7].f[1] == (u64)(uintptr_t)u_pf);
    printk("rip.erets3: %u\n", ev[first + 8].f[1] == (u64)(uintptr_t)u_erets);
    printk("rip.eretu3: %u\n", ev[first + 9].f[1] == (u64)(uintptr_t)u_eretu);
    printk("pf.hole: 0x%lx\n", (u64)(uintptr_t)hole);
    printk("gs.base_after: 0x%lx\n", rdmsr(MSR_GS_BASE));
    printk("gs.kernel_gs_base_after: 0x%lx\n", rdmsr(MSR_KERNEL_GS_BASE));

    /* An interrupt pending when ERETU sets IF: taken at the first ring-3 instruction, at
     * level 0 although IA32_FRED_CONFIG[10:9] says 1 (events from ring 3 use level 0). */
    apic_write(APIC_ICR, ICR_SELF | 0x41);
    first = nev;
    fred_exec_user((u64)(uintptr_t)user_exit, ustack, RFLAGS_FIXED | RFLAGS_IF);
    print_event("ext3", &ev[first]);
    printk("ext3.at_user_exit: %u\n", ev[first].f[1] == (u64)(uintptr_t)user_exit);

    /* Nested: IA32_FRED_RSP0's page not present. The #GP's frame write faults: a nested #PF
     * at STKLVLS level 1 on IA32_FRED_RSP1; the handler maps the page, the HLT runs again. */
    u64 bad_top = (u64)(uintptr_t)bad_stack[0] + 4096;
    pte_clear(bad_stack[0], PTE_P);
    invlpg(bad_stack[0]);
    pf_fix_page = (u64)(uintptr_t)bad_stack[0];
    wrmsr(MSR_FRED_RSP0, bad_top);
    first = nev;
    fred_exec_user((u64)(uintptr_t)user_gp, ustack, RFLAGS_FIXED);
    wrmsr(MSR_FRED_RSP0, stack_top(0));
    printk("nested.events: %u\n", nev - first - 1);
    print_event("nested_pf", &ev[first]);
    print_event("nested_gp", &ev[first + 1]);
    printk("nested.rsp0: 0x%lx\n", bad_top);
    printk("nested.rip_is_hlt: %u\n", ev[first].f[1] == (u64)(uintptr_t)user_gp_hlt);
    printk("nested.cr2: 0x%lx\n", read_cr2());
}

static void eret_checks(void)
{
    u64 ss = SEL_DATA, cs = SEL_CODE64, sp = user_stack_top & ~63UL;
    eret_case("erets_cs", 0, (u64)(uintptr_t)user_exit, SEL_DATA, 2, sp, ss);
    eret_case("erets_cs_high", 0, (u64)(uintptr_t)user_exit, cs | (1UL << 19), 2, sp, ss);
    eret_case("erets_flags1", 0, (u64)(uintptr_t)user_exit, cs, 0, sp, ss);
    eret_case("erets_vm", 0, (u64)(uintptr_t)user_exit, cs, 2 | (1UL << 17), sp, ss);
    eret_case("erets_ss", 0, (u64)(uintptr_t)user_exit, cs, 2, sp, SEL_CODE32);
    eret_case("erets_rip", 0, 0x8000000000000000UL, cs, 2, sp, ss);
    eret_case("eretu_cs_rpl", 1, (u64)(uintptr_t)user_exit, SEL_CODE64, 2, sp, SEL_USER_DATA);
    eret_case("eretu_cs_high", 1, (u64)(uintptr_t)user_exit, SEL_USER_CODE64 | (1UL << 16), 2, sp, SEL_USER_DATA);
    eret_case("eretu_iopl", 1, (u64)(uintptr_t)user_exit, SEL_USER_CODE64, 2 | RFLAGS_IOPL3, sp, SEL_USER_DATA);
    eret_case("eretu_ss_rpl", 1, (u64)(uintptr_t)user_exit, SEL_USER_CODE64, 2, sp, SEL_USER_DATA & ~3UL);
    /* Stack level 1 at ERETU: #GP(0) before the frame is looked at. */
    wrmsr(MSR_FRED_CONFIG, rdmsr(MSR_FRED_CONFIG) | 1);
    eret_case("eretu_csl", 1, (u64)(uintptr_t)user_exit, SEL_USER_CODE64, 2, sp, SEL_USER_DATA);
    printk("eretu_csl.csl_after: %lu\n", rdmsr(MSR_FRED_CONFIG) & 3);
    wrmsr(MSR_FRED_CONFIG, rdmsr(MSR_FRED_CONFIG) & ~3UL);
}

/* #DF (SDM Vol. 3A §6.15 Table 6-5, unchanged by FRED: a #PF while delivering a #PF) at the
 * level IA32_FRED_STKLVLS gives vector 8 -- also for an event from ring 3 (§8.3) -- with error
 * code 0, event data 0 and the nested bit clear (§8.3: never set for #DF). */
static void double_faults(void)
{
    /* Ring 0: the #PF (STKLVLS level 1) cannot be pushed onto IA32_FRED_RSP1's unmapped page. */
    u64 bad1 = (u64)(uintptr_t)bad_stack[1] + 4096;
    pte_clear(bad_stack[1], PTE_P);
    invlpg(bad_stack[1]);
    wrmsr(MSR_FRED_RSP0 + 1, bad1);
    unsigned int first = nev;
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, fixup(%%rip)\n\t"
                 "mov (%0), %%rax\n\t"
                 "2:" :: "r"(hole) : "rax", "memory");
    u64 cr2 = read_cr2();
    pte_set(bad_stack[1], PTE_P);
    invlpg(bad_stack[1]);
    printk("df0.events: %u\n", nev - first);
    print_event_rip("df0", last(0), 0);
    printk("df0.cr2_in_rsp1_page: %u\n", (cr2 & ~0xfffUL) == (u64)(uintptr_t)bad_stack[1]);
    printk("df0.rsp1_restored: %u\n", rdmsr(MSR_FRED_RSP0 + 1) == stack_top(1));
    printk("df0.csl_after: %lu\n", rdmsr(MSR_FRED_CONFIG) & 3);

    /* Ring 3: a user #PF (level 0 from ring 3) onto IA32_FRED_RSP0's unmapped page. */
    u64 bad0 = (u64)(uintptr_t)bad_stack[0] + 4096;
    pte_clear(bad_stack[0], PTE_P);
    invlpg(bad_stack[0]);
    wrmsr(MSR_FRED_RSP0, bad0);
    first = nev;
    u64 v = fred_exec_user((u64)(uintptr_t)user_df, user_stack_top & ~63UL, RFLAGS_FIXED);
    pte_set(bad_stack[0], PTE_P);
    invlpg(bad_stack[0]);
    printk("df3.exit: 0x%lx\n", v);
    printk("df3.events: %u\n", nev - first - 1);
    print_event_rip("df3", &ev[first], 0);
}

/* ERETU's pend_DB (SS bit 17) with RFLAGS.TF = 1: "pend a single-step #DB to be delivered after
 * ERETU" (SDM ERETU "Operation"), before the first user instruction; without it, the usual
 * single step after that instruction (SDM Vol. 3B §18.3.1.4). */
static void eretu_pending_db(void)
{
    u64 sp = user_stack_top & ~63UL;
    unsigned int first = nev;
    fred_exec_user_frame((u64)(uintptr_t)u_step, sp, RFLAGS_FIXED | RFLAGS_TF, SEL_USER_CODE64, SEL_USER_DATA | SS_PEND_DB);
    print_event("pend_db", &ev[first]);
    printk("pend_db.at_first_insn: %u\n", ev[first].f[1] == (u64)(uintptr_t)u_step);
    first = nev;
    fred_exec_user_frame((u64)(uintptr_t)u_step, sp, RFLAGS_FIXED | RFLAGS_TF, SEL_USER_CODE64, SEL_USER_DATA);
    print_event("step_db", &ev[first]);
    printk("step_db.after_first_insn: %u\n", ev[first].f[1] == (u64)(uintptr_t)u_step_next);

    /* General detect: a MOV from DR7 with DR7.GD = 1 is a #DB fault whose event data has BD
     * (bit 13) set (SDM Vol. 3B §18.2.4; §8.3 event data: DR6's conditions, positive). */
    u64 at;
    first = nev;
    asm volatile("mov %%dr7, %%rax\n\t"
                 "or $0x2000, %%rax\n\t"
                 "mov %%rax, %%dr7\n\t"
                 "lea 1f(%%rip), %0\n\t"
                 "1: mov %%dr7, %%rax" : "=&r"(at) :: "rax", "memory");
    printk("gd.events: %u\n", nev - first);
    print_event("gd", last(0));
    printk("gd.at_mov: %u\n", last(0)->f[1] == at);
}

/* ERETS to the next two NOPs with RFLAGS.IF = 1 and SS given, a fixed interrupt pending:
 * returns whether it was taken at the first NOP (0), the second (1), or elsewhere (2). */
static u64 erets_with_pending_irq(u64 ss_bits)
{
    u64 first_nop, second_nop;
    unsigned int before = nev;
    apic_write(APIC_ICR, ICR_SELF | 0x42);          /* pending: IF = 0 here */
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rsp, %%r12\n\t"
                 "and $~63, %%rsp\n\t"
                 "push %2\n\t push %%r12\n\t push %3\n\t push %4\n\t push %%rax\n\t push $0\n\t"
                 ASM_ERETS
                 "1: nop\n"
                 "2: nop\n\t"
                 "cli\n\t"
                 "lea 1b(%%rip), %0\n\t"
                 "lea 2b(%%rip), %1"
                 : "=&r"(first_nop), "=&r"(second_nop)
                 : "r"(SEL_DATA | ss_bits), "r"(RFLAGS_FIXED | RFLAGS_IF), "r"((u64)SEL_CODE64)
                 : "rax", "r12", "memory");
    if (nev != before + 1 || type_of(last(0)) != 0)
        return 2;
    return last(0)->f[1] == first_nop ? 0 : last(0)->f[1] == second_nop ? 1 : 2;
}

/* ERETS to the next instruction with SS given; returns that instruction's address. */
static u64 erets_next(u64 ss_bits)
{
    u64 next;
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rsp, %%r12\n\t"
                 "and $~63, %%rsp\n\t"
                 "push %1\n\t push %%r12\n\t push $2\n\t push %2\n\t push %%rax\n\t push $0\n\t"
                 ASM_ERETS
                 "1: lea 1b(%%rip), %0"
                 : "=&r"(next) : "r"(SEL_DATA | ss_bits), "r"((u64)SEL_CODE64) : "rax", "r12", "memory");
    return next;
}

/* Block NMIs: an NMI whose handler returns with SS bit 18 clear; a second one is then held. */
static void nmi_block_and_hold(void)
{
    nmi_keep_blocked = 1;
    apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);
    asm volatile("nop; nop" ::: "memory");
    apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);
    asm volatile("nop; nop; nop; nop" ::: "memory");
}

/* ERETS' STI_block (SS bit 16) and ERETS'/ERETU's NMI_unblock (SS bit 18), SDM ERETS, ERETU
 * "Operation": "IF STI_block = 1 AND RFLAGS.IF = 1 AND STI blocking was not in effect prior to
 * ERETS THEN establish STI blocking"; "IF NMI_unblock = 1 THEN unblock NMIs". */
static void eret_event_state(void)
{
    printk("sti_erets.taken_at: %lu\n", erets_with_pending_irq(SS_STI));
    printk("no_sti_erets.taken_at: %lu\n", erets_with_pending_irq(0));

    unsigned int n0 = nmis;
    nmi_block_and_hold();
    printk("nmi_keep.taken: %u\n", nmis - n0);
    unsigned int first = nev;
    u64 target = erets_next(0);
    printk("nmi_keep.after_erets_without_bit18: %u\n", nmis - n0);
    target = erets_next(SS_NMI);
    printk("nmi_erets.taken: %u\n", nmis - n0);
    printk("nmi_erets.events: %u\n", nev - first);
    printk("nmi_erets.at_target: %u\n", type_of(last(0)) == 2 && last(0)->f[1] == target);

    n0 = nmis;
    nmi_block_and_hold();
    printk("nmi_keep3.taken: %u\n", nmis - n0);
    first = nev;
    fred_exec_user_frame((u64)(uintptr_t)user_exit, user_stack_top & ~63UL, RFLAGS_FIXED, SEL_USER_CODE64, SEL_USER_DATA | SS_NMI);
    printk("nmi_eretu.taken: %u\n", nmis - n0);
    print_event("nmi_eretu", &ev[first]);
    printk("nmi_eretu.at_user_exit: %u\n", ev[first].f[1] == (u64)(uintptr_t)user_exit);
}

/* An NMI whose delivery faults (docs/fred-readings.md D8): the NMI's stack level is raised to 2
 * and IA32_FRED_RSP2's top page unmapped, so the NMI frame's first write raises #PF, a nested
 * exception delivered on its own level (1: IA32_FRED_RSP1) whose handler maps the page and
 * returns with ERETS. NMIs are blocked when an NMI's delivery is done, after its frame (the
 * delivery pseudocode's order); that NMI was never delivered, so a second NMI is taken at once. */
static void nmi_delivery_fault(void)
{
    u8 *page = fred_stack[2] + sizeof fred_stack[2] - 4096;
    wrmsr(MSR_FRED_STKLVLS, (STKLVLS & ~STKLVL(2, 3)) | STKLVL(2, 2));
    pte_clear(page, PTE_P);
    invlpg(page);
    pf_fix_page = (u64)(uintptr_t)page;
    unsigned int n0 = nmis, first = nev;
    apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);
    asm volatile("nop; nop; nop; nop" ::: "memory");
    printk("nmi_fault.events: %u\n", nev - first);
    printk("nmi_fault.first_type: %lu\n", type_of(&ev[first]));
    printk("nmi_fault.first_vector: %lu\n", vector_of(&ev[first]));
    printk("nmi_fault.first_nested: %lu\n", (ev[first].f[5] >> 58) & 1);
    printk("nmi_fault.cr2_in_rsp2_page: %u\n", (read_cr2() & ~0xfffUL) == (u64)(uintptr_t)page);
    printk("nmi_fault.nmis: %u\n", nmis - n0);
    apic_write(APIC_ICR, ICR_SELF | ICR_NMI | ICR_ASSERT);
    asm volatile("nop; nop; nop; nop" ::: "memory");
    printk("nmi_fault.second_nmis: %u\n", nmis - n0);
    wrmsr(MSR_FRED_STKLVLS, STKLVLS);
}

/* ERETU to compatibility mode. A selector pair other than STAR's is loaded from the GDT "as is
 * done by IRET, including checks that may lead to a fault" (SDM ERETU "Operation"): here a
 * DPL-3 32-bit code segment whose limit ends past u32_exit's page. For compatibility mode,
 * "newRIP[63:32] := 0" before "IF newRIP > CS limit THEN #GP(0)": a RIP beyond this limit
 * faults, a non-canonical RIP returned to STAR's flat compatibility segment (limit 4 GiB) does
 * not. SYSENTER in compatibility mode under FRED is event type 7, vector 2 (SDM SYSENTER). */
static void compat_mode(void)
{
    u64 sp = user_stack_top & ~63UL;
    u64 pages = ((u64)(uintptr_t)u32_exit >> 12) + 1;
    u64 limit = ((pages + 1) << 12) - 1;
    user_gdt[SEL_SPARE / 8] = seg_descriptor(0, (u32)pages, 0xfa, 0xc);
    unsigned int first = nev;
    u64 v = fred_exec_user_frame((u64)(uintptr_t)u32_prog, sp, RFLAGS_FIXED, SEL_USER_COMPAT, SEL_USER_DATA);
    printk("compat.exit: 0x%lx\n", v);
    printk("compat.events: %u\n", nev - first);
    print_event("sysenter32", &ev[first]);
    printk("sysenter32.rip_next: %u\n", ev[first].f[1] == (u64)(uintptr_t)u32_sysenter_next);
    print_event("exit32", &ev[first + 1]);

    eret_case("eretu_compat_limit", 1, limit + 1, SEL_USER_COMPAT, 2, sp, SEL_USER_DATA);

    first = nev;
    v = fred_exec_user_frame(0x8000000000000000UL | (u64)(uintptr_t)u32_exit, sp, RFLAGS_FIXED, SEL_USER_CODE32, SEL_USER_DATA);
    printk("compat_noncanon.exit: 0x%lx\n", v);
    printk("compat_noncanon.events: %u\n", nev - first);
    printk("compat_noncanon.cs: 0x%lx\n", ev[first].f[2] & 0xffff);
    printk("compat_noncanon.ss_l: %lu\n", (ev[first].f[5] >> 57) & 1);

    /* STAR's compatibility segment reaches 4 GiB: RIP FFFFF000H passes ERETU's limit check and
     * the fetch there is a user #PF (the page is not mapped). */
    first = nev;
    fixup_cs = SEL_USER_CODE64;
    fixup = (u64)(uintptr_t)user_exit;
    v = fred_exec_user_frame(0xfffff000UL, sp, RFLAGS_FIXED, SEL_USER_CODE32, SEL_USER_DATA);
    printk("compat_top.exit: 0x%lx\n", v);
    print_event("compat_top", &ev[first]);
}

/* What Bochs does otherwise (docs/fred-readings.md): ERETU compares all 16 bits of tempCS with
 * STAR's selectors, so CS 8033H is loaded from the GDT (index 1006H: beyond its limit, #GP with
 * that selector); IA32_FRED_CONFIG's WRMSR rejects a non-canonical entry point (#GP(0));
 * SYSCALL under FRED does not look at EFER.SCE (SDM SYSCALL). */
static void checks_elsewhere(void)
{
    u64 sp = user_stack_top & ~63UL;
    eret_case("eretu_cs_bit15", 1, (u64)(uintptr_t)user_exit, 0x8000 | SEL_USER_CODE64, 2, sp, SEL_USER_DATA);

    u64 cfg = rdmsr(MSR_FRED_CONFIG), at;
    unsigned int before = nev;
    asm volatile("lea 2f(%%rip), %%rbx\n\t"
                 "mov %%rbx, fixup(%%rip)\n\t"
                 "lea 1f(%%rip), %0\n\t"
                 "1: wrmsr\n\t"
                 "2:" : "=&r"(at) : "c"(MSR_FRED_CONFIG), "a"((u32)cfg), "d"((u32)(cfg >> 32) | 0x80000000u) : "rbx", "memory");
    printk("config_noncanon.events: %u\n", nev - before);
    printk("config_noncanon.vector: 0x%lx\n", vector_of(last(0)));
    printk("config_noncanon.error: 0x%lx\n", last(0)->f[0]);
    printk("config_noncanon.at_wrmsr: %u\n", last(0)->f[1] == at);
    printk("config_noncanon.unchanged: %u\n", rdmsr(MSR_FRED_CONFIG) == cfg);

    printk("efer.sce: %lu\n", rdmsr(MSR_EFER) & EFER_SCE);
}

#ifdef FRED_TRIPLE
/* A fault while delivering #DF: shutdown (SDM Vol. 3A §6.15, Interrupt 8; FRED changes only
 * the stack). The #PF's level-1 stack and #DF's level-3 stack are both unmapped. */
static void triple_fault(void)
{
    pte_clear(bad_stack[0], PTE_P);
    pte_clear(bad_stack[1], PTE_P);
    invlpg(bad_stack[0]);
    invlpg(bad_stack[1]);
    wrmsr(MSR_FRED_RSP0 + 1, (u64)(uintptr_t)bad_stack[1] + 4096);
    wrmsr(MSR_FRED_RSP0 + 3, (u64)(uintptr_t)bad_stack[0] + 4096);
    printk("triple: expecting a triple fault now\n");
    asm volatile("mov (%0), %%rax" :: "r"(hole) : "rax", "memory");
    test_fail("triple: the run continued after a fault during #DF delivery");
}
#endif

void test_main(void)
{
    if (!(cpuid(7, 1).eax & (1u << 17))) {
        printk("FRED not enumerated\n");
        test_skip("FRED not enumerated");
        return;
    }
    ring3_init();
    /* STAR[63:48] as Linux writes it (__USER32_CS, RPL 3): ERETU's standard selectors. */
    wrmsr(MSR_STAR, ((u64)SEL_USER_CODE32 << 48) | ((u64)SEL_CODE64 << 32));
    wrmsr(MSR_GS_BASE, GS_KERNEL);
    wrmsr(MSR_KERNEL_GS_BASE, GS_USER);
    for (int l = 0; l < 4; l++)
        wrmsr(MSR_FRED_RSP0 + l, stack_top(l));
    wrmsr(MSR_FRED_STKLVLS, STKLVLS);
    wrmsr(MSR_FRED_CONFIG, (u64)(uintptr_t)fred_entry_user | (REDZONE_LINES << 6) | (INT_LEVEL << 9));
    write_cr4(read_cr4() | CR4_FRED);
    printk("cr4.fred: %lu\n", (read_cr4() >> 32) & 1);
    printk("config.entry: 0x%lx\n", (u64)(uintptr_t)fred_entry_user);
    for (int l = 0; l < 4; l++)
        printk("rsp%d: 0x%lx\n", l, stack_top(l));
    printk("redzone_lines: %d\n", REDZONE_LINES);

    pte_clear(hole, PTE_P);
    invlpg(hole);
    ring0_events();
    interrupts();
    ring3();
    eret_checks();
    double_faults();
    eretu_pending_db();
    eret_event_state();
    nmi_delivery_fault();
    compat_mode();
    checks_elsewhere();
#ifdef FRED_TRIPLE
    triple_fault();
#endif
}
