/*
 * The PV kernel's image head: the Xen ELF notes the Xen Test Framework's PV64 images
 * carry (arch/x86/pv/head.S there), the hypercall page the domain builder fills, and
 * the entry point.
 *
 * No ENTRY or VIRT_BASE note: Xen's libelf then takes e_entry and a virtual base of 0,
 * so the image's 1 MiB link address is pseudo-physical frame 256 and every frame n of
 * the initial mapping is at virtual n << 12.  The builder enters _start in ring 3 with
 * %rsi = start_info and %rsp at the top of its bootstrap stack page
 * (xen/arch/x86/pv/dom0_build.c: dom0_construct_pv, "Initial register values").
 */
#include "ringside-pv.h"

.macro NOTE type, desc:vararg
        .pushsection .note.Xen, "a", @note
        .balign 4
        .long 2f - 1f, 4f - 3f, \type
1:      .asciz "Xen"
2:      .balign 4
3:      \desc
4:      .balign 4
        .popsection
.endm

        NOTE 6,  .asciz "Ringside"                      /* XEN_ELFNOTE_GUEST_OS */
        NOTE 7,  .asciz "0"                             /* XEN_ELFNOTE_GUEST_VERSION */
        NOTE 8,  .asciz "generic"                       /* XEN_ELFNOTE_LOADER */
        NOTE 2,  .quad hypercall_page                   /* XEN_ELFNOTE_HYPERCALL_PAGE */
        NOTE 5,  .asciz "xen-3.0"                       /* XEN_ELFNOTE_XEN_VERSION */
        NOTE 10, .asciz "!writable_page_tables|pae_pgdir_above_4gb" /* XEN_ELFNOTE_FEATURES */
        NOTE 9,  .asciz "yes"                           /* XEN_ELFNOTE_PAE_MODE */

        /* Filled with RET until the builder writes the stubs (pv_main checks it did). */
        .section .text.hypercall, "ax"
        .balign 4096
        .globl hypercall_page
hypercall_page:
        .fill 4096, 1, 0xc3

        .section .text.head, "ax"
        .globl _start
_start:
        /* Everything as the builder left it, before anything changes it. */
        mov     %rax, pv_entry + 0(%rip)
        mov     %rbx, pv_entry + 8(%rip)
        mov     %rcx, pv_entry + 16(%rip)
        mov     %rdx, pv_entry + 24(%rip)
        mov     %rsi, pv_entry + 32(%rip)
        mov     %rdi, pv_entry + 40(%rip)
        mov     %rbp, pv_entry + 48(%rip)
        mov     %rsp, pv_entry + 56(%rip)
        mov     %r8,  pv_entry + 64(%rip)
        mov     %r9,  pv_entry + 72(%rip)
        mov     %r10, pv_entry + 80(%rip)
        mov     %r11, pv_entry + 88(%rip)
        mov     %r12, pv_entry + 96(%rip)
        mov     %r13, pv_entry + 104(%rip)
        mov     %r14, pv_entry + 112(%rip)
        mov     %r15, pv_entry + 120(%rip)
        lea     pv_boot_stack + PV_STACK_SIZE(%rip), %rsp
        pushfq
        popq    pv_entry + 128(%rip)
        xor     %eax, %eax
        mov     %cs, %ax
        mov     %rax, pv_entry + 136(%rip)
        mov     %ss, %ax
        mov     %rax, pv_entry + 144(%rip)
        mov     %ds, %ax
        mov     %rax, pv_entry + 152(%rip)
        mov     %es, %ax
        mov     %rax, pv_entry + 160(%rip)
        mov     %fs, %ax
        mov     %rax, pv_entry + 168(%rip)
        mov     %gs, %ax
        mov     %rax, pv_entry + 176(%rip)
        mov     %rsi, pv_start_info(%rip)
        call    pv_main
        ud2

        .bss
        .balign 4096
        .globl pv_boot_stack
pv_boot_stack:
        .skip PV_STACK_SIZE
