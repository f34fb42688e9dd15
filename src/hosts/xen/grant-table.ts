// Grant tables, version 1 (xen/common/grant_table.c and xen/arch/x86/pv/grant_table.c at
// c447b7308b; the numbers and layouts are public/grant_table.h's, src/arch/xen.ts): hypercall
// 20, GNTTABOP_*. A domain's table is an array of 8-byte grant_entry_v1 in frames Xen owns
// and shares with the domain writable (Xen-heap pages: address-space.ts sets aside
// GRANT_FRAMES_MAX of them), one at creation; setup_table grows it and returns the frames'
// MFNs, which a PV guest maps with update_va_mapping. An entry {flags, domid, frame} lets
// domain `domid` map or copy `frame`; Xen pins it (the "active entry") while it is in use
// and says so in the entry's GTF_reading / GTF_writing bits. Each mapping has a handle from
// the mapping domain's maptrack, a FIFO free list as Xen's per-vCPU one (a refused map
// takes a handle and gives it back at the tail).
//
// The domains: the guest (domid 0 as dom0, 1 as a domU, the toolstack's first domain) and,
// for a domU, the backend domain dom0 (backend-domain.ts), whose table and pages are also
// here. Element errors are GNTST_* in each element's status; the hypercall returns 0, or
// -EFAULT/-EINVAL/-ENOSYS as do_grant_table_op does.
//
// Deliberate deviations:
// - Never preempted: every element of a batch is done in one go (no continuations).
// - Version 2 (set_version(2), which both dom0 and xl domUs may select since
//   opt_gnttab_max_version defaults to 2), GNTTABOP_transfer (a page changing owner between
//   domains) and swap_grant_ref are model errors.
// - Page reference counts are not kept: a frame "owned" by a domain is one of its frames;
//   the writable-type check refuses a page Xen types as a page table or descriptor page.

import {
  DOMID_SELF, Errno, GNTCOPY_dest_gref, GNTCOPY_source_gref, GNTMAP, GNTTABOP_CMD_MASK, GNTTAB_COPY, GNTTAB_COPY_PTR,
  GNTTAB_GET_STATUS_FRAMES, GNTTAB_GET_VERSION, GNTTAB_MAP, GNTTAB_QUERY_SIZE, GNTTAB_SETUP, GNTTAB_UNMAP,
  GNTTAB_UNMAP_AND_REPLACE, GRANT_ENTRY_V1, GTF, Gntst, GnttabOp, HYPERVISOR_VIRT_END,
} from '../../arch/xen.js';
import { GRANT_FRAMES_MAX, PAGE, PTE } from './address-space.js';
import type { PvDomain } from './domain.js';
import type { PhysicalMemory } from '../../machine/memory.js';
import type { PageType } from './hypercalls.js';

const TWO32 = 4294967296;
const ENTRIES_PER_FRAME = PAGE / GRANT_ENTRY_V1.size;
/** MAPTRACK_PER_PAGE (16-byte grant_mapping) and max_maptrack_frames' default. */
const MAPTRACK_PER_PAGE = 256;
const MAPTRACK_FRAMES_MAX = 1024;
/** PTE bits Xen adds to a grant mapping, in the high dword: NX (bit 63) and
 *  _PAGE_GUEST_KERNEL (bit 52) for a kernel mapping. (_PAGE_GNTTAB, bit 62, is a debug
 *  build's: 0 under NDEBUG, asm/page.h.) */
const NX_HI = 0x80000000 | 0, GUEST_KERNEL_HI = 1 << 20;
/** The guest's domid as a domU. */
export const DOMU_ID = 1;

/** An active entry: the pins of one grant (read-only and writable, host and device alike)
 *  and what the first pin found. */
export interface ActiveGrant {
  readPins: number;
  writePins: number;
  mfn: number;
  /** The domain the grant is pinned for. */
  mapper: number;
}

/** One domain's grant table as Xen keeps it (its entries are in the shared frames). */
export interface GrantTableState {
  domid: number;
  nrFrames: number;
  maxFrames: number;
  /** The machine frames of the table, in order (maxFrames of them, nrFrames in use). */
  frames: number[];
  active: Record<number, ActiveGrant>;
}

