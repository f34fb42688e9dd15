/*
 * PVH boot stub of the Ringside guest library.
 *
 * Boot contract (README.md, "The native (PVH) platform": the Xen PVH ABI as
 * QEMU and Xen implement it): the loader finds the ELF note "Xen"/18
 * (XEN_ELFNOTE_PHYS32_ENTRY) and enters its address in 32-bit protected mode,
 * paging off, CS/DS/ES/SS flat 4 GiB, interrupts off, with %ebx = physical
 * address of struct hvm_start_info.  Nothing else may be assumed: not the GDT,
 * not a stack, not the IDT.
 *
 * Switching to 64-bit mode follows Intel SDM Vol. 3A §10.8.5 "Initializing
 * IA-32e Mode": with paging off, set CR4.PAE, load CR3 with a 4-level PML4,
 * set IA32_EFER.LME, then set CR0.PG (the processor is then in IA-32e mode,
 * compatibility submode, EFER.LMA=1), and a far jump to a code segment with
 * L=1 enters 64-bit mode.
 */
#include "ringside.h"

/* ---------------------------------------------------------------- notes -- */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                         /* namesz: "Xen\0" */
        .long 8                         /* descsz: 64-bit entry address */
        .long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .balign 4
        .quad pvh_entry32
        .balign 4

/* -------------------------------------------------------- 32-bit entry -- */
        .section .text.head, "ax"
        .code32
        .globl pvh_entry32
pvh_entry32:
        cli
        cld
        mov     %ebx, hvm_start_info_pa         /* upper half stays 0 (.data) */

        lgdt    gdt_ptr                         /* 32-bit form: limit + base[31:0] */
        mov     $SEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs

        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4

        /*
         * 5-level paging (SDM Vol. 3A §4.5): a guest that defines boot_pml5 (a
         * page-aligned PML5 table, normally with entry 0 -> boot_pml4) boots with
         * CR4.LA57 = 1 and CR3 = boot_pml5 when CPUID.(EAX=07H,ECX=0):ECX[16]
         * enumerates LA57.  CR4.LA57 cannot change in IA-32e mode (#GP), so this
         * is done here, before paging is enabled.  Other guests: the weak symbol
         * is 0 and nothing changes.
         */
        .weak   boot_pml5
        mov     $boot_pml4, %esi
        mov     $boot_pml5, %eax
        test    %eax, %eax
        jz      1f
        mov     $7, %eax
        xor     %ecx, %ecx
        cpuid
        bt      $16, %ecx
        jnc     1f
        mov     %cr4, %eax
        or      $CR4_LA57, %eax
        mov     %eax, %cr4
        mov     $boot_pml5, %esi
1:      mov     %esi, %cr3

        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr

        mov     %cr0, %eax
        or      $(CR0_PG | CR0_WP | CR0_PE), %eax
        mov     %eax, %cr0

        ljmp    $SEL_CODE64, $entry64

/* -------------------------------------------------------- 64-bit entry -- */
        .code64
entry64:
        mov     $SEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $boot_stack_top, %rsp
        xor     %ebp, %ebp
        call    lib_start                       /* does not return */
1:      cli
        hlt
        jmp     1b

/* ---------------------------------------------------- exception stubs -- */
/*
 * Vectors 0-31.  The CPU pushes an error code for #DF(8), #TS(10), #NP(11),
 * #SS(12), #GP(13), #PF(14), #AC(17), #CP(21), #VC(29), #SX(30) (SDM Vol. 3A
 * §6.13 "Error Code", Table 6-1); for the others the stub pushes 0 so that
 * every frame has the same shape (struct exc_frame in ringside.h).
 */
.macro EXC_STUB vec
        .balign 16
exc_stub_\vec:
        .if !(\vec == 8 || \vec == 10 || \vec == 11 || \vec == 12 || \vec == 13 || \vec == 14 || \vec == 17 || \vec == 21 || \vec == 29 || \vec == 30)
        pushq   $0
        .endif
        pushq   $\vec
        jmp     exc_common
.endm

        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        EXC_STUB \v
        .endr

exc_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, %rdi
        cld
        call    exc_dispatch
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp                       /* vector, error code */
        iretq

        .section .rodata
        .balign 8
        .globl exc_stub_table
exc_stub_table:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exc_stub_\v
        .endr

/* ----------------------------------------------------------------- GDT -- */
        .section .data
        .balign 16
gdt:
        .quad 0                                 /* 0x00 null */
        .quad 0x00af9a000000ffff                /* 0x08 64-bit code, DPL0 */
        .quad 0x00cf92000000ffff                /* 0x10 flat data, DPL0 */
        .quad 0x00cf9a000000ffff                /* 0x18 flat 32-bit code, DPL0 */
gdt_end:
        .balign 8
        .word 0, 0, 0                           /* so that gdt_ptr+2 is 8-aligned */
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt

        .balign 8
        .globl hvm_start_info_pa
hvm_start_info_pa:
        .quad 0

/* ------------------------------------------------------- page tables -- */
/*
 * Static 4-level tables identity-mapping the first GiB (SDM Vol. 3A §5.5
 * "4-Level Paging and 5-Level Paging"): PML4[0] -> PDPT, PDPT[0] -> PD,
 * PD[0] -> PT with 512 4 KiB pages (0..2 MiB; tests change single PTEs),
 * PD[1..511] 2 MiB pages (PS=1).  All entries P|RW, supervisor, executable;
 * A and D are left for the processor to set.
 */
        .section .data.pagetables, "aw"
        .balign 4096
        .globl boot_pml4, boot_pdpt, boot_pd, boot_pt
boot_pml4:
        .quad boot_pdpt + 0x3
        .fill 511, 8, 0
boot_pdpt:
        .quad boot_pd + 0x3
        .fill 511, 8, 0
boot_pd:
        .quad boot_pt + 0x3
        .set i, 1
        .rept 511
        .quad (i << 21) + 0x83
        .set i, i + 1
        .endr
boot_pt:
        .set i, 0
        .rept 512
        .quad (i << 12) + 0x3
        .set i, i + 1
        .endr

/* --------------------------------------------------------------- stack -- */
        .section .bss.stack, "aw", @nobits
        .balign 4096
boot_stack:
        .skip 16384
        .globl boot_stack_top
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
