// Builds tiny PVH ELF images byte by byte, for tests that must not depend on a
// toolchain, and locates ELF header fields so tests can corrupt any image.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RINGSIDE = fileURLToPath(new URL('../../../bin/ringside', import.meta.url));

/** mov $0,%eax; out %eax,$0xf4; cli; hlt */
export const EXIT_ZERO_CODE = [0xb8, 0, 0, 0, 0, 0xe7, 0xf4, 0xfa, 0xf4];

export interface TestImageOptions {
  elfClass?: 32 | 64;
  code?: number[];
  /** Physical (and virtual) load address of the one PT_LOAD; default 1 MiB. */
  loadAddr?: number;
  /** Where the PVH note lives: a PT_NOTE (default), only an SHT_NOTE section, or nowhere. */
  note?: 'phdr' | 'section' | 'none';
  noteDescSize?: 4 | 8;
  /** Extra bytes of bss past the file contents. */
  bss?: number;
}

/** A minimal valid PVH executable: one PT_LOAD holding everything, a "Xen" type 18 note. */
export function buildPvhImage(o: TestImageOptions = {}): Buffer {
  const is64 = (o.elfClass ?? 64) === 64;
  const code = o.code ?? EXIT_ZERO_CODE;
  const load = o.loadAddr ?? 0x100000;
  const notePlace = o.note ?? 'phdr';
  const descSize = o.noteDescSize ?? 8;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const phnum = notePlace === 'phdr' ? 2 : 1;
  const noteOff = ehsize + phnum * phentsize;
  const noteSize = notePlace === 'none' ? 0 : 12 + 4 + descSize;
  const codeOff = noteOff + noteSize;
  const loadEnd = codeOff + code.length;
  const shoff = notePlace === 'section' ? Math.ceil(loadEnd / 8) * 8 : 0;
  const total = notePlace === 'section' ? shoff + 2 * shentsize : loadEnd;
  const entry = load + codeOff;

  const b = Buffer.alloc(total);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(is64 ? 62 : 3, 18);
  b.writeUInt32LE(1, 20);
  const word = (off32: number, off64: number, v: number): void => {
    if (is64) b.writeBigUInt64LE(BigInt(v), off64);
    else b.writeUInt32LE(v, off32);
  };
  word(24, 24, entry);
  word(28, 32, ehsize); // phoff
  word(32, 40, shoff);
  b.writeUInt16LE(ehsize, is64 ? 52 : 40);
  b.writeUInt16LE(phentsize, is64 ? 54 : 42);
  b.writeUInt16LE(phnum, is64 ? 56 : 44);
  b.writeUInt16LE(shentsize, is64 ? 58 : 46);
  b.writeUInt16LE(notePlace === 'section' ? 2 : 0, is64 ? 60 : 48);

  const phdr = (i: number, type: number, offset: number, addr: number, filesz: number, memsz: number, flags: number, align: number): void => {
    const p = ehsize + i * phentsize;
    b.writeUInt32LE(type, p);
    if (is64) {
      b.writeUInt32LE(flags, p + 4);
      b.writeBigUInt64LE(BigInt(offset), p + 8);
      b.writeBigUInt64LE(BigInt(addr), p + 16);
      b.writeBigUInt64LE(BigInt(addr), p + 24);
      b.writeBigUInt64LE(BigInt(filesz), p + 32);
      b.writeBigUInt64LE(BigInt(memsz), p + 40);
      b.writeBigUInt64LE(BigInt(align), p + 48);
    } else {
      b.writeUInt32LE(offset, p + 4);
      b.writeUInt32LE(addr, p + 8);
      b.writeUInt32LE(addr, p + 12);
      b.writeUInt32LE(filesz, p + 16);
      b.writeUInt32LE(memsz, p + 20);
      b.writeUInt32LE(flags, p + 24);
      b.writeUInt32LE(align, p + 28);
    }
  };
  phdr(0, 1, 0, load, loadEnd, loadEnd + (o.bss ?? 0), 7, 0x1000);
  if (notePlace === 'phdr') phdr(1, 4, noteOff, load + noteOff, noteSize, noteSize, 4, 4);

  if (notePlace !== 'none') {
    b.writeUInt32LE(4, noteOff);
    b.writeUInt32LE(descSize, noteOff + 4);
    b.writeUInt32LE(18, noteOff + 8);
    b.write('Xen\0', noteOff + 12, 'latin1');
    b.writeUInt32LE(entry, noteOff + 16);
  }
  b.set(code, codeOff);

  if (notePlace === 'section') {
    const s = shoff + shentsize; // section 1; section 0 stays null
    b.writeUInt32LE(7, s + 4); // SHT_NOTE
    if (is64) {
      b.writeBigUInt64LE(BigInt(noteOff), s + 24);
      b.writeBigUInt64LE(BigInt(noteSize), s + 32);
      b.writeBigUInt64LE(4n, s + 48);
    } else {
      b.writeUInt32LE(noteOff, s + 16);
      b.writeUInt32LE(noteSize, s + 20);
      b.writeUInt32LE(4, s + 32);
    }
  }
  return b;
}

