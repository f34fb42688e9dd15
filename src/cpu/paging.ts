// Linear-to-physical translation: the page walk behind TLB misses
// (SDM Vol. 3A §4.3 32-bit paging, §4.4 PAE paging, §4.5 4-level and 5-level paging,
// §4.6 access rights, §4.7 page-fault exceptions, §4.8 accessed and dirty flags, §4.10 TLBs).
//
// The walk reads the paging-structure entries of the current format (readLong,
// readPae, read32), which leave the leaf and the combined rights in cpu.scratch.walk;
// one shared tail then checks the access rights, sets the A/D flags and fills the TLB.
//
// Deliberate deviations:
// - Accessed/dirty bits are set only when the walk succeeds (the SDM allows a
//   processor to set A bits for a walk that then faults; Ringside never does).
// - The TLB caches access decisions per kind (read/write/fetch x supervisor/user),
//   not the entries' bits: a translation is cached for a kind only if that kind is
//   allowed, so a later access of a refused kind walks again and faults. With
//   CR4.SMAP = 1 user pages are never cached for supervisor data accesses, so every
//   such access walks and sees the current RFLAGS.AC (STAC, CLAC, POPF need no flush).
// - A 5-level linear address must stay below 2^53 in magnitude (cpu.ts deviations).
// - Protection keys (CR4.PKE) are not supported: the PK error-code bit is never set.
// - Memory types (PAT, PCD, PWT) have no effect: the model has no caches.
//
// Vendor difference: PAE paging's PDPTEs. Intel loads them into PDPTE registers at MOV to
// CR0/CR3/CR4 and checks their reserved bits there (#GP(0), §4.4.1). Modern AMD processors
// read them on demand during translation and report a reserved bit as #PF (AMD APM Vol. 2
// §5.5.3, "Handling of PDPT Entries in PAE Mode": older AMD64 processors behaved as Intel);
// the AMD flavour reads them at every walk, the loosest behaviour that text allows.

import type { Cpu } from './cpu.js';
import type { PageWalk } from './scratch.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import * as C from '../arch/control.js';
import { AC as RFLAGS_AC } from '../arch/rflags.js';
import { PF, PFEC_P, PFEC_W, PFEC_U, PFEC_RSVD, PFEC_I } from '../arch/vectors.js';
import { MAXPHYADDR } from './model.js';
import { dataAccess } from './debug.js';

export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
  /** A supervisor access the instruction did not name (descriptor tables, delivery frames):
   *  an implicit supervisor-mode access whatever the CPL (SDM Vol. 3A §4.6). */
  Implicit = 4,
  /** An explicit data access's size in bytes (1, 2, 4, 8) times Size: what a data
   *  breakpoint compares (debug.ts); 0 for accesses no data breakpoint can match. */
  Size = 8,
  Size1 = 8, Size2 = 16, Size4 = 32, Size8 = 64,
}

const TWO32 = 4294967296;
/** Reserved physical-address bits 51:MAXPHYADDR, in an entry's high dword (4/5-level). */
const HI_RSVD = (((1 << (52 - 32)) - 1) & ~((1 << (MAXPHYADDR - 32)) - 1)) | 0;
const HI_ADDR = (1 << (MAXPHYADDR - 32)) - 1;
/** PAE paging reserves bits 62:MAXPHYADDR of PDEs and PTEs (§4.4.2, Table 4-11 ff.); bit 63
 *  (XD) is reserved unless EFER.NXE = 1. */
const HI_RSVD_PAE = 0x7fffffff & ~HI_ADDR;
/** PDPTE reserved bits (§4.4.1, Table 4-8): 2:1, 8:5 and 63:MAXPHYADDR. */
const PDPTE_RSVD_LO = 0x1e6;
const PDPTE_RSVD_HI = ~HI_ADDR;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const ALL_KINDS = (1 << 6) - 1;
/** 2 ** k for k < 64: a table lookup where `2 ** k` with a variable k is a call to pow. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, k) => 2 ** k);
/** Returned by the entry readers when the walk reached a leaf (otherwise: #PF error bits). */
const LEAF = -1;

export function walk(cpu: Cpu, lin: number, vpn: number, slot: number, access: Access, tagBase: number): number {
  // §4.6: a user-mode access is one at CPL 3 that is not implicit.
  const user = tagBase >= TLB_SIZE * 3 && (access & Access.Implicit) === 0;
  const kind = access & 3;
  // A watched page is never cached for data accesses (debug.ts): each access comes here.
  if (cpu.bpData !== 0 && access >= Access.Size) dataAccess(cpu, lin, access >>> 3, kind === Access.Write);

  if ((cpu.cr0 & C.CR0_PG) === 0) {
    // Paging off: linear is physical (SDM Vol. 3A §4.1.1).
    const page = vpn * 4096;
    cpu.tlbFill(slot, vpn, page, ALL_KINDS, false);
    return page + (lin & 0xfff);
  }
  // §4.1.1: the paging mode follows CR4.PAE and EFER.LMA.
  let found: number;
  if (cpu.longMode) found = readLong(cpu, lin);
  else if ((cpu.cr4 & C.CR4_PAE) !== 0) found = readPae(cpu, lin);
  else found = read32(cpu, lin);
  if (found !== LEAF) return pageFault(cpu, lin, kind, user, found);
  const w = cpu.scratch.walk;
  const writable = w.writable, userOk = w.userOk, noExec = w.noExec;
  const depth = w.depth, leafLo = w.leafLo, leafHi = w.leafHi, pageShift = w.pageShift;

  // Access rights (§4.6.1).
  const wp = (cpu.cr0 & C.CR0_WP) !== 0;
  const smep = (cpu.cr4 & C.CR4_SMEP) !== 0;
  const smap = (cpu.cr4 & C.CR4_SMAP) !== 0;
  let denied = false;
  if (user) {
    denied = !userOk || (kind === Access.Write && !writable) || (kind === Access.Fetch && noExec);
  } else if (kind === Access.Fetch) {
    // SMEP: no supervisor-mode fetch from a user-mode page.
    denied = noExec || (smep && userOk);
  } else {
    denied = kind === Access.Write && !writable && wp;
    // SMAP: supervisor-mode data accesses to user-mode pages only when explicit with
    // RFLAGS.AC = 1; implicit ones (descriptor tables, delivery frames) never.
    if (smap && userOk && ((access & Access.Implicit) !== 0 || (cpu.flagsRest & RFLAGS_AC) === 0)) denied = true;
  }
  if (denied) return pageFault(cpu, lin, kind, user, PFEC_P);

  // Accessed and dirty flags (§4.8): A in every entry used, D in the leaf on a write.
  for (let k = 0; k < depth; k++) {
    const addr = w.entries[k];
    if (addr + 4 > cpu.mem.size) continue; // an entry read as all ones from past the end of memory
    const lo = cpu.view.getInt32(addr, true);
    let set = lo | A;
    if (k === depth - 1 && kind === Access.Write) set |= D;
    if (set !== lo) cpu.writePhys32(addr, set);
  }
  const dirty = kind === Access.Write || (leafLo & D) !== 0;

  // Physical address: frame bits of the leaf plus the offset bits below the page size.
  const pageSize = POW2[pageShift];
  const frameLo = (leafLo & ~((pageSize - 1) | 0)) >>> 0;
  const frame = (leafHi & HI_ADDR) * TWO32 + (pageShift === 30 ? (frameLo & 0xc0000000) >>> 0 : frameLo);
  const offsetInPage = lin - Math.floor(lin / pageSize) * pageSize;
  const phys = frame + offsetInPage;
  const physPage = phys - (lin & 0xfff);

  // A store that no TLB entry will let through (below) still goes to RAM: its page is written.
  if (kind === Access.Write && physPage + 4096 <= cpu.mem.size) cpu.mem.written[physPage / 4096] = 1;
  if (physPage + 4096 <= cpu.mem.size) {
    let kinds = 0;
    // With SMAP a user page is refused or allowed to supervisor data accesses by AC at
    // the time of each access: never cached for them.
    if (!(smap && userOk)) {
      kinds |= 1 << TlbKind.ReadS;
      if ((writable || !wp) && dirty) kinds |= 1 << TlbKind.WriteS;
    }
    if (!noExec && !(smep && userOk)) kinds |= 1 << TlbKind.FetchS;
    if (userOk) {
      kinds |= 1 << TlbKind.ReadU;
      if (writable && dirty) kinds |= 1 << TlbKind.WriteU;
      if (!noExec) kinds |= 1 << TlbKind.FetchU;
    }
    // §4.10.2.4: a translation is global if CR4.PGE = 1 and the leaf's G flag (bit 8) is 1
    // (in every format; with 32-bit paging a PDE's G counts only for a 4-MByte page, the leaf).
    const global = (cpu.cr4 & C.CR4_PGE) !== 0 && (leafLo & G) !== 0;
    cpu.tlbFill(slot, vpn, physPage, kinds, global);
  }
  return phys;
}

/** The physical dword at addr, or all ones past the end of memory (as the walk's reads see
 *  unbacked addresses: present with every reserved bit set). */
function entryDword(cpu: Cpu, addr: number): number {
  return addr + 4 <= cpu.mem.size ? cpu.view.getInt32(addr, true) : -1;
}

