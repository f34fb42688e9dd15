// Random instruction sequences from the opcode table (src/cpu/opcodes.ts), for the
// hardware oracle. Each instruction is built from its table entry with random
// operands: prefixes (operand and address size, REP, segment, LOCK, redundant ones,
// now and then too many of them), REX bits the entry allows, a random ModRM/SIB form
// — register, or memory aimed into the scratch region (base/index values chosen so
// the effective address lands there, often near a page boundary, now and then just
// outside) — and immediates. The bytes are decoded back with the model's decoder to
// check they are the entry meant.
//
// The generator reasons statically about the sequence it builds: which registers an
// earlier instruction may have written (a later memory operand is aimed through
// registers nobody wrote), where RSP is (RET, IRET, POPF and far returns pop values it
// put on the stack: a later instruction of the sequence as the return address, an
// RFLAGS image without TF or AC), and — on a host other than the one src/cpu/undefined.ts
// was calibrated on — which status flags may be undefined, so that no instruction reads
// one (and an instruction whose destination may be undefined comes last).
//
// Branches are harmless by construction: every relative branch, and every indirect or
// far transfer, targets the start of a later instruction of the same sequence, or its end.

import { ENTRIES, type DecodedEntry } from '../../cpu/opcodes.js';
import {
  CODE_ADDR, SCRATCH_ADDR, SCRATCH_SIZE, CASE_FSGS, type Case, type InsnInfo, type Patch,
} from './layout.js';
import { mayLeaveUndefinedDest, mayLeaveUndefinedFlags, alwaysDefines, staticReads } from './undefined-spec.js';
import { recipeOf, genOf, type StringForm } from './recipes.js';

// ---------------------------------------------------------------- random numbers

/** sfc32: small, fast, deterministic from a seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9; this.b = 0x243f6a88; this.c = 0xb7e15162; this.d = seed | 0;
    for (let k = 0; k < 16; k++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

// ---------------------------------------------------------------- opcode rows

// ---------------------------------------------------------------- sequence state

const RSP = 4;

/** Rows whose implicit memory operand is the stack (in scratch). */
export function stackOp(e: DecodedEntry): boolean {
  return recipeOf(e).stack === true;
}

/** Rows whose implicit memory operand is addressed by registers or an offset (in scratch). */
export function implicitMemory(e: DecodedEntry): boolean {
  return recipeOf(e).implicitMem === true;
}

/** Selectors for data-segment loads: valid, null, privileged, system, past the GDT limit, LDT. */
const DATA_SELECTORS = [0x2b, 0x2b, 0x2b, 0x2b, 0x28, 0x29, 0x2a, 0, 0, 1, 3, 0x33, 0x23, 0x7b, 0x08, 0x10, 0x18, 0x38, 0x40, 0x50, 0x60, 0x80, 0xfff8, 0x04, 0x2f];
/** Selectors for far transfers (never 0x23, which would switch to compatibility mode). */
const CODE_SELECTORS = [0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x30, 0x31, 0x2b, 0x10, 0x08, 0, 0x80, 0x37, 0x7b];

export interface GeneratorOptions {
  /** The host is an Intel CPU: vendor-specific encodings are generated too. */
  intel: boolean;
  /** The host is the CPU undefined.ts was calibrated on: undefined values may be read. */
  calibrated: boolean;
  fsBase: bigint;
  gsBase: bigint;
  /** Decode bytes with the model's decoder: the entry index and length, or null. */
  decode: (bytes: Uint8Array) => { entry: number; length: number; valid: boolean } | null;
  /** INT n vectors whose host behaviour is not the plain gate-DPL rule (found by probing). */
  badIntVectors?: ReadonlySet<number>;
}

interface Slot {
  entry: DecodedEntry;
  bytes: number[];
  /** Position of a rel8/rel32 to fix, its size, and the instructions it skips. */
  relAt: number;
  relSize: number;
  skip: number;
  /** Position of a RIP-relative disp32 and its target. */
  ripAt: number;
  ripTarget: number;
  /** Fixups that need the layout (return addresses written into memory or registers). */
  fix: ((target: number) => void) | null;
  memory: boolean;
}

interface Snapshot {
  regs: number[];
  assigned: number;
  touched: number;
  rsp: number | null;
  patches: number;
  undef: number;
  fsgsLoad: boolean;
  fsgsPrefix: boolean;
  joins: number;
  df: boolean;
  iretSp: number | null;
  written: number | null;
}

interface Saved {
  rsp: number | null;
  undef: number;
  touched: number;
}

const TWO32 = 4294967296;
const BOUNDARY_VALUES: readonly [number, number][] = [[0, 0], [1, 0], [-1, -1], [0x7f, 0], [0x80, 0], [0xff, 0], [0x7fff, 0],
  [0x8000, 0], [0xffff, 0], [0x7fffffff, 0], [0x80000000, 0], [-1, 0], [0, 1], [-1, 0x7fffffff], [0, 0x80000000], [-2, -1], [0x80, -1]];

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Fits a signed value in `bytes` bytes? */
function fits(v: bigint, bytes: number): boolean {
  const lim = 1n << BigInt(bytes * 8 - 1);
  return v >= -lim && v < lim;
}

export class Generator {
  private readonly rng: Rng;
  private readonly opts: GeneratorOptions;
  private readonly pool: readonly number[];

  // Per sequence.
  private regs: number[] = new Array<number>(34).fill(0);
  private assigned = 0;
  private touched = 0;
  private rsp: number | null = null;
  /** Scratch bytes the initial state must have: (offset, value) pairs, later ones win. */
  private patches: number[] = [];
  private undef = 0;
  private fsgsLoad = false;
  private fsgsPrefix = false;
  private df = false;
  private joins: { at: number; saved: Saved }[] = [];
  /** Scratch ranges [start, end) earlier instructions may write at run time; null: anywhere.
   *  A value the generator plants for a later read (a return address, an RFLAGS image, a
   *  far pointer) must not be in one of them. */
  private written: [number, number][] | null = [];

  constructor(rng: Rng, pool: readonly number[], opts: GeneratorOptions) {
    this.rng = rng;
    this.pool = pool;
    this.opts = opts;
  }

