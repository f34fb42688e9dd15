/* compiled-code: the hot loops and the handlers (see main.c for what the SDM requires).
 *
 * Each loop is in assembler so that the instruction that faults, traps or is modified
 * has a label main.c compares addresses with, and so that the registers the
 * instructions before it wrote can be read back at the fixup.  Every loop runs far
 * more than 16 iterations (LOOP_ITERS), so that at the compile threshold the exactness
 * tests set (16) its body runs as a compiled block on Ringside before the event under
 * test happens inside it. */
#include "ringside.h"
#include "compiled-code.h"

        .section .text.cc, "awx", @progbits
        .code64

/* ------------------------------------------------------------------ fault --
 * void cc_fault(u64 *base, u64 out[5]): reads base[0], base[8], base[16], ... (64 bytes
 * apart) through two pages; the read that reaches the second page, which main.c made not
 * present, faults.
 * Before the load, each iteration writes its index to R8 and adds 3 to R9; after it,
 * it adds the value read to R10.  At the fixup: out = { R8, R9, RCX, RDX, R10 }. */
        .globl cc_fault
cc_fault:
        xor     %ecx, %ecx
        xor     %r8d, %r8d
        xor     %r9d, %r9d
        xor     %r10d, %r10d
        mov     %rdi, %rdx
1:      mov     %rcx, %r8
        add     $3, %r9
        .globl cc_fault_load
cc_fault_load:
        mov     (%rdx), %rax
        add     %rax, %r10
        add     $64, %rdx
        inc     %rcx
        cmp     $(2 * 4096 / 64), %rcx
        jb      1b
cc_fault_fixup:
        mov     %r8, 0(%rsi)
        mov     %r9, 8(%rsi)
        mov     %rcx, 16(%rsi)
        mov     %rdx, 24(%rsi)
        mov     %r10, 32(%rsi)
        ret
        EXTABLE cc_fault_load, cc_fault_fixup

/* ------------------------------------------------------- self-modifying code --
 * A write into code drops what was decoded from its page, so a loop that wrote its own
 * code on every iteration would never become hot.  These loops first store into a data
 * word (cc_smc_scratch) and, from iteration `from` on, into the code (CMOVB picks the
 * address), so that the first store into code comes from a hot loop.
 *
 * u32 cc_smc_in_block(u32 n, u32 from): for i = n..1, stores i (into the immediate of the
 * ADD right after the store, in the same straight-line run, once i < from), and that ADD
 * adds its immediate: (from - 1) * from / 2.  The immediate is 0 when it starts. */
        .globl cc_smc_in_block
cc_smc_in_block:
        movl    $0, cc_smc_in_block_imm(%rip)
        lea     cc_smc_scratch(%rip), %rdx
        lea     cc_smc_in_block_imm(%rip), %r8
        xor     %eax, %eax
        mov     %edi, %ecx
1:      cmp     %esi, %ecx
        cmovb   %r8, %rdx
        mov     %ecx, (%rdx)
        .byte   0x05                            /* add $imm32, %eax */
cc_smc_in_block_imm:
        .long   0
        dec     %ecx
        jnz     1b
        ret

/* u32 cc_smc_cross(u32 n, u32 from): for i = n..1, stores i (into the immediate of
 * cc_smc_target, another hot routine in another page, once i < from) and calls it; it
 * returns 1000 + its immediate, which is 0 when this starts. */
        .globl cc_smc_cross
cc_smc_cross:
        push    %rbx
        movl    $0, cc_smc_target_imm(%rip)
        lea     cc_smc_scratch(%rip), %rdx
        lea     cc_smc_target_imm(%rip), %r8
        xor     %ebx, %ebx
        mov     %edi, %ecx
1:      cmp     %esi, %ecx
        cmovb   %r8, %rdx
        mov     %ecx, (%rdx)
        call    cc_smc_target
        add     %eax, %ebx
        dec     %ecx
        jnz     1b
        mov     %ebx, %eax
        pop     %rbx
        ret

        .data
cc_smc_scratch:
        .long   0
        .section .text.cc, "awx", @progbits

        .balign 4096
cc_smc_target:
        mov     $1000, %eax
        .byte   0x05                            /* add $imm32, %eax */
cc_smc_target_imm:
        .long   0
        ret

/* ------------------------------------------------------------ CR0.WP --
 * u32 cc_wp(u8 *p, u32 n, u64 cr0_wp): stores i at p + i * PAGE_STEP (read-only pages:
 * allowed while CR0.WP = 0); after the store of iteration n - 1 it loads cr0_wp (WP = 1)
 * into CR0; the next store, to a page not yet accessed, faults.  Returns the number of
 * stores that completed (RCX at the fault). */
        .globl cc_wp
cc_wp:
        xor     %ecx, %ecx
1:
        .globl cc_wp_store
cc_wp_store:
        mov     %rcx, (%rdi)
        add     $PAGE_STEP, %rdi
        inc     %ecx
        cmp     %esi, %ecx
        jne     2f
        mov     %rdx, %cr0
2:      cmp     $(PAGES * 4096 / PAGE_STEP), %ecx
        jb      1b
cc_wp_fixup:
        mov     %ecx, %eax
        ret
        EXTABLE cc_wp_store, cc_wp_fixup

/* ------------------------------------------------------------ CR4.FSGSBASE --
 * u32 cc_cr4(u32 n, u64 cr4_off): RDFSBASE in a loop (R9 sums what it reads); after
 * iteration n - 1 it loads cr4_off (FSGSBASE = 0) into CR4; the next RDFSBASE is #UD.
 * Returns the number of RDFSBASEs that completed; *sum = R9. */
        .globl cc_cr4
