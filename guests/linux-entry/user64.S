/*
 * linux-entry: the user programs' assembler (CPL 3): the exit stub, setjmp/longjmp for the
 * fault handler, the probes whose register state C cannot control (SYSCALL with chosen RCX,
 * R11 and RFLAGS; the single-step sequences), the 32-bit code (compatibility mode, entered
 * with a far CALL through __USER32_CS and left with a far RET), and the vsyscall stub whose
 * landing pad the kernel returns to after SYSENTER or compat SYSCALL (Linux's
 * arch/x86/entry/vdso/vdso32/system_call.S convention: ECX, EDX, EBP pushed; SYSENTER with
 * ESP in EBP, SYSCALL with ECX in EBP; INT $0x80 behind them; the landing pad pops them).
 */
#include "linux.h"

        .text
        .code64

        .globl user_exit_stub
user_exit_stub:
        movq    %rax, %rdi
        movl    $NR_exit, %eax
        syscall
        ud2

/* int usetjmp(struct ujmp *j) / void ulongjmp(struct ujmp *j): rbx rbp r12-r15 rsp rip. */
        .globl usetjmp
usetjmp:
        movq    %rbx, 0(%rdi)
        movq    %rbp, 8(%rdi)
        movq    %r12, 16(%rdi)
        movq    %r13, 24(%rdi)
        movq    %r14, 32(%rdi)
        movq    %r15, 40(%rdi)
        leaq    8(%rsp), %rax
        movq    %rax, 48(%rdi)
        movq    (%rsp), %rax
        movq    %rax, 56(%rdi)
        xorl    %eax, %eax
        ret

        .globl ulongjmp
ulongjmp:
        movq    0(%rdi), %rbx
        movq    8(%rdi), %rbp
        movq    16(%rdi), %r12
        movq    24(%rdi), %r13
        movq    32(%rdi), %r14
        movq    40(%rdi), %r15
        movq    48(%rdi), %rsp
        movl    $1, %eax
        jmpq    *56(%rdi)

/*
 * void probe_syscall(struct probe *p): every GPR from p->in[] (rax = number; rsp kept),
 * RFLAGS from p->flags_in (POPFQ: IF stays as it is at CPL 3 with IOPL 0), SYSCALL, then
 * every GPR into p->out[] and RFLAGS into p->flags_out.  Order in[]/out[]: rax rbx rcx rdx rsi
 * rdi rbp r8 r9 r10 r11 r12 r13 r14 r15.  probe_syscall_ret is the instruction after SYSCALL.
 */
        .globl probe_syscall, probe_syscall_ret
probe_syscall:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rdi
        movq    %rdi, %rax
        pushq   120(%rax)                       /* flags_in */
        movq    8(%rax), %rbx
        movq    16(%rax), %rcx
        movq    24(%rax), %rdx
        movq    32(%rax), %rsi
        movq    40(%rax), %rdi
        movq    48(%rax), %rbp
        movq    56(%rax), %r8
        movq    64(%rax), %r9
        movq    72(%rax), %r10
        movq    80(%rax), %r11
        movq    88(%rax), %r12
        movq    96(%rax), %r13
        movq    104(%rax), %r14
        movq    112(%rax), %r15
        movq    0(%rax), %rax
        popfq
        syscall
probe_syscall_ret:
        pushfq
        pushq   %rax
        movq    16(%rsp), %rax                  /* struct probe * */
        popq    128(%rax)                       /* out[0] = rax */
        popq    248(%rax)                       /* flags_out */
        movq    %rbx, 136(%rax)
        movq    %rcx, 144(%rax)
        movq    %rdx, 152(%rax)
        movq    %rsi, 160(%rax)
        movq    %rdi, 168(%rax)
        movq    %rbp, 176(%rax)
        movq    %r8, 184(%rax)
        movq    %r9, 192(%rax)
        movq    %r10, 200(%rax)
        movq    %r11, 208(%rax)
        movq    %r12, 216(%rax)
        movq    %r13, 224(%rax)
        movq    %r14, 232(%rax)
        movq    %r15, 240(%rax)
        pushq   $X86_EFLAGS_FIXED | X86_EFLAGS_IF
        popfq
        popq    %rdi
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/*
 * void gap_probe(void): one getpid SYSCALL for the syscall-gap runs (gap.c), with every other
 * register holding IRQ_PATTERN(k) (k in probe order: rax rbx rcx rdx rsi rdi rbp r8-r15) and the
 * 128 bytes below RSP -- the x86-64 ABI's red zone, which a leaf may use without moving RSP,
 * and where a frame pushed at CPL 0 without a stack switch would land -- filled with
 * GAP_REDZONE_PATTERN.  Results go to gap_out[] (linux.h) through RIP-relative stores, so
 * nothing touches the stack between the fill and the count.
 */
        .set gap_k, 0                           /* gap_k_REG: REG's index in probe order */
        .irp r, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
        .set gap_k_\r, gap_k
        .set gap_k, gap_k + 1
        .endr

        .globl gap_probe, gap_probe_ret
