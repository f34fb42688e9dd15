/*
 * Ring 3 for the guest library (opt-in: ring3_init()).
 *
 * ring3_init() loads a GDT laid out like Linux's (SDM Vol. 3A §3.4.5, §8.2.3):
 *   0x08 kernel code64, 0x10 kernel data, 0x18 kernel code32 (as head.S),
 *   0x20 user code32 (DPL 3, selector 0x23), 0x28 user data (DPL 3, 0x2b),
 *   0x30 user code64 (DPL 3, 0x33) -- SYSRET's ordering (STAR[63:48] = 0x23:
 *   CS = +16, SS = +8) --, 0x40 the 64-bit TSS (16-byte descriptor, §8.2.3),
 *   0x50.. spare entries guests may fill (user_gdt[]).
 * The TSS (§8.7) holds RSP0 (set by exec_user_frame), IST1..IST7 stacks and
 * an I/O permission bitmap covering all 65536 ports followed by the 0xFF byte
 * the SDM requires (Vol. 1 §19.5.2); all ports start denied.  It is loaded
 * with LTR.  The IDT limit grows to 256 gates; VEC_USER_RETURN gets a DPL-3
 * interrupt gate.  Every level of the identity map gets U/S = 1 (the kernel
 * text is shared with user code); SMEP and SMAP stay off.
 *
 * The boot GDT and IDT limit are untouched unless a guest calls ring3_init(),
 * so guests that copy the boot GDT (gdt_extend) keep their layout.
 */
#include "ringside.h"

u64 user_gdt[USER_GDT_ENTRIES] __attribute__((aligned(16)));
struct tss64 user_tss __attribute__((aligned(4096)));
/* 64-byte aligned: a FRED kernel may use their tops as IA32_FRED_RSPn (FRED specification
 * §4.1: bits 5:0 of those MSRs are reserved). */
static u8 ist_stacks[7][IST_STACK_SIZE] __attribute__((aligned(64)));
static u8 user_stack[USER_STACK_SIZE] __attribute__((aligned(16)));
u64 user_stack_top = 0;

extern void user_return_stub(void);

_Static_assert(__builtin_offsetof(struct tss64, rsp0) == TSS_RSP0, "TSS.RSP0");
_Static_assert(__builtin_offsetof(struct tss64, ist) == 0x24, "TSS.IST1");
_Static_assert(__builtin_offsetof(struct tss64, iomap_base) == 0x66, "TSS.iomap_base");
_Static_assert(__builtin_offsetof(struct tss64, iomap) == 0x68, "TSS.iomap");

u64 ist_top(unsigned int n)
{
    return (u64)(uintptr_t)ist_stacks[n - 1] + IST_STACK_SIZE;
}

void tss_set_limit(u32 limit)
{
    u64 b = (u64)(uintptr_t)&user_tss;
    user_gdt[SEL_TSS / 8] = seg_descriptor((u32)b, limit, 0x89, 0);   /* P, DPL 0, available 64-bit TSS */
    user_gdt[SEL_TSS / 8 + 1] = b >> 32;
}

void ltr_tss(void)
{
    user_gdt[SEL_TSS / 8] &= ~(2ULL << 40);                           /* busy -> available */
    asm volatile("ltr %w0" :: "r"(SEL_TSS) : "memory");
}

void ring3_init(void)
{
    gdt_extend(user_gdt);
    user_gdt[SEL_USER_CODE32 / 8] = seg_descriptor(0, 0xfffff, 0xfa, 0xc);   /* D = 1, G = 1 */
    user_gdt[SEL_USER_DATA / 8] = seg_descriptor(0, 0xfffff, 0xf2, 0xc);
    user_gdt[SEL_USER_CODE64 / 8] = seg_descriptor(0, 0xfffff, 0xfa, 0xa);   /* L = 1, G = 1 */
    tss_set_limit(sizeof(user_tss) - 1);
    gdt_load(user_gdt, USER_GDT_ENTRIES);

    memset(&user_tss, 0, sizeof(user_tss));
    for (unsigned int n = 1; n <= 7; n++)
        user_tss.ist[n - 1] = ist_top(n);
    user_tss.iomap_base = __builtin_offsetof(struct tss64, iomap);
    memset(user_tss.iomap, 0xff, sizeof(user_tss.iomap));   /* all denied, and the terminator */
    ltr_tss();

    user_stack_top = (u64)(uintptr_t)user_stack + USER_STACK_SIZE;
    idt_set_limit(256);
    idt_set_gate(VEC_USER_RETURN, (u64)(uintptr_t)user_return_stub, GATE_INT, 3, 0);

    boot_pml4[0] |= PTE_U;
    boot_pdpt[0] |= PTE_U;
    for (unsigned int i = 0; i < 512; i++) {
        boot_pd[i] |= PTE_U;
        boot_pt[i] |= PTE_U;
    }
    write_cr3(read_cr3());
}

void iomap_allow(u16 port, bool allow)
{
    if (allow)
        user_tss.iomap[port >> 3] &= (u8)~(1u << (port & 7));
    else
        user_tss.iomap[port >> 3] |= (u8)(1u << (port & 7));
}

u64 exec_user(u64 (*fn)(u64), u64 arg)
{
    return exec_user_frame((u64)(uintptr_t)fn, arg, SEL_USER_CODE64, RFLAGS_FIXED);
}

u32 exec_user32(u32 fn, u32 arg)
{
    /* The upper halves of the GPRs are undefined after compatibility mode (SDM Vol. 1 §3.4.1.1). */
    return (u32)exec_user_frame(fn, arg, SEL_USER_CODE32, RFLAGS_FIXED);
}
