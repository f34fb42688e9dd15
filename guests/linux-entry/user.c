/*
 * linux-entry: the user programs (CPL 3), in the spirit of Linux's
 * tools/testing/selftests/x86 (sysret_rip.c, sysret_ss_attrs.c, single_step_syscall.c,
 * syscall_nt.c, test_syscall_vdso.c).  Each prints every observation as `name: value` through
 * the write() system call, and checks it against the SDM (Intel) or the APM (AMD), by the
 * vendor CPUID reports; a mismatch prints `FAIL: ...` and counts, and the program returns the
 * count as its exit code.
 *
 * Faults of a program reach its handler (rt_sigaction here: one handler, the kernel's signal
 * stack) with the state in vvar.sig; the handler longjmps back into the program.
 *
 * Under FRED (vvar.fred: the kernel enabled it) the programs expect the FRED specification's
 * and the FRED-era SDM pages' answers instead, each cited where it differs: SYSCALL, SYSENTER
 * and INT n are events delivered like any other and change no register (SDM SYSCALL,
 * SYSENTER: "Operation", the CR4.FRED = 1 branch), every return is ERETU, SYSRET and SYSEXIT
 * are #UD, and ERETU pends a single-step trap for an event that was software-initiated when
 * the flags it restores have TF (SDM ERETU: the SS bit 17 it pops).
 */
#include "linux.h"
#include "mix.h"
#include "xen.h"

struct ujmp { u64 rbx, rbp, r12, r13, r14, r15, rsp, rip; };
int usetjmp(struct ujmp *j) __attribute__((returns_twice));
NORETURN void ulongjmp(struct ujmp *j);

struct probe {
    u64 in[15];         /* rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11 r12 r13 r14 r15 */
    u64 flags_in;
    u64 out[15];
    u64 flags_out;
};
void probe_syscall(struct probe *p);
extern char probe_syscall_ret[];
u64 probe_int80_64(u64 poison);
void flags_syscall(u64 set, u64 *after);
u64 user_iret_self(void);
u64 bench_getpid(u64 n);
u64 call32(u32 fn);
extern char test_ss32[], compat32_int80[], compat32_sysenter[], compat32_syscall[];
extern char vsyscall_sysenter[], vsyscall_syscall[], vdso32_landing_pad[], vdso32_int80[];
extern volatile u32 compat_out[2];
extern volatile u64 step_rcx, step_r11;
extern char step_syscall[], step_syscall_1[], step_syscall_2[], step_syscall_3[], step_syscall_4[],
    step_syscall_5[], step_syscall_6[], step_syscall_7[];
extern char step_int80[], step_int80_1[], step_int80_2[], step_int80_3[], step_int80_4[],
    step_int80_5[], step_int80_6[], step_int80_7[];
extern char step32_int80[], step32_int80_1[], step32_int80_2[], step32_int80_3[], step32_int80_4[],
    step32_int80_5[];
extern char step32_sysenter[], step32_sysenter_1[], step32_sysenter_2[], step32_sysenter_3[],
    step32_sysenter_4[], step32_sysenter_5[];
void step_syscall_run(void) __asm__("step_syscall");
void step_int80_run(void) __asm__("step_int80");

#define HIGH_PAGE 0x7ffffffff000UL

static unsigned int ufails;
static struct ujmp fault_jmp;

