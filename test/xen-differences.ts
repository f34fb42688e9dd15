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

export const XEN_DIFFERENCES: readonly XenDifference[] = [
  {
    guest: 'pv-boot', key: /^start_info\.magic$/, real: '"xen-3.0-x86_64p"', model: '"xen-3.0-x86_64"',
    why: 'd5e1795ab4 "x86/PV: ignore PAE_MODE ELF note for 64-bit Dom0" (Xen 4.18): the dom0 builder zaps ' +
      'parms.pae for a 64-bit kernel, so the magic loses its "p" (pv/dom0_build.c, "xen-3.0-x86_%d%s").',
  },
  {
    guest: 'pv-boot', key: /^xen_version$/, real: '4.17', model: '4.23',
    why: 'XENVER_version is major << 16 | minor: the oracle is 4.17, the model c447b7308b (4.23-unstable).',
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
