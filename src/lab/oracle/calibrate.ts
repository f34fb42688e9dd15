// Calibration: what this CPU produces where the SDM leaves a result undefined.
// For every instruction with undefined outputs (undefined-spec.ts), single-instruction
// cases with random operands run on the hardware and on the model; for each undefined
// flag (and undefined destination) the observed values are tested against simple rules
// — unchanged, 0, 1, the model's value (src/cpu/undefined.ts, the host vendor's flavour) — and the rules that held
// for every sample are written, with the CPU signature, to
// test/oracle/undefined-observed-<signature>.json. The file describes the CPU it came
// from; src/cpu/undefined.ts is changed by a person, and only from the CPU it names.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES } from '../../cpu/opcodes.js';
import { buildHarness, Hardware } from './harness.js';
import { hostState, OracleModel } from './model.js';
import { Generator, Rng, makeImages, IMAGE_SEED } from './generator.js';
import { selectPool, hostFlavour } from './run.js';
import { effects, ruleOf, ALL_STATUS } from './undefined-spec.js';
import { EndKind, GPR_NAMES, type Case } from './layout.js';
import { flagNames } from './compare.js';
import { decode } from '../../cpu/decoder.js';
import { entryName } from './run.js';

export interface CalibrateOptions {
  samples: number;
  dir: string;
  log: (line: string) => void;
}

const FLAGS: [number, string][] = [[0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x800, 'OF']];
const RULES = ['unchanged', 'zero', 'one', 'model', 'msb(result) xor CF', 'msb(result) xor msb(dest before)', 'msb(result) xor bit below msb(result)'] as const;

interface Tally {
  samples: number;
  /** Per rule: how many samples it matched. */
  match: Record<(typeof RULES)[number], number>;

  /** A few samples where the model's value differed. */
  examples: string[];
}

