/*
 * Multiboot (v1) header and entry of the multiboot-uart guest.
 *
 * Multiboot Specification 0.6.96 §3.1: the header is a 4-byte aligned
 * magic 0x1BADB002, flags and a checksum making the three sum to zero,
 * entirely inside the first 8192 bytes of the image.  Flags bit 0 asks for
 * page-aligned modules, bit 1 for the memory fields of the information
 * structure; bit 16 (the a.out kludge) is clear, so the loader takes the
 * layout from the ELF program headers.
 *
 * §3.2 machine state at entry: EAX = 0x2BADB002, EBX = physical address of
 * the multiboot information structure, 32-bit protected mode, paging off,
 * flat 4 GiB code and data segments, A20 on, EFLAGS.VM = EFLAGS.IF = 0.  ESP
 * is undefined, so the first thing to do is set up a stack; GDTR and IDTR are
 * undefined too, so no segment register is reloaded and nothing may fault.
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
        call    mb_main                 /* does not return */
1:      cli
        hlt
        jmp     1b

        .bss
        .balign 16
stack:
        .skip   16384
stack_top:
