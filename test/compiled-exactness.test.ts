// Compiled code is exact (issue 18, point 3): hot code runs as compiled blocks
// (src/cpu/blocks.ts), and nothing a guest or a user can observe may differ from stepping
// every instruction through its opcode-table row (RunOptions.stepped, the reference).
// test/helpers/lockstep.ts compares the two after every slice of a seeded random schedule
// of instruction budgets: the vCPU's whole captured state, guest RAM, the console and the
// transition records.
//
// - lockstep: guests/compiled-code (faults, self-modifying code, remapped and unmapped code
//   pages, CR0/CR4/EFER changes, single-step and breakpoints, each in the middle of hot
//   loops) and loop-heavy bundled guests (bench, linux-entry with its CS changes at every
//   SYSCALL/SYSRET/IRET and its compatibility-mode entries, smc, string-rep, far-forms),
//   under native/idt and native/fred, and single-step and breakpoints under native/idt;
// - every bundled guest: run to its end compiled and stepped, it ends in the same state;
// - the budget: a run given maxInsns = B ends with icount = B and the state stepping has
//   there, for budgets that end inside hot blocks;
// - capture/restore at any point: a machine captured at seeded points and restored into a
//   fresh one (compiled or stepped) ends exactly as the uninterrupted run;
// - injected events at every instruction boundary: an NMI, and separately an external
//   interrupt, injected at each tick of a window inside a hot loop that runs with IF = 1,
//   and at an address inside a hot block, give the same run compiled and stepped, and are
//   delivered where the SDM puts them (an NMI at the boundary of its tick, Vol. 3A §6.7;
//   an unmasked interrupt likewise, §6.8.1).
//
// The compiled side compiles a block entry at its 16th interpreted run (lockstep.ts
// COMPILE_AT), not after thousands as by default, so that short loops and the guests' code
// at large run compiled. The guests run with 8 MiB of RAM (enough for each) so that
// comparing RAM after every slice is cheap. Every schedule is seeded: the same slices on
// every run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest, listGuests } from '../src/guest/build.js';
import type { Injection } from '../src/cpu/injections.js';
import { COMPILE_AT, advance, assertSame, between, boot, finish, lockstep, restore, seededRandom, type Side } from './helpers/lockstep.js';
import { symbols } from './helpers/syscall-host.js';

const PROFILES = ['native/idt', 'native/fred'];

interface Guest {
  name: string;
  image: string;
  /** Compare only this many instructions (a long guest). */
  maxInsns?: number;
  /** Lockstep on these profiles (default: PROFILES). */
  profiles?: string[];
}

const compiledCode = buildGuest('compiled-code');
const GUESTS: Guest[] = [
  { name: 'compiled-code', image: compiledCode },
  // FRED changes delivery and returns, not what blocks hold: the guests without FRED paths
  // of their own are compared under native/idt only.
  { name: 'bench', image: buildGuest('bench', { defines: { BENCH_ITERS: 100 } }), profiles: ['native/idt'] },
  { name: 'linux-entry', image: buildGuest('linux-entry') },
  { name: 'smc', image: buildGuest('smc'), profiles: ['native/idt'] },
  { name: 'string-rep', image: buildGuest('string-rep'), maxInsns: 400_000, profiles: ['native/idt'] },
  { name: 'far-forms', image: buildGuest('far-forms'), profiles: ['native/idt'] },
  { name: 'single-step', image: buildGuest('single-step'), profiles: ['native/idt'] },
  { name: 'breakpoints', image: buildGuest('breakpoints'), profiles: ['native/idt'] },
];
const guest = (name: string): Guest => GUESTS.find((g) => g.name === name)!;

/** Each guest run to its end compiled (or to maxInsns): the instruction count. */
function length(g: Guest, profile: string): number {
  const s = boot(g.image, { profile, stepped: false });
  const end = g.maxInsns === undefined ? finish(s) : advance(s, g.maxInsns);
  assert.ok(end.kind === 'exit-port' || end.kind === 'insn-budget', `${g.name}: ${end.kind} ${end.message}`);
  assert.match(s.booted.host.console, g.maxInsns === undefined ? /Test result: SUCCESS/ : /./, g.name);
  return s.booted.machine.instructions;
}

describe('compiled and stepped agree slice by slice (lockstep)', () => {
  for (const g of GUESTS) {
    for (const profile of g.profiles ?? PROFILES) {
      it(`${g.name} on ${profile}`, (t) => {
        const r = lockstep(g.image, { profile, seed: 0x5eed + g.name.length, maxInsns: g.maxInsns });
        if (g.maxInsns === undefined) assert.equal(r.end.kind, 'exit-port', `${g.name} ran to its end`);
        assert.ok(r.budgetEnds > 50, `${r.budgetEnds} slices ended by the budget`);
        assert.ok(r.blocks > 0, 'the compiled side compiled blocks');
        t.diagnostic(`${r.slices} slices, ${r.instructions} instructions, ${r.blocks} blocks compiled`);
      });
    }
  }
});

describe('every bundled guest ends compiled as it ends stepped', () => {
  for (const name of listGuests('native')) {
    it(name, (t) => {
      const image = GUESTS.find((g) => g.name === name)?.image ?? buildGuest(name);
      const compiled = boot(image, { profile: 'native/idt', stepped: false });
      const stepped = boot(image, { profile: 'native/idt', stepped: true });
      const end = finish(compiled);
      finish(stepped);
      assert.equal(end.kind, 'exit-port', `${name}: ${end.message}`);
      assertSame(compiled, stepped, name);
      t.diagnostic(`${compiled.booted.machine.instructions} instructions, ${compiled.booted.machine.cpu.blocksCompiled} blocks compiled`);
    });
  }
});

describe('a budget ends a run exactly where stepping ends it', () => {
  for (const [name, profile] of [['compiled-code', 'native/idt'], ['bench', 'native/idt'], ['linux-entry', 'native/fred']] as const) {
    it(`${name} on ${profile}: maxInsns = B ends at icount B with the stepped state`, () => {
      const g = guest(name);
      const total = length(g, profile);
      const rand = seededRandom(0xb0d9e7);
      const budgets = Array.from({ length: 8 }, () => between(rand, 1000, total - 1)).sort((a, b) => a - b);
      const stepped = boot(g.image, { profile, stepped: true });
      for (const b of budgets) {
        const compiled = boot(g.image, { profile, stepped: false });
        assert.equal(advance(compiled, b).kind, 'insn-budget');
        assert.equal(compiled.booted.machine.instructions, b, `the run given ${b} instructions retired ${compiled.booted.machine.instructions}`);
        advance(stepped, b);
        assertSame(compiled, stepped, `${name} on ${profile}, maxInsns ${b}`);
      }
    });
  }
});

describe('capture and restore at any point', () => {
  for (const [name, profile] of [['compiled-code', 'native/idt'], ['linux-entry', 'native/idt'], ['linux-entry', 'native/fred'], ['bench', 'native/fred']] as const) {
    it(`${name} on ${profile}: restored at seeded points, compiled or stepped, it ends as the run that was not interrupted`, () => {
      const g = guest(name);
      const whole = boot(g.image, { profile, stepped: false });
      finish(whole);
      const total = whole.booted.machine.instructions;
      const rand = seededRandom(0xc0ffee + name.length);
      for (let k = 0; k < 4; k++) {
        const point = between(rand, 1, total - 1);
        const first = boot(g.image, { profile, stepped: false });
        advance(first, point);
        const state = first.booted.machine.capture();
        for (const stepped of [false, true]) {
          const again = restore(state, { profile, stepped }, stepped ? 'restored stepped' : 'restored compiled');
          again.trace.unshift(...first.trace);
          finish(again);
          assertSame(again, whole, `${name} on ${profile}, captured at ${point}`);
        }
        finish(first);
        assertSame(first, whole, `${name} on ${profile}, captured at ${point} and continued`);
      }
    });
  }
});

