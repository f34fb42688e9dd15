// Basic blocks compiled to JavaScript (docs/architecture.md, "Compiled blocks"). A hot run of straight-line
// instructions in one page becomes one function that calls each instruction's own
// semantics (the same functions the interpreter calls) in order, from call sites that
// each see one function -- so V8 can inline them, where the interpreter's
// insn.exec(cpu, insn) is one megamorphic call for everything.
//
// A block behaves exactly like stepping its instructions one by one: RIP is set to
// each instruction before it runs (a fault reports it, and the instructions before it
// are retired and counted), and a write to a page holding decoded code ends the block
// at once, so the next instruction is decoded afresh. Blocks hold only instructions
// that neither change the mode, the privilege, paging or the run itself, nor repeat
// (REP), and may end in one branch: the rows marked `block: 'straight'` and
// `block: 'branch'` in the opcode table (opcodes.ts).

import type { Cpu } from './cpu.js';
import type { Exec, Insn } from './insn.js';
import { ENTRIES, type BlockRole } from './opcodes.js';

/** Executions of a block entry in the interpreter before it is compiled. */
export const HOT = 16;
const MAX_LENGTH = 64;

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

/** Compile the block starting at `entry` (page offset `off`); `at(off)` returns the decoded
 *  instruction at an offset of the same page, or null if there is none to include. */
export function compileBlock(entry: Insn, off: number, at: (off: number) => Insn | null): void {
  const insns: Insn[] = [];
  const starts: number[] = [];
  let pos = off;
  let insn: Insn | null = entry;
  while (insn !== null && insns.length < MAX_LENGTH) {
    const role = blockRole(insn.exec);
    if (role === null) break;
    insns.push(insn);
    starts.push(pos - off);
    pos += insn.len;
    if (role === 'branch') break;
    insn = at(pos);
  }
  if (insns.length < 2) return;

  const params: string[] = [];
  const args: unknown[] = [];
  let body = 'const b = cpu.rip;\n';
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k];
    params.push(`f${k}`, `i${k}`);
    args.push(i.exec, i);
    const s = starts[k], e = s + i.len;
    body += `cpu.rip = b + ${s}; cpu.nextRip = b + ${e}; f${k}(cpu, i${k}); cpu.icount++;\n`;
    if (k < insns.length - 1) body += 'if (cpu.blockExit) { cpu.rip = cpu.nextRip; return; }\n';
  }
  body += 'cpu.rip = cpu.nextRip;\n';
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function(...params, `return function block(cpu) {\n${body}};`) as (...a: unknown[]) => (cpu: Cpu) => void;
  entry.block = make(...args);
  entry.blockLength = insns.length;
}
