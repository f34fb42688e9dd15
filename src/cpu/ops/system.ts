// System instructions (SDM Vol. 2: HLT, CLI, STI, CPUID, RDTSC, RDPMC, RDTSCP, RDPID, RDMSR, WRMSR,
// MOV to/from CR and DR, LGDT, LIDT, SGDT, SIDT, LLDT, LTR, SLDT, STR, SMSW, LMSW,
// INVLPG, INVPCID, STAC, CLAC, CLTS, WBINVD, IN, OUT, INT n, INT3, INTO, INT1, IRET) and the #NM/#UD
// rules for the x87 and SSE encodings the model does not implement.

import type { Cpu } from '../cpu.js';
import { Mode } from '../mode.js';
import type { Insn } from '../insn.js';
import { readE } from './arith.js';
import { getOF } from '../flags.js';
import * as R from '../../arch/rflags.js';
import * as C from '../../arch/control.js';
import * as V from '../../arch/vectors.js';
import * as M from '../../arch/msr.js';
import { DESC_P, DESC_S, DESC_TYPE_MASK, DESC_TYPE_TSS_BUSY, SEL_TI, TYPE_LDT, TYPE_TSS_AVAIL, FS, GS } from '../../arch/descriptors.js';
import { readDescriptor, descBase, descLimit, descAttr, descType } from '../segments.js';
import { deliver, Source } from '../idt.js';
import { iret as iretOperation } from '../iret.js';
import { canEndHalt } from '../events.js';
import { cpuid as cpuidLeaf } from '../cpuid.js';
import { MAXPHYADDR, TSC_PER_INSTRUCTION } from '../model.js';
import { loadPdptes } from '../paging.js';
import { Msr, msrSlot, isFredMsr } from '../msrs.js';
import { isMcaMsr, rdmsrMca, wrmsrMca } from '../machine-check.js';
import { isAmdPerfMsr, rdmsrPerf, wrmsrPerf } from '../perf-counters.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST } from '../lapic.js';
import { armBreakpoints, discardDebugTraps, dr6Value, dr7Value, ioAccess, DR6_BD, DR7_GD } from '../debug.js';

const TWO32 = 4294967296;

function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) cpu.gp(0);
}

/** HLT (SDM HLT): the vCPU halts until an enabled interrupt or an NMI resumes it after
 *  the HLT. When nothing can ever do that (IF = 0 and no NMI to come) the run ends. */
export function hlt(cpu: Cpu): void {
  requireCpl0(cpu);
  if (!canEndHalt(cpu)) cpu.end('halted', true);
  cpu.halted = true;
  cpu.eventPending(); // the run loop skips time from the next boundary (cpu.ts run)
}

export function cli(cpu: Cpu): void {
  if (cpu.cpl > ((cpu.flagsRest >> 12) & 3)) cpu.gp(0);
  cpu.flagsRest &= ~R.IF;
}

export function sti(cpu: Cpu): void {
  if (cpu.cpl > ((cpu.flagsRest >> 12) & 3)) cpu.gp(0);
  // STI that sets IF blocks maskable interrupts until after the next instruction (SDM STI).
  if ((cpu.flagsRest & R.IF) === 0) cpu.stiShadow();
  cpu.flagsRest |= R.IF;
  if (cpu.intrPending) cpu.eventPending();
}

export function cpuid(cpu: Cpu): void {
  const cpuidOut = cpu.scratch.cpuidOut;
  cpuidLeaf(cpu.model, cpu.regLo[0], cpu.regLo[1], cpuidOut);
  // CPUID.1:EDX.APIC[bit 9] reads 0 while IA32_APIC_BASE.EN = 0 (SDM Vol. 3A §11.4.3).
  if ((cpu.regLo[0] >>> 0) === 1 && cpu.lapic.mode === 'disabled') cpuidOut[3] &= ~(1 << 9);
  cpu.setReg(0, 4, cpuidOut[0], 0);
  cpu.setReg(3, 4, cpuidOut[1], 0);
  cpu.setReg(1, 4, cpuidOut[2], 0);
  cpu.setReg(2, 4, cpuidOut[3], 0);
}

/** The virtual TSC: derived from the retired-instruction count, so runs are deterministic. */
function tsc(cpu: Cpu): number {
  return cpu.icount * TSC_PER_INSTRUCTION + cpu.tscOffset;
}

export function rdtsc(cpu: Cpu): void {
  if ((cpu.cr4 & C.CR4_TSD) !== 0 && cpu.cpl !== 0) cpu.gp(0);
  const t = tsc(cpu);
  cpu.setReg(0, 4, t | 0, 0);
  cpu.setReg(2, 4, Math.floor(t / TWO32) | 0, 0);
}

