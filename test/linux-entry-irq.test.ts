// The Linux-style kernel's local APIC timer interrupt (guests/linux-entry built with
// LINUX_IRQ_BENCH = N, the scenario `npm run bench` times; issue 15, point 9), for a few ticks:
// - the calibration's one-shot tick interrupts STI; HLT at CPL 0 (SDM HLT: an interrupt
//   resumes it), and the kernel returns from it;
// - the periodic timer (SDM Vol. 3A §11.5.4: the count reloads at each expiry) interrupts the
//   spinning user program N times, each from CPL 3 (SWAPGS in, the exit to user mode out),
//   and the N ticks span N periods of the TSC, within one (none lost, none extra);
// - every general register the program holds survives the N interrupts (Vol. 3A §6.14: the
//   handler returns to the interrupted state; the kernel saves and restores the rest).
// N is large enough that a period one count off (N + 1 instead of N, or N - 1) puts the window
// N / PERIOD = 3 periods away from N ticks.
// QEMU TCG runs the same image with an instruction clock (-icount shift=0), where its APIC timer
// counts instructions as Ringside's does.  QEMU 7.2's timer expires every initial count + 1
// counts (hw/intc/apic_common.c, apic_next_timer: d / (initial_count + 1)), where the SDM's
// periodic mode reloads the initial count when the count reaches 0 (§11.5.4): N ticks span
// N * (PERIOD + 1) / PERIOD periods there, which is accepted from QEMU alone.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { QEMU_BINARY, qemuArgs, qemuAvailable } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';
import { QEMU_MISSING, consoleValues } from './helpers/guest-console.js';

const N = 300;
const PERIOD = 100;
/** The calibration's one-shot count (10^9) is virtual time HLT skips, and counts as ticks. */
const MAX_INSNS = 2_000_000_000;
/** The spin loop's registers in the order the guest prints them, and their patterns. */
const PATTERNED = ['rax', 'rbx', 'rdx', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

const image = (): string => buildGuest('linux-entry', { defines: { LINUX_IRQ_BENCH: N, LINUX_IRQ_PERIOD: PERIOD } });

function checkTranscript(console: string, where: string, periodCounts = PERIOD): void {
  const m = consoleValues(console);
  assert.equal(m.get('irq.calibration.from_kernel'), '1', `${where}: the one-shot tick at CPL 0`);
  assert.equal(m.get('irq.period'), String(PERIOD));
  assert.equal(m.get('irq.ticks'), String(N), `${where}: ticks handled`);
  assert.equal(m.get('irq.from_user'), String(N), `${where}: every periodic tick interrupts CPL 3`);
  const byTime = Number(m.get('irq.ticks_by_time'));
  const want = Math.floor((N * periodCounts) / PERIOD);
  assert.ok(Math.abs(byTime - want) <= 1, `${where}: ${N} ticks in ${byTime} periods of the TSC, expected ${want} ± 1`);
  assert.ok(Number(m.get('irq.user.iterations')) > N, `${where}: the user program makes progress between ticks`);
  PATTERNED.forEach((reg, k) => {
    const want = '0x' + (0x1111111111111111n * BigInt(k + 1)).toString(16);
    assert.equal(m.get(`irq.user.${reg}`), want, `${where}: ${reg} after ${N} interrupts`);
  });
  assert.equal(m.get('irq.user.rsi'), '0x' + N.toString(16), `${where}: rsi (the loop's target)`);
}

for (const profile of ['native/idt', 'native/idt-amd']) {
  test(`linux-entry LINUX_IRQ_BENCH=${N}: timer ticks at CPL 0 and CPL 3 counted and returned from, registers kept (${profile})`, () => {
    const r = runImage(image(), { profile, maxInsns: MAX_INSNS, timeoutMs: 120_000 });
    assert.equal(r.verdict, 'success', `${r.reason}\n${r.console}`);
    checkTranscript(r.console, profile);
  });
}

test(`linux-entry LINUX_IRQ_BENCH=${N} under QEMU TCG -icount shift=0,sleep=off`, () => {
  assert.ok(qemuAvailable(), QEMU_MISSING);
  const r = spawnSync(QEMU_BINARY, [...qemuArgs(image()), '-icount', 'shift=0,sleep=off'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  assert.equal(r.error, undefined, `QEMU: ${r.error?.message}`);
  const out = r.stdout.toString('latin1');
  // The guest checks the window against N itself; under QEMU that check fails by QEMU's longer
  // period, and every other line must still pass.
  const fails = out.split('\n').filter((l) => l.startsWith('FAIL'));
  assert.deepEqual(fails, [`FAIL: ${N} ticks in a window of ${Math.floor((N * (PERIOD + 1)) / PERIOD)} periods`], out);
  checkTranscript(out, 'QEMU', PERIOD + 1);
});
