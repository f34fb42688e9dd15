// Where a PV guest may print a different line on Ringside's xen host (today's Xen,
// c447b7308b) than on the real-Xen oracle (Debian's Xen 4.17 under QEMU 7.2 TCG), and why:
// what changed in Xen between 4.17 and c447b7308b (each with its commit), and QEMU's own
// deviations from the manuals (each with its evidence). test/xen-guests-real.test.ts
// compares every line of every PV guest and fails on a difference not listed here, and on a
// listed one that no longer occurs.

export interface XenDifference {
  /** The guest (a folder of guests/). */
  guest: string;
  /** The observation's name: the text before ": " on the line. */
  key: RegExp;
  /** The value after ": " on real Xen and on Ringside. */
  real: string;
  model: string;
  /** Why, with the commit or the evidence. */
  why: string;
}

const RF_WHY =
  'QEMU TCG deviation: it pushes RF = 0 for fault-class exceptions, the SDM says 1 (Intel SDM Vol. 3B, ' +
  '"Instruction-Breakpoint Exception Condition": "For any fault-class exception except a debug exception ' +
  'generated in response to an instruction breakpoint, the value pushed for RF is 1"; test/qemu-deviations.ts). ' +
  'Xen copies the hardware frame\'s RFLAGS into the bounce frame (create_bounce_frame replaces only IF and IOPL), ' +
  'so on hardware the guest sees RF = 1 as the model shows; under QEMU it sees 0.';

const INT_N_WHY =
  'QEMU TCG deviation: INT n through a DPL-0 gate raises #GP with error code (n << 4) | 2 instead of the ' +
  'SDM\'s (n << 3) | 2 (IDT-vector error code, Intel SDM Vol. 3A §7.13 "Error Code"; test/qemu-deviations.ts ' +
  'lists it for the native guests); Xen passes the error code on (do_general_protection).';

const VERSION_WHY = 'XENVER_version is major << 16 | minor: the oracle is 4.17, the model c447b7308b (4.23-unstable).';
const FEATURES_WHY =
  'XENVER_get_features submap 0 gained XENFEAT_runstate_phys_area and XENFEAT_vcpu_time_phys_area ' +
  '(bits 18-19, 48a3fd1432, Xen 4.18) and XENFEAT_dm_msix_all_writes (bit 20, 64b21662b1, Xen 4.19).';

const MOVSS_DB_WHY =
  'QEMU TCG deviation: a data breakpoint hit by MOV SS raises #DB right after the MOV SS (QEMU 7.2 ' +
  'target/i386/tcg/sysemu/bpt_helper.c breakpoint_handler() raises EXCP01_DB on the watchpoint hit; the MOV SS ' +
  'shadow holds only interrupts there), where the SDM holds it to the boundary after the next instruction ' +
  '(Vol. 3A §6.8.3; test/qemu-deviations.ts MOVSS_DB_*). With SYSCALL next, hardware delivers it inside Xen, ' +
  'whose handle_DB drops it (traps.c, !guest_mode: "Hit #DB in Xen context"); under QEMU it is a guest #DB ' +
  'before the SYSCALL. This is also why XTF\'s xsa-260 and xsa-265 end with "Unhandled exception ... Vec 1 #DB" ' +
  'on the oracle and pass on Ringside.';

