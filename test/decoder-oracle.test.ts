// The decoder oracle: Ringside's decoder (src/cpu/decoder.ts, driven by the opcode
// table src/cpu/opcodes.ts) against iced-x86, an independent decoder nobody here wrote.
//
// What the architecture requires (Intel SDM Vol. 2, Chapter 2 "Instruction Format" and
// Appendix A "Opcode Map"). An instruction is: legacy prefixes from four groups (LOCK F0;
// REPNE/REP F2/F3; segment 26 2E 36 3E 64 65; operand size 66; address size 67) in any
// order; in 64-bit mode an optional REX (40-4F), which counts only directly before the
// opcode — a REX followed by a legacy prefix is ignored (§2.2.1); an opcode of one, two
// (0F xx) or three bytes (0F 38 xx, 0F 3A xx); a ModRM if the opcode has one; a SIB when
// ModRM.rm = 100b and mod != 11b (32/64-bit addressing); a displacement: disp8 for mod 01b,
// disp32 for mod 10b, for mod 00b with rm = 101b (RIP-relative in 64-bit mode) and for a
// SIB with base 101b and mod 00b — with 16-bit addressing (67 in 32-bit code) disp16 for mod
// 10b and for mod 00b with rm = 110b, and no SIB; then immediates sized by the operand codes
// of Appendix A (Ib, Iw, Iz, Iv, Jb, Jz, Ob/Ov moffs, Ap). Mandatory prefixes 66/F2/F3 select
// among the instructions of the 0F maps (the last of F2/F3 wins over 66). 66 changes Iz, Iv
// and Jz (in 64-bit mode Intel forces near branches to 64 bits: Jz stays rel32); 67 changes
// the ModRM form and moffs; REX.W makes Iv an imm64 (MOV r64, imm64). VEX (C4/C5) and EVEX
// (62) prefixes (§2.3, §2.7) re-encode the 0F, 0F38 and 0F3A maps (EVEX also maps 5 and 6):
// after the 2-, 3- or 4-byte prefix come the opcode, a ModRM (VEX.0F 77 excepted) and an
// imm8 where the map has one; in 32-bit code C4/C5/62 are VEX/EVEX only when the next byte
// has bits 7:6 = 11b, and otherwise LES/LDS/BOUND. Nothing is longer than 15 bytes (#GP(0)).
// An opcode the maps leave undefined, a LOCK on anything but a lockable read-modify-write
// of memory, and an instruction whose CPUID feature the CPU does not enumerate raise #UD.
//
// How iced-x86 is used. Each byte string is decoded by both decoders in the same mode
// (64-bit, or 32-bit code), and iced's answer is classified:
//   - INVALID: ours must be #UD too (or #GP past 15 bytes). There is no length to compare.
//   - valid, every CPUID feature one the native/idt profile advertises (ADVERTISED,
//     mirroring src/cpu/cpuid.ts): ours must be a valid instruction of the same length.
//   - valid, an x87/MMX/SSE instruction: ours must be an x87/SSE table row — decoded for
//     length, #NM or #UD by CR0 (x87, sse in src/cpu/ops/system.ts) — of the same length.
//     Reserved encodings inside those maps must be plain #UD, so they are compared too.
//   - valid, needing a feature the profile does not advertise (AVX*, BMI, MOVBE, CRC32, ADX,
//     RTM, VMX, SSE4A, 3DNow!, ...): ours must raise #UD, and the lengths must agree all the
//     same. We compare lengths of feature-gated instructions deliberately: traces, the
//     disassembly in reports and the hardware oracle (whose CPU may have the feature) need
//     to know where the next instruction starts, and the SDM's encoding rules, not the
//     feature, fix the length.
// iced's defaults describe a CPU with every feature; three options make it describe what a
// CPU without some of them executes: NoMPFX_0FBC (no BMI1: F3 0F BC is BSF, as issue 7
// says), NoWbnoinvd (no WBNOINVD: F3 0F 09 is WBINVD) and ForceReservedNop (0F 0D and
// 0F 18-1F are NOP hint space: PREFETCHh/PREFETCHW/CLDEMOTE/CET's RDSSP and ENDBR execute
// as NOPs without their features). CRC32 and MOVNTI carry SSE features in iced but use
// general registers: they are #UD without the feature, never #NM.
// Every deliberate disagreement is an opcode range in test/decoder-exceptions.ts with a
// reason; the last test prints the list, its size and how often each entry was used.
//
// Inputs, per mode: the code of every guest image; an exhaustive sweep of the one-byte,
// 0F, 0F38 and 0F3A maps x prefix combinations (none, 66, F2, F3, 67, LOCK, segment, their
// pairs such as 66+F3 and F2+66, REX W/R/X/B alone, after legacy prefixes and before one)
// x every ModRM byte (with several SIB bytes — base 101b, index 100b, both, neither — where
// there is a SIB), followed by filler bytes for displacements and immediates; a sweep of the
// VEX, EVEX and XOP spaces (maps, W, L, pp x every opcode x ModRM classes); and
// RINGSIDE_DECODER_STRINGS (default 10^6) random 15-byte strings, most of them starting with
// prefixes and an escape (0F, 0F 38, 0F 3A, C4, C5, 62, 8F) so the 0F maps and the prefix
// interactions get real coverage. RINGSIDE_DECODER_REPORT=1 prints every disagreement group.
// iced decodes one buffer of 65536 16-byte slots per Decoder (decoder.position), and ours
// decodes the same buffer from guest memory: the whole file takes about 10 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decoder, DecoderOptions, Instruction, CpuidFeature, Code, Mnemonic } from 'iced-x86';
import { Kind, SLOT, BATCH_SLOTS, decodeBatch, decodeBytes, newBatchResult, entryName } from './helpers/decode-bytes.js';
import { EXCEPTIONS, findException, shapeOf, type Disagreement } from './decoder-exceptions.js';
import { parseElf } from '../src/guest/elf.js';
import { buildGuest, guestBoot, listGuests } from '../src/guest/build.js';
import { featureSet } from '../src/cpu/cpuid.js';

