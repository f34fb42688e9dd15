// Tiny 64-bit PV kernels for the real-Xen tests, assembled with the system's gcc: the ELF
// notes the Xen Test Framework's PV64 images carry (GUEST_OS, GUEST_VERSION, LOADER,
// HYPERCALL_PAGE, XEN_VERSION, FEATURES, PAE_MODE; no ENTRY or VIRT_BASE, so Xen's libelf
// takes e_entry and a virtual base of 0), one loadable segment at 1 MiB, and a page-aligned
// `hypercall_page` that the domain builder fills. The body is GNU assembler; it starts at
// `_start` with %rsi = start_info, and may call `hypercall_page + 32 * N`.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ringside-pv-'));
let count = 0;

/** A "Xen" note: its type (XEN_ELFNOTE_*) and the assembler directive of its descriptor. */
export type PvNote = [type: number, desc: string];

/** The notes of the Xen Test Framework's PV64 images (arch/x86/pv/head.S): GUEST_OS,
 *  GUEST_VERSION, LOADER, HYPERCALL_PAGE, XEN_VERSION, FEATURES, PAE_MODE. */
export const XTF_NOTES: readonly PvNote[] = [
  [6, '.asciz "ringside-test"'],
  [7, '.asciz "0"'],
  [8, '.asciz "generic"'],
  [2, '.quad hypercall_page'],
  [5, '.asciz "xen-3.0"'],
  [10, '.asciz "!writable_page_tables|pae_pgdir_above_4gb"'],
  [9, '.asciz "yes"'],
];

const HEAD = (notes: readonly PvNote[]): string => `
        .section .note.Xen, "a", @note
${notes.map(([type, desc]) => `        .balign 4; .long 2f - 1f; .long 4f - 3f; .long ${type}; 1: .asciz "Xen"; 2: .balign 4; 3: ${desc}; 4: .balign 4`).join('\n')}
        .section .text.hypercall, "ax"
        .balign 4096
        .globl hypercall_page
hypercall_page:
        .fill 4096, 1, 0xc3
        .text
        .globl _start
_start:
`;

const LINK = (noteSegment: boolean): string => `ENTRY(_start)
PHDRS { image PT_LOAD FLAGS(7); ${noteSegment ? 'note PT_NOTE;' : ''} }
SECTIONS {
  . = 0x100000;
  .text : { *(.text) *(.text.*) } :image
  .data : { *(.data) *(.rodata*) *(.bss) } :image
  .note.Xen : { *(.note.Xen) } :image ${noteSegment ? ':note' : ''}
  __xen_guest 0 : { *(__xen_guest) }
  /DISCARD/ : { *(.note.gnu.*) *(.comment) }
}
`;

export interface PvImageOptions {
  /** The notes also get a PT_NOTE segment (default); without one only their SHT_NOTE
   *  section holds them. */
  noteSegment?: boolean;
  /** A 32-bit image (ELFCLASS32, i386): a PV32 kernel's shape. */
  elf32?: boolean;
  /** A legacy `__xen_guest` section (not loaded) holding this string. */
  xenGuest?: string;
}

/** Assemble `body` after the notes and `_start:`; the image's path. */
export function buildPvImage(body: string, notes: readonly PvNote[] = XTF_NOTES, o: PvImageOptions = {}): string {
  const base = join(dir, `pv${count++}`);
  const legacy = o.xenGuest === undefined ? '' : `        .pushsection __xen_guest, ""\n        .asciz ${JSON.stringify(o.xenGuest)}\n        .popsection\n`;
  writeFileSync(`${base}.S`, HEAD(notes) + legacy + body + '\n');
  writeFileSync(`${base}.ld`, LINK(o.noteSegment ?? true));
  execFileSync('gcc', [...(o.elf32 ? ['-m32'] : []), '-c', '-o', `${base}.o`, `${base}.S`], { stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync('ld', [...(o.elf32 ? ['-m', 'elf_i386'] : []), '-nostdlib', '-static', '-no-pie', '--no-warn-rwx-segments', '-T', `${base}.ld`, '-o', `${base}.elf`, `${base}.o`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  return `${base}.elf`;
}

/** Assembler writing the first 16 bytes at %rsi on entry -- start_info's magic: 15
 *  characters and a NUL for a 64-bit PAE kernel -- to the console (keeps %rsi in %rbx). */
export const WRITE_START_INFO_MAGIC = `
        mov     %rsi, %rbx
        xor     %edi, %edi
        mov     $16, %esi
        mov     %rbx, %rdx
        call    hypercall_page + 18 * 32
`;

/** Assembler for HYPERVISOR_console_io(CONSOLEIO_write, count, buffer) of a string literal. */
export function consoleWrite(text: string): string {
  const label = `str${count++}`;
  return `
        xor     %edi, %edi
        mov     $${Buffer.byteLength(text, 'latin1')}, %esi
        lea     ${label}(%rip), %rdx
        call    hypercall_page + 18 * 32
        .pushsection .rodata
${label}: .ascii ${JSON.stringify(text)}
        .popsection
`;
}

/** Assembler for HYPERVISOR_sched_op(SCHEDOP_shutdown, &{reason}), then a spin. */
export function shutdown(reason: number): string {
  const label = `reason${count++}`;
  return `
        mov     $2, %edi
        lea     ${label}(%rip), %rsi
        call    hypercall_page + 29 * 32
1:      jmp     1b
        .pushsection .data
        .balign 4
${label}: .long ${reason}
        .popsection
`;
}
