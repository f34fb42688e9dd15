// One run: an image file, a profile, limits -> a verdict and what was observed.

import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative } from 'node:path';
import { BadInput } from '../machine/errors.js';
import { Machine, type MachineState, type RunEnd } from '../machine/machine.js';
import type { TraceSink } from '../cpu/transition.js';
import type { Injection } from '../cpu/injections.js';
import type { Host } from '../hosts/host.js';
import { findHost } from '../hosts/registry.js';
import { getProfile, type HostName, type Profile } from './profiles.js';
import { judge, type Verdict } from './verdict.js';
import { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB } from './defaults.js';
import { guestsDir, isGuest } from '../guest/build.js';
import { readImageFile } from './image-file.js';

export interface RunOptions {
  /** Profile name, e.g. native/idt. */
  profile: string;
  /** Instruction budget; default 10^10. */
  maxInsns?: number;
  /** Wall-clock limit in milliseconds; 0 = none (default). */
  timeoutMs?: number;
  /** Guest RAM in MiB; default 128. */
  memoryMiB?: number;
  /** Called with console bytes as the guest writes them. */
  onConsole?: (bytes: Uint8Array) => void;
  /** The kernel command line after the image's name (QEMU's -append), for multiboot and PVH
   *  images, start_info's cmd_line for PV ones; undefined: none. */
  append?: string;
  /** Xen hosts: build the image as dom0 (Xen's own builder) instead of a domU. */
  dom0?: boolean;
  /** Xen hosts, a domU: what is typed on its console (xenconsoled delivers it to the ring). */
  consoleInput?: string;
  /** Events to inject at a tick or an address (cpu/injections.ts), in the command line's order. */
  injections?: readonly Injection[];
  /** Called with every transition's record (cpu/transition.ts); none are built without it. */
  trace?: TraceSink;
  /** runImageAsync/runBootedAsync only: aborting it ends the run as 'interrupted' at the next
   *  slice (the abort reason, e.g. 'SIGINT', is named in the reason). */
  stop?: AbortSignal;
  /** Step every instruction through its table row's semantics (no compiled blocks, no
   *  decode-time specialisation): the reference compiled code is held to. */
  stepped?: boolean;
  /** Interpreted executions of a block entry that compile its block (default: blocks.ts HOT);
   *  a positive integer. */
  hotThreshold?: number;
}

export interface RunResult {
  verdict: Verdict;
  reason: string;
  /** The value written to the exit port, or null if the run did not end that way. */
  exitValue: number | null;
  instructions: number;
  /** Transitions committed: each event delivery and each return (cpu/transition.ts). */
  transitions: number;
  console: string;
  /** Final register file, every value a "0x…" hex string. */
  registers: Record<string, string>;
  profile: string;
  image: string;
  /** The host's own messages (Xen's log on a xen profile), empty if it keeps none. */
  hostLog: string;
}

export { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB };

export { readImageFile };

function checkLimits(maxInsns: number, timeoutMs: number, memoryMiB: number): void {
  if (!Number.isSafeInteger(maxInsns) || maxInsns < 1) throw new BadInput(`instruction budget must be a positive integer (got ${maxInsns})`);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new BadInput(`timeout must be a non-negative number (got ${timeoutMs})`);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 1 || memoryMiB > MAX_MEMORY_MIB) {
    throw new BadInput(`memory must be a whole number of MiB from 1 to ${MAX_MEMORY_MIB} (got ${memoryMiB})`);
  }
}

/** A machine with its host attached, ready to run. */
export interface Booted {
  machine: Machine;
  host: Host;
  profile: Profile;
}

function newMachine(profile: Profile, memoryBytes: number, memoryMiB: number, options: RunOptions): Machine {
  const { stepped, hotThreshold } = options;
  if (hotThreshold !== undefined && (!Number.isSafeInteger(hotThreshold) || hotThreshold < 1)) {
    throw new BadInput(`the compile threshold must be a positive integer (got ${hotThreshold})`);
  }
  try {
    return new Machine({ memoryBytes, cpu: { vendor: profile.cpu.vendor, fred: profile.cpu.fred }, execution: { stepped, hotThreshold } });
  } catch (e) {
    if (e instanceof RangeError) throw new BadInput(`cannot allocate ${memoryMiB} MiB of guest RAM on this machine`);
    throw e;
  }
}

/** Boot an image under a profile: checked before a machine (and its RAM) exists, then
 *  loaded by the profile's host. Throws BadInput for unusable input. */
export function bootImage(imagePath: string, options: RunOptions): Booted {
  const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
  checkLimits(options.maxInsns ?? DEFAULT_MAX_INSNS, options.timeoutMs ?? 0, memoryMiB);
  const profile = getProfile(options.profile);
  const hostDef = findHost(profile.host);
  const bytes = readImageFile(imagePath);
  const memoryBytes = memoryMiB * 1024 * 1024;
  const plan = hostDef.plan(bytes, imagePath, { memoryBytes, append: options.append, dom0: options.dom0, consoleInput: options.consoleInput, cpuFred: profile.cpu.fred });
  const machine = newMachine(profile, hostDef.machineBytes?.(plan) ?? memoryBytes, memoryMiB, options);
  const host = hostDef.attach(machine, { onConsole: options.onConsole });
  host.boot(plan);
  if (options.trace) machine.trace(options.trace);
  for (const injection of options.injections ?? []) machine.cpu.injections.add(injection);
  return { machine, host, profile };
}

