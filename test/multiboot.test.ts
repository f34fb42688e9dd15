// The native host's multiboot (v1) boot path (Multiboot Specification 0.6.96
// §3.1 header, §3.2 machine state, §3.3 information structure), as QEMU 7.2's
// -kernel boots multiboot images (hw/i386/multiboot.c, x86_load_linux order).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  findMultibootHeader,
  INFO_PADDR,
  MMAP_PADDR,
  MULTIBOOT_HEADER_MAGIC,
  planMultibootBoot,
} from '../src/hosts/native/multiboot.js';
import { buildGuest, guestBoot } from '../src/guest/build.js';
import { parseElf } from '../src/guest/elf.js';
import { BadInput } from '../src/machine/errors.js';
import { Machine } from '../src/machine/machine.js';
import { runImage } from '../src/lab/run.js';
import { buildPvhImage, lines, ringside } from './helpers/pvh-image.js';
import { nativeHost } from '../src/hosts/native/host.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ringside-multiboot-'));

/** A multiboot header: magic, flags, checksum, then the a.out kludge words if given. */
function header(flags: number, kludge: number[] = []): number[] {
  const words = [MULTIBOOT_HEADER_MAGIC, flags >>> 0, (-(MULTIBOOT_HEADER_MAGIC + flags) >>> 0) >>> 0, ...kludge];
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
}

const CLI_HLT = [0xfa, 0xf4];
/** mov $0x2a,%al; out %al,$0xe9 ... : write bytes to a port, then exit with 0. */
function outBytes(port: number, text: string): number[] {
  const code: number[] = [];
  if (port < 0x100) for (const c of text) code.push(0xb0, c.charCodeAt(0), 0xe6, port);
  else for (const c of text) code.push(0x66, 0xba, port & 0xff, port >> 8, 0xb0, c.charCodeAt(0), 0xee); // mov $port,%dx; mov $c,%al; out %al,%dx
  return code;
}
const EXIT0 = [0xb8, 0, 0, 0, 0, 0xe7, 0xf4, ...CLI_HLT];

/** An ELF image whose load segment starts with `jmp` over a multiboot header, then `code`. */
function elfMultiboot(opts: { elfClass: 32 | 64; pvhNote?: boolean; flags?: number; code?: number[] }): Buffer {
  const h = header(opts.flags ?? 0x3);
  const code = [0xeb, 2 + h.length, 0x90, 0x90, ...h, ...(opts.code ?? CLI_HLT)];
  return buildPvhImage({ elfClass: opts.elfClass, code, note: opts.pvhNote ? 'phdr' : 'none', noteDescSize: opts.elfClass === 32 ? 4 : 8 });
}

/** A raw (non-ELF) a.out-kludge image: the header at offset 0, code right after, loaded at 1 MiB. */
function kludgeImage(code: number[], o: { bssEnd?: number; headerAddr?: number; loadEnd?: number } = {}): Buffer {
  const load = 0x100000;
  const hlen = 32;
  const h = header(0x10003, [o.headerAddr ?? load, load, o.loadEnd ?? 0, o.bssEnd ?? load + 0x2000, load + hlen]);
  return Buffer.from([...h, ...code]);
}

function badInput(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof BadInput && pattern.test(e.message) && e.message.startsWith('k.elf: '));
}

function write(name: string, b: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, b);
  return p;
}

describe('multiboot header (§3.1, found as QEMU finds it)', () => {
  it('a valid header: magic, flags, checksum with magic + flags + checksum = 0', () => {
    const b = new Uint8Array(64);
    b.set(header(0x00010003), 8);
    const h = findMultibootHeader(b);
    assert.ok(h);
    assert.equal(h.offset, 8);
    assert.equal(h.flags, 0x00010003);
  });
  it('a bad checksum is no header', () => {
    const b = Uint8Array.from(header(0x3));
    b[8] ^= 1;
    assert.equal(findMultibootHeader(b), null);
  });
  it('the header must be 4-byte aligned', () => {
    const b = new Uint8Array(64);
    b.set(header(0x3), 2);
    assert.equal(findMultibootHeader(b), null);
  });
  it('the 48-byte header must lie in the first 8 KiB: found at 8140, not at 8144', () => {
    for (const [at, found] of [[8140, true], [8144, false]] as const) {
      const b = new Uint8Array(9000);
      b.set(header(0x3), at);
      assert.equal(findMultibootHeader(b) !== null, found, `header at ${at}`);
    }
  });
  it('the first valid header wins', () => {
    const b = new Uint8Array(64);
    b.set([0x02, 0xb0, 0xad, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0], 0); // magic, bad checksum
    b.set(header(0x2), 16);
    b.set(header(0x3), 32);
    assert.equal(findMultibootHeader(b)?.offset, 16);
  });
});

