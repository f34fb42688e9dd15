// Basic blocks compiled to JavaScript (DESIGN.md, The CPU: "basic blocks compiled to
// JavaScript, the JS analogue of v86's wasm JIT"). A hot run of straight-line
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
// (REP), and may end in one branch.

import type { Cpu } from './cpu.js';
import type { Exec, Insn } from './insn.js';
import * as A from './ops/arith.js';
import * as Bt from './ops/bits.js';
import * as D from './ops/data.js';
import * as Br from './ops/branch.js';
import * as L from './ops/legacy.js';
import { SPECIALISED } from './specialize.js';

/** Executions of a block entry in the interpreter before it is compiled. */
export const HOT = 16;
const MAX_LENGTH = 64;

const STRAIGHT = new Set<Exec>([
  A.aluEG, A.aluGE, A.aluAI, A.aluEI, A.unaryE, A.unaryZ, A.mulE, A.imulGEI, A.imulGE2, A.divE,
  Bt.shiftE, Bt.shiftDouble, Bt.btEG, Bt.btEI, Bt.bitScan, Bt.popcnt, Bt.lzcnt, Bt.setcc, Bt.cmovcc, Bt.bswap,
  D.movEG, D.movGE, D.movEI, D.movZI, D.movMoffs, D.movExtend, D.movsxd, D.lea, D.xchgEG, D.xchgZ, D.xadd,
  D.cmpxchg, D.cmpxchg8b16b, D.pushZ, D.popZ, D.pushI, D.pushE, D.popE, D.pushf, D.lahf, D.sahf, D.enter, D.leave,
  D.cbw, D.cwd, D.xlat, D.salc, D.clc, D.stc, D.cmc, D.cld, D.std, D.nop,
  L.aaa, L.aas, L.decimalAdjust, L.aam, L.aad, L.arpl,
  ...SPECIALISED,
]);

/** Near branches: they may end a block. */
const BRANCH = new Set<Exec>([Br.jcc, Br.jmpRel, Br.jmpE, Br.callRel, Br.callE, Br.retNear, Br.loop, Br.jrcxz]);

/** Compile the block starting at `entry` (page offset `off`); `at(off)` returns the decoded
 *  instruction at an offset of the same page, or null if there is none to include. */
export function compileBlock(entry: Insn, off: number, at: (off: number) => Insn | null): void {
  const insns: Insn[] = [];
  const starts: number[] = [];
  let pos = off;
  let insn: Insn | null = entry;
  while (insn !== null && insns.length < MAX_LENGTH) {
    const straight = STRAIGHT.has(insn.exec);
    if (!straight && !BRANCH.has(insn.exec)) break;
    insns.push(insn);
    starts.push(pos - off);
    pos += insn.len;
    if (!straight) break;
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
