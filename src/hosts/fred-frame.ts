// A host's view of the FRED frame (src/arch/fred-frame.ts): what a host function registered at
// a FRED entry point (src/cpu/host-entry.ts) reads to learn which event brought it there.
//
// FRED delivery leaves RSP at the frame's lowest address, the error code (SDM Vol. 3 §8.3), and
// ERETU/ERETS read it from there (RSP + 8 on), so a host that keeps nothing on the stack finds
// the frame at RSP on entry and leaves with RSP unchanged. The reads go through the CPU's own
// linear-memory accessors, with the rights of the CPL the entry runs at (0): a frame on an
// unmapped page faults as the instruction at the entry point would, and is delivered there.

import type { Cpu } from '../cpu/cpu.js';
import { FRED_FRAME, decodeFredFrame, type FredFrame } from '../arch/fred-frame.js';

const TWO32 = 4294967296;

/** The frame at linear address `at` (default: RSP), read through paging at the current CPL. */
export function readFredFrame(cpu: Cpu, at: number = cpu.regHi[4] * TWO32 + (cpu.regLo[4] >>> 0)): FredFrame {
  const bytes = new Uint8Array(FRED_FRAME.size);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < FRED_FRAME.size; k += 8) {
    view.setInt32(k, cpu.read64(at + k), true);
    view.setInt32(k + 4, cpu.hi, true);
  }
  return decodeFredFrame(bytes);
}
