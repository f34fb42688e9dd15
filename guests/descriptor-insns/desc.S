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
