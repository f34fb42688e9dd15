// `npm run bench`, its system-call part (issue 14, point 6; issue 17, point 10): getpid() round
// trips per second for a user loop under the Linux-style kernel (guests/linux-entry built with
// LINUX_BENCH_ITERS = N), the same image on native/idt (SYSCALL -> SYSRET) and on native/fred
// (SYSCALL delivered as a FRED event -> ERETU: the kernel enables FRED when CPUID enumerates it),
// the guest instructions per round trip on each and the ratio fred/idt; and, in the same run,
// the same loop natively on this machine: a tiny C program built with gcc into .cache/bench/
// (syscall(SYS_getpid), so that no library caches the result), with the ratio.
//
// As for the CPU figure, building with N and with 0 and subtracting removes boot and shutdown:
// round trips/s = N / (t(N) - t(0)), instructions per round trip = (insns(N) - insns(0)) / N.
// Each round trip must be two transitions (the entry and the return): checked, so that a
// profile that took another path (an IRET exit, a fault) is not measured as this one.
//
// Environment: BENCH_SYSCALLS (default 200000), BENCH_REPEAT (best of; default 3).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildGuest, repoRoot } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';

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
export function nativeRate(iterations: number, repeat: number): number {
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

export interface Rate { rate: number; perTrip: number; seconds: number }

/** getpid() round trips of guests/linux-entry (LINUX_BENCH_ITERS) under `profile`: N - 0 over
 *  the time difference, each run best of `repeat`; each round trip must be two transitions. */
export function getpidRoundTrips(profile: string, iterations: number, repeat: number): Rate {
  const images = [0, iterations].map((n) => buildGuest('linux-entry', { defines: { LINUX_BENCH_ITERS: n } }));
  const run = (k: number): { insns: number; transitions: number; seconds: number } => {
    const n = k === 0 ? 0 : iterations;
    let best = Infinity, insns = -1, transitions = 0;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const r = runImage(images[k], { profile });
      const s = (performance.now() - t0) / 1000;
      const what = `linux-entry (LINUX_BENCH_ITERS=${n}) on ${profile}`;
      if (r.verdict !== 'success') throw new Error(`${what}: ${r.verdict}: ${r.reason}`);
      if (!r.console.includes(`bench.round_trips: ${n}\n`)) throw new Error(`${what} did not report its round trips`);
      if (insns >= 0 && r.instructions !== insns) throw new Error(`${what} is not deterministic`);
      insns = r.instructions;
      transitions = r.transitions;
      best = Math.min(best, s);
    }
    return { insns, transitions, seconds: best };
  };
  const r0 = run(0);
  const rN = run(1);
  const perTransitions = (rN.transitions - r0.transitions) / iterations;
  if (perTransitions !== 2) throw new Error(`${profile}: ${perTransitions} transitions per round trip, not 2 (entry and return)`);
  const seconds = rN.seconds - r0.seconds;
  return { rate: iterations / seconds, perTrip: (rN.insns - r0.insns) / iterations, seconds };
}

export function syscallBench(iterations: number, repeat: number): void {
  const line = (label: string, m: Rate): string =>
    `  ${label}: ${(m.rate / 1e6).toFixed(3)} M round trips/s (${m.perTrip.toFixed(1)} guest instructions per round trip,` +
    ` ${((m.perTrip * m.rate) / 1e6).toFixed(1)} M insn/s, ${m.seconds.toFixed(3)} s)`;
  console.log(`system calls: getpid() round trips under guests/linux-entry, N = ${iterations}`);
  const idt = getpidRoundTrips('native/idt', iterations, repeat);
  console.log(line('native/idt, SYSCALL -> SYSRET ', idt));
  const fred = getpidRoundTrips('native/fred', iterations, repeat);
  console.log(line('native/fred, SYSCALL -> ERETU', fred));
  console.log(`  fred / idt: ${(fred.rate / idt.rate).toFixed(3)} of the round trips/s, ${(fred.perTrip / idt.perTrip).toFixed(3)} of the instructions per round trip`);
  let native: number | null = null;
  try {
    native = nativeRate(Math.max(iterations, 1_000_000), repeat);
    console.log(`  this machine, natively: ${(native / 1e6).toFixed(3)} M round trips/s (syscall(SYS_getpid), gcc -O2)`);
  } catch (e) {
    console.log(`  this machine, natively: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
  if (native !== null) console.log(`  ratio: Ringside (native/idt) / native = ${(idt.rate / native).toFixed(4)} (native ${(native / idt.rate).toFixed(1)}× faster)`);
  console.log(`  target ${TARGET / 1e6} M round trips/s (native/idt): ${idt.rate >= TARGET ? 'PASS' : 'BELOW'}`);
}
