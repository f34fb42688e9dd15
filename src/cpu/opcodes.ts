// The opcode table: the one place an opcode is spelled. Each row gives the encoding
// (SDM Vol. 2 notation), the mnemonic, the operands (SDM Vol. 2 Appendix A operand
// codes), the semantics or an explicit #UD, the entry parameter, the CPUID feature
// that gates it, attributes, and every other per-instruction fact: whether a compiled
// block may hold it, its decode-time specialisations, which rule of src/cpu/undefined.ts
// gives its SDM-undefined outputs, and how the hardware oracle generates and compares
// it. The decoder, the block compiler, the specialiser, the disassembly names, the
// feature gating and the oracle's choices are all derived from these rows, so adding
// an instruction is one row plus its semantics.
//
// Encoding: [NP|66|F3|F2] [0F [38|3A]] XX[+r|+cc] [/r | /digit] [exact ModRM byte]
// Attributes: d64 (64-bit default operand size), f64 (forced 64-bit), i64 (#UD in
// 64-bit mode), o64 (64-bit mode only), lock (LOCK allowed with a memory
// destination), W0/W1 (REX.W must be 0/1), R0 (REX.R must be 0), b (byte operation).

import type { Exec } from './insn.js';
import type { UndefinedRule } from './undefined.js';
import { AluOp, Unary, aluEG, aluGE, aluAI, aluEI, unaryE, unaryZ, mulE, imulGEI, imulGE2, divE, aluRR32, aluRR64 } from './ops/arith.js';
import { shiftE, shiftDouble, btEG, btEI, bitScan, popcnt, lzcnt, setcc, cmovcc, bswap, CountFrom } from './ops/bits.js';
import * as D from './ops/data.js';
import * as B from './ops/branch.js';
import * as S from './ops/system.js';
import { stringOp } from './ops/string.js';
import * as L from './ops/legacy.js';
import * as P from './ops/descriptor-checks.js';
import { ES, CS, SS, DS, FS, GS } from '../arch/descriptors.js';
import * as SC from './syscall.js';
import * as SE from './sysenter.js';
import * as ER from './eret.js';
import type { Emitter } from './emit/gen.js';
import { emitAluEG, emitAluEI, emitAluGE, emitAluAI, emitUnary } from './emit/alu.js';
import * as EM from './emit/moves.js';
import { emitShift } from './emit/shifts.js';
import { emitJcc, emitJmpRel, emitCallRel, emitRet } from './emit/branches.js';

/** Semantics: a function, 'UD' (the encoding is defined to raise #UD), or 'unmodelled'
 *  (a valid instruction Ringside does not implement yet: executing it is a model error). */
export type Semantics = Exec | 'UD' | 'unmodelled';

/** Compiled blocks (blocks.ts): 'straight' rows may be anywhere in a block, 'branch'
 *  rows (near branches) only last. A row with neither never enters a block: it may
 *  change the mode, the privilege, paging or the run itself, or repeat (REP). */
export type BlockRole = 'straight' | 'branch';

/** Narrower semantics chosen at decode (specialize.ts) for the commonest operand forms
 *  of a row: r32/r64 a register operand at operand size 4/8, m64 a memory operand at
 *  operand size 8. Each must define the same operation as the row's semantics. */
export interface Specialise {
  r32?: Exec;
  r64?: Exec;
  m64?: Exec;
}

/** How the hardware oracle (src/lab/oracle, which words each class in comparable.ts)
 *  treats a row: 'result' generated and compared on its results; 'fault' generated and
 *  compared on what it does at CPL 3 (`why` says what); 'priv', 'ud64', 'io' the usual
 *  faults of a privileged, 64-bit-invalid or I/O instruction at CPL 3; 'hostState',
 *  'hostOs', 'hostFeature', 'no' not compared, `why` says why. */
export type OracleCompare = 'result' | 'fault' | 'priv' | 'ud64' | 'io' | 'hostState' | 'hostOs' | 'hostFeature' | 'no';

/** The oracle generator's recipe for a row's operands (src/lab/oracle/recipes.ts holds
 *  what each means); a row without one gets random operands by its operand codes. */
export type OracleGen =
  | 'mov' | 'movCr' | 'movSreg' | 'movSregFsGs' | 'moffs' | 'xchg' | 'xadd' | 'cmpxchg' | 'cmpxchg8b' | 'cmpxchg16b'
  | 'mul' | 'div' | 'idiv' | 'writesA' | 'writesD' | 'xlat' | 'shift' | 'int' | 'btReg' | 'scan' | 'bsf'
  | 'push' | 'pushFsGs' | 'pop' | 'popFsGs' | 'pushf' | 'popf' | 'enter' | 'leave' | 'cld' | 'std'
  | 'jcc' | 'jmpRel' | 'callRel' | 'loop' | 'loopz' | 'jrcxz' | 'jmpIndirect' | 'callIndirect'
  | 'ret' | 'retf' | 'iret' | 'jmpFar' | 'callFar' | 'jmpFarImm' | 'callFarImm' | 'lss' | 'lfsLgs'
  | 'movs' | 'cmps' | 'stos' | 'lods' | 'scas' | 'ins' | 'outs' | 'pause' | 'prefetchNop';

export interface OracleSpec {
  compare: OracleCompare;
  why?: string;
  gen?: OracleGen;
}

export interface OpcodeDef {
  code: string;
  mnemonic: string;
  operands: string;
  exec: Semantics;
  op?: number;
  feature?: string;
  attrs?: string;
  block?: BlockRole;
  specialise?: Specialise;
  /** How a compiled block spells the row inline in 64-bit mode (emit/*.ts); without one,
   *  or where it declines a form, the block calls the semantics. */
  emit?: Emitter;
  /** The rule of src/cpu/undefined.ts for what the SDM leaves undefined in this row. */
  undefined?: UndefinedRule;
  oracle: OracleSpec;
}

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const CC = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];
const SHIFT_NAMES = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'];
/** The undefined-value rule of each shift kind (SHIFT_NAMES order). */
const SHIFT_RULES: UndefinedRule[] = ['rotate', 'rotate', 'rotate', 'rotate', 'shift', 'shift', 'shift', 'sar'];

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

// Oracle treatments, for brevity in the rows.
const RESULT: OracleSpec = { compare: 'result' };
const PRIV: OracleSpec = { compare: 'priv' };
const UD64: OracleSpec = { compare: 'ud64' };
const IO: OracleSpec = { compare: 'io' };
const gen = (g: OracleGen): OracleSpec => ({ compare: 'result', gen: g });
const fault = (why: string, g?: OracleGen): OracleSpec => (g === undefined ? { compare: 'fault', why } : { compare: 'fault', why, gen: g });
const hostState = (why: string): OracleSpec => ({ compare: 'hostState', why });
const hostFeature = (why: string): OracleSpec => ({ compare: 'hostFeature', why });
const no = (why: string): OracleSpec => ({ compare: 'no', why });
const NOT_ENUMERATED = fault('FRED is not enumerated: #UD');
const VMX = no('VMX instructions: #UD outside VMX operation on Intel, another instruction map on AMD');
const FAR = 'the far pointer is a later instruction of the sequence and a selector';

