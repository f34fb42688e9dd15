// Xen's public interface for 64-bit PV guests, as numbers: the selectors and address range
// a PV guest is given, hypercall and sub-operation numbers, error numbers, and the layouts
// of the structures guests and Xen exchange (xen/include/public/xen.h, arch-x86/xen.h,
// arch-x86/xen-x86_64.h, callback.h, sched.h, vcpu.h, version.h, event_channel.h,
// physdev.h; offsets computed for x86-64).

/** The flat selectors in Xen's reserved GDT page (xen-x86_64.h). */
export const FLAT_RING3_CS32 = 0xe023;
export const FLAT_RING3_SS = 0xe02b;
export const FLAT_RING3_SS32 = 0xe02b;
export const FLAT_RING3_CS64 = 0xe033;
export const FLAT_KERNEL_CS = FLAT_RING3_CS64;
export const FLAT_KERNEL_SS = FLAT_RING3_SS;
export const FLAT_KERNEL_DS = FLAT_RING3_SS;
export const FLAT_USER_CS32 = FLAT_RING3_CS32;
export const FLAT_USER_SS = FLAT_RING3_SS;
export const FLAT_USER_SS32 = FLAT_RING3_SS32;
/** Xen's own ring-0 selectors (asm/config.h, the boot GDT). */
export const HYPERVISOR_CS = 0xe008;
export const HYPERVISOR_DS = 0xe010;
export const HYPERVISOR_CS32 = 0xe038;
export const TSS_SELECTOR = 0xe040;
export const LDT_SELECTOR = 0xe050;
export const PER_CPU_SELECTOR = 0xe060;
/** The first GDT entry Xen reserves: guests own entries below it (14 pages). */
export const FIRST_RESERVED_GDT_PAGE = 14;
export const FIRST_RESERVED_GDT_ENTRY = FIRST_RESERVED_GDT_PAGE * 512;

/** The linear range Xen keeps for itself in every PV guest (xen-x86_64.h), as signed
 *  (canonical) numbers. */
export const HYPERVISOR_VIRT_START = -(2 ** 47);
export const HYPERVISOR_VIRT_END = -(2 ** 47) + 2 ** 43;
/** The read-only machine-to-physical table guests may read (MACH2PHYS_VIRT_START). */
export const MACH2PHYS_VIRT_START = HYPERVISOR_VIRT_START;

/** MSR_STAR and MSR_SYSCALL_MASK as Xen writes them in IDT mode (asm/processor.h). */
export const XEN_MSR_STAR_HI = (FLAT_RING3_CS32 << 16) | HYPERVISOR_CS;
/** AC | VM | RF | NT | DF | IF | TF. */
export const XEN_SYSCALL_MASK = 0x74700;

/** regs->entry_vector bit 8: return by SYSRET (asm/processor.h); VGCF_in_syscall in the
 *  iret hypercall's flags has the same value. */
export const TRAP_syscall = 0x100;
export const VGCF_in_syscall = 0x100;
export const VGCF_i387_valid = 1 << 0;
export const VGCF_in_kernel = 1 << 2;
export const VGCF_failsafe_disables_events = 1 << 3;
export const VGCF_syscall_disables_events = 1 << 4;
export const VGCF_online = 1 << 5;

/** Hypercall numbers (public/xen.h). */
export const enum Hc {
  set_trap_table = 0, mmu_update = 1, set_gdt = 2, stack_switch = 3, set_callbacks = 4, fpu_taskswitch = 5,
  sched_op_compat = 6, platform_op = 7, set_debugreg = 8, get_debugreg = 9, update_descriptor = 10,
  memory_op = 12, multicall = 13, update_va_mapping = 14, set_timer_op = 15, event_channel_op_compat = 16,
  xen_version = 17, console_io = 18, physdev_op_compat = 19, grant_table_op = 20, vm_assist = 21,
  update_va_mapping_otherdomain = 22, iret = 23, vcpu_op = 24, set_segment_base = 25, mmuext_op = 26,
  xsm_op = 27, nmi_op = 28, sched_op = 29, callback_op = 30, xenoprof_op = 31, event_channel_op = 32,
  physdev_op = 33, hvm_op = 34, sysctl = 35, domctl = 36,
}

