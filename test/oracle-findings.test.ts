// A failing hardware-oracle run must not modify the repository: its minimised findings go
// to a scratch file outside the tracked tree, and only `npm run oracle --
// --keep-regressions FILE` (a person's decision) adds them to test/oracle/regressions.json.
// Here a disagreement is injected (the hardware's RAX made to differ from the model's) and
// recorded as the test and `npm run oracle` record findings; no harness or gcc is needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from '../src/guest/build.js';
import { decode } from '../src/cpu/decoder.js';
import { OracleModel } from '../src/lab/oracle/model.js';
import { makeImages, IMAGE_SEED } from '../src/lab/oracle/generator.js';
import { compareOutcomes, modelRanges } from '../src/lab/oracle/compare.js';
import { EndKind, caseRegs, SCRATCH_ADDR, type Case, type HostOutcome } from '../src/lab/oracle/layout.js';
import type { Hello } from '../src/lab/oracle/harness.js';
import type { Minimised } from '../src/lab/oracle/minimise.js';
import {
  recordFindings, keepRegressions, findingsPath, trackedRegressionsPath, loadRegressions,
} from '../src/lab/oracle/regressions.js';

const hello = {
  signature: 'test-cpu', vendor: 'AuthenticAMD', fsBase: 0x7f0000001000n, gsBase: 0n,
  sel: [0, 0x33, 0x2b, 0, 0, 0], stub: Uint8Array.of(0x0f, 0x0b), gdt: [],
} as unknown as Hello;

/** ADD RAX, RBX on the model, and a "hardware" outcome whose RAX is off by one. */
function injectedDisagreement(): Minimised {
  const images = makeImages(IMAGE_SEED);
  const model = new OracleModel({ fsBase: hello.fsBase, gsBase: hello.gsBase, sel: hello.sel, stub: hello.stub }, images);
  const regs = caseRegs();
  regs[0] = 5; regs[6] = 7; regs[8] = SCRATCH_ADDR + 0x3000; regs[32] = 0x202;
  const c: Case = { regs, image: 0, patches: [], code: Uint8Array.of(0x48, 0x01, 0xd8), flags: 0, insns: [] };
  model.load(c);
  const entry = decode(model.cpu, model.cpu.rip).entry;
  const m = model.run(c);
  const hostRegs = m.regs.slice();
  hostRegs[0] = (hostRegs[0] + 1) >>> 0;
  const host: HostOutcome = {
    kind: EndKind.End, signo: 0, siCode: 0, siAddr: 0n, rip: 0n, trapno: 0, err: 0, regs: hostRegs, sel: m.sel.slice(), ranges: [],
  };
  const diffs = compareOutcomes(images[0], host, m, modelRanges(images[0], model.scratch()), { calibrated: false });
  assert.ok(diffs.length > 0, 'the injected difference is a disagreement');
  return { original: { c, host, model: m, diffs }, c, host, model: m, diffs, single: true, entries: [entry] };
}

test('a recorded finding goes to a scratch file; the tracked regressions are untouched', () => {
  const tracked = trackedRegressionsPath();
  const before = readFileSync(tracked);
  const mtime = statSync(tracked).mtimeMs;
  const dir = mkdtempSync(join(tmpdir(), 'ringside-findings-'));
  try {
    const scratch = join(dir, 'new-regressions.json');
    const f = recordFindings([injectedDisagreement()], hello, { scratch });
    assert.equal(f.path, scratch);
    assert.equal(f.added.length, 1);
    assert.ok(existsSync(scratch), 'the scratch file exists');
    assert.equal(loadRegressions(scratch).cases.length, 1);
    assert.ok(readFileSync(tracked).equals(before), 'tracked regressions.json bytes unchanged');
    assert.equal(statSync(tracked).mtimeMs, mtime, 'tracked regressions.json not rewritten');
    // The message names the file and exactly how to keep it.
    assert.match(f.message, new RegExp(scratch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.ok(f.message.includes(`npm run oracle -- --keep-regressions ${scratch}`), f.message);

    // Keeping is the explicit step: into a copy of the tracked file here.
    const copy = join(dir, 'regressions.json');
    copyFileSync(tracked, copy);
    const kept = keepRegressions(scratch, copy);
    assert.equal(kept.length, 1);
    assert.equal(loadRegressions(copy).cases.length, loadRegressions(tracked).cases.length + 1);
    // Recording the same finding again adds nothing once it is kept.
    assert.equal(recordFindings([injectedDisagreement()], hello, { scratch: join(dir, 'again.json'), tracked: copy }).added.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the default findings file is git-ignored scratch, outside the tracked tree', () => {
  const root = repoRoot();
  const rel = relative(root, findingsPath());
  assert.ok(!rel.startsWith('..') && rel.startsWith('.cache'), rel);
  let ignored = true;
  try {
    execFileSync('git', ['check-ignore', '-q', rel], { cwd: root });
  } catch (e) {
    // 1: not ignored; anything else (no git, not a checkout): the .gitignore line decides.
    if ((e as { status?: number }).status === 1) ignored = false;
    else ignored = readFileSync(join(root, '.gitignore'), 'utf8').split('\n').includes('.cache/');
  }
  assert.ok(ignored, `${rel} must be git-ignored`);
});
