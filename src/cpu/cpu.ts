// The CPU: architectural state, memory access through segmentation and paging,
// and the fetch/decode/execute loop. Instruction semantics live in ops/*.ts,
// event delivery in idt.ts, paging in paging.ts; this file ties them together.
//
// Representation (docs/architecture.md, "The CPU"): 64-bit registers are pairs of 32-bit
// halves in Int32Arrays; RIP and linear addresses are JS numbers holding the canonical
// address as a signed integer (exact below 2^53), so the hot path has no BigInt.
//
// Deliberate deviations (each has a model error or a note where it applies):
// - Segment checks on data accesses outside 64-bit mode cover limits, expand-down,
//   usability, readability and writability; descriptor privilege at access time and
//   the limit on instruction fetch (CS) are not checked yet.
// - #AC is checked before the access's page translation (as Bochs does); the SDM's
//   priority table (Vol. 3A §6.9) lists data page faults above alignment checks for
//   simultaneous conditions, which hardware documentation does not settle for one access.
// - The TLB is not tagged by PCID (SDM Vol. 3A §4.10.1): every MOV to CR3 flushes all
//   non-global translations, even with bit 63 set under CR4.PCIDE = 1 (allowed: a
//   processor may always invalidate more than required, §4.10.4.1). Global translations
//   (§4.10.2.4) survive CR3 writes.
// - With CR4.LA57, a 57-bit canonical linear address whose magnitude is 2^53 or more
//   cannot be held exactly in a JS number: using one is a model error ('LA57 linear
//   address beyond ±2^53 is not modelled'). Addresses below 2^53 (PML5 indexes 0-31 and
//   480-511) work.

import type { CodeCache, IoPorts, PhysicalBus } from './bus.js';
import { ModelError } from './errors.js';
import * as R from '../arch/rflags.js';
import * as C from '../arch/control.js';
import * as V from '../arch/vectors.js';
import { CS, SS, DS, FS, GS, DESC_L, DESC_DB } from '../arch/descriptors.js';
import { FAULT, STOP } from './fault.js';
import { Lazy, STATUS_LOADED, statusFlags } from './flags.js';
import type { CpuModelOptions } from './model.js';
import { LINEAR_BITS_4LEVEL, LINEAR_BITS } from './model.js';
import { Insn } from './insn.js';
import { decode } from './decoder.js';
import { walk, Access } from './paging.js';
import { deliverException, Source } from './idt.js';
import { featureSet } from './cpuid.js';
import { compileBlock, HOT } from './blocks.js';
import { Msr, MSR_NAMES, resetMsrs } from './msrs.js';
import type { VcpuState, SegmentState } from './state.js';
import { canEndHalt, eventWindow, nextEventDue } from './events.js';
import { Injections } from './injections.js';
import { Lapic } from './lapic.js';
import { Transition, type TraceSink } from './transition.js';
import { Scratch } from './scratch.js';
import { UNDEFINED, type UndefinedValues } from './undefined.js';
import { DESC_P, DESC_TYPE_CODE, DESC_TYPE_READABLE, DESC_TYPE_WRITABLE, DESC_TYPE_EXPAND_DOWN } from '../arch/descriptors.js';
import { Mode } from './mode.js';
import { TLB_SIZE, TLB_MASK, TLB_KINDS, TlbKind, WRITE_KINDS } from './tlb.js';
import { formatLinear } from './format.js';
import { HostEntries } from './host-entry.js';
import { armBreakpoints, discardDebugTraps, watchedKinds, DR6_BD, DR6_FIXED_1, DR7_FIXED_1 } from './debug.js';
// For users outside src/cpu; modules inside it import these from their own modules.
export { Mode, TLB_SIZE, TlbKind, formatLinear };

const PAGE_SIZE = 4096;
/** Dropped decode pages kept for reuse (Cpu.sparePages). */
const SPARE_PAGES = 16;

const TWO32 = 4294967296;
/** The fast canonical check, for 4-level paging: bits 63:47 equal (SDM Vol. 1 §3.3.7.1).
 *  5-level paging (CR4.LA57) is handled on its failure path (noncanonical). */
const CANON_SHIFT = 64 - LINEAR_BITS_4LEVEL; // for the high half: 16
const CANON48 = 2 ** 47;
/** 57-bit canonical: bits 63:56 equal, i.e. the high half sign-extends bit 24 (SDM Vol. 3A §4.5.1). */
const CANON57_SHIFT = 7;
/** Largest magnitude a linear address may have to stay exact in a JS number. */
const EXACT = 2 ** 53;

export type EndReason = 'halted' | 'triple-fault' | 'stopped';

/** How the CPU runs guest code; what the guest observes is the same either way. */
export interface ExecutionOptions {
  /** Every instruction through its table row's generic semantics, one at a time: no compiled
   *  blocks, no decode-time specialisation. The reference the exactness tests hold compiled
   *  code to. */
  stepped?: boolean;
  /** Interpreted executions of a block entry that compile its block (default blocks.ts HOT).
   *  The exactness tests lower it so that short loops run compiled. */
  hotThreshold?: number;
}

export class Cpu implements CodeCache {
  readonly mem: PhysicalBus;
  readonly io: IoPorts;
  readonly model: CpuModelOptions;
  /** The flavour's values for what the manuals leave undefined (undefined.ts). */
  readonly undef: UndefinedValues;
  readonly view: DataView;

  // General-purpose registers, RAX..R15, as 32-bit halves.
  readonly regLo = new Int32Array(16);
  readonly regHi = new Int32Array(16);
  /** High half of the last 64-bit operand read (see readE/readMem*). */
  hi = 0;

  rip = 0;
  /** RIP of the next instruction; branches write it. */
  nextRip = 0;
  mode = Mode.Protected32;
  cpl = 0;

  // RFLAGS: status flags are lazy (flags.ts), the others live here.
  flagsRest = R.RESERVED1;
  lfOp = Lazy.Eager;
  /** While lfOp is Eager: the status flags the last writer took from the vendor table
   *  because the SDM leaves them undefined (flags.ts undefinedStatus; the ABI diff's
   *  "undefined, vendor table" class). */
  lfUndefined = 0;
  lfSize = 4;
  lfRes = 0;
  lfResHi = 0;
  lfA = 0;
  lfAHi = 0;
  lfB = 0;
  lfBHi = 0;
  lfCin = 0;
  lfEager = 0;

  // Segment registers: selector and descriptor cache (base halves, limit, attributes
  // as bits 8..23 of the descriptor's high dword).
  readonly segSel = new Int32Array(6);
  readonly segBaseLo = new Int32Array(6);
  readonly segBaseHi = new Int32Array(6);
  readonly segLimit = new Int32Array(6);
  readonly segAttr = new Int32Array(6);
  /** Base used for addressing: 0 for ES/CS/SS/DS in 64-bit mode (SDM Vol. 3 §3.2.4). */
  readonly segEffLo = new Int32Array(6);
  readonly segEffHi = new Int32Array(6);

  /** Segment checks outside 64-bit mode (checkSegment): the valid offset range, whether
   *  it needs checking at all (flat segments do not), and whether stores are refused. */
  readonly segLow = new Float64Array(6);
  readonly segHigh = new Float64Array(6);
  readonly segChecked = new Uint8Array(6);
  readonly segNoWrite = new Uint8Array(6);
  /** Set by the last segment check: the access's segment refuses stores (#GP(0)). */
  denyWrite = false;

  // Descriptor-table bases as 32-bit halves, like the segment bases: LGDT, LIDT, LLDT and
  // LTR load any 57-bit canonical base, beyond what a number holds exactly (tableLinear).
  gdtrBaseLo = 0;
  gdtrBaseHi = 0;
  gdtrLimit = 0;
  idtrBaseLo = 0;
  idtrBaseHi = 0;
  idtrLimit = 0;
  ldtrSel = 0;
  ldtrBaseLo = 0;
  ldtrBaseHi = 0;
  ldtrLimit = 0;
  trSel = 0;
  trBaseLo = 0;
  trBaseHi = 0;
  trLimit = 0;
  trAttr = 0;

