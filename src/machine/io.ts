// The I/O port bus. Ports with no device read as all-ones and ignore writes,
// as an unclaimed ISA port does.

import type { IoPorts } from '../cpu/bus.js';

export type OutHandler = (value: number, size: 1 | 2 | 4) => void;
export type InHandler = (size: 1 | 2 | 4) => number;

export class IoBus implements IoPorts {
  private readonly outs = new Map<number, OutHandler>();
  private readonly ins = new Map<number, InHandler>();

  onOut(port: number, handler: OutHandler): void {
    this.outs.set(port & 0xffff, handler);
  }

  onIn(port: number, handler: InHandler): void {
    this.ins.set(port & 0xffff, handler);
  }

  out(port: number, value: number, size: 1 | 2 | 4): void {
    const handler = this.outs.get(port);
    if (handler !== undefined) handler(value, size);
  }

  in(port: number, size: 1 | 2 | 4): number {
    const handler = this.ins.get(port);
    if (handler !== undefined) return handler(size);
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }
}
