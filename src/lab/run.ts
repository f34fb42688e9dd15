// One run: an image file, a profile, limits -> a verdict and what was observed.

import { BadInput } from '../machine/errors.js';
import { Machine, type MachineState } from '../machine/machine.js';
import type { TraceSink } from '../cpu/transition.js';
import type { Host } from '../hosts/host.js';
import { findHost } from '../hosts/registry.js';
import { getProfile, type Profile } from './profiles.js';
import { judge, type Verdict } from './verdict.js';
import { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB } from './defaults.js';
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
  /** Called with every transition's record (cpu/transition.ts); none are built without it. */
  trace?: TraceSink;
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

function newMachine(profile: Profile, memoryBytes: number, memoryMiB: number): Machine {
  try {
    return new Machine({ memoryBytes, cpu: { vendor: profile.cpu.vendor, fred: profile.cpu.fred } });
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
  const plan = hostDef.plan(bytes, imagePath, memoryBytes);
  const machine = newMachine(profile, memoryBytes, memoryMiB);
  const host = hostDef.attach(machine, { onConsole: options.onConsole });
  host.boot(plan);
  if (options.trace) machine.trace(options.trace);
  return { machine, host, profile };
}

/** A fresh machine under a profile's host, restored from a captured state. */
export function restoreMachine(state: MachineState, options: RunOptions): Booted {
  const profile = getProfile(options.profile);
  const hostDef = findHost(profile.host);
  const memoryBytes = state.memory.size;
  const machine = newMachine(profile, memoryBytes, memoryBytes / (1024 * 1024));
  const host = hostDef.attach(machine, { onConsole: options.onConsole });
  machine.restore(state);
  if (options.trace) machine.trace(options.trace);
  return { machine, host, profile };
}

/** Run a booted (or restored) machine until it ends, and judge the run. */
export function runBooted(booted: Booted, imagePath: string, options: RunOptions): RunResult {
  const { machine, host, profile } = booted;
  const end = machine.run({ maxInsns: options.maxInsns ?? DEFAULT_MAX_INSNS, timeoutMs: options.timeoutMs ?? 0 });
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
  };
}

/** Run an image under a profile until it ends. Throws BadInput for unusable input. */
export function runImage(imagePath: string, options: RunOptions): RunResult {
  return runBooted(bootImage(imagePath, options), imagePath, options);
}
