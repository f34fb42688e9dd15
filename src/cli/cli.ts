// The `ringside` command line (DESIGN.md "The command line").
//
// Output discipline: `run` writes the guest console to stdout and nothing else
// (or, with --json, one JSON object); every message about the run goes to stderr
// as one line. Usage errors and unusable input: one line on stderr, exit 2,
// never a stack trace.

import { readdirSync, readFileSync, realpathSync, statSync, openSync, readSync, closeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BadInput, ModelError } from '../machine/errors.js';
import { formatProfiles, getProfile, runnableProfiles } from '../lab/profiles.js';
import { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB } from '../lab/defaults.js';
import { checkImageFile } from '../lab/image-file.js';
import type { RunResult } from '../lab/run.js';
import { EXIT_BAD_INPUT, exitCodeFor } from '../lab/verdict.js';
import { noRunJson, runToJson, toJsonText, type RunJson } from '../report/json.js';
import { formatMatrix, type MatrixRow } from '../report/table.js';

/** The checkout (or installed package) root: dist/src/cli/ -> ../../../ */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage:
  ringside run IMAGE --profile P [--json] [--max-insns N] [--timeout S] [--memory MiB]
  ringside profiles
  ringside matrix [IMAGE|DIR ...] [--profiles P1,P2,...] [--json] [--max-insns N] [--timeout S] [--memory MiB]
  ringside --help | --version

run       boot IMAGE under profile P; the guest console goes to stdout, the verdict to stderr
profiles  list the profiles, one a line: name, then what it is
matrix    run every image (or every guest of the project's guests/ tree) under every profile
          and print a verdict table; exit 0 if every run succeeded or skipped, 1 otherwise

options:
  --profile P       the profile to run under (see \`ringside profiles\`)
  --json            print one JSON object on stdout instead of the console / table
  --max-insns N     instruction budget (default 10^10); spending it is a timeout
  --timeout S       wall-clock limit in seconds (default: none); reaching it is a timeout
  --memory MiB      guest RAM (default ${DEFAULT_MEMORY_MIB})

exit status of run: 0 success, 2 bad input, 3 skip, 4 error, 5 failure, 6 crash,
7 timeout, 8 model error, 1 internal error (a bug in Ringside)
`;

class UsageError extends BadInput {}

/** Options the design names that this version does not implement yet. */
const NOT_IMPLEMENTED_RUN = ['trace', 'inject', 'save-on-suspend', 'save-at', 'migrate-on-suspend', 'migrate-at', 'to'] as const;
const NOT_IMPLEMENTED_COMMANDS = new Set(['restore', 'trace', 'diff']);

const LIMIT_OPTIONS = {
  'max-insns': { type: 'string' },
  timeout: { type: 'string' },
  memory: { type: 'string' },
} as const;

const RUN_OPTIONS = {
  profile: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...LIMIT_OPTIONS,
  trace: { type: 'string' },
  inject: { type: 'string', multiple: true },
  'save-on-suspend': { type: 'string' },
  'save-at': { type: 'string' },
  'migrate-on-suspend': { type: 'string' },
  'migrate-at': { type: 'string' },
  to: { type: 'string' },
} as const;

const MATRIX_OPTIONS = {
  profiles: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  html: { type: 'string' },
  ...LIMIT_OPTIONS,
} as const;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option ${quoted} for '${command}' (see ringside --help)`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new UsageError(`option ${quoted.split(' ')[0]} ${/argument missing/.test(err.message) ? 'needs a value' : 'takes no value'}`);
      default:
        throw new UsageError(err.message.split('\n')[0]);
    }
  }
}

function parseCount(text: string, option: string): number {
  const t = text.replace(/_/g, '');
  if (!/^[0-9]+(\.[0-9]+)?(e[0-9]+)?$/i.test(t)) throw new UsageError(`${option} needs a positive whole number (got '${text}')`);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${option} needs a positive whole number up to 2^53 (got '${text}')`);
  return n;
}

function parseSeconds(text: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw new UsageError(`--timeout needs a number of seconds (got '${text}')`);
  return Math.round(Number(text) * 1000);
}

function parseMemory(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`--memory needs a whole number of MiB (got '${text}')`);
  const n = Number(text);
  if (n < 1 || n > MAX_MEMORY_MIB) throw new UsageError(`--memory must be from 1 to ${MAX_MEMORY_MIB} MiB (got ${text})`);
  return n;
}

