// Reading ELF executables into a LoadableImage.
//
// Cold path: runs once per image, so it favours clear checks over speed and uses
// BigInt for every 64-bit field. Every malformation is a BadInput whose message
// names the file and the problem; nothing here may throw anything else for any
// input bytes.
//
// What is read is what a boot loader needs, as QEMU's ELF loader (include/hw/elf_ops.h,
// our oracle) reads it: the identification, e_machine, e_entry, e_phoff and e_phnum, the
// program headers, the PT_LOAD bytes and, for PVH, the notes in PT_NOTE segments. Only
// those can make an image malformed. Section headers, section names and symbol tables are
// never read (QEMU reads them only for its symbol table and ignores them when bad), nor
// are fields no loader uses: e_type, e_version and EI_VERSION, e_flags, e_shoff and
// e_phentsize (entries have the standard size of the class, as QEMU reads them).

import { BadInput } from '../machine/errors.js';
import type { ImageNote, ImageSegment, LoadableImage } from '../machine/image.js';

const PT_LOAD = 1;
const PT_NOTE = 4;
const EM_386 = 3;
const EM_X86_64 = 62;
const PN_XNUM = 0xffff;

/** Largest segment size accepted (memsz or filesz): 4 GiB. */
const MAX_SEGMENT = 1n << 32n;
const U64_LIMIT = 1n << 64n;

/** Layout constants of the two ELF classes. */
interface ClassLayout {
  ehsize: number;
  phentsize: number;
}
const LAYOUT32: ClassLayout = { ehsize: 52, phentsize: 32 };
const LAYOUT64: ClassLayout = { ehsize: 64, phentsize: 56 };

interface ProgramHeader {
  index: number;
  type: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

class ElfReader {
  private readonly view: DataView;
  readonly size: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly label: string,
    readonly is64: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.byteLength;
  }

  fail(problem: string): never {
    throw new BadInput(`${this.label}: ${problem}`);
  }

  u16(off: number): number {
    return this.view.getUint16(off, true);
  }
  u32(off: number): number {
    return this.view.getUint32(off, true);
  }
  u64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }
  /** A 32-bit field in ELF32, a 64-bit one in ELF64 (addresses, offsets, sizes). */
  word(off32: number, off64: number): bigint {
    return this.is64 ? this.u64(off64) : BigInt(this.u32(off32));
  }

  /** True when [off, off + len) lies inside the file. */
  inFile(off: bigint, len: bigint): boolean {
    return off >= 0n && len >= 0n && off + len <= BigInt(this.size);
  }
}

export interface ParseOptions {
  /** Read the notes of PT_NOTE segments (default true). The multiboot loader does not
   *  look at notes (QEMU passes its ELF loader no note handler there), so a multiboot
   *  image's PT_NOTE may not make it malformed. */
  notes?: boolean;
}

/**
 * Parse an ELF32 or ELF64 little-endian x86 executable.
 * @param bytes the whole file
 * @param label the file name, used in every message
 */
