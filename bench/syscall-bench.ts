// `npm run bench`, its system-call part (issue 14, point 6): SYSCALL -> SYSRET round trips per
// second for a user loop of getpid() calls under the Linux-style kernel (guests/linux-entry
// built with LINUX_BENCH_ITERS = N) on native/idt, the guest instructions per round trip, and,
// in the same run, the same loop natively on this machine: a tiny C program built with gcc into
// .cache/bench/ (syscall(SYS_getpid), so that no library caches the result), with the ratio.
//
// As for the CPU figure, building with N and with 0 and subtracting removes boot and shutdown:
// round trips/s = N / (t(N) - t(0)), instructions per round trip = (insns(N) - insns(0)) / N.
//
// Environment: BENCH_SYSCALLS (default 200000), BENCH_REPEAT (best of; default 3).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildGuest, repoRoot } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';

const PROFILE = 'native/idt';
const TARGET = 1e6;

const NATIVE_SOURCE = `#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.0f\\n", n / s);
    return 0;
}
`;

/** Native getpid() round trips per second on this machine (best of `repeat`). */
function nativeRate(iterations: number, repeat: number): number {
  const dir = join(repoRoot(), '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'getpid.c');
  const bin = join(dir, 'getpid');
  writeFileSync(src, NATIVE_SOURCE);
  execFileSync('gcc', ['-O2', '-o', bin, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  let best = 0;
  for (let i = 0; i < repeat; i++) {
    const out = execFileSync(bin, [String(iterations)], { encoding: 'utf8' });
    best = Math.max(best, Number(out.trim()));
  }
  return best;
}

export function syscallBench(iterations: number, repeat: number): void {
  const run = (n: number): { insns: number; seconds: number } => {
    const image = buildGuest('linux-entry', { defines: { LINUX_BENCH_ITERS: n } });
    let best = Infinity, insns = -1;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const r = runImage(image, { profile: PROFILE });
      const s = (performance.now() - t0) / 1000;
      if (r.verdict !== 'success') throw new Error(`linux-entry (LINUX_BENCH_ITERS=${n}) on Ringside: ${r.verdict}: ${r.reason}`);
      if (!r.console.includes(`bench.round_trips: ${n}\n`)) throw new Error(`linux-entry (LINUX_BENCH_ITERS=${n}) did not report its round trips`);
      if (insns >= 0 && r.instructions !== insns) throw new Error('linux-entry is not deterministic');
      insns = r.instructions;
      best = Math.min(best, s);
    }
    return { insns, seconds: best };
  };
  const r0 = run(0);
  const rN = run(iterations);
  const seconds = rN.seconds - r0.seconds;
  const perTrip = (rN.insns - r0.insns) / iterations;
  const rate = iterations / seconds;
  console.log(`system calls: getpid() by SYSCALL/SYSRET under guests/linux-entry, ${PROFILE}, N = ${iterations}`);
  console.log(
    `  Ringside: ${(rate / 1e6).toFixed(3)} M round trips/s (${perTrip.toFixed(1)} guest instructions per round trip,` +
      ` ${((perTrip * rate) / 1e6).toFixed(1)} M insn/s, ${seconds.toFixed(3)} s)`,
  );
  let native: number | null = null;
  try {
    native = nativeRate(Math.max(iterations, 1_000_000), repeat);
    console.log(`  this machine, natively: ${(native / 1e6).toFixed(3)} M round trips/s (syscall(SYS_getpid), gcc -O2)`);
  } catch (e) {
    console.log(`  this machine, natively: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
  if (native !== null) console.log(`  ratio: Ringside / native = ${(rate / native).toFixed(4)} (native ${(native / rate).toFixed(1)}× faster)`);
  console.log(`  target ${TARGET / 1e6} M round trips/s: ${rate >= TARGET ? 'PASS' : 'BELOW'}`);
}
