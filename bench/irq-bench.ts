// `npm run bench`, its interrupt part (issue 15, point 9): local APIC timer interrupts delivered
// and returned per second under the Linux-style kernel (guests/linux-entry built with
// LINUX_IRQ_BENCH = N): the timer in periodic mode every LINUX_IRQ_PERIOD counts (one count per
// tick of virtual time, i.e. per instruction: src/cpu/model.ts) interrupts a user program that
// spins; each interrupt is a delivery through the IDT from CPL 3, the kernel's entry (SWAPGS,
// pt_regs), its handler (count, EOI), the exit and IRETQ.  The guest checks that the N ticks
// spanned N periods of its TSC and that the spinning program's registers survived.
//
// As for the other figures, building with N and with 0 and subtracting removes boot, the
// timer's calibration (one one-shot tick, virtual time skipped by HLT) and shutdown:
//   interrupts/s = N / (t(N) - t(0)),  instructions per interrupt = (insns(N) - insns(0)) / N,
// which is the period by construction; the user loop's share is 3 instructions per iteration
// (user64.S irq_spin; the guest prints its iterations), the rest is the interrupt path.
//
// QEMU's figure for the same image, as a peer: only with -icount shift=0,sleep=off is QEMU's
// APIC timer (1 count per virtual ns) on an instruction clock like Ringside's (one instruction
// per ns); in plain TCG it runs on the host clock, where 100 counts are 100 ns, far less than
// one interrupt costs, and the guest never gets past its first periodic tick.
//
// Environment: BENCH_IRQS (default 100000), BENCH_REPEAT (best of; default 3).

import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { buildGuest } from '../src/guest/build.js';
import { QEMU_BINARY, qemuArgs, qemuAvailable } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';

const PROFILE = 'native/idt';
/** Instructions per iteration of the user program's spin loop (user64.S irq_spin). */
const SPIN_INSNS = 3;

function field(console: string, name: string): string | null {
  return new RegExp(`^${name.replace(/\./g, '\\.')}: (\\S+)`, 'm').exec(console)?.[1] ?? null;
}

function image(n: number): string {
  return buildGuest('linux-entry', { defines: { LINUX_IRQ_BENCH: n } });
}

function ringside(n: number, repeat: number): { insns: number; seconds: number; iterations: number; period: number } {
  const img = image(n);
  let best = Infinity, insns = -1, out = '';
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = runImage(img, { profile: PROFILE });
    const s = (performance.now() - t0) / 1000;
    if (r.verdict !== 'success') throw new Error(`linux-entry (LINUX_IRQ_BENCH=${n}) on Ringside: ${r.verdict}: ${r.reason}`);
    if (field(r.console, 'irq.ticks') !== String(n)) throw new Error(`linux-entry (LINUX_IRQ_BENCH=${n}) did not report its ${n} ticks`);
    if (insns >= 0 && r.instructions !== insns) throw new Error('linux-entry (LINUX_IRQ_BENCH) is not deterministic');
    insns = r.instructions;
    out = r.console;
    best = Math.min(best, s);
  }
  return { insns, seconds: best, iterations: Number(field(out, 'irq.user.iterations')), period: Number(field(out, 'irq.period')) };
}

/** One run under QEMU with an instruction clock; its wall time and console. */
function qemuOnce(n: number): { seconds: number; console: string } {
  const args = [...qemuArgs(image(n)), '-icount', 'shift=0,sleep=off'];
  const t0 = performance.now();
  const r = spawnSync(QEMU_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, killSignal: 'SIGKILL' });
  const seconds = (performance.now() - t0) / 1000;
  const out = r.stdout ? r.stdout.toString('latin1') : '';
  if (r.error) throw new Error(`linux-entry (LINUX_IRQ_BENCH=${n}) under QEMU: ${r.error.message}`);
  if (field(out, 'irq.ticks') !== String(n)) throw new Error(`linux-entry (LINUX_IRQ_BENCH=${n}) under QEMU did not report its ${n} ticks`);
  if (/^FAIL: irq\.user/m.test(out)) throw new Error(`linux-entry (LINUX_IRQ_BENCH=${n}) under QEMU: a register did not survive`);
  return { seconds, console: out };
}

export function irqBench(n: number, repeat: number): void {
  if (n < 1) throw new Error('BENCH_IRQS must be at least 1');
  const r0 = ringside(0, repeat);
  const rN = ringside(n, repeat);
  const seconds = rN.seconds - r0.seconds;
  const rate = n / seconds;
  const perIrq = (rN.insns - r0.insns) / n;
  const user = (SPIN_INSNS * (rN.iterations - r0.iterations)) / n;
  console.log(`interrupts: local APIC timer, periodic every ${rN.period} counts, under guests/linux-entry while a user program spins, ${PROFILE}, N = ${n}`);
  console.log(
    `  Ringside: ${(rate / 1e6).toFixed(3)} M interrupts/s delivered and returned (${perIrq.toFixed(1)} guest instructions per interrupt:` +
      ` ${(perIrq - user).toFixed(1)} in the interrupt path, ${user.toFixed(1)} in the user loop; ${((perIrq * rate) / 1e6).toFixed(1)} M insn/s, ${seconds.toFixed(3)} s)`,
  );
  try {
    if (!qemuAvailable()) throw new Error('qemu-system-x86_64 is not installed (bash .ci/setup installs it)');
    let q0 = Infinity, qN = Infinity, out = '';
    for (let i = 0; i < repeat; i++) {
      q0 = Math.min(q0, qemuOnce(0).seconds);
      const q = qemuOnce(n);
      qN = Math.min(qN, q.seconds);
      out = q.console;
    }
    const dt = qN - q0;
    if (dt <= 0) throw new Error(`no measurable time for ${n} interrupts; raise BENCH_IRQS`);
    const byTime = field(out, 'irq.ticks_by_time');
    console.log(
      `  QEMU TCG -icount shift=0,sleep=off: ${(n / dt / 1e6).toFixed(3)} M interrupts/s (${dt.toFixed(3)} s; ${field(out, 'irq.user.iterations')} user loop iterations,` +
        ` Ringside ${rN.iterations}; its TSC spans ${byTime} periods for ${n} ticks)`,
    );
    console.log(`  ratio: Ringside / QEMU = ${(rate / (n / dt)).toFixed(3)}`);
  } catch (e) {
    console.log(`  QEMU TCG: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
}