cc_cr4:
        xor     %ecx, %ecx
        xor     %r9d, %r9d
1:
        .globl cc_cr4_rd
cc_cr4_rd:
        rdfsbase %rax
        add     %rax, %r9
        inc     %ecx
        cmp     %edi, %ecx
        jne     2f
        mov     %rsi, %cr4
2:      cmp     $(4 * LOOP_ITERS), %ecx
        jb      1b
cc_cr4_fixup:
        mov     %r9, (%rdx)
        mov     %ecx, %eax
        ret
        EXTABLE cc_cr4_rd, cc_cr4_fixup

/* ------------------------------------------------------------ EFER.NXE --
 * u32 cc_nxe(u8 *p, u32 n, u32 efer_lo): loads from p + i * PAGE_STEP (pages whose PTE has
 * XD = 1, legal while EFER.NXE = 1); after iteration n - 1 it writes efer_lo (NXE = 0) to
 * EFER; the next load, from a page not yet accessed, faults (bit 63 is now reserved).
 * Returns the number of loads that completed. */
        .globl cc_nxe
cc_nxe:
        xor     %r8d, %r8d
        mov     %edx, %r11d
1:
        .globl cc_nxe_load
cc_nxe_load:
        mov     (%rdi), %rax
        add     $PAGE_STEP, %rdi
        inc     %r8d
        cmp     %esi, %r8d
        jne     2f
        mov     $MSR_EFER, %ecx
        mov     %r11d, %eax
        xor     %edx, %edx
        wrmsr
2:      cmp     $(PAGES * 4096 / PAGE_STEP), %r8d
        jb      1b
cc_nxe_fixup:
        mov     %r8d, %eax
        ret
        EXTABLE cc_nxe_load, cc_nxe_fixup

/* ------------------------------------------------------- fetch-fault return --
 * Where an instruction fetch #PF from a remapped page resumes (fault_expect_at): returns
 * ~0 to the caller, whose CALL pushed the return address before the fetch faulted. */
        .globl cc_fetch_fault_ret
cc_fetch_fault_ret:
        mov     $-1, %eax
        ret

/* ------------------------------------------------------------ debug --
 * u32 cc_step(u32 n, u32 tf): sum n..1 in a three-instruction loop; with tf != 0, TF is
 * set with POPF first and cleared with POPF after the loop.  Traps: the instruction after
 * the setting POPF, the two before the loop, 3n in it, and the three of the clearing
 * sequence (the last POPF began with TF = 1): 3n + 5. */
        .globl cc_step
cc_step:
        test    %esi, %esi
        jz      1f
        pushfq
        orq     $RFLAGS_TF, (%rsp)
        popfq
1:      mov     %edi, %ecx
        xor     %eax, %eax
2:      add     %ecx, %eax
        dec     %ecx
        jnz     2b
        pushfq
        andq    $~RFLAGS_TF, (%rsp)
        popfq
        ret

/* u32 cc_bp_loop(u32 n, u64 *watched): sum n..1; each iteration also adds 1 to R9 at
 * cc_bp_exec (an instruction breakpoint's target) and 0x100 after the store to *watched
 * (a data breakpoint's target), so R9 at a #DB tells which instructions had run. */
        .globl cc_bp_loop, cc_bp_exec, cc_bp_after_store
cc_bp_loop:
        xor     %eax, %eax
        xor     %r9d, %r9d
        mov     %edi, %ecx
1:      add     %ecx, %eax
cc_bp_exec:
        inc     %r9
        mov     %rcx, (%rsi)
cc_bp_after_store:
        add     $0x100, %r9
        dec     %ecx
        jnz     1b
        ret

/* The #DB handler (interrupt gate, vector 1): counts each #DB; records the saved RIP, R9
 * at the #DB (the first and the last), and ORs DR6 into cc_db_dr6; writes 0 to DR6 (the
 * processor never clears B0-B3/BS, Vol. 3B §18.2.3).  For an instruction breakpoint
 * (DR6.B0, a fault) it sets RF in the saved RFLAGS, so that the instruction runs once
 * after the IRETQ (§18.3.1.1). */
        .globl cc_db_handler
cc_db_handler:
        push    %rax
        incq    cc_db_count(%rip)
        mov     8(%rsp), %rax
        mov     %rax, cc_db_rip(%rip)
        mov     %r9, cc_db_last_r9(%rip)
        cmpq    $1, cc_db_count(%rip)
        jne     1f
        mov     %r9, cc_db_first_r9(%rip)
1:      mov     %dr6, %rax
        or      %rax, cc_db_dr6(%rip)
        test    $1, %al
        jz      2f
        btsq    $RFLAGS_RF_BIT, 24(%rsp)
2:      xor     %eax, %eax
        mov     %rax, %dr6
        pop     %rax
        iretq

/* ------------------------------------------------------------ events --
 * u32 cc_events(u32 n): a four-instruction loop run with IF = 1, where injected NMIs and
 * interrupts (`--inject`) land; QEMU and a plain run take none. */
        .globl cc_events, cc_events_mid
cc_events:
        xor     %eax, %eax
        mov     %edi, %ecx
        sti
1:      add     %ecx, %eax
cc_events_mid:
        rol     $3, %eax
        dec     %ecx
        jnz     1b
        cli
        ret

/* NMI (vector 2) and VEC_IRQ handlers: count, and for the interrupt write the xAPIC EOI. */
        .globl cc_nmi_handler, cc_irq_handler
cc_nmi_handler:
        incq    cc_nmi_count(%rip)
        iretq

cc_irq_handler:
        push    %rax
        incq    cc_irq_count(%rip)
        mov     $APIC_EOI_ADDR, %rax
        movl    $0, (%rax)
        pop     %rax
        iretq