/** A maptrack entry of the guest: what a handle maps. */
export interface Mapping {
  domid: number;
  ref: number;
  flags: number;
}

/** Everything grant tables add to the machine's state (captured and restored with it). */
export interface GrantsState {
  guest: GrantTableState;
  /** The backend domain's table (a domU's dom0), or null when there is no other domain. */
  backend: GrantTableState | null;
  maptrack: Record<number, Mapping>;
  /** The maptrack free list, head first, and the handles allocated so far. */
  free: number[];
  limit: number;
}

/** What grant tables need from the host. */
export interface GrantHost {
  readonly grants: GrantsState;
  /** Pages Xen knows as the guest's page tables and descriptor pages, by mfn. */
  readonly pageTypes: Map<number, PageType>;
  /** Machine frames of the guest's memory: [first, end). */
  readonly domainFrames: [number, number];
  /** Machine frames of the backend domain's pages (not its table). */
  readonly backendPages: [number, number];
}

/** A fresh table of `frames` possible frames from `first`, one in use. */
export function newGrantTable(domid: number, first: number, maxFrames = GRANT_FRAMES_MAX): GrantTableState {
  return { domid, nrFrames: 1, maxFrames, frames: Array.from({ length: maxFrames }, (_, k) => first + k), active: {} };
}

/** The machine address of entry `ref` of table `t`. */
export function entryAddress(t: GrantTableState, ref: number): number {
  return t.frames[Math.floor(ref / ENTRIES_PER_FRAME)] * PAGE + (ref % ENTRIES_PER_FRAME) * GRANT_ENTRY_V1.size;
}

/** Whether `mfn` is one of the guest's grant-table frames in use (they are the guest's to map). */
export function isGrantFrame(g: GrantsState, mfn: number): boolean {
  const t = g.guest;
  return mfn >= t.frames[0] && mfn < t.frames[0] + t.nrFrames;
}

// ------------------------------------------------------------------ domains

/** rcu_lock_domain_by_id: the guest and, for a domU, dom0 (DOMID_SELF is not an id). */
function byId(h: GrantHost, domid: number): GrantTableState | null {
  if (domid === h.grants.guest.domid) return h.grants.guest;
  if (h.grants.backend !== null && domid === h.grants.backend.domid) return h.grants.backend;
  return null;
}

/** rcu_lock_domain_by_any_id: DOMID_SELF too. */
function byAnyId(h: GrantHost, domid: number): GrantTableState | null {
  return domid === DOMID_SELF ? h.grants.guest : byId(h, domid);
}

/** xsm_grant_setup / query_size (XSM_TARGET, dummy policy): the caller itself, or any
 *  domain from the privileged dom0. */
function targetAllowed(h: GrantHost, d: PvDomain, t: GrantTableState): boolean {
  return t === h.grants.guest || d.state.dom0;
}

/** get_page(page, rd) for a PV domain: is `mfn` one of the domain's pages (its memory or
 *  its grant-table frames, Xen-heap pages it owns)? */
function owns(h: GrantHost, t: GrantTableState, mfn: number): boolean {
  if (mfn >= t.frames[0] && mfn < t.frames[0] + t.nrFrames) return true;
  const [first, end] = t === h.grants.guest ? h.domainFrames : h.backendPages;
  return mfn >= first && mfn < end;
}

/** get_page_type(PGT_writable_page): refused for a page typed as a page table or a
 *  descriptor page. */
function writableType(h: GrantHost, t: GrantTableState, mfn: number): boolean {
  return t !== h.grants.guest || !h.pageTypes.has(mfn);
}

// ------------------------------------------------------------------ active entries

/** acquire: the entry checks and the pin of map_grant_ref (steps after the domain lookup)
 *  and acquire_grant_for_copy: bounds, a pin held for another domain, _set_status_v1 (the
 *  entry's type and domid on the first pin, GTF_readonly for a write; sets GTF_reading and
 *  GTF_writing), then get_paged_frame (the frame must be the granter's). */
export function acquireGrant(h: GrantHost, d: PvDomain, t: GrantTableState, ref: number, mapper: number, readonly: boolean, pins: number, mapflag: boolean): { status: number; mfn: number } {
  if (ref >= t.nrFrames * ENTRIES_PER_FRAME) return { status: Gntst.bad_gntref, mfn: 0 };
  const mem = d.mem;
  const at = entryAddress(t, ref);
  const act = t.active[ref];
  if (act !== undefined && act.mapper !== mapper) return { status: Gntst.general_error, mfn: 0 };
  if (act === undefined || (!readonly && act.writePins === 0)) {
    const flags = readU16(mem, at + GRANT_ENTRY_V1.flags);
    const mask = GTF.typeMask | (mapflag ? GTF.sub_page : 0);
    if (act === undefined && ((flags & mask) !== GTF.permit_access || readU16(mem, at + GRANT_ENTRY_V1.domid) !== mapper)) {
      return { status: Gntst.general_error, mfn: 0 };
    }
    if (!readonly && (flags & GTF.readonly) !== 0) return { status: Gntst.general_error, mfn: 0 };
    writeU16(mem, at + GRANT_ENTRY_V1.flags, flags | GTF.reading | (readonly ? 0 : GTF.writing));
  }
  if (act === undefined) {
    const frame = mem.readU32(at + GRANT_ENTRY_V1.frame);
    if (!owns(h, t, frame)) {
      reduceStatus(d, t, ref, readonly);
      return { status: Gntst.bad_page, mfn: 0 };
    }
    t.active[ref] = { readPins: 0, writePins: 0, mfn: frame, mapper };
  }
  const a = t.active[ref];
  if (readonly) a.readPins += pins;
  else a.writePins += pins;
  return { status: Gntst.okay, mfn: a.mfn };
}

/** Drop `pins` pins (release_grant_for_copy, unmap_common_complete, map's undo). */
export function releaseGrant(d: PvDomain, t: GrantTableState, ref: number, readonly: boolean, pins: number): void {
  const a = t.active[ref];
  if (readonly) a.readPins -= pins;
  else a.writePins -= pins;
  reduceStatus(d, t, ref, readonly);
}

/** reduce_status_for_pin: GTF_writing goes with the last writable pin, GTF_reading with
 *  the last pin (and the active entry with it). */
function reduceStatus(d: PvDomain, t: GrantTableState, ref: number, readonly: boolean): void {
  const a = t.active[ref];
  const at = entryAddress(t, ref) + GRANT_ENTRY_V1.flags;
  let flags = readU16(d.mem, at);
  if (!readonly && (a === undefined || a.writePins === 0)) flags &= ~GTF.writing;
  if (a === undefined || a.readPins + a.writePins === 0) {
    flags &= ~GTF.reading;
    delete t.active[ref];
  }
  writeU16(d.mem, at, flags);
}

// ------------------------------------------------------------------ the hypercall

