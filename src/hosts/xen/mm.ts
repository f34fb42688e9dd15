// The PV memory model: page ownership, general and type reference counts, page-table
// validation, and the hypercalls that change page tables (xen/arch/x86/mm.c and pv/mm.h at
// c447b7308b: get_page_from_l[1-4]e, promote_l[1-4]_table, _get_page_type/_put_page_type,
// mod_l[1-4]_entry, do_mmu_update, do_mmuext_op, __do_update_va_mapping, new_guest_cr3).
//
// A frame the domain owns has a general reference count (count_info: one for the
// allocation, PGC_allocated, one per mapping or use) and at most one type at a time
// (type_info): a page-table level, a descriptor page (seg_desc) or a writable page, with a
// count of the uses that need that type. A page gets a page-table type only while nothing
// maps it writably, and is validated when its type count goes from 0 to 1: every present
// entry must reference a frame of the domain and take a reference on it (an L1 entry a
// general one, plus a writable type reference if it maps with RW; an L2..L4 entry the next
// level's type, which validates that table in turn). When the count drops back to 0 the
// table is devalidated and those references are released. Xen's L4 slots 256..271 are not
// the guest's: they are skipped by validation and rewritten with Xen's entries. The LDT a
// guest sets (MMUEXT_SET_LDT) is mapped page by page into Xen's LDT area on the first #PF
// there (pv/mm.c pv_map_ldt_shadow_page), each page then a descriptor page.
//
// Deliberate deviations:
// - Nothing is preempted (no continuations, no PGT_partial): a hierarchy is validated or
//   devalidated in one go. A reference cycle back into a table still being validated,
//   where Xen would spin, is a model error.
// - L1TF (pv_l1tf_check_*): not-present entries are never inspected (the model's CPUs are
//   not L1TF-vulnerable, as on AMD).
// - A table's type is dropped (its map entry removed) when the type count reaches 0; Xen
//   keeps the type bits of an unused page, which only matters for the next validation.
// - Xen's free heap is the machine's frames after the domain's and those freed since
//   (host.ts); an allocation takes the most recently freed frame that fits, where Xen's
//   buddy allocator takes from the highest zone first, and always comes zeroed (Xen
//   scrubs only what a dying domain or nobody freed).

import { DOMID_SELF, Errno, HYPERVISOR_VIRT_END, LDT_SELECTOR, MMUEXT, MMU_UPDATE_PREEMPTED, MmuCmd, Uvmf } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { LINEAR_PT_SLOT, PAGE, PTE, PTE_NX_HI, XEN_VA, entry, xenL1e, type XenFrames } from './address-space.js';
import { checkDescriptor } from './hypercalls.js';
import { canonical, joined } from './regs.js';

const TWO32 = 4294967296;

export type PgType = 'l1' | 'l2' | 'l3' | 'l4' | 'seg_desc' | 'writable';
const LEVELS = ['l1', 'l2', 'l3', 'l4'] as const;

/** A frame's type_info while its type count is above 0. */
export interface PageType {
  type: PgType;
  count: number;
  validated: boolean;
  pinned: boolean;
}

/** A frame's owner: Xen (or nobody), the domain, or the domain with its allocation
 *  reference dropped (decrease_reservation of a page still in use). */
const enum Owner { xen = 0, allocated = 1, released = 2 }

/** Flags as Xen's get_pte_flags sees an entry: bits 0..11, then bits 52..63 as 12..23. */
const flagsOf = (lo: number, hi: number): number => (lo & 0xfff) | ((hi >>> 20) << 12);
const mfnOf = (lo: number, hi: number): number => (hi & 0xfffff) * 1048576 + (lo >>> 12);
/** base_disallow_mask: everything but P, RW, US, A, D, AVAIL, AVAIL_HIGH and NX: PWT, PCD,
 *  PSE (PAT in an L1) and G. */
const BASE_DISALLOW = 0x198;
const CACHE_ATTRS = 0x98;
/** _PAGE_GUEST_KERNEL: bit 52 (bit 20 of the high dword). */
const GUEST_KERNEL_HI = 1 << 20;
const FIRST_XEN_SLOT = 256, LAST_XEN_SLOT = 271, RO_MPT_SLOT = 256;
/** XEN_MSR_PAT's memory types by PAT index (PAT, PCD, PWT): WB, WT, UC-, UC, WC, WP, UC, UC. */
/** FASTPATH_FLAG_WHITELIST's low flags: US, A, D, G, AVAIL (NX and AVAIL_HIGH too). */
const FASTPATH_WHITELIST = 0x4 | 0x20 | 0x40 | 0x100 | 0xe00;
const PAT_CACHEABLE = [true, true, false, false, false, true, false, false];


/** The part of the host the memory model reaches. */
export interface MmHost {
  readonly frames: XenFrames;
}

export interface MemoryState {
  types: Array<[number, PageType]>;
  linear: Array<[number, number]>;
  refs: Int32Array;
  owner: Uint8Array;
  free: number[];
  totPages: number;
  maxPages: number;
}

/** Xen's bookkeeping of the domain's frames. */
export class PvMemory {
  readonly types = new Map<number, PageType>();
  /** count_info by machine frame. */
  refs: Int32Array;
  owner: Uint8Array;
  /** linear_pt_count: > 0 a table's linear entries, < 0 its uses as a linear table. */
  linear = new Map<number, number>();
  /** Xen's free heap, most recently freed last. */
  free: number[] = [];
  totPages = 0;
  maxPages = 0;

  constructor(private readonly d: PvDomain, private readonly xen: XenFrames, machineFrames: number) {
    this.refs = new Int32Array(machineFrames);
    this.owner = new Uint8Array(machineFrames);
  }

  /** The builder's allocation: frames [first, end) are the domain's; shared_info is
   *  shared with it writable (share_xen_page_with_guest: owned, PGT_writable_page). */
  assign(first: number, end: number, maxPages: number): void {
    for (let f = first; f < end; f++) { this.owner[f] = Owner.allocated; this.refs[f] = 1; }
    this.totPages = end - first;
    this.maxPages = maxPages;
    this.shareXenPage(this.xen.sharedInfo);
  }

  /** share_xen_page_with_guest(SHARE_rw): a Xen-heap page the domain may map writable
   *  (shared_info, grant-table and status frames): owned, one reference for the allocation
   *  (PGC_allocated), a validated writable type with count 1; not in tot_pages. */
  shareXenPage(mfn: number): void {
    this.owner[mfn] = Owner.allocated;
    this.refs[mfn] = 1;
    this.types.set(mfn, { type: 'writable', count: 1, validated: true, pinned: false });
  }

  /** Take a shared Xen-heap page back (gnttab_unpopulate_status_frames): false, and nothing
   *  changes, while the domain holds a reference beyond the sharing (a mapping). */
  unshareXenPage(mfn: number): boolean {
    if (this.refs[mfn] !== 1 || this.types.get(mfn)?.count !== 1) return false;
    this.owner[mfn] = Owner.xen;
    this.refs[mfn] = 0;
    this.types.delete(mfn);
    return true;
  }

  owns(mfn: number): boolean {
    return mfn >= 0 && mfn < this.owner.length && this.owner[mfn] !== Owner.xen;
  }

  typeOf(mfn: number): PgType | null {
    return this.types.get(mfn)?.type ?? null;
  }

  // ------------------------------------------------------------ general references

  /** get_page: a reference on a frame the domain owns. */
  getPage(mfn: number): boolean {
    if (!this.owns(mfn)) return false;
    this.refs[mfn]++;
    return true;
  }

  /** put_page: the last reference frees the frame (free_domheap_page). */
  putPage(mfn: number): void {
    if (--this.refs[mfn] > 0) return;
    if (mfn === this.xen.sharedInfo) return this.d.cpu.modelError('Xen model: the last reference to shared_info was dropped');
    this.totPages--;
    this.freeFrame(mfn);
  }

  /** free_heap_pages / mark_page_free (page_alloc.c): the frame is nobody's, back in the
   *  free heap, and its M2P entry INVALID_M2P_ENTRY ("not a guest frame any more"). */
  freeFrame(mfn: number): void {
    this.owner[mfn] = Owner.xen;
    this.refs[mfn] = 0;
    this.free.push(mfn);
    this.d.mem.writeU64(this.xen.m2p * PAGE + mfn * 8, -1, -1);
  }

  /** put_page_alloc_ref (guest_remove_page): the allocation's own reference, once. */
  releaseAllocation(mfn: number): void {
    if (this.owner[mfn] !== Owner.allocated) return;
    this.owner[mfn] = Owner.released;
    this.putPage(mfn);
  }

  /** alloc_domheap_page for the domain, from frames below `limit` (MEMF_bits): null over
   *  max_pages or with no such free frame. The page comes zeroed. */
  allocate(limit: number): number | null {
    if (this.totPages + 1 > this.maxPages) return null;
    const mfn = this.takeFree(0, limit);
    if (mfn === null) return null;
    this.give(mfn);
    this.totPages++;
    return mfn;
  }

  /** alloc_heap_pages: 2^order free frames, aligned to their size and all below `limit`,
   *  taken out of the free heap (the most recently freed that can be part of such a block
   *  first), zeroed and owned by nobody (MEMF_no_owner); null if there is no such block. */
  takeFree(order: number, limit: number): number | null {
    const size = 2 ** order;
    const free = size === 1 ? null : new Set(this.free);
    for (let k = this.free.length - 1; k >= 0; k--) {
      const base = this.free[k] - (this.free[k] % size);
      if (base + size > limit) continue;
      if (free !== null && !Array.from({ length: size }, (_, j) => base + j).every((f) => free.has(f))) continue;
      if (free === null) this.free.splice(k, 1);
      else this.free = this.free.filter((f) => f < base || f >= base + size);
      this.d.mem.fill(base * PAGE, size * PAGE, 0);
      return base;
    }
    return null;
  }

  /** assign_pages for one frame nobody owns: the domain's, with the allocation reference
   *  (PGC_allocated | 1). tot_pages is the caller's (MEMF_no_refcount or not). */
  give(mfn: number): void {
    this.owner[mfn] = Owner.allocated;
    this.refs[mfn] = 1;
  }

