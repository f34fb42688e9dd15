// Host entry points (docs/architecture.md "Host entry points"): linear addresses at which,
// instead of fetching instructions, the vCPU calls a host's TypeScript.
//
// The call is an instruction in every way the rest of the CPU can see. It is found where
// instructions are decoded (cpu.ts enterCodePage/decodeAt), so reaching it costs the hot
// path nothing; the fetch of its page goes through paging with the fetch rights of the
// current CPL (a non-present, NX or, under SMEP, user page faults as any fetch would);
// the function runs at the CPL, in the mode, on the stack the CPU is in; it reads what the
// CPU pushed through the CPU's own linear-memory accessors; and it leaves through one of
// the architectural returns below, which run the opcode table's own semantics for that
// instruction (the same function the interpreter runs for its bytes). A fault the function
// or its return raises is delivered with RIP = the entry point, as if the instruction there
// had faulted. Each call counts one tick of virtual time, whether it returns or faults, and
// a transition its return commits carries the annotation `host:<name>` (and the host's
// note) in the trace, with the guest memory the host reported writing (wroteGuest) and, for
// a host that runs a guest's kernel and user code at one CPL, which of them runs (guestMode).
//
// Declining: a function may instead hand the call back to the code it supersedes
// (`decline`), as a FRED host does with the events it does not service, all of which arrive
// at one entry point: the instruction the bytes at the entry point hold then runs, as it would
// with no host registered, and the call is that instruction (its tick, its faults), not a tick
// of its own. A host that declines must have changed nothing: what it read, it only read.
//
// Aliases: entry points are looked up by linear address, but the decode cache is keyed by
// physical page. A linear page that holds an entry point therefore gets decode pages of its
// own (HostPage, per mode), never shared with another linear page that maps the same
// physical page: through an alias the bytes run as bytes, and at the entry's own address
// the host runs however the bytes were reached before. A host page's decodes are dropped
// when its translation changes (enterCodePage passes the physical page it finds) and when
// its physical page is written (dropCodePage, like every decoded page).
//
// Entry points are host configuration, not machine state: capture() does not hold them and
// a host registers them again when it attaches to a restored machine.
//
// Watches (injections.ts) share this machinery: a watch is a pseudo-instruction at a linear
// address that retires nothing and takes no tick. When RIP reaches it, it removes itself,
// runs its functions (which raise events), and returns to the run loop, whose event window
// takes the boundary before the instruction at that address; the instruction then runs.
//
// Deliberate deviations: none; a function that neither leaves nor ends the run is a bug in
// the host and throws an Error (not a ModelError: the guest did nothing unmodelled).

import type { Cpu } from './cpu.js';
import { Insn, type Exec } from './insn.js';
import { FAULT, STOP } from './fault.js';
import { Mode } from './mode.js';
import { ENTRIES, mnemonicOf } from './opcodes.js';
import { decode } from './decoder.js';
import { formatLinear } from './format.js';

const PAGE_SIZE = 4096;

/** A host's function: it runs at the entry point with the CPU as the entry found it, and
 *  must end by calling `cpu.hostEntries.leave(...)` (or by stopping the run). Faults it
 *  raises (memory accesses, the return's checks) propagate as they do from an instruction:
 *  it must not catch them. */
export type HostEntryFunction = (cpu: Cpu) => void;

/** One registered entry point. */
export class HostEntry {
  /** The pseudo-instruction the decode cache holds at the entry point. */
  readonly insn: Insn;

  /** A watch's functions, run in order (empty for a host's entry point). */
  readonly fires: (() => void)[] = [];

  constructor(readonly address: number, readonly name: string, readonly fn: HostEntryFunction, exec: Exec = callHostEntry) {
    this.insn = new Insn(exec);
    this.insn.entry = -1;
    this.insn.len = 0;
    this.insn.host = this;
  }

  /** Whether this is a watch (injections.ts) rather than a host's entry point. */
  get isWatch(): boolean {
    return this.insn.exec === stopAtWatch;
  }
}