/** do_grant_table_op(cmd, uop, count). */
export function grantTableOp(d: PvDomain, h: GrantHost, cmd: number, uop: number, count: number): number {
  if ((count | 0) < 0) return -Errno.EINVAL;
  const op = cmd & GNTTABOP_CMD_MASK;
  if (op !== GnttabOp.cache_flush && cmd !== op) return -Errno.EINVAL;
  const array = (size: number, each: (at: number) => number): number => {
    if (!addrOk(uop)) return -Errno.EFAULT; // guest_handle_okay
    for (let i = 0; i < count; i++) {
      const rc = each(uop + i * size);
      if (rc !== 0) return rc;
    }
    return 0;
  };
  switch (op) {
    case GnttabOp.map_grant_ref: return array(GNTTAB_MAP.size, (at) => mapGrantRef(d, h, at));
    case GnttabOp.unmap_grant_ref: return array(GNTTAB_UNMAP.size, (at) => unmapGrantRef(d, h, at, false));
    case GnttabOp.unmap_and_replace: return array(GNTTAB_UNMAP_AND_REPLACE.size, (at) => unmapGrantRef(d, h, at, true));
    case GnttabOp.setup_table: return setupTable(d, h, uop, count);
    case GnttabOp.copy: return array(GNTTAB_COPY.size, (at) => copy(d, h, at));
    case GnttabOp.query_size: return querySize(d, h, uop, count);
    case GnttabOp.set_version: return setVersion(d, uop);
    case GnttabOp.get_status_frames: return getStatusFrames(d, h, uop, count);
    case GnttabOp.get_version: return getVersion(d, h, uop);
    case GnttabOp.transfer:
      return d.cpu.modelError('Xen model: GNTTABOP_transfer (a page changing owner between domains) is not modelled');
    case GnttabOp.swap_grant_ref: return d.cpu.modelError('Xen model: GNTTABOP_swap_grant_ref is not modelled');
    default: return -Errno.ENOSYS; // dump_table has no case; cache_flush is Arm's alone
  }
}

/** __addr_ok for a 64-bit PV guest: below 2^47 or at or above HYPERVISOR_VIRT_END. */
function addrOk(lin: number): boolean {
  return (lin >= 0 && lin < 2 ** 47) || (lin < 0 && lin >= HYPERVISOR_VIRT_END);
}

function readU16(mem: PhysicalMemory, at: number): number {
  return mem.bytes[at] | (mem.bytes[at + 1] << 8);
}

