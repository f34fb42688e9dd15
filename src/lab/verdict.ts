// The verdict of a run and the exit status it maps to (README, "ringside run": the rules and the table).
//
// Rules, in order:
//  1. A console line beginning with `Test result: ` is a result line; the LAST
//     one decides: SUCCESS (including "SUCCESS with warnings") -> success,
//     SKIP -> skip, FAILURE -> failure, ERROR -> error. Any other word after
//     `Test result: ` is a malformed report and makes the run an error.
//  2. With a result line, how the run ended matters only when it is worse than
//     "it stopped": a triple fault after the line is a crash; a spent budget is
//     still a timeout (the guest reported but never ended) and a model error is
//     still a model error (the model could not follow the guest to its end).
//     A halt or an exit-port write simply ends the run and the line decides.
//  3. Without a result line the ending decides: exit-port V is judged as QEMU's
//     exit status (V << 1) | 1 is by kvm-unit-tests' runner: success for V = 0,
//     skip for V = 38 (status 77), failure otherwise; a halt is a crash ("halted without a
//     result"); a triple fault is a crash; a spent instruction budget or
//     wall-clock timeout is a timeout; a model error is a model error.
//     A PV domain's end counts likewise: a domain crash or
//     SHUTDOWN_crash is a crash, SHUTDOWN_suspend an error ("suspended"), any other
//     shutdown reason an error ("no result"); after a result line a domain crash is a
//     crash and a shutdown simply ends the run.
//  4. A run stopped by SIGINT or SIGTERM is interrupted, with or without a result line:
//     the guest did not get to its end.

import type { RunEnd } from '../machine/machine.js';

export type Verdict = 'success' | 'skip' | 'error' | 'failure' | 'crash' | 'timeout' | 'model-error' | 'internal' | 'saved' | 'interrupted';

export const VERDICTS: readonly Verdict[] = ['success', 'skip', 'error', 'failure', 'crash', 'timeout', 'model-error', 'internal', 'saved', 'interrupted'];

/** Exit status of `run`/`restore` for each verdict. Bad input (no verdict) is 2. */
export const EXIT_CODES: Readonly<Record<Verdict, number>> = {
  success: 0,
  saved: 0,
  internal: 1,
  skip: 3,
  error: 4,
  failure: 5,
  crash: 6,
  timeout: 7,
  'model-error': 8,
  interrupted: 130,
};
export const EXIT_BAD_INPUT = 2;

/** The signals that interrupt a run, with their numbers: an interrupted run exits 128 + n,
 *  as a shell reports a command killed by that signal. */
export const INTERRUPT_SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
export type InterruptSignal = keyof typeof INTERRUPT_SIGNALS;

/** The exit status for a verdict; an interrupted run's depends on the signal (SIGINT if not given). */
export function exitCodeFor(v: Verdict, signal?: InterruptSignal): number {
  if (v === 'interrupted' && signal !== undefined) return 128 + INTERRUPT_SIGNALS[signal];
  return EXIT_CODES[v];
}

/** What an image expects of its run without a stated expectation: success or skip. A bundled
 *  guest may state another verdict per profile (src/guest/expectations.ts); `matrix` exits 0
 *  only when every run met what was expected. */
export function meetsExpectation(v: string): boolean {
  return v === 'success' || v === 'skip';
}

export interface Judgement {
  verdict: Verdict;
  reason: string;
}

export interface ResultLine {
  /** The whole line, without its line ending. */
  line: string;
  verdict: Verdict;
}

const PREFIX = 'Test result: ';
const WORDS: ReadonlyArray<[string, Verdict]> = [
  ['SUCCESS', 'success'],
  ['SKIP', 'skip'],
  ['FAILURE', 'failure'],
  ['ERROR', 'error'],
];

/** The verdict a single result line states, or null if it is not a result line. */
export function parseResultLine(line: string): ResultLine | null {
  if (!line.startsWith(PREFIX)) return null;
  const rest = line.slice(PREFIX.length);
  for (const [word, verdict] of WORDS) {
    if (rest.startsWith(word) && !/^[A-Za-z0-9_]/.test(rest.slice(word.length))) return { line, verdict };
  }
  return { line, verdict: 'error' };
}

/** The last result line of a console, or null if there is none. */
export function lastResultLine(console: string): ResultLine | null {
  const lines = console.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    const r = parseResultLine(line);
    if (r) return r;
  }
  return null;
}

/** How a run ended, in words: the machine's message, prefixed with the kind unless it already says it. */
function describeEnd(kind: 'triple-fault' | 'insn-budget' | 'wall-timeout', message: string): string {
  const words = { 'triple-fault': 'triple fault', 'insn-budget': 'instruction budget spent', 'wall-timeout': 'wall-clock timeout' }[kind];
  const stem = words.split(' ')[0];
  if (message === '') return words;
  return message.startsWith(stem) ? message : `${words}: ${message}`;
}

/** The exit-port value that means skip: kvm-unit-tests writes 77 >> 1 so that QEMU's
 *  isa-debug-exit status (V << 1) | 1 is 77, its runner's skip status. */
export const SKIP_EXIT_VALUE = 38;

/** Judge a finished run from how it ended and what it printed. */
export function judge(end: RunEnd, console: string): Judgement {
  const result = lastResultLine(console);
  if (result) {
    const stated =
      result.verdict === 'error' && !WORDS.some(([w]) => result.line.startsWith(PREFIX + w))
        ? `malformed result line '${result.line}'`
        : result.line;
    switch (end.kind) {
      case 'triple-fault':
        return { verdict: 'crash', reason: `${describeEnd(end.kind, end.message)} after '${result.line}'` };
      case 'domain-crash':
        return { verdict: 'crash', reason: `${end.message} after '${result.line}'` };
      case 'insn-budget':
      case 'wall-timeout':
        return { verdict: 'timeout', reason: `${describeEnd(end.kind, end.message)} after '${result.line}'` };
      case 'model-error':
        return { verdict: 'model-error', reason: end.message || 'model error' };
      case 'interrupted':
        return { verdict: 'interrupted', reason: `${end.message || 'interrupted'} after '${result.line}'` };
      case 'exit-port':
      case 'halted':
      case 'shutdown':
        return { verdict: result.verdict, reason: stated };
    }
  }
  switch (end.kind) {
    case 'exit-port': {
      const v = end.exitValue;
      if (v === 0) return { verdict: 'success', reason: 'exit value 0 without a result line' };
      if (v === SKIP_EXIT_VALUE) return { verdict: 'skip', reason: `exit value ${v} (skip: QEMU exit status 77) without a result line` };
      return { verdict: 'failure', reason: `exit value ${v} without a result line` };
    }
    case 'halted':
      return { verdict: 'crash', reason: 'halted without a result' };
    case 'domain-crash':
      return { verdict: 'crash', reason: end.message };
    case 'shutdown':
      if (end.shutdown === 'crash') return { verdict: 'crash', reason: `${end.message} without a result line` };
      if (end.shutdown === 'suspend') return { verdict: 'error', reason: `suspended: ${end.message}, and nothing was asked to happen on suspend` };
      return { verdict: 'error', reason: `no result: ${end.message} without a result line` };
    case 'triple-fault':
      return { verdict: 'crash', reason: describeEnd(end.kind, end.message) };
    case 'insn-budget':
    case 'wall-timeout':
      return { verdict: 'timeout', reason: describeEnd(end.kind, end.message) };
    case 'model-error':
      return { verdict: 'model-error', reason: end.message || 'model error' };
    case 'interrupted':
      return { verdict: 'interrupted', reason: end.message || 'interrupted' };
  }
}
