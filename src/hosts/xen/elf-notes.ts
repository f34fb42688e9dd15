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
// - with no Xen note in a PT_NOTE segment, the notes of SHT_NOTE sections count; with none
//   there either, the legacy `__xen_guest` section's "NAME=VALUE,..." string (LOADER,
//   GUEST_OS, GUEST_VER, XEN_VER, PAE, VIRT_BASE, VIRT_ENTRY, ELF_PADDR_OFFSET,
//   HYPERCALL_PAGE in pages, FEATURES), numbers as C's strtoull reads them, and an unset
//   PADDR_OFFSET then defaults to VIRT_BASE.
//
// Not modelled: BSD_SYMTAB's symbol table; SUPPORTED_FEATURES is not read; a PT_NOTE with
// p_offset 0, which libelf skips, is read.

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
const FEATURE_BITS = new Map<string, number>([
  ['writable_page_tables', 0], ['writable_descriptor_tables', 1], ['auto_translated_physmap', 2],
  ['supervisor_mode_kernel', 3], ['pae_pgdir_above_4gb', 4], ['hvm_callback_vector', 8], ['dom0', 11],
]);

/** libelf's "unset" (UNSET_ADDR): a numeric note or legacy value of all ones sets nothing. */
const UNSET = (1n << 64n) - 1n;

export interface PvParams {
  guestOs: string;
  guestVersion: string;
  xenVersion: string;
  loader: string;
  /** PAE_MODE: "yes" is extended-CR3 PAE, containing "bimodal" bimodal; the legacy
   *  string's PAE=yes... plain PAE ('yes'), PAE=yes[extended-cr3] extended-CR3; else none. */
  pae: 'none' | 'yes' | 'extcr3' | 'bimodal';
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
    const bit = FEATURE_BITS.get(required ? name.slice(1) : name);
    if (bit === undefined) {
      if (required) return false;
      continue;
    }
    p.featuresSupported |= 1 << bit;
    if (required) p.featuresRequired |= 1 << bit;
  }
  return true;
}

/** The gABI notes in [off, off + len) of the file, appended to `out`; stops at a malformed one. */
function readNotes(file: Uint8Array, off: number, len: number, out: ImageNote[]): void {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const end = Math.min(off + len, file.byteLength);
  const pad = (n: number): number => (n + 3) & ~3;
  for (let p = off; p + 12 <= end;) {
    const namesz = v.getUint32(p, true), descsz = v.getUint32(p + 4, true), type = v.getUint32(p + 8, true);
    const name = p + 12, desc = name + pad(namesz), next = desc + pad(descsz);
    if (next > end) return;
    const raw = file.subarray(name, name + namesz);
    const nul = raw.indexOf(0);
    out.push({ name: Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('latin1'), type, desc: file.subarray(desc, desc + descsz) });
    p = next;
  }
}

/** The notes of the PT_NOTE segments as libelf reads them: 4-byte padding whatever the
 *  segment's alignment (src/guest/elf.ts pads to 8 in an 8-aligned segment, as QEMU's PVH
 *  loader does), and a PT_NOTE with p_offset 0 skipped (old binutils left it so). */
function segmentNotes(file: Uint8Array): ImageNote[] {
  const out: ImageNote[] = [];
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const phoff = Number(v.getBigUint64(32, true)), phentsize = v.getUint16(54, true), phnum = v.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (h + 56 > file.byteLength) break;
    if (v.getUint32(h, true) !== PT_NOTE) continue;
    const offset = Number(v.getBigUint64(h + 8, true)), filesz = Number(v.getBigUint64(h + 32, true));
    if (offset !== 0) readNotes(file, offset, filesz, out);
  }
  return out;
}
const PT_NOTE = 4;

/** A numeric value, or null for libelf's "unset" (all ones). */
const unlessUnset = (v: bigint): bigint | null => (v === UNSET ? null : v);

/** What libelf falls back to when no PT_NOTE segment holds a Xen note: the notes of SHT_NOTE
 *  sections, then the `__xen_guest` section's string. Section headers that do not fit in the
 *  file read as absent, as libelf's access checks make them. */
function sectionFallbacks(file: Uint8Array): { notes: ImageNote[]; xenGuest: string | null } {
  const out = { notes: [] as ImageNote[], xenGuest: null as string | null };
  if (file.byteLength < 64) return out;
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = Number(v.getBigUint64(40, true)), shentsize = v.getUint16(58, true);
  const shnum = v.getUint16(60, true), shstrndx = v.getUint16(62, true);
  if (shoff === 0 || shentsize < 64 || shoff + shnum * shentsize > file.byteLength) return out;
  const header = (i: number): { name: number; type: number; offset: number; size: number } => {
    const o = shoff + i * shentsize;
    return { name: v.getUint32(o, true), type: v.getUint32(o + 4, true), offset: Number(v.getBigUint64(o + 24, true)), size: Number(v.getBigUint64(o + 32, true)) };
  };
  const cstring = (at: number, limit: number): string => {
    const bytes = file.subarray(at, Math.min(limit, file.byteLength));
    const nul = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, nul < 0 ? bytes.length : nul)).toString('latin1');
  };
  for (let i = 1; i < shnum; i++) {
    const h = header(i);
    if (h.type === SHT_NOTE) readNotes(file, h.offset, h.size, out.notes);
  }
  if (shstrndx !== 0 && shstrndx < shnum) {
    const names = header(shstrndx);
    for (let i = 1; i < shnum; i++) {
      const h = header(i);
      if (cstring(names.offset + h.name, names.offset + names.size) === '__xen_guest') { out.xenGuest = cstring(h.offset, file.byteLength); break; }
    }
  }
  return out;
}
const SHT_NOTE = 7;

