// The native host: bare (modelled) metal. The guest kernel owns ring 0; the host only
// boots the image (PVH, pvh.ts, or multiboot, multiboot.ts — multiboot first, in QEMU's
// order) and provides the platform:
//
//   port 0xE9 out  -> one console byte (the low byte of the value, whatever the
//                     access size, as QEMU's debugcon); port 0xE9 in reads 0xE9
//                     (the Bochs/QEMU "port e9 hack" presence check).
//   port 0xF4 out  -> the run ends with exit value V. Writes of every size count
//                     (1, 2 or 4 bytes; V is the value zero-extended from that
//                     size), and so do writes to 0xF5..0xF7: QEMU's
//                     isa-debug-exit with iosize=4 owns those four ports and
//                     exits on any write to them, and QEMU is our oracle.
//   ports 0x3F8-0x3FF -> COM1, a 16550 UART (src/machine/uart16550.ts); each
//                     byte it transmits is a console byte too. Both sources
//                     append to the one console transcript in the order the
//                     guest wrote them (QEMU: -debugcon and -serial share one
//                     chardev, src/lab/qemu.ts), so a guest printing on both
//                     sees its text twice.
//   ports 0x510-0x511 (0x514-0x51B) -> fw_cfg (src/machine/fw-cfg.ts), as on QEMU's pc
//                     machine: the signature, the CPU count, the RAM size and, after a
//                     multiboot boot, the loader's items; its DMA interface is a model error.
//   ports 0xE0-0xEB, 0x2000-0x2017 and 0xFF000000-0xFF00FFFF -> pc-testdev
//                     (src/machine/pc-testdev.ts), the QEMU test device kvm-unit-tests'
//                     runner adds (`-device pc-testdev`; src/lab/qemu.ts adds it too); its
//                     byte-wise alias at 0xE8-0xEB leaves 0xE9 to the console, as on QEMU.
//   0xFEE00000     -> the vCPU's local APIC, its xAPIC page (src/cpu/lapic.ts).
//   ports 0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1 -> the 8259 pair and its ELCRs
//                     (src/machine/pic8259.ts), output to LINT0.
//   0xFEC00000     -> the I/O APIC (src/machine/ioapic.ts), 24 pins. pc-testdev's ISA
//                     lines drive the 8259 input and the I/O APIC pin of their number
//                     (IRQ0: pin 2), as QEMU's pc machine wires them.
//   the HPET (0xFED00000): every PC has it; the model does not yet, so touching it is a
//                     model error rather than an all-ones read a guest would spin on.

import type { HostDefinition, Host, HostOptions } from '../host.js';
import type { Machine } from '../../machine/machine.js';
import { BadInput } from '../../machine/errors.js';
import { Uart16550 } from '../../machine/uart16550.js';
import { UnmodelledDevice } from '../../machine/unmodelled.js';
import { FwCfg, FW_CFG_INITRD_ADDR, FW_CFG_INITRD_DATA, FW_CFG_INITRD_SIZE, FW_CFG_KERNEL_ADDR, FW_CFG_KERNEL_DATA, FW_CFG_KERNEL_ENTRY, FW_CFG_KERNEL_SIZE, le } from '../../machine/fw-cfg.js';
import { PcTestdev } from '../../machine/pc-testdev.js';
import { Pic8259Pair } from '../../machine/pic8259.js';
import { IoApic, IOAPIC_BASE, IOAPIC_SIZE } from '../../machine/ioapic.js';
import { APIC_DEFAULT_BASE, LapicMmio } from '../../cpu/lapic.js';
import { flatProtectedModeState } from '../../cpu/state.js';
import { parseElf } from '../../guest/elf.js';
import type { LoadableImage } from '../../machine/image.js';
import { planPvhBoot, writePvhBoot, type PvhPlan } from './pvh.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { BOOT_LOADER_NAME, findMultibootHeader, INFO_PADDR, INFO_SIZE, planMultibootBoot, writeMultibootBoot, type MultibootPlan } from './multiboot.js';

export const CONSOLE_PORT = 0xe9;
export const EXIT_PORT = 0xf4;
/** QEMU's isa-debug-exit,iobase=0xf4,iosize=4 decodes 0xF4..0xF7. */
export const EXIT_PORT_SPAN = 4;

/** The machine has one vCPU (machine.ts); fw_cfg reports it. */
const VCPUS = 1;
const PAGE = 4096;

/** Device regions at their PC reset addresses: the HPET where QEMU's pc machine and every
 *  PC firmware put it. */
const UNMODELLED_REGIONS: ReadonlyArray<[string, number, number]> = [
  ['the HPET', 0xfed00000, 0x1000],
];

export type NativePlan =
  | { kind: 'pvh'; image: LoadableImage; pvh: PvhPlan }
  | { kind: 'multiboot'; multiboot: MultibootPlan };

/** What the native host keeps: the console transcript (the COM1 UART is its own device). */
interface NativeHostState {
  console: Uint8Array;
  dropped: number;
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** The native host attached to a machine. */
export class NativeHost implements Host<NativePlan> {
  private readonly out = new ConsoleBuffer();
  private readonly fwCfg: FwCfg;

