// Trace files (docs/architecture.md, "Trace files"): `run --trace FILE` and `ringside trace FILE`.
// The records are checked against the architecture, not against themselves: a fault's
// frame holds the faulting RIP, CS, RSP and SS (SDM Vol. 3A §6.12.1, §6.14.2: 64-bit mode
// pushes SS:RSP always), IRETQ's popped frame is what the CPU resumes with (Vol. 2A IRET),
// SYSCALL's RCX is the next instruction's address (Vol. 2B SYSCALL), so its disassembled
// length must match; symbols are checked against binutils' nm on the same image. Each side
// carries the MSRs a transition reads and the segment bases: SYSCALL enters at IA32_LSTAR,
// SYSENTER at IA32_SYSENTER_EIP (Vol. 2B), the guest's own WRMSR values are what the trace
// shows, and IRET keeps FS's and GS's hidden bases when it nulls their selectors (Vol. 2A IRET).
// The instruction's role: a fault, INT n or SYSCALL is caused by the instruction at the saved
// CS:RIP; a trap (single-step, Vol. 3B §18.3.1.4) is taken at the boundary before the next
// one, whose address the frame saves (Vol. 3A §6.5).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { buildPvhImage, lines, RINGSIDE, ringside } from './helpers/pvh-image.js';
import { readTrace, TraceWriter } from '../src/report/trace-file.js';
import { SymbolTable } from '../src/guest/elf-symbols.js';
import type { TransitionRecord, TransitionSide } from '../src/cpu/transition.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-trace-'));
const hasNm = spawnSync('nm', ['--version']).status === 0;

interface Slot { offset: number; address: string; name: string; value: string }
interface Side {
  cpl: number; mode: string; codeSize: number;
  registers: Record<string, string>; bases: Record<string, string>; msrs: Record<string, string>;
}
interface Entry {
  seq: number; icount: number; kind: string; vector: number | null; source: string | null; errorCode: number | null;
  before: Side; after: Side;
  frame: { address: string; bytes: string; slots: Slot[] } | null;
  instruction: { address: string; symbol: string | null; bytes: string; text: string; role: string } | null;
}

function nmSymbols(image: string): Map<string, bigint> {
  const symbols = new Map<string, bigint>();
  const nm = spawnSync('nm', [image], { encoding: 'utf8' }).stdout;
  for (const m of nm.matchAll(/^([0-9a-f]+) [tTdDbBrR] (\S+)$/gm)) symbols.set(m[2], BigInt('0x' + m[1]));
  return symbols;
}
const traceLines = (file: string): Entry[] => lines(readFileSync(file, 'utf8')).slice(1).map((x) => JSON.parse(x) as Entry);

const big = (hex: string): bigint => BigInt(hex);
const slot = (e: Entry, name: string): bigint => {
  const s = e.frame!.slots.find((x) => x.name === name);
  assert.ok(s, `#${e.seq}: frame slot ${name} in ${JSON.stringify(e.frame)}`);
  return big(s.value);
};
const RF = 1n << 16n;

