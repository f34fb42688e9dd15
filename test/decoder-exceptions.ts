// Where Ringside's decoder deliberately disagrees with iced-x86 (test/decoder-oracle.test.ts).
// Each exception is an opcode range in SDM notation, the mode(s) it applies to, what
// disagrees (validity, hole or length), and why. Everything else must agree; a decoder that is
// simply wrong is fixed, not listed here.
//
// Range syntax: [NP|66|F3|F2] [0F [38|3A] | VEX | EVEX | XOP] XX[-YY] [/d[-e]] [mem|reg]
// The prefix is the mandatory prefix as the SDM selects it (the last of F2/F3, else 66,
// else none); without one the range covers every prefix. /d is ModRM.reg; mem/reg is
// ModRM.mod != 3 / = 3.

/** validity: one decoder has a valid instruction where the other has #UD; hole: iced has
 *  no instruction where ours has an x87/SSE row (#NM or #UD by CR0 instead of #UD);
 *  length: both decode an instruction, of different lengths. */
export type Disagreement = 'validity' | 'hole' | 'length';

export interface DecoderException {
  range: string;
  mode: 64 | 32 | 'both';
  what: Disagreement;
  reason: string;
}

export const EXCEPTIONS: readonly DecoderException[] = [
  {
    range: '9B', mode: 'both', what: 'validity',
    reason: 'WAIT/FWAIT: iced has the 8086 instruction; the model, which has no x87, has it raise ' +
      '#NM when CR0.MP and CR0.TS are set and #UD otherwise, as the model advertises no x87',
  },
  {
    range: 'NP 0F AE /5-7 reg', mode: 'both', what: 'validity',
    reason: 'LFENCE, MFENCE, SFENCE execute (as no-ops: the model is in order and single-issue) although ' +
      'SSE/SSE2 are not advertised: issue 7 lists the fences among the instructions kernels use; iced tags them SSE2/SSE',
  },
  {
    range: '0F A6-A7', mode: 'both', what: 'length',
    reason: 'VIA PadLock (XSTORE, XCRYPT*, XSHA*, MONTMUL): the SDM opcode map leaves 0F A6/A7 blank, so these ' +
      'are undefined opcodes on Intel (#UD, no ModRM); iced decodes the Centaur instructions',
  },
  {
    range: 'XOP 00-FF', mode: 'both', what: 'length',
    reason: 'AMD XOP/TBM/LWP (8F with XOP.mmmmm >= 8): decided per the Intel flavour, where 8F /1-/7 is an ' +
      'undefined encoding of group 1A whose length is that of its ModRM; #UD in both',
  },
];

// ---------------------------------------------------------------- matching

export type MapName = 'one' | '0F' | '0F38' | '0F3A' | 'VEX' | 'EVEX' | 'XOP';

/** Where an instruction sits in the opcode maps, read from its bytes independently of
 *  both decoders: legacy and REX prefixes, escape bytes, the opcode and the ModRM byte. */
export interface Shape {
  map: MapName;
  opcode: number;
  /** Mandatory prefix: 0 none, 0x66, 0xF3, 0xF2. */
  prefix: number;
  /** The byte after the opcode (ModRM if there is one); -1 past the end. */
  modrm: number;
}

const LEGACY = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