function build(): OpcodeDef[] {
  const t: OpcodeDef[] = [];
  const def = (code: string, mnemonic: string, operands: string, exec: Semantics, oracle: OracleSpec,
    extra: Partial<Omit<OpcodeDef, 'oracle'>> = {}): void => {
    t.push({ code, mnemonic, operands, exec, oracle, ...extra });
  };
  // Block roles (BlockRole), short for the rows.
  const STRAIGHT = 'straight' as const, BRANCH = 'branch' as const;

  // ---- one-byte map: the ALU rows 00-3F (SDM Vol. 2 Table A-2)
  for (let op = 0; op < 8; op++) {
    const base = op * 8, name = ALU_NAMES[op];
    const lock = op === AluOp.Cmp ? '' : 'lock';
    const u: { undefined?: UndefinedRule } = op === AluOp.And || op === AluOp.Or || op === AluOp.Xor ? { undefined: 'logic' } : {};
    const rr = { r32: aluRR32, r64: aluRR64 };
    def(`${hex(base)} /r`, name, 'Eb,Gb', aluEG, RESULT, { op, attrs: lock, block: STRAIGHT, emit: emitAluEG, ...u });
    def(`${hex(base + 1)} /r`, name, 'Ev,Gv', aluEG, RESULT, { op, attrs: lock, block: STRAIGHT, specialise: rr, emit: emitAluEG, ...u });
    def(`${hex(base + 2)} /r`, name, 'Gb,Eb', aluGE, RESULT, { op, block: STRAIGHT, emit: emitAluGE, ...u });
    def(`${hex(base + 3)} /r`, name, 'Gv,Ev', aluGE, RESULT, { op, block: STRAIGHT, emit: emitAluGE, ...u });
    def(hex(base + 4), name, 'AL,Ib', aluAI, RESULT, { op, block: STRAIGHT, emit: emitAluAI, ...u });
    def(hex(base + 5), name, 'rAX,Iz', aluAI, RESULT, { op, block: STRAIGHT, emit: emitAluAI, ...u });
    def(`80 /${op}`, name, 'Eb,Ib', aluEI, RESULT, { op, attrs: lock, block: STRAIGHT, emit: emitAluEI, ...u });
    def(`81 /${op}`, name, 'Ev,Iz', aluEI, RESULT, { op, attrs: lock, block: STRAIGHT, emit: emitAluEI, ...u });
    def(`82 /${op}`, name, 'Eb,Ib', aluEI, RESULT, { op, attrs: `i64 ${lock}`, block: STRAIGHT, ...u });
    def(`83 /${op}`, name, 'Ev,Ib', aluEI, RESULT, { op, attrs: lock, block: STRAIGHT, emit: emitAluEI, ...u });
  }
  def('06', 'PUSH', 'ES', D.pushSeg, gen('push'), { op: ES, attrs: 'i64', undefined: 'pushSreg' });
  def('07', 'POP', 'ES', D.popSeg, gen('pop'), { op: ES, attrs: 'i64' });
  def('0E', 'PUSH', 'CS', D.pushSeg, gen('push'), { op: CS, attrs: 'i64', undefined: 'pushSreg' });
  def('16', 'PUSH', 'SS', D.pushSeg, gen('push'), { op: SS, attrs: 'i64', undefined: 'pushSreg' });
  def('17', 'POP', 'SS', D.popSeg, gen('pop'), { op: SS, attrs: 'i64' });
  def('1E', 'PUSH', 'DS', D.pushSeg, gen('push'), { op: DS, attrs: 'i64', undefined: 'pushSreg' });
  def('1F', 'POP', 'DS', D.popSeg, gen('pop'), { op: DS, attrs: 'i64' });
  def('27', 'DAA', '', L.decimalAdjust, UD64, { op: 0, attrs: 'i64', block: STRAIGHT, undefined: 'decimalAdjust' });
  def('2F', 'DAS', '', L.decimalAdjust, UD64, { op: 1, attrs: 'i64', block: STRAIGHT, undefined: 'decimalAdjust' });
  def('37', 'AAA', '', L.aaa, UD64, { attrs: 'i64', block: STRAIGHT, undefined: 'asciiAdjust' });
  def('3F', 'AAS', '', L.aas, UD64, { attrs: 'i64', block: STRAIGHT, undefined: 'asciiAdjust' });

  // ---- 40-7F
  const REX = no('40-4F are REX prefixes in 64-bit mode, where the oracle runs');
  def('40+r', 'INC', 'Zv', unaryZ, REX, { op: Unary.Inc, attrs: 'i64', block: STRAIGHT });
  def('48+r', 'DEC', 'Zv', unaryZ, REX, { op: Unary.Dec, attrs: 'i64', block: STRAIGHT });
  def('50+r', 'PUSH', 'Zv', D.pushZ, gen('push'), { attrs: 'd64', block: STRAIGHT, emit: EM.emitPush });
  def('58+r', 'POP', 'Zv', D.popZ, gen('pop'), { attrs: 'd64', block: STRAIGHT, emit: EM.emitPop });
  def('60', 'PUSHA', '', L.pusha, UD64, { attrs: 'i64' });
  def('61', 'POPA', '', L.popa, UD64, { attrs: 'i64' });
  def('62 /r', 'BOUND', 'Gv,Ma', L.bound, hostFeature('62 as the EVEX prefix (AVX-512)'), { attrs: 'i64' });
  def('63 /r', 'MOVSXD', 'Gv,Ed', D.movsxd, RESULT, { attrs: 'o64', block: STRAIGHT, emit: EM.emitMovsxd });
  // The oracle's table once classified 63 /r by code before mnemonic, which made ARPL's row
  // 'result' too: kept, so that the generated sequences stay the same (it builds as a
  // LOCK-prefixed #UD, as 63 is MOVSXD in 64-bit mode).
  def('63 /r', 'ARPL', 'Ew,Gw', L.arpl, RESULT, { attrs: 'i64', block: STRAIGHT });
  def('68', 'PUSH', 'Iz', D.pushI, gen('push'), { attrs: 'd64', block: STRAIGHT });
  def('69 /r', 'IMUL', 'Gv,Ev,Iz', imulGEI, gen('mul'), { block: STRAIGHT, undefined: 'mul' });
  def('6A', 'PUSH', 'Ib', D.pushI, gen('push'), { attrs: 'd64', block: STRAIGHT });
  def('6B /r', 'IMUL', 'Gv,Ev,Ib', imulGEI, gen('mul'), { block: STRAIGHT, undefined: 'mul' });
  const ins: OracleSpec = { ...IO, gen: 'ins' }, outs: OracleSpec = { ...IO, gen: 'outs' };
  def('6C', 'INSB', 'Yb,DX', stringOp, ins, { op: 5 });
  def('6D', 'INS', 'Yz,DX', stringOp, ins, { op: 5, attrs: 'z' });
  def('6E', 'OUTSB', 'DX,Xb', stringOp, outs, { op: 6, attrs: 'b' });
  def('6F', 'OUTS', 'DX,Xz', stringOp, outs, { op: 6, attrs: 'z' });
  def('70+cc', 'J', 'Jb', B.jcc, gen('jcc'), { attrs: 'f64', block: BRANCH, emit: emitJcc });

  // ---- 84-8F
  def('84 /r', 'TEST', 'Eb,Gb', aluEG, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', emit: emitAluEG });
  def('85 /r', 'TEST', 'Ev,Gv', aluEG, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', specialise: { r32: aluRR32, r64: aluRR64 }, emit: emitAluEG });
  def('86 /r', 'XCHG', 'Eb,Gb', D.xchgEG, gen('xchg'), { attrs: 'lock', block: STRAIGHT });
  def('87 /r', 'XCHG', 'Ev,Gv', D.xchgEG, gen('xchg'), { attrs: 'lock', block: STRAIGHT });
  def('88 /r', 'MOV', 'Eb,Gb', D.movEG, gen('mov'), { block: STRAIGHT, emit: EM.emitMovEG });
  def('89 /r', 'MOV', 'Ev,Gv', D.movEG, gen('mov'), { block: STRAIGHT, specialise: { r64: D.movRR64, m64: D.store64 }, emit: EM.emitMovEG });
  def('8A /r', 'MOV', 'Gb,Eb', D.movGE, gen('mov'), { block: STRAIGHT, emit: EM.emitMovGE });
  def('8B /r', 'MOV', 'Gv,Ev', D.movGE, gen('mov'), { block: STRAIGHT, specialise: { m64: D.load64 }, emit: EM.emitMovGE });
  for (let sreg = 0; sreg < 6; sreg++) def(`8C /${sreg}`, 'MOV', 'Ev,Sw', D.movESeg, gen('mov'));
  def('8D /r', 'LEA', 'Gv,M', D.lea, RESULT, { block: STRAIGHT, emit: EM.emitLea });
  // MOV to CS and to the nonexistent segment registers 6 and 7 are undefined encodings.
  for (const sreg of [ES, SS, DS, FS, GS]) {
    const fsgs = sreg === FS || sreg === GS;
    def(`8E /${sreg}`, 'MOV', 'Sw,Ew', D.movSegE, !fsgs ? gen('movSreg') : fault(`loads ${sreg === FS ? 'FS' : 'GS'}: the generator puts no FS/GS-relative access after it (null-selector base: Intel clears, AMD keeps)`, 'movSregFsGs'));
  }
  def('8F /0', 'POP', 'Ev', D.popE, gen('pop'), { attrs: 'd64', block: STRAIGHT });

  // ---- 90-9F
  def('F3 90', 'PAUSE', '', D.nop, gen('pause'), { block: STRAIGHT, emit: EM.emitNop });
  def('90+r', 'XCHG', 'Zv,rAX', D.xchgZ, gen('xchg'), { block: STRAIGHT, emit: EM.emitXchgZ });
  def('98', 'CBW', '', D.cbw, gen('writesA'), { block: STRAIGHT });
  def('99', 'CWD', '', D.cwd, gen('writesD'), { block: STRAIGHT });
  def('9A', 'CALLF', 'Ap', B.callFarImm, fault(FAR, 'callFarImm'), { attrs: 'i64' });
  def('9B', 'WAIT', '', S.x87, hostFeature('x87 (WAIT checks for pending x87 exceptions)'), { op: 1 });
  def('9C', 'PUSHF', '', D.pushf, gen('pushf'), { attrs: 'd64', block: STRAIGHT });
  def('9D', 'POPF', '', D.popf, fault('the popped image has TF and AC clear (a trap flag would single-step the harness)', 'popf'), { attrs: 'd64' });
  def('9E', 'SAHF', '', D.sahf, RESULT, { feature: 'lahf64', block: STRAIGHT });
  def('9F', 'LAHF', '', D.lahf, gen('writesA'), { feature: 'lahf64', block: STRAIGHT });

  // ---- A0-AF
  def('A0', 'MOV', 'AL,Ob', D.movMoffs, gen('moffs'), { op: 0, block: STRAIGHT });
  def('A1', 'MOV', 'rAX,Ov', D.movMoffs, gen('moffs'), { op: 0, block: STRAIGHT });
  def('A2', 'MOV', 'Ob,AL', D.movMoffs, gen('moffs'), { op: 1, block: STRAIGHT });
  def('A3', 'MOV', 'Ov,rAX', D.movMoffs, gen('moffs'), { op: 1, block: STRAIGHT });
  def('A4', 'MOVSB', 'Yb,Xb', stringOp, gen('movs'), { op: 0 });
  def('A5', 'MOVS', 'Yv,Xv', stringOp, gen('movs'), { op: 0 });
  def('A6', 'CMPSB', 'Xb,Yb', stringOp, gen('cmps'), { op: 1 });
  def('A7', 'CMPS', 'Xv,Yv', stringOp, gen('cmps'), { op: 1 });
  def('A8', 'TEST', 'AL,Ib', aluAI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', emit: emitAluAI });
  def('A9', 'TEST', 'rAX,Iz', aluAI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', emit: emitAluAI });
  def('AA', 'STOSB', 'Yb,AL', stringOp, gen('stos'), { op: 2 });
  def('AB', 'STOS', 'Yv,rAX', stringOp, gen('stos'), { op: 2 });
  def('AC', 'LODSB', 'AL,Xb', stringOp, gen('lods'), { op: 3 });
  def('AD', 'LODS', 'rAX,Xv', stringOp, gen('lods'), { op: 3 });
  def('AE', 'SCASB', 'AL,Yb', stringOp, gen('scas'), { op: 4 });
  def('AF', 'SCAS', 'rAX,Yv', stringOp, gen('scas'), { op: 4 });

  // ---- B0-BF
  def('B0+r', 'MOV', 'Zb,Ib', D.movZI, gen('mov'), { block: STRAIGHT, emit: EM.emitMovZI });
  def('B8+r', 'MOV', 'Zv,Iv', D.movZI, gen('mov'), { block: STRAIGHT, emit: EM.emitMovZI });

  // ---- C0-CF
  for (let k = 0; k < 8; k++) {
    const n = SHIFT_NAMES[k];
    const x = { block: STRAIGHT, undefined: SHIFT_RULES[k] };
    def(`C0 /${k}`, n, 'Eb,Ib', shiftE, gen('shift'), { op: CountFrom.Imm, ...x });
    def(`C1 /${k}`, n, 'Ev,Ib', shiftE, gen('shift'), { op: CountFrom.Imm, ...x, emit: emitShift });
    def(`D0 /${k}`, n, 'Eb,1', shiftE, gen('shift'), { op: CountFrom.One, ...x });
    def(`D1 /${k}`, n, 'Ev,1', shiftE, gen('shift'), { op: CountFrom.One, ...x, emit: emitShift });
    def(`D2 /${k}`, n, 'Eb,CL', shiftE, gen('shift'), { op: CountFrom.CL, ...x });
    def(`D3 /${k}`, n, 'Ev,CL', shiftE, gen('shift'), { op: CountFrom.CL, ...x });
  }
  const RET = fault('the return address on the stack is a later instruction of the sequence', 'ret');
  def('C2', 'RET', 'Iw', B.retNear, RET, { attrs: 'f64', block: BRANCH });
  def('C3', 'RET', '', B.retNear, RET, { attrs: 'f64', block: BRANCH, emit: emitRet });
  def('C4 /r', 'LES', 'Gz,Mp', D.loadFarPointer, hostFeature('C4 as the 3-byte VEX prefix (AVX)'), { op: ES, attrs: 'i64' });
  def('C5 /r', 'LDS', 'Gz,Mp', D.loadFarPointer, hostFeature('C5 as the 2-byte VEX prefix (AVX)'), { op: DS, attrs: 'i64' });
  def('C6 /0', 'MOV', 'Eb,Ib', D.movEI, gen('mov'), { block: STRAIGHT, emit: EM.emitMovEI });
  def('C7 /0', 'MOV', 'Ev,Iz', D.movEI, gen('mov'), { block: STRAIGHT, emit: EM.emitMovEI });
  def('C8', 'ENTER', 'Iw,Ib', D.enter, gen('enter'), { attrs: 'd64', block: STRAIGHT });
  def('C9', 'LEAVE', '', D.leave, gen('leave'), { attrs: 'd64', block: STRAIGHT });
  const RETF = fault('the far return pointer is a later instruction of the sequence and a selector', 'retf');
  def('CA', 'RETF', 'Iw', B.retFar, RETF);
  def('CB', 'RETF', '', B.retFar, RETF);
  def('CC', 'INT3', '', S.int3, fault('#BP through Linux\'s DPL-3 gate: SIGTRAP after the instruction'));
  def('CD', 'INT', 'Ib', S.intN, fault('INT n with n != 0x80: #GP through a DPL-0 gate, or #BP/#OF through the DPL-3 ones (Linux\'s gate DPLs)', 'int'));
  def('CE', 'INTO', '', S.into, UD64, { attrs: 'i64' });
  def('CF', 'IRET', '', S.iret, fault('the frame returns to a later instruction of the sequence (RFLAGS image without TF/AC)', 'iret'));

  // ---- D4-DF
  def('D4', 'AAM', 'Ib', L.aam, UD64, { attrs: 'i64', block: STRAIGHT, undefined: 'aamAad' });
  def('D5', 'AAD', 'Ib', L.aad, UD64, { attrs: 'i64', block: STRAIGHT, undefined: 'aamAad' });
  // D6 is blank in the SDM opcode map; Intel processors execute it as SALC outside 64-bit mode.
  def('D6', 'SALC', '', D.salc, { ...UD64, gen: 'writesA' }, { attrs: 'i64', block: STRAIGHT });
  def('D7', 'XLAT', '', D.xlat, gen('xlat'), { block: STRAIGHT });
  const X87 = hostFeature('x87');
  for (let k = 0xd8; k <= 0xdf; k++) def(`${hex(k)} /r`, 'x87', 'Ev', S.x87, X87, { op: 0 });
  // Reserved encodings of the escape opcodes (SDM Vol. 2 Tables A-7 to A-22): #UD, never #NM.
  // Memory forms by ModRM.reg; register forms by ModRM byte.
  for (const hole of ['D9 /1', 'DB /4', 'DB /6', 'DD /5', 'D9 D1-D7', 'D9 E2-E3', 'D9 E6-E7', 'D9 EF', 'DA E0-E8',
    'DA EA-FF', 'DB E5-E7', 'DB F8-FF', 'DD F0-FF', 'DE D8', 'DE DA-DF', 'DF E1-E7', 'DF F8-FF']) {
    const [op, modrm] = hole.split(' ');
    if (modrm.startsWith('/')) { def(`${op} ${modrm}`, 'x87', 'M', 'UD', X87); continue; }
    const [lo, hi] = modrm.split('-').map((x) => parseInt(x, 16));
    for (let m = lo; m <= (hi ?? lo); m++) def(`${op} ${hex(m)}`, 'x87', '', 'UD', X87);
  }

  // ---- E0-EF
  def('E0', 'LOOPNE', 'Jb', B.loop, gen('loopz'), { op: 0, attrs: 'f64', block: BRANCH });
  def('E1', 'LOOPE', 'Jb', B.loop, gen('loopz'), { op: 1, attrs: 'f64', block: BRANCH });
  def('E2', 'LOOP', 'Jb', B.loop, gen('loop'), { op: 2, attrs: 'f64', block: BRANCH });
  def('E3', 'JrCXZ', 'Jb', B.jrcxz, gen('jrcxz'), { attrs: 'f64', block: BRANCH });
  const IN: OracleSpec = { ...IO, gen: 'writesA' };
  def('E4', 'IN', 'AL,Ib', S.inPort, IN, { op: 0 });
  def('E5', 'IN', 'eAX,Ib', S.inPort, IN, { op: 0, attrs: 'z' });
  def('E6', 'OUT', 'Ib,AL', S.outPort, IO, { op: 0, attrs: 'b' });
  def('E7', 'OUT', 'Ib,eAX', S.outPort, IO, { op: 0, attrs: 'z' });
  def('E8', 'CALL', 'Jz', B.callRel, gen('callRel'), { attrs: 'f64', block: BRANCH, emit: emitCallRel });
  def('E9', 'JMP', 'Jz', B.jmpRel, gen('jmpRel'), { attrs: 'f64', block: BRANCH, emit: emitJmpRel });
  def('EA', 'JMPF', 'Ap', B.jmpFarImm, fault(FAR, 'jmpFarImm'), { attrs: 'i64' });
  def('EB', 'JMP', 'Jb', B.jmpRel, gen('jmpRel'), { attrs: 'f64', block: BRANCH, emit: emitJmpRel });
  def('EC', 'IN', 'AL,DX', S.inPort, IN, { op: 1 });
  def('ED', 'IN', 'eAX,DX', S.inPort, IN, { op: 1, attrs: 'z' });
  def('EE', 'OUT', 'DX,AL', S.outPort, IO, { op: 1, attrs: 'b' });
  def('EF', 'OUT', 'DX,eAX', S.outPort, IO, { op: 1, attrs: 'z' });

  // ---- F0-FF
  def('F1', 'INT1', '', S.int1, fault('#DB trap (ICEBP): SIGTRAP after the instruction'));
  def('F4', 'HLT', '', S.hlt, PRIV);
  def('F5', 'CMC', '', D.cmc, RESULT, { block: STRAIGHT });
  def('F6 /0', 'TEST', 'Eb,Ib', aluEI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', emit: emitAluEI });
  def('F6 /1', 'TEST', 'Eb,Ib', aluEI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic' });
  def('F7 /0', 'TEST', 'Ev,Iz', aluEI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic', emit: emitAluEI });
  def('F7 /1', 'TEST', 'Ev,Iz', aluEI, RESULT, { op: AluOp.Test, block: STRAIGHT, undefined: 'logic' });
  for (const [w, ops] of [['Eb', 'F6'], ['Ev', 'F7']] as const) {
    def(`${ops} /2`, 'NOT', w, unaryE, RESULT, { op: Unary.Not, attrs: 'lock', block: STRAIGHT, emit: emitUnary });
    def(`${ops} /3`, 'NEG', w, unaryE, RESULT, { op: Unary.Neg, attrs: 'lock', block: STRAIGHT, emit: emitUnary });
    def(`${ops} /4`, 'MUL', w, mulE, gen('mul'), { op: 0, block: STRAIGHT, undefined: 'mul' });
    def(`${ops} /5`, 'IMUL', w, mulE, gen('mul'), { op: 1, block: STRAIGHT, undefined: 'mul' });
    def(`${ops} /6`, 'DIV', w, divE, gen('div'), { op: 0, block: STRAIGHT, undefined: 'div' });
    def(`${ops} /7`, 'IDIV', w, divE, gen('idiv'), { op: 1, block: STRAIGHT, undefined: 'div' });
  }
  const IF = fault('CPL 3 > IOPL 0: #GP (SIGSEGV)');
  def('F8', 'CLC', '', D.clc, RESULT, { block: STRAIGHT });
  def('F9', 'STC', '', D.stc, RESULT, { block: STRAIGHT });
  def('FA', 'CLI', '', S.cli, IF);
  def('FB', 'STI', '', S.sti, IF);
  def('FC', 'CLD', '', D.cld, gen('cld'), { block: STRAIGHT });
  def('FD', 'STD', '', D.std, gen('std'), { block: STRAIGHT });
  def('FE /0', 'INC', 'Eb', unaryE, RESULT, { op: Unary.Inc, attrs: 'lock', block: STRAIGHT });
  def('FE /1', 'DEC', 'Eb', unaryE, RESULT, { op: Unary.Dec, attrs: 'lock', block: STRAIGHT });
  def('FF /0', 'INC', 'Ev', unaryE, RESULT, { op: Unary.Inc, attrs: 'lock', block: STRAIGHT, emit: emitUnary });
  def('FF /1', 'DEC', 'Ev', unaryE, RESULT, { op: Unary.Dec, attrs: 'lock', block: STRAIGHT, emit: emitUnary });
  def('FF /2', 'CALL', 'Ev', B.callE, gen('callIndirect'), { attrs: 'f64', block: BRANCH });
  def('FF /3', 'CALLF', 'Mp', B.callFarE, fault(FAR, 'callFar'));
  def('FF /4', 'JMP', 'Ev', B.jmpE, gen('jmpIndirect'), { attrs: 'f64', block: BRANCH });
  def('FF /5', 'JMPF', 'Mp', B.jmpFarE, fault(FAR, 'jmpFar'));
  def('FF /6', 'PUSH', 'Ev', D.pushE, gen('push'), { attrs: 'd64', block: STRAIGHT });

  // ---- two-byte map 0F (SDM Vol. 2 Table A-3)
  const TABLES = 'reads the host\'s descriptor tables';
  def('0F 00 /0', 'SLDT', 'Ev', S.storeSelector, hostState('SLDT returns the host LDTR (UMIP is off on the host)'), { op: 0 });
  def('0F 00 /1', 'STR', 'Ev', S.storeSelector, hostState('STR returns the host TR (UMIP is off on the host)'), { op: 1 });
  def('0F 00 /2', 'LLDT', 'Ew', S.lldt, PRIV);
  def('0F 00 /3', 'LTR', 'Ew', S.ltr, PRIV);
  def('0F 00 /4', 'VERR', 'Ew', P.verify, hostState(`VERR ${TABLES}`), { op: 0 });
  def('0F 00 /5', 'VERW', 'Ew', P.verify, hostState(`VERW ${TABLES}`), { op: 1 });
  // LKGS (FRED-era SDM Vol. 2A): CPUID.(EAX=7,ECX=1):EAX.LKGS[18], 64-bit mode only (N.E. in
  // compatibility and legacy modes); the oracle's CPU model does not enumerate it (#UD).
  def('F2 0F 00 /6', 'LKGS', 'Ew', D.lkgs, NOT_ENUMERATED, { feature: 'lkgs', attrs: 'o64' });
  def('0F 01 /0', 'SGDT', 'M', S.storeTable, hostState('SGDT returns the host GDTR (UMIP is off on the host)'), { op: 0 });
  def('0F 01 /1', 'SIDT', 'M', S.storeTable, hostState('SIDT returns the host IDTR (UMIP is off on the host)'), { op: 1 });
  def('0F 01 /2', 'LGDT', 'M', S.loadTable, PRIV, { op: 0 });
  def('0F 01 /3', 'LIDT', 'M', S.loadTable, PRIV, { op: 1 });
  def('0F 01 /4', 'SMSW', 'Ev', S.smsw, hostState('SMSW returns the host CR0 (UMIP is off on the host)'));
  def('0F 01 /6', 'LMSW', 'Ew', S.lmsw, PRIV);
  def('0F 01 /7', 'INVLPG', 'Mb', S.invlpg, PRIV);
  def('66 0F 38 82 /r', 'INVPCID', 'Gy,Mdq', S.invpcid, no('INVPCID at CPL 3: #GP(0) where the host implements it (as in the model), #UD where it does not'), { feature: 'invpcid' });
  // SMAP's STAC/CLAC are #UD at CPL 3 whether or not the host implements SMAP.
  def('NP 0F 01 CA', 'CLAC', '', S.stac, fault('#UD at CPL 3 (SIGILL)'), { op: 0, feature: 'smap' });
  def('NP 0F 01 CB', 'STAC', '', S.stac, fault('#UD at CPL 3 (SIGILL)'), { op: 1, feature: 'smap' });
  def('0F 01 F8', 'SWAPGS', '', SC.swapgs, PRIV, { attrs: 'o64' });
  def('0F 01 F9', 'RDTSCP', '', S.rdtscp, hostState('the host TSC and TSC_AUX'), { feature: 'rdtscp' });
  // The oracle's CPU model (native/idt) does not enumerate FRED: #UD in the model, and on a
  // host without FRED too (F3/F2 0F 01 CA are CLAC-like encodings with a prefix). With FRED:
  // eret.ts (SDM ERETU, ERETS).
  def('F3 0F 01 CA', 'ERETU', '', ER.eretu, NOT_ENUMERATED, { feature: 'fred', attrs: 'o64' });
  def('F2 0F 01 CA', 'ERETS', '', ER.erets, NOT_ENUMERATED, { feature: 'fred', attrs: 'o64' });
  def('0F 02 /r', 'LAR', 'Gv,Ew', P.lar, hostState(`LAR ${TABLES}`), { undefined: 'lar' });
  def('0F 03 /r', 'LSL', 'Gv,Ew', P.lsl, hostState(`LSL ${TABLES} (the CPUNODE segment's limit is the CPU number)`));
  def('0F 05', 'SYSCALL', '', SC.syscall, { compare: 'hostOs', why: 'SYSCALL enters the host kernel' }, { feature: 'syscall' });
  def('0F 06', 'CLTS', '', S.clts, PRIV);
  def('0F 07', 'SYSRET', '', SC.sysret, PRIV, { feature: 'syscall' });
  def('0F 08', 'INVD', '', S.wbinvd, PRIV);
  def('0F 09', 'WBINVD', '', S.wbinvd, PRIV);
  def('0F 0B', 'UD2', '', 'UD', fault('#UD (SIGILL)'));
  def('0F 0D /r', 'NOP', 'Ev', D.nop, gen('prefetchNop'), { block: STRAIGHT });
  for (let k = 0x18; k <= 0x1f; k++) def(`0F ${hex(k)} /r`, 'NOP', 'Ev', D.nop, RESULT, { block: STRAIGHT, emit: EM.emitNop });
  def('F3 0F 1E FA', 'ENDBR64', '', D.nop, RESULT, { block: STRAIGHT });
  def('F3 0F 1E FB', 'ENDBR32', '', D.nop, RESULT, { block: STRAIGHT });
  // REX.R extends the control register number: with /0 it names CR8; CR9-CR15 and
  // DR8-DR15 do not exist (#UD).
  for (const cr of [0, 2, 3, 4]) def(`0F 20 /${cr}`, 'MOV', 'Rd,Cd', S.movFromCr, gen('movCr'), { attrs: cr === 0 ? 'f64' : 'f64 R0' });
  def('0F 21 /r', 'MOV', 'Rd,Dd', S.movFromDr, gen('movCr'), { attrs: 'f64 R0' });
  for (const cr of [0, 2, 3, 4]) def(`0F 22 /${cr}`, 'MOV', 'Cd,Rd', S.movToCr, gen('movCr'), { attrs: cr === 0 ? 'f64' : 'f64 R0' });
  def('0F 23 /r', 'MOV', 'Dd,Rd', S.movToDr, gen('movCr'), { attrs: 'f64 R0' });
  def('0F 30', 'WRMSR', '', S.wrmsr, PRIV, { feature: 'msr' });
  def('0F 31', 'RDTSC', '', S.rdtsc, hostState('the host TSC (the model\'s is virtual)'), { feature: 'tsc' });
  def('0F 32', 'RDMSR', '', S.rdmsr, PRIV, { feature: 'msr' });
  def('0F 33', 'RDPMC', '', S.rdpmc, hostState('whether CPL 3 may read counters is the host kernel\'s CR4.PCE (Linux sets it for a task with a mapped perf event), and the counters are the host\'s'));
  // At CPL 3 in 64-bit mode: SYSENTER enters the kernel on an Intel host; on an AMD host both
  // are #UD (SIGILL), as in the AMD flavour, where SYSEXIT becomes comparable as a fault once the
  // oracle runs the flavour of its host; the oracle's model is Intel (SYSEXIT #GP(0)) for now.
  def('0F 34', 'SYSENTER', '', SE.sysenter, { compare: 'hostOs', why: 'SYSENTER enters the host kernel on Intel (and is #UD in long mode on AMD)' }, { feature: 'sep' });
  def('0F 35', 'SYSEXIT', '', SE.sysexit, no('at CPL 3 in long mode AMD silicon raises #UD (APM), but the oracle\'s AMD hosts are KVM guests: KVM intercepts the #UD and its instruction emulator raises #GP(0) (Linux arch/x86/kvm/emulate.c em_sysexit; observed: SIGSEGV trapno 13), so the host shows neither vendor\'s hardware'), { feature: 'sep' });
  def('0F 40+cc', 'CMOV', 'Gv,Ev', cmovcc, RESULT, { feature: 'cmov', block: STRAIGHT, emit: EM.emitCmov });
  def('0F 80+cc', 'J', 'Jz', B.jcc, gen('jcc'), { attrs: 'f64', block: BRANCH, emit: emitJcc });
  def('0F 90+cc', 'SET', 'Eb', setcc, RESULT, { block: STRAIGHT, emit: EM.emitSetcc });
  const LOADS = (r: string): string => `loads ${r}: the generator puts no FS/GS-relative access after it`;
  def('0F A0', 'PUSH', 'FS', D.pushSeg, gen('pushFsGs'), { op: FS, attrs: 'd64', undefined: 'pushSreg' });
  def('0F A1', 'POP', 'FS', D.popSeg, fault(LOADS('FS'), 'popFsGs'), { op: FS, attrs: 'd64' });
  def('0F A2', 'CPUID', '', S.cpuid, hostState('CPUID describes the host CPU, not the profile'));
  def('0F A3 /r', 'BT', 'Ev,Gv', btEG, gen('btReg'), { op: 0, block: STRAIGHT, undefined: 'bitTest' });
  def('0F A4 /r', 'SHLD', 'Ev,Gv,Ib', shiftDouble, gen('shift'), { op: 0, block: STRAIGHT, undefined: 'doubleShift' });
  def('0F A5 /r', 'SHLD', 'Ev,Gv,CL', shiftDouble, gen('shift'), { op: 1, block: STRAIGHT, undefined: 'doubleShift' });
  def('0F A8', 'PUSH', 'GS', D.pushSeg, gen('pushFsGs'), { op: GS, attrs: 'd64', undefined: 'pushSreg' });
  def('0F A9', 'POP', 'GS', D.popSeg, fault(LOADS('GS'), 'popFsGs'), { op: GS, attrs: 'd64' });
  def('0F AB /r', 'BTS', 'Ev,Gv', btEG, gen('btReg'), { op: 1, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  def('0F AC /r', 'SHRD', 'Ev,Gv,Ib', shiftDouble, gen('shift'), { op: 2, block: STRAIGHT, undefined: 'doubleShift' });
  def('0F AD /r', 'SHRD', 'Ev,Gv,CL', shiftDouble, gen('shift'), { op: 3, block: STRAIGHT, undefined: 'doubleShift' });
  // The fences are NP 0F AE E8/F0/F8; processors ignore ModRM.rm (E8-EF, F0-F7, F8-FF).
  for (let rm = 0; rm < 8; rm++) {
    def(`NP 0F AE ${hex(0xe8 + rm)}`, 'LFENCE', '', D.nop, RESULT, { block: STRAIGHT });
    def(`NP 0F AE ${hex(0xf0 + rm)}`, 'MFENCE', '', D.nop, RESULT, { block: STRAIGHT });
    def(`NP 0F AE ${hex(0xf8 + rm)}`, 'SFENCE', '', D.nop, RESULT, { block: STRAIGHT });
  }
  // RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE: F3 0F AE /0-/3 with mod = 11 (register forms).
  const FSGS = ['RDFSBASE', 'RDGSBASE', 'WRFSBASE', 'WRGSBASE'];
  const FSGS_ORACLE = [
    hostState('RDFSBASE reads the harness thread\'s FS base'), hostState('RDGSBASE reads the harness thread\'s GS base'),
    no('WRFSBASE would replace the harness thread\'s FS base (its TLS)'), no('WRGSBASE would replace the harness thread\'s GS base'),
  ];
  for (let op = 0; op < 4; op++) {
    for (let r = 0; r < 8; r++) def(`F3 0F AE ${hex(0xc0 + op * 8 + r)}`, FSGS[op], 'Ry', D.fsGsBase, FSGS_ORACLE[op], { op, feature: 'fsgsbase', attrs: 'o64' });
  }
  def('0F AF /r', 'IMUL', 'Gv,Ev', imulGE2, gen('mul'), { block: STRAIGHT, undefined: 'mul' });
  def('0F B0 /r', 'CMPXCHG', 'Eb,Gb', D.cmpxchg, gen('cmpxchg'), { attrs: 'lock', block: STRAIGHT });
  def('0F B1 /r', 'CMPXCHG', 'Ev,Gv', D.cmpxchg, gen('cmpxchg'), { attrs: 'lock', block: STRAIGHT });
  def('0F B2 /r', 'LSS', 'Gv,Mp', D.loadFarPointer, gen('lss'), { op: SS });
  def('0F B3 /r', 'BTR', 'Ev,Gv', btEG, gen('btReg'), { op: 2, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  def('0F B4 /r', 'LFS', 'Gv,Mp', D.loadFarPointer, fault(LOADS('FS'), 'lfsLgs'), { op: FS });
  def('0F B5 /r', 'LGS', 'Gv,Mp', D.loadFarPointer, fault(LOADS('GS'), 'lfsLgs'), { op: GS });
  def('0F B6 /r', 'MOVZX', 'Gv,Eb', D.movExtend, RESULT, { op: 1, block: STRAIGHT, emit: EM.emitMovExtend });
  def('0F B7 /r', 'MOVZX', 'Gv,Ew', D.movExtend, RESULT, { op: 2, block: STRAIGHT, emit: EM.emitMovExtend });
  def('F3 0F B8 /r', 'POPCNT', 'Gv,Ev', popcnt, gen('scan'), { feature: 'popcnt', block: STRAIGHT });
  def('0F B9 /r', 'UD1', 'Gv,Ev', 'UD', fault('#UD (SIGILL)'));
  def('0F BA /4', 'BT', 'Ev,Ib', btEI, RESULT, { op: 0, block: STRAIGHT, undefined: 'bitTest' });
  def('0F BA /5', 'BTS', 'Ev,Ib', btEI, RESULT, { op: 1, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  def('0F BA /6', 'BTR', 'Ev,Ib', btEI, RESULT, { op: 2, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  def('0F BA /7', 'BTC', 'Ev,Ib', btEI, RESULT, { op: 3, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  def('0F BB /r', 'BTC', 'Ev,Gv', btEG, gen('btReg'), { op: 3, attrs: 'lock', block: STRAIGHT, undefined: 'bitTest' });
  // BMI1 is not advertised: F3 0F BC executes as BSF, as on CPUs without TZCNT.
  def('0F BC /r', 'BSF', 'Gv,Ev', bitScan, gen('bsf'), { op: 0, block: STRAIGHT, undefined: 'bitScan' });
  def('F3 0F BD /r', 'LZCNT', 'Gv,Ev', lzcnt, gen('scan'), { feature: 'lzcnt', block: STRAIGHT, undefined: 'lzcnt' });
  def('0F BD /r', 'BSR', 'Gv,Ev', bitScan, gen('scan'), { op: 1, block: STRAIGHT, undefined: 'bitScan' });
  def('0F BE /r', 'MOVSX', 'Gv,Eb', D.movExtend, RESULT, { op: -1, block: STRAIGHT, emit: EM.emitMovExtend });
  def('0F BF /r', 'MOVSX', 'Gv,Ew', D.movExtend, RESULT, { op: -2, block: STRAIGHT, emit: EM.emitMovExtend });
  def('0F C0 /r', 'XADD', 'Eb,Gb', D.xadd, gen('xadd'), { attrs: 'lock', block: STRAIGHT });
  def('0F C1 /r', 'XADD', 'Ev,Gv', D.xadd, gen('xadd'), { attrs: 'lock', block: STRAIGHT });
  def('0F C7 /1', 'CMPXCHG8B', 'Mq', D.cmpxchg8b16b, gen('cmpxchg8b'), { feature: 'cx8', attrs: 'lock W0', block: STRAIGHT });
  def('0F C7 /1', 'CMPXCHG16B', 'Mdq', D.cmpxchg8b16b, gen('cmpxchg16b'), { feature: 'cx16', attrs: 'lock W1', block: STRAIGHT });
  // RDPID: F3 0F C7 /7 with mod = 11 (register forms; r64 in 64-bit mode whatever REX.W).
  for (let r = 0; r < 8; r++) def(`F3 0F C7 ${hex(0xf8 + r)}`, 'RDPID', 'Ry', S.rdpid, hostState('RDPID reads the host\'s IA32_TSC_AUX (Linux: the CPU number)'), { feature: 'rdpid', attrs: 'f64' });
  def('0F C8+r', 'BSWAP', 'Zv', bswap, RESULT, { block: STRAIGHT, undefined: 'bswap16' });
  def('0F FF /r', 'UD0', 'Gv,Ev', 'UD', fault('#UD (SIGILL)'));

  // MMX and SSE encodings of the legacy 0F, 0F38 and 0F3A maps (SDM Vol. 2 Tables A-3 to
  // A-5): decoded for length, #NM/#UD by CR0 (ops/system.ts sse). Each line: opcodes, ModRM.reg
  // values if a group, then the mandatory prefixes that define an instruction there (m:
  // memory operand only, r: register only); ib: an imm8 follows. Any other prefix is a
  // hole in the map: #UD.
  const SSE = [
    '0F 10-11: NP 66 F3 F2', '0F 12: NP 66m F3 F2', '0F 13: NPm 66m', '0F 14-15: NP 66', '0F 16: NP 66m F3',
    '0F 17: NPm 66m', '0F 28-29: NP 66', '0F 2A: NP 66 F3 F2', '0F 2B: NPm 66m', '0F 2C-2D: NP 66 F3 F2',
    '0F 2E-2F: NP 66', '0F 50: NPr 66r', '0F 51: NP 66 F3 F2', '0F 52-53: NP F3', '0F 54-57: NP 66',
    '0F 58-5A: NP 66 F3 F2', '0F 5B: NP 66 F3', '0F 5C-5F: NP 66 F3 F2', '0F 60-6B: NP 66', '0F 6C-6D: 66',
    '0F 6E: NP 66', '0F 6F: NP 66 F3', '0F 70: NP 66 F3 F2 ib', '0F 71-72 /2,4,6: NPr 66r ib',
    '0F 73 /2,6: NPr 66r ib', '0F 73 /3,7: 66r ib', '0F 74-76: NP 66', '0F 7C-7D: 66 F2', '0F 7E-7F: NP 66 F3',
    '0F AE /0,1,2,3: NPm', '0F C2: NP 66 F3 F2 ib', '0F C4: NP 66 ib', '0F C5: NPr 66r ib',
    '0F C6: NP 66 ib', '0F D0: 66 F2', '0F D1-D5: NP 66', '0F D6: 66 F3r F2r', '0F D7: NPr 66r', '0F D8-E5: NP 66',
    '0F E6: 66 F3 F2', '0F E7: NPm 66m', '0F E8-EF: NP 66', '0F F0: F2m', '0F F1-F6: NP 66', '0F F7: NPr 66r',
    '0F F8-FE: NP 66',
    '0F 38 00-0B: NP 66', '0F 38 10: 66', '0F 38 14-15: 66', '0F 38 17: 66', '0F 38 1C-1E: NP 66',
    '0F 38 20-25: 66', '0F 38 28-29: 66', '0F 38 2A: 66m', '0F 38 2B: 66', '0F 38 30-35: 66', '0F 38 37-41: 66',
    '0F 38 C8-CD: NP', '0F 38 CF: 66', '0F 38 DB-DF: 66',
    '0F 3A 08-0E: 66 ib', '0F 3A 0F: NP 66 ib', '0F 3A 14-17: 66 ib', '0F 3A 20-22: 66 ib', '0F 3A 40-42: 66 ib',
    '0F 3A 44: 66 ib', '0F 3A 60-63: 66 ib', '0F 3A CC: NP ib', '0F 3A CE-CF: 66 ib', '0F 3A DF: 66 ib',
  ];
  const MMX_SSE = hostFeature('MMX/SSE');
  for (const line of SSE) {
    const [where, forms] = line.split(': ');
    const w = where.split(' ');
    const ext = w[w.length - 1].startsWith('/') ? w.pop()!.slice(1).split(',') : [''];
    const [lo, hi] = w.pop()!.split('-').map((x) => parseInt(x, 16));
    const tokens = forms.split(' ');
    let imm = '';
    if (tokens[tokens.length - 1] === 'ib') { tokens.pop(); imm = ',Ib'; }
    for (let k = lo; k <= (hi ?? lo); k++) {
      for (const form of tokens) {
        const operands = form.endsWith('m') ? 'Vx,Mx' : form.endsWith('r') ? 'Vx,Ux' : 'Vx,Wx';
        for (const r of ext) def(`${form.replace(/[mr]$/, '')} ${w.join(' ')} ${hex(k)} ${r === '' ? '/r' : `/${r}`}`, 'SSE', operands + imm, S.sse, MMX_SSE);
      }
    }
  }
  def('NP 0F 77', 'EMMS', '', S.x87, hostFeature('MMX'), { op: 0 });

  // CPUID under a hypervisor may hide a feature the silicon still executes: the oracle
  // compares none of these on any host.
  const SSE4A = hostFeature('SSE4A (on AMD hosts)'), KL = hostFeature('Key Locker (on some hosts)');
  const CET = hostFeature('CET shadow stacks (on some hosts)'), ENQ = hostFeature('ENQCMD (on some hosts)');
  // Instructions of features this CPU model does not advertise, outside the x87/SSE class
  // (SDM Vol. 2 Tables A-2 to A-5; the AMD-only ones per the Intel flavour, where they are
  // undefined): decoded for their length, #UD whatever CR0 says.
  def('0F 0F /r', '3DNow!', 'Pq,Qq,Ib', 'UD', hostFeature('3DNow! (on some AMD hosts)')); // AMD 3DNow!: the imm8 is the opcode
  def('C6 F8', 'XABORT', 'Ib', 'UD', hostFeature('RTM (on some hosts)')); // RTM
  def('C7 F8', 'XBEGIN', 'Jz', 'UD', hostFeature('RTM (on some hosts)'));
  def('NP 0F 78 /r', 'VMREAD', 'Ey,Gy', 'UD', VMX); // VMX
  def('NP 0F 79 /r', 'VMWRITE', 'Gy,Ey', 'UD', VMX);
  def('66 0F 78 /0', 'EXTRQ', 'Ux,Ib,Ib', 'UD', SSE4A); // AMD SSE4A
  def('F2 0F 78 /r', 'INSERTQ', 'Vx,Ux,Ib,Ib', 'UD', SSE4A);
  def('66 0F 79 /r', 'EXTRQ', 'Vx,Ux', 'UD', SSE4A);
  def('F2 0F 79 /r', 'INSERTQ', 'Vx,Ux', 'UD', SSE4A);
  def('F3 0F 2B /r', 'MOVNTSS', 'Md,Vx', 'UD', SSE4A);
  def('F2 0F 2B /r', 'MOVNTSD', 'Mq,Vx', 'UD', SSE4A);
  def('NP 0F C3 /r', 'MOVNTI', 'My,Gy', 'UD', hostFeature('SSE2')); // SSE2, general registers: #UD, never #NM
  def('66 0F 38 80 /r', 'INVEPT', 'Gy,Mdq', 'UD', VMX); // VMX
  def('66 0F 38 81 /r', 'INVVPID', 'Gy,Mdq', 'UD', VMX);
  def('F3 0F 38 D8 /r', 'AESENCWIDE', 'M', 'UD', KL); // Key Locker
  for (let k = 0xdc; k <= 0xdf; k++) def(`F3 0F 38 ${hex(k)} /r`, 'AESKL', 'Vdq,M', 'UD', KL);
  def('F3 0F 38 FA /r', 'ENCODEKEY128', 'Gd,Ud', 'UD', KL);
  def('F3 0F 38 FB /r', 'ENCODEKEY256', 'Gd,Ud', 'UD', KL);
  def('F2 0F 38 F0 /r', 'CRC32', 'Gy,Eb', 'UD', hostFeature('SSE4.2 CRC32')); // SSE4.2 CRC32: general registers
  def('F2 0F 38 F1 /r', 'CRC32', 'Gy,Ev', 'UD', hostFeature('SSE4.2 CRC32'));
  def('0F 38 F0 /r', 'MOVBE', 'Gv,Mv', 'UD', hostFeature('MOVBE'));
  def('0F 38 F1 /r', 'MOVBE', 'Mv,Gv', 'UD', hostFeature('MOVBE'));
  def('66 0F 38 F5 /r', 'WRUSS', 'My,Gy', 'UD', CET); // CET shadow stacks
  def('NP 0F 38 F6 /r', 'WRSS', 'My,Gy', 'UD', CET);
  def('66 0F 38 F6 /r', 'ADCX', 'Gy,Ey', 'UD', hostFeature('ADX')); // ADX
  def('F3 0F 38 F6 /r', 'ADOX', 'Gy,Ey', 'UD', hostFeature('ADX'));
  def('66 0F 38 F8 /r', 'MOVDIR64B', 'Gv,M', 'UD', hostFeature('MOVDIR64B'));
  def('F2 0F 38 F8 /r', 'ENQCMD', 'Gv,M', 'UD', ENQ);
  def('F3 0F 38 F8 /r', 'ENQCMDS', 'Gv,M', 'UD', ENQ);
  def('NP 0F 38 F9 /r', 'MOVDIRI', 'My,Gy', 'UD', hostFeature('MOVDIRI'));
  def('0F 38 FC /r', 'RAO-INT', 'My,Gy', 'UD', hostFeature('RAO-INT (on some hosts)')); // AADD, AAND, AOR, AXOR
  def('F3 0F 3A F0 C0', 'HRESET', 'Ib', 'UD', hostFeature('HRESET (on some hosts)'));
  return t;
}

// ---------------------------------------------------------------- derived decode tables

export interface DecodedEntry {
  index: number;
  def: OpcodeDef;
  /** Opcode map: 0 one-byte, 1 0F, 2 0F38, 3 0F3A; and the opcode byte (with its +r/+cc variant). */
  map: number;
  opcode: number;
  exec: Exec;
  op: number;
  modrm: boolean;
  /** -1 any; 0 none (NP); 0x66, 0xF3, 0xF2. */
  prefix: number;
  ext: number;
  /** 0 any, 1 memory only, 2 register only. */
  mod: number;
  modrmByte: number;
  rexW: number;
  /** REX.R must be 0. */
  rexR0: boolean;
  only64: boolean;
  not64: boolean;
  size64: 'd64' | 'f64' | '';
  byteOp: boolean;
  regForm: boolean;
  opReg: boolean;
  /** 1: ModRM.reg / opcode register is a byte register; 2: ModRM.rm is. */
  byteRegs: number;
  /** The row's emitter for compiled blocks (OpcodeDef.emit), or null. */
  emit: Emitter | null;
  /** Bytes the memory operand covers, for segment-limit checks: > 0 fixed, or a
   *  MemSize code resolved against the operand size at decode. */
  memSize: number;
  imms: string[];
  lockable: boolean;
  feature: string | null;
  /** The row's specialisations (OpcodeDef.specialise), flattened for the decoder. */
  specR32: Exec | null;
  specR64: Exec | null;
  specM64: Exec | null;
}

/** Memory-operand sizes that depend on the operand size (DecodedEntry.memSize). */
export const enum MemSize { OperandSize = 0, DwordOrQword = -1, FarPointer = -2, BoundPair = -3, Table = -4 }

/** SDM Appendix A operand-size letters of an E or M operand. */
function memSizeOf(letters: string): number {
  switch (letters) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    case 'q': return 8;
    case 'dq': return 16;
    case 'y': return MemSize.DwordOrQword;
    case 'p': return MemSize.FarPointer;
    case 'a': return MemSize.BoundPair;
    case '': return MemSize.Table; // bare M: descriptor-table registers (LGDT...) and LEA
    default: return MemSize.OperandSize;
  }
}

export const DEFS: readonly OpcodeDef[] = build();
export const ENTRIES: DecodedEntry[] = [];
const maps: (DecodedEntry[] | undefined)[][] = [[], [], [], []];

function notModelled(name: string): Exec {
  return (cpu) => cpu.modelError(`instruction ${name} is not modelled yet`);
}

function parseOperands(d: OpcodeDef, e: DecodedEntry): void {
  const ops = d.operands === '' ? [] : d.operands.split(',');
  ops.forEach((o, k) => {
    // Addressing methods are one capital and size letters (Eb, Gv, M, Jz); anything
    // else (AL, rAX, DX, CL, 1, FS) names a fixed operand and needs no encoding.
    const method = /^[A-Z][a-z]*$/.test(o) ? o[0] : '';
    const isByte = o.length === 2 && o[1] === 'b';
    if ('EGMRSCDVW'.includes(method) && method !== '') e.modrm = true;
    if (method === 'M') e.mod = 1;
    if (method === 'R') e.regForm = true;
    if (method === 'U' || method === 'N') e.mod = 2; // an XMM/MMX register in ModRM.rm: mod = 11b only
    if (method === 'E' && isByte) e.byteRegs |= 2;
    if (method === 'E' || method === 'M') e.memSize = memSizeOf(o.slice(1));
    if ((method === 'G' || method === 'Z') && isByte) e.byteRegs |= 1;
    if (method === 'Z') e.opReg = true;
    if (method === 'I') e.imms.push(o === 'Ib' ? 'b' : o === 'Iw' ? 'w' : o === 'Iz' ? 'z' : o === 'Iv' ? 'v' : 'd');
    if (method === 'J') e.imms.push(o === 'Jb' ? 'b' : 'J');
    if (method === 'O') e.imms.push('O');
    if (method === 'A') e.imms.push('p');
    if (k === 0 && (o === 'AL' || (isByte && 'EGZOXY'.includes(method) && method !== ''))) e.byteOp = true;
  });
}

for (const d of DEFS) {
  const tokens = d.code.split(' ');
  let prefix = -1;
  if (['NP', '66', 'F3', 'F2'].includes(tokens[0])) {
    const p = tokens.shift()!;
    prefix = p === 'NP' ? 0 : parseInt(p, 16);
  }
  let map = 0;
  if (tokens[0] === '0F') {
    tokens.shift();
    map = 1;
    const escape: string = tokens[0];
    if (escape === '38' && tokens.length > 1) { map = 2; tokens.shift(); }
    else if (escape === '3A' && tokens.length > 1) { map = 3; tokens.shift(); }
  }
  const opToken = tokens.shift()!;
  const plus = opToken.indexOf('+');
  const opcode = parseInt(plus >= 0 ? opToken.slice(0, plus) : opToken, 16);
  const variants = plus < 0 ? 1 : opToken.endsWith('+cc') ? 16 : 8;
  const attrs = (d.attrs ?? '').split(' ').filter((a) => a !== '');
  let ext = -1, modrmByte = -1, modrm = false;
  for (const tok of tokens) {
    if (tok === '/r') modrm = true;
    else if (tok.startsWith('/')) { modrm = true; ext = parseInt(tok.slice(1), 10); }
    else { modrm = true; modrmByte = parseInt(tok, 16); }
  }
  for (let v = 0; v < variants; v++) {
    const index = ENTRIES.length;
    const e: DecodedEntry = {
      index, def: d, map, opcode: opcode + v,
      exec: d.exec === 'UD' ? S.undefinedInstruction : d.exec === 'unmodelled' ? notModelled(d.mnemonic) : d.exec,
      op: opToken.endsWith('+cc') ? v : d.op ?? 0,
      modrm, prefix, ext, mod: 0, modrmByte,
      rexW: attrs.includes('W0') ? 0 : attrs.includes('W1') ? 1 : -1,
      rexR0: attrs.includes('R0'),
      only64: attrs.includes('o64'), not64: attrs.includes('i64'),
      size64: attrs.includes('d64') ? 'd64' : attrs.includes('f64') ? 'f64' : '',
      byteOp: attrs.includes('b'), regForm: false, opReg: false, byteRegs: 0, memSize: MemSize.OperandSize, imms: [],
      lockable: attrs.includes('lock'), feature: d.feature ?? null,
      emit: d.emit ?? null,
      specR32: d.specialise?.r32 ?? null, specR64: d.specialise?.r64 ?? null, specM64: d.specialise?.m64 ?? null,
    };
    parseOperands(d, e);
    if (modrmByte >= 0) e.mod = 2;
    const byte = opcode + v;
    (maps[map][byte] ??= []).push(e);
    ENTRIES.push(e);
  }
}

// Most specific candidates first: exact ModRM, then prefix/ext/mod/REX.W constraints.
for (const m of maps) {
  for (const list of m) {
    if (list === undefined) continue;
    const score = (e: DecodedEntry): number =>
      (e.modrmByte >= 0 ? 16 : 0) + (e.prefix >= 0 ? 8 : 0) + (e.ext >= 0 ? 4 : 0) + (e.mod !== 0 ? 2 : 0) + (e.rexW >= 0 ? 1 : 0);
    list.sort((a, b) => score(b) - score(a) || a.index - b.index);
    // Entries that share an opcode must agree on whether it has a ModRM byte.
    if (list.some((e) => e.modrm !== list[0].modrm)) {
      throw new Error(`opcode table: ${list[0].def.code} mixes ModRM and non-ModRM forms`);
    }
  }
}

export function lookup(map: number, opcode: number): DecodedEntry[] | undefined {
  return maps[map][opcode];
}

/** Mnemonic of a decoded instruction's entry, for traces and messages. */
export function mnemonicOf(entry: number): string {
  const e = ENTRIES[entry];
  const d = e.def;
  if (d.code.includes('+cc')) return d.mnemonic + CC[e.op];
  return d.mnemonic;
}
