// The syscall gap (issue 15, point 5; guests/linux-entry/gap.c): the Linux-style kernel takes an
// NMI injected at every instruction of its SYSCALL entry and SYSRET exit, on both vendor
// flavours. The image is linux-entry built with LINUX_SYSCALL_GAP_NMI: it runs one user
// program whose first system call is gap_probe's getpid, and reports what its NMI handler saw.
//
// What must hold, for an NMI injected with `--inject nmi@rip=ADDR` at each address of the
// guest's gap table (read from the ELF; checked against objdump to list every instruction of
// both paths):
//   - it is taken at the boundary before ADDR (the delivery's RIP), at CPL 0, and its IRETQ
//     returns there (SDM Vol. 3A §6.7: NMI; §6.14.3: IRET to the same privilege level);
//   - its frame is on IST2, whatever RSP held (§6.14.5: the TSS's IST entry, with a stack switch
//     even at the same privilege level);
//   - the interrupted RSP is the user's before the entry's stack switch and after the exit's,
//     else on the kernel stack; GS.base is the user's before the entry's SWAPGS and after the
//     exit's, so the paranoid entry did SWAPGS exactly then (SDM Vol. 2B SYSCALL: RSP and GS are
//     not touched; SWAPGS) -- positions found here from objdump's disassembly, not the guest's
//     labels;
//   - the user program's registers, RSP, red zone and GS.base survive, and the exit is SYSRET.
// Not comparable with QEMU: its NMI sources (the monitor's `nmi`, the APIC) cannot place an NMI
// before a chosen instruction (docs/architecture.md, "The syscall gap"). The #DB half runs in
// the default linux-entry run, under QEMU too.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { parseElf } from '../src/guest/elf.js';
import { runImage } from '../src/lab/run.js';
import type { Injection } from '../src/cpu/injections.js';
import type { TransitionRecord } from '../src/cpu/transition.js';

const PROFILES = ['native/idt', 'native/idt-amd'];
const NMI = 2;
const IST_NMI = 2;

const image = buildGuest('linux-entry', { defines: { LINUX_SYSCALL_GAP_NMI: 1 } });

/** name -> [address, size] of every symbol (GNU nm). */
function symbolsWithSize(path: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of execFileSync('nm', ['-P', '-S', path], { encoding: 'utf8' }).split('\n')) {
    const [name, , value, size] = line.split(' ');
    if (value !== undefined) out.set(name, [parseInt(value, 16), size ? parseInt(size, 16) : 0]);
  }
  return out;
}
const syms = symbolsWithSize(image);
const sym = (name: string): number => {
  const v = syms.get(name);
  assert.ok(v !== undefined, `no symbol ${name}`);
  return v[0];
};

/** Quadwords of the loaded image from `start` to `end`. */
function quadwords(start: number, end: number): number[] {
  const elf = parseElf(new Uint8Array(readFileSync(image)), image);
  for (const seg of elf.segments) {
    const base = Number(seg.vaddr);
    if (start >= base && end <= base + seg.data.length) {
      const view = new DataView(seg.data.buffer, seg.data.byteOffset + start - base, end - start);
      return Array.from({ length: (end - start) / 8 }, (_, i) => Number(view.getBigUint64(i * 8, true)));
    }
  }
  throw new Error(`0x${start.toString(16)}..0x${end.toString(16)} is not in the image's file data`);
}

const table = quadwords(sym('syscall_gap_entry'), sym('syscall_gap_end'));
const entryCount = (sym('syscall_gap_exit') - sym('syscall_gap_entry')) / 8;

