/*
 * Segment-register load probes; see main.c for what the SDM requires.
 * 64-bit probes take the selector in %edi (C calling convention); compatibility-mode
 * probes are entered by a far call with the selector in %edx and return with LRET.
 * Each returns in %eax the selector read back after the load, or 0xdead if the load
 * faulted (the exception table resumes at the probe's fixup), and restores the
 * register it changed.
 */
#include "ringside.h"

#define FAILED 0xdead

        .data
        .balign 8
        .globl farptr
farptr: .long 0x1234, 0         /* m16:32: offset, then the selector (filled by the probe) */

/* Load with `insn` (after `pre`); read the register back; restore it; leave with `ret`. */
.macro LOAD name, ret, pre, insn, reg, restore
        .globl \name
\name:
        mov     $FAILED, %eax
        \pre
1:      \insn
        mov     %\reg, %eax
2:      mov     $\restore, %ecx
        mov     %ecx, %\reg
        \ret
        EXTABLE 1b, 2b
.endm

/* POP Sreg: a faulting POP leaves the stack pointer where it was. */
.macro POPSEG name, ret, reg, restore, push, sp, size
        .globl \name
\name:
        mov     $FAILED, %eax
        \push
1:      pop     %\reg
        mov     %\reg, %eax
        jmp     3f
2:      add     $\size, %\sp
3:      mov     $\restore, %ecx
        mov     %ecx, %\reg
        \ret
        EXTABLE 1b, 2b
.endm

        .text
        .code64
.irp r, ds, es, fs, gs, ss
LOAD p64_mov_\r, ret, nop, "mov %edi, %\r", \r, SEL_DATA
.endr
POPSEG p64_pop_fs, ret, fs, SEL_DATA, "push %rdi", rsp, 8
POPSEG p64_pop_gs, ret, gs, SEL_DATA, "push %rdi", rsp, 8
.irp r, ss, fs, gs
LOAD p64_l\r, ret, "mov %di, farptr+4", "l\r farptr, %ecx", \r, SEL_DATA
.endr

/* ES is null: 64-bit mode does not check it, the access completes. */
        .globl p64_null_es_access
p64_null_es_access:
        xor     %eax, %eax
        mov     %eax, %es
1:      mov     %es:(%rsi), %eax
2:      mov     $SEL_DATA, %ecx
        mov     %ecx, %es
        ret
        EXTABLE 1b, 2b

        .code32
.irp r, ds, es, fs, gs, ss
LOAD c32_mov_\r, lret, nop, "mov %edx, %\r", \r, SEL_DATA
.endr
POPSEG c32_pop_ds, lret, ds, SEL_DATA, "push %edx", esp, 4
POPSEG c32_pop_es, lret, es, SEL_DATA, "push %edx", esp, 4
POPSEG c32_pop_ss, lret, ss, SEL_DATA, "push %edx", esp, 4
.irp r, ds, es, ss
LOAD c32_l\r, lret, "mov %dx, farptr+4", "l\r farptr, %ecx", \r, SEL_DATA
.endr

/* ES is null: outside 64-bit mode an access through it is #GP(0). %eax = FAILED if
 * it faulted, else the value read; %ebx = the offset. */
        .globl c32_null_es_access
c32_null_es_access:
        xor     %eax, %eax
        mov     %eax, %es
        mov     $FAILED, %eax
1:      mov     %es:(%ebx), %eax
2:      mov     $SEL_DATA, %ecx
        mov     %ecx, %es
        lret
        EXTABLE 1b, 2b

/* Read a dword at %fs:8 / %gs:8 in compatibility mode (the bases are set by main.c). */
        .globl c32_read_fs8, c32_read_gs8
c32_read_fs8:
        mov     %fs:8, %eax
        lret
c32_read_gs8:
        mov     %gs:8, %eax
        lret

/* Load FS with %edx in compatibility mode, then read %fs:8; FS is left loaded. */
        .globl c32_load_fs_read8
c32_load_fs_read8:
        mov     %edx, %fs
        mov     %fs:8, %eax
        lret

/* Far JMP and CALL (m16:64, REX.W) to the selector in %edi, in 64-bit mode.  The target
 * records CS in %eax and comes back to SEL_CODE64; %eax = FAILED if the transfer faulted. */
        .code64
        .data
        .balign 8
farptr64: .quad 0, 0
        .text
        .globl p64_ljmp, p64_lcall
p64_ljmp:
        mov     $FAILED, %eax
        lea     ljmp_target(%rip), %rcx
        mov     %rcx, farptr64(%rip)
        mov     %di, farptr64+8(%rip)
