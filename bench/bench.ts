// `npm run bench`: Ringside's speed on the `bench` guest, against QEMU TCG.
//
// The guest runs a loop BENCH_ITERS times. Building it with N iterations and
// with 0 and subtracting removes boot and shutdown, so the figures are for the
// loop alone:  rate = (insns(N) - insns(0)) / (t(N) - t(0)).
//
// QEMU does not count instructions, but the guest is deterministic, so the
// loop retires the same instructions there as on Ringside (the guest prints a
// checksum of its final state; Ringside's and QEMU's must agree). QEMU is far
// faster and its start-up time varies by tens of milliseconds, so it runs a
// larger count Q (default 10 × N) to make the difference measurable; the
// loop's instruction count is linear in the iterations (checked on Ringside
// with two small counts), so insns(Q) - insns(0) = Q × per-iteration count.
//
// Environment: BENCH_ITERS (default 2000000), BENCH_QEMU_ITERS (default 10 × N),
// BENCH_REPEAT (runs of each, best kept; default 3). Counts should be
// multiples of 8: the loop does extra work every 8th iteration.
// BENCH_SYSCALLS: the system-call round trips of the system-call section (bench/syscall-bench.ts);
// BENCH_IRQS: the timer interrupts of the interrupt section (bench/irq-bench.ts);
// BENCH_MIX, BENCH_MIX_QEMU: the iterations of the kernel-heavy mix (bench/mix-bench.ts).
// BENCH_XEN_SYSCALLS, BENCH_XEN_HYPERCALLS, BENCH_XEN_EVENTS, BENCH_XEN_PTROUNDS: the PV round trips of the Xen section (bench/xen-bench.ts).
// BENCH_SECTIONS: the sections to run, comma-separated, of cpu, transitions, syscalls, irqs, mix, xen
// (default all of them, in that order).

import { performance } from 'node:perf_hooks';
import { buildGuest } from '../src/guest/build.js';
import { qemuAvailable, runUnderQemu, type QemuResult } from '../src/lab/qemu.js';
import { runImage, type RunResult } from '../src/lab/run.js';
import { irqBench } from './irq-bench.js';
import { mixBench } from './mix-bench.js';
import { syscallBench } from './syscall-bench.js';
import { xenBench } from './xen-bench.js';

const FLOOR = 30e6;
const PROFILE = 'native/idt';

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number (got '${v}')`);
  return n;
}

const N = envInt('BENCH_ITERS', 2_000_000);
const Q = envInt('BENCH_QEMU_ITERS', 10 * N);
/** Small count for the per-iteration cost (a multiple of 8). */
const K = 1000;
const REPEAT = Math.max(1, envInt('BENCH_REPEAT', 3));
const SECTIONS = ['cpu', 'transitions', 'syscalls', 'irqs', 'mix', 'xen'] as const;

function sections(): Set<string> {
  const v = process.env.BENCH_SECTIONS;
  if (v === undefined || v === '') return new Set(SECTIONS);
  const chosen = v.split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`BENCH_SECTIONS: unknown section(s) ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  return new Set(chosen);
}

function build(iters: number): string {
  return buildGuest('bench', { defines: { BENCH_ITERS: iters } });
}

function ringside(path: string, label: string): { result: RunResult; seconds: number } {
  let best = Infinity;
  let result: RunResult | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const r = runImage(path, { profile: PROFILE });
    const s = (performance.now() - t0) / 1000;
    if (r.verdict !== 'success') throw new Error(`bench guest (${label}) on Ringside: ${r.verdict}: ${r.reason}`);
    if (result && r.instructions !== result.instructions) throw new Error(`bench guest (${label}) is not deterministic: ${result.instructions} then ${r.instructions} instructions`);
    result = r;
    best = Math.min(best, s);
  }
  return { result: result!, seconds: best };
}

function qemuOnce(path: string, label: string): QemuResult {
  const r = runUnderQemu(path, { timeoutMs: 300_000 });
  if (r.timedOut) throw new Error(`bench guest (${label}) timed out under QEMU`);
  if (!/^Test result: SUCCESS/m.test(r.console)) throw new Error(`bench guest (${label}) did not succeed under QEMU: ${r.stderr.split('\n')[0] || 'no result line'}`);
  return r;
}

