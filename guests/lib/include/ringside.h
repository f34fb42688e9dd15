/*
 * Ringside guest library: the one header every guest includes.
 *
 * Guests are small 64-bit test kernels booted through the PVH entry point
 * (see guests/lib/head.S).  The library gives them a console on I/O port
 * 0xE9, XTF-style result reporting, an exception table for instructions
 * that are expected to fault, and helpers for control registers, MSRs and
 * the boot page tables.
 *
 * This header is usable from C and from assembler (.S) files.
 */
#ifndef RINGSIDE_H
#define RINGSIDE_H

/* Selectors of the boot GDT (head.S). */
#define SEL_CODE64   0x08
#define SEL_DATA     0x10
#define SEL_CODE32   0x18

/* Selectors of the ring-3 GDT ring3_init() loads (guests/lib/user.c), laid out
 * like Linux's __USER32_CS / __USER_DS / __USER_CS so SYSRET's ordering holds. */
#define SEL_USER_CODE32 0x23
#define SEL_USER_DATA   0x2b
#define SEL_USER_CODE64 0x33
#define SEL_TSS         0x40    /* 16-byte descriptor: entries 8 and 9 */
#define SEL_SPARE       0x50    /* first of the spare entries (user_gdt[10..]) */
#define USER_GDT_ENTRIES 16

/* The DPL-3 interrupt gate exec_user() returns through. */
#define VEC_USER_RETURN 0x80
#define TSS_RSP0        4
#define IST_STACK_SIZE  4096
#define USER_STACK_SIZE 16384

/* Ports of the native platform (README.md, "The native (PVH) platform"). */
#define PORT_CONSOLE 0xe9
#define PORT_EXIT    0xf4

/* Control register, EFER and RFLAGS bits. */
#define CR0_PE   (1 << 0)
#define CR0_WP   (1 << 16)
#define CR0_PG   (1 << 31)
#define CR4_PAE  (1 << 5)
#define CR4_LA57 (1 << 12)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define HVM_START_MAGIC 0x336ec578

/* Layout of the frame the exception stubs build (struct exc_frame), in bytes. */
#define EXC_FRAME_GPRS 15

#ifdef __ASSEMBLER__

/* Mark the instruction at \fault as allowed to fault; resume at \fixup. */
.macro EXTABLE fault, fixup
        .pushsection .ex_table, "a"
        .balign 8
        .quad \fault, \fixup
        .popsection
.endm

#else /* C */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t  u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t   s8;
typedef int16_t  s16;
typedef int32_t  s32;
typedef int64_t  s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((__noreturn__))
#define NOINLINE __attribute__((__noinline__))
#define PAGE_SIZE 4096UL
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- Entry point every guest provides ---- */
void test_main(void);

/* ---- Console (port 0xE9) ---- */
void putchar(int c);
void puts(const char *s);              /* no newline added */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
int  snprintk(char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int  vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);

/* ---- Reporting (XTF style) ----
 * Each call prints its message at once and records the worst status seen;
 * after test_main() returns, the library prints exactly one line
 *   Test result: SUCCESS | SKIP (reason) | ERROR (reason) | FAILURE (reason)
 * where reason is the first message of the worst status.
 * Severity: SUCCESS < SKIP < ERROR < FAILURE. */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the result line now and end the run. */
NORETURN void test_finish(void);
/* Print `Test result: ERROR (reason)` and end the run at once. */
NORETURN void test_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write V to the exit port, then cli;hlt forever. */
NORETURN void platform_exit(u32 value);

/* ---- Start info (PVH) ---- */
struct hvm_start_info {
    u32 magic;
    u32 version;
    u32 flags;
    u32 nr_modules;
    u64 modlist_paddr;
    u64 cmdline_paddr;
    u64 rsdp_paddr;
    u64 memmap_paddr;      /* version >= 1 */
    u32 memmap_entries;    /* version >= 1 */
    u32 reserved;
};
extern u64 hvm_start_info_pa;   /* saved by head.S from %ebx */

/* ---- Exceptions ----
 * The stubs in head.S push a dummy error code when the CPU does not, then the
 * vector, then all GPRs, and call exc_dispatch() with this frame. */
struct exc_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;       /* pushed by the CPU */
};

