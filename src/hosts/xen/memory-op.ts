// memory_op for a 64-bit PV domain (xen/common/memory.c do_memory_op, x86/mm.c
// arch_memory_op, x86_64/mm.c subarch_memory_op at c447b7308b): the reservation queries,
// the reservation changes (increase, decrease, populate_physmap), the exchange of frames
// for others (memory_exchange), the M2P's location and frames, the pseudo-physical memory
// map, and the refusals a PV guest meets.
//
// The domain's reservation is PvMemory's (mm.ts): tot_pages, max_pages and the frames it
// owns. A PV domain has no Xen-side P2M; the M2P (read-only to the guest at
// MACH2PHYS_VIRT_START) is written by populate_physmap and by MMU_MACHPHYS_UPDATE.
//
// Deliberate deviations:
// - max_pages: a domU's is its memory plus libxl's LIBXL_MAXMEM_CONSTANT (1 MiB, 256
//   pages); dom0's is its own allocation (Xen gives dom0 all free memory; the model has
//   none beyond it). XENMEM_maximum_ram_page is the model machine's frame count.
// - memory_map for a domU is libxl's single RAM entry of the domain's memory (maxmem =
//   memory); machine_memory_map for dom0 is a model error (the host e820 is QEMU's).
// - NUMA node requests are accepted and ignored (one node).
// - XENMEM_exchange is never preempted (hypercall_preempt_check is never true), so it
//   never continues itself.

import {
  DOMID_SELF, Errno, MACH2PHYS_VIRT_END, MACH2PHYS_VIRT_START, SHARED_INFO_MAX_PFN, XENMEMF_exact_node_request,
  XENMEMF_populate_on_demand, XENMEMF_vnode, Xenmem,
} from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { PAGE } from './address-space.js';
import { addrOk, type MmCallHost } from './mm.js';

/** libxl's LIBXL_MAXMEM_CONSTANT in pages. */
export const MAXMEM_SLACK_PAGES = 256;
/** max_order: CONFIG_DOMU_MAX_ORDER 9; dom0 is also the control domain (CTLDOM 18). */
const maxOrder = (d: PvDomain): number => (d.state.dom0 ? 18 : 9);
/** MACH2PHYS_NR_ENTRIES - 1 (256 GiB of 8-byte entries). */
const M2P_MAX_MFN = (1n << 35n) - 1n;

const U64 = (1n << 64n) - 1n;
/** A linear address held as an unsigned 64-bit BigInt, as the signed number the rest uses. */
const lin = (v: bigint): number => Number(BigInt.asIntN(64, v));
/** guest_handle_subrange_okay(hnd, first, last): array_access_ok(hnd + first * 8,
 *  last - first + 1): a count below ~0UL / 8, and only the start checked (__addr_ok). */
const subrangeOk = (hnd: bigint, first: bigint, last: bigint): boolean =>
  ((last - first + 1n) & U64) < U64 / 8n && addrOk(lin((hnd + first * 8n) & U64));

/** do_memory_op(cmd, arg); cmd's bits 6.. are a continuation's start extent. */
export function memoryOp(d: PvDomain, host: MmCallHost, cmd: bigint, arg: number): number {
  const op = Number(cmd & 63n);
  const start = cmd >> 6n;
  switch (op) {
    case Xenmem.increaseReservation: case Xenmem.decreaseReservation: case Xenmem.populatePhysmap:
      return reservation(d, host, op, start, arg);
    case Xenmem.exchange: return start !== 0n ? -Errno.EINVAL : exchange(d, host, arg);
    case Xenmem.maximumRamPage: return start !== 0n ? -Errno.EINVAL : host.mm.owner.length;
    case Xenmem.currentReservation: case Xenmem.maximumReservation: case Xenmem.maximumGpfn: {
      if (start !== 0n) return -Errno.EINVAL;
      const b = d.copyFromGuest(arg, 2);
      if (b === null) return -Errno.EFAULT;
      const rc = domainLookup(d, b[0] | (b[1] << 8));
      if (rc !== 0) return rc;
      if (op === Xenmem.currentReservation) return host.mm.totPages;
      if (op === Xenmem.maximumReservation) return host.mm.maxPages;
      // domain_get_maximum_gpfn: (shared_info.arch.max_pfn ?: 1) - 1, as the guest left it.
      const at = host.frames.sharedInfo * PAGE + SHARED_INFO_MAX_PFN;
      const max = d.mem.readU32(at) + d.mem.readU32(at + 4) * 4294967296;
      return (max === 0 ? 1 : max) - 1;
    }
    case Xenmem.addToPhysmap: {
      if (start > 0xffffn) return -Errno.EDOM;
      const b = d.copyFromGuest(arg, 24);
      if (b === null) return -Errno.EFAULT;
      const v = new DataView(b.buffer);
      if (v.getUint32(4, true) === 4) return -Errno.ENOSYS; // XENMAPSPACE_gmfn_foreign
      const rc = domainLookup(d, v.getUint16(0, true));
      return rc !== 0 ? rc : -Errno.EACCES; // xatp_permission_check: not translated
    }
    case Xenmem.removeFromPhysmap: {
      if (start !== 0n) return -Errno.EINVAL;
      const b = d.copyFromGuest(arg, 16);
      if (b === null) return -Errno.EFAULT;
      const rc = domainLookup(d, b[0] | (b[1] << 8));
      return rc !== 0 ? rc : -Errno.EACCES;
    }
    default: return archMemoryOp(d, host, cmd, arg);
  }
}

/** rcu_lock_domain_by_any_id plus XSM_TARGET: the caller (DOMID_SELF or its id), dom0
 *  for a domU -EPERM, anything else -ESRCH. */
function domainLookup(d: PvDomain, domid: number): number {
  const own = d.state.dom0 ? 0 : 1;
  if (domid === DOMID_SELF || domid === own) return 0;
  if (domid === 0) return -Errno.EPERM;
  if (domid === 1 && d.state.dom0) return d.cpu.modelError('Xen model: dom0 naming another domain in memory_op is not modelled');
  return -Errno.ESRCH;
}

/** propagate_node: false for a node past MAX_NUMNODES (64) from dom0, an exact node from
 *  a domU; a node given is otherwise ignored (one node). */
function propagateNode(d: PvDomain, memFlags: number): boolean {
  const node = ((memFlags >>> 8) - 1) & 0xff;
  return node === 0xff || (d.state.dom0 ? node < 64 : (memFlags & XENMEMF_exact_node_request) === 0);
}

