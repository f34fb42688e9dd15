// The guest instructions around an address, for the ABI diff's first difference
// (docs/architecture.md, "The ABI diff"): read from the image's loaded segments, decoded by
// iced-x86 from the start of the symbol that holds the address, so that the lines before
// it fall on real instruction boundaries.
//
// Deviations: code the guest writes at run time (not in the image file) is not shown; an
// address whose symbol starts more than WINDOW_REACH bytes before it, or that the decode
// from the symbol does not land on, is shown from the address on.

import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import type { ImageSegment } from '../machine/image.js';
import type { SymbolTable } from '../guest/elf-symbols.js';

/** How far before the address a symbol may start and still be decoded from. */
const WINDOW_REACH = 0x1000n;
/** An instruction's longest encoding (SDM Vol. 2A §2.3.11). */
const MAX_INSTRUCTION = 15n;

export interface CodeLine {
  address: string;
  symbol: string | null;
  text: string;
  /** The instruction at the address asked about. */
  here: boolean;
}

export class CodeImage {
  private readonly formatter = new Formatter(FormatterSyntax.Gas);

  constructor(
    private readonly segments: readonly ImageSegment[],
    private readonly symbols: SymbolTable,
  ) {}

  /** Up to `before` instructions before the one at `address`, it, and `after` after it; null
   *  when the image holds no code there. */
  around(address: bigint, bitness: 16 | 32 | 64, before = 4, after = 2): CodeLine[] | null {
    const segment = this.segments.find((s) => address >= s.vaddr && address < s.vaddr + BigInt(s.data.length));
    if (segment === undefined) return null;
    const symbol = this.symbols.containing(address);
    let start = symbol !== null && address - symbol.address <= WINDOW_REACH && symbol.address >= segment.vaddr ? symbol.address : address;
    let lines = this.decode(segment, start, address, bitness, after);
    if (!lines.some((l) => l.here)) {
      start = address;
      lines = this.decode(segment, start, address, bitness, after);
    }
    const at = lines.findIndex((l) => l.here);
    return at < 0 ? null : lines.slice(Math.max(0, at - before), at + after + 1);
  }

  private decode(segment: ImageSegment, start: bigint, address: bigint, bitness: 16 | 32 | 64, after: number): CodeLine[] {
    const from = Number(start - segment.vaddr);
    const to = Math.min(segment.data.length, Number(address - segment.vaddr + MAX_INSTRUCTION * BigInt(after + 1)));
    const decoder = new Decoder(bitness, segment.data.subarray(from, to), DecoderOptions.None);
    decoder.ip = start;
    const lines: CodeLine[] = [];
    let afterCount = -1;
    while (decoder.canDecode && afterCount < after) {
      const insn = decoder.decode();
      const ip = insn.ip;
      if (ip > address && afterCount < 0) break; // the address is not on a boundary from here
      const here = ip === address;
      if (afterCount >= 0) afterCount++;
      if (here) afterCount = 0;
      lines.push({
        address: '0x' + ip.toString(16).padStart(16, '0'),
        symbol: this.symbols.name(ip),
        text: insn.isInvalid ? '(bad)' : this.formatter.format(insn),
        here,
      });
      insn.free();
    }
    decoder.free();
    return lines;
  }
}
