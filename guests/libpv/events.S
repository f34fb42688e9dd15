/*
 * The library's event callback (pv_upcall_install in events.c). Xen's bounce frame is
 * [%rcx, %r11, %rip, %cs, %rflags, %rsp, %ss] with events masked; the handler counts the
 * upcall, takes the selector as Linux's xen_evtchn_do_upcall does (upcall_pending cleared,
 * then evtchn_pending_sel exchanged with 0) and returns with HYPERVISOR_iret (flags 0),
 * which restores the upcall mask from the frame's IF.
 */
#include "ringside-pv.h"

        .text
        .globl  pv_upcall_entry
pv_upcall_entry:
        pop     %rcx
        pop     %r11
        push    %rax
        movb    $0, pv_shared_info(%rip)        /* evtchn_upcall_pending = 0 */
        xor     %eax, %eax
        xchg    %rax, pv_shared_info + 8(%rip)  /* evtchn_pending_sel */
        or      %rax, pv_upcall_sel(%rip)
        incq    pv_upcall_count(%rip)
        pop     %rax
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .data
        .balign 8
        .globl  pv_upcall_count, pv_upcall_sel
pv_upcall_count: .quad 0
pv_upcall_sel:   .quad 0
