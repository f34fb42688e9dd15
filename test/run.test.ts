// `ringside run` end to end on hand-made PVH images: console on stdout and
// nothing else, one verdict line on stderr, the exit status of each verdict,
// and the --json object.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runImage } from '../src/lab/run.js';
import { buildPvhImage, lines, ringside } from './helpers/pvh-image.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-run-'));
let count = 0;

/** 32-bit code: print text on port 0xE9. */
function print(text: string): number[] {
  return [...Buffer.from(text, 'latin1')].flatMap((c) => [0xb0, c, 0xe6, 0xe9]); // mov $c,%al; out %al,$0xe9
}
/** mov $v,%eax; out %eax,$0xf4 */
function exit32(v: number): number[] {
  return [0xb8, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24, 0xe7, 0xf4];
}
const CLI_HLT = [0xfa, 0xf4];
const SPIN = [0xeb, 0xfe]; // jmp .
const INT3 = [0xcc]; // no IDT yet: #GP, #DF, triple fault

function image(code: number[]): string {
  const path = join(dir, `g${count++}.elf`);
  writeFileSync(path, buildPvhImage({ code: [...code, ...CLI_HLT] }));
  return path;
}

function run(code: number[], extra: string[] = []) {
  const r = ringside(['run', image(code), '--profile', 'native/idt', '--max-insns', '100000', ...extra]);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  return { ...r, line: err[0] };
}

describe('ringside run: verdicts and exit status', () => {
  it('console on stdout, verdict on stderr; exit value 0 is success (0)', () => {
    const r = run([...print('hello\n'), ...exit32(0)]);
    assert.equal(r.stdout, 'hello\n');
    assert.match(r.line, /^ringside: success: exit value 0 without a result line \(\d+ instructions\)$/);
    assert.equal(r.status, 0);
  });
  it('the last result line decides: SKIP (3)', () => {
    const r = run([...print('Test result: FAILURE\nTest result: SKIP\n'), ...exit32(0)]);
    assert.equal(r.status, 3);
    assert.match(r.line, /skip: Test result: SKIP/);
  });
  it('ERROR (4)', () => assert.equal(run([...print('Test result: ERROR\n'), ...exit32(0)]).status, 4));
  it('FAILURE then exit 0 is a failure (5)', () => assert.equal(run([...print('Test result: FAILURE\n'), ...exit32(0)]).status, 5));
  it('SUCCESS then a halt is a success (0)', () => assert.equal(run(print('Test result: SUCCESS\n')).status, 0));
  it('exit value 38 is skip (3), 5 is failure (5)', () => {
    assert.equal(run(exit32(38)).status, 3);
    assert.equal(run(exit32(5)).status, 5);
  });
  it('a 1-byte write to the exit port counts', () => {
    const r = run([0xb0, 0x03, 0xe6, 0xf4]); // mov $3,%al; out %al,$0xf4
    assert.equal(r.status, 5);
    assert.match(r.line, /exit value 3/);
  });
  it('halted without a result is a crash (6)', () => {
    const r = run([]);
    assert.equal(r.status, 6);
    assert.match(r.line, /crash: halted without a result/);
  });
  it('a triple fault is a crash (6), even after a result line', () => {
    assert.equal(run(INT3).status, 6);
    const r = run([...print('Test result: SUCCESS\n'), ...INT3]);
    assert.equal(r.status, 6);
    assert.match(r.line, /triple fault.* after 'Test result: SUCCESS'/);
  });
  it('a spent instruction budget is a timeout (7)', () => {
    const r = run(SPIN);
    assert.equal(r.status, 7);
    assert.match(r.line, /timeout: instruction budget/);
  });
  it('a wall-clock timeout is a timeout (7)', () => {
    const r = run(SPIN, ['--max-insns', '1e15', '--timeout', '0.2']);
    assert.equal(r.status, 7);
    assert.match(r.line, /timeout: wall-clock/);
  });
});

describe('ringside run --json', () => {
  it('prints one object with the documented keys, registers as hex strings', () => {
    const r = run([...print('Test result: SUCCESS\n'), ...exit32(0)], ['--json']);
    assert.equal(r.status, 0);
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ['verdict', 'reason', 'exitValue', 'instructions', 'transitions', 'console', 'registers', 'profile', 'image']);
    assert.equal(o.verdict, 'success');
    assert.equal(o.reason, 'Test result: SUCCESS');
    assert.equal(o.exitValue, 0);
    assert.equal(typeof o.instructions, 'number');
    assert.equal(o.transitions, 0);
    assert.equal(o.console, 'Test result: SUCCESS\n');
    assert.equal(o.profile, 'native/idt');
    const regs = o.registers as Record<string, unknown>;
    for (const k of ['rax', 'rbx', 'rsp', 'r15', 'rip', 'rflags', 'cs', 'cr0', 'cr3', 'cr4', 'efer']) assert.ok(k in regs, k);
    for (const [k, v] of Object.entries(regs)) assert.match(String(v), /^0x[0-9a-f]+$/, k);
    assert.equal(BigInt(regs.rbx as string), 0x6000n, '%ebx kept the start info address');
  });
  it('exitValue is null when the run did not end at the exit port', () => {
    const o = JSON.parse(run([], ['--json']).stdout) as { exitValue: unknown; verdict: string };
    assert.equal(o.exitValue, null);
    assert.equal(o.verdict, 'crash');
  });
});

describe('runImage', () => {
  it('is deterministic and streams the console', () => {
    const path = image([...print('abc\n'), ...exit32(0)]);
    const seen: number[] = [];
    const a = runImage(path, { profile: 'native/idt', onConsole: (b) => seen.push(...b) });
    const b = runImage(path, { profile: 'native/idt' });
    assert.equal(Buffer.from(seen).toString(), 'abc\n');
    assert.equal(a.console, 'abc\n');
    assert.equal(a.instructions, b.instructions);
    assert.deepEqual(a.registers, b.registers);
    assert.equal(a.image, path);
  });
  it('runs in a small RAM (2 MiB)', () => {
    const path = image(exit32(0));
    assert.equal(runImage(path, { profile: 'native/idt', memoryMiB: 2 }).verdict, 'success');
  });
});
