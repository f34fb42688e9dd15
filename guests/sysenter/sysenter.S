/*
 * The code of the sysenter guest that must be assembler: the SYSENTER entry point
 * (IA32_SYSENTER_EIP), and the user functions that call it from compatibility mode and
 * from 64-bit mode.  Every observation goes into se_seen[] (main.c prints them):
 *   0 entry RSP   1 entry RFLAGS   2 entry CS   3 entry SS   4 entry LAR(CS)   5 entry LAR(SS)
 *   6 entry RCX   7 entry RDX      8 RFLAGS just before SYSEXIT
 *   9 user CS    10 user SS       11 user RSP  12 user RFLAGS  13 user LAR(CS)  14 user LAR(SS)
 *  15 user RSP after one push     16 user RIP reached (1)
 * The convention of this guest (not Linux's): the user passes the stack and the return
 * address SYSEXIT takes in ECX/RCX and EDX/RDX, which SYSENTER leaves alone.
 */
#include "ringside.h"

#define SEEN(n) (se_seen + 8 * (n))

        .text
        .code64
        .globl sysenter_entry
sysenter_entry:
        mov     %rsp, SEEN(0)(%rip)
        pushfq
        popq    SEEN(1)(%rip)
        mov     %cs, %eax
        mov     %rax, SEEN(2)(%rip)
        lar     %ax, %eax
        mov     %rax, SEEN(4)(%rip)
        mov     %ss, %eax
        mov     %rax, SEEN(3)(%rip)
        lar     %ax, %eax
        mov     %rax, SEEN(5)(%rip)
        mov     %rcx, SEEN(6)(%rip)
        mov     %rdx, SEEN(7)(%rip)
        cmpb    $0, se_noncanonical_rcx(%rip)
        jne     3f
4:      cmpb    $0, se_exit64(%rip)
        jne     1f
        pushfq
        popq    SEEN(8)(%rip)
        sysexit                                 /* to compatibility mode: CS + 16, SS + 24 */
1:      pushfq
        popq    SEEN(8)(%rip)
        .byte   0x48, 0x0f, 0x35                /* REX.W SYSEXIT: to 64-bit mode, CS + 32, SS + 40 */

        /* SYSEXIT to 64-bit mode with a non-canonical RCX: #GP(0) here, at CPL 0 (SDM SYSEXIT,
         * 64-Bit Mode Exceptions); then return properly with the RCX the user passed. */
3:      movb    $0, se_noncanonical_rcx(%rip)
        mov     %rcx, %r8
        mov     $0x0000800000000000, %rcx
        .globl se_noncanonical_insn
se_noncanonical_insn:
        .byte   0x48, 0x0f, 0x35
        EXTABLE se_noncanonical_insn, 5f
5:      mov     %r8, %rcx
        jmp     4b

/* The SYSENTER entry point while the CPUID vendor is AuthenticAMD, where SYSENTER is #UD in
 * long mode (APM Vol. 3 SYSENTER) and this is never reached.  QEMU 7.2 with an AMD model runs
 * SYSENTER from compatibility mode (test/qemu-deviations.ts); then this records that it got
 * here and returns, by IRETQ, to where the #UD fixup would have resumed: compatibility mode at
 * CPL 3 with ESP = ECX and EIP = EDX as user32_sysenter_ud set them. */
        .globl sysenter_amd_entry
sysenter_amd_entry:
        movb    $1, se_amd_entered(%rip)
        mov     %ecx, %ecx                      /* zero-extend: bits 63:32 come from compatibility mode */
        mov     %edx, %edx
        pushq   $SEL_USER_DATA
        push    %rcx
        pushq   $2                              /* RFLAGS: only the fixed bit */
        pushq   $SEL_USER_CODE32
        push    %rdx
        iretq

/* u32 user32_sysenter(u32 unused), compatibility mode, cdecl: SYSENTER to the kernel, which
 * comes back with SYSEXIT (32-bit) to user32_sysenter_ret on se_stack32_top; records what it finds there. */
        .code32
        .globl user32_sysenter
