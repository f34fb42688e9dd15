// sched_op for the domain's one vCPU (common/sched/core.c do_sched_op, vcpu_block, do_poll at
// c447b7308b; /work/notes/xen-pv-machine.md §B.5).
//
// A vCPU that blocks (SCHEDOP_block, or SCHEDOP_poll with nothing pending) leaves the
// hypercall with its result and halts at the instruction after it: the machine's virtual
// time then skips to the next event due, Xen's local APIC timer (time.ts), whose interrupt
// runs the expired timers in Xen (host.ts) and either finds the vCPU woken — the exit path
// delivers whatever upcall is pending — or halts it again. Before a vCPU sleeps, the peers'
// deferred work runs (the host's runPeers: a backend consumes what the guest produced while
// the guest is not running). A vCPU that nothing can ever wake ends the run, halted.
//
// Deliberate deviations: SCHEDOP_yield only lets the peers run (there is no other vCPU); the
// watchdog is a model error.

import { Errno, HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, SHARED_INFO, SHUTDOWN_REASONS, SchedOp } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { Ecs, type EventHost } from './event-channel.js';
import { descheduled, program, scheduledIn, timerArmed } from './time.js';
import { joined } from './regs.js';

/** What sched_op needs from the host. */
export interface SchedHost extends EventHost {
  /** Run the peers' deferred work; true if any of them did something. */
  runPeers(): boolean;
}

/** SCHEDOP_poll's "fairly arbitrary limit". */
const POLL_MAX_PORTS = 128;

/** do_sched_op: the result, or 'ended' when the domain is gone. */
export function schedOp(d: PvDomain, host: SchedHost, cmd: number, arg: number): number | 'ended' {
  switch (cmd) {
    case SchedOp.yield:
      host.runPeers();
      return 0;
    case SchedOp.block:
      // vcpu_block_enable_events: events unmasked, then blocked unless one is deliverable.
      d.upcallMask = 0;
      d.vcpu.blocked = 1;
      return block(d, host) ? 0 : 'ended';
    case SchedOp.poll: return poll(d, host, arg);
    case SchedOp.shutdown: {
      const b = d.copyFromGuest(arg, 4);
      if (b === null) return -Errno.EFAULT;
      const reason = b[0];
      d.end({ kind: 'shutdown', reason: SHUTDOWN_REASONS[reason] ?? reason });
      return 'ended';
    }
    case SchedOp.shutdownCode: return d.copyFromGuest(arg, 4) === null ? -Errno.EFAULT : 0;
    case SchedOp.remoteShutdown: {
      const b = d.copyFromGuest(arg, 8);
      if (b === null) return -Errno.EFAULT;
      const domid = b[0] | (b[1] << 8);
      // rcu_lock_domain_by_id: dom0 and the domU exist (no DOMID_SELF); then XSM_DM_PRIV.
      if (domid !== 0 && domid !== (d.state.dom0 ? 0 : 1)) return -Errno.ESRCH;
      if (!d.state.dom0) return -Errno.EPERM;
      d.end({ kind: 'shutdown', reason: SHUTDOWN_REASONS[b[4]] ?? b[4] });
      return 'ended';
    }
    case SchedOp.watchdog: return d.cpu.modelError('Xen model: SCHEDOP_watchdog is not modelled');
    default: return -Errno.ENOSYS;
  }
}

/** local_events_need_delivery: an upcall pending and not masked. */
function eventsNeedDelivery(d: PvDomain): boolean {
  return d.upcallPending !== 0 && d.upcallMask === 0;
}

/** The vCPU marked blocked goes to sleep unless it is already woken, or the peers' work
 *  wakes it; false when nothing can ever wake it (the run ended). */