describe('multiboot boot plan', () => {
  const plan = (b: Uint8Array, mem = 128 * MiB) => planMultibootBoot(b, 'k.elf', findMultibootHeader(b)!, mem);

  it('an ELF32 image: its PT_LOAD at its paddr, e_entry, strings after the kernel rounded to 4 KiB', () => {
    const p = plan(elfMultiboot({ elfClass: 32 }));
    assert.equal(p.kernelStart, 0x100000);
    assert.equal(p.entry, p.kernelStart + 52 + 32);
    assert.equal(p.modsPaddr, 0x101000);
    assert.equal(p.cmdline, 'k.elf ');
  });
  it('memory map and mem_upper as SeaBIOS gives them on QEMU pc (128 MiB)', () => {
    const p = plan(elfMultiboot({ elfClass: 32 }));
    assert.deepEqual(p.memoryMap, [
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x9fc00, length: 0x400, type: 2 },
      { base: 0xf0000, length: 0x10000, type: 2 },
      { base: 0x100000, length: 0x7ee0000, type: 1 },
      { base: 0x7fe0000, length: 0x20000, type: 2 },
      { base: 0xfffc0000, length: 0x40000, type: 2 },
    ]);
    // §3.3: mem_upper is the memory from 1 MiB to the first hole.
    assert.equal(p.memUpperKiB, 0x7ee0000 / 1024);
  });
  it('an x86-64 ELF with a multiboot header is refused, with a PVH note too (multiboot comes first, as in QEMU)', () => {
    badInput(() => plan(elfMultiboot({ elfClass: 64 })), /x86-64 ELF image with a multiboot header/);
    badInput(() => plan(elfMultiboot({ elfClass: 64, pvhNote: true })), /x86-64 ELF image with a multiboot header/);
  });
  it('a.out kludge: file bytes from header_addr - load_addr before the header, bss zero-filled to bss_end_addr', () => {
    const p = plan(kludgeImage(CLI_HLT));
    assert.equal(p.entry, 0x100000 + 32);
    assert.equal(p.segments.length, 1);
    assert.equal(p.segments[0]!.paddr, 0x100000);
    assert.equal(p.segments[0]!.data.length, 34);
    assert.equal(p.segments[0]!.memsz, 0x2000);
  });
  it('a.out kludge: inconsistent addresses are refused', () => {
    badInput(() => plan(kludgeImage(CLI_HLT, { headerAddr: 0xff000 })), /header_addr 0xff000 is below load_addr/);
    badInput(() => plan(kludgeImage(CLI_HLT, { headerAddr: 0x100010 })), /before the start of the file/);
    badInput(() => plan(kludgeImage(CLI_HLT, { loadEnd: 0xff000 })), /load_end_addr 0xff000 is below load_addr/);
    badInput(() => plan(kludgeImage(CLI_HLT, { loadEnd: 0x101000 })), /past the end of the 34-byte file/);
    badInput(() => plan(kludgeImage(CLI_HLT, { bssEnd: 0x100010 })), /bss_end_addr 0x100010 is below the end of the loaded data/);
  });
  it('RAM from 2 MiB to below 3584 MiB', () => {
    const b = elfMultiboot({ elfClass: 32 });
    badInput(() => plan(b, 1 * MiB), /needs from 2 MiB to less than 3584 MiB/);
    badInput(() => plan(b, 3584 * MiB), /needs from 2 MiB to less than 3584 MiB/);
    assert.doesNotThrow(() => plan(b, 2 * MiB));
  });
});

