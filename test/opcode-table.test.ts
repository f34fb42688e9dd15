// The opcode table is the only place an opcode is spelled (docs/architecture.md, "The
// opcode table"): every entry must carry semantics or an explicit #UD, and the entries whose
// instruction is valid but not modelled yet are a written, shrinking list.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFS, ENTRIES, type BlockRole, type DecodedEntry } from '../src/cpu/opcodes.js';
import { featureSet } from '../src/cpu/cpuid.js';
import { Insn, type Exec } from '../src/cpu/insn.js';
import { blockRole } from '../src/cpu/blocks.js';
import { specialize, specialisedSemantics } from '../src/cpu/specialize.js';
import { UNDEFINED, UNDEFINED_RULES } from '../src/cpu/undefined.js';
import { RULES } from '../src/lab/oracle/undefined-spec.js';
import { classify } from '../src/lab/oracle/comparable.js';
import { RECIPES, recipeOf } from '../src/lab/oracle/recipes.js';

/** Valid instructions that raise a model error until the issue named here implements them. */
const NOT_YET_MODELLED: Record<string, string> = {
};

test('every opcode-table entry has semantics, an explicit #UD, or is on the not-yet-modelled list', () => {
  const unlisted: string[] = [];
  for (const d of DEFS) {
    if (typeof d.exec === 'function' || d.exec === 'UD') continue;
    if (d.exec === 'unmodelled' && d.mnemonic in NOT_YET_MODELLED) continue;
    unlisted.push(`${d.code} ${d.mnemonic}`);
  }
  assert.deepEqual(unlisted, []);
  const stale = Object.keys(NOT_YET_MODELLED).filter((m) => !DEFS.some((d) => d.mnemonic === m && d.exec === 'unmodelled'));
  assert.deepEqual(stale, [], 'entries on the not-yet-modelled list that are modelled now');
  console.log(`${DEFS.length} table rows, ${ENTRIES.length} decoder entries, ` +
    `${DEFS.filter((d) => d.exec === 'unmodelled').length} rows not modelled yet`);
});

test('every entry has a mnemonic, and operands written as SDM operand codes', () => {
  for (const d of DEFS) {
    assert.ok(d.mnemonic.length > 0, d.code);
    for (const o of d.operands === '' ? [] : d.operands.split(',')) {
      assert.match(o, /^([A-Z][a-z]*|[A-Z][A-Z]|[er]AX|AL|CL|DX|1)$/, `${d.code} ${d.mnemonic}: operand ${o}`);
    }
  }
});

test('feature gates name features the CPUID model can advertise', () => {
  const known = new Set([...featureSet({ vendor: 'intel', fred: true })]);
  for (const d of DEFS) if (d.feature !== undefined) assert.ok(known.has(d.feature), `${d.code} ${d.mnemonic}: ${d.feature}`);
});

test('no two entries claim the same encoding', () => {
  const seen = new Map<string, string>();
  for (const e of ENTRIES) {
    const d = e.def;
    const key = [d.code.replace(/\+(r|cc)$/, ''), e.op, e.prefix, e.ext, e.mod, e.modrmByte, e.rexW, e.only64, e.not64].join('|');
    const where = `${d.code} ${d.mnemonic}`;
    assert.ok(!seen.has(key) || seen.get(key) === where, `${where} duplicates ${seen.get(key)}`);
    seen.set(key, where);
  }
});

// ---- Per-instruction facts live in the rows: these fail if a row loses one.

const STRAIGHT_ROWS = 266, BRANCH_ROWS = 13;

test('blocks: a row\'s semantics are block material exactly when the row is marked, and rows sharing semantics agree', () => {
  const roleOf = new Map<Exec, BlockRole | undefined>();
  for (const d of DEFS) {
    if (typeof d.exec !== 'function') { assert.equal(d.block, undefined, `${d.code} ${d.mnemonic}: no semantics, no block role`); continue; }
    // Blocks test semantics, not rows: an unmarked row sharing a marked row's function would slip in.
    if (roleOf.has(d.exec)) assert.equal(d.block, roleOf.get(d.exec), `${d.code} ${d.mnemonic}: same semantics, another block role`);
    roleOf.set(d.exec, d.block);
  }
  for (const e of ENTRIES) {
    assert.equal(blockRole(e.exec), e.def.block ?? null, `${e.def.code} ${e.def.mnemonic}`);
    for (const s of [e.specR32, e.specR64, e.specM64]) if (s !== null) assert.equal(blockRole(s), e.def.block ?? null, `${e.def.code}: specialised form`);
  }
  // Written down, so that a row losing its mark fails here even when no other row shares its
  // semantics: the instructions (and the number of rows) blocks may hold. Change with the table.
  const names = (role: BlockRole): string => [...new Set(DEFS.filter((d) => d.block === role).map((d) => d.mnemonic))].sort().join(' ');
  assert.equal(names('straight'), 'AAA AAD AAM AAS ADC ADD AND ARPL BSF BSR BSWAP BT BTC BTR BTS CBW CLC CLD CMC CMOV CMP ' +
    'CMPXCHG CMPXCHG16B CMPXCHG8B CWD DAA DAS DEC DIV ENDBR32 ENDBR64 ENTER IDIV IMUL INC LAHF LEA LEAVE LFENCE LZCNT MFENCE ' +
    'MOV MOVSX MOVSXD MOVZX MUL NEG NOP NOT OR PAUSE POP POPCNT PUSH PUSHF RCL RCR ROL ROR SAHF SAL SALC SAR SBB SET SFENCE ' +
    'SHL SHLD SHR SHRD STC STD SUB TEST XADD XCHG XLAT XOR');
  assert.equal(names('branch'), 'CALL J JMP JrCXZ LOOP LOOPE LOOPNE RET');
  assert.deepEqual([DEFS.filter((d) => d.block === 'straight').length, DEFS.filter((d) => d.block === 'branch').length], [STRAIGHT_ROWS, BRANCH_ROWS]);
  // What a row may not be: the decoder's #UD and model-error stand-ins, and far, system or REP work.
  for (const d of DEFS) if (typeof d.exec !== 'function') assert.equal(blockRole(ENTRIES.find((e) => e.def === d)!.exec), null, d.code);
  for (const m of ['HLT', 'IRET', 'RETF', 'MOVS', 'INT', 'CLI', 'POPF', 'CALLF', 'JMPF', 'WRMSR', 'LGDT']) {
    for (const d of DEFS.filter((x) => x.mnemonic === m)) assert.equal(d.block, undefined, `${d.code} ${m} must not be in a block`);
  }
});