/** RDPMC (SDM Vol. 2 RDPMC; AMD APM Vol. 3 RDPMC): #GP(0) in protected mode at CPL > 0 with
 *  CR4.PCE = 0 (always 0 here: the model reserves PCE), and #GP(0) for a counter index the
 *  processor does not have. The Intel flavour enumerates no architectural performance
 *  monitoring (CPUID leaf 0AH is past the maximum basic leaf), so no index is valid. AMD64
 *  always has the legacy counters PerfCtr0-3 (ECX 0-3), which the model does not have yet. */
export function rdpmc(cpu: Cpu): void {
  if (cpu.cpl !== 0 && (cpu.cr4 & C.CR4_PCE) === 0) cpu.gp(0);
  const index = cpu.regLo[1] >>> 0;
  if (cpu.model.vendor === 'amd' && index <= 3) cpu.modelError(`RDPMC of the AMD legacy performance counter ${index} is not modelled`);
  cpu.gp(0);
}

/** RDTSCP: EDX:EAX := TSC, ECX := IA32_TSC_AUX[31:0] (SDM RDTSCP; CR4.TSD as RDTSC). */
export function rdtscp(cpu: Cpu): void {
  rdtsc(cpu);
  cpu.setReg(1, 4, cpu.msrLo[Msr.TscAux], 0);
}

/** RDPID (SDM RDPID "Operation"): IA32_TSC_AUX into r64 in 64-bit mode (the row is f64), its
 *  bits 31:0 into r32 elsewhere. Unlike RDTSCP, CR4.TSD does not apply. */
export function rdpid(cpu: Cpu, i: Insn): void {
  cpu.setReg(i.rm, i.osz === 8 ? 8 : 4, cpu.msrLo[Msr.TscAux], cpu.msrHi[Msr.TscAux]);
}

// ---------------------------------------------------------------- MSRs

const CANONICAL_MSRS = new Set([M.MSR_LSTAR, M.MSR_CSTAR, M.MSR_FS_BASE, M.MSR_GS_BASE, M.MSR_KERNEL_GS_BASE,
  M.MSR_SYSENTER_ESP, M.MSR_SYSENTER_EIP, M.MSR_FRED_RSP0, M.MSR_FRED_RSP0 + 1, M.MSR_FRED_RSP0 + 2, M.MSR_FRED_RSP0 + 3,
  M.MSR_FRED_SSP1, M.MSR_FRED_SSP1 + 1, M.MSR_FRED_SSP1 + 2, M.MSR_FRED_CONFIG]);

/** Reserved bits of the FRED MSRs' low halves (#GP(0) on WRMSR): the stack pointers are 64-byte
 *  aligned (RSP0-3: bits 5:0), the shadow-stack pointers 8-byte aligned (SSP1-3: bits 2:0);
 *  IA32_FRED_CONFIG bits 2, 5:4 and 11 are reserved (FRED specification §4.1; KVM checks the
 *  same mask). IA32_FRED_STKLVLS has none (two bits for each of vectors 0-31). */
function fredReserved(index: number): number {
  if (index === M.MSR_FRED_CONFIG) return 0x834;
  if (index === M.MSR_FRED_STKLVLS) return 0;
  return index < M.MSR_FRED_STKLVLS ? 0x3f : 0x7;
}

/** Where RDMSR puts a value before EDX:EAX (no allocation per instruction). */
const msrValue = new Int32Array(2);

export function rdmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  if (!rdmsrSafe(cpu, cpu.regLo[1] >>> 0, msrValue)) cpu.gp(0);
  cpu.setReg(0, 4, msrValue[0], 0);
  cpu.setReg(2, 4, msrValue[1], 0);
}

/** The value RDMSR at CPL 0 reads from MSR `index` (low half in out[0], high half in out[1]),
 *  or false where it raises #GP(0): a host's rdmsr_safe (Xen's model reads its CPU's MSRs
 *  this way). */
export function rdmsrSafe(cpu: Cpu, index: number, out: Int32Array): boolean {
  switch (index) {
    case M.MSR_EFER: out[0] = cpu.efer; out[1] = 0; return true;
    case M.MSR_TSC: { const t = tsc(cpu); out[0] = t | 0; out[1] = Math.floor(t / TWO32) | 0; return true; }
    case M.MSR_FS_BASE: out[0] = cpu.segBaseLo[FS]; out[1] = cpu.segBaseHi[FS]; return true;
    case M.MSR_GS_BASE: out[0] = cpu.segBaseLo[GS]; out[1] = cpu.segBaseHi[GS]; return true;
    case M.MSR_TSC_DEADLINE: [out[0], out[1]] = cpu.lapic.readDeadline(); return true;
    default: {
      if (isMcaMsr(index)) { rdmsrMca(cpu, index, out); return true; }
      if (isAmdPerfMsr(cpu, index)) { rdmsrPerf(cpu, index, out); return true; }
      if (index >= X2APIC_MSR_FIRST && index <= X2APIC_MSR_LAST) {
        if (cpu.lapic.mode !== 'x2apic') return false;
        out[0] = cpu.lapic.readMsr(index); out[1] = cpu.lapic.hi;
        return true;
      }
      const slot = msrSlot(index);
      if (slot < 0 || (isFredMsr(index) && !cpu.features.has('fred'))) return false;
      out[0] = cpu.msrLo[slot]; out[1] = cpu.msrHi[slot];
      return true;
    }
  }
}