/** A watch's semantics: it removes itself, runs its functions, and ends the run loop's
 *  stretch without retiring anything, so that the event window runs at this boundary. */
function stopAtWatch(cpu: Cpu, insn: Insn): void {
  const entry = insn.host!;
  cpu.hostEntries.unregister(entry.address);
  for (const fire of entry.fires) fire();
  throw STOP;
}

/** The architectural returns a host leaves through, each named by the instruction (and
 *  operand size) whose semantics it runs. */
export const HOST_EXITS = {
  /** SYSRET with REX.W: to 64-bit mode at RCX, RFLAGS from R11. */
  sysretq: { code: '0F 07', osz: 8 },
  /** SYSRET without REX.W: to compatibility mode at ECX. */
  sysretl: { code: '0F 07', osz: 4 },
  /** IRETQ: the frame at RSP. */
  iretq: { code: 'CF', osz: 8 },
  /** SYSEXIT with REX.W: to 64-bit mode at RDX, RSP from RCX. */
  sysexitq: { code: '0F 35', osz: 8 },
  /** SYSEXIT without REX.W: to 32-bit code at EDX, ESP from ECX. */
  sysexitl: { code: '0F 35', osz: 4 },
  /** ERETU (FRED): to ring 3, the FRED frame at RSP (error code first). */
  eretu: { code: 'F3 0F 01 CA', osz: 8 },
  /** ERETS (FRED): to ring 0, the FRED frame at RSP. */
  erets: { code: 'F2 0F 01 CA', osz: 8 },
} as const;

export type HostExit = keyof typeof HOST_EXITS;

/** The decoded form of each exit, built on first use from the opcode table's rows. */
const exitInsns = new Map<HostExit, Insn>();

function exitInsn(exit: HostExit): Insn {
  let insn = exitInsns.get(exit);
  if (insn === undefined) {
    const { code, osz } = HOST_EXITS[exit];
    const e = ENTRIES.find((x) => x.def.code === code);
    if (e === undefined) throw new Error(`host exit ${exit}: no opcode-table row ${code}`);
    insn = new Insn(e.exec);
    insn.entry = e.index;
    insn.osz = osz;
    insn.rex = osz === 8;
    exitInsns.set(exit, insn);
  }
  return insn;
}

/** A linear page holding entry points, with decode pages of its own (see the header). */
class HostPage {
  /** Entry points by offset in the page. */
  readonly entries = new Map<number, HostEntry>();
  /** The physical page these decodes came from (-1: none yet). */
  ppn = -1;
  /** Decoded instructions by offset, for 32-bit [0] and 64-bit [1] decoding. */
  readonly decoded: [(Insn | undefined)[] | undefined, (Insn | undefined)[] | undefined] = [undefined, undefined];
  /** The bytes at entry points decoded, for a declined call, by offset and mode as above. */
  readonly superseded: [Map<number, Insn> | undefined, Map<number, Insn> | undefined] = [undefined, undefined];

  /** The decode page for `mode64`, for a fetch that found this page at physical `ppn`. */
  decodePage(ppn: number, mode64: boolean): (Insn | undefined)[] {
    if (ppn !== this.ppn) this.drop(ppn);
    const k = mode64 ? 1 : 0;
    return (this.decoded[k] ??= new Array<Insn | undefined>(PAGE_SIZE));
  }

  /** Forget the decodes (the page was written, or now maps `ppn`). */
  drop(ppn: number): void {
    this.ppn = ppn;
    this.decoded[0] = undefined;
    this.decoded[1] = undefined;
    this.superseded[0] = undefined;
    this.superseded[1] = undefined;
  }
}

/** A vCPU's entry points (cpu.hostEntries): registration by hosts, lookup by the decoder,
 *  and the returns a host function leaves through. */
