// A device region every PC has but the model does not implement yet. Touching it is a
// model error, never a silent all-ones read: a guest that programs the local APIC must be
// told the model lacks it, not spin forever waiting for a bit that never changes.

import { ModelError } from '../cpu/errors.js';
import type { MmioDevice } from './memory.js';

export class UnmodelledDevice implements MmioDevice {
  constructor(private readonly name: string, private readonly base: number) {}

  read(offset: number, size: 1 | 2 | 4): number {
    return this.fail('read', offset, size);
  }

  write(offset: number, size: 1 | 2 | 4): void {
    this.fail('write', offset, size);
  }

  private fail(what: string, offset: number, size: number): never {
    const at = (this.base + offset).toString(16);
    throw new ModelError(`${this.name} is not modelled (a ${size}-byte ${what} of physical 0x${at})`);
  }
}