  /** steal_page(d, page, MEMF_no_refcount) (x86/mm.c): true, and the frame is nobody's
   *  with no references and no type, only if the domain owns it with its allocation
   *  reference and no other (count_info exactly PGC_allocated | 1 before steal_page's own
   *  reference: not mapped, not pinned, not in use as a table, descriptor page or vCPU
   *  base pointer). A Xen-heap page shared with the domain (is_special_page) is the one
   *  page with that count and a type reference: refused too. tot_pages is unchanged. */
  steal(mfn: number): boolean {
    if (this.owner[mfn] !== Owner.allocated || this.refs[mfn] !== 1 || this.types.has(mfn)) return false;
    this.owner[mfn] = Owner.xen;
    this.refs[mfn] = 0;
    return true;
  }

  // ------------------------------------------------------------ type references

  /** _get_page_type: 0, or the error validation gave (-EINVAL for a type the page does not
   *  have now). */
  getType(mfn: number, type: PgType): number {
    const t = this.types.get(mfn);
    if (t !== undefined) {
      if (t.type !== type) return -Errno.EINVAL;
      if (!t.validated) return this.d.cpu.modelError('Xen model: a page-table reference back into a table being validated (Xen spins)');
      t.count++;
      return 0;
    }
    const fresh: PageType = { type, count: 1, validated: false, pinned: false };
    this.types.set(mfn, fresh);
    const rc = this.validate(mfn, type);
    if (rc !== 0) { this.types.delete(mfn); return rc; }
    fresh.validated = true;
    return 0;
  }

  /** _put_page_type: the last reference devalidates a page table. */
  putType(mfn: number): void {
    const t = this.types.get(mfn);
    if (t === undefined) return this.d.cpu.modelError(`Xen model: a type reference dropped on mfn ${mfn} with none`);
    if (--t.count > 0) return;
    this.types.delete(mfn);
    const level = LEVELS.indexOf(t.type as never) + 1;
    if (level > 0) this.devalidate(mfn, level);
  }

  /** get_page_and_type_from_mfn: -EINVAL for a frame that is not the domain's. */
  getPageAndType(mfn: number, type: PgType): number {
    if (!this.getPage(mfn)) return -Errno.EINVAL;
    const rc = this.getType(mfn, type);
    if (rc !== 0) this.putPage(mfn);
    return rc;
  }

  putPageAndType(mfn: number): void {
    this.putType(mfn);
    this.putPage(mfn);
  }

  // ------------------------------------------------------------ validation

  /** alloc_page_type: promote_l[1-4]_table or validate_segdesc_page. */
  private validate(mfn: number, type: PgType): number {
    const mem = this.d.mem;
    const base = mfn * PAGE;
    if (type === 'writable') return 0;
    if (type === 'seg_desc') return this.d.cpu.modelError('Xen model: seg_desc validation goes through validateSegdesc');
    const level = LEVELS.indexOf(type) + 1;
    for (let i = 0; i < 512; i++) {
      if (level === 4 && !guestL4Slot(i)) continue;
      const lo = mem.readU32(base + i * 8) | 0, hi = mem.readU32(base + i * 8 + 4) | 0;
      if ((lo & PTE.P) === 0) continue;
      let rc: number;
      let nlo = lo, nhi = hi;
      if (level === 1) {
        rc = this.getL1e(lo, hi);
        if (rc > 0) { nlo ^= rc; rc = 0; }
        [nlo, nhi] = adjustL1e(nlo, nhi);
      } else {
        rc = this.getUpper(level, lo, hi, mfn);
        nlo |= level === 4 ? PTE.US | PTE.A : PTE.US;
      }
      if (rc < 0) {
        for (let k = i - 1; k >= 0; k--) {
          if (level === 4 && !guestL4Slot(k)) continue;
          this.putEntry(level, mem.readU32(base + k * 8) | 0, mem.readU32(base + k * 8 + 4) | 0, mfn);
        }
        return rc;
      }
      mem.writeU64(base + i * 8, nlo, nhi);
    }
    if (level === 4) this.initXenL4Slots(mfn);
    return 0;
  }

  /** free_page_type: every present entry's reference released. */
  private devalidate(mfn: number, level: number): void {
    const mem = this.d.mem;
    for (let i = 0; i < 512; i++) {
      if (level === 4 && !guestL4Slot(i)) continue;
      this.putEntry(level, mem.readU32(mfn * PAGE + i * 8) | 0, mem.readU32(mfn * PAGE + i * 8 + 4) | 0, mfn);
    }
  }

  /** init_xen_l4_slots: Xen's slots as in every L4, the linear slot mapping this L4; the
   *  read-only M2P's slot only with VMASST_TYPE_m2p_strict (otherwise new_guest_cr3 fills
   *  it in, fill_ro_mpt). */
  private initXenL4Slots(mfn: number): void {
    const mem = this.d.mem;
    for (let i = FIRST_XEN_SLOT; i <= LAST_XEN_SLOT; i++) mem.writeU64(mfn * PAGE + i * 8, ...(this.xen.l4Slots.get(i) ?? [0, 0]));
    mem.writeU64(mfn * PAGE + LINEAR_PT_SLOT * 8, ...entry(mfn, PTE.P | PTE.RW | PTE.A | PTE.D, PTE_NX_HI));
    if (!this.m2pStrict) this.setRoMpt(mfn, false);
  }

  /** VM_ASSIST(d, m2p_strict): type 32. */
  get m2pStrict(): boolean {
    return Math.floor(this.d.state.vmAssist / 2 ** 32) % 2 === 1;
  }