static u64 usys(u64 nr, u64 a, u64 b, u64 c)
{
    asm volatile("syscall" : "+a"(nr) : "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return nr;
}

static void uprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void uprintf(const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintk(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    usys(NR_write, 1, (u64)(uintptr_t)buf, (u64)n);
}

static void ufail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ufail(const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintk(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    uprintf("FAIL: %s\n", buf);
    ufails++;
}

/* Print `name: 0x...` and check it. */
static void expect(const char *name, u64 got, u64 want, const char *cite)
{
    uprintf("%s: 0x%lx\n", name, got);
    if (got != want)
        ufail("%s is 0x%lx, expected 0x%lx (%s)", name, got, want, cite);
}

static void expect_str(const char *name, const char *got, const char *want, const char *cite)
{
    uprintf("%s: %s\n", name, got);
    if (strcmp(got, want))
        ufail("%s is %s, expected %s (%s)", name, got, want, cite);
}

/* A line where QEMU TCG departs from the manual (test/qemu-deviations.ts): the guest accepts
 * QEMU's value so that it passes under QEMU; the cross-check holds Ringside to the manual's. */
static void expect_either(const char *name, const char *got, const char *want, const char *qemu, const char *cite)
{
    uprintf("%s: %s\n", name, got);
    if (strcmp(got, want) && strcmp(got, qemu))
        ufail("%s is %s, expected %s (%s)", name, got, want, cite);
}

static bool amd(void)
{
    return cpuid(0, 0).ebx == 0x68747541;
}

static bool fred(void)
{
    return vvar.fred != 0;
}

static const char *exit_name(u64 e)
{
    return e == EXIT_SYSRET ? "sysret" : e == EXIT_IRET ? "iret" : e == EXIT_SYSRETL ? "sysretl" :
           e == EXIT_ERETU ? "eretu" : "?";
}

/* A Xen PV kernel with today's entry: Linux's do_syscall_64 "XEN PV guests always use the
 * IRET path" (afd30525a659); with xen_entry=2016 the native checks choose, and "sysret" is
 * xen_sysret64 (HYPERVISOR_iret with VGCF_in_syscall). */
static bool xen_iret_only(void)
{
    return k_xenpv && k_xen_entry == XEN_ENTRY_TODAY;     /* kernel data, user-readable here */
}

/* The exit Linux takes where an IDT kernel would take `idt` (SYSRET, SYSRETL or IRET). */
static const char *exit_want(const char *idt)
{
    return fred() ? "eretu" : xen_iret_only() && !strcmp(idt, "sysret") ? "iret" : idt;
}

static const char *vec_name(u64 v)
{
    switch (v) {
    case 1: return "#DB";
    case 6: return "#UD";
    case 11: return "#NP";
    case 12: return "#SS";
    case 13: return "#GP";
    case 14: return "#PF";
    default: return "#?";
    }
}

static bool fault_armed;

/* The handler: back to the usetjmp of the TRY that expected a fault; any other fault ends the
 * program with 128 + vector. */
static void on_fault(u64 vector, volatile struct usig *s)
{
    if (fault_armed) {
        fault_armed = false;
        ulongjmp(&fault_jmp);
    }
    uprintf("unexpected fault: %s(0x%lx) at 0x%lx cs 0x%lx\n", vec_name(vector), s->error, s->regs.ip, s->regs.cs);
    usys(NR_exit, 128 + vector, 0, 0);
    __builtin_unreachable();
}

/* Run `stmt`, which may fault; true if it did (the fault is in vvar.sig). */
#define TRY(stmt) ({                                        \
        u64 before_ = vvar.sig.count;                       \
        fault_armed = true;                                 \
        if (usetjmp(&fault_jmp) == 0) { stmt; }             \
        fault_armed = false;                                \
        vvar.sig.count != before_;                          \
    })

static void install_handler(void)
{
    ufails = 0;
    usys(NR_rt_sigaction, (u64)(uintptr_t)on_fault, 0, 0);
}

/* ------------------------------------------------------------------ RCX / R11 -- */
/*
 * SDM Vol. 2B SYSCALL "Operation": RCX := RIP (the next instruction), R11 := RFLAGS; SYSRET:
 * RFLAGS := (R11 & 3C7FD7H) | 2.  The kernel keeps every other register (Linux's ABI: rax is
 * the result).  RF is 0 at CPL 3 here, so R11 holds the flags exactly (Linux's old entry
 * comment: SYSCALL "clears rflags.RF, then saves rflags to r11").  The probe's flags are hpa's
 * sentinel 0x200893 (ID, OF, SF, AF, CF); POPFQ at CPL 3 with IOPL 0 leaves IF = 1 as it was.
 */
u64 prog_syscall_regs(void)
{
    static struct probe p;
    const char *cite = "SDM Vol. 2B SYSCALL/SYSRET Operation";
    install_handler();

    for (unsigned int i = 0; i < 15; i++)
        p.in[i] = 0x0101010101010101UL * (i + 1);
    p.in[0] = NR_getpid;
    p.in[2] = 0x5ca1ab1e0b57ac1eUL;
    p.in[10] = 0xfeedfacedeadbeefUL;
    p.flags_in = 0x200893;
    probe_syscall(&p);
    u64 exit = vvar.last_exit;
    u16 cs, ss;
    asm volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));

    expect("syscall_regs.rax", p.out[0], TEST_PID, "getpid");
    if (fred()) {
        /* SDM SYSCALL, CR4.FRED = 1: FRED event delivery, "SYSCALL does not modify RCX or R11";
         * Linux's FRED pt_regs hold the user's own, which ERETU gives back (the selftest's
         * REGS_SAVED). */
        expect("syscall_regs.rcx", p.out[2], p.in[2], "SDM SYSCALL under FRED: RCX kept");
        expect("syscall_regs.r11", p.out[10], p.in[10], "SDM SYSCALL under FRED: R11 kept");
    } else {
        uprintf("syscall_regs.rcx: %s\n", p.out[2] == (u64)(uintptr_t)probe_syscall_ret ? "probe_syscall_ret" : "other");
        if (p.out[2] != (u64)(uintptr_t)probe_syscall_ret)
            ufail("RCX is 0x%lx, not the address after SYSCALL (%s)", p.out[2], cite);
        expect("syscall_regs.r11", p.out[10], 0x200a93, cite);
    }
    expect("syscall_regs.rflags", p.flags_out, 0x200a93, cite);
    unsigned int kept = 0;
    static const unsigned int preserved[] = { 1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14 };
    for (unsigned int i = 0; i < ARRAY_SIZE(preserved); i++)
        kept += p.out[preserved[i]] == p.in[preserved[i]];
    expect("syscall_regs.preserved", kept, ARRAY_SIZE(preserved), "rbx rdx rsi rdi rbp r8-r10 r12-r15");
    if (k_xenpv && k_xen_entry == XEN_ENTRY_2016) {
        /* HYPERVISOR_iret with VGCF_in_syscall: "Discard R11, RCX, CS, SS" (xen-x86_64.h);
         * Xen's SYSRET loads its own IA32_STAR's selectors (XEN_MSR_STAR: FLAT_RING3_CS32 in
         * bits 63:48, so CS 0xe033 and SS 0xe02b). */
        expect("syscall_regs.cs", cs, FLAT_USER_CS64, "Xen's SYSRET: CS = XEN_MSR_STAR[63:48] + 16 | 3");
        expect("syscall_regs.ss", ss, FLAT_USER_SS, "Xen's SYSRET: SS = XEN_MSR_STAR[63:48] + 8 | 3");
    } else {
        expect("syscall_regs.cs", cs, __USER_CS, "SYSRET: CS = IA32_STAR[63:48] + 16 | 3");
        expect("syscall_regs.ss", ss, __USER_DS, "SYSRET: SS = IA32_STAR[63:48] + 8 | 3");
    }
    expect_str("syscall_regs.exit", exit_name(exit), exit_want("sysret"), "Linux: every SYSRET check holds; FRED: ERETU");
    return ufails;
}

/* ----------------------------------------------------------------- sysret_rip -- */
/*
 * A return to a non-canonical RIP (SDM Vol. 3A §3.3.7.1; bits 63:47 not all equal): Linux's
 * do_syscall_64 refuses SYSRET for it and returns with IRET, whose 64-bit return checks the
 * RIP and raises #GP(0) at CPL 0 before anything changes (SDM IRET "Operation"; APM IRET the
 * same); the kernel turns that into a fault of the program at the RIP it asked for (Linux:
 * SIGSEGV at that RIP).  (1) rt_sigreturn to RIP = RCX = 1 << i, i = 47..63; (2) a SYSCALL in
 * the last two bytes of the page below 2^47, whose return address 0x800000000000 is the first
 * non-canonical one (sysret_rip.c's test_syscall_fallthrough_to).
 */
static void sigreturn_to(u64 rip, u64 sp)
{
    static struct uregs u;
    memset(&u, 0, sizeof(u));
    u.regs.ip = u.regs.cx = rip;
    u.regs.flags = u.regs.r11 = X86_EFLAGS_FIXED | X86_EFLAGS_IF;
    u.regs.cs = __USER_CS;
    u.regs.ss = __USER_DS;
    u.regs.sp = sp;
    usys(NR_rt_sigreturn, (u64)(uintptr_t)&u, 0, 0);
}

