/*
 * linux-entry: the kernel's entry and exit code, shaped after Linux's
 * arch/x86/entry/entry_64.S and entry_64_compat.S (read for the facts; written anew here).
 *
 * - entry_SYSCALL_64 (IA32_LSTAR): SYSCALL left CPL 0, RCX = the return RIP, R11 = RFLAGS, and
 *   RSP and GS untouched (SDM Vol. 2B SYSCALL "Operation").  SWAPGS makes GS.base the per-CPU
 *   area, the user RSP is parked there, the kernel stack comes from it, and a pt_regs frame is
 *   pushed in Linux's order: ss, sp, flags, cs, ip (the frame an IRET takes), orig_ax, then
 *   di si dx cx ax r8-r11 bx bp r12-r15.  do_syscall_64() says whether SYSRET may return
 *   (kernel.c: Linux's checks); otherwise the IRET path returns.
 * - The SYSRET exit loads every register from pt_regs (RCX and R11 there equal ip and flags:
 *   checked), the user RSP, SWAPGS, SYSRETQ.  Between the two last instructions the kernel runs
 *   on the user's stack and GS: the "syscall gap".  A #GP on SYSRETQ itself (Intel, RCX not
 *   canonical: SDM SYSRET; only with the unsafe knob) is taken there, at CPL 0.
 * - entry_INT80_compat: a DPL-3 interrupt gate (SDM Vol. 3A §6.12.1.1), so INT $0x80 from CPL 3
 *   arrives on TSS.RSP0 with the CPU's frame already at the top of the stack; all registers are
 *   kept (Linux preserves r8-r15 across int $0x80 since 4.17).
 * - entry_SYSENTER_compat (IA32_SYSENTER_EIP): SYSENTER saves nothing and clears only IF and VM
 *   (SDM SYSENTER), so the entry pushes a frame of its own: user ESP from EBP and the return at
 *   the vsyscall landing pad (the vDSO convention), RFLAGS as SYSENTER left them.  SYSENTER does
 *   not clear TF or NT or AC: with TF set, a single-step #DB arrives at CPL 0 on each
 *   instruction until the POPFQ that clears them (the kernel's #DB handler ignores traps inside
 *   [entry_SYSENTER_compat, __end_SYSENTER_singlestep_region), as Linux does).
 * - entry_SYSCALL_compat (IA32_CSTAR): SYSCALL from compatibility mode, AMD only (Intel: #UD).
 * - The compat fast paths return with SYSRETL (to compatibility mode, EIP = ECX) when
 *   do_fast_syscall_32 allows it, else with IRET.
 * - The local APIC timer's interrupt (LINUX_IRQ_BENCH only): asm_sysvec_apic_timer_interrupt.
 * - Exceptions (IDTENTRY): the error code (or -1) is orig_ax; from CPL 3 SWAPGS; from CPL 0 at
 *   the two instructions that run with the user's GS (the IRETQ and the SYSRETQ of the exits)
 *   SWAPGS too, so that a failed return can become a fault of the user program.
 *
 * FRED: an IDT-and-SYSCALL kernel only for now; a FRED entry (one entry point per ring,
 * ERETU/ERETS) would sit beside these, calling the same C dispatchers with the same pt_regs.
 */
#include "linux.h"

.macro PUSH_REGS rax=%rax, zero_r8_r15=0
        pushq   %rdi
        pushq   %rsi
        pushq   %rdx
        pushq   %rcx
        pushq   \rax
        .if \zero_r8_r15
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        .else
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        .endif
        pushq   %rbx
        pushq   %rbp
        .if \zero_r8_r15
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        .else
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        .endif
.endm

.macro POP_REGS
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rax
        popq    %rcx
        popq    %rdx
        popq    %rsi
        popq    %rdi
.endm

        .text
        .code64

/* ------------------------------------------------------------ SYSCALL (64-bit) -- */
        .balign 16
        .globl entry_SYSCALL_64
