// What an emitter (emit/*.ts) works with when it spells one instruction as JavaScript for a
// compiled block (blocks.ts), and the operand spellings every emitter shares: registers,
// effective addresses and the TLB fast path of a memory access.
//
// An emitter returns the instruction's fast path and, where the fast path has a
// precondition (a TLB hit, an aligned access, a canonical target), that condition; when
// the condition fails the block calls the row's own semantics instead (the slow path),
// which raises whatever fault is due. So a fast path never faults: it only runs when
// the instruction would complete, and then it must do exactly what the semantics do.
//
// The names emitted code may use are the block's locals (blocks.ts PROLOGUE):
//   cpu, lo, hi             the CPU and its register halves (Int32Arrays)
//   b                       the block's first RIP (a linear address)
//   tag, phys, RD, WR       TLB tags and physical pages, and the tag offsets for this CPL
//   view, bytes, mark, RAM  guest RAM as a DataView and bytes, code-page marks, RAM size
//   eS, eH, vpn, slot, pa   an address: low part (its low 12 bits are the page offset),
//                           high half, page number (NaN: not canonical), TLB slot, physical
//   x, xh, y, yh, r, rh, c, ci   value scratch
//   fa ... fu               the flags (emit/flags.ts)
//   nx                      the RIP a branch continues at

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { FS, GS } from '../../arch/descriptors.js';
import { TLB_MASK } from '../tlb.js';
import type { FlagState } from './flags.js';

export interface Gen {
  /** The CPU the block is compiled for: its vendor table, never its changing state. */
  readonly cpu: Cpu;
  /** The RIP after this instruction, as an expression. */
  readonly next: string;
  /** A name for a constant the emitted code needs (a function, a table). */
  ref(value: unknown): string;
  /** CF before this instruction, as 0 or 1. */
  carry(): string;
  /** OF before this instruction, as a boolean. */
  overflow(): string;
  /** Condition code `cc` on the flags before this instruction, as a boolean. */
  condition(cc: number): string;
}

export interface Emitted {
  /** Condition under which `fast` is exact; absent: always. It may assign scratch locals
   *  (address, loaded values) for `fast` to use, but must change nothing else. */
  when?: string;
  /** The instruction's effect when `when` holds. A branch sets `nx`. */
  fast: string;
  /** The instruction accesses memory or may otherwise fault: RIP and the instruction
   *  count are made exact before it. */
  faults: boolean;
  /** The flags `fast` leaves in the flag locals (emit/flags.ts); absent: it writes none. */
  flags?: FlagState;
}

/** Spell one instruction inline, or null to have the block call its semantics. */
export type Emitter = (g: Gen, i: Insn) => Emitted | null;

const TWO32 = 4294967296;
const CANON48 = 2 ** 47;

// ---------------------------------------------------------------- registers

/** The low half of a register operand of `size` bytes, as a value zero-extended into an
 *  int32 (cpu.getReg's encoding: r 16-19 are AH, CH, DH, BH). */
export function readReg(r: number, size: number): string {
  if (size === 1) return r < 16 ? `(lo[${r}] & 255)` : `((lo[${r - 16}] >> 8) & 255)`;
  if (size === 2) return `(lo[${r}] & 65535)`;
  return `lo[${r}]`;
}

/** The high half of a register operand (0 below 64 bits). */
export function readRegHi(r: number, size: number): string {
  return size === 8 ? `hi[${r}]` : '0';
}

/** Write a register of `size` bytes as cpu.setReg does: 8/16-bit writes merge, 32-bit
 *  writes zero-extend (SDM Vol. 1 §3.4.1.1). */
export function writeReg(r: number, size: number, v: string, vh: string): string {
  switch (size) {
    case 1: return r < 16 ? `lo[${r}] = (lo[${r}] & ~255) | (${v} & 255);` : `lo[${r - 16}] = (lo[${r - 16}] & ~65280) | ((${v} & 255) << 8);`;
    case 2: return `lo[${r}] = (lo[${r}] & ~65535) | (${v} & 65535);`;
    case 4: return `lo[${r}] = ${v}; hi[${r}] = 0;`;
    default: return `lo[${r}] = ${v}; hi[${r}] = ${vh};`;
  }
}

// ---------------------------------------------------------------- addresses

/** The page number of (eS, eH) if eH makes it 48-bit canonical, else NaN (matches no TLB
 *  tag, so the slow path takes it: #GP/#SS, or a 57-bit canonical address under LA57). */
const PAGE = `vpn = ((eH << 16) >> 16) === eH ? eH * 1048576 + (eS >>> 12) : NaN`;

/** An expression (true) setting eS, eH and vpn to the linear address of the memory operand, as
 *  cpu.ea computes it. Null for forms only the semantics handle (address-size override,
 *  RIP-relative with FS/GS). */
