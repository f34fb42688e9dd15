// The 16550 UART on COM1, register by register against the TI/National PC16550D
// datasheet (register summary; the interrupt control functions table for IIR;
// the LCR, LSR, FCR, IER, MCR, MSR and SCR descriptions for the rest).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runImage } from '../src/lab/run.js';
import { buildPvhImage, EXIT_ZERO_CODE } from './helpers/pvh-image.js';
import { IoBus } from '../src/machine/io.js';
import { COM1_BASE, Uart16550 } from '../src/machine/uart16550.js';

const THR = COM1_BASE, RBR = COM1_BASE, DLL = COM1_BASE, IER = COM1_BASE + 1, DLM = COM1_BASE + 1;
const IIR = COM1_BASE + 2, FCR = COM1_BASE + 2, LCR = COM1_BASE + 3, MCR = COM1_BASE + 4;
const LSR = COM1_BASE + 5, MSR = COM1_BASE + 6, SCR = COM1_BASE + 7;

function uart() {
  const sent: number[] = [];
  const io = new IoBus();
  new Uart16550((b) => sent.push(b)).attach(io);
  return { sent, out: (port: number, v: number, size: 1 | 2 | 4 = 1) => io.out(port, v, size), inb: (port: number, size: 1 | 2 | 4 = 1) => io.in(port, size) };
}

