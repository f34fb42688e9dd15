// Only a regular file no larger than the largest guest RAM is an image
// (src/lab/image-file.ts). Anything else — a character device that never ends
// (/dev/zero), one that is empty (/dev/null), a FIFO that blocks, a sparse file past the
// cap — ends `ringside run` and `ringside matrix IMAGE` within seconds, before a byte is
// read: exit 2 and one line on stderr. A FIFO in a matrix directory is skipped.
// Each CLI here is spawned with a short timeout, so a hang fails instead of stalling.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, ftruncateSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkImageFile, MAX_IMAGE_BYTES, readImageFile } from '../src/lab/image-file.js';
import { BadInput } from '../src/machine/errors.js';
import { buildPvhImage, lines, RINGSIDE, type Spawned } from './helpers/pvh-image.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-image-file-'));
/** Long enough for a loaded machine to start node; far shorter than a hang. */
const SPAWN_TIMEOUT_MS = 15_000;

function run(args: string[]): Spawned & { ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [RINGSIDE, ...args], { encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** A sparse regular file one byte past the cap: no disk blocks are written. */
function oversized(name: string): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, MAX_IMAGE_BYTES + 1);
  closeSync(fd);
  return path;
}

function refusedQuickly(args: string[], path: string, pattern: RegExp): void {
  const r = run(args);
  assert.notEqual(r.status, null, `${args.join(' ')} did not end within ${SPAWN_TIMEOUT_MS} ms`);
  assert.equal(r.status, 2, `exit 2 for ${args.join(' ')}; stderr: ${r.stderr}`);
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.match(l[0]!, /^ringside: /);
  assert.ok(l[0]!.includes(path), `the line names the file: ${l[0]}`);
  assert.match(l[0]!, pattern);
  assert.equal(r.stdout, '');
}

const runArgs = (path: string): string[] => ['run', path, '--profile', 'native/idt', '--timeout', '3'];

describe('ringside run on what is not an image file', () => {
  it('/dev/zero (a character device that never ends)', () => refusedQuickly(runArgs('/dev/zero'), '/dev/zero', /is a character device, not an image file/));
  it('/dev/null (a character device, though empty)', () => refusedQuickly(runArgs('/dev/null'), '/dev/null', /is a character device, not an image file/));
  it('a symbolic link to /dev/zero (stat follows it)', () => {
    const link = join(dir, 'zero-link.elf');
    symlinkSync('/dev/zero', link);
    refusedQuickly(runArgs(link), link, /is a character device/);
  });
  it('a FIFO (never opened, so no writer is waited for)', () => {
    const path = fifo('image.fifo');
    refusedQuickly(runArgs(path), path, /is a FIFO \(named pipe\), not an image file/);
  });
  it('a sparse file larger than the largest guest RAM', () => {
    const path = oversized('huge.elf');
    refusedQuickly(runArgs(path), path, new RegExp(`image too large \\(${MAX_IMAGE_BYTES + 1} bytes; the largest guest RAM is 4096 MiB`));
  });
  it('a directory: one line too', () => refusedQuickly(runArgs(dir), dir, /is a directory, not an image/));
});

describe('ringside matrix on what is not an image file', () => {
  it('/dev/zero as an IMAGE argument', () => refusedQuickly(['matrix', '/dev/zero'], '/dev/zero', /is a character device/));
  it('a FIFO as an IMAGE argument', () => {
    const path = fifo('matrix-arg.fifo');
    refusedQuickly(['matrix', path], path, /is a FIFO/);
  });
  it('an oversized file as an IMAGE argument', () => {
    const path = oversized('matrix-huge.elf');
    refusedQuickly(['matrix', path], path, /image too large/);
  });
  it('a directory holding a FIFO: the FIFO is skipped, the image in it runs', () => {
    const d = join(dir, 'with-fifo');
    mkdirSync(d);
    fifo(join('with-fifo', 'a.fifo'));
    writeFileSync(join(d, 'good.elf'), buildPvhImage());
    const r = run(['matrix', d, '--json']);
    assert.notEqual(r.status, null, `matrix did not end within ${SPAWN_TIMEOUT_MS} ms`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { rows: Array<{ name: string; cells: Array<{ verdict: string }> }> };
    assert.deepEqual(out.rows.map((row) => [row.name, row.cells[0]!.verdict]), [['good.elf', 'success']]);
  });
  it('a directory holding an oversized ELF file: a bad-input cell, not a read', () => {
    const d = join(dir, 'with-huge');
    mkdirSync(d);
    const path = oversized(join('with-huge', 'huge.elf'));
    writeFileSync(path, Buffer.from([0x7f, 0x45, 0x4c, 0x46]), { flag: 'r+' }); // ELF magic, so the matrix picks it
    const r = run(['matrix', d, '--json']);
    assert.notEqual(r.status, null, `matrix did not end within ${SPAWN_TIMEOUT_MS} ms`);
    assert.equal(r.status, 2, r.stderr); // a rejected image is bad input (README, "ringside matrix")
    const out = JSON.parse(r.stdout) as { rows: Array<{ cells: Array<{ verdict: string; reason: string }> }> };
    assert.equal(out.rows[0]!.cells[0]!.verdict, 'bad-input');
    assert.match(out.rows[0]!.cells[0]!.reason, /image too large/);
  });
});

describe('checkImageFile and readImageFile', () => {
  it('a regular file: its size, then its bytes', () => {
    const path = join(dir, 'small.elf');
    const bytes = buildPvhImage();
    writeFileSync(path, bytes);
    assert.equal(checkImageFile(path), bytes.length);
    assert.deepEqual(readImageFile(path), bytes);
  });
  it('a missing file, a FIFO and a device are BadInput, and nothing is opened', () => {
    const isBad = (e: unknown): boolean => e instanceof BadInput && !e.message.includes('\n');
    assert.throws(() => readImageFile(join(dir, 'missing.elf')), (e: unknown) => isBad(e) && /no such file/.test((e as Error).message));
    assert.throws(() => readImageFile(fifo('unit.fifo')), (e: unknown) => isBad(e) && /FIFO/.test((e as Error).message));
    assert.throws(() => readImageFile('/dev/zero'), (e: unknown) => isBad(e) && /character device/.test((e as Error).message));
  });
});