export function wrmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  const index = cpu.regLo[1] >>> 0;
  const lo = cpu.regLo[0];
  let hi = cpu.regLo[2];
  // Addresses written to MSRs are canonical for the widest linear address (a 57-bit canonical
  // value that is not 48-bit canonical faults when used under 4-level paging: SDM Vol. 3A §4.5).
  if (isFredMsr(index) && (!cpu.features.has('fred') || (lo & fredReserved(index)) !== 0)) cpu.gp(0);
  if (CANONICAL_MSRS.has(index) && !cpu.isCanonicalMaxHi(hi)) cpu.gp(0);
  if (isMcaMsr(index)) return wrmsrMca(cpu, index, lo, hi);
  if (isAmdPerfMsr(cpu, index)) return wrmsrPerf(cpu, index, lo, hi);
  if (index >= X2APIC_MSR_FIRST && index <= X2APIC_MSR_LAST) { cpu.lapic.writeMsr(index, lo, hi); return; }
  switch (index) {
    case M.MSR_EFER: {
      // Writable: SCE, LME, NXE; LMA is read-only (writes of it are ignored).
      const allowed = C.EFER_SCE | C.EFER_LME | C.EFER_NXE | C.EFER_LMA;
      if (hi !== 0 || (lo & ~allowed) !== 0) cpu.gp(0);
      const paging = (cpu.cr0 & C.CR0_PG) !== 0;
      if (paging && ((lo ^ cpu.efer) & C.EFER_LME) !== 0) cpu.gp(0);
      cpu.efer = (lo & ~C.EFER_LMA) | (cpu.efer & C.EFER_LMA);
      cpu.flushTlb();
      return;
    }
    case M.MSR_TSC:
      cpu.tscOffset = (hi >>> 0) * TWO32 + (lo >>> 0) - cpu.icount * TSC_PER_INSTRUCTION;
      cpu.lapic.tscWritten();
      return;
    case M.MSR_FS_BASE: cpu.segBaseLo[FS] = lo; cpu.segBaseHi[FS] = hi; cpu.segmentBaseChanged(FS); return;
    case M.MSR_GS_BASE: cpu.segBaseLo[GS] = lo; cpu.segBaseHi[GS] = hi; cpu.segmentBaseChanged(GS); return;
    case M.MSR_APIC_BASE: cpu.lapic.writeBase(lo, hi); return;
    case M.MSR_TSC_DEADLINE: cpu.lapic.writeDeadline(lo, hi); return;
    case M.MSR_TSC_AUX:
      // Bits 63:32: reserved on Intel (SDM Vol. 4, IA32_TSC_AUX: #GP(0)). The APM's text on them
      // was not available here; AMD processors ignore them and read them as 0, which Linux's KVM follows for AMD guests
      // (arch/x86/kvm/x86.c kvm_set_msr_common(), MSR_TSC_AUX: "Current AMD CPUs completely
      // ignore bits 63:32").
      if (hi !== 0 && cpu.model.vendor !== 'amd') cpu.gp(0);
      hi = 0;
      break;
    case M.MSR_PAT:
      // Each byte must be a valid memory type (0, 1, 4, 5, 6, 7).
      for (let k = 0; k < 8; k++) {
        const t = ((k < 4 ? lo : hi) >>> (8 * (k & 3))) & 0xff;
        if (t === 2 || t === 3 || t > 7) cpu.gp(0);
      }
      break;
  }
  const slot = msrSlot(index);
  if (slot < 0) cpu.gp(0);
  cpu.msrLo[slot] = lo;
  cpu.msrHi[slot] = hi;
}

// ---------------------------------------------------------------- control and debug registers

export function movFromCr(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  let lo: number, hi = 0;
  switch (i.reg) {
    case 0: lo = cpu.cr0; break;
    case 2: lo = cpu.cr2Lo; hi = cpu.cr2Hi; break;
    case 3: lo = cpu.cr3Lo; hi = cpu.cr3Hi; break;
    case 4: lo = cpu.cr4; hi = cpu.cr4Hi; break;
    case 8: lo = cpu.lapic.tpr >> 4; break; // CR8 is TPR[7:4] (SDM Vol. 3A §11.8.6.1)
    default: return cpu.ud();
  }
  cpu.setReg(i.rm, cpu.mode === Mode.Long64 ? 8 : 4, lo, hi);
}

