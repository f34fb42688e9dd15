// The debug registers DR0-DR7 and the breakpoints they arm (SDM Vol. 3B §18.2 "Debug
// Registers", §18.3.1 "Debug Exception (#DB)—Interrupt Vector 1"; AMD APM Vol. 2 §13.1
// "Software-Debug Resources", which describes the same registers and conditions).
//
// DR7 arms up to four breakpoints. What it arms is decoded here, once per change of DR0-DR3,
// DR7 or CR4.DE (armBreakpoints), into per-breakpoint fields on the Cpu, so that nothing on
// the hot path looks at DR7:
//
// - instruction breakpoints (R/W = 00): the event window (events.ts) checks the next
//   instruction's address at every boundary, and is called at every boundary only while one
//   is armed (nextEventDue): fault-class #DB before the instruction runs, not taken when
//   RFLAGS.RF = 1 or, on Intel, at the boundary after MOV SS / POP SS (§18.3.1.1; AMD takes
//   it there: events.ts);
// - data breakpoints (R/W = 01 write, 11 read or write): the page holding a watched range is
//   never cached in the TLB for data accesses (watchedKinds), so every access to it takes the
//   page walk, which calls dataAccess with the access's address and size; a match is a
//   trap-class #DB after the instruction (§18.3.1.2), through cpu.dataHits and the event
//   window. Pages not watched keep their TLB entries: accesses cost nothing more while no
//   data breakpoint is armed, and only accesses to a watched page are slowed when one is;
// - I/O breakpoints (R/W = 10 with CR4.DE = 1): IN, OUT, INS and OUTS call ioAccess (§18.2.4).
//
// Conditions an instruction met go to cpu.dataHits; the event window makes them pending at
// the boundary, where the MOV SS shadow may hold them for one more instruction (SDM Vol. 3A
// §6.8.3). A fault in the instruction discards them (discardDebugTraps), and so does ICEBP.
//
// Deliberate deviations and choices:
// - B0-B3 are set only for enabled breakpoints (§18.2.3 allows a processor to set them for
//   matching disabled ones too; software must ignore those, and guests never look at them).
//   A #DB that reports a breakpoint condition replaces B0-B3; one that does not (single step,
//   general detect, ICEBP) leaves them: "certain debug exceptions may clear bits 0-3" (§18.2.3).
// - Implicit supervisor accesses (descriptor tables, the TSS, the IDT, event-delivery frames)
//   never match a data breakpoint; the SDM does not say whether they do.
// - LEN = 10 is 8 bytes in every mode: "break point conditions for 8-byte memory read/writes
//   are supported in all modes" (§18.2.6); AMD defines it for long mode.
// - An unaligned DRn is masked to LEN, as §18.2.5 says the processor does ("unaligned data or
//   I/O breakpoint addresses do not yield valid results": guests must not rely on it).
// - ICEBP discards debug traps pending from a MOV SS before it and does not report them,
//   as kvm-unit-tests' debug test requires of hardware ("Single-Step + ICEBP #DB w/ MOVSS
//   blocking", "MOV SS + watchpoint + ICEBP": one #DB, DR6 unchanged); a fault in the
//   instruction after MOV SS discards them too (its "DR7.GD" case: DR6 = BD only).
// - Model errors for what the manuals leave undefined and the model does not pick: an
//   enabled instruction breakpoint with LEN != 00 (§18.2.5) and an enabled R/W = 10 with
//   CR4.DE = 0 (§18.2.4).
// - A page holding a watched range is walked on every data access, so a change to its
//   paging entries is seen without INVLPG there (allowed: a TLB entry may be dropped any time).
// - An instruction breakpoint is compared with RIP, the address the model fetches from (it
//   applies no CS base to fetches, cpu.ts).
// - Task switches do not exist, so DR6.BT is never set and DR7's local enables are never
//   cleared by the processor.

import type { Cpu } from './cpu.js';
import * as C from '../arch/control.js';
import { TlbKind } from './tlb.js';

/** DR6 (SDM Vol. 3B §18.2.3): B0-B3, BD (general detect), BS (single step), BT (task switch). */
export const DR6_B_MASK = 0xf;
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
/** DR6 bits that read as 1 (reserved; bit 16 is RTM, 1 where RTM is not advertised). */
export const DR6_FIXED_1 = 0xffff0ff0 | 0;
/** DR6 bits a MOV to DR6 keeps: B0-B3, BD, BS, BT and bit 16. */
export const DR6_WRITABLE = 0x0001e00f;
/** DR7 (SDM Vol. 3B §18.2.4): GD, and bit 10 which reads as 1; bits 11, 12, 14, 15 read as 0. */
export const DR7_GD = 1 << 13;
export const DR7_FIXED_1 = 0x400;
const DR7_RESERVED_0 = 0xd800;

const enum Kind { Exec = 0, Write = 1, Io = 2, ReadWrite = 3 }
/** LEN field to length in bytes (§18.2.5): 00 1, 01 2, 10 8, 11 4. */
const LENGTHS = [1, 2, 8, 4];
const TWO32 = 4294967296;
const FETCH_KINDS = (1 << TlbKind.FetchS) | (1 << TlbKind.FetchU);

/** MOV to DR7: the value kept (reserved bits forced). */
export function dr7Value(lo: number): number {
  return (lo & ~DR7_RESERVED_0) | DR7_FIXED_1;
}

/** MOV to DR6: the value kept. */
export function dr6Value(lo: number): number {
  return (lo & DR6_WRITABLE) | DR6_FIXED_1;
}

