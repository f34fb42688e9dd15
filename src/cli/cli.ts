// The `ringside` command line (README, "Command line"; `ringside --help`).
//
// Output discipline: `run` writes the guest console to stdout and nothing else
// (or, with --json, one JSON object); every message about the run goes to stderr
// as one line. Usage errors and unusable input: one line on stderr, exit 2,
// never a stack trace.

import { readdirSync, readFileSync, realpathSync, openSync, readSync, closeSync, constants } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BadInput, ModelError } from '../machine/errors.js';
import { formatProfiles, getProfile, hostFamily, runnableProfiles } from '../lab/profiles.js';
import { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, DEFAULT_PROFILE, MAX_MEMORY_MIB } from '../lab/defaults.js';
import { checkImageFile } from '../lab/image-file.js';
import type { RunResult } from '../lab/run.js';
import type { InjectedEvent, Injection } from '../cpu/injections.js';
import { EXIT_BAD_INPUT, INTERRUPT_SIGNALS, exitCodeFor, type InterruptSignal } from '../lab/verdict.js';
import { NOT_APPLICABLE, noRunJson, runToJson, toJsonText, type RunJson } from '../report/json.js';
import type { HostName } from '../lab/profiles.js';
import { cellMet, formatMatrix, type MatrixRow } from '../report/table.js';
import type { ObservationsWord } from '../lab/diff.js';

/** The checkout (or installed package) root: dist/src/cli/ -> ../../../ */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage:
  ringside run IMAGE [--profile P] [--json] [--max-insns N] [--timeout S] [--memory MiB]
                     [--inject nmi@N | --inject irq:VEC@N | --inject nmi@rip=ADDR ...] [--append ARGS]
                     [--trace FILE] [--dom0] [--console-input TEXT] [--verbose]
  ringside profiles
  ringside trace FILE [--kind K,...] [--vector V] [--from N] [--to M]
  ringside matrix [IMAGE|DIR ...] [--profiles P1,P2,...] [--dom0] [--json] [--max-insns N] [--timeout S] [--memory MiB]
  ringside diff IMAGE --profiles A,B [--points user] [--dom0] [--append ARGS] [--json] [--max-insns N] [--timeout S] [--memory MiB]
  ringside --help | --version

