// Which opcode-table rows the hardware oracle compares with this machine's CPU, and
// why the others are not compared. Every row of src/cpu/opcodes.ts says it (its
// `oracle.compare` class and `why`); this file puts the classes into words, and
// test/opcode-table.test.ts fails on a row whose class needs words it does not give.
// A row that is comparable but not modelled yet ('unmodelled' semantics, on a feature
// the oracle's CPU model enumerates) is reported as such and generated once it is modelled.
//
// Instructions that fault at CPL 3 are compared as faults: the oracle runs at CPL 3 on
// Linux, where #GP shows up as SIGSEGV (si_code SI_KERNEL, trap number 13), #UD as
// SIGILL, #DE as SIGFPE, #BP as SIGTRAP, #SS/#NP as SIGBUS (compare.ts has the mapping).

import type { OpcodeDef } from '../../cpu/opcodes.js';

export interface Comparable {
  comparable: true;
  /** What the comparison checks when it is not the instruction's result (e.g. "#GP at CPL 3"). */
  note?: string;
}
export interface NotComparable {
  comparable: false;
  reason: string;
}
export type Comparability = Comparable | NotComparable;

const yes: Comparable = { comparable: true };
const fault = (note: string): Comparable => ({ comparable: true, note });
const no = (reason: string): NotComparable => ({ comparable: false, reason });

const PRIV = fault('privileged: #GP at CPL 3 (SIGSEGV)');
const UD64 = fault('invalid in 64-bit mode: #UD (SIGILL)');
const IO = fault('I/O at CPL 3 with IOPL 0 and no I/O bitmap: #GP (SIGSEGV)');

/** The classification of one row, or undefined if the row's class lacks the words it
 *  needs (a test fails). */
export function classify(d: OpcodeDef): Comparability | undefined {
  const { compare, why } = d.oracle;
  switch (compare) {
    case 'result': return yes;
    case 'priv': return PRIV;
    case 'ud64': return UD64;
    case 'io': return IO;
    default: break;
  }
  if (why === undefined || why === '') return undefined;
  switch (compare) {
    case 'fault': return fault(why);
    case 'hostState': return no(`reads host state: ${why}`);
    case 'hostOs': return no(`reaches the host OS: ${why}`);
    case 'hostFeature': return no(`the host implements ${why}, which the profile does not advertise (the model raises #UD)`);
    case 'no': return no(why);
  }
}

/** Prefix and encoding choices the generator steers around, each with its reason: the
 *  host would execute something else than the entry, or Intel and AMD differ and the
 *  model is Intel. `intelOnly` ones are generated on Intel hosts. */
export const STEERING = [
  { what: 'F3 before 0F BC', reason: 'F3 0F BC is TZCNT on a host with BMI1; the profile does not advertise BMI1 (the model runs BSF)', intelOnly: false },
  { what: '66 before near branches (f64 rows: Jcc, JMP, CALL, RET, LOOP, JrCXZ)', reason: 'Intel ignores 66 on near branches in 64-bit mode; AMD honours it (16-bit IP)', intelOnly: true },
  { what: 'REX.W on far indirect JMP/CALL and LSS/LFS/LGS (m16:64)', reason: 'Intel supports m16:64; AMD ignores REX.W there (m16:32)', intelOnly: true },
  { what: 'FS/GS-relative accesses after an FS/GS load in the same sequence', reason: 'loading a null selector clears the base on Intel, keeps it on AMD; and the harness\'s TLS base is restored only after the case', intelOnly: false },
  { what: 'LOCK before MOV CR (0F 20/0F 22)', reason: 'AMD\'s LOCK MOV CR0 is MOV CR8 (AltMovCr8)', intelOnly: false },
  { what: 'INT 0x80', reason: 'the Linux system call gate', intelOnly: false },
  { what: 'INT n for vectors where the host does not follow the gate-DPL rule', reason: 'found by probing every vector at the start of a run (this host: 0x19 reports SIGSEGV after the instruction without an error code)', intelOnly: false },
  { what: '0F 0D with a register operand', reason: 'AMD raises #UD; Intel executes it as a NOP (the model)', intelOnly: true },
  { what: 'ENTER whose new stack top is not writable', reason: 'AMD probes the new top of stack (a #PF there); the SDM\'s ENTER does not access it; unknown on Intel', intelOnly: true },
  { what: 'RETF imm16 releasing past the mapped stack', reason: 'AMD reads the stack past the released bytes before checking the popped CS; the model checks CS first; unknown on Intel', intelOnly: true },
  { what: 'IRET whose frame runs into an unmapped page', reason: 'AMD reads the frame slots in another order and reports a later slot\'s address in CR2 (si_addr); the model pops RIP, CS, RFLAGS, RSP, SS in the SDM\'s order; unknown on Intel', intelOnly: true },
  { what: 'indirect near CALL whose return-address push faults', reason: 'AMD pushes before checking the target, so the push\'s #PF wins over a non-canonical target\'s #GP(0); the SDM\'s CALL, and the model, check the target first', intelOnly: true },
  { what: 'F2/F3 before LOOPE/LOOPNE', reason: 'on this AMD CPU (family 1Ah) F2/F3 select the ZF condition of E0/E1 (F2: loop while ZF = 0, F3: while ZF = 1) whatever the opcode; Intel ignores them, as the model does', intelOnly: true },
  { what: 'more than 15 bytes of an instruction that raises #UD (rows invalid in 64-bit mode, UD0, UD1, UD2)', reason: 'past 15 bytes AMD raises #GP(0) for 82/D4/... (their whole length decoded, immediates included) where the model\'s decoder stops early with #UD, and #UD for UD1 and for UD0 (which has no ModRM on AMD) where the model counts a ModRM and raises #GP; unknown on Intel', intelOnly: true },
  { what: 'REX.B with F3 90', reason: 'AMD executes F3 41 90 as XCHG R8, RAX; Intel decoders (iced-x86) and the model as PAUSE', intelOnly: true },
  { what: 'selector 0x23 (USER32_CS) as a far-transfer target', reason: 'would switch the harness to compatibility mode', intelOnly: false },
] as const;