/** Start a walk: no entries used yet, every right granted until an entry takes it away. */
function beginWalk(w: PageWalk): void {
  w.depth = 0;
  w.writable = true; w.userOk = true; w.noExec = false;
}

/** Record a leaf for the shared tail. */
function leaf(w: PageWalk, lo: number, hi: number, shift: number): number {
  w.leafLo = lo; w.leafHi = hi; w.pageShift = shift;
  return LEAF;
}

/** 4-level and 5-level paging (§4.5): 8-byte entries, 9 bits of the linear address per level. */
function readLong(cpu: Cpu, lin: number): number {
  const nxe = (cpu.efer & C.EFER_NXE) !== 0;
  // §4.5.2: CR3 holds the PML4 (or, with CR4.LA57 = 1, the PML5) table's address; with
  // CR4.PCIDE = 1 bits 11:0 are the PCID, never part of the address.
  let tableLo = cpu.cr3Lo & ~0xfff;
  let tableHi = cpu.cr3Hi & HI_ADDR;
  const w = cpu.scratch.walk;
  beginWalk(w);
  // §4.5.1: 5-level paging translates bits 56:48 through a PML5 table first.
  const top = (cpu.cr4 & C.CR4_LA57) !== 0 ? 48 : 39;
  for (let shift = top; shift >= 12; shift -= 9) {
    const index = Math.floor(lin / POW2[shift]) & 511;
    const addr = tableHi * TWO32 + (tableLo >>> 0) + index * 8;
    let lo = -1, hi = -1;
    if (addr + 8 <= cpu.mem.size) {
      lo = cpu.view.getInt32(addr, true);
      hi = cpu.view.getInt32(addr + 4, true);
    }
    w.entries[w.depth++] = addr;
    if ((lo & P) === 0) return 0;
    // Reserved bits (§4.5.4): physical-address bits past MAXPHYADDR, XD without EFER.NXE,
    // PS in a PML5E or PML4E, and the must-be-zero bits of large-page entries.
    let reserved = (hi & HI_RSVD) !== 0 || (!nxe && hi < 0);
    const large = (lo & PS) !== 0 && shift !== 12;
    if (large) {
      if (shift >= 39) reserved = true;
      else if (shift === 30) reserved ||= (lo & 0x3fffe000) !== 0;
      else reserved ||= (lo & 0x1fe000) !== 0;
    }
    if (reserved) return PFEC_P | PFEC_RSVD;
    w.writable &&= (lo & RW) !== 0;
    w.userOk &&= (lo & US) !== 0;
    w.noExec ||= nxe && hi < 0;
    if (large || shift === 12) return leaf(w, lo, hi, shift);
    tableLo = lo & ~0xfff;
    tableHi = hi & HI_ADDR;
  }
  return 0; // not reached: the shift-12 level always ends the loop
}

/** PAE paging (§4.4): linear bits 31:30 select one of the four PDPTEs -- on Intel the PDPTE
 *  registers loaded by loadPdptes (never re-read from memory during a walk, §4.4.1), on AMD
 *  the entry in memory at CR3[31:5] (this file's vendor difference) -- then an 8-byte PDE
 *  (bits 29:21; PS = 1 maps a 2-MByte page) and an 8-byte PTE (bits 20:12). PDPTEs carry no
 *  access rights and no A flag. */
function readPae(cpu: Cpu, lin: number): number {
  const nxe = (cpu.efer & C.EFER_NXE) !== 0;
  const pdpte = (lin >>> 30) & 3;
  const w = cpu.scratch.walk;
  beginWalk(w);
  let pdpteLo: number, pdpteHi: number;
  if (cpu.model.vendor === 'amd') {
    const addr = ((cpu.cr3Lo & ~0x1f) >>> 0) + pdpte * 8;
    pdpteLo = entryDword(cpu, addr);
    pdpteHi = entryDword(cpu, addr + 4);
    if ((pdpteLo & P) !== 0 && ((pdpteLo & PDPTE_RSVD_LO) !== 0 || (pdpteHi & PDPTE_RSVD_HI) !== 0)) return PFEC_P | PFEC_RSVD;
  } else {
    pdpteLo = cpu.pdpteLo[pdpte];
    pdpteHi = cpu.pdpteHi[pdpte];
  }
  if ((pdpteLo & P) === 0) return 0;
  let tableLo = pdpteLo & ~0xfff;
  let tableHi = pdpteHi & HI_ADDR;
  for (let shift = 21; shift >= 12; shift -= 9) {
    const index = (lin >>> shift) & 511;
    const addr = tableHi * TWO32 + (tableLo >>> 0) + index * 8;
    const lo = entryDword(cpu, addr);
    const hi = addr + 8 <= cpu.mem.size ? cpu.view.getInt32(addr + 4, true) : -1;
    w.entries[w.depth++] = addr;
    if ((lo & P) === 0) return 0;
    // Reserved bits (§4.4.2): 62:MAXPHYADDR, XD without EFER.NXE, 20:13 of a 2-MByte PDE.
    const large = shift === 21 && (lo & PS) !== 0;
    if ((hi & HI_RSVD_PAE) !== 0 || (!nxe && hi < 0) || (large && (lo & 0x1fe000) !== 0)) {
      return PFEC_P | PFEC_RSVD;
    }
    w.writable &&= (lo & RW) !== 0;
    w.userOk &&= (lo & US) !== 0;
    w.noExec ||= nxe && hi < 0;
    if (large || shift === 12) return leaf(w, lo, hi, shift);
    tableLo = lo & ~0xfff;
    tableHi = hi & HI_ADDR;
  }
  return 0; // not reached
}