interface Limits {
  maxInsns: number;
  timeoutMs: number;
  memoryMiB: number;
}

function limitsFrom(values: { 'max-insns'?: string; timeout?: string; memory?: string }): Limits {
  return {
    maxInsns: values['max-insns'] !== undefined ? parseCount(values['max-insns'], '--max-insns') : DEFAULT_MAX_INSNS,
    timeoutMs: values.timeout !== undefined ? parseSeconds(values.timeout) : 0,
    memoryMiB: values.memory !== undefined ? parseMemory(values.memory) : DEFAULT_MEMORY_MIB,
  };
}

function err(line: string): void {
  process.stderr.write(`ringside: ${line}\n`);
}

function debugEnabled(): boolean {
  return process.env.RINGSIDE_DEBUG === '1';
}

function internalMessage(e: unknown): string {
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return `${what.split('\n')[0]} — this is a bug in Ringside; please report it with the command line and the image` +
    (debugEnabled() ? '' : ' (RINGSIDE_DEBUG=1 shows the stack trace)');
}

/** Writes console bytes to stdout as they arrive, a line (or 4 KiB) at a time. */
class ConsoleStream {
  private readonly buf = Buffer.alloc(4096);
  private len = 0;
  lastByte = 0x0a;

  push = (bytes: Uint8Array): void => {
    for (const b of bytes) {
      this.buf[this.len++] = b;
      this.lastByte = b;
      if (b === 0x0a || this.len === this.buf.length) this.flush();
    }
  };

  flush(): void {
    if (this.len === 0) return;
    process.stdout.write(Buffer.from(this.buf.subarray(0, this.len)));
    this.len = 0;
  }
}

/** The run machinery, loaded only by the commands that run guests. */
async function lab(): Promise<typeof import('../lab/run.js')> {
  return import('../lab/run.js');
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parse('run', args, RUN_OPTIONS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const name of NOT_IMPLEMENTED_RUN) {
    if (values[name] !== undefined) throw new UsageError(`--${name} is not implemented yet`);
  }
  if (positionals.length === 0) throw new UsageError('run needs an IMAGE (usage: ringside run IMAGE --profile P)');
  if (positionals.length > 1) throw new UsageError(`run takes one IMAGE, got ${positionals.length} arguments`);
  if (values.profile === undefined) {
    throw new UsageError(`run needs --profile P (available: ${runnableProfiles().map((p) => p.name).join(', ')})`);
  }
  getProfile(values.profile);
  const limits = limitsFrom(values);
  const image = positionals[0];
  const json = values.json === true;
  const stream = new ConsoleStream();
  const { runImage } = await lab();

  let result: RunResult;
  try {
    result = runImage(image, { profile: values.profile, ...limits, onConsole: json ? undefined : stream.push });
  } catch (e) {
    stream.flush();
    if (e instanceof BadInput) throw e;
    const modelError = e instanceof ModelError;
    const verdict = modelError ? 'model-error' : 'internal';
    const reason = modelError ? e.message : internalMessage(e);
    if (json) process.stdout.write(toJsonText(noRunJson(verdict, reason, values.profile, image)));
    err(`${verdict}: ${reason}`);
    if (!modelError && debugEnabled() && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return exitCodeFor(verdict);
  }
  stream.flush();
  if (json) process.stdout.write(toJsonText(runToJson(result)));
  else if (process.stdout.isTTY && process.stderr.isTTY && stream.lastByte !== 0x0a) process.stdout.write('\n');
  err(`${result.verdict}: ${result.reason} (${result.instructions} instructions)`);
  return exitCodeFor(result.verdict);
}

function cmdProfiles(args: string[]): number {
  const { values, positionals } = parse('profiles', args, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`profiles takes no arguments (got '${positionals[0]}')`);
  process.stdout.write(formatProfiles());
  return 0;
}

/** One row of a matrix: an image file, or a guest of the project's tree to build first. */
interface MatrixEntry {
  name: string;
  path?: string;
  build?: () => string;
}

function isElfFile(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)); // never block, should it have become a FIFO
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

