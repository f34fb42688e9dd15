/*
 * paging32: multiboot header, entry and exception stubs of a 32-bit
 * protected-mode kernel that turns on 32-bit and PAE paging (see main.c).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text.head, "ax"
        .code32
        .globl multiboot_entry
multiboot_entry:
        mov     $stack_top, %esp
        xor     %ebp, %ebp
        call    pm_main
1:      cli
        hlt
        jmp     1b

/* Stubs: a dummy error code where the CPU pushes none, then the vector, then
 * PUSHA; trap_dispatch(frame) moves the saved EIP to the fixup. */
        .text
.macro STUB vector, has_error
        .globl stub_\vector
stub_\vector:
        .if !\has_error
        push    $0
        .endif
        push    $\vector
        jmp     stub_common
.endm

        STUB 0, 0
        STUB 6, 0
        STUB 8, 1
        STUB 13, 1
        STUB 14, 1

stub_common:
        pusha
        mov     %esp, %eax
        push    %eax
        call    trap_dispatch
        add     $4, %esp
        popa
        add     $8, %esp
        iret

        .bss
        .balign 16
stack:
        .skip   16384
stack_top:
