// The ABI diff's runs (README, "ringside diff"; docs/architecture.md, "The ABI diff"): one image on two profiles,
// each with an in-memory trace sink, then compared by report/abi-diff.ts.

import type { TransitionRecord } from '../cpu/transition.js';
import { parseElf } from '../guest/elf.js';
import { readSymbols } from '../guest/elf-symbols.js';
import { BadInput } from '../machine/errors.js';
import { diffRuns, type AbiDiff, type CodeAround } from '../report/abi-diff.js';
import { CodeImage } from '../report/code-window.js';
import { readImageFile } from './image-file.js';
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
  const { symbols, codeAround } = imageCode(imagePath);
  const diff = diffRuns(
    { profile: options.profiles[0], records: a.records, console: a.result.console, symbols },
    { profile: options.profiles[1], records: b.records, console: b.result.console, symbols },
    codeAround,
  );
  return { diff, runs: [a.result, b.result] };
}

/** The image's symbols and code, for explanations and the first difference's code window.
 *  The image booted, so it reads; code it does not hold (written at run time) is not shown. */
function imageCode(imagePath: string): { symbols: ReturnType<typeof readSymbols>; codeAround: CodeAround } {
  const bytes = readImageFile(imagePath);
  const symbols = readSymbols(bytes);
  const image = new CodeImage(parseElf(bytes, imagePath).segments, symbols);
  const bitness = (mode: string): 16 | 32 | 64 => (mode === '64-bit' ? 64 : 32);
  return { symbols, codeAround: (address, mode) => image.around(address, bitness(mode)) };
}
