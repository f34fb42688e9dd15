// The PV machine's events and time where a guest cannot see them (the guest-visible ABI is
// stated by guests/pv-evtchn and guests/pv-timer, run against real Xen 4.17): a vCPU that
// blocks with nothing that can ever wake it ends the run halted (Xen would idle for ever);
// while a vCPU is blocked, virtual time skips to the next deadline (common/sched/core.c
// do_poll's poll_timer); and a machine captured with a blocked vCPU, a timer armed and
// ports bound runs on after a restore exactly as it would have.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPvImage, consoleWrite, shutdown } from './helpers/pv-image.js';
import { assertRestoredRun } from './helpers/restore-run.js';
import { runImage } from '../src/lab/run.js';
import { buildGuest } from '../src/guest/build.js';

const WOKE = consoleWrite('woke\n');

/** sched_op(SCHEDOP_poll, &{ports, nr_ports 0, timeout}) with an absolute timeout. */
function pollUntil(timeoutNs: number): string {
  return `
        mov     $3, %edi
        lea     pollarg(%rip), %rsi
        call    hypercall_page + 29 * 32
        .pushsection .data
        .balign 8
pollarg: .quad 0, 0, ${timeoutNs}
        .popsection
`;
}

const BLOCK = `
        mov     $1, %edi
        xor     %esi, %esi
        call    hypercall_page + 29 * 32
`;

/** set_timer_op(deadline): the single-shot timer, with VIRQ_TIMER unbound. */
function setTimer(deadlineNs: number): string {
  return `
        mov     $${deadlineNs}, %rdi
        call    hypercall_page + 15 * 32
`;
}

describe('blocking (sched_op block and poll)', () => {
  for (const dom0 of [true, false]) {
    it(`SCHEDOP_block with no event source ends the run halted (${dom0 ? 'dom0' : 'domU'})`, () => {
      const r = runImage(buildPvImage(BLOCK + WOKE + shutdown(0)), { profile: 'xen/idt', dom0, maxInsns: 1e6 });
      assert.equal(r.verdict, 'crash', r.reason);
      assert.match(r.reason, /halted/);
      assert.doesNotMatch(r.console, /woke/);
    });
  }

  it('a single-shot timer with VIRQ_TIMER unbound does not wake a blocked vCPU', () => {
    // vcpu_singleshot_timer_fn -> send_guest_vcpu_virq: no port, nothing raised, no kick.
    const r = runImage(buildPvImage(setTimer(2_000_000) + BLOCK + WOKE + shutdown(0)), { profile: 'xen/idt', dom0: true, maxInsns: 1e8 });
    assert.equal(r.verdict, 'crash', r.reason);
    assert.match(r.reason, /halted/);
    assert.doesNotMatch(r.console, /woke/);
    assert.ok(r.instructions >= 2_000_000, `time reached the timer's deadline (${r.instructions})`);
  });

  it('a poll with a timeout sleeps until the deadline: virtual time skips to it', () => {
    const deadline = 30_000_000; // 30 ms of system time: ticks
    const r = runImage(buildPvImage(pollUntil(deadline) + WOKE + shutdown(0)), { profile: 'xen/idt', dom0: true, maxInsns: 1e8 });
    assert.match(r.console, /woke/);
    assert.ok(r.instructions >= deadline && r.instructions < deadline + 100_000, `woke at tick ${r.instructions}`);
  });

  it('a poll whose timeout has passed returns at once', () => {
    const r = runImage(buildPvImage(pollUntil(1) + WOKE + shutdown(0)), { profile: 'xen/idt', dom0: true, maxInsns: 1e8 });
    assert.match(r.console, /woke/);
    assert.ok(r.instructions < 100_000, `returned at tick ${r.instructions}`);
  });
});

describe('capture and restore of events and timers', () => {
  for (const [guest, dom0] of [['pv-timer', true], ['pv-timer', false], ['pv-evtchn', false]] as const) {
    it(`${guest} (${dom0 ? 'dom0' : 'domU'}) restored mid-run ends as the uninterrupted run does`, () => {
      const image = buildGuest(guest);
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      // pv-timer's first SCHEDOP_block sleeps until its 20 ms deadline: 10M ticks in, the vCPU
      // is blocked with the single-shot timer armed and VIRQ_TIMER bound.
      const points = guest === 'pv-timer' ? [10_000_000, Math.floor(straight.instructions * 0.6)] : [Math.floor(straight.instructions / 2)];
      for (const at of points) {
        assertRestoredRun(image, { profile: 'xen/idt', dom0 }, straight, at, (first) => {
          if (at === 10_000_000) assert.ok(first.machine.cpu.halted, 'captured while blocked');
        });
      }
    });
  }
});
