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

/* enter_user(fn, user_stack_top): IRET to fn at CPL 3 on the given stack.  The
 * user code comes back with INT $0x80 (a DPL-3 gate), whose stub returns from
 * enter_user on the kernel stack. */
        .globl enter_user
enter_user:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     %esp, kernel_esp
        mov     20(%esp), %eax                  /* fn */
        mov     24(%esp), %ecx                  /* user stack top */
        push    $0x23                           /* SS: user data, RPL 3 */
        push    %ecx                            /* ESP */
        pushf
        push    $0x1b                           /* CS: user code, RPL 3 */
        push    %eax                            /* EIP */
        mov     $0x23, %dx
        mov     %dx, %ds
        mov     %dx, %es
        iret

        .globl stub_0x80
stub_0x80:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     kernel_esp, %esp
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

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
kernel_esp:
        .skip   4
        .balign 16
stack:
        .skip   16384
stack_top:
