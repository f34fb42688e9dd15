// What a host is: the software that owns ring 0 on the modelled CPU.
// A host checks an image before any machine exists (plan), gives a new machine its
// platform — ports, device regions, its own ring-0 side — (attach), and boots the image
// into it (boot). A restored machine is attached the same way and then restored instead
// of booted, so a host's platform is wired in exactly one place.
//
// Adding a host (xen, pvm) means one folder under src/hosts and one line in registry.ts;
// the lab never switches on a host's name.

import type { Machine, Stateful } from '../machine/machine.js';

export interface HostOptions {
  /** Called with console bytes as the guest writes them. */
  onConsole?: (bytes: Uint8Array) => void;
}

/** A host attached to one machine. Its state (console transcript, devices, whatever its
 *  ring-0 side keeps) is captured with the machine's: it is attached as device 'host'. */
export interface Host<Plan = unknown> extends Stateful {
  /** Load the planned image into the machine and put the vCPU at its entry point. */
  boot(plan: Plan): void;
  /** What a user of the guest sees as its console, so far. */
  readonly console: string;
  /** The host's own messages about the guest (a hypervisor's log, `run --verbose`), if it
   *  keeps any. */
  readonly log?: string;
}

/** What a run asks of the boot beyond the image. */
export interface PlanOptions {
  /** The guest's RAM. */
  memoryBytes: number;
  /** The kernel command line (QEMU's -append; undefined: none given). */
  append?: string;
  /** Build the guest as its hypervisor's first domain (`--dom0`; xen hosts). */
  dom0?: boolean;
  /** What the run types on the guest's console (`--console-input`; a xen domU's console ring). */
  consoleInput?: string;
  /** The profile's CPU enumerates FRED (a host that uses it may refuse what FRED rules out). */
  cpuFred?: boolean;
}

export interface HostDefinition<Plan = unknown> {
  /** The name profiles use (HOST in HOST/CPU). */
  readonly name: string;
  /** Decide everything about booting `image`; BadInput (one clear line) for an image or an
   *  option this host cannot boot. */
  plan(image: Uint8Array, label: string, options: PlanOptions): Plan;
  /** The machine's RAM for a plan when it is not the guest's (a hypervisor keeps its own
   *  frames beside the guest's); default: options.memoryBytes. */
  machineBytes?(plan: Plan): number;
  /** Give `machine` this host's platform and return the attached host. */
  attach(machine: Machine, options: HostOptions): Host<Plan>;
}