  /** fill_ro_mpt (only an empty slot) / zap_ro_mpt: the read-only M2P's L4 slot. */
  setRoMpt(mfn: number, present: boolean): void {
    const at = mfn * PAGE + RO_MPT_SLOT * 8;
    const mem = this.d.mem;
    if (!present) { mem.writeU64(at, 0, 0); return; }
    if (mem.readU32(at) === 0 && mem.readU32(at + 4) === 0) mem.writeU64(at, ...this.xen.l4Slots.get(RO_MPT_SLOT)!);
  }

  /** validate_segdesc_page: every descriptor checked and fixed up in place. */
  validateSegdesc(mfn: number, check: (desc: [number, number]) => boolean): boolean {
    const mem = this.d.mem;
    const fixed: Array<[number, number]> = [];
    for (let k = 0; k < 512; k++) {
      const desc: [number, number] = [mem.readU32(mfn * PAGE + 8 * k) | 0, mem.readU32(mfn * PAGE + 8 * k + 4) | 0];
      if (!check(desc)) return false;
      fixed.push(desc);
    }
    fixed.forEach(([lo, hi], k) => mem.writeU64(mfn * PAGE + 8 * k, lo, hi));
    return true;
  }

  /** get_page_and_type for a descriptor page (set_gdt). */
  getSegdesc(mfn: number, check: (desc: [number, number]) => boolean): number {
    if (!this.getPage(mfn)) return -Errno.EINVAL;
    const rc = this.getSegdescType(mfn, check);
    if (rc !== 0) this.putPage(mfn);
    return rc;
  }

  /** get_page_type(PGT_seg_desc_page), validating the page on first use. */
  getSegdescType(mfn: number, check: (desc: [number, number]) => boolean): number {
    const t = this.types.get(mfn);
    if (t !== undefined) {
      if (t.type !== 'seg_desc') return -Errno.EINVAL;
      t.count++;
      return 0;
    }
    if (!this.validateSegdesc(mfn, check)) return -Errno.EINVAL;
    this.types.set(mfn, { type: 'seg_desc', count: 1, validated: true, pinned: false });
    return 0;
  }

  /** l1_disallow_mask: G is the guest's in an L1; the cache attributes need cache-flush
   *  rights (dom0's I/O access). _PAGE_GNTTAB is 0 in a release build. */
  private l1Disallow(): number {
    return BASE_DISALLOW & ~PTE.G & ~(this.d.state.dom0 ? CACHE_ATTRS : 0);
  }

  /** get_page_from_l1e: 0, the flags to flip (> 0), or an error. */
  getL1e(lo: number, hi: number): number {
    const flags = flagsOf(lo, hi);
    const dom0 = this.d.state.dom0;
    if ((flags & this.l1Disallow()) !== 0) return -Errno.EINVAL;
    const mfn = mfnOf(lo, hi);
    // The low 1 MiB and frames past the end of RAM are I/O (dom_io): dom0 may map them,
    // forced uncacheable; anyone else -EPERM.
    if (mfn < 0x100 || mfn >= this.owner.length) {
      if (!dom0) return -Errno.EPERM;
      const pat = ((flags & 0x80) >> 5) | ((flags & 0x10) >> 3) | ((flags & 0x8) >> 3);
      return PAT_CACHEABLE[pat] ? (flags & CACHE_ATTRS) ^ 0x18 : 0;
    }
    if (!this.getPage(mfn)) return -Errno.EBUSY; // could_not_pin: Xen's frame or another domain's
    if ((lo & PTE.RW) !== 0 && this.getType(mfn, 'writable') !== 0) { this.putPage(mfn); return -Errno.EBUSY; }
    // A special (Xen heap) page keeps its cache attributes.
    if ((flags & CACHE_ATTRS) !== 0 && mfn === this.xen.sharedInfo) {
      if ((lo & PTE.RW) !== 0) this.putType(mfn);
      this.putPage(mfn);
      return -Errno.EACCES;
    }
    return 0;
  }

  /** put_page_from_l1e. */
  putL1e(lo: number, hi: number): void {
    if ((lo & PTE.P) === 0) return;
    const mfn = mfnOf(lo, hi);
    if (mfn < 0x100 || mfn >= this.owner.length) return;
    // Another domain's page (a grant mapping of the backend's) holds none of this domain's
    // references: the grant code accounts for it.
    if (!this.owns(mfn)) return;
    if ((lo & PTE.RW) !== 0) this.putType(mfn);
    this.putPage(mfn);
  }

  /** get_page_from_l[234]e, with the linear-page-table fallback (get_l[234]_linear_pagetable):
   *  an entry that does not reference the next level may reference a validated table of
   *  its own level, read-only; the table itself takes no reference. */
  private getUpper(level: number, lo: number, hi: number, table: number): number {
    if ((flagsOf(lo, hi) & BASE_DISALLOW) !== 0) return -Errno.EINVAL;
    const mfn = mfnOf(lo, hi);
    const rc = this.getPageAndType(mfn, LEVELS[level - 2]);
    if (rc !== -Errno.EINVAL) return rc;
    if ((lo & PTE.RW) !== 0) return rc;
    if (mfn === table) return 0;
    const t = this.types.get(mfn);
    if (!this.owns(mfn) || t === undefined || t.type !== LEVELS[level - 1] || !t.validated) return rc;
    // inc_linear_entries / inc_linear_uses: a table with linear entries is never itself
    // used linearly, and the other way round.
    if ((this.linear.get(table) ?? 0) < 0 || (this.linear.get(mfn) ?? 0) > 0) return rc;
    this.linear.set(table, (this.linear.get(table) ?? 0) + 1);
    this.linear.set(mfn, (this.linear.get(mfn) ?? 0) - 1);
    this.getPage(mfn);
    t.count++;
    return 0;
  }

