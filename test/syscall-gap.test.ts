// The syscall gap (issue 15, point 5; guests/linux-entry/gap.c): the Linux-style kernel takes an
// NMI injected, and a #DB from its own DR0, at every instruction of its SYSCALL entry and
// SYSRET exit, on both vendor flavours. The image is linux-entry built with LINUX_SYSCALL_GAP_NMI: it runs one user
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
// the default linux-entry run, under QEMU too (test/linux-entry.test.ts); here each #DB's
// delivery is also checked in the trace: at the breakpoint, a fault, on IST3, and returned from
// with RF set (SDM Vol. 3B §18.3.1.1).

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
const DB = 1;
const NMI = 2;
const IST_DB = 3;
const IST_NMI = 2;

interface Insn { addr: number; text: string }
type Where = 'user' | 'kernel';

/** One build of linux-entry: its gap table, the paths as objdump lists them, and what an event
 *  at each gap instruction must find. */
class GapImage {
  readonly syms: Map<string, [number, number]>;
  readonly table: number[];
  readonly entryCount: number;
  readonly entryInsns: Insn[];
  readonly exitInsns: Insn[];

  constructor(readonly path: string) {
    this.syms = new Map();
    for (const line of execFileSync('nm', ['-P', '-S', path], { encoding: 'utf8' }).split('\n')) {
      const [name, , value, size] = line.split(' ');
      if (value !== undefined) this.syms.set(name, [parseInt(value, 16), size ? parseInt(size, 16) : 0]);
    }
    this.table = this.quadwords(this.sym('syscall_gap_entry'), this.sym('syscall_gap_end'));
    this.entryCount = (this.sym('syscall_gap_exit') - this.sym('syscall_gap_entry')) / 8;
    // The entry: from LSTAR's target to the call into C; the exit: from the instruction after
    // that call (the test of its answer) to SYSRETQ.
    this.entryInsns = this.disassemble(this.sym('entry_SYSCALL_64'), /call\s+[0-9a-f]+ <do_syscall_64>/);
    this.exitInsns = this.disassemble(this.entryInsns.at(-1)!.addr + 5, /sysretq?$/);
  }

  sym(name: string): number {
    const v = this.syms.get(name);
    assert.ok(v !== undefined, `no symbol ${name}`);
    return v[0];
  }

  /** Quadwords of the loaded image from `start` to `end`. */
  private quadwords(start: number, end: number): number[] {
    const elf = parseElf(new Uint8Array(readFileSync(this.path)), this.path);
    for (const seg of elf.segments) {
      const base = Number(seg.vaddr);
      if (start >= base && end <= base + seg.data.length) {
        const view = new DataView(seg.data.buffer, seg.data.byteOffset + start - base, end - start);
        return Array.from({ length: (end - start) / 8 }, (_, i) => Number(view.getBigUint64(i * 8, true)));
      }
    }
    throw new Error(`0x${start.toString(16)}..0x${end.toString(16)} is not in the image's file data`);
  }