/** Error numbers Xen returns, negated (public/errno.h: the Linux values). */
export const enum Errno {
  EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
  ENXIO = 6, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, EINVAL = 22, ENOSPC = 28,
  EDOM = 33, ERANGE = 34, ENOSYS = 38, ENODATA = 61, EOPNOTSUPP = 95, EALREADY = 114, EISCONN = 106,
}

/** start_info (public/xen.h), x86-64 offsets. */
export const START_INFO = {
  magic: 0, magicLength: 32, nrPages: 32, sharedInfo: 40, flags: 48, storeMfn: 56, storeEvtchn: 64,
  consoleMfn: 72, consoleEvtchn: 80, consoleInfoOff: 72, consoleInfoSize: 76,
  ptBase: 88, nrPtFrames: 96, mfnList: 104, modStart: 112, modLen: 120, cmdLine: 128, cmdLineLength: 1024,
  firstP2mPfn: 1152, nrP2mFrames: 1160, size: 1168,
} as const;
export const SIF_PRIVILEGED = 1 << 0;
export const SIF_INITDOMAIN = 1 << 1;

/** shared_info (public/xen.h): vcpu_info[32] first, 64 bytes each; then evtchn_pending[64] and
 *  evtchn_mask[64] (64-bit words: 4096 ports each), then the wall clock. */
export const SHARED_INFO = { vcpuInfo: 0, evtchnPending: 0x800, evtchnMask: 0xa00, wcVersion: 0xc00 } as const;
/** vcpu_info (public/xen.h, arch-x86/xen.h). */
export const VCPU_INFO = { upcallPending: 0, upcallMask: 1, pendingSel: 8, cr2: 16, time: 32, size: 64 } as const;

/** struct trap_info: vector u8, flags u8 (DPL in 1:0, bit 2 masks events), cs u16, address at 8. */
export const TRAP_INFO_SIZE = 16;
export const TI_IF = 4;

/** callback_op (public/callback.h). */
export const enum CallbackType {
  event = 0, failsafe = 1, syscall = 2, sysenterDeprecated = 3, nmi = 4, sysenter = 5, syscall32 = 7,
}
export const CALLBACKOP_register = 0;
export const CALLBACKOP_unregister = 1;
export const CALLBACKF_mask_events = 1;

/** struct iret_context (xen-x86_64.h): what HYPERVISOR_iret reads at %rsp. */
export const IRET_CONTEXT = { rax: 0, r11: 8, rcx: 16, flags: 24, rip: 32, cs: 40, rflags: 48, rsp: 56, ss: 64, size: 72 } as const;

/** sched_op (public/sched.h). */
export const enum SchedOp { yield = 0, block = 1, shutdown = 2, poll = 3, remoteShutdown = 4, shutdownCode = 5, watchdog = 6 }
export const SHUTDOWN_REASONS = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'] as const;
export type ShutdownReason = (typeof SHUTDOWN_REASONS)[number];

/** console_io (public/xen.h). */
export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

/** set_segment_base (xen-x86_64.h). */
export const enum Segbase { fs = 0, gsUser = 1, gsKernel = 2, gsUserSel = 3 }

/** The hypercall page: one 32-byte stub per hypercall number. */
export const HYPERCALL_STUB_SIZE = 32;
export const HYPERCALL_STUBS = 128;

/** struct xencons_interface (public/io/console.h): the domU console ring. */
export const XENCONS = { in: 0, inSize: 1024, out: 1024, outSize: 2048, inCons: 3072, inProd: 3076, outCons: 3080, outProd: 3084 } as const;

// ---- Events and time (public/event_channel.h, xen.h VIRQ_*, vcpu.h, arch-x86/xen.h)

