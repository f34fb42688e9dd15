/* IRETQ probes for ring3/main.c. */
#include "ringside.h"

        .text
        .code64
/* u64 iret_probe(const u64 frame[5]): IRETQ from CPL 0 with frame RIP, CS, RFLAGS,
 * RSP, SS.  A successful return lands in user code that ends with INT
 * VEC_USER_RETURN (user_return_stub returns its %rax); a faulting IRETQ is
 * fixed up here and returns ~0. */
        .globl iret_probe, iret_probe_insn
iret_probe:
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
        mov     %rax, user_tss + TSS_RSP0(%rip)
        pushq   32(%rdi)
        pushq   24(%rdi)
        pushq   16(%rdi)
        pushq   8(%rdi)
        pushq   0(%rdi)
iret_probe_insn:
        iretq
1:      mov     $-1, %rax
        jmp     user_return_stub
        EXTABLE iret_probe_insn, 1b

/* The same with RFLAGS.NT = 1 at the IRETQ. */
        .globl iret_probe_nt, iret_probe_nt_insn
iret_probe_nt:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        pushfq
        mov     %rsp, user_kernel_rsp(%rip)
        pushq   32(%rdi)
        pushq   24(%rdi)
        pushq   16(%rdi)
        pushq   8(%rdi)
        pushq   0(%rdi)
        pushfq
        orl     $0x4000, (%rsp)
        popfq
iret_probe_nt_insn:
        iretq
1:      mov     $-1, %rax
        jmp     user_return_stub
        EXTABLE iret_probe_nt_insn, 1b

/* u64 user_iret_flags(u64 rflags_image): at CPL 3, IRETQ to the next instruction with
 * that RFLAGS image; returns RFLAGS as they are after it. */
        .globl user_iret_flags
user_iret_flags:
        mov     %rsp, %rcx
        pushq   $SEL_USER_DATA
        push    %rcx
        push    %rdi
        pushq   $SEL_USER_CODE64
        lea     1f(%rip), %rax
        push    %rax
        iretq
1:      pushfq
        pop     %rax
        ret

/* User target of a successful iret_probe: record CS, SS, DS, ES, FS, GS. */
        .globl user_seg_target
user_seg_target:
        mov     %cs, seen_segs + 0(%rip)
        mov     %ss, seen_segs + 8(%rip)
        mov     %ds, seen_segs + 16(%rip)
        mov     %es, seen_segs + 24(%rip)
        mov     %fs, seen_segs + 32(%rip)
        mov     %gs, seen_segs + 40(%rip)
        mov     $0x600d, %eax
        int     $VEC_USER_RETURN

/* Compatibility-mode target of a successful iret_probe. */
        .code32
        .globl user32_ret_target
user32_ret_target:
        mov     $0x600d, %eax
        int     $VEC_USER_RETURN
        .code64

/* Compatibility-mode user function (cdecl): returns CS | arg << 16. */
        .code32
        .globl user32_fn
user32_fn:
        mov     4(%esp), %eax
        shl     $16, %eax
        mov     %cs, %cx
        movzwl  %cx, %ecx
        or      %ecx, %eax
        ret
        .code64

/* The DPL-3 trap gate VEC_TRAP3: records the interrupted CS and its own CS. */
        .globl int_dpl3_stub
int_dpl3_stub:
        push    %rax
        mov     16(%rsp), %rax
        mov     %rax, int_dpl3_seen + 0(%rip)
        mov     %cs, %eax
        mov     %rax, int_dpl3_seen + 8(%rip)
        pop     %rax
        iretq

/* A DPL-3 gate whose target is the user code segment: delivered at CPL 3 on the user
 * stack (no privilege change).  Records its CS, its RSP and the frame, then IRETQ. */
        .globl int_user_stub
int_user_stub:
        mov     %rsp, int_user_seen + 0(%rip)
        push    %rax
        mov     %cs, %eax
        mov     %rax, int_user_seen + 8(%rip)
        mov     8(%rsp), %rax
        mov     %rax, int_user_seen + 16(%rip)       /* frame RIP */
        mov     16(%rsp), %rax
        mov     %rax, int_user_seen + 24(%rip)       /* frame CS */
        mov     32(%rsp), %rax
        mov     %rax, int_user_seen + 32(%rip)       /* frame RSP */
        mov     40(%rsp), %rax
        mov     %rax, int_user_seen + 40(%rip)       /* frame SS */
        pop     %rax
        iretq

        .section .note.GNU-stack, "", @progbits
