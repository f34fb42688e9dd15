// The hypercall interface of Xen 3.0.4 and 3.1.1 where it differs from today's (version.ts,
// point 7): what a 2007 Xen answered for the calls and sub-ops it did not have yet, and the
// xen_version sub-ops whose answers name the version. Everything the 2007 headers define
// is left to today's handlers (hypercalls.ts and its neighbours). Sources: 304 = tag 3.0.4-branched, 310 = tag 3.1.0-branched (3.1.1's stand-in),
// paths under xen/include/public/ unless said otherwise.
//
// - xen_version: XENVER_version = major << 16 | minor (304 common/kernel.c:126-128);
//   extraversion the release's; get_features submap 0 only has pae_pgdir_above_4gb, with
//   VMASST_TYPE_pae_extended_cr3 (304 common/kernel.c:188-200); sub-ops above 8
//   (guest_handle) -ENOSYS (version.h:34-79, kernel.c:229).
// - vm_assist: types above MAX_VMASST_TYPE 3 -EINVAL (304 common/domain.c:561, xen.h).
// - vcpu_op: 304 has sub-ops 0-5, 310 0-9 (the timers); 10 (register_vcpu_info) is only
//   reserved in 3.1 (dea6904c01): -ENOSYS above (vcpu.h, common/domain.c default).
// - sched_op: SCHEDOP 0-4 (sched.h:51-93), SHUTDOWN reasons 0-3 (sched.h:106-109); others
//   -ENOSYS (common/schedule.c default).
// - event_channel_op: 304 EVTCHNOP 0-9, 310 0-10 (reset) (event_channel.h); -ENOSYS above.
// - grant_table_op: 304 GNTTABOP 0-5, 310 0-6 (query_size) (grant_table.h); -ENOSYS above.
// - memory_op: 304 XENMEM 0-13, 310 0-14 (maximum_gpfn) (memory.h); in 2007 only the low
//   four bits name the sub-op (START_EXTENT_SHIFT 4, common/memory.c), so a larger number
//   is a model error rather than a guess at what it aliases.
// - sysctl: privilege checked before the interface version (2 in 304, 3 in 310).
// - hypercalls 38 and above did not exist (xen.h: kexec_op 37 is the last): -ENOSYS.
//
// Deliberate deviations: XENVER_version's minor and extraversion are inferred (the release
// trees xen-3.0.4-testing and xen-3.1-testing are not in Xen's git); other answers of calls
// the 2007 headers define are today's.

import { Errno, Hc } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import type { XenVersion } from './version.js';

type Abi2007 = NonNullable<XenVersion['abi2007']>;

/** The highest sub-op number each call had, by tag. */
const LAST_SUBOP: Readonly<Record<Abi2007['tag'], Readonly<Partial<Record<number, number>>>>> = {
  '3.0.4-branched': { [Hc.vcpu_op]: 5, [Hc.sched_op]: 4, [Hc.event_channel_op]: 9, [Hc.grant_table_op]: 5, [Hc.memory_op]: 13 },
  '3.1.0-branched': { [Hc.vcpu_op]: 9, [Hc.sched_op]: 4, [Hc.event_channel_op]: 10, [Hc.grant_table_op]: 6, [Hc.memory_op]: 14 },
};
const LAST_HYPERCALL = 37;
const SYSCTL_INTERFACE_VERSION: Readonly<Record<Abi2007['tag'], number>> = { '3.0.4-branched': 2, '3.1.0-branched': 3 };
const MAX_VMASST_TYPE = 3;
const XENVER_guest_handle = 8;
const SCHEDOP_shutdown = 2, SHUTDOWN_crash = 3;
const XENFEAT_pae_pgdir_above_4gb = 4, VMASST_pae_extended_cr3 = 3;

/** 2007's answer to hypercall `nr` with first argument `arg0` (`cmd` its low half, as the
 *  handlers' int reads it) and second argument `arg` (`argLo` its low half), or null when
 *  today's handler answers. */
export function answer2007(d: PvDomain, abi: Abi2007, nr: number, arg0: number, cmd: number, argLo: number, arg: number): number | null {
  if (nr > LAST_HYPERCALL) return -Errno.ENOSYS;
  switch (nr) {
    case Hc.xen_version: return xenVersion2007(d, abi, cmd, arg);
    case Hc.vm_assist: {
      const type = argLo >>> 0;
      return type > MAX_VMASST_TYPE ? -Errno.EINVAL : null;
    }
    case Hc.sysctl: {
      // do_sysctl: IS_PRIV first, then XEN_SYSCTL_INTERFACE_VERSION 2 (304) / 3 (310)
      // (common/sysctl.c:35-41, public/sysctl.h:37); the 2007 commands are not modelled.
      if (!d.state.dom0) return -Errno.EPERM;
      const b = d.copyFromGuest(arg0, 8);
      if (b === null) return -Errno.EFAULT;
      if (new DataView(b.buffer).getUint32(4, true) !== SYSCTL_INTERFACE_VERSION[abi.tag]) return -Errno.EACCES;
      return d.cpu.modelError(`Xen model: the sysctl commands of ${abi.tag} are not modelled`);
    }
    case Hc.memory_op:
      if (cmd >>> 0 > 15) return d.cpu.modelError(`Xen model: memory_op ${cmd >>> 0} on ${abi.tag}: 2007 read only the low four bits as the sub-op, not modelled`);
      break;
    case Hc.sched_op:
      if (cmd === SCHEDOP_shutdown) {
        const reason = d.copyFromGuest(arg, 4);
        if (reason !== null && new DataView(reason.buffer).getUint32(0, true) > SHUTDOWN_crash) {
          return d.cpu.modelError(`Xen model: SHUTDOWN reason above 3 on ${abi.tag} (domain_shutdown's answer is not modelled)`);
        }
      }
      break;
    default: break;
  }
  const last = LAST_SUBOP[abi.tag][nr];
  if (last !== undefined && (cmd >>> 0) > last) return -Errno.ENOSYS;
  return null;
}

function xenVersion2007(d: PvDomain, abi: Abi2007, cmd: number, arg: number): number | null {
  switch (cmd) {
    case 0: return (abi.major << 16) | abi.minor;
    case 1: { // xen_extraversion_t: char[16]
      const b = new Uint8Array(16);
      b.set(new TextEncoder().encode(abi.extraversion));
      return d.copyToGuest(arg, b) ? 0 : -Errno.EFAULT;
    }
    case 6: { // get_features
      const b = d.copyFromGuest(arg, 8);
      if (b === null) return -Errno.EFAULT;
      const v = new DataView(b.buffer);
      if (v.getUint32(0, true) !== 0) return -Errno.EINVAL;
      v.setUint32(4, (d.state.vmAssist & (1 << VMASST_pae_extended_cr3)) !== 0 ? 1 << XENFEAT_pae_pgdir_above_4gb : 0, true);
      return d.copyToGuest(arg, b) ? 0 : -Errno.EFAULT;
    }
    default: return cmd >>> 0 > XENVER_guest_handle ? -Errno.ENOSYS : null;
  }
}