  constructor(private readonly machine: Machine, private readonly options: HostOptions = {}) {
    const io = machine.io;
    io.onOut(CONSOLE_PORT, (value) => this.consoleOut(value));
    io.onIn(CONSOLE_PORT, () => CONSOLE_PORT);
    for (let port = EXIT_PORT; port < EXIT_PORT + EXIT_PORT_SPAN; port++) {
      io.onOut(port, (value, size) => {
        const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
        machine.stop({ kind: 'exit-port', exitValue: v, message: `exit port ${hex(port)} written with ${v} (${size}-byte write)` });
      });
    }
    const uart = new Uart16550((byte) => this.consoleOut(byte));
    uart.attach(io);
    machine.attach('com1', uart);
    this.fwCfg = new FwCfg({ memoryBytes: machine.memory.size, vcpus: VCPUS });
    this.fwCfg.attach(io);
    machine.attach('fw_cfg', this.fwCfg);
    const pic = new Pic8259Pair(machine.cpu.lapic);
    pic.attach(io);
    machine.attach('pic', pic);
    const ioapic = new IoApic(machine.cpu.lapic);
    machine.memory.mapMmio(IOAPIC_BASE, IOAPIC_SIZE, ioapic);
    machine.attach('ioapic', ioapic);
    // An ISA line drives its 8259 input and I/O APIC pin; IRQ0 is pin 2 (QEMU's ioapic_set_irq).
    const testdev = new PcTestdev((line, level) => {
      pic.setIrq(line, level);
      ioapic.setPin(line === 0 ? 2 : line, level);
    });
    testdev.attach(io, machine.memory, [CONSOLE_PORT]);
    machine.attach('pc-testdev', testdev);
    for (const [name, base, length] of UNMODELLED_REGIONS) machine.memory.mapMmio(base, length, new UnmodelledDevice(name, base));
    // The local APIC's reset base (SDM Vol. 3A §11.4.1); lapic.ts refuses relocating it.
    machine.memory.mapMmio(APIC_DEFAULT_BASE, 0x1000, new LapicMmio(machine.cpu.lapic, machine.cpu));
    machine.attach('host', this);
  }

  boot(plan: NativePlan): void {
    const cpu = this.machine.cpu;
    if (plan.kind === 'pvh') {
      const entry = writePvhBoot(this.machine.memory, plan.image, plan.pvh);
      cpu.restore(flatProtectedModeState(cpu.capture(), entry.eip, { ebx: entry.ebx }));
    } else {
      const entry = writeMultibootBoot(this.machine.memory, plan.multiboot);
      this.addMultibootItems(plan.multiboot);
      const state = flatProtectedModeState(cpu.capture(), entry.eip, { eax: entry.eax, ebx: entry.ebx });
      state.segments.forEach((s, seg) => { s.sel = seg === 1 ? entry.cs : entry.data; });
      cpu.restore(state);
    }
  }

  /** What QEMU's load_multiboot() (hw/i386/multiboot.c) leaves in fw_cfg for its option ROM:
   *  the kernel image padded to a page, then the command line and boot loader name, the
   *  whole padded to a page, loaded at the kernel's lowest address; and the information. */
  private addMultibootItems(plan: MultibootPlan): void {
    const mem = this.machine.memory;
    const kernelPages = Math.ceil((plan.kernelEnd - plan.kernelStart) / PAGE) * PAGE;
    const strings = new TextEncoder().encode(plan.cmdline).length + 1 + BOOT_LOADER_NAME.length + 1;
    const size = Math.ceil((kernelPages + strings) / PAGE) * PAGE;
    const fits = Math.max(0, Math.min(size, mem.size - plan.kernelStart));
    const data = new Uint8Array(size);
    data.set(mem.bytes.subarray(plan.kernelStart, plan.kernelStart + fits));
    this.fwCfg.add(FW_CFG_KERNEL_ENTRY, le(plan.entry, 4));
    this.fwCfg.add(FW_CFG_KERNEL_ADDR, le(plan.kernelStart, 4));
    this.fwCfg.add(FW_CFG_KERNEL_SIZE, le(size, 4));
    this.fwCfg.add(FW_CFG_KERNEL_DATA, data);
    this.fwCfg.add(FW_CFG_INITRD_ADDR, le(INFO_PADDR, 4));
    this.fwCfg.add(FW_CFG_INITRD_SIZE, le(INFO_SIZE, 4));
    this.fwCfg.add(FW_CFG_INITRD_DATA, mem.bytes.slice(INFO_PADDR, INFO_PADDR + INFO_SIZE));
  }

  /** Console output so far, as text. */
  get console(): string {
    return this.out.text;
  }

  /** Console output so far, as bytes. */
  get consoleBytes(): Uint8Array {
    return this.out.bytes;
  }

  /** The port 0xE9 handler and the UART's transmitter. */
  private consoleOut(value: number): void {
    const byte = value & 0xff;
    this.out.push(byte);
    this.options.onConsole?.(Uint8Array.of(byte));
  }

  capture(): NativeHostState {
    return { console: this.out.bytes.slice(), dropped: this.out.dropped };
  }

  restore(state: unknown): void {
    const s = state as NativeHostState;
    this.out.load(s.console, s.dropped);
  }
}

export const nativeHost: HostDefinition<NativePlan> = {
  name: 'native',
  plan(bytes, label, { memoryBytes, append, dom0, consoleInput }) {
    if (dom0) throw new BadInput('--dom0 applies to xen profiles: the native host boots no hypervisor domains');
    if (consoleInput !== undefined) throw new BadInput('--console-input applies to xen profiles: it is typed on a domU\'s PV console ring');
    // QEMU's order: a multiboot header wins over a PVH note (multiboot.ts).
    const header = findMultibootHeader(bytes);
    if (header) return { kind: 'multiboot', multiboot: planMultibootBoot(bytes, label, header, memoryBytes, append) };
    const image = parseElf(bytes, label);
    return { kind: 'pvh', image, pvh: planPvhBoot(image, memoryBytes, append) };
  },
  attach(machine, options) {
    return new NativeHost(machine, options);
  },
};