  /** put_page_from_l[1-4]e (an entry referencing its own table took nothing). */
  private putEntry(level: number, lo: number, hi: number, table: number): void {
    if ((lo & PTE.P) === 0) return;
    if (level === 1) return this.putL1e(lo, hi);
    const mfn = mfnOf(lo, hi);
    if (mfn === table) return;
    if (this.types.get(mfn)?.type === LEVELS[level - 1]) { // a linear entry
      this.linear.set(table, this.linear.get(table)! - 1);
      this.linear.set(mfn, this.linear.get(mfn)! + 1);
    }
    this.putPageAndType(mfn);
  }

  // ------------------------------------------------------------ entry updates

  /** mod_l[1-4]_entry on the entry at machine address `at` of a validated table. */
  modEntry(level: number, at: number, lo: number, hi: number, preserveAd: boolean): number {
    const mem = this.d.mem;
    const table = Math.floor(at / PAGE);
    const slot = Math.floor((at % PAGE) / 8);
    if (level === 4 && !guestL4Slot(slot)) return -Errno.EINVAL;
    const olo = mem.readU32(at) | 0, ohi = mem.readU32(at + 4) | 0;
    let nlo = lo, nhi = hi;
    if ((nlo & PTE.P) !== 0) {
      if ((flagsOf(nlo, nhi) & (level === 1 ? this.l1Disallow() : BASE_DISALLOW)) !== 0) return -Errno.EINVAL;
      if (level === 1) [nlo, nhi] = adjustL1e(nlo, nhi);
      else nlo |= level === 4 ? PTE.US | PTE.A : PTE.US;
      // l1e_has_changed: the same frame, and only flags that take no reference differ.
      if (mfnOf(olo, ohi) === mfnOf(nlo, nhi) && ((nlo ^ olo) & 0xfff & ~FASTPATH_WHITELIST) === 0) {
        write(mem, at, nlo, nhi, olo, preserveAd);
        return 0;
      }
      const rc = level === 1 ? this.getL1e(nlo, nhi) : this.getUpper(level, nlo, nhi, table);
      if (rc < 0) return rc;
      if (rc > 0) nlo ^= rc;
    }
    write(mem, at, nlo, nhi, olo, preserveAd);
    this.putEntry(level, olo, ohi, table);
    return 0;
  }
}

/** is_guest_l4_slot for a 64-bit PV domain. */
const guestL4Slot = (i: number): boolean => i < FIRST_XEN_SLOT || i > LAST_XEN_SLOT;

/** adjust_guest_l1e: a kernel page (no US) gets US and _PAGE_GUEST_KERNEL, a user page G. */
function adjustL1e(lo: number, hi: number): [number, number] {
  if ((lo & PTE.US) === 0) return [lo | PTE.US, hi | GUEST_KERNEL_HI];
  if ((hi & GUEST_KERNEL_HI) === 0) return [lo | PTE.G, hi];
  return [lo, hi];
}

/** update_intpte: MMU_PT_UPDATE_PRESERVE_AD keeps the old entry's A and D. */
function write(mem: PvDomain['mem'], at: number, lo: number, hi: number, olo: number, preserveAd: boolean): void {
  mem.writeU64(at, preserveAd ? lo | (olo & (PTE.A | PTE.D)) : lo, hi);
}

// ------------------------------------------------------------------ the hypercalls

/** The host pieces the memory hypercalls use. */
export interface MmCallHost {
  readonly mm: PvMemory;
  readonly frames: XenFrames;
}

/** __addr_ok for a 64-bit PV guest (a signed linear address): the lower half, or above
 *  Xen's range. */
export const addrOk = (lin: number): boolean => (lin >= 0 && lin < 2 ** 47) || (lin < 0 && lin >= HYPERVISOR_VIRT_END);

/** get_pg_owner: DOMID_SELF is the caller; its own id is refused ("Cannot specify itself
 *  as foreign domain"); other domains are not modelled. */
function pgOwner(d: PvDomain, domid: number): number | 'self' {
  const id = domid & 0xffff;
  if (id === DOMID_SELF) return 'self';
  if (id === (d.state.dom0 ? 0 : 1)) return -Errno.ESRCH;
  if (id === 0x7ff1) return d.cpu.modelError('Xen model: DOMID_IO as the page owner is not modelled');
  return d.state.dom0 || id === 0 ? d.cpu.modelError(`Xen model: memory of domain ${id} (a foreign domain) is not modelled`) : -Errno.ESRCH;
}

function writeDone(d: PvDomain, pdone: number, done: number): void {
  if (pdone === 0) return;
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, done >>> 0, true);
  d.copyToGuest(pdone, b);
}

