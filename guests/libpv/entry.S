/*
 * Entry and exit of the PV kernel's event handlers, and user mode.
 *
 * Xen delivers an exception, a software interrupt, the syscall callback and the event
 * and failsafe callbacks by writing a bounce frame on the guest kernel's stack
 * (xen/arch/x86/x86_64/entry.S: create_bounce_frame) and SYSRETing to the handler, so
 * the handler starts with %rcx = its own address and %r11 = its RFLAGS, and the frame
 *     [%rcx, %r11, (error code), %rip, %cs | saved upcall mask << 32, %rflags, %rsp, %ss]
 * holds the interrupted %rcx/%r11 first (the Xen Test Framework's entry_64.S: "Xen will
 * typically SYSRET to the entry point; they should be restored promptly").
 *
 * Each of the 256 stubs (64 bytes apart from pv_entry_stubs) notes %rcx, %r11 and %rsp
 * as it found them, pops %rcx/%r11, pushes a zero error code where Xen wrote none and
 * its vector, and joins pv_common: all GPRs are saved as struct pv_frame and
 * pv_dispatch() decides; it leaves the HYPERVISOR_iret flags word in the frame's error
 * code slot, which after the GPRs and the vector are popped is the top of the
 * iret_context the hypercall page's slot 23 completes (public/arch-x86/xen-x86_64.h,
 * struct iret_context: the guest pushes ss, rsp, rflags, cs, rip, flags and jumps).
 * The syscall callback's entry is also pv_exec_user's way back: a `syscall` at
 * pv_user_exit (the user stub's, after fn returned) returns from pv_exec_user.
 */
#include "ringside-pv.h"

#define HYPERCALL_iret (hypercall_page + __HYPERVISOR_iret * 32)
/* Vectors for which Xen writes an error code (X86_EXC_HAVE_EC). */
#define HAVE_EC ((1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | \
                 (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30))

.macro NOTE_LIVE
        mov     %rcx, pv_live_rcx(%rip)
        mov     %r11, pv_live_r11(%rip)
        mov     %rsp, pv_live_rsp(%rip)
.endm

.macro STUB vec
        .balign 64
        NOTE_LIVE
        pop     %rcx
        pop     %r11
        .if \vec >= 32 || !((1 << \vec) & HAVE_EC)
        push    $0
        .endif
        pushq   $\vec
        jmp     pv_common
.endm

        .text
        .balign 64
        .globl pv_entry_stubs
pv_entry_stubs:
        .altmacro
        .set vec, 0
        .rept 256
        STUB %vec
        .set vec, vec + 1
        .endr
        .noaltmacro

pv_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, %rdi
        call    pv_dispatch
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $8, %rsp                /* the vector; the error code slot holds the flags */
        jmp     HYPERCALL_iret

        /* CALLBACKTYPE_syscall: a 64-bit user `syscall`; the frame has no error code.
         * The frame's RIP slot is the user's return address: pv_user_exit's is
         * pv_exec_user's way back, with fn's result still in %rax.  (Not the %rcx slot:
         * Xen in FRED mode without c5a4b9125b leaves the user's own %rcx there.) */
        .balign 64
        .globl pv_syscall_entry
pv_syscall_entry:
        NOTE_LIVE
        lea     pv_user_exit(%rip), %rcx
        cmp     %rcx, 16(%rsp)
        je      1f
        pop     %rcx
        pop     %r11
        push    $0
        pushq   $VEC_SYSCALL
        jmp     pv_common
1:      mov     pv_user_return_rsp(%rip), %rsp
        ret

        /* CALLBACKTYPE_event: the library runs with events masked; an upcall is a bug. */
        .balign 64
        .globl pv_event_entry
pv_event_entry:
        NOTE_LIVE
        pop     %rcx
        pop     %r11
        push    $0
        pushq   $0x200
        jmp     pv_common

        /* CALLBACKTYPE_failsafe: Xen could not load a data selector (domain.c: load_segments). */
        .balign 64
        .globl pv_failsafe_entry
pv_failsafe_entry:
        NOTE_LIVE
        call    pv_failsafe

/* u64 pv_exec_user(u64 (*fn)(u64), u64 arg) */
        .globl pv_exec_user
pv_exec_user:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        lea     1f(%rip), %rax
        push    %rax                    /* where the syscall from pv_user_exit returns */
        mov     %rsp, pv_user_return_rsp(%rip)
        pushq   $FLAT_USER_SS
        lea     pv_user_stack + PV_STACK_SIZE(%rip), %rax
        push    %rax
        pushq   pv_user_rflags(%rip)
        pushq   $FLAT_USER_CS           /* RPL 3: to user mode */
        lea     pv_user_stub(%rip), %rax
        push    %rax
        pushq   $0                      /* flags: a plain IRET */
        jmp     HYPERCALL_iret
1:      pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

/* User mode: fn(arg), then back to the kernel with the result in %rax.  (Not with
 * INT n: QEMU 7.2 TCG's #GP error code for an INT n through a DPL-0 gate names vector
 * 2n, test/qemu-deviations.ts, so Xen's software-interrupt emulation would look up the
 * wrong trap-table entry under the oracle.) */
pv_user_stub:
        xchg    %rdi, %rsi
        call    *%rsi
        syscall
pv_user_exit:
        ud2

        .data
        .balign 8
        .globl pv_live_rcx, pv_live_r11, pv_live_rsp, pv_user_rflags
pv_live_rcx:    .quad 0
pv_live_r11:    .quad 0
pv_live_rsp:    .quad 0
pv_user_return_rsp: .quad 0
pv_user_rflags: .quad 0x2
