// `npm run oracle -- [--sequences N] [--seed S] [--no-record] [--show N]`: a run of
// the hardware oracle of any length, with the same report as the test; new findings go
// to a scratch file (regressions.ts findingsPath), never to the tracked cases.
// `npm run oracle -- --keep-regressions FILE`: add FILE's cases to test/oracle/regressions.json.
// `npm run oracle -- --calibrate [--samples N]`: record this CPU's values for what the
// SDM leaves undefined into test/oracle/undefined-observed-<signature>.json.

import { join } from 'node:path';
import { repoRoot } from '../../guest/build.js';
import { runOracle } from './run.js';
import { report } from './report.js';
import { recordFindings, keepRegressions, trackedRegressionsPath } from './regressions.js';
import { calibrate } from './calibrate.js';

function arg(argv: string[], name: string): string | undefined {
  const k = argv.indexOf(name);
  return k >= 0 ? argv[k + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: npm run oracle -- [--sequences N] [--seed S] [--no-record] [--show N] | --calibrate [--samples N]' +
      ' | --keep-regressions FILE\n');
    return 0;
  }
  const keep = arg(argv, '--keep-regressions');
  if (argv.includes('--keep-regressions')) {
    if (keep === undefined) { process.stderr.write('oracle: --keep-regressions needs the findings file\n'); return 2; }
    const added = keepRegressions(keep);
    process.stdout.write(`${added.length} case(s) from ${keep} added to ${trackedRegressionsPath()}\n`);
    return 0;
  }
  if (argv.includes('--calibrate')) {
    const samples = Number(arg(argv, '--samples') ?? 2000);
    const out = await calibrate({ samples, dir: join(repoRoot(), 'test', 'oracle'), log: (l) => process.stdout.write(l + '\n') });
    process.stdout.write(`wrote ${out}\n`);
    return 0;
  }
  const sequences = Number(arg(argv, '--sequences') ?? 1_000_000);
  const seed = Number(arg(argv, '--seed') ?? (Date.now() & 0x7fffffff));
  const show = Number(arg(argv, '--show') ?? 20);
  const res = await runOracle({ sequences, seed, log: (l) => process.stdout.write(l + '\n') });
  process.stdout.write(report(res, { show, perEntry: argv.includes('--per-entry') }) + '\n');
  if (!argv.includes('--no-record') && res.minimised.length > 0) {
    process.stdout.write(recordFindings(res.minimised, res.hello).message + '\n');
  }
  return res.disagreements.length === 0 && res.harnessCrashes.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`oracle: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