/** CR4 bits of the paging features (SDM Vol. 3A §2.5, §4.1.4), each writable only when CPUID
 *  advertises its feature; all others are reserved (MOV to CR4: #GP(0)). */
function cr4Writable(cpu: Cpu): number {
  const f = cpu.features;
  // Always: DE, TSD (CPUID.1:EDX), UMIP and FSGSBASE (advertised in leaf 7).
  let bits = C.CR4_PAE | C.CR4_DE | C.CR4_TSD | C.CR4_UMIP | C.CR4_FSGSBASE;
  if (f.has('mce')) bits |= C.CR4_MCE;
  if (f.has('pse')) bits |= C.CR4_PSE;
  if (f.has('pge')) bits |= C.CR4_PGE;
  if (f.has('pcid')) bits |= C.CR4_PCIDE;
  if (f.has('smep')) bits |= C.CR4_SMEP;
  if (f.has('smap')) bits |= C.CR4_SMAP;
  if (f.has('la57')) bits |= C.CR4_LA57;
  return bits;
}

/** CR4 bits whose change flushes the TLB (SDM Vol. 3A §4.10.4.1, MOV to CR4: PGE, and PCIDE
 *  1 -> 0, flush everything; PAE, and SMEP 0 -> 1, the current PCID's entries). The model
 *  flushes everything on any change of these and of the bits its TLB caches decisions on
 *  (SMAP, LA57, paging.ts): flushing more is always allowed. */
const CR4_FLUSH = C.CR4_PGE | C.CR4_PCIDE | C.CR4_PAE | C.CR4_PSE | C.CR4_SMEP | C.CR4_SMAP | C.CR4_LA57;
/** SDM Vol. 3A §4.4.1: a MOV to CR0 changing CD, NW or PG, or to CR4 changing PAE, PGE, PSE or
 *  SMEP, that leaves PAE paging in use loads the PDPTE registers from CR3 (#GP(0) if one is
 *  invalid); so does any MOV to CR3 under PAE paging, from the new CR3. */
const CR0_PDPTE = C.CR0_CD | C.CR0_NW | C.CR0_PG;
const CR4_PDPTE = C.CR4_PAE | C.CR4_PGE | C.CR4_PSE | C.CR4_SMEP;
/** PAE paging (§4.1.1): CR0.PG = 1, CR4.PAE = 1, outside IA-32e mode. */
const paePaging = (cr0: number, cr4: number, ia32e: boolean): boolean =>
  (cr0 & C.CR0_PG) !== 0 && (cr4 & C.CR4_PAE) !== 0 && !ia32e;

const CR0_DEFINED = C.CR0_PE | C.CR0_MP | C.CR0_EM | C.CR0_TS | C.CR0_ET | C.CR0_NE | C.CR0_WP | C.CR0_AM |
  C.CR0_NW | C.CR0_CD | C.CR0_PG;

/** MOV to CR0/CR2/CR3/CR4/CR8 with the #GP(0) conditions of SDM MOV (Control Registers)
 *  and Vol. 3 §2.5, §9.8.5 (IA-32e mode activation). */