  /** One case whose first instruction is `first` (an ENTRIES index); the rest random. */
  next(first: number): Case {
    const rng = this.rng;
    for (let attempt = 0; ; attempt++) {
      this.reset();
      const r = rng.int(100);
      const want = r < 25 ? 1 : r < 70 ? 2 + rng.int(2) : 4 + rng.int(4);
      const slots: Slot[] = [];
      for (let k = 0; k < want; k++) {
        this.join(k);
        let slot: Slot | null = null;
        for (let tries = 0; tries < 20 && slot === null; tries++) {
          const e = ENTRIES[k === 0 ? first : rng.pick(this.pool)];
          if (!this.allowed(e, k)) { if (k === 0) break; continue; }
          slot = this.build(e, k, want);
        }
        if (slot === null) break;
        slots.push(slot);
        if (!this.opts.calibrated && mayLeaveUndefinedDest(slot.entry, this.lastOsz)) break;
      }
      if (slots.length === 0) {
        if (attempt < 50) continue;
        throw new Error(`oracle generator: cannot build ${ENTRIES[first].def.code} ${ENTRIES[first].def.mnemonic}`);
      }
      return this.layout(slots);
    }
  }

  private reset(): void {
    const rng = this.rng;
    this.regs = new Array<number>(34).fill(0);
    this.assigned = 0;
    this.touched = 0;
    this.patches = [];
    this.undef = 0;
    this.fsgsLoad = false;
    this.fsgsPrefix = false;
    this.joins = [];
    this.written = [];
    // The stack: in the top half of scratch, usually 8-aligned.
    let sp = SCRATCH_ADDR + 0x2000 + rng.int(0x1f00);
    if (rng.chance(0.85)) sp &= ~7;
    this.setReg(RSP, sp, 0);
    this.rsp = sp;
    this.df = rng.chance(0.2);
    const status = rng.u32() & 0x8d5;
    this.regs[32] = status | (this.df ? 0x400 : 0) | 0x202;
  }

  private setReg(r: number, lo: number, hi: number): void {
    this.regs[2 * r] = lo >>> 0;
    this.regs[2 * r + 1] = hi >>> 0;
    this.assigned |= 1 << r;
  }

  private regBig(r: number): bigint {
    return u64(this.regs[2 * r], this.regs[2 * r + 1]);
  }

  /** A register nobody has written yet and no constraint has claimed (not RSP). */
  private freeReg(exclude = 0): number {
    const cands: number[] = [];
    for (let r = 0; r < 16; r++) {
      if (r === RSP || ((this.assigned | this.touched | exclude) & (1 << r)) !== 0) continue;
      cands.push(r);
    }
    return cands.length === 0 ? -1 : this.rng.pick(cands);
  }

  /** The value of a register at this point of the sequence, if the generator knows it. */
  private known(r: number): bigint | null {
    if (r === RSP) return this.rsp === null ? null : BigInt(this.rsp);
    if ((this.touched & (1 << r)) !== 0) return null;
    if ((this.assigned & (1 << r)) === 0) return null;
    return this.regBig(r);
  }

  /** Is [lin, lin+len) free of run-time writes so far? */
  private clean(lin: number, len: number): boolean {
    if (this.written === null) return false;
    for (const [a, b] of this.written) if (lin < b && a < lin + len) return false;
    return true;
  }

  private patch(offset: number, bytes: number[]): void {
    for (let k = 0; k < bytes.length; k++) {
      const at = offset + k;
      if (at >= 0 && at < SCRATCH_SIZE) this.patches.push(at, bytes[k] & 0xff);
    }
  }

  /** Write a little-endian value of `size` bytes at scratch address `lin`. */
  private patchValue(lin: number, size: number, lo: number, hi = 0): void {
    const b: number[] = [];
    for (let k = 0; k < size; k++) b.push(k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff);
    this.patch(lin - SCRATCH_ADDR, b);
  }

  private save(): Saved {
    return { rsp: this.rsp, undef: this.undef, touched: this.touched };
  }

  /** Merge the states of branches that land on instruction k. */
  private join(k: number): void {
    for (const { at, saved: s } of this.joins) {
      if (at !== k) continue;
      if (s.rsp !== this.rsp) this.rsp = null;
      this.undef |= s.undef;
      this.touched |= s.touched;
    }
  }

  private allowed(e: DecodedEntry, k: number): boolean {
    const r = recipeOf(e);
    if (!this.opts.calibrated && (staticReads(e) & this.undef) !== 0) return false;
    if (r.fsgsLoad === true && this.fsgsPrefix) return false;
    if (r.needsRsp === true && this.rsp === null) return false;
    if (r.indirect === true && k > 0 && this.freeReg() < 0) return false;
    return true;
  }

  // ---------------------------------------------------------------- values

  private randomValue(): [number, number] {
    const rng = this.rng;
    const r = rng.int(100);
    if (r < 25) { const v = rng.int(33) - 16; return [v, v >> 31]; }
    if (r < 35) return rng.pick(BOUNDARY_VALUES);
    if (r < 45) return [SCRATCH_ADDR + rng.int(SCRATCH_SIZE), 0];
    if (r < 55) return [rng.u32(), 0];
    return [rng.u32(), rng.u32()];
  }

  private immediate(bytes: number): number[] {
    const rng = this.rng;
    const r = rng.int(100);
    let lo: number, hi: number;
    if (r < 30) { lo = rng.int(33) - 16; hi = lo >> 31; }
    else if (r < 40) {
      const bits = bytes * 8;
      const c = rng.int(4);
      if (bits >= 32) { lo = c === 0 ? 0x7fffffff : c === 1 ? 0x80000000 : c === 2 ? -1 : 0; hi = c === 2 ? -1 : 0; if (bits === 64 && c === 0) hi = 0x7fffffff; }
      else { const max = (1 << (bits - 1)); lo = c === 0 ? max - 1 : c === 1 ? max : c === 2 ? -1 : 0; hi = 0; }
    } else { lo = rng.u32(); hi = rng.u32(); }
    const out: number[] = [];
    for (let k = 0; k < bytes; k++) out.push(k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff);
    return out;
  }

  /** A scratch address for a memory operand of `size` bytes (now and then one that is not). */
  private target(size: number, align = 1): number {
    const rng = this.rng;
    const r = rng.int(100);
    let off: number;
    if (r < 80) off = rng.int(SCRATCH_SIZE - size + 1);
    else if (r < 92) off = (1 + rng.int(SCRATCH_SIZE / 4096 - 1)) * 4096 - rng.int(Math.max(1, size + 2));
    else if (r < 96) off = SCRATCH_SIZE - rng.int(size + 1);
    else off = -1 - rng.int(size);
    if (align > 1 && rng.chance(0.8)) off = Math.max(0, off - (off % align));
    return SCRATCH_ADDR + off;
  }

  // ---------------------------------------------------------------- building one instruction

  private lastOsz = 4;

  private build(e: DecodedEntry, k: number, want: number): Slot | null {
    for (let tries = 0; tries < 8; tries++) {
      const saved = this.snapshot();
      const slot = this.tryBuild(e, k, want);
      if (slot !== null) {
        const got = this.decodeCached(slot);
        // Rows invalid in 64-bit mode decode as #UD (their immediates are not consumed).
        if (got === null ? this.tooLong : e.not64 ? !got.valid : got.entry === e.index && got.length === slot.bytes.length) return slot;
      }
      this.restore(saved);
    }
    return null;
  }

