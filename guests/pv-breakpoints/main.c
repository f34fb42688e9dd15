/*
 * pv-breakpoints: hardware breakpoints of a 64-bit PV guest, armed through Xen.
 *
 * The CPU (Intel SDM Vol. 3B §18.2 "Debug Registers", §18.3.1 "Debug Exception (#DB)"):
 * DR0-DR3 hold breakpoint addresses, DR7 enables them (Ln/Gn) and says what each watches
 * (R/W 00 instruction fetch: a fault before the instruction; 01 data write, 11 data read or
 * write: a trap after the instruction; 10 I/O, with CR4.DE = 1). A #DB reports the
 * breakpoint in DR6.B0-B3. After MOV SS / POP SS the data breakpoint it hit is held until
 * the next instruction completes (Vol. 3A §6.8.3), so it is taken after that instruction;
 * if that instruction is SYSCALL, at its target.
 *
 * Xen (c447b7308b and 4.17, xen/arch/x86/pv/misc-hypercalls.c set_debugreg, reached by
 * HYPERVISOR_set_debugreg and by the emulated MOV to DRn: -ENODEV is #UD, other refusals
 * #GP(0)): DR0-DR3 must be below 2^47 or above Xen's range (-EPERM); DR6 and DR7 have no
 * upper half (-EINVAL); DR7.GD is -EPERM; DR4/DR5 alias DR6/DR7 unless the virtual CR4.DE is
 * set (then -ENODEV); registers past 7 are -ENODEV; DR7's reserved bits are forced (bit 10
 * one, 11-12 and 14-15 zero). Each value goes to the hardware register, so data and
 * instruction breakpoints fire in the CPU; handle_DB (traps.c) bounces the #DB, DR6's news
 * merged into the virtual DR6 the guest reads with `mov %dr6`. An I/O breakpoint needs the
 * virtual CR4.DE (else -EPERM): its enable never reaches hardware DR7 (dr7_emul), reads of
 * DR7 show it, and Xen's own port I/O emulation reports it (check_guest_io_breakpoint).
 * A #DB taken inside Xen (the MOV SS + SYSCALL case, XSA-260) is noted and dropped.
 */
#include "ringside-pv.h"

#define HC_set_debugreg 8
#define HC_get_debugreg 9
#define HC_physdev_op 33
#define PHYSDEVOP_set_iopl 6

static volatile u32 watched;
static volatile u16 ss_value;

static long set_debugreg(u64 reg, u64 value) { return _hypercall2(HC_set_debugreg, reg, value); }
static long get_debugreg(u64 reg) { return _hypercall2(HC_get_debugreg, reg, 0); }

