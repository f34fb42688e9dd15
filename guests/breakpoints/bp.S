/* breakpoints: the #DB handler and the code the breakpoints watch (see main.c for what the
 * SDM requires).  Each piece is a function (callee-saved registers kept) with a global
 * label at every boundary main.c compares a saved RIP with. */
#include "ringside.h"
#include "breakpoints.h"

        .text
        .code64

/* ---------------------------------------------------------------- #DB handler --
 * An interrupt gate (vector 1).  For each #DB while db_count < DB_LOG_MAX it records the
 * saved RIP, the saved RFLAGS, DR6 and DR7 as read here, the saved RSP and the
 * interrupted RCX; then writes 0
 * to DR6 (the processor never clears BD/BS itself: Vol. 3B §18.2.3); with db_set_rf it
 * sets RF in the saved RFLAGS, so that the IRETQ resumes a fault-class #DB's instruction
 * without hitting its instruction breakpoint again (§18.3.1.1).  When db_count reaches
 * db_limit it writes DR7 := 0x400 (no breakpoint enabled) and clears TF in the saved
 * RFLAGS: no case can take more #DBs than its limit. */
        .globl db_handler
db_handler:
        push    %rax
        push    %rcx
        push    %rdx
        /* 24(%rsp): RIP, 32: CS, 40: RFLAGS, 48: RSP, 56: SS */
        mov     db_count(%rip), %rcx
        cmp     $DB_LOG_MAX, %rcx
        jae     1f
        imul    $DB_ENTRY, %rcx, %rcx
        lea     db_log(%rip), %rdx
        add     %rcx, %rdx
        mov     24(%rsp), %rax
        mov     %rax, 0(%rdx)                   /* rip */
        mov     40(%rsp), %rax
        mov     %rax, 8(%rdx)                   /* rflags (saved) */
        mov     %dr6, %rax
        mov     %rax, 16(%rdx)                  /* dr6 */
        mov     %dr7, %rax
        mov     %rax, 24(%rdx)                  /* dr7 */
        mov     48(%rsp), %rax
        mov     %rax, 32(%rdx)                  /* rsp (saved) */
        mov     8(%rsp), %rax
        mov     %rax, 40(%rdx)                  /* rcx (interrupted) */
1:      xor     %eax, %eax
        mov     %rax, %dr6
        cmpq    $0, db_set_rf(%rip)
        je      2f
        orq     $0x10000, 40(%rsp)              /* RF */
2:      incq    db_count(%rip)
        mov     db_count(%rip), %rax
        cmp     db_limit(%rip), %rax
        jb      3f
        mov     $0x400, %eax
        mov     %rax, %dr7
        andq    $~RFLAGS_TF, 40(%rsp)
3:      pop     %rdx
        pop     %rcx
        pop     %rax
        iretq

/* ------------------------------------------------------------ instruction bp --
 * bp_exec_target increments exec_runs: how often the instruction ran. */
        .globl bp_exec, bp_exec_target, bp_exec_after
bp_exec:
        nop
bp_exec_target:
        incq    exec_runs(%rip)
bp_exec_after:
        ret

/* An instruction breakpoint on the instruction right after MOV SS. */
        .globl bp_exec_movss, bp_exec_movss_1
bp_exec_movss:
        mov     %ss, %eax
        mov     %eax, %ss
bp_exec_movss_1:
        incq    exec_runs(%rip)
        ret

/* ------------------------------------------------------------- data accesses --
 * One access of each size at (%rdi); the label after it is where a data-breakpoint trap
 * returns to (§18.3.1.2: trap-class, after the instruction). */
        .globl bp_w1, bp_w1_end, bp_w2, bp_w2_end, bp_w4, bp_w4_end, bp_w8, bp_w8_end
        .globl bp_r1, bp_r1_end, bp_r2, bp_r2_end, bp_r4, bp_r4_end, bp_r8, bp_r8_end
bp_w1:  movb    %sil, (%rdi)
bp_w1_end:
        ret
bp_w2:  movw    %si, (%rdi)
bp_w2_end:
        ret
