// The two 8259A programmable interrupt controllers of a PC (Intel 8259A datasheet, order
// number 231468; QEMU's hw/intc/i8259.c is the oracle for the PC wiring): the master at
// ports 0x20/0x21 takes ISA IRQs 0-7, the slave at 0xA0/0xA1 takes IRQs 8-15 and drives the
// master's IR2 (the cascade); the edge/level control registers (ELCR, as the PC chipsets
// have them beside the 8259s) are at 0x4D0/0x4D1. The master's INT output goes to the
// local APIC's LINT0 (or, with the APIC globally disabled, to the processor's INTR pin).
//
// What a kernel does with them, as the datasheet defines it:
// - Initialisation (datasheet "Initialization Command Words"): ICW1 (A0 = 0, D4 = 1) resets
//   the chip: edge-sense latches reset, IMR cleared, IR7 lowest priority, special mask mode
//   off, status read set to IRR, and without IC4 every ICW4 function 0; then ICW2 (A0 = 1:
//   vector base, bits 7:3), ICW3 (unless SNGL: the slave map, or the slave's ID) and ICW4
//   (if IC4: uPM, AEOI, buffered mode, SFNM) follow on A0 = 1.
// - OCW1 (A0 = 1 when initialised): the IMR, read back on A0 = 1.
// - OCW2 (A0 = 0, D4:D3 = 00): non-specific EOI (clears the highest-priority ISR bit),
//   specific EOI (L2-L0), their rotating forms, rotate in automatic EOI mode, set priority.
// - OCW3 (A0 = 0, D4:D3 = 01): RR/RIS select what A0 = 0 reads (IRR or ISR), P a poll (the
//   next read returns 0x80 | level of the highest request and acknowledges it, or 0),
//   ESMM/SMM the special mask mode.
// - Priority: fully nested by default (IR0 highest), rotated by the rotate commands; an
//   interrupt request is presented (INT) when its IRR bit is set, its IMR bit clear and its
//   priority above every in-service one (ISR bits masked by the IMR in special mask mode,
//   and the cascade's ISR bit ignored on the master in special fully nested mode).
// - Triggering: edge by default (a rising edge sets IRR; ELCR bit 1 makes the line level-
//   sensitive, IRR following the line), as on QEMU's PC.
//
// Deliberate deviations (a guest can tell):
// - No interrupt acknowledge cycle: an interrupt request the master presents while LINT0
//   passes ExtINT (unmasked, delivery mode ExtINT, or the APIC globally disabled) is a model
//   error, raised as soon as both hold (even with RFLAGS.IF = 0), rather than the vector
//   the 8259 would hand the CPU. Kernels that use the I/O APIC (Linux, kvm-unit-tests)
//   mask every 8259 line or LINT0, so nothing they do reaches it; the poll command, which
//   acknowledges without INTA, is modelled.
// - ICW1's LTIM (level-triggered mode for the whole chip) is a model error (QEMU logs it as
//   unimplemented and ignores it); the per-line ELCR is modelled.
// - The 8080/8085 mode fields (ICW1 ADI and A7-A5, ICW4 uPM = 0) and buffered mode are held
//   but change nothing: the vector they would shape is never delivered.
// - An IRR bit set by an edge stays set when the line falls before an acknowledge (as QEMU;
//   the datasheet then presents IR7 as a default on the INTA that never comes here).
// - Accesses wider than a byte are model errors (QEMU splits them into byte accesses).
// - The power-on state is QEMU's reset state (every register 0, IMR and ELCR included), as
//   the local APIC starts in its power-on state (LINT0 masked). QEMU's firmware (SeaBIOS)
//   initialises both before a `-kernel` guest runs, which Ringside's boot does not do: a
//   guest there reads IMRs 0xB8/0x8E, ELCRs 0x00/0x0C and LINT0 0x8700 (ExtINT, unmasked)
//   before it initialises anything (measured on QEMU 7.2), and 0 on Ringside.

import { ModelError } from '../cpu/errors.js';
import type { Lapic } from '../cpu/lapic.js';
import type { IoBus } from './io.js';

export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const ELCR_PORT = 0x4d0;
/** The master's input the slave's INT output drives (ICW3 on a PC: 0x04 and slave ID 2). */
const CASCADE = 2;
/** ELCR bits that can be set: IRQ 0, 1, 2, 8 and 13 are edge-only on a PC (QEMU's masks). */
const ELCR_WRITABLE = [0xf8, 0xde];

