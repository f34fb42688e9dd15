/*
 * pv-hypercall-abi's register-exact sequences (main.c's prose says what each shows).
 *
 * abi_in / abi_out (struct abi_regs in main.c): rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11
 * r12 r13 r14 r15 rsp rflags at 0, 8, ... 128.  abi_raw and abi_page load every GPR but
 * %rsp from abi_in and RFLAGS with popfq, make one hypercall (a bare `syscall`, or a
 * `call` through abi_target, a hypercall-page slot), and store every register into
 * abi_out.
 *
 * iret_kernel(flags, rflags) pushes an iret_context frame returning to itself in kernel
 * mode (CS 0xe030: RPL 0) and jumps to the page's HYPERVISOR_iret slot with IRET_RAX,
 * IRET_R11 and IRET_RCX live, which the slot pushes; iret_out receives rax rcx r11 rsp
 * rflags cs ss as they are at the return label, iret_out_rsp_before the %rsp the frame
 * named.
 *
 * mc_iret(list, nr) builds the same frame by hand (flags 0, RFLAGS 0x46, the context's
 * rax/r11/rcx MC_RAX/MC_R11/MC_RCX) and makes a bare multicall `syscall` with %rsp at
 * it, so an iret entry of the batch reads it; mc_out gets rax rcx r11 rsp at the return
 * label, or mc_fell_through = 1 if the multicall returned past its `syscall`.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_multicall 13

#define IRET_RAX 0x8877665544332211
#define IRET_R11 0x1111222233334444
#define IRET_RCX 0xcccc0000cccc0000
#define MC_RAX   0x123456789abcdef0
#define MC_R11   0x0b0b0b0b0b0b0b0b
#define MC_RCX   0x0c0c0c0c0c0c0c0c

        .text

.macro SAVE_CALLEE
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
.endm

.macro RESTORE_CALLEE
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
.endm

.macro LOAD_IN
        mov     %rsp, abi_in+120(%rip)
        pushq   abi_in+128(%rip)
        popfq
        mov     abi_in+0(%rip), %rax
        mov     abi_in+8(%rip), %rbx
        mov     abi_in+16(%rip), %rcx
        mov     abi_in+24(%rip), %rdx
        mov     abi_in+32(%rip), %rsi
        mov     abi_in+40(%rip), %rdi
        mov     abi_in+48(%rip), %rbp
        mov     abi_in+56(%rip), %r8
        mov     abi_in+64(%rip), %r9
        mov     abi_in+72(%rip), %r10
        mov     abi_in+80(%rip), %r11
        mov     abi_in+88(%rip), %r12
        mov     abi_in+96(%rip), %r13
        mov     abi_in+104(%rip), %r14
        mov     abi_in+112(%rip), %r15
.endm

.macro STORE_OUT
        mov     %rax, abi_out+0(%rip)
        mov     %rbx, abi_out+8(%rip)
        mov     %rcx, abi_out+16(%rip)
        mov     %rdx, abi_out+24(%rip)
        mov     %rsi, abi_out+32(%rip)
        mov     %rdi, abi_out+40(%rip)
        mov     %rbp, abi_out+48(%rip)
        mov     %r8, abi_out+56(%rip)
        mov     %r9, abi_out+64(%rip)
        mov     %r10, abi_out+72(%rip)
        mov     %r11, abi_out+80(%rip)
        mov     %r12, abi_out+88(%rip)
        mov     %r13, abi_out+96(%rip)
        mov     %r14, abi_out+104(%rip)
        mov     %r15, abi_out+112(%rip)
        mov     %rsp, abi_out+120(%rip)
        pushfq
        popq    abi_out+128(%rip)
        cld
.endm

        .globl abi_raw, abi_raw_ret
abi_raw:
        SAVE_CALLEE
        LOAD_IN
        syscall
abi_raw_ret:
        STORE_OUT
        RESTORE_CALLEE
        ret

        .globl abi_page
abi_page:
        SAVE_CALLEE
        LOAD_IN
        call    *abi_target(%rip)
        STORE_OUT
        RESTORE_CALLEE
        ret

/* void iret_kernel(u64 flags, u64 rflags) */
        .globl iret_kernel, iret_kernel_ret
iret_kernel:
        SAVE_CALLEE
        mov     %rsp, iret_out_rsp_before(%rip)
        mov     %rsp, %rax
        pushq   $FLAT_KERNEL_SS
        push    %rax
        push    %rsi
        pushq   $KERNEL_CS_RPL0
        lea     iret_kernel_ret(%rip), %rax
        push    %rax
        push    %rdi
        movabs  $IRET_RAX, %rax
        movabs  $IRET_R11, %r11
        movabs  $IRET_RCX, %rcx
        jmp     hypercall_page + __HYPERVISOR_iret * 32
iret_kernel_ret:
        pushfq
        popq    iret_out+32(%rip)
        cld
        mov     %rax, iret_out+0(%rip)
        mov     %rcx, iret_out+8(%rip)
        mov     %r11, iret_out+16(%rip)
        mov     %rsp, iret_out+24(%rip)
        xor     %eax, %eax
        mov     %cs, %ax
        mov     %rax, iret_out+40(%rip)
        mov     %ss, %ax
        mov     %rax, iret_out+48(%rip)
        RESTORE_CALLEE
        ret

/* void mc_iret(void *list, u64 nr) */
        .globl mc_iret, mc_iret_ret
mc_iret:
        SAVE_CALLEE
        mov     %rsp, mc_rsp_before(%rip)
        mov     %rsp, %rax
        pushq   $FLAT_KERNEL_SS
        push    %rax
        pushq   $0x46
        pushq   $KERNEL_CS_RPL0
        lea     mc_iret_ret(%rip), %rax
        push    %rax
        pushq   $0
        movabs  $MC_RCX, %rax
        push    %rax
        movabs  $MC_R11, %rax
        push    %rax
        movabs  $MC_RAX, %rax
        push    %rax
        mov     $__HYPERVISOR_multicall, %eax
        syscall
        add     $72, %rsp
        movq    $1, mc_fell_through(%rip)
mc_iret_ret:
        mov     %rax, mc_out+0(%rip)
        mov     %rcx, mc_out+8(%rip)
        mov     %r11, mc_out+16(%rip)
        mov     %rsp, mc_out+24(%rip)
        RESTORE_CALLEE
        ret
