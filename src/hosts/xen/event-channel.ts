// Event channels of the PV domain (common/event_channel.c, event_2l.c and event_fifo.c's
// setup checks at c447b7308b; the errnos and their order are written down in
// /work/notes/xen-pv-machine.md §A). The domain's port table is plain data captured with the
// machine; the 2-level ABI's bits live in shared_info and vcpu_info (PvDomain.setPending).
//
// - Ports are handed out lowest free first from port 1 (port 0 is ECS_RESERVED); the table
//   grows a bucket of 64 ports at a time (valid_evtchns), and a port at or beyond it is
//   "not valid" (-EINVAL) even below the ABI's 4096. A domU may use ports up to 1023 (libxl's
//   default event_channels); dom0 up to the 2-level limit.
// - The far end of an interdomain channel is this domain (loopback) or a peer: a domain the
//   host models in TypeScript (the toolstack's xenstored and xenconsoled in dom0 for a domU,
//   a backend domain). A send on a channel to a peer calls its notify(); the peer raises the
//   guest's port with PvDomain.setPending.
// - Only the domain's one vCPU exists: vCPU ids other than 0 are -ENOENT or -EINVAL as Xen
//   answers for a vCPU that does not exist.
//
// Deliberate deviations: physical IRQs (bind_pirq) are a model error; the FIFO ABI's setup
// checks are Xen's, but a guest that passes them (a valid writable frame) gets a model
// error instead of the FIFO ABI; status of another domain's port answers as if that domain
// had one bucket of ports (-EINVAL beyond 63, else -EPERM); a reset is never preempted.

import type { PvMemory } from './mm.js';
import { DOMID_SELF, Errno, EvtchnOp, EvtchnStat, NR_VIRQS, PER_VCPU_VIRQS, SHARED_INFO } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { PAGE } from './address-space.js';

/** Channel states (xen/sched.h ECS_*). */
export const enum Ecs { free = 0, reserved = 1, unbound = 2, interdomain = 3, pirq = 4, virq = 5, ipi = 6 }

export interface Channel {
  state: Ecs;
  notifyVcpu: number;
  /** UNBOUND: the domain allowed to bind; INTERDOMAIN: the far end's domain and port. */
  remoteDom: number;
  remotePort: number;
  /** VIRQ: which. */
  virq: number;
}

/** The domain's event-channel state (struct domain's evtchn fields, v->virq_to_evtchn). */
export interface EventChannelState {
  /** One entry per valid port (valid_evtchns: a multiple of 64). */
  channels: Channel[];
  /** max_evtchn_port. */
  maxPort: number;
  /** vCPU 0's virq_to_evtchn (0: unbound). */
  virqToPort: number[];
}

/** A domain the host models in TypeScript at the far end of interdomain channels. */
export interface EventPeer {
  readonly domid: number;
  /** EVTCHNOP_bind_interdomain to the peer's `port`: true when that port is unbound towards
   *  the guest (the peer then records the guest's `localPort` as its far end); false is
   *  Xen's -EINVAL. */
  bindFromGuest(port: number, localPort: number): boolean;
  /** The guest sent on its end of a channel whose far end is the peer's `port`. */
  notify(port: number): void;
  /** The guest closed its end: the peer's `port` is unbound towards the guest again. */
  closedByGuest(port: number): void;
}

/** What the operations reach beyond the domain. */
export interface EventHost {
  readonly sharedInfo: number;
  /** The peer domain `domid` (undefined: no such domain). */
  eventPeer(domid: number): EventPeer | undefined;
  /** The domain's frames and their page types (FIFO setup's map_guest_page). */
  readonly mm: PvMemory;
}

/** EVTCHNS_PER_BUCKET on x86-64. */
const BUCKET = 64;
/** The 2-level ABI's port count for a 64-bit guest (64 words of 64 bits). */
export const MAX_PORTS_2L = 4096;
/** libxl's default event_channels for a domU. */
const DOMU_MAX_PORT = 1023;
/** sizeof(evtchn_fifo_control_block). */
const FIFO_CONTROL_BLOCK = 64;

function freeChannel(): Channel {
  return { state: Ecs.free, notifyVcpu: 0, remoteDom: 0, remotePort: 0, virq: 0 };
}

