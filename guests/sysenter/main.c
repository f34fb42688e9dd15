/*
 * sysenter: SYSENTER and SYSEXIT under a 64-bit kernel (Intel SDM Vol. 2B SYSENTER, SYSEXIT
 * "Operation" and exceptions; AMD APM Vol. 3 SYSENTER, SYSEXIT), and RDPID (SDM Vol. 2B RDPID).
 *
 * What the architecture requires, on Intel (CPUID vendor GenuineIntel):
 * - SYSENTER from compatibility mode or 64-bit mode at CPL 3 enters 64-bit mode (IA32_EFER.LMA
 *   = 1) at CPL 0: CS.Selector = IA32_SYSENTER_CS[15:0] AND FFFCH, SS.Selector = CS + 8, with
 *   fixed flat hidden parts (CS type 11, L = 1; SS type 3, B = 1; DPL 0); RIP = the full
 *   IA32_SYSENTER_EIP, RSP = IA32_SYSENTER_ESP; RFLAGS.VM, IF and RF cleared, the other flags
 *   kept; nothing saved (RCX and RDX keep the user's values).
 * - SYSEXIT at CPL 0 without REX.W returns to compatibility mode at CPL 3: CS = SYSENTER_CS + 16
 *   | 3 (flat 32-bit code, DPL 3), SS = SYSENTER_CS + 24 | 3 (flat, B = 1: a 32-bit stack, so a
 *   push from ESP = a 64 KiB boundary lands 4 bytes below it), ESP = ECX, EIP = EDX; with REX.W
 *   it returns to 64-bit mode: CS = + 32 | 3 (L = 1), SS = + 40 | 3, RSP = RCX, RIP = RDX.
 *   SYSEXIT loads no flags (IF stays as the kernel left it).
 * - #GP(0): SYSEXIT at CPL 3; SYSENTER or SYSEXIT with IA32_SYSENTER_CS[15:2] = 0; SYSEXIT to
 *   64-bit mode with a non-canonical RCX or RDX, at CPL 0 before anything changes.
 * The hidden parts are not read from the GDT; the guest puts descriptors equal to them at
 * SYSENTER_CS = 0x50 .. 0x78 (as the SDM asks of the OS), so LAR of each selector shows them.
 * On AMD (CPUID vendor AuthenticAMD) SYSENTER and SYSEXIT are #UD in long mode, 64-bit and
 * compatibility mode alike (APM Vol. 3 SYSENTER/SYSEXIT; Vol. 2 §8.2 lists "Execution of the
 * SYSENTER or SYSEXIT instructions in long mode" among the #UD causes, as quoted by
 * rust-osdev/x86_64, and Bochs marks both "not recognized in long mode"): the
 * guest expects #UD for each form instead of the round trips.
 * RDPID (when CPUID.(EAX=7,ECX=0):ECX[22] enumerates it) reads IA32_TSC_AUX at any CPL.
 * QEMU 7.2 completes the SYSEXIT with a non-canonical RCX (test/qemu-deviations.ts); the guest
 * accepts that there and the cross-check holds Ringside to the SDM.  With an AMD model QEMU 7.2
 * makes SYSENTER/SYSEXIT #UD only in 64-bit mode, so from compatibility mode SYSENTER enters the
 * kernel and SYSEXIT at CPL 3 raises #GP(0); the guest accepts those two values (AMD only) and
 * the cross-check holds Ringside to the APM's #UD.
 */
#include "ringside.h"

#define MSR_SYSENTER_CS  0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_TSC_AUX      0xc0000103
#define SE_CS            0x50         /* user_gdt[10..15]: kernel code64, kernel data, user code32, data, code64, data */
#define RFLAGS_ZF_PF     0x44
#define LAR_MASK         0x00f0ff00   /* LAR: bits 19:16 undefined (SDM LAR) */

extern char sysenter_entry[], se_noncanonical_insn[], user32_sysenter_ret[], user64_sysenter_ret[];
extern char user32_sysenter[], user32_sysexit[], user32_sysexit_insn[], user32_sysenter_ud[], user32_sysenter_ud_insn[];
extern char user64_sysexit_insn[], user64_sysenter_ud_insn[];
extern u64 user64_sysenter(u64), user64_sysexit(u64), user64_sysenter_ud(u64);
extern volatile u64 se_seen[17];
extern volatile u8 se_exit64, se_noncanonical_rcx, se_amd_entered;
extern char sysenter_amd_entry[];

