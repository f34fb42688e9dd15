/*
 * Compatibility-mode probes for segment limit and type checks; see main.c.
 * Each probe is entered by a far CALL with the selector in %edx and the offset in
 * %ebx, loads the selector into the segment register it tests, does one access, and
 * records whether it completed (probe_done = 1) before returning.  A fault resumes at
 * the probe's fixup with probe_done still 0 (the exception table has each pair).
 */
#include "ringside.h"

        .code32
        .section .text.seg, "ax", @progbits

.macro PROBE name, access:vararg
        .globl \name, \name\()_insn
\name:
        push    %ds
        movl    $0, %ss:probe_done
        mov     %edx, %ds
\name\()_insn:
        \access
        movl    $1, %ss:probe_done
1:      pop     %ds
        lret
        .pushsection .ex_table, "a"
        .balign 8
        .quad \name\()_insn, 1b
        .popsection
.endm

PROBE read_dword, mov (%ebx), %eax
PROBE read_byte, movb (%ebx), %al
PROBE write_dword, movl $0x5a5a5a5a, (%ebx)
PROBE rmw_dword, addl $1, (%ebx)

/* Stack probe: SS from %edx, ESP from %ebx, then PUSH of a dword. */
        .globl push_probe, push_probe_insn
push_probe:
        mov     %ss, %ecx
        mov     %esp, %edi
        movl    $0, probe_done
        mov     %edx, %ss
        mov     %ebx, %esp
push_probe_insn:
        push    $0x12345678
        movl    $1, %ds:probe_done
        mov     %esp, %ds:probe_esp
1:      mov     %ecx, %ss
        mov     %edi, %esp
        lret
        .pushsection .ex_table, "a"
        .balign 8
        .quad push_probe_insn, 1b
        .popsection

        .data
        .balign 4
        .globl probe_done, probe_esp
probe_done: .long 0
probe_esp:  .long 0
