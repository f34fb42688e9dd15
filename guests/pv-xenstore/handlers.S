/*
 * The event callback of pv-xenstore (as pv-console's): Xen's bounce frame is [%rcx, %r11,
 * %rip, %cs, %rflags, %rsp, %ss]; the handler acknowledges the upcall (vcpu_info's
 * evtchn_upcall_pending and evtchn_pending_sel), counts it and returns with
 * HYPERVISOR_iret (flags 0). The ports' pending bits are the C code's to clear.
 */
#include "ringside-pv.h"

        .text
        .globl  ev_entry
ev_entry:
        pop     %rcx
        pop     %r11
        movb    $0, pv_shared_info(%rip)        /* evtchn_upcall_pending = 0 */
        movq    $0, pv_shared_info + 8(%rip)    /* evtchn_pending_sel = 0 */
        incq    ev_count(%rip)
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .data
        .balign 8
        .globl  ev_count
ev_count:       .quad 0
