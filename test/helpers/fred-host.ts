// A test FRED host (issue 17, point 9): guests/linux-entry booted on native/fred, its ring-3
// FRED entry point owned by a host entry point that services the user programs' write() and
// getpid() SYSCALLs in TypeScript and leaves through the CPU's ERETU; every other event is
// handed back to the kernel's own entry code.
//
// How the host gets the events: it claims the linear address of the kernel's ring-3 entry, the
// image's `asm_fred_entrypoint_user` symbol, which the kernel's unchanged WRMSR of
// IA32_FRED_CONFIG names; the image knows nothing of the host. Under FRED every event from
// ring 3 arrives there (SDM Vol. 3 §8.3), so the host reads the FRED frame at RSP and declines
// (host-entry.ts `decline`) what it does not service: the bytes at the entry point then run,
// and the kernel handles the event as it would without the host.
//
// What it services, as the kernel's fred_entry_from_user -> do_syscall_64 -> fred_exit_to_user
// do (guests/linux-entry/fred.c, kernel.c): a SYSCALL from 64-bit mode (type 7, vector 1, SS.L
// = 1) with RAX = write (the buffer to the console, whatever the fd, RAX := the length) or
// getpid (RAX := TEST_PID); then ERETU of the same frame. The kernel's exit bookkeeping needs
// nothing: vvar.last_exit, which programs read, is EXIT_ERETU from the first entry to user mode
// on (every exit under FRED is ERETU), and vvar.eretu_exits, which none reads, is the kernel's
// count of its own exits. Under FRED SYSCALL
// changed no register (SDM SYSCALL), and the host changes only RAX, so RCX and R11 come back as
// the program had them. It keeps nothing on the stack: RSP is at the frame throughout.
//
// Declined besides: a SYSCALL whose return RIP is not canonical. Its ERETU would #GP(0) at the
// host's entry point, and the kernel's fault path recognises a failed return to user mode only
// at its own ERETU (asm_fred_eretu; Linux's EX_TYPE_ERETU fixup), so the program would see a
// kernel abort instead of its signal. A real host owns its fault path; this one borrows the
// kernel's. And every event while DR7 arms an instruction breakpoint (R/W = 00: SDM Vol. 3B
// §18.2.4): it may be on an instruction of the kernel's entry or exit that a serviced call would
// skip, and the kernel's syscall-gap sweep (gap.c) sets one on each of them in turn and counts
// the hits.

import type { Machine } from '../../src/machine/machine.js';
import type { Cpu } from '../../src/cpu/cpu.js';
import { FredType, VECTOR_SYSCALL } from '../../src/cpu/fred.js';
import { readFredFrame } from '../../src/hosts/fred-frame.js';
import { symbols } from './syscall-host.js';

// guests/linux-entry/linux.h
const NR_WRITE = 1, NR_GETPID = 39;
const TEST_PID = 1;
const CONSOLE_PORT = 0xe9;
const TWO32 = 2 ** 32;

const reg = (cpu: Cpu, r: number): number => cpu.regHi[r] * TWO32 + (cpu.regLo[r] >>> 0);
function setReg(cpu: Cpu, r: number, v: number): void {
  cpu.regLo[r] = v | 0;
  cpu.regHi[r] = Math.floor(v / TWO32) | 0;
}

/** Whether DR7 enables a breakpoint (Ln or Gn) whose R/Wn is 00, instruction execution. */
function instructionBreakpointArmed(cpu: Cpu): boolean {
  const dr7 = cpu.drLo[7];
  for (let n = 0; n < 4; n++) if (((dr7 >>> (2 * n)) & 3) !== 0 && ((dr7 >>> (16 + 4 * n)) & 3) === 0) return true;
  return false;
}

/** What the host did with one event that reached it: `write` / `getpid` (serviced) or
 *  `declined type T vector V`. */
export type FredHostLog = string[];

/** Register the host at `image`'s ring-3 FRED entry on `machine`; returns its log. */
export function serviceFredSyscalls(machine: Machine, image: string): FredHostLog {
  const entry = symbols(image).get('asm_fred_entrypoint_user');
  if (entry === undefined) throw new Error('the image has no symbol asm_fred_entrypoint_user');
  const log: FredHostLog = [];
  machine.cpu.hostEntries.register(entry, 'fred-user', (cpu) => {
    const frame = readFredFrame(cpu);
    const { type, vector, long } = frame.ss;
    const nr = reg(cpu, 0);
    const name = nr === NR_WRITE ? 'write' : nr === NR_GETPID ? 'getpid' : null;
    const syscall64 = type === FredType.Other && vector === VECTOR_SYSCALL && long === 1;
    if (!syscall64 || name === null || !cpu.isCanonicalHi(Number(frame.rip >> 32n) | 0) || instructionBreakpointArmed(cpu)) {
      log.push(`declined type ${type} vector ${vector}`);
      cpu.hostEntries.decline();
      return;
    }
    if (name === 'write') {
      const buf = reg(cpu, 6), len = reg(cpu, 2);
      for (let i = 0; i < len; i++) machine.io.out(CONSOLE_PORT, cpu.read8(buf + i), 1);
      setReg(cpu, 0, len);
    } else {
      setReg(cpu, 0, TEST_PID);
    }
    log.push(name);
    cpu.hostEntries.leave('eretu', name);
  });
  return log;
}