describe('injected events at every instruction boundary of a hot loop', () => {
  const syms = symbols(compiledCode);
  const sym = (n: string): number => {
    const v = syms.get(n);
    assert.ok(v !== undefined, `no symbol ${n}`);
    return v;
  };
  const loopStart = sym('cc_events'), loopEnd = sym('cc_nmi_handler'), mid = sym('cc_events_mid');
  const profile = 'native/idt';
  const NMI = 2, IRQ = 0x50;

  /** A tick at which the events loop runs, its state then, and the run from there. */
  function intoLoop(): { tick: number; first: Side } {
    const first = boot(compiledCode, { profile, stepped: false });
    for (let t = 0; ; t += 97) {
      assert.equal(advance(first, t).kind, 'insn-budget', 'the events loop was reached');
      const rip = first.booted.machine.cpu.rip;
      if (rip >= loopStart && rip < loopEnd) return { tick: t, first };
    }
  }
  const { tick: inLoop, first } = intoLoop();
  const state = first.booted.machine.capture();
  // COMPILE_AT iterations of the 4-instruction loop after the restore compile its block; by
  // 10 x COMPILE_AT instructions (40 iterations) it has long run compiled.
  const start = inLoop + 10 * COMPILE_AT;
  const window = Array.from({ length: 120 }, (_, k) => start + k);

  it('the window is inside the loop, after its block was compiled', () => {
    const s = restore(state, { profile, stepped: false }, 'compiled');
    assert.equal(advance(s, start).kind, 'insn-budget');
    const rip = s.booted.machine.cpu.rip;
    assert.ok(rip >= loopStart && rip < loopEnd, `rip 0x${rip.toString(16)} in the events loop`);
    assert.ok(s.booted.machine.cpu.blocksCompiled > 0, 'a block was compiled');
  });

  const delivered = (s: Side, vector: number): number[] => s.trace.filter((r) => r.kind === 'delivery' && r.vector === vector).map((r) => r.icount);
  const line = (s: Side, name: string): string | undefined =>
    s.booted.host.console.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);

  for (const [what, vector, event] of [['an NMI', NMI, { kind: 'nmi' }], ['an interrupt (vector 0x50)', IRQ, { kind: 'irq', vector: IRQ }]] as const) {
    it(`${what} injected at each of ${window.length} ticks inside the hot loop: compiled and stepped agree, delivered at that tick`, () => {
      for (const t of window) {
        const injections: Injection[] = [{ event, at: { tick: t } }];
        const compiled = restore(state, { profile, stepped: false, injections }, 'compiled');
        const stepped = restore(state, { profile, stepped: true, injections }, 'stepped');
        finish(compiled);
        finish(stepped);
        assertSame(compiled, stepped, `${what} at tick ${t}`);
        // The delivery completes before the handler's first instruction: its record's tick is T.
        assert.deepEqual(delivered(stepped, vector), [t], `${what} at tick ${t}: delivered at that boundary`);
        assert.equal(line(compiled, vector === NMI ? 'events.nmis' : 'events.irqs'), '1');
        assert.match(compiled.booted.host.console, /Test result: SUCCESS/);
      }
    });
  }

  it('an NMI and an interrupt injected at an address inside the hot block, from the start and once the block is compiled', () => {
    for (const [vector, event] of [[NMI, { kind: 'nmi' }], [IRQ, { kind: 'irq', vector: IRQ }]] as const) {
      const injections: Injection[] = [{ event, at: { rip: mid } }];
      const compiled = boot(compiledCode, { profile, stepped: false, injections });
      const stepped = boot(compiledCode, { profile, stepped: true, injections });
      finish(compiled);
      finish(stepped);
      assertSame(compiled, stepped, `vector ${vector} at rip 0x${mid.toString(16)} from the start`);
      const at = stepped.trace.filter((r) => r.kind === 'delivery' && r.vector === vector);
      assert.equal(at.length, 1);
      assert.equal(Number(BigInt(at[0].before.registers.rip)), mid, 'taken at the boundary before the instruction at the address');

      // Added while the loop runs compiled (the window's start), in both machines at the same tick.
      const c2 = restore(state, { profile, stepped: false }, 'compiled');
      const s2 = restore(state, { profile, stepped: true }, 'stepped');
      for (const s of [c2, s2]) {
        advance(s, start + 2);
        s.booted.machine.cpu.injections.add({ event, at: { rip: mid } });
        finish(s);
      }
      assertSame(c2, s2, `vector ${vector} at rip 0x${mid.toString(16)} added at tick ${start + 2}`);
      const later = s2.trace.filter((r) => r.kind === 'delivery' && r.vector === vector);
      assert.equal(later.length, 1);
      assert.equal(Number(BigInt(later[0].before.registers.rip)), mid);
    }
  });
});
