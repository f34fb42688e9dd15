// QEMU as an oracle (docs/architecture.md, "The lab"): boot a native image (PVH or
// multiboot) under qemu-system-x86_64 with TCG and capture what the guest
// writes to its consoles.  QEMU never ends a `cli; hlt` by itself, so every run
// has a wall-clock timeout after which QEMU is killed.
//
// The command line:
//   qemu-system-x86_64 -machine accel=tcg -m 128 -nodefaults -display none
//     -no-reboot -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=4
//     -cpu CPU -kernel IMAGE
// with CPU = max,vendor=GenuineIntel unless the caller asks for another model,
// except for the console: the native host has two (port 0xE9 and COM1, both
// feeding one transcript), and -nodefaults leaves QEMU with no serial port.
// So `-debugcon stdio` becomes one multiplexed stdio chardev shared by the
// debug console and a 16550 on COM1, which keeps the order of the bytes the
// guest writes to either:
//   -chardev stdio,id=con,mux=on -device isa-debugcon,iobase=0xe9,chardev=con
//     -serial chardev:con

import { spawnSync } from 'node:child_process';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_DEFAULT_CPU = 'max,vendor=GenuineIntel';

export interface QemuOptions {
  /** Wall-clock limit; QEMU is killed (SIGKILL) when it passes. */
  timeoutMs: number;
  /** -cpu argument; default max,vendor=GenuineIntel. */
  cpu?: string;
  /** Guest RAM in MiB; default 128, as a Ringside run (lab/defaults.ts). */
  memoryMiB?: number;
}

export interface QemuResult {
  /** Everything the guest wrote to port 0xE9 and to COM1, in order. */
  console: string;
  /** QEMU's exit status; isa-debug-exit makes it (V << 1) | 1. null if killed. */
  exitCode: number | null;
  /** The guest's exit-port value V, when QEMU ended through isa-debug-exit. */
  exitValue: number | null;
  timedOut: boolean;
  /** QEMU's own stderr (warnings, errors). */
  stderr: string;
  /** The full command that was run. */
  command: string[];
}

/** The argument vector for one run (without the binary). */
export function qemuArgs(imagePath: string, cpu: string = QEMU_DEFAULT_CPU, memoryMiB = 128): string[] {
  return [
    '-machine', 'accel=tcg',
    '-m', String(memoryMiB),
    '-nodefaults',
    '-display', 'none',
    '-no-reboot',
    '-device', 'pc-testdev',
    '-chardev', 'stdio,id=con,mux=on',
    '-device', 'isa-debugcon,iobase=0xe9,chardev=con',
    '-serial', 'chardev:con',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-cpu', cpu,
    '-kernel', imagePath,
  ];
}

let available: boolean | undefined;

/** Whether qemu-system-x86_64 can be run on this machine. */
export function qemuAvailable(): boolean {
  if (available === undefined) {
    const r = spawnSync(QEMU_BINARY, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    available = r.status === 0;
  }
  return available;
}

/** The first line of `qemu-system-x86_64 --version`, or null. */
export function qemuVersion(): string | null {
  const r = spawnSync(QEMU_BINARY, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? null) : null;
}

/** Boot an image under QEMU TCG and return its console output. */
export function runUnderQemu(imagePath: string, opts: QemuOptions): QemuResult {
  const args = qemuArgs(imagePath, opts.cpu ?? QEMU_DEFAULT_CPU, opts.memoryMiB ?? 128);
  const r = spawnSync(QEMU_BINARY, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  const err = r.error as NodeJS.ErrnoException | undefined;
  const timedOut = err?.code === 'ETIMEDOUT';
  if (err && !timedOut) {
    if (err.code === 'ENOENT') throw new Error(`${QEMU_BINARY} not found: install QEMU (Debian package qemu-system-x86)`);
    throw new Error(`running ${QEMU_BINARY}: ${err.message}`);
  }
  const exitCode = timedOut ? null : r.status;
  return {
    console: r.stdout ? r.stdout.toString('latin1') : '',
    exitCode,
    exitValue: exitCode !== null && (exitCode & 1) === 1 ? exitCode >>> 1 : null,
    timedOut,
    stderr: r.stderr ? r.stderr.toString('utf8') : '',
    command: [QEMU_BINARY, ...args],
  };
}
