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
// Under FRED (native/fred, the same image: the kernel enables FRED when CPUID enumerates it) the
// table is the FRED entry's and exit's (fred_gap_entry .. fred_gap_exit .. fred_gap_end), from
// the ring-3 entry point to the call into C and from the return to ERETU. There is no gap: the
// delivery of SYSCALL switched to IA32_FRED_RSP0 and swapped GS before the entry's first
// instruction, and ERETU switches both back as it returns (SDM Vol. 3 §8.3, ERETU "Operation"),
// so an NMI injected at each of them must be:
//   - delivered at the boundary before ADDR at CPL 0 (at the ERETU too: an NMI is taken before
//     an instruction, and ERETU has not executed, so CPL is still 0), entering at the ring-0
//     entry point IA32_FRED_CONFIG[63:12] + 256 (§8.3);
//   - on stack level 2, IA32_FRED_STKLVLS' level for vector 2, which is above the current level
//     0, so RSP := IA32_FRED_RSP2 (IST_NMI's top) and the 64-byte frame sits right below it;
//   - a frame holding RIP = ADDR, the kernel's CS with stack level 0 in bits 17:16, RFLAGS as
//     SYSCALL's delivery left them (2), the interrupted RSP (the kernel stack), the kernel's SS
//     with bit 18 (NMI) set and bits 16, 17 clear, vector 2, type 2, 64-bit mode, not nested,
//     no instruction length, event data 0 (no NMI-source reporting);
//   - returned from by ERETS to ADDR at CPL 0, which unblocks NMIs (the frame's SS bit 18);
//   - seen by the handler with the kernel's stack and GS at every position.
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

interface Insn { addr: number; bytes: string; text: string }
type Where = 'user' | 'kernel';

/** One build of linux-entry: its gap table (SYSCALL/SYSRET's, or with `fred` the FRED entry's
 *  and exit's), the paths as objdump lists them, and what an event at each gap instruction must
 *  find. */
class GapImage {
  readonly syms: Map<string, [number, number]>;
  readonly table: number[];
  readonly entryCount: number;
  readonly entryInsns: Insn[];
  readonly exitInsns: Insn[];