const ICED_OPTIONS = DecoderOptions.NoMPFX_0FBC | DecoderOptions.NoWbnoinvd | DecoderOptions.ForceReservedNop;

/** iced-x86's name(s) for each feature the decoder gates on (src/cpu/cpuid.ts featureSet);
 *  [] for features that gate no instruction of their own. */
const ICED_FEATURES: Record<string, number[]> = {
  cx8: [CpuidFeature.CX8], cmov: [CpuidFeature.CMOV], cx16: [CpuidFeature.CMPXCHG16B],
  popcnt: [CpuidFeature.POPCNT], lzcnt: [CpuidFeature.LZCNT], rdtscp: [CpuidFeature.RDTSCP], rdpid: [CpuidFeature.RDPID],
  lm: [CpuidFeature.X64], syscall: [CpuidFeature.SYSCALL], sep: [CpuidFeature.SEP], tsc: [CpuidFeature.TSC],
  msr: [CpuidFeature.MSR], fred: [CpuidFeature.FRED], lkgs: [CpuidFeature.LKGS],
  fsgsbase: [CpuidFeature.FSGSBASE],
  lahf64: [], // LAHF/SAHF in 64-bit mode: iced's INTEL8086 (see NoLahfSahf64)
  nx: [],
  invpcid: [CpuidFeature.INVPCID], smap: [CpuidFeature.SMAP], // STAC, CLAC
  pge: [], pcid: [], smep: [], la57: [], page1gb: [], pse: [], // paging features: no instruction of their own
  mce: [], mca: [], // machine-check architecture: MSRs and CR4.MCE, no instruction of their own
};
const PROFILE_FEATURES = featureSet({ vendor: 'intel', fred: false });

/** iced-x86 CPUID features of instructions the native/idt model advertises: the baseline
 *  every x86-64 CPU has (8086..486, CPUID, multi-byte NOP, PAUSE as a hint, RDPMC: no CPUID
 *  bit, present since the Pentium Pro), and cpuid.ts. */
const ADVERTISED = new Set<number>([
  CpuidFeature.INTEL8086, CpuidFeature.INTEL186, CpuidFeature.INTEL286, CpuidFeature.INTEL386,
  CpuidFeature.INTEL486, CpuidFeature.CPUID, CpuidFeature.MULTIBYTENOP, CpuidFeature.PAUSE, CpuidFeature.RDPMC,
  ...[...PROFILE_FEATURES].flatMap((f) => ICED_FEATURES[f] ?? []),
]);

