/*
 * Code that rewrites itself; see main.c for what the SDM requires.
 * Everything here lives in one page-aligned section, so the writers and the
 * code they modify share a 4 KiB page.
 */
#include "ringside.h"

        .section .text.smc, "awx", @progbits
        .balign 4096

/* u32 smc_imm_fn(void): returns the immediate of its first instruction. */
        .globl smc_imm_fn
smc_imm_fn:
        mov     $0x11111111, %eax               /* B8 imm32: imm at smc_imm_fn+1 */
        ret

/* void smc_same_page(u32 out[3]):
 *   out[0] = smc_imm_fn() before any write;
 *   store 0x22222222 into its immediate, JMP (SDM option 1), out[1] = call;
 *   store 0x33333333, CPUID (option 2: serializing), out[2] = call. */
        .globl smc_same_page
smc_same_page:
        push    %rbx
        mov     %rdi, %r8
        call    smc_imm_fn
        mov     %eax, 0(%r8)
        movl    $0x22222222, smc_imm_fn+1(%rip)
        jmp     1f
1:      call    smc_imm_fn
        mov     %eax, 4(%r8)
        movl    $0x33333333, smc_imm_fn+1(%rip)
        xor     %eax, %eax
        xor     %ecx, %ecx
        cpuid
        call    smc_imm_fn
        mov     %eax, 8(%r8)
        pop     %rbx
        ret

/* u32 smc_next_jmp(void): rewrites the immediate of an instruction a few
 * bytes ahead, then jumps to it.  Returns 0x44 (was 0x11). */
        .globl smc_next_jmp
smc_next_jmp:
        movb    $0x44, 2f+1(%rip)
        jmp     2f
2:      mov     $0x11, %eax
        ret

/* u32 smc_next_cpuid(void): same, with CPUID between the store and the
 * modified instruction.  Returns 0x55 (was 0x11). */
        .globl smc_next_cpuid
smc_next_cpuid:
        push    %rbx
        movl    $0x55, 3f+1(%rip)
        xor     %eax, %eax
        xor     %ecx, %ecx
        cpuid
3:      mov     $0x11, %eax
        pop     %rbx
        ret

/* u64 smc_loop(u64 n): n times: bump the immediate of an instruction in this
 * same page, jump to it, add what it loaded.  Returns the sum. */
        .globl smc_loop
smc_loop:
        xor     %eax, %eax
        xor     %edx, %edx                      /* running immediate */
        test    %rdi, %rdi
        jz      9f
4:      inc     %edx
        mov     %edx, 5f+1(%rip)
        jmp     5f
5:      mov     $0, %ecx                        /* B9 imm32 */
        add     %rcx, %rax
        dec     %rdi
        jnz     4b
9:      ret

        .section .note.GNU-stack, "", @progbits
