/*
 * protected-idt: exception and interrupt delivery through a protected-mode
 * IDT, in a 32-bit multiboot kernel (paging off).
 *
 * What the architecture requires (Intel SDM Vol. 3A §6.10-§6.13, and the
 * INT n / IRET pages of Vol. 2):
 *
 * - Gates are 8 bytes (§6.11).  Interrupt and trap gates name a code segment
 *   and a 32-bit offset; an interrupt gate clears IF on entry, a trap gate
 *   leaves it (§6.12.1.2).  Both clear TF, NT, RF and VM.
 * - To the same privilege, the CPU pushes EFLAGS, CS, EIP (and an error code)
 *   on the current stack: 12 or 16 bytes (§6.12.1, Figure 6-4).  From CPL 3 to
 *   a DPL-0 handler it switches to SS0:ESP0 of the current 32-bit TSS and
 *   pushes the old SS and ESP first: 20 or 24 bytes.
 * - Faults save the EIP of the faulting instruction with RF = 1 in the pushed
 *   EFLAGS; traps (INT3, INT n) the EIP after it (§6.5, Vol. 3B "Instruction-
 *   Breakpoint Exception Condition" for RF).
 * - Error codes (§6.13): a selector error for a bad segment load (#GP(0x48)),
 *   vector*8+2 (IDT bit) for INT n past the IDT limit or through a gate whose
 *   DPL is below CPL (#GP), or through a not-present gate (#NP), plus EXT = 0
 *   for INT n.  CLI at CPL 3 with IOPL 0 is #GP(0) (Vol. 2 CLI).
 *
 * Every observation is printed as `name: value`.  QEMU TCG does not set RF
 * in the pushed EFLAGS (test/qemu-deviations.ts); RF is printed on its own
 * line and the guest accepts either value there.
 */
#include "ringside32.h"

/* The guest's own gates: an interrupt and a trap gate of DPL 0 (the library's
 * stubs for 0x81/0x82 record and return), and a not-present one. */
static void gates_init(void)
{
    set_gate(0x81, stub_0x81, GATE_INT32, 0, 1);
    set_gate(0x82, stub_0x82, GATE_TRAP32, 0, 1);
    set_gate(0x83, stub_0x82, GATE_INT32, 3, 0);
}

static u8 user_stack[4096] __attribute__((aligned(16)));

static const char *const names[] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vec9", "#TS", "#NP", "#SS", "#GP",
    "#PF", "vec15", "#MF", "#AC",
};

static void print_record(const char *name, u32 label, u32 want_vector, u32 want_error)
{
    if (!last.count) {
        printk("%s.fault: none\n", name);
        test_fail("%s", name);
        return;
    }
    printk("%s.vector: %s\n", name, last.vector < 18 ? names[last.vector] : "INT n");
    printk("%s.error_code: 0x%x\n", name, last.error);
    printk("%s.eip: label%s0x%x\n", name, last.eip >= label ? "+" : "-",
           last.eip >= label ? last.eip - label : label - last.eip);
    printk("%s.cs: 0x%x\n", name, last.cs);
    printk("%s.eflags: 0x%x\n", name, last.eflags & ~EFLAGS_RF);
    printk("%s.rf: %u\n", name, (last.eflags & EFLAGS_RF) != 0);
    if (last.cs & 3)
        printk("%s.ss: 0x%x\n", name, last.ss);
    if (last.vector != want_vector || last.error != want_error || last.eip != label)
        test_fail("%s", name);
}

#define KNOWN_FLAGS "0x2"

/* ---- ring 0 ---- */

