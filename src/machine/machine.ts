// A Machine: vCPUs, physical memory, the I/O port bus and the devices a host attached,
// run under budgets. Hosts configure it (boot an image, claim ports, map device regions);
// the lab runs it. Its whole state is plain data: capture() and restore() round-trip it.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { PhysicalMemory, type MemoryState } from './memory.js';
import { IoBus } from './io.js';
import { Cpu, type ExecutionOptions } from '../cpu/cpu.js';
import { formatRegisters } from '../cpu/format.js';
import { ModelError } from '../cpu/errors.js';
import type { CpuModelOptions } from '../cpu/model.js';
import type { VcpuState } from '../cpu/state.js';
import type { TraceSink } from '../cpu/transition.js';

export interface RunLimits {
  maxInsns: number;
  /** Wall-clock limit in milliseconds; 0 = none. */
  timeoutMs: number;
}

export type RunEndKind = 'exit-port' | 'halted' | 'triple-fault' | 'insn-budget' | 'wall-timeout' | 'model-error' | 'interrupted'
  | 'shutdown' | 'domain-crash';

export interface RunEnd {
  kind: RunEndKind;
  exitValue: number | null;
  message: string;
  /** A PV domain's SCHEDOP_shutdown reason (kind 'shutdown'): poweroff, reboot, suspend,
   *  crash, watchdog, soft_reset, or unknown for a number Xen has no name for. */
  shutdown?: string;
}

export interface MachineOptions {
  memoryBytes: number;
  cpu: CpuModelOptions;
  /** Stepped, or compiling blocks at another threshold (cpu.ts ExecutionOptions). */
  execution?: ExecutionOptions;
}

/** Anything with state of its own beside the CPU and memory: devices, and the host. */
export interface Stateful {
  /** The state as plain data (structured-clonable: no functions, no class instances). */
  capture(): unknown;
  restore(state: unknown): void;
}

/** Everything a machine is, as plain data. */
export interface MachineState {
  version: 1;
  cpuModel: CpuModelOptions;
  memory: MemoryState;
  vcpus: VcpuState[];
  /** Each attached device's own state, by the name it was attached with. */
  devices: Record<string, unknown>;
}

/** Instructions between wall-clock checks (and, in runAsync, between turns of the event
 *  loop): about 30 ms at 35 M instructions/s. */
const SLICE = 1 << 20;
/** The first slice is small and each next one twice as large, up to SLICE, so that a
 *  wall-clock limit of a few milliseconds is seen after a fraction of a millisecond rather
 *  than after a whole SLICE. Where a slice ends never changes what the guest does. */
const FIRST_SLICE = 1 << 12;

export class Machine {
  readonly memory: PhysicalMemory;
  readonly io: IoBus;
  readonly cpu: Cpu;
  readonly cpuModel: CpuModelOptions;
  private readonly devices = new Map<string, Stateful>();
  private pendingEnd: RunEnd | null = null;

  constructor(opts: MachineOptions) {
    this.cpuModel = { ...opts.cpu };
    this.memory = new PhysicalMemory(opts.memoryBytes);
    this.io = new IoBus();
    this.cpu = new Cpu(this.memory, this.io, opts.cpu, opts.execution);
  }

  /** Retired instructions so far. */
  get instructions(): number {
    return this.cpu.icount;
  }

  /** Transitions committed so far (cpu/transition.ts). */
  get transitions(): number {
    return this.cpu.transitions;
  }

  /** Hand every transition's record to `sink` (null: stop tracing). */
  trace(sink: TraceSink | null): void {
    this.cpu.traceSink = sink;
  }

  /** Register a device (or the host) whose state capture() and restore() carry. */
  attach(name: string, device: Stateful): void {
    if (this.devices.has(name)) throw new Error(`machine: a device named '${name}' is already attached`);
    this.devices.set(name, device);
  }

  /** End the run after the current instruction (I/O handlers call this). */
  stop(end: RunEnd): void {
    if (this.pendingEnd === null) this.pendingEnd = end;
    this.cpu.requestStop();
  }

  /** Run until something ends the run. Guest behaviour never throws; a ModelError
   *  (the guest reached something not modelled) is reported as an end. The run may be
   *  continued by calling run again with a larger budget. */
  run(limits: RunLimits): RunEnd {
    const slice = this.startRun(limits);
    for (;;) {
      const end = slice();
      if (end !== null) return end;
    }
  }

  /** As run, but gives the event loop a turn between slices (about 30 ms apart), so that
   *  signal handlers and timers run during a long run; when `stop` is aborted the run ends
   *  there as 'interrupted' (the abort reason, e.g. 'SIGINT', names the cause). */
  async runAsync(limits: RunLimits, stop?: AbortSignal): Promise<RunEnd> {
    const slice = this.startRun(limits);
    for (;;) {
      if (stop?.aborted) {
        const by = typeof stop.reason === 'string' ? ` by ${stop.reason}` : '';
        return { kind: 'interrupted', exitValue: null, message: `interrupted${by}` };
      }
      const end = slice();
      if (end !== null) return end;
      await nextTurn();
    }
  }

  /** Prepare a run; returns a function that runs one slice and gives the run's end, or null
   *  to go on. run and runAsync share it so that they cannot drift apart. */
  private startRun(limits: RunLimits): () => RunEnd | null {
    const cpu = this.cpu;
    this.pendingEnd = null;
    const started = performance.now();
    let size = FIRST_SLICE;
    return () => {
      if (cpu.icount >= limits.maxInsns) {
        return { kind: 'insn-budget', exitValue: null, message: `instruction budget of ${limits.maxInsns} spent` };
      }
      const sliceEnd = Math.min(limits.maxInsns, cpu.icount + size);
      if (size < SLICE) size *= 2;
      let reason;
      try {
        reason = cpu.run(sliceEnd);
      } catch (e) {
        if (e instanceof ModelError) {
          const where = e.message.includes('(at rip ') ? '' : ` (at rip ${cpu.ripHex()})`;
          return { kind: 'model-error', exitValue: null, message: e.message + where };
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
      if (limits.timeoutMs > 0 && performance.now() - started >= limits.timeoutMs) {
        // toPrecision: 0.07 s is 70.00000000000001 ms, and should read back as 0.07.
        const seconds = Number((limits.timeoutMs / 1000).toPrecision(9));
        return { kind: 'wall-timeout', exitValue: null, message: `wall-clock limit of ${seconds} s reached` };
      }
      return null;
    };
  }

  /** The machine's state at the current instruction boundary, as plain data. */
  capture(): MachineState {
    const devices: Record<string, unknown> = {};
    for (const [name, device] of this.devices) devices[name] = device.capture();
    return {
      version: 1,
      cpuModel: { ...this.cpuModel },
      memory: this.memory.capture(),
      vcpus: [this.cpu.capture()],
      devices,
    };
  }

  /** Load a captured state into this machine, whose devices must be attached already
   *  (a host attaches its platform before restoring, as before booting). */
  restore(state: MachineState): void {
    if (state.version !== 1) throw new Error(`machine state version ${state.version} is not supported`);
    if (state.vcpus.length !== 1) throw new Error(`machine state has ${state.vcpus.length} vCPUs; this machine has 1`);
    const missing = Object.keys(state.devices).filter((n) => !this.devices.has(n));
    const extra = [...this.devices.keys()].filter((n) => !(n in state.devices));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`machine state devices differ: ${[...missing.map((n) => `saved ${n}`), ...extra.map((n) => `attached ${n}`)].join(', ')}`);
    }
    this.memory.restore(state.memory);
    this.cpu.restore(state.vcpus[0]);
    for (const [name, device] of this.devices) device.restore(state.devices[name]);
  }

  /** The final register file, every value as a 0x-prefixed 64-bit hex string. */
  registers(): Record<string, string> {
    return formatRegisters(this.cpu, true);
  }
}