static u8 scratch_stack[4096] __attribute__((aligned(16)));

/* `prefix[.i].fault: #GP(0x0) at iretq` (where the fault was taken: the kernel's IRETQ, or user
 * mode after a return that did not check) and `prefix[.i].ip: the RIP of the fault`. */
static void report_return_fault(const char *prefix, unsigned int i, bool faulted, u64 rip, const char *cite)
{
    char name[64], got[64];
    u64 kip = vvar.sig.kernel_ip;
    if (i)
        snprintk(name, sizeof(name), "%s.%u.fault", prefix, i);
    else
        snprintk(name, sizeof(name), "%s.fault", prefix);
    if (faulted)
        snprintk(got, sizeof(got), "%s(0x%lx) at %s", vec_name(vvar.sig.vector), vvar.sig.error,
                 kip == (u64)(uintptr_t)native_irq_return_iret ? "iretq" : kip == (u64)(uintptr_t)asm_fred_eretu ? "eretu" :
                 kip ? "kernel?" : "user");
    else
        snprintk(got, sizeof(got), "none");
    if (fred())
        expect_str(name, got, "#GP(0x0) at eretu", "SDM ERETU: #GP(0) for a non-canonical RIP with CS.L = 1");
    else
        expect_either(name, got, "#GP(0x0) at iretq", "#GP(0x0) at user", cite);
    memcpy(name + strlen(name) - 5, "ip", 3);
    expect(name, vvar.sig.regs.ip, rip, cite);
}

u64 prog_sysret_rip(void)
{
    const char *cite = "SDM IRET: #GP(0) for a non-canonical return RIP; Linux's SYSRET checks";
    install_handler();
    for (unsigned int i = 47; i < 64; i++) {
        bool faulted = TRY(sigreturn_to(1UL << i, (u64)(uintptr_t)(scratch_stack + sizeof(scratch_stack))));
        report_return_fault("sysret_rip.sigreturn", i, faulted, 1UL << i, cite);
    }

    bool faulted = TRY({
        asm volatile("jmp *%0" :: "r"(HIGH_PAGE + PAGE_SIZE - 2), "a"(NR_getpid), "c"(STEP_RCX_SENTINEL) : "memory");
        __builtin_unreachable();
    });
    report_return_fault("sysret_rip.fallthrough", 0, faulted, 0x800000000000UL, cite);
    if (fred())
        expect("sysret_rip.fallthrough.rcx", vvar.sig.regs.cx, STEP_RCX_SENTINEL, "SDM SYSCALL under FRED: RCX kept");
    else
        expect("sysret_rip.fallthrough.rcx", vvar.sig.regs.cx, 0x800000000000UL, "SDM SYSCALL: RCX = the next RIP");
    expect("sysret_rip.fallthrough.rax", vvar.sig.regs.ax, TEST_PID, "getpid completed");
    return ufails;
}

/*
 * The same return with the kernel's checks off (k_unsafe_sysret): SYSRET with RCX = 2^47.
 * Intel (SDM SYSRET "Operation": "IF RCX is not canonical THEN #GP(0)", before CPL changes):
 * #GP(0) at CPL 0 on the SYSRETQ, with RSP already the user's (the CVE-2012-0217 trap).  AMD
 * (APM Vol. 3 SYSRET: no canonical check): SYSRET completes, and the fetch at 2^47 faults at
 * CPL 3 with #GP(0) (APM Vol. 2 §5.3.1: a non-canonical reference raises #GP).
 */
u64 prog_sysret_rip_unsafe(void)
{
    install_handler();
    if (fred()) {
        uprintf("sysret_rip.unsafe: no SYSRET under FRED (SDM SYSRET: #UD if CR4.FRED = 1)\n");
        return 0;
    }
    u64 sp = (u64)(uintptr_t)(scratch_stack + sizeof(scratch_stack)) - 64;
    bool faulted = TRY(sigreturn_to(1UL << 47, sp));
    u64 kip = vvar.sig.kernel_ip;
    expect_str("sysret_rip.unsafe.fault", faulted ? vec_name(vvar.sig.vector) : "none", "#GP",
               amd() ? "APM Vol. 2 §5.3.1" : "SDM SYSRET");
    expect("sysret_rip.unsafe.error", vvar.sig.error, 0, "#GP(0)");
    if (amd()) {
        expect_str("sysret_rip.unsafe.where", kip ? "kernel" : "user", "user", "APM Vol. 3 SYSRET: no canonical check");
        expect("sysret_rip.unsafe.ip", vvar.sig.regs.ip, 1UL << 47, "the fetch at the new RIP faults");
    } else {
        expect_either("sysret_rip.unsafe.where", kip == (u64)(uintptr_t)entry_SYSRETQ ? "kernel" : kip ? "kernel?" : "user",
                      "kernel", "user", "SDM SYSRET: #GP(0) at CPL 0");
        expect("sysret_rip.unsafe.rsp_is_user", vvar.sig.regs.sp == sp, 1, "SDM SYSRET: RSP is not changed");
    }
    return ufails;
}

/* ------------------------------------------------------------ sysret_ss_attrs -- */
/*
 * After sched_yield (which leaves SS null in the kernel, kernel.c), SYSRET returns.  Intel
 * loads SS's hidden part with fixed attributes (SDM SYSRET "Operation": SS.Type 3, DPL 3, P, B,
 * G...).  AMD loads only the selector (APM Vol. 3 SYSRET; Linux X86_BUG_SYSRET_SS_ATTRS: "SS is
 * apparently equal to __USER_DS but causes #SS if used", commit 61f01dd941ba).  So `mov %ss`
 * and LAR (which reads the GDT, not the hidden part: SDM LAR) see 0x2b and its descriptor on
 * both, and a 32-bit stack access in compatibility mode (where SS is checked) works on Intel and
 * raises #SS(0) on AMD unless the kernel reloaded SS (Linux's fix, on by default here); an IRETQ
 * at CPL 3 (which reloads SS from the GDT) repairs it.
 */
