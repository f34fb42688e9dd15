/*
 * ringside32.h: the library of the 32-bit multiboot guests (guest.json
 * {"boot": "multiboot32"}), the counterpart of guests/lib for a 32-bit
 * protected-mode kernel with paging off at entry.
 *
 * The library brings the multiboot (v1) header and entry (start.S), the
 * descriptor tables (traps.c: flat ring-0 and ring-3 segments, a 32-bit TSS,
 * an IDT with a stub for every exception vector), the fault record filled by
 * every exception, the exception table for instructions expected to fault,
 * the trip to CPL 3 and back (enter_user / INT 0x80) and XTF-style reporting
 * (report.c).  Console formatting and string functions come from guests/lib
 * (console.c, string.c).  A guest provides test_main().
 */
#ifndef RINGSIDE32_H
#define RINGSIDE32_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t  u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((__noreturn__))

/* ---- Entry point every guest provides ----
 * Called at CPL 0 after the banner and tables_init(); the result line follows
 * when it returns. */
void test_main(void);

/* EAX, EBX and EFLAGS as the loader left them (start.S saves them first). */
extern u32 entry_eax, entry_ebx, entry_eflags;

/* ---- Console ----
 * printk writes to port 0xE9 (guests/lib/console.c).  The library's own lines
 * (banner, FAIL:, the result line) go through console_printk and
 * console_write, which is puts() unless the guest defines its own
 * console_init/console_write (a UART). */
void puts(const char *s);
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);
void console_init(void);
void console_write(const char *s);
void console_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int   memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- Reporting (XTF style, like guests/lib/report.c) ----
 * test_fail prints `FAIL: message`; the run ends with one line
 *   Test result: SUCCESS | FAILURE (first message[; and N more]) | ERROR (reason)
 * and a write of 0 to the exit port. */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void test_finish(void);
NORETURN void test_abort(const char *reason);

/* ---- Ports ---- */
#define PORT_EXIT 0xf4
static inline void outb(u16 port, u8 v) { asm volatile("outb %b0, %w1" :: "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { asm volatile("outl %0, %w1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 v;
    asm volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---- Control registers ---- */
static inline u32 read_cr0(void) { u32 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u32 read_cr2(void) { u32 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u32 read_cr4(void) { u32 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { asm volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(u32 v) { asm volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(u32 v) { asm volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void invlpg(u32 va) { asm volatile("invlpg (%0)" :: "r"(va) : "memory"); }

#define EFLAGS_IF (1u << 9)
#define EFLAGS_RF (1u << 16)

/* ---- Descriptor tables (traps.c) ----
 * GDT: 0x08 flat code and 0x10 flat data at DPL 0, 0x18/0x20 the same at
 * DPL 3 (selectors with RPL 3 below), 0x28 a 32-bit TSS whose SS0:ESP0 is a
 * ring-0 stack of its own.  IDT: 0x84 gates (INT 0x84 and above lie beyond
 * its limit); every exception vector 0-31 goes to a stub, as an interrupt
 * gate of DPL 0 (#BP: DPL 3, so INT3 works at CPL 3); 0x80 is the way back
 * from CPL 3; 0x81-0x83 are free for the guest. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28
#define IDT_ENTRIES 0x84

#define GATE_INT32  0xe         /* clears IF on entry (SDM Vol. 3A §6.12.1.2) */
#define GATE_TRAP32 0xf         /* leaves IF */

struct tss32 {
    u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 regs[8];
    u32 es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap;
};
extern struct tss32 tss;

u64 segment(u32 base, u32 limit, u32 access, u32 flags);
void set_gate(unsigned int vector, void (*handler)(void), u32 type, u32 dpl, u32 present);
void tables_init(void);

/* Stubs for gates 0x81 and 0x82, which the guest sets up as it needs: each
 * records the event in `last` and returns after the INT n (no fixup). */
void stub_0x81(void);
void stub_0x82(void);

/* IRET to fn at CPL 3 (CS 0x1b, SS 0x23) on the given stack.  The user code
 * comes back with INT $0x80, whose stub records the frame in `last` and
 * returns from enter_user on the kernel stack. */
void enter_user(void (*fn)(void), void *stack_top);

/* ---- Exceptions ----
 * A stub pushes a dummy error code where the CPU pushes none, then the
 * vector, then PUSHA: struct frame is that stack, up to the CPU's part. */
struct frame {
    u32 edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
    u32 esp, ss;                 /* only from CPL 3 */
};

/* The last exception or interrupt taken; count is how many since the guest
 * last cleared it. */
struct fault_record {
    u32 count, vector, error, eip, cs, eflags;
    u32 esp, ss;                 /* from CPL 3, else 0 */
    u32 cr2;
    u32 frame_addr;              /* where the CPU's part of the frame starts (EIP) */
    u32 handler_if;              /* IF as the handler sees it */
};
extern struct fault_record last;

/* Exception table: an exception at `fault` resumes at `fixup` (the fault is
 * recorded in `last`); any other exception ends the run with
 * `Test result: ERROR`.  Use inside an asm statement:
 *   asm volatile("1: ud2\n2:\n\t" EXTABLE(1b, 2b) ...); */
#define EXTABLE(fault, fixup) \
    ".pushsection .ex_table, \"a\"\n\t.balign 8\n\t.long " #fault ", " #fixup "\n\t.popsection\n\t"

#endif