  /** Decoding depends on the prefixes, opcode, ModRM and SIB, not on displacement and
   *  immediate values: results are cached by those bytes and the length. */
  private readonly decodeCache = new Map<string, { entry: number; length: number; valid: boolean } | null>();
  private structureEnd = 0;

  private decodeCached(slot: Slot): { entry: number; length: number; valid: boolean } | null {
    const key = String.fromCharCode(slot.bytes.length, ...slot.bytes.slice(0, this.structureEnd));
    if (this.decodeCache.has(key)) return this.decodeCache.get(key)!;
    const got = this.opts.decode(Uint8Array.from(slot.bytes));
    if (this.decodeCache.size > 200000) this.decodeCache.clear();
    this.decodeCache.set(key, got);
    return got;
  }

  private snapshot(): Snapshot {
    return {
      regs: this.regs.slice(), assigned: this.assigned, touched: this.touched, rsp: this.rsp,
      patches: this.patches.length, undef: this.undef, fsgsLoad: this.fsgsLoad, fsgsPrefix: this.fsgsPrefix,
      joins: this.joins.length, df: this.df, iretSp: this.iretSp,
      written: this.written === null ? null : this.written.length,
    };
  }

  private restore(o: Snapshot): void {
    this.regs = o.regs; this.assigned = o.assigned; this.touched = o.touched; this.rsp = o.rsp;
    this.patches.length = o.patches; this.undef = o.undef; this.fsgsLoad = o.fsgsLoad; this.fsgsPrefix = o.fsgsPrefix;
    this.joins.length = o.joins; this.df = o.df; this.iretSp = o.iretSp;
    if (o.written === null) this.written = null;
    else { if (this.written === null) this.written = []; this.written.length = Math.min(this.written.length, o.written); }
  }

  private tooLong = false;

  private tryBuild(e: DecodedEntry, k: number, want: number): Slot | null {
    const rng = this.rng;
    const rc = recipeOf(e);
    const isString = rc.string !== undefined;
    const isRel = rc.rel === true;
    const f64 = e.size64 === 'f64';
    this.tooLong = false;

    // ---- prefixes
    const legacy: number[] = [];
    let opsize = false, addrsize = false, rep = 0, lock = false, seg = -1;
    if (e.prefix === 0x66) opsize = true;
    else if (e.prefix === 0xf3 || e.prefix === 0xf2) rep = e.prefix;
    else if (e.prefix === -1) {
      if (rng.chance(e.byteOp ? 0.08 : 0.25) && (this.opts.intel || !f64)) opsize = true;
      if (isString) { if (rng.chance(0.5)) rep = rng.chance(0.7) ? 0xf3 : 0xf2; }
      else if (rng.chance(0.04) && rc.noRep !== true) rep = rng.chance(0.5) ? 0xf3 : 0xf2;
      // On this AMD CPU F2/F3 before LOOPE/LOOPNE select the ZF condition (F2: while ZF = 0,
      // F3: while ZF = 1) whatever the opcode says; Intel (and the model) ignore them.
      if (!this.opts.intel && rc.amdNoRep === true) rep = 0;
    }
    // Operands.
    const hasMemForm = e.modrm && e.modrmByte < 0 && e.mod !== 2 && !e.regForm;
    // AMD raises #UD for 0F 0D with a register operand (Intel: NOP); the model is Intel.
    const memOnly = e.mod === 1 || (!this.opts.intel && rc.amdMemOnly === true);
    const useMem = hasMemForm && (memOnly || rng.chance(0.6));
    const implicitMem = rc.implicitMem === true;
    if (rng.chance(useMem || implicitMem || rc.rcxCount === true ? 0.15 : 0.03)) addrsize = true;
    if (useMem || implicitMem) {
      const r = rng.int(100);
      // AMD raises #GP for an FS/GS-relative access whose offset (before the base is added)
      // is not canonical, even when the linear address is; a register bit offset can make
      // it so. Unknown on Intel (the model checks the linear address only).
      const btReg = genOf(e) === 'btReg';
      const canFs = !this.fsgsLoad && rc.fsgsLoad !== true && !(btReg && !this.opts.intel);
      if (r < 8 && canFs && !addrsize) { seg = 0x64; this.fsgsPrefix = true; }
      else if (r < 13 && canFs) { seg = 0x65; this.fsgsPrefix = true; }
      else if (r < 18) seg = rng.pick([0x26, 0x2e, 0x36, 0x3e]);
    }
    if (e.lockable && useMem && rng.chance(0.4)) lock = true;
    else if (rng.chance(0.01) && rc.noLock !== true) lock = true;
    let rex = 0;
    if (rng.chance(0.5) || e.rexW === 1) rex = 0x40 | rng.int(16);
    if (e.rexW === 0) rex &= ~8;
    if (e.rexW === 1) rex |= 8;
    if (e.rexR0) rex &= ~4;
    // AMD executes F3 REX.B 90 as XCHG r8-r15, rAX; Intel (and the model) as PAUSE.
    if (!this.opts.intel && rc.amdNoRexB === true) rex &= ~1;
    if (!this.opts.intel && (rex & 8) !== 0 && rc.amdNoRexW === true) rex &= ~8;

    if (opsize) legacy.push(0x66);
    if (addrsize) legacy.push(0x67);
    if (rep !== 0) legacy.push(rep);
    if (lock) legacy.push(0xf0);
    if (seg >= 0) legacy.push(seg);
    for (let n = rng.chance(0.03) ? 1 + rng.int(3) : 0; n > 0; n--) legacy.push(rng.pick([0x26, 0x2e, 0x36, 0x3e]));
    // Now and then more than 15 bytes in all (#GP(0)) — on AMD only for valid instructions:
    // there, past 15 bytes, an opcode invalid in 64-bit mode (82, D4...) is #GP with its whole
    // length decoded, UD0 (no ModRM on AMD) and UD1 #UD; the model's decoder differs; unknown
    // on Intel.
    const plainValid = typeof e.def.exec === 'function' && !e.not64;
    if (rng.chance(0.01) && (this.opts.intel || plainValid)) for (let n = 0; n < 12; n++) legacy.push(rng.pick([0x26, 0x2e, 0x36, 0x3e]));
    // Shuffle (a mandatory 66/F2/F3 keeps its meaning in any position when it is the only one).
    for (let i = legacy.length - 1; i > 0; i--) { const j = rng.int(i + 1); [legacy[i], legacy[j]] = [legacy[j], legacy[i]]; }

    // ---- operand and address size (SDM Vol. 2 §2.2.1.2)
    let osz: number;
    if (f64) osz = 8;
    else if ((rex & 8) !== 0) osz = 8;
    else if (opsize) osz = 2;
    else osz = e.size64 === 'd64' ? 8 : 4;
    if (e.byteOp) osz = 1;
    this.lastOsz = osz;
    const asz = addrsize ? 4 : 8;

    // ---- opcode
    const bytes: number[] = [...legacy];
    const stackMem = rc.stack === true && !e.not64 && this.rsp !== null;
    const slot: Slot = { entry: e, bytes, relAt: -1, relSize: 0, skip: 0, ripAt: -1, ripTarget: 0, fix: null, memory: useMem || implicitMem || stackMem };
    let op = e.opcode;
    let opReg = -1;
    if (e.opReg) {
      opReg = (op & 7) | ((rex & 1) << 3);
    }
    const rexAt = bytes.length;
    if (rex !== 0) bytes.push(rex);
    if (e.map >= 1) bytes.push(0x0f);
    if (e.map === 2) bytes.push(0x38);
    if (e.map === 3) bytes.push(0x3a);
    bytes.push(op);
    this.structureEnd = bytes.length;

    // ---- ModRM / SIB / displacement
    let regField = -1, rmReg = -1, memTarget = -1;
    if (e.modrm) {
      if (e.modrmByte >= 0) {
        bytes.push(e.modrmByte);
        this.structureEnd = bytes.length;
      } else {
        const reg = e.ext >= 0 ? e.ext : rng.int(8);
        regField = reg | ((rex & 4) << 1);
        if (!useMem) {
          const mod = e.regForm && rng.chance(0.2) ? rng.int(3) : 3;
          const rm = rng.int(8);
          rmReg = rm | ((rex & 1) << 3);
          bytes.push((mod << 6) | (reg << 3) | rm);
          this.structureEnd = bytes.length;
        } else {
          const size = this.memSize(e, osz);
          memTarget = this.aimMemory(bytes, reg, rex, rexAt, asz, seg, size, slot, this.memAlign(e, osz));
          if (memTarget === -2) return null;
        }
      }
    }

    // ---- immediates
    const immAt: number[] = [];
    for (const kind of e.imms) {
      immAt.push(bytes.length);
      let n: number;
      switch (kind) {
        case 'b': n = 1; break;
        case 'w': n = 2; break;
        case 'd': n = 4; break;
        case 'z': n = osz === 2 ? 2 : 4; break;
        case 'v': n = osz; break;
        case 'J': n = 4; break;
        case 'O': n = asz; break;
        default: n = osz === 2 ? 4 : 6; break; // far pointer
      }
      bytes.push(...this.immediate(n));
    }

    // ---- per-instruction rules
    if (isRel) {
      slot.relAt = immAt[0];
      slot.relSize = e.imms[0] === 'b' ? 1 : 4;
      slot.skip = this.skipCount(k, want);
    }
    if (!this.special(e, slot, { osz, asz, rep, seg, regField, rmReg, opReg, memTarget, immAt, k, want })) return null;
    if (bytes.length > 15) {
      if (!plainValid && !this.opts.intel) return null;
      this.tooLong = true;
    }

    // ---- what it does to the generator's knowledge
    this.effects(e, slot, { osz, asz, regField, rmReg, opReg, memTarget });
    if (slot.skip > 0) this.joins.push({ at: k + 1 + slot.skip, saved: this.save() });
    return slot;
  }

