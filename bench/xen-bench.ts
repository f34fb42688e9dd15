// `npm run bench`, its Xen PV part (issue 19, point 8): under xen/idt (the `xen` host, Xen
// c447b7308b's ring 0 as host entry points, the guest as dom0), in one run,
//  (a) PV system-call round trips: guests/pv-bench's user loop, `syscall` -> Xen's lstar_enter
//      -> switch_to_kernel -> the guest kernel's syscall callback -> HYPERVISOR_iret with
//      VGCF_in_syscall -> user mode; four CPU transitions (SYSCALL, SYSRET to the callback,
//      the hypercall page's SYSCALL, SYSRET to user mode) and two host entry calls;
//  (b) hypercall round trips: HYPERVISOR_xen_version(XENVER_version) from the guest kernel
//      through the hypercall page; two transitions (SYSCALL, SYSRET);
// beside (c) getpid() round trips of the Linux-style kernel on native/idt (guests/linux-entry,
// SYSCALL -> entry_SYSCALL_64 -> SYSRET: bench/syscall-bench.ts) and (d) the same loop natively
// on this machine (syscall(SYS_getpid), gcc -O2); each as round trips per second and guest
// instructions per round trip (a host entry call counts one, as every instruction does), and the
// ratios. The target (issue 19): a PV system call within 10× of a native getpid().
//
// Per round trip, as everywhere in `npm run bench`: images built with N and with 0 round trips
// (pv-bench: PV_BENCH_SYSCALLS / PV_BENCH_HYPERCALLS; both loops always run, 0 times or more, so
// the images differ only in the counts), each run timed whole, best of BENCH_REPEAT; then
//   round trips/s = N / (t(N) - t(0)),  instructions per round trip = (insns(N) - insns(0)) / N,
// which removes boot and shutdown. The guest checks that its kernel counted N calls and the
// results, and the harness checks the transitions per round trip (4 and 2), so a run that took
// another path (an IRET exit, a fault, a bounce of something else) is not measured as this one.
//
// Environment: BENCH_XEN_SYSCALLS (default 100000), BENCH_XEN_HYPERCALLS (default 200000),
// BENCH_SYSCALLS (the native/idt getpid loop, default 200000), BENCH_REPEAT (best of; default 3).

import { performance } from 'node:perf_hooks';
import { buildGuest } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';
import { getpidRoundTrips, nativeRate, type Rate } from './syscall-bench.js';

const PROFILE = 'xen/idt';
const TARGET_FACTOR = 10;

interface Run { insns: number; transitions: number; seconds: number }

function pvRun(syscalls: number, hypercalls: number, repeat: number): Run {
  const img = buildGuest('pv-bench', { defines: { PV_BENCH_SYSCALLS: syscalls, PV_BENCH_HYPERCALLS: hypercalls } });
  const what = `pv-bench (PV_BENCH_SYSCALLS=${syscalls}, PV_BENCH_HYPERCALLS=${hypercalls}) on ${PROFILE} --dom0`;
  let best = Infinity, insns = -1, transitions = 0;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = runImage(img, { profile: PROFILE, dom0: true });
    const s = (performance.now() - t0) / 1000;
    if (r.verdict !== 'success') throw new Error(`${what}: ${r.verdict}: ${r.reason}`);
    if (!r.console.includes(`pvbench.syscall.kernel_count: ${syscalls}\n`) || !r.console.includes(`pvbench.hypercall.round_trips: ${hypercalls}\n`)) {
      throw new Error(`${what} did not report its round trips`);
    }
    if (insns >= 0 && r.instructions !== insns) throw new Error(`${what} is not deterministic`);
    insns = r.instructions;
    transitions = r.transitions;
    best = Math.min(best, s);
  }
  return { insns, transitions, seconds: best };
}

function rate(base: Run, run: Run, n: number, transitionsPerTrip: number, what: string): Rate {
  const per = (run.transitions - base.transitions) / n;
  if (per !== transitionsPerTrip) throw new Error(`${what}: ${per} transitions per round trip, not ${transitionsPerTrip}`);
  const seconds = run.seconds - base.seconds;
  if (seconds <= 0) throw new Error(`${what}: no measurable time for ${n} round trips; raise the count`);
  return { rate: n / seconds, perTrip: (run.insns - base.insns) / n, seconds };
}

export function xenBench(syscalls: number, hypercalls: number, nativeSyscalls: number, repeat: number): void {
  if (syscalls < 1 || hypercalls < 1) throw new Error('BENCH_XEN_SYSCALLS and BENCH_XEN_HYPERCALLS must be at least 1');
  const line = (label: string, m: Rate): string =>
    `  ${label}: ${(m.rate / 1e6).toFixed(3)} M round trips/s (${m.perTrip.toFixed(1)} guest instructions per round trip,` +
    ` ${(1e6 / m.rate).toFixed(2)} µs each, ${m.seconds.toFixed(3)} s)`;
  console.log(`Xen PV: guests/pv-bench as dom0 on ${PROFILE}, ${syscalls} system calls, ${hypercalls} hypercalls; guests/linux-entry on native/idt, ${nativeSyscalls} getpid()`);
  const base = pvRun(0, 0, repeat);
  const pv = rate(base, pvRun(syscalls, 0, repeat), syscalls, 4, 'PV system call');
  console.log(line('(a) xen/idt, PV syscall: user -> callback -> HYPERVISOR_iret', pv));
  const hc = rate(base, pvRun(0, hypercalls, repeat), hypercalls, 2, 'hypercall');
  console.log(line('(b) xen/idt, hypercall xen_version via the page        ', hc));
  const idt = getpidRoundTrips('native/idt', nativeSyscalls, repeat);
  console.log(line('(c) native/idt, getpid(): SYSCALL -> SYSRET           ', idt));
  let native: number | null = null;
  try {
    native = nativeRate(Math.max(nativeSyscalls, 1_000_000), repeat);
    console.log(`  (d) this machine, natively, getpid(): ${(native / 1e6).toFixed(3)} M round trips/s (syscall(SYS_getpid), gcc -O2)`);
  } catch (e) {
    console.log(`  (d) this machine, natively: not measured: ${(e as Error).message.split('\n')[0]}`);
  }
  console.log(`  PV syscall / native/idt getpid: ${(pv.rate / idt.rate).toFixed(3)} of the round trips/s (${(idt.rate / pv.rate).toFixed(1)}× slower), ${(pv.perTrip / idt.perTrip).toFixed(3)} of the instructions per round trip`);
  console.log(`  hypercall / native/idt getpid: ${(hc.rate / idt.rate).toFixed(3)} of the round trips/s`);
  const verdict = (slower: number): string => `${slower.toFixed(1)}× slower: ${slower <= TARGET_FACTOR ? 'PASS' : 'BELOW'}`;
  console.log(`  target: a PV syscall within ${TARGET_FACTOR}× of native getpid(): vs Ringside's native/idt ${verdict(idt.rate / pv.rate)}` +
    (native === null ? '' : `; vs this machine natively ${verdict(native / pv.rate)}`));
}
