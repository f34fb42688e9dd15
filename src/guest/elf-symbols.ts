// An ELF image's symbol table, to name addresses in traces (`entry_SYSCALL_64+0x1c`).
//
// Unlike the loader (elf.ts), nothing here may make an image unusable: a stripped image,
// or one whose section headers or symbol table are damaged, simply has no symbols (or the
// ones read before the damage). Cold path: BigInt for every address.

const SHT_SYMTAB = 2;
const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2;
const SHN_UNDEF = 0, SHN_LORESERVE = 0xff00;

export interface ElfSymbol {
  name: string;
  address: bigint;
  size: bigint;
}

/** Symbols sorted by address, each with the end of the section that holds it. */
export class SymbolTable {
  private readonly entries: Array<ElfSymbol & { sectionEnd: bigint }>;

  constructor(entries: Array<ElfSymbol & { sectionEnd: bigint }>) {
    this.entries = [...entries].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  get size(): number {
    return this.entries.length;
  }

  /** `name` or `name+0xoff`: the nearest symbol at or below the address, within its
   *  section; null when there is none. */
  name(address: bigint): string | null {
    const best = this.containing(address);
    if (best === null) return null;
    const off = address - best.address;
    return off === 0n ? best.name : `${best.name}+0x${off.toString(16)}`;
  }

  /** The nearest symbol at or below the address, within its section, or null. */
  containing(address: bigint): ElfSymbol | null {
    let lo = 0, hi = this.entries.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].address <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return null;
    // Of several symbols at one address, prefer one with a size (a function) over a label.
    let best = this.entries[found];
    for (let k = found - 1; k >= 0 && this.entries[k].address === best.address; k--) if (best.size === 0n && this.entries[k].size > 0n) best = this.entries[k];
    if (address >= best.sectionEnd) return null;
    return { name: best.name, address: best.address, size: best.size };
  }
}

/** The functions, objects and labels of an ELF32/ELF64 little-endian file's SHT_SYMTAB. */
export function readSymbols(bytes: Uint8Array): SymbolTable {
  const out: Array<ElfSymbol & { sectionEnd: bigint }> = [];
  try {
    collect(bytes, out);
  } catch {
    // A damaged table: the symbols read before the damage (RangeError from DataView).
  }
  return new SymbolTable(out);
}

function collect(bytes: Uint8Array, out: Array<ElfSymbol & { sectionEnd: bigint }>): void {
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46 || bytes[5] !== 1) return;
  const is64 = bytes[4] === 2;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (off: number): bigint => (is64 ? v.getBigUint64(off, true) : BigInt(v.getUint32(off, true)));
  const shoff = Number(word(is64 ? 40 : 32));
  const shentsize = v.getUint16(is64 ? 58 : 46, true);
  const shnum = v.getUint16(is64 ? 60 : 48, true);
  if (shoff === 0 || shnum === 0 || shentsize < (is64 ? 64 : 40)) return;
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return is64
      ? { type: v.getUint32(o + 4, true), addr: v.getBigUint64(o + 16, true), offset: Number(v.getBigUint64(o + 24, true)), size: Number(v.getBigUint64(o + 32, true)), link: v.getUint32(o + 40, true), entsize: Number(v.getBigUint64(o + 56, true)) }
      : { type: v.getUint32(o + 4, true), addr: BigInt(v.getUint32(o + 12, true)), offset: v.getUint32(o + 16, true), size: v.getUint32(o + 20, true), link: v.getUint32(o + 24, true), entsize: v.getUint32(o + 36, true) };
  };
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB || symtab.link >= shnum) continue;
    const strtab = section(symtab.link);
    const entsize = symtab.entsize >= (is64 ? 24 : 16) ? symtab.entsize : is64 ? 24 : 16;
    const end = Math.min(symtab.offset + symtab.size, bytes.length);
    for (let o = symtab.offset; o + entsize <= end; o += entsize) {
      const nameOff = v.getUint32(o, true);
      const info = is64 ? bytes[o + 4] : bytes[o + 12];
      const shndx = v.getUint16(is64 ? o + 6 : o + 14, true);
      const type = info & 0xf;
      if (type !== STT_NOTYPE && type !== STT_OBJECT && type !== STT_FUNC) continue;
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= shnum) continue;
      const name = cString(bytes, strtab.offset + nameOff, strtab.offset + strtab.size);
      if (name === '' || name.startsWith('.L')) continue;
      const home = section(shndx);
      out.push({
        name,
        address: is64 ? v.getBigUint64(o + 8, true) : BigInt(v.getUint32(o + 4, true)),
        size: is64 ? v.getBigUint64(o + 16, true) : BigInt(v.getUint32(o + 8, true)),
        sectionEnd: home.addr + BigInt(home.size),
      });
    }
  }
}

function cString(bytes: Uint8Array, start: number, limit: number): string {
  let s = '';
  for (let p = start; p < Math.min(limit, bytes.length) && bytes[p] !== 0; p++) s += String.fromCharCode(bytes[p]);
  return s;
}