describe('a kernel over the multiboot information: loaded last, as QEMU\'s option ROM copies it', () => {
  /** An a.out-kludge image loaded at `load` whose file bytes run to `fileEnd` (a 0xA5 filler after the code), bss to `bssEnd`. */
  function lowImage(load: number, fileEnd: number, bssEnd: number): Buffer {
    const h = header(0x10003, [load, load, 0, bssEnd, load + 32]);
    const body = [...h, ...CLI_HLT];
    return Buffer.from([...body, ...new Array(fileEnd - load - body.length).fill(0xa5)]);
  }
  const boot = (b: Buffer) => {
    const m = new Machine({ memoryBytes: 16 * MiB, cpu: { vendor: 'intel', fred: false } });
    const p = planMultibootBoot(b, 'k.elf', findMultibootHeader(b)!, m.memory.size);
    nativeHost.attach(m, {}).boot({ kind: 'multiboot', multiboot: p });
    return { mem: m.memory, p, r: m.registers() };
  };

  it('file bytes over 0x9000-0x9557 replace the map and the information; EBX is still 0x9500', () => {
    const { mem, r } = boot(lowImage(0x8000, 0x9800, 0xa000));
    assert.equal(BigInt(r.rbx!), BigInt(INFO_PADDR));
    for (const a of [MMAP_PADDR, INFO_PADDR, INFO_PADDR + 0x54]) assert.equal(mem.readU32(a), 0xa5a5a5a5, `at ${a.toString(16)}`);
  });
  it('bss over the information is zero', () => {
    const { mem } = boot(lowImage(0x8000, 0x8800, 0xa000));
    for (const a of [MMAP_PADDR, INFO_PADDR, INFO_PADDR + 0x54]) assert.equal(mem.readU32(a), 0, `at ${a.toString(16)}`);
  });
  it('a kernel ending below 0x9000: its strings page at 0x9000 overwrites the map, the rest of the page is zero', () => {
    const { mem, p } = boot(lowImage(0x8000, 0x8800, 0x8800));
    assert.equal(p.modsPaddr, 0x9000);
    assert.equal(String.fromCharCode(...mem.bytes.subarray(0x9000, 0x9006)), 'k.elf ');
    assert.equal(mem.readU32(INFO_PADDR), 0, 'the information lies in the blob\'s zero tail');
  });
  it('a kernel from 0xA000 leaves the information intact', () => {
    const { mem } = boot(lowImage(0xa000, 0xa800, 0xb000));
    assert.equal(mem.readU32(INFO_PADDR), 0x24f);
    assert.equal(mem.readU32(MMAP_PADDR), 20);
  });
});

describe('multiboot entry state (§3.2) and information (§3.3)', () => {
  const booted = () => {
    const m = new Machine({ memoryBytes: 16 * MiB, cpu: { vendor: 'intel', fred: false } });
    const b = elfMultiboot({ elfClass: 32 });
    const p = planMultibootBoot(b, 'k.elf', findMultibootHeader(b)!, m.memory.size);
    nativeHost.attach(m, {}).boot({ kind: 'multiboot', multiboot: p });
    return { m, p, r: m.registers() };
  };

  it('EAX = 0x2BADB002, EBX = the information, protected mode without paging, IF = VM = 0, flat segments at the entry', () => {
    const { p, r } = booted();
    assert.equal(r.rax, '0x000000002badb002');
    assert.equal(BigInt(r.rbx!), BigInt(INFO_PADDR));
    assert.equal(BigInt(r.rip!), BigInt(p.entry));
    const cr0 = Number(BigInt(r.cr0!));
    assert.equal(cr0 & 1, 1, 'CR0.PE');
    assert.equal(cr0 >>> 31, 0, 'CR0.PG');
    const fl = Number(BigInt(r.rflags!));
    assert.equal((fl >> 9) & 1, 0, 'IF');
    assert.equal((fl >> 17) & 1, 0, 'VM');
    assert.equal(r.cs, '0x0000000000000008');
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss']) assert.equal(r[s], '0x0000000000000010', s);
  });

  it('the information structure: flags, memory, boot device, cmdline, loader name, memory map with size fields', () => {
    const { m, p } = booted();
    const mem = m.memory;
    const u32 = (a: number) => mem.readU32(a);
    const str = (a: number) => {
      let s = '';
      while (mem.bytes[a]) s += String.fromCharCode(mem.bytes[a++]!);
      return s;
    };
    const mbi = INFO_PADDR;
    assert.equal(u32(mbi), 0x24f, 'mem, boot_device, cmdline, mods, mmap, boot_loader_name');
    assert.equal(u32(mbi + 4), 639);
    assert.equal(u32(mbi + 8), (16 * MiB - 0x20000 - MiB) / 1024);
    assert.equal(u32(mbi + 12), 0x8000ffff);
    assert.equal(str(u32(mbi + 16)), 'k.elf ');
    assert.equal(u32(mbi + 20), 0, 'mods_count');
    assert.equal(u32(mbi + 24), p.modsPaddr);
    assert.equal(str(u32(mbi + 64)), 'ringside');
    assert.equal(u32(mbi + 48), MMAP_PADDR);
    const length = u32(mbi + 44);
    const entries: Array<[number, number, number]> = [];
    for (let a = MMAP_PADDR; a < MMAP_PADDR + length; a += u32(a) + 4) {
      assert.equal(u32(a), 20, 'size excludes the size field');
      assert.equal(u32(a + 8), 0, 'base below 4 GiB');
      entries.push([u32(a + 4), u32(a + 12), u32(a + 20)]);
    }
    assert.deepEqual(entries, p.memoryMap.map((e) => [e.base, e.length, e.type]));
    // mem_upper agrees with the map: RAM from 1 MiB runs to the first hole.
    const upper = entries.find(([b, l, t]) => t === 1 && b <= MiB && MiB < b + l)!;
    assert.equal(u32(mbi + 8), (upper[0] + upper[1] - MiB) / 1024);
  });
});