u64 se_stack32_top, se_stack64_top;
static u8 kstack[8192] __attribute__((aligned(16)));
/* 128 KiB aligned to 64 KiB: the user stack for SYSEXIT starts at a 64 KiB boundary. */
static u8 ustack[2 * 65536] __attribute__((aligned(65536)));

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* An address printed as `base_name+off` (the offset from a named address, so the transcript does
 * not depend on the link), expected at offset `want`. */
static void expect_at(const char *name, u64 got, const char *base_name, u64 base, s64 want)
{
    s64 off = (s64)(got - base);
    printk("%s: %s%c0x%lx\n", name, base_name, off < 0 ? '-' : '+', off < 0 ? (u64)-off : (u64)off);
    if (off != want)
        test_fail("%s: offset %ld from %s, expected %ld", name, (long)off, base_name, (long)want);
}

/* The fault taken by the instruction at `insn` (`name: #XX(ec)` or `name: none`); `alt` is a
 * second accepted outcome (a documented QEMU deviation), or NULL. */
static void expect_fault(const char *name, u64 insn, unsigned int vector, const char *alt)
{
    char got[32], want[32];
    if (last_fault.count && last_fault.rip == insn)
        snprintk(got, sizeof(got), "%s(%lu)", exc_name((unsigned int)last_fault.vector), last_fault.error_code);
    else
        snprintk(got, sizeof(got), "%s", last_fault.count ? "elsewhere" : "none");
    snprintk(want, sizeof(want), "%s(0)", exc_name(vector));
    printk("%s: %s\n", name, got);
    if (strcmp(got, want) != 0 && (!alt || strcmp(got, alt) != 0))
        test_fail("%s: %s, expected %s", name, got, want);
}

static void clear_seen(void)
{
    for (unsigned int i = 0; i < 17; i++)
        se_seen[i] = 0;
}

/* The kernel side of a SYSENTER from user code whose RFLAGS were `user_flags` at the SYSENTER;
 * `mask`: the bits of RCX/RDX the user set (compatibility mode leaves bits 63:32 undefined,
 * SDM Vol. 1 §3.4.1.1). */
static void check_entry(const char *p, u64 user_flags, u64 user_rcx, u64 user_rdx, u64 mask)
{
    char b[64];
#define N(s) (snprintk(b, sizeof(b), "%s.%s", p, s), b)
    expect(N("entry.cs"), se_seen[2] & 0xffff, SE_CS);
    expect(N("entry.ss"), se_seen[3] & 0xffff, SE_CS + 8);
    expect(N("entry.lar_cs"), se_seen[4] & LAR_MASK, 0x00a09b00);     /* G, L, P, DPL 0, S, type 11 */
    expect(N("entry.lar_ss"), se_seen[5] & LAR_MASK, 0x00c09300);     /* G, B, P, DPL 0, S, type 3 */
    expect_at(N("entry.rsp"), se_seen[0], "SYSENTER_ESP", rdmsr(MSR_SYSENTER_ESP), 0);
    expect(N("entry.rflags"), se_seen[1], user_flags & ~(RFLAGS_IF | RFLAGS_RF));
    expect_at(N("entry.rcx"), se_seen[6] & mask, "user_rcx", user_rcx, 0);
    expect_at(N("entry.rdx"), se_seen[7] & mask, "user_rdx", user_rdx, 0);
#undef N
}

/* The user side after SYSEXIT to selector `cs`, stack `sp`. */
static void check_exit(const char *p, u64 cs, u64 lar_cs, u64 sp, const char *sp_name)
{
    char b[64];
#define N(s) (snprintk(b, sizeof(b), "%s.%s", p, s), b)
    expect(N("user.reached"), se_seen[16], 1);
    expect(N("user.cs"), se_seen[9] & 0xffff, cs);
    expect(N("user.ss"), se_seen[10] & 0xffff, cs + 8);
    expect(N("user.lar_cs"), se_seen[13] & LAR_MASK, lar_cs);
    expect(N("user.lar_ss"), se_seen[14] & LAR_MASK, 0x00c0f300);     /* G, B, P, DPL 3, S, type 3 */
    expect_at(N("user.rsp"), se_seen[11], sp_name, sp, 0);
    /* SYSEXIT loads no flags: the kernel's RFLAGS before it, RF clear. */
    expect(N("user.rflags"), se_seen[12] & 0xffffffff, se_seen[8] & ~RFLAGS_RF);
#undef N
}

