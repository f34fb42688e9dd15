// A 16550A UART (the PC's COM1 at I/O ports 0x3F8-0x3FF), register by register
// as the TI/National PC16550D datasheet describes it (its register summary and
// the register descriptions, cited by register name below). Bytes written to the transmitter go to `transmit`
// (the run's console); nothing is ever received from outside.
//
// Deliberate deviations from the datasheet (a guest can tell):
// - The transmitter is infinitely fast: a byte written to THR leaves at once,
//   so LSR.THRE and LSR.TEMT always read 1 and the transmit FIFO is always empty.
//   The baud rate (divisor latch) and the line format (LCR) are kept and read
//   back but change nothing.
// - No interrupt is delivered: there is no interrupt controller in the machine.
//   IIR still identifies the highest-priority pending condition as the
//   datasheet's interrupt control functions table orders them (line status, received data, THR empty,
//   modem status); the character-timeout indication (IIR 0xC) never appears,
//   since it needs time to pass with no receive activity.
// - The modem status inputs with nothing attached read as a ready peer: DCD,
//   DSR and CTS asserted, RI not (MSR 0xB0), as QEMU's serial device shows them.
//   In loopback (MCR bit 4) they follow the modem control outputs as the
//   datasheet requires, with the delta bits set on every change.
// - Reading RBR with nothing received returns 0 in FIFO mode and the last
//   received byte otherwise (the datasheet leaves it open; QEMU does this).
// - No parity, framing or break errors ever occur, so LSR bits 2-4 and 7 stay 0.
// - Accesses wider than a byte are split into byte accesses to consecutive
//   ports, as an ISA bus splits them for an 8-bit device.

import type { IoBus } from './io.js';

export const COM1_BASE = 0x3f8;
/** Receive FIFO depth (datasheet: 16 bytes). */
export const RX_FIFO_DEPTH = 16;

// Register offsets (datasheet register summary).
export const UART_RBR_THR_DLL = 0;
export const UART_IER_DLM = 1;
export const UART_IIR_FCR = 2;
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const LCR_DLAB = 0x80;
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const MCR_LOOP = 0x10;
const IER_ERBFI = 0x01;
const IER_ETBEI = 0x02;
const IER_ELSI = 0x04;
const IER_EDSSI = 0x08;
const FCR_ENABLE = 0x01;
const FCR_RX_RESET = 0x02;
/** IIR bits 7-6: both set while the FIFOs are enabled. */
const IIR_FIFOS = 0xc0;
const IIR_NONE = 0x01;
const IIR_RLS = 0x06;
const IIR_RDA = 0x04;
const IIR_THRE = 0x02;
const IIR_MS = 0x00;
/** MSR input bits: CTS, DSR, RI, DCD; the deltas are the low nibble. */
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
/** Inputs with nothing attached (see the deviations above). */
const MSR_IDLE = MSR_DCD | MSR_DSR | MSR_CTS;
/** Receiver FIFO trigger levels selected by FCR bits 7-6 (FIFO Control Register). */
const RX_TRIGGER = [1, 4, 8, 14];

export interface UartState {
  ier: number; fcr: number; lcr: number; mcr: number; scr: number; dll: number; dlm: number;
  overrun: boolean; msr: number; thrPending: boolean; rx: number[]; rbr: number;
}

export class Uart16550 {
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  /** LSR's sticky overrun bit; DR, THRE and TEMT are derived. */
  private overrun = false;
  /** Modem status: inputs in bits 7-4, deltas in bits 3-0. */
  private msr = MSR_IDLE;
  /** The THR-empty interrupt condition (set when THR empties with ETBEI on). */
  private thrPending = false;
  /** Received bytes not yet read: at most 16 in FIFO mode, 1 (the RBR) otherwise. */
  private readonly rx: number[] = [];
  private rbr = 0;

  constructor(private readonly transmit: (byte: number) => void) {}

  /** Every register and the receive FIFO, as plain data. */
  capture(): UartState {
    return {
      ier: this.ier, fcr: this.fcr, lcr: this.lcr, mcr: this.mcr, scr: this.scr, dll: this.dll, dlm: this.dlm,
      overrun: this.overrun, msr: this.msr, thrPending: this.thrPending, rx: [...this.rx], rbr: this.rbr,
    };
  }

  restore(state: unknown): void {
    const s = state as UartState;
    this.ier = s.ier; this.fcr = s.fcr; this.lcr = s.lcr; this.mcr = s.mcr; this.scr = s.scr;
    this.dll = s.dll; this.dlm = s.dlm; this.overrun = s.overrun; this.msr = s.msr;
    this.thrPending = s.thrPending; this.rbr = s.rbr;
    this.rx.length = 0;
    this.rx.push(...s.rx);
  }

  /** Claim the eight ports at `base` on the bus. */
  attach(io: IoBus, base = COM1_BASE): void {
    for (let reg = 0; reg < 8; reg++) {
      const port = base + reg;
      io.onOut(port, (value, size) => {
        if (size === 1) this.write(reg, value & 0xff);
        else for (let k = 0; k < size; k++) io.out((port + k) & 0xffff, (value >>> (8 * k)) & 0xff, 1);
      });
      io.onIn(port, (size) => {
        if (size === 1) return this.read(reg);
        let v = 0;
        for (let k = 0; k < size; k++) v |= io.in((port + k) & 0xffff, 1) << (8 * k);
        return v >>> 0;
      });
    }
  }

