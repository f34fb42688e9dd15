/*
 * Far transfers between 64-bit and compatibility mode, and stack operations with a
 * 16-bit stack segment; see main.c for what the SDM requires of each.
 */
#include "ringside.h"

#define SEL_DATA16 0x20

        .data
        .balign 8
        .globl rec
rec:    .fill 32, 8, 0          /* u64 rec[32]: observations, indexed in main.c */
saved_rsp: .quad 0
        .globl far32_ptr, far64_ptr
far32_ptr: .long 0, 0           /* m16:32 -> compat_entry (filled in by main.c) */
far64_ptr: .quad 0, 0           /* m16:64 -> far64_callee */

        .text
        .code64
/* void far_lretq(void): reload CS with LRETQ (pops RIP then CS, 8 bytes each). */
        .globl far_lretq
far_lretq:
        mov     %rsp, rec + 0*8
        pushq   $SEL_CODE64
        lea     1f(%rip), %rax
        push    %rax
        lretq
1:      mov     %rsp, rec + 1*8
        mov     %cs, %eax
        mov     %rax, rec + 2*8
        ret

/* void far_call64(void): CALL m16:64 (REX.W FF /3) to a 64-bit callee that reports
 * the return RIP and CS it finds on the stack, then LRETQ. */
        .globl far_call64, far_call64_ret
far_call64:
        mov     %rsp, rec + 3*8
        lea     far64_ptr(%rip), %rax
        rex.W lcall *(%rax)
far_call64_ret:
        mov     %rsp, rec + 4*8
        ret
far64_callee:
        mov     0(%rsp), %rax
        mov     %rax, rec + 5*8         /* return RIP */
        mov     8(%rsp), %rax
        mov     %rax, rec + 6*8         /* CS slot (low 16 bits defined) */
        lretq
        .globl far64_callee

/* void far_call32(void): push two 8-byte "parameters", CALL m16:32 into compatibility
 * mode; the callee returns with LRET $16, releasing them. */
        .globl far_call32, far_call32_ret
far_call32:
        mov     %rsp, rec + 7*8
        pushq   $0x1111
        pushq   $0x2222
        lea     far32_ptr(%rip), %rax
        lcall   *(%rax)
far_call32_ret:
        mov     %rsp, rec + 8*8
        ret

/* void far_jmp32(void): JMP m16:32 into compatibility mode; the compat code comes back
 * with JMP ptr16:32 (EA, valid outside 64-bit mode) to far_jmp_back. */
        .globl far_jmp32, far_jmp_back
far_jmp32:
        mov     %rsp, saved_rsp
        lea     far32_jmp_ptr(%rip), %rax
        ljmp    *(%rax)
far_jmp_back:
        mov     saved_rsp, %rsp
        mov     %cs, %eax
        mov     %rax, rec + 12*8
        ret

        .data
        .balign 8
far32_jmp_ptr: .long compat_jmp_entry, SEL_CODE32

        .text
        .code32
/* Compatibility-mode callee of far_call32: records the 4-byte return EIP and the CS
 * slot, then LRET $16 (osz 32: pops EIP, CS, then releases 16 bytes). */
        .globl compat_entry
compat_entry:
        mov     0(%esp), %eax
        mov     %eax, rec + 9*8
        mov     4(%esp), %eax
        mov     %eax, rec + 10*8
        mov     %cs, %eax
        mov     %eax, rec + 11*8
        lret    $16

/* Reached by far_jmp32.  Records CS, then runs the 16-bit stack checks and jumps back. */
compat_jmp_entry:
        mov     %cs, %eax
        mov     %eax, rec + 13*8
        /* 16-bit stack segment (B = 0): pushes and pops use SP and wrap at 64 KiB;
         * the upper half of ESP is left alone (SDM Vol. 1 §6.2.3; PUSH "Operation"). */
        mov     %ss, %ebx
        mov     %esp, %edi
        mov     $SEL_DATA16, %eax
        mov     %eax, %ss
        mov     $0xabcd0000, %esp
        pushw   $0x1234                 /* SP 0000 -> FFFE */
        mov     %esp, rec + 14*8
        push    $0x55667788             /* 4 bytes: SP FFFE -> FFFA */
        mov     %esp, rec + 15*8
        call    1f                      /* near CALL pushes a 4-byte EIP: SP -> FFF6 */
1:      mov     %esp, rec + 16*8
        pop     %eax                    /* the pushed EIP */
        mov     %eax, rec + 17*8
        pop     %eax
        mov     %eax, rec + 18*8
        popw    %ax
        mov     %eax, rec + 19*8
        mov     %esp, rec + 20*8        /* back to 0xabcd0000: SP wrapped up to 0000 */
        mov     %ebx, %ss
        mov     %edi, %esp
        ljmp    $SEL_CODE64, $far_jmp_back
        .globl compat_call_label
compat_call_label = 1b