  cr0 = C.CR0_ET;
  /** CR2 holds any 64-bit value MOV writes (SDM MOV CR), so it is kept as halves. */
  cr2Lo = 0;
  cr2Hi = 0;
  cr3Lo = 0;
  cr3Hi = 0;
  cr4 = 0;
  /** CR4 bits 63:32: only FRED (bit 32, CR4_HI_FRED) is defined. */
  cr4Hi = 0;
  /** The PDPTE registers of PAE paging (SDM Vol. 3A §4.4.1): the four PDPTEs as loaded by the
   *  last MOV to CR0/CR3/CR4 that loaded them (paging.ts loadPdptes); Intel-flavour PAE walks
   *  use these, never the PDPT in memory. The AMD flavour has none (paging.ts). */
  readonly pdpteLo = new Int32Array(4);
  readonly pdpteHi = new Int32Array(4);
  efer = 0;
  /** The MSRs kept as plain registers, by slot (msrs.ts): halves, never BigInt. */
  readonly msrLo = new Int32Array(Msr.Count);
  readonly msrHi = new Int32Array(Msr.Count);
  /** IA32_TIME_STAMP_COUNTER writes: TSC = icount + offset. */
  tscOffset = 0;
  /** Debug registers DR0..DR7 (DR4/DR5 are never stored: they alias DR6/DR7). */
  readonly drLo = new Int32Array(8);
  readonly drHi = new Int32Array(8);
  /** The breakpoints DR7 arms, decoded from DR0-DR3, DR7 and CR4.DE by debug.ts
   *  armBreakpoints: masks of armed instruction, data and I/O breakpoints, and per breakpoint
   *  its aligned address (linear, or port), length, write-only kind and watched page (NaN). */
  bpExec = 0;
  bpData = 0;
  bpIo = 0;
  readonly bpAddr = new Float64Array(4);
  readonly bpLen = new Int32Array(4);
  readonly bpWriteOnly = new Uint8Array(4);
  readonly bpPage = new Float64Array(4).fill(NaN);
  /** CPUID-advertised features the decoder gates on. */
  readonly features: ReadonlySet<string>;
  readonly scratch = new Scratch();

  /** Retired instructions. */
  icount = 0;
  /** The run loop stops when icount reaches this: the budget, or the next instruction
   *  boundary where the event window has something to do. */
  icountLimit = 0;
  endReason: EndReason | null = null;

  // Events taken at instruction boundaries (events.ts; state.ts EventState says what each is).
  stepArmedAt = -1;
  rfClearAt = -1;
  pendingDebug = 0;
  movSsShadowAt = -1;
  stiShadowAt = -1;
  dataHits = 0;
  repYieldAt = -1;
  /** HLT retired with IF = 1: no instruction runs until an event is delivered; virtual time
   *  skips to the next event due (run). */
  halted = false;
  /** The local APIC (lapic.ts): per-vCPU, consulted at instruction boundaries and for CR8. */
  readonly lapic: Lapic;
  /** The local APIC presents a vector above its PPR (kept by lapic.ts refresh). */
  intrPending = false;
  /** An NMI was raised and not yet delivered (one is held; SDM Vol. 3A §6.7.1). */
  nmiPending = false;
  /** An NMI was delivered and no IRET has executed since: NMIs are not delivered. */
  nmiBlocked = false;
  /** Events injected from outside at a tick or an address (injections.ts). */
  readonly injections = new Injections(this);
  /** Set when a compiled block must stop after the current instruction: decoded code was
   *  written, or an event became pending. */
  blockExit = false;

  /** Transitions committed through transition.ts, and where their records go (null: no
   *  tracing, and no record is built). */
  transitions = 0;
  traceSink: TraceSink | null = null;
  /** The transition being committed (transition.ts): scratch, so committing never allocates. */
  readonly transition = new Transition();

  // The pending fault, set by raise() before throwing FAULT.
  faultVector = 0;
  faultError = 0;

  // TLB: per kind a tag (linear page number, NaN = invalid) and one physical page base per slot.
  readonly tlbTag = new Float64Array(TLB_SIZE * TLB_KINDS).fill(NaN);
  readonly tlbPhys = new Float64Array(TLB_SIZE);
  /** 1 where the slot's translation is global (leaf G = 1 with CR4.PGE = 1, SDM Vol. 3A
   *  §4.10.2.4): kept by MOV to CR3 and by INVPCID types 1 and 3. */
  readonly tlbGlobal = new Uint8Array(TLB_SIZE);
  /** The slots filled since they were last cleared, so that a flush clears those only (a
   *  run that reloads CR3 often, or restores state per case, touches a few of 4096). */
  private readonly tlbUsed = new Int32Array(TLB_SIZE);
  private readonly tlbListed = new Uint8Array(TLB_SIZE);
  private tlbUsedCount = 0;
  /** Offsets into tlbTag for the current privilege's data and fetch kinds. */
  tlbRead = 0;
  tlbWrite = TLB_SIZE;
  tlbFetch = TLB_SIZE * 2;

  // Decode cache: per physical page and mode (32/64-bit decoding), decoded instructions by
  // offset. Physical memory marks the pages (codeMark) and calls dropCodePage on a write.
  private readonly icache: ((Insn | undefined)[] | undefined)[] = [];
  private readonly codeMark: Uint8Array;
  /** Linear address of the page the decode cache is serving (NaN: none). */
  private codeBase = NaN;
  private codePage: (Insn | undefined)[] = [];
  private codePpn = -1;
  /** Decode pages dropped and emptied, kept for reuse: a guest that rewrites its code (or a
   *  harness that reloads it per case) would otherwise allocate 4096 slots each time; which
   *  offsets a page holds is kept beside it, so emptying it costs what filling it did. */
  private readonly sparePages: (Insn | undefined)[][] = [];
  private readonly pageOffsets = new WeakMap<(Insn | undefined)[], number[]>();
  /** The host entry points (host-entry.ts). */
  readonly hostEntries = new HostEntries(this);

  /** Every instruction runs through its table row's generic semantics, one at a time: no
   *  compiled blocks, no decode-time specialisation (the reference for exactness tests). */
  readonly stepped: boolean;
  /** Interpreted executions of a block entry that compile its block. */
  readonly hotThreshold: number;
  /** Blocks compiled so far (a statistic, not vCPU state: a restore keeps it). */
  blocksCompiled = 0;

  constructor(mem: PhysicalBus, io: IoPorts, model: CpuModelOptions, execution: ExecutionOptions = {}) {
    this.mem = mem;
    this.stepped = execution.stepped ?? false;
    this.hotThreshold = execution.hotThreshold ?? HOT;
    if (!Number.isSafeInteger(this.hotThreshold) || this.hotThreshold < 1) throw new RangeError(`compile threshold must be a positive integer (got ${this.hotThreshold})`);
    this.io = io;
    this.model = model;
    this.undef = UNDEFINED[model.vendor].values;
    this.view = mem.view;
    this.codeMark = mem.codeMark;
    mem.attachCodeCache(this);
    this.features = featureSet(model);
    this.drLo[6] = DR6_FIXED_1;
    this.drLo[7] = DR7_FIXED_1;
    resetMsrs(this.msrLo, this.msrHi);
    this.lapic = new Lapic(this);
  }

  /** CR2 as a linear address (page faults write canonical addresses). */
  get cr2(): number {
    return this.cr2Hi * TWO32 + (this.cr2Lo >>> 0);
  }

  set cr2(lin: number) {
    this.cr2Lo = lin | 0;
    this.cr2Hi = Math.floor(lin / TWO32) | 0;
  }

  // ---------------------------------------------------------------- state