static u64 ss_attrs(const char *prefix, bool fixed)
{
    install_handler();
    u16 ss;
    u32 ar = 0;
    u8 zf;
    usys(NR_sched_yield, 0, 0, 0);
    u64 exit = vvar.last_exit;
    asm volatile("mov %%ss, %0" : "=r"(ss));
    asm volatile("lar %2, %0; setz %1" : "=r"(ar), "=q"(zf) : "r"((u32)ss) : "cc");
    bool faulted = TRY(call32((u32)(uintptr_t)test_ss32));
    u64 v = vvar.sig.vector, e = vvar.sig.error;
    u64 iret_ss = user_iret_self();
    bool faulted_after = TRY(call32((u32)(uintptr_t)test_ss32));

    char name[64], got[32];
    snprintk(name, sizeof(name), "%s.exit", prefix);
    expect_str(name, exit_name(exit), exit_want("sysret"), "Linux: every SYSRET check holds; FRED: ERETU");
    snprintk(name, sizeof(name), "%s.ss", prefix);
    expect(name, ss, __USER_DS, "SDM/APM SYSRET: SS.Selector = IA32_STAR[63:48] + 8 | 3");
    /* LAR's 32-bit result is the descriptor's second dword & 00F0FF00H (SDM LAR); the accessed
     * bit (8) is left out of the comparison: it depends on which loads set it. */
    snprintk(name, sizeof(name), "%s.lar", prefix);
    expect(name, zf ? ar & ~0x100u : ~0u, 0x00c0f200, "SDM LAR: G, D/B, P, DPL 3, S, type 2 of GDT entry 0x2b");
    snprintk(name, sizeof(name), "%s.compat_stack", prefix);
    if (faulted)
        snprintk(got, sizeof(got), "%s(0x%lx)", vec_name(v), e);
    else
        snprintk(got, sizeof(got), "ok");
    if (amd() && !fixed)
        expect_either(name, got, "#SS(0x0)", "ok", "APM Vol. 3 SYSRET loads only SS.Selector");
    else
        expect_str(name, got, "ok", amd() ? "Linux reloads SS" : "SDM SYSRET loads SS's attributes");
    snprintk(name, sizeof(name), "%s.iret_ss", prefix);
    expect(name, iret_ss, __USER_DS, "SDM IRET pops SS");
    snprintk(name, sizeof(name), "%s.compat_stack_after_iret", prefix);
    expect_str(name, faulted_after ? vec_name(vvar.sig.vector) : "ok", "ok", "SDM/APM IRET loads SS from the GDT");
    return ufails;
}

u64 prog_ss_attrs_fixed(void)
{
    return ss_attrs("sysret_ss_attrs.fixed", true);
}

u64 prog_ss_attrs_unfixed(void)
{
    return ss_attrs("sysret_ss_attrs.unfixed", false);
}

/* ------------------------------------------------------------------ single step -- */
/*
 * TF across system calls (single_step_syscall.c).  The kernel's #DB handler logs each trap
 * from user mode (vvar.user_log) and each from the SYSENTER entry (vvar.kernel_log).
 * - SDM Vol. 3B §18.3.1.4: a POPF that sets TF is not trapped; then a trap follows each
 *   instruction (RIP = the next one), also the POPF that clears TF.
 * - SYSCALL: FMASK clears TF, and SYSCALL traps on the TF it leaves (kvm-unit-tests
 *   x86/syscall.c, on hardware: "#DB is raised if TF is 1 at the *end* of syscall/sysret";
 *   XTF xsa-204): no trap at CPL 0.  The kernel returns with IRET (TF in the frame: Linux),
 *   which traps after the first user instruction; so no trap lands on the instruction after
 *   SYSCALL.  RCX and R11 still hold the return RIP and RFLAGS (with TF): hpa's invariant.
 * - With SYSRET (k_unsafe_sysret): SYSRET loads TF = 1 and traps at once, before the first
 *   user instruction (same sources; Linux: "restoring TF results in a trap from userspace
 *   immediately after SYSRET").
 * - INT n clears TF on delivery (SDM §6.12.1.3), so no trap for it; IRET restores TF.
 * - SYSENTER clears only IF and VM (SDM SYSENTER), so TF traps at CPL 0 at the entry and on
 *   every entry instruction until the POPFQ clears it (Linux's is_sysenter_singlestep).  AMD:
 *   SYSENTER is #UD in long mode (APM Vol. 3 SYSENTER).
 * - FRED: SYSCALL, SYSENTER and INT n are delivered as events (RFLAGS cleared: no trap at CPL
 *   0), their frame's SS bit 17 says software-initiated, and ERETU with that bit and TF = 1
 *   pends a single-step #DB before the first instruction it returns to (SDM ERETU
 *   "Operation"): one more trap, at the return address (for SYSENTER, the landing pad the
 *   kernel returns to).  RCX and R11 keep the sequence's sentinels (SDM SYSCALL under FRED).
 */
struct label { const char *name; const char *at; };

static void print_label(char *buf, size_t n, u64 ip, const struct label *labels, unsigned int count)
{
    const struct label *best = NULL;
    for (unsigned int i = 0; i < count; i++)
        if ((u64)(uintptr_t)labels[i].at <= ip && (!best || labels[i].at > best->at))
            best = &labels[i];
    if (best && ip - (u64)(uintptr_t)best->at < 256) {
        if (ip == (u64)(uintptr_t)best->at)
            snprintk(buf, n, "%s", best->name);
        else
            snprintk(buf, n, "%s+0x%lx", best->name, ip - (u64)(uintptr_t)best->at);
    } else {
        snprintk(buf, n, "0x%lx", ip);
    }
}

/* `prefix.traps: where each logged trap landed`, `prefix.trap_cs`, `prefix.trap_bs` (DR6.BS set in
 * every one: SDM Vol. 3B §18.2.3).  The list is checked against `want` unless `qemu` (a known
 * QEMU deviation, one string) matches instead. */
