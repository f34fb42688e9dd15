// Linear-to-physical translation: the page walk behind TLB misses
// (SDM Vol. 3A §4.5 4-level and 5-level paging, §4.6 access rights, §4.7 page-fault
// exceptions, §4.8 accessed and dirty flags, §4.10 TLBs).
//
// Deliberate deviations:
// - Accessed/dirty bits are set only when the walk succeeds (the SDM allows a
//   processor to set A bits for a walk that then faults; Ringside never does).
// - 32-bit and PAE paging outside long mode are not modelled (model error).
// - The TLB caches access decisions per kind (read/write/fetch x supervisor/user),
//   not the entries' bits: a translation is cached for a kind only if that kind is
//   allowed, so a later access of a refused kind walks again and faults. With
//   CR4.SMAP = 1 user pages are never cached for supervisor data accesses, so every
//   such access walks and sees the current RFLAGS.AC (STAC, CLAC, POPF need no flush).
// - A 5-level linear address must stay below 2^53 in magnitude (cpu.ts deviations).
// - Protection keys (CR4.PKE) are not supported: the PK error-code bit is never set.

import type { Cpu } from './cpu.js';
import { TLB_SIZE, TlbKind } from './cpu.js';
import * as C from '../arch/control.js';
import { AC as RFLAGS_AC } from '../arch/rflags.js';
import { PF, PFEC_P, PFEC_W, PFEC_U, PFEC_RSVD, PFEC_I } from '../arch/vectors.js';
import { MAXPHYADDR } from './model.js';

export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
  /** A supervisor access the instruction did not name (descriptor tables, delivery frames):
   *  an implicit supervisor-mode access whatever the CPL (SDM Vol. 3A §4.6). */
  Implicit = 4,
}

const TWO32 = 4294967296;
/** Reserved physical-address bits 51:MAXPHYADDR, in an entry's high dword. */
const HI_RSVD = (((1 << (52 - 32)) - 1) & ~((1 << (MAXPHYADDR - 32)) - 1)) | 0;
const HI_ADDR = (1 << (MAXPHYADDR - 32)) - 1;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const ALL_KINDS = (1 << 6) - 1;

export function walk(cpu: Cpu, lin: number, vpn: number, slot: number, access: Access, tagBase: number): number {
  // §4.6: a user-mode access is one at CPL 3 that is not implicit.
  const user = tagBase >= TLB_SIZE * 3 && (access & Access.Implicit) === 0;
  const kind = access & 3;

  if ((cpu.cr0 & C.CR0_PG) === 0) {
    // Paging off: linear is physical (SDM Vol. 3A §4.1.1).
    const page = vpn * 4096;
    cpu.tlbFill(slot, vpn, page, ALL_KINDS, false);
    return page + (lin & 0xfff);
  }
  if (!cpu.longMode) cpu.modelError('32-bit and PAE paging outside IA-32e mode are not modelled');

  const nxe = (cpu.efer & C.EFER_NXE) !== 0;
  // §4.5.2: CR3 holds the PML4 (or, with CR4.LA57 = 1, the PML5) table's address; with
  // CR4.PCIDE = 1 bits 11:0 are the PCID, never part of the address.
  let tableLo = cpu.cr3Lo & ~0xfff;
  let tableHi = cpu.cr3Hi & HI_ADDR;
  let writable = true, userOk = true, noExec = false;
  const entries = walkEntries;
  let depth = 0;
  let pageShift = 12;
  let leafLo = 0, leafHi = 0;

  // §4.5.1: 5-level paging translates bits 56:48 through a PML5 table first.
  const top = (cpu.cr4 & C.CR4_LA57) !== 0 ? 48 : 39;
  for (let shift = top; shift >= 12; shift -= 9) {
    const index = Math.floor(lin / 2 ** shift) & 511;
    const addr = tableHi * TWO32 + (tableLo >>> 0) + index * 8;
    let lo = -1, hi = -1;
    if (addr + 8 <= cpu.mem.size) {
      lo = cpu.view.getInt32(addr, true);
      hi = cpu.view.getInt32(addr + 4, true);
    }
    entries[depth++] = addr;
    if ((lo & P) === 0) return pageFault(cpu, lin, kind, user, 0);
    // Reserved bits (§4.5.4): physical-address bits past MAXPHYADDR, XD without EFER.NXE,
    // PS in a PML5E or PML4E, and the must-be-zero bits of large-page entries.
    let reserved = (hi & HI_RSVD) !== 0 || (!nxe && hi < 0);
    const large = (lo & PS) !== 0 && shift !== 12;
    if (large) {
      if (shift >= 39) reserved = true;
      else if (shift === 30) reserved ||= (lo & 0x3fffe000) !== 0;
      else reserved ||= (lo & 0x1fe000) !== 0;
    }
    if (reserved) return pageFault(cpu, lin, kind, user, PFEC_P | PFEC_RSVD);
    writable &&= (lo & RW) !== 0;
    userOk &&= (lo & US) !== 0;
    noExec ||= nxe && hi < 0;
    if (large || shift === 12) {
      leafLo = lo;
      leafHi = hi;
      pageShift = shift;
      break;
    }
    tableLo = lo & ~0xfff;
    tableHi = hi & HI_ADDR;
  }

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
    const addr = entries[k];
    const lo = cpu.view.getInt32(addr, true);
    let set = lo | A;
    if (k === depth - 1 && kind === Access.Write) set |= D;
    if (set !== lo) cpu.writePhys32(addr, set);
  }
  const dirty = kind === Access.Write || (leafLo & D) !== 0;

  // Physical address: frame bits of the leaf plus the offset bits below the page size.
  const frameLo = (leafLo & ~((2 ** pageShift - 1) | 0)) >>> 0;
  const frame = (leafHi & HI_ADDR) * TWO32 + (pageShift === 30 ? frameLo & 0xc0000000 : frameLo);
  const offsetInPage = lin - Math.floor(lin / 2 ** pageShift) * 2 ** pageShift;
  const phys = frame + offsetInPage;
  const physPage = phys - (lin & 0xfff);

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
    // §4.10.2.4: a translation is global if CR4.PGE = 1 and the leaf's G flag (bit 8) is 1.
    const global = (cpu.cr4 & C.CR4_PGE) !== 0 && (leafLo & G) !== 0;
    cpu.tlbFill(slot, vpn, physPage, kinds, global);
  }
  return phys;
}

const walkEntries = new Float64Array(5);

/** Raise #PF with CR2 and the error code of §4.7: P (protection or reserved bit, not
 *  "not present"), W/R, U/S (CPL 3 and not implicit), RSVD, and I/D for a fetch when
 *  NX (EFER.NXE, with PAE or 4/5-level paging) or SMEP is enabled. */
function pageFault(cpu: Cpu, lin: number, kind: number, user: boolean, bits: number): never {
  let error = bits;
  if (kind === Access.Write) error |= PFEC_W;
  if (user) error |= PFEC_U;
  if (kind === Access.Fetch && ((cpu.efer & C.EFER_NXE) !== 0 || (cpu.cr4 & C.CR4_SMEP) !== 0)) error |= PFEC_I;
  cpu.cr2 = lin;
  return cpu.raise(PF, error);
}
