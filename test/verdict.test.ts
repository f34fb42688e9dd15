import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEnd, RunEndKind } from '../src/machine/machine.js';
import { EXIT_CODES, exitCodeFor, judge, lastResultLine, parseResultLine, VERDICTS } from '../src/lab/verdict.js';

const end = (kind: RunEndKind, exitValue: number | null = null, message = ''): RunEnd => ({ kind, exitValue, message });
const exitPort = (v: number): RunEnd => end('exit-port', v, `exit port 0xf4 written with ${v}`);

describe('result lines', () => {
  it('recognises the four XTF results', () => {
    assert.equal(parseResultLine('Test result: SUCCESS')?.verdict, 'success');
    assert.equal(parseResultLine('Test result: SKIP')?.verdict, 'skip');
    assert.equal(parseResultLine('Test result: FAILURE')?.verdict, 'failure');
    assert.equal(parseResultLine('Test result: ERROR')?.verdict, 'error');
  });
  it('SUCCESS with warnings is a success', () => {
    assert.equal(parseResultLine('Test result: SUCCESS with warnings')?.verdict, 'success');
  });
  it('accepts text after the word', () => {
    assert.equal(parseResultLine('Test result: SKIP: no FRED on this CPU')?.verdict, 'skip');
    assert.equal(parseResultLine('Test result: FAILURE (3 checks)')?.verdict, 'failure');
  });
  it('a line that does not start with the prefix is not a result', () => {
    assert.equal(parseResultLine('  Test result: SUCCESS'), null);
    assert.equal(parseResultLine('expected Test result: SUCCESS'), null);
    assert.equal(parseResultLine('Test result:SUCCESS'), null);
    assert.equal(parseResultLine('test result: SUCCESS'), null);
  });
  it('an unknown word is a malformed result: error', () => {
    assert.equal(parseResultLine('Test result: MAYBE')?.verdict, 'error');
    assert.equal(parseResultLine('Test result: SUCCESSFUL')?.verdict, 'error');
    assert.equal(parseResultLine('Test result: ')?.verdict, 'error');
  });
  it('the last result line decides', () => {
    assert.equal(lastResultLine('Test result: FAILURE\nTest result: SUCCESS\n')?.verdict, 'success');
    assert.equal(lastResultLine('Test result: SUCCESS\nmore\nTest result: FAILURE\ntrailing text\n')?.verdict, 'failure');
  });
  it('handles CRLF and an unterminated last line', () => {
    assert.equal(lastResultLine('hello\r\nTest result: SKIP\r\n')?.line, 'Test result: SKIP');
    assert.equal(lastResultLine('hello\nTest result: ERROR')?.verdict, 'error');
  });
  it('no result line', () => {
    assert.equal(lastResultLine(''), null);
    assert.equal(lastResultLine('booting\nTest resul'), null);
  });
});