export function movToCr(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const long = cpu.mode === Mode.Long64;
  const lo = cpu.regLo[i.rm], hi = long ? cpu.regHi[i.rm] : 0;
  switch (i.reg) {
    case 0: {
      if (hi !== 0) cpu.gp(0);
      const v = (lo & CR0_DEFINED) | C.CR0_ET;
      if ((v & C.CR0_PG) !== 0 && (v & C.CR0_PE) === 0) cpu.gp(0);
      if ((v & C.CR0_NW) !== 0 && (v & C.CR0_CD) === 0) cpu.gp(0);
      const pgOn = (v & C.CR0_PG) !== 0 && (cpu.cr0 & C.CR0_PG) === 0;
      const pgOff = (v & C.CR0_PG) === 0 && (cpu.cr0 & C.CR0_PG) !== 0;
      if (pgOn && (cpu.efer & C.EFER_LME) !== 0 && (cpu.cr4 & C.CR4_PAE) === 0) cpu.gp(0);
      if (pgOff && long) cpu.gp(0);
      if (pgOff && (cpu.cr4 & C.CR4_PCIDE) !== 0) cpu.gp(0); // SDM Vol. 3A §4.10.1
      if ((v & C.CR0_PE) === 0) cpu.modelError('real mode is not modelled');
      // Setting PG with EFER.LME = 1 enters IA-32e mode (4-level paging): no PDPTEs then.
      const ia32e = (v & C.CR0_PG) !== 0 && (cpu.efer & C.EFER_LME) !== 0;
      if (((v ^ cpu.cr0) & CR0_PDPTE) !== 0 && paePaging(v, cpu.cr4, ia32e) && !loadPdptes(cpu, cpu.cr3Lo)) cpu.gp(0);
      cpu.cr0 = v;
      if (pgOn && (cpu.efer & C.EFER_LME) !== 0) cpu.efer |= C.EFER_LMA;
      if (pgOff) cpu.efer &= ~C.EFER_LMA;
      cpu.flushTlb();
      cpu.modeChanged();
      return;
    }
    case 2: cpu.cr2Lo = lo; cpu.cr2Hi = hi; return;
    case 3: {
      // SDM Vol. 3A §4.10.4.1 (MOV to CR3): with CR4.PCIDE = 1, bit 63 of the source asks the
      // processor not to invalidate the new PCID's entries; it is not stored in CR3 and is not
      // reserved. Bits 63:MAXPHYADDR are reserved otherwise (#GP(0)).
      const h = (cpu.cr4 & C.CR4_PCIDE) !== 0 ? hi & 0x7fffffff : hi;
      if (long && (h >>> (MAXPHYADDR - 32)) !== 0) cpu.gp(0);
      if (paePaging(cpu.cr0, cpu.cr4, cpu.longMode) && !loadPdptes(cpu, lo)) cpu.gp(0);
      cpu.cr3Lo = lo; cpu.cr3Hi = h;
      // The TLB is not tagged by PCID: flushing every non-global entry keeps a switch to
      // another PCID from using the old one's translations (cpu.ts deviations).
      cpu.flushTlbNonGlobal();
      return;
    }
    case 4: {
      // SDM MOV (Control Registers), #GP(0) conditions: reserved bits; leaving IA-32e mode by
      // clearing PAE; changing LA57 in IA-32e mode (§4.5.1); setting PCIDE outside IA-32e mode
      // or while CR3[11:0] != 0 (§4.10.1).
      // CR4.FRED (bit 32) only where FRED is enumerated, and set only in IA-32e mode (FRED
      // specification §4.1: "CR4.FRED can be set only if IA32_EFER.LMA = 1").
      const hiWritable = cpu.features.has('fred') ? C.CR4_HI_FRED : 0;
      if ((hi & ~hiWritable) !== 0 || (lo & ~cr4Writable(cpu)) !== 0) cpu.gp(0);
      if ((hi & C.CR4_HI_FRED) !== 0 && (cpu.efer & C.EFER_LMA) === 0) cpu.gp(0);
      const changed = lo ^ cpu.cr4;
      if (cpu.longMode && (lo & C.CR4_PAE) === 0) cpu.gp(0);
      if (cpu.longMode && (changed & C.CR4_LA57) !== 0) cpu.gp(0);
      if ((changed & lo & C.CR4_PCIDE) !== 0 && (!cpu.longMode || (cpu.cr3Lo & 0xfff) !== 0)) cpu.gp(0);
      if ((changed & CR4_PDPTE) !== 0 && paePaging(cpu.cr0, lo, cpu.longMode) && !loadPdptes(cpu, cpu.cr3Lo)) cpu.gp(0);
      cpu.cr4 = lo;
      cpu.cr4Hi = hi;
      if ((changed & CR4_FLUSH) !== 0) cpu.flushTlb();
      if ((changed & C.CR4_DE) !== 0) armBreakpoints(cpu); // R/W = 10 means I/O only with DE (§18.2.4)
      return;
    }
    case 8:
      if (hi !== 0 || (lo & ~15) !== 0) cpu.gp(0);
      cpu.lapic.setTpr(lo << 4); // TPR[7:4] := CR8[3:0], TPR[3:0] := 0 (§11.8.6.1)
      return;
    default:
      cpu.ud();
  }
}

/** General detect (SDM Vol. 3B §18.2.4, §18.3.1.3, DR7.GD): any MOV to or from a debug
 *  register while GD = 1 is a fault-class #DB with DR6.BD set; the processor clears GD on
 *  entry to the handler (here: when the #DB is raised), so the handler can use the registers. */
function generalDetect(cpu: Cpu): void {
  if ((cpu.drLo[7] & DR7_GD) === 0) return;
  cpu.drLo[6] |= DR6_BD;
  cpu.drLo[7] &= ~DR7_GD;
  cpu.raise(V.DB);
}

/** MOV from/to DR0–DR7 (SDM MOV (Debug Registers)): #GP(0) at CPL > 0, then #DB for
 *  general detect, then #UD for DR4/DR5 when CR4.DE = 1 (else they alias DR6/DR7, §18.2.2).
 *  A write to DR0-DR3 or DR7 re-decodes the breakpoints (debug.ts). */
export function movFromDr(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  generalDetect(cpu);
  let n = i.reg;
  if (n === 4 || n === 5) { if ((cpu.cr4 & C.CR4_DE) !== 0) cpu.ud(); n += 2; }
  if (n > 7) cpu.ud();
  cpu.setReg(i.rm, cpu.mode === Mode.Long64 ? 8 : 4, cpu.drLo[n], cpu.drHi[n]);
}

