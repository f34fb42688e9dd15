// Decode one instruction from a byte string with Ringside's decoder, in 64-bit mode or
// 32-bit code, outside any run: the bytes sit in physical memory with paging off.

import { Machine } from '../../src/machine/machine.js';
import { Mode } from '../../src/cpu/cpu.js';
import { decode, undefinedOpcode } from '../../src/cpu/decoder.js';
import { mnemonicOf } from '../../src/cpu/opcodes.js';
import { FAULT } from '../../src/cpu/fault.js';

const AT = 0x10000;
const machine = new Machine({ memoryBytes: 1 << 20, cpu: { vendor: 'intel', fred: false } });
machine.cpu.enterProtectedModeFlat(AT, {});

export interface Decoded {
  valid: boolean;
  length: number;
  mnemonic: string;
}

export function decodeBytes(bytes: Uint8Array, bits: 32 | 64): Decoded {
  const cpu = machine.cpu;
  machine.memory.fill(AT, 32, 0);
  machine.memory.write(AT, bytes);
  cpu.mode = bits === 64 ? Mode.Long64 : Mode.Protected32;
  let insn;
  try {
    insn = decode(cpu, AT);
  } catch (e) {
    // Past 15 bytes the decoder raises #GP(0): no valid instruction there.
    if (e === FAULT) return { valid: false, length: 0, mnemonic: '(fault)' };
    throw e;
  }
  const valid = insn.exec !== undefinedOpcode;
  return { valid, length: insn.len, mnemonic: valid ? mnemonicOf(insn.entry) : '(invalid)' };
}
