/*
 * pv-debug's own #DB handler (trap-table vector 1): Xen's bounce frame is
 * [%rcx, %r11, %rip, %cs, %rflags, %rsp, %ss]; the handler records the frame's %rip,
 * %cs and %rflags, clears TF in the frame so the return does not step again, and returns
 * with HYPERVISOR_iret (flags 0: %rcx and %r11 come back from the frame's slots, which
 * the hypercall page's iret stub pushes again), as Linux's xen_iret does.
 */
#include "ringside-pv.h"

        .text
        .globl  db_entry
db_entry:
        pop     %rcx
        pop     %r11
        push    %rax
        mov     8(%rsp), %rax
        mov     %rax, db_rip(%rip)
        mov     16(%rsp), %rax
        mov     %rax, db_cs(%rip)
        mov     24(%rsp), %rax
        mov     %rax, db_rflags(%rip)
        andq    $~0x100, 24(%rsp)
        incq    db_count(%rip)
        pop     %rax
        pushq   $0
        jmp     hypercall_page + 23 * 32

        .data
        .balign 8
        .globl  db_rip, db_cs, db_rflags, db_count
db_rip:    .quad 0
db_cs:     .quad 0
db_rflags: .quad 0
db_count:  .quad 0
