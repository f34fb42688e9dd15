// The benchmark's kernel-heavy mix (guests/linux-entry built with LINUX_MIX_BENCH = N; issue 18,
// point 2) for a few iterations, on every native profile and under QEMU TCG with -icount: what
// bench/mix-bench.ts relies on when it times it.
// - Its counts are the proportions guests/linux-entry/mix.h fixes (read here from the header):
//   N * MIX_GETPID getpid calls reach the kernel and return the pid; N * MIX_FAULTS reads of the
//   file mapping fault (SDM Vol. 3A §4.7: a user read of a not-present page is a #PF), the kernel
//   maps the page and the read, re-executed (§6.15, #PF is a fault), returns the file's word;
//   each fault but the first evicts the page before; N copies; N * MIX_CHASE_STEPS chase steps.
// - The chase's sum equals the one computed here from the visiting order (page s * STRIDE mod
//   PAGES at step s, its node holding page + 1): every load went through the region's 4 KiB
//   translations to the right frame; and the chase spans more pages than Ringside's TLB holds.
// - The timer ticks: every one interrupts user mode (the kernel runs with IF = 0: SYSCALL's
//   FMASK, interrupt gates, FRED delivery), as many as MIX_TIMER_PERIOD-count periods in the
//   window, within one (§11.5.4: periodic mode reloads at each expiry).
// - Transitions: two per round trip, fault and tick (a delivery and its return): the difference
//   between the N and the 0 runs is 2 * (round trips + faults + ticks).
// QEMU, with -icount shift=0 (its APIC timer then counts instructions, as Ringside's does),
// must succeed with the same counts and the same sum; its periodic timer fires every period + 1
// counts (test/linux-entry-irq.test.ts), which the guest accepts and reports.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildGuest, repoRoot } from '../src/guest/build.js';
import { TLB_SIZE } from '../src/cpu/tlb.js';
import { QEMU_BINARY, qemuArgs, qemuAvailable } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';
import { QEMU_MISSING, consoleValues } from './helpers/guest-console.js';

const N = 40;

/** The proportions, as the guest is built with them. */
function constants(): Record<string, number> {
  const text = readFileSync(join(repoRoot(), 'guests', 'linux-entry', 'mix.h'), 'utf8');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^#define (MIX_[A-Z_]+)\s+(\d+)\b/gm)) out[m[1]] = Number(m[2]);
  for (const k of ['MIX_GETPID', 'MIX_FAULTS', 'MIX_COPY_BYTES', 'MIX_CHASE_STEPS', 'MIX_CHASE_PAGES', 'MIX_CHASE_STRIDE', 'MIX_TIMER_PERIOD']) {
    assert.ok(Number.isInteger(out[k]), `mix.h defines ${k}`);
  }
  return out;
}

const image = (n: number): string => buildGuest('linux-entry', { defines: { LINUX_MIX_BENCH: n } });

/** The chase's sum after `steps` steps from page 0, step by step. */
function chaseSum(steps: number, pages: number, stride: number): bigint {
  let sum = 0n;
  for (let s = 0; s < steps; s++) sum += BigInt(((s * stride) % pages) + 1);
  return sum;
}

/** The transcript's counts against the constants; returns the ticks. */
function checkCounts(console: string, where: string, periods: number[]): number {
  const c = constants();
  const m = consoleValues(console);
  const num = (k: string): number => Number(m.get(k));
  assert.equal(num('mix.iterations'), N, `${where}: iterations`);
  assert.equal(num('mix.kernel.getpid'), N * c.MIX_GETPID, `${where}: getpid calls the kernel took`);
  assert.equal(num('mix.getpid'), N * c.MIX_GETPID, `${where}: getpid calls that returned the pid`);
  assert.equal(num('mix.kernel.faults'), N * c.MIX_FAULTS, `${where}: faults the kernel resolved`);
  assert.equal(num('mix.kernel.evictions'), N * c.MIX_FAULTS - 1, `${where}: pages unmapped to make room`);
  assert.equal(num('mix.file_reads'), N * c.MIX_FAULTS, `${where}: faulting reads that returned the file's word`);
  assert.equal(num('mix.copies'), N, `${where}: copies that carried their source`);
  assert.equal(num('mix.chase_steps'), N * c.MIX_CHASE_STEPS, `${where}: chase steps`);
  const want = chaseSum(N * c.MIX_CHASE_STEPS, c.MIX_CHASE_PAGES, c.MIX_CHASE_STRIDE);
  assert.equal(BigInt(m.get('mix.chase_sum') ?? 'x'), want, `${where}: the chase's sum`);
  const ticks = num('mix.ticks');
  assert.ok(ticks >= N / 2, `${where}: ${ticks} ticks in ${N} iterations (about one an iteration)`);
  assert.equal(num('mix.ticks_from_user'), ticks, `${where}: every tick interrupted user mode`);
  const period = num('mix.timer.counts_per_tick');
  assert.ok(periods.map((p) => c.MIX_TIMER_PERIOD + p).includes(period), `${where}: counts per tick ${period}`);
  assert.ok(Math.abs(Math.floor(num('mix.window_counts') / period) - ticks) <= 1, `${where}: ${ticks} ticks in ${num('mix.window_counts')} counts`);
  return ticks;
}

test('the mix chases over more pages than the TLB holds', () => {
  const c = constants();
  assert.ok(c.MIX_CHASE_PAGES > TLB_SIZE, `${c.MIX_CHASE_PAGES} pages, TLB ${TLB_SIZE} entries`);
  assert.equal(c.MIX_CHASE_STRIDE % 2, 1, 'an odd stride visits every page of a power-of-two cycle');
});

for (const profile of ['native/idt', 'native/idt-amd', 'native/fred']) {
  test(`linux-entry LINUX_MIX_BENCH=${N}: counts as mix.h fixes them, two transitions each (${profile})`, () => {
    const c = constants();
    const r0 = runImage(image(0), { profile, timeoutMs: 120_000 });
    const rN = runImage(image(N), { profile, timeoutMs: 120_000 });
    assert.equal(r0.verdict, 'success', `${r0.reason}\n${r0.console}`);
    assert.equal(rN.verdict, 'success', `${rN.reason}\n${rN.console}`);
    assert.equal(consoleValues(rN.console).get('kernel.fred'), profile === 'native/fred' ? 'enabled' : 'not enumerated');
    const ticks = checkCounts(rN.console, profile, [0]);
    const ticks0 = Number(consoleValues(r0.console).get('mix.ticks'));
    const events = N * (c.MIX_GETPID + c.MIX_FAULTS) + ticks - ticks0;
    assert.equal(rN.transitions - r0.transitions, 2 * events, `${profile}: transitions for ${events} round trips, faults and ticks`);
  });
}

test(`linux-entry LINUX_MIX_BENCH=${N} under QEMU TCG -icount shift=0,sleep=off`, () => {
  assert.ok(qemuAvailable(), QEMU_MISSING);
  const r = spawnSync(QEMU_BINARY, [...qemuArgs(image(N)), '-icount', 'shift=0,sleep=off'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  assert.equal(r.error, undefined, `QEMU: ${r.error?.message}`);
  const out = r.stdout.toString('latin1');
  assert.match(out, /^Test result: SUCCESS/m, out);
  checkCounts(out, 'QEMU', [0, 1]);
});