static void gdt_init(void)
{
    ring3_init();
    user_gdt[SE_CS / 8 + 0] = seg_descriptor(0, 0xfffff, 0x9b, 0xa);   /* code64, DPL 0, accessed */
    user_gdt[SE_CS / 8 + 1] = seg_descriptor(0, 0xfffff, 0x93, 0xc);   /* data, DPL 0 */
    user_gdt[SE_CS / 8 + 2] = seg_descriptor(0, 0xfffff, 0xfb, 0xc);   /* code32, DPL 3 */
    user_gdt[SE_CS / 8 + 3] = seg_descriptor(0, 0xfffff, 0xf3, 0xc);   /* data, DPL 3 */
    user_gdt[SE_CS / 8 + 4] = seg_descriptor(0, 0xfffff, 0xfb, 0xa);   /* code64, DPL 3 */
    user_gdt[SE_CS / 8 + 5] = seg_descriptor(0, 0xfffff, 0xf3, 0xc);   /* data, DPL 3 */
    wrmsr(MSR_SYSENTER_CS, SE_CS | 3);                                 /* RPL bits: ignored */
    wrmsr(MSR_SYSENTER_ESP, (u64)(uintptr_t)kstack + sizeof(kstack));
    wrmsr(MSR_SYSENTER_EIP, (u64)(uintptr_t)sysenter_entry);
    se_stack32_top = (u64)(uintptr_t)ustack + 65536;
    se_stack64_top = (u64)(uintptr_t)ustack + 65536 - 256;
}

static void intel_round_trips(void)
{
    const u64 user_flags = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_AC | RFLAGS_ZF_PF;

    /* Compatibility mode -> SYSENTER -> 64-bit kernel -> SYSEXIT -> compatibility mode. */
    clear_seen();
    se_exit64 = 0;
    exec_user_frame((u64)(uintptr_t)user32_sysenter, 0, SEL_USER_CODE32, user_flags & ~RFLAGS_ZF_PF);
    check_entry("sysenter32", user_flags, se_stack32_top, (u64)(uintptr_t)user32_sysenter_ret, 0xffffffff);
    check_exit("sysexit32", SE_CS + 16 + 3, 0x00c0fb00, se_stack32_top, "stack_top");
    expect_at("sysexit32.user.push_esp", se_seen[15], "stack_top", se_stack32_top, -4);

    /* 64-bit mode -> SYSENTER -> REX.W SYSEXIT -> 64-bit mode. */
    clear_seen();
    se_exit64 = 1;
    exec_user_frame((u64)(uintptr_t)user64_sysenter, 0, SEL_USER_CODE64, user_flags & ~RFLAGS_ZF_PF);
    check_entry("sysenter64", user_flags, se_stack64_top, (u64)(uintptr_t)user64_sysenter_ret, ~0UL);
    check_exit("sysexit64", SE_CS + 32 + 3, 0x00a0fb00, se_stack64_top, "stack_top");

    /* REX.W SYSEXIT with a non-canonical RCX: #GP(0) at CPL 0; the kernel then returns properly. */
    clear_seen();
    fault_reset();
    se_noncanonical_rcx = 1;
    exec_user_frame((u64)(uintptr_t)user64_sysenter, 0, SEL_USER_CODE64, RFLAGS_FIXED);
    expect_fault("sysexit64.noncanonical_rcx", (u64)(uintptr_t)se_noncanonical_insn, 13, "none");
    if (last_fault.count)
        expect("sysexit64.noncanonical_rcx.fault_cs", last_fault.cs, SE_CS);
    expect("sysexit64.noncanonical_rcx.reached", se_seen[16], 1);
    se_exit64 = 0;
}