static void check_traps(const char *prefix, const struct label *labels, unsigned int nlabels,
                        const char *want, const char *qemu, const char *cite)
{
    u64 n = vvar.user_traps;
    char name[64], at[48], list[512];
    size_t len = 0;
    u64 cs = n ? vvar.user_log[0].cs : 0;
    bool bs = true;
    list[0] = 0;
    for (u64 i = 0; i < n && i < TRAP_LOG_MAX; i++) {
        print_label(at, sizeof(at), vvar.user_log[i].ip, labels, nlabels);
        len += snprintk(list + len, sizeof(list) - len, "%s%s", i ? " " : "", at);
        if (vvar.user_log[i].cs != cs)
            cs = ~0UL;
        bs = bs && (vvar.user_log[i].dr6 & (1UL << 14));
    }
    snprintk(name, sizeof(name), "%s.traps", prefix);
    if (qemu)
        expect_either(name, list, want, qemu, cite);
    else
        expect_str(name, list, want, cite);
    snprintk(name, sizeof(name), "%s.trap_cs", prefix);
    uprintf("%s: 0x%lx\n", name, cs);
    snprintk(name, sizeof(name), "%s.trap_bs", prefix);
    expect_str(name, bs ? "all" : "not all", "all", "SDM Vol. 3B §18.2.3: DR6.BS");
}

#define L(sym) { #sym, sym }

static const struct label syscall_labels[] = {
    L(step_syscall), L(step_syscall_1), L(step_syscall_2), L(step_syscall_3), L(step_syscall_4),
    L(step_syscall_5), L(step_syscall_6), L(step_syscall_7),
};
static const struct label int80_labels[] = {
    L(step_int80), L(step_int80_1), L(step_int80_2), L(step_int80_3), L(step_int80_4),
    L(step_int80_5), L(step_int80_6), L(step_int80_7),
};
static const struct label step32_labels[] = {
    L(step32_int80), L(step32_int80_1), L(step32_int80_2), L(step32_int80_3), L(step32_int80_4),
    L(step32_int80_5), L(step32_sysenter), L(step32_sysenter_1), L(step32_sysenter_2),
    L(step32_sysenter_3), L(step32_sysenter_4), L(step32_sysenter_5), L(vsyscall_sysenter),
    L(vdso32_int80), L(vdso32_landing_pad),
};
extern char sysenter_after_popfq[];
static const struct label kernel_labels[] = {
    L(entry_SYSENTER_compat), L(sysenter_after_popfq), L(__end_SYSENTER_singlestep_region),
};

u64 prog_single_step(void)
{
    const char *cite = "SDM Vol. 3B §18.3.1.4; kvm-unit-tests x86/syscall.c";
    install_handler();

    const char *fred_cite = "SDM ERETU: a software event's frame with TF pends #DB";
    vvar.user_traps = 0;
    step_syscall_run();
    u64 exit = vvar.last_exit;
    if (fred()) {
        check_traps("single_step.syscall", syscall_labels, ARRAY_SIZE(syscall_labels),
                    "step_syscall_2 step_syscall_3 step_syscall_4 step_syscall_5 step_syscall_6 step_syscall_7", NULL, fred_cite);
        expect_str("single_step.syscall.exit", exit_name(exit), "eretu", "FRED: ERETU");
        expect("single_step.syscall.rcx", step_rcx, STEP_RCX_SENTINEL, "SDM SYSCALL under FRED: RCX kept");
        expect("single_step.syscall.r11", step_r11, STEP_R11_SENTINEL, "SDM SYSCALL under FRED: R11 kept");
    } else {
        check_traps("single_step.syscall", syscall_labels, ARRAY_SIZE(syscall_labels),
                    "step_syscall_2 step_syscall_4 step_syscall_5 step_syscall_6 step_syscall_7", NULL, cite);
        expect_str("single_step.syscall.exit", exit_name(exit), "iret", "Linux: TF forces the IRET exit");
        uprintf("single_step.syscall.rcx: %s\n", step_rcx == (u64)(uintptr_t)step_syscall_3 ? "step_syscall_3" : "other");
        if (step_rcx != (u64)(uintptr_t)step_syscall_3)
            ufail("RCX after SYSCALL with TF is 0x%lx (SDM SYSCALL; Linux keeps RCX = return RIP on the IRET exit)", step_rcx);
        expect("single_step.syscall.r11_tf_if", step_r11 & (X86_EFLAGS_TF | X86_EFLAGS_IF),
               X86_EFLAGS_TF | X86_EFLAGS_IF, "R11 = RFLAGS at SYSCALL");
    }

    vvar.user_traps = 0;
    step_int80_run();
    check_traps("single_step.int80_64", int80_labels, ARRAY_SIZE(int80_labels),
                fred() ? "step_int80_2 step_int80_3 step_int80_4 step_int80_5 step_int80_6 step_int80_7"
                       : "step_int80_2 step_int80_4 step_int80_5 step_int80_6 step_int80_7", NULL,
                fred() ? fred_cite : "SDM §6.12.1.3: INT n clears TF");

    vvar.user_traps = 0;
    call32((u32)(uintptr_t)step32_int80);
    check_traps("single_step.int80_32", step32_labels, ARRAY_SIZE(step32_labels),
                fred() ? "step32_int80_2 step32_int80_3 step32_int80_4 step32_int80_5" : "step32_int80_2 step32_int80_4 step32_int80_5",
                NULL, fred() ? fred_cite : "SDM §6.12.1.3: INT n clears TF");

    vvar.user_traps = 0;
    vvar.kernel_traps = 0;
    bool faulted = TRY(call32((u32)(uintptr_t)step32_sysenter));
#define SYSENTER_STUB_TRAPS "step32_sysenter_2 vsyscall_sysenter vsyscall_sysenter+0x1 vsyscall_sysenter+0x2 " \
                            "vsyscall_sysenter+0x3 vsyscall_sysenter+0x5"
#define SYSENTER_BACK_TRAPS " vdso32_landing_pad+0x1 vdso32_landing_pad+0x2 vdso32_landing_pad+0x3 " \
                            "step32_sysenter_3 step32_sysenter_4 step32_sysenter_5"
    if (fred()) {
        check_traps("single_step.sysenter32", step32_labels, ARRAY_SIZE(step32_labels),
                    SYSENTER_STUB_TRAPS " vdso32_landing_pad" SYSENTER_BACK_TRAPS, NULL, fred_cite);
        expect_str("single_step.sysenter32.fault", faulted ? vec_name(vvar.sig.vector) : "none", "none", "SDM SYSENTER under FRED");
        expect("single_step.sysenter32.kernel_traps", vvar.kernel_traps, 0, "FRED delivery clears TF: no trap at CPL 0");
    } else if (amd()) {
        check_traps("single_step.sysenter32", step32_labels, ARRAY_SIZE(step32_labels), SYSENTER_STUB_TRAPS,
                    SYSENTER_STUB_TRAPS SYSENTER_BACK_TRAPS, cite);
        expect_either("single_step.sysenter32.fault", faulted ? vec_name(vvar.sig.vector) : "none", "#UD", "none",
                      "APM Vol. 3 SYSENTER: #UD in long mode");
    } else {
        check_traps("single_step.sysenter32", step32_labels, ARRAY_SIZE(step32_labels),
                    SYSENTER_STUB_TRAPS SYSENTER_BACK_TRAPS, NULL, cite);
        expect_str("single_step.sysenter32.fault", faulted ? vec_name(vvar.sig.vector) : "none", "none", "SDM SYSENTER");
        char at[64];
        u64 k = vvar.kernel_traps;
        uprintf("single_step.sysenter32.kernel_traps: %lu\n", k);
        if (k < 2 || k > TRAP_LOG_MAX)
            ufail("SYSENTER with TF: %lu traps at CPL 0, expected one per entry instruction up to the POPFQ (SDM SYSENTER leaves TF)", k);
        if (k >= 1 && k <= TRAP_LOG_MAX) {
            print_label(at, sizeof(at), vvar.kernel_log[0].ip, kernel_labels, ARRAY_SIZE(kernel_labels));
            uprintf("single_step.sysenter32.kernel_trap_first: %s cs 0x%lx\n", at, vvar.kernel_log[0].cs);
            print_label(at, sizeof(at), vvar.kernel_log[k - 1].ip, kernel_labels, ARRAY_SIZE(kernel_labels));
            uprintf("single_step.sysenter32.kernel_trap_last: %s cs 0x%lx\n", at, vvar.kernel_log[k - 1].cs);
        }
        if (k && vvar.kernel_log[0].ip != (u64)(uintptr_t)entry_SYSENTER_compat)
            ufail("the first CPL-0 trap is not at entry_SYSENTER_compat (SDM SYSENTER: TF not cleared)");
        if (k && k <= TRAP_LOG_MAX && vvar.kernel_log[k - 1].ip != (u64)(uintptr_t)sysenter_after_popfq)
            ufail("the last CPL-0 trap is not after the POPFQ that clears TF (SDM Vol. 3B §18.3.1.4)");
    }
    return ufails;
}