function qemu(path: string, label: string): number {
  let best = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    qemuOnce(path, label);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

function checksum(console: string): string | null {
  return /^checksum: (\S+)/m.exec(console)?.[1] ?? null;
}

const M = (rate: number): string => `${(rate / 1e6).toFixed(1)} M insn/s`;

function main(): void {
  const run = sections();
  if (run.has('cpu')) cpu();
  if (run.has('transitions')) transitions();
  if (run.has('syscalls')) syscallBench(envInt('BENCH_SYSCALLS', 200_000), REPEAT);
  if (run.has('irqs')) irqBench(envInt('BENCH_IRQS', 100_000), REPEAT);
  if (run.has('mix')) {
    const mix = envInt('BENCH_MIX', 20_000);
    mixBench(mix, envInt('BENCH_MIX_QEMU', 2 * mix), REPEAT);
  }
  if (run.has('xen')) xenBench(envInt('BENCH_XEN_SYSCALLS', 100_000), envInt('BENCH_XEN_HYPERCALLS', 200_000), envInt('BENCH_XEN_EVENTS', 100_000), envInt('BENCH_XEN_PTROUNDS', 5_000), envInt('BENCH_SYSCALLS', 200_000), REPEAT);
}

/** The CPU's speed on the bench guest, against QEMU TCG (the header). */
function cpu(): void {
  if (N < 1) throw new Error('BENCH_ITERS must be at least 1');
  console.log(`bench guest, ${PROFILE}: N = ${N} iterations on Ringside, ${Q} on QEMU; best of ${REPEAT} runs each`);

  const img0 = build(0);
  const imgN = build(N);
  const r0 = ringside(img0, 'BENCH_ITERS=0');
  const rN = ringside(imgN, `BENCH_ITERS=${N}`);
  const loopInsns = rN.result.instructions - r0.result.instructions;
  const perIter = loopInsns / N;
  const rs = loopInsns / (rN.seconds - r0.seconds);
  console.log(
    `Ringside: ${M(rs)}  (loop: ${loopInsns} instructions, ${perIter.toFixed(2)} per iteration, in ${(rN.seconds - r0.seconds).toFixed(3)} s;` +
      ` whole run ${rN.result.instructions} instructions in ${rN.seconds.toFixed(3)} s)`,
  );

  // The loop's cost per iteration, from builds with K, 2K and 4K iterations (same
  // code shape; an N = 0 build differs by a few hundred set-up instructions the
  // compiler drops), checked linear, so QEMU's count can be extrapolated.
  const [rK, r2K, r4K] = [K, 2 * K, 4 * K].map((k) => runImage(build(k), { profile: PROFILE }).instructions);
  const perIterExact = (r2K - rK) / K;
  if (r4K - r2K !== 2 * (r2K - rK)) console.log(`note: the loop's instruction count is not linear in its iterations; QEMU's count is approximate`);

  let qs: number | null = null;
  try {
    if (!qemuAvailable()) throw new Error('qemu-system-x86_64 is not installed (bash .ci/setup installs it)');
    const same = checksum(qemuOnce(imgN, `BENCH_ITERS=${N}`).console);
    if (same !== checksum(rN.result.console)) {
      console.log(`note: checksums differ: Ringside ${checksum(rN.result.console)}, QEMU ${same}: the two did not run the same computation`);
    }
    const imgQ = build(Q);
    const q0 = qemu(img0, 'BENCH_ITERS=0');
    const qQ = qemu(imgQ, `BENCH_ITERS=${Q}`);
    const qLoop = Math.round(perIterExact * Q);
    const dt = qQ - q0;
    if (dt <= 0) throw new Error(`QEMU took no measurable extra time for ${Q} iterations (${qQ.toFixed(3)} s vs ${q0.toFixed(3)} s); raise BENCH_QEMU_ITERS`);
    qs = qLoop / dt;
    console.log(`QEMU TCG: ${M(qs)}  (loop: ${qLoop} instructions in ${dt.toFixed(3)} s; start-up and boot ${q0.toFixed(3)} s)`);
  } catch (e) {
    console.log(`QEMU TCG: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
  if (qs !== null) console.log(`ratio: Ringside / QEMU TCG = ${(rs / qs).toFixed(3)} (QEMU TCG ${(qs / rs).toFixed(1)}× faster)`);
  console.log(`floor ${FLOOR / 1e6} M insn/s: ${rs >= FLOOR ? 'PASS' : 'BELOW'}`);
}

/**
 * The cost of transitions and of tracing them: the loop with an INT 0x81 round trip per
 * iteration (BENCH_TRAP=1: a delivery and an IRETQ, two transitions), T iterations,
 * run with no trace sink and with a sink that only counts the records it is handed.
 * Tracing off is the default everywhere; its cost is the one test per transition that
 * finds no sink, included in every figure above.
 */
function transitions(): void {
  const T = Math.max(8, Math.floor(N / 10 / 8) * 8);
  const img0 = buildGuest('bench', { defines: { BENCH_ITERS: 0, BENCH_TRAP: 1 } });
  const imgT = buildGuest('bench', { defines: { BENCH_ITERS: T, BENCH_TRAP: 1 } });
  const measure = (traced: boolean): { insns: number; transitions: number; seconds: number; records: number } => {
    let best = Infinity, insns = 0, trans = 0, records = 0;
    for (let i = 0; i < REPEAT; i++) {
      let count = 0;
      const t0 = performance.now();
      const r0 = runImage(img0, { profile: PROFILE, trace: traced ? (): void => {} : undefined });
      const t1 = performance.now();
      const rT = runImage(imgT, { profile: PROFILE, trace: traced ? (): void => { count++; } : undefined });
      const t2 = performance.now();
      if (rT.verdict !== 'success') throw new Error(`bench guest (BENCH_TRAP=1) on Ringside: ${rT.verdict}: ${rT.reason}`);
      best = Math.min(best, (t2 - t1 - (t1 - t0)) / 1000);
      insns = rT.instructions - r0.instructions;
      trans = rT.transitions - r0.transitions;
      records = count;
    }
    return { insns, transitions: trans, seconds: best, records };
  };
  const off = measure(false);
  const on = measure(true);
  if (off.transitions !== 2 * T) console.log(`note: expected ${2 * T} transitions in the loop, counted ${off.transitions}`);
  const line = (label: string, m: typeof off): string =>
    `${label}: ${M(m.insns / m.seconds)}, ${(m.transitions / m.seconds / 1e6).toFixed(2)} M transitions/s` +
    ` (${m.insns} instructions, ${m.transitions} transitions, ${(m.insns / m.transitions).toFixed(1)} instructions per transition, ${m.seconds.toFixed(3)} s)`;
  console.log(`transitions: the loop with an INT 0x81 round trip per iteration, T = ${T} iterations`);
  console.log(line('  tracing off', off));
  console.log(line('  tracing on ', on) + `; ${on.records} records built`);
  console.log(`  tracing on / off = ${(off.seconds / on.seconds).toFixed(3)} of the speed`);
}

try {
  main();
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
}
