// Every instruction form a compiled block may hold, held to the table row's generic
// semantics: the hardware oracle's generator (src/lab/oracle) builds random user-mode
// sequences of the rows marked `block` -- registers, immediates, memory operands in the
// scratch region, branches -- and each runs on two oracle models: one stepping every
// instruction through its row's semantics (Cpu.stepped, the code the hardware oracle
// checks against real CPUs), one running the sequence as compiled blocks (blocks.ts,
// emit/*.ts: the entry compiles on the second run of the same start state, and the third
// runs the blocks already there; the TLB starts cold each run, so both the fast paths and
// the slow paths run). After the sequence the
// INT3 past its end is delivered and the handler halts; the two machines must then agree
// on the whole architectural state (registers, RFLAGS -- undefined flags included, as the
// flavour's table gives them --, control registers, the instruction count) and on every
// byte of memory, kernel stack frames included. Both vendor flavours run: their
// undefined values differ (undefined.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OracleModel, USER_CS, USER_DS } from '../src/lab/oracle/model.js';
import { Generator, Rng, makeImages, IMAGE_SEED } from '../src/lab/oracle/generator.js';
import { classify } from '../src/lab/oracle/comparable.js';
import { ENTRIES } from '../src/cpu/opcodes.js';
import { featureSet } from '../src/cpu/cpuid.js';
import type { Case } from '../src/lab/oracle/layout.js';

const CASES = 4000;
const BUDGET = 10_000;
/** The compiled model's compile threshold (RunOptions.hotThreshold). */
const COMPILE_AT = 2;

const HOST = { fsBase: 0n, gsBase: 0n, sel: [USER_DS, USER_CS, USER_DS, USER_DS, 0, 0], stub: new Uint8Array(0) };

/** The rows a block may hold that the generator can build: comparable, modelled, enumerated. */
function blockPool(vendor: 'intel' | 'amd'): number[] {
  const features = featureSet({ vendor, fred: false });
  return ENTRIES.filter((e) => e.def.block !== undefined && typeof e.def.exec === 'function' &&
    classify(e.def)?.comparable === true && (e.feature === null || features.has(e.feature))).map((e) => e.index);
}

/** Run the loaded case until the handler halts (or the budget ends); returns why. */
function runCase(m: OracleModel): string | null {
  return m.cpu.run(m.cpu.icount + BUDGET);
}

function differences(a: OracleModel, b: OracleModel): string[] {
  const out: string[] = [];
  const sa = a.cpu.capture() as unknown as Record<string, unknown>, sb = b.cpu.capture() as unknown as Record<string, unknown>;
  for (const k of Object.keys(sa)) {
    const x = JSON.stringify(sa[k]), y = JSON.stringify(sb[k]);
    if (x !== y) out.push(`${k}: compiled ${x.slice(0, 300)} / stepped ${y.slice(0, 300)}`);
  }
  const ma = a.machine.memory.bytes, mb = b.machine.memory.bytes;
  if (Buffer.compare(ma, mb) !== 0) {
    let at = 0;
    while (ma[at] === mb[at]) at++;
    out.push(`memory differs first at physical 0x${at.toString(16)}: compiled 0x${ma[at].toString(16)} / stepped 0x${mb[at].toString(16)}`);
  }
  return out;
}

function describe(c: Case): string {
  return `code ${Buffer.from(c.code).toString('hex')} (${c.insns.map((i) => ENTRIES[i.entry].def.mnemonic).join('; ')})`;
}

for (const vendor of ['intel', 'amd'] as const) {
  test(`compiled blocks agree with stepping on every block form (${vendor} flavour, ${CASES} random sequences)`, () => {
    const images = makeImages(IMAGE_SEED);
    const compiled = new OracleModel(HOST, images, vendor, { hotThreshold: COMPILE_AT });
    const stepped = new OracleModel(HOST, images, vendor, { stepped: true });
    const pool = blockPool(vendor);
    const rng = new Rng(vendor === 'intel' ? 18 : 1818);
    const gen = new Generator(rng, pool, {
      intel: vendor === 'intel', calibrated: true, fsBase: 0n, gsBase: 0n, decode: (bytes) => stepped.decodeProbe(bytes),
    });
    const failures: string[] = [];
    let compiledRuns = 0;
    for (let n = 0; n < CASES && failures.length < 5; n++) {
      const c = gen.next(pool[n % pool.length]);
      stepped.load(c);
      const want = runCase(stepped);

      compiled.load(c);
      const start = compiled.cpu.capture();
      const memory = compiled.machine.memory.bytes.slice();
      let got: string | null = null;
      // The same start state COMPILE_AT + 1 times: the last runs reach the compiled blocks.
      for (let k = 0; k <= COMPILE_AT; k++) {
        compiled.machine.memory.bytes.set(memory);
        compiled.cpu.restore(start);
        got = runCase(compiled);
      }
      compiledRuns++;
      const diff = differences(compiled, stepped);
      if (got !== want) diff.unshift(`run ended: compiled ${got} / stepped ${want}`);
      if (diff.length > 0) failures.push(`${describe(c)}:\n    ${diff.join('\n    ')}`);
    }
    assert.ok(compiledRuns > CASES / 2);
    assert.deepEqual(failures, [], `compiled code differs from stepping:\n  ${failures.join('\n  ')}`);
  });
}