  /** objdump's instructions from `start` up to and including the first whose text matches `last`. */
  private disassemble(start: number, last: RegExp): Insn[] {
    const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + 512).toString(16)}`, this.path], { encoding: 'utf8' });
    const insns: Insn[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s+([0-9a-f]+):\s+(.*)$/.exec(line);
      if (!m) continue;
      insns.push({ addr: parseInt(m[1], 16), text: m[2].trim() });
      if (last.test(m[2])) return insns;
    }
    throw new Error(`no ${last} within 512 bytes of 0x${start.toString(16)}`);
  }

  private static find(insns: Insn[], re: RegExp): number {
    const i = insns.findIndex((x) => re.test(x.text));
    assert.ok(i >= 0, `no ${re} in the path`);
    return i;
  }

  /** What an event at gap instruction i must find (the header): the stack is the user's up to
   *  the entry's MOV to RSP and after the exit's; GS up to the entry's SWAPGS and after the
   *  exit's. */
  expected(i: number): { stack: Where; gs: Where; at: string } {
    const swapgs = /^swapgs/, toRsp = /^mov\s+.*,%rsp$/;
    if (i < this.entryCount) {
      const stack = i <= GapImage.find(this.entryInsns, toRsp) ? 'user' : 'kernel';
      return { stack, gs: i <= GapImage.find(this.entryInsns, swapgs) ? 'user' : 'kernel', at: `entry.${i}` };
    }
    const k = i - this.entryCount;
    const stack = k > GapImage.find(this.exitInsns, toRsp) ? 'user' : 'kernel';
    return { stack, gs: k > GapImage.find(this.exitInsns, swapgs) ? 'user' : 'kernel', at: `exit.${k}` };
  }

  /** The top of the guest library's IST stack n (ist_stacks: seven of them). */
  istTop(n: number): number {
    const [base, size] = this.syms.get('ist_stacks')!;
    return base + (size / 7) * n;
  }

  onKernelStack(rsp: number): boolean {
    const [base, size] = this.syms.get('kstack')!;
    return rsp > base && rsp <= base + size;
  }
}

interface Traced { console: string; verdict: string; reason: string; records: TransitionRecord[] }

function run(image: string, profile: string, injections: Injection[]): Traced {
  const records: TransitionRecord[] = [];
  const r = runImage(image, { profile, injections, maxInsns: 50_000_000, trace: (t) => records.push(t) });
  return { console: r.console, verdict: r.verdict, reason: r.reason, records };
}

const line = (t: Traced, name: string): string | undefined =>
  t.console.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
const reg = (side: TransitionRecord['before'], r: string): number => Number(BigInt(side.registers[r]));

const nmiImage = new GapImage(buildGuest('linux-entry', { defines: { LINUX_SYSCALL_GAP_NMI: 1 } }));
const dbImage = new GapImage(buildGuest('linux-entry'));

describe('the syscall gap table', () => {
  for (const [what, g] of [['NMI build', nmiImage], ['default build', dbImage]] as const) {
    it(`lists every instruction of the SYSCALL entry and the SYSRET exit, in order (objdump; ${what})`, () => {
      assert.deepEqual(g.table.slice(0, g.entryCount), g.entryInsns.map((x) => x.addr));
      assert.deepEqual(g.table.slice(g.entryCount), g.exitInsns.map((x) => x.addr));
      assert.equal(g.table[0], g.sym('entry_SYSCALL_64'));
      assert.equal(g.table.at(-1), g.sym('entry_SYSRETQ'));
    });
  }
});

for (const profile of PROFILES) {
  describe(`an NMI at every gap instruction (${profile})`, () => {
    const g = nmiImage;
    it('without an injection the run takes no NMI and the user program checks pass', () => {
      const t = run(g.path, profile, []);
      assert.equal(t.verdict, 'success', t.console);
      assert.equal(line(t, 'syscall_gap.nmi.count'), '0');
      assert.equal(t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI).length, 0);
    });

    g.table.forEach((addr, i) => {
      const want = g.expected(i);
      it(`${want.at} (0x${addr.toString(16)}): taken there, on IST2, stack ${want.stack}, GS ${want.gs}; the program's state survives`, () => {
        const t = run(g.path, profile, [{ event: { kind: 'nmi' }, at: { rip: addr } }]);
        assert.equal(t.verdict, 'success', `${t.reason}\n${t.console}`);

        const syscall = t.records.find((r) => r.kind === 'syscall')!;
        const userRsp = reg(syscall.before, 'rsp');
        const nmis = t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI);
        assert.equal(nmis.length, 1, 'one NMI');
        const d = nmis[0];
        assert.equal(reg(d.before, 'rip'), addr, 'taken at the boundary before ADDR');
        assert.equal(d.before.cpl, 0);
        assert.equal(reg(d.after, 'rsp') + 40, g.istTop(IST_NMI), 'the frame at the top of IST2');
        const rsp = reg(d.before, 'rsp');
        if (want.stack === 'user') assert.equal(rsp, userRsp, "the interrupted RSP is the user's");
        else assert.ok(g.onKernelStack(rsp), 'the interrupted RSP is on the kernel stack');
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

  it(`a #DB from DR0 at every gap instruction: taken there at CPL 0 on IST3, once, and the kernel sees what the position implies (${profile})`, () => {
    // SDM Vol. 3B §18.2.4, §18.3.1.1: an instruction breakpoint is a fault, before the
    // instruction; RF = 1 in the frame lets the IRETQ's return execute it.
    const g = dbImage;
    const t = run(g.path, profile, []);
    assert.equal(t.verdict, 'success', `${t.reason}\n${t.console.split('\n').filter((l) => l.startsWith('FAIL')).join('\n')}`);
    const dbs = t.records.filter((r) => r.kind === 'delivery' && r.vector === DB && r.before.cpl === 0 && g.table.includes(reg(r.before, 'rip')));
    g.table.forEach((addr, i) => {
      const want = g.expected(i);
      // The system call's own pass and, for the entry, the exit() call's.
      const here = dbs.filter((r) => reg(r.before, 'rip') === addr);
      assert.equal(here.length, i < g.entryCount ? 2 : 1, `${want.at}: #DB deliveries`);
      for (const d of here) {
        // Fault-class: the frame's RIP is the breakpoint's instruction, not yet run.
        assert.equal(d.source, 'fault', `${want.at}: an instruction breakpoint is a fault`);
        const frameRip = Number(new DataView(Uint8Array.from(d.frame!.bytes).buffer).getBigUint64(0, true));
        assert.equal(frameRip, addr, `${want.at}: the frame's RIP is the breakpoint's instruction`);
        assert.equal(reg(d.after, 'rsp') + 40, g.istTop(IST_DB), `${want.at}: the frame at the top of IST3`);
        const back = t.records.slice(t.records.indexOf(d)).find((r) => r.kind === 'iret')!;
        assert.equal(reg(back.after, 'rip'), addr, `${want.at}: the IRETQ returns to the breakpoint`);
        assert.ok(reg(back.after, 'rflags') & 0x10000, `${want.at}: with RF`);
      }
      assert.equal(
        line(t, `syscall_gap.db.${want.at}`),
        `at=${want.at} cs=0x8 stack=${want.stack} gs=${want.gs} percpu=ok frame=ist${IST_DB} dr6.b0=1 hits=1 user=kept`,
      );
    });
    assert.equal(line(t, 'syscall_gap.db.addresses'), `${g.entryCount} entry, ${g.table.length - g.entryCount} exit`);
  });
}