/** The struct xen_memory_reservation ops: the number of extents done, never an errno. */
function reservation(d: PvDomain, host: MmCallHost, op: number, start: bigint, arg: number): number {
  const mm = host.mm;
  const fail = Number(start);
  const b = d.copyFromGuest(arg, 32);
  if (b === null) return fail;
  const v = new DataView(b.buffer);
  const list = v.getBigUint64(0, true);
  const nr = v.getBigUint64(8, true);
  const order = v.getUint32(16, true);
  const memFlags = v.getUint32(20, true);
  const domid = v.getUint16(24, true);
  if (nr > 0xffffffffn >> 6n || start >= nr) return fail;
  if (domainLookup(d, domid) !== 0) return fail;
  // construct_memop_from_reservation: address_bits below the host's need more than a page.
  const bits = memFlags & 0xff;
  const hostBits = Math.ceil(Math.log2(mm.owner.length)) + 12;
  const limit = bits !== 0 && bits < hostBits ? (bits <= 12 ? -1 : 2 ** (bits - 12)) : Infinity;
  if (limit < 0) return fail;
  if ((memFlags & XENMEMF_vnode) !== 0) return d.cpu.modelError('Xen model: XENMEMF_vnode is not modelled');
  if (!propagateNode(d, memFlags)) return fail;
  if ((memFlags & XENMEMF_populate_on_demand) !== 0 && op === Xenmem.populatePhysmap) return fail; // PoD for itself: nothing done
  const nul = list === 0n;
  if (!(op === Xenmem.increaseReservation && nul) && !subrangeOk(list, start, nr - 1n)) return fail;
  if (order > maxOrder(d)) return fail;
  if (order !== 0) return d.cpu.modelError(`Xen model: memory_op extents of order ${order} are not modelled`);
  let i = start;
  const m2p = host.frames.m2p * PAGE;
  for (; i < nr; i++) {
    const at = lin((list + i * 8n) & U64);
    if (op === Xenmem.increaseReservation) {
      const mfn = mm.allocate(limit);
      if (mfn === null) break;
      if (!nul && !d.copyToGuest(at, u64(BigInt(mfn)))) break;
    } else if (op === Xenmem.populatePhysmap) {
      const g = d.copyFromGuest(at, 8);
      if (g === null) break;
      const mfn = mm.allocate(limit);
      if (mfn === null) break;
      d.mem.write(m2p + mfn * 8, g); // guest_physmap_add_page: M2P[mfn] = gpfn
      if (!d.copyToGuest(at, u64(BigInt(mfn)))) break;
    } else {
      const g = d.copyFromGuest(at, 8);
      if (g === null) break;
      const gmfn = new DataView(g.buffer).getBigUint64(0, true);
      // guest_remove_page: gmfn is an MFN for PV. Not RAM -EINVAL, not the domain's -ENXIO.
      if (gmfn >= BigInt(mm.owner.length) || !mm.owns(Number(gmfn))) break;
      if (Number(gmfn) === host.frames.sharedInfo) return d.cpu.modelError('Xen model: decrease_reservation of shared_info is not modelled');
      mm.releaseAllocation(Number(gmfn));
    }
  }
  return Number(i);
}

function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v & U64, true);
  return b;
}

/** memory_exchange (common/memory.c:663 at c447b7308b) for a PV domain: the in extents'
 *  frames (MFNs: get_gfn_unshare is the identity without translation) are taken from the
 *  domain and freed, fresh frames given to it in their place, in chunks of the larger
 *  order; each out extent's slot holds the gpfn the new frames get in the M2P and receives
 *  their MFN. tot_pages does not change (MEMF_no_refcount both ways). */