/** x87, MMX and SSE features: not modelled, #NM or #UD by CR0 (src/cpu/ops/system.ts). */
const X87_SSE = new Set<number>([
  CpuidFeature.FPU, CpuidFeature.FPU287, CpuidFeature.FPU387, CpuidFeature.MMX, CpuidFeature.SSE,
  CpuidFeature.SSE2, CpuidFeature.SSE3, CpuidFeature.SSSE3, CpuidFeature.SSE4_1, CpuidFeature.SSE4_2,
  CpuidFeature.AES, CpuidFeature.PCLMULQDQ, CpuidFeature.SHA, CpuidFeature.GFNI,
  CpuidFeature.FXSR,
]);

const STRINGS = Number(process.env.RINGSIDE_DECODER_STRINGS ?? 1_000_000);
const REPORT = process.env.RINGSIDE_DECODER_REPORT === '1';

const enum Iced { Invalid, Advertised, X87Sse, Unadvertised }

const instr = new Instruction();
const classCache = new Map<number, Iced>();
function icedClass(code: number): Iced {
  if (code === Code.INVALID) return Iced.Invalid;
  let c = classCache.get(code);
  if (c === undefined) {
    const features = Array.from(instr.cpuidFeatures());
    c = features.every((f) => ADVERTISED.has(f)) ? Iced.Advertised
      : !GENERAL_REGISTERS.has(instr.mnemonic) && features.some((f) => X87_SSE.has(f)) &&
        features.every((f) => X87_SSE.has(f) || ADVERTISED.has(f)) ? Iced.X87Sse
      : Iced.Unadvertised;
    classCache.set(code, c);
  }
  return c;
}

/** Instructions iced tags with an SSE feature that use only general registers: without
 *  the feature they raise #UD, never #NM (SDM CRC32, MOVNTI). */
const GENERAL_REGISTERS = new Set<number>([Mnemonic.Crc32, Mnemonic.Movnti]);

/** Instructions whose defined behaviour is #UD: ours may decode them as 'UD' rows. */
const UD_MNEMONICS = new Set<number>([Mnemonic.Ud0, Mnemonic.Ud1, Mnemonic.Ud2]);

interface Group { count: number; example: string }

class Tally {
  compared = 0;
  /** Strings per iced class: invalid, advertised, x87/SSE, not advertised. */
  readonly classes = [0, 0, 0, 0];
  disagreements = 0;
  readonly groups = new Map<string, Group>();
  readonly exceptionHits = new Array<number>(EXCEPTIONS.length).fill(0);
}

const hits = new Array<number>(EXCEPTIONS.length).fill(0);

function hex(bytes: Uint8Array, at: number, len: number): string {
  return Buffer.from(bytes.subarray(at, at + Math.max(1, Math.min(15, len)))).toString('hex');
}

const ours = newBatchResult();

