// The hardware oracle's address layout and the shapes of a test case and its
// outcome, shared by the generator, the model runner, the harness client and the
// comparison. The harness (test/oracle/harness.c) uses the same addresses and
// reports them in its hello message; the client checks they agree.

/** The code page: the sequence, then the harness's exit stub, then 0xCC. (Its page number
 *  and the scratch pages' differ in their low 12 bits: the model's TLB is direct-mapped.) */
export const CODE_ADDR = 0x10100000;
export const CODE_SIZE = 0x1000;
/** The scratch region: data and stack of the sequence; the pages around it are unmapped. */
export const SCRATCH_ADDR = 0x20000000;
export const SCRATCH_SIZE = 0x4000;
/** Where the exit stub saves registers (unmapped in the model: its first store is the end marker). */
export const CTRL_ADDR = 0x600000000000;

/** The flags a case may set: CF PF AF ZF SF DF OF. TF and AC are never set. */
export const USER_FLAGS = 0xcd5;
/** RFLAGS bits compared at the end of a case: everything a user program can see except RF. */
export const COMPARED_FLAGS = 0x2c7fd5 & ~0x10000;

/** Case flag: the sequence may load FS or GS; the harness restores them (and glibc's TLS base). */
export const CASE_FSGS = 1;

export interface Patch {
  /** Offset in the scratch region. */
  offset: number;
  bytes: Uint8Array;
}

/** One instruction of a sequence: where it is and what the generator meant it to be. */
export interface InsnInfo {
  /** ENTRIES index (src/cpu/opcodes.ts). */
  entry: number;
  offset: number;
  length: number;
  /** True when the instruction has an explicit or implicit memory operand aimed into scratch. */
  memory: boolean;
}

/** A test case: the initial state and the code. Registers are 32-bit halves, low first:
 *  regs[2*r], regs[2*r+1] for RAX..R15, then RFLAGS at [32], [33]. */
export interface Case {
  regs: number[];
  /** Index into the scratch image pool. */
  image: number;
  patches: Patch[];
  code: Uint8Array;
  flags: number;
  insns: InsnInfo[];
}

export const enum EndKind {
  /** The sequence ran to its end. */
  End = 0,
  /** An exception (model) / a signal (host). */
  Fault = 1,
  /** The harness's watchdog or the model's step limit ended it. */
  Timeout = 2,
  /** The model reached something it does not model (ModelError). */
  ModelError = 3,
}

/** Scratch bytes that differ from the image the case started from. */
export interface Range {
  offset: number;
  bytes: Uint8Array;
}

/** What the hardware reported for a case. */
export interface HostOutcome {
  kind: EndKind;
  signo: number;
  siCode: number;
  siAddr: bigint;
  rip: bigint;
  trapno: number;
  err: number;
  /** 34 words as in Case.regs: the registers at the end or at the fault, then RFLAGS. */
  regs: number[];
  /** Selectors ES CS SS DS FS GS. */
  sel: number[];
  ranges: Range[];
}

export function caseRegs(): number[] {
  return new Array<number>(34).fill(0);
}

export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
