/*
 * FRED entry points and ring-3 entry for guests/fred (Intel SDM Vol. 3 §8.3: events from
 * ring 3 enter at IA32_FRED_CONFIG[63:12], events from ring 0 at 256 bytes beyond; §8.4:
 * ERETU returns to ring 3, ERETS stays in ring 0).  Both entries save the GPRs below the
 * 64-byte FRED frame (struct fred_regs in main.c), with RFLAGS above them, and call
 * fred_handler(regs, from_kernel, rflags),
 * then return with the ERET of their ring.
 */
#include "ringside.h"
#include "fred.h"

.macro SAVE_GPRS
        push %rax
        push %rbx
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %rbp
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
.endm

.macro RESTORE_GPRS
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rbp
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rbx
        pop %rax
.endm

        .text
        .balign 4096
        .globl fred_entry_user
fred_entry_user:
        pushfq                          /* RFLAGS as delivery left it (fred_handler's third argument) */
        SAVE_GPRS
        mov 120(%rsp), %rdx
        mov %rsp, %rdi
        xor %esi, %esi
        call fred_handler               /* 16 pushes below a 64-byte aligned frame: aligned */
        RESTORE_GPRS
        add $8, %rsp
        ERETU

        .org fred_entry_user + 256
        .globl fred_entry_kernel
fred_entry_kernel:
        pushfq
        SAVE_GPRS
        mov 120(%rsp), %rdx
        mov %rsp, %rdi
        mov $1, %esi
        call fred_handler
        RESTORE_GPRS
        add $8, %rsp
        ERETS

/*
 * u64 fred_exec_user(u64 rip, u64 rsp, u64 rflags): enter ring 3 at rip with ERETU on a frame
 * built here (CS 0x33, SS 0x2b); user code comes back with INT $0x80, whose handler calls
 * fred_user_exit(value), which resumes here with the kernel stack and callee-saved registers.
 * u64 fred_exec_user_frame(u64 rip, u64 rsp, u64 rflags, u64 cs, u64 ss): the same with the
 * frame's augmented CS and SS given (other selectors, SS bits 17 and 18).
 */
        .globl fred_exec_user
fred_exec_user:
        mov $SEL_USER_CODE64, %ecx
        mov $SEL_USER_DATA, %r8d
        .globl fred_exec_user_frame
fred_exec_user_frame:
        push %rbx
        push %rbp
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, fred_kernel_rsp(%rip)
        and $~63, %rsp
        push %r8                        /* SS */
        push %rsi                       /* RSP */
        push %rdx                       /* RFLAGS */
        push %rcx                       /* CS */
        push %rdi                       /* RIP */
        push $0                         /* error code */
        ERETU

        .globl fred_user_exit
fred_user_exit:
        mov %rdi, %rax
        mov fred_kernel_rsp(%rip), %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbp
        pop %rbx
        ret

        .data
        .balign 8
fred_kernel_rsp:
        .quad 0
