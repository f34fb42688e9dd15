// Ringside refuses an image only where the boot contract does: ~150 single-byte mutants
// of the multiboot-uart guest and of a PVH guest (alu-flags), each decided by Ringside
// (the native host's plan) and by QEMU's -kernel loader (test/helpers/image-mutants.ts).
// A third of the mutants hit the ELF header and program headers, a third the section
// header table, a third anywhere, from a fixed seed. Every disagreement must be one of
// the deliberate ones listed below. QEMU missing is a failure, not a skip.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { qemuAvailable } from '../src/lab/qemu.js';
import { QEMU_MISSING } from './helpers/guest-console.js';
import { compareMutants, describeDisagreements, mutants, type Disagreement, type MutantReport } from './helpers/image-mutants.js';
import { ElfFields } from './helpers/pvh-image.js';

const COUNT = 150;
const dir = mkdtempSync(join(tmpdir(), 'ringside-mutants-'));

/** Where Ringside deliberately refuses what QEMU loads: QEMU goes on with an image that
 *  cannot boot as built. Matched against Ringside's message. */
const STRICTER: ReadonlyArray<[RegExp, string]> = [
  [/does not fit in \d+ MiB of RAM/, 'a PT_LOAD where there is no RAM: QEMU drops those bytes without a word'],
  [/no loadable segments/, 'no PT_LOAD left: QEMU loads nothing and jumps to the entry point'],
  [/bad ELF class/, 'QEMU reads any EI_CLASS but 2 as ELF32'],
  [/not an ELF file \(bad magic\)/, 'QEMU then boots the file as a real-mode Linux zImage, not a contract Ringside models'],
  [/malformed note/, 'QEMU reads the first note header past the end of its PT_NOTE segment'],
];

/** Where Ringside deliberately loads what QEMU refuses. */
function laxerReason(d: Disagreement, image: Buffer): string | null {
  if (/elfboot unsupported flags/.test(d.qemu.why)) {
    return "QEMU refuses a PVH image whose e_flags has bit 2 or 16 (its multiboot flags); the PVH protocol gives e_flags no meaning";
  }
  const f = new ElfFields(image);
  for (let i = 0; i < f.phnum; i++) {
    const align = f.ph(i) + (f.is64 ? 48 : 28);
    if (f.phType(i) === 4 && d.mutant.offset >= align && d.mutant.offset < align + (f.is64 ? 8 : 4)) {
      return "PT_NOTE p_align: QEMU pads note names to p_align (0 crashes it); notes are padded to 4 bytes (8 for p_align 8) as the gABI and Linux have it";
    }
  }
  return null;
}

function regions(image: Buffer): Array<[number, number]> {
  const f = new ElfFields(image);
  const is64 = f.is64;
  const shoff = is64 ? Number(image.readBigUInt64LE(40)) : image.readUInt32LE(32);
  const shsize = image.readUInt16LE(is64 ? 58 : 46) * image.readUInt16LE(is64 ? 60 : 48);
  return [
    [0, f.phoff + f.phnum * f.phentsize],
    [shoff, shoff + shsize],
    [0, image.length],
  ];
}

function unexplained(report: MutantReport, image: Buffer): string[] {
  const out: string[] = [];
  for (const d of report.stricter) if (!STRICTER.some(([p]) => p.test(d.ringside.why))) out.push(describeDisagreements({ ...report, stricter: [d], laxer: [] }));
  for (const d of report.laxer) if (laxerReason(d, image) === null) out.push(describeDisagreements({ ...report, stricter: [], laxer: [d] }));
  return out;
}

for (const [guest, seed] of [['multiboot-uart', 1], ['alu-flags', 2]] as const) {
  test(`${COUNT} single-byte mutants of ${guest}: Ringside refuses only where QEMU does, or deliberately`, async (t) => {
    assert.ok(qemuAvailable(), QEMU_MISSING);
    const image = readFileSync(buildGuest(guest));
    const report = await compareMutants(guest, mutants(image, COUNT, seed, regions(image)), dir);
    t.diagnostic(`${guest}: ${report.agree}/${report.total} agree; ${report.stricter.length} stricter, ${report.laxer.length} laxer (all deliberate if this passes)`);
    const bad = unexplained(report, image);
    assert.deepEqual(bad, [], `disagreements with QEMU that are not deliberate:\n${bad.join('\n')}`);
  });
}
