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

.macro CASE_LOOP name, i1, i2, i3
        .globl \name
\name:
        push    %ebx
1:      mov     0(%esi), %eax
        mov     4(%esi), %ebx
        push    %ebx
        popf
        \i1
        \i2
        \i3
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
CASE_LOOP run_aam10, "aam $10"
CASE_LOOP run_aam16, "aam $16"
CASE_LOOP run_aad10, "aad $10"
CASE_LOOP run_aad7, "aad $7"
/* The one-byte INC/DEC forms exist only outside 64-bit mode (40+r / 48+r). */
CASE_LOOP run_inc, "inc %eax"
CASE_LOOP run_dec, "dec %eax"
/* ARPL Ew, Gw: the destination selector in AX, the source in the upper half of EAX. */
CASE_LOOP run_arpl, "mov %eax, %edx", "shr $16, %edx", "arpl %dx, %ax"

/*
 * PUSHA/POPA round trip.  Registers come from pusha_in[8] (EAX, ECX, EDX, EBX, ESP,
 * EBP, ESI, EDI; ESP points into the caller's stack buffer).  After PUSHA the image
 * is rewritten in two slots -- the EAX slot (checking POPA loads it) and the ESP slot
 * (checking POPA ignores it) -- and POPA restores; the registers then go to
 * pusha_out[8].  The caller reads the pushed image from its buffer.
 */
        .globl run_pusha
run_pusha:
        mov     %esp, saved_esp
        mov     pusha_in + 0, %eax
        mov     pusha_in + 4, %ecx
        mov     pusha_in + 8, %edx
        mov     pusha_in + 12, %ebx
        mov     pusha_in + 16, %esp
        mov     pusha_in + 20, %ebp
        mov     pusha_in + 24, %esi
        mov     pusha_in + 28, %edi
        pusha
        mov     %esp, pusha_esp_after_push
        movl    $0x11111111, 28(%esp)
        movl    $0xdeadbeef, 12(%esp)
        popa
        mov     %eax, pusha_out + 0
        mov     %ecx, pusha_out + 4
        mov     %edx, pusha_out + 8
        mov     %ebx, pusha_out + 12
        mov     %esp, pusha_out + 16
        mov     %ebp, pusha_out + 20
        mov     %esi, pusha_out + 24
        mov     %edi, pusha_out + 28
        mov     saved_esp, %esp
        lret

/*
 * BOUND r32, m32&32 with the index in bound_index and the pair at bound_pair:
 * bound_faulted = 0 if it passed, 1 if it raised #BR (recorded in last_fault).
 */
        .globl run_bound, bound_fault_insn
run_bound:
        push    %ebx
        mov     bound_index, %eax
        movl    $0, bound_faulted
bound_fault_insn:
        bound   %eax, bound_pair
        jmp     2f
1:      movl    $1, bound_faulted
2:      pop     %ebx
        lret
        .pushsection .ex_table, "a"
        .balign 8
        .quad bound_fault_insn, 1b
        .popsection

/* LES/LDS r32, m16:32 from far_ptr: the offset and the loaded selector are stored,
 * then ES/DS go back to the flat data selector. */
        .globl run_les_lds
run_les_lds:
        les     far_ptr, %eax
        mov     %eax, les_offset
        mov     %es, les_selector
        lds     far_ptr, %edx
        mov     %edx, %ss:lds_offset
        mov     %ds, %ss:lds_selector
        mov     $SEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        lret

/* 32-bit stack operations: PUSH imm32 and a near CALL push 4 bytes in compatibility
 * mode (SS.B = 1); the caller checks ESP and what was pushed. */
        .globl run_stack32, stack32_ret
run_stack32:
        mov     %esp, saved_esp
        push    $0x12345678
        call    1f
stack32_ret:
1:      mov     %esp, stack32_esp
        pop     %eax
        mov     %eax, stack32_pushed_ret
        pop     %eax
        mov     %eax, stack32_pushed_imm
        mov     saved_esp, %eax
        sub     stack32_esp, %eax
        mov     %eax, stack32_depth
        lret

        .data
        .balign 4
saved_esp: .long 0
