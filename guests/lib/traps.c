/*
 * IDT and exception dispatch.
 *
 * 64-bit IDT gates are 16 bytes (Intel SDM Vol. 3A §6.14.1 "64-Bit Mode IDT"):
 * offset[15:0], selector, IST, type/DPL/P, offset[31:16], offset[63:32].
 * All 32 exception vectors get interrupt gates (type 0xE, so IF is cleared on
 * delivery), DPL 0, IST 0, selector 0x08.
 *
 * An exception whose RIP is listed in the exception table (EXTABLE) is an
 * expected one: its details go to last_fault and execution resumes at the
 * fixup address with IRETQ.  Any other exception ends the test with ERROR
 * after printing the whole frame.
 */
#include "ringside.h"

struct idt_gate {
    u16 off_lo;
    u16 sel;
    u8  ist;
    u8  type_attr;
    u16 off_mid;
    u32 off_hi;
    u32 reserved;
} __attribute__((packed));

struct extable_entry {
    u64 fault;
    u64 fixup;
};

extern const struct extable_entry __ex_table_start[], __ex_table_end[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
volatile struct fault_record last_fault;
static u64 dynamic_fault_rip, dynamic_fixup;
static unsigned int depth;

static const char *const names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
    "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
    "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *exc_name(unsigned int vector)
{
    return vector < 32 ? names[vector] : "#??";
}

void idt_set_gate(unsigned int vector, u64 a, unsigned int type, unsigned int dpl, unsigned int ist)
{
    idt[vector] = (struct idt_gate){
        .off_lo = (u16)a,
        .sel = SEL_CODE64,
        .ist = (u8)ist,
        .type_attr = (u8)(0x80 | (dpl << 5) | type),
        .off_mid = (u16)(a >> 16),
        .off_hi = (u32)(a >> 32),
    };
}

void idt_set_gate_raw(unsigned int vector, u64 lo, u64 hi)
{
    memcpy(&idt[vector], &lo, 8);
    memcpy((char *)&idt[vector] + 8, &hi, 8);
}

void idt_get_gate(unsigned int vector, u64 *lo, u64 *hi)
{
    memcpy(lo, &idt[vector], 8);
    memcpy(hi, (char *)&idt[vector] + 8, 8);
}

void idt_set_limit(unsigned int gates)
{
    struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) ptr = { (u16)(gates * 16 - 1), (u64)(uintptr_t)idt };
    asm volatile("lidt %0" :: "m"(ptr) : "memory");
}

void idt_init(void)
{
    for (unsigned int v = 0; v < 32; v++)
        idt_set_gate(v, exc_stub_table[v], GATE_INT, 0, 0);  /* P=1, DPL=0, 64-bit interrupt gate */
    idt_set_limit(32);
}

void fault_reset(void)
{
    last_fault.count = 0;
    last_fault.vector = ~0UL;
    last_fault.error_code = 0;
    last_fault.cr2 = 0;
    last_fault.rip = last_fault.cs = last_fault.rflags = 0;
    last_fault.rsp = last_fault.ss = last_fault.fixup = last_fault.frame = 0;
}

void fault_expect_at(u64 rip, u64 fixup)
{
    dynamic_fault_rip = rip;
    dynamic_fixup = fixup;
}

static u64 find_fixup(u64 rip)
{
    for (const struct extable_entry *e = __ex_table_start; e < __ex_table_end; e++)
        if (e->fault == rip)
            return e->fixup;
    if (dynamic_fixup && dynamic_fault_rip == rip) {
        u64 f = dynamic_fixup;
        dynamic_fixup = dynamic_fault_rip = 0;
        return f;
    }
    return 0;
}

