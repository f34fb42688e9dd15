/*
 * io-permission: I/O permission at CPL 3 (Intel SDM Vol. 1 §19.5 "Protected-Mode I/O":
 * §19.5.1 I/O Privilege Level, §19.5.2 I/O Permission Bit Map; Vol. 2 IN, OUT, INS,
 * OUTS, CLI, STI, POPF "Operation").
 *
 * What the architecture requires:
 * - With CPL <= IOPL, IN/OUT/INS/OUTS are allowed without looking at the TSS.  With
 *   CPL > IOPL the processor reads the I/O bitmap base from TSS offset 0x66 and then
 *   two bytes at base + port/8; every bit for the ports the access covers (1, 2 or 4
 *   consecutive ports) must be 0, else #GP(0).  If those two bytes reach past the TSS
 *   limit the access is denied (#GP(0)): ports "past the bitmap" are never allowed,
 *   which is also why the SDM asks for a final 0xFF byte (a word access at port 0xFFFF
 *   reads it).
 * - CLI and STI at CPL > IOPL raise #GP(0) (no VME/PVI here); at CPL 3 with IOPL 3
 *   they change IF.
 * - POPF at CPL > 0 leaves IOPL unchanged, and at CPL > IOPL leaves IF unchanged,
 *   without a fault (Vol. 2 POPF: the bits are silently not modified).
 * - The permission check is part of executing INS/OUTS and comes before a REP prefix looks
 *   at the count: REP INSB / REP OUTSB with RCX = 0 on a denied port raise #GP(0) at the
 *   instruction, and RCX, RSI, RDI and memory are unchanged; on a permitted port they do
 *   nothing at all (no fault, nothing changes).  Vol. 2 INS/OUTS "Operation" opens with the
 *   IOPL/bitmap test and "Protected Mode Exceptions" lists #GP(0) for a denied port without
 *   regard to the count; AMD APM Vol. 3 INSx/OUTSx makes the same I/O permission check (its
 *   text was not available to this project; the AMD EPYC below is the evidence for AMD).
 *   The SDM does not spell out the zero count
 *   in one sentence; an AMD EPYC faults there (SIGSEGV for a CPL-3 REP INSB/OUTSB with RCX = 0
 *   and a denied port under Linux), and QEMU and Bochs check before the REP loop.
 * The library's TSS (guests/lib/user.c) has a bitmap for all 65536 ports plus the
 * 0xFF byte, all denied; this guest opens single ports.  Ports 0x300-0x31f and 0xffff
 * have no device here nor in QEMU; only whether the access faulted is printed.
 */
#include "ringside.h"

volatile u64 user_label;
u8 ins_buf[16];

static void report(const char *name, bool want_fault)
{
    if (last_fault.count)
        printk("%s: %s(0x%lx)\n", name, exc_name((unsigned int)last_fault.vector), last_fault.error_code);
    else
        printk("%s: ok\n", name);
    if (want_fault && (!last_fault.count || last_fault.vector != 13 || last_fault.error_code != 0 ||
                       last_fault.rip != user_label || last_fault.cs != SEL_USER_CODE64))
        test_fail("%s: expected #GP(0) at the instruction", name);
    if (!want_fault && last_fault.count)
        test_fail("%s: unexpected %s", name, exc_name((unsigned int)last_fault.vector));
}

