/* Gates for ist/main.c's nesting case: VEC_OUTER and VEC_INNER both use IST1.  The
 * outer handler saves its frame, raises VEC_INNER (delivered at the top of IST1 again,
 * over the outer frame), records what its frame slot holds afterwards, puts the saved
 * frame back and returns. */
#include "ringside.h"

#define VEC_INNER 0x88      /* as in main.c */

        .text
        .code64
        .globl nest_outer, nest_inner, nest_after_inner
nest_outer:
        mov     %rsp, nest_outer_rsp(%rip)
        mov     %rax, nest_save_rax(%rip)
        .irp i, 0, 8, 16, 24, 32
        mov     \i(%rsp), %rax
        mov     %rax, nest_frame_copy+\i(%rip)
        .endr
        int     $VEC_INNER
nest_after_inner:
        mov     (%rsp), %rax
        mov     %rax, nest_slot_rip(%rip)
        .irp i, 0, 8, 16, 24, 32
        mov     nest_frame_copy+\i(%rip), %rax
        mov     %rax, \i(%rsp)
        .endr
        mov     nest_save_rax(%rip), %rax
        iretq

nest_inner:
        mov     %rsp, nest_inner_rsp(%rip)
        iretq

        .data
        .balign 8
nest_save_rax:   .quad 0
nest_frame_copy: .fill 5, 8, 0

        .section .note.GNU-stack, "", @progbits