/** evtchn_init: one bucket, port 0 reserved. */
export function newEventChannels(dom0: boolean): EventChannelState {
  const channels = Array.from({ length: BUCKET }, freeChannel);
  channels[0].state = Ecs.reserved;
  return { channels, maxPort: dom0 ? MAX_PORTS_2L - 1 : DOMU_MAX_PORT, virqToPort: new Array<number>(NR_VIRQS).fill(0) };
}

export function ownDomid(d: PvDomain): number {
  return d.state.dom0 ? 0 : 1;
}

function ev(d: PvDomain): EventChannelState {
  return d.state.events;
}

function valid(d: PvDomain, port: number): boolean {
  return port < ev(d).channels.length;
}

/** get_free_port: the lowest free port, growing the table a bucket at a time. */
function getFreePort(d: PvDomain): number {
  const e = ev(d);
  for (let port = 0; port <= e.maxPort; port++) {
    if (port >= MAX_PORTS_2L) return -Errno.ENOSPC;
    if (port >= e.channels.length) {
      while (port >= e.channels.length) for (let k = 0; k < BUCKET; k++) e.channels.push(freeChannel());
    }
    if (e.channels[port].state === Ecs.free) return port;
  }
  return -Errno.ENOSPC;
}

/** evtchn_free: the pending bit cleared, the state free, notify vCPU 0; the mask untouched. */
function evtchnFree(d: PvDomain, host: EventHost, port: number): void {
  const c = ev(d).channels[port];
  if (c.state > Ecs.reserved) setBit(d, host.sharedInfo + SHARED_INFO.evtchnPending, port, false);
  Object.assign(c, freeChannel());
}

function bitAt(d: PvDomain, base: number, port: number): boolean {
  return (d.mem.bytes[base + (port >> 3)] & (1 << (port & 7))) !== 0;
}

function setBit(d: PvDomain, base: number, port: number, on: boolean): void {
  const at = base + (port >> 3);
  const b = d.mem.bytes[at];
  d.mem.write(at, Uint8Array.of(on ? b | (1 << (port & 7)) : b & ~(1 << (port & 7))));
}

/** evtchn_port_set_pending for a usable channel of this domain. */
export function raisePort(d: PvDomain, host: EventHost, port: number): void {
  if (ev(d).channels[port].state > Ecs.reserved) d.setPending(host.sharedInfo, port);
}

/** send_guest_vcpu_virq / send_guest_domain_virq: the VIRQ's port raised; unbound: nothing. */
export function sendVirq(d: PvDomain, host: EventHost, virq: number): void {
  const port = ev(d).virqToPort[virq];
  if (port !== 0) raisePort(d, host, port);
}

/** The domain `dom` names, as rcu_lock_domain_by_any_id finds it. */
function lookup(d: PvDomain, host: EventHost, dom: number): 'self' | EventPeer | null {
  if (dom === DOMID_SELF || dom === ownDomid(d)) return 'self';
  return host.eventPeer(dom) ?? null;
}

/** The host binds a builder-made port to a peer (libxl's store and console channels, which
 *  xenstored and xenconsoled bind before the domain runs). */
export function bindToPeer(d: PvDomain, port: number, peerDom: number, peerPort: number): void {
  const e = ev(d);
  while (port >= e.channels.length) for (let k = 0; k < BUCKET; k++) e.channels.push(freeChannel());
  Object.assign(e.channels[port], { state: Ecs.interdomain, remoteDom: peerDom, remotePort: peerPort });
}

// ------------------------------------------------------------------ do_event_channel_op

/** do_event_channel_op: each operation reads its struct first (-EFAULT); the ones with
 *  output copy the whole struct back on success only. */