test('specialisations: the decoder picks each row\'s named forms and nothing else', () => {
  const named = specialisedSemantics();
  for (const e of ENTRIES) {
    if (typeof e.def.exec !== 'function') continue;
    const s = e.def.specialise ?? {};
    for (const [osz, mem, want] of [[4, false, s.r32], [8, false, s.r64], [8, true, s.m64], [4, true, undefined], [2, false, undefined]] as const) {
      const i = new Insn(e.exec);
      i.entry = e.index; i.osz = osz; i.mem = mem;
      assert.equal(specialize(i), want ?? e.exec, `${e.def.code} ${e.def.mnemonic} osz ${osz}${mem ? ' memory' : ''}`);
    }
    for (const f of Object.values(s)) assert.ok(named.has(f as Exec));
  }
  assert.ok(named.size >= 5, 'the ALU and MOV specialisations are named by their rows');
});

test('undefined values: every rule a row names exists, in the model and in the oracle, and every rule is used', () => {
  const used = new Set<string>();
  for (const d of DEFS) {
    if (d.undefined === undefined) continue;
    used.add(d.undefined);
    assert.ok(d.undefined in UNDEFINED_RULES, `${d.code} ${d.mnemonic}: model rule ${d.undefined}`);
    assert.ok(d.undefined in RULES, `${d.code} ${d.mnemonic}: oracle rule ${d.undefined}`);
  }
  assert.deepEqual(Object.keys(UNDEFINED_RULES).filter((r) => !used.has(r)), [], 'rules no row names');
  const values = new Set(Object.values(UNDEFINED_RULES).flat() as string[]);
  for (const [vendor, f] of Object.entries(UNDEFINED)) {
    assert.deepEqual(Object.keys(f.values).filter((k) => !values.has(k)), [], `undefined.ts ${vendor} values no rule names`);
  }
  // The instructions whose flags the SDM leaves partly undefined carry a rule.
  for (const m of ['AND', 'OR', 'XOR', 'TEST', 'MUL', 'IMUL', 'DIV', 'IDIV', 'SHL', 'SAR', 'ROL', 'SHLD', 'BT', 'BSF', 'BSR', 'LZCNT', 'BSWAP']) {
    for (const d of DEFS.filter((x) => x.mnemonic === m)) assert.notEqual(d.undefined, undefined, `${d.code} ${m}`);
  }
});

test('hardware oracle: every row says how it is compared, with words where needed, and names only known recipes', () => {
  const recipes = new Set<string>();
  for (const d of DEFS) {
    const c = classify(d);
    assert.ok(c !== undefined, `${d.code} ${d.mnemonic}: oracle class ${d.oracle.compare} needs a why`);
    if (d.oracle.gen !== undefined) {
      assert.ok(d.oracle.gen in RECIPES, `${d.code} ${d.mnemonic}: recipe ${d.oracle.gen}`);
      assert.notEqual(d.oracle.compare, 'no', `${d.code}: a recipe on a row the oracle never generates`);
      recipes.add(d.oracle.gen);
    }
  }
  assert.deepEqual(Object.keys(RECIPES).filter((g) => !recipes.has(g)), [], 'recipes no row names');
  // The generator reaches an instruction only through its row: its stack, string and branch
  // handling follow the row's recipe.
  const byMnemonic = (m: string): DecodedEntry[] => ENTRIES.filter((e) => e.def.mnemonic === m);
  for (const e of [...byMnemonic('PUSH'), ...byMnemonic('POP'), ...byMnemonic('RET'), ...byMnemonic('CALL')]) assert.ok(recipeOf(e).stack, e.def.code);
  for (const e of [...byMnemonic('MOVS'), ...byMnemonic('STOSB'), ...byMnemonic('SCAS')]) assert.ok(recipeOf(e).string !== undefined, e.def.code);
  for (const e of [...byMnemonic('J'), ...byMnemonic('LOOP'), ...byMnemonic('JrCXZ')]) assert.ok(recipeOf(e).rel && recipeOf(e).transfer, e.def.code);
});