user32_sysenter:
        push    %ebx
        push    %esi
        push    %edi
        push    %ebp
        mov     %esp, se_saved_sp
        mov     se_stack32_top, %ecx
        mov     $user32_sysenter_ret, %edx
        xor     %eax, %eax                      /* ZF = PF = 1: known status flags */
        sysenter
        .globl user32_sysenter_ret
user32_sysenter_ret:
        pushf
        popl    SEEN(12)
        mov     %esp, SEEN(11)
        mov     %cs, %eax
        mov     %eax, SEEN(9)
        lar     %ax, %eax
        mov     %eax, SEEN(13)
        mov     %ss, %eax
        mov     %eax, SEEN(10)
        lar     %ax, %eax
        mov     %eax, SEEN(14)
        push    $0x5a5a5a5a                     /* SS.B = 1: a 32-bit stack, ESP - 4 */
        mov     %esp, SEEN(15)
        pop     %eax
        movl    $1, SEEN(16)
        mov     se_saved_sp, %esp
        pop     %ebp
        pop     %edi
        pop     %esi
        pop     %ebx
        xor     %eax, %eax
        ret

/* u64 user64_sysenter(u64 unused), 64-bit mode: SYSENTER, back with REX.W SYSEXIT to user64_sysenter_ret. */
        .code64
        .globl user64_sysenter
user64_sysenter:
        push    %rbx
        push    %rbp
        mov     %rsp, se_saved_sp(%rip)
        mov     se_stack64_top(%rip), %rcx
        lea     user64_sysenter_ret(%rip), %rdx
        xor     %eax, %eax
        sysenter
        .globl user64_sysenter_ret
user64_sysenter_ret:
        mov     se_saved_sp(%rip), %rax         /* QEMU: RSP may be non-canonical here */
        xchg    %rax, %rsp
        mov     %rax, SEEN(11)(%rip)
        pushfq
        popq    SEEN(12)(%rip)
        mov     %cs, %eax
        mov     %rax, SEEN(9)(%rip)
        lar     %ax, %eax
        mov     %rax, SEEN(13)(%rip)
        mov     %ss, %eax
        mov     %rax, SEEN(10)(%rip)
        lar     %ax, %eax
        mov     %rax, SEEN(14)(%rip)
        movq    $1, SEEN(16)(%rip)
        pop     %rbp
        pop     %rbx
        xor     %eax, %eax
        ret

/* User functions that execute one instruction expected to fault at CPL 3. */
        .code32
        .globl user32_sysexit, user32_sysexit_insn
user32_sysexit:
user32_sysexit_insn:
        sysexit
        EXTABLE user32_sysexit_insn, 1f
1:      ret
        .globl user32_sysenter_ud, user32_sysenter_ud_insn
user32_sysenter_ud:
        mov     %esp, %ecx                      /* for sysenter_amd_entry (QEMU only) */
        mov     $1f, %edx
user32_sysenter_ud_insn:
        sysenter
        EXTABLE user32_sysenter_ud_insn, 1f
1:      ret
        .code64
        .globl user64_sysexit, user64_sysexit_insn
user64_sysexit:
user64_sysexit_insn:
        .byte   0x48, 0x0f, 0x35
        EXTABLE user64_sysexit_insn, 1f
1:      ret
        .globl user64_sysenter_ud, user64_sysenter_ud_insn
user64_sysenter_ud:
user64_sysenter_ud_insn:
        sysenter
        EXTABLE user64_sysenter_ud_insn, 1f
1:      ret

        .data
        .balign 8
        .globl se_seen, se_saved_sp, se_exit64, se_noncanonical_rcx, se_amd_entered
se_seen:
        .fill   17, 8, 0
se_saved_sp:
        .quad   0
se_exit64:
        .byte   0
se_noncanonical_rcx:
        .byte   0
se_amd_entered:
        .byte   0

        .section .note.GNU-stack, "", @progbits
