// The command line's run and matrix: bundled guests by name, short wall-clock limits,
// the matrix's names and exit status (README, "ringside matrix").
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPvhImage, lines, RINGSIDE, ringside, type Spawned } from './helpers/pvh-image.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-cli-run-'));

const imm32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const exitWith = (v: number): number[] => [0xb8, ...imm32(v), 0xe7, 0xf4, 0xfa, 0xf4]; // mov $v,%eax; out %eax,$0xf4; cli; hlt
const SPIN = [0xeb, 0xfe]; // jmp .

function image(name: string, code: number[], where = dir): string {
  const path = join(where, name);
  writeFileSync(path, buildPvhImage({ code }));
  return path;
}

/** bin/ringside run from another directory. */
function ringsideIn(cwd: string, args: string[], nodeArgs: string[] = []): Spawned {
  const r = spawnSync(process.execPath, [...nodeArgs, RINGSIDE, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bundled guests by name', () => {
  it('`run exceptions` builds and runs guests/exceptions: console on stdout, one verdict line on stderr', () => {
    const r = ringside(['run', 'exceptions']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Ringside guest: exceptions\n/);
    assert.match(r.stdout, /Test result: SUCCESS\n$/);
    const l = lines(r.stderr);
    assert.equal(l.length, 1, r.stderr);
    assert.match(l[0], /^ringside: success: Test result: SUCCESS \(\d+ instructions\)$/);
  });
  it('`run guests/exceptions` from any directory, and the folder path itself', () => {
    const r = ringsideIn(dir, ['run', 'guests/exceptions', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout) as { verdict: string; console: string };
    assert.equal(o.verdict, 'success');
    assert.match(o.console, /^Ringside guest: exceptions\n/);
    const root = join(RINGSIDE, '..', '..');
    assert.equal(ringsideIn(dir, ['run', join(root, 'guests', 'exceptions') + '/']).status, 0);
  });
  it('an existing file of that name wins over the guest', () => {
    const cwd = join(dir, 'shadow');
    mkdirSync(cwd);
    image('exceptions', exitWith(38), cwd);
    const r = ringsideIn(cwd, ['run', 'exceptions']);
    assert.equal(r.status, 3, r.stderr); // the file's skip, not the guest's success
    assert.equal(r.stdout, '');
  });
  it('matrix names rows by guest name and by file base name, not by the cached image', () => {
    const ok = image('ok.elf', exitWith(0));
    const r = ringside(['matrix', 'exceptions', ok, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout) as { rows: Array<{ name: string; image: string }> };
    assert.deepEqual(o.rows.map((row) => row.name), ['exceptions', 'ok.elf']);
    const t = ringside(['matrix', 'exceptions', ok]);
    assert.equal(t.status, 0);
    // One column per runnable profile (native/idt, native/idt-amd, native/fred), then the observations word.
    assert.match(t.stdout, /^exceptions\s+success\s+success\s+success\s+same$/m);
    assert.match(t.stdout, /^ok\.elf\s+success\s+success\s+success\s+same$/m);
    assert.doesNotMatch(t.stdout, /[0-9a-f]{64}/);
  });
});

describe('short wall-clock limits are honoured', () => {
  const spin = image('spin.elf', SPIN);
  for (const t of ['0.001', '0.05', '1e-3']) {
    it(`--timeout ${t} ends a spinning guest promptly as a timeout`, () => {
      const started = Date.now();
      const r = ringside(['run', spin, '--timeout', t, '--json']);
      assert.equal(r.status, 7, r.stderr);
      const o = JSON.parse(r.stdout) as { verdict: string; reason: string; instructions: number };
      assert.match(o.reason, new RegExp(`^wall-clock limit of ${Number(t)} s reached$`));
      // The clock is read after a small first slice, not after 2^20 instructions.
      if (t !== '0.05') assert.ok(o.instructions < 1 << 20, `${o.instructions} instructions`);
      assert.ok(Date.now() - started < 20_000);
    });
  }
  it('--timeout 0.0001 is a limit, not "none"', () => {
    const r = ringside(['run', spin, '--timeout', '0.0001', '--max-insns', '3e8']);
    assert.equal(r.status, 7);
    assert.match(r.stderr, /^ringside: timeout: wall-clock limit of 0\.0001 s reached \(\d+ instructions\)\n$/);
  });
});

describe('the verdict line', () => {
  it('says "1 instruction"', () => {
    const r = ringside(['run', image('hlt.elf', [0xf4])]);
    assert.equal(r.status, 6);
    assert.equal(r.stderr, 'ringside: crash: halted without a result (1 instruction)\n');
  });
});

describe('matrix exit status', () => {
  const mdir = (name: string, images: Record<string, number[]>): string => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const [file, code] of Object.entries(images)) image(file, code, d);
    return d;
  };
  it('0 when every run succeeds or skips', () => {
    const r = ringside(['matrix', mdir('m-pass', { 'a.elf': exitWith(0), 'b.elf': exitWith(38) })]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /6 of 6 as expected/); // 2 images on the 3 runnable profiles
  });
  it('5 when a verdict is not what the image expects', () => {
    const r = ringside(['matrix', mdir('m-fail', { 'a.elf': exitWith(0), 'b.elf': exitWith(3) })]);
    assert.equal(r.status, 5, r.stdout);
    assert.match(r.stdout, /^b\.elf on native\/idt: failure: exit value 3/m);
  });
  it('2 when an image is rejected (bad input)', () => {
    const d = mdir('m-bad', { 'a.elf': exitWith(3) });
    writeFileSync(join(d, 'b.elf'), buildPvhImage({ note: 'none' }));
    const r = ringside(['matrix', d, '--json']);
    assert.equal(r.status, 2, r.stdout);
    const o = JSON.parse(r.stdout) as { rows: Array<{ cells: Array<{ verdict: string }> }> };
    assert.deepEqual(o.rows.map((row) => row.cells[0].verdict), ['failure', 'bad-input']);
  });
  it('1 on an internal error', () => {
    const hook = join(dir, 'boom.mjs');
    const machineUrl = new URL('../src/machine/machine.js', import.meta.url).href;
    writeFileSync(hook, `import { Machine } from ${JSON.stringify(machineUrl)};\nMachine.prototype.runAsync = async function () { throw new TypeError('boom'); };\n`);
    const r = ringsideIn(dir, ['matrix', image('m-int.elf', exitWith(0))], ['--import', hook]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /m-int\.elf on native\/idt: internal: TypeError: boom/);
  });
  it('2 on bad usage', () => {
    const r = ringside(['matrix', 'no-such-guest']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ringside: no-such-guest: no such image file or bundled guest/);
  });
});
