// Trace files (docs/architecture.md, "Trace files"): `run --trace FILE` and `ringside trace FILE`.
// The records are checked against the architecture, not against themselves: a fault's
// frame holds the faulting RIP, CS, RSP and SS (SDM Vol. 3A §6.12.1, §6.14.2: 64-bit mode
// pushes SS:RSP always), IRETQ's popped frame is what the CPU resumes with (Vol. 2A IRET),
// SYSCALL's RCX is the next instruction's address (Vol. 2B SYSCALL), so its disassembled
// length must match; symbols are checked against binutils' nm on the same image.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { buildPvhImage, lines, RINGSIDE, ringside } from './helpers/pvh-image.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-trace-'));
const hasNm = spawnSync('nm', ['--version']).status === 0;

interface Slot { offset: number; address: string; name: string; value: string }
interface Side { cpl: number; mode: string; registers: Record<string, string> }
interface Entry {
  seq: number; icount: number; kind: string; vector: number | null; source: string | null; errorCode: number | null;
  before: Side; after: Side;
  frame: { address: string; bytes: string; slots: Slot[] } | null;
  instruction: { address: string; symbol: string | null; bytes: string; text: string } | null;
}

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
    assert.equal(header.version, 1);
    assert.equal(header.profile, 'native/idt');
    assert.equal(typeof header.image, 'string');
    assert.ok(transitions > 100);
    assert.equal(entries.length, transitions);
    entries.forEach((e, k) => assert.equal(e.seq, k + 1));
    for (let k = 1; k < entries.length; k++) assert.ok(entries[k].icount >= entries[k - 1].icount, 'virtual time never goes back');
  });

  it('names each SYSCALL instruction by the ELF symbol nm gives for its address', { skip: !hasNm }, () => {
    const nm = spawnSync('nm', [String(header.image)], { encoding: 'utf8' }).stdout;
    const symbols = new Map<string, bigint>();
    for (const m of nm.matchAll(/^([0-9a-f]+) [tTdDbBrR] (\S+)$/gm)) symbols.set(m[2], BigInt('0x' + m[1]));
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
        l[0] = JSON.stringify({ ...header, version: 2 });
        refused(['trace', variant('v2.trace', l.join('\n') + '\n')], /version 2, this Ringside reads version 1/);
      });
      it('no header', () => refused(['trace', variant('nohead.trace', lines(text).slice(1).join('\n') + '\n')], /not a Ringside trace/));
      it('empty, or missing', () => {
        refused(['trace', variant('empty.trace', '')], /empty/);
        refused(['trace', join(dir, 'absent.trace')], /cannot read/);
      });
    });
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