bp_w4:  movl    %esi, (%rdi)
bp_w4_end:
        ret
bp_w8:  movq    %rsi, (%rdi)
bp_w8_end:
        ret
bp_r1:  movzbl  (%rdi), %eax
bp_r1_end:
        ret
bp_r2:  movzwl  (%rdi), %eax
bp_r2_end:
        ret
bp_r4:  movl    (%rdi), %eax
bp_r4_end:
        ret
bp_r8:  movq    (%rdi), %rax
bp_r8_end:
        ret

/* ------------------------------------------------------------------- I/O --
 * OUT/IN of each size at port %di (value %si). */
        .globl bp_outb, bp_outb_end, bp_outw, bp_outw_end, bp_inb, bp_inb_end
bp_outb:
        mov     %edi, %edx
        mov     %esi, %eax
        outb    %al, %dx
bp_outb_end:
        ret
bp_outw:
        mov     %edi, %edx
        mov     %esi, %eax
        outw    %ax, %dx
bp_outw_end:
        ret
bp_inb:
        mov     %edi, %edx
        inb     %dx, %al
bp_inb_end:
        ret

/* -------------------------------------------------------------- REP STOSB --
 * REP STOSB of %rsi bytes of 0x5a at (%rdi); rep_rcx is RCX after it. */
        .globl bp_rep, bp_rep_insn, bp_rep_end
bp_rep:
        push    %rdi
        mov     %rsi, %rcx
        mov     $0x5a, %eax
        cld
bp_rep_insn:
        rep stosb
bp_rep_end:
        mov     %rcx, rep_rcx(%rip)
        pop     %rdi
        ret

/* ----------------------------------------------------------------- MOV SS --
 * MOV SS from the watched word: its debug exception is held past the next instruction
 * (Vol. 3A §6.8.3). */
        .globl bp_movss, bp_movss_1, bp_movss_2
bp_movss:
        mov     ss_word(%rip), %ss              /* ss_word holds SS (main.c); the breakpoint matches */
bp_movss_1:
        nop
bp_movss_2:
        ret

/* MOV SS then SYSCALL (CVE-2018-8897): the #DB comes after the SYSCALL, at its target, in
 * ring 0 on the stack of the code that made the SYSCALL.  The target returns with RFLAGS
 * from R11 (TF cleared) to RCX. */
        .globl bp_movss_syscall, bp_movss_syscall_1, bp_movss_syscall_2
bp_movss_syscall:
        push    %rbx
        mov     %rsp, syscall_rsp(%rip)
        mov     ss_word(%rip), %ss
bp_movss_syscall_1:
        syscall
bp_movss_syscall_2:
        pop     %rbx
        ret

        .globl bp_syscall_target
bp_syscall_target:
        and     $~RFLAGS_TF, %r11
        push    %r11
        popfq
        jmp     *%rcx

/* SYSCALL with TF = 1 (FMASK decides whether TF survives into ring 0). */
        .globl bp_tf_syscall, bp_tf_syscall_1, bp_tf_syscall_2
bp_tf_syscall:
        push    %rbx
        pushfq
        orq     $RFLAGS_TF, (%rsp)
        popfq                                   /* no trap after the POPF that sets TF */
bp_tf_syscall_1:
        syscall
bp_tf_syscall_2:
        pushfq
        andq    $~RFLAGS_TF, (%rsp)
        popfq
        pop     %rbx
        ret

/* TF = 1 and a store the data breakpoint watches: one #DB reports both. */
        .globl bp_tf_data, bp_tf_data_1, bp_tf_data_2
bp_tf_data:
        pushfq
        orq     $RFLAGS_TF, (%rsp)
        popfq
bp_tf_data_1:
        movq    %rsi, (%rdi)
bp_tf_data_2:
        pushfq
        andq    $~RFLAGS_TF, (%rsp)
        popfq
        ret

/* ------------------------------------------------------------------ GD --
 * MOV from DR0 with DR7.GD = 1: a fault-class #DB before it (§18.3.1.3). */
        .globl bp_gd, bp_gd_end
bp_gd:
        mov     %dr0, %rax
bp_gd_end:
        ret