  /** The architectural state as plain data (state.ts). */
  capture(): VcpuState {
    const seg = (k: number): SegmentState => ({
      sel: this.segSel[k], baseLo: this.segBaseLo[k], baseHi: this.segBaseHi[k], limit: this.segLimit[k], attr: this.segAttr[k],
    });
    const msrs = {} as VcpuState['msrs'];
    MSR_NAMES.forEach((name, k) => { msrs[name] = [this.msrLo[k], this.msrHi[k]]; });
    return {
      gprLo: Array.from(this.regLo),
      gprHi: Array.from(this.regHi),
      rip: this.rip,
      rflags: this.getFlags(),
      cpl: this.cpl,
      segments: [0, 1, 2, 3, 4, 5].map(seg),
      gdtr: { baseLo: this.gdtrBaseLo, baseHi: this.gdtrBaseHi, limit: this.gdtrLimit },
      idtr: { baseLo: this.idtrBaseLo, baseHi: this.idtrBaseHi, limit: this.idtrLimit },
      ldtr: { sel: this.ldtrSel, baseLo: this.ldtrBaseLo, baseHi: this.ldtrBaseHi, limit: this.ldtrLimit },
      tr: { sel: this.trSel, baseLo: this.trBaseLo, baseHi: this.trBaseHi, limit: this.trLimit, attr: this.trAttr },
      cr0: this.cr0, cr2Lo: this.cr2Lo, cr2Hi: this.cr2Hi, cr3Lo: this.cr3Lo, cr3Hi: this.cr3Hi, cr4: this.cr4, cr4Hi: this.cr4Hi,
      pdpteLo: Array.from(this.pdpteLo),
      pdpteHi: Array.from(this.pdpteHi),
      drLo: Array.from(this.drLo),
      drHi: Array.from(this.drHi),
      efer: this.efer,
      msrs,
      events: {
        stepArmedAt: this.stepArmedAt, rfClearAt: this.rfClearAt, pendingDebug: this.pendingDebug,
        // A shadow or yield mark whose boundary has passed means nothing any more; the event
        // window forgets it only when it next opens, so a capture reports it forgotten too
        // (the same state however the run was sliced).
        movSsShadowAt: this.pending(this.movSsShadowAt), stiShadowAt: this.pending(this.stiShadowAt), halted: this.halted,
        nmiPending: this.nmiPending, nmiBlocked: this.nmiBlocked,
        dataHits: this.dataHits, repYieldAt: this.pending(this.repYieldAt),
      },
      lapic: this.lapic.capture(),
      icount: this.icount,
      tscOffset: this.tscOffset,
      transitions: this.transitions,
    };
  }

  /** An instruction-boundary mark (events.ts), or -1 once its boundary has passed. */
  private pending(at: number): number {
    return at >= 0 && this.icount > at ? -1 : at;
  }

  /** Load a captured state, and rebuild everything derived from it: the mode, effective
   *  segment bases and checks, the TLB and its views for the CPL, the decode-cache position
   *  and the lazy flags. */
  restore(s: VcpuState): void {
    this.regLo.set(s.gprLo);
    this.regHi.set(s.gprHi);
    this.rip = s.rip;
    this.setFlags(s.rflags);
    s.segments.forEach((g, k) => {
      this.segSel[k] = g.sel; this.segBaseLo[k] = g.baseLo; this.segBaseHi[k] = g.baseHi;
      this.segLimit[k] = g.limit; this.segAttr[k] = g.attr;
    });
    this.gdtrBaseLo = s.gdtr.baseLo; this.gdtrBaseHi = s.gdtr.baseHi; this.gdtrLimit = s.gdtr.limit;
    this.idtrBaseLo = s.idtr.baseLo; this.idtrBaseHi = s.idtr.baseHi; this.idtrLimit = s.idtr.limit;
    this.ldtrSel = s.ldtr.sel; this.ldtrBaseLo = s.ldtr.baseLo; this.ldtrBaseHi = s.ldtr.baseHi; this.ldtrLimit = s.ldtr.limit;
    this.trSel = s.tr.sel; this.trBaseLo = s.tr.baseLo; this.trBaseHi = s.tr.baseHi; this.trLimit = s.tr.limit; this.trAttr = s.tr.attr;
    this.cr0 = s.cr0; this.cr2Lo = s.cr2Lo; this.cr2Hi = s.cr2Hi; this.cr3Lo = s.cr3Lo; this.cr3Hi = s.cr3Hi;
    this.cr4 = s.cr4;
    this.cr4Hi = s.cr4Hi;
    this.pdpteLo.set(s.pdpteLo);
    this.pdpteHi.set(s.pdpteHi);
    this.drLo.set(s.drLo);
    this.drHi.set(s.drHi);
    this.efer = s.efer;
    MSR_NAMES.forEach((name, k) => { [this.msrLo[k], this.msrHi[k]] = s.msrs[name]; });
    const e = s.events;
    this.stepArmedAt = e.stepArmedAt; this.rfClearAt = e.rfClearAt; this.pendingDebug = e.pendingDebug;
    this.movSsShadowAt = e.movSsShadowAt; this.stiShadowAt = e.stiShadowAt; this.halted = e.halted;
    this.nmiPending = e.nmiPending; this.nmiBlocked = e.nmiBlocked;
    this.dataHits = e.dataHits; this.repYieldAt = e.repYieldAt;
    this.icount = s.icount;
    this.tscOffset = s.tscOffset;
    this.transitions = s.transitions;
    this.lapic.restore(s.lapic);
    this.endReason = null;
    this.setCpl(s.cpl);
    this.modeChanged();
    this.flushTlb();
    armBreakpoints(this);
  }

  // ---------------------------------------------------------------- registers

  getReg8(r: number): number {
    return r < 16 ? this.regLo[r] & 0xff : (this.regLo[r - 16] >> 8) & 0xff;
  }

  setReg8(r: number, v: number): void {
    if (r < 16) this.regLo[r] = (this.regLo[r] & ~0xff) | (v & 0xff);
    else this.regLo[r - 16] = (this.regLo[r - 16] & ~0xff00) | ((v & 0xff) << 8);
  }

  /** Read a register of `size` bytes; for size 8 the high half goes to this.hi. */
  getReg(r: number, size: number): number {
    switch (size) {
      case 1: return this.getReg8(r);
      case 2: return this.regLo[r] & 0xffff;
      case 4: return this.regLo[r];
      default: this.hi = this.regHi[r]; return this.regLo[r];
    }
  }