  private memSize(e: DecodedEntry, osz: number): number {
    const ops = e.def.operands;
    if (ops.includes('Mp')) return osz + 2;
    if (ops.includes('Mdq')) return 16;
    if (ops.includes('Mq')) return 8;
    if (ops.includes('Eb') || ops.includes('Mb')) return 1;
    if (ops.includes('Ew')) return 2;
    if (ops.includes('Ed')) return 4;
    return osz;
  }

  private memAlign(e: DecodedEntry, osz: number): number {
    return recipeOf(e).align ?? osz;
  }

  /** Encode a memory operand aimed at a scratch address; returns the address, or -1 when
   *  it is aimed elsewhere on purpose, or -2 when it cannot be encoded here. */
  private aimMemory(bytes: number[], reg: number, rex: number, rexAt: number, asz: number, seg: number,
    size: number, slot: Slot, align: number): number {
    const rng = this.rng;
    const T = this.target(size, align);
    const segBase = seg === 0x64 ? this.opts.fsBase : seg === 0x65 ? this.opts.gsBase : 0n;
    const want = (BigInt(T) - segBase) & 0xffffffffffffffffn;
    const mask = asz === 4 ? 0xffffffffn : 0xffffffffffffffffn;
    const form = rng.int(100);
    const pushDisp = (v: bigint, n: number): void => {
      this.structureEnd = bytes.length;
      for (let k = 0; k < n; k++) bytes.push(Number((v >> BigInt(8 * k)) & 0xffn));
    };
    // RIP-relative (no FS base: the distance would not fit a disp32).
    if (form < 10 && segBase === 0n) {
      bytes.push((0 << 6) | (reg << 3) | 5);
      slot.ripAt = bytes.length;
      slot.ripTarget = T;
      pushDisp(0n, 4);
      return T;
    }
    // [disp32], no base, no index.
    if (form < 15) {
      const disp = want & mask;
      const ok = asz === 4 ? true : fits(BigInt.asIntN(64, disp), 4);
      if (ok) {
        if (rex !== 0) bytes[rexAt] &= ~3;
        bytes.push((0 << 6) | (reg << 3) | 4, (0 << 6) | (4 << 3) | 5);
        pushDisp(disp, 4);
        return T;
      }
    }
    // Base, optional index.
    const useSib = rng.chance(0.4);
    const rexB = (rex & 1) << 3, rexX = (rex & 2) << 2;
    let base = -1;
    let baseLow = rng.int(8);
    if (!useSib && baseLow === 4) baseLow = rng.chance(0.5) ? 3 : 6;
    base = baseLow | rexB;
    if (base === RSP && this.rsp === null) return -2;
    if (base !== RSP && (this.touched & (1 << base)) !== 0) return -2;
    let indexLow = -1, index = -1, scale = 0;
    if (useSib) {
      indexLow = rng.int(8);
      index = indexLow | rexX;
      if (index === 4) index = -1; // no index
      scale = rng.int(4);
      if (index >= 0 && (index === base || (this.touched & (1 << index)) !== 0)) return -2;
    } else if (rexX !== 0) {
      // REX.X without a SIB is ignored: fine.
    }
    let mod = rng.int(3);
    if ((baseLow === 5) && mod === 0) mod = 1;
    let dispBytes = mod === 0 ? 0 : mod === 1 ? 1 : 4;
    const vIndex = (): bigint => {
      if (index < 0) return 0n;
      const kv = this.known(index);
      if (kv !== null) return kv;
      const small = rng.chance(0.7);
      const lo = small ? rng.int(129) - 64 : rng.u32();
      const hi = small ? lo >> 31 : rng.u32();
      this.setReg(index, lo, hi);
      return u64(lo, hi);
    };
    const xi = vIndex() << BigInt(scale);
    const kb = this.known(base);
    let disp: bigint;
    if (kb === null) {
      disp = dispBytes === 0 ? 0n : dispBytes === 1 ? BigInt(rng.int(256) - 128) : BigInt(rng.u32() | 0);
      let vb = (want - disp - xi) & 0xffffffffffffffffn;
      if (asz === 4) vb = (vb & 0xffffffffn) | (BigInt(rng.u32()) << 32n);
      if (base === RSP) return -2;
      this.setReg(base, Number(vb & 0xffffffffn), Number(vb >> 32n));
    } else {
      let need = BigInt.asIntN(64, (want - kb - xi) & 0xffffffffffffffffn);
      if (asz === 4) need = BigInt.asIntN(32, need & 0xffffffffn);
      if (!fits(need, dispBytes === 0 ? 1 : dispBytes) || (dispBytes === 0 && need !== 0n)) {
        if (fits(need, 1)) { mod = 1; dispBytes = 1; }
        else if (fits(need, 4)) { mod = 2; dispBytes = 4; }
        else return -2;
      }
      disp = need;
    }
    if (useSib) {
      const idxField = index < 0 ? 4 : indexLow;
      bytes.push((mod << 6) | (reg << 3) | 4, (scale << 6) | (idxField << 3) | baseLow);
      if (index < 0 && rex !== 0) bytes[rexAt] &= ~2;
    } else {
      bytes.push((mod << 6) | (reg << 3) | baseLow);
    }
    pushDisp(disp & 0xffffffffn, dispBytes);
    return T;
  }

