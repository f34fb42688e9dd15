/*
 * far-forms: far CALL, JMP and RET between 64-bit mode and compatibility mode, and
 * the stack-size attribute of a 16-bit stack segment.
 *
 * What the architecture requires (Intel SDM Vol. 2 CALL, JMP, RET "Operation",
 * IA-32e mode; Vol. 1 §6.2.3 and PUSH/POP "Operation"; Vol. 3A §5.2.1):
 *   - LRETQ in 64-bit mode pops RIP then CS, 8 bytes each, and loads CS.
 *   - CALL m16:64 (REX.W, Intel) pushes CS and RIP as 8-byte slots; LRETQ returns.
 *     (AMD processors ignore REX.W here and use m16:32; this guest follows Intel.)
 *   - CALL m16:32 to a code segment with L = 0 enters compatibility mode with CS and
 *     EIP pushed as 4-byte slots (only the low 16 bits of the CS slot are defined);
 *     LRET imm16 with a 32-bit operand size pops EIP and CS, then adds imm16 to ESP,
 *     releasing the parameters; returning to a code segment with L = 1 resumes
 *     64-bit mode.
 *   - JMP m16:32 enters compatibility mode; JMP ptr16:32 (EA, invalid in 64-bit
 *     mode) is valid there and comes back.
 *   - With a stack segment whose B flag is 0, stack operations address with SP:
 *     they wrap at 64 KiB and leave ESP[31:16] unchanged; the operand size (not the
 *     stack size) decides how many bytes a PUSH, POP or CALL moves.
 *   - At CPL 0, POPF may change IOPL and IF as well as the other flags; RF is always
 *     cleared and VM/VIF/VIP are unaffected (Vol. 2 POPF "Operation", protected and
 *     64-bit modes); PUSHF stores RFLAGS with RF and VM clear.
 * Every observation is printed; all are defined values.
 */
#include "ringside.h"

#define SEL_DATA16 0x20

extern u64 rec[32];
extern struct __attribute__((packed)) { u32 off; u32 sel; } far32_ptr;
extern struct { u64 off; u64 sel; } far64_ptr;
void far_lretq(void), far_call64(void), far_call32(void), far_jmp32(void);
void compat_entry(void), far64_callee(void);
extern char far_call64_ret[], far_call32_ret[], compat_call_label[];

static u64 gdt[8] __attribute__((aligned(16)));
static u8 stack16[0x10000] __attribute__((aligned(0x10000)));
static unsigned int mismatches;

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

/* The library's GDT plus a 16-bit data segment over stack16. */
static void install_gdt(void)
{
    gdt_extend(gdt);
    gdt[SEL_DATA16 / 8] = seg_descriptor((u32)(unsigned long)stack16, 0xffff, 0x92, 0x0);
    gdt_load(gdt, ARRAY_SIZE(gdt));
}

/* POPF at CPL 0: load an image and read back what RFLAGS became. */
static u64 popf_roundtrip(u64 image)
{
    u64 out;
    asm volatile("pushfq\n\t"          /* keep the caller's flags */
                 "push %1\n\t"
                 "popfq\n\t"
                 "pushfq\n\t"
                 "pop %0\n\t"
                 "popfq"
                 : "=r"(out) : "r"(image) : "cc", "memory");
    return out;
}

static void check_popf_cpl0(void)
{
    /* IOPL = 3, IF = 0, DF, AC, ID, all status flags; RF and VIF/VIP/VM requested too. */
    u64 want_bits = 0x3000 | 0x400 | 0x40000 | 0x200000 | 0x8d5;
    u64 got = popf_roundtrip(want_bits | 0x10000 | 0x80000 | 0x100000 | 0x20000 | 0x2);
    expect("popf.cpl0.iopl3_if0", got & 0x3fffff, want_bits | 0x2);
    got = popf_roundtrip(0x202);
    expect("popf.cpl0.iopl0_if1", got & 0x3fffff, 0x202);
}

void test_main(void)
{
    install_gdt();
    check_popf_cpl0();
    far32_ptr.off = (u32)(unsigned long)compat_entry;
    far32_ptr.sel = SEL_CODE32;
    far64_ptr.off = (u64)(unsigned long)far64_callee;
    far64_ptr.sel = SEL_CODE64;

    far_lretq();
    expect("lretq.rsp_delta", rec[0] - rec[1], 0);
    expect("lretq.cs", rec[2], SEL_CODE64);

    far_call64();
    expect("call64.rsp_restored", rec[3] - rec[4], 0);
    expect("call64.pushed_rip_is_return", rec[5], (u64)(unsigned long)far_call64_ret);
    expect("call64.pushed_cs", rec[6] & 0xffff, SEL_CODE64);

    far_call32();
    expect("call32.rsp_restored_by_lret16", rec[7] - rec[8], 0);
    expect("call32.pushed_eip_is_return", rec[9] & 0xffffffff, (u32)(unsigned long)far_call32_ret);
    expect("call32.pushed_cs", rec[10] & 0xffff, SEL_CODE64);
    expect("call32.callee_cs", rec[11] & 0xffff, SEL_CODE32);

    far_jmp32();
    expect("jmp32.compat_cs", rec[13] & 0xffff, SEL_CODE32);
    expect("jmp32.back_cs", rec[12] & 0xffff, SEL_CODE64);

    expect("stack16.esp_after_pushw", rec[14] & 0xffffffff, 0xabcdfffe);
    expect("stack16.esp_after_pushl", rec[15] & 0xffffffff, 0xabcdfffa);
    expect("stack16.esp_after_call", rec[16] & 0xffffffff, 0xabcdfff6);
    expect("stack16.pushed_eip_is_label", rec[17] & 0xffffffff, (u32)(unsigned long)compat_call_label);
    expect("stack16.popped_dword", rec[18] & 0xffffffff, 0x55667788);
    expect("stack16.popped_word", rec[19] & 0xffff, 0x1234);
    expect("stack16.esp_after_pops", rec[20] & 0xffffffff, 0xabcd0000);
    expect("stack16.memory_at_fffe", *(u16 *)&stack16[0xfffe], 0x1234);
    expect("stack16.memory_at_fffa", *(u32 *)&stack16[0xfffa], 0x55667788);
}
