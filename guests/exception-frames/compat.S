/* Compatibility-mode probes for exception-frames/main.c: INTO (#OF), BOUND (#BR) and
 * a push past a limited SS (#SS).  Each exists twice: a ring-0 copy entered by a far
 * CALL to SEL_CODE32 and left by LRET, and a ring-3 copy for exec_user32 (cdecl, RET). */
#include "ringside.h"

        .text
        .code64
/* u64 call32(u32 fn): far call to SEL_CODE32:fn at CPL 0. */
        .globl call32
call32:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %edi, far32_ptr(%rip)
        lcall   *far32_ptr(%rip)
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

/* Gate handler for the IF observations: handler_rflags = RFLAGS in the handler
 * (low half) and the RFLAGS slot of the frame (high half). */
        .globl if_stub
if_stub:
        push    %rax
        pushfq
        pop     %rax
        mov     %eax, handler_rflags(%rip)
        mov     24(%rsp), %rax
        mov     %eax, handler_rflags+4(%rip)
        pop     %rax
        iretq

/* The gate to the DPL-1 code segment: runs at CPL 1 on TSS.RSP1 and records its CS,
 * SS and RSP and the frame's CS, RSP and SS, then returns with IRETQ. */
        .globl ring1_stub
ring1_stub:
        mov     %rsp, ring1_seen + 16(%rip)
        push    %rax
        mov     %cs, %eax
        mov     %rax, ring1_seen + 0(%rip)
        mov     %ss, %eax
        mov     %rax, ring1_seen + 8(%rip)
        mov     16(%rsp), %rax
        mov     %rax, ring1_seen + 24(%rip)
        mov     32(%rsp), %rax
        mov     %rax, ring1_seen + 32(%rip)
        mov     40(%rsp), %rax
        mov     %rax, ring1_seen + 40(%rip)
        pop     %rax
        iretq

        .code32
.macro PROBES suffix, ret
        .globl into32_\suffix, bound32_\suffix, sslimit32_\suffix
into32_\suffix:
        movl    $1f, probe_label
        movl    $2f, probe_next
        mov     $0x7f, %al
        add     $1, %al                 /* OF = 1 */
1:      into
2:      \ret
        EXTABLE 1b, 2b
        EXTABLE 2b, 2b

bound32_\suffix:
        movl    $1f, probe_label
        movl    $2f, probe_next
        mov     $20, %eax
        cmp     $20, %eax               /* known flags in the frame */
1:      bound   %eax, bound_pair
2:      \ret
        EXTABLE 1b, 2b

/* Push with ESP just past the limit of SEL_LIMITED_SS (limit 0xfff, expand-up):
 * the store at ESP-4 = 0xffe..0x1001 crosses the limit: #SS(0) (SDM Vol. 3A §5.3). */
sslimit32_\suffix:
        movl    $1f, probe_label
        movl    $2f, probe_next
        push    %ebx
        mov     %ss, %dx
        mov     %esp, %ecx
        mov     sslimit_sel, %eax
        mov     %eax, %ss
        mov     $0x1002, %esp
        cmp     %eax, %eax              /* known flags in the frame */
1:      push    %eax
2:      mov     %edx, %ss
        mov     %ecx, %esp
        pop     %ebx
        \ret
        EXTABLE 1b, 2b
.endm

        PROBES ring0, lret
        PROBES ring3, ret
        .code64

        .data
        .balign 8
far32_ptr:
        .long 0
        .word SEL_CODE32
        .balign 8
        .globl bound_pair
bound_pair:
        .long 0, 10

        .section .note.GNU-stack, "", @progbits
