// A decoded instruction, as the decode cache holds it. Decoding happens once per
// (physical page, offset, mode); execution reads these fields and never allocates.

import type { Cpu } from './cpu.js';
import type { HostEntry } from './host-entry.js';

export type Exec = (cpu: Cpu, insn: Insn) => void;

/** No register (base, index). */
export const NONE = -1;
/** Base register value meaning "RIP-relative". */
export const RIP_BASE = 16;

export class Insn {
  exec: Exec;
  /** Table entry index (opcodes.ts), for names and traces. */
  entry = 0;
  len = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  osz = 4;
  /** Address size in bytes: 2, 4 or 8. */
  asz = 8;
  /** ModRM.reg (+REX.R), or the register encoded in the opcode's low bits (+REX.B). */
  reg = 0;
  /** ModRM.rm (+REX.B) when it names a register. */
  rm = 0;
  /** True when the r/m operand is memory. */
  mem = false;
  base = NONE;
  index = NONE;
  /** log2 of the SIB scale. */
  scale = 0;
  /** Displacement, low 32 bits and sign-extended high 32 bits. */
  dispLo = 0;
  dispHi = 0;
  /** Bytes the memory operand covers (segment-limit checks). */
  memSize = 1;
  /** Effective segment register for the memory operand (arch/descriptors.ts numbering). */
  seg = 3;
  /** True when the segment came from an override prefix (string-op sources honour it). */
  segOverride = false;
  /** Immediate, low and high 32 bits (sign- or zero-extended per the operand form). */
  immLo = 0;
  immHi = 0;
  /** Second immediate (ENTER's level, far pointer selector). */
  imm2 = 0;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  lock = false;
  /** Entry parameter: ALU operation, condition code, shift kind... */
  op = 0;
  /** True if a REX prefix was present (byte registers SPL..DIL instead of AH..BH). */
  rex = false;
  /** Times the interpreter executed this instruction on its own as a block entry; at the
   *  CPU's hotThreshold a block is compiled. */
  heat = 0;
  /** A compiled block may hold it anywhere (blocks.ts blockRole 'straight'). */
  straight = false;
  /** The compiled block that starts here (blocks.ts), and how many instructions it runs. */
  block: ((cpu: Cpu) => void) | null = null;
  blockLength = 0;
  /** The host entry point this pseudo-instruction calls (host-entry.ts); null for decoded bytes. */
  host: HostEntry | null = null;

  constructor(exec: Exec) {
    this.exec = exec;
  }
}