function refused(args: string[], pattern: RegExp): void {
  const r = ringside(args);
  assert.equal(r.status, 2, `exit status; stderr: ${r.stderr}`);
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(l[0], /^ringside: /);
  assert.match(l[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
}

describe('run linux-entry --trace FILE', () => {
  const file = join(dir, 'linux-entry.trace');
  let text = '';
  let header: Record<string, unknown> = {};
  let entries: Entry[] = [];
  let transitions = 0;

  before(() => {
    const r = ringside(['run', 'linux-entry', '--json', '--trace', file]);
    assert.equal(r.status, 0, r.stderr);
    transitions = (JSON.parse(r.stdout) as { transitions: number }).transitions;
    assert.match(lines(r.stderr).at(-1)!, new RegExp(`^ringside: trace: ${transitions} transitions written to `));
    text = readFileSync(file, 'utf8');
    const l = lines(text);
    header = JSON.parse(l[0]) as Record<string, unknown>;
    entries = l.slice(1).map((x) => JSON.parse(x) as Entry);
  });

  it('is whole: a header, then one line per transition the run counted, numbered from 1', () => {
    assert.ok(text.endsWith('\n'));
    assert.equal(existsSync(`${file}.tmp`), false, 'no temporary file left');
    assert.equal(header.format, 'ringside-trace');
    assert.equal(header.version, 2);
    assert.equal(header.profile, 'native/idt');
    assert.equal(typeof header.image, 'string');
    assert.ok(transitions > 100);
    assert.equal(entries.length, transitions);
    entries.forEach((e, k) => assert.equal(e.seq, k + 1));
    for (let k = 1; k < entries.length; k++) assert.ok(entries[k].icount >= entries[k - 1].icount, 'virtual time never goes back');
  });

  it('names each SYSCALL instruction by the ELF symbol nm gives for its address', { skip: !hasNm }, () => {
    const symbols = nmSymbols(String(header.image));
    const syscalls = entries.filter((e) => e.kind === 'syscall');
    let named = 0;
    for (const e of syscalls) {
      const i = e.instruction!;
      assert.equal(i.text, 'syscall');
      assert.equal(i.bytes, '0f 05');
      assert.equal(big(i.address), big(e.before.registers.rip));
      // RCX = the address of the next instruction (SDM Vol. 2B SYSCALL).
      assert.equal(big(e.after.registers.rcx), big(i.address) + BigInt(i.bytes.split(' ').length));
      if (i.symbol === null) {
        // Code the guest copied elsewhere (its SYSRET probes at the top of the lower half).
        assert.ok(big(i.address) > [...symbols.values()].reduce((a, b) => (a > b ? a : b)), `#${e.seq}: ${i.address} has no symbol`);
        continue;
      }
      named++;
      const m = /^([A-Za-z_.][\w.]*)(?:\+0x([0-9a-f]+))?$/.exec(i.symbol);
      assert.ok(m, `#${e.seq}: symbol ${i.symbol}`);
      assert.ok(symbols.has(m[1]), `nm knows ${m[1]}`);
      assert.equal(symbols.get(m[1])! + BigInt('0x' + (m[2] ?? '0')), big(i.address), `#${e.seq}: ${i.symbol} is ${i.address}`);
    }
    assert.ok(named > 0);
  });

  it('shows the MSRs the kernel wrote: SYSCALL enters at LSTAR, SYSENTER at SYSENTER_EIP, the user runs with the per-CPU area in KERNEL_GS_BASE', { skip: !hasNm }, () => {
    // kernel.c: LSTAR = entry_SYSCALL_64, CSTAR = entry_SYSCALL_compat, SYSENTER_EIP =
    // entry_SYSENTER_compat, GS.base = &percpu, swapped into IA32_KERNEL_GS_BASE for user mode.
    const symbols = nmSymbols(String(header.image));
    const syscalls = entries.filter((e) => e.kind === 'syscall' && e.before.mode === '64-bit');
    const sysenters = entries.filter((e) => e.kind === 'sysenter');
    assert.ok(syscalls.length > 0 && sysenters.length > 0);
    for (const e of syscalls) {
      assert.equal(big(e.before.msrs.lstar), symbols.get('entry_SYSCALL_64'), `#${e.seq}: LSTAR`);
      assert.equal(big(e.before.msrs.cstar), symbols.get('entry_SYSCALL_compat'), `#${e.seq}: CSTAR`);
      assert.equal(big(e.after.registers.rip), big(e.before.msrs.lstar), 'RIP <- IA32_LSTAR');
      assert.equal(big(e.before.msrs.kernelGsBase), symbols.get('percpu'), `#${e.seq}: the kernel's GS.base, swapped out`);
      assert.equal(big(e.after.bases.gs), big(e.before.bases.gs), 'SYSCALL leaves GS.base');
      assert.equal(big(e.before.msrs.efer) & 1n, 1n, 'EFER.SCE');
    }
    for (const e of sysenters) {
      assert.equal(big(e.before.msrs.sysenterEip), symbols.get('entry_SYSENTER_compat'));
      assert.equal(big(e.after.registers.rip), big(e.before.msrs.sysenterEip), 'RIP <- IA32_SYSENTER_EIP');
      assert.equal(big(e.after.registers.rsp), big(e.before.msrs.sysenterEsp), 'RSP <- IA32_SYSENTER_ESP');
      assert.equal(big(e.after.registers.cs), big(e.before.msrs.sysenterCs) & 0xfffcn, 'CS <- IA32_SYSENTER_CS AND FFFCH');
    }
    // A kernel-mode delivery reaches the per-CPU area through GS (the kernel never runs with the user's).
    const kernelFaults = entries.filter((e) => e.kind === 'delivery' && e.before.cpl === 0 && e.before.mode === '64-bit' && e.source === 'fault');
    assert.ok(kernelFaults.length > 0);
    for (const e of kernelFaults) {
      assert.ok([big(e.before.bases.gs), big(e.before.msrs.kernelGsBase)].includes(symbols.get('percpu')!), `#${e.seq}: GS.base or KERNEL_GS_BASE is &percpu`);
    }
  });

  it('says whether the instruction caused the transition or runs next: a trap saves the next one\'s address', () => {
    const roles = (pred: (e: Entry) => boolean): Set<string> => new Set(entries.filter(pred).map((e) => e.instruction!.role));
    assert.deepEqual(roles((e) => e.kind === 'syscall' || e.kind === 'sysret' || e.kind === 'iret' || e.kind === 'sysenter'), new Set(['caused']));
    assert.deepEqual(roles((e) => e.kind === 'delivery' && e.vector === 13), new Set(['caused']));
    const traps = entries.filter((e) => e.kind === 'delivery' && e.source === 'trap' && e.frame !== null);
    assert.ok(traps.length > 10);
    for (const e of traps) {
      assert.equal(e.instruction!.role, 'next', `#${e.seq}`);
      assert.equal(slot(e, e.after.mode === '64-bit' ? 'RIP' : 'EIP'), big(e.instruction!.address), `#${e.seq}: the frame saves the next instruction's address`);
    }
    // INT n: the frame saves the address after the instruction that caused it (Vol. 2A INT n).
    const ints = entries.filter((e) => e.kind === 'delivery' && e.source === 'software' && e.after.mode === '64-bit' && e.frame !== null && e.before.mode === '64-bit');
    assert.ok(ints.length > 0);
    for (const e of ints) {
      assert.equal(e.instruction!.role, 'caused');
      assert.equal(slot(e, 'RIP'), big(e.instruction!.address) + BigInt(e.instruction!.bytes.split(' ').length));
    }
  });

  it('decodes a fault\'s 64-bit frame: error code, RIP, CS, RFLAGS, RSP, SS of the interrupted code', () => {
    const faults = entries.filter((e) => e.kind === 'delivery' && e.source === 'fault' && e.after.mode === '64-bit' && e.frame !== null);
    assert.ok(faults.length > 0);
    for (const e of faults) {
      const b = e.before.registers;
      assert.equal(e.frame!.slots.length, e.errorCode !== null ? 6 : 5);
      assert.equal(big(e.frame!.address), big(e.after.registers.rsp), 'the frame is at the handler\'s RSP');
      if (e.errorCode !== null) assert.equal(slot(e, 'error code'), BigInt(e.errorCode));
      assert.equal(slot(e, 'RIP'), big(b.rip), 'a fault saves the faulting instruction\'s RIP');
      assert.equal(slot(e, 'CS'), big(b.cs));
      assert.equal(slot(e, 'RFLAGS') | RF, big(b.rflags) | RF);
      assert.equal(slot(e, 'RSP'), big(b.rsp));
      assert.equal(slot(e, 'SS'), big(b.ss));
      for (const s of e.frame!.slots) assert.equal(big(s.address), big(e.frame!.address) + BigInt(s.offset));
      assert.equal(big(e.instruction!.address), big(b.rip));
    }
  });

  it('decodes IRETQ\'s popped frame as what the CPU resumes with', () => {
    const irets = entries.filter((e) => e.kind === 'iret' && e.before.mode === '64-bit' && e.frame !== null);
    assert.ok(irets.length > 0);
    for (const e of irets) {
      assert.equal(e.instruction!.text, 'iretq');
      assert.equal(slot(e, 'RIP'), big(e.after.registers.rip));
      assert.equal(slot(e, 'CS'), big(e.after.registers.cs));
      assert.equal(slot(e, 'RSP'), big(e.after.registers.rsp));
      assert.equal(slot(e, 'SS') & 0xffffn, big(e.after.registers.ss));
    }
  });

  describe('ringside trace FILE', () => {
    const blocks = (args: string[]): Array<{ seq: number; kind: string; text: string }> => {
      const r = ringside(['trace', file, ...args]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n\n').slice(1).map((b) => {
        const m = /^#(\d+)  t=\d+  (\S+)/.exec(b);
        assert.ok(m, b);
        return { seq: Number(m[1]), kind: m[2], text: b };
      });
    };
    it('renders every transition without filters, frames as slots with addresses', () => {
      const all = blocks([]);
      assert.deepEqual(all.map((b) => b.seq), entries.map((e) => e.seq));
      const e = entries.find((x) => x.kind === 'delivery' && x.frame !== null)!;
      const block = all[e.seq - 1].text;
      assert.ok(block.includes(`caused by ${e.instruction!.address}`), block);
      const trap = entries.find((x) => x.source === 'trap')!;
      assert.ok(all[trap.seq - 1].text.includes(`next to run ${trap.instruction!.address}`), all[trap.seq - 1].text);
      for (const s of e.frame!.slots) assert.ok(block.includes(`${s.address}  +0x${s.offset.toString(16).padStart(2, '0')}  ${s.name.padEnd(10)} ${s.value}`), block);
      assert.ok(block.includes(`<${e.instruction!.symbol}>`), block);
    });
    it('--kind', () => {
      assert.deepEqual(blocks(['--kind', 'syscall']).map((b) => b.seq), entries.filter((e) => e.kind === 'syscall').map((e) => e.seq));
      assert.deepEqual(blocks(['--kind', 'iret,sysret']).map((b) => b.seq), entries.filter((e) => e.kind === 'iret' || e.kind === 'sysret').map((e) => e.seq));
    });
    it('--vector', () => {
      const v = entries.find((e) => e.vector !== null)!.vector!;
      const got = blocks(['--vector', `0x${v.toString(16)}`]);
      assert.ok(got.length > 0);
      assert.deepEqual(got.map((b) => b.seq), entries.filter((e) => e.vector === v).map((e) => e.seq));
    });
    it('--from N --to M (inclusive)', () => {
      assert.deepEqual(blocks(['--from', '10', '--to', '20']).map((b) => b.seq), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
      assert.deepEqual(blocks(['--from', String(entries.length - 1)]).map((b) => b.seq), [entries.length - 1, entries.length]);
    });
    it('bad filters: one line, exit 2', () => {
      refused(['trace', file, '--kind', 'bounce'], /unknown kind 'bounce'/);
      refused(['trace', file, '--vector', '256'], /--vector/);
      refused(['trace', file, '--from', '5', '--to', '4'], /--from 5 is after --to 4/);
    });

    describe('a file that is not a whole trace of this version: one line, exit 2', () => {
      const variant = (name: string, content: string): string => {
        const p = join(dir, name);
        writeFileSync(p, content);
        return p;
      };
      it('truncated mid-line', () => refused(['trace', variant('cut.trace', text.slice(0, Math.floor(text.length / 2)))], /truncated/));
      it('a line that is not JSON', () => {
        const l = lines(text);
        l[3] = l[3].slice(0, 40);
        refused(['trace', variant('bad.trace', l.join('\n') + '\n')], /line 4 is not a JSON object/);
      });
      it('a record lacking a field', () => {
        const l = lines(text);
        const e = JSON.parse(l[2]) as Record<string, unknown>;
        delete e.before;
        l[2] = JSON.stringify(e);
        refused(['trace', variant('field.trace', l.join('\n') + '\n')], /line 3: .*"before"/);
      });
      it('another version', () => {
        const l = lines(text);
        l[0] = JSON.stringify({ ...header, version: 1 });
        refused(['trace', variant('v1.trace', l.join('\n') + '\n')], /v1\.trace: trace version 1 is not readable by this ringside \(version 2\); run it again/);
      });
      it('a side without its MSRs', () => {
        const l = lines(text);
        const e = JSON.parse(l[2]) as Entry;
        delete (e.after as Partial<Side>).msrs;
        l[2] = JSON.stringify(e);
        refused(['trace', variant('msrs.trace', l.join('\n') + '\n')], /line 3: .*"after"/);
      });
      it('no header', () => refused(['trace', variant('nohead.trace', lines(text).slice(1).join('\n') + '\n')], /not a Ringside trace/));
      it('empty, or missing', () => {
        refused(['trace', variant('empty.trace', '')], /empty/);
        refused(['trace', join(dir, 'absent.trace')], /cannot read/);
      });
    });
  });
});

describe('segment bases and INT1 in traces of other guests', () => {
  it('ring3: IRET to CPL 3 nulls FS and GS but keeps the bases the guest wrote (Vol. 2A IRET)', () => {
    // guests/ring3 (iret.null_keeps_base) writes these to IA32_FS_BASE and IA32_GS_BASE.
    const FS_BASE = 0x0000123456789000n, GS_BASE = 0xffff800012345000n;
    const file = join(dir, 'ring3.trace');
    const r = ringside(['run', 'ring3', '--trace', file]);
    assert.equal(r.status, 0, r.stderr);
    const irets = traceLines(file).filter((e) => e.kind === 'iret' && big(e.before.bases.fs) === FS_BASE);
    assert.ok(irets.length > 0, 'an IRET with the guest\'s FS.base');
    for (const e of irets) {
      assert.equal(big(e.before.bases.gs), GS_BASE);
      assert.equal(e.after.cpl, 3);
      assert.equal(big(e.after.registers.fs), 0n, 'FS nulled');
      assert.equal(big(e.after.registers.gs), 0n, 'GS nulled');
      assert.equal(big(e.after.bases.fs), FS_BASE, 'FS.base kept');
      assert.equal(big(e.after.bases.gs), GS_BASE, 'GS.base kept');
    }
  });

  it('exception-frames: INT1 is a privileged software exception its instruction caused; the frame saves the next RIP', () => {
    const file = join(dir, 'exception-frames.trace');
    const r = ringside(['run', 'exception-frames', '--trace', file]);
    assert.equal(r.status, 0, r.stderr);
    const int1 = traceLines(file).filter((e) => e.kind === 'delivery' && e.vector === 1 && e.instruction?.bytes === 'f1');
    assert.ok(int1.length > 0);
    for (const e of int1) {
      assert.equal(e.source, 'privileged-software');
      assert.equal(e.instruction!.role, 'caused');
      assert.equal(e.instruction!.text, 'int1');
      assert.equal(slot(e, 'RIP'), big(e.instruction!.address) + 1n);
    }
  });
});

describe('disassembly follows the code segment\'s size (SDM Vol. 3A §3.4.5, CS.D)', () => {
  // The model raises a model error on 16-bit code segments, so no run reaches one: the record
  // is made by hand. B8 iw is MOV AX, imm16 in a 16-bit segment, MOV EAX, imm32 in a 32-bit one.
  const hexes = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, '0x' + '0'.repeat(16)]));
  const side = (codeSize: 16 | 32 | 64): TransitionSide => ({
    cpl: 0, mode: codeSize === 64 ? '64-bit' : 'protected', codeSize,
    registers: hexes(['rax', 'rip', 'rflags']), undefinedFlags: [], statusLoaded: false,
    bases: hexes(['es', 'cs', 'ss', 'ds', 'fs', 'gs']) as TransitionSide['bases'],
    msrs: hexes(['efer', 'star', 'lstar', 'cstar', 'fmask', 'kernelGsBase', 'sysenterCs', 'sysenterEsp', 'sysenterEip']) as TransitionSide['msrs'],
  });
  const record = (codeSize: 16 | 32 | 64): TransitionRecord => ({
    seq: 1, icount: 1, kind: 'delivery', vector: 13, source: 'fault', fredType: null, errorCode: 0, annotation: null,
    before: side(codeSize), after: side(32), frame: null,
    code: { address: '0x0000000000001000', bytes: [0xb8, 0x34, 0x12, 0x90, 0x90, 0x90], role: 'caused' },
  });
  const disassembled = (codeSize: 16 | 32 | 64): { text: string; bytes: string } => {
    const file = join(dir, `code${codeSize}.trace`);
    const w = new TraceWriter(file, { profile: 'test', image: 'test' }, new SymbolTable([]));
    w.sink(record(codeSize));
    w.finish();
    return readTrace(file).entries[0].instruction!;
  };
  it('16-bit: 16-bit operands', () => {
    const i = disassembled(16);
    assert.equal(i.text, 'mov $0x1234,%ax');
    assert.equal(i.bytes, 'b8 34 12');
  });
  it('32-bit: 32-bit operands', () => {
    const i = disassembled(32);
    assert.equal(i.text, 'mov $0x90901234,%eax');
    assert.equal(i.bytes, 'b8 34 12 90 90');
  });
});

