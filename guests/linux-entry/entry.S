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
 * - The local APIC timer's interrupt (LINUX_APIC_TIMER only: the two benchmarks that take it): asm_sysvec_apic_timer_interrupt.
 * - Exceptions (IDTENTRY): the error code (or -1) is orig_ax; from CPL 3 SWAPGS; from CPL 0 at
 *   the two instructions that run with the user's GS (the IRETQ and the SYSRETQ of the exits)
 *   SWAPGS too, so that a failed return can become a fault of the user program.
 * - NMI and #DB: paranoid entries on IST stacks that read IA32_GS_BASE to decide on SWAPGS
 *   (Linux's paranoid_entry), since either can arrive anywhere in the syscall gap.
 * - Every instruction of the SYSCALL entry (SWAPGS to the call into C) and of the SYSRET exit
 *   (the test of do_syscall_64's answer to SYSRETQ) is recorded in the syscall gap table (GAP)
 *   for the NMI and #DB runs of gap.c and test/syscall-gap.test.ts.
 *
 * - FRED (when CPUID enumerates it; kernel.c fred_setup): asm_fred_entrypoint_user and
 *   asm_fred_entrypoint_kernel, Linux's entry_64_fred.S shape.  Every event -- SYSCALL,
 *   SYSENTER, INT n, exceptions, NMI, interrupts -- arrives at one of the two with the CPU's
 *   64-byte frame on the stack (FRED specification §5.1: error code, RIP, CS, RFLAGS, RSP, SS,
 *   event data, reserved), which is pt_regs from orig_ax on; the entry pushes the GPRs below
 *   it and calls fred.c; the exit pops them and ERETU/ERETS pops the frame (both skip the error
 *   code: SDM ERETU/ERETS "Operation").  No SWAPGS (delivery from ring 3 and ERETU swap GS),
 *   no stack switch, no syscall gap.
 */
#include "linux.h"

        .pushsection .rodata.xenpv_patch, "a"
        .balign 8
        .globl xenpv_patch_start
xenpv_patch_start:
        .popsection

/*
 * The syscall gap table: GAP assembles one instruction and records its address in
 * .rodata.syscall_gap, so that the kernel's #DB sweep (gap.c) and the test harness
 * (test/syscall-gap.test.ts, reading the ELF) know every instruction of the SYSCALL entry and
 * the SYSRET exit without a second build pass or a disassembler.  The table runs
 * syscall_gap_entry .. syscall_gap_exit (entry) .. syscall_gap_end (exit).
 */
.macro GAP insn:vararg
.Lgap\@:
        \insn
        .pushsection .rodata.syscall_gap, "a"
        .quad   .Lgap\@
        .popsection
.endm

/* The same for the FRED entry and exit (the table fred_gap_entry .. fred_gap_exit ..
 * fred_gap_end): under FRED they are what SYSCALL enters and ERETU leaves by. */
.macro FRED_GAP insn:vararg
.Lfgap\@:
        \insn
        .pushsection .rodata.fred_gap, "a"
        .quad   .Lfgap\@
        .popsection
.endm

/* MAYBE_GAP mark, insn: GAP insn when mark is 1, FRED_GAP when 2 (PUSH_REGS and POP_REGS
 * serve every entry). */
.macro MAYBE_GAP mark, insn:vararg
        .if \mark == 1
        GAP \insn
        .elseif \mark == 2
        FRED_GAP \insn
        .else
        \insn
        .endif
.endm

.macro PUSH_REGS rax=%rax, zero_r8_r15=0, gap=0
        MAYBE_GAP \gap, pushq %rdi
        MAYBE_GAP \gap, pushq %rsi
        MAYBE_GAP \gap, pushq %rdx
        MAYBE_GAP \gap, pushq %rcx
        MAYBE_GAP \gap, pushq \rax
        .if \zero_r8_r15
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        .else
        MAYBE_GAP \gap, pushq %r8
        MAYBE_GAP \gap, pushq %r9
        MAYBE_GAP \gap, pushq %r10
        MAYBE_GAP \gap, pushq %r11
        .endif
        MAYBE_GAP \gap, pushq %rbx
        MAYBE_GAP \gap, pushq %rbp
        .if \zero_r8_r15
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        .else
        MAYBE_GAP \gap, pushq %r12
        MAYBE_GAP \gap, pushq %r13
        MAYBE_GAP \gap, pushq %r14
        MAYBE_GAP \gap, pushq %r15
        .endif
.endm

.macro POP_REGS gap=0
        MAYBE_GAP \gap, popq %r15
        MAYBE_GAP \gap, popq %r14
        MAYBE_GAP \gap, popq %r13
        MAYBE_GAP \gap, popq %r12
        MAYBE_GAP \gap, popq %rbp
        MAYBE_GAP \gap, popq %rbx
        MAYBE_GAP \gap, popq %r11
        MAYBE_GAP \gap, popq %r10
        MAYBE_GAP \gap, popq %r9
        MAYBE_GAP \gap, popq %r8
        MAYBE_GAP \gap, popq %rax
        MAYBE_GAP \gap, popq %rcx
        MAYBE_GAP \gap, popq %rdx
        MAYBE_GAP \gap, popq %rsi
        MAYBE_GAP \gap, popq %rdi
.endm

        .text
        .code64

/* ------------------------------------------------------------ SYSCALL (64-bit) -- */
        .pushsection .rodata.syscall_gap, "a"
        .balign 8
        .globl syscall_gap_entry
syscall_gap_entry:
        .popsection

        .balign 16
        .globl entry_SYSCALL_64
entry_SYSCALL_64:
        GAP swapgs
        .globl entry_SYSCALL_64_after_swapgs
entry_SYSCALL_64_after_swapgs:                  /* Xen PV, xen_entry=2016: xen-asm.S */
        GAP movq %rsp, %gs:PERCPU_USER_RSP
        GAP movq %gs:PERCPU_TOP, %rsp
        .globl entry_SYSCALL_64_safe_stack
entry_SYSCALL_64_safe_stack:                    /* from here on: the kernel's stack and GS */
        GAP pushq $__USER_DS                    /* ss */
        GAP pushq %gs:PERCPU_USER_RSP           /* sp */
        GAP pushq %r11                          /* flags */
        GAP pushq $__USER_CS                    /* cs */
        GAP pushq %rcx                          /* ip */
        .globl entry_SYSCALL_64_after_hwframe
entry_SYSCALL_64_after_hwframe:                 /* Xen PV (today's entry): xen-asm.S */
        GAP pushq %rax                          /* orig_ax */
        PUSH_REGS rax=$-ENOSYS, gap=1
        GAP movq %rsp, %rdi
        GAP movslq %eax, %rsi
        GAP call do_syscall_64

        .pushsection .rodata.syscall_gap, "a"
        .globl syscall_gap_exit
syscall_gap_exit:
        .popsection

        GAP testb %al, %al
        GAP jz swapgs_restore_regs_and_return_to_usermode
        /* syscall_return_via_sysret */
        POP_REGS gap=1
        GAP movq RSP-ORIG_RAX(%rsp), %rsp
        .globl entry_SYSRETQ_unsafe_stack
entry_SYSRETQ_unsafe_stack:                     /* from here on: the user's stack */
        XENPV_BEGIN                             /* Linux's USERGS_SYSRET64 paravirt site */
        GAP swapgs
        .globl entry_SYSRETQ
entry_SYSRETQ:                                  /* and the user's GS */
        GAP sysretq
        XENPV_END xen_sysret64

        .pushsection .rodata.syscall_gap, "a"
        .globl syscall_gap_end
syscall_gap_end:
        .popsection

/* ------------------------------------------------------- the IRET exit to user -- */
        .globl swapgs_restore_regs_and_return_to_usermode
swapgs_restore_regs_and_return_to_usermode:
        POP_REGS
        addq    $8, %rsp                        /* orig_ax */
        XENPV_BEGIN
        swapgs
        .globl native_irq_return_iret
native_irq_return_iret:
        iretq
        XENPV_END xen_iret

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
        XENPV_BEGIN
        swapgs
        XENPV_END
        jmp     2f
1:      cmpq    $native_irq_return_iret, RIP-ORIG_RAX(%rsp)
        je      3f
        cmpq    $entry_SYSRETQ, RIP-ORIG_RAX(%rsp)
        jne     2f
3:      XENPV_BEGIN
        swapgs                                  /* the exit had already loaded the user's GS */
        XENPV_END
2:      PUSH_REGS
        movq    %rsp, %rdi
        movl    $\vec, %esi
        cld
        call    do_exception
        jmp     exception_return
.endm

        IDTENTRY 0
        IDTENTRY 3
        IDTENTRY 6
        IDTENTRY 11, 1
        IDTENTRY 12, 1
        IDTENTRY 13, 1
        IDTENTRY 14, 1
        IDTENTRY 17, 1

/*
 * NMI and #DB: Linux's paranoid entry, on IST stacks (IST_NMI, IST_DB: TSS.IST2/3).  Either can
 * arrive at CPL 0 anywhere in the syscall gap: before the entry's SWAPGS or after the exit's,
 * so with the user's GS.base, and before the entry's stack switch or after the exit's, so on
 * the user's stack -- where a frame pushed without a stack switch would land in the user's red
 * zone.  The IST gives a known stack whatever RSP held (SDM Vol. 3A §6.14.5); CS's RPL cannot
 * tell which GS is live, so the entry reads IA32_GS_BASE and SWAPGSes unless it already holds
 * the per-CPU area (Linux tests the sign of a kernel address; here the one per-CPU base),
 * remembering in EBX (kept across the C call) to swap back before the IRETQ.  The NMI's IRETQ
 * also ends NMI blocking (§6.7.1).  Linux's nested-NMI handling (an exception inside the NMI
 * handler whose IRET unblocks NMIs while the IST frame is live) is not needed: this handler
 * takes no exception.
 */
.macro PARANOID_ENTRY name, handler
        .balign 16
        .globl \name
\name:
        pushq   $-1                             /* orig_ax */
        PUSH_REGS
        movl    $MSR_GS_BASE, %ecx
        rdmsr
        shlq    $32, %rdx
        movl    %eax, %eax
        orq     %rax, %rdx
        xorl    %ebx, %ebx
        cmpq    k_percpu_base(%rip), %rdx
        je      1f
        swapgs
        movl    $1, %ebx                        /* GS was the user's: swap back on the way out */
1:      movq    %rsp, %rdi
        movl    %ebx, %esi
        cld
        call    \handler
        testl   %ebx, %ebx
        jz      2f
        swapgs
2:      POP_REGS
        XENPV_BEGIN
        addq    $8, %rsp
        iretq
        XENPV_END xen_iret_pop_orig_ax
.endm

        PARANOID_ENTRY asm_exc_nmi, do_nmi
        PARANOID_ENTRY asm_exc_debug, do_debug

/* do_exception returns 0: back where the exception came from (CPL 0); 1: to user mode with
 * the pt_regs at the top of the kernel stack (the same frame for an exception from CPL 3). */
exception_return:
        testl   %eax, %eax
        jnz     1f
        POP_REGS
        XENPV_BEGIN
        addq    $8, %rsp
        iretq
        XENPV_END xen_iret_pop_orig_ax
1:      movq    %gs:PERCPU_TOP, %rsp
        subq    $PTREGS_SIZE, %rsp
        jmp     swapgs_restore_regs_and_return_to_usermode

/* ------------------------------------------------------------- interrupts -- */
#ifdef LINUX_APIC_TIMER
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

/* ----------------------------------------------------------------------- FRED -- */
/* IA32_FRED_CONFIG[63:12] is the ring-3 entry point, 4 KiB aligned; events from ring 0 enter
 * 256 bytes further (FRED specification §5.1.1). */
        .pushsection .rodata.fred_gap, "a"
        .balign 8
        .globl fred_gap_entry
fred_gap_entry:
        .popsection

        .balign 4096
        .globl asm_fred_entrypoint_user
asm_fred_entrypoint_user:
        PUSH_REGS gap=2
        FRED_GAP movq %rsp, %rdi
        FRED_GAP call fred_entry_from_user

        .pushsection .rodata.fred_gap, "a"
        .globl fred_gap_exit
fred_gap_exit:
        .popsection

        .globl asm_fred_exit_user
asm_fred_exit_user:
        POP_REGS gap=2
        .globl asm_fred_eretu
asm_fred_eretu:
        FRED_GAP ERETU

        .pushsection .rodata.fred_gap, "a"
        .globl fred_gap_end
fred_gap_end:
        .popsection

        .org    asm_fred_entrypoint_user + 256, 0xcc
        .globl asm_fred_entrypoint_kernel
asm_fred_entrypoint_kernel:
        PUSH_REGS
        movq    %rsp, %rdi
        call    fred_entry_from_kernel
        testl   %eax, %eax
        jnz     1f
        POP_REGS
        .globl asm_fred_erets
asm_fred_erets:
        ERETS
/* fred_entry_from_kernel returned 1: a failed ERETU became a fault of the user program, whose
 * handler's frame deliver_fault left at the top of the kernel stack (kernel.c top_regs()). */
1:      movq    %gs:PERCPU_TOP, %rsp
        subq    $(PTREGS_SIZE + 16), %rsp
        jmp     asm_fred_exit_user

/* ------------------------------------------------- running a user program -- */
/* u64 run_user_regs(struct pt_regs *top): leave for user mode through the IRET exit with the
 * frame at the top of the kernel stack (ERETU under FRED); returns the code the program passes
 * to exit(). */
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
        cmpb    $0, k_fred(%rip)
        jne     fred_start_user
        jmp     swapgs_restore_regs_and_return_to_usermode

/* A program's first entry to user mode under FRED: the exit's two steps, outside the gap table
 * (gap.c counts the exit's instructions executed for the system call alone). */
fred_start_user:
        POP_REGS
        ERETU

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

        .pushsection .rodata.xenpv_patch, "a"
        .globl xenpv_patch_end
xenpv_patch_end:
        .popsection

        .section .note.GNU-stack, "", @progbits