static void faults(bool amd)
{
    const unsigned int v = amd ? 6 : 13;        /* #UD on AMD in long mode, else #GP(0) */

    /* QEMU 7.2 with an AMD model executes SYSEXIT outside 64-bit mode and raises #GP(0) for
     * CPL 3 (test/qemu-deviations.ts): accepted there, the cross-check holds Ringside to #UD. */
    fault_reset();
    exec_user32((u32)(uintptr_t)user32_sysexit, 0);
    expect_fault("sysexit32.cpl3", (u64)(uintptr_t)user32_sysexit_insn, v, amd ? "#GP(0)" : NULL);
    fault_reset();
    exec_user(user64_sysexit, 0);
    expect_fault("sysexit64.cpl3", (u64)(uintptr_t)user64_sysexit_insn, v, NULL);

    /* IA32_SYSENTER_CS = 0 at CPL 0: #GP(0) (AMD: #UD before that). */
    wrmsr(MSR_SYSENTER_CS, 0);
    u64 at;
    fault_reset();
    asm volatile("lea 1f(%%rip), %0\n1: sysenter\n2:\n" EXTABLE(1b, 2b) : "=r"(at) :: "memory");
    expect_fault("sysenter.cs_null", at, v, NULL);
    fault_reset();
    asm volatile("lea 1f(%%rip), %0\n1: sysexit\n2:\n" EXTABLE(1b, 2b) : "=r"(at) :: "memory");
    expect_fault("sysexit.cs_null", at, v, NULL);
    wrmsr(MSR_SYSENTER_CS, SE_CS);

    if (amd) {
        /* QEMU 7.2 with an AMD model enters the kernel (test/qemu-deviations.ts): recognised by
         * sysenter_amd_entry having run with no fault taken, printed as `entered` and accepted;
         * the cross-check holds Ringside to the APM's #UD. */
        wrmsr(MSR_SYSENTER_EIP, (u64)(uintptr_t)sysenter_amd_entry);
        fault_reset();
        se_amd_entered = 0;
        exec_user32((u32)(uintptr_t)user32_sysenter_ud, 0);
        if (!last_fault.count && se_amd_entered)
            printk("sysenter32.amd: entered\n");
        else
            expect_fault("sysenter32.amd", (u64)(uintptr_t)user32_sysenter_ud_insn, 6, NULL);
        wrmsr(MSR_SYSENTER_EIP, (u64)(uintptr_t)sysenter_entry);
        fault_reset();
        exec_user(user64_sysenter_ud, 0);
        expect_fault("sysenter64.amd", (u64)(uintptr_t)user64_sysenter_ud_insn, 6, NULL);
        fault_reset();
        asm volatile("lea 1f(%%rip), %0\n1: sysexit\n2:\n" EXTABLE(1b, 2b) : "=r"(at) :: "memory");
        expect_fault("sysexit.cpl0.amd", at, 6, NULL);
    }
}

static u64 user_rdpid(u64 unused)
{
    (void)unused;
    u64 v;
    asm volatile("rdpid %0" : "=r"(v));
    return v;
}

static void rdpid(void)
{
    bool has = (cpuid(7, 0).ecx >> 22) & 1;
    printk("rdpid.enumerated: %d\n", has);
    if (!has)
        return;
    wrmsr(MSR_TSC_AUX, 0x8000002a);
    u64 v;
    asm volatile("mov $-1, %0; rdpid %0" : "=r"(v));
    expect("rdpid.cpl0", v, 0x8000002a);       /* r64: IA32_TSC_AUX, bits 63:32 zero */
    expect("rdpid.cpl3", exec_user(user_rdpid, 0), 0x8000002a);
}

void test_main(void)
{
    struct cpuid_regs r = cpuid(0, 0);
    bool amd = r.ebx == 0x68747541;             /* "Auth"enticAMD */
    printk("vendor: %s\n", amd ? "amd" : "intel");
    gdt_init();
    expect("msr.sysenter_cs", rdmsr(MSR_SYSENTER_CS), SE_CS | 3);
    wrmsr(MSR_SYSENTER_CS, SE_CS);
    if (!amd)
        intel_round_trips();
    faults(amd);
    rdpid();
}