static u64 read_dr6(void) { u64 v; asm volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static void write_dr6(u64 v) { asm volatile("mov %0, %%dr6" :: "r"(v)); }
static u64 read_dr7(void) { u64 v; asm volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static void write_dr7(u64 v) { asm volatile("mov %0, %%dr7" :: "r"(v)); }

/* The #DB the last test took: how many, where (the label it should be at), DR6. */
static void report(const char *name, u64 count, u64 want_rip, u64 want_cs, u64 want_dr6)
{
    char key[64];
    snprintk(key, sizeof(key), "%s.db_count", name);
    pv_expect_rc(key, (long)last_event.count, (long)count);
    if (count == 0)
        return;
    snprintk(key, sizeof(key), "%s.vector", name);
    pv_expect_rc(key, (long)last_event.vector, 1);
    printk("%s.rip: %s\n", name, last_event.rip == want_rip ? "expected" : "elsewhere");
    if (last_event.rip != want_rip)
        test_fail("%s.rip: 0x%lx, expected 0x%lx", name, last_event.rip, want_rip);
    snprintk(key, sizeof(key), "%s.cs", name);
    pv_expect(key, last_event.cs & 0xffff, want_cs);
    snprintk(key, sizeof(key), "%s.dr6", name);
    pv_expect(key, read_dr6(), want_dr6);
}

extern const char pvbp_user_after[], pvbp_insn[];

static NOINLINE u64 user_write(u64 v)
{
    asm volatile("movl %k[v], %[w]\n"
                 "pvbp_user_after:\n\t"
                 EXTABLE(pvbp_user_after, pvbp_user_after)
                 : [w] "=m"(watched) : [v] "r"(v));
    return 0;
}

void test_main(void)
{
    u64 at, after;

    /* set_debugreg's checks. */
    pv_expect_rc("set_debugreg.dr0_noncanonical", set_debugreg(0, 0x0000800000000000UL), -1);
    pv_expect_rc("set_debugreg.dr0_xen_range", set_debugreg(0, 0xffff800000000000UL), -1);
    pv_expect_rc("set_debugreg.dr0_above_xen", set_debugreg(0, 0xffff880000000000UL), 0);
    pv_expect("get_debugreg.dr0", (u64)get_debugreg(0), 0xffff880000000000UL);
    pv_expect_rc("set_debugreg.dr6_upper", set_debugreg(6, 1UL << 32), -22);
    pv_expect_rc("set_debugreg.dr7_upper", set_debugreg(7, 1UL << 32), -22);
    pv_expect_rc("set_debugreg.dr7_gd", set_debugreg(7, 0x2000), -1);
    pv_expect_rc("set_debugreg.dr7_io_without_de", set_debugreg(7, 0x20001), -1);
    pv_expect_rc("set_debugreg.reg8", set_debugreg(8, 0), -19);
    pv_expect_rc("get_debugreg.reg8", get_debugreg(8), -19);
    pv_expect_rc("set_debugreg.dr4_without_de", set_debugreg(4, 0), 0);
    pv_expect("get_debugreg.dr6", (u64)get_debugreg(6), 0xffff0ff0);
    pv_expect_rc("set_debugreg.dr7_reserved_bits", set_debugreg(7, 0xffffdb00), 0);
    pv_expect("get_debugreg.dr7", (u64)get_debugreg(7), 0xffff0700);
    pv_expect("mov_from_dr7", read_dr7(), 0xffff0700);
    write_dr7(0);
    pv_expect("mov_from_dr7_after_clear", read_dr7(), 0x400);

    /* A data write breakpoint (DR0, R/W 01, LEN 11: 4 bytes) in kernel mode. */
    write_dr6(0);
    set_debugreg(0, (u64)(uintptr_t)&watched);
    write_dr7(0xd0001);
    pv_expect("data_write.dr7", read_dr7(), 0xd0401);
    pv_event_reset();
    asm volatile("lea 2f(%%rip), %[after]\n\t"
                 "1: movl $1, %[w]\n"
                 "2:\n\t"
                 EXTABLE(2b, 2b)
                 : [after] "=&r"(after), [w] "=m"(watched));
    report("kernel.data_write", 1, after, 0xe030, 0xffff0ff1);

    /* The same breakpoint hit from guest user mode. */
    write_dr6(0);
    pv_event_reset();
    pv_exec_user(user_write, 2);
    report("user.data_write", 1, (u64)(uintptr_t)pvbp_user_after, 0xe033, 0xffff0ff1);

    /* A read/write breakpoint (R/W 11) taken on a read; DR6.BS, set beforehand, stays. */
    write_dr6(0x4000);
    write_dr7(0xf0001);
    pv_event_reset();
    asm volatile("lea 2f(%%rip), %[after]\n\t"
                 "1: movl %[w], %%eax\n"
                 "2:\n\t"
                 EXTABLE(2b, 2b)
                 : [after] "=&r"(after) : [w] "m"(watched) : "rax");
    report("kernel.data_read", 1, after, 0xe030, 0xffff4ff1);

    /* An instruction breakpoint (DR1, R/W 00): a fault at the instruction. */
    write_dr6(0);
    write_dr7(0);
    at = (u64)(uintptr_t)pvbp_insn;
    set_debugreg(1, at);
    write_dr7(0x4);
    pv_event_reset();
    asm volatile("pvbp_insn: nop\n"
                 "1:\n\t"
                 EXTABLE(pvbp_insn, 1b));
    write_dr7(0);
    report("kernel.insn", 1, at, 0xe030, 0xffff0ff2);

    /* I/O breakpoints need the virtual CR4.DE; then DR4/DR5 are #UD. */
    u64 cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" :: "r"(cr4 | 8));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    pv_expect("cr4.de", cr4 & 8, 8);
    pv_expect_rc("get_debugreg.dr4_with_de", get_debugreg(4), -19);
    pv_event_reset();
    asm volatile("1: mov %%dr4, %%rax\n"
                 "2:\n\t"
                 EXTABLE(1b, 2b) ::: "rax");
    pv_expect_rc("mov_from_dr4_with_de.vector", last_event.count ? (long)last_event.vector : -1, 6);

    /* An I/O breakpoint on port 0x80 (DR2, R/W 10, LEN 00), hit by an OUT Xen emulates. */
    u32 iopl = 1;
    pv_expect_rc("physdev_set_iopl", _hypercall2(HC_physdev_op, PHYSDEVOP_set_iopl, &iopl), 0);
    write_dr6(0);
    set_debugreg(2, 0x80);
    pv_expect_rc("set_debugreg.dr7_io", set_debugreg(7, 0x2000010), 0);
    pv_expect("io.dr7", read_dr7(), 0x2000410);
    pv_event_reset();
    asm volatile("lea 2f(%%rip), %[after]\n\t"
                 "xor %%eax, %%eax\n\t"
                 "1: outb %%al, $0x80\n"
                 "2:\n\t"
                 EXTABLE(2b, 2b)
                 : [after] "=&r"(after) :: "rax");
    report("kernel.io_out", 1, after, 0xe030, 0xffff0ff4);
    write_dr7(0);
    iopl = 0;
    _hypercall2(HC_physdev_op, PHYSDEVOP_set_iopl, &iopl);
    asm volatile("mov %0, %%cr4" :: "r"(cr4 & ~8UL));

    /* MOV SS hitting a data breakpoint: the #DB waits for the next instruction. */
    asm volatile("mov %%ss, %0" : "=r"(ss_value));
    write_dr6(0);
    set_debugreg(0, (u64)(uintptr_t)&ss_value);
    write_dr7(0x70001); /* R/W 11, LEN 01: 2 bytes */
    pv_event_reset();
    asm volatile("lea 2f(%%rip), %[after]\n\t"
                 "mov %[ss], %%ss\n\t"
                 "1: nop\n"
                 "2:\n\t"
                 EXTABLE(1b, 1b)
                 EXTABLE(2b, 2b)
                 : [after] "=&r"(after) : [ss] "m"(ss_value));
    /* QEMU TCG takes the #DB right after the MOV SS, at the NOP (test/xen-differences.ts). */
    pv_expect_rc("kernel.movss_nop.db_count", (long)last_event.count, 1);
    printk("kernel.movss_nop.rip: %s\n", last_event.rip == after ? "after_nop" : last_event.rip == after - 1 ? "at_nop" : "elsewhere");
    if (last_event.rip != after && last_event.rip != after - 1)
        test_fail("kernel.movss_nop.rip: 0x%lx, expected 0x%lx", last_event.rip, after);
    pv_expect("kernel.movss_nop.dr6", read_dr6(), 0xffff0ff1);

    /* MOV SS then SYSCALL (a hypercall): the #DB is taken in Xen, which drops it. */
    write_dr6(0);
    pv_event_reset();
    long version;
    asm volatile("mov %[ss], %%ss\n\t"
                 "1: syscall\n"
                 "2:\n\t"
                 EXTABLE(1b, 1b)
                 : "=a"(version) : "a"(__HYPERVISOR_xen_version), "D"(0UL), "S"(0UL), [ss] "m"(ss_value)
                 : "rcx", "r11", "memory");
    /* Under QEMU TCG the #DB comes before the SYSCALL, in the guest: one #DB, DR6.B0. */
    printk("kernel.movss_syscall.db_count: %lu\n", last_event.count);
    if (last_event.count > 1)
        test_fail("kernel.movss_syscall.db_count: %lu, expected 0", last_event.count);
    pv_expect_rc("kernel.movss_syscall.hypercall_ok", version > 0, 1);
    pv_expect("kernel.movss_syscall.dr6", read_dr6(), last_event.count ? 0xffff0ff1 : 0xffff0ff0);
    write_dr7(0);
    pv_expect("final.dr7", (u64)get_debugreg(7), 0x400);
}
