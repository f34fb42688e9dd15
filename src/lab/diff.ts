// The ABI diff's runs (README, "ringside diff"; docs/architecture.md, "The ABI diff"): one image on two profiles,
// each with an in-memory trace sink, then compared by report/abi-diff.ts.

import type { TransitionRecord } from '../cpu/transition.js';
import { BadInput } from '../machine/errors.js';
import { diffRuns, type AbiDiff } from '../report/abi-diff.js';
import { getProfile } from './profiles.js';
import { runImage, type RunOptions, type RunResult } from './run.js';

export interface DiffOptions extends Omit<RunOptions, 'profile' | 'trace'> {
  profiles: readonly string[];
}

export interface DiffResult {
  diff: AbiDiff;
  runs: [RunResult, RunResult];
}

/** Run the image on both profiles and compare what the guest observed. BadInput unless
 *  exactly two known native profiles are named. */
export function diffImage(imagePath: string, options: DiffOptions): DiffResult {
  if (options.profiles.length !== 2) throw new BadInput(`diff compares exactly two profiles (got ${options.profiles.length})`);
  for (const name of options.profiles) {
    const p = getProfile(name);
    if (p.host !== 'native') throw new BadInput(`diff: profile ${name} is not a native profile; only native profiles' observation points are implemented`);
  }
  const runs = options.profiles.map((profile) => {
    const records: TransitionRecord[] = [];
    const result = runImage(imagePath, { ...options, profile, trace: (r) => records.push(r) });
    return { result, records };
  });
  const [a, b] = runs;
  const diff = diffRuns(
    { profile: options.profiles[0], records: a.records, console: a.result.console },
    { profile: options.profiles[1], records: b.records, console: b.result.console },
  );
  return { diff, runs: [a.result, b.result] };
}