export function effectiveAddress(g: Gen, i: Insn): string | null {
  if (i.asz !== 8) return null;
  const segmented = i.seg === FS || i.seg === GS;
  if (i.base === 16) {
    if (segmented) return null;
    return `(eS = ${g.next} + ${i.dispLo | 0}, vpn = eS >= ${-CANON48} && eS < ${CANON48} ? Math.floor(eS / 4096) : NaN, true)`;
  }
  const sum: string[] = [`${i.dispLo >>> 0}`];
  const high: string[] = [`${i.dispHi}`];
  if (i.base >= 0) { sum.push(`(lo[${i.base}] >>> 0)`); high.push(`hi[${i.base}]`); }
  if (i.index >= 0) {
    sum.push(i.scale === 0 ? `(lo[${i.index}] >>> 0)` : `(lo[${i.index}] >>> 0) * ${1 << i.scale}`);
    high.push(i.scale === 0 ? `hi[${i.index}]` : `(hi[${i.index}] << ${i.scale})`);
  }
  if (segmented) { sum.push(`(cpu.segEffLo[${i.seg}] >>> 0)`); high.push(`cpu.segEffHi[${i.seg}]`); }
  // The low halves add up to less than 2^36, exactly; their carry goes to the high half.
  const carry = sum.length === 2 && i.index < 0 ? `(eS > ${TWO32 - 1} ? 1 : 0)` : `((eS * ${2 ** -32}) | 0)`;
  return `(eS = ${sum.join(' + ')}, eH = (${high.join(' + ')} + ${carry}) | 0, ${PAGE}, true)`;
}

/** The TLB look-up of the address for the tag offset `kind` (RD or WR): a hit assigns
 *  `pa`. Accesses aligned to their size cannot cross a page or raise #AC; only those take
 *  the fast path. Addresses past RAM (MMIO) take the slow path. */
function translate(kind: string, size: number): string {
  const aligned = size === 1 ? '' : ` && (eS & ${size - 1}) === 0`;
  return `tag[${kind} + (slot = vpn & ${TLB_MASK})] === vpn${aligned} && (pa = phys[slot] + (eS & 4095)) < RAM`;
}

/** Condition: the address can be read with `size` bytes by the fast path. */
export function canRead(size: number): string {
  return translate('RD', size);
}

/** Condition: the address can be written by the fast path: a write hit on a page holding
 *  no decoded code (a store there must drop the decodes and end the block: slow path). */
export function canWrite(size: number): string {
  return `${translate('WR', size)} && mark[pa >>> 12] === 0`;
}

/** Condition: the address can be read and then written (read-modify-write). */
export function canUpdate(size: number): string {
  return `${translate('WR', size)} && tag[RD + slot] === vpn && mark[pa >>> 12] === 0`;
}

/** Load `size` bytes at `pa` into (v, vh) (vh only for 8), zero-extended like cpu.read. */
export function load(size: number, v: string, vh: string): string {
  switch (size) {
    case 1: return `${v} = bytes[pa];`;
    case 2: return `${v} = view.getUint16(pa, true);`;
    case 4: return `${v} = view.getInt32(pa, true);`;
    default: return `${v} = view.getInt32(pa, true); ${vh} = view.getInt32(pa + 4, true);`;
  }
}

/** Store (v, vh) as `size` bytes at `pa`. */
export function store(size: number, v: string, vh: string): string {
  switch (size) {
    case 1: return `bytes[pa] = ${v};`;
    case 2: return `view.setUint16(pa, ${v}, true);`;
    case 4: return `view.setInt32(pa, ${v}, true);`;
    default: return `view.setInt32(pa, ${v}, true); view.setInt32(pa + 4, ${vh}, true);`;
  }
}

/** The address of the 64-bit stack top after pushing `size` bytes (cpu.push in 64-bit
 *  mode: SS's base is 0); eS/eH are the new RSP. */
export function pushAddress(size: number): string {
  return `(eS = (lo[4] >>> 0) - ${size}, eH = eS < 0 ? (hi[4] - 1) | 0 : hi[4], ${PAGE}, true)`;
}

/** The address of the 64-bit stack top (cpu.peek(size, 0)). */
export function topAddress(): string {
  return `(eS = lo[4] >>> 0, eH = hi[4], ${PAGE}, true)`;
}

/** Pop: RSP += size, as cpu.adjustSp in 64-bit mode. */
export function popStack(size: number): string {
  return `c = (lo[4] >>> 0) + ${size}; lo[4] = c | 0; if (c > ${TWO32 - 1}) hi[4] = (hi[4] + 1) | 0;`;
}

/** Condition: the 64-bit target (x, xh) is canonical; assigns nx (cpu.jumpTo with size 8). */
export function canonicalTarget(x: string, xh: string): string {
  return `((${xh} << 16) >> 16) === ${xh} && (nx = ${xh} * ${TWO32} + (${x} >>> 0), true)`;
}

/** Condition: nx, just assigned a relative target, is canonical (cpu.jumpRel). */
export const NX_CANONICAL = `nx >= ${-CANON48} && nx < ${CANON48}`;
