// The backend domain: the one other domain a domU has, dom0 (domid 0), as far as grant
// tables see it. It is TypeScript, not a guest: it owns a grant table (one frame) and two
// pages, grants both to the domU, and serves the domU's grants as a split driver's backend
// would, through the same grant-table code the guest's hypercalls use (grant-table.ts), so
// its mappings set and clear GTF_reading / GTF_writing in the guest's entries and obey
// their GTF_readonly.
//
// The protocol, fixed and published here (a real frontend would learn refs from xenstore):
// - backend refs BACKEND_GREF_RW (page A, writable) and BACKEND_GREF_RO (page B,
//   GTF_readonly), both for the domU (domid 1); page A starts with "backend page A", page B
//   with "backend page B".
// - the domU grants the backend (domid 0) a request page at its ref FRONT_GREF_REQ and,
//   read-only, a second page at FRONT_GREF_RO. A request is a new u32 sequence number at
//   offset 0 of the request page; the backend then writes at offset 2048 the same number and
//   a NUL-terminated line: what the request page says at offset 4, the first bytes of the
//   read-only page, and the GNTST status of its attempt to map that page writable.
// - the backend works when the domU's vCPU gives up the CPU (SCHEDOP_yield; block and poll
//   once events are modelled), not at the instant of a request: runPeers.
//
// With --dom0 there is no other domain: any foreign domid gets GNTST_bad_domain, as on a
// real Xen whose dom0 runs alone.

import { GRANT_ENTRY_V1, GTF, Gntst } from '../../arch/xen.js';
import { PAGE } from './address-space.js';
import type { PvDomain } from './domain.js';
import { DOMU_ID, acquireGrant, entryAddress, newGrantTable, releaseGrant, type GrantHost } from './grant-table.js';

export const BACKEND_DOMID = 0;
export const BACKEND_GREF_RW = 8;
export const BACKEND_GREF_RO = 9;
export const FRONT_GREF_REQ = 16;
export const FRONT_GREF_RO = 17;
/** Where the response goes in the request page. */
const RESPONSE = 2048;

/** The backend's own state (captured with the machine). */
export interface BackendState {
  /** The last request served. */
  served: number;
}

/** The backend at the domU's creation: its table in frame `first`, its pages after it
 *  (`first + 1`, `first + 2`), its two grants written. Returns the table. */
export function createBackend(d: PvDomain, first: number): ReturnType<typeof newGrantTable> {
  const mem = d.mem;
  const t = newGrantTable(BACKEND_DOMID, first, 1);
  mem.fill(first * PAGE, 3 * PAGE, 0);
  const text = new TextEncoder();
  mem.write((first + 1) * PAGE, text.encode('backend page A'));
  mem.write((first + 2) * PAGE, text.encode('backend page B'));
  for (const [ref, flags, frame] of [[BACKEND_GREF_RW, GTF.permit_access, first + 1], [BACKEND_GREF_RO, GTF.permit_access | GTF.readonly, first + 2]]) {
    const at = entryAddress(t, ref);
    mem.writeU32(at + GRANT_ENTRY_V1.flags, flags | (DOMU_ID << 16));
    mem.writeU32(at + GRANT_ENTRY_V1.frame, frame);
  }
  return t;
}

/** The backend's deferred work: serve a new request, if the domU granted its request page.
 *  True if it did something. */
export function runBackend(d: PvDomain, h: GrantHost, s: BackendState): boolean {
  const guest = h.grants.guest;
  const mem = d.mem;
  const req = acquireGrant(h, d, guest, FRONT_GREF_REQ, BACKEND_DOMID, false, 1, true);
  if (req.status !== Gntst.okay) return false;
  const page = req.mfn * PAGE;
  const seq = mem.readU32(page);
  if (seq === s.served) {
    releaseGrant(d, guest, FRONT_GREF_REQ, false, 1);
    return false;
  }
  const asWritable = acquireGrant(h, d, guest, FRONT_GREF_RO, BACKEND_DOMID, false, 1, true);
  if (asWritable.status === Gntst.okay) releaseGrant(d, guest, FRONT_GREF_RO, false, 1);
  const ro = acquireGrant(h, d, guest, FRONT_GREF_RO, BACKEND_DOMID, true, 1, true);
  let roText = `status ${ro.status}`;
  if (ro.status === Gntst.okay) {
    roText = `"${cString(mem.bytes, ro.mfn * PAGE, 32)}"`;
    releaseGrant(d, guest, FRONT_GREF_RO, true, 1);
  }
  const line = `request ${seq}: "${cString(mem.bytes, page + 4, 64)}", ref ${FRONT_GREF_RO} reads ${roText}, maps writable: ${asWritable.status}`;
  mem.writeU32(page + RESPONSE, seq);
  mem.write(page + RESPONSE + 4, Uint8Array.from([...new TextEncoder().encode(line), 0]));
  releaseGrant(d, guest, FRONT_GREF_REQ, false, 1);
  s.served = seq;
  return true;
}

/** A NUL-terminated string of at most `max` bytes at `at`. */
function cString(bytes: Uint8Array, at: number, max: number): string {
  let end = at;
  while (end < at + max && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(at, end));
}