/** Decode DR0-DR3 and DR7 into the Cpu's breakpoint fields (and CR4.DE for I/O ones); the
 *  pages watched before and after lose their TLB entries, so that data accesses to a newly
 *  watched page walk, and those to a page no longer watched may be cached again. */
export function armBreakpoints(cpu: Cpu): void {
  const dr7 = cpu.drLo[7];
  let exec = 0, data = 0, io = 0;
  for (let k = 0; k < 4; k++) {
    const oldPage = cpu.bpPage[k];
    cpu.bpPage[k] = NaN;
    if (!Number.isNaN(oldPage)) cpu.flushTlbPage(oldPage * 4096);
    if (((dr7 >> (2 * k)) & 3) === 0) continue; // neither Lk nor Gk
    const rw = (dr7 >>> (16 + 4 * k)) & 3;
    const lenBits = (dr7 >>> (18 + 4 * k)) & 3;
    const len = rw === Kind.Exec ? 1 : LENGTHS[lenBits];
    const raw = cpu.drHi[k] * TWO32 + (cpu.drLo[k] >>> 0);
    // §18.2.5: the low address bits below the length are ignored (the range is aligned).
    const addr = raw - ((cpu.drLo[k] >>> 0) & (len - 1));
    cpu.bpAddr[k] = addr;
    cpu.bpLen[k] = len;
    cpu.bpWriteOnly[k] = rw === Kind.Write ? 1 : 0;
    switch (rw) {
      case Kind.Exec:
        if (lenBits !== 0) cpu.modelError(`instruction breakpoint ${k} with LEN != 00 (SDM Vol. 3B §18.2.5: undefined) is not modelled`);
        exec |= 1 << k;
        break;
      case Kind.Io:
        if ((cpu.cr4 & C.CR4_DE) === 0) cpu.modelError(`breakpoint ${k} with R/W = 10 and CR4.DE = 0 (SDM Vol. 3B §18.2.4: undefined) is not modelled`);
        cpu.bpAddr[k] = addr & 0xffff;
        io |= 1 << k;
        break;
      default: {
        data |= 1 << k;
        const page = Math.floor(addr / 4096);
        cpu.bpPage[k] = page;
        cpu.flushTlbPage(page * 4096);
      }
    }
  }
  cpu.bpExec = exec;
  cpu.bpData = data;
  cpu.bpIo = io;
  // An armed instruction breakpoint makes every boundary an event window (nextEventDue).
  if (exec !== 0) cpu.eventPending();
}

/** The TLB kinds a translation of page `vpn` may be cached for: not the data kinds where a
 *  data breakpoint watches the page (cpu.tlbFill calls this while one is armed). */
export function watchedKinds(cpu: Cpu, vpn: number, kinds: number): number {
  for (let k = 0; k < 4; k++) if (cpu.bpPage[k] === vpn) return kinds & FETCH_KINDS;
  return kinds;
}

/** A data access of `size` bytes at `lin` (write: `write`) to a watched page (§18.3.1.2): the
 *  data breakpoints whose range it overlaps become conditions of this instruction. */
export function dataAccess(cpu: Cpu, lin: number, size: number, write: boolean): void {
  let hits = 0;
  for (let k = 0; k < 4; k++) {
    if ((cpu.bpData & (1 << k)) === 0 || (!write && cpu.bpWriteOnly[k] !== 0)) continue;
    const a = cpu.bpAddr[k];
    if (lin < a + cpu.bpLen[k] && lin + size > a) hits |= 1 << k;
  }
  if (hits !== 0) recordHits(cpu, hits);
}

/** An I/O access of `size` bytes at `port` (§18.2.4, R/W = 10 with CR4.DE = 1). */
export function ioAccess(cpu: Cpu, port: number, size: number): void {
  let hits = 0;
  for (let k = 0; k < 4; k++) {
    if ((cpu.bpIo & (1 << k)) === 0) continue;
    const a = cpu.bpAddr[k];
    if (port < a + cpu.bpLen[k] && port + size > a) hits |= 1 << k;
  }
  if (hits !== 0) recordHits(cpu, hits);
}

function recordHits(cpu: Cpu, hits: number): void {
  cpu.dataHits |= hits;
  // Trap after this instruction; a REP string instruction stops after this iteration (string.ts).
  cpu.eventPending();
}

/** The enabled instruction breakpoints at the address of the next instruction (§18.3.1.1). */
export function instructionBreakpoints(cpu: Cpu): number {
  let hits = 0;
  for (let k = 0; k < 4; k++) if ((cpu.bpExec & (1 << k)) !== 0 && cpu.bpAddr[k] === cpu.rip) hits |= 1 << k;
  return hits;
}

/** DR6 reports the conditions of a #DB being delivered (§18.2.3): a report of breakpoint
 *  matches replaces B0-B3; the other bits are only ever set. */
export function reportDebug(cpu: Cpu, conditions: number): void {
  let dr6 = cpu.drLo[6];
  if ((conditions & DR6_B_MASK) !== 0) dr6 &= ~DR6_B_MASK;
  cpu.drLo[6] = dr6 | conditions;
}

/** The instruction did not complete (a fault), or was ICEBP: the debug traps it met, and
 *  those held for it by a MOV SS shadow, are not delivered. */
export function discardDebugTraps(cpu: Cpu): void {
  cpu.dataHits = 0;
  cpu.pendingDebug = 0;
}