/** event_channel_op sub-operations. */
export const enum EvtchnOp {
  bindInterdomain = 0, bindVirq = 1, bindPirq = 2, close = 3, send = 4, status = 5, allocUnbound = 6, bindIpi = 7,
  bindVcpu = 8, unmask = 9, reset = 10, initControl = 11, expandArray = 12, setPriority = 13, resetCont = 14,
}
/** EVTCHNOP_status's answer. */
export const enum EvtchnStat { closed = 0, unbound = 1, interdomain = 2, pirq = 3, virq = 4, ipi = 5 }
/** VIRQs (public/xen.h). */
export const VIRQ_TIMER = 0;
export const VIRQ_DEBUG = 1;
export const NR_VIRQS = 24;
/** The per-vCPU VIRQs (get_virq_type VIRQ_VCPU): TIMER, DEBUG, XENOPROF, XENPMU. */
export const PER_VCPU_VIRQS = [0, 1, 7, 13] as const;
/** DOMID_SELF (public/xen.h). */
export const DOMID_SELF = 0x7ff0;
/** vcpu_op timer sub-operations (public/vcpu.h). */
export const enum VcpuOpTimer { setPeriodic = 6, stopPeriodic = 7, setSingleshot = 8, stopSingleshot = 9 }
/** struct vcpu_time_info inside vcpu_info (at VCPU_INFO.time). */
export const VCPU_TIME_INFO = { version: 0, tscTimestamp: 8, systemTime: 16, tscToSystemMul: 24, tscShift: 28, flags: 29 } as const;
/** shared_info's wall clock (after wc_version at 0xc00). */
export const SHARED_INFO_WC = { version: 0xc00, sec: 0xc04, nsec: 0xc08, secHi: 0xc0c } as const;
// ---- Grant tables (public/grant_table.h; struct offsets computed for x86-64)

/** GNTTABOP_* (the low 12 bits of cmd; the upper bits are an opaque argument only
 *  cache_flush may carry). */
export const enum GnttabOp {
  map_grant_ref = 0, unmap_grant_ref = 1, setup_table = 2, dump_table = 3, transfer = 4, copy = 5, query_size = 6,
  unmap_and_replace = 7, set_version = 8, get_status_frames = 9, get_version = 10, swap_grant_ref = 11, cache_flush = 12,
}
export const GNTTABOP_CMD_MASK = 0xfff;
/** GNTST_*: each element's status. */
export const enum Gntst {
  okay = 0, general_error = -1, bad_domain = -2, bad_gntref = -3, bad_handle = -4, bad_virt_addr = -5, bad_dev_addr = -6,
  no_device_space = -7, permission_denied = -8, bad_page = -9, bad_copy_arg = -10, address_too_big = -11, eagain = -12,
  no_space = -13,
}
/** GNTMAP_* flags of map_grant_ref; bits 16.. (guest_avail) go to the PTE's AVAIL bits. */
export const GNTMAP = { device_map: 1, host_map: 2, readonly: 4, application_map: 8, contains_pte: 16, guestAvailShift: 16 } as const;
/** grant_entry_v1.flags. */
export const GTF = {
  typeMask: 3, invalid: 0, permit_access: 1, accept_transfer: 2, transitive: 3, readonly: 4, reading: 8, writing: 0x10,
  PWT: 0x20, PCD: 0x40, PAT: 0x80, sub_page: 0x100,
} as const;
/** grant_entry_v1: flags u16, domid u16, frame u32. */
export const GRANT_ENTRY_V1 = { flags: 0, domid: 2, frame: 4, size: 8 } as const;
/** grant_entry_v2 (16 bytes): the header (flags u16, domid u16), then full_page {pad u32,
 *  frame u64}, sub_page {page_off u16, length u16, frame u64} or transitive {trans_domid u16,
 *  pad u16, gref u32}. Its GTF_reading / GTF_writing are in a grant_status_t (u16) of the
 *  status frames instead. */
