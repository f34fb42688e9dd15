// Grant tables, versions 1 and 2 (xen/common/grant_table.c and xen/arch/x86/pv/grant_table.c at
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
// Version 2 (set_version; opt_gnttab_max_version defaults to 2 and both dom0 and an xl domU
// get max_version 2, so neither sees -ENOSYS): 16-byte grant_entry_v2 (256 a frame), whose
// GTF_reading / GTF_writing live in a separate u16 per entry in status frames that Xen
// allocates (STATUS_FRAMES_MAX set aside after the backend's frames), shares with the guest
// writable and lists with get_status_frames. A switch needs every entry from
// GNTTAB_NR_RESERVED_ENTRIES on unpinned (-EBUSY), keeps the first 8 entries, clears the
// rest; back to v1 frees the status frames, -EBUSY while the guest still maps one. Sub-page
// grants (v2) bound a copy; mapping one is refused.
//
// Deliberate deviations:
// - Never preempted: every element of a batch is done in one go (no continuations).
// - Transitive grants (v2: a grant of another domain's grant, usable by copy): the checks
//   of the entry and of the domain it names are modelled; a copy that would go on to that
//   domain's grant is a model error (a domU's only peer, the backend, never grants one).
// - GNTTABOP_transfer: the checks up to steal_page are modelled (a frame that is not the
//   guest's, or still mapped or typed, is GNTST_bad_page); a page steal_page would accept
//   leaves the guest's memory, which the model keeps as one fixed range: a model error.
// - Page reference counts are not kept: a frame "owned" by a domain is one of its frames;
//   the writable-type check refuses a page Xen types as a page table or descriptor page, and
//   a reference from a mapping or a pin is found by looking through the guest's L1 tables
//   and the active entries.

import {
  DOMID_SELF, Errno, GNTCOPY_dest_gref, GNTCOPY_source_gref, GNTMAP, GNTTABOP_CMD_MASK, GNTTAB_COPY, GNTTAB_COPY_PTR,
  GNTTAB_GET_STATUS_FRAMES, GNTTAB_GET_VERSION, GNTTAB_MAP, GNTTAB_QUERY_SIZE, GNTTAB_SETUP, GNTTAB_UNMAP,
  GNTTAB_NR_RESERVED_ENTRIES, GNTTAB_SWAP_GRANT_REF, GNTTAB_TRANSFER, GNTTAB_UNMAP_AND_REPLACE, GRANT_ENTRY_V1,
  GRANT_ENTRY_V2, GTF, Gntst, GnttabOp, HYPERVISOR_VIRT_END,
} from '../../arch/xen.js';
import { GRANT_FRAMES_MAX, PAGE, PTE } from './address-space.js';
import type { PvDomain } from './domain.js';
import type { PhysicalMemory } from '../../machine/memory.js';
import type { PvMemory } from './mm.js';

const TWO32 = 4294967296;
/** grant_status_t entries per status frame (GRANT_STATUS_PER_PAGE). */
const STATUS_PER_FRAME = PAGE / 2;
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
  /** The bytes of the frame a copy may touch (a v2 sub-page grant's; else 0, PAGE). */
  start: number;
  length: number;
}

/** One domain's grant table as Xen keeps it (its entries are in the shared frames). */
export interface GrantTableState {
  domid: number;
  nrFrames: number;
  maxFrames: number;
  /** The machine frames of the table, in order (maxFrames of them, nrFrames in use). */
  frames: number[];
  active: Record<number, ActiveGrant>;
  /** gt_version: 1 or 2. */
  version: number;
  /** Version 2's status frames (machine frames, nrStatusFrames in use; none for a table
   *  that never changes version). */
  statusFrames: number[];
  nrStatusFrames: number;
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
  /** The guest's frames: ownership, references and page types (mm.ts). */
  readonly mm: PvMemory;
  /** Machine frames of the backend domain's pages (not its table). */
  readonly backendPages: [number, number];
}

/** A fresh version-1 table of `maxFrames` possible frames from `first`, one in use, and
 *  the status frames it may need from `statusFirst` (-1: it never switches version). */
export function newGrantTable(domid: number, first: number, maxFrames = GRANT_FRAMES_MAX, statusFirst = -1): GrantTableState {
  const statusFrames = statusFirst < 0 ? [] : Array.from({ length: statusFramesFor(maxFrames) }, (_, k) => statusFirst + k);
  return {
    domid, nrFrames: 1, maxFrames, frames: Array.from({ length: maxFrames }, (_, k) => first + k), active: {},
    version: 1, statusFrames, nrStatusFrames: 0,
  };
}

/** grant_to_status_frames: status frames for `grantFrames` frames of v2 entries. */
function statusFramesFor(grantFrames: number): number {
  return Math.ceil((grantFrames * (PAGE / GRANT_ENTRY_V2.size)) / STATUS_PER_FRAME);
}

function entrySize(t: GrantTableState): number {
  return t.version === 1 ? GRANT_ENTRY_V1.size : GRANT_ENTRY_V2.size;
}

/** nr_grant_entries: the entries the table's frames hold in its version. */
function nrEntries(t: GrantTableState): number {
  return t.nrFrames * (PAGE / entrySize(t));
}

/** The machine address of entry `ref` of table `t` (its header: flags, domid). */
export function entryAddress(t: GrantTableState, ref: number): number {
  const perFrame = PAGE / entrySize(t);
  return t.frames[Math.floor(ref / perFrame)] * PAGE + (ref % perFrame) * entrySize(t);
}

/** Where entry `ref` keeps GTF_reading / GTF_writing: its flags (v1) or its status word (v2). */
function statusAddress(t: GrantTableState, ref: number): number {
  if (t.version === 1) return entryAddress(t, ref) + GRANT_ENTRY_V1.flags;
  return t.statusFrames[Math.floor(ref / STATUS_PER_FRAME)] * PAGE + (ref % STATUS_PER_FRAME) * 2;
}

/** The frame entry `ref` grants (v1: u32; v2: full_page / sub_page frame, u64). */
function grantedFrame(mem: PhysicalMemory, t: GrantTableState, ref: number): number {
  const at = entryAddress(t, ref);
  if (t.version === 1) return mem.readU32(at + GRANT_ENTRY_V1.frame);
  return mem.readU32(at + GRANT_ENTRY_V2.frame + 4) * TWO32 + mem.readU32(at + GRANT_ENTRY_V2.frame);
}

/** Whether `mfn` is one of the frames Xen shares with the guest for its grant table: its
 *  grant frames and (v2) status frames in use (they are the guest's to map). */
export function isGrantFrame(g: GrantsState, mfn: number): boolean {
  const t = g.guest;
  return (mfn >= t.frames[0] && mfn < t.frames[0] + t.nrFrames)
    || (t.nrStatusFrames > 0 && mfn >= t.statusFrames[0] && mfn < t.statusFrames[0] + t.nrStatusFrames);
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
 *  its grant-table and status frames, Xen-heap pages it owns)? */
function owns(h: GrantHost, t: GrantTableState, mfn: number): boolean {
  if (mfn >= t.frames[0] && mfn < t.frames[0] + t.nrFrames) return true;
  if (t.nrStatusFrames > 0 && mfn >= t.statusFrames[0] && mfn < t.statusFrames[0] + t.nrStatusFrames) return true;
  if (t === h.grants.guest) return h.mm.owns(mfn);
  const [first, end] = h.backendPages;
  return mfn >= first && mfn < end;
}

/** get_page_type(PGT_writable_page): refused for a page typed as a page table or a
 *  descriptor page. */
function writableType(h: GrantHost, t: GrantTableState, mfn: number): boolean {
  const type = t === h.grants.guest ? h.mm.typeOf(mfn) : null;
  return type === null || type === 'writable';
}

// ------------------------------------------------------------------ active entries

/** acquire: the entry checks and the pin of map_grant_ref (steps after the domain lookup)
 *  and acquire_grant_for_copy: bounds, a pin held for another domain, _set_status_v1 /
 *  _set_status_v2 (the entry's type and domid on the first pin, GTF_readonly for a write;
 *  sets GTF_reading and GTF_writing in the flags or the status word), then get_paged_frame
 *  (the frame must be the granter's). A copy may use a v2 sub-page grant (the bytes it may
 *  touch are the active entry's start and length); a map may not. */
export function acquireGrant(h: GrantHost, d: PvDomain, t: GrantTableState, ref: number, mapper: number, readonly: boolean, pins: number, mapflag: boolean): { status: number; mfn: number; start: number; length: number } {
  const fail = (status: number) => ({ status, mfn: 0, start: 0, length: 0 });
  if (ref >= nrEntries(t)) return fail(Gntst.bad_gntref);
  const mem = d.mem;
  const at = entryAddress(t, ref);
  const act = t.active[ref];
  if (act !== undefined && act.mapper !== mapper) return fail(Gntst.general_error);
  const flags = readU16(mem, at + GRANT_ENTRY_V1.flags);
  if (act === undefined && t.version === 2 && (flags & GTF.typeMask) === GTF.transitive && !mapflag) {
    // acquire_grant_for_copy's transitive path: the entry's checks, then the domain it
    // names (not the granter itself, one that exists); its status bits are undone.
    if (readU16(mem, at + GRANT_ENTRY_V2.domid) !== mapper || (!readonly && (flags & GTF.readonly) !== 0)) return fail(Gntst.general_error);
    const transDomid = readU16(mem, at + GRANT_ENTRY_V2.transDomid);
    if (transDomid === t.domid || byId(h, transDomid) === null) return fail(Gntst.general_error);
    return d.cpu.modelError('Xen model: a copy through a transitive grant (grant_entry_v2.transitive) is not modelled');
  }
  if (act === undefined || (!readonly && act.writePins === 0)) {
    const mask = GTF.typeMask | (mapflag ? GTF.sub_page : 0);
    if (act === undefined && ((flags & mask) !== GTF.permit_access || readU16(mem, at + GRANT_ENTRY_V1.domid) !== mapper)) {
      return fail(Gntst.general_error);
    }
    if (!readonly && (flags & GTF.readonly) !== 0) return fail(Gntst.general_error);
    const st = statusAddress(t, ref);
    writeU16(mem, st, readU16(mem, st) | GTF.reading | (readonly ? 0 : GTF.writing));
  }
  if (act === undefined) {
    const frame = grantedFrame(mem, t, ref);
    if (!owns(h, t, frame)) {
      reduceStatus(d, t, ref, readonly);
      return fail(Gntst.bad_page);
    }
    const sub = t.version === 2 && (flags & GTF.sub_page) !== 0;
    t.active[ref] = {
      readPins: 0, writePins: 0, mfn: frame, mapper,
      start: sub ? readU16(mem, at + GRANT_ENTRY_V2.pageOff) : 0, length: sub ? readU16(mem, at + GRANT_ENTRY_V2.length) : PAGE,
    };
  }
  const a = t.active[ref];
  if (readonly) a.readPins += pins;
  else a.writePins += pins;
  return { status: Gntst.okay, mfn: a.mfn, start: a.start, length: a.length };
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
  const at = statusAddress(t, ref);
  let flags = readU16(d.mem, at);
  if (!readonly && (a === undefined || a.writePins === 0)) flags &= ~GTF.writing;
  if (a === undefined || a.readPins + a.writePins === 0) {
    flags &= ~GTF.reading;
    delete t.active[ref];
  }
  writeU16(d.mem, at, flags);
}

/** Whether `mfn` has a reference beyond its allocation: a grant pinned on it, or a use
 *  the memory model counted (a mapping in one of the guest's L1 tables). */
function referenced(h: GrantHost, mfn: number): boolean {
  for (const t of [h.grants.guest, h.grants.backend]) {
    if (t !== null && Object.values(t.active).some((a) => a.mfn === mfn)) return true;
  }
  return h.mm.refs[mfn] > 1;
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
    case GnttabOp.set_version: return setVersion(d, h, uop);
    case GnttabOp.get_status_frames: return getStatusFrames(d, h, uop, count);
    case GnttabOp.get_version: return getVersion(d, h, uop);
    case GnttabOp.transfer: return array(GNTTAB_TRANSFER.size, (at) => transfer(d, h, at));
    case GnttabOp.swap_grant_ref: return array(GNTTAB_SWAP_GRANT_REF.size, (at) => swapGrantRef(d, h, at));
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
  // The mapping's references on a page of the guest's own (get_page and, writable, the
  // writable type): what put_page_from_l1e drops if the guest overwrites the entry.
  if ((flags & GNTMAP.host_map) !== 0 && t === g.guest && h.mm.getPage(got.mfn) && !readonly) h.mm.getType(got.mfn, 'writable');
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
  return h.mm.owns(mfn) && h.mm.typeOf(mfn) === 'l1';
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
  if (map.ref >= nrEntries(t)) return Gntst.bad_handle;
  const act = t.active[map.ref];
  const readonly = (map.flags & GNTMAP.readonly) !== 0;
  if (devBusAddr !== 0 && (map.flags & GNTMAP.device_map) !== 0 && devBusAddr !== act.mfn * PAGE) return Gntst.bad_dev_addr;
  let done = 0;
  if (hostAddr !== 0 && (map.flags & GNTMAP.host_map) !== 0) {
    if (!replacePvMapping(d, h, hostAddr, act.mfn, newAddr, map.flags)) return Gntst.general_error;
    if (t === g.guest && h.mm.owns(act.mfn)) {
      if (!readonly) h.mm.putType(act.mfn);
      h.mm.putPage(act.mfn);
    }
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
interface Claimed { t: GrantTableState; mfn: number; gref: boolean; ref: number; readonly: boolean; start: number; length: number }

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
    let c: Claimed;
    if (s.gref) {
      const got = acquireGrant(h, d, t, s.ref, h.grants.guest.domid, readonly, 1, false);
      if (got.status !== Gntst.okay) { release(); return got.status; }
      c = { t, mfn: got.mfn, gref: true, ref: s.ref, readonly, start: got.start, length: got.length };
    } else {
      if (!owns(h, t, s.ref)) { release(); return Gntst.bad_page; } // get_paged_frame
      c = { t, mfn: s.ref, gref: false, ref: s.ref, readonly, start: 0, length: PAGE };
    }
    claimed.push(c);
    const mfn = c.mfn;
    if (!readonly && !writableType(h, t, mfn)) { release(); return Gntst.general_error; }
  }
  // gnttab_copy_buf: within the page, then within what each side grants.
  const inside = (s: typeof src, c: Claimed) => s.offset >= c.start && s.offset + len <= c.start + c.length;
  let status: number = Gntst.okay;
  if (src.offset + len > PAGE || dst.offset + len > PAGE) status = Gntst.bad_copy_arg;
  else if (!inside(src, claimed[0]) || !inside(dst, claimed[1])) status = Gntst.general_error;
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
    // (Xen also grows a v2 table whose status frames fall short; they never do here.)
    if (nrFrames > t.nrFrames) growTable(d, h, t, nrFrames);
    for (let i = 0; i < nrFrames; i++) {
      const e = new Uint8Array(8);
      setU64(view(e), 0, t.frames[i]);
      if (!d.copyToGuest(list + i * 8, e)) { status = Gntst.bad_virt_addr; break; }
    }
  }
  return putStatus(d, uop + GNTTAB_SETUP.status, status);
}

/** gnttab_grow_table: the new frames (and in v2 the status frames they need) are zeroed
 *  and shared with the domain. */
function growTable(d: PvDomain, h: GrantHost, t: GrantTableState, nrFrames: number): void {
  for (let i = t.nrFrames; i < nrFrames; i++) {
    d.mem.fill(t.frames[i] * PAGE, PAGE, 0);
    if (t === h.grants.guest) h.mm.shareXenPage(t.frames[i]);
  }
  if (t.version === 2) populateStatusFrames(d, h, t, nrFrames);
  t.nrFrames = nrFrames;
}