function block(d: PvDomain, host: SchedHost): boolean {
  const v = d.vcpu;
  if (eventsNeedDelivery(d)) v.blocked = 0;
  while (v.blocked !== 0 && host.runPeers()) { /* the peers' work may wake the vCPU */ }
  if (v.blocked === 0) { d.unblock(); return true; }
  descheduled(d);
  program(d);
  if (!timerArmed(d)) {
    d.machine.stop({ kind: 'halted', exitValue: null, message: `${v.blocked === 1 ? 'SCHEDOP_block' : 'SCHEDOP_poll'} with no event source to wake the vCPU` });
    return false;
  }
  sleep(d);
  return true;
}

/** The vCPU halts after the hypercall returns, until Xen's timer interrupt. */
function sleep(d: PvDomain): void {
  d.cpu.halted = true;
  d.cpu.eventPending();
}

/** After Xen's timer interrupt ran the timers of a blocked vCPU: the peers' work, then
 *  whether it stays asleep; a woken one is scheduled in. */
export function afterTimers(d: PvDomain, host: SchedHost): 'woken' | 'asleep' {
  const v = d.vcpu;
  while (v.blocked !== 0 && host.runPeers()) { /* as block */ }
  if (v.blocked !== 0) return 'asleep';
  scheduledIn(d, host);
  return 'woken';
}

/** Back to sleep after the interrupt's exit path (an 'asleep' afterTimers). */
export function sleepAgain(d: PvDomain): void {
  if (!timerArmed(d)) {
    d.machine.stop({ kind: 'halted', exitValue: null, message: 'blocked vCPU with no event source left to wake it' });
    return;
  }
  sleep(d);
}

/** do_poll: {ports @0, nr_ports @8, timeout @16}. Returns at once when an upcall is
 *  deliverable or a listed port is pending; otherwise sleeps until one of the ports (or, for
 *  several, any port) is raised, any upcall is kicked, or the absolute timeout passes. */
function poll(d: PvDomain, host: SchedHost, arg: number): number | 'ended' {
  const b = d.copyFromGuest(arg, 24);
  if (b === null) return -Errno.EFAULT;
  const view = new DataView(b.buffer);
  const ports = joined(view.getInt32(0, true), view.getInt32(4, true));
  const nr = view.getUint32(8, true);
  const timeoutLo = view.getInt32(16, true), timeoutHi = view.getInt32(20, true);
  if (nr > POLL_MAX_PORTS) return -Errno.EINVAL;
  // guest_handle_okay: the array is guest memory (not Xen's range).
  if (nr !== 0 && ports + nr * 4 > HYPERVISOR_VIRT_START && ports < HYPERVISOR_VIRT_END) return -Errno.EFAULT;
  const v = d.vcpu;
  v.blocked = 2;
  v.pollPort = -1;
  if (eventsNeedDelivery(d)) { d.unblock(); return 0; }
  let port = 0;
  for (let i = 0; i < nr; i++) {
    const p = d.copyFromGuest(ports + i * 4, 4);
    if (p === null) { d.unblock(); return -Errno.EFAULT; }
    port = new DataView(p.buffer).getUint32(0, true);
    const rc = portPoll(d, host, port);
    if (rc !== 0) { d.unblock(); return rc > 0 ? 0 : rc; }
  }
  if (nr === 1) v.pollPort = port;
  if (timeoutLo !== 0 || timeoutHi !== 0) {
    // set_timer(poll_timer): one already due unblocks at once.
    const timeout = joined(timeoutLo, timeoutHi);
    if (timeout <= d.cpu.icount) { d.unblock(); return 0; }
    v.pollTimer = timeout;
  }
  return block(d, host) ? 0 : 'ended';
}

/** evtchn_port_poll: -EINVAL for a port that is not valid, else whether it is pending (a
 *  free or reserved port never is). */
function portPoll(d: PvDomain, host: EventHost, port: number): number {
  const e = d.state.events;
  if (port >= e.channels.length) return -Errno.EINVAL;
  if (e.channels[port].state <= Ecs.reserved) return 0;
  const pending = host.sharedInfo + SHARED_INFO.evtchnPending;
  return (d.mem.bytes[pending + (port >> 3)] & (1 << (port & 7))) !== 0 ? 1 : 0;
}