function exchange(d: PvDomain, host: MmCallHost, arg: number): number {
  const mm = host.mm;
  const b = d.copyFromGuest(arg, 72);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  const inStart = v.getBigUint64(0, true), inNr = v.getBigUint64(8, true), inOrder = v.getUint32(16, true), inDom = v.getUint16(24, true);
  const outStart = v.getBigUint64(32, true), outNr = v.getBigUint64(40, true), outOrder = v.getUint32(48, true);
  const outFlags = v.getUint32(52, true), outDom = v.getUint16(56, true);
  const done = v.getBigUint64(64, true);
  // fail_early (954): nr_exchanged written back, a fault there -EFAULT.
  const failEarly = (rc: number, exchanged: bigint): number => (d.copyToGuest(arg + 64, u64(exchanged)) ? rc : -Errno.EFAULT);
  if (Math.max(inOrder, outOrder) > maxOrder(d)) return failEarly(-Errno.EPERM, done); // 680
  if (done > inNr || inDom !== outDom || (U64 >> BigInt(inOrder)) < inNr || (U64 >> BigInt(outOrder)) < outNr
    || ((inNr << BigInt(inOrder)) & U64) !== ((outNr << BigInt(outOrder)) & U64)) return failEarly(-Errno.EINVAL, done); // 687
  if (done === inNr) return 0; // 702
  if (!subrangeOk(inStart, done, inNr - 1n)) return failEarly(-Errno.EFAULT, done); // 705
  // 712: a chunk is one extent of the larger order, 2^inChunk in extents or 2^outChunk out.
  const inChunk = inOrder <= outOrder ? BigInt(outOrder - inOrder) : 0n;
  const outChunk = inOrder > outOrder ? BigInt(inOrder - outOrder) : 0n;
  if (!subrangeOk(outStart, (done >> inChunk) << outChunk, outNr - 1n)) return failEarly(-Errno.EFAULT, done);
  if (!propagateNode(d, outFlags)) return failEarly(-Errno.EINVAL, done); // 739
  const rcDomain = domainLookup(d, inDom); // 745, 752: rcu_lock_domain_by_any_id, XSM_TARGET
  if (rcDomain !== 0) return failEarly(rcDomain, done);
  // 759: MEMF_bits(address_bits ?: 76), clamped only for a 32-bit PV domain. In
  // alloc_domheap_pages (page_alloc.c:2697) that is zone bits - PAGE_SHIFT (at least 1),
  // and zone z holds the frames with flsl(mfn) == z: frames below 2^zone.
  const bits = outFlags & 0xff;
  const limit = bits === 0 ? Infinity : 2 ** Math.max(bits - 12, 1);
  const inFrames = 2 ** inOrder, outFrames = 2 ** outOrder;
  const m2p = host.frames.m2p * PAGE;
  let i = done >> inChunk;
  for (; i < inNr >> inChunk; i++) {
    // 768: hypercall_preempt_check() between chunks; the model never preempts, so there is
    // no continuation.
    const stolen: number[] = [];
    const fresh: number[] = [];
    let rc = 0;
    // 779: steal a chunk's worth of in extents. A frame past RAM (!mfn_valid) -EINVAL; one
    // steal_page refuses (not the domain's, still referenced, Xen's) its -EINVAL.
    steal: for (let j = 0n; j < 1n << inChunk; j++) {
      const g = d.copyFromGuest(lin((inStart + ((i << inChunk) + j) * 8n) & U64), 8);
      if (g === null) { rc = -Errno.EFAULT; break; }
      const gmfn = new DataView(g.buffer).getBigUint64(0, true);
      for (let k = 0; k < inFrames; k++) {
        const mfn = (gmfn + BigInt(k)) & U64;
        if (mfn >= BigInt(mm.owner.length) || !mm.steal(Number(mfn))) { rc = -Errno.EINVAL; break steal; }
        stolen.push(Number(mfn));
      }
    }
    // 832: a chunk's worth of anonymous out extents from the free heap; none -ENOMEM.
    for (let j = 0n; rc === 0 && j < 1n << outChunk; j++) {
      const mfn = mm.takeFree(outOrder, limit);
      if (mfn === null) rc = -Errno.ENOMEM;
      else fresh.push(mfn);
    }
    if (rc !== 0) {
      // fail (933): the stolen frames are the domain's again (assign_pages, MEMF_no_refcount),
      // the out frames go back to the heap (948); nr_exchanged counts the chunks done (952).
      for (const mfn of stolen) mm.give(mfn);
      for (const mfn of fresh) for (let f = 0; f < outFrames; f++) mm.freeFrame(mfn + f);
      return failEarly(rc, i << inChunk);
    }
    // 846: beyond this point the chunk happens. The in frames are freed (guest_physmap_remove_page
    // does nothing for PV; free_domheap_page invalidates their M2P entries).
    for (const mfn of stolen) mm.freeFrame(mfn);
    // 868: each out extent is the domain's (assign_page, MEMF_no_refcount); its gpfn is read
    // from the out slot (unreadable: -EFAULT, and the extent stays the domain's with its M2P
    // untouched), the M2P set (guest_physmap_add_page: set_gpfn_from_mfn), and its MFN
    // written to the slot (not translated; a fault -EFAULT).
    fresh.forEach((mfn, j) => {
      for (let f = 0; f < outFrames; f++) mm.give(mfn + f);
      const at = lin((outStart + ((i << outChunk) + BigInt(j)) * 8n) & U64);
      const g = d.copyFromGuest(at, 8);
      if (g === null) { rc = -Errno.EFAULT; return; }
      const gpfn = new DataView(g.buffer).getBigUint64(0, true);
      for (let f = 0; f < outFrames; f++) d.mem.write(m2p + (mfn + f) * 8, u64(gpfn + BigInt(f)));
      if (!d.copyToGuest(at, u64(BigInt(mfn)))) rc = -Errno.EFAULT;
    });
    // 920: a fault goes to fail, which has nothing left to undo: the chunk was exchanged
    // but nr_exchanged does not count it.
    if (rc !== 0) return failEarly(rc, i << inChunk);
  }
  // 923: all done.
  return d.copyToGuest(arg + 64, u64(inNr)) ? 0 : -Errno.EFAULT;
}