describe('the trace file appears whole, however the run ends', () => {
  it('a timeout: the transitions up to there', () => {
    const file = join(dir, 'timeout.trace');
    const r = ringside(['run', 'linux-entry', '--max-insns', '40000', '--trace', file]);
    assert.equal(r.status, 7, r.stderr);
    const l = lines(readFileSync(file, 'utf8'));
    assert.ok(l.length > 1);
    for (const x of l.slice(1)) assert.ok((JSON.parse(x) as Entry).icount <= 40000);
    assert.equal(existsSync(`${file}.tmp`), false);
  });
  it('bad input: no file at all', () => {
    const image = join(dir, 'garbage.elf');
    writeFileSync(image, Buffer.from('\x7fELF not really'));
    const file = join(dir, 'none.trace');
    assert.equal(ringside(['run', image, '--trace', file]).status, 2);
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.tmp`), false);
  });
  it('--trace needs a value', () => refused(['run', 'linux-entry', '--trace'], /--trace needs a value/));
  it('Ctrl-C: the file is moved into place before the process exits 130', async () => {
    const image = join(dir, 'spin.elf');
    writeFileSync(image, buildPvhImage({ code: [0xeb, 0xfe] })); // jmp .
    const file = join(dir, 'sigint.trace');
    const child = spawn(process.execPath, [RINGSIDE, 'run', image, '--trace', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(existsSync(file), false, 'not there while the run goes on');
    assert.equal(existsSync(`${file}.tmp`), true);
    child.kill('SIGINT');
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    assert.equal(status, 130, stderr);
    const l = lines(readFileSync(file, 'utf8'));
    assert.equal((JSON.parse(l[0]) as { format: string }).format, 'ringside-trace');
    assert.equal(existsSync(`${file}.tmp`), false);
  });
});

describe('traces of a PV guest on the xen host', () => {
  it("carry the guest mode, name Xen's entry point that returned, and hold the bounce frame Xen wrote", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringside-pv-trace-'));
    const file = join(dir, 'pv.trace');
    const r = ringside(['run', 'pv-syscall', '--profile', 'xen/idt', '--dom0', '--trace', file]);
    assert.equal(r.status, 0, r.stderr);
    const { entries } = readTrace(file);
    assert.ok(entries.every((e) => e.guestMode === 'kernel' || e.guestMode === 'user'));
    // A user SYSCALL bounced to the syscall callback: Xen's create_bounce_frame wrote the
    // 7-word frame { RCX, R11, RIP, CS, RFLAGS, RSP, SS } into the guest kernel's stack.
    const bounce = entries.find((e) => e.annotation === 'host:lstar_enter' && e.hostWrites !== undefined);
    assert.ok(bounce !== undefined, 'no return from lstar_enter with guest memory written');
    assert.equal(bounce.instruction?.text, 'host:lstar_enter');
    assert.equal(bounce.hostWrites![0].bytes.split(' ').length, 56);
    const text = ringside(['trace', file, '--from', String(bounce.seq), '--to', String(bounce.seq)]).stdout;
    assert.match(text, /caused by 0xffff82d0bffff000: host:lstar_enter\n/);
    assert.match(text, /the host wrote 56 bytes of guest memory at 0x[0-9a-f]{16}: /);
  });
});
