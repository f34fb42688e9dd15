/* #DF recovery for double-fault/main.c.  The saved CS:RIP of a #DF are undefined
 * (SDM Vol. 3A §6.15, Interrupt 8), so its handler does not return through the frame:
 * it records the error code and where the frame is, and resumes the df_try() that
 * was running, like longjmp. */
#include "ringside.h"

        .text
        .code64
/* u64 df_try(void (*fn)(void)): 0 if fn returned, 1 if a #DF was delivered. */
        .globl df_try
df_try:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, df_resume_rsp(%rip)
        call    *%rdi
        xor     %eax, %eax
        jmp     1f

        .globl df_stub
df_stub:
        mov     (%rsp), %rax
        mov     %rax, df_error(%rip)
        mov     %rsp, df_frame(%rip)
        mov     df_resume_rsp(%rip), %rsp
        mov     $1, %eax
1:      pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

        .data
        .balign 8
df_resume_rsp:  .quad 0
        .globl df_error, df_frame
df_error:       .quad 0
df_frame:       .quad 0

        .section .note.GNU-stack, "", @progbits