  private skipCount(k: number, want: number): number {
    const remaining = want - 1 - k;
    if (remaining <= 0) return 0;
    return this.rng.chance(0.4) ? 0 : 1 + this.rng.int(Math.min(remaining, 3));
  }

  /** Entry-specific operand values. Returns false if the instruction cannot be placed here. */
  private special(e: DecodedEntry, slot: Slot, o: { osz: number; asz: number; rep: number; seg: number; regField: number;
    rmReg: number; opReg: number; memTarget: number; immAt: number[]; k: number; want: number }): boolean {
    const rng = this.rng;
    const g = genOf(e);
    const rc = recipeOf(e);
    const bytes = slot.bytes;
    const setImm = (at: number, n: number, v: number): void => { for (let k = 0; k < n; k++) bytes[at + k] = (v >>> (8 * k)) & 0xff; };
    const opnds = e.def.operands;

    // Shift and rotate counts: mostly within the operand size.
    if (g === 'shift') {
      const bits = o.osz * 8;
      const count = rng.chance(0.7) ? rng.int(bits + 2) : rng.int(256);
      if (opnds.endsWith('Ib')) setImm(o.immAt[o.immAt.length - 1], 1, count);
      if (opnds.endsWith('CL') && this.known(1) === null && (this.touched & 2) === 0) this.setReg(1, (rng.u32() & ~0xff) | count, rng.u32());
    }
    if (g === 'int') {
      const bad = this.opts.badIntVectors;
      while (bytes[o.immAt[0]] === 0x80 || (bad !== undefined && bad.has(bytes[o.immAt[0]]))) bytes[o.immAt[0]] = rng.int(256);
    }
    if (g === 'enter') {
      let size = rng.chance(0.7) ? rng.int(65) : rng.chance(0.7) ? rng.int(4097) : rng.int(65536);
      const r = rng.int(100);
      const level = r < 60 ? 0 : r < 85 ? 1 + rng.int(3) : r < 95 ? 4 + rng.int(28) : rng.int(256);
      if (!this.opts.intel) {
        // AMD writes (probes) the new top of stack; Intel's ENTER has no such access: keep it mapped.
        const room = this.rsp === null ? 0 : this.rsp - SCRATCH_ADDR - o.osz * ((level & 31) + 1) - 8;
        size = Math.max(0, Math.min(size, room));
      }
      setImm(o.immAt[0], 2, size);
      bytes[o.immAt[1]] = level;
      if (this.known(5) === null && (this.touched & 32) === 0 && this.rsp !== null) this.setReg(5, this.rsp + rng.int(64) * 8, 0);
    }
    if (g === 'callIndirect' && !this.opts.intel) {
      // AMD pushes the return address before it checks the target: a push that faults (#PF)
      // wins over a non-canonical target's #GP(0), where the SDM's CALL (and the model)
      // checks the target first. Keep the push inside the mapped stack on other hosts.
      if (this.rsp === null || this.rsp - o.osz < SCRATCH_ADDR) return false;
    }
    if (g === 'leave' && this.known(5) === null && (this.touched & 32) === 0 && this.rsp !== null) {
      this.setReg(5, this.rsp + rng.int(32) * 8 - 64, 0);
    }
    // Shift/BT bit offsets from a register with a memory operand: small, so the address stays near.
    if (g === 'btReg' && o.memTarget >= 0 && o.regField >= 0 && this.known(o.regField) === null && (this.touched & (1 << o.regField)) === 0 && o.regField !== RSP) {
      const v = rng.int(1025) - 512;
      this.setReg(o.regField, v, v >> 31);
    }
    // Zero and single-bit sources for the bit scans.
    if ((g === 'scan' || g === 'bsf') && rng.chance(0.3)) {
      const v = rng.chance(0.5) ? 0 : 1 << rng.int(32);
      if (o.memTarget >= 0) this.patchValue(o.memTarget, o.osz, v, 0);
      else if (o.rmReg >= 0 && o.rmReg !== RSP && (this.touched & (1 << o.rmReg)) === 0 && (this.assigned & (1 << o.rmReg)) === 0) this.setReg(o.rmReg, v, 0);
    }
    // CMPXCHG: equal half of the time.
    if (g === 'cmpxchg' && rng.chance(0.5)) {
      const acc = this.known(0) ?? (this.assignRandom(0) ? this.regBig(0) : null);
      if (acc !== null) {
        const lo = Number(acc & 0xffffffffn), hi = Number(acc >> 32n);
        if (o.memTarget >= 0) this.patchValue(o.memTarget, o.osz, lo, hi);
        else if (o.rmReg >= 0 && o.rmReg !== 0 && o.rmReg !== RSP && (this.touched & (1 << o.rmReg)) === 0 && (this.assigned & (1 << o.rmReg)) === 0) this.setReg(o.rmReg, lo, hi);
      }
    }
    if ((g === 'cmpxchg8b' || g === 'cmpxchg16b') && o.memTarget >= 0 && rng.chance(0.5)) {
      const a = this.known(0) ?? (this.assignRandom(0) ? this.regBig(0) : null);
      const dd = this.known(2) ?? (this.assignRandom(2) ? this.regBig(2) : null);
      if (a !== null && dd !== null) {
        const half = g === 'cmpxchg16b' ? 8 : 4;
        this.patchValue(o.memTarget, half, Number(a & 0xffffffffn), Number(a >> 32n));
        this.patchValue(o.memTarget + half, half, Number(dd & 0xffffffffn), Number(dd >> 32n));
      }
    }
    // DIV/IDIV: mostly without #DE.
    if ((g === 'div' || g === 'idiv') && rng.chance(0.6)) this.divisor(g === 'idiv', o.osz, o.memTarget, o.rmReg);
    // Segment register loads: selectors from the interesting set.
    if (g === 'movSreg' || g === 'movSregFsGs') {
      const sel = rng.pick(DATA_SELECTORS);
      if (o.memTarget >= 0) this.patchValue(o.memTarget, 2, sel);
      else if (o.rmReg >= 0 && o.rmReg !== RSP && (this.touched & (1 << o.rmReg)) === 0 && (this.assigned & (1 << o.rmReg)) === 0) this.setReg(o.rmReg, (rng.u32() & ~0xffff) | sel, rng.u32());
    }
    if ((g === 'lss' || g === 'lfsLgs') && o.memTarget >= 0) {
      this.patchValue(o.memTarget + Math.min(o.osz, 8), 2, rng.pick(DATA_SELECTORS));
    }
    if (g === 'popFsGs' && this.rsp !== null) {
      if (!this.clean(this.rsp, 8)) return false;
      this.patchValue(this.rsp, 2, rng.pick(DATA_SELECTORS));
    }
    if (rc.fsgsLoad === true) this.fsgsLoad = true;
    // POPF: an image with TF and AC clear.
    if (g === 'popf') {
      if (!this.clean(this.rsp!, 8)) return false;
      const v = rng.u32() & ~(0x100 | 0x40000);
      this.patchValue(this.rsp!, o.osz, v, rng.u32());
    }
    // String instructions: pointers into scratch, counts mostly small.
    if (rc.string !== undefined && !this.stringSetup(rc.string, o.osz === 1 ? 1 : o.osz, o.asz, o.rep !== 0, o.seg)) return false;
    if (g === 'xlat') {
      if ((o.seg === 0x64 || o.seg === 0x65) && ((this.assigned | this.touched) & 8) !== 0) return false;
      const al = (this.known(0) ?? (this.assignRandom(0) ? this.regBig(0) : 0n)) & 0xffn;
      if (this.known(3) === null && (this.touched & 8) === 0 && (this.assigned & 8) === 0) {
        const segBase = o.seg === 0x64 ? this.opts.fsBase : o.seg === 0x65 ? this.opts.gsBase : 0n;
        let v = (BigInt(this.target(1)) - segBase - al) & 0xffffffffffffffffn;
        if (o.asz === 4) v = (v & 0xffffffffn) | (BigInt(rng.u32()) << 32n);
        this.setReg(3, Number(v & 0xffffffffn), Number(v >> 32n));
      }
    }
    if (g === 'moffs') {
      const segBase = o.seg === 0x64 ? this.opts.fsBase : o.seg === 0x65 ? this.opts.gsBase : 0n;
      const v = (BigInt(this.target(o.osz)) - segBase) & 0xffffffffffffffffn;
      for (let k = 0; k < o.asz; k++) bytes[o.immAt[0] + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    }
    if (rc.rcxCount === true) {
      if (this.known(1) === null && (this.touched & 2) === 0 && (this.assigned & 2) === 0 && rng.chance(0.7)) {
        const v = rng.int(4);
        this.setReg(1, rng.chance(0.5) ? v : (rng.u32() & ~0xffff) | v, rng.chance(0.5) ? 0 : rng.u32());
      }
    }

    // Control transfers to a later instruction.
    const needTarget = g === 'ret' || g === 'retf' || g === 'iret' || rc.indirect === true || g === 'jmpFar' || g === 'callFar';
    if (needTarget) {
      slot.skip = this.skipCount(o.k, o.want);
      const osz = o.osz;
      const readAt = g === 'ret' || g === 'retf' || g === 'iret' ? this.rsp! : o.memTarget;
      const readLen = g === 'ret' ? 8 : g === 'retf' ? 2 * osz : g === 'iret' ? 5 * osz : 10;
      if (readAt >= 0 && !this.clean(readAt, readLen)) return false;
      if (g === 'ret') {
        const sp = this.rsp!;
        slot.fix = (t) => this.patchValue(sp, 8, t, 0);
        if (e.imms.length > 0) setImm(o.immAt[0], 2, rng.chance(0.7) ? rng.int(9) * 8 : rng.int(65536));
      } else if (g === 'retf') {
        const sp = this.rsp!;
        const sel = rng.pick(CODE_SELECTORS);
        slot.fix = (t) => { this.patchValue(sp, Math.min(osz, 8), t, 0); this.patchValue(sp + osz, 2, sel); };
        let imm = rng.chance(0.7) ? rng.int(9) * 8 : rng.int(65536);
        // AMD reads the stack past the released bytes (where an outer SS:RSP would be)
        // before it checks the selector; keep that inside scratch there.
        if (!this.opts.intel) {
          const room = SCRATCH_ADDR + SCRATCH_SIZE - sp - 4 * osz;
          if (room < 0) return false;
          imm = Math.min(imm, room);
        }
        if (e.imms.length > 0) setImm(o.immAt[0], 2, imm);
      } else if (g === 'iret') {
        const sp = this.rsp!;
        // AMD reads the frame in another order: for a frame running into an unmapped
        // page it reports a later slot's address than the model's first faulting pop.
        if (!this.opts.intel && sp + 5 * osz > SCRATCH_ADDR + SCRATCH_SIZE) return false;
        const cs = rng.chance(0.85) ? 0x33 : rng.pick(CODE_SELECTORS);
        const ss = rng.chance(0.85) ? 0x2b : rng.pick(DATA_SELECTORS);
        const flags = (rng.u32() & 0x2f7fd5 & ~(0x100 | 0x40000 | 0x20000 | 0x10000)) | 0x2;
        const newSp = (SCRATCH_ADDR + 0x2000 + rng.int(0x1f00)) & ~7;
        slot.fix = (t) => {
          this.patchValue(sp, osz, t, 0);
          this.patchValue(sp + osz, 2, cs);
          this.patchValue(sp + 2 * osz, Math.min(osz, 4), flags);
          this.patchValue(sp + 3 * osz, osz, newSp, 0);
          this.patchValue(sp + 4 * osz, 2, ss);
        };
        this.iretSp = osz === 2 ? null : newSp;
      } else if (rc.indirect === true) {
        if (o.memTarget >= 0) {
          const at = o.memTarget;
          slot.fix = (t) => this.patchValue(at, 8, t, 0);
        } else if (o.rmReg >= 0) {
          const r = o.rmReg;
          if (r === RSP || ((this.assigned | this.touched) & (1 << r)) !== 0) return false;
          this.assigned |= 1 << r;
          slot.fix = (t) => { this.regs[2 * r] = t >>> 0; this.regs[2 * r + 1] = 0; };
        } else return false;
      } else if (o.memTarget >= 0) { // JMPF/CALLF m16:16/32/64
        const at = o.memTarget;
        const sel = rng.pick(CODE_SELECTORS);
        slot.fix = (t) => { this.patchValue(at, Math.min(osz, 8), t, 0); this.patchValue(at + osz, 2, sel); };
      } else return false;
    }
    return true;
  }

  private iretSp: number | null = null;

  private assignRandom(r: number): boolean {
    if (((this.assigned | this.touched) & (1 << r)) !== 0 || r === RSP) return false;
    const [lo, hi] = this.randomValue();
    this.setReg(r, lo, hi);
    return true;
  }

  /** Divisor and dividend for DIV/IDIV that do not overflow (most of the time). */
  private divisor(signed: boolean, osz: number, memTarget: number, rmReg: number): void {
    const rng = this.rng;
    if (((this.assigned | this.touched) & 0b101) !== 0) return;
    if (rmReg === 0 || rmReg === 2 || rmReg === RSP) return;
    const bits = osz * 8;
    const dv = rng.chance(0.5) ? 1 + rng.int(255) : 1 + rng.int(0x7fffffff);
    const dlo = bits < 32 ? dv & ((1 << (bits - 1)) - 1) || 1 : dv;
    if (memTarget >= 0) this.patchValue(memTarget, osz, dlo, 0);
    else if (rmReg >= 0) {
      if (((this.assigned | this.touched) & (1 << rmReg)) !== 0) return;
      this.setReg(rmReg, dlo, 0);
    } else return;
    const [alo, ahi] = this.randomValue();
    if (osz === 1) {
      // AX / r8: AH < divisor.
      const ah = signed ? 0 : rng.int(dlo & 0xff);
      this.setReg(0, (alo & ~0xffff) | (ah << 8) | (alo & 0x7f), ahi);
      return;
    }
    this.setReg(0, alo, ahi);
    if (signed) {
      const sign = osz === 8 ? ahi >> 31 : osz === 4 ? alo >> 31 : (alo << 16) >> 31;
      this.setReg(2, sign, sign);
    } else {
      this.setReg(2, 0, rng.u32());
      if (osz === 8) this.setReg(2, 0, 0);
    }
  }

  private stringSetup(sf: StringForm, size: number, asz: number, rep: boolean, seg: number): boolean {
    const rng = this.rng;
    const free = (r: number): boolean => ((this.assigned | this.touched) & (1 << r)) === 0;
    let count = 1;
    if (rep) {
      const known = this.known(1);
      if (known !== null) count = Number(known & 0xffffn);
      else if (free(1)) {
        const r = rng.int(100);
        count = r < 60 ? rng.int(33) : r < 85 ? rng.int(600) : r < 95 ? rng.int(5000) : 0x10000;
        if (count === 0x10000) this.setReg(1, rng.u32(), rng.u32());
        else this.setReg(1, count, asz === 4 ? rng.u32() : 0);
      }
    }
    const span = Math.min(count, SCRATCH_SIZE / size) * size;
    const place = (r: number, segBase: bigint): void => {
      if (!free(r)) return;
      let off: number;
      if (rng.chance(0.85)) off = this.df ? span + rng.int(Math.max(1, SCRATCH_SIZE - span)) : rng.int(Math.max(1, SCRATCH_SIZE - span));
      else off = rng.int(SCRATCH_SIZE);
      off = Math.min(off, SCRATCH_SIZE - size);
      if (rng.chance(0.7)) off -= off % size;
      let v = (BigInt(SCRATCH_ADDR + off) - segBase) & 0xffffffffffffffffn;
      if (asz === 4) v = (v & 0xffffffffn) | (BigInt(rng.u32()) << 32n);
      this.setReg(r, Number(v & 0xffffffffn), Number(v >> 32n));
    };
    const srcSeg = seg === 0x64 ? this.opts.fsBase : seg === 0x65 ? this.opts.gsBase : 0n;
    // An FS/GS-relative source must be aimed (an unaimed one reads the harness's own TLS).
    const fsSource = (seg === 0x64 || seg === 0x65) && sf.src;
    if (fsSource && !free(6)) return false;
    // A pointer register another instruction claimed must still point into scratch.
    const aimed = (r: number, segBase: bigint): boolean => {
      if (free(r)) return true;
      const v = this.known(r);
      if (v === null) return false;
      const a = ((asz === 4 ? v & 0xffffffffn : v) + segBase) & 0xffffffffffffffffn;
      return a >= BigInt(SCRATCH_ADDR) && a < BigInt(SCRATCH_ADDR + SCRATCH_SIZE);
    };
    if (sf.src) {
      if (!aimed(6, srcSeg)) return false;
      place(6, srcSeg);
    }
    if (sf.dst) {
      if (!aimed(7, 0n)) return false;
      place(7, 0n);
    }
    return true;
  }

  /** Update the generator's knowledge after an instruction. */
  private effects(e: DecodedEntry, slot: Slot, o: { osz: number; asz: number; regField: number; rmReg: number; opReg: number; memTarget: number }): void {
    const g = genOf(e);
    const rc = recipeOf(e);
    const bytes = slot.bytes;
    let touched = 0;
    if (o.regField >= 0 && !e.def.operands.startsWith('E') && !e.def.operands.startsWith('M') ||
      (o.regField >= 0 && rc.swapsReg === true)) touched |= 1 << o.regField;
    if (o.rmReg >= 0) touched |= 1 << o.rmReg;
    if (o.opReg >= 0) touched |= 1 << o.opReg;
    for (const r of rc.writes ?? []) touched |= 1 << r;
    if (/\b(AL|rAX|eAX|AX)\b/.test(e.def.operands)) touched |= 1;
    if (e.byteOp || true) {
      // AH..BH encodings (no REX) name registers 0..3: count them too.
      touched |= ((touched >> 4) & 0xf) * 0;
    }
    if ((touched & ~(1 << RSP)) !== 0) this.touched |= touched & ~(1 << RSP);

    // RSP.
    const sz = o.osz;
    let delta: number | null = 0;
    switch (g) {
      // (PUSH ES/CS leave the generator's RSP alone: kept from the first oracle; both are #UD in 64-bit mode.)
      case 'push': delta = e.def.operands === 'ES' || e.def.operands === 'CS' ? 0 : -sz; break;
      case 'pushFsGs': delta = -(sz === 2 ? 2 : 8); break;
      case 'pop': case 'popFsGs':
        delta = g === 'popFsGs' ? (sz === 2 ? 2 : 8) : sz;
        if (o.opReg === RSP || o.rmReg === RSP) { this.rsp = null; delta = null; } // POP RSP loads it
        break;
      case 'pushf': delta = -sz; break;
      case 'popf': delta = sz; break;
      case 'callRel': case 'callIndirect': delta = -8; break;
      case 'ret': delta = 8 + (e.imms.length > 0 ? (bytes[bytes.length - 2] | (bytes[bytes.length - 1] << 8)) : 0); break;
      case 'retf': delta = 2 * sz + (e.imms.length > 0 ? (bytes[bytes.length - 2] | (bytes[bytes.length - 1] << 8)) : 0); break;
      case 'callFar': case 'callFarImm': delta = -2 * sz; break;
      case 'enter': {
        const size = bytes[bytes.length - 3] | (bytes[bytes.length - 2] << 8);
        const level = bytes[bytes.length - 1] & 31;
        delta = -(sz * (level === 0 ? 1 : level + 1)) - size;
        break;
      }
      case 'leave': {
        const bp = this.known(5);
        this.rsp = bp === null ? null : Number(bp) + sz;
        delta = null;
        break;
      }
      case 'iret':
        this.rsp = this.iretSp;
        delta = null;
        break;
      default:
        if ((touched & (1 << RSP)) !== 0 || (o.regField === RSP && !e.def.operands.startsWith('E'))) { this.rsp = null; delta = null; }
        if (g === 'lss' && o.regField === RSP) { this.rsp = null; delta = null; }
    }
    // What this instruction may write at run time.
    if (this.written !== null) {
      if (o.memTarget >= 0) this.written.push([o.memTarget, o.memTarget + 16]);
      if (delta !== null && delta < 0 && this.rsp !== null) this.written.push([this.rsp + delta, this.rsp]);
      if (rc.string?.writes === true) this.written = null;
      if (this.rsp === null && rc.stack === true) this.written = null;
    }
    if (delta !== null && this.rsp !== null) this.rsp += delta;
    if (this.rsp !== null && (this.rsp < SCRATCH_ADDR || this.rsp >= SCRATCH_ADDR + SCRATCH_SIZE)) this.rsp = null;
    if (g === 'cld') this.df = false;
    if (g === 'std') this.df = true;

    // Status flags that may be undefined.
    this.undef = (this.undef & ~alwaysDefines(e)) | mayLeaveUndefinedFlags(e);
  }

  // ---------------------------------------------------------------- layout

  private layout(slots: Slot[]): Case {
    const offsets: number[] = [0];
    for (const s of slots) offsets.push(offsets[offsets.length - 1] + s.bytes.length);
    const insns: InsnInfo[] = [];
    slots.forEach((s, k) => {
      const next = CODE_ADDR + offsets[k + 1];
      const targetIndex = Math.min(k + 1 + s.skip, slots.length);
      const target = CODE_ADDR + offsets[targetIndex];
      if (s.relAt >= 0) {
        const disp = target - next;
        for (let b = 0; b < s.relSize; b++) s.bytes[s.relAt + b] = (disp >>> (8 * b)) & 0xff;
      }
      if (s.ripAt >= 0) {
        const disp = s.ripTarget - next;
        for (let b = 0; b < 4; b++) s.bytes[s.ripAt + b] = (disp >>> (8 * b)) & 0xff;
      }
      if (s.fix !== null) s.fix(target);
      insns.push({ entry: s.entry.index, offset: offsets[k], length: s.bytes.length, memory: s.memory });
    });
    const all: number[] = [];
    for (const s of slots) for (const b of s.bytes) all.push(b);
    const code = new Uint8Array(all);

    // Registers nobody constrained: random.
    for (let r = 0; r < 16; r++) {
      if ((this.assigned & (1 << r)) !== 0) continue;
      const [lo, hi] = this.randomValue();
      this.regs[2 * r] = lo >>> 0;
      this.regs[2 * r + 1] = hi >>> 0;
    }
    const patches: Patch[] = [];
    if (this.patches.length > 0) {
      const final = new Map<number, number>();
      for (let k = 0; k < this.patches.length; k += 2) final.set(this.patches[k], this.patches[k + 1]);
      const offs = [...final.keys()].sort((a, b) => a - b);
      for (let i = 0; i < offs.length;) {
        let j = i;
        while (j + 1 < offs.length && offs[j + 1] === offs[j] + 1) j++;
        const bytes = new Uint8Array(j - i + 1);
        for (let k = i; k <= j; k++) bytes[k - i] = final.get(offs[k])!;
        patches.push({ offset: offs[i], bytes });
        i = j + 1;
      }
    }
    return {
      regs: this.regs, image: this.rng.int(IMAGE_COUNT), patches, code,
      flags: this.fsgsLoad ? CASE_FSGS : 0, insns,
    };
  }
}

// ---------------------------------------------------------------- scratch images

export const IMAGE_COUNT = 64;
/** The image pool is the same in every run, so regression cases can name an image by index. */
export const IMAGE_SEED = 1;

/** The pool of scratch contents cases start from (sent once to the harness). */
export function makeImages(seed: number): Uint8Array[] {
  const rng = new Rng(seed ^ 0x5eed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < IMAGE_COUNT; i++) {
    const img = new Uint8Array(SCRATCH_SIZE);
    const style = i % 4;
    for (let k = 0; k < SCRATCH_SIZE; k += 4) {
      const w = rng.u32();
      for (let b = 0; b < 4; b++) {
        let v = (w >>> (8 * b)) & 0xff;
        if (style === 2) v = (w & 0x7) === 0 ? v : 0;
        else if (style === 3) v = [0, 0xff, 0x80, 0x7f, 0x01, 0, 0xff, v][(w >>> (b * 3 + 8)) & 7];
        img[k + b] = v;
      }
    }
    out.push(img);
  }
  return out;
}

export { TWO32 };