u64 prog_single_step_sysret(void)
{
    install_handler();
    if (fred()) {
        uprintf("single_step.syscall_sysret: no SYSRET under FRED (SDM SYSRET: #UD if CR4.FRED = 1)\n");
        return 0;
    }
    vvar.user_traps = 0;
    step_syscall_run();
    u64 exit = vvar.last_exit;
    check_traps("single_step.syscall_sysret", syscall_labels, ARRAY_SIZE(syscall_labels),
                "step_syscall_2 step_syscall_3 step_syscall_4 step_syscall_5 step_syscall_6 step_syscall_7", NULL,
                "kvm-unit-tests x86/syscall.c: SYSRET traps on the TF it loads");
    expect_str("single_step.syscall_sysret.exit", exit_name(exit), "sysret", "k_unsafe_sysret");
    return ufails;
}

/* -------------------------------------------------------------------- syscall_nt -- */
/*
 * Flags across SYSCALL (syscall_nt.c): R11 keeps them and SYSRET restores NT, AC, DF, TF from it
 * (SDM SYSRET: R11 & 3C7FD7H); with TF Linux returns with IRET, which restores them from the
 * frame.  FMASK clears them in the kernel, so the kernel's IRET is not a task return (NT).
 */
u64 prog_syscall_nt(void)
{
    install_handler();
    static const struct { const char *name; u64 flags; } cases[] = {
        { "NT", X86_EFLAGS_NT }, { "AC", X86_EFLAGS_AC }, { "NT_AC", X86_EFLAGS_NT | X86_EFLAGS_AC },
        { "TF", X86_EFLAGS_TF }, { "NT_TF", X86_EFLAGS_NT | X86_EFLAGS_TF },
        { "AC_TF", X86_EFLAGS_AC | X86_EFLAGS_TF }, { "NT_AC_TF", X86_EFLAGS_NT | X86_EFLAGS_AC | X86_EFLAGS_TF },
        { "DF", X86_EFLAGS_DF }, { "TF_DF", X86_EFLAGS_TF | X86_EFLAGS_DF },
    };
    const u64 mask = X86_EFLAGS_NT | X86_EFLAGS_AC | X86_EFLAGS_TF | X86_EFLAGS_DF;
    for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
        u64 after = 0;
        vvar.user_traps = 0;
        flags_syscall(cases[i].flags, &after);
        u64 exit = vvar.last_exit, traps = vvar.user_traps;
        char name[64];
        snprintk(name, sizeof(name), "syscall_nt.%s.flags", cases[i].name);
        expect(name, after & mask, cases[i].flags, fred() ? "SDM ERETU: RFLAGS from the frame" : "SDM SYSRET: RFLAGS from R11; IRET from the frame");
        snprintk(name, sizeof(name), "syscall_nt.%s.exit", cases[i].name);
        expect_str(name, exit_name(exit), exit_want(cases[i].flags & X86_EFLAGS_TF ? "iret" : "sysret"), "Linux: TF forces IRET; FRED: ERETU");
        snprintk(name, sizeof(name), "syscall_nt.%s.traps", cases[i].name);
        uprintf("%s: %lu\n", name, traps);
    }
    return ufails;
}

/* --------------------------------------------------------------- 32-bit entries -- */
/*
 * test_syscall_vdso.c's questions: getpid through INT $0x80 (from 64-bit code and from
 * compatibility mode), through SYSENTER and through compat SYSCALL by the vsyscall stub.
 * INT $0x80 keeps every register (r8-r15 too: Linux since 4.17).  SYSENTER: Intel only in
 * long mode (APM Vol. 3 SYSENTER: #UD in long mode); compat SYSCALL: AMD only (SDM SYSCALL: #UD
 * outside 64-bit mode; APM SYSCALL enters at IA32_CSTAR).  Both return with SYSRETL.
 */