describe('multiboot images through runImage and the CLI', () => {
  it('a.out kludge raw image: the kernel halts with EAX = 0x2BADB002, EBX = 0x9500', () => {
    const r = runImage(write('kludge.bin', kludgeImage(CLI_HLT)), { profile: 'native/idt', maxInsns: 1000 });
    assert.equal(r.verdict, 'crash');
    assert.equal(r.registers.rax, '0x000000002badb002');
    assert.equal(r.registers.rbx, '0x0000000000009500');
  });

  it('--append: the information\'s cmdline is the image\'s name, a space and the text, as QEMU\'s -append (the guest prints it)', () => {
    // mov esi, [ebx+16]; 1: mov al, [esi]; test al, al; jz 2f; out 0xe9, al; inc esi; jmp 1b; 2: exit 0
    const code = [0x8b, 0x73, 0x10, 0x8a, 0x06, 0x84, 0xc0, 0x74, 0x05, 0xe6, 0xe9, 0x46, 0xeb, 0xf5, ...EXIT0];
    const image = write('cmdline.bin', kludgeImage(code));
    assert.equal(runImage(image, { profile: 'native/idt', maxInsns: 10_000, append: 'cpuid -x' }).console, `${image} cpuid -x`);
    assert.equal(runImage(image, { profile: 'native/idt', maxInsns: 10_000 }).console, `${image} `);
    const cli = ringside(['run', image, '--append', '-x y']);
    assert.equal(cli.stdout, `${image} -x y`);
  });

  it('COM1 and port 0xE9 feed one console transcript, in the order written', () => {
    const code = [...outBytes(0x3f8, 'A'), ...outBytes(0xe9, 'b'), ...outBytes(0x3f8, 'C\n'), ...EXIT0];
    const r = runImage(write('consoles.bin', kludgeImage(code)), { profile: 'native/idt', maxInsns: 1000 });
    assert.equal(r.console, 'AbC\n');
    assert.equal(r.verdict, 'success');
  });

  it('an ELF64 image with only a multiboot header: exit 2 and one line on stderr', () => {
    const path = write('mb64.elf', elfMultiboot({ elfClass: 64 }));
    const r = ringside(['run', path, '--profile', 'native/idt']);
    assert.equal(r.status, 2, r.stderr);
    const l = lines(r.stderr);
    assert.equal(l.length, 1, r.stderr);
    assert.ok(l[0]!.includes(path));
    assert.match(l[0]!, /x86-64 ELF image with a multiboot header/);
    assert.equal(r.stdout, '');
  });

  it('an ELF32 multiboot image boots and reaches its code', () => {
    const r = ringside(['run', write('mb32.elf', elfMultiboot({ elfClass: 32, code: [...outBytes(0x3f8, 'ok\n'), ...EXIT0] })), '--profile', 'native/idt']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
  });
});

describe('the multiboot-uart guest build (guest.json "boot": "multiboot32")', () => {
  it('is an ELF32 i386 image with its multiboot header in the first 8 KiB and no PVH note', () => {
    assert.equal(guestBoot('multiboot-uart'), 'multiboot32');
    assert.equal(guestBoot('alu-flags'), 'pvh');
    const path = buildGuest('multiboot-uart');
    const bytes = readFileSync(path);
    assert.equal(bytes[4], 1, 'ELFCLASS32');
    assert.equal(bytes.readUInt16LE(18), 3, 'EM_386');
    const h = findMultibootHeader(bytes);
    assert.ok(h && h.offset + 12 <= 8192);
    assert.equal(h.flags & 0x10000, 0, 'loaded from the ELF program headers, not the a.out kludge');
    assert.ok(!parseElf(bytes, path).notes.some((n) => n.name === 'Xen' && n.type === 18));
  });
});
