// Profiles as data: a profile, named HOST/CPU, is a host on a CPU model.
//
// Every profile the design names is listed so that messages can tell "not yet"
// from "no such thing"; only those marked runnable can be run today.

import { BadInput } from '../machine/errors.js';

export type HostName = 'native' | 'xen' | 'xen-3.0.4' | 'xen-3.1.1' | 'xen-nocompat' | 'pvm';

/** The kind of host: what boots an image (a Xen PV image boots on every Xen version). */
export type HostFamily = 'native' | 'xen' | 'pvm';

export function hostFamily(host: HostName): HostFamily {
  return host.startsWith('xen') ? 'xen' : (host as HostFamily);
}

export interface ProfileCpu {
  vendor: 'intel' | 'amd';
  fred: boolean;
}

export interface Profile {
  /** HOST/CPU, e.g. native/idt. */
  name: string;
  host: HostName;
  cpu: ProfileCpu;
  /** One line: what it is. */
  description: string;
  /** False for profiles the design names but this version cannot run yet. */
  runnable: boolean;
}

const intelIdt: ProfileCpu = { vendor: 'intel', fred: false };
const amdIdt: ProfileCpu = { vendor: 'amd', fred: false };
const intelFred: ProfileCpu = { vendor: 'intel', fred: true };

export const PROFILES: readonly Profile[] = [
  { name: 'native/idt', host: 'native', cpu: intelIdt, runnable: true, description: 'bare metal, PVH or multiboot boot, Intel CPU without FRED (IDT delivery)' },
  { name: 'native/idt-amd', host: 'native', cpu: amdIdt, runnable: true, description: 'bare metal, PVH or multiboot boot, AMD CPU (IDT delivery, AMD SYSRET/SYSENTER behaviour)' },
  { name: 'native/fred', host: 'native', cpu: intelFred, runnable: true, description: 'bare metal, PVH or multiboot boot, Intel CPU with FRED enumerated (no AMD flavour: AMD documents no FRED difference yet)' },
  { name: 'xen/idt', host: 'xen', cpu: intelIdt, runnable: true, description: 'Xen (c447b7308b, IDT mode) running the image as a 64-bit PV domain (domU, or dom0 with --dom0), Intel CPU without FRED' },
  { name: 'xen/idt-amd', host: 'xen', cpu: amdIdt, runnable: true, description: 'Xen (c447b7308b, IDT mode) running the image as a 64-bit PV domain, AMD CPU (no SYSENTER in long mode, AMD SYSRET)' },
  { name: 'xen/fred', host: 'xen', cpu: intelFred, runnable: true, description: 'Xen (c447b7308b) booted with fred=1 on a FRED CPU: FRED event delivery, with the 2026 SYSCALL compatibility patch (c5a4b9125b); 64-bit PV only' },
  { name: 'xen-nocompat/fred', host: 'xen-nocompat', cpu: intelFred, runnable: true, description: 'Xen in FRED mode without c5a4b9125b: %rcx/%r11 after SYSCALL are what the guest left in them' },
  { name: 'xen-3.1.1/idt', host: 'xen-3.1.1', cpu: intelIdt, runnable: true, description: 'Xen 3.1.1\'s PV64 SYSCALL path (369bafdb1c\'s trampoline: %r11 = &syscall_enter in the syscall callback frame, fixed by b28b3c245a), IDT delivery' },
  { name: 'xen-3.0.4/idt', host: 'xen-3.0.4', cpu: intelIdt, runnable: true, description: 'Xen 3.0.4\'s PV64 SYSCALL path (the rel32 trampoline: %r11 = the user\'s RFLAGS), IDT delivery' },
  { name: 'pvm/fred', host: 'pvm', cpu: intelFred, runnable: false, description: 'PVM switcher, guest supervisor and user in ring 3, FRED CPU' },
];

/** The profiles that can be run now, in listing order. */
export function runnableProfiles(): Profile[] {
  return PROFILES.filter((p) => p.runnable);
}

/** Look a profile up by name; BadInput for unknown or not-yet-runnable ones. */
export function getProfile(name: string): Profile {
  const known = runnableProfiles().map((p) => p.name).join(', ');
  const p = PROFILES.find((q) => q.name === name);
  // The AMD flavour selects documented vendor differences; for FRED there are none yet.
  if (!p && name.endsWith('/fred-amd')) throw new BadInput(`no profile '${name}': there is no AMD flavour of FRED (AMD documents no FRED difference yet); use ${name.slice(0, -4)}`);
  if (!p) throw new BadInput(`unknown profile '${name}' (known: ${known})`);
  if (!p.runnable) throw new BadInput(`profile '${name}' is not implemented yet (available: ${known})`);
  return p;
}

/** `ringside profiles`: one line per runnable profile, name then what it is. */
export function formatProfiles(): string {
  const rows = runnableProfiles();
  const width = Math.max(...rows.map((p) => p.name.length));
  return rows.map((p) => `${p.name.padEnd(width)}  ${p.description}\n`).join('');
}