static NORETURN void unexpected(const struct exc_frame *f, u64 cr2)
{
    printk("unexpected exception: %s\n", exc_name((unsigned int)f->vector));
    printk("vector: %lu\n", f->vector);
    printk("error_code: 0x%lx\n", f->error_code);
    printk("cr2: 0x%016lx\n", cr2);
    printk("rip: 0x%016lx\n", f->rip);
    printk("cs: 0x%lx\n", f->cs);
    printk("rflags: 0x%016lx\n", f->rflags);
    printk("rsp: 0x%016lx\n", f->rsp);
    printk("ss: 0x%lx\n", f->ss);
    printk("rax: 0x%016lx rbx: 0x%016lx rcx: 0x%016lx rdx: 0x%016lx\n",
           f->rax, f->rbx, f->rcx, f->rdx);
    printk("rsi: 0x%016lx rdi: 0x%016lx rbp: 0x%016lx\n", f->rsi, f->rdi, f->rbp);
    printk("r8: 0x%016lx r9: 0x%016lx r10: 0x%016lx r11: 0x%016lx\n",
           f->r8, f->r9, f->r10, f->r11);
    printk("r12: 0x%016lx r13: 0x%016lx r14: 0x%016lx r15: 0x%016lx\n",
           f->r12, f->r13, f->r14, f->r15);
    if (f->vector == 14)
        test_abort("unexpected exception %s at rip 0x%lx, error code 0x%lx, cr2 0x%lx",
                   exc_name((unsigned int)f->vector), f->rip, f->error_code, cr2);
    test_abort("unexpected exception %s at rip 0x%lx, error code 0x%lx",
               exc_name((unsigned int)f->vector), f->rip, f->error_code);
}

void exc_dispatch(struct exc_frame *f)
{
    u64 cr2 = read_cr2();

    if (depth++) {
        /* A fault inside this handler: do as little as possible. */
        puts("exception inside the exception handler\n");
        printk("Test result: ERROR (nested exception %s at rip 0x%lx)\n",
               exc_name((unsigned int)f->vector), f->rip);
        platform_exit(0);
    }

    u64 fixup = find_fixup(f->rip);
    if (!fixup)
        unexpected(f, cr2);

    last_fault.count++;
    last_fault.vector = f->vector;
    last_fault.error_code = f->error_code;
    last_fault.cr2 = cr2;
    last_fault.rip = f->rip;
    last_fault.cs = f->cs;
    last_fault.rflags = f->rflags;
    last_fault.rsp = f->rsp;
    last_fault.ss = f->ss;
    last_fault.frame = (u64)(uintptr_t)&f->rip;
    last_fault.fixup = fixup;
    /* The frame's RF (1 for faults) is returned as it is: the CPU clears it once the
     * instruction at the fixup completes (SDM Vol. 3B §18.3.1.1), which the trap_rf
     * lines of later traps observe. */
    f->rip = fixup;
    depth--;
}

void print_fault(const char *prefix, u64 label)
{
    print_fault_kind(prefix, label, false);
}

void print_fault_kind(const char *prefix, u64 label, bool trap)
{
    if (!last_fault.count) {
        printk("%s.fault: none\n", prefix);
        return;
    }
    printk("%s.fault: %s\n", prefix, exc_name((unsigned int)last_fault.vector));
    printk("%s.vector: %lu\n", prefix, last_fault.vector);
    printk("%s.error_code: 0x%lx\n", prefix, last_fault.error_code);
    if (last_fault.vector == 14)
        printk("%s.cr2: 0x%016lx\n", prefix, last_fault.cr2);
    if (label && last_fault.rip >= label)
        printk("%s.rip: label+0x%lx\n", prefix, last_fault.rip - label);
    else if (label)
        printk("%s.rip: label-0x%lx\n", prefix, label - last_fault.rip);
    else
        printk("%s.rip: 0x%016lx\n", prefix, last_fault.rip);
    printk("%s.cs: 0x%lx\n", prefix, last_fault.cs);
    printk("%s.rflags: 0x%lx\n", prefix, last_fault.rflags & ~RFLAGS_RF);
    printk(trap ? "%s.trap_rf: %lu\n" : "%s.rf: %lu\n", prefix, (last_fault.rflags >> 16) & 1);
    printk("%s.rsp: 0x%016lx\n", prefix, last_fault.rsp);
    printk("%s.ss: 0x%lx\n", prefix, last_fault.ss);
}