entry_SYSCALL_64:
        swapgs
        movq    %rsp, %gs:PERCPU_USER_RSP
        movq    %gs:PERCPU_TOP, %rsp
        pushq   $__USER_DS                      /* ss */
        pushq   %gs:PERCPU_USER_RSP             /* sp */
        pushq   %r11                            /* flags */
        pushq   $__USER_CS                      /* cs */
        pushq   %rcx                            /* ip */
        pushq   %rax                            /* orig_ax */
        PUSH_REGS rax=$-ENOSYS
        movq    %rsp, %rdi
        movslq  %eax, %rsi
        call    do_syscall_64
        testb   %al, %al
        jz      swapgs_restore_regs_and_return_to_usermode
        /* syscall_return_via_sysret */
        POP_REGS
        movq    RSP-ORIG_RAX(%rsp), %rsp
        swapgs
        .globl entry_SYSRETQ
entry_SYSRETQ:
        sysretq

/* ------------------------------------------------------- the IRET exit to user -- */
        .globl swapgs_restore_regs_and_return_to_usermode
swapgs_restore_regs_and_return_to_usermode:
        POP_REGS
        addq    $8, %rsp                        /* orig_ax */
        swapgs
        .globl native_irq_return_iret
native_irq_return_iret:
        iretq

/* ------------------------------------------------------------------ INT $0x80 -- */
        .balign 16
        .globl entry_INT80_compat
entry_INT80_compat:
        swapgs
        movl    %eax, %eax
        pushq   %rax                            /* orig_ax */
        PUSH_REGS rax=$-ENOSYS
        movq    %rsp, %rdi
        call    do_int80_syscall_32
        jmp     swapgs_restore_regs_and_return_to_usermode

/* ------------------------------------------------------------------- SYSENTER -- */
        .balign 16
        .globl entry_SYSENTER_compat
entry_SYSENTER_compat:
        swapgs
        movq    %gs:PERCPU_TOP, %rsp
        movl    %eax, %eax
        movl    %ebp, %ebp
        pushq   $__USER_DS                      /* ss */
        pushq   %rbp                            /* sp: the vsyscall stub put ESP in EBP */
        pushfq                                  /* flags as SYSENTER left them */
        orl     $X86_EFLAGS_IF, (%rsp)
        pushq   $__USER32_CS                    /* cs */
        pushq   $0                              /* ip: the landing pad, set by C */
        pushq   %rax                            /* orig_ax */
        PUSH_REGS rax=$-ENOSYS, zero_r8_r15=1
        /* SYSENTER filters no flags: clear NT, AC (and TF) before anything else runs. */
        testl   $(X86_EFLAGS_NT | X86_EFLAGS_AC | X86_EFLAGS_TF), EFLAGS(%rsp)
        jnz     .Lsysenter_fix_flags
.Lsysenter_flags_fixed:
        movq    %rsp, %rdi
        call    do_SYSENTER_32
        jmp     sysret32_from_system_call
.Lsysenter_fix_flags:
        pushq   $X86_EFLAGS_FIXED
        popfq
        .globl sysenter_after_popfq
sysenter_after_popfq:                           /* the last single-step trap lands here */
        jmp     .Lsysenter_flags_fixed
        .globl __end_SYSENTER_singlestep_region
__end_SYSENTER_singlestep_region:

/* ------------------------------------------------------- SYSCALL (compat, AMD) -- */
        .balign 16
        .globl entry_SYSCALL_compat
entry_SYSCALL_compat:
        swapgs
        movl    %esp, %r8d
        movq    %gs:PERCPU_TOP, %rsp
        movl    %eax, %eax
        pushq   $__USER_DS                      /* ss */
        pushq   %r8                             /* sp */
        pushq   %r11                            /* flags */
        pushq   $__USER32_CS                    /* cs */
        pushq   %rcx                            /* ip */
        pushq   %rax                            /* orig_ax */
        pushq   %rdi
        pushq   %rsi
        pushq   %rdx
        pushq   %rbp                            /* cx: the vsyscall stub moved ECX to EBP */
        pushq   $-ENOSYS
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   %rbx
        pushq   %rbp
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        movq    %rsp, %rdi
        call    do_fast_syscall_32