export const XEN_DIFFERENCES: readonly XenDifference[] = [
  {
    guest: 'pv-grant', key: /^op\.cache_flush$/, real: '0', model: '-38',
    why: '5642a6055c "x86/gnttab: do not implement GNTTABOP_cache_flush" (Xen 4.21): x86 no longer has the ' +
      'operation (-ENOSYS); 4.17 did a zero-count flush (0).',
  },
  {
    guest: 'pv-grant', key: /^copy\.zero_length$/, real: '-2', model: '0',
    why: 'a4a790f432 "gnttab: fully ignore zero-size copy requests" (Xen 4.19): a zero-length copy is GNTST_okay ' +
      'before anything is looked at; 4.17 looked the domains up first (GNTST_bad_domain for domid 5).',
  },
  { guest: 'pv-breakpoints', key: /^kernel\.movss_nop\.rip$/, real: 'at_nop', model: 'after_nop', why: MOVSS_DB_WHY },
  { guest: 'pv-breakpoints', key: /^kernel\.movss_syscall\.db_count$/, real: '1', model: '0', why: MOVSS_DB_WHY },
  { guest: 'pv-breakpoints', key: /^kernel\.movss_syscall\.dr6$/, real: '0xffff0ff1', model: '0xffff0ff0', why: MOVSS_DB_WHY },
  ...['xen_version', 'raw_xen_version.rax', 'page_xen_version.rax', 'multicall.0_xen_version', 'multicall_iret.0_xen_version'].map((k) => ({
    guest: 'pv-hypercall-abi', key: new RegExp(`^${k.replace(/\./g, '\\.')}$`), real: '0x40011', model: '0x40017', why: VERSION_WHY,
  })),
  ...['masked', 'unmasked'].map((m) => ({
    guest: 'pv-hypercall-abi', key: new RegExp(`^iret_in_syscall_${m}\\.r11$`), real: '0xdead000000e00ed5', model: '0x200ed7',
    why: 'dbd936248f "x86: Clamp bits in eflags more aggressively" (Xen 4.22): do_iret keeps only the RFLAGS bits ' +
      'that exist (X86_EFLAGS_ALL) and sets bit 1; with VGCF_in_syscall the exit is SYSRET, whose %r11 is those flags.',
  })),
  { guest: 'pv-hypercall-errors', key: /^xen_version$/, real: '0x40011', model: '0x40017', why: VERSION_WHY },
  ...['other_bits', 'without_pae_extended_cr3'].map((k) => ({
    guest: 'pv-hypercall-errors', key: new RegExp(`^xen_version\\.get_features_${k}$`), real: '0x228e0', model: '0x1e28e0', why: FEATURES_WHY,
  })),
  { guest: 'pv-hypercall-errors', key: /^xen_version\.get_features_with_pae_extended_cr3$/, real: '0x228f0', model: '0x1e28f0', why: FEATURES_WHY },
  {
    guest: 'pv-hypercall-errors', key: /^xen_version\.get_features_initial_pae_pgdir_above_4gb$/, real: '0x1', model: '0x0',
    why: 'a773adedbd (Xen 4.19): the dom0 builder turns VMASST_TYPE_pae_extended_cr3 on only for a 32-bit kernel; ' +
      '4.17 did it for any kernel with PAE_MODE "yes", which XENFEAT_pae_pgdir_above_4gb reports.',
  },
  {
    guest: 'pv-hypercall-errors', key: /^xen_version\.build_id_len_0$/, real: '-22', model: '-61',
    why: 'e3bb1b6525 (Xen 4.20): XENVER_build_id went through the varbuf helper, which asks for the build id ' +
      'first (-ENODATA: the model has none) where 4.17 refused a zero length (-EINVAL).',
  },
  {
    guest: 'pv-boot', key: /^start_info\.magic$/, real: '"xen-3.0-x86_64p"', model: '"xen-3.0-x86_64"',
    why: 'd5e1795ab4 "x86/PV: ignore PAE_MODE ELF note for 64-bit Dom0" (Xen 4.18): the dom0 builder zaps ' +
      'parms.pae for a 64-bit kernel, so the magic loses its "p" (pv/dom0_build.c, "xen-3.0-x86_%d%s").',
  },
  { guest: 'pv-boot', key: /^xen_version$/, real: '4.17', model: '4.23', why: VERSION_WHY },
  { guest: 'pv-privop', key: /^xen_version$/, real: '4.17', model: '4.23', why: VERSION_WHY },
  {
    guest: 'pv-vcpu', key: /^register_vcpu_info\.page_table$/, real: '-22', model: '-13',
    why: '295514ff75 "common: convert vCPU info area registration" (Xen 4.18): map_guest_area refuses a frame it ' +
      'cannot type writable with -EACCES; 4.17\'s map_vcpu_info said -EINVAL.',
  },
  {
    guest: 'pv-vcpu', key: /^register_vcpu_info\.again$/, real: '-22', model: '-16',
    why: '295514ff75 (Xen 4.18): a second registration is -EBUSY (vcpu_info_area already mapped); 4.17 said -EINVAL.',
  },
  ...['kernel', 'user'].flatMap((mode) => ['ud', 'gp', 'pf_read', 'pf_write', 'de'].map((c) => ({
    guest: 'pv-exceptions', key: new RegExp(`^${mode}\\.${c}\\.rflags$`), real: '0x46', model: '0x10046', why: RF_WHY,
  }))),
  ...['user.int21_dpl3', 'user.int21_dpl0', 'kernel.int21_dpl0', 'kernel.int21_dpl1'].map((c) => ({
    guest: 'pv-exceptions', key: new RegExp(`^${c.replace('.', '\\.')}\\.rflags$`), real: '0x46', model: '0x10046',
    why: `${RF_WHY} INT n through Xen's DPL-0 gate is that #GP fault, delivered to the guest as the software interrupt from the #GP's frame.`,
  })),
  ...['user', 'kernel'].map((mode) => ({
    guest: 'pv-exceptions', key: new RegExp(`^${mode}\\.int21_dpl0\\.error_code$`), real: '0x212', model: '0x10a', why: INT_N_WHY,
  })),
];

/** The listed difference that explains one differing line, if any. */
export function explained(guest: string, real: string, model: string): XenDifference | undefined {
  const split = (line: string): [string, string] => {
    const at = line.indexOf(': ');
    return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 2)];
  };
  const [rk, rv] = split(real), [mk, mv] = split(model);
  if (rk !== mk) return undefined;
  return XEN_DIFFERENCES.find((d) => d.guest === guest && d.key.test(rk) && d.real === rv && d.model === mv);
}

/** Where the oracle itself cannot run a guest, with the evidence. */
export interface OracleGap {
  guest: string;
  /** QEMU's -cpu for the real-Xen run. */
  cpu: string;
  why: string;
}

export const ORACLE_GAPS: readonly OracleGap[] = [
  {
    guest: 'pv-sysenter', cpu: 'max,vendor=GenuineIntel',
    why: 'Xen 4.17 under QEMU 7.2 TCG with an Intel vendor string double-faults on the guest\'s first SYSENTER: ' +
      'its push of FLAT_USER_SS at sysenter_entry+0x8 faults (cr2 in cpu0_stack, "Current stack base ' +
      'ffff82d040408000 differs from expected ffff83001ffd0000"): SYSENTER_ESP still names the boot stack Xen ' +
      'left, not the per-CPU stack legacy_syscall_init writes (traps-setup.c). The Intel SYSENTER path is held ' +
      'to Xen\'s source only (guests/pv-sysenter\'s prose); the AMD one (#UD) to real Xen.',
  },
];
