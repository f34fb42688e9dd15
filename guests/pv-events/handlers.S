/*
 * pv-events' own callbacks. Xen's bounce frame is [%rcx, %r11, %rip, %cs, %rflags, %rsp,
 * %ss]; each handler records the frame's %rip, %cs and %rflags and the live upcall mask,
 * and returns with HYPERVISOR_iret (flags 0), which restores the upcall mask from the
 * frame's IF and ends the NMI's masking (async_exception_cleanup).
 *
 * The NMI handler, the first time, asks for another NMI (VCPUOP_send_nmi) from inside the
 * handler: Xen must hold it until the HYPERVISOR_iret.
 */
#include "ringside-pv.h"

        .text
        .globl  nmi_entry
nmi_entry:
        pop     %rcx
        pop     %r11
        push    %rax
        push    %rdi
        push    %rsi
        push    %rdx
        mov     32(%rsp), %rax
        mov     %rax, nmi_rip(%rip)
        mov     40(%rsp), %rax
        mov     %rax, nmi_cs(%rip)
        mov     48(%rsp), %rax
        mov     %rax, nmi_rflags(%rip)
        movzbl  pv_shared_info + 1(%rip), %eax
        mov     %rax, nmi_live_mask(%rip)
        incq    nmi_count(%rip)
        cmpq    $1, nmi_count(%rip)
        jne     1f
        mov     $11, %edi               /* VCPUOP_send_nmi */
        xor     %esi, %esi              /* vCPU 0 */
        xor     %edx, %edx              /* NULL */
        call    hypercall_page + 24 * 32
        mov     %rax, nmi_inner_rc(%rip)
        mov     nmi_count(%rip), %rax
        mov     %rax, nmi_count_after_inner(%rip)
1:      pop     %rdx
        pop     %rsi
        pop     %rdi
        pop     %rax
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .globl  event_entry
event_entry:
        pop     %rcx
        pop     %r11
        push    %rax
        mov     8(%rsp), %rax
        mov     %rax, ev_rip(%rip)
        mov     16(%rsp), %rax
        mov     %rax, ev_cs(%rip)
        mov     24(%rsp), %rax
        mov     %rax, ev_rflags(%rip)
        movzbl  pv_shared_info + 1(%rip), %eax
        mov     %rax, ev_live_mask(%rip)
        movb    $0, pv_shared_info(%rip)        /* evtchn_upcall_pending = 0 */
        incq    ev_count(%rip)
        pop     %rax
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .data
        .balign 8
        .globl  nmi_rip, nmi_cs, nmi_rflags, nmi_live_mask, nmi_count, nmi_inner_rc, nmi_count_after_inner
        .globl  ev_rip, ev_cs, ev_rflags, ev_live_mask, ev_count
nmi_rip:        .quad 0
nmi_cs:         .quad 0
nmi_rflags:     .quad 0
nmi_live_mask:  .quad 0
nmi_count:      .quad 0
nmi_inner_rc:   .quad 0
nmi_count_after_inner: .quad 0
ev_rip:         .quad 0
ev_cs:          .quad 0
ev_rflags:      .quad 0
ev_live_mask:   .quad 0
ev_count:       .quad 0
