// xenconsoled's side of a domU's PV console ring (tools/console/daemon/io.c at c447b7308b;
// the ring is struct xencons_interface, xen/include/public/io/console.h): the toolstack
// domain's daemon that copies what the guest writes into out[] to the run's console and
// feeds the run's console input into in[].
//
// xenconsoled runs on another CPU of dom0, so it does its work while the guest's vCPU is not
// running: the host calls runDeferred() from its runPeers hook (SCHEDOP_block, _poll, _yield).
// A notification only records that an event arrived on xenconsoled's port
// (handle_ring_read, xenevtchn_pending); the ring is read later, which is what lets a guest
// that writes faster than it is read find the ring full and wait.
//
// Output (buffer_append): indices snapshotted; size = out_prod - out_cons; 0 or more than
// the ring (2048: corrupt) -> nothing is taken; otherwise all of it, out_cons = out_prod, and
// an event back on the guest's console port.
// Input (handle_tty_read): free = 1024 - (in_prod - in_cons), 0 when that exceeds the ring
// (corrupt); at most 80 bytes per read of the pty (its msg[80]), stored at
// in[in_prod++ & 1023], in_prod published, an event on the port.
//
// Deliberate deviations: no rate limit (RATE_LIMIT_ALLOWANCE events per RATE_LIMIT_PERIOD
// of wall time; the model has no wall time). A notification still unserved when the domain
// ends is served then (the event reached xenconsoled before the toolstack destroyed the
// domain; handle_ring_read skips only a dead domain).

import type { PhysicalMemory } from '../../machine/memory.js';
import { XENCONS } from '../../arch/xen.js';

/** sizeof(msg) in handle_tty_read: the most one read of the pty delivers. */
const TTY_READ = 80;

/** What xenconsoled keeps about the domain's console, captured with the machine. */
export interface ConsoleState {
  /** An event arrived on xenconsoled's port and the ring has not been read since. */
  notified: boolean;
  /** Console input not yet delivered (the pty's unread bytes). */
  input: number[];
}

/** What xenconsoled reaches: the machine, the ring's place, the guest's event channel. */
export interface ConsolePeerHost {
  readonly mem: PhysicalMemory;
  /** Machine address of the ring page. */
  readonly ringAddress: number;
  /** The run's console: what a user of the pty sees. */
  consoleWrite(bytes: Uint8Array): void;
  /** Raise the guest's console port (xenevtchn_notify on the interdomain channel). */
  notifyGuest(): void;
}

export function newConsoleState(input: Uint8Array): ConsoleState {
  return { notified: false, input: [...input] };
}

export class Xenconsoled {
  constructor(private readonly host: ConsolePeerHost, public state: ConsoleState) {}

  /** The guest sent on the console channel (EVTCHNOP_send). */
  notify(): void {
    this.state.notified = true;
  }

  /** Work xenconsoled would have done while the vCPU did not run; true if it did any. */
  runDeferred(): boolean {
    let did = false;
    if (this.state.notified) {
      this.state.notified = false;
      did = this.readOutput() || did;
    }
    if (this.state.input.length > 0) did = this.writeInput() || did;
    return did;
  }

  /** buffer_append: take the whole of out[]'s content, then notify. */
  private readOutput(): boolean {
    const mem = this.host.mem;
    const ring = this.host.ringAddress;
    let cons = mem.readU32(ring + XENCONS.outCons);
    const prod = mem.readU32(ring + XENCONS.outProd);
    const size = (prod - cons) >>> 0;
    if (size === 0 || size > XENCONS.outSize) return false;
    const taken = new Uint8Array(size);
    for (let k = 0; k < size; k++) {
      taken[k] = mem.bytes[ring + XENCONS.out + (cons & (XENCONS.outSize - 1))];
      cons = (cons + 1) >>> 0;
    }
    mem.writeU32(ring + XENCONS.outCons, cons);
    this.host.notifyGuest();
    this.host.consoleWrite(taken);
    return true;
  }

  /** handle_tty_read: up to 80 bytes into the free part of in[], then notify. */
  private writeInput(): boolean {
    const mem = this.host.mem;
    const ring = this.host.ringAddress;
    const used = (mem.readU32(ring + XENCONS.inProd) - mem.readU32(ring + XENCONS.inCons)) >>> 0;
    const free = used > XENCONS.inSize ? 0 : XENCONS.inSize - used;
    const n = Math.min(free, TTY_READ, this.state.input.length);
    if (n === 0) return false;
    let prod = mem.readU32(ring + XENCONS.inProd);
    for (const b of this.state.input.splice(0, n)) {
      mem.write(ring + XENCONS.in + (prod & (XENCONS.inSize - 1)), Uint8Array.of(b));
      prod = (prod + 1) >>> 0;
    }
    mem.writeU32(ring + XENCONS.inProd, prod);
    this.host.notifyGuest();
    return true;
  }
}
