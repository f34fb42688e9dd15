// Instructions that exist only outside 64-bit mode (#UD there, attribute i64 in the
// table): decimal adjust (SDM Vol. 2: AAA, AAS, AAM, AAD, DAA, DAS), PUSHA/POPA, ARPL
// and BOUND.

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { getCF, getAF, resultFlags, statusFlags, undefinedStatus } from '../flags.js';
import { CF, PF, AF, ZF, SF, OF } from '../../arch/rflags.js';
import { BR, DE } from '../../arch/vectors.js';
import { rollbackStack } from '../stack.js';

function al(cpu: Cpu): number { return cpu.regLo[0] & 0xff; }
function ah(cpu: Cpu): number { return (cpu.regLo[0] >> 8) & 0xff; }
function setAX(cpu: Cpu, v: number): void { cpu.setReg(0, 2, v & 0xffff, 0); }

/** AAA: IF (AL & 0Fh) > 9 or AF THEN AX += 106h, AF = CF = 1 ELSE AF = CF = 0; AL &= 0Fh. */
export function aaa(cpu: Cpu): void {
  const adjust = (al(cpu) & 0xf) > 9 || getAF(cpu);
  let ax = cpu.regLo[0] & 0xffff;
  if (adjust) ax = (ax + 0x106) & 0xffff;
  setAX(cpu, (ax & 0xff00) | (ax & 0x0f));
  cpu.setStatus(cpu.undef.asciiAdjust(resultFlags(al(cpu), 0, 1)) | (adjust ? AF | CF : 0), OF | SF | ZF | PF);
}

/** AAS: IF (AL & 0Fh) > 9 or AF THEN AX -= 6, AH -= 1, AF = CF = 1 ELSE AF = CF = 0; AL &= 0Fh. */
export function aas(cpu: Cpu): void {
  const adjust = (al(cpu) & 0xf) > 9 || getAF(cpu);
  let ax = cpu.regLo[0] & 0xffff;
  if (adjust) { ax = (ax - 6) & 0xffff; ax = (ax - 0x100) & 0xffff; }
  setAX(cpu, (ax & 0xff00) | (ax & 0x0f));
  cpu.setStatus(cpu.undef.asciiAdjust(resultFlags(al(cpu), 0, 1)) | (adjust ? AF | CF : 0), OF | SF | ZF | PF);
}

/** DAA / DAS (op 0 / 1): two decimal corrections of AL, per the SDM pseudocode. */
export function decimalAdjust(cpu: Cpu, i: Insn): void {
  const sub = i.op === 1;
  const oldAl = al(cpu);
  const oldCf = getCF(cpu);
  let a = oldAl, cf = 0, af = 0;
  if ((a & 0xf) > 9 || getAF(cpu)) {
    const r = sub ? a - 6 : a + 6;
    cf = oldCf | (r < 0 || r > 0xff ? 1 : 0);
    a = r & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    a = (sub ? a - 0x60 : a + 0x60) & 0xff;
    cf = 1;
  } else if (!sub) {
    cf = 0;
  }
  cpu.setReg8(0, a);
  // SF, ZF, PF from the result; OF is undefined (undefined.ts).
  cpu.setStatus(resultFlags(a, 0, 1) | (cf ? CF : 0) | (af ? AF : 0) | cpu.undef.decimalAdjustOF(oldAl, a, sub), OF);
}

/** AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE if imm8 = 0. */
export function aam(cpu: Cpu, i: Insn): void {
  const base = i.immLo & 0xff;
  if (base === 0) cpu.raise(DE);
  const a = al(cpu);
  const r = a % base;
  setAX(cpu, (Math.floor(a / base) << 8) | r);
  cpu.setStatus(resultFlags(r, 0, 1) | cpu.undef.aamAadRest, OF | AF | CF);
}

/** AAD imm8: AL = (AL + AH * imm8) & FFh, AH = 0. */
export function aad(cpu: Cpu, i: Insn): void {
  const r = (al(cpu) + ah(cpu) * (i.immLo & 0xff)) & 0xff;
  setAX(cpu, r);
  cpu.setStatus(resultFlags(r, 0, 1) | cpu.undef.aamAadRest, OF | AF | CF);
}

/** PUSHA/PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI; all or nothing. */
export function pusha(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const sp = cpu.regLo[4], spHi = cpu.regHi[4];
  try {
    for (let r = 0; r < 8; r++) cpu.push(size, r === 4 ? sp : cpu.regLo[r], 0);
  } catch (e) {
    rollbackStack(cpu, sp, spHi, e);
  }
}

/** POPA/POPAD: the reverse order, the saved ESP slot discarded. */
export function popa(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const values = cpu.scratch.popaValues;
  for (let r = 7; r >= 0; r--) values[r] = cpu.peek(size, (7 - r) * size);
  for (let r = 7; r >= 0; r--) if (r !== 4) cpu.setReg(r, size, values[r], 0);
  cpu.adjustSp(8 * size);
}

/** ARPL Ew, Gw: raise the destination selector's RPL to the source's; ZF says whether it did. */
export function arpl(cpu: Cpu, i: Insn): void {
  const src = cpu.getReg(i.reg, 2);
  const lin = i.mem ? cpu.ea(i) : 0;
  if (i.mem) cpu.probeWrite(lin, 2);
  const dst = i.mem ? cpu.read16(lin) : cpu.getReg(i.rm, 2);
  const flags = statusFlags(cpu) & ~ZF, undefinedBits = undefinedStatus(cpu) & ~ZF;
  if ((dst & 3) < (src & 3)) {
    const v = (dst & ~3) | (src & 3);
    if (i.mem) cpu.write16(lin, v);
    else cpu.setReg(i.rm, 2, v, 0);
    cpu.setStatus(flags | ZF, undefinedBits);
  } else {
    cpu.setStatus(flags, undefinedBits);
  }
}

/** BOUND Gv, Ma: #BR unless lower <= index <= upper (signed, from memory). */
export function bound(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const lin = cpu.ea(i);
  const lower = signed(cpu.read(lin, size), size);
  const upper = signed(cpu.read(lin + size, size), size);
  const index = signed(cpu.getReg(i.reg, size), size);
  if (index < lower || index > upper) cpu.raise(BR);
}

function signed(v: number, size: number): number {
  return size === 2 ? (v << 16) >> 16 : v | 0;
}