/** arch_memory_op / subarch_memory_op: these switch on the whole cmd. */
function archMemoryOp(d: PvDomain, host: MmCallHost, cmd: bigint, arg: number): number {
  if (cmd > 63n) return -Errno.ENOSYS;
  switch (Number(cmd)) {
    case Xenmem.machphysMapping: {
      const b = new Uint8Array(24);
      const v = new DataView(b.buffer);
      v.setBigUint64(0, BigInt.asUintN(64, BigInt(MACH2PHYS_VIRT_START)), true);
      v.setBigUint64(8, BigInt.asUintN(64, BigInt(MACH2PHYS_VIRT_END)), true);
      // The hardware domain without memory hotplug sees max_page - 1.
      v.setBigUint64(16, d.state.dom0 ? BigInt(host.mm.owner.length - 1) : M2P_MAX_MFN, true);
      return d.copyToGuest(arg, b) ? 0 : -Errno.EFAULT;
    }
    case Xenmem.machphysMfnList: {
      const b = d.copyFromGuest(arg, 24);
      if (b === null) return -Errno.EFAULT;
      const v = new DataView(b.buffer);
      const max = v.getUint32(0, true);
      const list = v.getBigUint64(8, true);
      // One MFN per 2 MiB of the M2P covering every machine frame.
      const chunks = Math.ceil((host.mm.owner.length * 8) / (2 << 20));
      let i = 0;
      for (; i !== max && i < chunks; i++) {
        if (!d.copyToGuest(lin((list + BigInt(i) * 8n) & U64), u64(BigInt(host.frames.m2p + i * 512)))) return -Errno.EFAULT;
      }
      v.setUint32(16, i, true);
      return d.copyToGuest(arg, b) ? 0 : -Errno.EFAULT;
    }
    case Xenmem.memoryMap: {
      const b = d.copyFromGuest(arg, 16);
      if (b === null) return -Errno.EFAULT;
      if (d.state.dom0) return -Errno.ENOSYS; // nothing set dom0's e820
      const v = new DataView(b.buffer);
      const n = Math.min(v.getUint32(0, true), 1);
      if (n === 1) {
        const e = new Uint8Array(20);
        const ev = new DataView(e.buffer);
        ev.setBigUint64(8, BigInt((host.mm.maxPages - MAXMEM_SLACK_PAGES) * PAGE), true);
        ev.setUint32(16, 1, true); // E820_RAM
        if (!d.copyToGuest(lin(v.getBigUint64(8, true)), e)) return -Errno.EFAULT;
      }
      v.setUint32(0, n, true);
      return d.copyToGuest(arg, b) ? 0 : -Errno.EFAULT;
    }
    case Xenmem.machineMemoryMap:
      if (!d.state.dom0) return -Errno.EPERM; // xsm_machine_memory_map(XSM_PRIV) first
      return d.cpu.modelError('Xen model: XENMEM_machine_memory_map (the host e820) is not modelled');
    case Xenmem.setMemoryMap: case Xenmem.addToPhysmapBatch: case 8: case 16: case 17: case 18: case 19: case 20:
    case 21: case 22: case 24: case 25: case 26: case 27: case 28: case 29:
      return d.cpu.modelError(`Xen model: XENMEM ${cmd} is not modelled`);
    default: return -Errno.ENOSYS;
  }
}