/** Compare `count` strings laid out SLOT bytes apart in `buf`. */
function compareBatch(buf: Uint8Array, count: number, bits: 32 | 64, tally: Tally): void {
  decodeBatch(buf, count, bits, ours);
  const decoder = new Decoder(bits, buf.subarray(0, count * SLOT), ICED_OPTIONS);
  for (let k = 0; k < count; k++) {
    decoder.position = k * SLOT;
    decoder.decodeOut(instr);
    const code = instr.code;
    const cls = icedClass(code);
    const kind = ours.kind[k] as Kind;
    const len = ours.length[k];
    let what: Disagreement | null = null;
    let detail = '';
    switch (cls) {
      case Iced.Invalid:
        if (kind === Kind.Valid) { what = 'validity'; detail = 'iced invalid'; }
        else if (kind === Kind.NmUd) { what = 'hole'; detail = 'iced invalid, ours x87/SSE'; }
        break;
      case Iced.Advertised:
        if (kind !== Kind.Valid && !(kind === Kind.Ud && UD_MNEMONICS.has(instr.mnemonic))) {
          what = 'validity'; detail = 'iced valid (advertised)';
        }
        break;
      case Iced.X87Sse:
        if (kind !== Kind.NmUd) { what = 'validity'; detail = 'iced x87/SSE'; }
        break;
      case Iced.Unadvertised:
        if (kind === Kind.Valid || kind === Kind.NmUd) { what = 'validity'; detail = 'iced valid, feature not advertised'; }
        break;
    }
    if (what === null && cls !== Iced.Invalid && instr.length !== len) { what = 'length'; detail = `iced length ${instr.length}, ours ${len}`; }
    tally.compared++;
    tally.classes[cls]++;
    if (what === null) continue;
    const at = k * SLOT;
    const shape = shapeOf(buf, at, bits);
    const ex = findException(shape, bits, what);
    if (ex >= 0) { tally.exceptionHits[ex]++; hits[ex]++; continue; }
    tally.disagreements++;
    const mod = shape.modrm < 0 ? '' : shape.modrm >= 0xc0 ? ' reg' : ' mem';
    const key = `${what}: ${bits}-bit ${shape.prefix === 0 ? 'NP' : shape.prefix.toString(16).toUpperCase()} ` +
      `${shape.map} ${shape.opcode.toString(16).toUpperCase().padStart(2, '0')} /${(shape.modrm >> 3) & 7}${mod}`;
    const g = tally.groups.get(key);
    if (g !== undefined) { g.count++; continue; }
    const icedText = code === Code.INVALID ? 'INVALID' : `${Code[code]} [${Array.from(instr.cpuidFeatures()).map((f) => CpuidFeature[f]).join(',')}]`;
    tally.groups.set(key, {
      count: 1,
      example: `${hex(buf, at, Math.max(instr.length, len))}: ${detail}; iced ${icedText}, ours ${entryName(ours.entry[k])} kind ${kind} len ${len}`,
    });
  }
  decoder.free();
}

/** Fills batches of strings and compares each full batch. */
class Runner {
  readonly buf = new Uint8Array(BATCH_SLOTS * SLOT);
  count = 0;
  constructor(readonly bits: 32 | 64, readonly tally: Tally) {}
  /** The next slot's offset; the caller writes up to 16 bytes there. */
  slot(): number {
    if (this.count === BATCH_SLOTS) this.flush();
    return SLOT * this.count++;
  }
  flush(): void {
    if (this.count > 0) compareBatch(this.buf, this.count, this.bits, this.tally);
    this.count = 0;
  }
}

function finish(tally: Tally, what: string): void {
  const used = tally.exceptionHits.map((n, k) => [n, k]).filter(([n]) => n > 0);
  const [invalid, advertised, x87Sse, unadvertised] = tally.classes;
  console.log(`${what}: compared ${tally.compared} strings (iced: ${invalid} invalid, ${advertised} advertised, ` +
    `${x87Sse} x87/SSE, ${unadvertised} not advertised); ${tally.disagreements} unexplained disagreements ` +
    `in ${tally.groups.size} groups; ${used.length} exceptions used`);
  const groups = [...tally.groups.entries()].sort((a, b) => b[1].count - a[1].count);
  for (const [key, g] of REPORT ? groups : groups.slice(0, 40)) console.log(`  ${key} (${g.count}x) e.g. ${g.example}`);
  assert.equal(tally.groups.size, 0, `${tally.groups.size} groups of disagreements with iced-x86 (first 40 above)`);
}

// ---------------------------------------------------------------- inputs

const FILL = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01, 0x02];

/** Prefix combinations of the sweep. */
function prefixCombos(bits: 32 | 64): number[][] {
  const legacy = [[], [0x66], [0xf2], [0xf3], [0x67], [0xf0], [0x2e], [0x64], [0x66, 0xf3], [0xf3, 0x66],
    [0xf2, 0x66], [0x66, 0xf2], [0xf2, 0xf3], [0xf3, 0xf2], [0x66, 0x67], [0xf0, 0x66], [0x26, 0x67, 0x66]];
  if (bits === 32) return legacy;
  return [...legacy, [0x40], [0x48], [0x44], [0x42], [0x41], [0x4f], [0x66, 0x48], [0xf3, 0x48], [0xf2, 0x41],
    [0x66, 0x44], [0x67, 0x4b], [0xf0, 0x48], [0x48, 0x66], [0x41, 0xf3], [0x48, 0x41]];
}

/** ModRM classes: every ModRM byte; for rm = 100b with mod != 11b, several SIB bytes
 *  (base 101b, index 100b, both, neither). Each entry is ModRM (+ SIB). */