gap_probe:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, gap_out+8*GAP_OUT_RSP_IN(%rip)
        movabsq $GAP_REDZONE_PATTERN, %rax
        xorl    %ecx, %ecx
1:      movq    %rax, -8*GAP_REDZONE_QWORDS(%rsp,%rcx,8)
        incl    %ecx
        cmpl    $GAP_REDZONE_QWORDS, %ecx
        jb      1b
        .irp r, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
        movabsq $IRQ_PATTERN(gap_k_\r), %\r
        .endr
        movl    $NR_getpid, %eax
        syscall
gap_probe_ret:
        .irp r, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
        movq    %\r, gap_out+8*gap_k_\r(%rip)
        .endr
        movq    %rsp, gap_out+8*GAP_OUT_RSP(%rip)
        movabsq $GAP_REDZONE_PATTERN, %rax
        xorl    %ecx, %ecx
        xorl    %edx, %edx
1:      cmpq    %rax, -8*GAP_REDZONE_QWORDS(%rsp,%rcx,8)
        jne     2f
        incl    %edx
2:      incl    %ecx
        cmpl    $GAP_REDZONE_QWORDS, %ecx
        jb      1b
        movq    %rdx, gap_out+8*GAP_OUT_REDZONE(%rip)
        movq    %gs:0, %rax
        movq    %rax, gap_out+8*GAP_OUT_GS(%rip)
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/* u64 probe_int80_64(u64 poison): INT $0x80 (compat getpid) from 64-bit code with r8-r15 =
 * poison + k; returns the number of those registers that came back unchanged (0..8) << 32 |
 * eax. */
        .globl probe_int80_64
probe_int80_64:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        leaq    0(%rdi), %r8
        leaq    1(%rdi), %r9
        leaq    2(%rdi), %r10
        leaq    3(%rdi), %r11
        leaq    4(%rdi), %r12
        leaq    5(%rdi), %r13
        leaq    6(%rdi), %r14
        leaq    7(%rdi), %r15
        movl    $NR32_getpid, %eax
        int     $0x80
        movl    %eax, %eax
        xorl    %esi, %esi
        .irp n, 8, 9, 10, 11, 12, 13, 14, 15
        leaq    \n-8(%rdi), %rdx
        cmpq    %rdx, %r\n
        jne     1f
        incl    %esi
1:
        .endr
        shlq    $32, %rsi
        orq     %rsi, %rax
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/*
 * Single-step sequences: TF set by POPFQ (not trapped: SDM Vol. 3B §18.3.1.4), then the
 * system call, two NOPs, and a POPFQ clearing TF (trapped once more).  Labels step_*_N mark
 * where traps may land.
 */
.macro STEP_SEQ name, nr, insn
        .globl step_\name, step_\name\()_1, step_\name\()_2, step_\name\()_3, step_\name\()_4
        .globl step_\name\()_5, step_\name\()_6, step_\name\()_7
step_\name:
        pushq   %rbx
        pushfq
        popq    %rbx
        pushfq
        orq     $X86_EFLAGS_TF, (%rsp)
        movabsq $STEP_RCX_SENTINEL, %rcx        /* what FRED's SYSCALL leaves alone */
        movabsq $STEP_R11_SENTINEL, %r11
        movl    $\nr, %eax
        popfq
step_\name\()_1:
        nop
step_\name\()_2:
        \insn
step_\name\()_3:
        movq    %rcx, step_rcx(%rip)
step_\name\()_4:
        movq    %r11, step_r11(%rip)
step_\name\()_5:
        pushq   %rbx
step_\name\()_6:
        popfq
step_\name\()_7:
        nop
        popq    %rbx
        ret
.endm

        STEP_SEQ syscall, NR_getpid, syscall
        STEP_SEQ int80, NR32_getpid, "int $0x80"

