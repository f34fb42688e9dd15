// Injection from outside (README, "Command line"; src/cpu/injections.ts):
// `--inject nmi@N` raises an NMI at the boundary of tick N, `--inject irq:VEC@N` sets VEC in
// the local APIC's IRR as a fixed interrupt, `--inject nmi@rip=ADDR` raises an NMI at the
// boundary before the instruction at ADDR the first time RIP reaches it; each is then held
// until it can be taken (NMI blocking, the MOV SS shadow, IF, TPR), and HLT skips ahead to an
// injection's tick.
//
// The guests nmi and shadows, built with -DINJECT=1, end with a part that only injection
// exercises; its labels come from the image's symbol table. When an event was taken is read
// from the transition trace: a delivery's record holds the tick and the interrupted RIP.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { bootImage, restoreMachine, runBooted, runImage, type RunOptions } from '../src/lab/run.js';
import type { Injection } from '../src/cpu/injections.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import { symbols } from './helpers/syscall-host.js';
import { lines, ringside } from './helpers/pvh-image.js';

const PROFILES = ['native/idt', 'native/idt-amd'];
const NMI = 2;

const nmiImage = buildGuest('nmi', { defines: { INJECT: 1 } });
const shadowsImage = buildGuest('shadows', { defines: { INJECT: 1 } });
const nmiSyms = symbols(nmiImage);
const shadowsSyms = symbols(shadowsImage);

function sym(table: Map<string, number>, name: string): number {
  const v = table.get(name);
  assert.ok(v !== undefined, `no symbol ${name}`);
  return v;
}

const nmiAt = (rip: number): Injection => ({ event: { kind: 'nmi' }, at: { rip } });
const nmiTick = (tick: number): Injection => ({ event: { kind: 'nmi' }, at: { tick } });
const irqAt = (vector: number, rip: number): Injection => ({ event: { kind: 'irq', vector }, at: { rip } });

interface Traced { console: string; verdict: string; instructions: number; deliveries: TransitionRecord[] }

function run(image: string, injections: Injection[], profile = 'native/idt'): Traced {
  const deliveries: TransitionRecord[] = [];
  const opts: RunOptions = { profile, injections, trace: (r) => { if (r.kind === 'delivery') deliveries.push(r); } };
  const r = runImage(image, opts);
  return { console: r.console, verdict: r.verdict, instructions: r.instructions, deliveries };
}

const ripOf = (r: TransitionRecord): number => Number(BigInt(r.before.registers.rip));
const nmiTicks = (t: Traced): number[] => t.deliveries.filter((d) => d.vector === NMI).map((d) => d.icount);
const line = (t: Traced, name: string): string | undefined =>
  t.console.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);

/** The run without injections: it ends halted at inject_halt (HLT with IF = 0). */
const baseline = run(nmiImage, []);
const mid = sym(nmiSyms, 'inject_mid');

describe('nmi@rip=ADDR', () => {
  for (const profile of PROFILES) {
    it(`fires at the boundary before the instruction at ADDR, in a straight-line loop body (${profile})`, () => {
      const t = run(nmiImage, [nmiAt(mid)], profile);
      const extra = t.deliveries.filter((d) => d.vector === NMI && !nmiTicks(baseline).includes(d.icount));
      assert.equal(extra.length, 1, 'one NMI more than without the injection');
      assert.equal(ripOf(extra[0]), mid, 'the NMI interrupted the boundary before inject_mid');
      assert.equal(line(t, 'inject.mid.nmis'), '1');
      assert.equal(line(t, 'inject.mid.at_label'), '1');
    });
  }

  it('fires exactly when set while the loop around ADDR runs as a compiled block', () => {
    // The loop body is 8 instructions; by its 30th iteration the body has run far past the
    // decode cache's compile threshold (16). The watch is set in the middle of an iteration,
    // after inject_mid: it must fire at the next iteration's boundary before inject_mid.
    const first = run(nmiImage, [nmiAt(mid)]).deliveries.find((d) => d.vector === NMI && ripOf(d) === mid)!;
    const booted = bootImage(nmiImage, { profile: 'native/idt' });
    const seen: TransitionRecord[] = [];
    booted.machine.trace((r) => { if (r.kind === 'delivery' && r.vector === NMI) seen.push(r); });
    const stopAt = first.icount + 30 * 8 + 2;
    assert.equal(booted.machine.run({ maxInsns: stopAt, timeoutMs: 0 }).kind, 'insn-budget');
    booted.machine.cpu.injections.add(nmiAt(mid));
    const result = runBooted(booted, nmiImage, { profile: 'native/idt' });
    const fired = seen.filter((d) => d.icount > stopAt);
    assert.ok(fired.length >= 1);
    assert.equal(ripOf(fired[0]), mid);
    assert.equal(fired[0].icount, first.icount + 31 * 8, 'the next time RIP reaches inject_mid');
    assert.equal(line({ ...result, deliveries: [] }, 'inject.mid.nmis'), '1');
  });
});

describe('nmi@N', () => {
  it('is taken at the boundary of tick N, the same boundary nmi@rip= names', () => {
    const viaRip = run(nmiImage, [nmiAt(mid)]).deliveries.find((d) => d.vector === NMI && ripOf(d) === mid)!;
    for (const n of [viaRip.icount, viaRip.icount + 3]) {
      const t = run(nmiImage, [nmiTick(n)]);
      const extra = t.deliveries.filter((d) => d.vector === NMI && !nmiTicks(baseline).includes(d.icount));
      assert.deepEqual(extra.map((d) => d.icount), [n]);
      if (n === viaRip.icount) assert.equal(ripOf(extra[0]), mid);
    }
  });

  it('ends a halt with IF = 0 at tick N: virtual time skips to it', () => {
    assert.equal(baseline.verdict, 'crash', 'without the injection the halt is final');
    const n = baseline.instructions + 10_000;
    const t = run(nmiImage, [nmiTick(n)]);
    assert.equal(t.verdict, 'success', t.console);
    const last = t.deliveries.filter((d) => d.vector === NMI).at(-1)!;
    assert.equal(last.icount, n);
    assert.equal(ripOf(last), sym(nmiSyms, 'inject_halt_next'), 'HLT resumes after itself');
    assert.equal(line(t, 'inject.halt.resumed_after_hlt'), '1');
  });

  it('is held while NMIs are blocked: injected inside the NMI handler, it is taken after its IRET', () => {
    // The first self-NMI's delivery; inject at the boundary right after it (the handler's
    // first instruction): NMIs are blocked there.
    const first = baseline.deliveries.find((d) => d.vector === NMI)!;
    const t = run(nmiImage, [nmiTick(first.icount + 1)]);
    const ticks = nmiTicks(t);
    assert.ok(!ticks.includes(first.icount + 1), 'not taken inside the handler');
    const iret = ticks.find((k) => k > first.icount)!;
    const extra = t.deliveries.find((d) => d.icount === iret)!;
    assert.equal(extra.before.registers.rip, first.before.registers.rip, 'taken right after the IRET, at the same boundary');
  });
});

describe('capture and restore', () => {
  it('a run that hops machines around tick injections (given again to each restore) continues exactly', () => {
    const first = baseline.deliveries.find((d) => d.vector === NMI)!;
    const injections = [nmiTick(first.icount + 1), nmiTick(first.icount + 40), nmiTick(baseline.instructions + 20_000)];
    const opts: RunOptions = { profile: 'native/idt', injections };
    // (The guest fails its ifclear check: two NMIs more arrive there. Only exactness matters.)
    const whole = runImage(nmiImage, opts);
    assert.match(whole.console, /^ifclear\.count: 3$/m);
    assert.match(whole.console, /^inject\.halt\.resumed_after_hlt: 1$/m);
    // Stops at, just before and just after each injection's tick, inside the NMI handlers.
    const points = injections.flatMap((i) => ('tick' in i.at ? [i.at.tick - 1, i.at.tick, i.at.tick + 1, i.at.tick + 7] : []));
    let booted = bootImage(nmiImage, opts);
    for (const at of points) {
      assert.equal(booted.machine.run({ maxInsns: at, timeoutMs: 0 }).kind, 'insn-budget');
      const state = structuredClone(booted.machine.capture());
      booted = restoreMachine(state, opts);
      assert.deepStrictEqual(booted.machine.capture(), state);
    }
    const relayed = runBooted(booted, nmiImage, opts);
    assert.equal(relayed.verdict, whole.verdict);
    assert.equal(relayed.console, whole.console);
    assert.equal(relayed.instructions, whole.instructions);
    assert.equal(relayed.transitions, whole.transitions);
    assert.deepStrictEqual(relayed.registers, whole.registers);
  });
});

describe('irq:VEC', () => {
  it('sets VEC in the IRR as a fixed interrupt: TPR holds 0x45, 0x65 is taken; lowering TPR takes 0x45', () => {
    const tpr = sym(nmiSyms, 'inject_tpr');
    const t = run(nmiImage, [irqAt(0x45, tpr), irqAt(0x65, tpr), nmiTick(baseline.instructions + 50_000)]);
    assert.equal(line(t, 'inject.tpr.taken'), '1 0x65');
    assert.equal(line(t, 'inject.tpr.irr_0x45'), '1');
    assert.equal(line(t, 'inject.tpr.after'), '2');
    assert.equal(t.verdict, 'success');
  });
});

describe('the shadows', () => {
  for (const profile of PROFILES) {
    it(`MOV SS holds an injected NMI and interrupt one instruction; STI holds only the interrupt (${profile})`, () => {
      const next = sym(shadowsSyms, 'movss_next');
      const sti = sym(shadowsSyms, 'sti_next');
      const t = run(shadowsImage, [nmiAt(next), irqAt(0x41, next), nmiAt(sti)], profile);
      assert.equal(t.verdict, 'success', t.console);
      assert.equal(line(t, 'movss.nmi_at'), 'after');
      assert.equal(line(t, 'movss.irq_at'), 'after');
      assert.equal(line(t, 'movss.order'), '0x2 0x41', 'the NMI first (SDM Vol. 3A Table 6-2)');
      assert.equal(line(t, 'sti.nmi_at'), 'before');
    });
  }
});

describe('the command line', () => {
  const args = (extra: string[]): string[] => ['run', nmiImage, ...extra];
  const good = [
    '--inject', `nmi@rip=0x${mid.toString(16)}`,
    '--inject', `irq:0x45@rip=0x${sym(nmiSyms, 'inject_tpr').toString(16)}`,
    '--inject', `irq:101@rip=0x${sym(nmiSyms, 'inject_tpr').toString(16)}`,
    '--inject', `nmi@${baseline.instructions + 5000}`,
  ];

  it('takes several --inject options, and the same command gives the same run', () => {
    const a = ringside(args(good));
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /^inject\.mid\.at_label: 1$/m);
    assert.match(a.stdout, /^inject\.tpr\.taken: 1 0x65$/m);
    assert.match(a.stdout, /^inject\.halt\.resumed_after_hlt: 1$/m);
    const b = ringside(args(good));
    assert.equal(b.stdout, a.stdout);
    assert.equal(b.stderr, a.stderr);
  });

  for (const bad of ['nmi', 'nmi@', 'nmi@-1', 'nmi@1.5', 'irq:15@5', 'irq:256@5', 'irq:x@5', 'irq@5', 'sti@5',
    'nmi@rip=', 'nmi@rip=zz', 'nmi@rip=0x10000000000000000', 'nmi@rip=0x0100000000000000']) {
    it(`--inject ${bad}: one line, exit 2`, () => {
      const r = ringside(args(['--inject', bad]));
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      const l = lines(r.stderr);
      assert.equal(l.length, 1, r.stderr);
      assert.match(l[0], /^ringside: --inject /);
    });
  }

  it('--inject without a value: one line, exit 2', () => {
    const r = ringside(args(['--inject']));
    assert.equal(r.status, 2);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
  });
});