function modrmClasses(): number[][] {
  const out: number[][] = [];
  for (let modrm = 0; modrm < 256; modrm++) {
    if ((modrm & 7) === 4 && modrm < 0xc0) {
      for (const sib of [0x25, 0x24, 0x65, 0xe5, 0x1d, 0xc8]) out.push([modrm, sib]);
    } else out.push([modrm]);
  }
  return out;
}

/** A smaller set of ModRM classes for the VEX/EVEX/XOP sweeps. */
const SMALL_MODRM = [[0xc0], [0xd1], [0xe2], [0xf3], [0xcb], [0xdc], [0xef], [0xff], [0x00], [0x0d], [0x14, 0x25],
  [0x1c, 0x20], [0x44, 0x20], [0x58], [0x8c, 0x25], [0xa5], [0x30], [0x38]];

function put(r: Runner, bytes: number[]): void {
  const at = r.slot();
  let p = 0;
  for (; p < bytes.length && p < SLOT; p++) r.buf[at + p] = bytes[p];
  for (let f = 0; p < SLOT; p++, f++) r.buf[at + p] = FILL[f];
}

function sweepLegacy(r: Runner): void {
  const classes = modrmClasses();
  for (const prefixes of prefixCombos(r.bits)) {
    for (const escape of [[], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]]) {
      for (let op = 0; op < 256; op++) {
        const head = [...prefixes, ...escape, op];
        for (const m of classes) put(r, [...head, ...m]);
      }
    }
  }
}

function sweepVex(r: Runner): void {
  const rx = r.bits === 64 ? [0x80, 0x00] : [0x80]; // inverted R (and X/B): 1 = register 0-7
  for (const R of rx) for (const L of [0, 4]) for (let pp = 0; pp < 4; pp++) {
    for (let op = 0; op < 256; op++) for (const m of SMALL_MODRM) put(r, [0xc5, 0x78 | R | L | pp, op, ...m]);
  }
  for (const rxb of r.bits === 64 ? [0xe0, 0x00] : [0xe0]) for (const mmmmm of [1, 2, 3, 0, 4]) {
    for (const W of [0, 0x80]) for (const L of [0, 4]) for (let pp = 0; pp < 4; pp++) {
      for (let op = 0; op < 256; op++) for (const m of SMALL_MODRM) put(r, [0xc4, rxb | mmmmm, W | 0x78 | L | pp, op, ...m]);
    }
  }
  for (const mmm of [1, 2, 3, 5, 6, 0, 4, 7]) for (const W of [0, 0x80]) for (let pp = 0; pp < 4; pp++) {
    for (const p2 of [0x08, 0x48, 0x18]) { // V' = 1 (inverted), L'L = 00 or 10, b = 0 or 1
      for (let op = 0; op < 256; op++) for (const m of SMALL_MODRM) put(r, [0x62, 0xf0 | mmm, W | 0x7c | pp, p2, op, ...m]);
    }
  }
  for (const mmmmm of [8, 9, 0x0a, 0x0b]) for (const W of [0, 0x80]) for (const L of [0, 4]) {
    for (let op = 0; op < 256; op++) for (const m of SMALL_MODRM) put(r, [0x8f, 0xe0 | mmmmm, W | 0x78 | L, op, ...m]);
  }
}

const PREFIX_BYTES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

function sweepRandom(r: Runner, n: number, seed0: number): void {
  let seed = seed0 >>> 0;
  const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
  const bytes: number[] = [];
  for (let k = 0; k < n; k++) {
    bytes.length = 0;
    const shape = rnd() % 100;
    if (shape >= 15) {
      // Prefixes: none (half the time) or up to four, with REX among them in 64-bit mode.
      let np = rnd() % 8;
      np = np < 4 ? 0 : np - 3;
      for (let j = 0; j < np; j++) {
        const pick = rnd() % (PREFIX_BYTES.length + (r.bits === 64 ? 4 : 0));
        bytes.push(pick < PREFIX_BYTES.length ? PREFIX_BYTES[pick] : 0x40 | (rnd() & 15));
      }
      if (r.bits === 64 && rnd() % 3 === 0) bytes.push(0x40 | (rnd() & 15));
      const esc = rnd() % 100;
      if (esc < 25) { /* one-byte map */ }
      else if (esc < 50) bytes.push(0x0f);
      else if (esc < 62) bytes.push(0x0f, 0x38);
      else if (esc < 74) bytes.push(0x0f, 0x3a);
      else if (esc < 80) bytes.push(0xc5);
      else if (esc < 88) bytes.push(0xc4, (rnd() & 0xe0) | [1, 2, 3, 1, 2, 3, 0, 4][rnd() & 7]);
      else if (esc < 97) bytes.push(0x62, (rnd() & 0xf0) | [1, 2, 3, 5, 6, 1, 2, 3][rnd() & 7], (rnd() & 0xfb) | 4);
      else bytes.push(0x8f, (rnd() & 0xe0) | [8, 9, 10][rnd() % 3]);
    }
    const at = r.slot();
    let p = 0;
    for (; p < bytes.length && p < SLOT; p++) r.buf[at + p] = bytes[p];
    for (; p < SLOT; p++) r.buf[at + p] = rnd() >>> 24;
  }
}

