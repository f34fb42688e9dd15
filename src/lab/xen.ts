// Real Xen, the oracle for the xen host (issue 19; docs/architecture.md, "Real Xen"):
// Debian's hypervisor package, booted by QEMU TCG as a multiboot kernel with the image
// under test as its dom0 -- the only way to run a test kernel on Xen without a toolstack,
// which is why the xen host, once it runs guests, will be compared with it as dom0 too.
//
//   qemu-system-x86_64 -machine accel=tcg -cpu max -m 512 -nodefaults -display none
//     -no-reboot -serial stdio -kernel xen -initrd IMAGE
//     -append "console=com1 com1=115200,8n1 dom0_mem=64M loglvl=all guest_loglvl=all"
//
// The hypervisor comes from `apt-get download` of XEN_PACKAGE, unpacked with dpkg-deb and
// gunzipped (the package ships /boot/xen-*.gz) into .cache/xen/, built once per machine
// and renamed into place whole. Dom0's HYPERVISOR_console_io writes reach the serial line
// unprefixed, between Xen's own "(XEN) " lines; the run ends when Xen reports what dom0's
// shutdown did (common/shutdown.c hwdom_shutdown) or panics, and QEMU is then killed
// (after a poweroff Xen halts the machine, which QEMU would sit in until the timeout).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { repoRoot } from '../guest/build.js';
import { QEMU_BINARY } from './qemu.js';

/** Debian bookworm's hypervisor (Xen 4.17), as issue 19 names it. */
export const XEN_PACKAGE = 'xen-hypervisor-4.17-amd64';

export interface RealXen {
  /** The gunzipped hypervisor (an ELF32 multiboot kernel). */
  path: string;
  /** The package version it came from (e.g. 4.17.7+13-g2445b30a44-0+deb12u1). */
  version: string;
}

function cacheDir(): string {
  return join(repoRoot(), '.cache', 'xen', XEN_PACKAGE);
}

/** The hypervisor, fetched and unpacked into .cache/xen/ on first use; or why it cannot be. */
export function realXen(): RealXen | { unavailable: string } {
  const dir = cacheDir();
  if (!existsSync(join(dir, 'xen'))) {
    const parent = join(repoRoot(), '.cache', 'xen');
    mkdirSync(parent, { recursive: true });
    const tmp = mkdtempSync(join(parent, 'fetch-'));
    try {
      try {
        execFileSync('apt-get', ['download', XEN_PACKAGE], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
      } catch (e) {
        const why = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? (e as Error).message;
        return { unavailable: `apt-get download ${XEN_PACKAGE} failed: ${why}` };
      }
      const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (deb === undefined) return { unavailable: `apt-get download ${XEN_PACKAGE} left no .deb` };
      try {
        execFileSync('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'root')], { stdio: 'ignore' });
      } catch (e) {
        return { unavailable: `dpkg-deb -x ${deb} failed: ${(e as Error).message}` };
      }
      const boot = join(tmp, 'root', 'boot');
      const gz = readdirSync(boot).find((f) => /^xen-.*\.gz$/.test(f));
      if (gz === undefined) return { unavailable: `${deb} has no /boot/xen-*.gz` };
      writeFileSync(join(tmp, 'xen'), gunzipSync(readFileSync(join(boot, gz))));
      writeFileSync(join(tmp, 'version'), deb.split('_')[1] ?? deb);
      rmSync(join(tmp, 'root'), { recursive: true, force: true });
      rmSync(join(tmp, deb), { force: true });
      // Test files run in parallel processes: another may have put its copy in place first.
      try {
        renameSync(tmp, dir);
      } catch (e) {
        if (!existsSync(join(dir, 'xen'))) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { path: join(dir, 'xen'), version: readFileSync(join(dir, 'version'), 'utf8').trim() };
}

export interface XenRunOptions {
  timeoutMs: number;
  /** Dom0's memory (Xen's dom0_mem=), MiB; default 64. */
  dom0MemMiB?: number;
  /** -cpu argument; default max (this machine's vendor). */
  cpu?: string;
}

/** How the run ended: what Xen said dom0's shutdown did, a panic, or the timeout. */
export type XenEnd = 'poweroff' | 'reboot' | 'crash' | 'suspend' | 'panic' | 'exited' | 'timeout';

export interface XenRunResult {
  end: XenEnd;
  /** Dom0's console_io writes: the serial lines after Xen's banner that are not Xen's. */
  console: string;
  /** Xen's own lines, "(XEN) " prefix included. */
  xenLog: string;
  command: string[];
}

/** Xen's report of a hardware domain's shutdown (common/shutdown.c), or a panic with its
 *  message line (the line after "Panic on CPU n:", before the closing row of stars). */
const ENDS: [RegExp, XenEnd][] = [
  [/Hardware Dom0 halted[^\n]*\n/, 'poweroff'],
  [/Hardware Dom0 shutdown: rebooting[^\n]*\n/, 'reboot'],
  [/Hardware Dom0 crashed[^\n]*\n/, 'crash'],
  [/Hardware Dom0 suspended[^\n]*\n/, 'suspend'],
  [/Panic on CPU \d+:[^\n]*\n[^\n]*\n\(XEN\) \*+/, 'panic'],
];

export function xenArgs(xen: string, imagePath: string, opts: XenRunOptions): string[] {
  return [
    '-machine', 'accel=tcg',
    '-cpu', opts.cpu ?? 'max',
    '-m', '512',
    '-nodefaults',
    '-display', 'none',
    '-no-reboot',
    '-serial', 'stdio',
    '-kernel', xen,
    '-initrd', imagePath,
    '-append', `console=com1 com1=115200,8n1 dom0_mem=${opts.dom0MemMiB ?? 64}M loglvl=all guest_loglvl=all`,
  ];
}

/** Boot `imagePath` as dom0 of real Xen under QEMU TCG, until Xen reports its end. */
export function runUnderXen(xen: RealXen, imagePath: string, opts: XenRunOptions): Promise<XenRunResult> {
  const args = xenArgs(xen.path, imagePath, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let end: XenEnd | null = null;
    const finish = (e: XenEnd): void => {
      if (end !== null) return;
      end = e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('latin1');
      for (const [re, e] of ENDS) if (re.test(out)) { finish(e); break; }
    });
    child.stderr.resume();
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', () => {
      clearTimeout(timer);
      const lines = out.slice(Math.max(0, out.indexOf('(XEN)'))).split(/\r?\n/);
      resolve({
        end: end ?? 'exited',
        console: lines.filter((l) => !l.startsWith('(XEN)')).join('\n'),
        xenLog: lines.filter((l) => l.startsWith('(XEN)')).join('\n'),
        command: [QEMU_BINARY, ...args],
      });
    });
  });
}
