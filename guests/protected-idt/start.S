/*
 * protected-idt: multiboot header, entry, exception stubs and the ring-3
 * round trip of a 32-bit protected-mode kernel (see main.c).
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
 * PUSHA; trap_dispatch(frame) may change the saved EIP (fixups). */
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
        STUB 1, 0
        STUB 3, 0
        STUB 4, 0
        STUB 5, 0
        STUB 6, 0
        STUB 7, 0
        STUB 8, 1
        STUB 10, 1
        STUB 11, 1
        STUB 12, 1
        STUB 13, 1
        STUB 14, 1
        STUB 17, 1
        STUB 0x81, 0
        STUB 0x82, 0

stub_common:
        pusha
        mov     %esp, %eax
        push    %eax
        call    trap_dispatch
        add     $4, %esp
        popa
        add     $8, %esp
        iret

/* enter_user(fn, user_stack_top): IRET to fn at CPL 3 on the given stack.
 * The user code comes back with INT $0x80 (a DPL-3 interrupt gate), whose stub
 * records the frame and returns from enter_user on the kernel stack. */
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
        push    $0
        push    $0x80
        pusha
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %esp, %eax
        push    %eax
        call    trap_record
        mov     kernel_esp, %esp
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

        .bss
        .balign 16
kernel_esp:
        .skip   4
        .balign 16
stack:
        .skip   16384
stack_top:
