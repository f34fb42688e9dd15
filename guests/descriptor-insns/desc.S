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

/* ---- CPL 3 code for the UMIP checks (main.c umip_user, cpl3_checks), run by the
 * library's exec_user_frame() with the user page's address in %rdi. ---- */

/* Each probe stores 1 at user_page[k] if it completed, 0 if it faulted (the exception
 * table resumes after it). */
.macro UPROBE k, insn
        movb    $0, \k(%rdi)
1:      \insn
        movb    $1, \k(%rdi)
2:
        EXTABLE 1b, 2b
.endm

        .text
        .code64
        .globl user_umip, user_checks
user_umip:
        UPROBE  0, "sgdt 64(%rdi)"
        UPROBE  1, "sidt 80(%rdi)"
        UPROBE  2, "sldt %eax"
        UPROBE  3, "str %eax"
        UPROBE  4, "smsw %eax"
        UPROBE  5, "smsw 96(%rdi)"
        ret

/* LAR, LSL, VERR, VERW at CPL 3 for the selectors at user_page+128 (u16, ending with
 * 0xffff); each selector's four ZF values go to user_page+256+4k. */
user_checks:
        lea     128(%rdi), %rsi
        lea     256(%rdi), %r8
1:      movzwl  (%rsi), %edx
        cmp     $0xffff, %edx
        je      2f
        lar     %dx, %eax
        setz    0(%r8)
        lsl     %dx, %eax
        setz    1(%r8)
        verr    %dx
        setz    2(%r8)
        verw    %dx
        setz    3(%r8)
        add     $2, %rsi
        add     $4, %r8
        jmp     1b
2:      ret