function writeU16(mem: PhysicalMemory, at: number, v: number): void {
  mem.write(at, Uint8Array.of(v & 0xff, (v >> 8) & 0xff));
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(v: DataView, off: number): number {
  return v.getInt32(off + 4, true) * TWO32 + v.getUint32(off, true);
}

function setU64(v: DataView, off: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  v.setUint32(off, x - hi * TWO32, true);
  v.setInt32(off + 4, hi, true);
}

/** Copy a 16-bit status field back (__copy_field_to_guest). */
function putStatus(d: PvDomain, at: number, status: number): number {
  return d.copyToGuest(at, Uint8Array.of(status & 0xff, (status >> 8) & 0xff)) ? 0 : -Errno.EFAULT;
}

// ------------------------------------------------------------------ maptrack

/** get_maptrack_handle: the free list's head unless it is the last entry (Xen never
 *  hands that one out), else a new maptrack page whose first handle is returned and whose
 *  others go to the head of the list. -1: none left. */
function getHandle(g: GrantsState): number {
  if (g.free.length > 1) return g.free.shift()!;
  if (g.limit >= MAPTRACK_FRAMES_MAX * MAPTRACK_PER_PAGE) return -1; // (stealing from other vCPUs: there are none)
  const handle = g.limit;
  g.free.unshift(...Array.from({ length: MAPTRACK_PER_PAGE - 1 }, (_, k) => handle + 1 + k));
  g.limit += MAPTRACK_PER_PAGE;
  return handle;
}

/** put_maptrack_handle: to the tail. */
function putHandle(g: GrantsState, handle: number): void {
  delete g.maptrack[handle];
  g.free.push(handle);
}

// ------------------------------------------------------------------ map / unmap

/** map_grant_ref for one element at guest address `at`. */
function mapGrantRef(d: PvDomain, h: GrantHost, at: number): number {
  const b = d.copyFromGuest(at, GNTTAB_MAP.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const hostAddr = u64(v, GNTTAB_MAP.hostAddr);
  const flags = v.getUint32(GNTTAB_MAP.flags, true);
  const ref = v.getUint32(GNTTAB_MAP.ref, true);
  const dom = v.getUint16(GNTTAB_MAP.dom, true);
  const r = mapOne(d, h, hostAddr, flags, ref, dom);
  v.setInt16(GNTTAB_MAP.status, r.status, true);
  if (r.status === Gntst.okay) {
    v.setUint32(GNTTAB_MAP.handle, r.handle, true);
    setU64(v, GNTTAB_MAP.devBusAddr, r.mfn * PAGE);
  }
  return d.copyToGuest(at, b) ? 0 : -Errno.EFAULT;
}

function mapOne(d: PvDomain, h: GrantHost, hostAddr: number, flags: number, ref: number, dom: number): { status: number; handle: number; mfn: number } {
  const fail = (status: number) => ({ status, handle: 0, mfn: 0 });
  const pins = (flags & GNTMAP.device_map ? 1 : 0) + (flags & GNTMAP.host_map ? 1 : 0);
  if (pins === 0) return fail(Gntst.bad_gntref);
  const t = byId(h, dom);
  if (t === null) return fail(Gntst.bad_domain);
  const g = h.grants;
  const handle = getHandle(g);
  if (handle < 0) return fail(Gntst.no_space);
  const readonly = (flags & GNTMAP.readonly) !== 0;
  const got = acquireGrant(h, d, t, ref, g.guest.domid, readonly, pins, true);
  let status = got.status;
  if (status === Gntst.okay) {
    // The host mapping needs the writable type of the frame unless read-only
    // (gnttab_host_mapping_get_page_type), then the PTE (create_grant_pv_mapping).
    if ((!readonly && (flags & (GNTMAP.device_map | GNTMAP.host_map)) !== 0 && !writableType(h, t, got.mfn))
      || ((flags & GNTMAP.host_map) !== 0 && !createPvMapping(d, h, hostAddr, got.mfn, flags))) {
      releaseGrant(d, t, ref, readonly, pins);
      status = Gntst.general_error;
    }
  }
  if (status !== Gntst.okay) {
    g.free.push(handle);
    return fail(status);
  }
  g.maptrack[handle] = { domid: dom, ref, flags };
  return { status, handle, mfn: got.mfn };
}

/** The machine address of the L1 entry for `lin` in the guest's kernel tables, if that L1
 *  is one of the guest's L1 page tables (map_guest_l1e + get_page_from_mfn + the type
 *  check); -1 otherwise. */
function guestL1e(d: PvDomain, h: GrantHost, lin: number): number {
  if (!addrOk(lin)) return -1;
  const mem = d.mem;
  let table = d.vcpu.guestTable * PAGE;
  for (let level = 4; level >= 2; level--) {
    const at = table + (Math.floor(lin / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
    const lo = mem.readU32(at), hi = mem.readU32(at + 4);
    if ((lo & PTE.P) === 0 || (level === 2 && (lo & PTE.PS) !== 0)) return -1;
    table = (hi & 0xfffff) * TWO32 + (lo >>> 12) * PAGE;
  }
  return l1Typed(h, table / PAGE) ? table + (Math.floor(lin / PAGE) & 511) * 8 : -1;
}

function l1Typed(h: GrantHost, mfn: number): boolean {
  return mfn >= h.domainFrames[0] && mfn < h.domainFrames[1] && h.pageTypes.get(mfn)?.type === 'l1';
}

/** The PTE a grant mapping gets (grant_to_pte_flags, then adjust_guest_l1e). */
function grantPte(mfn: number, flags: number): [number, number] {
  let lo = PTE.P | PTE.A | PTE.D | (((flags >>> GNTMAP.guestAvailShift) << 9) & 0xe00);
  let hi = NX_HI;
  if ((flags & GNTMAP.application_map) !== 0) lo |= PTE.US | PTE.G;
  else { lo |= PTE.US; hi |= GUEST_KERNEL_HI; }
  if ((flags & GNTMAP.readonly) === 0) lo |= PTE.RW;
  const addr = mfn * PAGE;
  return [((addr % TWO32) | lo) | 0, (Math.floor(addr / TWO32) | hi) | 0];
}

/** create_grant_pv_mapping: `addr` is the machine address of an L1 entry
 *  (GNTMAP_contains_pte: 8-aligned, in one of the guest's L1 tables) or a linear address
 *  whose L1 entry is one; the entry is replaced. */
function createPvMapping(d: PvDomain, h: GrantHost, addr: number, mfn: number, flags: number): boolean {
  const at = pteAddress(d, h, addr, flags);
  if (at < 0) return false;
  d.mem.writeU64(at, ...grantPte(mfn, flags));
  d.cpu.flushTlb();
  return true;
}

function pteAddress(d: PvDomain, h: GrantHost, addr: number, flags: number): number {
  if ((flags & GNTMAP.contains_pte) === 0) return guestL1e(d, h, addr);
  if (addr % 8 !== 0 || addr < 0 || !l1Typed(h, Math.floor(addr / PAGE))) return -1;
  return addr;
}

/** unmap_grant_ref / unmap_and_replace for one element (unmap_common, then its completion). */
function unmapGrantRef(d: PvDomain, h: GrantHost, at: number, replace: boolean): number {
  const L = replace ? GNTTAB_UNMAP_AND_REPLACE : GNTTAB_UNMAP;
  const b = d.copyFromGuest(at, L.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const hostAddr = u64(v, L.hostAddr);
  const devBusAddr = replace ? 0 : u64(v, GNTTAB_UNMAP.devBusAddr);
  const newAddr = replace ? u64(v, GNTTAB_UNMAP_AND_REPLACE.newAddr) : 0;
  const handle = v.getUint32(L.handle, true);
  const status = unmapOne(d, h, hostAddr, devBusAddr, newAddr, handle);
  return putStatus(d, at + L.status, status);
}

function unmapOne(d: PvDomain, h: GrantHost, hostAddr: number, devBusAddr: number, newAddr: number, handle: number): number {
  const g = h.grants;
  const map = handle < g.limit ? g.maptrack[handle] : undefined;
  if (map === undefined) return Gntst.bad_handle;
  const t = byId(h, map.domid)!;
  if (map.ref >= t.nrFrames * ENTRIES_PER_FRAME) return Gntst.bad_handle;
  const act = t.active[map.ref];
  const readonly = (map.flags & GNTMAP.readonly) !== 0;
  if (devBusAddr !== 0 && (map.flags & GNTMAP.device_map) !== 0 && devBusAddr !== act.mfn * PAGE) return Gntst.bad_dev_addr;
  let done = 0;
  if (hostAddr !== 0 && (map.flags & GNTMAP.host_map) !== 0) {
    if (!replacePvMapping(d, h, hostAddr, act.mfn, newAddr, map.flags)) return Gntst.general_error;
    map.flags &= ~GNTMAP.host_map;
    done++;
  }
  if (devBusAddr !== 0 && (map.flags & GNTMAP.device_map) !== 0) {
    map.flags &= ~GNTMAP.device_map;
    done++;
  }
  if ((map.flags & (GNTMAP.device_map | GNTMAP.host_map)) === 0) putHandle(g, handle);
  if (done > 0) releaseGrant(d, t, map.ref, readonly, done);
  return Gntst.okay;
}

/** replace_grant_pv_mapping: the entry at `addr` must map `mfn` present and writable as
 *  the grant was; it becomes empty, or (unmap_and_replace) takes the entry stolen from
 *  `newAddr`, which is cleared (and lost if the replace then fails). */
function replacePvMapping(d: PvDomain, h: GrantHost, addr: number, mfn: number, newAddr: number, flags: number): boolean {
  const mem = d.mem;
  let nlo = 0, nhi = 0;
  if (newAddr !== 0) {
    if ((flags & GNTMAP.contains_pte) !== 0) return false;
    const from = guestL1e(d, h, newAddr);
    if (from < 0) return false;
    nlo = mem.readU32(from);
    nhi = mem.readU32(from + 4);
    mem.writeU64(from, 0, 0);
  }
  const at = pteAddress(d, h, addr, flags);
  if (at < 0) return false;
  const lo = mem.readU32(at), hi = mem.readU32(at + 4);
  const want = grantPte(mfn, flags)[0];
  if ((hi & 0xfffff) * TWO32 / PAGE + (lo >>> 12) !== mfn || ((lo ^ want) & (PTE.P | PTE.RW)) !== 0) {
    d.cpu.flushTlb();
    return false;
  }
  mem.writeU64(at, nlo, nhi);
  d.cpu.flushTlb();
  return true;
}

// ------------------------------------------------------------------ copy

/** One side of a copy, claimed (gnttab_copy_claim_buf). */
interface Claimed { t: GrantTableState; mfn: number; gref: boolean; ref: number; readonly: boolean }

/** gnttab_copy for one element. */
function copy(d: PvDomain, h: GrantHost, at: number): number {
  const b = d.copyFromGuest(at, GNTTAB_COPY.size);
  if (b === null) return -Errno.EFAULT;
  const status = copyOne(d, h, view(b));
  return putStatus(d, at + GNTTAB_COPY.status, status);
}

function copyOne(d: PvDomain, h: GrantHost, v: DataView): number {
  const len = v.getUint16(GNTTAB_COPY.len, true);
  const flags = v.getUint16(GNTTAB_COPY.flags, true);
  if (len === 0) return Gntst.okay;
  const side = (base: number, gref: boolean) => ({
    ref: u64(v, base + GNTTAB_COPY_PTR.ref), domid: v.getUint16(base + GNTTAB_COPY_PTR.domid, true),
    offset: v.getUint16(base + GNTTAB_COPY_PTR.offset, true), gref,
  });
  const src = side(GNTTAB_COPY.source, (flags & GNTCOPY_source_gref) !== 0);
  const dst = side(GNTTAB_COPY.dest, (flags & GNTCOPY_dest_gref) !== 0);
  // gnttab_copy_lock_domain: only DOMID_SELF may name a frame.
  const tables: GrantTableState[] = [];
  for (const s of [src, dst]) {
    if (s.domid !== DOMID_SELF && !s.gref) return Gntst.permission_denied;
    const t = byAnyId(h, s.domid);
    if (t === null) return Gntst.bad_domain;
    tables.push(t);
  }
  const claimed: Claimed[] = [];
  const release = (): void => {
    for (const c of claimed) if (c.gref) releaseGrant(d, c.t, c.ref, c.readonly, 1);
  };
  for (const [k, s] of [src, dst].entries()) {
    const readonly = k === 0;
    const t = tables[k];
    let mfn: number;
    if (s.gref) {
      const got = acquireGrant(h, d, t, s.ref, h.grants.guest.domid, readonly, 1, false);
      if (got.status !== Gntst.okay) { release(); return got.status; }
      mfn = got.mfn;
    } else {
      if (!owns(h, t, s.ref)) { release(); return Gntst.bad_page; } // get_paged_frame
      mfn = s.ref;
    }
    claimed.push({ t, mfn, gref: s.gref, ref: s.ref, readonly });
    if (!readonly && !writableType(h, t, mfn)) { release(); return Gntst.general_error; }
  }
  let status: number = Gntst.okay;
  if (src.offset + len > PAGE || dst.offset + len > PAGE) status = Gntst.bad_copy_arg;
  else d.mem.write(claimed[1].mfn * PAGE + dst.offset, d.mem.bytes.slice(claimed[0].mfn * PAGE + src.offset, claimed[0].mfn * PAGE + src.offset + len));
  release();
  return status;
}

// ------------------------------------------------------------------ the table itself

/** gnttab_setup_table: grow the table to nr_frames and list its frames (MFNs for PV). */
function setupTable(d: PvDomain, h: GrantHost, uop: number, count: number): number {
  if (count !== 1) return -Errno.EINVAL;
  const b = d.copyFromGuest(uop, GNTTAB_SETUP.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const nrFrames = v.getUint32(GNTTAB_SETUP.nrFrames, true);
  const list = u64(v, GNTTAB_SETUP.frameList);
  if (!addrOk(list)) return -Errno.EFAULT;
  const t = byAnyId(h, v.getUint16(GNTTAB_SETUP.dom, true));
  let status: number = Gntst.okay;
  if (t === null) status = Gntst.bad_domain;
  else if (!targetAllowed(h, d, t)) status = Gntst.permission_denied;
  else if (nrFrames > t.maxFrames) status = Gntst.general_error;
  else {
    if (nrFrames > t.nrFrames) growTable(d, t, nrFrames);
    for (let i = 0; i < nrFrames; i++) {
      const e = new Uint8Array(8);
      setU64(view(e), 0, t.frames[i]);
      if (!d.copyToGuest(list + i * 8, e)) { status = Gntst.bad_virt_addr; break; }
    }
  }
  return putStatus(d, uop + GNTTAB_SETUP.status, status);
}

/** gnttab_grow_table: the new frames are zeroed and shared with the domain. */
function growTable(d: PvDomain, t: GrantTableState, nrFrames: number): void {
  for (let i = t.nrFrames; i < nrFrames; i++) d.mem.fill(t.frames[i] * PAGE, PAGE, 0);
  t.nrFrames = nrFrames;
}

function querySize(d: PvDomain, h: GrantHost, uop: number, count: number): number {
  if (count !== 1) return -Errno.EINVAL;
  const b = d.copyFromGuest(uop, GNTTAB_QUERY_SIZE.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const t = byAnyId(h, v.getUint16(GNTTAB_QUERY_SIZE.dom, true));
  if (t === null) v.setInt16(GNTTAB_QUERY_SIZE.status, Gntst.bad_domain, true);
  else if (!targetAllowed(h, d, t)) v.setInt16(GNTTAB_QUERY_SIZE.status, Gntst.permission_denied, true);
  else {
    v.setUint32(GNTTAB_QUERY_SIZE.nrFrames, t.nrFrames, true);
    v.setUint32(GNTTAB_QUERY_SIZE.maxNrFrames, t.maxFrames, true);
    v.setInt16(GNTTAB_QUERY_SIZE.status, Gntst.okay, true);
  }
  return d.copyToGuest(uop, b) ? 0 : -Errno.EFAULT;
}

/** gnttab_set_version: the version is always 1 here; the current one is written back. */
function setVersion(d: PvDomain, uop: number): number {
  const b = d.copyFromGuest(uop, 4);
  if (b === null) return -Errno.EFAULT;
  const version = view(b).getUint32(0, true);
  let rc = 0;
  if (version !== 1 && version !== 2) rc = -Errno.EINVAL;
  else if (version === 2) return d.cpu.modelError('Xen model: grant table version 2 is not modelled');
  return d.copyToGuest(uop, Uint8Array.of(1, 0, 0, 0)) ? rc : -Errno.EFAULT;
}

function getVersion(d: PvDomain, h: GrantHost, uop: number): number {
  const b = d.copyFromGuest(uop, GNTTAB_GET_VERSION.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const t = byAnyId(h, v.getUint16(GNTTAB_GET_VERSION.dom, true));
  if (t === null) return -Errno.ESRCH;
  if (!targetAllowed(h, d, t)) return -Errno.EPERM;
  v.setUint32(GNTTAB_GET_VERSION.version, 1, true);
  return d.copyToGuest(uop, b) ? 0 : -Errno.EFAULT;
}

/** gnttab_get_status_frames: a v1 table has none, so any frame asked for is an error. */
function getStatusFrames(d: PvDomain, h: GrantHost, uop: number, count: number): number {
  if (count !== 1) return -Errno.EINVAL;
  const b = d.copyFromGuest(uop, GNTTAB_GET_STATUS_FRAMES.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  if (!addrOk(u64(v, GNTTAB_GET_STATUS_FRAMES.frameList))) return -Errno.EFAULT;
  const t = byAnyId(h, v.getUint16(GNTTAB_GET_STATUS_FRAMES.dom, true));
  let status: number = Gntst.okay;
  if (t === null) status = Gntst.bad_domain;
  else if (!targetAllowed(h, d, t)) status = Gntst.permission_denied;
  else if (v.getUint32(GNTTAB_GET_STATUS_FRAMES.nrFrames, true) > 0) status = Gntst.general_error;
  return putStatus(d, uop + GNTTAB_GET_STATUS_FRAMES.status, status);
}