// ---------------------------------------------------------------- tests

test('every feature the profile advertises has its iced-x86 name here', () => {
  for (const f of featureSet({ vendor: 'intel', fred: true })) assert.ok(f in ICED_FEATURES, `cpuid.ts feature ${f}`);
});

test('decoder matches iced-x86 on every instruction of the guest images (each in its own mode)', () => {
  const tally = new Tally();
  const runners = { 64: new Runner(64, tally), 32: new Runner(32, tally) };
  for (const name of listGuests('native')) {
    const bits = guestBoot(name) === 'multiboot32' ? 32 : 64;
    const r = runners[bits];
    const image = parseElf(readFileSync(buildGuest(name, name === 'bench' ? { defines: { BENCH_ITERS: 1 } } : {})), name);
    for (const seg of image.segments) {
      // Walk the segment linearly as iced decodes it; data bytes in text are compared too.
      const bytes = seg.data;
      const decoder = new Decoder(bits, bytes, ICED_OPTIONS);
      let offset = 0;
      while (decoder.canDecode) {
        decoder.decodeOut(instr);
        if (offset + 15 <= bytes.length) {
          const at = r.slot();
          r.buf.set(bytes.subarray(offset, offset + 15), at);
          r.buf[at + 15] = 0;
        }
        offset += instr.length;
      }
      decoder.free();
    }
  }
  runners[64].flush();
  runners[32].flush();
  finish(tally, 'guest images');
  assert.ok(tally.compared > 1000);
});

for (const bits of [64, 32] as const) {
  test(`decoder matches iced-x86: exhaustive sweep of the maps x prefixes x ModRM classes (${bits}-bit)`, () => {
    const tally = new Tally();
    const r = new Runner(bits, tally);
    sweepLegacy(r);
    r.flush();
    finish(tally, `${bits}-bit legacy maps`);
  });

  test(`decoder matches iced-x86: VEX, EVEX and XOP sweep (${bits}-bit)`, () => {
    const tally = new Tally();
    const r = new Runner(bits, tally);
    sweepVex(r);
    r.flush();
    finish(tally, `${bits}-bit VEX/EVEX/XOP`);
  });

  test(`decoder matches iced-x86 on ${STRINGS} random byte strings (${bits}-bit)`, () => {
    const tally = new Tally();
    const r = new Runner(bits, tally);
    sweepRandom(r, STRINGS, bits === 64 ? 0x1234567 : 0x7654321);
    r.flush();
    finish(tally, `${bits}-bit random strings`);
  });
}

/** Named cases, each a rule of SDM Vol. 2 Chapter 2 the sweeps above also cover:
 *  [mode, bytes, kind, length]. */