u64 prog_compat32(void)
{
    install_handler();
    u64 r = probe_int80_64(0x7f7f7f7f7f7f7f00UL);
    expect("compat32.int80_64.eax", (u32)r, TEST_PID, "compat getpid");
    expect("compat32.int80_64.r8_r15_kept", r >> 32, 8, "the kernel keeps r8-r15 (Linux >= 4.17)");

    u64 kept = call32((u32)(uintptr_t)compat32_int80);
    u64 exit = vvar.last_exit;
    expect("compat32.int80.eax", compat_out[0], TEST_PID, "compat getpid");
    expect("compat32.int80.kept", kept, 6, "ebx ecx edx esi edi ebp");
    expect_str("compat32.int80.exit", exit_name(exit), exit_want("iret"), "INT $0x80 returns with IRET; FRED: ERETU");

    static const struct { const char *name; char *fn; bool intel_ok; } fast[] = {
        { "sysenter", compat32_sysenter, true },
        { "syscall", compat32_syscall, false },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(fast); i++) {
        bool ok = fast[i].intel_ok != amd();
        char name[64];
        compat_out[0] = 0;
        bool faulted = TRY(kept = call32((u32)(uintptr_t)fast[i].fn));
        exit = vvar.last_exit;
        const char *cite = i == 0 ? (amd() ? "APM Vol. 3 SYSENTER: #UD in long mode" : "SDM SYSENTER")
                                  : (amd() ? "APM Vol. 3 SYSCALL: compatibility mode enters at IA32_CSTAR"
                                           : "SDM SYSCALL: #UD unless 64-bit mode");
        char got[96];
        if (faulted)
            snprintk(got, sizeof(got), "%s cs 0x%lx", vec_name(vvar.sig.vector), vvar.sig.regs.cs);
        else
            snprintk(got, sizeof(got), "eax 0x%x kept %lu exit %s", compat_out[0], kept, exit_name(exit));
        const char *want = !ok ? "#UD cs 0x23" : fred() ? "eax 0x1 kept 6 exit eretu" : "eax 0x1 kept 6 exit sysretl";
        snprintk(name, sizeof(name), "compat32.%s", fast[i].name);
        if (ok)
            expect_str(name, got, want, cite);
        else
            expect_either(name, got, want, "eax 0x1 kept 6 exit sysretl", cite);
    }
    return ufails;
}

/* ------------------------------------------------------------------------ bench -- */
#ifdef LINUX_BENCH_ITERS
u64 prog_bench(void)
{
    bench_getpid(LINUX_BENCH_ITERS);
    uprintf("bench.round_trips: %lu\n", (u64)LINUX_BENCH_ITERS);
    return 0;
}
#endif

/* -------------------------------------------------------------------------- irq -- */
#ifdef LINUX_IRQ_BENCH
void irq_spin(struct irq_spin *s);

u64 prog_irq(void)
{
    static const char *const names[IRQ_SPIN_REGS] = {
        "rax", "rbx", "rdx", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rsi", "rdi",
    };
    static struct irq_spin s;
    char name[32];

    s.ticks = &vvar.timer_ticks;
    s.target = LINUX_IRQ_BENCH;
    usys(NR_setitimer, LINUX_IRQ_PERIOD, s.target, 0);
    irq_spin(&s);
    uprintf("irq.user.iterations: %lu\n", s.iterations);
    for (unsigned int k = 0; k < IRQ_SPIN_REGS; k++) {
        u64 want = k < 12 ? IRQ_PATTERN(k) : k == 12 ? s.target : (u64)(uintptr_t)s.ticks;
        snprintk(name, sizeof(name), "irq.user.%s", names[k]);
        expect(name, s.out[k], want, "SDM Vol. 3A 6.14: an interrupt returns to the state it interrupted");
    }
    return ufails;
}
#endif

/* -------------------------------------------------------------------------- mix -- */
#ifdef LINUX_MIX_BENCH
/*
 * The benchmark's kernel-heavy mix (mix.h): LINUX_MIX_BENCH iterations, each MIX_GETPID
 * getpid() calls, MIX_FAULTS reads of file pages that fault (mm.c), one REP MOVSQ of
 * MIX_COPY_BYTES and MIX_CHASE_STEPS steps of the pointer chase, under the periodic timer.
 * Checked: every getpid returned the pid; every faulting read returned the file's word (the
 * kernel mapped the right page and the read was re-executed: SDM Vol. 3A §6.15 #PF, a fault,
 * returns to the faulting instruction); every copy carried the word written into its source
 * just before (and the two buffers agree at the end: SDM MOVS, REP); the chase's sum, from the
 * nodes' values through the region's TLB misses, equals the sum the visiting order gives
 * arithmetically.  N is read from memory, so that every N builds the same code, and the checks
 * after the loop cost the same for every N: the bench's subtraction of the N = 0 run leaves the
 * loop alone.
 */
static u64 mix_src[MIX_COPY_QWORDS], mix_dst[MIX_COPY_QWORDS];
static volatile u64 mix_n = LINUX_MIX_BENCH;

static struct mix_node *mix_node(u64 page)
{
    return (struct mix_node *)(uintptr_t)(MIX_CHASE_BASE + page * PAGE_SIZE + (page % 64) * 64);
}

/* The page the chase visits at step s (from page 0). */
static u64 mix_chase_page(u64 s)
{
    return s * MIX_CHASE_STRIDE % MIX_CHASE_PAGES;
}