export const GRANT_ENTRY_V2 = { flags: 0, domid: 2, pageOff: 4, length: 6, transDomid: 4, gref: 8, frame: 8, size: 16 } as const;
/** GNTTAB_NR_RESERVED_ENTRIES: the toolstack's entries kept across a version switch. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
/** GNTCOPY_* flags of gnttab_copy. */
export const GNTCOPY_source_gref = 1;
export const GNTCOPY_dest_gref = 2;
/** The argument structs (sizes and field offsets). */
export const GNTTAB_MAP = { hostAddr: 0, flags: 8, ref: 12, dom: 16, status: 18, handle: 20, devBusAddr: 24, size: 32 } as const;
export const GNTTAB_UNMAP = { hostAddr: 0, devBusAddr: 8, handle: 16, status: 20, size: 24 } as const;
export const GNTTAB_UNMAP_AND_REPLACE = { hostAddr: 0, newAddr: 8, handle: 16, status: 20, size: 24 } as const;
export const GNTTAB_SETUP = { dom: 0, nrFrames: 4, status: 8, frameList: 16, size: 24 } as const;
export const GNTTAB_QUERY_SIZE = { dom: 0, nrFrames: 4, maxNrFrames: 8, status: 12, size: 16 } as const;
export const GNTTAB_COPY = { source: 0, dest: 16, len: 32, flags: 34, status: 36, size: 40 } as const;
/** gnttab_copy_ptr inside GNTTAB_COPY: union { ref; gmfn } u64, domid u16, offset u16. */
export const GNTTAB_COPY_PTR = { ref: 0, domid: 8, offset: 10 } as const;
export const GNTTAB_GET_STATUS_FRAMES = { nrFrames: 0, dom: 4, status: 6, frameList: 8, size: 16 } as const;
export const GNTTAB_GET_VERSION = { dom: 0, version: 4, size: 8 } as const;
export const GNTTAB_SWAP_GRANT_REF = { refA: 0, refB: 4, status: 8, size: 12 } as const;
export const GNTTAB_TRANSFER = { mfn: 0, domid: 8, ref: 12, status: 16, size: 24 } as const;

// Memory (public/xen.h, public/memory.h).
/** mmu_update's commands, in the low 3 bits of each request's ptr. */
export const enum MmuCmd { normalPtUpdate = 0, machphysUpdate = 1, ptUpdatePreserveAd = 2, ptUpdateNoTranslate = 3 }
/** count's top bit: a continued batch. */
export const MMU_UPDATE_PREEMPTED = 0x80000000;
/** MMUEXT_* (mmuext_op's cmd). */
export const MMUEXT = {
  pinL1: 0, pinL4: 3, unpin: 4, newBaseptr: 5, tlbFlushLocal: 6, invlpgLocal: 7, tlbFlushMulti: 8, invlpgMulti: 9,
  tlbFlushAll: 10, invlpgAll: 11, flushCache: 12, setLdt: 13, newUserBaseptr: 15, clearPage: 16, copyPage: 17,
  flushCacheGlobal: 18, markSuper: 19, unmarkSuper: 20,
} as const;
/** update_va_mapping's flags: the flush type in bits 0-1, then LOCAL (0), ALL (4) or a vCPU
 *  mask's address. */
export const enum Uvmf { none = 0, tlbFlush = 1, invlpg = 2, flushTypeMask = 3, local = 0, all = 4 }
/** XENMEM_* (memory_op's cmd, bits 0-5; bits 6.. a continuation's start extent). */
export const enum Xenmem {
  increaseReservation = 0, decreaseReservation = 1, maximumRamPage = 2, currentReservation = 3, maximumReservation = 4,
  machphysMfnList = 5, populatePhysmap = 6, addToPhysmap = 7, memoryMap = 9, machineMemoryMap = 10, exchange = 11,
  machphysMapping = 12, setMemoryMap = 13, maximumGpfn = 14, removeFromPhysmap = 15, addToPhysmapBatch = 23,
}
/** XENMEMF_* in a reservation's mem_flags. */
export const XENMEMF_populate_on_demand = 1 << 16;
export const XENMEMF_exact_node_request = 1 << 17;
export const XENMEMF_vnode = 1 << 18;
/** MACH2PHYS_VIRT_END (the RO M2P's 256 GiB window). */
export const MACH2PHYS_VIRT_END = HYPERVISOR_VIRT_START + 2 ** 38;
/** shared_info's arch.max_pfn (after the wall clock). */
export const SHARED_INFO_MAX_PFN = 0xc10;