export function parseElf(bytes: Uint8Array, label: string, options: ParseOptions = {}): LoadableImage {
  // Identification: magic, class and data encoding (ELF gABI, e_ident). EI_VERSION is
  // not checked: no loader reads it.
  const magic = [0x7f, 0x45, 0x4c, 0x46];
  for (let i = 0; i < Math.min(4, bytes.length); i++) {
    if (bytes[i] !== magic[i]) throw new BadInput(`${label}: not an ELF file (bad magic)`);
  }
  if (bytes.length < 16) {
    throw new BadInput(
      bytes.length === 0 ? `${label}: empty file, not an ELF image` : `${label}: truncated ELF file (${bytes.length} bytes, shorter than the ELF identification)`,
    );
  }
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) throw new BadInput(`${label}: bad ELF class ${cls} (expected 1 for ELF32 or 2 for ELF64)`);
  const data = bytes[5];
  if (data !== 1) {
    throw new BadInput(
      data === 2 ? `${label}: big-endian ELF file; x86 images are little-endian` : `${label}: bad ELF data encoding ${data} (expected 1, little-endian)`,
    );
  }

  const is64 = cls === 2;
  const L = is64 ? LAYOUT64 : LAYOUT32;
  const r = new ElfReader(bytes, label, is64);
  if (r.size < L.ehsize) {
    r.fail(`truncated ELF file (${r.size} bytes, shorter than the ${L.ehsize}-byte ELF${is64 ? 64 : 32} header)`);
  }

  const machine = r.u16(18);
  if (machine !== EM_386 && machine !== EM_X86_64) {
    r.fail(`wrong machine ${machine} in ELF header (expected x86: EM_386 = 3 or EM_X86_64 = 62)`);
  }

  const entry = r.word(24, 24);
  const phoff = r.word(28, 32);
  const phnum = r.u16(is64 ? 56 : 44);
  const phentsize = L.phentsize;

  if (phnum === 0) r.fail('no program headers (nothing to load)');
  if (phnum === PN_XNUM) r.fail('too many program headers (the PN_XNUM extension is not supported)');
  if (!r.inFile(phoff, BigInt(phnum) * BigInt(phentsize))) {
    r.fail(`program headers outside the file (${phnum} × ${phentsize} bytes at offset ${hex(phoff)}, file is ${r.size} bytes)`);
  }

  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = Number(phoff) + i * phentsize;
    phdrs.push(
      is64
        ? {
            index: i,
            type: r.u32(o),
            offset: r.u64(o + 8),
            vaddr: r.u64(o + 16),
            paddr: r.u64(o + 24),
            filesz: r.u64(o + 32),
            memsz: r.u64(o + 40),
            align: r.u64(o + 48),
          }
        : {
            index: i,
            type: r.u32(o),
            offset: BigInt(r.u32(o + 4)),
            vaddr: BigInt(r.u32(o + 8)),
            paddr: BigInt(r.u32(o + 12)),
            filesz: BigInt(r.u32(o + 16)),
            memsz: BigInt(r.u32(o + 20)),
            align: BigInt(r.u32(o + 28)),
          },
    );
  }

  const segments: ImageSegment[] = [];
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const what = `segment ${ph.index} (PT_LOAD at paddr ${hex(ph.paddr)})`;
    if (ph.filesz > ph.memsz) r.fail(`${what}: file size ${hex(ph.filesz)} exceeds memory size ${hex(ph.memsz)}`);
    if (ph.memsz > MAX_SEGMENT) r.fail(`${what}: absurd memory size ${hex(ph.memsz)} (more than 4 GiB)`);
    if (ph.paddr + ph.memsz > U64_LIMIT) r.fail(`${what}: physical address + size ${hex(ph.memsz)} overflows 64 bits`);
    if (ph.vaddr + ph.memsz > U64_LIMIT) r.fail(`${what}: virtual address ${hex(ph.vaddr)} + size overflows 64 bits`);
    if (!is64 && ph.paddr + ph.memsz > MAX_SEGMENT) r.fail(`${what}: physical address + size ${hex(ph.memsz)} overflows 32 bits`);
    // p_offset means nothing when no bytes come from the file (a bss-only segment).
    if (ph.filesz > 0n && !r.inFile(ph.offset, ph.filesz)) {
      r.fail(`${what}: data outside the file (${hex(ph.filesz)} bytes at offset ${hex(ph.offset)}, file is ${r.size} bytes)`);
    }
    if (ph.memsz === 0n) continue;
    const start = Number(ph.offset);
    segments.push({
      paddr: Number(ph.paddr),
      vaddr: ph.vaddr,
      data: ph.filesz === 0n ? new Uint8Array(0) : copyBytes(bytes, start, start + Number(ph.filesz)),
      memsz: Number(ph.memsz),
    });
  }
  if (segments.length === 0) r.fail('no loadable segments (no PT_LOAD with a non-zero size)');

  // Notes come from PT_NOTE segments only, as QEMU's loader finds the PVH note: it has
  // no fallback to SHT_NOTE sections, so a note only in a section boots under neither.
  const notes: ImageNote[] = [];
  let noteProblem: string | undefined;
  if (options.notes ?? true) {
    for (const ph of phdrs) {
      if (ph.type !== PT_NOTE) continue;
      const what = `note segment ${ph.index} (PT_NOTE)`;
      // A PT_NOTE whose bytes are not in the file is a corrupt program header; QEMU's
      // loader fails the whole image on it too.
      if (ph.filesz > 0n && !r.inFile(ph.offset, ph.filesz)) {
        r.fail(`${what}: outside the file (${hex(ph.filesz)} bytes at offset ${hex(ph.offset)}, file is ${r.size} bytes)`);
      }
      const problem = parseNotes(r, Number(ph.offset), Number(ph.filesz), ph.align === 8n ? 8 : 4, notes);
      if (problem !== undefined) noteProblem ??= `${what}: ${problem}`;
    }
  }

  return {
    label,
    elfClass: is64 ? 64 : 32,
    entry,
    segments,
    notes,
    ...(noteProblem !== undefined ? { noteProblem } : {}),
  };
}

/** A plain Uint8Array copy (Buffer.prototype.slice would return a view of the file). */
function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Parse the notes in [off, off + len) of the file (gABI "Note Section"), appending to out.
 * A malformed note ends the parse and is returned as a problem, not thrown: only the
 * note a host needs may make an image malformed, and the notes before it still count
 * (QEMU takes the first note of the type it looks for and reads nothing after it).
 */
function parseNotes(r: ElfReader, off: number, len: number, alignment: number, out: ImageNote[]): string | undefined {
  const end = off + len;
  let p = off;
  while (p < end) {
    if (end - p < 12) {
      // Trailing padding is tolerated; anything else is a cut-off note header.
      for (let q = p; q < end; q++) {
        if (r.bytes[q] !== 0) return `malformed note (truncated note header at offset ${hex(p)})`;
      }
      return undefined;
    }
    const namesz = r.u32(p);
    const descsz = r.u32(p + 4);
    const type = r.u32(p + 8);
    const nameStart = p + 12;
    const descStart = nameStart + align(namesz, alignment);
    const next = descStart + align(descsz, alignment);
    // Name and descriptor must lie inside the note area; the final padding may be absent.
    if (nameStart + namesz > end || descStart + descsz > end) {
      return `malformed note at offset ${hex(p)} (name size ${namesz}, descriptor size ${descsz} run past the end of the notes)`;
    }
    let nameEnd = nameStart + namesz;
    while (nameEnd > nameStart && r.bytes[nameEnd - 1] === 0) nameEnd--;
    let name = '';
    for (let q = nameStart; q < nameEnd; q++) name += String.fromCharCode(r.bytes[q]);
    out.push({ name, type, desc: copyBytes(r.bytes, descStart, descStart + descsz) });
    p = next;
  }
  return undefined;
}