u64 prog_mix(void)
{
    const u64 n = mix_n;
    u64 pid_bad = 0, file_bad = 0, copy_bad = 0, sum = 0;

    install_handler();
    for (u64 s = 0; s < MIX_CHASE_PAGES; s++) {
        struct mix_node *node = mix_node(mix_chase_page(s));
        node->next = mix_node(mix_chase_page(s + 1));
        node->value = MIX_NODE_VALUE(mix_chase_page(s));
    }
    struct mix_node *p = mix_node(0);
    const volatile u64 *file = (const volatile u64 *)MIX_FILE_BASE;

    usys(NR_setitimer, MIX_TIMER_PERIOD, ~0UL, 0);
    for (u64 i = 0; i < n; i++) {
        for (unsigned int k = 0; k < MIX_GETPID; k++)
            pid_bad += usys(NR_getpid, 0, 0, 0) != TEST_PID;
        for (unsigned int k = 0; k < MIX_FAULTS; k++) {
            u64 f = i * MIX_FAULTS + k, page = f % MIX_FILE_PAGES, j = f % (PAGE_SIZE / 8);
            file_bad += file[page * (PAGE_SIZE / 8) + j] != MIX_FILE_WORD(page, j);
        }
        u64 at = i % MIX_COPY_QWORDS;
        mix_src[at] = i;
        u64 rdi = (u64)(uintptr_t)mix_dst, rsi = (u64)(uintptr_t)mix_src, rcx = MIX_COPY_QWORDS;
        asm volatile("rep movsq" : "+D"(rdi), "+S"(rsi), "+c"(rcx) :: "memory");
        copy_bad += ((volatile u64 *)mix_dst)[at] != i;
        for (unsigned int k = 0; k < MIX_CHASE_STEPS; k++) {
            sum += p->value;
            p = p->next;
        }
    }
    usys(NR_setitimer, 0, 0, 0);

    /* The chase's expected sum: whole cycles visit every page once; the rest step by step,
     * masked rather than branched, so that this loop costs the same for every N. */
    u64 steps = n * MIX_CHASE_STEPS, rest = steps % MIX_CHASE_PAGES, want = 0;
    for (u64 s = 0; s < MIX_CHASE_PAGES; s++)
        want += MIX_NODE_VALUE(mix_chase_page(s)) & -(u64)(s < rest);
    want += steps / MIX_CHASE_PAGES * (MIX_CHASE_PAGES * (MIX_CHASE_PAGES + 1) / 2);
    for (u64 q = 0; q < MIX_COPY_QWORDS; q++)
        copy_bad += mix_dst[q] != mix_src[q];

    uprintf("mix.iterations: %lu\n", n);
    uprintf("mix.getpid: %lu\n", n * MIX_GETPID - pid_bad);
    uprintf("mix.file_reads: %lu\n", n * MIX_FAULTS - file_bad);
    uprintf("mix.copies: %lu\n", n - (copy_bad > n ? n : copy_bad));
    uprintf("mix.chase_steps: %lu\n", steps);
    uprintf("mix.chase_sum: 0x%lx\n", sum);
    if (pid_bad)
        ufail("%lu getpid calls did not return %u", pid_bad, TEST_PID);
    if (file_bad)
        ufail("%lu reads of the file mapping did not return the file's word (the kernel's fault handler)", file_bad);
    if (copy_bad)
        ufail("%lu copies (or words at the end) differ from their source (SDM REP MOVS)", copy_bad);
    if (sum != want)
        ufail("the chase's sum is 0x%lx, expected 0x%lx", sum, want);
    return ufails;
}
#endif

/* ------------------------------------------------------------------ syscall_gap -- */
/*
 * The syscall gap (gap.c): gap_probe's one SYSCALL is the program's first, so that an NMI
 * injected at a gap instruction's first execution lands in it.  Everything but RAX (the
 * result), RCX and R11 (SYSCALL's) must come back (Linux's ABI); RCX is the return address
 * (SDM SYSCALL); RSP, the red zone below it and the user's GS.base (%gs:0 reads gap_tls's own
 * address) must survive whatever the kernel took in between.
 */
u64 gap_out[GAP_OUT_N];
u64 gap_tls[1];
volatile u64 gap_hits_at_return;

static void gap_check(bool print)
{
    static const char *const names[15] = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    };
    unsigned int kept = 0, preserved = 0;
    for (unsigned int k = 1; k < 15; k++) {
        if ((k == 2 || k == 10) && !fred())      /* SYSCALL's RCX and R11; FRED keeps them */
            continue;
        preserved++;
        if (gap_out[k] == IRQ_PATTERN(k))
            kept++;
        else if (print)
            ufail("%s is 0x%lx, not 0x%lx", names[k], gap_out[k], IRQ_PATTERN(k));
        else
            ufails++;
    }
    bool ret_ok = fred() || gap_out[2] == (u64)(uintptr_t)gap_probe_ret;
    bool rsp_ok = gap_out[GAP_OUT_RSP] == gap_out[GAP_OUT_RSP_IN];
    bool gs_ok = gap_out[GAP_OUT_GS] == (u64)(uintptr_t)gap_tls;
    if (!print) {
        ufails += (gap_out[0] != TEST_PID) + !ret_ok + !rsp_ok + !gs_ok;
        ufails += (gap_out[GAP_OUT_REDZONE] != GAP_REDZONE_QWORDS) + (vvar.last_exit != (fred() ? EXIT_ERETU : EXIT_SYSRET));
        return;
    }
    expect("syscall_gap.rax", gap_out[0], TEST_PID, "getpid");
    if (!fred())
        expect_str("syscall_gap.rcx", ret_ok ? "gap_probe_ret" : "other", "gap_probe_ret", "SDM Vol. 2B SYSCALL: RCX := RIP");
    expect("syscall_gap.preserved", kept, preserved, fred() ? "all but rax (FRED: SYSCALL keeps RCX, R11)" : "rbx rdx rsi rdi rbp r8-r10 r12-r15");
    expect_str("syscall_gap.rsp", rsp_ok ? "kept" : "changed", "kept", "SYSRET returns to the stack SYSCALL left");
    expect("syscall_gap.red_zone", gap_out[GAP_OUT_REDZONE], GAP_REDZONE_QWORDS, "no frame below the user's RSP");
    expect_str("syscall_gap.gs", gs_ok ? "user" : "other", "user", "the kernel's SWAPGS pairs left the user's GS.base");
    expect_str("syscall_gap.exit", exit_name(vvar.last_exit), exit_want("sysret"), "Linux: every SYSRET check holds; FRED: ERETU");
}

/* The NMI run: report every observation. */
u64 prog_syscall_gap(void)
{
    ufails = 0;
    gap_probe();
    gap_check(true);
    return ufails;
}

/* The #DB sweep, once per address: silent (a write would take the breakpoint again). */
u64 prog_syscall_gap_db(void)
{
    ufails = 0;
    gap_probe();
    gap_hits_at_return = gap_seen.count;
    gap_check(false);
    return ufails;
}
