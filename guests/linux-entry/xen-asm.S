/*
 * linux-entry as a Xen PV kernel: its ELF notes, PV entry point and the Xen side of the entry
 * code, shaped after Linux's arch/x86/xen/xen-head.S and xen-asm.S (today's, and the
 * xen-asm_64.S of before 2017; read for the facts, written anew here).
 *
 * - Notes: the PVH note (guests/lib/head.S, XEN_ELFNOTE_PHYS32_ENTRY) boots the image on the
 *   native platform; these make the same image a 64-bit PV kernel, as Linux's vmlinux carries
 *   both (GUEST_OS "linux", XEN_VERSION "xen-3.0", LOADER "generic", VIRT_BASE and
 *   PADDR_OFFSET 0, so that Xen's builder maps pseudo-physical frame n at n << 12 and the
 *   kernel, linked at 1 MiB, runs at the addresses it was linked for; ENTRY xen_start;
 *   HYPERCALL_PAGE; FEATURES "!writable_page_tables").
 * - xen_start: Xen's builder enters in 64-bit mode, ring 3 (the PV kernel's "kernel mode"),
 *   events masked, RSI = start_info (public/xen.h).  The boot stack, then xen.c.
 * - The syscall callback, two versions (xen.h XEN_ENTRY_*; seed 001):
 *     xen_entry_SYSCALL_64 (today's): Xen's frame is [rcx, r11, rip, cs, rflags, rsp, ss] on
 *     the kernel stack (create_bounce_frame); pop RCX and R11, report the user's CS and SS as
 *     the native entry would have pushed them ("Neither Xen nor the kernel really knows what
 *     the old SS and CS were"), and enter the native code at entry_SYSCALL_64_after_hwframe;
 *     xen_entry_SYSCALL_64_2016: RCX, R11 and the *user* RSP from Xen's frame, then the native
 *     entry after its SWAPGS (Xen did that), which stores the user RSP and switches stacks
 *     itself: the "invalid SYSCALL RSP" Lutomirski's 2015 mail asks to get rid of.
 * - xen_sysret64 (XEN_ENTRY_2016 only): the native SYSRET exit, patched (entry.S, XENPV_END),
 *   arrives here on the user's stack with the kernel's GS; back to the kernel stack, an IRET
 *   frame of __USER_DS, the user RSP, R11, __USER_CS, RCX, and HYPERVISOR_iret with
 *   VGCF_in_syscall: Xen returns with SYSRET (restore_all_guest), whose CS and SS come from
 *   Xen's IA32_STAR (0xe033, 0xe02b), not from the frame.
 * - xen_iret: HYPERVISOR_iret with flags 0 (IRET semantics: RCX, R11, CS, SS from the frame).
 *   The hypercall page's slot 23 pushes RCX, R11, RAX and never returns: jumped to.
 * - Exceptions: Xen's bounce frame has RCX and R11 below the CPU-style frame; each trap-table
 *   entry pops them and enters the native asm_exc_* (Linux's xen_pv_trap stubs).
 */
#include "linux.h"
#include "xen.h"

#undef linux                                    /* gcc predefines it as 1 on Linux hosts */

.macro ELFNOTE_BEGIN type
        .pushsection .note.Xen, "a", @note
        .balign 4
        .long   2f - 1f                         /* namesz */
        .long   4f - 3f                         /* descsz */
        .long   \type
1:      .asciz  "Xen"
2:      .balign 4
3:
.endm
.macro ELFNOTE_END
4:      .balign 4
        .popsection
.endm
.macro ELFNOTE_STR type, str
        ELFNOTE_BEGIN \type
        .asciz  "\str"
        ELFNOTE_END
.endm
.macro ELFNOTE_QUAD type, value
        ELFNOTE_BEGIN \type
        .quad   \value
        ELFNOTE_END
.endm

        ELFNOTE_STR  6, linux                   /* XEN_ELFNOTE_GUEST_OS */
        ELFNOTE_STR  7, 2.6                     /* XEN_ELFNOTE_GUEST_VERSION */
        ELFNOTE_STR  5, xen-3.0                 /* XEN_ELFNOTE_XEN_VERSION */
        ELFNOTE_QUAD 3, 0                       /* XEN_ELFNOTE_VIRT_BASE */
        ELFNOTE_QUAD 4, 0                       /* XEN_ELFNOTE_PADDR_OFFSET */
        ELFNOTE_QUAD 1, xen_start               /* XEN_ELFNOTE_ENTRY */
        ELFNOTE_QUAD 2, hypercall_page          /* XEN_ELFNOTE_HYPERCALL_PAGE */
        ELFNOTE_STR  10, !writable_page_tables  /* XEN_ELFNOTE_FEATURES */
        ELFNOTE_STR  8, generic                 /* XEN_ELFNOTE_LOADER */

        .text
        .code64

