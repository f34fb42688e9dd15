/*
 * Multiboot (v1) header, entry, exception stubs and the ring-3 round trip of
 * the 32-bit guest library.
 *
 * Multiboot Specification 0.6.96 §3.1: the header is a 4-byte aligned
 * magic 0x1BADB002, flags and a checksum making the three sum to zero,
 * entirely inside the first 8192 bytes of the image (link.ld puts it first).
 * Flags bit 0 asks for page-aligned modules, bit 1 for the memory fields of
 * the information structure; bit 16 (the a.out kludge) is clear, so the
 * loader takes the layout from the ELF program headers.
 *
 * §3.2 machine state at entry: EAX = 0x2BADB002, EBX = physical address of
 * the multiboot information structure, 32-bit protected mode, paging off,
 * flat 4 GiB code and data segments, A20 on, EFLAGS.VM = EFLAGS.IF = 0.  ESP
 * is undefined, so the first thing to do is set up a stack; GDTR and IDTR are
 * undefined too, so nothing may reload a segment register or fault before
 * tables_init() (called by lib32_main).
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
        /* Keep the entry registers, then EFLAGS: MOV changes no flag, and
         * PUSHF needs the stack set up first. */
        mov     %eax, entry_eax
        mov     %ebx, entry_ebx
        mov     $stack_top, %esp
        pushf
        pop     entry_eflags
        xor     %ebp, %ebp
        call    lib32_main              /* does not return */
1:      cli
        hlt
        jmp     1b

/* Stubs: a dummy error code where the CPU pushes none (SDM Vol. 3A §6.13:
 * vectors 8, 10-14, 17, 21, 29 and 30 push one), then the vector, then PUSHA;
 * trap_dispatch(frame) may change the saved EIP (fixups). */
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
        STUB 2, 0
        STUB 3, 0
        STUB 4, 0
        STUB 5, 0
        STUB 6, 0
        STUB 7, 0
        STUB 8, 1
        STUB 9, 0
        STUB 10, 1
        STUB 11, 1
        STUB 12, 1
        STUB 13, 1
        STUB 14, 1
        STUB 15, 0
        STUB 16, 0
        STUB 17, 1
        STUB 18, 0
        STUB 19, 0
        STUB 20, 0
        STUB 21, 1
        STUB 22, 0
        STUB 23, 0
        STUB 24, 0
        STUB 25, 0
        STUB 26, 0
        STUB 27, 0
        STUB 28, 0
        STUB 29, 1
        STUB 30, 1
        STUB 31, 0
        STUB 0x81, 0
        STUB 0x82, 0

/* For tables_init: the stubs of vectors 0-31 in order. */
        .section .rodata
        .balign 4
        .globl exception_stubs
exception_stubs:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .long   stub_\v
        .endr

        .text
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
        .balign 4
        .globl entry_eax, entry_ebx, entry_eflags
entry_eax:
        .skip   4
entry_ebx:
        .skip   4
entry_eflags:
        .skip   4
kernel_esp:
        .skip   4
        .balign 16
stack:
        .skip   16384
stack_top:
