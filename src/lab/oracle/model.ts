// The model side of the oracle: a Machine whose CPU is put straight into 64-bit mode
// at CPL 3, with page tables mapping the same code and scratch addresses as the
// harness (user pages), a GDT laid out like Linux x86-64's (so the same selectors
// load or fault as on the host: arch/x86/include/asm/segment.h), and an IDT whose
// gates all lead to a page of HLT instructions at CPL 0: a delivered exception ends
// the run as 'halted' at handler + vector + 1, and the frame on the kernel stack gives
// the user state at the fault. Gates 3, 4 and 0x80 have DPL 3, as Linux's do.
//
// A case runs instruction by instruction (a REP MOVS/STOS/LODS/INS/OUTS as one step of
// RCX iterations), tracking which status flags are undefined (undefined-spec.ts),
// until RIP reaches the end of the sequence or an exception is delivered.

import { Machine } from '../../machine/machine.js';
import { ModelError } from '../../machine/errors.js';
import type { Cpu, ExecutionOptions } from '../../cpu/cpu.js';
import { decode, undefinedOpcode } from '../../cpu/decoder.js';
import { ENTRIES } from '../../cpu/opcodes.js';
import { FAULT } from '../../cpu/fault.js';
import type { Insn } from '../../cpu/insn.js';
import { descAttr, descBase, descLimit } from '../../cpu/segments.js';
import type { VcpuState } from '../../cpu/state.js';
import * as C from '../../arch/control.js';
import * as V from '../../arch/vectors.js';
import { CS, SS, FS, GS, DESC_DB } from '../../arch/descriptors.js';
import {
  CODE_ADDR, CODE_SIZE, SCRATCH_ADDR, SCRATCH_SIZE, USER_FLAGS, EndKind, caseRegs, type Case,
} from './layout.js';
import { effects, isPushSreg, ruleOf, ALL_STATUS } from './undefined-spec.js';
import { recipeOf } from './recipes.js';

const TWO32 = 4294967296;
const MEM = 0x40000;
// Physical layout.
const PML4 = 0x1000, PDPT_LO = 0x2000, PD_LO = 0x3000, PT_CODE = 0x4000, PT_SCRATCH = 0x5000;
const PDPT_HI = 0x6000, PD_HI = 0x7000, PT_HI = 0x8000;
const P_GDT = 0x9000, P_IDT = 0xa000, P_TSS = 0xb000, P_HANDLERS = 0xc000, P_KSTACK = 0xd000;
export const P_CODE = 0x10000;
export const P_SCRATCH = 0x20000;
// Kernel linear addresses, at 0xffff800000200000 (held as a signed number); their TLB slots
// (page number mod 4096) are not those of the code and scratch pages.
const KBASE = -0x800000000000 + 0x200000;
const GDT_LIN = KBASE, IDT_LIN = KBASE + 0x1000, TSS_LIN = KBASE + 0x2000, HANDLERS_LIN = KBASE + 0x3000;
const KSTACK_LIN = KBASE + 0x4000, KSTACK_TOP = KBASE + 0x6000;

/** The descriptors of Linux x86-64's GDT that user code can name (index: [low, high] dwords). */
const LINUX_GDT: Record<number, [number, number]> = {
  1: [0x0000ffff, 0x00cf9b00], // KERNEL32_CS  0x08
  2: [0x0000ffff, 0x00af9b00], // KERNEL_CS    0x10
  3: [0x0000ffff, 0x00cf9300], // KERNEL_DS    0x18
  4: [0x0000ffff, 0x00cffb00], // USER32_CS    0x23
  5: [0x0000ffff, 0x00cff300], // USER_DS      0x2b
  6: [0x0000ffff, 0x00affb00], // USER_CS      0x33
  15: [0x00000000, 0x0040f300], // CPUNODE     0x7b (its limit encodes the CPU; loads like any data segment)
};
export const GDT_LIMIT = 32 * 8 - 1;
export const USER_CS = 0x33;
export const USER_DS = 0x2b;

export interface ModelOutcome {
  kind: EndKind;
  /** Exception vector and error code (kind Fault). */
  vector: number;
  error: number;
  cr2: number;
  /** RIP at the end, or saved in the exception frame. */
  rip: number;
  regs: number[];
  sel: number[];
  message: string;
  /** Status flags whose value the SDM leaves undefined at the end (or at the fault). */
  undefFlags: number;
  /** Registers (bit r) whose value is undefined. */
  undefRegs: number;
  /** Scratch ranges [offset, length] whose contents are undefined. */
  undefMem: [number, number][];
  /** An instruction read an undefined flag, or ran after one left an undefined result. */
  tainted: boolean;
  /** Instructions executed (REP iterations count once). */
  steps: number;
  /** TF or AC became set: the host single-steps or checks alignment, which the model does
   *  not model yet; such a case is counted, not compared. */
  trapFlags: boolean;
}

export interface HostState {
  fsBase: bigint;
  gsBase: bigint;
  /** ES CS SS DS FS GS at the start of a case. */
  sel: number[];
  /** The harness's exit stub: the model puts the same bytes after the sequence. */
  stub: Uint8Array;
  /** The host GDT as user code sees it: per index, LAR's access rights and LSL's limit,
   *  or null where LAR fails at CPL 3. Without it, Linux's layout is assumed. */
  gdt?: ([number, number] | null)[];
}

/** The model's view of the host from the harness's hello. */
export function hostState(h: { fsBase: bigint; gsBase: bigint; sel: number[]; stub: Uint8Array; gdt: ([number, number] | null)[] }): HostState {
  return { fsBase: h.fsBase, gsBase: h.gsBase, sel: h.sel, stub: h.stub, gdt: h.gdt };
}

/** GDT descriptors (low, high dwords) for the model, from the host's probe. */
export function gdtFromProbe(probe: ([number, number] | null)[] | undefined): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  if (probe === undefined) {
    for (const [k, v] of Object.entries(LINUX_GDT)) out.set(Number(k), v);
    return out;
  }
  // The kernel's own descriptors are invisible to LAR at CPL 3; the model's IDT gates need
  // a 64-bit code segment at 0x10, and any DPL-0 descriptor faults a CPL-3 load like an absent one.
  for (const k of [1, 2, 3]) out.set(k, LINUX_GDT[k]);
  probe.forEach((p, idx) => {
    if (p === null || idx === 0) return;
    const [ar, limit] = p;
    const raw = (ar & (1 << 23)) !== 0 ? limit >>> 12 : limit;
    out.set(idx, [raw & 0xffff, ((ar & 0x00f0ff00) | (raw & 0xf0000)) | 0]);
  });
  return out;
}

const MAX_STEPS = 100000;

export class OracleModel {
  readonly machine: Machine;
  readonly cpu: Cpu;
  private readonly host: HostState;
  private readonly images: Uint8Array[];
  private codeDirty = CODE_SIZE;
  /** The vCPU as every case starts: CPL 3 in the host's segments under the model's
   *  tables; load() fills in the case's registers and restores it. */
  private caseState!: VcpuState;

  /** `vendor`: the flavour the model runs, whose undefined values (undefined.ts) it gives;
   *  `execution`: stepped, or compiling blocks at another threshold (cpu.ts ExecutionOptions). */
  constructor(host: HostState, images: Uint8Array[], vendor: 'intel' | 'amd' = 'intel', execution: ExecutionOptions = {}) {
    this.host = host;
    this.images = images;
    this.machine = new Machine({ memoryBytes: MEM, cpu: { vendor, fred: false }, execution });
    this.cpu = this.machine.cpu;
    this.build();
  }

  private build(): void {
    const mem = this.machine.memory;
    const cpu = this.cpu;
    const P = 1, RW = 2, US = 4, XD = 0x80000000 | 0;
    const link = (at: number, to: number, user: boolean): void => mem.writeU64(at, to | P | RW | (user ? US : 0), 0);
    link(PML4 + 0 * 8, PDPT_LO, true);
    link(PDPT_LO + 0 * 8, PD_LO, true);
    link(PD_LO + (CODE_ADDR >>> 21) * 8, PT_CODE, true);
    link(PD_LO + (SCRATCH_ADDR >>> 21) * 8, PT_SCRATCH, true);
    mem.writeU64(PT_CODE + ((CODE_ADDR >>> 12) & 511) * 8, P_CODE | P | US, 0);
    for (let k = 0; k < SCRATCH_SIZE / 4096; k++) {
      mem.writeU64(PT_SCRATCH + (((SCRATCH_ADDR >>> 12) + k) & 511) * 8, (P_SCRATCH + k * 4096) | P | RW | US, XD);
    }
    link(PML4 + 256 * 8, PDPT_HI, false);
    link(PDPT_HI, PD_HI, false);
    link(PD_HI + 8, PT_HI, false);
    const kpages = [P_GDT, P_IDT, P_TSS, P_HANDLERS, P_KSTACK, P_KSTACK + 0x1000];
    kpages.forEach((p, k) => mem.writeU64(PT_HI + k * 8, p | P | RW, p === P_HANDLERS ? 0 : XD));

    const gdt = gdtFromProbe(this.host.gdt);
    for (const [index, [lo, hi]] of gdt) if (index !== 8 && index !== 9) mem.writeU64(P_GDT + index * 8, lo, hi);
    // TSS descriptor (index 8, 16 bytes): busy 64-bit TSS, limit 0x67.
    const tssLo = 0x67 | ((TSS_LIN & 0xffff) << 16);
    const tssHi = ((TSS_LIN >>> 16) & 0xff) | 0x8b00 | (TSS_LIN & 0xff000000);
    mem.writeU64(P_GDT + 8 * 8, tssLo, tssHi);
    mem.writeU64(P_GDT + 9 * 8, Math.floor(TSS_LIN / TWO32) | 0, 0);
    // TSS: RSP0, and an I/O bitmap base past the limit (no I/O permission at CPL 3).
    mem.writeU64(P_TSS + 4, KSTACK_TOP >>> 0, Math.floor(KSTACK_TOP / TWO32) | 0);
    mem.view.setUint16(P_TSS + 0x66, 0x68, true);
    // IDT: 256 interrupt gates to HANDLERS_LIN + vector, CS = 0x10.
    for (let v = 0; v < 256; v++) {
      const target = HANDLERS_LIN + v;
      const dpl = v === 3 || v === 4 || v === 0x80 ? 3 : 0;
      const g0 = (target & 0xffff) | (0x10 << 16);
      const g1 = (target & 0xffff0000) | 0x8e00 | (dpl << 13);
      mem.writeU64(P_IDT + v * 16, g0, g1);
      mem.writeU64(P_IDT + v * 16 + 8, Math.floor(target / TWO32) | 0, 0);
    }
    mem.fill(P_HANDLERS, 4096, 0xf4);

    // 64-bit mode with 4-level paging, the model's GDT, IDT and busy TSS, at CPL 3 in the
    // host's segments (descriptors from the model's GDT, FS and GS bases as the host's).
    const c = cpu.capture();
    c.cr0 = C.CR0_PE | C.CR0_MP | C.CR0_ET | C.CR0_NE | C.CR0_WP | C.CR0_AM | C.CR0_PG;
    c.cr4 = C.CR4_PAE | C.CR4_PGE;
    c.cr3Lo = PML4;
    c.cr3Hi = 0;
    c.efer = C.EFER_SCE | C.EFER_LME | C.EFER_LMA | C.EFER_NXE;
    const hiOf = (lin: number): number => Math.floor(lin / TWO32) | 0;
    c.gdtr = { baseLo: GDT_LIN | 0, baseHi: hiOf(GDT_LIN), limit: GDT_LIMIT };
    c.idtr = { baseLo: IDT_LIN | 0, baseHi: hiOf(IDT_LIN), limit: 0xfff };
    c.tr = { sel: 0x40, baseLo: TSS_LIN | 0, baseHi: hiOf(TSS_LIN), limit: 0x67, attr: 0x8b00 };
    c.ldtr = { sel: 0, baseLo: 0, baseHi: 0, limit: 0 };
    c.cpl = 3;
    const sel = this.host.sel;
    c.segments = c.segments.map((_, s) => {
      const v = s === CS ? USER_CS : sel[s];
      // A null selector: unusable, base 0; SS keeps its RPL as DPL and B (SDM Vol. 3A §3.4.4).
      if ((v & ~3) === 0) return { sel: v, baseLo: 0, baseHi: 0, limit: 0, attr: s === SS ? ((v & 3) << 13) | DESC_DB : 0 };
      const d = gdt.get(v >> 3);
      if (d === undefined || (v & 4) !== 0) throw new Error(`oracle: the host's selector ${v.toString(16)} is not in the model's GDT`);
      return { sel: v, baseLo: descBase(d[0], d[1]), baseHi: 0, limit: descLimit(d[0], d[1]), attr: descAttr(d[1]) };
    });
    const setBase = (seg: number, b: bigint): void => {
      c.segments[seg].baseLo = Number(b & 0xffffffffn) | 0;
      c.segments[seg].baseHi = Number((b >> 32n) & 0xffffffffn) | 0;
    };
    setBase(FS, this.host.fsBase);
    setBase(GS, this.host.gsBase);
    c.rip = CODE_ADDR;
    this.caseState = c;
    cpu.restore(c);
  }

  /** Put the case's initial state into the machine. */
  load(c: Case): void {
    const mem = this.machine.memory;
    const s = this.caseState;
    for (let r = 0; r < 16; r++) {
      s.gprLo[r] = c.regs[2 * r] | 0;
      s.gprHi[r] = c.regs[2 * r + 1] | 0;
    }
    s.rflags = (c.regs[32] & USER_FLAGS) | 0x202;
    this.cpu.restore(s);
    // Host-side writes: decodes of the pages written are dropped, the handler page's stay.
    mem.write(P_SCRATCH, this.images[c.image]);
    for (const p of c.patches) mem.write(P_SCRATCH + p.offset, p.bytes);
    const stub = this.host.stub;
    mem.write(P_CODE, c.code);
    mem.write(P_CODE + c.code.length, stub);
    const used = c.code.length + stub.length;
    if (this.codeDirty > used) mem.fill(P_CODE + used, this.codeDirty - used, 0xcc);
    this.codeDirty = used;
  }

  /** Decode bytes placed at the code page with the model's decoder (for the generator):
   *  the entry and length, or null if decoding raises (more than 15 bytes). */
  decodeProbe(bytes: Uint8Array): { entry: number; length: number; valid: boolean } | null {
    const mem = this.machine.memory;
    mem.bytes.fill(0, P_CODE, P_CODE + 32);
    mem.bytes.set(bytes.subarray(0, 32), P_CODE);
    this.codeDirty = Math.max(this.codeDirty, 32);
    const cpu = this.cpu;
    const cr2 = cpu.cr2;
    try {
      const insn = decode(cpu, CODE_ADDR);
      return { entry: insn.entry, length: insn.len, valid: insn.exec !== undefinedOpcode };
    } catch (e) {
      if (e !== FAULT) throw e;
      cpu.cr2 = cr2;
      return null;
    }
  }

  /** Does the instruction at `offset` of case c depend on its address (a control
   *  transfer, or a RIP-relative operand)? */
  dependsOnRip(c: Case, offset: number): boolean {
    const probe = c.code.subarray(offset, offset + 16);
    const got = this.decodeProbe(probe);
    if (got === null) return true;
    const insn = decode(this.cpu, CODE_ADDR);
    return insn.base === 16 || recipeOf(ENTRIES[insn.entry]).transfer === true;
  }

  /** The scratch region's bytes in the model's memory. */
  scratch(): Uint8Array {
    return this.machine.memory.bytes.subarray(P_SCRATCH, P_SCRATCH + SCRATCH_SIZE);
  }

  /** Run a loaded case to its end. `stopAt`: stop before the instruction at this
   *  offset is executed for the first time (for minimising: the state before it). */
  run(c: Case, stopAt = -1): ModelOutcome {
    const cpu = this.cpu;
    const end = CODE_ADDR + c.code.length;
    const stopRip = stopAt >= 0 ? CODE_ADDR + stopAt : NaN;
    const out: ModelOutcome = {
      kind: EndKind.End, vector: 0, error: 0, cr2: 0, rip: end, regs: caseRegs(), sel: [0, 0, 0, 0, 0, 0],
      message: '', undefFlags: 0, undefRegs: 0, undefMem: [], tainted: false, steps: 0, trapFlags: false,
    };
    const state = { rcxLo: 0, rcxHi: 0, postFlags: 0 };
    let undefResult = false;
    for (;;) {
      const rip = cpu.rip;
      if (rip === end || rip === stopRip) break;
      if (out.steps >= MAX_STEPS) {
        out.kind = EndKind.Timeout;
        out.message = `no end after ${MAX_STEPS} instructions`;
        return this.finish(out);
      }
      out.steps++;
      const insn = this.peek(rip);
      let budget = 1;
      if (insn !== null && insn.rep !== 0) budget = repBudget(cpu, insn);
      state.rcxLo = cpu.regLo[1];
      state.rcxHi = cpu.regHi[1];
      let memDest = -1;
      // A 16-bit SHLD/SHRD's memory destination may be undefined: where it is, before it runs.
      if (insn !== null && insn.mem && insn.osz === 2 && ENTRIES[insn.entry].def.undefined === 'doubleShift') {
        memDest = this.scratchOffset(insn);
      }
      let reason;
      try {
        reason = cpu.run(cpu.icount + budget);
      } catch (e) {
        if (e instanceof ModelError) {
          out.kind = EndKind.ModelError;
          out.message = e.message;
          return this.finish(out);
        }
        throw e;
      }
      if (reason === 'halted') {
        const v = cpu.rip - HANDLERS_LIN - 1;
        if (v < 0 || v > 255) throw new Error(`oracle model: halted outside the handler page at ${cpu.ripHex()}`);
        return this.fault(out, v);
      }
      if (reason === 'triple-fault') {
        out.kind = EndKind.ModelError;
        out.message = 'triple fault';
        return this.finish(out);
      }
      if ((cpu.flagsRest & (0x100 | 0x40000)) !== 0) out.trapFlags = true;
      if (insn === null) continue;
      if (undefResult) out.tainted = true;
      state.postFlags = cpu.getFlags();
      const fx = effects(ENTRIES[insn.entry], insn, state);
      if ((fx.reads & out.undefFlags) !== 0) out.tainted = true;
      out.undefFlags = (out.undefFlags & ~fx.writes) | fx.undef;
      if (isPushSreg(ENTRIES[insn.entry]) && insn.osz !== 2) {
        // The upper bytes of the slot: zero-extended or left alone (SDM PUSH).
        const off = cpu.regLo[4] - SCRATCH_ADDR;
        if (cpu.regHi[4] === 0 && off >= 0 && off + insn.osz <= SCRATCH_SIZE) out.undefMem.push([off + 2, insn.osz - 2]);
        undefResult = true;
      }
      if (fx.undefDest) {
        undefResult = true;
        if (insn.mem) {
          if (memDest >= 0) out.undefMem.push([memDest, 2]);
          else out.tainted = true;
        } else {
          const r = ruleOf(ENTRIES[insn.entry])?.destIn === 'rm' ? insn.rm : insn.reg;
          out.undefRegs |= 1 << r;
        }
      }
    }
    out.kind = EndKind.End;
    out.rip = cpu.rip;
    return this.finish(out);
  }