/** do_mmu_update. */
export function mmuUpdate(d: PvDomain, host: MmCallHost, reqs: number, count: number, pdone: number, foreigndom: number): number {
  if ((count & MMU_UPDATE_PREEMPTED) !== 0) return d.cpu.modelError('Xen model: a continued mmu_update (MMU_UPDATE_PREEMPTED) is not modelled');
  if (!addrOk(reqs)) return -Errno.EFAULT;
  const ptDom = foreigndom >>> 16;
  if (ptDom !== 0 && ptDom - 1 !== (d.state.dom0 ? 0 : 1)) {
    return ptDom - 1 === 0 || d.state.dom0 ? d.cpu.modelError('Xen model: page tables of a foreign domain are not modelled') : -Errno.ESRCH;
  }
  const owner = pgOwner(d, foreigndom);
  if (owner !== 'self') return owner;
  const mm = host.mm;
  const mem = d.mem;
  let rc = 0, i = 0, flushLinear = false;
  for (; i < count; i++) {
    const b = d.copyFromGuest(reqs + i * 16, 16);
    if (b === null) { rc = -Errno.EFAULT; break; }
    const v = new DataView(b.buffer);
    const ptrLo = v.getUint32(0, true), ptrHi = v.getUint32(4, true);
    const valLo = v.getInt32(8, true), valHi = v.getInt32(12, true);
    const cmd = ptrLo & 7;
    const mfn = (ptrHi * TWO32 + (ptrLo - cmd)) / PAGE;
    const at = Math.floor(mfn) * PAGE + ((ptrLo - cmd) & 0xfff);
    // MMU_PT_UPDATE_NO_TRANSLATE is a normal update for a domain without translation.
    if (cmd === MmuCmd.normalPtUpdate || cmd === MmuCmd.ptUpdatePreserveAd || cmd === MmuCmd.ptUpdateNoTranslate) {
      rc = -Errno.EINVAL;
      const frame = Math.floor(mfn);
      if (!mm.getPage(frame)) break;
      const t = mm.types.get(frame);
      if (t !== undefined && t.validated) {
        const level = LEVELS.indexOf(t.type as never) + 1;
        if (level > 0) {
          rc = mm.modEntry(level, at, valLo, valHi, cmd === MmuCmd.ptUpdatePreserveAd);
          if (rc === 0 && level > 1) flushLinear = true;
        } else if (t.type === 'writable') {
          mem.writeU64(at, valLo, valHi);
          rc = 0;
        }
      } else if (mm.getType(frame, 'writable') === 0) {
        mem.writeU64(at, valLo, valHi);
        mm.putType(frame);
        rc = 0;
      }
      mm.putPage(frame);
    } else if (cmd === MmuCmd.machphysUpdate) {
      const frame = Math.floor(mfn);
      if (!mm.owns(frame)) { rc = -Errno.EINVAL; break; }
      mem.writeU64(host.frames.m2p * PAGE + frame * 8, valLo, valHi);
      rc = 0;
    } else {
      rc = -Errno.ENOSYS;
    }
    if (rc !== 0) break;
  }
  if (flushLinear) d.cpu.flushTlb();
  writeDone(d, pdone, i);
  return rc;
}

/** do_mmuext_op. */
export function mmuextOp(d: PvDomain, host: MmCallHost, uops: number, count: number, pdone: number, foreigndom: number): number {
  if ((count & MMU_UPDATE_PREEMPTED) !== 0) return d.cpu.modelError('Xen model: a continued mmuext_op (MMU_UPDATE_PREEMPTED) is not modelled');
  if (!addrOk(uops)) return -Errno.EFAULT;
  const owner = pgOwner(d, foreigndom);
  if (owner !== 'self') return owner;
  let rc = 0, i = 0;
  for (; i < count; i++) {
    const b = d.copyFromGuest(uops + i * 24, 24);
    if (b === null) { rc = -Errno.EFAULT; break; }
    const v = new DataView(b.buffer);
    rc = mmuextOne(d, host, v.getUint32(0, true), v.getInt32(8, true), v.getInt32(12, true), v.getInt32(16, true), v.getInt32(20, true));
    if (rc !== 0) break;
  }
  writeDone(d, pdone, i);
  return rc;
}

/** vcpumask_to_pcpumask for a one-vCPU domain: the first word of the mask is read; true
 *  if vCPU 0's bit is set, null if the read faults. */
function vcpuMask(d: PvDomain, ptr: number): boolean | null {
  const b = d.copyFromGuest(ptr, 8);
  return b === null ? null : (b[0] & 1) !== 0;
}