/* The compat fast exit: SYSRETL to compatibility mode (EIP = ECX, EFLAGS = R11) if allowed. */
sysret32_from_system_call:
        testb   %al, %al
        jz      swapgs_restore_regs_and_return_to_usermode
        POP_REGS
        movl    RIP-ORIG_RAX(%rsp), %ecx
        movl    EFLAGS-ORIG_RAX(%rsp), %r11d
        movq    RSP-ORIG_RAX(%rsp), %rsp
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        xorl    %r10d, %r10d
        swapgs
        .globl entry_SYSRETL
entry_SYSRETL:
        sysretl

/* ----------------------------------------------------------------- exceptions -- */
.macro IDTENTRY vec, has_err=0
        .balign 16
        .globl asm_exc_\vec
asm_exc_\vec:
        .if !\has_err
        pushq   $-1                             /* orig_ax: no error code */
        .endif
        testb   $3, CS-ORIG_RAX(%rsp)
        jz      1f
        swapgs
        jmp     2f
1:      cmpq    $native_irq_return_iret, RIP-ORIG_RAX(%rsp)
        je      3f
        cmpq    $entry_SYSRETQ, RIP-ORIG_RAX(%rsp)
        jne     2f
3:      swapgs                                  /* the exit had already loaded the user's GS */
2:      PUSH_REGS
        movq    %rsp, %rdi
        movl    $\vec, %esi
        cld
        call    do_exception
        jmp     exception_return
.endm

        IDTENTRY 0
        IDTENTRY 1
        IDTENTRY 3
        IDTENTRY 6
        IDTENTRY 11, 1
        IDTENTRY 12, 1
        IDTENTRY 13, 1
        IDTENTRY 14, 1
        IDTENTRY 17, 1

/* do_exception returns 0: back where the exception came from (CPL 0); 1: to user mode with
 * the pt_regs at the top of the kernel stack (the same frame for an exception from CPL 3). */
exception_return:
        testl   %eax, %eax
        jnz     1f
        POP_REGS
        addq    $8, %rsp
        iretq
1:      movq    %gs:PERCPU_TOP, %rsp
        subq    $PTREGS_SIZE, %rsp
        jmp     swapgs_restore_regs_and_return_to_usermode

/* ------------------------------------------------------------- interrupts -- */
#ifdef LINUX_IRQ_BENCH
/* The local APIC timer (apic.c), Linux's idtentry_sysvec: no error code, so orig_ax = -1;
 * SWAPGS when it interrupted CPL 3 (an interrupt finds IF = 1 only in user mode or at the
 * kernel's STI; HLT, never inside an exit that has loaded the user's GS); back by the exit to
 * user mode, or by IRETQ to the kernel. */
        .balign 16
        .globl asm_sysvec_apic_timer_interrupt
asm_sysvec_apic_timer_interrupt:
        pushq   $-1                             /* orig_ax */
        testb   $3, CS-ORIG_RAX(%rsp)
        jz      1f
        swapgs
1:      PUSH_REGS
        movq    %rsp, %rdi
        cld
        call    sysvec_apic_timer_interrupt
        testb   $3, CS(%rsp)
        jnz     swapgs_restore_regs_and_return_to_usermode
        POP_REGS
        addq    $8, %rsp
        iretq
#endif

/* ------------------------------------------------- running a user program -- */
/* u64 run_user_regs(struct pt_regs *top): leave for user mode through the IRET exit with the
 * frame at the top of the kernel stack; returns the code the program passes to exit(). */
        .globl run_user_regs
run_user_regs:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, k_runner_rsp(%rip)
        movq    %rdi, %rsp
        jmp     swapgs_restore_regs_and_return_to_usermode

/* void kernel_exit_to_runner(u64 code): exit(): abandon the kernel stack, back to run_user_regs. */
        .globl kernel_exit_to_runner
kernel_exit_to_runner:
        movq    k_runner_rsp(%rip), %rsp
        movq    %rdi, %rax
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

        .data
        .balign 8
k_runner_rsp:
        .quad 0

        .section .note.GNU-stack, "", @progbits