export async function calibrate(o: CalibrateOptions): Promise<string> {
  const images = makeImages(IMAGE_SEED);
  const hw = await Hardware.start(buildHarness(), images);
  try {
    const hello = hw.hello;
    const model = new OracleModel(hostState(hello), images, hostFlavour(hello));
    const { pool } = selectPool(hello);
    const producers = pool.filter((e) => ruleOf(ENTRIES[e])?.calibrate === true);
    const rng = new Rng(0xca1);
    // Calibration is the one run that must let undefined values through: calibrated = true.
    const gen = new Generator(rng, producers, {
      intel: hello.vendor === 'GenuineIntel', calibrated: true, fsBase: hello.fsBase, gsBase: hello.gsBase,
      decode: (b) => model.decodeProbe(b),
    });
    const tallies = new Map<string, Tally>();
    const tally = (key: string): Tally => {
      let t = tallies.get(key);
      if (t === undefined) {
        t = { samples: 0, match: Object.fromEntries(RULES.map((r) => [r, 0])) as Tally['match'], examples: [] };
        tallies.set(key, t);
      }
      return t;
    };
    for (const first of producers) {
      const cases: Case[] = [];
      for (let k = 0; k < o.samples; k++) {
        const c = gen.next(first);
        // One instruction only.
        const i = c.insns[0];
        cases.push({ ...c, code: c.code.slice(0, i.length), insns: [i] });
      }
      const host = await hw.run(cases);
      for (let k = 0; k < cases.length; k++) {
        const c = cases[k], h = host[k];
        if (h.kind !== EndKind.End) continue;
        model.load(c);
        const insn = decode(model.cpu, model.cpu.rip);
        const pre = c.regs[32];
        const m = model.run(c);
        if (m.kind !== EndKind.End) continue;
        const e = ENTRIES[insn.entry];
        const fx = effects(e, insn, { rcxLo: c.regs[2], rcxHi: c.regs[3], postFlags: m.regs[32] });
        const name = entryName(e.index) + (insn.osz !== 4 ? ` /${insn.osz * 8}` : '');
        const shiftOp = ruleOf(e)?.shiftOF === true;
        for (const [bit, fname] of FLAGS) {
          if ((fx.undef & bit) === 0) continue;
          // OF of a shift is tested against formulas of its result: register destinations only.
          if (bit === 0x800 && shiftOp && insn.mem) continue;
          const t = tally(`${name}: ${fname}`);
          t.samples++;
          const hv = h.regs[32] & bit;
          if (hv === (pre & bit)) t.match.unchanged++;
          if (hv === 0) t.match.zero++;
          if (hv !== 0) t.match.one++;
          // OF formulas on a register destination (shifts and double shifts).
          if (bit === 0x800 && shiftOp) {
            const r = insn.rm, bits = insn.osz * 8;
            const val = (regs: number[]): bigint => (BigInt(regs[2 * r + 1] >>> 0) << 32n | BigInt(regs[2 * r] >>> 0)) & ((1n << BigInt(bits)) - 1n);
            const res = val(h.regs), before = val(c.regs);
            const msb = (v: bigint, k = bits - 1): number => Number((v >> BigInt(k)) & 1n);
            const of = hv !== 0 ? 1 : 0;
            if (of === (msb(res) ^ (h.regs[32] & 1))) t.match['msb(result) xor CF']++;
            if (of === (msb(res) ^ msb(before))) t.match['msb(result) xor msb(dest before)']++;
            if (of === (msb(res) ^ msb(res, bits - 2))) t.match['msb(result) xor bit below msb(result)']++;
          }
          if (hv === (m.regs[32] & bit)) t.match.model++;
          else if (t.examples.length < 3) t.examples.push(`${Buffer.from(c.code).toString('hex')} in ${flagNames(pre & ALL_STATUS)} -> host ${hv ? 1 : 0}, model ${(m.regs[32] & bit) ? 1 : 0}`);
        }
        if (fx.undefDest && !insn.mem) {
          const r = ruleOf(e)?.destIn === 'rm' ? insn.rm : insn.reg;
          const t = tally(`${name}: destination`);
          t.samples++;
          const same = (x: number[], y: number[]): boolean => x[2 * r] === y[2 * r] && x[2 * r + 1] === y[2 * r + 1];
          if (same(h.regs, c.regs)) t.match.unchanged++;
          if (h.regs[2 * r] === 0 && h.regs[2 * r + 1] === 0) t.match.zero++;
          if (same(h.regs, m.regs)) t.match.model++;
          else if (t.examples.length < 3) t.examples.push(`${Buffer.from(c.code).toString('hex')}: ${GPR_NAMES[r]} in ${hexOf(c.regs, r)} host ${hexOf(h.regs, r)} model ${hexOf(m.regs, r)}`);
        }
      }
    }
    const rows = [...tallies].sort(([a], [b]) => a.localeCompare(b)).map(([what, t]) => {
      const holds = RULES.filter((r) => t.match[r] === t.samples && t.samples > 0);
      return { what, samples: t.samples, holds, modelAgrees: `${t.match.model}/${t.samples}`, examples: t.examples };
    });
    const differ = rows.filter((r) => !r.holds.includes('model'));
    o.log(`calibration on ${hello.signature}: ${rows.length} undefined outputs, the model's value differs from this CPU's on ${differ.length}`);
    for (const d of differ) o.log(`  ${d.what}: this CPU ${d.holds.length ? d.holds.join('/') : 'no simple rule'}, model agrees ${d.modelAgrees}`);
    const file = join(o.dir, `undefined-observed-${hello.signature}.json`);
    writeFileSync(file, JSON.stringify({
      about: 'Values this CPU gives to what the SDM leaves undefined, observed by `npm run oracle -- --calibrate` (src/lab/oracle/calibrate.ts). ' +
        '"holds": the rules that matched every sample (unchanged = the input value, zero, one, model = the value of src/cpu/undefined.ts\'s flavour for this vendor). ' +
        'Not the model\'s table: src/cpu/undefined.ts has one flavour per vendor, each compared only on the CPU it names.',
      signature: hello.signature, brand: hello.brand, date: new Date().toISOString().slice(0, 10), samplesPerInstruction: o.samples,
      outputs: rows,
    }, null, 1) + '\n');
    return file;
  } finally {
    hw.close();
  }
}

function hexOf(regs: number[], r: number): string {
  return '0x' + (regs[2 * r + 1] >>> 0).toString(16).padStart(8, '0') + (regs[2 * r] >>> 0).toString(16).padStart(8, '0');
}
