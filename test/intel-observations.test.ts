// The Intel flavour against a real Intel core (issue 14, point 2): every line of
// test/oracle/intel-observations/cases.txt — 2,838 integer instruction cases from an
// Emerald Rapids core in 64-bit user mode — runs on the model under the intel flavour, and every
// output register and flag must match, the ones the SDM leaves undefined included (their rules
// are src/cpu/undefined.ts's intel flavour). Each form of forms.txt is assembled with GNU as
// and run at CPL 3 by the hardware oracle's model runner (src/lab/oracle/model.ts).
//
// Registers the form writes without reading (RDX of MUL, ...) start as the observed output with
// the bits the instruction writes inverted, so the observed value checks both the bits it writes
// and the ones it must leave; every other register must come out as it went in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { repoRoot } from '../src/guest/build.js';
import { OracleModel } from '../src/lab/oracle/model.js';
import { EndKind, GPR_NAMES, SCRATCH_SIZE, caseRegs, type Case } from '../src/lab/oracle/layout.js';
import { USER_CS, USER_DS } from '../src/lab/oracle/model.js';

const DIR = resolve(repoRoot(), 'test', 'oracle', 'intel-observations');
const STATUS = 0x8d5;
const FLAG_NAMES: [number, string][] = [[0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x800, 'OF']];

interface Form { name: string; bits: number; text: string }

/** forms.txt: `name | group | operand bits | AT&T instruction`. */
function readForms(): Form[] {
  return readFileSync(join(DIR, 'forms.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, k) => {
    const f = l.split(' | ');
    assert.equal(f.length, 4, `forms.txt line ${k + 1} is not 'name | group | bits | instruction': ${l}`);
    return { name: f[0], bits: Number(f[2]), text: f[3] };
  });
}

/** Every form's machine code, assembled in one go (labels between them give the lengths). */
function assemble(forms: Form[]): Map<string, Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'ringside-intel-obs-'));
  try {
    const src = '.text\n' + forms.map((f, k) => `f${k}: ${f.text}\n`).join('') + 'fend:\n';
    writeFileSync(join(dir, 'f.s'), src);
    execFileSync('as', ['--64', '-o', join(dir, 'f.o'), join(dir, 'f.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'f.o'), join(dir, 'f.bin')]);
    const bin = readFileSync(join(dir, 'f.bin'));
    const at = new Map<string, number>();
    for (const line of execFileSync('nm', [join(dir, 'f.o')], { encoding: 'utf8' }).trim().split('\n')) {
      const [addr, , name] = line.split(' ');
      at.set(name, parseInt(addr, 16));
    }
    const out = new Map<string, Uint8Array>();
    forms.forEach((f, k) => {
      const end = at.get(k + 1 < forms.length ? `f${k + 1}` : 'fend')!;
      out.set(f.name, new Uint8Array(bin.subarray(at.get(`f${k}`)!, end)));
    });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const REG_INDEX: Record<string, number> = Object.fromEntries(GPR_NAMES.map((n, k) => [n, k]));

function regList(s: string, line: string): Map<string, bigint> {
  const m = new Map<string, bigint>();
  if (s === '-') return m;
  for (const p of s.split(',')) {
    const [k, v] = p.split(':');
    assert.ok(k === 'fl' || k in REG_INDEX, `unknown register '${k}' in: ${line}`);
    m.set(k, BigInt('0x' + v));
  }
  return m;
}

function setReg(regs: number[], r: number, v: bigint): void {
  regs[2 * r] = Number(v & 0xffffffffn) | 0;
  regs[2 * r + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
}

function getReg(regs: number[], r: number): bigint {
  return (BigInt(regs[2 * r + 1] >>> 0) << 32n) | BigInt(regs[2 * r] >>> 0);
}

function flagNames(f: number): string {
  return FLAG_NAMES.filter(([b]) => (f & b) !== 0).map(([, n]) => n).join(' ') || '-';
}

test('the intel flavour computes what an Emerald Rapids core computed, undefined flags and results included', () => {
  assert.ok(existsSync(join(DIR, 'cases.txt')), `the Intel observations are missing: ${DIR} — this test needs them`);
  const forms = readForms();
  const code = assemble(forms);
  const byName = new Map(forms.map((f) => [f.name, f]));
  const model = new OracleModel({ fsBase: 0n, gsBase: 0n, sel: [USER_DS, USER_CS, USER_DS, USER_DS, 0, 0], stub: new Uint8Array(0) },
    [new Uint8Array(SCRATCH_SIZE)], 'intel');
  const lines = readFileSync(join(DIR, 'cases.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const failures: string[] = [];
  const formsSeen = new Set<string>();
  for (const line of lines) {
    const m = /^(case\.\d+) (\S+) in=(\S+) out=(\S+) fl=([0-9a-f]{3})$/.exec(line);
    assert.ok(m !== null, `cases.txt line not understood: ${line}`);
    const [, , formName, ins, outs, fl] = m;
    const form = byName.get(formName);
    assert.ok(form !== undefined, `${line}: form ${formName} is not in forms.txt`);
    formsSeen.add(formName);
    const input = regList(ins, line), output = regList(outs, line);
    const regs = caseRegs();
    // Registers the case does not name hold distinct values that must survive.
    for (let r = 0; r < 16; r++) setReg(regs, r, 0x0123456789abcdefn ^ (BigInt(r) * 0x1111111111111111n));
    for (const [k, v] of input) if (k !== 'fl') setReg(regs, REG_INDEX[k], v);
    for (const [k, v] of output) {
      if (input.has(k)) continue;
      const written = form.bits >= 32 ? 0xffffffffffffffffn : (1n << BigInt(form.bits)) - 1n;
      setReg(regs, REG_INDEX[k], v ^ written);
    }
    regs[32] = Number(input.get('fl') ?? 0n);
    const want = regs.slice();
    for (const [k, v] of output) setReg(want, REG_INDEX[k], v);
    const c: Case = { regs, image: 0, patches: [], code: code.get(formName)!, flags: 0, insns: [] };
    model.load(c);
    const got = model.run(c);
    if (got.kind !== EndKind.End) {
      failures.push(`${line}\n    the model ${got.kind === EndKind.ModelError ? `lacks it: ${got.message}` : `ended with ${got.kind === EndKind.Fault ? `exception ${got.vector}` : got.message}`}`);
      continue;
    }
    const diffs: string[] = [];
    for (let r = 0; r < 16; r++) {
      const g = getReg(got.regs, r), w = getReg(want, r);
      if (g !== w) diffs.push(`${GPR_NAMES[r]} ${g.toString(16)} (want ${w.toString(16)})`);
    }
    const gf = got.regs[32] & STATUS, wf = parseInt(fl, 16);
    if (gf !== wf) diffs.push(`flags ${flagNames(gf)} (want ${flagNames(wf)}; differ: ${flagNames(gf ^ wf)})`);
    if (diffs.length > 0) failures.push(`${line}\n    ${diffs.join(', ')}`);
  }
  assert.deepEqual(forms.filter((f) => !formsSeen.has(f.name)).map((f) => f.name), [], 'forms with no case');
  assert.equal(failures.length, 0, `${failures.length} of ${lines.length} cases differ from the Intel core:\n  ${failures.slice(0, 25).join('\n  ')}`);
});
