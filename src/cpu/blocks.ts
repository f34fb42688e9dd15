// Basic blocks compiled to JavaScript (docs/architecture.md, "Compiled blocks"). A hot run of
// straight-line instructions in one page becomes one function. In 64-bit mode the
// commonest forms are spelled inline by their row's emitter (emit/*.ts), with registers,
// immediates, displacements and operand sizes folded in and a TLB fast path for memory
// operands; every other instruction, and every inline one whose fast path does not apply
// (a TLB miss, an unaligned or MMIO access, a store to a page holding code, a target that
// is not canonical), calls its row's semantics -- the same function the interpreter calls.
//
// A block behaves exactly like stepping its instructions one by one:
// - before an instruction that can fault or call out, RIP is set to it and the instruction
//   count to those retired before it, so a fault reports it and device models see the
//   right time; instructions that only move registers and flags update neither until the
//   block ends;
// - after a call out, a set cpu.blockExit (decoded code was written, an event became
//   pending) ends the block there, so the next instruction is decoded afresh or the event
//   window opens;
// - blocks hold only instructions that neither change the mode, the privilege, paging or
//   the run itself, nor repeat (REP), and may end in one branch: the rows marked
//   `block: 'straight'` and `block: 'branch'` in the opcode table (opcodes.ts);
// - the run loop (cpu.ts) enters a block only when all of it fits in the instruction budget.

import type { Cpu } from './cpu.js';
import type { Exec, Insn } from './insn.js';
import { Mode } from './mode.js';
import { ENTRIES, type BlockRole } from './opcodes.js';
import type { Emitted, Gen } from './emit/gen.js';
import * as F from './emit/flags.js';
import { emitJcc, emitJmpRel, emitCallRel } from './emit/branches.js';
import type { FlagState } from './emit/flags.js';
import { condition, getCF, getOF, carryOf, overflowOf, conditionOf } from './flags.js';

/** Executions of a block entry in the interpreter before it is compiled, unless the CPU is
 *  given another threshold (ExecutionOptions.hotThreshold). A new block function runs in
 *  V8's bytecode tiers until V8 optimises it, after some hundreds of calls, and until then is
 *  slower than the interpreter's optimised row semantics: only code that will run thousands of
 *  times more is worth compiling (docs/architecture.md, "Compiled blocks"). */
export const HOT = 8192;
const MAX_LENGTH = 64;
const PAGE_SIZE = 4096;

/** The semantics of the rows marked `block` (opcodes.ts), with their decode-time
 *  specialisations (a specialised form keeps its row's role). A decoded instruction is
 *  tested by its semantics, not its row: one the decoder turned into #UD (a bad LOCK, a
 *  missing feature) has another function and never enters a block. */
function semanticsOf(role: BlockRole): Set<Exec> {
  const out = new Set<Exec>();
  for (const e of ENTRIES) {
    if (e.def.block !== role) continue;
    out.add(e.exec);
    for (const s of [e.specR32, e.specR64, e.specM64]) if (s !== null) out.add(s);
  }
  return out;
}

// Built on first use: opcodes.ts is in an import cycle with cpu.ts (through the
// semantics), so its rows may not exist yet when this module loads.
let straight: ReadonlySet<Exec> | null = null;
/** Near branches: they may end a block. */
let branch: ReadonlySet<Exec> | null = null;

/** What a block may do with an instruction of these semantics (null: not hold it). */
export function blockRole(exec: Exec): BlockRole | null {
  if (straight === null || branch === null) { straight = semanticsOf('straight'); branch = semanticsOf('branch'); }
  return straight.has(exec) ? 'straight' : branch.has(exec) ? 'branch' : null;
}

/** Where a block goes on after a direct branch in 64-bit mode whose path stays in the page
 *  (`after`: the page offset after it), or null: it ends the block. JMP and CALL go on at
 *  their target; Jcc at its likelier side, the target of a backward one (a loop) and the
 *  next instruction of a forward one, and leaves the block when the other side is taken. */
function continuation(i: Insn, after: number): number | null {
  const emit = ENTRIES[i.entry].emit;
  if (i.osz !== 8 || (emit !== emitJcc && emit !== emitJmpRel && emit !== emitCallRel)) return null;
  const target = after + i.immLo;
  const next = emit !== emitJcc || target < after ? target : after;
  return next >= 0 && next < PAGE_SIZE ? next : null;
}

/** The block function's locals, which emitted code uses by name (emit/gen.ts, emit/flags.ts). */
const PROLOGUE =
  'const b = cpu.rip, ic = cpu.icount, RD = cpu.tlbRead, WR = cpu.tlbWrite;\n' +
  'let eS = 0, eH = 0, vpn = 0, slot = 0, pa = 0, x = 0, xh = 0, y = 0, yh = 0, r = 0, rh = 0, c = 0, ci = 0, nx = 0;\n' +
  'let fa = 0, fah = 0, fb = 0, fbh = 0, fr = 0, frh = 0, fc = 0, fe = 0, fu = 0;\n';

/** The block function's constants: what never changes for a CPU (its registers and TLB
 *  arrays, guest RAM), bound when the block is made. */
const CONSTANTS = ['lo', 'hi', 'tag', 'phys', 'view', 'bytes', 'mark', 'RAM'];
const constantsOf = (cpu: Cpu): unknown[] =>
  [cpu.regLo, cpu.regHi, cpu.tlbTag, cpu.tlbPhys, cpu.view, cpu.mem.bytes, cpu.mem.codeMark, cpu.mem.size];