  /** Write a register of `size` bytes: 8/16-bit writes merge, 32-bit writes zero-extend
   *  (SDM Vol. 1 §3.4.1.1). */
  setReg(r: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1: this.setReg8(r, lo); return;
      case 2: this.regLo[r] = (this.regLo[r] & ~0xffff) | (lo & 0xffff); return;
      case 4: this.regLo[r] = lo; this.regHi[r] = 0; return;
      default: this.regLo[r] = lo; this.regHi[r] = hi; return;
    }
  }

  // ---------------------------------------------------------------- RFLAGS

  getFlags(): number {
    return this.flagsRest | statusFlags(this);
  }

  setFlags(v: number): void {
    this.lfOp = Lazy.Eager;
    this.lfEager = v & R.STATUS;
    this.lfUndefined = STATUS_LOADED;
    this.flagsRest = (v & ~R.STATUS) | R.RESERVED1;
    // TF arms a single-step trap at the next boundary; IF = 1 lets a pending interrupt in (events.ts).
    if ((v & R.TF) !== 0 || ((v & R.IF) !== 0 && this.intrPending)) this.eventPending();
  }

  /** Set status flags computed eagerly (shifts, multiplies, bit tests). `undefinedBits`:
   *  which of them the SDM leaves undefined after this write (a partial update passes on
   *  the undefined flags it does not write: undefinedStatus(cpu) & ~written). */
  setStatus(status: number, undefinedBits: number): void {
    this.lfOp = Lazy.Eager;
    this.lfEager = status;
    this.lfUndefined = undefinedBits;
  }

  // ---------------------------------------------------------------- faults

  /** Raise an exception from inside an instruction: record it and unwind. */
  raise(vector: number, error = 0): never {
    this.faultVector = vector;
    this.faultError = error;
    throw FAULT;
  }

  gp(error = 0): never {
    return this.raise(V.GP, error);
  }

  ud(): never {
    return this.raise(V.UD);
  }

  modelError(what: string): never {
    throw new ModelError(`${what} (at rip ${this.ripHex()})`);
  }

  ripHex(): string {
    return formatLinear(this.rip);
  }

  // ---------------------------------------------------------------- modes

  get longMode(): boolean {
    return (this.efer & C.EFER_LMA) !== 0;
  }

  /** Recompute the mode from EFER.LMA and CS.L/D, and what depends on it. */
  modeChanged(): void {
    const attr = this.segAttr[CS];
    if (this.longMode && (attr & DESC_L) !== 0) this.mode = Mode.Long64;
    else if ((attr & DESC_DB) === 0) this.modelError('16-bit code segments are not modelled');
    else this.mode = this.longMode ? Mode.Compat32 : Mode.Protected32;
    for (let s = 0; s < 6; s++) this.segmentBaseChanged(s);
    this.codeBase = NaN;
  }

  segmentBaseChanged(s: number): void {
    this.segmentChecksChanged(s);
    if (this.mode === Mode.Long64 && s !== FS && s !== GS) {
      this.segEffLo[s] = 0;
      this.segEffHi[s] = 0;
    } else {
      this.segEffLo[s] = this.segBaseLo[s];
      this.segEffHi[s] = this.mode === Mode.Long64 ? this.segBaseHi[s] : 0;
    }
  }

  /** Precompute what checkSegment needs from a segment's descriptor cache. */
  private segmentChecksChanged(s: number): void {
    this.denyWrite = false;
    const attr = this.segAttr[s];
    if (this.mode === Mode.Long64) { this.segChecked[s] = 0; this.segNoWrite[s] = 0; return; }
    const usable = (attr & DESC_P) !== 0;
    const code = (attr & DESC_TYPE_CODE) !== 0;
    const readable = !code || (attr & DESC_TYPE_READABLE) !== 0;
    const writable = !code && (attr & DESC_TYPE_WRITABLE) !== 0;
    const expandDown = !code && (attr & DESC_TYPE_EXPAND_DOWN) !== 0;
    const limit = this.segLimit[s] >>> 0;
    let low = 0, high = limit;
    if (expandDown) { low = limit + 1; high = (attr & DESC_DB) !== 0 ? 0xffffffff : 0xffff; }
    if (!usable || !readable) { low = 1; high = 0; }
    this.segLow[s] = low;
    this.segHigh[s] = high;
    this.segChecked[s] = low === 0 && high === 0xffffffff ? 0 : 1;
    this.segNoWrite[s] = writable ? 0 : 1;
  }

  setCpl(cpl: number): void {
    this.cpl = cpl;
    const user = cpl === 3 ? TLB_SIZE * 3 : 0;
    this.tlbRead = user + TLB_SIZE * TlbKind.ReadS;
    this.tlbWrite = user + TLB_SIZE * TlbKind.WriteS;
    this.tlbFetch = user + TLB_SIZE * TlbKind.FetchS;
    this.codeBase = NaN;
  }

  // ---------------------------------------------------------------- addresses

  /** Turn a 64-bit address (halves) into a linear address, #GP(0) (or #SS(0) for
   *  stack references) if it is not canonical (SDM Vol. 1 §3.3.7.1). */
  canonical(lo: number, hi: number, seg: number): number {
    if (((hi << CANON_SHIFT) >> CANON_SHIFT) !== hi) return this.noncanonical(seg, lo, hi);
    return hi * TWO32 + (lo >>> 0);
  }

  /** Effective address of a memory operand, as a linear address (SDM Vol. 1 §3.7.5). */
  ea(i: Insn): number {
    let sum = i.dispLo >>> 0;
    let hi = i.dispHi;
    if (i.base >= 0) {
      if (i.base === 16) {
        // RIP-relative: the next instruction's RIP plus the displacement.
        const lin = this.nextRip + (i.dispLo | 0);
        if (i.asz === 4) return (lin >>> 0) + this.segEffLo[i.seg] >>> 0;
        const r = lin + (this.segEffHi[i.seg] * TWO32 + (this.segEffLo[i.seg] >>> 0));
        if (r >= -CANON48 && r < CANON48) return r;
        return this.noncanonicalAt(i.seg, r);
      }
      sum += this.regLo[i.base] >>> 0;
      hi += this.regHi[i.base];
    }
    if (i.index >= 0) {
      const s = i.scale;
      sum += (this.regLo[i.index] >>> 0) * (1 << s);
      hi += this.regHi[i.index] << s;
    }
    if (i.asz === 2) {
      // 16-bit addressing (32-bit code with a 67 prefix): the offset wraps at 64 KiB.
      this.checkSegment(i.seg, sum & 0xffff, i.memSize);
      return ((sum & 0xffff) + (this.segEffLo[i.seg] >>> 0)) >>> 0;
    }
    if (i.asz === 4) {
      // 32-bit address size: the effective address wraps at 4 GiB before the base is added.
      if (this.mode !== Mode.Long64) {
        this.checkSegment(i.seg, sum >>> 0, i.memSize);
        return ((sum >>> 0) + (this.segEffLo[i.seg] >>> 0)) >>> 0;
      }
      sum = (sum >>> 0) + (this.segEffLo[i.seg] >>> 0);
      hi = this.segEffHi[i.seg];
    } else {
      sum += this.segEffLo[i.seg] >>> 0;
      hi += this.segEffHi[i.seg];
    }
    hi = (hi + Math.floor(sum / TWO32)) | 0;
    if (((hi << CANON_SHIFT) >> CANON_SHIFT) !== hi) return this.noncanonical(i.seg, sum, hi);
    return hi * TWO32 + (sum >>> 0);
  }

  /** Segment checks on a data access outside 64-bit mode (SDM Vol. 3A §5.3 limit
   *  checking, §5.4 type checking): the offset range must lie inside the segment's
   *  limits (expand-down segments: above the limit), the segment must be usable and
   *  readable; #SS(0) for SS, #GP(0) otherwise. Whether a write is allowed is left in
   *  denyWrite for the store that follows. */
  private checkSegment(seg: number, off: number, size: number): void {
    this.denyWrite = this.segNoWrite[seg] !== 0;
    if (this.segChecked[seg] === 0) return;
    if (off < this.segLow[seg] || off + size - 1 > this.segHigh[seg]) this.raise(seg === SS ? V.SS : V.GP, 0);
  }

  /** The cold path of every canonical check: the address (halves) is not 48-bit canonical.
   *  With CR4.LA57 = 1 (5-level paging, SDM Vol. 3A §4.5) canonical means 57-bit canonical,
   *  bits 63:56 equal; such an address is returned as a linear address. Otherwise #GP(0),
   *  or #SS(0) for a stack reference (SS, explicitly or by an RSP/RBP base: SDM Vol. 1
   *  §3.3.7.1, Vol. 3A §6.15 Interrupt 12). */
  noncanonical(seg: number, lo: number, hi: number): number {
    if ((this.cr4 & C.CR4_LA57) !== 0 && ((hi << CANON57_SHIFT) >> CANON57_SHIFT) === hi) {
      const lin = hi * TWO32 + (lo >>> 0);
      if (lin < -EXACT || lin >= EXACT) this.modelError('LA57 linear address beyond ±2^53 is not modelled');
      return lin;
    }
    return this.raise(seg === SS ? V.SS : V.GP, 0);
  }

  /** Whether a high half makes a canonical address under the current paging mode: 48-bit,
   *  or 57-bit with CR4.LA57 (SDM Vol. 1 §3.3.7.1, Vol. 3A §4.5). For checks whose fault
   *  is not the plain #GP(0)/#SS(0) of noncanonical() (delivery, IRET, far branches). */
  isCanonicalHi(hi: number): boolean {
    if (((hi << CANON_SHIFT) >> CANON_SHIFT) === hi) return true;
    if ((this.cr4 & C.CR4_LA57) === 0 || ((hi << CANON57_SHIFT) >> CANON57_SHIFT) !== hi) return false;
    if (((hi << 11) >> 11) !== hi) this.modelError('LA57 linear address beyond ±2^53 is not modelled');
    return true;
  }

  /** Whether a high half makes an address canonical for the processor's maximum linear-address
   *  width (LINEAR_BITS, 57: CPUID enumerates 5-level paging), whatever CR4.LA57. Addresses
   *  that are stored for later use are checked so: MSR writes (FS/GS base, LSTAR, ...), the
   *  descriptor-table bases LGDT, LIDT, LLDT and LTR load, INVPCID's address (Intel, "5-Level
   *  Paging and 5-Level EPT" white paper §2.5 canonicality checking; SDM Vol. 3A §4.5). */
  isCanonicalMaxHi(hi: number): boolean {
    return ((hi << (64 - LINEAR_BITS)) >> (64 - LINEAR_BITS)) === hi;
  }

  /** The linear address `offset` bytes (0 to 2^32 - 1) into a system table whose base is
   *  held as halves (GDTR, IDTR, LDTR, TR). In IA-32e mode the base is 64 bits and the
   *  implicit supervisor access must be canonical for the current paging mode, else #GP(0)
   *  (SDM Vol. 1 §3.3.7.1; a 57-bit base loads whatever CR4.LA57, isCanonicalMaxHi); under
   *  LA57 beyond ±2^53 it is noncanonical()'s model error. Outside IA-32e mode the registers'
   *  upper halves are not used. */
  tableLinear(lo: number, hi: number, offset: number): number {
    const sum = (lo >>> 0) + offset;
    if (!this.longMode) {
      if (hi !== 0) this.modelError('a descriptor-table base above 4 GiB outside IA-32e mode is not modelled');
      return sum;
    }
    const h = (hi + (sum >= TWO32 ? 1 : 0)) | 0;
    if (((h << CANON_SHIFT) >> CANON_SHIFT) !== h) return this.noncanonical(DS, sum, h);
    return h * TWO32 + (sum >>> 0);
  }

  /** noncanonical() for an address already held as a number (RIP-relative operands,
   *  RIP itself): exact here because RIP is below 2^53 and a displacement is 32 bits. */
  noncanonicalAt(seg: number, lin: number): number {
    if ((this.cr4 & C.CR4_LA57) !== 0 && lin >= -(2 ** 56) && lin < 2 ** 56) {
      if (lin < -EXACT || lin >= EXACT) this.modelError('LA57 linear address beyond ±2^53 is not modelled');
      return lin;
    }
    return this.raise(seg === SS ? V.SS : V.GP, 0);
  }

  /** Linear address of seg:offset where the offset is a register pair (string ops, stack). */
  linear(seg: number, lo: number, hi: number, asz: number, size: number): number {
    if (asz === 8) {
      const sum = (lo >>> 0) + (this.segEffLo[seg] >>> 0);
      const h = (hi + this.segEffHi[seg] + (sum >= TWO32 ? 1 : 0)) | 0;
      if (((h << CANON_SHIFT) >> CANON_SHIFT) !== h) return this.noncanonical(seg, sum, h);
      return h * TWO32 + (sum >>> 0);
    }
    const off = asz === 4 ? lo >>> 0 : lo & 0xffff;
    const sum = off + (this.segEffLo[seg] >>> 0);
    if (this.mode !== Mode.Long64) {
      this.checkSegment(seg, off, size);
      return sum >>> 0;
    }
    const h = (this.segEffHi[seg] + (sum >= TWO32 ? 1 : 0)) | 0;
    if (((h << CANON_SHIFT) >> CANON_SHIFT) !== h) return this.noncanonical(seg, sum, h);
    return h * TWO32 + (sum >>> 0);
  }

  // ---------------------------------------------------------------- TLB and memory

  /** Physical address for a linear address, filling the TLB; raises #PF. `kind` picks
   *  the tag array (TlbKind + privilege offset). */
  translate(lin: number, tagBase: number, access: Access): number {
    const vpn = Math.floor(lin / PAGE_SIZE);
    const slot = vpn & TLB_MASK;
    if (this.tlbTag[tagBase + slot] === vpn) return this.tlbPhys[slot] + (lin & 0xfff);
    return walk(this, lin, vpn, slot, access, tagBase);
  }

  /** The physical address the TLB holds for a linear address under any access kind, or
   *  -1: a look-up without side effects (no walk, no fill, no fault), for traces. */
  cachedPhysical(lin: number): number {
    const vpn = Math.floor(lin / PAGE_SIZE);
    const slot = vpn & TLB_MASK;
    for (let k = 0; k < TLB_KINDS; k++) if (this.tlbTag[k * TLB_SIZE + slot] === vpn) return this.tlbPhys[slot] + (lin & 0xfff);
    return -1;
  }

  /** Invalidate every translation, global ones included (SDM Vol. 3A §4.10.4.1: a change
   *  of CR4.PGE, CR4.PCIDE 1 -> 0, INVPCID type 2, and the model's other flushes). */
  flushTlb(): void {
    const tags = this.tlbTag;
    for (let k = 0; k < this.tlbUsedCount; k++) {
      const slot = this.tlbUsed[k];
      for (let kind = 0; kind < TLB_KINDS; kind++) tags[kind * TLB_SIZE + slot] = NaN;
      this.tlbListed[slot] = 0;
    }
    this.tlbUsedCount = 0;
    this.codeBase = NaN;
  }

  /** Invalidate every non-global translation (MOV to CR3, INVPCID types 1 and 3: §4.10.4.1). */
  flushTlbNonGlobal(): void {
    const tags = this.tlbTag, global = this.tlbGlobal, used = this.tlbUsed;
    let kept = 0;
    for (let k = 0; k < this.tlbUsedCount; k++) {
      const slot = used[k];
      if (global[slot] !== 0) { used[kept++] = slot; continue; }
      for (let kind = 0; kind < TLB_KINDS; kind++) tags[kind * TLB_SIZE + slot] = NaN;
      this.tlbListed[slot] = 0;
    }
    this.tlbUsedCount = kept;
    this.codeBase = NaN;
  }

  /** Invalidate the translation of one page (INVLPG: global or not; INVPCID type 0
   *  with keepGlobal: not a global one). */
  flushTlbPage(lin: number, keepGlobal = false): void {
    const vpn = Math.floor(lin / PAGE_SIZE);
    const slot = vpn & TLB_MASK;
    if (keepGlobal && this.tlbGlobal[slot] !== 0) return;
    for (let k = 0; k < TLB_KINDS; k++) {
      if (this.tlbTag[k * TLB_SIZE + slot] === vpn) this.tlbTag[k * TLB_SIZE + slot] = NaN;
    }
    if (vpn * PAGE_SIZE === this.codeBase) this.codeBase = NaN;
  }

  /** Install a translation in one slot: invalidates other pages' tags in that slot. A
   *  translation that lets stores through marks its page written (memory.ts): later stores
   *  hit the TLB and go straight to RAM. */
  tlbFill(slot: number, vpn: number, physPage: number, kinds: number, global: boolean): void {
    if ((kinds & WRITE_KINDS) !== 0 && physPage < this.mem.size) this.mem.written[physPage / PAGE_SIZE] = 1;
    if (this.bpData !== 0) kinds = watchedKinds(this, vpn, kinds);
    this.tlbPhys[slot] = physPage;
    this.tlbGlobal[slot] = global ? 1 : 0;
    if (this.tlbListed[slot] === 0) { this.tlbListed[slot] = 1; this.tlbUsed[this.tlbUsedCount++] = slot; }
    for (let k = 0; k < TLB_KINDS; k++) this.tlbTag[k * TLB_SIZE + slot] = (kinds & (1 << k)) !== 0 ? vpn : NaN;
  }

  read8(lin: number): number {
    const p = this.translate(lin, this.tlbRead, Access.Read | Access.Size1);
    return p < this.mem.size ? this.mem.bytes[p] : this.mem.readBeyondRam(p, 1);
  }

  read16(lin: number): number {
    if ((lin & 1) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xffe) return this.read8(lin) | (this.read8(lin + 1) << 8);
    const p = this.translate(lin, this.tlbRead, Access.Read | Access.Size2);
    return p < this.mem.size ? this.view.getUint16(p, true) : this.mem.readBeyondRam(p, 2);
  }

  read32(lin: number): number {
    if ((lin & 3) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xffc) {
      return this.read8(lin) | (this.read8(lin + 1) << 8) | (this.read8(lin + 2) << 16) | (this.read8(lin + 3) << 24);
    }
    const p = this.translate(lin, this.tlbRead, Access.Read | Access.Size4);
    return p < this.mem.size ? this.view.getInt32(p, true) : this.mem.readBeyondRam(p, 4);
  }

  /** 64-bit read: returns the low half, the high half is in this.hi. */
  read64(lin: number): number {
    if ((lin & 7) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xff8) {
      const lo = this.read32(lin);
      this.hi = this.read32(lin + 4);
      return lo;
    }
    const p = this.translate(lin, this.tlbRead, Access.Read | Access.Size8);
    if (p >= this.mem.size) {
      const lo = this.mem.readBeyondRam(p, 4);
      this.hi = this.mem.readBeyondRam(p + 4, 4);
      return lo;
    }
    this.hi = this.view.getInt32(p + 4, true);
    return this.view.getInt32(p, true);
  }

  read(lin: number, size: number): number {
    switch (size) {
      case 1: return this.read8(lin);
      case 2: return this.read16(lin);
      case 4: return this.read32(lin);
      default: return this.read64(lin);
    }
  }

  write8(lin: number, v: number): void {
    if (this.denyWrite) this.gp(0);
    const p = this.translate(lin, this.tlbWrite, Access.Write | Access.Size1);
    this.storePhys8(p, v);
  }

  write16(lin: number, v: number): void {
    if (this.denyWrite) this.gp(0);
    if ((lin & 1) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xffe) {
      this.checkWritable(lin, 2);
      this.write8(lin, v); this.write8(lin + 1, v >> 8);
      return;
    }
    const p = this.translate(lin, this.tlbWrite, Access.Write | Access.Size2);
    if (p >= this.mem.size) { this.mem.writeBeyondRam(p, 2, v & 0xffff); return; }
    if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
    this.view.setUint16(p, v, true);
  }

  write32(lin: number, v: number): void {
    if (this.denyWrite) this.gp(0);
    if ((lin & 3) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xffc) {
      this.checkWritable(lin, 4);
      for (let k = 0; k < 4; k++) this.write8(lin + k, v >> (8 * k));
      return;
    }
    const p = this.translate(lin, this.tlbWrite, Access.Write | Access.Size4);
    if (p >= this.mem.size) { this.mem.writeBeyondRam(p, 4, v); return; }
    if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
    this.view.setInt32(p, v, true);
  }

  write64(lin: number, lo: number, hi: number): void {
    if (this.denyWrite) this.gp(0);
    if ((lin & 7) !== 0) this.checkAlignment();
    if ((lin & 0xfff) > 0xff8) {
      this.checkWritable(lin, 8);
      this.write32(lin, lo); this.write32(lin + 4, hi);
      return;
    }
    const p = this.translate(lin, this.tlbWrite, Access.Write | Access.Size8);
    if (p >= this.mem.size) { this.mem.writeBeyondRam(p, 4, lo); this.mem.writeBeyondRam(p + 4, 4, hi); return; }
    if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
    this.view.setInt32(p, lo, true);
    this.view.setInt32(p + 4, hi, true);
  }

  write(lin: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1: this.write8(lin, lo); return;
      case 2: this.write16(lin, lo); return;
      case 4: this.write32(lin, lo); return;
      default: this.write64(lin, lo, hi); return;
    }
  }

  /** Alignment check (SDM Vol. 3A §6.15 "Interrupt 17—Alignment Check Exception"):
   *  a misaligned data access at CPL 3 with CR0.AM = 1 and RFLAGS.AC = 1 is #AC(0).
   *  Called only for misaligned addresses, so aligned accesses pay one test. Implicit
   *  supervisor accesses (readSys32, writeAs, write32AsSupervisor) never come here. */
  private checkAlignment(): void {
    if (this.cpl === 3 && (this.cr0 & C.CR0_AM) !== 0 && (this.flagsRest & R.AC) !== 0) this.raise(V.AC, 0);
  }

  /** Translate for writing before a read-modify-write reads, so a read-only page faults
   *  with W = 1 in the error code and nothing is half-done (SDM Vol. 3 §4.7). */
  probeWrite(lin: number, size: number): void {
    if (this.denyWrite) this.gp(0);
    this.translate(lin, this.tlbWrite, Access.Write);
    // The second page is probed at its first byte: that is the address a #PF reports (CR2).
    if ((lin & 0xfff) + size > PAGE_SIZE) this.translate(lin - (lin & 0xfff) + PAGE_SIZE, this.tlbWrite, Access.Write);
  }

  /** A 32-bit supervisor write of a system structure (descriptor busy bits). */
  write32AsSupervisor(lin: number, v: number): void {
    const p = this.translate(lin, TLB_SIZE * TlbKind.WriteS, Access.Write | Access.Implicit);
    if ((lin & 0xfff) > 0xffc) this.modelError('system-structure write across a page boundary');
    this.writePhys32(p, v);
  }

  /** IN/OUT/INS/OUTS permission: CPL <= IOPL, else the TSS I/O bitmap (SDM Vol. 1 §19.5). */
  checkIoPermission(port: number, size: number): void {
    if (this.cpl <= ((this.flagsRest >> 12) & 3)) return;
    if (this.trLimit < 0x67) this.gp(0);
    const mapBase = this.readSys32(this.tableLinear(this.trBaseLo, this.trBaseHi, 0x66)) & 0xffff;
    const at = mapBase + (port >> 3);
    if (at + 1 > this.trLimit) this.gp(0);
    const bits = this.readSys32(this.tableLinear(this.trBaseLo, this.trBaseHi, at)) & 0xffff;
    if ((bits & (((1 << size) - 1) << (port & 7))) !== 0) this.gp(0);
  }

  /** Probe both pages of a page-crossing write before any byte is stored, so a
   *  fault on the second page leaves memory unchanged. */
  checkWritable(lin: number, size: number): void {
    if (this.denyWrite) this.gp(0);
    this.translate(lin, this.tlbWrite, Access.Write);
    if ((lin & 0xfff) + size > PAGE_SIZE) this.translate(lin - (lin & 0xfff) + PAGE_SIZE, this.tlbWrite, Access.Write);
  }

  /** Bulk host-side stores into one physical page (REP fast paths) keep the decode cache coherent. */
  noteWrite(p: number): void {
    if (p < this.mem.size && this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
  }

  storePhys8(p: number, v: number): void {
    if (p >= this.mem.size) { this.mem.writeBeyondRam(p, 1, v & 0xff); return; }
    if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
    this.mem.bytes[p] = v;
  }

  /** Physical write by the CPU itself (A/D bits, descriptor busy bits): keeps the decode cache coherent. */
  writePhys32(p: number, v: number): void {
    if (p + 4 > this.mem.size) { this.mem.writeBeyondRam(p, 4, v); return; }
    if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
    this.view.setInt32(p, v, true);
  }

  /** 64-bit write with the rights of a given TLB kind (delivery frames at the new CPL);
   *  the caller probed the range, so this cannot fault half-way. */
  writeAs(tagBase: number, lin: number, lo: number, hi: number): void {
    for (let k = 0; k < 2; k++) {
      const a = lin + 4 * k;
      const p = this.translate(a, tagBase, Access.Write);
      const v = k === 0 ? lo : hi;
      if ((a & 0xfff) > 0xffc) {
        for (let b = 0; b < 4; b++) this.storePhys8(this.translate(a + b, tagBase, Access.Write), v >> (8 * b));
      } else if (p + 4 <= this.mem.size) {
        if (this.codeMark[p >>> 12] !== 0) this.mem.invalidateCode(p >>> 12);
        this.view.setInt32(p, v, true);
      } else {
        this.mem.writeBeyondRam(p, 4, v);
      }
    }
  }

  /** Supervisor-mode ("implicit") reads: descriptor tables, TSS, IDT gates. */
  readSys32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) {
      let v = 0;
      for (let k = 0; k < 4; k++) {
        const p = this.translate(lin + k, TLB_SIZE * TlbKind.ReadS, Access.Read | Access.Implicit);
        v |= (p < this.mem.size ? this.mem.bytes[p] : this.mem.readBeyondRam(p, 1)) << (8 * k);
      }
      return v;
    }
    const p = this.translate(lin, TLB_SIZE * TlbKind.ReadS, Access.Read | Access.Implicit);
    return p < this.mem.size ? this.view.getInt32(p, true) : this.mem.readBeyondRam(p, 4);
  }

  // ---------------------------------------------------------------- stack

  /** Stack address size: 8 in 64-bit mode, else by SS.B. */
  get stackSize(): number {
    return this.mode === Mode.Long64 ? 8 : (this.segAttr[SS] & DESC_DB) !== 0 ? 4 : 2;
  }

  /** Push `size` bytes; RSP changes only if the write succeeds. */
  push(size: number, lo: number, hi: number): void {
    let spLo = this.regLo[4], spHi = this.regHi[4];
    if (this.mode === Mode.Long64) {
      // SS's base is 0 in 64-bit mode: the linear address is RSP itself.
      const n = (spLo >>> 0) - size;
      spLo = n | 0;
      if (n < 0) spHi = (spHi - 1) | 0;
      const lin = ((spHi << CANON_SHIFT) >> CANON_SHIFT) === spHi ? spHi * TWO32 + (spLo >>> 0) : this.noncanonical(SS, spLo, spHi);
      this.write(lin, size, lo, hi);
    } else {
      const ss = this.stackSize;
      if (ss === 4) spLo = (spLo - size) | 0;
      else spLo = (spLo & ~0xffff) | ((spLo - size) & 0xffff);
      this.write(this.linear(SS, spLo, spHi, ss, size), size, lo, hi);
    }
    this.regLo[4] = spLo;
    this.regHi[4] = spHi;
  }

  /** Read the value at the top of the stack (+offset) without popping; high half in this.hi. */
  peek(size: number, offset: number): number {
    let lo = this.regLo[4], hi = this.regHi[4];
    if (this.mode === Mode.Long64) {
      const n = (lo >>> 0) + offset;
      if (n >= TWO32) hi = (hi + 1) | 0;
      const lin = ((hi << CANON_SHIFT) >> CANON_SHIFT) === hi ? hi * TWO32 + (n >>> 0) : this.noncanonical(SS, n, hi);
      return this.read(lin, size);
    }
    const ss = this.stackSize;
    if (offset !== 0) lo = (lo + offset) | 0;
    return this.read(this.linear(SS, lo, hi, ss, size), size);
  }

  /** Pop `size` bytes; high half in this.hi for size 8. */
  pop(size: number): number {
    const v = this.peek(size, 0);
    const h = this.hi;
    this.adjustSp(size);
    this.hi = h;
    return v;
  }

  adjustSp(delta: number): void {
    const ss = this.stackSize;
    const lo = this.regLo[4];
    if (ss === 8) {
      const n = (lo >>> 0) + delta;
      this.regLo[4] = n | 0;
      if (n >= TWO32) this.regHi[4] = (this.regHi[4] + 1) | 0;
      else if (n < 0) this.regHi[4] = (this.regHi[4] - 1) | 0;
    } else if (ss === 4) {
      this.regLo[4] = (lo + delta) | 0;
      this.regHi[4] = 0;
    } else {
      this.regLo[4] = (lo & ~0xffff) | ((lo + delta) & 0xffff);
    }
  }

  // ---------------------------------------------------------------- branches

  /** Set the branch target from a 64-bit value (halves); #GP(0) if not canonical in
   *  64-bit mode (Intel: the fault is taken on the branch). Other modes truncate to 32 bits. */
  jumpTo(lo: number, hi: number, size: number): void {
    if (this.mode === Mode.Long64) {
      if (size === 8) this.nextRip = this.canonical(lo, hi, CS);
      else if (size === 4) this.nextRip = lo >>> 0;
      else this.nextRip = lo & 0xffff;
    } else {
      this.nextRip = size === 2 ? lo & 0xffff : lo >>> 0;
    }
  }

  /** Relative branch: next RIP plus a signed displacement. */
  jumpRel(disp: number, osz: number): void {
    const target = this.nextRip + disp;
    if (this.mode === Mode.Long64) {
      if (osz === 2) { this.nextRip = target & 0xffff; return; }
      this.nextRip = target >= -CANON48 && target < CANON48 ? target : this.noncanonicalAt(CS, target);
    } else {
      this.nextRip = osz === 2 ? target & 0xffff : target >>> 0;
    }
  }

  // ---------------------------------------------------------------- decode cache

  /** Look up (or decode) the instruction at this.rip. */
  private fetch(): Insn {
    const rip = this.rip;
    let off = rip - this.codeBase;
    if (!(off >= 0 && off < PAGE_SIZE)) {
      this.enterCodePage(rip);
      off = rip - this.codeBase;
    }
    const cached = this.codePage[off];
    if (cached !== undefined) return cached;
    const insn = this.decodeAt(rip);
    if (off + insn.len <= PAGE_SIZE) this.cacheDecoded(off, insn);
    return insn;
  }

  /** Decode at `lin` on the current code page: a host entry point's pseudo-instruction
   *  (host-entry.ts) where one is registered, else the bytes. */
  private decodeAt(lin: number): Insn {
    if (this.hostEntries.pages.size !== 0) {
      const entry = this.hostEntries.at(lin);
      if (entry !== undefined) return entry.insn;
    }
    return decode(this, lin);
  }

  private enterCodePage(rip: number): void {
    if (this.mode === Mode.Long64) {
      if (rip < -CANON48 || rip >= CANON48) this.noncanonicalAt(CS, rip);
    }
    const phys = this.translate(rip, this.tlbFetch, Access.Fetch);
    const ppn = Math.floor(phys / PAGE_SIZE);
    // A linear page with host entry points decodes into pages of its own (host-entry.ts).
    let page = this.hostEntries.pages.size === 0 ? undefined : this.hostEntries.codePage(rip, ppn);
    if (page === undefined) {
      const key = ppn * 2 + (this.mode === Mode.Long64 ? 1 : 0);
      page = this.icache[key];
      if (page === undefined) {
        page = this.sparePages.pop() ?? new Array<Insn | undefined>(PAGE_SIZE);
        if (ppn < this.mem.pages) {
          this.icache[key] = page;
          this.codeMark[ppn] = 1;
        }
      }
    }
    this.codePage = page;
    this.codePpn = ppn;
    this.codeBase = Math.floor(rip / PAGE_SIZE) * PAGE_SIZE;
  }

  /** Hold a decoded instruction in the current code page (on a miss: not the hot path). */
  private cacheDecoded(off: number, insn: Insn): void {
    const page = this.codePage;
    let filled = this.pageOffsets.get(page);
    if (filled === undefined) { filled = []; this.pageOffsets.set(page, filled); }
    filled.push(off);
    page[off] = insn;
  }

  /** Host entry points were added or removed: find the code page afresh, and stop a
   *  running block (it may run over a new entry point). */
  codeMappingChanged(): void {
    this.codeBase = NaN;
    this.blockExit = true;
  }

  /** The instruction the CPU would run at linear address `lin` in the current mode, for
   *  traces and disassembly (host-entry.ts instructionName): a host entry point's
   *  pseudo-instruction, or the bytes decoded (not cached); null if fetching them faults.
   *  Nothing is raised or recorded. */
  instructionAt(lin: number): Insn | null {
    const entry = this.hostEntries.at(lin);
    // A watch (injections.ts) is not an instruction: the bytes there are.
    if (entry !== undefined && !entry.isWatch) return entry.insn;
    const cr2Lo = this.cr2Lo, cr2Hi = this.cr2Hi;
    try {
      return decode(this, lin);
    } catch (e) {
      if (e !== FAULT) throw e;
      this.cr2Lo = cr2Lo;
      this.cr2Hi = cr2Hi;
      return null;
    }
  }

  /** A write (by this vCPU, another, or the host) hit a page with cached decodes: drop
   *  them (self-modifying and cross-modifying code); a running block stops there. */
  dropCodePage(ppn: number): void {
    this.blockExit = true;
    for (const key of [ppn * 2, ppn * 2 + 1]) {
      const page = this.icache[key];
      if (page === undefined) continue;
      this.icache[key] = undefined;
      const filled = this.pageOffsets.get(page);
      if (this.sparePages.length < SPARE_PAGES && filled !== undefined) {
        for (const off of filled) page[off] = undefined;
        filled.length = 0;
        this.sparePages.push(page);
      }
    }
    if (this.hostEntries.pages.size !== 0) this.hostEntries.dropPhysical(ppn);
    if (ppn === this.codePpn) this.codeBase = NaN;
  }

  /** Fetch one instruction byte for the decoder (through paging, fetch permissions). */
  fetchByte(lin: number): number {
    let a = lin;
    if (this.mode !== Mode.Long64) a = lin >>> 0;
    else if (a < -CANON48 || a >= CANON48) this.noncanonicalAt(CS, a);
    const p = this.translate(a, this.tlbFetch, Access.Fetch);
    return p < this.mem.size ? this.mem.bytes[p] : this.mem.readBeyondRam(p, 1);
  }

  // ---------------------------------------------------------------- run loop

  /** Run until icount reaches `limit` or something ends the run. Returns why it
   *  stopped (null: the limit was reached). Guest faults never escape. */
  run(limit: number): EndReason | null {
    this.endReason = null;
    for (;;) {
      eventWindow(this);
      if (this.endReason !== null || this.icount >= limit) break;
      const due = nextEventDue(this);
      if (this.halted) {
        // Halted: virtual time passes to the next event due; if none can ever come, the
        // halt is final (README.md, the native platform).
        if (due === Infinity || !canEndHalt(this)) { this.endReason = 'halted'; break; }
        this.icount = due < limit ? due : limit;
        continue;
      }
      this.icountLimit = due < limit ? due : limit;
      this.runToLimit();
      if (this.endReason !== null) break;
    }
    return this.endReason;
  }

  /** Something became pending (events.ts): stop at the next instruction boundary, after
   *  the instruction now executing, so that the event window sees it. */
  eventPending(): void {
    if (this.icountLimit > this.icount + 1) this.icountLimit = this.icount + 1;
    this.blockExit = true;
  }

  /** An NMI arrives (SDM Vol. 3A §6.7): held until the event window can deliver it; a
   *  second one while one is held is the same one. */
  raiseNmi(): void {
    this.nmiPending = true;
    this.eventPending();
  }

  /** IRET unblocks NMIs when it begins to execute, even if it then faults (§6.7.1). */
  unblockNmi(): void {
    this.nmiBlocked = false;
    if (this.nmiPending) this.eventPending();
  }

  /** RF is cleared when an instruction completes (SDM Vol. 3B §18.3.1.1); only IRET
   *  can leave it set for the next one, which it arms here. */
  resumeFlagSet(): void {
    this.rfClearAt = this.icount + 2; // IRET retires, then the instruction after it
    this.eventPending();
  }

  /** MOV SS and POP SS inhibit debug exceptions and interrupts at the next boundary
   *  (SDM Vol. 3A §6.8.3). */
  movSsShadow(): void {
    this.movSsShadowAt = this.icount + 1;
  }

  /** STI that sets IF inhibits maskable interrupts at the next boundary (SDM STI). */
  stiShadow(): void {
    this.stiShadowAt = this.icount + 1;
  }

  /** Execute until icountLimit. A delivered fault returns to the run loop, so that the
   *  handler's first instruction starts at an event window like any other boundary. */
  private runToLimit(): void {
    // Whether the instruction now at RIP was reached by falling through an interpreted one
    // that a block could hold: then it is inside some other entry's block, not an entry of
    // its own, and does not count towards compiling one.
    let inside = false;
    try {
      while (this.icount < this.icountLimit) {
        const insn = this.fetch();
        if (insn.block === null && !inside && ++insn.heat === this.hotThreshold && !this.stepped) {
          if (compileBlock(this, insn, this.rip - this.codeBase, this.blockDecoder)) this.blocksCompiled++;
        }
        const block = insn.block;
        if (block !== null && this.icount + insn.blockLength <= this.icountLimit) {
          this.blockExit = false;
          block(this);
          inside = false;
        } else {
          this.nextRip = this.rip + insn.len;
          insn.exec(this, insn);
          this.rip = this.nextRip;
          this.icount++;
          inside = insn.straight;
        }
      }
    } catch (e) {
      if (e === FAULT) {
        discardDebugTraps(this); // the instruction did not complete (debug.ts)
        // The one #DB an instruction raises is general detect's (ops/system.ts): condition BD,
        // which FRED reports as the event data (fred.ts).
        deliverException(this, this.faultVector, this.faultError, Source.Fault, R.RF, this.faultVector === V.DB ? DR6_BD : 0);
      } else if (e !== STOP) throw e;
    }
  }

  /** For the block compiler: the instruction at an offset of the current code page,
   *  decoded (and cached) if need be; null where none can be included. */
  private readonly blockDecoder = (off: number): Insn | null => {
    if (off >= PAGE_SIZE) return null;
    const cached = this.codePage[off];
    if (cached !== undefined) return cached;
    let insn: Insn;
    const cr2Lo = this.cr2Lo, cr2Hi = this.cr2Hi;
    try {
      insn = this.decodeAt(this.codeBase + off);
    } catch (e) {
      if (e !== FAULT) throw e;
      // A look-ahead decode is not an access: nothing is raised or recorded.
      this.cr2Lo = cr2Lo;
      this.cr2Hi = cr2Hi;
      return null;
    }
    if (off + insn.len > PAGE_SIZE) return null;
    this.cacheDecoded(off, insn);
    return insn;
  };

  /** End the run after the current instruction retires (I/O handlers call this). */
  requestStop(): void {
    this.icountLimit = this.icount + 1;
    this.blockExit = true;
    if (this.endReason === null) this.endReason = 'stopped';
  }

  /** End the run now, from inside an instruction that completes (HLT) or a triple fault. */
  end(reason: EndReason, retire: boolean): never {
    this.endReason = reason;
    if (retire) {
      this.rip = this.nextRip;
      this.icount++;
    }
    throw STOP;
  }
}
