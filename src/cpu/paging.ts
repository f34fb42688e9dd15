// Linear-to-physical translation: the page walk behind TLB misses
// (SDM Vol. 3 §4.5 4-level paging, §4.6 access rights, §4.7 page-fault
// exceptions, §4.8 accessed and dirty flags, §4.10 TLBs).
//
// Deliberate deviations:
// - Accessed/dirty bits are set only when the walk succeeds (the SDM allows a
//   processor to set A bits for a walk that then faults; Ringside never does).
// - 32-bit and PAE paging outside long mode are not modelled (model error).

import type { Cpu } from './cpu.js';
import { TLB_SIZE, TlbKind } from './cpu.js';
import * as C from '../arch/control.js';
import { PF, PFEC_P, PFEC_W, PFEC_U, PFEC_RSVD, PFEC_I } from '../arch/vectors.js';
import { MAXPHYADDR } from './model.js';

export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
  /** A supervisor access the instruction did not name (descriptor tables, delivery frames). */
  Implicit = 4,
}

const TWO32 = 4294967296;
/** Reserved physical-address bits 51:MAXPHYADDR, in an entry's high dword. */
const HI_RSVD = (((1 << (52 - 32)) - 1) & ~((1 << (MAXPHYADDR - 32)) - 1)) | 0;
const HI_ADDR = (1 << (MAXPHYADDR - 32)) - 1;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;
const ALL_KINDS = (1 << 6) - 1;

export function walk(cpu: Cpu, lin: number, vpn: number, slot: number, access: Access, tagBase: number): number {
  const user = tagBase >= TLB_SIZE * 3 && (access & Access.Implicit) === 0;
  const kind = access & 3;

  if ((cpu.cr0 & C.CR0_PG) === 0) {
    // Paging off: linear is physical (SDM Vol. 3 §4.1.1).
    const page = vpn * 4096;
    cpu.tlbFill(slot, vpn, page, ALL_KINDS);
    return page + (lin & 0xfff);
  }
  if (!cpu.longMode) cpu.modelError('32-bit and PAE paging outside IA-32e mode are not modelled');

  const nxe = (cpu.efer & C.EFER_NXE) !== 0;
  let tableLo = cpu.cr3Lo & ~0xfff;
  let tableHi = cpu.cr3Hi & HI_ADDR;
  let writable = true, userOk = true, noExec = false;
  const entries = walkEntries;
  let depth = 0;
  let pageShift = 12;
  let leafLo = 0, leafHi = 0;

  for (let shift = 39; shift >= 12; shift -= 9) {
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
    // PS in a PML4E, and the must-be-zero bits of large-page entries.
    let reserved = (hi & HI_RSVD) !== 0 || (!nxe && hi < 0);
    const large = (lo & PS) !== 0 && shift !== 12;
    if (large) {
      if (shift === 39) reserved = true;
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

  // Access rights (§4.6).
  const wp = (cpu.cr0 & C.CR0_WP) !== 0;
  const smep = (cpu.cr4 & C.CR4_SMEP) !== 0;
  let denied = false;
  if (user) {
    denied = !userOk || (kind === Access.Write && !writable) || (kind === Access.Fetch && noExec);
  } else {
    denied = (kind === Access.Write && !writable && wp) || (kind === Access.Fetch && (noExec || (smep && userOk)));
  }
  if (denied) return pageFault(cpu, lin, kind, user, PFEC_P);

  // Accessed and dirty flags (§4.8).
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
    let kinds = 1 << TlbKind.ReadS;
    if ((writable || !wp) && dirty) kinds |= 1 << TlbKind.WriteS;
    if (!noExec && !(smep && userOk)) kinds |= 1 << TlbKind.FetchS;
    if (userOk) {
      kinds |= 1 << TlbKind.ReadU;
      if (writable && dirty) kinds |= 1 << TlbKind.WriteU;
      if (!noExec) kinds |= 1 << TlbKind.FetchU;
    }
    cpu.tlbFill(slot, vpn, physPage, kinds);
  }
  return phys;
}

const walkEntries = new Float64Array(4);

/** Raise #PF with CR2 and the error code of §4.7. */
function pageFault(cpu: Cpu, lin: number, kind: number, user: boolean, bits: number): never {
  let error = bits;
  if (kind === Access.Write) error |= PFEC_W;
  if (user) error |= PFEC_U;
  if (kind === Access.Fetch && ((cpu.efer & C.EFER_NXE) !== 0 || (cpu.cr4 & C.CR4_SMEP) !== 0)) error |= PFEC_I;
  cpu.cr2 = lin;
  return cpu.raise(PF, error);
}
