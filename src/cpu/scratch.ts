// Per-vCPU scratch space: the values a helper hands back to its caller beside its
// return value, and the buffers an instruction fills, kept on the vCPU so that no path
// allocates and no module holds state that every vCPU would share.
// Each group belongs to the code named above it; a value is meaningful only from the
// write its owner documents to the next call of that owner, never across instructions.

import { Insn } from './insn.js';

/** What a page walk's entry reader found, for the walk's shared tail (paging.ts). */
export class PageWalk {
  /** Physical addresses of the paging-structure entries used, for the A/D updates;
   *  the first `depth` are valid and the last of them is the leaf. */
  readonly entries = new Float64Array(5);
  depth = 0;
  /** The leaf entry's halves, and log2 of the page size it maps (12, 21, 22 or 30). */
  leafLo = 0;
  leafHi = 0;
  pageShift = 12;
  /** Rights combined over every entry used: R/W and U/S set in all, XD in any. */
  writable = true;
  userOk = true;
  noExec = false;
}

/** The stack a protected-mode event frame is pushed on (idt-protected.ts). */
export class FrameStack {
  /** Linear base of SS. */
  base = 0;
  /** Valid offsets low..high: 0..limit, or limit+1..0xFFFF/0xFFFFFFFF when expand-down. */
  low = 0;
  high = 0;
  /** SS.B: a 32-bit stack (ESP), else 16-bit (SP). */
  wide = true;
}

export class Scratch {
  // segments.ts
  /** The descriptor the last readDescriptor() (or LAR/LSL/VERR/VERW's look-up) read:
   *  its low and high dwords. */
  descLo = 0;
  descHi = 0;

  // paging.ts
  readonly walk = new PageWalk();

  // idt-protected.ts
  readonly stack = new FrameStack();
  /** The frame's slots, highest address first: [SS, ESP,] EFLAGS, CS, EIP [, error code]. */
  readonly frameValues = new Int32Array(6);

  // ops/branch.ts
  /** The selector of the far pointer readFarPointer() read last. */
  farSel = 0;

  // ops/arith.ts
  /** High half of mulu32()'s 64-bit product. */
  mulHi = 0;
  /** A multiply's product as 32-bit words (multiply() documents the layout). */
  readonly prod = new Int32Array(4);
  /** DIV/IDIV's quotient and remainder as 32-bit halves, and its helpers' results (the
   *  slots are named in divE()'s section). */
  readonly div = new Int32Array(4);

  // ops/bits.ts
  /** The other half of shl64()/shr64()'s result. */
  shHi = 0;
  /** The instruction BT* addresses a register bit offset's operand with: the instruction's
   *  addressing with the offset's displacement folded in. */
  readonly bitInsn = new Insn(() => {});

  // ops/legacy.ts
  /** POPA's eight popped values, by register number. */
  readonly popaValues = new Int32Array(8);

  // ops/system.ts
  /** CPUID's results: EAX, EBX, ECX, EDX. */
  readonly cpuidOut = new Int32Array(4);
}
