// Decode instructions from byte strings with Ringside's decoder, in 64-bit mode or
// 32-bit code, outside any run: the bytes sit in physical memory with paging off.

import { Machine } from '../../src/machine/machine.js';
import { Mode } from '../../src/cpu/cpu.js';
import { decode, undefinedOpcode } from '../../src/cpu/decoder.js';
import { ENTRIES, mnemonicOf } from '../../src/cpu/opcodes.js';
import * as S from '../../src/cpu/ops/system.js';
import { FAULT } from '../../src/cpu/fault.js';
import { flatProtectedModeState } from '../../src/cpu/state.js';

const AT = 0x10000;
/** Room for one batch: `BATCH_SLOTS` strings of `SLOT` bytes each. */
export const SLOT = 16;
export const BATCH_SLOTS = 1 << 16;
const machine = new Machine({ memoryBytes: AT + SLOT * BATCH_SLOTS + 4096, cpu: { vendor: 'intel', fred: false } });
machine.cpu.restore(flatProtectedModeState(machine.cpu.capture(), AT));

/** What executing the decoded instruction does, as far as validity goes. */
export const enum Kind {
  /** No table entry matched (or a prefix/mode rule failed, or the feature is not
   *  advertised): the decoder's undefined-opcode path, #UD. */
  Invalid = 0,
  /** A table entry with semantics. */
  Valid = 1,
  /** A table entry whose semantics is an explicit #UD ('UD' rows: UD0/UD1/UD2, and
   *  instructions this CPU model does not have). */
  Ud = 2,
  /** An x87, WAIT, MMX or SSE entry: decoded for length, raises #NM or #UD by CR0. */
  NmUd = 3,
  /** The decoder raised #GP(0): more than 15 bytes. */
  TooLong = 4,
}

export interface Decoded {
  valid: boolean;
  kind: Kind;
  length: number;
  mnemonic: string;
}

function kindOf(exec: unknown, entry: number): Kind {
  if (exec === undefinedOpcode) return Kind.Invalid;
  if (exec === S.x87 || exec === S.sse) return Kind.NmUd;
  if (ENTRIES[entry].def.exec === 'UD') return Kind.Ud;
  return Kind.Valid;
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
    if (e === FAULT) return { valid: false, kind: Kind.TooLong, length: 0, mnemonic: '(fault)' };
    throw e;
  }
  const kind = kindOf(insn.exec, insn.entry);
  const valid = insn.exec !== undefinedOpcode;
  return { valid, kind, length: insn.len, mnemonic: valid ? mnemonicOf(insn.entry) : '(invalid)' };
}

/** Results of decoding a batch: per slot, the length, the kind and the table entry. */
export interface BatchResult {
  length: Uint8Array;
  kind: Uint8Array;
  entry: Int32Array;
}

export function newBatchResult(): BatchResult {
  return { length: new Uint8Array(BATCH_SLOTS), kind: new Uint8Array(BATCH_SLOTS), entry: new Int32Array(BATCH_SLOTS) };
}

/** Decode `count` strings laid out `SLOT` bytes apart in `bytes` (each string is at
 *  most 15 bytes long in effect: the 16th byte is past the 15-byte limit). */
export function decodeBatch(bytes: Uint8Array, count: number, bits: 32 | 64, out: BatchResult): void {
  const cpu = machine.cpu;
  machine.memory.write(AT, bytes.subarray(0, count * SLOT));
  cpu.mode = bits === 64 ? Mode.Long64 : Mode.Protected32;
  for (let k = 0; k < count; k++) {
    let insn;
    try {
      insn = decode(cpu, AT + k * SLOT);
    } catch (e) {
      if (e !== FAULT) throw e;
      out.length[k] = 0;
      out.kind[k] = Kind.TooLong;
      out.entry[k] = -1;
      continue;
    }
    out.length[k] = insn.len;
    out.kind[k] = kindOf(insn.exec, insn.entry);
    out.entry[k] = insn.exec === undefinedOpcode ? -1 : insn.entry;
  }
}

export function entryName(entry: number): string {
  return entry < 0 ? '(invalid)' : `${mnemonicOf(entry)} [${ENTRIES[entry].def.code}]`;
}