  private get dlab(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  private get fifoMode(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  /** A register read at offset reg (0-7), with its side effects. */
  read(reg: number): number {
    switch (reg) {
      case UART_RBR_THR_DLL: {
        if (this.dlab) return this.dll;
        // Receiver Buffer Register: a read takes the oldest received byte.
        if (this.rx.length > 0) this.rbr = this.rx.shift()!;
        else if (this.fifoMode) return 0;
        return this.rbr;
      }
      case UART_IER_DLM:
        return this.dlab ? this.dlm : this.ier;
      case UART_IIR_FCR: {
        const id = this.interruptId();
        // Interrupt control functions: reading IIR resets the THR-empty interrupt when it is the one shown.
        if (id === IIR_THRE) this.thrPending = false;
        return id | (this.fifoMode ? IIR_FIFOS : 0);
      }
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR: {
        const v = this.lsr();
        this.overrun = false; // Line Status Register: OE is reset when the CPU reads LSR
        return v;
      }
      case UART_MSR: {
        const v = this.msr;
        this.msr &= 0xf0; // Modem Status Register: the delta bits are reset when the CPU reads MSR
        return v;
      }
      default:
        return this.scr;
    }
  }

  /** A register write at offset reg (0-7). */
  write(reg: number, value: number): void {
    switch (reg) {
      case UART_RBR_THR_DLL:
        if (this.dlab) {
          this.dll = value;
          return;
        }
        this.transmitByte(value);
        return;
      case UART_IER_DLM: {
        if (this.dlab) {
          this.dlm = value;
          return;
        }
        const before = this.ier;
        this.ier = value & 0x0f; // Interrupt Enable Register: bits 7-4 are always 0
        // Enabling ETBEI while THR is empty (it always is) raises the THR-empty condition.
        if ((this.ier & IER_ETBEI) !== 0 && (before & IER_ETBEI) === 0) this.thrPending = true;
        if ((this.ier & IER_ETBEI) === 0) this.thrPending = false;
        return;
      }
      case UART_IIR_FCR:
        this.writeFcr(value);
        return;
      case UART_LCR:
        this.lcr = value;
        return;
      case UART_MCR:
        this.mcr = value & 0x1f; // Modem Control Register: bits 7-5 are always 0
        this.setModemInputs(this.loopback ? loopbackInputs(this.mcr) : MSR_IDLE);
        return;
      case UART_LSR:
      case UART_MSR:
        // Status registers: the datasheet reserves writing LSR for factory test; both writes are ignored (as in QEMU).
        return;
      default:
        this.scr = value;
    }
  }

  private lsr(): number {
    return (this.rx.length > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0) | LSR_THRE | LSR_TEMT;
  }

  /** IIR bits 3-0: the highest-priority pending condition (datasheet Table 4). */
  private interruptId(): number {
    if ((this.ier & IER_ELSI) !== 0 && this.overrun) return IIR_RLS;
    if ((this.ier & IER_ERBFI) !== 0 && this.rx.length >= (this.fifoMode ? RX_TRIGGER[this.fcr >>> 6]! : 1)) return IIR_RDA;
    if ((this.ier & IER_ETBEI) !== 0 && this.thrPending) return IIR_THRE;
    if ((this.ier & IER_EDSSI) !== 0 && (this.msr & 0x0f) !== 0) return IIR_MS;
    return IIR_NONE;
  }

  private transmitByte(byte: number): void {
    // Modem Control Register, loop bit: the transmitter output is connected to the receiver
    // and nothing leaves the chip.
    if (this.loopback) this.receive(byte);
    else this.transmit(byte);
    // Writing THR resets the THR-empty condition; the byte leaves at once and
    // THR is empty again, which raises it anew while ETBEI is set.
    this.thrPending = (this.ier & IER_ETBEI) !== 0;
  }

  private receive(byte: number): void {
    if (this.fifoMode) {
      // Line Status Register, OE in FIFO mode: the FIFO keeps its contents; the new character is lost.
      if (this.rx.length < RX_FIFO_DEPTH) this.rx.push(byte);
      else this.overrun = true;
    } else {
      // Non-FIFO mode: the new character overwrites an unread RBR.
      if (this.rx.length > 0) {
        this.overrun = true;
        this.rx.length = 0;
      }
      this.rx.push(byte);
    }
  }

  private writeFcr(value: number): void {
    // FIFO Control Register: bit 0 must be set for the other bits to be written; changing it clears both FIFOs.
    const enable = value & FCR_ENABLE;
    if (enable !== (this.fcr & FCR_ENABLE)) this.rx.length = 0;
    if (!enable) {
      this.fcr = 0;
      return;
    }
    if ((value & FCR_RX_RESET) !== 0) this.rx.length = 0;
    // Bits 1-2 self-clear; bit 3 (DMA mode) and the trigger level are kept.
    this.fcr = value & 0xc9;
  }

  private setModemInputs(inputs: number): void {
    const old = this.msr & 0xf0;
    const changed = old ^ inputs;
    let delta = this.msr & 0x0f;
    if (changed & MSR_CTS) delta |= 0x01;
    if (changed & MSR_DSR) delta |= 0x02;
    if (old & MSR_RI && !(inputs & MSR_RI)) delta |= 0x04; // TERI: trailing edge of RI
    if (changed & MSR_DCD) delta |= 0x08;
    this.msr = inputs | delta;
  }
}

/** Modem Control Register, loop bit: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2. */
function loopbackInputs(mcr: number): number {
  return ((mcr & 0x02) ? MSR_CTS : 0) | ((mcr & 0x01) ? MSR_DSR : 0) | ((mcr & 0x04) ? MSR_RI : 0) | ((mcr & 0x08) ? MSR_DCD : 0);
}
