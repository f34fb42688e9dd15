// Instruction decoding for 64-bit mode and 32-bit code (SDM Vol. 2 Chapter 2:
// prefixes §2.1.1, REX §2.2.1, ModRM/SIB §2.1.5, RIP-relative §2.2.1.6, VEX §2.3,
// EVEX §2.7), driven entirely by the opcode table in opcodes.ts: this file knows operand
// forms, not opcodes. Encodings of features the CPU model does not advertise still get
// their architectural length (traces, disassembly and the hardware oracle need it), then
// #UD. AMD's XOP space (8F with XOP.mmmmm >= 8) is decoded per the Intel flavour: group
// 1A, where only 8F /0 is defined. test/decoder-oracle.test.ts checks all of this
// against iced-x86.

import type { Cpu } from './cpu.js';
import { Mode } from './mode.js';
import { Insn, NONE, RIP_BASE } from './insn.js';
import { lookup, type DecodedEntry, MemSize } from './opcodes.js';
import { specialize } from './specialize.js';
import { blockRole } from './blocks.js';
import { DS, SS, ES, CS, FS, GS } from '../arch/descriptors.js';

const SEG_PREFIX: Record<number, number> = { 0x26: ES, 0x2e: CS, 0x36: SS, 0x3e: DS, 0x64: FS, 0x65: GS };

/** Decode the instruction at linear address `rip` in the CPU's current mode. Raises
 *  #PF/#GP for fetches, #GP(0) past 15 bytes, #UD for invalid encodings (as an
 *  instruction whose execution raises #UD, so the fault has the right RIP). */
export function decode(cpu: Cpu, rip: number): Insn {
  const mode64 = cpu.mode === Mode.Long64;
  let pos = 0;
  const next = (): number => {
    if (pos >= 15) cpu.gp(0);
    return cpu.fetchByte(rip + pos++);
  };
  const peek = (): number => {
    if (pos >= 15) cpu.gp(0);
    return cpu.fetchByte(rip + pos);
  };

  let opsize16 = false, addrsize = false, rep = 0, lock = false, seg = -1, rex = 0;
  let mandatory = 0;
  let byte = next();
  for (;;) {
    if (byte === 0x66) { opsize16 = true; if (mandatory === 0) mandatory = 0x66; }
    else if (byte === 0x67) addrsize = true;
    else if (byte === 0xf3 || byte === 0xf2) { rep = byte === 0xf3 ? 1 : 2; mandatory = byte; }
    else if (byte === 0xf0) lock = true;
    else if (byte in SEG_PREFIX) {
      // In 64-bit mode CS/DS/ES/SS prefixes are null prefixes: they neither override the
      // segment nor cancel an FS/GS prefix (SDM Vol. 1 §3.3.7.1; AMD APM Vol. 2 §4.5.3: only
      // FS and GS bases apply in 64-bit mode -- the Vol. 3 prefix text was not available here).
      const s = SEG_PREFIX[byte];
      if (!mode64 || s === FS || s === GS) seg = s;
    }
    else if (mode64 && (byte & 0xf0) === 0x40) {
      // REX counts only directly before the opcode; a later REX replaces it (§2.2.1).
      rex = byte;
      byte = next();
      if (isLegacyPrefix(byte)) rex = 0;
      else if ((byte & 0xf0) !== 0x40) break;
      continue;
    }
    else break;
    byte = next();
  }

  // VEX (C4, C5) and EVEX (62): in 32-bit code only when the next byte has bits 7:6 = 11b
  // (otherwise LES, LDS, BOUND with a memory operand). AVX and AVX-512 are not advertised.
  if ((byte === 0xc4 || byte === 0xc5 || byte === 0x62) && (mode64 || peek() >= 0xc0)) {
    skipVex(byte, next, mode64 || !addrsize);
    return undefinedInsn(new Insn(undefinedOpcode), pos);
  }

  let map = 0;
  if (byte === 0x0f) {
    byte = next();
    if (byte === 0x38) { map = 2; byte = next(); }
    else if (byte === 0x3a) { map = 3; byte = next(); }
    else map = 1;
  }
  const candidates = lookup(map, byte);
  const insn = new Insn(undefinedOpcode);
  if (candidates === undefined) { insn.len = pos; return insn; }

  let modrm = -1;
  if (candidates[0].modrm) modrm = next();
  const mod = modrm >> 6, ext = (modrm >> 3) & 7;
  const prefixKey = mandatory;
  let entry: DecodedEntry | undefined;
  for (const c of candidates) {
    if (c.prefix >= 0 && c.prefix !== prefixKey) continue;
    if (c.ext >= 0 && c.ext !== ext) continue;
    if (c.mod === 1 && mod === 3) continue;
    if (c.mod === 2 && mod !== 3) continue;
    if (c.modrmByte >= 0 && c.modrmByte !== modrm) continue;
    if (c.rexW >= 0 && c.rexW !== ((rex >> 3) & 1)) continue;
    if (c.rexR0 && (rex & 4) !== 0) continue;
    if (c.only64 && !mode64) continue;
    if (c.not64 && mode64) continue;
    entry = c;
    break;
  }
  if (entry === undefined) {
    // Still consume the addressing bytes so the length is sensible for traces.
    if (modrm >= 0) skipAddressing(next, modrm, mode64 || !addrsize);
    insn.len = pos;
    return insn;
  }

  insn.entry = entry.index;
  insn.op = entry.op;
  insn.rep = rep;
  insn.lock = lock;
  insn.rex = rex !== 0;
  const rexW = (rex & 8) !== 0, rexR = (rex & 4) << 1, rexX = (rex & 2) << 2, rexB = (rex & 1) << 3;

  // Operand size (§2.2.1.2, Table 2-4) and address size.
  let osz: number;
  if (mode64) {
    if (entry.size64 === 'f64') osz = 8;
    else if (rexW) osz = 8;
    else if (opsize16) osz = 2;
    else osz = entry.size64 === 'd64' ? 8 : 4;
  } else {
    osz = opsize16 ? 2 : 4;
  }
  if (entry.byteOp) osz = 1;
  insn.osz = osz;
  const asz = mode64 ? (addrsize ? 4 : 8) : (addrsize ? 2 : 4);
  insn.asz = asz;
  const ms = entry.memSize;
  insn.memSize = ms > 0 ? ms : ms === MemSize.OperandSize ? osz : ms === MemSize.DwordOrQword ? (osz === 8 ? 8 : 4)
    : ms === MemSize.FarPointer ? osz + 2 : ms === MemSize.BoundPair ? 2 * osz : mode64 ? 10 : 6;

  // ModRM and SIB (§2.1.5, Tables 2-2 and 2-3).
  if (modrm >= 0) {
    insn.reg = ((modrm >> 3) & 7) | rexR;
    const rm = modrm & 7;
    if (mod === 3 || entry.regForm) {
      insn.rm = rm | rexB;
      insn.mem = false;
    } else {
      insn.mem = true;
      if (asz === 2) decodeModrm16(insn, mod, rm, next, seg);
      else decodeModrm32(insn, mod, rm, next, seg, rexX, rexB, mode64);
    }
  } else if (entry.opReg) {
    insn.reg = (byte & 7) | rexB;
  }
  if (seg >= 0 && !insn.mem) insn.seg = seg;
  insn.segOverride = seg >= 0;
  if (!insn.mem && seg < 0) insn.seg = DS;

  // 8-bit register operands: without REX, encodings 4..7 are AH, CH, DH, BH.
  if (entry.byteRegs && rex === 0) {
    if ((entry.byteRegs & 1) !== 0 && insn.reg >= 4 && insn.reg < 8) insn.reg += 12;
    if ((entry.byteRegs & 2) !== 0 && !insn.mem && insn.rm >= 4 && insn.rm < 8) insn.rm += 12;
  }

  // Immediates, in operand order.
  for (let k = 0; k < entry.imms.length; k++) {
    const kind = entry.imms[k];
    let lo = 0, hi = 0;
    switch (kind) {
      case 'b': lo = (next() << 24) >> 24; hi = lo >> 31; break;
      case 'w': lo = readImm(next, 2); break;
      case 'd': lo = readImm(next, 4); hi = lo >> 31; break;
      case 'z': if (osz === 2) { lo = readImm(next, 2); } else { lo = readImm(next, 4); hi = lo >> 31; } break;
      case 'v':
        if (osz === 2) lo = readImm(next, 2);
        else if (osz === 4) lo = readImm(next, 4);
        else { lo = readImm(next, 4); hi = readImm(next, 4); }
        break;
      case 'J': // relative, Jz: 2 bytes with 16-bit operand size (near branches are f64 in 64-bit mode)
        if (osz === 2) { lo = (readImm(next, 2) << 16) >> 16; } else lo = readImm(next, 4);
        hi = lo >> 31;
        break;
      case 'O': // moffs: address-size bytes
        lo = readImm(next, asz === 2 ? 2 : 4);
        if (asz === 8) hi = readImm(next, 4);
        break;
      case 'p': // far pointer: offset (operand size) then selector
        lo = readImm(next, osz === 2 ? 2 : 4);
        insn.imm2 = readImm(next, 2);
        break;
    }
    if (k === 0) { insn.immLo = lo; insn.immHi = hi; }
    else insn.imm2 = kind === 'b' ? lo & 0xff : lo;
  }

  // LOCK (Vol. 2 LOCK: #UD unless a lockable instruction with a memory destination).
  if (lock && (!entry.lockable || !insn.mem)) return undefinedInsn(insn, pos);
  if (entry.not64 && mode64) return undefinedInsn(insn, pos);

  insn.exec = entry.exec;
  insn.len = pos;
  if (entry.feature !== null && !cpu.features.has(entry.feature)) insn.exec = undefinedOpcode;
  else if (!cpu.stepped) insn.exec = specialize(insn);
  insn.straight = blockRole(insn.exec) === 'straight';
  return insn;
}

