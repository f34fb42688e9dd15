// The I/O APIC at 0xFEC00000, as a PC has it (Intel 82093AA I/O APIC datasheet, order number
// 290566, and the I/O APIC chapter of the ICH datasheets, which add the EOI register of
// version 0x20) and as QEMU's pc machine provides it (hw/intc/ioapic.c, the oracle: version
// 0x20, 24 pins). It turns the level of each of its 24 input pins into messages to the local
// APIC (src/cpu/lapic.ts) as its redirection table says.
//
//   offset 0x00  IOREGSEL: bits 7:0 select the register IOWIN shows.
//   offset 0x10  IOWIN: the selected register.
//   offset 0x40  EOI (version 0x20): a write of a vector clears the remote IRR of every
//                level-triggered entry with that vector, as the local APIC's EOI broadcast does.
//   register 0x00  ID: bits 27:24 the I/O APIC ID (read/write); the rest reads 0.
//   register 0x01  version: 0x20, maximum redirection entry 23 in bits 23:16 (read-only).
//   register 0x02  arbitration ID: bits 27:24, loaded from the ID (read-only).
//   registers 0x10 + 2*i, 0x11 + 2*i  redirection entry i (i < 24), low and high dwords:
//                vector 7:0, delivery mode 10:8, destination mode 11, delivery status 12
//                (read-only), polarity 13, remote IRR 14 (read-only), trigger mode 15 (1 =
//                level), mask 16, destination 63:56. Reset: masked, all else 0.
//
// Delivery (82093AA §3.2.4 and the QEMU behaviour kvm-unit-tests' x86/ioapic.c checks):
// - An edge-triggered entry sends one message on each rising edge of its pin while unmasked;
//   an edge on a masked pin is ignored, not held (datasheet, mask bit: "Edge-sensitive
//   interrupts signaled on a masked interrupt pin are ignored").
// - A level-triggered entry sends a message while its pin is asserted, it is unmasked and
//   its remote IRR is clear, and sets remote IRR; the local APIC's EOI of that vector (or
//   a write of it to the EOI register) clears remote IRR, and a pin still asserted sends
//   again. Unmasking an entry whose pin is asserted sends it.
// - Writing an entry re-evaluates every pin; writing one as edge-triggered clears its
//   remote IRR (the datasheet leaves remote IRR undefined for edge-triggered entries;
//   QEMU clears it, and Linux relies on that to clear a stuck remote IRR).
// - A fixed or lowest-priority message goes to the local APIC when it is among the
//   destinations (physical: the APIC ID; logical: the LDR/DFR match), level-triggered ones
//   setting the TMR bit; with one vCPU, lowest priority picks it. A message no APIC takes
//   is dropped; a level-triggered entry's remote IRR is set all the same (as QEMU).
//
// Deliberate deviations (a guest can tell):
// - SMI, NMI, INIT and ExtINT delivery modes and the reserved modes 3 and 6 are model
//   errors when an entry with them would send, as is an active-low entry (polarity 1) on a
//   pin whose level changes: Ringside's only interrupt source (pc-testdev) drives ISA lines
//   active high, and what an inverted idle line would do is not modelled.
// - Accesses other than aligned 4-byte ones at 0x00, 0x10 or 0x40, and selecting a register
//   other than those above, are model errors (QEMU ignores them or reads 0; the page above
//   0x40 is reserved in the datasheets). Reserved redirection-entry bits 55:17 hold what is
//   written, as QEMU's do.
// - An edge is a change of the pin's level from 0 to 1: driving a pin that is already
//   asserted to 1 again sends nothing (QEMU sends again for an edge-triggered entry).
// - Every message is sent at once (no APIC bus arbitration), so delivery status reads 0.
// - QEMU delays redelivery by 10 ms of virtual time after 10000 successive EOIs of a line
//   that stays asserted (an interrupt-storm guard); Ringside redelivers every time.

import { ModelError } from '../cpu/errors.js';
import type { Lapic } from '../cpu/lapic.js';
import type { MmioDevice } from './memory.js';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
const VERSION = 0x20 | ((IOAPIC_PINS - 1) << 16);

const IOREGSEL = 0x00, IOWIN = 0x10, EOI = 0x40;
const REG_ID = 0x00, REG_VERSION = 0x01, REG_ARB = 0x02, REG_REDIR = 0x10;

/** Redirection entry bits (low dword). */
const DELIVERY_STATUS = 1 << 12;
const POLARITY_LOW = 1 << 13;
const REMOTE_IRR = 1 << 14;
const TRIGGER_LEVEL = 1 << 15;
const MASKED = 1 << 16;
const LOGICAL = 1 << 11;
const READ_ONLY = DELIVERY_STATUS | REMOTE_IRR;

const MODE_NAMES = ['fixed', 'lowest priority', 'SMI', 'reserved mode 3', 'NMI', 'INIT', 'reserved mode 6', 'ExtINT'];

export interface IoApicState {
  ioregsel: number;
  id: number;
  lo: number[];
  hi: number[];
  /** The level of each input pin (1 = asserted). */
  pins: number[];
}

export class IoApic implements MmioDevice {
  private ioregsel = 0;
  private id = 0;
  private readonly lo = new Int32Array(IOAPIC_PINS).fill(MASKED);
  private readonly hi = new Int32Array(IOAPIC_PINS);
  private readonly pins = new Uint8Array(IOAPIC_PINS);

