// The opcode table is the only place an opcode is spelled (DESIGN.md, How we write
// code): every entry must carry semantics or an explicit #UD, and the entries whose
// instruction is valid but not modelled yet are a written, shrinking list.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFS, ENTRIES } from '../src/cpu/opcodes.js';
import { featureSet } from '../src/cpu/cpuid.js';

/** Valid instructions that raise a model error until the issue named here implements them. */
const NOT_YET_MODELLED: Record<string, string> = {
  SYSCALL: 'legacy transitions', SYSRET: 'legacy transitions', SYSENTER: 'legacy transitions',
  SYSEXIT: 'legacy transitions', SWAPGS: 'legacy transitions',
  ERETU: 'FRED', ERETS: 'FRED', LKGS: 'FRED',
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