/** 32/64-bit ModRM and SIB addressing (SDM Vol. 2 Tables 2-2, 2-3; RIP-relative §2.2.1.6). */
function decodeModrm32(insn: Insn, mod: number, rm: number, next: () => number, seg: number,
  rexX: number, rexB: number, mode64: boolean): void {
  let base = NONE, index = NONE, scale = 0, dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
  if (rm === 4) {
    const sib = next();
    scale = sib >> 6;
    const idx = ((sib >> 3) & 7) | rexX;
    if (idx !== 4) index = idx;
    if ((sib & 7) === 5 && mod === 0) dispBytes = 4;
    else base = (sib & 7) | rexB;
  } else if (rm === 5 && mod === 0) {
    dispBytes = 4;
    if (mode64) base = RIP_BASE;
  } else {
    base = rm | rexB;
  }
  insn.base = base;
  insn.index = index;
  insn.scale = scale;
  if (dispBytes === 1) { const d = (next() << 24) >> 24; insn.dispLo = d; insn.dispHi = d >> 31; }
  else if (dispBytes === 4) { const d = readImm(next, 4); insn.dispLo = d; insn.dispHi = d >> 31; }
  insn.seg = seg >= 0 ? seg : (base === 4 || base === 5) ? SS : DS;
}

/** 16-bit ModRM addressing (SDM Vol. 2 Table 2-1): BX/BP plus SI/DI plus disp8/disp16. */
const BASE16 = [3, 3, 5, 5, 6, 7, 5, 3]; // BX, BX, BP, BP, SI, DI, BP, BX
const INDEX16 = [6, 7, 6, 7, NONE, NONE, NONE, NONE]; // SI, DI, SI, DI
function decodeModrm16(insn: Insn, mod: number, rm: number, next: () => number, seg: number): void {
  let base = BASE16[rm];
  let disp = 0;
  if (mod === 0 && rm === 6) { base = NONE; disp = readImm(next, 2); }
  else if (mod === 1) disp = (next() << 24) >> 24;
  else if (mod === 2) disp = readImm(next, 2);
  insn.base = base;
  insn.index = INDEX16[rm];
  insn.scale = 0;
  insn.dispLo = disp;
  insn.dispHi = disp >> 31;
  insn.seg = seg >= 0 ? seg : base === 5 ? SS : DS;
}

function isLegacyPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b in SEG_PREFIX;
}

function readImm(next: () => number, bytes: number): number {
  let v = 0;
  for (let k = 0; k < bytes; k++) v |= next() << (8 * k);
  return bytes === 2 ? v & 0xffff : v;
}

function undefinedInsn(insn: Insn, len: number): Insn {
  insn.exec = undefinedOpcode;
  insn.len = len;
  return insn;
}

/** Consume the SIB and displacement bytes of a ModRM whose operands are not decoded
 *  (undefined encodings, VEX/EVEX), for the length only. */
function skipAddressing(next: () => number, modrm: number, wide: boolean): void {
  const mod = modrm >> 6, rm = modrm & 7;
  if (mod === 3) return;
  let bytes: number;
  if (!wide) {
    bytes = mod === 1 ? 1 : mod === 2 || rm === 6 ? 2 : 0; // 16-bit addressing, Table 2-1
  } else {
    bytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
    if (rm === 4) { if ((next() & 7) === 5 && mod === 0) bytes = 4; }
    else if (rm === 5 && mod === 0) bytes = 4;
  }
  for (let k = 0; k < bytes; k++) next();
}

/** VEX (C4 3-byte, C5 2-byte) and EVEX (62) instructions (SDM Vol. 2 §2.3, §2.7) are
 *  decoded for their length only; they raise #UD, since AVX and AVX-512 are not
 *  advertised. The prefix names the opcode map (C5: 0F; C4: VEX.mmmmm; 62: EVEX.mmm,
 *  maps 5 and 6 being AVX512-FP16's); then come the opcode, a ModRM with its SIB and
 *  displacement (every VEX/EVEX instruction has one but VEX.0F 77 VZEROUPPER/VZEROALL,
 *  like its legacy row EMMS), and an imm8 in the 0F3A map and wherever the legacy 0F row
 *  of the same opcode has one (70-73, C2, C4-C6): VEX and EVEX re-encode the legacy maps
 *  with the same operand layout (Appendix A). Consumes the bytes through `next`. */
function skipVex(escape: number, next: () => number, wide: boolean): void {
  let map: number;
  if (escape === 0xc5) { next(); map = 1; }
  else if (escape === 0xc4) { map = next() & 0x1f; next(); }
  else { map = next() & 7; next(); next(); }
  const opcode = next();
  let modrm = true, imm8 = map === 3;
  if (map === 1) {
    const legacy = lookup(1, opcode);
    if (legacy !== undefined) {
      modrm = legacy[0].modrm || escape === 0x62;
      imm8 = legacy.some((e) => e.imms.length === 1 && e.imms[0] === 'b');
    }
  }
  if (modrm) skipAddressing(next, next(), wide);
  if (imm8) next();
}

/** Execution of an encoding with no valid table entry. */
export function undefinedOpcode(cpu: Cpu): void {
  cpu.ud();
}

