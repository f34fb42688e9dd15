// A Machine: one vCPU, physical memory and the I/O port bus, run under budgets.
// Hosts configure it (boot an image, claim ports); the lab runs it.

import { PhysicalMemory } from './memory.js';
import { IoBus } from './io.js';
import { Cpu, formatLinear } from '../cpu/cpu.js';
import type { CpuModelOptions } from '../cpu/model.js';
import { SEG_NAMES } from '../arch/descriptors.js';

export interface RunLimits {
  maxInsns: number;
  /** Wall-clock limit in milliseconds; 0 = none. */
  timeoutMs: number;
}

export type RunEndKind = 'exit-port' | 'halted' | 'triple-fault' | 'insn-budget' | 'wall-timeout' | 'model-error';

export interface RunEnd {
  kind: RunEndKind;
  exitValue: number | null;
  message: string;
}

export interface MachineOptions {
  memoryBytes: number;
  cpu: CpuModelOptions;
}

/** Instructions between wall-clock checks: small enough to react within ~10 ms. */
const SLICE = 1 << 20;

const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export class Machine {
  readonly memory: PhysicalMemory;
  readonly io: IoBus;
  readonly cpu: Cpu;
  private pendingEnd: RunEnd | null = null;

  constructor(opts: MachineOptions) {
    this.memory = new PhysicalMemory(opts.memoryBytes);
    this.io = new IoBus();
    this.cpu = new Cpu(this.memory, this.io, opts.cpu);
  }

  /** Retired instructions so far. */
  get instructions(): number {
    return this.cpu.icount;
  }

  /** End the run after the current instruction (I/O handlers call this). */
  stop(end: RunEnd): void {
    if (this.pendingEnd === null) this.pendingEnd = end;
    this.cpu.requestStop();
  }

  /** Run until something ends the run. Guest behaviour never throws; a ModelError
   *  (the guest reached something not modelled) is reported as an end. */
  run(limits: RunLimits): RunEnd {
    const cpu = this.cpu;
    cpu.invalidateAllCode();
    const started = Date.now();
    for (;;) {
      if (cpu.icount >= limits.maxInsns) {
        return { kind: 'insn-budget', exitValue: null, message: `instruction budget of ${limits.maxInsns} spent` };
      }
      const sliceEnd = Math.min(limits.maxInsns, cpu.icount + SLICE);
      let reason;
      try {
        reason = cpu.run(sliceEnd);
      } catch (e) {
        if (e instanceof Error && e.name === 'ModelError') {
          return { kind: 'model-error', exitValue: null, message: e.message };
        }
        throw e;
      }
      if (this.pendingEnd !== null) return this.pendingEnd;
      if (reason === 'halted') {
        return { kind: 'halted', exitValue: null, message: `halted at rip ${cpu.ripHex()} with nothing pending` };
      }
      if (reason === 'triple-fault') {
        return { kind: 'triple-fault', exitValue: null, message: `triple fault at rip ${cpu.ripHex()}` };
      }
      if (limits.timeoutMs > 0 && Date.now() - started >= limits.timeoutMs) {
        return { kind: 'wall-timeout', exitValue: null, message: `wall-clock limit of ${limits.timeoutMs / 1000} s reached` };
      }
    }
  }

  /** The final register file, every value as a 0x-prefixed 64-bit hex string. */
  registers(): Record<string, string> {
    const cpu = this.cpu;
    const hex64 = (lo: number, hi: number): string =>
      '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
    const out: Record<string, string> = {};
    GPR_NAMES.forEach((n, r) => { out[n] = hex64(cpu.regLo[r], cpu.regHi[r]); });
    out.rip = formatLinear(cpu.rip);
    out.rflags = hex64(cpu.getFlags(), 0);
    SEG_NAMES.forEach((n, s) => { out[n] = hex64(cpu.segSel[s], 0); });
    out.cr0 = hex64(cpu.cr0, 0);
    out.cr2 = hex64(cpu.cr2Lo, cpu.cr2Hi);
    out.cr3 = hex64(cpu.cr3Lo, cpu.cr3Hi);
    out.cr4 = hex64(cpu.cr4, 0);
    out.efer = hex64(cpu.efer, 0);
    return out;
  }
}
