// The virtual layout Xen's dom0 builder gives a 64-bit PV kernel's bootstrap address space
// (xen/arch/x86/pv/dom0_build.c, dom0_construct_pv, which prints it as "VIRTUAL MEMORY
// ARRANGEMENT"): from VIRT_BASE, the kernel, the initial ramdisk (when mapped), the
// phys-to-machine list (8 bytes per page of the domain), start_info (with the dom0 VGA
// console info after it), the initial page tables, one page of boot stack, all mapped and
// padded to a 4 MiB boundary with at least 512 KiB to spare. The number of page-table pages
// depends on the size of the space they map, which depends on their number: the builder
// tries 2, 3, ... until the L4, L3, L2 and L1 pages the space needs fit.

import type { PvParams } from './elf-notes.js';

const PAGE = 4096n;
/** sizeof(struct start_info) + sizeof(struct dom0_vga_console_info), x86-64 (public/xen.h):
 *  Xen 4.17 prints start info as 0x4b8 bytes. */
export const START_INFO_AREA = 0x4b8n;

export interface Dom0Layout {
  kernel: [bigint, bigint];
  initrd: [bigint, bigint];
  physMach: [bigint, bigint];
  startInfo: [bigint, bigint];
  pageTables: [bigint, bigint];
  bootStack: [bigint, bigint];
  total: [bigint, bigint];
  entry: bigint;
  /** start_info.nr_pt_frames. */
  ptPages: number;
  /** start_info.magic: "xen-3.0-x86_64", with "p" when PAE_MODE says PAE. */
  magic: string;
}

const roundUp = (v: bigint, to: bigint): bigint => (v + to - 1n) & ~(to - 1n);

/** Pages of a level covering [lo, hi) in units of 1 << shift (dom0_build.c's NR()). */
function spanned(lo: bigint, hi: bigint, shift: bigint): bigint {
  const unit = 1n << shift;
  return (roundUp(hi, unit) - (lo & ~(unit - 1n))) >> shift;
}

/** The layout for a domain of `nrPages` pages and an initial ramdisk of `initrdLen` bytes
 *  mapped after the kernel (no MOD_START_PFN note), as the 4.17 builder computes it.
 *  `ringPages` > 0 lays out a domU as the toolstack's builder does (xg_dom_core.c
 *  xc_dom_build_image, alloc_magic_pages_pv): start_info takes a whole page, the xenstore and
 *  console pages follow it, then the page tables — the same search for their number. */
export function dom0Layout(p: PvParams, nrPages: number, initrdLen = 0, ringPages = 0): Dom0Layout {
  const vStart = p.virtBase;
  const initrdStart = roundUp(p.virtKend, PAGE);
  const initrdEnd = initrdStart + BigInt(initrdLen);
  const physStart = roundUp(initrdEnd, PAGE);
  const physEnd = p.p2mBase !== null ? physStart : physStart + BigInt(nrPages) * 8n;
  const siStart = roundUp(physEnd, PAGE);
  const siEnd = siStart + START_INFO_AREA;
  const ptStart = ringPages > 0 ? siStart + PAGE * BigInt(1 + ringPages) : roundUp(siEnd, PAGE);
  for (let pt = 2n; ; pt++) {
    const ptEnd = ptStart + pt * PAGE;
    const stackEnd = ptEnd + PAGE;
    let vEnd = roundUp(stackEnd, 1n << 22n);
    if (vEnd - stackEnd < 512n << 10n) vEnd += 1n << 22n;
    const needed = 1n + spanned(vStart, vEnd, 39n) + spanned(vStart, vEnd, 30n) + spanned(vStart, vEnd, 21n);
    if (needed <= pt) {
      return {
        kernel: [p.virtKstart, p.virtKend],
        initrd: initrdLen === 0 ? [initrdStart, initrdStart] : [initrdStart, initrdEnd],
        physMach: p.p2mBase !== null ? [p.p2mBase, p.p2mBase + BigInt(nrPages) * 8n] : [physStart, physEnd],
        startInfo: [siStart, siEnd],
        pageTables: [ptStart, ptEnd],
        bootStack: [ptEnd, stackEnd],
        total: [vStart, vEnd],
        entry: p.virtEntry,
        ptPages: Number(pt),
        magic: `xen-3.0-x86_64${p.pae !== 'none' ? 'p' : ''}`,
      };
    }
  }
}
