// One run: an image file, a profile, limits -> a verdict and what was observed.

import { readFileSync, statSync } from 'node:fs';
import { parseElf } from '../guest/elf.js';
import { BadInput, ModelError } from '../machine/errors.js';
import type { LoadableImage } from '../machine/image.js';
import { Machine, type RunEnd } from '../machine/machine.js';
import { bootNative, planPvhBoot } from '../hosts/native/pvh.js';
import { bootMultiboot, findMultibootHeader, planMultibootBoot, type MultibootPlan } from '../hosts/native/multiboot.js';
import { getProfile, type Profile } from './profiles.js';
import { judge, type Verdict } from './verdict.js';
import { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB } from './defaults.js';

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
}

export interface RunResult {
  verdict: Verdict;
  reason: string;
  /** The value written to the exit port, or null if the run did not end that way. */
  exitValue: number | null;
  instructions: number;
  transitions: number;
  console: string;
  /** Final register file, every value a "0x…" hex string. */
  registers: Record<string, string>;
  profile: string;
  image: string;
}

export { DEFAULT_MAX_INSNS, DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB };

/** Read an image file's bytes; BadInput if it cannot be read. */
export function readImageFile(imagePath: string): Buffer {
  try {
    if (statSync(imagePath).isDirectory()) throw new BadInput(`${imagePath}: is a directory, not an image`);
    return readFileSync(imagePath);
  } catch (e) {
    if (e instanceof BadInput) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new BadInput(`${imagePath}: cannot read image: ${why}`);
  }
}

/** Read and parse an image file; BadInput for anything unreadable or malformed. */
export function loadImage(imagePath: string): LoadableImage {
  return parseElf(readImageFile(imagePath), imagePath);
}

function checkLimits(maxInsns: number, timeoutMs: number, memoryMiB: number): void {
  if (!Number.isSafeInteger(maxInsns) || maxInsns < 1) throw new BadInput(`instruction budget must be a positive integer (got ${maxInsns})`);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new BadInput(`timeout must be a non-negative number (got ${timeoutMs})`);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 1 || memoryMiB > MAX_MEMORY_MIB) {
    throw new BadInput(`memory must be a whole number of MiB from 1 to ${MAX_MEMORY_MIB} (got ${memoryMiB})`);
  }
}

/** Run an image under a profile until it ends. Throws BadInput for unusable input. */
export function runImage(imagePath: string, options: RunOptions): RunResult {
  const { maxInsns = DEFAULT_MAX_INSNS, timeoutMs = 0, memoryMiB = DEFAULT_MEMORY_MIB } = options;
  checkLimits(maxInsns, timeoutMs, memoryMiB);
  const profile: Profile = getProfile(options.profile);
  const bytes = readImageFile(imagePath);
  const memoryBytes = memoryMiB * 1024 * 1024;

  // Everything about the image is checked before a machine (and its RAM) exists.
  // The native host boots multiboot before PVH, in QEMU's order (multiboot.ts).
  let image: LoadableImage | null = null;
  let multiboot: MultibootPlan | null = null;
  switch (profile.host) {
    case 'native': {
      const header = findMultibootHeader(bytes);
      if (header) {
        multiboot = planMultibootBoot(bytes, imagePath, header, memoryBytes);
      } else {
        image = parseElf(bytes, imagePath);
        planPvhBoot(image, memoryBytes);
      }
      break;
    }
    default:
      throw new BadInput(`profile '${profile.name}' is not implemented yet`);
  }

  let machine: Machine;
  try {
    machine = new Machine({ memoryBytes, cpu: { vendor: profile.cpu.vendor, fred: profile.cpu.fred } });
  } catch (e) {
    if (e instanceof RangeError) throw new BadInput(`cannot allocate ${memoryMiB} MiB of guest RAM on this machine`);
    throw e;
  }
  const hostOptions = { onConsole: options.onConsole };
  const host = multiboot ? bootMultiboot(machine, multiboot, hostOptions) : bootNative(machine, image!, hostOptions);

  let end: RunEnd;
  try {
    end = machine.run({ maxInsns, timeoutMs });
  } catch (e) {
    // The machine reports model errors as an ending; accept a thrown one too.
    if (!(e instanceof ModelError)) throw e;
    end = { kind: 'model-error', exitValue: null, message: e.message };
  }

  const console = host.console;
  const { verdict, reason } = judge(end, console);
  return {
    verdict,
    reason,
    exitValue: end.kind === 'exit-port' ? end.exitValue : null,
    instructions: machine.instructions,
    transitions: 0,
    console,
    registers: machine.registers(),
    profile: profile.name,
    image: imagePath,
  };
}