/** C's strtoull(s, NULL, 0): optional space and sign, then 0x hex, 0 octal or decimal, up to
 *  the first character that is not a digit of that base; none read as 0. */
function strtoull(s: string): bigint {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(s)!;
  if (m[2] === undefined) return 0n;
  const digits = m[2];
  const v = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  // Out of range, strtoull returns ULLONG_MAX whatever the sign.
  if (v > UNSET) return UNSET;
  return m[1] === '-' ? (-v) & UNSET : v;
}

/** The PV parameters of a 64-bit image (`file`: its bytes, for the section fallbacks), or
 *  BadInput with the reason Xen refuses it. */
export function pvParams(image: LoadableImage, file: Uint8Array): PvParams {
  const fail = (why: string): never => { throw new BadInput(`${image.label}: Xen refuses this PV image: ${why}`); };
  if (image.elfClass !== 64) fail('a 32-bit (PV32) image: only 64-bit PV guests are modelled');
  const p: PvParams = {
    guestOs: '', guestVersion: '', xenVersion: '', loader: '', pae: 'none', featuresSupported: 0, featuresRequired: 0,
    virtBase: 0n, paddrOffset: 0n, virtEntry: 0n, virtKstart: 0n, virtKend: 0n, hypercallPage: null, p2mBase: null,
  };
  let virtBase: bigint | null = null, paddrOffset: bigint | null = null, entry: bigint | null = null;
  const takeNotes = (notes: readonly ImageNote[]): number => {
    let xenNotes = 0;
    for (const n of notes) {
      if (n.name !== 'Xen') continue;
      // Every "Xen" note counts against the fallbacks, a type Xen does not know too.
      xenNotes++;
      if (!KNOWN_NOTES.has(n.type)) continue;
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
      const v = unlessUnset(numeric(n));
      switch (n.type) {
        case XenNote.VirtBase: virtBase = v; break;
        case XenNote.Entry: entry = v; break;
        case XenNote.PaddrOffset: paddrOffset = v; break;
        case XenNote.HypercallPage: p.hypercallPage = v; break;
        case XenNote.InitP2m: p.p2mBase = v; break;
      }
    }
    return xenNotes;
  };
  // elf_init refuses an image whose section header table runs past the file.
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.byteLength >= 64 && Number(v.getBigUint64(40, true)) + v.getUint16(60, true) * v.getUint16(58, true) > file.byteLength) {
    fail('its section header table runs past the end of the file');
  }
  let legacy = false;
  if (takeNotes(segmentNotes(file)) === 0) {
    const fallback = sectionFallbacks(file);
    if (takeNotes(fallback.notes) === 0) {
      if (fallback.xenGuest === null) fail("not a Xen-ELF image: no Xen notes and no '__xen_guest' section");
      legacy = true;
      // elf_xen_parse_guest_info: NAME=VALUE pairs separated by commas. A FEATURES entry
      // requiring an unknown feature ends the parse, but the caller ignores that result.
      for (const pair of fallback.xenGuest!.split(',')) {
        const eq = pair.indexOf('=');
        const name = (eq < 0 ? pair : pair.slice(0, eq)).slice(0, 31);
        const value = eq < 0 ? '' : pair.slice(eq + 1, eq + 1 + 127);
        if (name === 'LOADER') p.loader = value;
        if (name === 'GUEST_OS') p.guestOs = value;
        if (name === 'GUEST_VER') p.guestVersion = value;
        if (name === 'XEN_VER') p.xenVersion = value;
        if (name === 'PAE') p.pae = value === 'yes[extended-cr3]' ? 'extcr3' : value.startsWith('yes') ? 'yes' : p.pae;
        if (name === 'VIRT_BASE') virtBase = unlessUnset(strtoull(value));
        if (name === 'VIRT_ENTRY') entry = unlessUnset(strtoull(value));
        if (name === 'ELF_PADDR_OFFSET') paddrOffset = unlessUnset(strtoull(value));
        if (name === 'HYPERCALL_PAGE') p.hypercallPage = unlessUnset((strtoull(value) << 12n) & UNSET);
        if (name === 'FEATURES' && !parseFeatures(value, p)) break;
      }
      if (virtBase !== null && p.hypercallPage !== null) p.hypercallPage = (p.hypercallPage + virtBase) & ((1n << 64n) - 1n);
    }
  }
  if (!p.loader.startsWith('generic') && !p.guestOs.startsWith('linux')) {
    fail(`only images for the generic loader or Linux load (LOADER "${p.loader}", GUEST_OS "${p.guestOs}")`);
  }
  if (!p.xenVersion.startsWith('xen-3.0')) fail(`only images built for Xen v3.0 load (XEN_VERSION "${p.xenVersion}")`);
  if (paddrOffset !== null && virtBase === null) fail('PADDR_OFFSET set, VIRT_BASE unset');

  // Addresses (elf_xen_addr_calc_check): 64-bit wrap-around as in C.
  const MASK = (1n << 64n) - 1n;
  p.virtBase = virtBase ?? 0n;
  // Unset, PADDR_OFFSET is 0 with notes and VIRT_BASE with the legacy string (older Xens
  // put virt_base in the ELF header's paddr fields).
  p.paddrOffset = paddrOffset ?? (legacy ? p.virtBase : 0n);
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
