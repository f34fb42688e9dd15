// The sysctl hypercall (xen/common/sysctl.c do_sysctl, common/livepatch.c and
// livepatch_elf.c at c447b7308b): the interface version, then privilege (XSM_PRIV: only
// dom0), then the command. Of the commands, the model answers the live-patching one
// (XEN_SYSCTL_livepatch_op: Xen's default configuration has CONFIG_LIVEPATCH, "default X86")
// up to the point where a payload would be loaded: its argument checks, and lookups in a
// payload list that stays empty. A number Xen does not know (nor x86's arch_do_sysctl) is
// -ENOSYS, as are the commands of options a default configuration leaves out
// (perfc_op: PERF_COUNTERS, lockprof_op: LOCK_PROFILE, coverage_op: COVERAGE; dt_overlay is
// Arm's).
//
// Deliberate deviations (model errors): every other command; loading a payload that passes
// the ELF header's first checks. guest_handle_okay's compat-translation range is not
// modelled (a 64-bit guest's handle is never in it).

import { Errno, HYPERVISOR_VIRT_END } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';

const TWO32 = 4294967296;
/** XEN_SYSCTL_INTERFACE_VERSION at c447b7308b (4.17 has 0x15). */
const SYSCTL_VERSION = 0x16;
/** sizeof(struct xen_sysctl): cmd, interface_version, a 128-byte union. */
const SYSCTL_SIZE = 136;
const XEN_SYSCTL_livepatch_op = 27;
/** The commands c447b7308b's x86 build has (sysctl.h) that the model does not answer. */
const KNOWN = new Set([1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 16, 17, 18, 19, 21, 22, 23, 26, 29]);
const LIVEPATCH = { upload: 0, get: 1, list: 2, action: 3 } as const;
const LIVEPATCH_FLAG_FORCE = 1;
const XEN_LIVEPATCH_NAME_SIZE = 128;
const LIVEPATCH_MAX_SIZE = 2 * 1024 * 1024;
/** payload_version's initial value; nothing is ever loaded, so it stays. */
const PAYLOAD_VERSION = 1;

/** do_sysctl. */
export function doSysctl(d: PvDomain, arg: number): number {
  const b = d.copyFromGuest(arg, SYSCTL_SIZE);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  if (v.getUint32(4, true) !== SYSCTL_VERSION) return -Errno.EACCES;
  if (!d.state.dom0) return -Errno.EPERM;
  const cmd = v.getUint32(0, true);
  if (cmd === XEN_SYSCTL_livepatch_op) {
    const rc = livepatchOp(d, v);
    // copyback unless the command was refused as unsupported: the whole op, on error too.
    if (rc !== -Errno.ENOSYS && rc !== -Errno.EOPNOTSUPP && !d.copyToGuest(arg, b)) return -Errno.EFAULT;
    return rc;
  }
  if (KNOWN.has(cmd)) return d.cpu.modelError(`Xen model: sysctl command ${cmd} is not modelled`);
  return -Errno.ENOSYS; // arch_do_sysctl's default
}

/** livepatch_op: struct xen_sysctl_livepatch_op at offset 8 (cmd, flags, then the union at 16). */
function livepatchOp(d: PvDomain, v: DataView): number {
  const flags = v.getUint32(12, true);
  if ((flags & ~LIVEPATCH_FLAG_FORCE) !== 0 && (flags & LIVEPATCH_FLAG_FORCE) === 0) return -Errno.EINVAL;
  switch (v.getUint32(8, true)) {
    case LIVEPATCH.upload: return upload(d, v);
    case LIVEPATCH.get: {
      // livepatch_get: the name, then find_payload (nothing is loaded).
      const rc = getName(d, v, 16);
      return typeof rc === 'number' ? rc : -Errno.ENOENT;
    }
    case LIVEPATCH.list: return list(v);
    case LIVEPATCH.action: {
      // livepatch_action: pad, the name, find_payload.
      if (v.getUint32(52, true) !== 0) return -Errno.EINVAL;
      const rc = getName(d, v, 16);
      return typeof rc === 'number' ? rc : -Errno.ENOENT;
    }
    default: return -Errno.EOPNOTSUPP;
  }
}

/** get_name: struct xen_livepatch_name at `at` (handle, u16 size, u16 pad[3]); the name or
 *  an errno. */
function getName(d: PvDomain, v: DataView, at: number): string | number {
  const size = v.getUint16(at + 8, true);
  if (size === 0 || size > XEN_LIVEPATCH_NAME_SIZE) return -Errno.EINVAL;
  if (v.getUint16(at + 10, true) !== 0 || v.getUint16(at + 12, true) !== 0 || v.getUint16(at + 14, true) !== 0) return -Errno.EINVAL;
  const n = d.copyFromGuest(handle(v, at), size);
  if (n === null) return -Errno.EFAULT;
  if (n[size - 1] !== 0) return -Errno.EINVAL;
  return new TextDecoder().decode(n.subarray(0, n.indexOf(0)));
}

/** livepatch_upload: verify_payload (any name error is -EINVAL), the copy of the payload,
 *  then livepatch_elf_load's header check. */
function upload(d: PvDomain, v: DataView): number {
  const name = getName(d, v, 16);
  if (typeof name === 'number') return -Errno.EINVAL;
  const sizeHi = v.getUint32(36, true), sizeLo = v.getUint32(32, true);
  if (sizeHi === 0 && sizeLo === 0) return -Errno.EINVAL;
  if (sizeHi !== 0 || sizeLo > LIVEPATCH_MAX_SIZE) return -Errno.EINVAL;
  const payload = handle(v, 40);
  if (!addrOk(payload)) return -Errno.EFAULT; // guest_handle_okay
  const raw = d.copyFromGuest(payload, sizeLo);
  if (raw === null) return -Errno.EFAULT;
  // livepatch_header_check.
  if (sizeLo < 64) {
    d.log(`(XEN) livepatch: ${name}: Section header is bigger than payload`);
    return -Errno.EINVAL;
  }
  if (raw[0] !== 0x7f || raw[1] !== 0x45 || raw[2] !== 0x4c || raw[3] !== 0x46) {
    d.log(`(XEN) livepatch: ${name}: Not an ELF payload`);
    return -Errno.EINVAL;
  }
  return d.cpu.modelError('Xen model: loading a live patch payload is not modelled');
}

/** livepatch_list over the empty payload list: the checks, then nothing copied, nr 0 left. */
function list(v: DataView): number {
  const nr = v.getUint32(24, true);
  if (nr > 1024) return -Errno.E2BIG;
  if (v.getUint32(28, true) !== 0) return -Errno.EINVAL;
  // guest_handle_okay of status, len and metadata_len.
  if (nr !== 0 && !(addrOk(handle(v, 40)) && addrOk(handle(v, 56)) && addrOk(handle(v, 72)))) return -Errno.EINVAL;
  v.setUint32(32, 0, true); // name_total_size
  v.setUint32(36, 0, true); // metadata_total_size
  v.setUint32(24, 0, true); // nr: payloads left
  v.setUint32(16, PAYLOAD_VERSION, true);
  return 0; // payloads processed
}

function handle(v: DataView, at: number): number {
  return v.getInt32(at + 4, true) * TWO32 + v.getUint32(at, true);
}

/** __addr_ok. */
function addrOk(a: number): boolean {
  return (a >= 0 && a < 2 ** 47) || (a < 0 && a >= HYPERVISOR_VIRT_END);
}