function sameDir(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

async function matrixEntries(targets: string[]): Promise<MatrixEntry[]> {
  const entries: MatrixEntry[] = [];
  for (const target of targets) {
    let isDir: boolean;
    try {
      isDir = statSync(target).isDirectory();
    } catch {
      throw new UsageError(`${target}: no such file or directory`);
    }
    if (!isDir) {
      checkImageFile(target); // a device, FIFO or oversized file: one line, exit 2, before anything runs
      entries.push({ name: target, path: target });
    } else if (sameDir(target, join(PROJECT_ROOT, 'guests'))) {
      // The project's guest source tree: build every guest, then run it.
      const build = await import('../guest/build.js');
      for (const guest of build.listGuests()) entries.push({ name: guest, build: () => build.buildGuest(guest) });
    } else {
      const files = readdirSync(target, { withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => join(target, d.name))
        .filter(isElfFile)
        .sort();
      if (files.length === 0) throw new UsageError(`${target}: no ELF images in this directory (and it is not the project's guests/ tree)`);
      for (const f of files) entries.push({ name: f, path: f });
    }
  }
  return entries;
}

async function cmdMatrix(args: string[]): Promise<number> {
  const { values, positionals } = parse('matrix', args, MATRIX_OPTIONS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.html !== undefined) throw new UsageError('--html is not implemented yet');
  const profiles =
    values.profiles !== undefined
      ? values.profiles.split(',').map((s) => s.trim()).filter((s) => s !== '')
      : runnableProfiles().map((p) => p.name);
  if (profiles.length === 0) throw new UsageError('--profiles needs at least one profile');
  for (const p of profiles) getProfile(p);
  const limits = limitsFrom(values);
  const json = values.json === true;
  const entries = await matrixEntries(positionals.length > 0 ? positionals : [join(PROJECT_ROOT, 'guests')]);
  if (entries.length === 0) throw new UsageError('nothing to run: no images or guests found');

  const { runImage } = await lab();
  const rows: MatrixRow[] = [];
  const jsonRows: Array<{ name: string; image: string | null; cells: RunJson[] }> = [];
  const total = entries.length * profiles.length;
  let n = 0;
  for (const entry of entries) {
    let image = entry.path ?? null;
    let buildError: string | null = null;
    if (entry.build) {
      try {
        image = entry.build();
      } catch (e) {
        buildError = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      }
    }
    const row: MatrixRow = { name: entry.name, cells: [] };
    const jsonRow = { name: entry.name, image, cells: [] as RunJson[] };
    for (const profile of profiles) {
      n++;
      const started = Date.now();
      let cell: RunJson;
      if (buildError !== null || image === null) {
        cell = noRunJson('build-failed', buildError ?? 'no image', profile, entry.name);
      } else {
        try {
          cell = runToJson(runImage(image, { profile, ...limits }));
        } catch (e) {
          if (e instanceof BadInput) cell = noRunJson('bad-input', e.message, profile, image);
          else if (e instanceof ModelError) cell = noRunJson('model-error', e.message, profile, image);
          else {
            cell = noRunJson('internal', internalMessage(e), profile, image);
            if (debugEnabled() && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
          }
        }
      }
      err(`[${n}/${total}] ${entry.name} on ${profile}: ${cell.verdict} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      row.cells.push({ verdict: cell.verdict, reason: cell.reason });
      jsonRow.cells.push(cell);
    }
    rows.push(row);
    jsonRows.push(jsonRow);
  }

  const passed = rows.reduce((k, r) => k + r.cells.filter((c) => c.verdict === 'success' || c.verdict === 'skip').length, 0);
  if (json) process.stdout.write(toJsonText({ profiles, rows: jsonRows, passed, total }));
  else process.stdout.write(formatMatrix(profiles, rows));
  return passed === total ? 0 : 1;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Run the command line; returns the exit status. Never throws. */
export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        throw new UsageError("missing command: run, profiles or matrix (see 'ringside --help')");
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      case '--version':
        process.stdout.write(`ringside ${version()}\n`);
        return 0;
      case 'run':
        return await cmdRun(rest);
      case 'profiles':
        return cmdProfiles(rest);
      case 'matrix':
        return await cmdMatrix(rest);
      default:
        if (NOT_IMPLEMENTED_COMMANDS.has(command)) throw new UsageError(`'${command}' is not implemented yet`);
        throw new UsageError(`unknown command '${command}' (commands: run, profiles, matrix; see 'ringside --help')`);
    }
  } catch (e) {
    if (e instanceof BadInput) {
      err(e.message.split('\n')[0]);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof ModelError) {
      err(`model-error: ${e.message.split('\n')[0]}`);
      return exitCodeFor('model-error');
    }
    err(`internal: ${internalMessage(e)}`);
    if (debugEnabled() && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return exitCodeFor('internal');
  }
}
