// CPUID describes a coherent CPU that advertises nothing the model lacks (SDM Vol. 2
// CPUID; x87 and SSE are not modelled): every feature the decoder gates on
// is the CPUID bit the SDM names for it, and x87/SSE/AVX are not advertised.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuid, featureSet } from '../src/cpu/cpuid.js';
import type { CpuModelOptions } from '../src/cpu/model.js';

const intel: CpuModelOptions = { vendor: 'intel', fred: false };
const out = new Int32Array(4);
const q = (model: CpuModelOptions, leaf: number, sub = 0): number[] => {
  cpuid(model, leaf, sub, out);
  return Array.from(out, (v) => v >>> 0);
};
const bit = (v: number, n: number): boolean => ((v >>> n) & 1) === 1;

/** Where the SDM puts each gated feature: [leaf, subleaf, register index (EAX..EDX), bit]. */
const WHERE: Record<string, [number, number, number, number]> = {
  tsc: [1, 0, 3, 4], msr: [1, 0, 3, 5], cx8: [1, 0, 3, 8], sep: [1, 0, 3, 11], cmov: [1, 0, 3, 15],
  cx16: [1, 0, 2, 13], popcnt: [1, 0, 2, 23], pcid: [1, 0, 2, 17], pse: [1, 0, 3, 3], pge: [1, 0, 3, 13],
  mce: [1, 0, 3, 7], mca: [1, 0, 3, 14],
  smep: [7, 0, 1, 7], invpcid: [7, 0, 1, 10], smap: [7, 0, 1, 20], la57: [7, 0, 2, 16], rdpid: [7, 0, 2, 22],
  lahf64: [0x80000001, 0, 2, 0], lzcnt: [0x80000001, 0, 2, 5],
  syscall: [0x80000001, 0, 3, 11], page1gb: [0x80000001, 0, 3, 26], nx: [0x80000001, 0, 3, 20], rdtscp: [0x80000001, 0, 3, 27], lm: [0x80000001, 0, 3, 29],
  fred: [7, 1, 0, 17], lkgs: [7, 1, 0, 18], fsgsbase: [7, 0, 1, 0],
};

for (const model of [intel, { vendor: 'intel', fred: true } as CpuModelOptions]) {
  test(`every gated feature is advertised by its CPUID bit, and only those (fred=${model.fred})`, () => {
    const features = featureSet(model);
    for (const [name, [leaf, sub, reg, n]] of Object.entries(WHERE)) {
      assert.equal(bit(q(model, leaf, sub)[reg], n), features.has(name), name);
    }
    for (const f of features) assert.ok(f in WHERE, `feature ${f} has no CPUID location in this test`);
  });
}

test('x87, MMX, SSE, AVX and XSAVE are not advertised', () => {
  const [, , ecx, edx] = q(intel, 1);
  for (const n of [0, 23, 24, 25, 26]) assert.ok(!bit(edx, n), `EDX bit ${n}`); // FPU, MMX, FXSR, SSE, SSE2
  for (const n of [0, 9, 19, 20, 26, 27, 28]) assert.ok(!bit(ecx, n), `ECX bit ${n}`); // SSE3, SSSE3, SSE4.x, XSAVE, OSXSAVE, AVX
});

test('the vendor string and the maximum leaves', () => {
  const [max, ebx, ecx, edx] = q(intel, 0);
  const text = Buffer.from(new Int32Array([ebx, edx, ecx]).buffer).toString('latin1');
  assert.equal(text, 'GenuineIntel');
  assert.equal(max, 7);
  assert.equal(q(intel, 0x80000000)[0], 0x80000008);
  assert.equal(q(intel, 0x80000008)[0] & 0xff, 40); // MAXPHYADDR
  assert.equal((q(intel, 0x80000008)[0] >> 8) & 0xff, 57); // linear-address bits: LA57 is advertised
  assert.equal(q(intel, 7, 0)[0], 1); // leaf 7's highest subleaf (FRED and LKGS are in subleaf 1)
});

test('Intel: a leaf past the maximum returns the highest basic leaf; AMD: zeros', () => {
  assert.deepEqual(q(intel, 0x40000000), q(intel, 7));
  assert.deepEqual(q(intel, 0x80000009), q(intel, 7));
  assert.deepEqual(q({ vendor: 'amd', fred: false }, 0x40000000), [0, 0, 0, 0]);
});
