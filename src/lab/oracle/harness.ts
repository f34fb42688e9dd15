// The hardware side of the oracle, from TypeScript: build test/oracle/harness.c with
// gcc into a content-addressed cache (.cache/oracle/harness-<sha256>), start it once,
// and exchange batches of cases and outcomes with it over its stdin/stdout (the
// binary protocol is described at the top of harness.c). One process serves a whole
// run; nothing is spawned per case.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../guest/build.js';
import {
  CODE_ADDR, CODE_SIZE, SCRATCH_ADDR, SCRATCH_SIZE, CTRL_ADDR, EndKind, caseRegs,
  type Case, type HostOutcome, type Range,
} from './layout.js';

const CFLAGS = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-fno-stack-protector', '-fcf-protection=none', '-fPIE', '-pie'];

export function harnessSource(): string {
  return join(repoRoot(), 'test', 'oracle', 'harness.c');
}

function gccVersion(): string {
  return execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
}

/** Is there a gcc to build the harness with, on an x86-64 Linux host? */
export function harnessAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, why: `needs x86-64 Linux (this is ${process.platform}/${process.arch})` };
  try {
    gccVersion();
  } catch {
    return { ok: false, why: 'gcc is not installed' };
  }
  return { ok: true };
}

/** Build the harness if the cache does not have this source + flags + compiler yet; returns its path. */
export function buildHarness(): string {
  const src = harnessSource();
  const hash = createHash('sha256');
  hash.update('ringside-oracle-harness-v1\0');
  hash.update(readFileSync(src));
  hash.update(JSON.stringify(CFLAGS));
  hash.update(gccVersion());
  const digest = hash.digest('hex').slice(0, 32);
  const dir = join(repoRoot(), '.cache', 'oracle');
  const out = join(dir, `harness-${digest}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    execFileSync('gcc', [...CFLAGS, '-o', tmp, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as { stderr?: Buffer };
    throw new Error(`building the oracle harness failed: ${err.stderr?.toString() ?? String(e)}`);
  }
  return out;
}

/** The harness's hello: the host CPU and the state a case starts from. */
export interface Hello {
  signature: string;
  vendor: string;
  family: number;
  model: number;
  stepping: number;
  brand: string;
  leaf1: number[];
  leaf7: number[];
  ext1: number[];
  /** What F3 0F BD / F3 0F BC execute as, found by running them (CPUID may hide it). */
  probes: { lzcnt: boolean; tzcnt: boolean };
  fsBase: bigint;
  gsBase: bigint;
  /** Selectors ES CS SS DS FS GS at the start of every case. */
  sel: number[];
  /** The exit stub the harness puts after each sequence (the model puts the same bytes there). */
  stub: Uint8Array;
  pipe: number[];
  /** LAR/LSL of each GDT index at CPL 3 (null: LAR fails). */
  gdt: ([number, number] | null)[];
  /** The harness's own mappings [start, end) (its code, libc, heap, stack...). */
  maps: [bigint, bigint][];
}

/** Would an access at this linear address (a signed number, as the model holds them)
 *  reach the harness's own memory? Each mapping counts with 1 GiB around it (the heap and
 *  the mmap area grow). */
export function inHarness(h: Hello, lin: number): boolean {
  const a = BigInt.asUintN(64, BigInt(Math.trunc(lin)));
  const slack = 1n << 30n;
  for (const [s, e] of h.maps) if (a >= s - slack && a < e + slack) return true;
  return false;
}

/** CPUID feature bits of the host, by the names the opcode table gates on. */
export function hostFeatures(h: Hello): Set<string> {
  const f = new Set<string>();
  const bit = (v: number, b: number): boolean => ((v >>> b) & 1) !== 0;
  if (bit(h.leaf1[3], 8)) f.add('cx8');
  if (bit(h.leaf1[3], 15)) f.add('cmov');
  if (bit(h.leaf1[3], 4)) f.add('tsc');
  if (bit(h.leaf1[3], 5)) f.add('msr');
  if (bit(h.leaf1[3], 11)) f.add('sep');
  if (bit(h.leaf1[2], 13)) f.add('cx16');
  if (bit(h.leaf1[2], 23)) f.add('popcnt');
  if (bit(h.leaf1[2], 22)) f.add('movbe');
  if (bit(h.ext1[2], 0)) f.add('lahf64');
  if (bit(h.ext1[2], 5)) f.add('lzcnt');
  if (bit(h.ext1[3], 11)) f.add('syscall');
  if (bit(h.ext1[3], 27)) f.add('rdtscp');
  if (bit(h.leaf7[1], 3)) f.add('bmi1');
  if (bit(h.leaf7[1], 19)) f.add('adx');
  if (bit(h.leaf7[2], 2)) f.add('umip');
  if (bit(h.leaf7[2], 22)) f.add('rdpid');
  return f;
}

const HEADER = 12;
const CASE_FIXED = 17 * 8 + 8;
const OUT_FIXED = 1 + 1 + 2 + 4 + 8 * 4 + 16 * 8 + 8 + 12;

export class Hardware {
  readonly hello: Hello;
  private readonly child: ChildProcess;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;
  private pending = 0;

  private constructor(child: ChildProcess, hello: Hello) {
    this.child = child;
    this.hello = hello;
  }

  /** Start the harness and send it the scratch image pool. */
  static async start(binary: string, images: Uint8Array[]): Promise<Hardware> {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const hw = new Hardware(child, undefined as unknown as Hello);
    child.stdout!.on('data', (b: Buffer) => hw.onData(b));
    child.on('exit', (code, signal) => hw.onDeath(new Error(`oracle harness exited (${signal ?? `status ${code}`})`)));
    child.on('error', (e) => hw.onDeath(e));
    child.stdin!.on('error', (e) => hw.onDeath(e));
    const init = Buffer.alloc(HEADER + images.length * SCRATCH_SIZE);
    init.write('RSI1', 0, 'latin1');
    init.writeUInt32LE(images.length, 4);
    init.writeUInt32LE(SCRATCH_SIZE, 8);
    images.forEach((img, k) => init.set(img, HEADER + k * SCRATCH_SIZE));
    child.stdin!.write(init);
    const len = (await hw.read(4)).readUInt32LE(0);
    const json = JSON.parse((await hw.read(len)).toString('utf8')) as Record<string, unknown>;
    const hello: Hello = {
      signature: json.signature as string,
      vendor: json.vendor as string,
      family: json.family as number,
      model: json.model as number,
      stepping: json.stepping as number,
      brand: (json.brand as string).trim(),
      leaf1: json.leaf1 as number[],
      leaf7: json.leaf7 as number[],
      ext1: json.ext1 as number[],
      probes: json.probes as { lzcnt: boolean; tzcnt: boolean },
      fsBase: BigInt(json.fsBase as string),
      gsBase: BigInt(json.gsBase as string),
      sel: json.sel as number[],
      stub: Uint8Array.from(Buffer.from(json.stub as string, 'hex')),
      pipe: json.pipe as number[],
      gdt: json.gdt as ([number, number] | null)[],
      maps: (json.maps as [string, string][]).map(([a, b]) => [BigInt(a), BigInt(b)] as [bigint, bigint]),
    };
    const layout: [string, number][] = [['code', CODE_ADDR], ['codeSize', CODE_SIZE], ['scratch', SCRATCH_ADDR],
      ['scratchSize', SCRATCH_SIZE], ['ctrl', CTRL_ADDR]];
    for (const [k, v] of layout) {
      if (Number(json[k]) !== v) throw new Error(`oracle harness layout mismatch: ${k} is ${String(json[k])}, expected ${v}`);
    }
    (hw as { hello: Hello }).hello = hello;
    return hw;
  }

  private onData(b: Buffer): void {
    this.chunks.push(b);
    this.buffered += b.length;
    this.satisfy();
  }

  private onDeath(e: Error): void {
    if (this.dead === null) this.dead = e;
    if (this.want !== null) {
      const w = this.want;
      this.want = null;
      w.reject(this.dead);
    }
  }

  private satisfy(): void {
    const w = this.want;
    if (w === null || this.buffered < w.n) return;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const head = all.subarray(0, w.n);
    const rest = all.subarray(w.n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.want = null;
    w.resolve(head);
  }

  private read(n: number): Promise<Buffer> {
    if (this.want !== null) throw new Error('oracle harness: overlapping reads');
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      if (this.dead !== null && this.buffered < n) { this.want = null; reject(this.dead); return; }
      this.satisfy();
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** Send one batch; its outcomes come from the matching receive(). Sends and receives
   *  pair up in order, so a caller can model one batch while the harness runs it. */
  send(cases: readonly Case[]): void {
    if (this.dead !== null) throw this.dead;
    let size = HEADER;
    for (const c of cases) {
      size += CASE_FIXED + c.code.length;
      for (const p of c.patches) size += 4 + p.bytes.length;
    }
    const buf = Buffer.alloc(size);
    buf.write('RSB1', 0, 'latin1');
    buf.writeUInt32LE(cases.length, 4);
    buf.writeUInt32LE(size - HEADER, 8);
    let at = HEADER;
    for (const c of cases) {
      for (let k = 0; k < 34; k++) { buf.writeUInt32LE(c.regs[k] >>> 0, at); at += 4; }
      buf.writeUInt16LE(c.image, at);
      buf.writeUInt16LE(c.code.length, at + 2);
      buf.writeUInt16LE(c.patches.length, at + 4);
      buf.writeUInt16LE(c.flags, at + 6);
      at += 8;
      buf.set(c.code, at);
      at += c.code.length;
      for (const p of c.patches) {
        buf.writeUInt16LE(p.offset, at);
        buf.writeUInt16LE(p.bytes.length, at + 2);
        buf.set(p.bytes, at + 4);
        at += 4 + p.bytes.length;
      }
    }
    this.pending++;
    try {
      this.child.stdin!.write(buf);
    } catch (e) {
      this.onDeath(e as Error);
    }
  }

  async receive(): Promise<HostOutcome[]> {
    if (this.pending === 0) throw new Error('oracle harness: receive without send');
    this.pending--;
    if (this.dead !== null) throw this.dead;
    const head = await this.read(HEADER);
    if (head.toString('latin1', 0, 4) !== 'RSR1') throw new Error('oracle harness: bad result header');
    const n = head.readUInt32LE(4);
    const body = await this.read(head.readUInt32LE(8));
    const out: HostOutcome[] = [];
    let at = 0;
    for (let k = 0; k < n; k++) {
      const kind = body[at] as EndKind;
      const signo = body[at + 1];
      const nranges = body.readUInt16LE(at + 2);
      const siCode = body.readInt32LE(at + 4);
      const siAddr = body.readBigUInt64LE(at + 8);
      const rip = body.readBigUInt64LE(at + 16);
      const trapno = Number(body.readBigUInt64LE(at + 24) & 0xffffffffn);
      const err = Number(body.readBigUInt64LE(at + 32) & 0xffffffffn);
      at += 40;
      const regs = caseRegs();
      for (let w = 0; w < 34; w++) { regs[w] = body.readUInt32LE(at); at += 4; }
      const sel: number[] = [];
      for (let s = 0; s < 6; s++) { sel.push(body.readUInt16LE(at)); at += 2; }
      const ranges: Range[] = [];
      for (let r = 0; r < nranges; r++) {
        const offset = body.readUInt16LE(at);
        const len = body.readUInt16LE(at + 2);
        ranges.push({ offset, bytes: Uint8Array.prototype.slice.call(body, at + 4, at + 4 + len) });
        at += 4 + len;
      }
      out.push({ kind, signo, siCode, siAddr, rip, trapno, err, regs, sel, ranges });
    }
    if (at !== body.length || OUT_FIXED !== 40 + 34 * 4 + 12) throw new Error('oracle harness: malformed results');
    return out;
  }

  async run(cases: readonly Case[]): Promise<HostOutcome[]> {
    this.send(cases);
    return this.receive();
  }

  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.stdin!.end();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