/** A fresh machine under a profile's host, restored from a captured state. */
export function restoreMachine(state: MachineState, options: RunOptions): Booted {
  const profile = getProfile(options.profile);
  const hostDef = findHost(profile.host);
  const memoryBytes = state.memory.size;
  const machine = newMachine(profile, memoryBytes, memoryBytes / (1024 * 1024), options);
  const host = hostDef.attach(machine, { onConsole: options.onConsole });
  machine.restore(state);
  if (options.trace) machine.trace(options.trace);
  // The schedule is not machine state: what is still to come after the restored tick.
  for (const injection of options.injections ?? []) {
    if (!('tick' in injection.at) || injection.at.tick > machine.cpu.icount) machine.cpu.injections.add(injection);
  }
  return { machine, host, profile };
}

/** Judge a finished run and gather what was observed. */
function resultOf(booted: Booted, end: RunEnd, imagePath: string): RunResult {
  const { machine, host, profile } = booted;
  const console = host.console;
  const { verdict, reason } = judge(end, console);
  return {
    verdict,
    reason,
    exitValue: end.kind === 'exit-port' ? end.exitValue : null,
    instructions: machine.instructions,
    transitions: machine.transitions,
    console,
    registers: machine.registers(),
    profile: profile.name,
    image: imagePath,
    hostLog: host.log ?? '',
  };
}

function limitsOf(options: RunOptions): { maxInsns: number; timeoutMs: number } {
  return { maxInsns: options.maxInsns ?? DEFAULT_MAX_INSNS, timeoutMs: options.timeoutMs ?? 0 };
}

/** Run a booted (or restored) machine until it ends, and judge the run. */
export function runBooted(booted: Booted, imagePath: string, options: RunOptions): RunResult {
  return resultOf(booted, booted.machine.run(limitsOf(options)), imagePath);
}

/** As runBooted, letting the event loop run between slices (signals, timers); options.stop
 *  interrupts it. */
export async function runBootedAsync(booted: Booted, imagePath: string, options: RunOptions): Promise<RunResult> {
  return resultOf(booted, await booted.machine.runAsync(limitsOf(options), options.stop), imagePath);
}

/** Run an image under a profile until it ends. Throws BadInput for unusable input. */
export function runImage(imagePath: string, options: RunOptions): RunResult {
  return runBooted(bootImage(imagePath, options), imagePath, options);
}

/** As runImage, letting the event loop run between slices; options.stop interrupts it. */
export async function runImageAsync(imagePath: string, options: RunOptions): Promise<RunResult> {
  return runBootedAsync(bootImage(imagePath, options), imagePath, options);
}

/** The hosts among `hosts` that boot an image file (the matrix's pairing, README "ringside
 *  matrix"): those whose plan accepts it, as a run would (native: a multiboot header or a PVH
 *  note; xen: a PV image Xen loads). Empty when none does, or the file cannot be read. */
export function hostsBooting(imagePath: string, hosts: readonly HostName[], memoryMiB: number): HostName[] {
  let bytes: Uint8Array;
  try {
    bytes = readImageFile(imagePath);
  } catch (e) {
    if (e instanceof BadInput) return [];
    throw e;
  }
  return hosts.filter((name) => {
    try {
      findHost(name).plan(bytes, imagePath, { memoryBytes: memoryMiB * 1024 * 1024 });
      return true;
    } catch (e) {
      if (e instanceof BadInput) return false;
      throw e;
    }
  });
}

/** What an IMAGE argument names: an image file, a bundled guest (built before it runs), or
 *  a directory (which `matrix` reads; `run` refuses it). */
export type ImageArgument =
  | { kind: 'file'; path: string; name: string }
  | { kind: 'guest'; name: string }
  | { kind: 'directory'; path: string };

function guestsRoot(): string | null {
  try {
    return guestsDir();
  } catch {
    return null; // an installation without the guest tree: no guest names
  }
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** How to see the bundled guests, for messages: the guests/ folder, relative if below the
 *  current directory. */
export function guestsHint(): string {
  const root = guestsRoot();
  if (root === null) return 'this installation has no bundled guests';
  const rel = relative(process.cwd(), root);
  const shown = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : root;
  return `to see the bundled guests: ls ${shown}/`;
}

/**
 * Resolve an IMAGE argument. An existing file always wins (a regular file, or anything
 * that is not a directory, which readImageFile then judges); otherwise a guest name (NAME,
 * guests/NAME, or the path of a guest's folder) names a bundled guest. BadInput for
 * anything else, saying how to see the guests.
 */
export function resolveImageArgument(arg: string): ImageArgument {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(arg);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Unreadable for another reason (EACCES, ELOOP...): readImageFile says why.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { kind: 'file', path: arg, name: basename(arg) };
  }
  if (st && !st.isDirectory()) return { kind: 'file', path: arg, name: basename(arg) };
  const root = guestsRoot();
  if (root !== null) {
    // A guest's folder given as a path, from wherever it is.
    if (st && samePath(dirname(realpathSync(arg)), root)) {
      const name = basename(realpathSync(arg));
      if (isGuest(name)) return { kind: 'guest', name };
    }
    // NAME or guests/NAME, relative to the project rather than to the current directory.
    const m = /^(?:\.\/)?(?:guests\/)?([^/]+)\/?$/.exec(arg);
    if (m && (!st || !arg.includes('/')) && isGuest(m[1])) return { kind: 'guest', name: m[1] };
  }
  if (st) return { kind: 'directory', path: arg };
  throw new BadInput(`${arg}: no such image file or bundled guest (${guestsHint()})`);
}
