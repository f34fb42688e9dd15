// DIV and IDIV against the SDM's "Operation" pseudocode (Vol. 2A, DIV and IDIV), computed
// here with BigInt as the reference: for every operand size, unsigned and signed, on edge
// operands and many random ones. The reference divides the 2×size-bit dividend (AX, DX:AX,
// EDX:EAX, RDX:RAX) by the size-bit source, raises #DE when the source is 0 or the quotient
// does not fit the destination (DIV: above 2^size − 1; IDIV: outside −2^(size−1)..2^(size−1) − 1,
// so the most negative quotient fits), truncates the quotient toward zero and gives the
// remainder the dividend's sign (IDIV). Results go to AL/AH for a byte source, else
// rAX/rDX with the usual 16-bit merge and 32-bit zero-extension (SDM Vol. 1 §3.4.1.1); a #DE
// leaves every register and RFLAGS as they were.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn } from '../src/cpu/insn.js';
import { divE } from '../src/cpu/ops/arith.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { DE } from '../src/arch/vectors.js';
import { runInsn, u64 } from './helpers/cpu-step.js';

const RAX = 0, RDX = 2, RBX = 3;
const M64 = (1n << 64n) - 1n;

interface Outcome { de: boolean; rax: bigint; rdx: bigint }

/** The SDM's DIV/IDIV on 64-bit RAX, RDX and source values. */
function reference(size: number, signed: boolean, rax: bigint, rdx: bigint, src: bigint): Outcome {
  const bits = BigInt(size * 8), mask = (1n << bits) - 1n;
  const dividend = size === 1 ? rax & 0xffffn : ((rdx & mask) << bits) | (rax & mask);
  const divisor = src & mask;
  const fault = { de: true, rax, rdx };
  if (divisor === 0n) return fault;
  let q: bigint, r: bigint;
  if (signed) {
    const n = BigInt.asIntN(Number(bits) * 2, dividend), v = BigInt.asIntN(Number(bits), divisor);
    q = n / v; r = n % v; // BigInt division truncates toward zero; % takes the dividend's sign
    if (q < -(1n << (bits - 1n)) || q > (1n << (bits - 1n)) - 1n) return fault;
  } else {
    q = dividend / divisor; r = dividend % divisor;
    if (q > mask) return fault;
  }
  q &= mask; r &= mask;
  if (size === 1) return { de: false, rax: (rax & ~0xffffn & M64) | (r << 8n) | q, rdx };
  if (size === 2) return { de: false, rax: (rax & ~0xffffn & M64) | q, rdx: (rdx & ~0xffffn & M64) | r };
  return { de: false, rax: q, rdx: r };
}

/** xorshift64*: reproducible operands. */
class Rng {
  private s = 0x9e3779b97f4a7c15n;
  next(): bigint {
    let x = this.s;
    x ^= x >> 12n; x ^= (x << 25n) & M64; x ^= x >> 27n;
    this.s = x;
    return (x * 0x2545f4914f6cdd1dn) & M64;
  }
  below(n: number): number { return Number(this.next() % BigInt(n)); }
  /** A value of a random bit length in 1..bits, negated half the time (as `bits`-bit two's complement). */
  shaped(bits: bigint): bigint {
    const len = BigInt(1 + this.below(Number(bits)));
    let v = this.next() & ((1n << len) - 1n);
    if (this.below(2) === 1) v = -v;
    return v & ((1n << bits) - 1n);
  }
}

/** Edge values of a `bits`-bit operand: 0, ±1, ±2, the extremes, powers of two and their neighbours. */
function edges(bits: bigint): bigint[] {
  const mask = (1n << bits) - 1n, out = new Set<bigint>();
  for (const v of [0n, 1n, 2n, 3n, -1n, -2n, -3n, mask, mask >> 1n, (mask >> 1n) + 1n, (mask >> 1n) - 1n]) out.add(v & mask);
  for (let k = 1n; k < bits; k += k < 8n ? 1n : 7n) for (const d of [-1n, 0n, 1n]) { out.add(((1n << k) + d) & mask); out.add((-(1n << k) + d) & mask); }
  return [...out];
}

const cpu = new Cpu(new PhysicalMemory(1 << 16), new IoBus(), { vendor: 'amd', fred: false });

function run(size: number, signed: boolean, rax: bigint, rdx: bigint, src: bigint): Outcome {
  const put = (r: number, v: bigint): void => { cpu.regLo[r] = Number(v & 0xffffffffn) | 0; cpu.regHi[r] = Number(v >> 32n) | 0; };
  put(RAX, rax); put(RDX, rdx); put(RBX, src);
  const flags = cpu.getFlags();
  const i = new Insn(divE);
  i.osz = size; i.op = signed ? 1 : 0; i.mem = false; i.rm = RBX;
  const res = runInsn(cpu, i);
  assert.equal(u64(cpu, RBX), src, 'the source register is left alone');
  if (res !== 'ok') {
    assert.equal(res, `${DE}(0)`, 'DIV/IDIV fault only with #DE');
    assert.equal(cpu.getFlags(), flags, 'a #DE leaves RFLAGS as it was');
  }
  return { de: res !== 'ok', rax: u64(cpu, RAX), rdx: u64(cpu, RDX) };
}