export function movToDr(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  generalDetect(cpu);
  let n = i.reg;
  if (n === 4 || n === 5) { if ((cpu.cr4 & C.CR4_DE) !== 0) cpu.ud(); n += 2; }
  if (n > 7) cpu.ud();
  const long = cpu.mode === Mode.Long64;
  const lo = cpu.regLo[i.rm], hi = long ? cpu.regHi[i.rm] : 0;
  if ((n === 6 || n === 7) && hi !== 0) cpu.gp(0);
  if (n === 6) { cpu.drLo[6] = dr6Value(lo); cpu.drHi[6] = 0; return; }
  if (n === 7) { cpu.drLo[7] = dr7Value(lo); cpu.drHi[7] = 0; }
  else { cpu.drLo[n] = lo; cpu.drHi[n] = hi; }
  armBreakpoints(cpu);
}

// ---------------------------------------------------------------- descriptor tables

/** A descriptor-table base loaded in IA-32e mode (LGDT, LIDT, LLDT, LTR): #GP(0) unless
 *  canonical for the processor's maximum linear-address width, whatever CR4.LA57 (the
 *  instructions' "64-Bit Mode Exceptions"; cpu.isCanonicalMaxHi). The base is kept as
 *  halves, so any such value loads exactly; it is checked again where it is used
 *  (cpu.tableLinear). */
function checkTableBase(cpu: Cpu, hi: number): void {
  if (!cpu.isCanonicalMaxHi(hi)) cpu.gp(0);
}

/** LGDT (op 0) / LIDT (op 1): limit and base from m16&32 or m16&64 (24 bits of it with a
 *  16-bit operand outside 64-bit mode). */
export function loadTable(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const lin = cpu.ea(i);
  const limit = cpu.read16(lin);
  let lo = cpu.read32(lin + 2), hi = 0;
  if (cpu.mode === Mode.Long64) {
    hi = cpu.read32(lin + 6);
    checkTableBase(cpu, hi);
  } else if (i.osz === 2) lo &= 0xffffff;
  if (i.op === 0) { cpu.gdtrBaseLo = lo; cpu.gdtrBaseHi = hi; cpu.gdtrLimit = limit; }
  else { cpu.idtrBaseLo = lo; cpu.idtrBaseHi = hi; cpu.idtrLimit = limit; }
}

/** CR4.UMIP = 1 makes SGDT, SIDT, SLDT, SMSW and STR #GP(0) outside CPL 0 (SDM Vol. 3A
 *  §2.5 CR4.UMIP; each instruction's "Protected Mode Exceptions"), before the operand. */
function checkUmip(cpu: Cpu): void {
  if ((cpu.cr4 & C.CR4_UMIP) !== 0 && cpu.cpl > 0) cpu.gp(0);
}

/** SGDT (op 0) / SIDT (op 1): 6 bytes (limit, 32-bit base) outside 64-bit mode whatever
 *  the operand size, 10 bytes in 64-bit mode (SDM SGDT "Operation"). */
export function storeTable(cpu: Cpu, i: Insn): void {
  checkUmip(cpu);
  const lin = cpu.ea(i);
  const lo = i.op === 0 ? cpu.gdtrBaseLo : cpu.idtrBaseLo;
  const hi = i.op === 0 ? cpu.gdtrBaseHi : cpu.idtrBaseHi;
  const limit = i.op === 0 ? cpu.gdtrLimit : cpu.idtrLimit;
  const bytes = cpu.mode === Mode.Long64 ? 10 : 6;
  cpu.checkWritable(lin, bytes);
  cpu.write16(lin, limit);
  cpu.write32(lin + 2, lo);
  if (bytes === 10) cpu.write32(lin + 6, hi);
}

/** Read a system descriptor (LDT/TSS) from the GDT: 16 bytes in IA-32e mode. Returns the
 *  high half of its base (0 outside IA-32e mode); cpu.scratch.descLo/descHi hold the low 8
 *  bytes, whose descBase is the low half. */
function systemDescriptor(cpu: Cpu, sel: number, type: number): number {
  if ((sel & SEL_TI) !== 0) cpu.gp(sel & 0xfffc);
  const index = sel & ~7;
  const size = cpu.longMode ? 16 : 8;
  if (index + size - 1 > cpu.gdtrLimit) cpu.gp(sel & 0xfffc);
  readDescriptor(cpu, sel);
  const hi = cpu.scratch.descHi;
  if ((hi & DESC_S) !== 0 || descType(hi) !== type) cpu.gp(sel & 0xfffc);
  if ((hi & DESC_P) === 0) cpu.raise(V.NP, sel & 0xfffc);
  if (!cpu.longMode) return 0;
  const baseHi = cpu.readSys32(cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, index + 8));
  checkTableBase(cpu, baseHi);
  return baseHi;
}