export class HostEntries {
  /** Pages holding entry points, by linear page number. Empty for a guest without a host
   *  that registers entry points: the decoder then never looks further. */
  readonly pages = new Map<number, HostPage>();
  /** The entry whose function is running, if any. */
  private current: HostEntry | null = null;
  /** Set when the running function has left through an architectural return. */
  private left = false;
  /** Set when the running function has declined the call (the bytes run instead). */
  private declined = false;
  /** The annotation of transitions committed by the running function's return (traces). */
  annotation: string | null = null;
  /** Set by a host that runs a guest's kernel and its user code at one CPL (Xen PV: both in
   *  ring 3): which of them runs, by the host's own notion (TF_kernel_mode), for traces. */
  guestMode: (() => 'kernel' | 'user') | null = null;
  /** Guest memory the host's functions wrote since its last return (wroteGuest), while tracing. */
  private writes: Array<{ address: string; bytes: number[] }> = [];

  constructor(private readonly cpu: Cpu) {}

  /** A host's function wrote `bytes` into guest memory at guest linear address `lin` (a bounce
   *  frame, a hypercall's output): the trace record of the return that leaves the host carries
   *  it, as a delivery's record carries the frame the CPU wrote. Nothing is kept unless tracing. */
  wroteGuest(lin: number, bytes: Uint8Array): void {
    if (this.cpu.traceSink === null) return;
    this.writes.push({ address: formatLinear(lin), bytes: Array.from(bytes) });
  }

  /** The writes reported since the host's last return, handed to that return's record
   *  (transition.ts); null when none. A fault on the way out (an IRETQ that faults into the
   *  host again) leaves them for the return that finally leaves. */
  takeWrites(): Array<{ address: string; bytes: number[] }> | null {
    if (this.writes.length === 0) return null;
    const out = this.writes;
    this.writes = [];
    return out;
  }

  /** Call `fn` instead of fetching whenever RIP reaches linear address `address`. */
  register(address: number, name: string, fn: HostEntryFunction, exec: Exec = callHostEntry): void {
    if (!Number.isSafeInteger(address)) throw new Error(`host entry ${name}: address ${address} is not a linear address`);
    if (name === '' || /\s/.test(name)) throw new Error(`host entry name '${name}' must be one word`);
    const vpn = Math.floor(address / PAGE_SIZE);
    let page = this.pages.get(vpn);
    if (page === undefined) this.pages.set(vpn, (page = new HostPage()));
    const off = address - vpn * PAGE_SIZE;
    const other = page.entries.get(off);
    if (other !== undefined) throw new Error(`host entry ${name}: ${other.name} is already registered there`);
    page.entries.set(off, new HostEntry(address, name, fn, exec));
    page.drop(-1);
    this.cpu.codeMappingChanged();
  }

  /** Watch `address` (injections.ts): the first time RIP reaches it, `fire` runs at the
   *  boundary before the instruction there executes. Several watches at one address fire
   *  in the order they were set. */
  watch(address: number, fire: () => void): void {
    const existing = this.at(address);
    if (existing !== undefined) {
      if (!existing.isWatch) throw new Error(`watch at ${address}: host entry ${existing.name} is registered there`);
      existing.fires.push(fire);
      return;
    }
    this.register(address, 'watch', () => {}, stopAtWatch);
    this.at(address)!.fires.push(fire);
  }

  /** Remove the entry point at `address`; the bytes there run again. */
  unregister(address: number): void {
    const vpn = Math.floor(address / PAGE_SIZE);
    const page = this.pages.get(vpn);
    if (page === undefined || !page.entries.delete(address - vpn * PAGE_SIZE)) throw new Error(`no host entry at ${address}`);
    if (page.entries.size === 0) this.pages.delete(vpn);
    else page.drop(-1);
    this.cpu.codeMappingChanged();
  }

  /** The entry point at `address`, if one is registered. */
  at(address: number): HostEntry | undefined {
    const vpn = Math.floor(address / PAGE_SIZE);
    return this.pages.get(vpn)?.entries.get(address - vpn * PAGE_SIZE);
  }

  /** The decode page for a fetch at `rip` that found physical page `ppn`, if rip's linear
   *  page holds entry points (cpu.ts enterCodePage); undefined otherwise. */
  codePage(rip: number, ppn: number): (Insn | undefined)[] | undefined {
    const page = this.pages.get(Math.floor(rip / PAGE_SIZE));
    if (page === undefined) return undefined;
    const cpu = this.cpu;
    if (ppn >= cpu.mem.pages) page.drop(-1); // not RAM: writes are not seen, keep nothing
    else cpu.mem.codeMark[ppn] = 1;
    return page.decodePage(ppn, cpu.mode === Mode.Long64);
  }

  /** The instruction the bytes at `entry` hold, decoded (and kept with the page's decodes). */
  private superseded(entry: HostEntry): Insn {
    const vpn = Math.floor(entry.address / PAGE_SIZE);
    const page = this.pages.get(vpn)!;
    const off = entry.address - vpn * PAGE_SIZE;
    const k = this.cpu.mode === Mode.Long64 ? 1 : 0;
    let insn = page.superseded[k]?.get(off);
    if (insn === undefined) {
      insn = decode(this.cpu, entry.address);
      if (off + insn.len <= PAGE_SIZE) (page.superseded[k] ??= new Map()).set(off, insn);
    }
    return insn;
  }

  /** Physical page `ppn` was written: drop host pages' decodes of it. */
  dropPhysical(ppn: number): void {
    for (const page of this.pages.values()) if (page.ppn === ppn) page.drop(ppn);
  }

  /** Leave the running entry point through `exit`, the CPU's own semantics for that
   *  instruction, with all its checks: a fault it raises propagates (delivered at the entry
   *  point). `note` says what the host did (a hypercall's name), for the trace. */
  leave(exit: HostExit, note?: string): void {
    const entry = this.current;
    if (entry === null) throw new Error(`host exit ${exit} outside a host entry point`);
    if (this.left) throw new Error(`host entry ${entry.name} left twice`);
    if (this.declined) throw new Error(`host entry ${entry.name} left after declining`);
    const insn = exitInsn(exit);
    const feature = ENTRIES[insn.entry].feature;
    // An instruction whose CPUID feature the model lacks is #UD (the decoder's gate).
    if (feature !== null && !this.cpu.features.has(feature)) this.cpu.ud();
    this.annotation = note === undefined ? `host:${entry.name}` : `host:${entry.name} ${note}`;
    try {
      insn.exec(this.cpu, insn);
    } finally {
      this.annotation = null;
    }
    this.left = true;
  }

  /** Hand the running call back to the code the entry point supersedes: when the function
   *  returns, the instruction the bytes at the entry point hold runs in its place (see the
   *  header). */
  decline(): void {
    const entry = this.current;
    if (entry === null) throw new Error('host decline outside a host entry point');
    if (this.left) throw new Error(`host entry ${entry.name} declined after leaving`);
    this.declined = true;
  }

  /** Run `entry`'s function (the pseudo-instruction's semantics). */
  call(entry: HostEntry): void {
    const cpu = this.cpu;
    this.current = entry;
    this.left = false;
    this.declined = false;
    try {
      entry.fn(cpu);
    } catch (e) {
      // The call happened: it counts its tick even though, like a faulting instruction,
      // it does not retire (runToLimit delivers the fault at the entry point).
      if (e === FAULT) cpu.icount++;
      throw e;
    } finally {
      this.current = null;
    }
    if (this.declined) {
      // Outside the try: a fault here is the bytes' instruction's, which takes no tick.
      const insn = this.superseded(entry);
      cpu.nextRip = cpu.rip + insn.len;
      insn.exec(cpu, insn);
      return;
    }
    if (!this.left && cpu.endReason === null) {
      throw new Error(`host entry ${entry.name} returned without leaving through an architectural return`);
    }
  }
}

/** The pseudo-instruction's semantics: the host's function. */
function callHostEntry(cpu: Cpu, insn: Insn): void {
  cpu.hostEntries.call(insn.host!);
}

/** An instruction's name for traces and disassembly: its mnemonic, or `host:<name>` for an
 *  entry point. */
export function instructionName(insn: Insn): string {
  return insn.host !== null ? `host:${insn.host.name}` : mnemonicOf(insn.entry);
}
