/*
 * Ring 3 for the guest library: enter user mode with IRETQ, come back through
 * the DPL-3 interrupt gate VEC_USER_RETURN (INT n from CPL 3 is allowed when
 * the gate's DPL >= CPL: SDM Vol. 3A §6.12.1.1).
 *
 * u64 exec_user_frame(u64 fn, u64 arg, u64 cs, u64 rflags) -- see ringside.h.
 *
 * The kernel stack pointer at entry (below the saved callee-saved registers)
 * becomes TSS.RSP0, so every event from ring 3 (faults, INT n) is delivered
 * below it (SDM Vol. 3A §6.14.4) and never overwrites this frame; the return
 * stub restores it from user_kernel_rsp.
 */
#include "ringside.h"

        .text
        .code64
        .globl exec_user_frame
exec_user_frame:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        pushfq
        mov     %rsp, user_kernel_rsp(%rip)
        mov     %rsp, %rax
        and     $~15, %rax
        sub     user_rsp0_bias(%rip), %rax
        mov     %rax, user_tss + TSS_RSP0(%rip)

        mov     user_stack_top(%rip), %r8
        cmp     $SEL_USER_CODE32, %rdx
        je      1f
        /* 64-bit user code: arg in %rdi, return address user_exit64 on the stack. */
        lea     user_exit64(%rip), %rax
        mov     %rax, -8(%r8)
        sub     $8, %r8
        jmp     2f
1:      /* compatibility mode (cdecl): [esp] = user_exit32, [esp+4] = arg. */
        lea     user_exit32(%rip), %rax
        mov     %esi, -12(%r8)
        mov     %eax, -16(%r8)
        sub     $16, %r8
2:      mov     $SEL_USER_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        pushq   $SEL_USER_DATA                  /* SS */
        push    %r8                             /* RSP */
        push    %rcx                            /* RFLAGS */
        push    %rdx                            /* CS */
        push    %rdi                            /* RIP */
        mov     %rsi, %rdi
        xor     %eax, %eax
        xor     %ebx, %ebx
        xor     %ecx, %ecx
        xor     %edx, %edx
        xor     %esi, %esi
        xor     %ebp, %ebp
        xor     %r8d, %r8d
        xor     %r9d, %r9d
        xor     %r10d, %r10d
        xor     %r11d, %r11d
        xor     %r12d, %r12d
        xor     %r13d, %r13d
        xor     %r14d, %r14d
        xor     %r15d, %r15d
        iretq

        .globl user_exit64
user_exit64:
        int     $VEC_USER_RETURN
        ud2

        .code32
        .globl user_exit32
user_exit32:
        int     $VEC_USER_RETURN
        ud2
        .code64

/* The DPL-3 interrupt gate VEC_USER_RETURN: %rax is the user function's result. */
        .globl user_return_stub
user_return_stub:
        /* The privilege change left SS null (SDM Vol. 3A §6.14.4); restore the kernel's. */
        mov     $SEL_DATA, %ecx
        mov     %ecx, %ss
        mov     user_kernel_rsp(%rip), %rsp
        mov     %ecx, %ds
        mov     %ecx, %es
        popfq
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

        .data
        .balign 8
        .globl user_kernel_rsp
user_kernel_rsp:
        .quad 0
        .globl user_rsp0_bias
user_rsp0_bias:
        .quad 0

        .section .note.GNU-stack, "", @progbits
