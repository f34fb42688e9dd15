/*
 * The same LAR/LSL/VERR/VERW sequence in 64-bit mode and in compatibility mode, and the
 * compatibility-mode forms of SGDT/SIDT/LGDT; see main.c for what the SDM requires.
 */
#include "ringside.h"

/* Selector in %edx; results to res[]: LAR's ZF and destination (preset 0xdeadbeef),
 * LSL's likewise, VERR's ZF, VERW's ZF.  Absolute addresses: the image is below 2 GiB. */
.macro CHECKS
        movl    $0xdeadbeef, %eax
        lar     %dx, %eax
        setz    res + 0
        movl    %eax, res + 4
        movl    $0xdeadbeef, %eax
        lsl     %dx, %eax
        setz    res + 8
        movl    %eax, res + 12
        verr    %dx
        setz    res + 16
        verw    %dx
        setz    res + 20
.endm

        .text
        .code64
/* void checks64(u32 sel) */
        .globl checks64
checks64:
        mov     %edi, %edx
        CHECKS
        ret

        .code32
/* Entered by a far call from 64-bit mode with the selector in %edx. */
        .globl checks32
checks32:
        CHECKS
        lret

/* Compatibility-mode table registers (entered by a far call):
 *  - SGDT and SIDT store 6 bytes (limit, 32-bit base) into buffers preset by main.c;
 *  - LGDT with a 32-bit operand loads a base with bits 31:24 set, SGDT with a 16-bit
 *    operand stores it (the SDM: the whole 32-bit base);
 *  - LGDT with a 16-bit operand loads only base[23:0];
 *  - the original GDTR is restored (nothing loads a segment in between). */
        .globl compat_tables
compat_tables:
        sgdtl   sg6
        sidtl   si6
        lgdtl   high_ptr
        sgdtw   sg16
        lgdtw   high_ptr
        sgdtl   lg16
        lgdtl   orig_ptr
        lret

        .data
        .balign 8
        .globl res, sg6, si6, sg16, lg16, high_ptr, orig_ptr
res:    .fill 6, 4, 0
sg6:    .fill 10, 1, 0
        .balign 8
si6:    .fill 10, 1, 0
        .balign 8
sg16:   .fill 10, 1, 0
        .balign 8
lg16:   .fill 10, 1, 0
        .balign 8
high_ptr: .fill 6, 1, 0         /* limit, base (32-bit form); filled by main.c */
        .balign 8
orig_ptr: .fill 6, 1, 0

/* ---- CPL 3 for the UMIP checks (main.c umip_checks) ---- */
#define USER_CS (0x80 | 3)
#define USER_DS (0x70 | 3)

        .data
        .balign 8
kernel_rsp: .quad 0

        .text
        .code64
/* void enter_user(u64 user_rsp, u64 user_page, void (*entry)(void)): IRETQ to entry at
 * CPL 3 with %rbx = user_page; returns once user code executes INT $0x80 (vector 0x80, a
 * DPL 3 gate to user_return). */
        .globl enter_user, user_return
enter_user:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, kernel_rsp(%rip)
        mov     %rsi, %rbx
        pushq   $USER_DS                /* SS */
        push    %rdi                    /* RSP */
        pushq   $0x2                    /* RFLAGS: IF = 0, IOPL = 0 */
        pushq   $USER_CS                /* CS */
        push    %rdx                    /* RIP */
        iretq
user_return:                            /* CPL 0, on the TSS's RSP0 stack */
        mov     $SEL_DATA, %eax
        mov     %eax, %ss
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %fs
        mov     %eax, %gs
        mov     kernel_rsp(%rip), %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

/* The user page of code: each probe stores 1 at user_page[k] if it completed, 0 if it
 * faulted (the exception table resumes after it). */
.macro UPROBE k, insn
        movb    $0, \k(%rbx)
1:      \insn
        movb    $1, \k(%rbx)
2:
        EXTABLE 1b, 2b
.endm

        .section .text.user, "ax"
        .balign 4096
        .globl user_code_start, user_code_end
        .globl user_umip, user_checks
user_code_start:
user_umip:
        UPROBE  0, "sgdt 64(%rbx)"
        UPROBE  1, "sidt 80(%rbx)"
        UPROBE  2, "sldt %eax"
        UPROBE  3, "str %eax"
        UPROBE  4, "smsw %eax"
        UPROBE  5, "smsw 96(%rbx)"
        int     $0x80
        ud2

/* LAR, LSL, VERR, VERW at CPL 3 for the selectors at user_page+128 (u16, ending with
 * 0xffff); each selector's four ZF values go to user_page+256+4k. */
user_checks:
        lea     128(%rbx), %rsi
        lea     256(%rbx), %rdi
1:      movzwl  (%rsi), %edx
        cmp     $0xffff, %edx
        je      2f
        lar     %dx, %eax
        setz    0(%rdi)
        lsl     %dx, %eax
        setz    1(%rdi)
        verr    %dx
        setz    2(%rdi)
        verw    %dx
        setz    3(%rdi)
        add     $2, %rsi
        add     $4, %rdi
        jmp     1b
2:      int     $0x80
        ud2
        .balign 4096
user_code_end:
