// Comparing what the hardware did with what the model did: every GPR, the flags a
// user program can see (undefined ones only on the calibrated host), the selectors,
// every scratch byte, RIP, and for a fault the signal Linux made of the exception.
//
// Exception to signal, as Linux x86-64 delivers them to user space (arch/x86/kernel/traps.c,
// arch/x86/mm/fault.c): #DE SIGFPE/FPE_INTDIV; #DB (INT1) and #BP SIGTRAP; #OF SIGSEGV;
// #UD SIGILL/ILL_ILLOPN; #NP, #SS SIGBUS; #GP SIGSEGV/SI_KERNEL; #PF SIGSEGV with
// SEGV_MAPERR (not present) or SEGV_ACCERR (protection) and si_addr = CR2; #AC SIGBUS.
// The signal context also carries the vector (trapno) and the error code, which are
// compared too (for #PF on a kernel-half address Linux reports a protection fault
// whatever the P bit was, so P is not compared there). Null selectors compare equal
// whatever their RPL: the host kernel reloads them as 0 when it is entered.

import { EndKind, COMPARED_FLAGS, GPR_NAMES, hex64, SCRATCH_SIZE, type HostOutcome, type Range } from './layout.js';
import type { ModelOutcome } from './model.js';
import { MNEMONIC as VECTOR_NAMES } from '../../arch/vectors.js';
import { SEG_NAMES } from '../../arch/descriptors.js';

export const SIGNALS: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV', 14: 'SIGALRM' };

/** The signal and si_code Linux delivers for an exception raised at CPL 3. */
export function expectedSignal(vector: number, error: number): { signo: number; code: number } {
  switch (vector) {
    case 0: return { signo: 8, code: 1 }; // FPE_INTDIV
    case 1: return { signo: 5, code: 1 }; // TRAP_BRKPT (INT1: no DR6 bits)
    case 3: return { signo: 5, code: 0x80 };
    case 4: return { signo: 11, code: 0x80 };
    case 6: return { signo: 4, code: 2 }; // ILL_ILLOPN
    case 11: case 12: return { signo: 7, code: 0x80 };
    case 13: return { signo: 11, code: 0x80 };
    case 14: return { signo: 11, code: (error & 1) !== 0 ? 2 : 1 }; // SEGV_ACCERR / SEGV_MAPERR
    case 17: return { signo: 7, code: 1 }; // BUS_ADRALN
    default: return { signo: -1, code: 0 };
  }
}

const FLAG_NAMES: [number, string][] = [[0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x100, 'TF'],
  [0x200, 'IF'], [0x400, 'DF'], [0x800, 'OF'], [0x3000, 'IOPL'], [0x4000, 'NT'], [0x40000, 'AC'], [0x200000, 'ID']];

export function flagNames(v: number): string {
  return FLAG_NAMES.filter(([b]) => (v & b) !== 0).map(([, n]) => n).join(' ') || '-';
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function linear(n: number): bigint {
  return BigInt.asUintN(64, BigInt(n));
}

function hexBig(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** Scratch bytes that differ from the image: offsets (ascending) and values. */
export interface Changes {
  offs: Uint16Array;
  vals: Uint8Array;
}

const NO_CHANGES: Changes = { offs: new Uint16Array(0), vals: new Uint8Array(0) };

/** The changes the host reported (its ranges may include unchanged bytes). */
export function hostChanges(image: Uint8Array, ranges: readonly Range[]): Changes {
  if (ranges.length === 0) return NO_CHANGES;
  let n = 0;
  for (const r of ranges) n += r.bytes.length;
  const offs = new Uint16Array(n), vals = new Uint8Array(n);
  let k = 0;
  for (const r of ranges) {
    for (let i = 0; i < r.bytes.length; i++) {
      const at = r.offset + i;
      if (r.bytes[i] !== image[at]) { offs[k] = at; vals[k] = r.bytes[i]; k++; }
    }
  }
  return { offs: offs.subarray(0, k), vals: vals.subarray(0, k) };
}

/** The model's changes, found by comparing its scratch with the image. */
export function modelChanges(image: Uint8Array, scratch: Uint8Array): Changes {
  const a = new Int32Array(scratch.buffer, scratch.byteOffset, SCRATCH_SIZE / 4);
  const b = new Int32Array(image.buffer, image.byteOffset, SCRATCH_SIZE / 4);
  let n = 0;
  for (let w = 0; w < a.length; w++) if (a[w] !== b[w]) n++;
  if (n === 0) return NO_CHANGES;
  const offs = new Uint16Array(n * 4), vals = new Uint8Array(n * 4);
  let k = 0;
  for (let w = 0; w < a.length; w++) {
    if (a[w] === b[w]) continue;
    for (let i = w * 4; i < w * 4 + 4; i++) {
      if (scratch[i] !== image[i]) { offs[k] = i; vals[k] = scratch[i]; k++; }
    }
  }
  return { offs: offs.subarray(0, k), vals: vals.subarray(0, k) };
}

/** As ranges (for the minimiser's patches). */
export function changesToRanges(c: Changes): Range[] {
  const out: Range[] = [];
  for (let i = 0; i < c.offs.length;) {
    let j = i;
    while (j + 1 < c.offs.length && c.offs[j + 1] === c.offs[j] + 1) j++;
    out.push({ offset: c.offs[i], bytes: c.vals.slice(i, j + 1) });
    i = j + 1;
  }
  return out;
}

/** The model's changed bytes as ranges. */
export function modelRanges(image: Uint8Array, scratch: Uint8Array): Range[] {
  return changesToRanges(modelChanges(image, scratch));
}

export interface CompareOptions {
  /** The host is the CPU undefined.ts was calibrated on: compare undefined values too. */
  calibrated: boolean;
}

/** The differences between the hardware's and the model's outcome of one case (empty: agree). */
export function compareOutcomes(image: Uint8Array, h: HostOutcome, m: ModelOutcome, mChanges: Changes | readonly Range[],
  opts: CompareOptions): string[] {
  const diffs: string[] = [];
  if (m.kind === EndKind.ModelError) {
    diffs.push(`model error: ${m.message}`);
    return diffs;
  }
  if (h.kind === EndKind.Timeout || m.kind === EndKind.Timeout) {
    if (h.kind !== m.kind) diffs.push(`end: host ${h.kind === EndKind.Timeout ? 'timed out' : 'ended'}, model ${m.kind === EndKind.Timeout ? 'did not end' : 'ended'}`);
    return diffs;
  }
  // How it ended.
  if (h.kind !== m.kind) {
    diffs.push(`end: host ${describeHost(h)}, model ${describeModel(m)}`);
  } else if (h.kind === EndKind.Fault) {
    const want = expectedSignal(m.vector, m.error);
    const kernelHalf = m.vector === 14 && m.cr2 < 0;
    if (h.signo !== want.signo || h.siCode !== want.code || h.trapno !== m.vector) {
      diffs.push(`fault: host ${describeHost(h)}, model ${describeModel(m)}`);
    } else {
      const errMask = kernelHalf ? ~1 : ~0;
      if (V_ERRCODE.has(m.vector) && ((h.err ^ m.error) & errMask & 0xffff) !== 0) {
        diffs.push(`error code: host 0x${h.err.toString(16)}, model 0x${m.error.toString(16)}`);
      }
      if (m.vector === 14 && h.siAddr !== linear(m.cr2)) diffs.push(`fault address: host ${hexBig(h.siAddr)}, model CR2 ${hexBig(linear(m.cr2))}`);
    }
  }
  if (h.rip !== linear(m.rip)) diffs.push(`rip: host ${hexBig(h.rip)}, model ${hexBig(linear(m.rip))}`);
  // Registers.
  for (let r = 0; r < 16; r++) {
    if ((m.undefRegs & (1 << r)) !== 0 && !opts.calibrated) continue;
    const hl = h.regs[2 * r], hh = h.regs[2 * r + 1], ml = m.regs[2 * r], mh = m.regs[2 * r + 1];
    if (hl !== ml || hh !== mh) diffs.push(`${GPR_NAMES[r]}: host ${hex64(hl, hh)}, model ${hex64(ml, mh)}`);
  }
  const mask = COMPARED_FLAGS & ~(opts.calibrated ? 0 : m.undefFlags);
  const hf = h.regs[32] & mask, mf = m.regs[32] & mask;
  if (hf !== mf) diffs.push(`rflags: host ${flagNames(hf)}, model ${flagNames(mf)} (differ: ${flagNames(hf ^ mf)})`);
  for (let s = 0; s < 6; s++) {
    // A null selector's RPL does not survive a trip through the host kernel (an interrupt
    // or the signal delivery itself reloads it as 0): null compares with null.
    if ((h.sel[s] & ~3) === 0 && (m.sel[s] & ~3) === 0) continue;
    if (h.sel[s] !== m.sel[s]) diffs.push(`${SEG_NAMES[s]}: host 0x${h.sel[s].toString(16)}, model 0x${m.sel[s].toString(16)}`);
  }
  // Memory.
  const hc = hostChanges(image, h.ranges);
  const mc = Array.isArray(mChanges) ? hostChanges(image, mChanges as Range[]) : mChanges as Changes;
  const masked = (at: number): boolean => !opts.calibrated && m.undefMem.some(([o, n]) => at >= o && at < o + n);
  const bad: [number, number, number][] = [];
  let i = 0, j = 0;
  while (i < hc.offs.length || j < mc.offs.length) {
    const ho = i < hc.offs.length ? hc.offs[i] : 1 << 30, mo = j < mc.offs.length ? mc.offs[j] : 1 << 30;
    if (ho === mo) {
      if (hc.vals[i] !== mc.vals[j] && !masked(ho)) bad.push([ho, hc.vals[i], mc.vals[j]]);
      i++; j++;
    } else if (ho < mo) {
      if (!masked(ho)) bad.push([ho, hc.vals[i], image[ho]]);
      i++;
    } else {
      if (!masked(mo)) bad.push([mo, image[mo], mc.vals[j]]);
      j++;
    }
  }
  if (bad.length > 0) {
    const show = bad.slice(0, 8).map(([at, hv, mv]) =>
      `+0x${at.toString(16)}: host ${hv.toString(16).padStart(2, '0')} model ${mv.toString(16).padStart(2, '0')}`);
    diffs.push(`memory: ${bad.length} byte(s) differ: ${show.join(', ')}${bad.length > 8 ? ', ...' : ''}`);
  }
  return diffs;
}

const V_ERRCODE = new Set([10, 11, 12, 13, 14, 17]);

export function describeHost(h: HostOutcome): string {
  if (h.kind === EndKind.End) return 'ran to the end';
  if (h.kind === EndKind.Timeout) return 'timed out';
  const name = SIGNALS[h.signo] ?? `signal ${h.signo}`;
  return `${name} (si_code ${h.siCode}, trapno ${h.trapno}, err 0x${h.err.toString(16)}, addr ${hexBig(h.siAddr)}) at ${hexBig(h.rip)}`;
}

export function describeModel(m: ModelOutcome): string {
  if (m.kind === EndKind.End) return 'ran to the end';
  if (m.kind === EndKind.Timeout) return 'did not end';
  if (m.kind === EndKind.ModelError) return `model error (${m.message})`;
  const name = VECTOR_NAMES[m.vector] ?? `vector ${m.vector}`;
  const err = V_ERRCODE.has(m.vector) ? `(0x${m.error.toString(16)})` : '';
  const cr2 = m.vector === 14 ? ` CR2 ${hexBig(linear(m.cr2))}` : '';
  return `${name}${err}${cr2} at ${hexBig(linear(m.rip))}`;
}

export { u64 };
