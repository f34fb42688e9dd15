// Single-byte mutants of a bootable image, and whether Ringside and QEMU accept each:
// the check that Ringside refuses an image only where the boot contract does, with
// QEMU's `-kernel` loader as the oracle (test/image-mutants.test.ts).
//
// Accept/refuse only, not how the guest then runs: QEMU is started paused (-S) with a
// QMP monitor on stdio. Its greeting can come before the machine (and the kernel) is
// built, but commands run only in the main loop, after the kernel is loaded: an answer
// to query-status means "loaded"; exiting first (status 1, an error line on stderr)
// means "refused". Ringside's side is the host's
// plan(), exactly what `ringside run` checks before it builds a machine.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInput } from '../../src/machine/errors.js';
import { nativeHost } from '../../src/hosts/native/host.js';
import { QEMU_BINARY, qemuArgs } from '../../src/lab/qemu.js';
import { seededRandom } from './random.js';

export interface Mutant {
  /** File offset of the changed byte. */
  offset: number;
  from: number;
  to: number;
  bytes: Buffer;
}


/** `count` mutants of `image`, each with one byte changed to a different value. Mutant i
 *  changes a byte of regions[i % regions.length] ([start, end) file offsets; default the
 *  whole file), so small regions that matter (headers) get their share. */
export function mutants(image: Buffer, count: number, seed: number, regions: ReadonlyArray<readonly [number, number]> = [[0, image.length]]): Mutant[] {
  const rand = seededRandom(seed); // a seed names the same mutants everywhere
  const out: Mutant[] = [];
  for (let i = 0; i < count; i++) {
    const [start, end] = regions[i % regions.length]!;
    const offset = start + Math.floor(rand() * (Math.min(end, image.length) - start));
    const from = image[offset]!;
    const to = from ^ (1 + Math.floor(rand() * 255));
    const bytes = Buffer.from(image);
    bytes[offset] = to;
    out.push({ offset, from, to, bytes });
  }
  return out;
}

export interface Decision {
  accepted: boolean;
  /** Why it was refused (the first error line), or ''. */
  why: string;
}

const MEMORY_MIB = 128;

/** Ringside's decision: the native host's plan (BadInput = refused). */
export function ringsideDecision(bytes: Uint8Array, label: string): Decision {
  try {
    nativeHost.plan(bytes, label, { memoryBytes: MEMORY_MIB * 1024 * 1024 });
    return { accepted: true, why: '' };
  } catch (e) {
    if (e instanceof BadInput) return { accepted: false, why: e.message };
    throw e;
  }
}

/** QEMU's decision on an image file (see the top of the file). */
export function qemuDecision(path: string, timeoutMs = 30_000): Promise<Decision> {
  const args = qemuArgs(path, undefined, MEMORY_MIB).map((a) => (a === 'stdio,id=con,mux=on' ? 'null,id=con,mux=on' : a));
  return new Promise((resolve, reject) => {
    const p = spawn(QEMU_BINARY, [...args, '-S', '-qmp', 'stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let decided = false;
    let greeted = false;
    const decide = (d: Decision | Error): void => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      p.kill('SIGKILL');
      if (d instanceof Error) reject(d);
      else resolve(d);
    };
    const timer = setTimeout(() => decide(new Error(`${path}: QEMU neither loaded nor refused it within ${timeoutMs} ms`)), timeoutMs);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (!greeted && out.includes('{"QMP"')) {
        greeted = true;
        p.stdin.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status","id":"loaded"}\n');
      }
      if (/"id":\s*"loaded"/.test(out)) decide({ accepted: true, why: '' });
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.stdin.on('error', () => {}); // QEMU may exit (refusing the image) before it reads
    p.on('error', (e) => decide(e));
    p.on('close', (code, signal) => {
      const first = err.split('\n').find((l) => l.trim() !== '') ?? '';
      decide({ accepted: false, why: first || `exit ${code ?? signal}` });
    });
  });
}

export interface Disagreement {
  mutant: Mutant;
  ringside: Decision;
  qemu: Decision;
}

export interface MutantReport {
  total: number;
  agree: number;
  /** Ringside refuses what QEMU loads. */
  stricter: Disagreement[];
  /** Ringside accepts what QEMU refuses. */
  laxer: Disagreement[];
}

/** Decide every mutant on both sides (QEMU `parallel` at a time); files go to `dir`. */
export async function compareMutants(name: string, list: Mutant[], dir: string, parallel = 2): Promise<MutantReport> {
  const report: MutantReport = { total: list.length, agree: 0, stricter: [], laxer: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      const m = list[i]!;
      const path = join(dir, `${name}-${i}-${m.offset.toString(16)}.elf`);
      writeFileSync(path, m.bytes);
      const r = ringsideDecision(m.bytes, path);
      const q = await qemuDecision(path);
      if (r.accepted === q.accepted) report.agree++;
      else (r.accepted ? report.laxer : report.stricter).push({ mutant: m, ringside: r, qemu: q });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return report;
}

/** One line per disagreement, for a report or an assertion message. */
export function describeDisagreements(report: MutantReport): string {
  const line = (kind: string, d: Disagreement): string =>
    `${kind} at offset 0x${d.mutant.offset.toString(16)} (0x${d.mutant.from.toString(16)} -> 0x${d.mutant.to.toString(16)}): ` +
    `ringside: ${d.ringside.accepted ? 'accepts' : d.ringside.why}; qemu: ${d.qemu.accepted ? 'loads it' : d.qemu.why}`;
  return [...report.stricter.map((d) => line('stricter', d)), ...report.laxer.map((d) => line('laxer', d))].join('\n');
}
