// What Xen's ELF loader takes from a 64-bit PV kernel's "Xen" notes, and which images it
// refuses: Xen's libelf (xen/common/libelf/libelf-dominfo.c, elf_xen_parse and the checks
// it calls), which both the dom0 builder and the toolstack's domain builder use. The rules,
// as that source reads:
// - string notes: XEN_VERSION (5), GUEST_OS (6), GUEST_VERSION (7), LOADER (8), PAE_MODE (9),
//   FEATURES (10), BSD_SYMTAB (11); numeric ones: ENTRY (1), HYPERCALL_PAGE (2), VIRT_BASE (3),
//   PADDR_OFFSET (4), HV_START_LOW (12), INIT_P2M (15) and the rest of public/elfnote.h; a
//   numeric note's value is its descriptor read as a little-endian number of 1, 2, 4 or 8
//   bytes (another size reads as 0); notes of other types or names are ignored;
// - FEATURES is a '|'-separated list; a name prefixed by '!' is required, and a required
//   name Xen does not know makes the image invalid; an unknown name without '!' is ignored;
// - the image must say LOADER "generic..." or GUEST_OS "linux...", and XEN_VERSION
//   "xen-3.0..."; with no notes at all it is "not a Xen-ELF image";
// - PADDR_OFFSET without VIRT_BASE is refused; VIRT_BASE defaults to 0, PADDR_OFFSET to 0
//   (with notes), ENTRY to e_entry; the kernel's virtual range is its physical load range
//   moved by VIRT_BASE - PADDR_OFFSET, and the entry must lie in it, VIRT_BASE at or below it,
//   INIT_P2M outside it.
//
// Not modelled yet (a named refusal, not a guess): the SHT_NOTE fallback and the legacy
// `__xen_guest` string (both read section headers, which src/guest/elf.ts does not),
// BSD_SYMTAB's symbol table, SUPPORTED_FEATURES beyond recording it.

import { BadInput } from '../../machine/errors.js';
import type { ImageNote, LoadableImage } from '../../machine/image.js';

/** XEN_ELFNOTE_* (xen/include/public/elfnote.h). */
export const enum XenNote {
  Entry = 1, HypercallPage = 2, VirtBase = 3, PaddrOffset = 4, XenVersion = 5, GuestOs = 6,
  GuestVersion = 7, Loader = 8, PaeMode = 9, Features = 10, BsdSymtab = 11, HvStartLow = 12,
  L1MfnValid = 13, SuspendCancel = 14, InitP2m = 15, ModStartPfn = 16, SupportedFeatures = 17, Phys32Entry = 18,
}

const STRING_NOTES = new Set<number>([XenNote.XenVersion, XenNote.GuestOs, XenNote.GuestVersion, XenNote.Loader,
  XenNote.PaeMode, XenNote.Features, XenNote.BsdSymtab]);
const KNOWN_NOTES = new Set<number>([...STRING_NOTES, XenNote.Entry, XenNote.HypercallPage, XenNote.VirtBase,
  XenNote.PaddrOffset, XenNote.HvStartLow, XenNote.L1MfnValid, XenNote.SuspendCancel, XenNote.InitP2m,
  XenNote.ModStartPfn, XenNote.SupportedFeatures, XenNote.Phys32Entry]);

/** XENFEAT_* names FEATURES may list (public/features.h), by bit. */
const FEATURE_BITS: Record<string, number> = {
  writable_page_tables: 0, writable_descriptor_tables: 1, auto_translated_physmap: 2,
  supervisor_mode_kernel: 3, pae_pgdir_above_4gb: 4, hvm_callback_vector: 8, dom0: 11,
};

export interface PvParams {
  guestOs: string;
  guestVersion: string;
  xenVersion: string;
  loader: string;
  /** PAE_MODE: "yes" is extended-CR3 PAE, containing "bimodal" bimodal; else none. */
  pae: 'none' | 'extcr3' | 'bimodal';
  /** XENFEAT bits the kernel supports, and those it requires ('!'). */
  featuresSupported: number;
  featuresRequired: number;
  virtBase: bigint;
  paddrOffset: bigint;
  virtEntry: bigint;
  /** The kernel's virtual range [virtKstart, virtKend). */
  virtKstart: bigint;
  virtKend: bigint;
  /** Where the builder writes the hypercall page, if the kernel asks for one. */
  hypercallPage: bigint | null;
  p2mBase: bigint | null;
}

