// The command line's usage errors: exit 2, exactly one line on stderr, no stack trace.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPvhImage, lines, ringside } from './helpers/pvh-image.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-cli-'));
const good = join(dir, 'good.elf');
writeFileSync(good, buildPvhImage());

function usageError(args: string[], pattern?: RegExp): void {
  const r = ringside(args);
  assert.equal(r.status, 2, `exit status for ${args.join(' ')}; stderr: ${r.stderr}`);
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `one line on stderr for ${args.join(' ')}: ${JSON.stringify(r.stderr)}`);
  assert.match(l[0], /^ringside: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout, '', 'nothing on stdout');
  if (pattern) assert.match(l[0], pattern);
}

describe('ringside usage errors', () => {
  it('no command', () => usageError([], /missing command/));
  it('unknown command', () => usageError(['frobnicate'], /unknown command 'frobnicate'/));
  it('unknown option', () => usageError(['run', good, '--profile', 'native/idt', '--bogus'], /unknown option --bogus/));
  it('option without its value', () => usageError(['run', good, '--profile'], /--profile needs a value/));
  it('run without an image', () => usageError(['run', '--profile', 'native/idt'], /needs an IMAGE/));
  it('run with two images', () => usageError(['run', good, good, '--profile', 'native/idt'], /one IMAGE/));
  it('run without a profile runs under native/idt (README, Command line)', () => {
    const r = ringside(['run', good, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { profile: string }).profile, 'native/idt');
  });
  it('unknown profile lists the known ones', () => usageError(['run', good, '--profile', 'native/bogus'], /unknown profile 'native\/bogus' \(known: native\/idt, native\/idt-amd, native\/fred, xen\/idt, xen\/idt-amd, xen\/fred, xen-nocompat\/fred, xen-3\.1\.1\/idt, xen-3\.0\.4\/idt\)/));
  it('a profile not implemented yet', () => usageError(['run', good, '--profile', 'pvm/fred'], /not implemented yet/));
  it('bad --max-insns', () => {
    usageError(['run', good, '--profile', 'native/idt', '--max-insns', 'lots'], /--max-insns/);
    usageError(['run', good, '--profile', 'native/idt', '--max-insns', '0'], /--max-insns/);
  });
  it('bad --timeout', () => usageError(['run', good, '--profile', 'native/idt', '--timeout', 'soon'], /--timeout/));
  it('a zero or negative --timeout is refused (0 is not "no limit")', () => {
    usageError(['run', good, '--timeout', '0'], /--timeout: the timeout must be a positive number of seconds \(got '0'\)/);
    usageError(['run', good, '--timeout', '0.0'], /--timeout: the timeout must be a positive number/);
  });
  it('bad --memory', () => {
    usageError(['run', good, '--profile', 'native/idt', '--memory', '0'], /--memory/);
    usageError(['run', good, '--profile', 'native/idt', '--memory', '1.5'], /--memory/);
    usageError(['run', good, '--profile', 'native/idt', '--memory', '99999'], /--memory/);
  });
  it('missing images and directories say how to see the bundled guests', () => {
    usageError(['run', join(dir, 'nope.elf'), '--profile', 'native/idt'], /nope\.elf: no such image file or bundled guest \(to see the bundled guests: ls \S*guests\/\)$/);
    usageError(['run', 'no-such-guest'], /no-such-guest: no such image file or bundled guest \(to see the bundled guests: ls /);
    usageError(['run', dir, '--profile', 'native/idt'], /is a directory, not an image file or a bundled guest \(to see the bundled guests: ls /);
  });
  it('profiles takes no arguments', () => usageError(['profiles', 'x'], /no arguments/));
  it('--version takes no arguments', () => usageError(['--version', 'extra'], /--version takes no arguments \(got 'extra'\)/));
  it('matrix with an unknown profile or a missing path', () => {
    usageError(['matrix', good, '--profiles', 'native/idt,nope'], /unknown profile 'nope'/);
    usageError(['matrix', join(dir, 'missing')], /missing: no such image file or bundled guest/);
  });
});

describe('option values that start with -', () => {
  // node:util parseArgs alone reads `--max-insns -5` as two options ("takes no value").
  it('--max-insns -5: the budget must be a positive integer', () =>
    usageError(['run', good, '--max-insns', '-5'], /--max-insns: the instruction budget must be a positive integer.*'-5'/));
  it('--max-insns 0 and lots: the same message', () => {
    usageError(['run', good, '--max-insns', '0'], /--max-insns: the instruction budget must be a positive integer.*'0'/);
    usageError(['run', good, '--max-insns', 'lots'], /--max-insns: the instruction budget must be a positive integer.*'lots'/);
  });
  it('--timeout -1: the timeout must be a positive number', () =>
    usageError(['run', good, '--timeout', '-1'], /--timeout: the timeout must be a positive number of seconds \(got '-1'\)/));
  it('--memory -5', () => usageError(['run', good, '--memory', '-5'], /--memory.*'-5'/));
  it('--profile --json: no profile of that name, and the known ones', () =>
    usageError(['run', good, '--profile', '--json'], /unknown profile '--json' \(known: native\/idt, native\/idt-amd, native\/fred, xen\/idt, xen\/idt-amd, xen\/fred, xen-nocompat\/fred, xen-3\.1\.1\/idt, xen-3\.0\.4\/idt\)/));
  it('a FRED profile has no AMD flavour', () => usageError(['run', good, '--profile', 'native/fred-amd'], /no AMD flavour of FRED .*use native\/fred/));
  it('matrix --profiles -x', () => usageError(['matrix', good, '--profiles', '-x'], /unknown profile '-x'/));
  it('a boolean option is still not given a value', () => usageError(['run', good, '--json=1'], /--json takes no value/));
});

describe('not implemented yet', () => {
  const runArgs = ['run', good, '--profile', 'native/idt'];
  const options: string[][] = [
    ['--save-on-suspend', 'x.sav'],
    ['--save-at', '100', 'x.sav'],
    ['--migrate-on-suspend', 'native/fred'],
    ['--migrate-at', '100', '--to', 'native/fred'],
  ];
  for (const o of options) it(o[0], () => usageError([...runArgs, ...o], new RegExp(`${o[0]} is not implemented yet`)));
  // Without its value (last on the line, or before another option) it says the same.
  for (const o of options) {
    it(`${o[0]} without a value`, () => {
      usageError([...runArgs, o[0]], new RegExp(`^ringside: ${o[0]} is not implemented yet$`));
      usageError(['run', good, o[0], '--json'], new RegExp(`^ringside: ${o[0]} is not implemented yet$`));
    });
  }
  it('--save-at=N', () => usageError([...runArgs, '--save-at=1'], /^ringside: --save-at is not implemented yet$/));
  for (const c of ['restore']) it(c, () => usageError([c, 'x'], new RegExp(`'${c}' is not implemented yet`)));
  it('matrix --html', () => {
    usageError(['matrix', good, '--html', 'out'], /--html is not implemented yet/);
    usageError(['matrix', good, '--html'], /^ringside: --html is not implemented yet$/);
  });
});

describe('ringside profiles and help', () => {
  it('profiles lists the runnable profiles, one a line: name then what it is', () => {
    const r = ringside(['profiles']);
    assert.equal(r.status, 0);
    const l = lines(r.stdout);
    assert.deepEqual(l.map((x) => x.split(/\s+/)[0]), ['native/idt', 'native/idt-amd', 'native/fred', 'xen/idt', 'xen/idt-amd', 'xen/fred', 'xen-nocompat/fred', 'xen-3.1.1/idt', 'xen-3.0.4/idt']);
    assert.match(l[1], /AMD/);
    assert.match(l[3], /Xen .*PV/);
    assert.match(l[4], /AMD/);
    assert.match(l[5], /fred=1.*c5a4b9125b/);
    assert.match(l[6], /without c5a4b9125b/);
    for (const line of l) assert.match(line, /^\S+\s{2,}\S/);
    assert.equal(r.stderr, '');
  });
  it('--help prints usage on stdout and exits 0', () => {
    const r = ringside(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /ringside run IMAGE \[--profile P\]/);
    assert.match(r.stdout, /default native\/idt/);
    assert.match(r.stdout, /bundled guest/);
    assert.match(r.stdout, /130 \/ 143 interrupted/);
    assert.match(r.stdout, /Exit 0 when every run did what was expected, 5 when one did not, 2 on bad input/);
  });
});

describe('a bug in Ringside', () => {
  // A preloaded module makes the machine throw an ordinary exception.
  const hook = join(dir, 'boom.mjs');
  const machineUrl = new URL('../src/machine/machine.js', import.meta.url).href;
  writeFileSync(
    hook,
    `import { Machine } from ${JSON.stringify(machineUrl)};\n` +
      `Machine.prototype.run = function () { throw new TypeError('boom'); };\n` +
      `Machine.prototype.runAsync = async function () { throw new TypeError('boom'); };\n`,
  );
  const args = ['run', good, '--profile', 'native/idt'];

  it('is verdict internal, exit 1, one line asking for a report, no stack trace', () => {
    const r = ringside(args, {}, ['--import', hook]);
    assert.equal(r.status, 1);
    const l = lines(r.stderr);
    assert.equal(l.length, 1, r.stderr);
    assert.match(l[0], /^ringside: internal: TypeError: boom .*bug in Ringside.*report/);
  });
  it('--json still prints one object', () => {
    const r = ringside([...args, '--json'], {}, ['--import', hook]);
    assert.equal(r.status, 1);
    assert.equal((JSON.parse(r.stdout) as { verdict: string }).verdict, 'internal');
  });
  it('RINGSIDE_DEBUG=1 adds the stack trace', () => {
    const r = ringside(args, { RINGSIDE_DEBUG: '1' }, ['--import', hook]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\n\s+at /);
  });
});