/* void flags_syscall(u64 set, u64 *after): RFLAGS |= set, getpid by SYSCALL, RFLAGS out, then
 * RFLAGS restored (syscall_nt). */
        .globl flags_syscall
flags_syscall:
        pushq   %rbx
        pushfq
        popq    %rbx
        pushfq
        orq     %rdi, (%rsp)
        movl    $NR_getpid, %eax
        movq    %rsi, %rdx
        popfq
        syscall
        pushfq
        popq    (%rdx)
        pushq   %rbx
        popfq
        popq    %rbx
        ret

/* u64 user_iret_self(void): IRETQ from CPL 3 to CPL 3, which reloads SS from the GDT (SDM
 * IRET "Operation", IA-32e mode: RSP and SS are popped).  Returns SS. */
        .globl user_iret_self
user_iret_self:
        movq    %rsp, %rax
        pushq   $__USER_DS
        pushq   %rax
        pushfq
        pushq   $__USER_CS
        pushq   $1f
        iretq
1:      movl    %ss, %eax
        ret

/* u64 bench_getpid(u64 n): n getpid round trips by SYSCALL. */
        .globl bench_getpid
bench_getpid:
        movq    %rdi, %rdx
        testq   %rdx, %rdx
        jz      2f
1:      movl    $NR_getpid, %eax
        syscall
        decq    %rdx
        jnz     1b
2:      ret

/* void irq_spin(struct irq_spin *s): spin until *s->ticks reaches s->target, three
 * instructions an iteration (counted in RCX), with every other general register but RSP
 * holding IRQ_PATTERN(k) -- or, for RSI and RDI, the loop's operands -- so that any register
 * an interrupt's entry or exit failed to restore shows in s->out. */
        .globl irq_spin
irq_spin:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rdi
        movq    IRQ_SPIN_TARGET(%rdi), %rsi
        movq    IRQ_SPIN_TICKS(%rdi), %rdi
        xorl    %ecx, %ecx
        movabsq $IRQ_PATTERN(0), %rax
        movabsq $IRQ_PATTERN(1), %rbx
        movabsq $IRQ_PATTERN(2), %rdx
        movabsq $IRQ_PATTERN(3), %rbp
        movabsq $IRQ_PATTERN(4), %r8
        movabsq $IRQ_PATTERN(5), %r9
        movabsq $IRQ_PATTERN(6), %r10
        movabsq $IRQ_PATTERN(7), %r11
        movabsq $IRQ_PATTERN(8), %r12
        movabsq $IRQ_PATTERN(9), %r13
        movabsq $IRQ_PATTERN(10), %r14
        movabsq $IRQ_PATTERN(11), %r15
1:      incq    %rcx
        cmpq    %rsi, (%rdi)
        jb      1b
        pushq   %rax
        movq    8(%rsp), %rax                   /* s */
        popq    IRQ_SPIN_OUT+0*8(%rax)
        movq    %rbx, IRQ_SPIN_OUT+1*8(%rax)
        movq    %rdx, IRQ_SPIN_OUT+2*8(%rax)
        movq    %rbp, IRQ_SPIN_OUT+3*8(%rax)
        movq    %r8, IRQ_SPIN_OUT+4*8(%rax)
        movq    %r9, IRQ_SPIN_OUT+5*8(%rax)
        movq    %r10, IRQ_SPIN_OUT+6*8(%rax)
        movq    %r11, IRQ_SPIN_OUT+7*8(%rax)
        movq    %r12, IRQ_SPIN_OUT+8*8(%rax)
        movq    %r13, IRQ_SPIN_OUT+9*8(%rax)
        movq    %r14, IRQ_SPIN_OUT+10*8(%rax)
        movq    %r15, IRQ_SPIN_OUT+11*8(%rax)
        movq    %rsi, IRQ_SPIN_OUT+12*8(%rax)
        movq    %rdi, IRQ_SPIN_OUT+13*8(%rax)
        movq    %rcx, IRQ_SPIN_ITERS(%rax)
        popq    %rdi
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/* u64 call32(u32 fn): far CALL to fn in compatibility mode (CS = __USER32_CS); fn ends with a
 * far RET.  Returns EAX.  DS and ES get __USER_DS first: a 64-bit program runs with null data
 * segments (IRET to CPL 3 nulls the kernel's: SDM IRET), which fault in compatibility mode. */
        .globl call32