/** objdump's instructions from `start` up to and including the first whose text matches `last`. */
function disassemble(start: number, last: RegExp): { addr: number; text: string }[] {
  const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + 512).toString(16)}`, image], { encoding: 'utf8' });
  const insns: { addr: number; text: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+([0-9a-f]+):\s+(.*)$/.exec(line);
    if (!m) continue;
    insns.push({ addr: parseInt(m[1], 16), text: m[2].trim() });
    if (last.test(m[2])) return insns;
  }
  throw new Error(`no ${last} within 512 bytes of 0x${start.toString(16)}`);
}

// The entry: from LSTAR's target to the call into C; the exit: from the instruction after that
// call (the test of its answer) to SYSRETQ.
const entryInsns = disassemble(sym('entry_SYSCALL_64'), /call\s+[0-9a-f]+ <do_syscall_64>/);
const exitInsns = disassemble(entryInsns.at(-1)!.addr + 5, /sysretq?$/);
const entrySwapgs = entryInsns.findIndex((x) => /^swapgs/.test(x.text));
const entryStackSwitch = entryInsns.findIndex((x) => /^mov\s+.*,%rsp$/.test(x.text));
const exitStackSwitch = exitInsns.findIndex((x) => /^mov\s+.*,%rsp$/.test(x.text));
const exitSwapgs = exitInsns.findIndex((x) => /^swapgs/.test(x.text));

/** What an NMI at gap instruction i must find (the header). */
function expected(i: number): { stack: 'user' | 'kernel'; gs: 'user' | 'kernel'; at: string } {
  if (i < entryCount) {
    return { stack: i <= entryStackSwitch ? 'user' : 'kernel', gs: i <= entrySwapgs ? 'user' : 'kernel', at: `entry.${i}` };
  }
  const k = i - entryCount;
  return { stack: k > exitStackSwitch ? 'user' : 'kernel', gs: k > exitSwapgs ? 'user' : 'kernel', at: `exit.${k}` };
}

interface Traced { console: string; verdict: string; reason: string; records: TransitionRecord[] }

function run(profile: string, injections: Injection[]): Traced {
  const records: TransitionRecord[] = [];
  const r = runImage(image, { profile, injections, maxInsns: 5_000_000, trace: (t) => records.push(t) });
  return { console: r.console, verdict: r.verdict, reason: r.reason, records };
}

const line = (t: Traced, name: string): string | undefined =>
  t.console.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
const reg = (side: TransitionRecord['before'], r: string): number => Number(BigInt(side.registers[r]));

describe('the syscall gap table', () => {
  it('lists every instruction of the SYSCALL entry and the SYSRET exit, in order (objdump)', () => {
    assert.deepEqual(table.slice(0, entryCount), entryInsns.map((x) => x.addr));
    assert.deepEqual(table.slice(entryCount), exitInsns.map((x) => x.addr));
    assert.equal(table[0], sym('entry_SYSCALL_64'));
    assert.equal(table.at(-1), sym('entry_SYSRETQ'));
    for (const at of [entrySwapgs, entryStackSwitch, exitStackSwitch, exitSwapgs]) assert.ok(at >= 0);
    assert.ok(entrySwapgs < entryStackSwitch && exitStackSwitch < exitSwapgs);
  });
});

const ist = syms.get('ist_stacks');
assert.ok(ist !== undefined, 'the guest library exports its IST stacks as ist_stacks');
const istTop = (n: number): number => ist[0] + (ist[1] / 7) * n;
const kstack = syms.get('kstack')!;

for (const profile of PROFILES) {
  describe(`an NMI at every gap instruction (${profile})`, () => {
    it('without an injection the run takes no NMI and the user program checks pass', () => {
      const t = run(profile, []);
      assert.equal(t.verdict, 'success', t.console);
      assert.equal(line(t, 'syscall_gap.nmi.count'), '0');
      assert.equal(t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI).length, 0);
    });

    table.forEach((addr, i) => {
      const want = expected(i);
      it(`${want.at} (0x${addr.toString(16)}): taken there, on IST2, stack ${want.stack}, GS ${want.gs}; the program's state survives`, () => {
        const t = run(profile, [{ event: { kind: 'nmi' }, at: { rip: addr } }]);
        assert.equal(t.verdict, 'success', `${t.reason}\n${t.console}`);

        const syscall = t.records.find((r) => r.kind === 'syscall')!;
        const userRsp = reg(syscall.before, 'rsp');
        const nmis = t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI);
        assert.equal(nmis.length, 1, 'one NMI');
        const d = nmis[0];
        assert.equal(reg(d.before, 'rip'), addr, 'taken at the boundary before ADDR');
        assert.equal(d.before.cpl, 0);
        assert.equal(reg(d.after, 'rsp') + 40, istTop(IST_NMI), 'the frame at the top of IST2');
        const rsp = reg(d.before, 'rsp');
        if (want.stack === 'user') assert.equal(rsp, userRsp, "the interrupted RSP is the user's");
        else assert.ok(rsp > kstack[0] && rsp <= kstack[0] + kstack[1], 'the interrupted RSP is on the kernel stack');
        const back = t.records.slice(t.records.indexOf(d)).find((r) => r.kind === 'iret')!;
        assert.equal(reg(back.after, 'rip'), addr, "the handler's IRETQ returns to ADDR");
        assert.equal(back.after.cpl, 0);

        assert.equal(line(t, 'syscall_gap.nmi.count'), '1');
        assert.equal(line(t, 'syscall_gap.nmi.at'), want.at);
        assert.equal(line(t, 'syscall_gap.nmi.cs'), '0x8');
        assert.equal(line(t, 'syscall_gap.nmi.stack'), want.stack);
        assert.equal(line(t, 'syscall_gap.nmi.gs'), want.gs, 'GS.base on arrival (the paranoid entry SWAPGSed iff user)');
        assert.equal(line(t, 'syscall_gap.nmi.percpu'), 'ok', '%gs reached the per-CPU area in the handler');
        assert.equal(line(t, 'syscall_gap.nmi.frame'), `ist${IST_NMI}`);
        assert.equal(line(t, 'syscall_gap.rax'), '0x1');
        assert.equal(line(t, 'syscall_gap.rcx'), 'gap_probe_ret');
        assert.equal(line(t, 'syscall_gap.preserved'), '0xc');
        assert.equal(line(t, 'syscall_gap.rsp'), 'kept');
        assert.equal(line(t, 'syscall_gap.red_zone'), '0x10');
        assert.equal(line(t, 'syscall_gap.gs'), 'user');
        assert.equal(line(t, 'syscall_gap.exit'), 'sysret');
      });
    });
  });
}