/** gnttab_populate_status_frames: status frames for `nrFrames` grant frames, zeroed. */
function populateStatusFrames(d: PvDomain, h: GrantHost, t: GrantTableState, nrFrames: number): void {
  const want = statusFramesFor(nrFrames);
  for (let i = t.nrStatusFrames; i < want; i++) {
    d.mem.fill(t.statusFrames[i] * PAGE, PAGE, 0);
    if (t === h.grants.guest) h.mm.shareXenPage(t.statusFrames[i]);
  }
  t.nrStatusFrames = want;
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

/** gnttab_set_version (the caller's own table; max_version is 2 for every domain here). */
function setVersion(d: PvDomain, h: GrantHost, uop: number): number {
  const b = d.copyFromGuest(uop, 4);
  if (b === null) return -Errno.EFAULT;
  const t = h.grants.guest;
  const rc = switchVersion(d, h, t, view(b).getUint32(0, true));
  return d.copyToGuest(uop, Uint8Array.of(t.version, 0, 0, 0)) ? rc : -Errno.EFAULT;
}

function switchVersion(d: PvDomain, h: GrantHost, t: GrantTableState, version: number): number {
  if (version !== 1 && version !== 2) return -Errno.EINVAL;
  if (version === t.version) return 0;
  // Entries the toolstack reserved may stay pinned (xenconsoled, xenstored); no other.
  for (const ref of Object.keys(t.active)) if (+ref >= GNTTAB_NR_RESERVED_ENTRIES && +ref < nrEntries(t)) return -Errno.EBUSY;
  const mem = d.mem;
  // The reserved entries as v1 entries {flags with reading/writing, domid, frame}.
  const kept: Array<[number, number, number]> = [];
  for (let ref = 0; ref < GNTTAB_NR_RESERVED_ENTRIES; ref++) {
    const at = entryAddress(t, ref);
    const flags = readU16(mem, at + GRANT_ENTRY_V1.flags), domid = readU16(mem, at + GRANT_ENTRY_V1.domid);
    if (t.version === 1) { kept.push([flags, domid, grantedFrame(mem, t, ref)]); continue; }
    const type = flags & GTF.typeMask;
    const frame = grantedFrame(mem, t, ref);
    // A v1 entry cannot say a transitive grant or a frame of 32 bits or more.
    if (type === GTF.transitive || (type === GTF.permit_access && frame >= TWO32)) return -Errno.ERANGE;
    kept.push(type === GTF.permit_access ? [flags | readU16(mem, statusAddress(t, ref)), domid, frame] : [0, 0, 0]);
  }
  if (version === 1) {
    // gnttab_unpopulate_status_frames: a status frame the guest still maps keeps a reference.
    for (let i = 0; i < t.nrStatusFrames; i++) if (referenced(h, t.statusFrames[i])) return -Errno.EBUSY;
    for (let i = 0; i < t.nrStatusFrames; i++) h.mm.unshareXenPage(t.statusFrames[i]);
    t.nrStatusFrames = 0;
  } else populateStatusFrames(d, h, t, t.nrFrames);
  for (let i = 0; i < t.nrFrames; i++) mem.fill(t.frames[i] * PAGE, PAGE, 0);
  t.version = version;
  const both = GTF.reading | GTF.writing;
  for (const [ref, [flags, domid, frame]] of kept.entries()) {
    const at = entryAddress(t, ref);
    if (version === 1) {
      mem.writeU32(at + GRANT_ENTRY_V1.flags, flags | (domid << 16));
      mem.writeU32(at + GRANT_ENTRY_V1.frame, frame);
    } else {
      writeU16(mem, statusAddress(t, ref), flags & both);
      mem.writeU32(at + GRANT_ENTRY_V2.flags, (flags & ~both) | (domid << 16));
      mem.writeU64(at + GRANT_ENTRY_V2.frame, frame | 0, 0);
    }
  }
  return 0;
}

function getVersion(d: PvDomain, h: GrantHost, uop: number): number {
  const b = d.copyFromGuest(uop, GNTTAB_GET_VERSION.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const t = byAnyId(h, v.getUint16(GNTTAB_GET_VERSION.dom, true));
  if (t === null) return -Errno.ESRCH;
  if (!targetAllowed(h, d, t)) return -Errno.EPERM;
  v.setUint32(GNTTAB_GET_VERSION.version, t.version, true);
  return d.copyToGuest(uop, b) ? 0 : -Errno.EFAULT;
}

/** gnttab_get_status_frames: the status frames' MFNs (a v1 table has none). */
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
  else {
    const nr = v.getUint32(GNTTAB_GET_STATUS_FRAMES.nrFrames, true);
    const list = u64(v, GNTTAB_GET_STATUS_FRAMES.frameList);
    if (nr > t.nrStatusFrames) status = Gntst.general_error;
    for (let i = 0; status === Gntst.okay && i < nr; i++) {
      const e = new Uint8Array(8);
      setU64(view(e), 0, t.statusFrames[i]);
      if (!d.copyToGuest(list + i * 8, e)) status = Gntst.bad_virt_addr;
    }
  }
  return putStatus(d, uop + GNTTAB_GET_STATUS_FRAMES.status, status);
}

// ------------------------------------------------------------------ swap, transfer

/** gnttab_swap_grant_ref for one element: swap two unpinned entries of the caller's own
 *  table (with their status words in v2). */
function swapGrantRef(d: PvDomain, h: GrantHost, at: number): number {
  const b = d.copyFromGuest(at, GNTTAB_SWAP_GRANT_REF.size);
  if (b === null) return -Errno.EFAULT;
  const v = view(b);
  const t = h.grants.guest;
  const a = v.getUint32(GNTTAB_SWAP_GRANT_REF.refA, true), c = v.getUint32(GNTTAB_SWAP_GRANT_REF.refB, true);
  let status: number = Gntst.okay;
  if (a >= nrEntries(t) || c >= nrEntries(t)) status = Gntst.bad_gntref;
  else if (a !== c) {
    if (t.active[a] !== undefined || t.active[c] !== undefined) status = Gntst.eagain;
    else {
      const mem = d.mem, size = entrySize(t);
      const ea = entryAddress(t, a), ec = entryAddress(t, c);
      const saved = mem.bytes.slice(ea, ea + size);
      mem.write(ea, mem.bytes.slice(ec, ec + size));
      mem.write(ec, saved);
      if (t.version === 2) {
        const sa = statusAddress(t, a), sc = statusAddress(t, c);
        const st = readU16(mem, sa);
        writeU16(mem, sa, readU16(mem, sc));
        writeU16(mem, sc, st);
      }
    }
  }
  return putStatus(d, at + GNTTAB_SWAP_GRANT_REF.status, status);
}

/** gnttab_transfer for one element, as far as steal_page: the frame (an MFN for PV) must
 *  be a valid frame (else GNTST_bad_page) that is the guest's own, not a Xen-heap page
 *  shared with it, with no reference but its allocation (not typed, mapped or pinned):
 *  else steal_page's -EINVAL, GNTST_bad_page. */
function transfer(d: PvDomain, h: GrantHost, at: number): number {
  const b = d.copyFromGuest(at, GNTTAB_TRANSFER.size);
  if (b === null) return -Errno.EFAULT;
  const mfn = u64(view(b), GNTTAB_TRANSFER.mfn);
  const stealable = h.mm.owns(mfn) && h.mm.typeOf(mfn) === null && !referenced(h, mfn);
  if (stealable) {
    return d.cpu.modelError('Xen model: GNTTABOP_transfer of a page steal_page accepts (the page leaving the guest) is not modelled');
  }
  return putStatus(d, at + GNTTAB_TRANSFER.status, Gntst.bad_page);
}