export function eventChannelOp(d: PvDomain, host: EventHost, cmd: number, arg: number): number {
  const size = STRUCT_SIZE[cmd];
  if (size === undefined) return -Errno.ENOSYS;
  const b = d.copyFromGuest(arg, size);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  const u32 = (at: number): number => v.getUint32(at, true);
  const out = (rc: number): number => (rc === 0 && !d.copyToGuest(arg, b) ? -Errno.EFAULT : rc);
  switch (cmd) {
    case EvtchnOp.allocUnbound: return out(allocUnbound(d, host, v));
    case EvtchnOp.bindInterdomain: return out(bindInterdomain(d, host, v));
    case EvtchnOp.bindVirq: return out(bindVirq(d, v));
    case EvtchnOp.bindIpi: return out(bindIpi(d, v));
    case EvtchnOp.bindPirq: return d.cpu.modelError('Xen model: EVTCHNOP_bind_pirq (physical IRQs) is not modelled');
    case EvtchnOp.close: return close(d, host, u32(0));
    case EvtchnOp.send: return send(d, host, u32(0));
    case EvtchnOp.status: return out(status(d, host, v));
    case EvtchnOp.bindVcpu: return bindVcpu(d, u32(0), u32(4));
    case EvtchnOp.unmask: return unmask(d, host, u32(0));
    case EvtchnOp.reset: case EvtchnOp.resetCont: return reset(d, host, v.getUint16(0, true));
    case EvtchnOp.initControl: return out(initControl(d, host, v));
    case EvtchnOp.expandArray: return -Errno.EOPNOTSUPP; // evtchn_fifo_expand_array without FIFO
    case EvtchnOp.setPriority:
      // 2-level has no set_priority op: -ENOSYS for any valid port.
      return valid(d, u32(0)) ? -Errno.ENOSYS : -Errno.EINVAL;
    default: return -Errno.ENOSYS;
  }
}

/** The sizes of the operations' structs (public/event_channel.h, x86-64). */
const STRUCT_SIZE: Record<number, number> = {
  [EvtchnOp.bindInterdomain]: 12, [EvtchnOp.bindVirq]: 12, [EvtchnOp.bindPirq]: 12, [EvtchnOp.close]: 4,
  [EvtchnOp.send]: 4, [EvtchnOp.status]: 24, [EvtchnOp.allocUnbound]: 8, [EvtchnOp.bindIpi]: 8, [EvtchnOp.bindVcpu]: 8,
  [EvtchnOp.unmask]: 4, [EvtchnOp.reset]: 2, [EvtchnOp.initControl]: 24, [EvtchnOp.expandArray]: 8,
  [EvtchnOp.setPriority]: 8, [EvtchnOp.resetCont]: 2,
};

/** evtchn_alloc_unbound: {dom @0, remote_dom @2, port @4 out}. */
function allocUnbound(d: PvDomain, host: EventHost, v: DataView): number {
  const target = lookup(d, host, v.getUint16(0, true));
  if (target === null) return -Errno.ESRCH;
  // xsm_evtchn_unbound (XSM_TARGET) after get_free_port, which is undone: a domU's request
  // for another domain changes nothing.
  if (target !== 'self') return d.state.dom0 ? d.cpu.modelError('Xen model: alloc_unbound in a peer domain') : -Errno.EPERM;
  const port = getFreePort(d);
  if (port < 0) return port;
  let remote = v.getUint16(2, true);
  if (remote === DOMID_SELF) remote = ownDomid(d);
  Object.assign(ev(d).channels[port], { state: Ecs.unbound, remoteDom: remote, remotePort: 0 });
  v.setUint32(4, port, true);
  return 0;
}

/** evtchn_bind_interdomain: {remote_dom @0, remote_port @4, local_port @8 out}. The local
 *  port is set pending at once ("we may have lost notifications"). */
function bindInterdomain(d: PvDomain, host: EventHost, v: DataView): number {
  const remote = lookup(d, host, v.getUint16(0, true));
  if (remote === null) return -Errno.ESRCH;
  const lport = getFreePort(d);
  if (lport < 0) return lport;
  const rport = v.getUint32(4, true);
  const local = ev(d).channels[lport];
  if (remote === 'self') {
    if (!valid(d, rport)) return -Errno.EINVAL;
    const r = ev(d).channels[rport];
    if (r.state !== Ecs.unbound || r.remoteDom !== ownDomid(d)) return -Errno.EINVAL;
    Object.assign(r, { state: Ecs.interdomain, remoteDom: ownDomid(d), remotePort: lport });
    Object.assign(local, { state: Ecs.interdomain, remoteDom: ownDomid(d), remotePort: rport });
  } else {
    if (!remote.bindFromGuest(rport, lport)) return -Errno.EINVAL;
    Object.assign(local, { state: Ecs.interdomain, remoteDom: remote.domid, remotePort: rport });
  }
  raisePort(d, host, lport);
  v.setUint32(8, lport, true);
  return 0;
}

