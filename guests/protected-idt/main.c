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
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned int size_t;

int printk(const char *fmt, ...);
size_t strlen(const char *s);

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28
#define EFLAGS_IF (1u << 9)
#define EFLAGS_RF (1u << 16)

struct frame {
    u32 edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
    u32 esp, ss;                 /* only from CPL 3 */
};

struct record {
    u32 count, vector, error, eip, cs, eflags, esp, ss;
    u32 frame_addr;              /* where the CPU's part of the frame starts (EIP) */
    u32 handler_if;              /* IF as the handler sees it */
} last;

static u32 failures;

static void fail(const char *what)
{
    printk("FAIL: %s\n", what);
    failures++;
}

static void outb(u16 port, u8 v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static void outl(u16 port, u32 v) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }

/* ---- descriptor tables ---- */

static u64 gdt[6] __attribute__((aligned(8)));
static u64 idt[0x84] __attribute__((aligned(8)));

static struct {
    u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 regs[8];
    u32 es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap;
} tss __attribute__((aligned(16)));

static u8 ring0_stack[4096] __attribute__((aligned(16)));
static u8 user_stack[4096] __attribute__((aligned(16)));

static u64 segment(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
           ((u64)((limit >> 16) & 0xf) << 48) | ((u64)flags << 52) | ((u64)(base >> 24) << 56);
}

/* type 0xE: 32-bit interrupt gate, 0xF: 32-bit trap gate. */
static void set_gate(unsigned int vector, void (*handler)(void), u32 type, u32 dpl, u32 present)
{
    u32 off = (u32)handler;
    idt[vector] = (off & 0xffff) | ((u64)SEL_KCODE << 16) |
                  ((u64)((present << 7) | (dpl << 5) | type) << 40) | ((u64)(off >> 16) << 48);
}

#define STUB(v) extern void stub_##v(void)
STUB(0); STUB(1); STUB(3); STUB(4); STUB(5); STUB(6); STUB(7); STUB(8);
STUB(10); STUB(11); STUB(12); STUB(13); STUB(14); STUB(17);
STUB(0x80); STUB(0x81); STUB(0x82);
void enter_user(void (*fn)(void), void *stack_top);