/* Written by Xen's builder; on the native platform never called. */
        .balign 4096
        .globl hypercall_page
hypercall_page:
        .fill   4096, 1, 0xcc

hypercall_iret = hypercall_page + __HYPERVISOR_iret * 32

        .globl xen_start
xen_start:
        cld
        leaq    boot_stack_top(%rip), %rsp
        movq    %rsi, %rdi
        call    xen_start_kernel
        ud2

/* ------------------------------------------------------------- syscall callback -- */
        .balign 16
        .globl xen_entry_SYSCALL_64
xen_entry_SYSCALL_64:
        popq    %rcx
        popq    %r11
        movq    $__USER_DS, 4*8(%rsp)           /* ss */
        movq    $__USER_CS, 1*8(%rsp)           /* cs */
        jmp     entry_SYSCALL_64_after_hwframe

        .balign 16
        .globl xen_entry_SYSCALL_64_2016
xen_entry_SYSCALL_64_2016:
        movq    0*8(%rsp), %rcx
        movq    1*8(%rsp), %r11
        movq    5*8(%rsp), %rsp                 /* the user's RSP (frame: rcx r11 rip cs rflags rsp ss) */
        jmp     entry_SYSCALL_64_after_swapgs

/* ---------------------------------------------------------------------- returns -- */
        .globl xen_sysret64
xen_sysret64:
        movq    %rsp, %gs:PERCPU_USER_RSP
        movq    %gs:PERCPU_TOP, %rsp
        pushq   $__USER_DS
        pushq   %gs:PERCPU_USER_RSP
        pushq   %r11
        pushq   $__USER_CS
        pushq   %rcx
        pushq   $VGCF_in_syscall
        jmp     hypercall_iret

        .globl xen_iret
xen_iret:
        pushq   $0
        jmp     hypercall_iret

/* The native `addq $8, %rsp; iretq` (orig_ax, then the frame) of the kernel-mode returns. */
        .globl xen_iret_pop_orig_ax
xen_iret_pop_orig_ax:
        addq    $8, %rsp
        jmp     xen_iret

/* ------------------------------------------------------------------- exceptions -- */
.macro XEN_PV_TRAP vec, target
        .balign 16
xen_asm_exc_\vec:
        popq    %rcx
        popq    %r11
        jmp     \target
.endm

        XEN_PV_TRAP 0, asm_exc_0
        XEN_PV_TRAP 1, asm_exc_debug
        XEN_PV_TRAP 3, asm_exc_3
        XEN_PV_TRAP 6, asm_exc_6
        XEN_PV_TRAP 11, asm_exc_11
        XEN_PV_TRAP 12, asm_exc_12
        XEN_PV_TRAP 13, asm_exc_13
        XEN_PV_TRAP 14, asm_exc_14
        XEN_PV_TRAP 17, asm_exc_17

/* Events stay masked in the kernel and no port can raise an upcall (xen.c); a failsafe
 * callback means Xen could not load a data segment on the way out.  Either ends the run. */
        .globl xen_hypervisor_callback, xen_failsafe_callback
xen_hypervisor_callback:
        movl    $0, %edi
        jmp     xen_unexpected_callback
xen_failsafe_callback:
        movl    $1, %edi
        jmp     xen_unexpected_callback

/* The trap table (struct trap_info: vector, flags = DPL | TI_MASK_EVENTS, cs, address),
 * ended by a zero address: the vectors the native IDT has (kernel.c), #BP callable from user
 * mode (DPL 3).  The NMI is not registered: nothing raises one on a Xen profile. */
.macro TRAP_INFO vec, dpl
        .byte   \vec, \dpl | TI_MASK_EVENTS
        .word   FLAT_USER_CS64
        .long   0
        .quad   xen_asm_exc_\vec
.endm

        .section .rodata
        .balign 8
        .globl xen_trap_table
xen_trap_table:
        TRAP_INFO 0, 0
        TRAP_INFO 1, 0
        TRAP_INFO 3, 3
        TRAP_INFO 6, 0
        TRAP_INFO 11, 0
        TRAP_INFO 12, 0
        TRAP_INFO 13, 0
        TRAP_INFO 14, 0
        TRAP_INFO 17, 0
        .quad   0, 0

        .section .note.GNU-stack, "", @progbits
