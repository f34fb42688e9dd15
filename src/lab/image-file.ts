// An image path -> its bytes, refusing what is not an image file before reading a byte.
//
// Kept apart from run.ts so the command line can check its IMAGE arguments without
// loading the machine.
//
// Only regular files are images. A character device (/dev/zero) never ends, a FIFO
// blocks until someone writes to it, a socket cannot be read at all: reading any of
// them would hang or grow without bound, whatever --timeout says (the timeout starts
// with the run). So the path is stat()ed first, which follows symlinks and opens
// nothing (opening a FIFO blocks), and the file is opened only if it is a regular file
// no larger than the largest RAM a run can have: a bigger image cannot be loaded.

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { BadInput } from '../machine/errors.js';
import { MAX_MEMORY_MIB } from './defaults.js';

/** The largest image accepted: the largest guest RAM (MAX_MEMORY_MIB). */
export const MAX_IMAGE_BYTES = MAX_MEMORY_MIB * 1024 * 1024;

function notAFile(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'is a directory, not an image';
  if (st.isFIFO()) return 'is a FIFO (named pipe), not an image file';
  if (st.isCharacterDevice()) return 'is a character device, not an image file';
  if (st.isBlockDevice()) return 'is a block device, not an image file';
  if (st.isSocket()) return 'is a socket, not an image file';
  return 'is not a regular file, so not an image file';
}

function checkStats(imagePath: string, st: Stats): number {
  const problem = notAFile(st);
  if (problem !== null) throw new BadInput(`${imagePath}: ${problem}`);
  if (st.size > MAX_IMAGE_BYTES) {
    throw new BadInput(`${imagePath}: image too large (${st.size} bytes; the largest guest RAM is ${MAX_MEMORY_MIB} MiB, so it cannot be loaded)`);
  }
  return st.size;
}

function cannotRead(imagePath: string, e: unknown): BadInput {
  if (e instanceof BadInput) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file'
    : code === 'EACCES' ? 'permission denied'
    : code === 'ENOTDIR' ? 'a component of the path is not a directory'
    : code === 'ELOOP' ? 'too many symbolic links'
    : (e as Error).message.split('\n')[0];
  return new BadInput(`${imagePath}: cannot read image: ${why}`);
}

/** Check, without opening it, that a path names an image file; returns its size.
 *  BadInput (one line) otherwise. */
export function checkImageFile(imagePath: string): number {
  try {
    return checkStats(imagePath, statSync(imagePath));
  } catch (e) {
    throw cannotRead(imagePath, e);
  }
}

/** Read an image file's bytes; BadInput if it is not an image file or cannot be read. */
export function readImageFile(imagePath: string): Buffer {
  checkImageFile(imagePath);
  let fd: number;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it must
    // not block either (it means nothing for a regular file).
    fd = openSync(imagePath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw cannotRead(imagePath, e);
  }
  try {
    // Checked again on what was opened, and no more than its size is read.
    const size = checkStats(imagePath, fstatSync(fd));
    const buf = allocate(imagePath, size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, Math.min(size - got, READ_CHUNK), got);
      if (n === 0) break; // the file shrank meanwhile
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } catch (e) {
    throw cannotRead(imagePath, e);
  } finally {
    closeSync(fd);
  }
}

/** One read() moves at most this much (the kernel caps a read near 2 GiB anyway). */
const READ_CHUNK = 1 << 30;

function allocate(imagePath: string, size: number): Buffer {
  try {
    return Buffer.alloc(size);
  } catch {
    throw new BadInput(`${imagePath}: cannot read image: ${size} bytes do not fit in this machine's memory`);
  }
}