export function lldt(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2) & 0xffff;
  if ((sel & ~3) === 0) { cpu.ldtrSel = sel; cpu.ldtrBaseLo = 0; cpu.ldtrBaseHi = 0; cpu.ldtrLimit = 0; return; }
  const baseHi = systemDescriptor(cpu, sel, TYPE_LDT);
  cpu.ldtrSel = sel;
  cpu.ldtrBaseLo = descBase(cpu.scratch.descLo, cpu.scratch.descHi);
  cpu.ldtrBaseHi = baseHi;
  cpu.ldtrLimit = descLimit(cpu.scratch.descLo, cpu.scratch.descHi);
}

export function ltr(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2) & 0xffff;
  if ((sel & ~3) === 0) cpu.gp(0);
  const baseHi = systemDescriptor(cpu, sel, TYPE_TSS_AVAIL); // a busy one is #GP(selector)
  const lo = cpu.scratch.descLo, hi = cpu.scratch.descHi;
  // IA-32e mode: the type field of the 16-byte descriptor's upper half must be zero (SDM LTR
  // "64-Bit Mode Exceptions"; bits 12:8 of its last dword, Vol. 3A §8.2.3 figure).
  const descLin = cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, sel & ~7);
  if (cpu.longMode && (cpu.readSys32(descLin + 12) & (DESC_TYPE_MASK | DESC_S)) !== 0) cpu.gp(sel & 0xfffc);
  // Mark it busy in the GDT (type 9 -> 0xB).
  cpu.write32AsSupervisor(descLin + 4, hi | DESC_TYPE_TSS_BUSY);
  cpu.trSel = sel;
  cpu.trBaseLo = descBase(lo, hi);
  cpu.trBaseHi = baseHi;
  cpu.trLimit = descLimit(lo, hi);
  cpu.trAttr = descAttr(hi | DESC_TYPE_TSS_BUSY);
}

/** SLDT (op 0) / STR (op 1): a register destination gets the selector zero-extended. */
export function storeSelector(cpu: Cpu, i: Insn): void {
  checkUmip(cpu);
  const sel = i.op === 0 ? cpu.ldtrSel : cpu.trSel;
  if (i.mem) cpu.write16(cpu.ea(i), sel);
  else cpu.setReg(i.rm, i.osz, sel, 0);
}

export function smsw(cpu: Cpu, i: Insn): void {
  checkUmip(cpu);
  if (i.mem) cpu.write16(cpu.ea(i), cpu.cr0 & 0xffff);
  else cpu.setReg(i.rm, i.osz, i.osz === 2 ? cpu.cr0 & 0xffff : cpu.cr0, 0);
}

/** LMSW: loads PE, MP, EM, TS; cannot clear PE. */
export function lmsw(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const v = readE(cpu, i, 2);
  cpu.cr0 = (cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & C.CR0_PE);
}

export function invlpg(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  let lin: number;
  try {
    lin = cpu.ea(i);
  } catch (e) {
    // INVLPG of a non-canonical address is a no-op, not a fault (SDM INVLPG).
    if (cpu.faultVector === V.GP || cpu.faultVector === V.SS) return;
    throw e;
  }
  cpu.flushTlbPage(lin);
}

export function clts(cpu: Cpu): void {
  requireCpl0(cpu);
  cpu.cr0 &= ~C.CR0_TS;
}

export function wbinvd(cpu: Cpu): void {
  requireCpl0(cpu); // caches are not modelled
}

// ---------------------------------------------------------------- I/O

/** IN/OUT with an immediate port (op 0) or DX (op 1); AL/AX/EAX by operand size. */
export function inPort(cpu: Cpu, i: Insn): void {
  const port = i.op === 0 ? i.immLo & 0xff : cpu.regLo[2] & 0xffff;
  const size = i.osz === 1 ? 1 : i.osz === 2 ? 2 : 4;
  cpu.checkIoPermission(port, size);
  cpu.setReg(0, size, cpu.io.in(port, size), 0);
  if (cpu.bpIo !== 0) ioAccess(cpu, port, size);
}

export function outPort(cpu: Cpu, i: Insn): void {
  const port = i.op === 0 ? i.immLo & 0xff : cpu.regLo[2] & 0xffff;
  const size = i.osz === 1 ? 1 : i.osz === 2 ? 2 : 4;
  cpu.checkIoPermission(port, size);
  const v = size === 1 ? cpu.regLo[0] & 0xff : size === 2 ? cpu.regLo[0] & 0xffff : cpu.regLo[0] >>> 0;
  cpu.io.out(port, v, size);
  if (cpu.bpIo !== 0) ioAccess(cpu, port, size);
}


// ---------------------------------------------------------------- interrupts

export function intN(cpu: Cpu, i: Insn): void {
  deliver(cpu, i.immLo & 0xff, 0, false, Source.Software, cpu.nextRip, 0);
}

export function int3(cpu: Cpu): void {
  deliver(cpu, V.BP, 0, false, Source.SoftwareException, cpu.nextRip, 0);
}