/** Header fields of any little-endian ELF image, for corrupting it. */
export class ElfFields {
  readonly is64: boolean;
  constructor(readonly b: Buffer) {
    this.is64 = b[4] === 2;
  }
  get phoff(): number {
    return this.is64 ? Number(this.b.readBigUInt64LE(32)) : this.b.readUInt32LE(28);
  }
  set phoff(v: number) {
    if (this.is64) this.b.writeBigUInt64LE(BigInt(v), 32);
    else this.b.writeUInt32LE(v, 28);
  }
  get phnum(): number {
    return this.b.readUInt16LE(this.is64 ? 56 : 44);
  }
  get phentsize(): number {
    return this.b.readUInt16LE(this.is64 ? 54 : 42);
  }
  /** Offset of program header i. */
  ph(i: number): number {
    return this.phoff + i * this.phentsize;
  }
  phType(i: number): number {
    return this.b.readUInt32LE(this.ph(i));
  }
  /** Index of the first PT_LOAD. */
  firstLoad(): number {
    for (let i = 0; i < this.phnum; i++) if (this.phType(i) === 1) return i;
    throw new Error('no PT_LOAD');
  }
  private field(i: number, off32: number, off64: number, v: bigint): void {
    const p = this.ph(i);
    if (this.is64) this.b.writeBigUInt64LE(v, p + off64);
    else this.b.writeUInt32LE(Number(v & 0xffffffffn), p + off32);
  }
  private read(i: number, off32: number, off64: number): bigint {
    const p = this.ph(i);
    return this.is64 ? this.b.readBigUInt64LE(p + off64) : BigInt(this.b.readUInt32LE(p + off32));
  }
  setOffset(i: number, v: bigint): void {
    this.field(i, 4, 8, v);
  }
  setPaddr(i: number, v: bigint): void {
    this.field(i, 12, 24, v);
  }
  offset(i: number): bigint {
    return this.read(i, 4, 8);
  }
  filesz(i: number): bigint {
    return this.read(i, 16, 32);
  }
  memsz(i: number): bigint {
    return this.read(i, 20, 40);
  }
  setFilesz(i: number, v: bigint): void {
    this.field(i, 16, 32, v);
  }
  setMemsz(i: number, v: bigint): void {
    this.field(i, 20, 40, v);
  }
}

/** Replace every "Xen" type 18 note header's type so the image has no PVH entry note. */
export function removePvhNote(b: Buffer): number {
  let count = 0;
  const pattern = Buffer.from([4, 0, 0, 0]);
  for (let p = b.indexOf(pattern); p >= 0 && p + 16 <= b.length; p = b.indexOf(pattern, p + 1)) {
    if (b.readUInt32LE(p + 8) === 18 && b.toString('latin1', p + 12, p + 16) === 'Xen\0') {
      b.writeUInt32LE(0x4242, p + 8);
      count++;
    }
  }
  return count;
}

export interface Spawned {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run bin/ringside with arguments. */
export function ringside(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Spawned {
  const r = spawnSync(process.execPath, [...nodeArgs, RINGSIDE, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The lines of a text, without a final empty one. */
export function lines(text: string): string[] {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}
