/* single-step: the #DB handler and the stepped code (see main.c for what the SDM requires).
 *
 * Every stepped sequence is here, in assembler, so that the address of each instruction
 * boundary is a label main.c can compare the saved RIP with.  Each case is a function
 * (void (*)(void), callee-saved registers kept) that sets TF, runs a few instructions and
 * ends with STOP_STEPPING, which clears TF whether or not the handler already did: a model
 * that never traps still leaves each case with TF = 0, and a model that traps too often
 * logs the extra traps (STOP_STEPPING's own instructions are then stepped) instead of
 * running on with TF set. */
#include "ringside.h"
#include "single-step.h"

/* TF := 1 with POPF (the trap comes after the instruction that follows). */
.macro SET_TF
        pushfq
        orq     $RFLAGS_TF, (%rsp)
        popfq
.endm

.macro STOP_STEPPING
        pushfq
        andq    $~RFLAGS_TF, (%rsp)
        popfq
.endm

        .text
        .code64

/* ---------------------------------------------------------------- #DB handler --
 * An interrupt gate (vector 1).  Records, for each #DB while db_count < DB_LOG_MAX:
 * the saved RIP, the saved RFLAGS, DR6 as read here, and RFLAGS inside the handler;
 * then writes 0 to DR6 (the processor never clears BS itself: Vol. 3B §18.2.3) and
 * counts the trap.  When db_count reaches db_limit it clears TF in the saved RFLAGS, so
 * the IRETQ stops the stepping; otherwise the IRETQ reloads TF = 1 and the next
 * instruction is stepped.  db_limit is at most DB_LOG_MAX (main.c), which bounds every
 * case to that many traps. */
        .globl db_handler
db_handler:
        push    %rax
        push    %rcx
        push    %rdx
        /* 24(%rsp): RIP, 32: CS, 40: RFLAGS, 48: RSP, 56: SS */
        mov     db_count(%rip), %rcx
        cmp     $DB_LOG_MAX, %rcx
        jae     1f
        shl     $5, %rcx                        /* struct db_trap: 4 x u64 */
        lea     db_log(%rip), %rdx
        add     %rcx, %rdx
        mov     24(%rsp), %rax
        mov     %rax, 0(%rdx)                   /* rip */
        mov     40(%rsp), %rax
        mov     %rax, 8(%rdx)                   /* rflags (saved) */
        mov     %dr6, %rax
        mov     %rax, 16(%rdx)                  /* dr6 */
        pushfq
        pop     %rax
        mov     %rax, 24(%rdx)                  /* rflags in the handler */
1:      xor     %eax, %eax
        mov     %rax, %dr6
        incq    db_count(%rip)
        mov     db_count(%rip), %rax
        cmp     db_limit(%rip), %rax
        jb      2f
        andq    $~RFLAGS_TF, 40(%rsp)           /* enough: return with TF = 0 */
2:      pop     %rdx
        pop     %rcx
        pop     %rax
        iretq

/* ------------------------------------------------------------------ popf_set --
 * POPF sets TF: no trap after it; the first trap follows the next instruction. */
        .globl ss_popf_set, ss_popf_set_1, ss_popf_set_2, ss_popf_set_3
ss_popf_set:
        SET_TF
ss_popf_set_1:
        nop
ss_popf_set_2:
        nop                                     /* db_limit = 1: TF cleared by the handler */
ss_popf_set_3:
        STOP_STEPPING
        ret

/* ---------------------------------------------------------------- straight --
 * Seven instructions stepped one by one; the last is the POPF that clears TF. */
        .globl ss_straight, ss_straight_1, ss_straight_2, ss_straight_3, ss_straight_4
        .globl ss_straight_5, ss_straight_6, ss_straight_7, ss_straight_end
ss_straight:
        push    %rbx
        SET_TF
ss_straight_1:
        mov     $1, %eax
ss_straight_2:
        add     $2, %eax
ss_straight_3:
        lea     3(%rax), %rbx
ss_straight_4:
        xor     %ecx, %ecx
ss_straight_5:
        pushfq
ss_straight_6:
        andq    $~RFLAGS_TF, (%rsp)
ss_straight_7:
        popfq                                   /* TF := 0, and this POPF still traps */
ss_straight_end:
        STOP_STEPPING
        pop     %rbx
        ret

/* -------------------------------------------------------------- popf_clear --
 * The instruction right after the TF-setting POPF is a POPF that clears TF. */
        .globl ss_popf_clear, ss_popf_clear_1, ss_popf_clear_2
ss_popf_clear:
        pushfq                                  /* an image with TF = 0, for ss_popf_clear_1 */
        SET_TF
ss_popf_clear_1:
        popfq
ss_popf_clear_2:
        STOP_STEPPING
        ret

/* ------------------------------------------------------------------ mov_ss --
 * MOV SS with TF = 1: no trap after it; one after the instruction that follows. */
        .globl ss_mov_ss, ss_mov_ss_1, ss_mov_ss_2, ss_mov_ss_3, ss_mov_ss_4
ss_mov_ss:
        mov     %ss, %eax
        SET_TF
ss_mov_ss_1:
        nop                                     /* traps: rip = ss_mov_ss_2 */
ss_mov_ss_2:
        mov     %eax, %ss                       /* debug exceptions inhibited ... */
ss_mov_ss_3:
        nop                                     /* ... until after this one: rip = ss_mov_ss_4 */
ss_mov_ss_4:
        STOP_STEPPING                           /* db_limit = 2: TF cleared by the handler */
        ret

/* ------------------------------------------------------------------- fault --
 * UD2 with TF = 1: #UD, and no single-step trap for the UD2.  The library's handler
 * resumes at ss_fault_fixup with the saved RFLAGS (TF = 1): the first trap after that
 * follows the instruction at the fixup.  The two NOPs after the UD2 are never run; they
 * keep the address after the UD2 apart from the fixup. */
        .globl ss_fault, ss_fault_1, ss_fault_ud2, ss_fault_after_ud2, ss_fault_fixup, ss_fault_fixup_next
ss_fault:
        SET_TF
ss_fault_1:
        nop                                     /* traps: rip = ss_fault_ud2 */
ss_fault_ud2:
        ud2
ss_fault_after_ud2:
        nop
        nop
ss_fault_fixup:
        nop                                     /* traps: rip = ss_fault_fixup_next */
ss_fault_fixup_next:
        STOP_STEPPING                           /* db_limit = 2: TF cleared by the handler */
        ret
        EXTABLE ss_fault_ud2, ss_fault_fixup

/* -------------------------------------------------------------------- iret --
 * IRETQ to CPL 0 whose RFLAGS image has TF = 1: no trap after the IRETQ; the first
 * trap follows the first instruction at the target. */
        .globl ss_iret, ss_iret_insn, ss_iret_target, ss_iret_target_1, ss_iret_target_2
ss_iret:
        mov     %rsp, %rax
        mov     %ss, %ecx
        push    %rcx                            /* SS */
        push    %rax                            /* RSP: as it was before these pushes */
        pushfq
        orq     $RFLAGS_TF, (%rsp)              /* RFLAGS with TF = 1 */
        mov     %cs, %ecx
        push    %rcx                            /* CS */
        lea     ss_iret_target(%rip), %rax
        push    %rax                            /* RIP */
ss_iret_insn:
        iretq
ss_iret_target:
        nop                                     /* traps: rip = ss_iret_target_1 */
ss_iret_target_1:
        nop                                     /* db_limit = 1: TF cleared by the handler */
ss_iret_target_2:
        STOP_STEPPING
        ret

        .section .note.GNU-stack, "", @progbits