/* What the last expected fault looked like. */
struct fault_record {
    u64 count;        /* expected faults taken since fault_reset() */
    u64 vector;
    u64 error_code;
    u64 cr2;          /* read for every vector; meaningful for #PF */
    u64 rip, cs, rflags, rsp, ss;
    u64 fixup;        /* where execution resumed */
    u64 frame;        /* address of the CPU-pushed frame (its RIP slot) */
};
extern volatile struct fault_record last_fault;
void fault_reset(void);
const char *exc_name(unsigned int vector);   /* "#PF", ... */

/* Put in an asm string after the instruction that may fault:
 *   "1: mov (%[p]), %[v]\n2:\n" EXTABLE(1b, 2b)
 * If that instruction faults, the handler records the fault in last_fault and
 * resumes at the fixup label with the registers as they were at the fault. */
#define EXTABLE(fault, fixup)                                   \
    ".pushsection .ex_table, \"a\"\n\t"                         \
    ".balign 8\n\t"                                             \
    ".quad " #fault ", " #fixup "\n\t"                          \
    ".popsection\n\t"

/* One-shot fixup for a fault at a RIP not known when linking (e.g. an
 * instruction fetch from a data page): if the next unexpected fault's RIP is
 * `rip`, resume at `fixup`. */
void fault_expect_at(u64 rip, u64 fixup);

/* Print last_fault as `prefix.field: value` lines: vector, error_code, cr2
 * (for #PF only), rip (as label+offset when label is non-zero), cs, rflags
 * (with RF masked out), rf (RF on its own line: QEMU does not set it, see
 * test/qemu-deviations.ts), rsp, ss.  With no fault taken it prints
 * `prefix.fault: none`. */
void print_fault(const char *prefix, u64 label);
/* The same; for a trap (trap = true) the RF line is named `prefix.trap_rf`, so that
 * the QEMU deviation entries for RF (`.rf` lines: faults only) do not match it. */
void print_fault_kind(const char *prefix, u64 label, bool trap);
#define RFLAGS_RF (1UL << 16)

/* ---- IDT (traps.c) ----
 * Vectors 0-31 go to the library's handler; a guest may install its own gates.
 * The IDT has room for 256 gates; its limit covers 32 until idt_set_limit(). */
#define GATE_INT  0xe
#define GATE_TRAP 0xf
void idt_set_gate(unsigned int vector, u64 handler, unsigned int type, unsigned int dpl,
                  unsigned int ist);
void idt_set_gate_raw(unsigned int vector, u64 lo, u64 hi);
void idt_get_gate(unsigned int vector, u64 *lo, u64 *hi);
void idt_set_limit(unsigned int gates);
extern const u64 exc_stub_table[32];

/* ---- Ring 3 (user.c, user.S) ----
 * ring3_init(): the ring-3 GDT, the TSS (loaded with LTR), the VEC_USER_RETURN
 * gate, IDT limit 256, and U/S = 1 throughout the identity map.
 * exec_user(fn, arg) runs fn(arg) at CPL 3 in 64-bit mode (CS 0x33, SS 0x2b,
 * RFLAGS 0x2, DS = ES = 0x2b) on the library's user stack, entered with IRETQ;
 * fn's return (to user_exit64: INT VEC_USER_RETURN) comes back to ring 0 with
 * its result; callee-saved registers and the kernel's RFLAGS are kept.
 * exec_user32(fn, arg) does the same in compatibility mode (CS 0x23) with a
 * cdecl 32-bit fn. exec_user_frame() picks CS and RFLAGS (e.g. IOPL, AC).
 * Faults at CPL 3 reach the library handler on TSS.RSP0; EXTABLE fixups resume
 * at CPL 3. */
struct tss64 {
    u32 reserved0;
    u64 rsp0, rsp1, rsp2;
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
    u8  iomap[65536 / 8 + 1];       /* + the 0xFF byte that ends the bitmap */
} __attribute__((packed));
extern struct tss64 user_tss;
extern u64 user_gdt[USER_GDT_ENTRIES];
extern u64 user_stack_top;
extern u64 user_rsp0_bias;      /* subtracted from the 16-byte aligned TSS.RSP0 (default 0) */
#define RFLAGS_FIXED (1UL << 1)
#define RFLAGS_IF    (1UL << 9)
#define RFLAGS_IOPL3 (3UL << 12)
#define RFLAGS_AC    (1UL << 18)
void ring3_init(void);
u64 exec_user(u64 (*fn)(u64), u64 arg);
u32 exec_user32(u32 fn, u32 arg);
u64 exec_user_frame(u64 rip, u64 arg, u64 cs, u64 rflags);
u64 ist_top(unsigned int n);                 /* top of the library's IST n stack */
void tss_set_limit(u32 limit);               /* rewrite the TSS descriptor's limit */
void ltr_tss(void);                          /* (re)load TR with SEL_TSS */
void iomap_allow(u16 port, bool allow);

