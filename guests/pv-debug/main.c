/*
 * pv-debug: single-stepping a 64-bit PV guest, and the #DB Xen bounces for it.
 *
 * The CPU: POPF that sets RFLAGS.TF makes the instruction after it trap with #DB when it
 * completes (Intel SDM Vol. 3B, "Single-Step Exception Condition": "the processor generates
 * a single-step debug exception ... after the instruction" once TF is set; the trap follows
 * the instruction that executes with TF = 1 at its start), DR6.BS set.
 * Xen 4.17 and today (c447b7308b): the #DB from guest context reaches handle_DB
 * (xen/arch/x86/traps.c; 4.17's do_debug), which reads DR6, resets it to X86_DR6_DEFAULT,
 * merges the news into the vCPU's virtual DR6 (x86_merge_dr6, xen/arch/x86/debug.c:
 * breakpoint bits replaced, the rest accumulated, reserved bits as ones) and bounces #DB
 * through the trap table (pv_inject_DB) with RIP after the stepped instruction and TF still
 * set in the frame's RFLAGS; the guest reads its DR6 with `mov %dr6` (emulated: the
 * virtual DR6) and writes it to clear BS (set_debugreg keeps the reserved ones).
 * A stepped privileged instruction (here `mov %cr0`) #GPs instead of completing;
 * pv_emulate_privileged_op emulates it and, TF being set, injects the #DB the instruction
 * would have raised (retire.singlestep -> DR_STEP -> pv_inject_DB), RIP after it. The
 * forced-emulation CPUID does the same (pv_emul_instruction_done).
 */
#include "ringside-pv.h"

extern void db_entry(void);
extern volatile u64 db_rip, db_cs, db_rflags, db_count;

static u64 after;

static NOINLINE u64 step_nop(u64 a)
{
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, %[after]\n\t"
                 "pushfq\n\t"
                 "orq $0x100, (%%rsp)\n\t"
                 "popfq\n\t"
                 "1: nop\n"
                 "2:\n\t"
                 : [after] "=m"(after) :: "rax", "memory", "cc");
    return a;
}

static NOINLINE u64 step_mov_cr0(u64 a)
{
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, %[after]\n\t"
                 "pushfq\n\t"
                 "orq $0x100, (%%rsp)\n\t"
                 "popfq\n\t"
                 "1: mov %%cr0, %%rax\n"
                 "2:\n\t"
                 : [after] "=m"(after) :: "rax", "memory", "cc");
    return a;
}

static NOINLINE u64 step_forced_cpuid(u64 a)
{
    asm volatile("lea 2f(%%rip), %%rax\n\t"
                 "mov %%rax, %[after]\n\t"
                 "mov $0x40000000, %%eax\n\t"
                 "xor %%ecx, %%ecx\n\t"
                 "pushfq\n\t"
                 "orq $0x100, (%%rsp)\n\t"
                 "popfq\n\t"
                 "1: ud2; .ascii \"xen\"; cpuid\n"
                 "2:\n\t"
                 : [after] "=m"(after) :: "rax", "rbx", "rcx", "rdx", "memory", "cc");
    return a;
}

static u64 read_dr6(void)
{
    u64 v;
    asm volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

static void write_dr6(u64 v)
{
    asm volatile("mov %0, %%dr6" :: "r"(v));
}

static void check(const char *name, const char *field, u64 got, u64 want)
{
    printk("%s.%s: 0x%lx\n", name, field, got);
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

static void run(const char *name, u64 (*fn)(u64), bool user)
{
    db_count = 0;
    write_dr6(0);
    if (user)
        pv_exec_user(fn, 0);
    else
        fn(0);
    check(name, "db_count", db_count, 1);
    printk("%s.rip: %s\n", name, db_rip == after ? "after_instruction" : "elsewhere");
    if (db_rip != after)
        test_fail("%s: #DB at 0x%lx, expected 0x%lx", name, db_rip, after);
    check(name, "cs", db_cs, (1UL << 32) | (user ? 0xe033 : 0xe030));
    /* TF still set in the frame; RF clear (a trap); IF from the (masked) events. */
    check(name, "rflags_tf", db_rflags & 0x100, 0x100);
    check(name, "rflags_rf", db_rflags & 0x10000, 0);
    check(name, "dr6", read_dr6(), 0xffff4ff0);
}

void test_main(void)
{
    struct trap_info t[2] = {
        { .vector = 1, .flags = 0, .cs = FLAT_KERNEL_CS, .address = (u64)(uintptr_t)db_entry },
        { 0 },
    };
    long rc = hypercall_set_trap_table(t);
    if (rc)
        test_fail("set_trap_table(#DB): %ld", rc);

    write_dr6(0);
    check("initial", "dr6", read_dr6(), 0xffff0ff0);

    run("kernel.nop", step_nop, false);
    run("user.nop", step_nop, true);
    run("kernel.mov_cr0", step_mov_cr0, false);
    run("kernel.forced_cpuid", step_forced_cpuid, false);
    run("user.forced_cpuid", step_forced_cpuid, true);
}
