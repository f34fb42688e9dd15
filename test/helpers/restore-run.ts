// A machine captured mid-run and restored on a fresh one, as the capture/restore tests of the
// Xen host do it: the state goes through structuredClone (what a saved and reloaded state
// keeps) and the fresh machine gets only the profile, so whatever else the run needs (dom0,
// console input) must travel in the state.

import assert from 'node:assert/strict';
import { bootImage, restoreMachine, runBooted, type Booted, type RunOptions, type RunResult } from '../../src/lab/run.js';

/** Boot `image` with `options`, run it to instruction `at`, capture the machine, restore it
 *  on a fresh machine of the same profile and run that to its end. `beforeCapture` sees the
 *  first machine at `at`. */
export function runRestored(image: string, options: RunOptions, at: number, beforeCapture?: (first: Booted) => void): RunResult {
  const first = bootImage(image, options);
  first.machine.run({ maxInsns: at, timeoutMs: 0 });
  beforeCapture?.(first);
  const second = restoreMachine(structuredClone(first.machine.capture()), { profile: options.profile });
  return runBooted(second, image, { profile: options.profile });
}

/** The run restored at `at` (runRestored) ends as the uninterrupted `straight` did: success,
 *  the same console and the same instruction count. */
export function assertRestoredRun(
  image: string, options: RunOptions, straight: RunResult, at: number, beforeCapture?: (first: Booted) => void,
): void {
  const r = runRestored(image, options, at, beforeCapture);
  assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
  assert.equal(r.console, straight.console, `restored at ${at}`);
  assert.equal(r.instructions, straight.instructions, `restored at ${at}`);
}