export function shapeOf(bytes: Uint8Array, at: number, bits: 32 | 64): Shape {
  let p = at;
  const end = at + 15;
  let prefix = 0, has66 = false;
  while (p < end && (LEGACY.has(bytes[p]) || (bits === 64 && (bytes[p] & 0xf0) === 0x40))) {
    const b = bytes[p++];
    if (b === 0xf2 || b === 0xf3) prefix = b;
    else if (b === 0x66) has66 = true;
  }
  if (prefix === 0 && has66) prefix = 0x66;
  const b0 = bytes[p], b1 = bytes[p + 1];
  const vexLike = bits === 64 || (b1 & 0xc0) === 0xc0;
  if ((b0 === 0xc4 || b0 === 0xc5) && vexLike) {
    const pp = b0 === 0xc5 ? b1 & 3 : bytes[p + 2] & 3;
    const op = b0 === 0xc5 ? p + 2 : p + 3;
    return { map: 'VEX', opcode: bytes[op], prefix: [0, 0x66, 0xf3, 0xf2][pp], modrm: bytes[op + 1] ?? -1 };
  }
  if (b0 === 0x62 && vexLike) {
    return { map: 'EVEX', opcode: bytes[p + 4], prefix: [0, 0x66, 0xf3, 0xf2][bytes[p + 2] & 3], modrm: bytes[p + 5] ?? -1 };
  }
  if (b0 === 0x8f && (b1 & 0x1f) >= 8) {
    return { map: 'XOP', opcode: bytes[p + 3], prefix: 0, modrm: bytes[p + 4] ?? -1 };
  }
  let map: MapName = 'one';
  if (b0 === 0x0f) {
    p++;
    if (bytes[p] === 0x38) { map = '0F38'; p++; }
    else if (bytes[p] === 0x3a) { map = '0F3A'; p++; }
    else map = '0F';
  }
  return { map, opcode: bytes[p], prefix, modrm: p + 1 < end ? bytes[p + 1] : -1 };
}

interface Matcher {
  map: MapName;
  lo: number;
  hi: number;
  prefix: number;
  regLo: number;
  regHi: number;
  /** 0 any, 1 memory, 2 register. */
  mod: number;
}

function parseRange(range: string): Matcher {
  const t: string[] = range.split(' ');
  let prefix = -1;
  if (['NP', '66', 'F3', 'F2'].includes(t[0])) {
    const p = t.shift()!;
    prefix = p === 'NP' ? 0 : parseInt(p, 16);
  }
  let map: MapName = 'one';
  if (t[0] === 'VEX' || t[0] === 'EVEX' || t[0] === 'XOP') map = t.shift() as MapName;
  else if (t[0] === '0F') {
    t.shift();
    map = '0F';
    const escape: string = t.length > 1 ? t[0] : '';
    if (escape === '38') { map = '0F38'; t.shift(); }
    else if (escape === '3A') { map = '0F3A'; t.shift(); }
  }
  const [lo, hi] = t.shift()!.split('-').map((x) => parseInt(x, 16));
  let regLo = 0, regHi = 7, mod = 0;
  for (const tok of t) {
    if (tok.startsWith('/')) {
      const [a, b] = tok.slice(1).split('-').map((x) => parseInt(x, 10));
      regLo = a; regHi = b ?? a;
    } else if (tok === 'mem') mod = 1;
    else if (tok === 'reg') mod = 2;
    else throw new Error(`decoder exception range ${range}: cannot parse ${tok}`);
  }
  if (Number.isNaN(lo) || Number.isNaN(hi ?? lo)) throw new Error(`decoder exception range ${range}: bad opcode`);
  return { map, lo, hi: hi ?? lo, prefix, regLo, regHi, mod };
}

const MATCHERS = EXCEPTIONS.map((e) => parseRange(e.range));

/** Index of the first exception covering this disagreement, or -1. */
export function findException(shape: Shape, bits: 32 | 64, what: Disagreement): number {
  for (let k = 0; k < EXCEPTIONS.length; k++) {
    const e = EXCEPTIONS[k], m = MATCHERS[k];
    if (e.what !== what || (e.mode !== 'both' && e.mode !== bits)) continue;
    if (m.map !== shape.map || shape.opcode < m.lo || shape.opcode > m.hi) continue;
    if (m.prefix >= 0 && m.prefix !== shape.prefix) continue;
    const reg = (shape.modrm >> 3) & 7;
    if (shape.modrm < 0 ? m.regLo !== 0 || m.regHi !== 7 || m.mod !== 0 : reg < m.regLo || reg > m.regHi) continue;
    if (m.mod === 1 && shape.modrm >= 0xc0) continue;
    if (m.mod === 2 && shape.modrm < 0xc0) continue;
    return k;
  }
  return -1;
}