function mmuextOne(d: PvDomain, host: MmCallHost, cmd: number, a1Lo: number, a1Hi: number, a2Lo: number, a2Hi: number): number {
  const cpu = d.cpu;
  const mm = host.mm;
  const arg1 = joined(a1Lo, a1Hi);
  const mfn = arg1;
  const vcpu = d.vcpu;
  switch (cmd) {
    case 0: case 1: case 2: case 3: { // MMUEXT_PIN_L[1-4]_TABLE
      const type = LEVELS[cmd];
      if (!mm.getPage(mfn)) return -Errno.EINVAL;
      const rc = mm.getType(mfn, type);
      if (rc !== 0) { mm.putPage(mfn); return rc; }
      const t = mm.types.get(mfn)!;
      if (t.pinned) { mm.putPageAndType(mfn); return -Errno.EINVAL; }
      t.pinned = true;
      return 0;
    }
    case MMUEXT.unpin: {
      const t = mm.owns(mfn) ? mm.types.get(mfn) : undefined;
      if (t === undefined || !t.pinned) return -Errno.EINVAL;
      t.pinned = false;
      mm.putPageAndType(mfn);
      return 0;
    }
    case MMUEXT.newBaseptr: {
      // new_guest_cr3: the same table only reloads CR3.
      if (mfn !== vcpu.guestTable) {
        const rc = mm.getPageAndType(mfn, 'l4');
        if (rc !== 0) return rc;
        if (!mm.m2pStrict) mm.setRoMpt(mfn, true);
        const old = vcpu.guestTable;
        vcpu.guestTable = mfn;
        cpu.cr3Lo = (mfn * PAGE) | 0;
        cpu.cr3Hi = Math.floor((mfn * PAGE) / TWO32);
        if (old !== 0) mm.putPageAndType(old);
      }
      cpu.flushTlb();
      return 0;
    }
    case MMUEXT.newUserBaseptr: {
      const old = vcpu.guestTableUser;
      if (mfn === old) return 0;
      if (mfn !== 0) {
        const rc = mm.getPageAndType(mfn, 'l4');
        if (rc !== 0) return rc;
        if (mm.m2pStrict) mm.setRoMpt(mfn, false);
      }
      vcpu.guestTableUser = mfn;
      if (old !== 0) mm.putPageAndType(old);
      return 0;
    }
    case MMUEXT.tlbFlushLocal: case MMUEXT.tlbFlushAll: cpu.flushTlb(); return 0;
    case MMUEXT.invlpgLocal: // paging_invlpg: a non-canonical address is ignored
      if (canonical(a1Hi)) cpu.flushTlbPage(arg1);
      return 0;
    case MMUEXT.invlpgAll:
      if (addrOk(arg1) && canonical(a1Hi)) cpu.flushTlbPage(arg1);
      return 0;
    case MMUEXT.tlbFlushMulti: case MMUEXT.invlpgMulti: {
      const mine = vcpuMask(d, joined(a2Lo, a2Hi));
      if (mine === null) return -Errno.EINVAL;
      if (mine && cmd === MMUEXT.tlbFlushMulti) cpu.flushTlb();
      else if (mine && addrOk(arg1) && canonical(a1Hi)) cpu.flushTlbPage(arg1);
      return 0;
    }
    case MMUEXT.flushCache: case MMUEXT.flushCacheGlobal: return d.state.dom0 ? 0 : -Errno.EACCES;
    case MMUEXT.setLdt: {
      const ents = a2Lo >>> 0;
      if (ents > 8192 || (ents !== 0 && (arg1 % PAGE !== 0 || !addrOk(arg1)))) return -Errno.EINVAL;
      const base = ents === 0 ? 0 : arg1;
      if (vcpu.ldtEnts !== ents || vcpu.ldtBase !== base) {
        if (destroyLdt(d, host)) cpu.flushTlb();
        vcpu.ldtBase = base;
        vcpu.ldtEnts = ents;
        loadLdt(d);
      }
      return 0;
    }
    case MMUEXT.clearPage: {
      if (!mm.getPage(mfn)) return -Errno.EINVAL;
      if (mm.getType(mfn, 'writable') !== 0) { mm.putPage(mfn); return -Errno.EINVAL; }
      d.mem.fill(mfn * PAGE, PAGE, 0);
      mm.putPageAndType(mfn);
      return 0;
    }
    case MMUEXT.copyPage: {
      const src = joined(a2Lo, a2Hi);
      if (!mm.getPage(src)) return -Errno.EINVAL;
      if (!mm.getPage(mfn)) { mm.putPage(src); return -Errno.EINVAL; }
      if (mm.getType(mfn, 'writable') !== 0) { mm.putPage(src); mm.putPage(mfn); return -Errno.EINVAL; }
      d.mem.write(mfn * PAGE, d.mem.bytes.slice(src * PAGE, src * PAGE + PAGE));
      mm.putPageAndType(mfn);
      mm.putPage(src);
      return 0;
    }
    case MMUEXT.markSuper: case MMUEXT.unmarkSuper: return -Errno.EOPNOTSUPP;
    default: return -Errno.ENOSYS;
  }
}

// ------------------------------------------------------------------ the LDT

/** LDT_VIRT_START: the vCPU's LDT area, 64 KiB after its GDT's (16 pages, 8192 entries). */
export const LDT_VA = XEN_VA.gdt + 16 * PAGE;
const LDT_PAGES = 16;

/** load_LDT: LDTR names Xen's LDT selector with the shadow area as its base, or is null. */
function loadLdt(d: PvDomain): void {
  const cpu = d.cpu;
  const ents = d.vcpu.ldtEnts;
  cpu.ldtrSel = ents === 0 ? 0 : LDT_SELECTOR;
  cpu.ldtrBaseLo = ents === 0 ? 0 : LDT_VA % TWO32 | 0;
  cpu.ldtrBaseHi = ents === 0 ? 0 : Math.floor(LDT_VA / TWO32) | 0;
  cpu.ldtrLimit = ents === 0 ? 0 : ents * 8 - 1;
}

/** pv_destroy_ldt: the shadow mappings go, with their references; true if any was mapped. */
function destroyLdt(d: PvDomain, host: MmCallHost): boolean {
  const frames = d.vcpu.ldtFrames;
  let any = false;
  for (let k = 0; k < LDT_PAGES; k++) {
    if (frames[k] === 0) continue;
    d.mem.writeU64(xenL1e(d.mem, host.frames, LDT_VA + k * PAGE), 0, 0);
    host.mm.putPageAndType(frames[k]);
    frames[k] = 0;
    any = true;
  }
  return any;
}