run       boot IMAGE under profile P and run it to its end; the guest console goes to stdout,
          one verdict line to stderr. IMAGE is an image file or a bundled guest: the name of
          a folder of guests/ (\`exceptions\` or \`guests/exceptions\`), built first if needed.
          An existing file of that name wins over a guest
profiles  list the profiles, one a line: name, then what it is
trace     render a trace file written by run --trace: a block per transition (what, CPL and
          mode change, the instruction and its symbol, the registers changed, the frame as
          stack slots). Filters: --kind (delivery, iret, syscall, sysret, sysenter, sysexit,
          call-gate, far-return; comma-separated), --vector V, --from N --to M (sequence
          numbers, inclusive). A file that is not a whole trace of this version: one line, exit 2
matrix    run each IMAGE (as for run) and each ELF file in each DIR (default: every bundled
          guest) under every profile whose host boots it (default: the runnable ones that
          boot one of the images; a Xen PV image on xen profiles, a native one on native
          profiles, - elsewhere) and print a verdict table, a row per guest or image file,
          by name, and a last column saying whether what the guest observed differs from
          the first profile's that ran it: same, differs or - (not compared; see README), as
          \`diff\` would exit; it does not change the exit status.
          Each run is expected to succeed or skip, but where a bundled guest's guest.json
          states another verdict for the profile ("expect": a Xen it cannot tell apart).
          Exit 0 when every run did what was expected, 5 when one did not, 2 on bad input
          (also an image that was rejected or a guest that did not build), 1 on an internal
          error
diff      run IMAGE (as for run) on profiles A and B and compare what the guest could observe
          where ring-3 code resumes (registers, frames) and its console: the first difference,
          then every difference by kind and field, each value explained. On xen profiles every
          return from Xen to the guest, kernel or user, is compared, with the guest memory Xen
          wrote (bounce frames); --points user keeps those where guest user code resumes (a
          native and a xen profile need it). Exit 0 when nothing differs, 1 when something
          does, 2 on bad input

options:
  --profile P       the profile to run under (default ${DEFAULT_PROFILE}; see \`ringside profiles\`)
  --profiles P,...  matrix: the profiles to run under (default: all runnable ones)
  --json            print one JSON object on stdout instead of the console / table
  --max-insns N     instruction budget, a positive integer (default 10^10); spending it is a timeout
  --timeout S       wall-clock limit, a positive number of seconds, e.g. 0.5 (default: none);
                    reaching it is a timeout
  --memory MiB      guest RAM, 1 to ${MAX_MEMORY_MIB} (default ${DEFAULT_MEMORY_MIB})
  --inject E@W      run: raise event E -- \`nmi\`, or \`irq:VEC\` (VEC 16..255 set in the local
                    APIC's IRR as a fixed interrupt) -- at tick W (virtual time: vCPU 0's
                    instruction count), or with W = \`rip=ADDR\` the first time RIP reaches
                    ADDR, before that instruction; held pending until it can be taken.
                    Numbers in decimal or 0x hex; repeat the option for several
  --append ARGS     run, diff: the kernel command line after the image's name, as QEMU's -append
                    (multiboot: the information's cmdline; PVH: start_info.cmdline_paddr;
                    Xen PV: start_info.cmd_line); diff gives it to both runs
  --dom0            run, diff, matrix: on a xen profile, build the image as dom0, as Xen's own domain
                    builder does (SIF_INITDOMAIN, console through HYPERVISOR_console_io)
                    rather than as a toolstack-built domU; refused on other hosts
                    and for a guest whose guest.json says it runs as a domU only
  --console-input TEXT  run: on a xen profile, a domU's console input: xenconsoled delivers it
                    into the console ring's in[] as the guest waits (escapes: \\n, \\\\)
  --verbose         run: before the verdict line, the host's own messages on stderr (on a xen
                    profile, Xen's log: "(XEN) ..." lines, e.g. why it crashed the domain)
  --trace FILE      run: write every transition to FILE as JSON lines (docs/architecture.md,
                    "Trace files"); FILE appears when the run ends, however it ends
                    (a second Ctrl-C moves it into place and exits at once)

Ctrl-C (SIGINT) or SIGTERM ends the run with the verdict interrupted, reported as any other
(the verdict line, and the --json object); a matrix stops there and reports the runs so far.

exit status of run: 0 success, 2 bad input, 3 skip, 4 error, 5 failure, 6 crash,
7 timeout, 8 model error, 1 internal error (a bug in Ringside), 130 / 143 interrupted
by SIGINT / SIGTERM (matrix too)

not implemented yet (each says so, exit 2): run --save-on-suspend, --save-at,
--migrate-on-suspend, --migrate-at, --to; matrix --html; the restore command
`;

class UsageError extends BadInput {}

/** Options the design names that this version does not implement yet. They are refused
 *  before parsing, so that `--trace` with or without a value says the same thing. */
const NOT_IMPLEMENTED_RUN = ['save-on-suspend', 'save-at', 'migrate-on-suspend', 'migrate-at', 'to'];
const NOT_IMPLEMENTED_MATRIX = ['html'];
const NOT_IMPLEMENTED_COMMANDS = new Set(['restore']);

const LIMIT_OPTIONS = {
  'max-insns': { type: 'string' },
  timeout: { type: 'string' },
  memory: { type: 'string' },
} as const;

const RUN_OPTIONS = {
  profile: { type: 'string' },
  inject: { type: 'string', multiple: true },
  append: { type: 'string' },
  trace: { type: 'string' },
  dom0: { type: 'boolean' },
  'console-input': { type: 'string' },
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...LIMIT_OPTIONS,
} as const;

const MATRIX_OPTIONS = {
  profiles: { type: 'string' },
  dom0: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...LIMIT_OPTIONS,
} as const;

const DIFF_OPTIONS = {
  profiles: { type: 'string' },
  points: { type: 'string' },
  append: { type: 'string' },
  dom0: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...LIMIT_OPTIONS,
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs reads `--max-insns -5` as two options. A string option's value may
 *  start with '-' (a negative number, or a wrong guess such as `--profile --json`, which
 *  should be reported as a bad profile), so such pairs are joined as `--max-insns=-5` first. */
function joinValues(args: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && i + 1 < args.length && args[i + 1].startsWith('-')) {
      out.push(`${a}=${args[++i]}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

function parse<T extends Options>(command: string, rawArgs: string[], options: T, notImplemented: readonly string[] = []) {
  const args = joinValues(rawArgs, options);
  for (const a of args) {
    if (a === '--') break;
    const name = notImplemented.find((n) => a === `--${n}` || a.startsWith(`--${n}=`));
    if (name !== undefined) throw new UsageError(`--${name} is not implemented yet`);
  }
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
  const n = /^[0-9]+(\.[0-9]+)?(e[0-9]+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${option}: the instruction budget must be a positive integer, at most 2^53 (got '${text}')`);
  }
  return n;
}

/** Seconds (decimal, or with an exponent) to milliseconds, unrounded: 0.0001 s is a real
 *  limit, not "none". */
function parseSeconds(text: string): number {
  const n = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout: the timeout must be a positive number of seconds (got '${text}')`);
  return n * 1000;
}

function parseMemory(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`--memory needs a whole number of MiB (got '${text}')`);
  const n = Number(text);
  if (n < 1 || n > MAX_MEMORY_MIB) throw new UsageError(`--memory must be from 1 to ${MAX_MEMORY_MIB} MiB (got ${text})`);
  return n;
}

/** A tick, vector or address: decimal or 0x hex (underscores allowed), as a BigInt. */
function parseNumber(text: string): bigint | null {
  const t = text.replace(/_/g, '');
  return /^(0x[0-9a-f]+|[0-9]+)$/i.test(t) ? BigInt(t) : null;
}

const TWO64 = 1n << 64n;

/** `--inject EVENT@WHEN` (README, "Command line"): EVENT is `nmi` or `irq:VEC`,
 *  WHEN a tick or `rip=ADDR` (a 64-bit address, held as the CPU holds RIP: canonical
 *  upper-half addresses are negative). */
export function parseInjection(text: string): Injection {
  const bad = (why: string): never => {
    throw new UsageError(`--inject ${text}: ${why} (forms: nmi@N, irq:VEC@N, nmi@rip=ADDR)`);
  };
  const at = text.lastIndexOf('@');
  if (at < 0) bad("no '@'");
  const what = text.slice(0, at), when = text.slice(at + 1);
  let event: InjectedEvent;
  if (what === 'nmi') {
    event = { kind: 'nmi' };
  } else if (what.startsWith('irq:')) {
    const v = parseNumber(what.slice(4));
    if (v === null || v < 16n || v > 255n) bad(`the vector must be a number from 16 to 255 (got '${what.slice(4)}')`);
    event = { kind: 'irq', vector: Number(v) };
  } else {
    event = bad(`unknown event '${what}'`);
  }
  if (when.startsWith('rip=')) {
    const a = parseNumber(when.slice(4));
    if (a === null || a >= TWO64) bad(`the address must be a 64-bit number (got '${when.slice(4)}')`);
    const signed = a! >= TWO64 / 2n ? a! - TWO64 : a!;
    // Every address the CPU can fetch from is canonical to 57 bits at most.
    if (signed < -(1n << 56n) || signed >= 1n << 56n) bad(`0x${a!.toString(16)} is not a canonical address`);
    return { event, at: { rip: Number(signed) } };
  }
  const n = parseNumber(when);
  if (n === null || n > BigInt(Number.MAX_SAFE_INTEGER)) bad(`the tick must be a whole number, at most 2^53 (got '${when}')`);
  return { event, at: { tick: Number(n) } };
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * SIGINT and SIGTERM while guests run: the handler aborts `signal`, and the run (which gives
 * the event loop a turn between slices) ends as interrupted, still reported. Each handler
 * is installed once: a second Ctrl-C takes the default action and kills the process, a way
 * out should something hang. With `lastWords` (a trace file to move into place), a second
 * signal runs it and exits at once instead, since the default action would leave FILE.tmp.
 */
class Interrupts {
  private readonly controller = new AbortController();
  private readonly handlers: Array<[InterruptSignal, () => void]> = [];
  received: InterruptSignal | undefined;

  constructor(lastWords?: (sig: InterruptSignal) => void) {
    for (const sig of Object.keys(INTERRUPT_SIGNALS) as InterruptSignal[]) {
      const handler = (): void => {
        this.received ??= sig;
        this.controller.abort(sig);
        if (lastWords !== undefined) this.listen(sig, () => {
          lastWords(sig);
          process.exit(exitCodeFor('interrupted', sig));
        });
      };
      this.listen(sig, handler);
    }
  }

  private listen(sig: InterruptSignal, handler: () => void): void {
    this.handlers.push([sig, handler]);
    process.once(sig, handler);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    for (const [sig, handler] of this.handlers) process.removeListener(sig, handler);
  }
}

/** A guest that did not build: one line saying so, then the build's own output (stderr only). */
class BuildFailed extends Error {}

/** Build a bundled guest; its compiler's messages never reach stdout. */
async function buildNamedGuest(name: string): Promise<string> {
  const { buildGuest } = await import('../guest/build.js');
  try {
    return buildGuest(name);
  } catch (e) {
    throw new BuildFailed(`guest '${name}' did not build: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The image file an IMAGE argument of `run` stands for, building a bundled guest if needed. */
async function imageFor(arg: string, profile?: string, dom0 = false): Promise<string> {
  const { resolveImageArgument, guestsHint } = await lab();
  const what = resolveImageArgument(arg);
  switch (what.kind) {
    case 'file':
      return what.path;
    case 'guest': {
      // A bundled guest says which kind of host boots it: say so before its image is refused.
      if (profile !== undefined) {
        const build = await import('../guest/build.js');
        const hosts = build.guestHosts(what.name);
        const family = hostFamily(getProfile(profile).host);
        if (!hosts.some((h) => h === family)) {
          const which = hosts.includes('xen') ? 'a Xen PV guest: run it on a xen profile (--profile xen/idt or xen/idt-amd)' : `a bare-metal guest: run it on a native profile (--profile ${DEFAULT_PROFILE})`;
          throw new UsageError(`${what.name} is ${which}; ${profile} cannot boot it`);
        }
      }
      if (dom0 && !(await import('../guest/build.js')).guestDomains(what.name).includes('dom0')) {
        throw new UsageError(`${what.name} runs as a domU only (its guest.json "domains"): it uses the toolstack's console ring and xenstore, which dom0 does not get`);
      }
      return buildNamedGuest(what.name);
    }
    case 'directory':
      throw new UsageError(`${arg}: is a directory, not an image file or a bundled guest (${guestsHint()})`);
  }
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parse('run', args, RUN_OPTIONS, NOT_IMPLEMENTED_RUN);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('run needs an IMAGE: an image file or a bundled guest (usage: ringside run IMAGE [--profile P])');
  if (positionals.length > 1) throw new UsageError(`run takes one IMAGE, got ${positionals.length} arguments`);
  const profile = values.profile ?? DEFAULT_PROFILE;
  getProfile(profile);
  const limits = limitsFrom(values);
  const injections = (values.inject ?? []).map(parseInjection);
  const image = await imageFor(positionals[0], profile, values.dom0 === true);
  const json = values.json === true;
  const stream = new ConsoleStream();
  const { runImageAsync } = await lab();
  const trace = values.trace !== undefined ? await openTrace(values.trace, profile, image) : undefined;

  const interrupts = new Interrupts(trace === undefined ? undefined : (sig) => {
    trace.finish();
    err(`interrupted again by ${sig}: trace: ${plural(trace.count, 'transition')} written to ${trace.path}; exiting at once`);
  });
  let result: RunResult;
  try {
    const consoleInput = values['console-input']?.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
    result = await runImageAsync(image, { profile, ...limits, injections, append: values.append, dom0: values.dom0 === true, consoleInput, onConsole: json ? undefined : stream.push, stop: interrupts.signal, trace: trace?.sink });
  } catch (e) {
    stream.flush();
    if (e instanceof BadInput) {
      trace?.discard();
      throw e;
    }
    const modelError = e instanceof ModelError;
    const verdict = modelError ? 'model-error' : 'internal';
    const reason = modelError ? e.message : internalMessage(e);
    if (json) process.stdout.write(toJsonText(noRunJson(verdict, reason, profile, image)));
    err(`${verdict}: ${reason}`);
    if (!modelError && debugEnabled() && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return exitCodeFor(verdict);
  } finally {
    interrupts.dispose();
    trace?.finish();
  }
  stream.flush();
  if (json) process.stdout.write(toJsonText(runToJson(result)));
  else if (process.stdout.isTTY && process.stderr.isTTY && stream.lastByte !== 0x0a) process.stdout.write('\n');
  if (values.verbose === true) process.stderr.write(result.hostLog);
  err(`${result.verdict}: ${result.reason} (${plural(result.instructions, 'instruction')})`);
  if (trace !== undefined) err(`trace: ${plural(trace.count, 'transition')} written to ${trace.path} (tracing took ${(trace.milliseconds / 1000).toFixed(2)} s)`);
  return exitCodeFor(result.verdict, interrupts.received);
}

/** `run --trace FILE`: the writer, with the image's symbols to name instructions by. */
async function openTrace(path: string, profile: string, image: string): Promise<import('../report/trace-file.js').TraceWriter> {
  const { TraceWriter } = await import('../report/trace-file.js');
  const { readSymbols } = await import('../guest/elf-symbols.js');
  return new TraceWriter(path, { profile, image }, readSymbols(readFileSync(image)));
}

const TRACE_OPTIONS = {
  kind: { type: 'string' },
  vector: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `ringside trace FILE [--kind K,...] [--vector V] [--from N] [--to M]`. */
async function cmdTrace(args: string[]): Promise<number> {
  const { values, positionals } = parse('trace', args, TRACE_OPTIONS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`trace takes one trace FILE (written by run --trace), got ${positionals.length} arguments`);
  const { readTrace } = await import('../report/trace-file.js');
  const { renderTrace, selectEntries } = await import('../report/trace-render.js');
  const { TRANSITION_KIND_NAMES } = await import('../cpu/transition.js');
  const whole = (option: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = parseNumber(text);
    if (n === null || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`--${option} needs a whole number (got '${text}')`);
    return Number(n);
  };
  let kinds: Set<string> | undefined;
  if (values.kind !== undefined) {
    kinds = new Set(values.kind.split(',').map((k) => k.trim()));
    for (const k of kinds) {
      if (!(TRANSITION_KIND_NAMES as readonly string[]).includes(k)) throw new UsageError(`--kind: unknown kind '${k}' (kinds: ${TRANSITION_KIND_NAMES.join(', ')})`);
    }
  }
  const vector = whole('vector', values.vector);
  if (vector !== undefined && vector > 255) throw new UsageError(`--vector must be from 0 to 255 (got ${values.vector})`);
  const from = whole('from', values.from), to = whole('to', values.to);
  if (from !== undefined && to !== undefined && from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const { header, entries } = readTrace(positionals[0]);
  process.stdout.write(renderTrace(header, selectEntries(entries, { kinds, vector, from, to }), entries.length));
  return 0;
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
  /** The guest's name, or the image file's base name. */
  name: string;
  path?: string;
  guest?: string;
  /** The hosts that boot it: a bundled guest's by its guest.json, a file's by the hosts'
   *  own checks (lab/run.ts hostsBooting); null when no host does, so that every profile runs
   *  it and each cell says why it was refused. */
  hosts: HostName[] | null;
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

/** The matrix's rows for its IMAGE and DIR arguments; `hosts`: the hosts of the profiles it
 *  runs under (of every runnable profile when none are named), to pair images with. */
async function matrixEntries(targets: string[], hosts: readonly HostName[], memoryMiB: number): Promise<MatrixEntry[]> {
  const { resolveImageArgument, hostsBooting } = await lab();
  const build = await import('../guest/build.js');
  const entries: MatrixEntry[] = [];
  const fileEntry = (name: string, path: string): MatrixEntry => {
    const booting = hostsBooting(path, hosts, memoryMiB);
    return { name, path, hosts: booting.length > 0 ? booting : null };
  };
  for (const target of targets) {
    if (sameDir(target, build.guestsDir())) {
      // The project's guest source tree: every guest for one of the hosts, built, then run.
      const families = [...new Set(hosts.map(hostFamily))];
      const guests = families.flatMap((h) => (h === 'native' || h === 'xen' ? build.listGuests(h) : []));
      for (const guest of [...new Set(guests)].sort()) entries.push({ name: guest, guest, hosts: build.guestHosts(guest) });
      continue;
    }
    const what = resolveImageArgument(target);
    if (what.kind === 'file') {
      checkImageFile(what.path); // a device, FIFO or oversized file: one line, exit 2, before anything runs
      entries.push(fileEntry(what.name, what.path));
    } else if (what.kind === 'guest') {
      entries.push({ name: what.name, guest: what.name, hosts: build.guestHosts(what.name) });
    } else {
      const files = readdirSync(target, { withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => join(target, d.name))
        .filter(isElfFile)
        .sort();
      if (files.length === 0) throw new UsageError(`${target}: no ELF images in this directory (and it is not the project's guests/ tree)`);
      for (const f of files) entries.push(fileEntry(basename(f), f));
    }
  }
  return entries;
}

/**
 * The exit status of a matrix (README, "ringside matrix"): an internal error (1) outranks
 * bad input (2: a rejected image or a guest that did not build), which outranks a verdict
 * other than what the image expects (5): success or skip, or the verdict and lines a
 * guest's guest.json states for that profile.
 */
function matrixExitCode(verdicts: string[], allMet: boolean): number {
  if (verdicts.includes('internal')) return exitCodeFor('internal');
  if (verdicts.some((v) => v === 'bad-input' || v === 'build-failed')) return EXIT_BAD_INPUT;
  if (!allMet) return exitCodeFor('failure');
  return 0;
}

/** A matrix row in --json (README, "ringside matrix"). */
interface MatrixJsonRow {
  name: string;
  image: string | null;
  /** A cell of a guest that states its expectation there (guest.json "expect") says what it
   *  expected and whether the run met it. */
  cells: (RunJson & { expected?: string; met?: boolean })[];
  observations: ObservationsWord;
  observationsDiffer: string[];
}

async function cmdMatrix(args: string[]): Promise<number> {
  const { values, positionals } = parse('matrix', args, MATRIX_OPTIONS, NOT_IMPLEMENTED_MATRIX);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const named =
    values.profiles !== undefined
      ? values.profiles.split(',').map((s) => s.trim()).filter((s) => s !== '')
      : null;
  if (named !== null && named.length === 0) throw new UsageError('--profiles needs at least one profile');
  const candidates = named?.map(getProfile) ?? runnableProfiles();
  const limits = limitsFrom(values);
  const json = values.json === true;
  const entries = await matrixEntries(positionals.length > 0 ? positionals : [join(PROJECT_ROOT, 'guests')], [...new Set(candidates.map((p) => p.host))], limits.memoryMiB);
  if (entries.length === 0) throw new UsageError('nothing to run: no images or guests found');
  // Each image runs on the profiles whose host boots it; by default, the runnable profiles
  // whose host boots one of the images.
  const hostOf = new Map(candidates.map((p) => [p.name, p.host]));
  // With --dom0, a guest of a domU's toolstack rings (guest.json "domains") has no xen run.
  const { guestDomains } = await import('../guest/build.js');
  const { guestExpectation, unmetExpectation } = await import('../guest/expectations.js');
  const domUOnly = (entry: MatrixEntry, profile: string): boolean =>
    values.dom0 === true && hostFamily(hostOf.get(profile)!) === 'xen' && entry.guest !== undefined && !guestDomains(entry.guest).includes('dom0');
  const applies = (entry: MatrixEntry, profile: string): boolean =>
    (entry.hosts === null || entry.hosts.some((h) => hostFamily(h) === hostFamily(hostOf.get(profile)!))) && !domUOnly(entry, profile);
  const profiles = candidates.map((p) => p.name).filter((p) => named !== null || entries.some((e) => applies(e, p)));

  const { runImageAsync } = await lab();
  const { RowObservations } = await import('../lab/diff.js');
  const rows: MatrixRow[] = [];
  const jsonRows: MatrixJsonRow[] = [];
  const total = entries.reduce((n, e) => n + profiles.filter((p) => applies(e, p)).length, 0);
  let n = 0;
  // Ctrl-C ends the current run as interrupted; the matrix then stops and reports what it has.
  const interrupts = new Interrupts();
  try {
    for (const entry of entries) {
      if (interrupts.signal.aborted) break;
      let image = entry.path ?? null;
      let buildError: string | null = null;
      if (entry.guest !== undefined) {
        try {
          image = await buildNamedGuest(entry.guest);
        } catch (e) {
          buildError = (e instanceof Error ? e.message : String(e)).split('\n')[0];
        }
        if (interrupts.signal.aborted) break; // the build was probably killed by the same Ctrl-C
      }
      const row: MatrixRow = { name: entry.name, cells: [], observations: null, observationsDiffer: [] };
      const jsonRow: MatrixJsonRow = { name: entry.name, image, cells: [], observations: null, observationsDiffer: [] };
      rows.push(row);
      jsonRows.push(jsonRow);
      // Each run's records live only until the row's word is known (lab/diff.ts).
      const rowProfiles = profiles.filter((p) => applies(entry, p));
      const observed = new RowObservations(rowProfiles);
      let i = -1; // the run's index among the row's profiles
      for (const profile of profiles) {
        if (interrupts.signal.aborted) break;
        if (!applies(entry, profile)) {
          const reason = domUOnly(entry, profile)
            ? `${entry.guest} runs as a domU only (guest.json "domains"), not as dom0`
            : `${hostOf.get(profile)} does not boot this image (it is for ${entry.hosts!.join(', ')})`;
          row.cells.push({ verdict: NOT_APPLICABLE, reason });
          jsonRow.cells.push(noRunJson(NOT_APPLICABLE, reason, profile, image ?? entry.name));
          continue;
        }
        i++;
        n++;
        const started = Date.now();
        let cell: RunJson;
        if (buildError !== null || image === null) {
          cell = noRunJson('build-failed', buildError ?? 'no image', profile, entry.name);
          observed.ended(i, null);
        } else {
          try {
            // --dom0 builds the images as dom0 on xen profiles; native ones have no domains.
            const dom0 = values.dom0 === true && hostFamily(getProfile(profile).host) === 'xen';
            const result = await runImageAsync(image, { profile, ...limits, dom0, stop: interrupts.signal, trace: observed.sink(i) });
            observed.ended(i, result);
            cell = runToJson(result);
          } catch (e) {
            observed.ended(i, null);
            if (e instanceof BadInput) cell = noRunJson('bad-input', e.message, profile, image);
            else if (e instanceof ModelError) cell = noRunJson('model-error', e.message, profile, image);
            else {
              cell = noRunJson('internal', internalMessage(e), profile, image);
              if (debugEnabled() && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
            }
          }
        }
        // What the guest states it expects here (guest.json "expect"), if anything.
        const expected = entry.guest === undefined ? null : guestExpectation(entry.guest, profile);
        const met = unmetExpectation(expected, cell.verdict, cell.console).length === 0;
        err(`[${n}/${total}] ${entry.name} on ${profile}: ${cell.verdict}${expected !== null ? ` (expected ${expected.verdict})` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        row.cells.push({ verdict: cell.verdict, reason: cell.reason, met, ...(expected !== null ? { expected: { verdict: expected.verdict, why: expected.why } } : {}) });
        jsonRow.cells.push(expected !== null ? { ...cell, expected: expected.verdict, met } : cell);
      }
      row.observations = jsonRow.observations = observed.word();
      row.observationsDiffer = jsonRow.observationsDiffer = observed.differ;
    }
  } finally {
    interrupts.dispose();
  }
  // A row whose guest build was interrupted has no cells: leave it out.
  const shown = rows.filter((r) => r.cells.length > 0);
  const shownJson = jsonRows.filter((r) => r.cells.length > 0);

  const ran = shown.flatMap((r) => r.cells).filter((c) => c.verdict !== NOT_APPLICABLE);
  const verdicts = ran.map((c) => c.verdict);
  const passed = ran.filter(cellMet).length;
  const interrupted = interrupts.received;
  if (json) {
    const out: Record<string, unknown> = { profiles, rows: shownJson, passed, total };
    if (interrupted !== undefined) out.interrupted = interrupted;
    process.stdout.write(toJsonText(out));
  } else {
    process.stdout.write(formatMatrix(profiles, shown, { total, interrupted }));
  }
  if (interrupted !== undefined) return exitCodeFor('interrupted', interrupted);
  return matrixExitCode(verdicts, ran.every(cellMet));
}

/** `diff`: both runs, then the comparison on stdout (text or one JSON object). */
async function cmdDiff(args: string[]): Promise<number> {
  const { values, positionals } = parse('diff', args, DIFF_OPTIONS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`diff takes one IMAGE, got ${positionals.length} arguments (usage: ringside diff IMAGE --profiles A,B)`);
  if (values.profiles === undefined) throw new UsageError('diff needs --profiles A,B');
  const profiles = values.profiles.split(',');
  if (profiles.length !== 2) throw new UsageError(`diff compares exactly two profiles (got ${profiles.length}: ${values.profiles})`);
  for (const p of profiles) getProfile(p);
  if (values.points !== undefined && values.points !== 'user') throw new UsageError(`--points takes only 'user' (got '${values.points}')`);
  const limits = limitsFrom(values);
  const image = await imageFor(positionals[0]);
  const { diffImage } = await import('../lab/diff.js');
  const { formatAbiDiff } = await import('../report/abi-diff.js');
  const { diff, runs } = diffImage(image, { profiles, ...limits, dom0: values.dom0 === true, append: values.append, points: values.points === 'user' ? 'user' : 'all' });
  for (const r of runs) err(`${r.profile}: ${r.verdict}: ${r.reason} (${plural(r.instructions, 'instruction')})`);
  process.stdout.write(values.json === true ? toJsonText(diff) : formatAbiDiff(diff));
  return diff.exit;
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
        throw new UsageError("missing command: run, profiles, matrix or trace (see 'ringside --help')");
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      case '--version':
        if (rest.length > 0) throw new UsageError(`--version takes no arguments (got '${rest[0]}')`);
        process.stdout.write(`ringside ${version()}\n`);
        return 0;
      case 'run':
        return await cmdRun(rest);
      case 'profiles':
        return cmdProfiles(rest);
      case 'matrix':
        return await cmdMatrix(rest);
      case 'diff':
        return await cmdDiff(rest);
      case 'trace':
        return await cmdTrace(rest);
      default:
        if (NOT_IMPLEMENTED_COMMANDS.has(command)) throw new UsageError(`'${command}' is not implemented yet`);
        throw new UsageError(`unknown command '${command}' (commands: run, profiles, matrix, trace, diff; see 'ringside --help')`);
    }
  } catch (e) {
    if (e instanceof BadInput) {
      err(e.message.split('\n')[0]);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof BuildFailed) {
      // One line saying so, then the compiler's or linker's own output.
      const [first, ...rest] = e.message.split('\n');
      err(first);
      if (rest.length > 0) process.stderr.write(rest.join('\n') + '\n');
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