const CASES: [32 | 64, string, Kind, number, string][] = [
  [64, 'c5f877', Kind.Invalid, 3, 'VEX.0F 77 VZEROUPPER: 2-byte VEX, no ModRM; AVX not advertised'],
  [64, 'c4e27908142511223344', Kind.Invalid, 10, 'VEX.0F38 with SIB, no base: disp32'],
  [64, 'c4e3794a000011', Kind.Invalid, 6, 'VEX.0F3A: imm8'],
  [64, '62f17d08720d1122334455', Kind.Invalid, 11, 'EVEX.0F 72 /1: RIP-relative disp32 and imm8'],
  [32, 'c5f877', Kind.Invalid, 3, '32-bit: C5 with bits 7:6 = 11b is VEX'],
  [32, 'c400', Kind.Valid, 2, '32-bit: C4 with a memory ModRM is LES'],
  [32, '6200', Kind.Valid, 2, '32-bit: 62 with a memory ModRM is BOUND'],
  [32, '62f17d08660011', Kind.Invalid, 6, '32-bit: 62 with bits 7:6 = 11b is EVEX'],
  [64, '8fe878a20011', Kind.Invalid, 2, 'XOP per the Intel flavour: 8F /5, undefined, ModRM length'],
  [64, '8f00', Kind.Valid, 2, '8F /0 is POP Ev'],
  [64, '0f0fc00c', Kind.Ud, 4, '3DNow! 0F 0F /r ib: #UD, length with the opcode byte'],
  [64, '66c7f81122', Kind.Ud, 5, 'XBEGIN with 66 in 64-bit mode: rel16'],
  [64, '66e800000000', Kind.Valid, 6, 'CALL rel32 in 64-bit mode: 66 does not shorten it (Intel)'],
  [32, '66e80000', Kind.Valid, 4, 'CALL rel16 with 66 in 32-bit code'],
  [64, '440f20c0', Kind.Valid, 4, 'MOV RAX, CR8: REX.R with /0'],
  [64, '440f20d0', Kind.Invalid, 4, 'MOV RAX, CR10 does not exist: #UD at decode (before the CPL check)'],
  [64, '440f21c0', Kind.Invalid, 4, 'MOV RAX, DR8 does not exist'],
  [64, '0f38f000', Kind.Ud, 4, 'MOVBE: not advertised, #UD with its length'],
  [64, 'f20f38f1c0', Kind.Ud, 5, 'CRC32: SSE4.2 on general registers, #UD (never #NM)'],
  [64, 'f30fbcc0', Kind.Valid, 4, 'F3 0F BC without BMI1 is BSF'],
  [64, '0f380000', Kind.NmUd, 4, 'PSHUFB mm: MMX, #NM/#UD by CR0'],
  [64, 'f20f3800c0', Kind.Invalid, 5, 'F2 0F 38 00 is a hole in the map: #UD'],
  [64, 'd908', Kind.Ud, 2, 'D9 /1 with a memory operand is reserved: #UD, not #NM'],
  [64, '4866' + '90', Kind.Valid, 3, 'REX before a legacy prefix is ignored: 66 90'],
  [32, '678b4600', Kind.Valid, 4, '16-bit addressing: [BP+disp8]'],
  [32, '678b0e3412', Kind.Valid, 5, '16-bit addressing: mod 00 rm 110 is disp16'],
  [64, '8b0425' + '00000000', Kind.Valid, 7, 'SIB with no base and no index: disp32'],
  [64, '8b4c2500', Kind.Valid, 4, 'SIB base 101b with mod 01: RBP+disp8'],
  [64, 'f0' + '01c0', Kind.Invalid, 3, 'LOCK on a register destination: #UD'],
  [64, '0faee9', Kind.Valid, 3, 'LFENCE with ModRM.rm != 0'],
];

test('decoder: named cases of the encoding rules', () => {
  const bad: string[] = [];
  for (const [bits, text, kind, length, what] of CASES) {
    const bytes = new Uint8Array(15);
    bytes.set(Buffer.from(text, 'hex'));
    const d = decodeBytes(bytes, bits);
    if (d.kind !== kind || d.length !== length) bad.push(`${bits}-bit ${text} (${what}): kind ${d.kind} length ${d.length}, want kind ${kind} length ${length}`);
  }
  assert.deepEqual(bad, []);
});

test('decoder exceptions: the written list', () => {
  console.log(`decoder exceptions: ${EXCEPTIONS.length} entries (test/decoder-exceptions.ts)`);
  EXCEPTIONS.forEach((e, k) => console.log(`  ${e.range} (${e.mode === 'both' ? '64/32' : e.mode}-bit, ${e.what}): ${hits[k]} hits — ${e.reason}`));
  // An entry nothing needs any more is removed, not kept "just in case".
  const unused = EXCEPTIONS.filter((_, k) => hits[k] === 0).map((e) => e.range);
  assert.deepEqual(unused, [], 'exceptions no disagreement needed');
});