class Builder implements Gen {
  readonly params: string[] = [];
  readonly args: unknown[] = [];
  next = '';
  /** What the flag locals hold (null: the flags are in the CPU's fields only). */
  flags: FlagState | null = null;
  /** The flag locals are newer than the CPU's fields. */
  dirty = false;
  /** This instruction reads the flags through flags.ts: the fields must be current first. */
  needsFields = false;

  constructor(readonly cpu: Cpu) {}

  ref(value: unknown): string {
    let k = this.args.indexOf(value);
    if (k < 0) { k = this.args.length; this.args.push(value); this.params.push(`k${k}`); }
    return this.params[k];
  }

  carry(): string {
    if (this.flags !== null) return `(${carryOf(this.flags)} ? 1 : 0)`;
    return `${this.ref(getCF)}(cpu)`;
  }

  overflow(): string {
    if (this.flags !== null) return `(${overflowOf(this.flags)})`;
    return `${this.ref(getOF)}(cpu)`;
  }

  condition(cc: number): string {
    const t = this.flags === null ? null : conditionOf(this.flags, cc);
    if (t !== null) return t;
    this.needsFields = true;
    return `${this.ref(condition)}(cpu, ${cc})`;
  }

  /** Statements bringing the CPU's flag fields up to date, if they are not. */
  materialise(): string {
    if (!this.dirty || this.flags === null) return '';
    this.dirty = false;
    return F.materialise(this.flags);
  }
}

/** Compile the block starting at `entry` (page offset `off`); `at(off)` returns the decoded
 *  instruction at an offset of the same page, or null if there is none to include. False if
 *  no block starts there (fewer than two instructions a block can hold). */
export function compileBlock(cpu: Cpu, entry: Insn, off: number, at: (off: number) => Insn | null): boolean {
  const inline = cpu.mode === Mode.Long64;
  const insns: Insn[] = [];
  /** Each instruction's offset from the entry (page offset - off). */
  const starts: number[] = [];
  const visited = new Set<number>();
  let pos = off;
  let insn: Insn | null = entry;
  let endsInBranch = false;
  while (insn !== null && insns.length < MAX_LENGTH) {
    const role = blockRole(insn.exec);
    if (role === null) break;
    insns.push(insn);
    starts.push(pos - off);
    visited.add(pos);
    pos += insn.len;
    if (role === 'branch') {
      // A direct branch whose path goes on in this page does not end the block (see
      // continuation); the path may not come back to an instruction the block holds.
      const next = inline ? continuation(insn, pos) : null;
      if (next === null || visited.has(next)) { endsInBranch = true; break; }
      pos = next;
    }
    insn = at(pos);
  }
  if (insns.length < 2) return false;
  // A block cut at MAX_LENGTH (or at an instruction it cannot hold) right after a branch it
  // went through ends in that branch.
  if (blockRole(insns[insns.length - 1].exec) === 'branch') endsInBranch = true;
  const end = pos - off;

  const g = new Builder(cpu);
  let body = PROLOGUE;
  const n = insns.length;
  for (let k = 0; k < n; k++) {
    const i = insns[k];
    const last = k === n - 1;
    const s = starts[k], e = s + i.len;
    g.next = `(b + ${e})`;
    g.needsFields = false;
    const emit = inline ? ENTRIES[i.entry].emit : null;
    const out: Emitted | null = emit === null ? null : emit(g, i);
    const exact = `cpu.rip = b + ${s}; cpu.icount = ic + ${k};`;
    // A branch the block goes through: where the path goes on, and the way out elsewhere.
    const through = !last && blockRole(i.exec) === 'branch';
    const leave = (rip: string): string => `${g.dirty && g.flags !== null ? F.materialise(g.flags) : ''} cpu.icount = ic + ${k + 1}; cpu.rip = ${rip}; return;`;
    // The instruction's semantics, called: after it a branch's target is where it left
    // nextRip; anywhere else a set blockExit ends the block after this instruction.
    const call = (): string => `${g.materialise()} cpu.nextRip = ${g.next}; ${g.ref(i.exec)}(cpu, ${g.ref(i)});` +
      (through ? ` ${leave('cpu.nextRip')}`
        : last ? (endsInBranch ? ' nx = cpu.nextRip;' : '') : ` if (cpu.blockExit) { cpu.icount = ic + ${k + 1}; cpu.rip = ${g.next}; return; }`);
    if (out === null) {
      body += `${exact} ${call()}\n`;
      // Whatever the semantics did to the flags is in the CPU's fields.
      g.flags = null;
      continue;
    }
    const first = g.needsFields ? g.materialise() : '';
    const fast = through ? `${out.fast} if (nx !== b + ${starts[k + 1]}) { ${leave('nx')} }` : out.fast;
    if (out.when === undefined) {
      body += `${first} ${out.faults ? exact : ''} ${fast}\n`;
    } else {
      const wasDirty = g.dirty;
      const slow = `${call()}${out.flags !== undefined ? ` ${F.reload(out.flags)}` : ''}`;
      // The fast path left the CPU's fields as they were (stale if the locals were newer).
      g.dirty = wasDirty;
      body += `${first} ${out.faults ? exact : ''} if (${out.when}) { ${fast} } else { ${slow} }\n`;
    }
    if (out.flags !== undefined) { g.flags = out.flags; g.dirty = true; }
  }
  body += `${g.materialise()} cpu.icount = ic + ${n}; cpu.rip = ${endsInBranch ? 'nx' : `b + ${end}`};\n`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function(...CONSTANTS, ...g.params, `return function block(cpu) {\n${body}};`) as (...a: unknown[]) => (cpu: Cpu) => void;
  entry.block = make(...constantsOf(cpu), ...g.args);
  entry.blockLength = n;
  return true;
}
