/*
 * pv-sysenter's own event entries: the sysenter callback's frame has RIP 0, CS 3 and
 * RSP 0, so neither it nor the #GP Xen raises without a callback can return to where
 * SYSENTER was; these entries record the frame as Xen wrote it and return to
 * sysenter_resume in user mode with HYPERVISOR_iret, on the stack the user code saved.
 */
#include "ringside-pv.h"

#define HYPERCALL_iret (hypercall_page + __HYPERVISOR_iret * 32)

.macro RECORD words
        mov     %rcx, se_live_rcx(%rip)
        mov     %r11, se_live_r11(%rip)
        mov     %rsp, se_live_rsp(%rip)
        movzbl  pv_shared_info + 1(%rip), %ecx          /* vcpu 0's evtchn_upcall_mask */
        mov     %rcx, se_live_mask(%rip)
        .set i, 0
        .rept \words
        mov     i * 8(%rsp), %rcx
        mov     %rcx, se_frame + i * 8(%rip)
        .set i, i + 1
        .endr
        incq    se_count(%rip)
.endm

/* The frame [flags, rip, cs, rflags, rsp, ss] for a plain IRET to se_resume (64-bit),
 * over the top six words of Xen's frame; %rcx and %r11 as Xen's frame held them. */
.macro RETURN_TO_USER
        mov     se_resume(%rip), %rcx
        mov     %rcx, 8(%rsp)
        movq    $FLAT_USER_CS, 16(%rsp)
        mov     se_user_rsp(%rip), %rcx
        mov     %rcx, 32(%rsp)
        movq    $0, (%rsp)
        mov     se_frame(%rip), %rcx
        mov     se_frame + 8(%rip), %r11
        jmp     HYPERCALL_iret
.endm

        .text
        /* CALLBACKTYPE_sysenter: [rcx, r11, rip, cs, rflags, rsp, ss]. */
        .globl se_callback
se_callback:
        RECORD 7
        add     $8, %rsp
        RETURN_TO_USER

        /* Trap-table entry 13 while a sysenter without a callback is tried:
         * [rcx, r11, error code, rip, cs, rflags, rsp, ss]. */
        .globl se_gp
se_gp:
        RECORD 8
        add     $16, %rsp
        RETURN_TO_USER

        .data
        .balign 8
        .globl se_live_rcx, se_live_r11, se_live_rsp, se_live_mask, se_frame, se_count, se_user_rsp, se_resume
se_live_rcx:    .quad 0
se_live_r11:    .quad 0
se_live_rsp:    .quad 0
se_live_mask:   .quad 0
se_frame:       .fill 8, 8, 0
se_count:       .quad 0
se_user_rsp:    .quad 0
se_resume:      .quad 0