export function into(cpu: Cpu): void {
  if (getOF(cpu)) deliver(cpu, V.OF, 0, false, Source.SoftwareException, cpu.nextRip, 0);
}

/** INT1 (ICEBP): a #DB trap without the gate-DPL check (SDM INT n, "INT1"); DR6 is not
 *  changed, and debug traps held by a MOV SS shadow are dropped (debug.ts deviations). */
export function int1(cpu: Cpu): void {
  discardDebugTraps(cpu);
  deliver(cpu, V.DB, 0, false, Source.PrivilegedSoftware, cpu.nextRip, 0);
}

export function iret(cpu: Cpu, i: Insn): void {
  iretOperation(cpu, i.osz);
}

// ---------------------------------------------------------------- not modelled here

/** x87 and MMX/WAIT, not modelled: #NM if CR0.EM or CR0.TS (WAIT: TS and MP), else #UD. */
export function x87(cpu: Cpu, i: Insn): void {
  const cr0 = cpu.cr0;
  const nm = i.op === 1 ? (cr0 & C.CR0_TS) !== 0 && (cr0 & C.CR0_MP) !== 0 : (cr0 & (C.CR0_EM | C.CR0_TS)) !== 0;
  if (nm) cpu.raise(V.NM);
  cpu.ud();
}

/** SSE encodings: #UD if CR0.EM, #NM if CR0.TS, else #UD (no SSE is advertised). */
export function sse(cpu: Cpu): void {
  if ((cpu.cr0 & C.CR0_EM) === 0 && (cpu.cr0 & C.CR0_TS) !== 0) cpu.raise(V.NM);
  cpu.ud();
}

export function undefinedInstruction(cpu: Cpu): void {
  cpu.ud();
}

// ---------------------------------------------------------------- paging: INVPCID, STAC, CLAC

/** INVPCID (SDM Vol. 2 INVPCID; Vol. 3A §4.10.4.1): the register operand is the type (64 bits
 *  in 64-bit mode, else 32), the memory operand a 128-bit descriptor: PCID in bits 11:0,
 *  bits 63:12 reserved, the linear address in bits 127:64. The TLB is not tagged by PCID and
 *  holds only the current PCID's non-global entries (MOV to CR3 flushes them), so invalidating
 *  another PCID's entries is done by invalidating the current one's too (allowed: the
 *  instruction may invalidate more than asked). */
export function invpcid(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const long = cpu.mode === Mode.Long64;
  const lin = cpu.ea(i); // non-canonical: #GP(0), or #SS(0) through SS
  const typeLo = cpu.regLo[i.reg] >>> 0, typeHi = long ? cpu.regHi[i.reg] : 0;
  if (typeHi !== 0 || typeLo > 3) cpu.gp(0);
  const pcidLo = cpu.read64(lin);
  const pcidHi = cpu.hi;
  const addrLo = cpu.read64(lin + 8);
  const addrHi = cpu.hi;
  if (pcidHi !== 0 || (pcidLo & ~0xfff) !== 0) cpu.gp(0);
  const pcid = pcidLo & 0xfff;
  if (typeLo <= 1 && (cpu.cr4 & C.CR4_PCIDE) === 0 && pcid !== 0) cpu.gp(0);
  switch (typeLo) {
    case 0: {
      // Individual address: canonical for the maximum linear-address width, whatever
      // CR4.LA57 (#GP(0), never #SS: cpu.isCanonicalMaxHi); global translations are kept.
      // Under 4-level paging an address that is only 57-bit canonical has no translation.
      if (!cpu.isCanonicalMaxHi(addrHi)) cpu.gp(0);
      if (((addrHi << 16) >> 16) === addrHi) cpu.flushTlbPage(addrHi * TWO32 + (addrLo >>> 0), true);
      else if ((cpu.cr4 & C.CR4_LA57) !== 0) cpu.flushTlbPage(cpu.noncanonical(0 /* #GP */, addrLo, addrHi), true);
      return;
    }
    case 1: case 3: cpu.flushTlbNonGlobal(); return; // single context / all contexts, except global
    default: cpu.flushTlb(); // all contexts, global translations included
  }
}

/** STAC / CLAC (SDM Vol. 2): set / clear RFLAGS.AC, which lets explicit supervisor data
 *  accesses reach user pages under CR4.SMAP (Vol. 3A §4.6.1). #UD at CPL > 0 (and without
 *  SMAP in CPUID: opcodes.ts feature gate). Nothing to flush: paging.ts never caches user
 *  pages for supervisor data accesses while SMAP is on. */
export function stac(cpu: Cpu, i: Insn): void {
  if (cpu.cpl !== 0) cpu.ud();
  if (i.op === 1) cpu.flagsRest |= R.AC;
  else cpu.flagsRest &= ~R.AC;
}