export interface PicChipState {
  irr: number; isr: number; imr: number; lines: number; elcr: number;
  /** The next A0 = 1 write: 0 = OCW1, 2 = ICW2, 3 = ICW3, 4 = ICW4. */
  expect: number;
  icw1: number; vectorBase: number; icw3: number; icw4: number;
  readIsr: boolean; poll: boolean; specialMask: boolean; rotateInAeoi: boolean;
  /** The IR level with the lowest priority (7 after ICW1; moved by the rotate commands). */
  lowest: number;
}

export interface Pic8259State {
  chips: PicChipState[];
}

/** One 8259A. */
class Chip {
  s: PicChipState = Chip.reset(0);

  constructor(private readonly master: boolean) {}

  static reset(elcr: number): PicChipState {
    return {
      irr: 0, isr: 0, imr: 0, lines: 0, elcr, expect: 0, icw1: 0, vectorBase: 0, icw3: 0, icw4: 0,
      readIsr: false, poll: false, specialMask: false, rotateInAeoi: false, lowest: 7,
    };
  }

  /** The highest-priority level in `bits` (8: none), counted from the one after `lowest`. */
  private highest(bits: number): number {
    for (let k = 1; k <= 8; k++) {
      const level = (this.s.lowest + k) & 7;
      if ((bits & (1 << level)) !== 0) return level;
    }
    return 8;
  }

  /** The priority rank of `level` (0 = highest), 8 for none. */
  private rank(level: number): number {
    return level === 8 ? 8 : (level - this.s.lowest - 1) & 7;
  }

  /** The request the chip presents on INT (-1: none): the highest unmasked IRR level whose
   *  priority is above every in-service level's. */
  request(): number {
    const s = this.s;
    const want = this.highest(s.irr & ~s.imr);
    if (want === 8) return -1;
    let inService = s.isr;
    if (s.specialMask) inService &= ~s.imr;
    if (this.master && (s.icw4 & 0x10) !== 0) inService &= ~(1 << CASCADE);
    return this.rank(want) < this.rank(this.highest(inService)) ? want : -1;
  }

  /** IR input `line` is driven to `high`. */
  setLine(line: number, high: boolean): void {
    const s = this.s, bit = 1 << line;
    const was = (s.lines & bit) !== 0;
    s.lines = high ? s.lines | bit : s.lines & ~bit;
    if ((s.elcr & bit) !== 0) s.irr = high ? s.irr | bit : s.irr & ~bit;
    else if (high && !was) s.irr |= bit;
  }

  /** Acknowledge `level` (the poll command): into ISR unless AEOI; an edge request leaves IRR. */
  private acknowledge(level: number): void {
    const s = this.s, bit = 1 << level;
    if ((s.icw4 & 0x02) === 0) s.isr |= bit;
    else if (s.rotateInAeoi) s.lowest = level;
    if ((s.elcr & bit) === 0) s.irr &= ~bit;
  }

  write(a0: number, value: number): void {
    const s = this.s;
    if (a0 === 0) {
      if ((value & 0x10) !== 0) return this.icw1(value);
      if ((value & 0x08) !== 0) return this.ocw3(value);
      return this.ocw2(value);
    }
    switch (s.expect) {
      case 0: s.imr = value; return;
      case 2:
        s.vectorBase = value & 0xf8;
        s.expect = (s.icw1 & 0x02) === 0 ? 3 : (s.icw1 & 0x01) !== 0 ? 4 : 0;
        return;
      case 3: s.icw3 = value; s.expect = (s.icw1 & 0x01) !== 0 ? 4 : 0; return;
      default: s.icw4 = value & 0x1f; s.expect = 0;
    }
  }

  /** ICW1: the initialisation sequence starts (datasheet, "Initialization Command Word 1"). */
  private icw1(value: number): void {
    if ((value & 0x08) !== 0) throw new ModelError(`8259 at port 0x${this.port.toString(16)}: ICW1 with LTIM (level-triggered mode for every input) is not modelled`);
    const elcr = this.s.elcr, lines = this.s.lines;
    this.s = Chip.reset(elcr);
    this.s.lines = lines;
    this.s.icw1 = value;
    this.s.expect = 2;
  }