  constructor(readonly path: string, readonly fred = false) {
    this.syms = new Map();
    for (const line of execFileSync('nm', ['-P', '-S', path], { encoding: 'utf8' }).split('\n')) {
      const [name, , value, size] = line.split(' ');
      if (value !== undefined) this.syms.set(name, [parseInt(value, 16), size ? parseInt(size, 16) : 0]);
    }
    const t = fred ? 'fred_gap' : 'syscall_gap';
    this.table = this.quadwords(this.sym(`${t}_entry`), this.sym(`${t}_end`));
    this.entryCount = (this.sym(`${t}_exit`) - this.sym(`${t}_entry`)) / 8;
    // The entry: from LSTAR's target (FRED: the ring-3 entry point) to the call into C; the
    // exit: from the instruction after that call to SYSRETQ (FRED: ERETU, F3 0F 01 CA, which
    // binutils 2.40 shows as `repz clac`, so found by its bytes).
    if (fred) {
      this.entryInsns = this.disassemble(this.sym('asm_fred_entrypoint_user'), (x) => /call\s+[0-9a-f]+ <fred_entry_from_user>/.test(x.text));
      this.exitInsns = this.disassemble(this.entryInsns.at(-1)!.addr + 5, (x) => x.bytes === 'f3 0f 01 ca');
    } else {
      this.entryInsns = this.disassemble(this.sym('entry_SYSCALL_64'), (x) => /call\s+[0-9a-f]+ <do_syscall_64>/.test(x.text));
      this.exitInsns = this.disassemble(this.entryInsns.at(-1)!.addr + 5, (x) => /sysretq?$/.test(x.text));
    }
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

  /** objdump's instructions from `start` up to and including the first `last` accepts. */
  private disassemble(start: number, last: (x: Insn) => boolean): Insn[] {
    const out = execFileSync('objdump', ['-d', '-w', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + 512).toString(16)}`, this.path], { encoding: 'utf8' });
    const insns: Insn[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s+([0-9a-f]+):\t([0-9a-f ]+)\t(.*)$/.exec(line);
      if (!m) continue;
      const x = { addr: parseInt(m[1], 16), bytes: m[2].trim(), text: m[3].trim() };
      insns.push(x);
      if (last(x)) return insns;
    }
    throw new Error(`no end of the path within 512 bytes of 0x${start.toString(16)}`);
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
    if (this.fred) {
      const at = i < this.entryCount ? `entry.${i}` : `exit.${i - this.entryCount}`;
      return { stack: 'kernel', gs: 'kernel', at };
    }
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
const fredNmiImage = new GapImage(nmiImage.path, true);
const fredDbImage = new GapImage(dbImage.path, true);
const FRED_NMI = 2;
const FRED_OTHER = 7;

describe('the syscall gap table', () => {
  for (const [what, g] of [['NMI build', nmiImage], ['default build', dbImage]] as const) {
    it(`lists every instruction of the SYSCALL entry and the SYSRET exit, in order (objdump; ${what})`, () => {
      assert.deepEqual(g.table.slice(0, g.entryCount), g.entryInsns.map((x) => x.addr));
      assert.deepEqual(g.table.slice(g.entryCount), g.exitInsns.map((x) => x.addr));
      assert.equal(g.table[0], g.sym('entry_SYSCALL_64'));
      assert.equal(g.table.at(-1), g.sym('entry_SYSRETQ'));
    });
  }
  for (const [what, g] of [['NMI build', fredNmiImage], ['default build', fredDbImage]] as const) {
    it(`lists every instruction of the FRED entry and the ERETU exit, in order (objdump; ${what})`, () => {
      assert.deepEqual(g.table.slice(0, g.entryCount), g.entryInsns.map((x) => x.addr));
      assert.deepEqual(g.table.slice(g.entryCount), g.exitInsns.map((x) => x.addr));
      assert.equal(g.table[0], g.sym('asm_fred_entrypoint_user'));
      assert.equal(g.table.at(-1), g.sym('asm_fred_eretu'));
    });
  }
});

/** The eight quadwords of a FRED frame (§8.3), lowest address first. */
function fredFrame(r: TransitionRecord): bigint[] {
  assert.ok(r.frame !== null && r.frame.bytes.length === 64, 'a 64-byte FRED frame');
  const view = new DataView(Uint8Array.from(r.frame.bytes).buffer);
  return Array.from({ length: 8 }, (_, i) => view.getBigUint64(i * 8, true));
}

describe('an NMI at every instruction of the FRED entry and exit (native/fred)', () => {
  const g = fredNmiImage;
  const profile = 'native/fred';
  it('without an injection the run takes no NMI, the kernel runs under FRED and the user program checks pass', () => {
    const t = run(g.path, profile, []);
    assert.equal(t.verdict, 'success', t.console);
    assert.equal(line(t, 'kernel.fred'), 'enabled');
    assert.equal(line(t, 'syscall_gap.nmi.count'), '0');
    assert.equal(t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI).length, 0);
  });

  g.table.forEach((addr, i) => {
    const want = g.expected(i);
    it(`${want.at} (0x${addr.toString(16)}): taken there at CPL 0, on stack level 2, kernel stack and GS; returned by ERETS; the program's state survives`, () => {
      const t = run(g.path, profile, [{ event: { kind: 'nmi' }, at: { rip: addr } }]);
      assert.equal(t.verdict, 'success', `${t.reason}\n${t.console}`);

      const syscall = t.records.find((r) => r.kind === 'delivery' && r.fredType === FRED_OTHER && r.vector === 1 && r.before.cpl === 3)!;
      assert.ok(syscall, 'the program\'s SYSCALL is a FRED event (type 7, vector 1)');
      const kernelCs = BigInt(syscall.after.registers.cs), kernelSs = BigInt(syscall.after.registers.ss);
      const nmis = t.records.filter((r) => r.kind === 'delivery' && r.vector === NMI);
      assert.equal(nmis.length, 1, 'one NMI');
      const d = nmis[0];
      assert.equal(d.fredType, FRED_NMI, 'a FRED delivery of type 2');
      assert.equal(reg(d.before, 'rip'), addr, 'taken at the boundary before ADDR');
      assert.equal(d.before.cpl, 0, 'at CPL 0 (at the ERETU too: it has not executed)');
      assert.equal(BigInt(reg(d.after, 'rip')), BigInt(g.sym('asm_fred_entrypoint_user')) + 256n, 'the ring-0 entry point, CONFIG[63:12] + 256');
      assert.equal(reg(d.after, 'rsp') + 64, g.istTop(IST_NMI), 'the frame right below IA32_FRED_RSP2 (level 2 > level 0)');
      assert.equal(reg(d.after, 'rflags'), 2, 'RFLAGS = 2 after delivery');
      const rsp = reg(d.before, 'rsp');
      assert.ok(g.onKernelStack(rsp), 'the interrupted RSP is on the kernel stack');
      const [error, rip, cs, rflags, frsp, ss, edata, resv] = fredFrame(d);
      assert.equal(error, 0n);
      assert.equal(rip, BigInt(addr), 'frame RIP: the instruction not yet executed');
      assert.equal(cs, kernelCs, "frame CS: the kernel's, stack level 0 (bits 17:16), no WFE");
      assert.equal(rflags, BigInt(reg(d.before, 'rflags')));
      assert.equal(rflags & 0x200n, 0n, 'IF clear: SYSCALL\'s delivery cleared RFLAGS');
      assert.equal(frsp, BigInt(rsp));
      assert.equal(ss & 0xffffn, kernelSs, "frame SS: the kernel's");
      assert.equal((ss >> 16n) & 7n, 4n, 'SS bits 18:16: NMI, not a software event, no STI blocking');
      assert.equal((ss >> 32n) & 0xffn, 2n, 'vector 2');
      assert.equal((ss >> 48n) & 0xfn, 2n, 'type 2');
      assert.equal((ss >> 57n) & 1n, 1n, '64-bit mode');
      assert.equal((ss >> 58n) & 1n, 0n, 'not nested');
      assert.equal(ss >> 60n, 0n, 'no instruction length');
      assert.equal(edata, 0n, 'event data 0 (no NMI-source reporting)');
      assert.equal(resv, 0n);
      const rest = t.records.slice(t.records.indexOf(d) + 1);
      const back = rest.find((r) => r.kind === 'erets' || r.kind === 'eretu' || r.kind === 'iret')!;
      assert.equal(back.kind, 'erets', 'the handler returns with ERETS');
      assert.equal(reg(back.after, 'rip'), addr, 'to ADDR');
      assert.equal(back.after.cpl, 0);
      const exit = rest.find((r) => r.kind === 'eretu')!;
      assert.equal(reg(exit.before, 'rip'), g.sym('asm_fred_eretu'), 'then the exit\'s ERETU runs');
      assert.equal(exit.after.cpl, 3);

      assert.equal(line(t, 'syscall_gap.nmi.count'), '1');
      assert.equal(line(t, 'syscall_gap.nmi.at'), want.at);
      assert.equal(line(t, 'syscall_gap.nmi.cs'), '0x8');
      assert.equal(line(t, 'syscall_gap.nmi.stack'), 'kernel');
      assert.equal(line(t, 'syscall_gap.nmi.gs'), 'kernel', 'GS.base on arrival is the kernel\'s');
      assert.equal(line(t, 'syscall_gap.nmi.percpu'), 'ok');
      assert.equal(line(t, 'syscall_gap.nmi.frame'), `ist${IST_NMI}`);
      assert.equal(line(t, 'syscall_gap.rax'), '0x1');
      assert.equal(line(t, 'syscall_gap.preserved'), '0xe', 'every register but RAX, RCX and R11 included');
      assert.equal(line(t, 'syscall_gap.rsp'), 'kept');
      assert.equal(line(t, 'syscall_gap.red_zone'), '0x10');
      assert.equal(line(t, 'syscall_gap.gs'), 'user');
      assert.equal(line(t, 'syscall_gap.exit'), 'eretu');
    });
  });
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