/** A numeric note: its descriptor as a little-endian number of 1, 2, 4 or 8 bytes, else 0. */
function numeric(n: ImageNote): bigint {
  const d = n.desc;
  if (d.length !== 1 && d.length !== 2 && d.length !== 4 && d.length !== 8) return 0n;
  let v = 0n;
  for (let k = d.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(d[k]);
  return v;
}

/** A string note: its descriptor up to the first NUL. */
function text(n: ImageNote): string {
  const end = n.desc.indexOf(0);
  return Buffer.from(n.desc.subarray(0, end < 0 ? n.desc.length : end)).toString('latin1');
}

/** FEATURES into supported/required bits; false if a required name is unknown. */
function parseFeatures(list: string, p: { featuresSupported: number; featuresRequired: number }): boolean {
  for (const raw of list.split('|')) {
    // libelf copies at most 63 characters of a name.
    const name = raw.slice(0, 63);
    const required = name.startsWith('!');
    const bit = FEATURE_BITS[required ? name.slice(1) : name];
    if (bit === undefined) {
      if (required) return false;
      continue;
    }
    p.featuresSupported |= 1 << bit;
    if (required) p.featuresRequired |= 1 << bit;
  }
  return true;
}

/** The PV parameters of a 64-bit image, or BadInput with the reason Xen refuses it. */
export function pvParams(image: LoadableImage): PvParams {
  const fail = (why: string): never => { throw new BadInput(`${image.label}: Xen refuses this PV image: ${why}`); };
  if (image.elfClass !== 64) fail('a 32-bit (PV32) image: only 64-bit PV guests are modelled');
  const p: PvParams = {
    guestOs: '', guestVersion: '', xenVersion: '', loader: '', pae: 'none', featuresSupported: 0, featuresRequired: 0,
    virtBase: 0n, paddrOffset: 0n, virtEntry: 0n, virtKstart: 0n, virtKend: 0n, hypercallPage: null, p2mBase: null,
  };
  let virtBase: bigint | null = null, paddrOffset: bigint | null = null, entry: bigint | null = null;
  let xenNotes = 0;
  for (const n of image.notes) {
    if (n.name !== 'Xen' || !KNOWN_NOTES.has(n.type)) continue;
    xenNotes++;
    if (STRING_NOTES.has(n.type)) {
      const s = text(n);
      switch (n.type) {
        case XenNote.XenVersion: p.xenVersion = s; break;
        case XenNote.GuestOs: p.guestOs = s; break;
        case XenNote.GuestVersion: p.guestVersion = s; break;
        case XenNote.Loader: p.loader = s; break;
        case XenNote.PaeMode:
          if (s === 'yes') p.pae = 'extcr3';
          if (s.includes('bimodal')) p.pae = 'bimodal';
          break;
        case XenNote.Features:
          if (!parseFeatures(s, p)) fail(`FEATURES "${s}" requires a feature Xen does not know`);
          break;
      }
      continue;
    }
    const v = numeric(n);
    switch (n.type) {
      case XenNote.VirtBase: virtBase = v; break;
      case XenNote.Entry: entry = v; break;
      case XenNote.PaddrOffset: paddrOffset = v; break;
      case XenNote.HypercallPage: p.hypercallPage = v; break;
      case XenNote.InitP2m: p.p2mBase = v; break;
    }
  }
  // Xen would go on to SHT_NOTE sections and a `__xen_guest` section, or call the image "not
  // a Xen-ELF image" if there are none.
  if (xenNotes === 0) fail("no Xen notes in a PT_NOTE segment (Xen's SHT_NOTE and __xen_guest fallbacks are not modelled)");
  if (!p.loader.startsWith('generic') && !p.guestOs.startsWith('linux')) {
    fail(`only images for the generic loader or Linux load (LOADER "${p.loader}", GUEST_OS "${p.guestOs}")`);
  }
  if (!p.xenVersion.startsWith('xen-3.0')) fail(`only images built for Xen v3.0 load (XEN_VERSION "${p.xenVersion}")`);
  if (paddrOffset !== null && virtBase === null) fail('PADDR_OFFSET set, VIRT_BASE unset');

  // Addresses (elf_xen_addr_calc_check): 64-bit wrap-around as in C.
  const MASK = (1n << 64n) - 1n;
  p.virtBase = virtBase ?? 0n;
  p.paddrOffset = paddrOffset ?? 0n;
  const offset = (p.virtBase - p.paddrOffset) & MASK;
  const loads = image.segments.filter((s) => s.memsz > 0 || s.data.length > 0);
  const pstart = loads.length === 0 ? 0n : loads.reduce((m, s) => (BigInt(s.paddr) < m ? BigInt(s.paddr) : m), BigInt(loads[0].paddr));
  const pend = loads.reduce((m, s) => (BigInt(s.paddr + s.memsz) > m ? BigInt(s.paddr + s.memsz) : m), 0n);
  p.virtKstart = (pstart + offset) & MASK;
  p.virtKend = (pend + offset) & MASK;
  p.virtEntry = entry ?? image.entry;
  if (p.virtKstart > p.virtKend || p.virtEntry < p.virtKstart || p.virtEntry > p.virtKend || p.virtBase > p.virtKstart) {
    fail('ELF start or entries are out of bounds');
  }
  if (p.p2mBase !== null && p.p2mBase >= p.virtKstart && p.p2mBase < p.virtKend) fail('P->M table base is out of bounds');
  return p;
}