  /** Decode the instruction at rip without side effects (null if fetching it faults). */
  private peek(rip: number): Insn | null {
    const cpu = this.cpu;
    const cr2 = cpu.cr2;
    try {
      return decode(cpu, rip);
    } catch (e) {
      if (e !== FAULT) throw e;
      cpu.cr2 = cr2;
      return null;
    }
  }

  private scratchOffset(insn: Insn): number {
    const cpu = this.cpu;
    const cr2 = cpu.cr2;
    try {
      cpu.nextRip = cpu.rip + insn.len;
      const lin = cpu.ea(insn);
      const off = lin - SCRATCH_ADDR;
      return off >= 0 && off < SCRATCH_SIZE ? off : -1;
    } catch (e) {
      if (e !== FAULT) throw e;
      cpu.cr2 = cr2;
      return -1;
    }
  }

  private finish(out: ModelOutcome): ModelOutcome {
    const cpu = this.cpu;
    for (let r = 0; r < 16; r++) {
      out.regs[2 * r] = cpu.regLo[r] >>> 0;
      out.regs[2 * r + 1] = cpu.regHi[r] >>> 0;
    }
    out.regs[32] = cpu.getFlags() >>> 0;
    out.regs[33] = 0;
    for (let s = 0; s < 6; s++) out.sel[s] = cpu.segSel[s] & 0xffff;
    return out;
  }

  private fault(out: ModelOutcome, vector: number): ModelOutcome {
    const cpu = this.cpu;
    const mem = this.machine.memory;
    this.finish(out);
    out.kind = EndKind.Fault;
    out.vector = vector;
    out.cr2 = cpu.cr2;
    const frameLin = cpu.regHi[4] * TWO32 + (cpu.regLo[4] >>> 0);
    let p = P_KSTACK + (frameLin - KSTACK_LIN);
    if (p < P_KSTACK || p + 40 > P_KSTACK + 0x2000) throw new Error('oracle model: exception frame outside the kernel stack');
    const software = this.softwareInterrupt(vector);
    if (V.pushesErrorCode(vector) && !software) { out.error = mem.readU32(p); p += 8; }
    const ripLo = mem.readU32(p), ripHi = mem.readU32(p + 4) | 0;
    out.rip = ripHi * TWO32 + ripLo;
    out.sel[CS] = mem.readU32(p + 8) & 0xffff;
    out.regs[32] = mem.readU32(p + 16) & ~0x10000;
    out.regs[8] = mem.readU32(p + 24);
    out.regs[9] = mem.readU32(p + 28);
    out.sel[SS] = mem.readU32(p + 32) & 0xffff;
    return out;
  }

  /** Was this vector delivered by INT3/INT n/INTO through a DPL-3 gate (no error code)? */
  private softwareInterrupt(vector: number): boolean {
    return vector === 3 || vector === 4 || vector === 0x80;
  }
}

/** Iterations a REP string instruction will do if nothing faults (MOVS/STOS/LODS/INS/OUTS;
 *  CMPS/SCAS may stop early, so they step one iteration at a time). */
function repBudget(cpu: Cpu, insn: Insn): number {
  const sf = recipeOf(ENTRIES[insn.entry]).string;
  if (sf === undefined || sf.stopsEarly) return 1;
  const lo = cpu.regLo[1] >>> 0, hi = cpu.regHi[1] >>> 0;
  let n: number;
  if (insn.asz === 8) n = hi !== 0 ? 2 ** 40 : lo;
  else if (insn.asz === 4) n = lo;
  else n = lo & 0xffff;
  return Math.max(1, n);
}

export { ALL_STATUS };