/** evtchn_bind_virq: {virq @0, vcpu @4, port @8 out}. */
function bindVirq(d: PvDomain, v: DataView): number {
  const virq = v.getUint32(0, true), vcpu = v.getUint32(4, true);
  if (virq >= NR_VIRQS) return -Errno.EINVAL;
  const perVcpu = (PER_VCPU_VIRQS as readonly number[]).includes(virq);
  if (!perVcpu && vcpu !== 0) return -Errno.EINVAL;
  if (vcpu !== 0) return -Errno.ENOENT;
  // The global VIRQs' handler is the hardware domain unless the toolstack says otherwise;
  // VIRQ_ARGO (11) is per-domain since 4.18.
  if (!perVcpu && virq !== 11 && !d.state.dom0) return -Errno.EBUSY;
  const e = ev(d);
  if (e.virqToPort[virq] !== 0) return -Errno.EEXIST;
  const port = getFreePort(d);
  if (port < 0) return port;
  Object.assign(e.channels[port], { state: Ecs.virq, notifyVcpu: vcpu, virq });
  e.virqToPort[virq] = port;
  v.setUint32(8, port, true);
  return 0;
}

/** evtchn_bind_ipi: {vcpu @0, port @4 out}. */
function bindIpi(d: PvDomain, v: DataView): number {
  const vcpu = v.getUint32(0, true);
  if (vcpu !== 0) return -Errno.ENOENT;
  const port = getFreePort(d);
  if (port < 0) return port;
  Object.assign(ev(d).channels[port], { state: Ecs.ipi, notifyVcpu: vcpu });
  v.setUint32(4, port, true);
  return 0;
}

/** evtchn_close (guest): the far end of an interdomain channel reverts to unbound towards
 *  this domain. */
export function close(d: PvDomain, host: EventHost, port: number): number {
  if (!valid(d, port)) return -Errno.EINVAL;
  const e = ev(d);
  const c = e.channels[port];
  switch (c.state) {
    case Ecs.free: case Ecs.reserved: return -Errno.EINVAL;
    case Ecs.unbound: case Ecs.ipi: break;
    case Ecs.pirq: return d.cpu.modelError('Xen model: a PIRQ channel cannot exist');
    case Ecs.virq: e.virqToPort[c.virq] = 0; break;
    case Ecs.interdomain:
      if (c.remoteDom === ownDomid(d)) {
        Object.assign(e.channels[c.remotePort], { state: Ecs.unbound, remoteDom: ownDomid(d), remotePort: 0 });
      } else {
        host.eventPeer(c.remoteDom)?.closedByGuest(c.remotePort);
      }
      break;
  }
  evtchnFree(d, host, port);
  return 0;
}

/** evtchn_send. */
function send(d: PvDomain, host: EventHost, port: number): number {
  if (!valid(d, port)) return -Errno.EINVAL;
  const c = ev(d).channels[port];
  switch (c.state) {
    case Ecs.interdomain:
      if (c.remoteDom === ownDomid(d)) raisePort(d, host, c.remotePort);
      else host.eventPeer(c.remoteDom)?.notify(c.remotePort);
      return 0;
    case Ecs.ipi: raisePort(d, host, port); return 0;
    case Ecs.unbound: return 0; // "silently drop the notification"
    default: return -Errno.EINVAL;
  }
}

/** evtchn_status: {dom @0, port @4, status @8 out, vcpu @12 out, union @16}. The union is
 *  written only for the states that have one; the rest keeps what the guest passed. */