/** 32-bit paging (§4.3): CR3[31:12] locates the page directory; 4-byte entries. A PDE with
 *  PS = 1 under CR4.PSE = 1 maps a 4-MByte page whose bits 20:13 give physical-address bits
 *  39:32 (PSE-36; MAXPHYADDR is 40, so only bit 21 is reserved); otherwise (PS ignored when
 *  CR4.PSE = 0) it locates a page table. No XD: EFER.NXE is ignored. */
function read32(cpu: Cpu, lin: number): number {
  const w = cpu.scratch.walk;
  beginWalk(w);
  const pdeAddr = (cpu.cr3Lo & ~0xfff) + ((lin >>> 22) << 2);
  const pde = entryDword(cpu, pdeAddr >>> 0);
  w.entries[w.depth++] = pdeAddr >>> 0;
  if ((pde & P) === 0) return 0;
  w.writable = (pde & RW) !== 0;
  w.userOk = (pde & US) !== 0;
  if ((pde & PS) !== 0 && (cpu.cr4 & C.CR4_PSE) !== 0) {
    if ((pde & (1 << 21)) !== 0) return PFEC_P | PFEC_RSVD;
    return leaf(w, pde, (pde >>> 13) & 0xff, 22);
  }
  const pteAddr = ((pde & ~0xfff) >>> 0) + (((lin >>> 12) & 1023) << 2);
  const pte = entryDword(cpu, pteAddr);
  w.entries[w.depth++] = pteAddr;
  if ((pte & P) === 0) return 0;
  w.writable &&= (pte & RW) !== 0;
  w.userOk &&= (pte & US) !== 0;
  return leaf(w, pte, 0, 12);
}

/** §4.4.1: load the PDPTE registers from the 32-byte PDPT at bits 31:5 of `cr3Lo` (for MOV to
 *  CR0/CR3/CR4; task switches, which also load them, are not modelled). Returns
 *  false, loading nothing, if a PDPTE has P = 1 and a reserved bit set (2:1, 8:5,
 *  63:MAXPHYADDR): the MOV to CR0/CR3/CR4 that asked then raises #GP(0) and changes nothing. */
export function loadPdptes(cpu: Cpu, cr3Lo: number): boolean {
  if (cpu.model.vendor === 'amd') return true; // read at each walk instead (readPae)
  const base = (cr3Lo & ~0x1f) >>> 0;
  for (let k = 0; k < 4; k++) {
    const lo = entryDword(cpu, base + 8 * k), hi = entryDword(cpu, base + 8 * k + 4);
    if ((lo & P) !== 0 && ((lo & PDPTE_RSVD_LO) !== 0 || (hi & PDPTE_RSVD_HI) !== 0)) return false;
  }
  for (let k = 0; k < 4; k++) {
    cpu.pdpteLo[k] = entryDword(cpu, base + 8 * k);
    cpu.pdpteHi[k] = entryDword(cpu, base + 8 * k + 4);
  }
  return true;
}

/** Raise #PF with CR2 and the error code of §4.7: P (protection or reserved bit, not
 *  "not present"), W/R, U/S (CPL 3 and not implicit), RSVD, and I/D for a fetch when
 *  CR4.SMEP = 1 or, with PAE or 4/5-level paging (CR4.PAE = 1), EFER.NXE = 1. */
function pageFault(cpu: Cpu, lin: number, kind: number, user: boolean, bits: number): never {
  let error = bits;
  if (kind === Access.Write) error |= PFEC_W;
  if (user) error |= PFEC_U;
  const nx = (cpu.efer & C.EFER_NXE) !== 0 && (cpu.cr4 & C.CR4_PAE) !== 0;
  if (kind === Access.Fetch && (nx || (cpu.cr4 & C.CR4_SMEP) !== 0)) error |= PFEC_I;
  cpu.cr2 = lin;
  return cpu.raise(PF, error);
}
