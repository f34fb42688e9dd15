// `npm run oracle -- [--sequences N] [--seed S] [--no-record] [--show N]`: a run of
// the hardware oracle of any length, with the same report as the test.
// `npm run oracle -- --calibrate [--samples N]`: record this CPU's values for what the
// SDM leaves undefined into test/oracle/undefined-observed-<signature>.json.

import { join } from 'node:path';
import { repoRoot } from '../../guest/build.js';
import { runOracle } from './run.js';
import { report } from './report.js';
import { addRegressions, toRegression } from './regressions.js';
import { calibrate } from './calibrate.js';

function arg(argv: string[], name: string): string | undefined {
  const k = argv.indexOf(name);
  return k >= 0 ? argv[k + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: npm run oracle -- [--sequences N] [--seed S] [--no-record] [--show N] | --calibrate [--samples N]\n');
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
    const file = join(repoRoot(), 'test', 'oracle', 'regressions.json');
    const added = addRegressions(file, res.minimised.map((m) => toRegression(m, res.hello, new Date().toISOString().slice(0, 10))));
    process.stdout.write(`${added.length} new regression case(s) in ${file}\n`);
  }
  return res.disagreements.length === 0 && res.harnessCrashes.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`oracle: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
