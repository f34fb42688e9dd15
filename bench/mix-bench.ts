// `npm run bench`, its kernel-heavy part (issue 18, point 2): guests/linux-entry built with
// LINUX_MIX_BENCH = N runs N iterations of a fixed mix (guests/linux-entry/mix.h: getpid round
// trips, page faults the kernel resolves and returns from, a REP MOVSQ copy, a pointer chase over
// twice as many 4 KiB pages as Ringside's TLB holds, under the periodic local APIC timer), about
// one transition per 200 guest instructions.  For native/idt and native/fred (the same image: the
// kernel enables FRED where CPUID enumerates it) and for QEMU TCG it prints instructions per
// second, transitions per second, instructions per transition, iterations per second, and the
// ratio of Ringside's iterations per second to QEMU's (the target of later work: 0.1).
//
// As for the other figures, building with N and with 0 and subtracting removes boot, the timer's
// calibration and the set-up of the chase: rate = (x(N) - x(0)) / (t(N) - t(0)).  On Ringside the
// run counts instructions and transitions itself; the transitions must be two per round trip,
// fault and tick the guest counted (checked, so that a profile that took another path is not
// measured as this one).
//
// QEMU runs the image with -icount shift=0,sleep=off, as the interrupt figure does
// (bench/irq-bench.ts): its APIC timer then counts instructions as Ringside's does, so the ticks
// come at the same virtual times and the mix is the same one (in plain TCG the timer runs on the
// host clock, where 1600 ns are less than an iteration takes: the ticks pile up, the run is
// slower than with -icount, and the guest fails its tick-window check).  QEMU counts no instructions
// for us: its figure is the window's virtual time in timer counts, which the guest measures
// with the TSC (mix.window_counts: one count per instruction under -icount shift=0), and its
// transitions are those the guest counted (round trips, faults, ticks).  QEMU 7.2's periodic
// timer fires every period + 1 counts (test/linux-entry-irq.test.ts), so it takes a few ticks
// fewer.  QEMU is faster and its start-up time varies by tens of milliseconds, so it runs a
// larger count (with -icount, and TLB misses on every chase step, only about 3 times faster:
// 2 x N keeps its run above a few seconds).
//
// Environment: BENCH_MIX (iterations on Ringside, default 20000), BENCH_MIX_QEMU (default
// 2 x BENCH_MIX), BENCH_REPEAT (best of; default 3).

import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { buildGuest } from '../src/guest/build.js';
import { QEMU_BINARY, qemuArgs, qemuAvailable } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';

const TARGET_RATIO = 0.1;

function image(n: number): string {
  return buildGuest('linux-entry', { defines: { LINUX_MIX_BENCH: n } });
}

