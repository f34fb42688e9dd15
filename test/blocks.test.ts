// Compiled blocks (src/cpu/blocks.ts) must be indistinguishable from stepping: a store
// into an instruction later in the same hot straight-line run takes effect for that
// instruction (SDM Vol. 3A §11.6: a write to a code byte invalidates its cached
// copies; current processors detect it for the instruction stream after the store,
// as QEMU does), and a fault inside a block reports the faulting instruction.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPvhImage } from './helpers/pvh-image.js';
import { bootImage, runBooted, runImage } from '../src/lab/run.js';
import { BadInput } from '../src/machine/errors.js';
import { runUnderQemu } from '../src/lab/qemu.js';
import { HOT } from '../src/cpu/blocks.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-blocks-'));
const LOAD = 0x100000;
const imm32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/** Entry code offset inside buildPvhImage's single segment (ELF64, PT_NOTE): header,
 *  two program headers, a 24-byte note. */
const CODE_OFFSET = 64 + 2 * 56 + 24;

test('a store into a later instruction of a hot block changes what that instruction does', () => {
  // The store goes to a data page until the loop is hot and compiled, then (via CMOV)
  // into the immediate of the ADD right after it in the same block.
  const iterations = 8 * HOT;
  const threshold = 2 * HOT;
  // mov $n,%ecx; xor %ebx,%ebx; mov $data,%edi; mov $imm,%esi
  // loop: cmp $t,%ecx; cmovb %esi,%edi; mov %ecx,(%edi); add $0,%ebx; dec %ecx; jnz loop
  // mov %ebx,%eax; and $0x7f,%eax; out %eax,$0xf4; cli; hlt
  const headLen = 5 + 2 + 5 + 5;
  const addAt = headLen + 6 + 3 + 2;
  const immAddr = LOAD + CODE_OFFSET + addAt + 2; // 81 C3 imm32
  const head = [0xb9, ...imm32(iterations), 0x31, 0xdb, 0xbf, ...imm32(0x200000), 0xbe, ...imm32(immAddr)];
  const body = [0x81, 0xf9, ...imm32(threshold), 0x0f, 0x42, 0xfe, 0x89, 0x0f, 0x81, 0xc3, ...imm32(0), 0x49];
  const jnz = [0x75, (-(body.length + 2)) & 0xff];
  const tail = [0x89, 0xd8, 0x83, 0xe0, 0x7f, 0xe7, 0xf4, 0xfa, 0xf4];
  const path = join(dir, 'smc-in-block.elf');
  writeFileSync(path, buildPvhImage({ code: [...head, ...body, ...jnz, ...tail], loadAddr: LOAD }));

  // Each iteration with ECX < threshold stores ECX into the ADD, which then adds it.
  const expected = ((threshold - 1) * threshold / 2) & 0x7f;
  const r = runImage(path, { profile: 'native/idt' });
  assert.equal(r.exitValue, expected);
  const q = runUnderQemu(path, { timeoutMs: 20_000 });
  assert.equal(q.exitValue, expected, 'QEMU agrees');
});

test('a fault inside a hot block reports the faulting instruction and counts those before it', () => {
  // DIV by ECX counting down: #DE when ECX reaches 0, long after the loop went hot.
  // mov $n,%ecx; loop: mov $100,%eax; xor %edx,%edx; div %ecx; dec %ecx; jmp loop
  // With no IDT the #DE escalates to a triple fault: the run's final RIP is the DIV.
  const n = 3 * HOT;
  const code = [0xb9, ...imm32(n), 0xb8, ...imm32(100), 0x31, 0xd2, 0xf7, 0xf1, 0x49, 0xeb, (5 - 17) & 0xff];
  const path = join(dir, 'fault-in-block.elf');
  writeFileSync(path, buildPvhImage({ code, loadAddr: LOAD }));
  const r = runImage(path, { profile: 'native/idt' });
  assert.equal(r.verdict, 'crash');
  const divRip = LOAD + CODE_OFFSET + 5 + 5 + 2;
  assert.equal(BigInt(r.registers.rip), BigInt(divRip));
  // 1 (first mov) + n full iterations of 5 instructions + mov, xor before the faulting DIV.
  assert.equal(r.instructions, 1 + n * 5 + 2);
});

test('a block entry compiles at its hotThreshold-th interpreted run, not before; a bad threshold is refused', () => {
  // mov $n,%ecx; xor %eax,%eax; loop: add %ecx,%eax; dec %ecx; jnz loop; out %eax,$0xf4
  // The loop's head is an entry n - 1 times: each time the JNZ is taken. The first time it
  // is reached by falling through the interpreted XOR, which is no entry (Insn.straight).
  const n = 100;
  const code = [0xb9, ...imm32(n), 0x31, 0xc0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xe7, 0xf4];
  const path = join(dir, 'threshold.elf');
  writeFileSync(path, buildPvhImage({ code, loadAddr: LOAD }));
  const blocks = (hotThreshold: number): number => {
    const b = bootImage(path, { profile: 'native/idt', hotThreshold });
    const r = runBooted(b, path, { profile: 'native/idt' });
    assert.equal(r.exitValue, n * (n + 1) / 2);
    return b.machine.cpu.blocksCompiled;
  };
  assert.equal(blocks(n), 0);
  assert.equal(blocks(n - 1), 1);
  assert.equal(blocks(2), 1);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => bootImage(path, { profile: 'native/idt', hotThreshold: bad }),
      (e: unknown) => e instanceof BadInput && /compile threshold must be a positive integer/.test(e.message));
  }
});
