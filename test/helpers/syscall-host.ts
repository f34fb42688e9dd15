// A test host that services the host-syscalls guest's system calls in TypeScript (issue 14,
// point 3): the same image, booted on the native platform, with its SYSCALL entry owned by
// a host entry point instead of the kernel's machine code.
//
// How the host gets SYSCALL: it claims the linear address of the kernel's own entry, the
// image's `syscall_entry` symbol. A host entry point supersedes the instructions at its
// address, so the kernel's unchanged WRMSR of LSTAR points SYSCALL at the host; the image
// needs no knowledge of the host and the CPU no WRMSR hook. The host services the calls as
// the kernel's syscall_dispatch does (guests/host-syscalls/main.c) and leaves through the
// CPU's SYSRETQ. It does not SWAPGS or switch stacks: it keeps nothing on a stack, and the
// GS base it would swap in and back out is never observed in between.

import { execFileSync } from 'node:child_process';
import type { Machine } from '../../src/machine/machine.js';
import type { Cpu } from '../../src/cpu/cpu.js';

// guests/host-syscalls/host-syscalls.h
const SYS_WRITE = 1, SYS_GETPID = 39, SYS_EXIT = 60;
const GETPID_VALUE = 4242, ENOSYS = 38, EBADF = 9;
const CONSOLE_PORT = 0xe9;
const TWO32 = 2 ** 32;

/** The addresses of an image's global symbols (GNU nm). */
export function symbols(image: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of execFileSync('nm', ['-P', image], { encoding: 'utf8' }).split('\n')) {
    const [name, , value] = line.split(' ');
    if (value !== undefined) out.set(name, parseInt(value, 16));
  }
  return out;
}

function symbol(table: Map<string, number>, name: string): number {
  const v = table.get(name);
  if (v === undefined) throw new Error(`the image has no symbol ${name}`);
  return v;
}

const reg = (cpu: Cpu, r: number): number => cpu.regHi[r] * TWO32 + (cpu.regLo[r] >>> 0);
function setReg(cpu: Cpu, r: number, v: number): void {
  cpu.regLo[r] = v | 0;
  cpu.regHi[r] = Math.floor(v / TWO32) | 0;
}

/** Register the host's SYSCALL entry on `machine` (after booting or restoring `image`). */
export function serviceSyscalls(machine: Machine, image: string): void {
  const table = symbols(image);
  const entry = symbol(table, 'syscall_entry');
  const userExit = symbol(table, 'user_exit64');
  machine.cpu.hostEntries.register(entry, 'syscall', (cpu) => {
    // SYSCALL left the number in RAX, the arguments in RDI, RSI, RDX, the return RIP in
    // RCX and RFLAGS in R11; CPL 0, the user's stack.
    const nr = reg(cpu, 0);
    let name: string;
    if (nr === SYS_WRITE) {
      name = 'write';
      if (reg(cpu, 7) !== 1) setReg(cpu, 0, -EBADF);
      else {
        const buf = reg(cpu, 6), len = reg(cpu, 2);
        for (let i = 0; i < len; i++) machine.io.out(CONSOLE_PORT, cpu.read8(buf + i), 1);
        setReg(cpu, 0, len);
      }
    } else if (nr === SYS_GETPID) {
      name = 'getpid';
      setReg(cpu, 0, GETPID_VALUE);
    } else if (nr === SYS_EXIT) {
      name = 'exit';
      setReg(cpu, 1, userExit);
      setReg(cpu, 0, reg(cpu, 7));
    } else {
      name = `unknown(${nr})`;
      setReg(cpu, 0, -ENOSYS);
    }
    cpu.hostEntries.leave('sysretq', name);
  });
}