  /** OCW2: EOI and rotation (datasheet, "Operation Command Word 2", Table 1). */
  private ocw2(value: number): void {
    const s = this.s;
    const level = value & 7;
    switch (value >> 5) {
      case 0: s.rotateInAeoi = false; return;
      case 4: s.rotateInAeoi = true; return;
      case 1: case 5: { // non-specific EOI, rotating or not
        const top = this.highest(s.isr);
        if (top === 8) return;
        s.isr &= ~(1 << top);
        if ((value >> 5) === 5) s.lowest = top;
        return;
      }
      case 3: s.isr &= ~(1 << level); return; // specific EOI
      case 7: s.isr &= ~(1 << level); s.lowest = level; return; // rotate on specific EOI
      case 6: s.lowest = level; return; // set priority
      default: return; // 010: no operation
    }
  }

  /** OCW3: read register select, poll, special mask mode ("Operation Command Word 3"). */
  private ocw3(value: number): void {
    const s = this.s;
    if ((value & 0x04) !== 0) s.poll = true;
    if ((value & 0x02) !== 0) s.readIsr = (value & 0x01) !== 0;
    if ((value & 0x40) !== 0) s.specialMask = (value & 0x20) !== 0;
  }

  read(a0: number): number {
    const s = this.s;
    if (s.poll) {
      // Poll: the read is an acknowledge ("Poll Command").
      s.poll = false;
      const level = this.request();
      if (level < 0) return 0;
      this.acknowledge(level);
      return 0x80 | level;
    }
    if (a0 === 1) return s.imr;
    return s.readIsr ? s.isr : s.irr;
  }

  get port(): number {
    return this.master ? PIC_MASTER_PORT : PIC_SLAVE_PORT;
  }
}

/** The master/slave pair, its ports, and its output to the local APIC's LINT0. */
export class Pic8259Pair {
  private readonly chips = [new Chip(true), new Chip(false)];

  constructor(private readonly lapic: Lapic) {
    lapic.lint0Changed = () => this.checkOutput();
  }

  attach(io: IoBus): void {
    this.chips.forEach((chip, k) => {
      for (const a0 of [0, 1]) {
        const port = chip.port + a0;
        io.onOut(port, (value, size) => {
          this.byteOnly(port, size, 'write');
          chip.write(a0, value & 0xff);
          this.update();
        });
        io.onIn(port, (size) => {
          this.byteOnly(port, size, 'read');
          const v = chip.read(a0);
          this.update();
          return v;
        });
      }
      io.onOut(ELCR_PORT + k, (value, size) => {
        this.byteOnly(ELCR_PORT + k, size, 'write');
        chip.s.elcr = value & ELCR_WRITABLE[k];
        this.update();
      });
      io.onIn(ELCR_PORT + k, (size) => {
        this.byteOnly(ELCR_PORT + k, size, 'read');
        return chip.s.elcr;
      });
    });
  }

  /** ISA IRQ line `line` (0-15) is driven to `level`. */
  setIrq(line: number, level: boolean): void {
    this.chips[line >> 3].setLine(line & 7, level);
    this.update();
  }

  /** The slave's INT output drives the master's IR2; then the master's output is checked. */
  private update(): void {
    this.chips[0].setLine(CASCADE, this.chips[1].request() >= 0);
    this.checkOutput();
  }

  /** See the deviations: a request that would reach the CPU is a model error. */
  private checkOutput(): void {
    const level = this.chips[0].request();
    if (level < 0 || !this.lapic.passesExtInt()) return;
    const irq = level === CASCADE ? `IRQ${8 + this.chips[1].request()} (through the slave)` : `IRQ${level}`;
    throw new ModelError(`8259: ${irq} is requested while LINT0 passes ExtINT to the CPU; delivering an 8259 interrupt (the INTA cycle) is not modelled`);
  }

  private byteOnly(port: number, size: number, what: string): void {
    if (size !== 1) throw new ModelError(`8259: a ${size}-byte ${what} of port 0x${port.toString(16)} is not modelled (only byte accesses)`);
  }

  capture(): Pic8259State {
    return { chips: this.chips.map((c) => ({ ...c.s })) };
  }

  restore(state: unknown): void {
    const s = state as Pic8259State;
    this.chips.forEach((c, k) => { c.s = { ...s.chips[k] }; });
  }
}
