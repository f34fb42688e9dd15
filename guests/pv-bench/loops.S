/*
 * pv-bench's two loops, in assembly so that each round trip is the transitions and as few
 * instructions around them as a PV kernel can have.
 *
 * pvb_user_loop (guest user mode, through pv_exec_user): n times `mov $39, %eax; syscall`
 * (getpid's number; the count in %rdx, which neither Xen nor the callback touches).
 *
 * pvb_syscall_entry (CALLBACKTYPE_syscall, events masked): Xen SYSRETs here with the bounce
 * frame [rcx, r11, rip, cs, rflags, rsp, ss] at %rsp (create_bounce_frame). A frame whose
 * return RIP (its RIP word) is not the loop's (pv_exec_user's own way back) goes on to the library's
 * entry, which expects the same frame. Otherwise the kernel counts the call, returns
 * pvb_pid in %rax, replaces the frame's rcx/r11 words by the flags word VGCF_in_syscall
 * ("Restore RAX, RIP, RFLAGS, RSP. Discard R11, RCX, CS, SS": Xen leaves by SYSRET) and
 * jumps to the hypercall page's HYPERVISOR_iret slot, which pushes %rcx, %r11 and %rax to
 * complete the struct iret_context (public/arch-x86/xen-x86_64.h).
 *
 * pvb_hypercalls (guest kernel mode): n times HYPERVISOR_xen_version(XENVER_version, NULL)
 * through the hypercall page (`mov $17, %eax; syscall; ret` there); the last result.
 */
#include "ringside-pv.h"

#define HYPERCALL(n) (hypercall_page + (n) * 32)

        .text
/* u64 pvb_user_loop(u64 n): the last %rax the kernel returned (0 when n is 0). */
        .globl pvb_user_loop
pvb_user_loop:
        xor     %eax, %eax
        mov     %rdi, %rdx
        test    %rdx, %rdx
        jz      2f
1:      mov     $39, %eax
        syscall
pvb_user_site:
        dec     %rdx
        jnz     1b
2:      ret

        .balign 64
        .globl pvb_syscall_entry
pvb_syscall_entry:
        lea     pvb_user_site(%rip), %rcx
        cmp     %rcx, 16(%rsp)                  /* the frame's RIP (its %rcx word is the user's own %rcx under FRED without c5a4b9125b) */
        jne     pv_syscall_entry
        incq    pvb_count(%rip)
        mov     pvb_pid(%rip), %rax
        add     $16, %rsp
        pushq   $VGCF_in_syscall
        jmp     HYPERCALL(__HYPERVISOR_iret)

/* u64 pvb_hypercalls(u64 n): the last result (0 when n is 0). */
        .globl pvb_hypercalls
pvb_hypercalls:
        push    %rbx
        xor     %eax, %eax
        mov     %rdi, %rbx
        test    %rbx, %rbx
        jz      2f
1:      xor     %edi, %edi              /* XENVER_version */
        xor     %esi, %esi
        call    HYPERCALL(__HYPERVISOR_xen_version)
        dec     %rbx
        jnz     1b
2:      pop     %rbx
        ret

/* u64 pvb_events(u64 n, u32 *port): n times EVTCHNOP_send on an IPI channel
 * bound to this vCPU, events unmasked; each send comes back through pvb_upcall_entry before
 * the next. Returns the upcalls counted. */
        .globl pvb_events
pvb_events:
        push    %rbx
        push    %r12
        mov     %rdi, %rbx
        mov     %rsi, %r12
        test    %rbx, %rbx
        jz      2f
1:      mov     $4, %edi                /* EVTCHNOP_send */
        mov     %r12, %rsi
        call    HYPERCALL(__HYPERVISOR_event_channel_op)
        dec     %rbx
        jnz     1b
2:      mov     pvb_upcalls(%rip), %rax
        pop     %r12
        pop     %rbx
        ret

/* The event callback for pvb_events (bounce frame [rcx, r11, rip, cs, rflags, rsp, ss],
 * events masked): what a Linux-style handler does for one port — upcall_pending cleared,
 * the selector taken, the port's pending bit cleared (evtchn_2l_set_pending raises the
 * selector and the upcall only when the bit goes from 0 to 1) — then HYPERVISOR_iret with
 * flags 0, whose IF restores the upcall mask to 0. */
        .balign 64
        .globl pvb_upcall_entry
pvb_upcall_entry:
        pop     %rcx
        pop     %r11
        push    %rax
        movb    $0, pv_shared_info(%rip)                /* vcpu_info[0].evtchn_upcall_pending */
        xor     %eax, %eax
        xchg    %rax, pv_shared_info + 8(%rip)          /* evtchn_pending_sel */
        mov     pvb_port(%rip), %eax
        lock btr %rax, pv_shared_info + 0x800(%rip)     /* evtchn_pending[] */
        incq    pvb_upcalls(%rip)
        pop     %rax
        pushq   $0
        jmp     HYPERCALL(__HYPERVISOR_iret)

        /* In .bss, which starts on a page of its own: the kernel's store to pvb_count never
         * lands in a page of code (a store there would drop the page's decoded
         * instructions, as self-modifying code does, and the figure would measure that). */
        .bss
        .balign 8
        .globl pvb_count, pvb_pid, pvb_upcalls, pvb_port
pvb_count:      .quad 0
pvb_pid:        .quad 0
pvb_upcalls:    .quad 0
pvb_port:       .quad 0