/** What fixup_page_fault makes of a fault at `addr` (handle_gdt_ldt_mapping_fault): null
 *  if it is not a supervisor fault in the LDT area; 'fixed' when the guest's LDT page is
 *  now mapped (pv_map_ldt_shadow_page: present in the guest kernel's tables, the domain's,
 *  and able to be a descriptor page); else the guest gets #PF at the LDT's own address,
 *  or #GP(selector | TI) where that address would not be canonical. */
export function ldtFault(d: PvDomain, host: MmCallHost, addr: number, errorCode: number): 'fixed' | { gp: number } | { pf: number } | null {
  const PFEC_USER = 4, PFEC_RSVD = 8;
  if ((errorCode & (PFEC_USER | PFEC_RSVD)) !== 0 || addr < LDT_VA || addr >= LDT_VA + LDT_PAGES * PAGE) return null;
  const offset = addr - LDT_VA;
  const vcpu = d.vcpu;
  const linear = vcpu.ldtBase + offset;
  const at = l1eFor(d, linear);
  const lo = at < 0 ? 0 : d.mem.readU32(at) | 0, hi = at < 0 ? 0 : d.mem.readU32(at + 4) | 0;
  const mfn = mfnOf(lo, hi);
  const mm = host.mm;
  if ((lo & PTE.P) !== 0 && mm.getPage(mfn)) {
    if (mm.getSegdescType(mfn, checkDescriptor) === 0) {
      const k = Math.floor(offset / PAGE);
      d.mem.writeU64(xenL1e(d.mem, host.frames, LDT_VA + k * PAGE), lo | PTE.RW, hi);
      vcpu.ldtFrames[k] = mfn;
      return 'fixed';
    }
    mm.putPage(mfn);
  }
  const canon = linear >= -(2 ** 47) && linear < 2 ** 47;
  return canon ? { pf: linear } : { gp: (offset & ~3) | 4 };
}

/** map_guest_l1e: the machine address of the L1 entry for `va` through the guest kernel's
 *  tables, or -1 (Xen's range, a missing L4/L3/L2 entry, a superpage). */
function l1eFor(d: PvDomain, va: number): number {
  const mem = d.mem;
  let table = d.vcpu.guestTable * PAGE;
  for (let level = 4; level >= 2; level--) {
    const at = table + (Math.floor(va / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
    const lo = mem.readU32(at), hi = mem.readU32(at + 4);
    if ((lo & PTE.P) === 0 || (level === 2 && (lo & PTE.PS) !== 0)) return -1;
    table = mfnOf(lo, hi) * PAGE;
  }
  return table + (Math.floor(va / PAGE) & 511) * 8;
}

/** do_update_va_mapping: the L1 entry for `va` through mod_l1_entry, then the flush
 *  `flags` asks for (UVMF_NONE 0, TLB_FLUSH 1, INVLPG 2; LOCAL 0, ALL 4, otherwise a
 *  pointer to a vCPU mask). */
export function updateVaMapping(d: PvDomain, host: MmCallHost, vaLo: number, vaHi: number, lo: number, hi: number, flagsLo: number, flagsHi: number): number {
  const cpu = d.cpu;
  const va = joined(vaLo, vaHi);
  if (!canonical(vaHi) || !addrOk(va)) return -Errno.EINVAL;
  const at = l1eFor(d, va);
  if (at < 0) return -Errno.EINVAL;
  const l1 = Math.floor(at / PAGE);
  const mm = host.mm;
  const t = mm.types.get(l1);
  if (!mm.owns(l1) || t === undefined || t.type !== 'l1') return -Errno.EINVAL;
  const rc = mm.modEntry(1, at, lo, hi, false);
  if (rc !== 0) return rc;
  const type = flagsLo & Uvmf.flushTypeMask;
  if (type !== Uvmf.tlbFlush && type !== Uvmf.invlpg) return 0;
  const bmap = joined(flagsLo & ~Uvmf.flushTypeMask, flagsHi);
  let mine: boolean | null = true;
  if (bmap !== Uvmf.local && bmap !== Uvmf.all) mine = vcpuMask(d, bmap);
  if (mine === true) {
    if (type === Uvmf.tlbFlush) cpu.flushTlb();
    else cpu.flushTlbPage(va);
  }
  return mine === null ? -Errno.EFAULT : 0;
}

// ------------------------------------------------------------------ capture / restore

export function captureMemory(mm: PvMemory): MemoryState {
  return {
    types: [...mm.types].map(([m, t]) => [m, { ...t }]), linear: [...mm.linear], refs: mm.refs.slice(), owner: mm.owner.slice(),
    free: mm.free.slice(), totPages: mm.totPages, maxPages: mm.maxPages,
  };
}

export function restoreMemory(mm: PvMemory, s: MemoryState): void {
  mm.types.clear();
  for (const [m, t] of s.types) mm.types.set(m, { ...t });
  mm.linear = new Map(s.linear);
  mm.refs = s.refs.slice();
  mm.owner = s.owner.slice();
  mm.free = s.free.slice();
  mm.totPages = s.totPages;
  mm.maxPages = s.maxPages;
}
