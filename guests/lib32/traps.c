/*
 * Descriptor tables and exception handling of the 32-bit guest library.
 *
 * What the architecture requires (Intel SDM Vol. 3A):
 * - Segment descriptors (§3.4.5): base 31:0, limit 19:0, access byte
 *   (P, DPL, S, type), flags (G, D/B).  LTR needs an available 32-bit TSS
 *   descriptor (type 9, §7.2.2).
 * - Gates are 8 bytes (§6.11): a code selector and a 32-bit offset; type 0xE
 *   is an interrupt gate (clears IF on entry), 0xF a trap gate (leaves IF,
 *   §6.12.1.2).
 * - To the same privilege the CPU pushes EFLAGS, CS, EIP (and an error code)
 *   on the current stack; from CPL 3 to a DPL-0 handler it switches to
 *   SS0:ESP0 of the current TSS and pushes the old SS and ESP first (§6.12.1,
 *   Figure 6-4).
 * - CR2 holds the linear address of the last #PF (§4.7).
 */
#include "ringside32.h"

struct fault_record last;
struct tss32 tss __attribute__((aligned(16)));

static u64 gdt[6] __attribute__((aligned(8)));
static u64 idt[IDT_ENTRIES] __attribute__((aligned(8)));
static u8 ring0_stack[4096] __attribute__((aligned(16)));

extern void (*const exception_stubs[32])(void);
void stub_0x80(void);

u64 segment(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
           ((u64)((limit >> 16) & 0xf) << 48) | ((u64)flags << 52) | ((u64)(base >> 24) << 56);
}

void set_gate(unsigned int vector, void (*handler)(void), u32 type, u32 dpl, u32 present)
{
    u32 off = (u32)handler;
    idt[vector] = (off & 0xffff) | ((u64)SEL_KCODE << 16) |
                  ((u64)((present << 7) | (dpl << 5) | type) << 40) | ((u64)(off >> 16) << 48);
}

void tables_init(void)
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

    for (unsigned int v = 0; v < 32; v++)
        set_gate(v, exception_stubs[v], GATE_INT32, v == 3 ? 3 : 0, 1);
    set_gate(0x80, stub_0x80, GATE_INT32, 3, 1);    /* ring 3 -> 0 return path */
    struct __attribute__((packed)) { u16 limit; u32 base; } idtr = { sizeof(idt) - 1, (u32)idt };
    asm volatile("lidt %0" :: "m"(idtr));

    /* Mask every IRQ at both PICs so that STI is safe under QEMU (its PIT is running). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

struct extable { u32 fault, fixup; };
extern struct extable __ex_table_start[], __ex_table_end[];

/* Called by every stub, and alone by the INT 0x80 stub. */
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
    last.cr2 = read_cr2();
    last.frame_addr = (u32)&f->eip;
    last.handler_if = (flags & EFLAGS_IF) != 0;
}

void trap_dispatch(struct frame *f)
{
    trap_record(f);
    if (f->vector >= 32)
        return;                                      /* INT n through a guest's gate: resume after it */
    for (struct extable *e = __ex_table_start; e < __ex_table_end; e++) {
        if (e->fault == f->eip) {
            f->eip = e->fixup;
            return;
        }
    }
    console_printk("unexpected exception: vector %u error 0x%x at eip 0x%x cs 0x%x cr2 0x%x\n",
                   f->vector, f->error, f->eip, f->cs, last.cr2);
    test_abort("unexpected exception");
}