static void tables_init(void)
{
    gdt[1] = segment(0, 0xfffff, 0x9a, 0xc);        /* 0x08 code, DPL 0 */
    gdt[2] = segment(0, 0xfffff, 0x92, 0xc);        /* 0x10 data, DPL 0 */
    gdt[3] = segment(0, 0xfffff, 0xfa, 0xc);        /* 0x18 code, DPL 3 */
    gdt[4] = segment(0, 0xfffff, 0xf2, 0xc);        /* 0x20 data, DPL 3 */
    gdt[5] = segment((u32)&tss, sizeof(tss) - 1, 0x89, 0x0);   /* 0x28 32-bit TSS */
    tss.esp0 = (u32)(ring0_stack + sizeof(ring0_stack));
    tss.ss0 = SEL_KDATA;
    tss.iomap = sizeof(tss);

    struct __attribute__((packed)) { u16 limit; u32 base; } gdtr = { sizeof(gdt) - 1, (u32)gdt };
    asm volatile("lgdt %0\n\t"
                 "ljmp $0x08, $1f\n"
                 "1: mov $0x10, %%ax\n\t"
                 "mov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%ss\n\t"
                 "mov %%ax, %%fs\n\tmov %%ax, %%gs"
                 :: "m"(gdtr) : "eax", "memory");
    asm volatile("ltr %w0" :: "r"(SEL_TSS));

    static void (*const stubs[])(void) = {
        stub_0, stub_1, 0, stub_3, stub_4, stub_5, stub_6, stub_7, stub_8, 0,
        stub_10, stub_11, stub_12, stub_13, stub_14, 0, 0, stub_17,
    };
    for (unsigned int v = 0; v < sizeof(stubs) / sizeof(stubs[0]); v++)
        if (stubs[v])
            set_gate(v, stubs[v], 0xe, v == 3 ? 3 : 0, 1);
    set_gate(0x80, stub_0x80, 0xe, 3, 1);           /* ring 3 -> 0 return path */
    set_gate(0x81, stub_0x81, 0xe, 0, 1);           /* interrupt gate, DPL 0 */
    set_gate(0x82, stub_0x82, 0xf, 0, 1);           /* trap gate, DPL 0 */
    set_gate(0x83, stub_0x82, 0xe, 3, 0);           /* not present */
    struct __attribute__((packed)) { u16 limit; u32 base; } idtr = { sizeof(idt) - 1, (u32)idt };
    asm volatile("lidt %0" :: "m"(idtr));

    /* Mask every IRQ at both PICs so that STI is safe under QEMU (its PIT is running). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* ---- exception recording and fixups ---- */

struct extable { u32 fault, fixup; };
extern struct extable __ex_table_start[], __ex_table_end[];

#define EXTABLE(fault, fixup) \
    ".pushsection .ex_table, \"a\"\n\t.balign 8\n\t.long " #fault ", " #fixup "\n\t.popsection\n\t"

void trap_record(struct frame *f)
{
    u32 flags;
    asm volatile("pushf; pop %0" : "=r"(flags));
    last.count++;
    last.vector = f->vector;
    last.error = f->error;
    last.eip = f->eip;
    last.cs = f->cs;
    last.eflags = f->eflags;
    last.esp = (f->cs & 3) ? f->esp : 0;
    last.ss = (f->cs & 3) ? f->ss : 0;
    last.frame_addr = (u32)&f->eip;
    last.handler_if = (flags & EFLAGS_IF) != 0;
}

void trap_dispatch(struct frame *f)
{
    trap_record(f);
    if (f->vector == 0x81 || f->vector == 0x82)
        return;                                      /* INT n: a trap, resume after it */
    for (struct extable *e = __ex_table_start; e < __ex_table_end; e++) {
        if (e->fault == f->eip) {
            f->eip = e->fixup;
            return;
        }
    }
    printk("unexpected exception: vector %u error 0x%x at eip 0x%x cs 0x%x\n", f->vector, f->error, f->eip, f->cs);
    printk("Test result: ERROR (unexpected exception)\n");
    outl(0xf4, 1);
    for (;;)
        asm volatile("cli; hlt");
}

static const char *const names[] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vec9", "#TS", "#NP", "#SS", "#GP",
    "#PF", "vec15", "#MF", "#AC",
};

static void print_record(const char *name, u32 label, u32 want_vector, u32 want_error)
{
    if (!last.count) {
        printk("%s.fault: none\n", name);
        fail(name);
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
        fail(name);
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
                 "1: int $0x84\n2:\n\t" EXTABLE(1b, 2b) : "=r"(label) :: "memory");
    print_record("gp_idt_limit", label, 13, 0x84 * 8 + 2);

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
        fail("int_gate");

    last.count = 0;
    asm volatile("sti\n\tint $0x82\n\tcli" ::: "memory");
    printk("trap_gate.handler_if: %u\n", last.handler_if);
    if (last.handler_if != 1)
        fail("trap_gate");
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
        fail("ring3.int80");

    printk("ring3.int_dpl0.vector: %s\n", user_seen.gp_vector < 18 ? names[user_seen.gp_vector] : "INT n");
    printk("ring3.int_dpl0.error_code: 0x%x\n", user_seen.gp_error);
    printk("ring3.int_dpl0.cs: 0x%x\n", user_seen.gp_cs);
    printk("ring3.int_dpl0.ss: 0x%x\n", user_seen.gp_ss);
    if (user_seen.gp_vector != 13 || user_seen.gp_error != 0x81 * 8 + 2 || user_seen.gp_cs != SEL_UCODE ||
        user_seen.gp_ss != SEL_UDATA)
        fail("ring3.int_dpl0");
    printk("ring3.cli.vector: %s\n", user_seen.cli_count ? names[user_seen.cli_vector < 18 ? user_seen.cli_vector : 9] : "none");
    printk("ring3.cli.error_code: 0x%x\n", user_seen.cli_error);
    if (user_seen.cli_count != 1 || user_seen.cli_vector != 13 || user_seen.cli_error != 0)
        fail("ring3.cli");
}

void pm_main(void)
{
    printk("Ringside guest: protected-idt\n");
    tables_init();
    ring0_cases();
    ring3_cases();
    if (failures)
        printk("Test result: FAILURE (%u checks failed)\n", failures);
    else
        printk("Test result: SUCCESS\n");
    outl(0xf4, 0);
    for (;;)
        asm volatile("cli; hlt");
}
