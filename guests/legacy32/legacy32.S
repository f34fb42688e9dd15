/*
 * 32-bit routines entered by a far CALL from 64-bit code into the compatibility-mode
 * code segment SEL_CODE32, and left by a 32-bit far RET (see main.c).
 *
 * Each routine runs one instruction over a table of cases:
 *   in:  %esi -> cases  { u32 eax; u32 eflags; } [n]
 *        %edi -> results { u32 eax; u32 eflags; } [n]
 *        %ecx =  n
 * and stores EAX and EFLAGS after the instruction.
 */
#include "ringside.h"

        .code32
        .section .text.legacy32, "ax", @progbits

.macro CASE_LOOP name, insn:vararg
        .globl \name
\name:
        push    %ebx
1:      mov     0(%esi), %eax
        mov     4(%esi), %ebx
        push    %ebx
        popf
        \insn
        pushf
        pop     %ebx
        mov     %eax, 0(%edi)
        mov     %ebx, 4(%edi)
        add     $8, %esi
        add     $8, %edi
        dec     %ecx
        jnz     1b
        pop     %ebx
        lret
.endm

CASE_LOOP run_daa, daa
CASE_LOOP run_das, das
CASE_LOOP run_aaa, aaa
CASE_LOOP run_aas, aas
CASE_LOOP run_aam10, aam $10
CASE_LOOP run_aam16, aam $16
CASE_LOOP run_aad10, aad $10
CASE_LOOP run_aad7, aad $7
/* The one-byte INC/DEC forms exist only outside 64-bit mode (40+r / 48+r). */
CASE_LOOP run_inc, inc %eax
CASE_LOOP run_dec, dec %eax
