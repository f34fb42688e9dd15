/* host-syscalls: the kernel's SYSCALL entry, and the user-side register probe. */
#include "ringside.h"
#include "host-syscalls.h"

        .text
        .code64
/* LSTAR points here (main.c).  SYSCALL left RCX = the user's RIP, R11 = its RFLAGS,
 * RSP = its stack (SDM SYSCALL "Operation": no stack switch), CPL 0, IF = TF = 0 by
 * FMASK.  Like Linux's entry_SYSCALL_64: SWAPGS to reach the per-CPU area, switch to the
 * kernel stack, save every user register, dispatch in C, restore them all, back to the
 * user stack, SWAPGS, SYSRETQ (RIP = RCX, RFLAGS = R11). */
        .globl syscall_entry
syscall_entry:
        swapgs
        mov     %rsp, %gs:PERCPU_USER_RSP
        mov     %gs:PERCPU_KERNEL_RSP, %rsp
        push    %r15
        push    %r14
        push    %r13
        push    %r12
        push    %r11
        push    %r10
        push    %r9
        push    %r8
        push    %rbp
        push    %rdi
        push    %rsi
        push    %rdx
        push    %rcx
        push    %rbx
        push    %rax
        mov     %rsp, %rdi
        sub     $8, %rsp                        /* the C call wants RSP + 8 aligned to 16 */
        call    syscall_dispatch
        add     $8, %rsp
        pop     %rax
        pop     %rbx
        pop     %rcx
        pop     %rdx
        pop     %rsi
        pop     %rdi
        pop     %rbp
        pop     %r8
        pop     %r9
        pop     %r10
        pop     %r11
        pop     %r12
        pop     %r13
        pop     %r14
        pop     %r15
        mov     %gs:PERCPU_USER_RSP, %rsp
        swapgs
        sysretq

/* void syscall_probe(struct probe *p), at CPL 3: getpid with a pattern in every register
 * the kernel must keep, and what each holds afterwards. */
        .globl syscall_probe, syscall_probe_return
syscall_probe:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        push    %rdi
        pushfq
        popq    PROBE_FLAGS(%rdi)
        movabs  $0x1111111111111111, %rbx
        movabs  $0x2222222222222222, %rbp
        movabs  $0x3333333333333333, %rdx
        movabs  $0x4444444444444444, %rsi
        movabs  $0x5555555555555555, %rdi
        movabs  $0x8888888888888888, %r8
        movabs  $0x9999999999999999, %r9
        movabs  $0xaaaaaaaaaaaaaaaa, %r10
        movabs  $0xcccccccccccccccc, %r12
        movabs  $0xdddddddddddddddd, %r13
        movabs  $0xeeeeeeeeeeeeeeee, %r14
        movabs  $0xffffffffffffffff, %r15
        mov     $SYS_GETPID, %eax
        syscall
syscall_probe_return:
        xchg    %rax, (%rsp)                    /* %rax = p; the result on the stack */
        mov     %rcx, PROBE_RCX(%rax)
        mov     %r11, PROBE_R11(%rax)
        mov     %rbx, PROBE_REGS + 0(%rax)
        mov     %rbp, PROBE_REGS + 8(%rax)
        mov     %rdx, PROBE_REGS + 16(%rax)
        mov     %rsi, PROBE_REGS + 24(%rax)
        mov     %rdi, PROBE_REGS + 32(%rax)
        mov     %r8, PROBE_REGS + 40(%rax)
        mov     %r9, PROBE_REGS + 48(%rax)
        mov     %r10, PROBE_REGS + 56(%rax)
        mov     %r12, PROBE_REGS + 64(%rax)
        mov     %r13, PROBE_REGS + 72(%rax)
        mov     %r14, PROBE_REGS + 80(%rax)
        mov     %r15, PROBE_REGS + 88(%rax)
        popq    PROBE_RESULT(%rax)
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

        .section .note.GNU-stack, "", @progbits