describe('judge: a result line decides', () => {
  const cases: Array<[string, string]> = [
    ['Test result: SUCCESS', 'success'],
    ['Test result: SUCCESS with warnings', 'success'],
    ['Test result: SKIP', 'skip'],
    ['Test result: FAILURE', 'failure'],
    ['Test result: ERROR', 'error'],
  ];
  for (const [line, verdict] of cases) {
    it(`'${line}' then an exit-port write`, () => {
      const j = judge(exitPort(0), `boot\n${line}\n`);
      assert.equal(j.verdict, verdict);
      assert.equal(j.reason, line);
    });
    it(`'${line}' then a halt`, () => {
      assert.equal(judge(end('halted'), `${line}\n`).verdict, verdict);
    });
  }
  it('the line beats a contradicting exit value', () => {
    assert.equal(judge(exitPort(1), 'Test result: SUCCESS\n').verdict, 'success');
    assert.equal(judge(exitPort(0), 'Test result: FAILURE\n').verdict, 'failure');
    assert.equal(judge(exitPort(38), 'Test result: ERROR\n').verdict, 'error');
  });
  it('a malformed result line is an error naming it', () => {
    const j = judge(exitPort(0), 'Test result: BOGUS\n');
    assert.equal(j.verdict, 'error');
    assert.match(j.reason, /malformed result line 'Test result: BOGUS'/);
  });
  it('a triple fault after the line is a crash', () => {
    const j = judge(end('triple-fault', null, '#GP during #DF delivery'), 'Test result: SUCCESS\n');
    assert.equal(j.verdict, 'crash');
    assert.match(j.reason, /^triple fault: #GP during #DF delivery after 'Test result: SUCCESS'$/);
    assert.match(j.reason, /#GP during #DF/);
  });
  it('a spent budget after the line is still a timeout', () => {
    assert.equal(judge(end('insn-budget', null, '1000 instructions'), 'Test result: SUCCESS\n').verdict, 'timeout');
    assert.equal(judge(end('wall-timeout'), 'Test result: SKIP\n').verdict, 'timeout');
  });
  it('a model error after the line is a model error', () => {
    const j = judge(end('model-error', null, 'WRMSR 0x1234 not modelled'), 'Test result: SUCCESS\n');
    assert.equal(j.verdict, 'model-error');
    assert.equal(j.reason, 'WRMSR 0x1234 not modelled');
  });
});

describe('judge: without a result line the ending decides', () => {
  it('exit value 0 is success', () => {
    const j = judge(exitPort(0), 'hello\n');
    assert.equal(j.verdict, 'success');
    assert.match(j.reason, /exit value 0/);
  });
  it('exit value 38 is skip: QEMU exits with (38 << 1) | 1 = 77, kvm-unit-tests\' skip status', () => {
    const j = judge(exitPort(38), '');
    assert.equal(j.verdict, 'skip');
    assert.match(j.reason, /exit value 38/);
  });
  it('any other exit value is failure', () => {
    for (const v of [1, 2, 37, 39, 77, 255, 0xffffffff]) {
      const j = judge(exitPort(v), '');
      assert.equal(j.verdict, 'failure', `exit value ${v}`);
      assert.match(j.reason, new RegExp(`exit value ${v}`));
    }
  });
  it('a halt is a crash: halted without a result', () => {
    assert.deepEqual(judge(end('halted'), 'partial output'), { verdict: 'crash', reason: 'halted without a result' });
  });
  it('a triple fault is a crash', () => {
    const j = judge(end('triple-fault', null, 'shutdown'), '');
    assert.equal(j.verdict, 'crash');
    assert.match(j.reason, /^triple fault/);
  });
  it('a spent instruction budget is a timeout', () => {
    assert.equal(judge(end('insn-budget'), '').verdict, 'timeout');
  });
  it('a wall-clock timeout is a timeout', () => {
    assert.equal(judge(end('wall-timeout'), '').verdict, 'timeout');
  });
  it('a model error is a model error with its message', () => {
    assert.deepEqual(judge(end('model-error', null, 'opcode 0F 0B at ...'), ''), { verdict: 'model-error', reason: 'opcode 0F 0B at ...' });
  });
  it('text that merely mentions a result is not a result line', () => {
    assert.equal(judge(end('halted'), 'will print Test result: SUCCESS later\n').verdict, 'crash');
  });
});

describe('exit codes', () => {
  it('follow the README table', () => {
    assert.deepEqual(
      { ...EXIT_CODES },
      { success: 0, saved: 0, internal: 1, skip: 3, error: 4, failure: 5, crash: 6, timeout: 7, 'model-error': 8, interrupted: 130 },
    );
  });
  it('an interrupted run exits 130 for SIGINT, 143 for SIGTERM', () => {
    assert.equal(exitCodeFor('interrupted', 'SIGINT'), 130);
    assert.equal(exitCodeFor('interrupted', 'SIGTERM'), 143);
    assert.equal(exitCodeFor('success', 'SIGTERM'), 0);
  });
  it('an interrupted run is interrupted, with or without a result line', () => {
    const stopped = end('interrupted', null, 'interrupted by SIGINT');
    assert.deepEqual(judge(stopped, ''), { verdict: 'interrupted', reason: 'interrupted by SIGINT' });
    assert.deepEqual(judge(stopped, 'Test result: SUCCESS\n'), { verdict: 'interrupted', reason: "interrupted by SIGINT after 'Test result: SUCCESS'" });
  });
  it('every verdict has one, and none uses 2 (bad input)', () => {
    for (const v of VERDICTS) assert.notEqual(exitCodeFor(v), 2, v);
  });
});

describe('reasons', () => {
  it('use the machine message without repeating the kind', () => {
    assert.equal(judge(end('triple-fault', null, 'triple fault at rip 0x1000'), '').reason, 'triple fault at rip 0x1000');
    assert.equal(judge(end('triple-fault', null, '#DF while delivering #GP'), '').reason, 'triple fault: #DF while delivering #GP');
    assert.equal(judge(end('insn-budget', null, 'instruction budget of 5 spent'), '').reason, 'instruction budget of 5 spent');
    assert.equal(judge(end('insn-budget', null, ''), '').reason, 'instruction budget spent');
    assert.equal(judge(end('wall-timeout', null, 'wall-clock limit of 1 s reached'), '').reason, 'wall-clock limit of 1 s reached');
    assert.equal(judge(end('wall-timeout', null, ''), 'Test result: SUCCESS').reason, "wall-clock timeout after 'Test result: SUCCESS'");
  });
});
