/*
 * call-gates: the code on both sides of the gates (see main.c).
 *
 * Far pointers are m16:32 (FF /3, FF /5 without REX.W): the form both vendors accept
 * in 64-bit mode; the offset is not used for a gate (SDM Vol. 3A §5.8.4).
 */
#include "ringside.h"
#include "gates.h"

/* Record what a gate's target sees: RSP, CS, SS and the first four stack slots. Segment
 * registers are stored as 16 bits (MOV to a 32-bit register leaves bits 31:16
 * implementation dependent: SDM Vol. 2 MOV); the rest of each slot stays 0. */
.macro RECORD
        mov     %rsp, gate_rec(%rip)
        mov     %cs, gate_rec+8(%rip)
        mov     %ss, gate_rec+16(%rip)
        mov     (%rsp), %rax
        mov     %rax, gate_rec+24(%rip)
        mov     8(%rsp), %rax
        mov     %rax, gate_rec+32(%rip)
        mov     16(%rsp), %rax
        mov     %rax, gate_rec+40(%rip)
        mov     24(%rsp), %rax
        mov     %rax, gate_rec+48(%rip)
        incq    gate_rec+56(%rip)
.endm

        .text
        .code64

/* The ring-0 target of the gates to SEL_CODE64. gate_mode picks how it returns:
 * 0: loads DS, ES, GS with the DPL-0 data segment (GS base GS_BASE_MARK) and FS with the
 *    DPL-3 one, then LRETQ;
 * 1: LRETQ with a non-canonical RIP in the frame (expected to fault), then a good LRETQ;
 * 2: moves the return CS:RIP 16 bytes down and returns with LRETQ $16;
 * 3: plain LRETQ. */
        .globl gate_target
gate_target:
        RECORD
        mov     gate_mode(%rip), %rax
        cmp     $1, %rax
        je      1f
        cmp     $2, %rax
        je      2f
        cmp     $3, %rax
        je      3f
        mov     $SEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %gs
        mov     $0xc0000101, %ecx               /* MSR_GS_BASE: a base the LRETQ must keep */
        mov     $GS_BASE_MARK, %eax
        xor     %edx, %edx
        wrmsr
        mov     $SEL_USER_DATA, %eax
        mov     %eax, %fs
3:      lretq
1:      mov     (%rsp), %rdx
        movabs  $0x0000800000000000, %rcx
        mov     %rcx, (%rsp)
        .globl gate_bad_lretq
gate_bad_lretq:
        lretq
        .globl gate_bad_fixup
gate_bad_fixup:
        mov     %rdx, (%rsp)
        lretq
        EXTABLE gate_bad_lretq, gate_bad_fixup
2:      sub     $16, %rsp
        mov     16(%rsp), %rax
        mov     %rax, (%rsp)
        mov     24(%rsp), %rax
        mov     %rax, 8(%rsp)
        lretq   $16

/* A ring-3 (or conforming) target: records and returns with LRETQ. */
        .globl user_gate_target
user_gate_target:
        RECORD
        lretq

/* Record the segment registers and RSP after a transfer, into seg_rec. */
.macro RECORD_SEGS
        mov     %rsp, seg_rec(%rip)
        mov     %cs, seg_rec+8(%rip)
        mov     %ss, seg_rec+16(%rip)
        mov     %ds, seg_rec+24(%rip)
        mov     %es, seg_rec+32(%rip)
        mov     %fs, seg_rec+40(%rip)
        mov     %gs, seg_rec+48(%rip)
.endm

/* u64 far_call(u64 sel): LCALL through sel (any CPL). Returns 0, or 1 if the LCALL
 * faulted. RSP before the call is in rsp_before, the state after it in seg_rec. */
        .globl far_call
far_call:
        push    %rbx
        mov     %rsp, %rbx
        mov     %di, far_ptr+4(%rip)
        mov     %rsp, rsp_before(%rip)
        .globl far_call_insn
far_call_insn:
        lcall   *far_ptr(%rip)
        .globl far_call_ret
far_call_ret:
        RECORD_SEGS
        mov     %rbx, %rsp
        xor     %eax, %eax
        pop     %rbx
        ret
far_call_fault:
        mov     $1, %eax
        pop     %rbx
        ret
        EXTABLE far_call_insn, far_call_fault

/* u64 far_jmp(u64 sel): LJMP through sel; the gates it succeeds through lead to
 * jmp_landing. Returns 0, or 1 if the LJMP faulted. */
        .globl far_jmp
far_jmp:
        mov     %di, far_ptr+4(%rip)
        mov     %rsp, rsp_before(%rip)
far_jmp_insn:
        ljmp    *far_ptr(%rip)
        ud2
        .globl jmp_landing
jmp_landing:
        RECORD_SEGS
        xor     %eax, %eax
        ret
far_jmp_fault:
        mov     $1, %eax
        ret
        EXTABLE far_jmp_insn, far_jmp_fault

/* u64 kernel_lretq(u64 rip, u64 cs, u64 rsp, u64 ss): LRETQ at CPL 0 with that frame,
 * expected to fault; returns 1 from the fixup. */
        .globl kernel_lretq
kernel_lretq:
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
kernel_lretq_insn:
        lretq
kernel_lretq_fault:
        add     $32, %rsp
        mov     $1, %eax
        ret
        EXTABLE kernel_lretq_insn, kernel_lretq_fault

        .data
        .balign 8
far_ptr:
        .long   0x12345678
        .word   0
        .word   0
        .globl gate_rec, seg_rec, gate_mode, rsp_before
gate_rec:
        .fill   8, 8, 0
seg_rec:
        .fill   7, 8, 0
gate_mode:
        .quad   0
rsp_before:
        .quad   0

        .section .note.GNU-stack, "", @progbits