const hex = (v: bigint): string => '0x' + v.toString(16);

/** Run every case; collect (at most 10) disagreements for one readable failure. */
function check(size: number, signed: boolean, cases: [bigint, bigint, bigint][]): { faults: number } {
  const wrong: string[] = [];
  let faults = 0;
  for (const [rax, rdx, src] of cases) {
    const want = reference(size, signed, rax, rdx, src), got = run(size, signed, rax, rdx, src);
    if (want.de) faults++;
    if (got.de !== want.de || got.rax !== want.rax || got.rdx !== want.rdx) {
      if (wrong.length < 10) {
        const show = (o: Outcome): string => o.de ? '#DE' : `rax=${hex(o.rax)} rdx=${hex(o.rdx)}`;
        wrong.push(`${signed ? 'IDIV' : 'DIV'}/${size * 8} rdx=${hex(rdx)} rax=${hex(rax)} src=${hex(src)}: want ${show(want)}, got ${show(got)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  return { faults };
}

/** Split a 2×bits dividend into (RAX, RDX) with random bits above the operand in both. */
function place(rng: Rng, size: number, dividend: bigint): [bigint, bigint] {
  const bits = BigInt(size * 8), mask = (1n << bits) - 1n;
  if (size === 1) return [(rng.next() & ~0xffffn & M64) | (dividend & 0xffffn), rng.next()];
  const junk = rng.next() & ~mask & M64;
  return [junk | (dividend & mask), (rng.next() & ~mask & M64) | ((dividend >> bits) & mask)];
}

for (const size of [1, 2, 4, 8]) {
  for (const signed of [false, true]) {
    const name = `${signed ? 'IDIV' : 'DIV'} r/m${size * 8}`;

    test(`${name}: edge dividends and divisors, the quotient-overflow boundary included`, () => {
      const rng = new Rng();
      const bits = BigInt(size * 8), wide = 2n * bits, mask = (1n << bits) - 1n;
      const cases: [bigint, bigint, bigint][] = [];
      const divisors = edges(bits);
      const dividends = [...edges(wide)];
      // Dividends at the fit boundary for each divisor: limit·|v| + (0, |v| − 1, |v|) and
      // the negated ones, with limit = 2^bits (DIV), 2^(bits−1) and 2^(bits−1) − 1 (IDIV).
      for (const d of divisors) {
        const v = signed ? BigInt.asIntN(Number(bits), d) : d, mag = v < 0n ? -v : v;
        for (const limit of signed ? [1n << (bits - 1n), (1n << (bits - 1n)) - 1n] : [1n << bits, mask])
          for (const extra of [0n, 1n, mag - 1n, mag]) for (const sign of [1n, -1n]) dividends.push(sign * (limit * mag + extra));
      }
      for (const d of divisors) for (const n of dividends) {
        const [rax, rdx] = place(rng, size, n & ((1n << wide) - 1n));
        cases.push([rax, rdx, (rng.next() & ~mask & M64) | d]);
      }
      const { faults } = check(size, signed, cases);
      assert.ok(faults > 0 && faults < cases.length, 'both faulting and fitting cases ran');
    });

    test(`${name}: random operands, most of them with a quotient that fits`, () => {
      const rng = new Rng();
      const bits = BigInt(size * 8), mask = (1n << bits) - 1n;
      const cases: [bigint, bigint, bigint][] = [];
      for (let k = 0; k < 20000; k++) {
        const d = rng.shaped(bits) || 1n;
        let n: bigint;
        if (k % 8 === 0) n = rng.next() | (rng.next() << 64n); // any dividend: mostly #DE
        else {
          // q·v + r with q and the remainder drawn within range (and the remainder's sign
          // following the dividend's, for IDIV): the quotient fits unless a rounding edge says not.
          const v = signed ? BigInt.asIntN(Number(bits), d) : d, mag = v < 0n ? -v : v;
          const q = signed ? BigInt.asIntN(Number(bits), rng.shaped(bits)) : rng.shaped(bits);
          const r = rng.next() % mag;
          const base = q * v;
          n = signed && base < 0n ? base - r : base + r;
        }
        const [rax, rdx] = place(rng, size, n & ((1n << (2n * bits)) - 1n));
        cases.push([rax, rdx, (rng.next() & ~mask & M64) | d]);
      }
      const { faults } = check(size, signed, cases);
      assert.ok(faults < cases.length / 4, `most random cases fit (${faults} of ${cases.length} faulted)`);
    });
  }
}