/* A user-mode probe: one I/O instruction with DX = port, RDI/RSI = ins_buf, RCX = 2. */
#define PROBE(fn, insn)                                                              \
    static u64 fn(u64 port)                                                         \
    {                                                                               \
        asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, user_label(%%rip)\n\t"     \
                     "mov $2, %%ecx\n\txor %%eax, %%eax\n\t"                        \
                     "1: " insn "\n2:\n\t" EXTABLE(1b, 2b)                          \
                     :: "d"(port), "D"(ins_buf), "S"(ins_buf)                       \
                     : "rax", "rcx", "memory", "cc");                               \
        return 0;                                                                   \
    }

PROBE(p_inb, "inb %%dx, %%al")
PROBE(p_inw, "inw %%dx, %%ax")
PROBE(p_inl, "inl %%dx, %%eax")
PROBE(p_outb, "outb %%al, %%dx")
PROBE(p_outw, "outw %%ax, %%dx")
PROBE(p_insb, "insb")
PROBE(p_outsb, "outsb")
PROBE(p_rep_insw, "rep insw")
PROBE(p_cli, "cli")
PROBE(p_sti, "sti")

/* REP INSB / REP OUTSB with RCX = 0, RSI = RDI = ins_buf: RCX, RSI and RDI after it (or at
 * the fixup, when it faulted); printed as RCX and the distances RSI and RDI moved. */
static volatile u64 zero_rcx, zero_rsi, zero_rdi;

#define PROBE_ZERO_COUNT(fn, insn)                                                   \
    static u64 fn(u64 port)                                                         \
    {                                                                               \
        u64 c = 0, si = (u64)(uintptr_t)ins_buf, di = (u64)(uintptr_t)ins_buf;      \
        asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, user_label(%%rip)\n\t"     \
                     "1: " insn "\n2:\n\t" EXTABLE(1b, 2b)                          \
                     : "+c"(c), "+S"(si), "+D"(di) : "d"(port)                      \
                     : "rax", "memory", "cc");                                      \
        zero_rcx = c;                                                               \
        zero_rsi = si;                                                              \
        zero_rdi = di;                                                              \
        return 0;                                                                   \
    }

PROBE_ZERO_COUNT(p_rep_insb_zero, "rep insb")
PROBE_ZERO_COUNT(p_rep_outsb_zero, "rep outsb")

static void run_zero_count(const char *name, u64 (*fn)(u64), u64 port, bool want_fault)
{
    u64 buf = (u64)(uintptr_t)ins_buf;
    bool buf_kept = true;

    memset(ins_buf, 0x5a, sizeof(ins_buf));
    zero_rcx = zero_rsi = zero_rdi = ~0UL;
    fault_reset();
    exec_user_frame((u64)(uintptr_t)fn, port, SEL_USER_CODE64, RFLAGS_FIXED);
    report(name, want_fault);
    for (unsigned int k = 0; k < sizeof(ins_buf); k++)
        buf_kept = buf_kept && ins_buf[k] == 0x5a;
    printk("%s.rcx: 0x%lx\n", name, zero_rcx);
    printk("%s.rsi_delta: %ld\n", name, (long)(zero_rsi - buf));
    printk("%s.rdi_delta: %ld\n", name, (long)(zero_rdi - buf));
    printk("%s.buffer: %s\n", name, buf_kept ? "unchanged" : "written");
    if (zero_rcx != 0 || zero_rsi != buf || zero_rdi != buf || !buf_kept)
        test_fail("%s: RCX 0x%lx, RSI moved by %ld, RDI by %ld, buffer %s; expected all unchanged", name,
                  zero_rcx, (long)(zero_rsi - buf), (long)(zero_rdi - buf), buf_kept ? "unchanged" : "written");
}

static u64 probe_rflags;

static u64 p_cli_sti(u64 arg)
{
    (void)arg;
    u64 after_cli, after_sti;
    asm volatile("cli\n\tpushfq\n\tpop %0\n\tsti\n\tpushfq\n\tpop %1\n\tcli"
                 : "=r"(after_cli), "=r"(after_sti) :: "memory", "cc");
    return ((after_cli >> 9) & 1) | (((after_sti >> 9) & 1) << 1);
}

/* POPF with IOPL = 3 and IF flipped; returns the RFLAGS that resulted. */
static u64 p_popf(u64 arg)
{
    (void)arg;
    u64 f;
    asm volatile("pushfq\n\txorq $0x3200, (%%rsp)\n\tpopfq\n\tpushfq\n\tpop %0" : "=r"(f) :: "memory", "cc");
    return f;
}

static void run(const char *name, u64 (*fn)(u64), u64 port, u64 rflags, bool want_fault)
{
    fault_reset();
    exec_user_frame((u64)(uintptr_t)fn, port, SEL_USER_CODE64, rflags);
    report(name, want_fault);
}

#define IOPL0 RFLAGS_FIXED
#define IOPL3 (RFLAGS_FIXED | RFLAGS_IOPL3)

void test_main(void)
{
    ring3_init();
    /* No platform interrupt may arrive while a test runs with IF = 1 (QEMU has 8259s). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    iomap_allow(0x300, true);
    iomap_allow(0x306, true);
    iomap_allow(0x307, true);
    iomap_allow(0x30c, true);
    iomap_allow(0x30d, true);
    iomap_allow(0x30e, true);
    iomap_allow(0x310, true);
    iomap_allow(0x311, true);
    iomap_allow(0x312, true);
    iomap_allow(0x313, true);
    iomap_allow(0xffff, true);

    run("iopl0.inb.allowed_0x300", p_inb, 0x300, IOPL0, false);
    run("iopl0.inb.denied_0x301", p_inb, 0x301, IOPL0, true);
    run("iopl0.outb.allowed_0x300", p_outb, 0x300, IOPL0, false);
    run("iopl0.outb.denied_0x301", p_outb, 0x301, IOPL0, true);
    run("iopl0.inw.both_allowed_0x306", p_inw, 0x306, IOPL0, false);
    run("iopl0.inw.second_denied_0x307", p_inw, 0x307, IOPL0, true);    /* 0x308 denied: next bitmap byte */
    run("iopl0.outw.first_denied_0x305", p_outw, 0x305, IOPL0, true);
    run("iopl0.inl.all_allowed_0x310", p_inl, 0x310, IOPL0, false);
    run("iopl0.inl.last_denied_0x30c", p_inl, 0x30c, IOPL0, true);     /* 0x30f denied */
    run("iopl0.inb.allowed_0xffff", p_inb, 0xffff, IOPL0, false);
    run("iopl0.inw.terminator_0xffff", p_inw, 0xffff, IOPL0, true);   /* bit 0x10000: the 0xFF byte */
    run("iopl0.insb.allowed_0x300", p_insb, 0x300, IOPL0, false);
    run("iopl0.insb.denied_0x301", p_insb, 0x301, IOPL0, true);
    run("iopl0.outsb.allowed_0x300", p_outsb, 0x300, IOPL0, false);
    run("iopl0.outsb.denied_0x301", p_outsb, 0x301, IOPL0, true);
    run("iopl0.rep_insw.allowed_0x306", p_rep_insw, 0x306, IOPL0, false);
    run("iopl0.rep_insw.denied_0x307", p_rep_insw, 0x307, IOPL0, true);
    /* A zero count: the permission check still happens (and nothing else). */
    run_zero_count("iopl0.rep_insb.rcx0.denied_0x301", p_rep_insb_zero, 0x301, true);
    run_zero_count("iopl0.rep_outsb.rcx0.denied_0x301", p_rep_outsb_zero, 0x301, true);
    run_zero_count("iopl0.rep_insb.rcx0.allowed_0x300", p_rep_insb_zero, 0x300, false);
    run_zero_count("iopl0.rep_outsb.rcx0.allowed_0x300", p_rep_outsb_zero, 0x300, false);

    /* The bitmap byte for ports 0x300-0x307 is at TSS offset 0x68 + 0x60 = 0xc8; the
     * processor reads it with the next one, so limit 0xc9 allows port 0x300, 0xc8 does
     * not, and with limit 0xc7 the byte itself is past the limit. */
    for (u32 lim = 0xc7; lim <= 0xc9; lim++) {
        char n[64];
        tss_set_limit(lim);
        ltr_tss();
        snprintk(n, sizeof(n), "iopl0.inb.0x300_tss_limit_0x%x", lim);
        run(n, p_inb, 0x300, IOPL0, lim < 0xc9);
    }
    tss_set_limit(sizeof(user_tss) - 1);
    ltr_tss();

    /* IOPL 3 = CPL: the bitmap is not consulted. */
    run("iopl3.inb.denied_in_bitmap_0x301", p_inb, 0x301, IOPL3, false);
    run("iopl3.outw.denied_in_bitmap_0x305", p_outw, 0x305, IOPL3, false);
    run("iopl3.insb.denied_in_bitmap_0x301", p_insb, 0x301, IOPL3, false);

    /* CLI/STI: #GP(0) at CPL 3 with IOPL 0; they change IF with IOPL 3. */
    run("iopl0.cli", p_cli, 0, IOPL0, true);
    run("iopl0.sti", p_sti, 0, IOPL0, true);
    fault_reset();
    u64 r = exec_user_frame((u64)(uintptr_t)p_cli_sti, 0, SEL_USER_CODE64, IOPL3 | RFLAGS_IF);
    report("iopl3.cli_sti", false);
    printk("iopl3.if_after_cli: %lu\n", r & 1);
    printk("iopl3.if_after_sti: %lu\n", r >> 1);
    if (r != 2)
        test_fail("iopl3.cli_sti: IF %lu after CLI, %lu after STI", r & 1, r >> 1);

    /* POPF at CPL 3: IOPL never changes; IF changes only when CPL <= IOPL. */
    fault_reset();
    probe_rflags = exec_user_frame((u64)(uintptr_t)p_popf, 0, SEL_USER_CODE64, IOPL0 | RFLAGS_IF);
    report("iopl0.popf", false);
    printk("iopl0.popf.iopl: %lu\n", (probe_rflags >> 12) & 3);
    printk("iopl0.popf.if: %lu\n", (probe_rflags >> 9) & 1);
    if (((probe_rflags >> 12) & 3) != 0 || !((probe_rflags >> 9) & 1))
        test_fail("iopl0.popf: IOPL %lu IF %lu, expected both unchanged (0, 1)",
                  (probe_rflags >> 12) & 3, (probe_rflags >> 9) & 1);
    fault_reset();
    probe_rflags = exec_user_frame((u64)(uintptr_t)p_popf, 0, SEL_USER_CODE64, IOPL3 | RFLAGS_IF);
    report("iopl3.popf", false);
    printk("iopl3.popf.iopl: %lu\n", (probe_rflags >> 12) & 3);
    printk("iopl3.popf.if: %lu\n", (probe_rflags >> 9) & 1);
    /* The XOR cleared IOPL's two bits' worth (3 ^ 3 = 0) and IF: IOPL stays 3, IF becomes 0. */
    if (((probe_rflags >> 12) & 3) != 3 || ((probe_rflags >> 9) & 1))
        test_fail("iopl3.popf: IOPL %lu IF %lu, expected 3 and 0",
                  (probe_rflags >> 12) & 3, (probe_rflags >> 9) & 1);
}