function field(console: string, name: string): number {
  const v = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\S+)`, 'm').exec(console)?.[1];
  if (v === undefined) throw new Error(`the guest printed no ${name}`);
  return Number(v);
}

/** What one run of the mix did, from the guest's lines. */
interface Counts { getpid: number; faults: number; ticks: number; window: number; sum: string }

function counts(console: string): Counts {
  return {
    getpid: field(console, 'mix.kernel.getpid'),
    faults: field(console, 'mix.kernel.faults'),
    ticks: field(console, 'mix.ticks'),
    window: field(console, 'mix.window_counts'),
    sum: /^mix\.chase_sum: (\S+)/m.exec(console)?.[1] ?? '?',
  };
}

/** The loop's figures: the difference of the N and the 0 runs. */
interface Figures { iterations: number; insns: number; transitions: number; seconds: number; ticks: number }

function rates(f: Figures): string {
  return (
    `${(f.insns / f.seconds / 1e6).toFixed(1)} M insn/s, ${(f.transitions / f.seconds / 1e6).toFixed(3)} M transitions/s,` +
    ` ${(f.insns / f.transitions).toFixed(1)} instructions per transition, ${(f.iterations / f.seconds / 1e3).toFixed(1)} k iterations/s`
  );
}

function ringside(profile: string, n: number, repeat: number): Figures {
  const run = (k: number): { insns: number; transitions: number; seconds: number; counts: Counts } => {
    const img = image(k);
    let best = Infinity, insns = -1, transitions = 0, console = '';
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const r = runImage(img, { profile });
      const s = (performance.now() - t0) / 1000;
      const what = `linux-entry (LINUX_MIX_BENCH=${k}) on ${profile}`;
      if (r.verdict !== 'success') throw new Error(`${what}: ${r.verdict}: ${r.reason}`);
      if (insns >= 0 && r.instructions !== insns) throw new Error(`${what} is not deterministic`);
      insns = r.instructions;
      transitions = r.transitions;
      console = r.console;
      best = Math.min(best, s);
    }
    return { insns, transitions, seconds: best, counts: counts(console) };
  };
  const r0 = run(0);
  const rN = run(n);
  const events = rN.counts.getpid - r0.counts.getpid + rN.counts.faults - r0.counts.faults + rN.counts.ticks - r0.counts.ticks;
  const transitions = rN.transitions - r0.transitions;
  if (transitions !== 2 * events) throw new Error(`${profile}: ${transitions} transitions for ${events} round trips, faults and ticks, not 2 each`);
  return { iterations: n, insns: rN.insns - r0.insns, transitions, seconds: rN.seconds - r0.seconds, ticks: rN.counts.ticks - r0.counts.ticks };
}

function qemuOnce(n: number): { seconds: number; counts: Counts } {
  const args = [...qemuArgs(image(n)), '-icount', 'shift=0,sleep=off'];
  const t0 = performance.now();
  const r = spawnSync(QEMU_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, killSignal: 'SIGKILL' });
  const seconds = (performance.now() - t0) / 1000;
  const out = r.stdout ? r.stdout.toString('latin1') : '';
  const what = `linux-entry (LINUX_MIX_BENCH=${n}) under QEMU`;
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (!/^Test result: SUCCESS/m.test(out)) throw new Error(`${what} did not succeed: ${out.split('\n').find((l) => l.startsWith('FAIL')) ?? 'no result line'}`);
  return { seconds, counts: counts(out) };
}

function qemu(q: number, repeat: number): Figures {
  let t0 = Infinity, tQ = Infinity;
  let c0: Counts | undefined, cQ: Counts | undefined;
  for (let i = 0; i < repeat; i++) {
    const a = qemuOnce(0);
    const b = qemuOnce(q);
    t0 = Math.min(t0, a.seconds);
    tQ = Math.min(tQ, b.seconds);
    c0 = a.counts;
    cQ = b.counts;
  }
  const seconds = tQ - t0;
  if (seconds <= 0) throw new Error(`no measurable time for ${q} iterations; raise BENCH_MIX_QEMU`);
  const events = cQ!.getpid - c0!.getpid + cQ!.faults - c0!.faults + cQ!.ticks - c0!.ticks;
  return { iterations: q, insns: cQ!.window - c0!.window, transitions: 2 * events, seconds, ticks: cQ!.ticks - c0!.ticks };
}

export function mixBench(n: number, q: number, repeat: number): void {
  if (n < 1 || q < 1) throw new Error('BENCH_MIX and BENCH_MIX_QEMU must be at least 1');
  console.log(`kernel-heavy mix: guests/linux-entry LINUX_MIX_BENCH, N = ${n} iterations on Ringside, ${q} on QEMU (guests/linux-entry/mix.h)`);
  const results: [string, Figures][] = [];
  for (const profile of ['native/idt', 'native/fred']) {
    const f = ringside(profile, n, repeat);
    results.push([profile, f]);
    console.log(`  ${profile.padEnd(11)}: ${rates(f)}  (${f.insns} instructions, ${f.transitions} transitions, ${f.ticks} ticks, ${f.seconds.toFixed(3)} s)`);
  }
  try {
    if (!qemuAvailable()) throw new Error('qemu-system-x86_64 is not installed (bash .ci/setup installs it)');
    // The same N under QEMU computes the same chase: the two ran the same program.
    const same = qemuOnce(n).counts;
    const sum = counts(runImage(image(n), { profile: 'native/idt' }).console).sum;
    if (same.sum !== sum) console.log(`  note: the chase's sums differ: Ringside ${sum}, QEMU ${same.sum}`);
    const f = qemu(q, repeat);
    console.log(
      `  QEMU TCG -icount shift=0,sleep=off (idt): ${rates(f)}  (${f.insns} instructions by virtual time, ${f.transitions} transitions, ${f.ticks} ticks, ${f.seconds.toFixed(3)} s)`,
    );
    for (const [profile, r] of results) {
      const ratio = r.iterations / r.seconds / (f.iterations / f.seconds);
      console.log(`  ratio: Ringside ${profile} / QEMU TCG = ${ratio.toFixed(4)} of the iterations/s (target ${TARGET_RATIO}, later work: ${ratio >= TARGET_RATIO ? 'PASS' : 'BELOW'})`);
    }
  } catch (e) {
    console.log(`  QEMU TCG: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
}