describe('16550 UART registers (PC16550D datasheet)', () => {
  it('THR: a byte written with DLAB = 0 is transmitted', () => {
    const u = uart();
    for (const c of [0x48, 0x69, 0x0a]) u.out(THR, c);
    assert.deepEqual(u.sent, [0x48, 0x69, 0x0a]);
  });

  it('DLAB = 1 maps the divisor latch at offsets 0 and 1; it keeps its value and IER/THR are untouched', () => {
    const u = uart();
    u.out(IER, 0x05);
    u.out(LCR, 0x83);
    u.out(DLL, 0x0c);
    u.out(DLM, 0x34);
    assert.equal(u.inb(DLL), 0x0c);
    assert.equal(u.inb(DLM), 0x34);
    assert.equal(u.inb(LCR), 0x83);
    assert.deepEqual(u.sent, [], 'a write to DLL is not a transmission');
    u.out(LCR, 0x03);
    assert.equal(u.inb(IER), 0x05, 'IER is back at offset 1');
    u.out(LCR, 0x83);
    assert.equal(u.inb(DLL) | (u.inb(DLM) << 8), 0x340c, 'the latch kept its value across DLAB = 0');
  });

  it('SCR holds any byte', () => {
    const u = uart();
    for (const v of [0x00, 0xa5, 0x5a, 0xff]) {
      u.out(SCR, v);
      assert.equal(u.inb(SCR), v);
    }
  });

  it('LSR: THRE and TEMT set, no data, no error (0x60); IER bits 7-4 read 0; MCR bits 7-5 read 0', () => {
    const u = uart();
    assert.equal(u.inb(LSR), 0x60);
    u.out(IER, 0xff);
    assert.equal(u.inb(IER), 0x0f);
    u.out(MCR, 0xff);
    assert.equal(u.inb(MCR), 0x1f);
  });

  it('IIR: 0x01 with nothing pending; bits 7-6 set while the FIFOs are enabled', () => {
    const u = uart();
    assert.equal(u.inb(IIR), 0x01);
    u.out(FCR, 0x07);
    assert.equal(u.inb(IIR), 0xc1);
    u.out(FCR, 0x00);
    assert.equal(u.inb(IIR), 0x01);
  });

  it('IIR: enabling ETBEI with THR empty shows "THR empty" (0x2); reading IIR clears it; writing THR raises it again', () => {
    const u = uart();
    u.out(IER, 0x02);
    assert.equal(u.inb(IIR), 0x02);
    assert.equal(u.inb(IIR), 0x01);
    u.out(THR, 0x41);
    assert.equal(u.inb(IIR), 0x02, 'the THR emptied again after the byte left');
    u.out(IER, 0x00);
    assert.equal(u.inb(IIR), 0x01);
  });

  it('loopback: THR goes to the receiver, not the line; LSR.DR; RBR returns the byte', () => {
    const u = uart();
    u.out(MCR, 0x10);
    u.out(THR, 0x52);
    assert.deepEqual(u.sent, []);
    assert.equal(u.inb(LSR), 0x61);
    assert.equal(u.inb(RBR), 0x52);
    assert.equal(u.inb(LSR), 0x60);
  });

  it('non-FIFO overrun: a second byte overwrites RBR and sets OE; reading LSR clears OE', () => {
    const u = uart();
    u.out(MCR, 0x10);
    u.out(THR, 0x31);
    u.out(THR, 0x32);
    assert.equal(u.inb(LSR), 0x63);
    assert.equal(u.inb(LSR), 0x61);
    assert.equal(u.inb(RBR), 0x32);
    assert.equal(u.inb(LSR), 0x60);
  });

  it('FIFO overrun: the 16 received bytes stay, the 17th is lost; FCR bit 1 clears the receive FIFO', () => {
    const u = uart();
    u.out(FCR, 0x01);
    u.out(MCR, 0x10);
    for (let i = 0; i < 17; i++) u.out(THR, 0x61 + i);
    assert.equal(u.inb(LSR), 0x63);
    const got: number[] = [];
    while (u.inb(LSR) & 1) got.push(u.inb(RBR));
    assert.deepEqual(got, Array.from({ length: 16 }, (_, i) => 0x61 + i));
    u.out(THR, 0x7a);
    u.out(FCR, 0x03);
    assert.equal(u.inb(LSR), 0x60, 'receive FIFO reset');
  });

  it('IIR received-data indication follows the FIFO trigger level; line status has priority over it', () => {
    const u = uart();
    u.out(FCR, 0x41); // FIFOs on, trigger level 4
    u.out(MCR, 0x10);
    u.out(IER, 0x05); // ERBFI | ELSI
    for (let i = 0; i < 3; i++) u.out(THR, 0x30 + i);
    assert.equal(u.inb(IIR), 0xc1, '3 bytes: below the trigger level');
    u.out(THR, 0x33);
    assert.equal(u.inb(IIR), 0xc4, '4 bytes: received data available');
    for (let i = 0; i < 13; i++) u.out(THR, 0x40 + i);
    assert.equal(u.inb(IIR), 0xc6, 'overrun: receiver line status comes first');
    u.inb(LSR);
    assert.equal(u.inb(IIR), 0xc4);
  });

  it('loopback modem status: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2, with delta bits cleared by reading MSR', () => {
    const u = uart();
    assert.equal(u.inb(MSR), 0xb0, 'nothing attached: DCD, DSR, CTS asserted');
    u.out(MCR, 0x10); // loopback, all outputs off: every input drops
    assert.equal(u.inb(MSR), 0x0b, 'DDCD, DDSR, DCTS set; no TERI (RI did not fall)');
    assert.equal(u.inb(MSR), 0x00, 'reading MSR cleared the deltas');
    u.out(MCR, 0x1f);
    assert.equal(u.inb(MSR), 0xfb);
    u.out(MCR, 0x1b); // OUT1 off: RI trailing edge
    assert.equal(u.inb(MSR), 0xb4);
    u.out(IER, 0x08);
    u.out(MCR, 0x1a);
    assert.equal(u.inb(IIR), 0x00, 'modem status change identified (priority 4)');
  });

  it('wider accesses are byte accesses to consecutive ports', () => {
    const u = uart();
    u.out(LCR, 0x83);
    u.out(DLL, 0x1234, 2);
    assert.equal(u.inb(DLL), 0x34);
    assert.equal(u.inb(DLM), 0x12);
    assert.equal(u.inb(DLL, 2), 0x1234);
  });
});

describe('COM1 on the native host', () => {
  it('a PVH guest has COM1 too: its bytes join the port 0xE9 bytes in one transcript', () => {
    // mov $0x3f8,%dx; mov $'S',%al; out %al,%dx; mov $'e',%al; out %al,$0xe9; mov $'\n',%al; out %al,%dx
    const code = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x53, 0xee, 0xb0, 0x65, 0xe6, 0xe9, 0xb0, 0x0a, 0xee, ...EXIT_ZERO_CODE];
    const path = join(mkdtempSync(join(tmpdir(), 'ringside-uart-')), 'pvh.elf');
    writeFileSync(path, buildPvhImage({ code }));
    const r = runImage(path, { profile: 'native/idt', maxInsns: 1000 });
    assert.equal(r.console, 'Se\n');
    assert.equal(r.verdict, 'success');
  });
});