static void ring0_cases(void)
{
    u32 label, before;

    last.count = 0;
    asm volatile("mov $1f, %0\n\tpush $" KNOWN_FLAGS "\n\tpopf\n"
                 "1: ud2\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) :: "memory");
    print_record("ud", label, 6, 0);

    last.count = 0;
    asm volatile("mov $2f, %0\n\tpush $" KNOWN_FLAGS "\n\tpopf\n"
                 "1: int3\n2:\n\t" EXTABLE(2b, 2b) : "=r"(label) :: "memory");
    print_record("bp", label, 3, 0);

    last.count = 0;
    asm volatile("mov $1f, %0\n\tpush $" KNOWN_FLAGS "\n\tpopf\n\t"
                 "xor %%ecx, %%ecx\n\tmov $1, %%eax\n\txor %%edx, %%edx\n"
                 "1: div %%ecx\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) :: "eax", "ecx", "edx", "memory");
    print_record("de", label, 0, 0);

    last.count = 0;
    asm volatile("mov $1f, %0\n\tmov $0x48, %%ax\n\tpush $" KNOWN_FLAGS "\n\tpopf\n"
                 "1: mov %%ax, %%ds\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) :: "eax", "memory");
    print_record("gp_selector", label, 13, 0x48);

    last.count = 0;
    asm volatile("mov $1f, %0\n\tpush $" KNOWN_FLAGS "\n\tpopf\n"
                 "1: int %1\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) : "i"(IDT_ENTRIES) : "memory");
    print_record("gp_idt_limit", label, 13, IDT_ENTRIES * 8 + 2);

    last.count = 0;
    asm volatile("mov $1f, %0\n\tpush $" KNOWN_FLAGS "\n\tpopf\n"
                 "1: int $0x83\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) :: "memory");
    print_record("np_gate", label, 11, 0x83 * 8 + 2);

    /* Same privilege: EFLAGS, CS, EIP on the current stack (12 bytes), no stack switch. */
    last.count = 0;
    asm volatile("mov %%esp, %0\n\tsti\n\tint $0x81\n\tcli" : "=r"(before) :: "memory");
    printk("int_gate.frame_size: %u\n", before - last.frame_addr);
    printk("int_gate.handler_if: %u\n", last.handler_if);
    printk("int_gate.pushed_if: %u\n", (last.eflags & EFLAGS_IF) != 0);
    if (before - last.frame_addr != 12 || last.handler_if != 0 || !(last.eflags & EFLAGS_IF))
        test_fail("int_gate");

    last.count = 0;
    asm volatile("sti\n\tint $0x82\n\tcli" ::: "memory");
    printk("trap_gate.handler_if: %u\n", last.handler_if);
    if (last.handler_if != 1)
        test_fail("trap_gate");
}

/* ---- ring 3 ---- */

/* What the ring-3 code saw; paging is off, so CPL 3 can write it. */
static struct { u32 gp_vector, gp_error, gp_cs, gp_ss, cli_vector, cli_error, cli_count; } user_seen;

static void user_code(void)
{
    /* #GP(0x81*8+2): INT n through a DPL-0 gate from CPL 3. */
    last.count = 0;
    asm volatile("1: int $0x81\n2:\n\t" EXTABLE(1b, 2b) ::: "memory");
    user_seen.gp_vector = last.vector;
    user_seen.gp_error = last.error;
    user_seen.gp_cs = last.cs;
    user_seen.gp_ss = last.ss;
    /* #GP(0): CLI with IOPL 0. */
    last.count = 0;
    asm volatile("1: cli\n2:\n\t" EXTABLE(1b, 2b) ::: "memory");
    user_seen.cli_vector = last.vector;
    user_seen.cli_error = last.error;
    user_seen.cli_count = last.count;
    asm volatile("int $0x80" ::: "memory");
}

static void ring3_cases(void)
{
    enter_user(user_code, user_stack + sizeof(user_stack));
    u32 cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    printk("ring3.back_in_ring0_cs: 0x%x\n", cs);
    printk("ring3.int80.cs: 0x%x\n", last.cs);
    printk("ring3.int80.ss: 0x%x\n", last.ss);
    printk("ring3.int80.frame_below_esp0: %u\n", tss.esp0 - last.frame_addr);
    printk("ring3.int80.user_esp_in_stack: %u\n",
           last.esp > (u32)user_stack && last.esp <= (u32)user_stack + sizeof(user_stack));
    if (cs != SEL_KCODE || last.cs != SEL_UCODE || last.ss != SEL_UDATA || tss.esp0 - last.frame_addr != 20)
        test_fail("ring3.int80");

    printk("ring3.int_dpl0.vector: %s\n", user_seen.gp_vector < 18 ? names[user_seen.gp_vector] : "INT n");
    printk("ring3.int_dpl0.error_code: 0x%x\n", user_seen.gp_error);
    printk("ring3.int_dpl0.cs: 0x%x\n", user_seen.gp_cs);
    printk("ring3.int_dpl0.ss: 0x%x\n", user_seen.gp_ss);
    if (user_seen.gp_vector != 13 || user_seen.gp_error != 0x81 * 8 + 2 || user_seen.gp_cs != SEL_UCODE ||
        user_seen.gp_ss != SEL_UDATA)
        test_fail("ring3.int_dpl0");
    printk("ring3.cli.vector: %s\n", user_seen.cli_count ? names[user_seen.cli_vector < 18 ? user_seen.cli_vector : 9] : "none");
    printk("ring3.cli.error_code: 0x%x\n", user_seen.cli_error);
    if (user_seen.cli_count != 1 || user_seen.cli_vector != 13 || user_seen.cli_error != 0)
        test_fail("ring3.cli");
}

void test_main(void)
{
    gates_init();
    ring0_cases();
    ring3_cases();
}