call32:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movl    $__USER_DS, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %edi, call32_ptr(%rip)
        lcall   *call32_ptr(%rip)
        movl    %eax, %eax
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/* ----------------------------------------------------------- 32-bit code -- */
        .code32

/* The compat-mode stack test of sysret_ss_attrs: push and pop through SS. */
        .globl test_ss32
test_ss32:
        pushl   $0
        popl    %eax
        movl    $1, %eax
        lret

/* __kernel_vsyscall: SYSENTER or SYSCALL (by vsyscall_insn), INT $0x80 behind. */
        .globl vsyscall_sysenter
vsyscall_sysenter:
        pushl   %ecx
        pushl   %edx
        pushl   %ebp
        movl    %esp, %ebp
        sysenter
        jmp     vdso32_int80
        .globl vsyscall_syscall
vsyscall_syscall:
        pushl   %ecx
        pushl   %edx
        pushl   %ebp
        movl    %ecx, %ebp
        syscall
        .globl vdso32_int80
vdso32_int80:
        int     $0x80
        .globl vdso32_landing_pad
vdso32_landing_pad:
        popl    %ebp
        popl    %edx
        popl    %ecx
        ret

/* Each compat32_* probe: getpid through one entry with EBX, ESI, EDI, EBP (and ECX, EDX for the
 * vsyscall stub) = sentinels; records EAX, the sentinels as they came back and EFLAGS into
 * compat_out[], then far-returns with EAX = the number of sentinels unchanged. */
.macro COMPAT_PROBE name, call
        .globl compat32_\name
compat32_\name:
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        pushl   %ebp
        movl    $0x11111111, %ebx
        movl    $0x22222222, %ecx
        movl    $0x33333333, %edx
        movl    $0x44444444, %esi
        movl    $0x55555555, %edi
        movl    $0x66666666, %ebp
        movl    $NR32_getpid, %eax
        \call
        .globl compat32_\name\()_ret
compat32_\name\()_ret:
        movl    %eax, compat_out
        pushfl
        popl    compat_out + 4
        xorl    %eax, %eax
        cmpl    $0x11111111, %ebx
        jne     1f
        incl    %eax
1:      cmpl    $0x22222222, %ecx
        jne     1f
        incl    %eax
1:      cmpl    $0x33333333, %edx
        jne     1f
        incl    %eax
1:      cmpl    $0x44444444, %esi
        jne     1f
        incl    %eax
1:      cmpl    $0x55555555, %edi
        jne     1f
        incl    %eax
1:      cmpl    $0x66666666, %ebp
        jne     1f
        incl    %eax
1:      popl    %ebp
        popl    %edi
        popl    %esi
        popl    %ebx
        lret
.endm

        COMPAT_PROBE int80, "int $0x80"
        COMPAT_PROBE sysenter, "call vsyscall_sysenter"
        COMPAT_PROBE syscall, "call vsyscall_syscall"

/* Single-step across INT $0x80 and SYSENTER from compatibility mode. */
.macro STEP32_SEQ name, call
        .globl step32_\name, step32_\name\()_1, step32_\name\()_2, step32_\name\()_3, step32_\name\()_4, step32_\name\()_5
step32_\name:
        pushl   %ebx
        pushfl
        popl    %ebx
        pushfl
        orl     $X86_EFLAGS_TF, (%esp)
        movl    $NR32_getpid, %eax
        popfl
step32_\name\()_1:
        nop
step32_\name\()_2:
        \call
step32_\name\()_3:
        pushl   %ebx
step32_\name\()_4:
        popfl
step32_\name\()_5:
        nop
        popl    %ebx
        lret
.endm

        STEP32_SEQ int80, "int $0x80"
        STEP32_SEQ sysenter, "call vsyscall_sysenter"

        .code64

        .data
        .balign 8
call32_ptr:
        .long 0
        .word __USER32_CS
        .balign 8
        .globl compat_out
compat_out:
        .long 0, 0
        .globl step_rcx, step_r11
step_rcx:
        .quad 0
step_r11:
        .quad 0

/* The page mapped at 0x7ffffffff000 (sysret_rip): a SYSCALL in its last two bytes returns to
 * 0x800000000000, the first non-canonical address. */
        .section .data.highpage, "aw"
        .balign 4096
        .globl high_page
high_page:
        .fill 4094, 1, 0xcc
        syscall

        .section .note.GNU-stack, "", @progbits