/* ---- Control registers, MSRs, misc. instructions ---- */
static inline u64 read_cr0(void) { u64 v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u64 v) { asm volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(u64 v) { asm volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }


static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    asm volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

struct cpuid_regs { u32 eax, ebx, ecx, edx; };
static inline struct cpuid_regs cpuid(u32 leaf, u32 subleaf)
{
    struct cpuid_regs r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf) : "memory");
    return r;
}

static inline u64 read_rflags(void)
{
    u64 v;
    asm volatile("pushfq; pop %0" : "=r"(v));
    return v;
}

static inline void outb(u16 port, u8 v) { asm volatile("outb %b0, %w1" :: "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { asm volatile("outl %0, %w1" :: "a"(v), "Nd"(port)); }

static inline void invlpg(const volatile void *va)
{
    asm volatile("invlpg (%0)" :: "r"(va) : "memory");
}

#define barrier() asm volatile("" ::: "memory")

/* ---- Boot page tables (head.S) ----
 * PML4[0] -> PDPT[0] -> PD; PD[0] -> PT (4 KiB pages for 0..2 MiB),
 * PD[1..511] are 2 MiB pages: identity map of the first GiB. */
#define PTE_P    (1ULL << 0)
#define PTE_W    (1ULL << 1)
#define PTE_U    (1ULL << 2)
#define PTE_PWT  (1ULL << 3)
#define PTE_PCD  (1ULL << 4)
#define PTE_A    (1ULL << 5)
#define PTE_D    (1ULL << 6)
#define PTE_PS   (1ULL << 7)
#define PTE_G    (1ULL << 8)
#define PTE_NX   (1ULL << 63)

extern u64 boot_pml4[512], boot_pdpt[512], boot_pd[512], boot_pt[512];
/* Defined by a guest that wants 5-level paging: head.S then boots with CR4.LA57 = 1
 * and this table as the root (if CPUID enumerates LA57; check CR4 to know). */
extern u64 boot_pml5[512] __attribute__((weak));

/* The PTE mapping a 4 KiB page in the first 2 MiB (aborts the test otherwise). */
volatile u64 *pte_of(const volatile void *va);
/* Set / clear bits in that PTE, then invlpg the page. */
void pte_set(const volatile void *va, u64 bits);
void pte_clear(const volatile void *va, u64 bits);

/* ---- Freestanding string functions (gcc may call these) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int   memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int   strcmp(const char *a, const char *b);

/* Linker-script symbols. */
extern char __image_start[], __image_end[];

/* A segment descriptor (SDM Vol. 3A §3.4.5): access byte (P, DPL, S, type) and the
 * flags nibble (G, D/B, L, AVL). */
static inline u64 seg_descriptor(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
           ((u64)((limit >> 16) & 0xf) << 48) | ((u64)flags << 52) | ((u64)(base >> 24) << 56);
}

/* Copy the library's GDT into `gdt` (entries beyond it zeroed by the caller's static
 * storage), let the caller add entries, then load it: call gdt_extend(), fill, gdt_load(). */
static inline void gdt_extend(u64 *gdt)
{
    struct __attribute__((packed)) { u16 limit; u64 base; } old;
    asm volatile("sgdt %0" : "=m"(old));
    memcpy(gdt, (void *)(unsigned long)old.base, old.limit + 1);
}

static inline void gdt_load(u64 *gdt, unsigned int entries)
{
    struct __attribute__((packed)) { u16 limit; u64 base; } new = { (u16)(entries * 8 - 1), (u64)(unsigned long)gdt };
    asm volatile("lgdt %0" :: "m"(new) : "memory");
}

#endif /* __ASSEMBLER__ */
#endif /* RINGSIDE_H */