ljmp_insn:
        rex.W ljmp *farptr64(%rip)
ljmp_back:
        ret
        EXTABLE ljmp_insn, ljmp_back
ljmp_target:
        mov     %cs, %eax
        pushq   $SEL_CODE64
        lea     ljmp_back(%rip), %rcx
        push    %rcx
        lretq

p64_lcall:
        mov     $FAILED, %eax
        lea     lcall_target(%rip), %rcx
        mov     %rcx, farptr64(%rip)
        mov     %di, farptr64+8(%rip)
lcall_insn:
        rex.W lcall *farptr64(%rip)
lcall_back:
        ret
        EXTABLE lcall_insn, lcall_back
lcall_target:
        mov     %cs, %eax
        lretq

/* RDFSBASE in compatibility mode: #UD (64-bit mode only).  %eax = FAILED if it faulted. */
        .code32
        .globl c32_rdfsbase
c32_rdfsbase:
        mov     $FAILED, %eax
1:      rdfsbase %eax
2:      lret
        EXTABLE 1b, 2b

/* Far JMP and CALL from compatibility mode (operand size 32), entered by call_compat with
 * the selector in %edx.  m16:32 probes use farptr; ptr16:32 probes carry the selector in
 * the instruction, one probe per selector of main.c's far_cases (table c32_far_direct).
 * Targets are 64-bit code.  %eax = the target's CS, or FAILED if the transfer faulted;
 * far_rsp_delta = ESP after the instruction (or its fault) minus ESP before it. */
        .data
        .balign 8
        .globl far_back, far_width, far_pushed_eip, far_pushed_cs, far_pushed_bytes, far_rsp_delta
far_back:         .quad 0       /* where the JMP target returns to (SEL_CODE32) */
far_width:        .long 0       /* bytes a PUSH takes at the target: 8 in 64-bit mode */
far_pushed_eip:   .long 0       /* the CALL target's view of its return frame */
far_pushed_cs:    .long 0
far_pushed_bytes: .long 0
far_rsp_delta:    .long 0

        .text
        .code64
c32_ljmp_target:
        mov     %cs, %eax
        mov     %rsp, %rcx
        push    %rax
        sub     %rsp, %rcx
        pop     %rax
        mov     %ecx, far_width(%rip)
        pushq   $SEL_CODE32
        pushq   far_back(%rip)
        lretq
/* The CALL pushed CS then EIP in 4-byte slots (operand size 32); %ebp = ESP before it.
 * LRET with operand size 32 pops them back into compatibility mode.  Only the low
 * 16 bits of the CS slot are defined. */
c32_lcall_target:
        mov     %cs, %eax
        mov     (%rsp), %ecx
        mov     %ecx, far_pushed_eip(%rip)
        movzwl  4(%rsp), %ecx
        mov     %ecx, far_pushed_cs(%rip)
        mov     %ebp, %ecx
        sub     %esp, %ecx
        mov     %ecx, far_pushed_bytes(%rip)
        lretl

        .code32
.macro C32FAR name, pre, insn
        .globl \name
\name:
        push    %ebp
        push    %esi
        mov     $FAILED, %eax
        movl    $2f, far_back
        movl    $0, far_back+4
        \pre
        mov     %esp, %ebp
1:      \insn
2:      mov     %esp, %esi
        sub     %ebp, %esi
        mov     %esi, far_rsp_delta
        mov     %ebp, %esp
        pop     %esi
        pop     %ebp
        lret
        EXTABLE 1b, 2b
.endm

C32FAR c32_ljmp_m32, "movl $c32_ljmp_target, farptr; mov %dx, farptr+4", "ljmp *farptr"
C32FAR c32_lcall_m32, "movl $c32_lcall_target, farptr; mov %dx, farptr+4", "lcall *farptr"

#define FAR_SELECTORS 0x00, 0x03, 0xc0, 0x20, 0x58, 0xa0, 0xa3, 0x80, 0x88, 0x8b, 0x7b, 0x90, 0x98
.irp s, FAR_SELECTORS
C32FAR c32_ljmp_ptr_\s, nop, "ljmp $\s, $c32_ljmp_target"
C32FAR c32_lcall_ptr_\s, nop, "lcall $\s, $c32_lcall_target"
.endr

/* { selector, ljmp ptr16:32 probe, lcall ptr16:32 probe } for each selector above. */
        .section .rodata
        .balign 8
        .globl c32_far_direct
c32_far_direct:
.irp s, FAR_SELECTORS
        .quad   \s, c32_ljmp_ptr_\s, c32_lcall_ptr_\s
.endr
        .quad   0xffff