function status(d: PvDomain, host: EventHost, v: DataView): number {
  const target = lookup(d, host, v.getUint16(0, true));
  if (target === null) return -Errno.ESRCH;
  const port = v.getUint32(4, true);
  if (target !== 'self') return port >= BUCKET ? -Errno.EINVAL : d.state.dom0 ? d.cpu.modelError('Xen model: status of a peer domain\'s port') : -Errno.EPERM;
  if (!valid(d, port)) return -Errno.EINVAL;
  const c = ev(d).channels[port];
  switch (c.state) {
    case Ecs.free: case Ecs.reserved: v.setUint32(8, EvtchnStat.closed, true); break;
    case Ecs.unbound: v.setUint32(8, EvtchnStat.unbound, true); v.setUint16(16, c.remoteDom, true); break;
    case Ecs.interdomain:
      v.setUint32(8, EvtchnStat.interdomain, true); v.setUint16(16, c.remoteDom, true); v.setUint32(20, c.remotePort, true);
      break;
    case Ecs.pirq: return d.cpu.modelError('Xen model: a PIRQ channel cannot exist');
    case Ecs.virq: v.setUint32(8, EvtchnStat.virq, true); v.setUint32(16, c.virq, true); break;
    case Ecs.ipi: v.setUint32(8, EvtchnStat.ipi, true); break;
  }
  v.setUint32(12, c.notifyVcpu, true);
  return 0;
}

/** evtchn_bind_vcpu: the vCPU first (-ENOENT), then the port; vCPU 0 is the only one, so a
 *  permitted rebinding changes nothing. */
function bindVcpu(d: PvDomain, port: number, vcpu: number): number {
  if (vcpu !== 0) return -Errno.ENOENT;
  if (!valid(d, port)) return -Errno.EINVAL;
  const c = ev(d).channels[port];
  switch (c.state) {
    case Ecs.virq: return (PER_VCPU_VIRQS as readonly number[]).includes(c.virq) ? -Errno.EINVAL : 0;
    case Ecs.unbound: case Ecs.interdomain: return 0;
    default: return -Errno.EINVAL;
  }
}

/** evtchn_unmask -> evtchn_2l_unmask (usable channels only): the mask bit cleared, and if it
 *  was set while the port is pending, the selector bit and the upcall raised again. */
function unmask(d: PvDomain, host: EventHost, port: number): number {
  if (!valid(d, port)) return -Errno.EINVAL;
  if (ev(d).channels[port].state <= Ecs.reserved) return 0;
  const mask = host.sharedInfo + SHARED_INFO.evtchnMask;
  const was = bitAt(d, mask, port);
  setBit(d, mask, port, false);
  if (was && bitAt(d, host.sharedInfo + SHARED_INFO.evtchnPending, port)) d.raiseSelector(port >> 6);
  return 0;
}

/** evtchn_reset of the caller (another domain: -EPERM from a domU, -EINVAL from dom0, which
 *  has not paused it): every port from 1 closed as the guest would. */
function reset(d: PvDomain, host: EventHost, dom: number): number {
  const target = lookup(d, host, dom);
  if (target === null) return -Errno.ESRCH;
  if (target !== 'self') return d.state.dom0 ? -Errno.EINVAL : -Errno.EPERM;
  const e = ev(d);
  for (let port = 1; port < e.channels.length; port++) {
    if (e.channels[port].state > Ecs.reserved) close(d, host, port);
  }
  return 0;
}

/** evtchn_fifo_init_control: {control_gfn @0, offset @8, vcpu @12, link_bits @16 out}. The
 *  checks before the switch to FIFO are Xen's; a frame that passes them is a model error. */
function initControl(d: PvDomain, host: EventHost, v: DataView): number {
  v.setUint8(16, 17); // EVTCHN_FIFO_LINK_BITS, written even when it fails
  const offset = v.getUint32(8, true);
  if (v.getUint32(12, true) !== 0) return -Errno.ENOENT;
  if (offset > PAGE - FIFO_CONTROL_BLOCK) return -Errno.EINVAL;
  if ((offset & 7) !== 0) return -Errno.EINVAL;
  // map_guest_page: the frame (a PV gfn is an mfn) must be the domain's and become writable.
  const gfnHi = v.getUint32(4, true), gfn = v.getUint32(0, true);
  const type = host.mm.typeOf(gfn);
  if (gfnHi !== 0 || !host.mm.owns(gfn) || (type !== null && type !== 'writable')) return -Errno.EINVAL;
  return d.cpu.modelError('Xen model: the FIFO event channel ABI (EVTCHNOP_init_control on a valid frame) is not modelled');
}
