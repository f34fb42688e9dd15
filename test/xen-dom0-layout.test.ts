// The dom0 builder's virtual layout (issue 19, item 1; src/hosts/xen/dom0-layout.ts), held
// to what real Xen 4.17 prints as "VIRTUAL MEMORY ARRANGEMENT" when it builds the same image
// as dom0 (xen/arch/x86/pv/dom0_build.c): kernel, phys-to-machine list, start_info, initial
// page tables, boot stack, the 4 MiB-padded total, the entry point -- for kernels small and
// large (one that pushes the space past 4 MiB, so the padding rule adds a second 4 MiB) and
// domains of 64 and 128 MiB; and start_info's magic as the kernel reads it at %rsi.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseElf } from '../src/guest/elf.js';
import { pvParams } from '../src/hosts/xen/elf-notes.js';
import { dom0Layout, type Dom0Layout } from '../src/hosts/xen/dom0-layout.js';
import { qemuAvailable } from '../src/lab/qemu.js';
import { realXen, runUnderXen, type RealXen } from '../src/lab/xen.js';
import { buildPvImage, consoleWrite, shutdown, WRITE_START_INFO_MAGIC } from './helpers/pv-image.js';

const found = qemuAvailable() ? realXen() : { unavailable: 'qemu-system-x86_64 is not installed' };
const skip = 'unavailable' in found ? `no real Xen here: ${found.unavailable}` : false;
const xen = found as RealXen;

/** The arrangement Xen printed, as "name: start->end" (and the entry address). */
function printed(log: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of log.matchAll(/^\(XEN\)\s+(Loaded kernel|Init\. ramdisk|Phys-Mach map|Start info|Page tables|Boot stack|TOTAL|ENTRY ADDRESS):\s+(\S+)/gm)) {
    out.set(m[1], m[2].replace(/[0-9a-f]+/g, (h) => BigInt(`0x${h}`).toString(16)));
  }
  return out;
}

function expected(l: Dom0Layout): Map<string, string> {
  const range = ([a, b]: [bigint, bigint]): string => `${a.toString(16)}->${b.toString(16)}`;
  return new Map([
    ['Loaded kernel', range(l.kernel)], ['Phys-Mach map', range(l.physMach)], ['Start info', range(l.startInfo)],
    ['Page tables', range(l.pageTables)], ['Boot stack', range(l.bootStack)], ['TOTAL', range(l.total)],
    ['ENTRY ADDRESS', l.entry.toString(16)],
  ]);
}

describe("the dom0 builder's layout, against real Xen 4.17", { skip }, () => {
  for (const [what, padding, dom0MiB] of [['a small kernel', 0, 64], ['a 300 KiB kernel', 300 << 10, 128], ['a 3.5 MiB kernel', 3584 << 10, 64]] as const) {
    it(`${what}, dom0_mem=${dom0MiB}M`, async () => {
      const image = buildPvImage(`${WRITE_START_INFO_MAGIC}${consoleWrite('\n')}${shutdown(0)}
        .pushsection .data
        .fill   ${padding}, 1, 0x5a
        .popsection`);
      const bytes = readFileSync(image);
      const layout = dom0Layout(pvParams(parseElf(bytes, image), bytes), dom0MiB * 256);
      const r = await runUnderXen(xen, image, { timeoutMs: 120_000, dom0MemMiB: dom0MiB });
      assert.equal(r.end, 'poweroff', r.xenLog.split('\n').slice(-6).join('\n'));
      const got = printed(r.xenLog);
      got.delete('Init. ramdisk');
      assert.deepEqual(got, expected(layout));
      assert.ok(r.console.split('\n').map((l) => l.trim()).includes(`${layout.magic}\0`), `magic ${layout.magic}`);
    });
  }
});