  /** `lapic` is the one vCPU's local APIC, which the I/O APIC's messages reach; its EOI
   *  broadcasts come back here. */
  constructor(private readonly lapic: Lapic) {
    lapic.eoiBroadcast = (vector) => this.eoi(vector);
  }

  capture(): IoApicState {
    return { ioregsel: this.ioregsel, id: this.id, lo: Array.from(this.lo), hi: Array.from(this.hi), pins: Array.from(this.pins) };
  }

  restore(state: unknown): void {
    const s = state as IoApicState;
    this.ioregsel = s.ioregsel;
    this.id = s.id;
    this.lo.set(s.lo);
    this.hi.set(s.hi);
    this.pins.set(s.pins);
  }

  /** Input pin `pin` is driven to `level`. */
  setPin(pin: number, level: boolean): void {
    const was = this.pins[pin] !== 0;
    this.pins[pin] = level ? 1 : 0;
    if (was === level) {
      if (level) this.service(pin);
      return;
    }
    const e = this.lo[pin];
    if ((e & POLARITY_LOW) !== 0) {
      throw new ModelError(`I/O APIC: pin ${pin} changes level under an active-low redirection entry (polarity 1), which is not modelled`);
    }
    if ((e & TRIGGER_LEVEL) !== 0) {
      if (level) this.service(pin);
    } else if (level && (e & MASKED) === 0) {
      this.send(pin);
    }
  }

  /** A level-triggered pin that is asserted, unmasked and not awaiting an EOI sends. */
  private service(pin: number): void {
    const e = this.lo[pin];
    if ((e & TRIGGER_LEVEL) === 0 || this.pins[pin] === 0 || (e & MASKED) !== 0 || (e & REMOTE_IRR) !== 0) return;
    this.lo[pin] = e | REMOTE_IRR;
    this.send(pin);
  }

  /** Send entry `pin`'s message to the local APIC (82093AA §3.2.4). */
  private send(pin: number): void {
    const e = this.lo[pin];
    const mode = (e >> 8) & 7;
    if (mode > 1) throw new ModelError(`I/O APIC: pin ${pin} sends in delivery mode ${mode} (${MODE_NAMES[mode]}), which is not modelled`);
    const dest = this.hi[pin] >>> 24;
    if (!this.lapic.isIoApicDestination(dest, (e & LOGICAL) !== 0)) return;
    const vector = e & 0xff;
    if ((e & TRIGGER_LEVEL) !== 0) this.lapic.receiveLevel(vector);
    else this.lapic.receive(vector);
  }

  /** An EOI for `vector` (the local APIC's broadcast, or the EOI register): every
   *  level-triggered entry with that vector leaves remote IRR, and sends again if its pin
   *  is still asserted. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.lo[pin];
      if ((e & 0xff) !== vector || (e & TRIGGER_LEVEL) === 0 || (e & REMOTE_IRR) === 0) continue;
      this.lo[pin] = e & ~REMOTE_IRR;
      this.service(pin);
    }
  }

  read(offset: number, size: 1 | 2 | 4): number {
    this.check(offset, size, 'read');
    if (offset === IOREGSEL) return this.ioregsel;
    if (offset === IOWIN) return this.readRegister();
    return this.unmodelled('a read of the EOI register (write-only)');
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.check(offset, size, 'write');
    if (offset === IOREGSEL) this.ioregsel = value & 0xff;
    else if (offset === IOWIN) this.writeRegister(value);
    else this.eoi(value & 0xff);
  }

  private readRegister(): number {
    const r = this.ioregsel;
    if (r === REG_ID || r === REG_ARB) return this.id << 24;
    if (r === REG_VERSION) return VERSION;
    const pin = (r - REG_REDIR) >> 1;
    if (r >= REG_REDIR && pin < IOAPIC_PINS) return (r & 1) !== 0 ? this.hi[pin] : this.lo[pin];
    return this.unmodelled(`a read of register 0x${r.toString(16)}`);
  }

  private writeRegister(value: number): void {
    const r = this.ioregsel;
    if (r === REG_ID) { this.id = (value >>> 24) & 0xf; return; }
    if (r === REG_VERSION || r === REG_ARB) return; // read-only
    const pin = (r - REG_REDIR) >> 1;
    if (r < REG_REDIR || pin >= IOAPIC_PINS) this.unmodelled(`a write of register 0x${r.toString(16)}`);
    if ((r & 1) !== 0) {
      this.hi[pin] = value;
    } else {
      let e = (value & ~READ_ONLY) | (this.lo[pin] & READ_ONLY);
      if ((e & TRIGGER_LEVEL) === 0) e &= ~REMOTE_IRR;
      this.lo[pin] = e;
    }
    for (let p = 0; p < IOAPIC_PINS; p++) this.service(p);
  }

  private check(offset: number, size: number, what: string): void {
    if (size !== 4 || (offset !== IOREGSEL && offset !== IOWIN && offset !== EOI)) {
      this.unmodelled(`a ${size}-byte ${what} at physical 0x${(IOAPIC_BASE + offset).toString(16)} (only aligned 4-byte accesses to IOREGSEL, IOWIN and EOI are modelled)`);
    }
  }

  private unmodelled(what: string): never {
    throw new ModelError(`I/O APIC: ${what} is not modelled`);
  }
}
