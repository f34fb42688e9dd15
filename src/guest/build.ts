// Building the project's guest images (guests/<name> + guests/lib) with the
// system's gcc and GNU ld, into a content-addressed cache:
//   .cache/guests/<sha256>.elf
// where the hash covers every source file of the guest and of the library,
// the compiler and linker flags, the defines and the tools' --version output.
// A build happens in a temporary directory and the image is renamed into
// place, so a cached file is never half-written.
//
// A guest is a PVH guest (ELF64, the whole library, guests/lib/link.ld) unless
// its folder has a guest.json saying {"boot": "multiboot32"}: then it is an
// ELF32 multiboot kernel, built with -m32 from its own sources plus the 32-bit
// library guests/lib32 (multiboot header, entry, descriptor tables, exception
// stubs, reporting) and guests/lib's mode-independent files
// (MULTIBOOT_LIB_SOURCES), linked with guests/lib32/link.ld (or the guest's own
// link.ld if it has one) and the 32-bit libgcc (its 64-bit divisions), as
// guests/README.md describes.
//
// A folder whose guest.json says {"boot": "xen-pv64"} is a 64-bit Xen PV kernel
// (an ELF64 image with the Xen Test Framework's notes, linked at 1 MiB virtual):
// its own sources plus the PV library guests/libpv (entry, hypercalls, trap table,
// console, reporting, user mode) and guests/lib's mode-independent files, linked
// with guests/libpv/link.ld. It boots on a Xen host, not on bare metal: guests are
// listed by the kind of host they boot on (listGuests('native') / listGuests('xen')).
//
// A folder whose guest.json says {"boot": ["pvh", "xen-pv64"]} is one image for both kinds of
// host, as Linux's vmlinux is: a PVH guest (the whole of guests/lib) that carries Xen's PV
// notes and PV entry too (guests/linux-entry: xen-asm.S, xen.c). It is built as a PVH guest
// with CONSOLE_PUTCHAR_EXTERNAL and PLATFORM_EXIT_EXTERNAL, bringing its own putchar and
// platform_exit (port 0xE9 and 0xF4 natively; Xen's console and SCHEDOP_shutdown under Xen),
// and listGuests lists it for both hosts.
//
// Run as a script: `node dist/src/guest/build.js --all` builds every guest and
// prints `name path` lines; `node dist/src/guest/build.js NAME [KEY=VALUE...]`
// builds one guest with defines.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildOptions {
  /** Preprocessor defines, passed as -DKEY=VALUE to every C and .S file. */
  defines?: Record<string, string | number>;
}

/** Flags for every C and assembler file (-mgeneral-regs-only: the model has no x87 or SSE). */
export const GUEST_CFLAGS: readonly string[] = [
  '-m64',
  '-std=gnu11',
  '-ffreestanding',
  '-nostdlib',
  '-fno-pic',
  '-fno-pie',
  '-mno-red-zone',
  '-mgeneral-regs-only',
  '-O2',
  '-fno-stack-protector',
  '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
  '-Wall',
  '-Wextra',
];

export const GUEST_LDFLAGS: readonly string[] = [
  '-nostdlib',
  '-static',
  '-no-pie',
  '--no-warn-rwx-segments',
  '-z',
  'noexecstack',
];

/** The guests/lib files a 32-bit multiboot guest gets besides guests/lib32, and a Xen PV guest besides
 *  guests/libpv: console formatting and string functions. */
export const MULTIBOOT_LIB_SOURCES: readonly string[] = ['console.c', 'string.c'];

export type GuestBoot = 'pvh' | 'multiboot32' | 'xen-pv64';
const BOOTS: readonly GuestBoot[] = ['pvh', 'multiboot32', 'xen-pv64'];
/** The one list of boots guest.json may give: a PVH image with Xen's PV notes and entry. */
const DUAL_BOOT: readonly GuestBoot[] = ['pvh', 'xen-pv64'];

/** The kind of host a guest boots on: the native platform (PVH, multiboot; also QEMU's -kernel)
 *  or a Xen hypervisor (a PV kernel, run as dom0 by real Xen or by the xen host). */
export type GuestHost = 'native' | 'xen';

export function hostOfBoot(boot: GuestBoot): GuestHost {
  return boot === 'xen-pv64' ? 'xen' : 'native';
}

/** The guests/ folders that are libraries, not guests. */
const LIBRARIES: readonly string[] = ['lib', 'lib32', 'libpv'];

/** A guest's guest.json, or null without one. */
function guestJson(name: string): { file: string; json: { boot?: unknown; domains?: unknown } } | null {
  const file = join(guestsDir(), name, 'guest.json');
  if (!existsSync(file)) return null;
  try {
    return { file, json: JSON.parse(readFileSync(file, 'utf8')) as { boot?: unknown; domains?: unknown } };
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}

/** The ways a guest boots, from its guest.json: "boot" is one of BOOTS, or the list
 *  ["pvh", "xen-pv64"] (one image for both kinds of host); PVH without one. */
export function guestBoots(name: string): GuestBoot[] {
  const g = guestJson(name);
  if (g === null) return ['pvh'];
  const boot = g.json.boot;
  if (Array.isArray(boot) && boot.length === DUAL_BOOT.length && boot.every((b, i) => b === DUAL_BOOT[i])) return [...DUAL_BOOT];
  if (!BOOTS.includes(boot as GuestBoot)) {
    throw new Error(`${g.file}: "boot" must be one of ${BOOTS.map((b) => JSON.stringify(b)).join(', ')} or ${JSON.stringify(DUAL_BOOT)} (got ${JSON.stringify(boot)})`);
  }
  return [boot as GuestBoot];
}

/** How a guest's image is built: its first boot (a dual-boot guest is a PVH image). */
export function guestBoot(name: string): GuestBoot {
  return guestBoots(name)[0];
}

/** The kinds of host a guest boots on. */
export function guestHosts(name: string): GuestHost[] {
  return guestBoots(name).map(hostOfBoot);
}

/** The Xen domains a PV guest can be: guest.json's "domains" (e.g. ["domU"] for a guest of
 *  the toolstack's console ring and xenstore, which dom0 does not get), both without it. */
export type GuestDomain = 'dom0' | 'domU';
export function guestDomains(name: string): GuestDomain[] {
  const g = guestJson(name);
  const domains = g?.json.domains;
  if (domains === undefined) return ['dom0', 'domU'];
  const ok = Array.isArray(domains) && domains.length > 0 && domains.every((d) => d === 'dom0' || d === 'domU');
  if (!ok) throw new Error(`${g!.file}: "domains" must be a non-empty list of "dom0", "domU" (got ${JSON.stringify(domains)})`);
  return domains as GuestDomain[];
}

/** Compiler flags for a 32-bit guest: -m32, and no -mno-red-zone (an x86-64 ABI option); for
 *  a Xen PV guest, CONSOLE_PUTCHAR_EXTERNAL: guests/lib/console.c leaves putchar to libpv;
 *  for a dual-boot guest also PLATFORM_EXIT_EXTERNAL (guests/lib/report.c): the guest's own. */
function cflagsFor(boot: GuestBoot, dual: boolean): readonly string[] {
  if (dual) return [...GUEST_CFLAGS, '-DCONSOLE_PUTCHAR_EXTERNAL', '-DPLATFORM_EXIT_EXTERNAL'];
  if (boot === 'xen-pv64') return [...GUEST_CFLAGS, '-DCONSOLE_PUTCHAR_EXTERNAL'];
  if (boot !== 'multiboot32') return GUEST_CFLAGS;
  return GUEST_CFLAGS.filter((f) => f !== '-mno-red-zone').map((f) => (f === '-m64' ? '-m32' : f));
}

let libgcc32: string | undefined;

/** The 32-bit libgcc (Debian gcc-multilib), for 64-bit arithmetic in 32-bit guests. */
function libgcc32Path(): string {
  if (libgcc32 === undefined) {
    const p = execFileSync('gcc', ['-m32', '-print-libgcc-file-name'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    if (!existsSync(p)) throw new Error(`32-bit guests need the 32-bit libgcc (Debian package gcc-multilib); gcc -m32 names ${p}, which does not exist`);
    libgcc32 = p;
  }
  return libgcc32;
}

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor of this file with guests/lib and package.json. */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'guests', 'lib')) && existsSync(join(dir, 'package.json'))) {
      cachedRoot = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Ringside repository root (guests/lib) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function guestsDir(): string {
  return join(repoRoot(), 'guests');
}

/** Whether `name` is a guest: a folder under guests/, other than the libraries, with a main.c
 *  (what buildGuest builds). The command line resolves guest names with it. */
export function isGuest(name: string): boolean {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || LIBRARIES.includes(name)) return false;
  const dir = join(guestsDir(), name);
  return existsSync(join(dir, 'main.c')) && statSync(dir).isDirectory();
}

/** The names of the guests (see isGuest) that boot on `host`, sorted. */
export function listGuests(host: GuestHost): string[] {
  return readdirSync(guestsDir())
    .filter(isGuest)
    .filter((g) => guestHosts(g).includes(host))
    .sort();
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

function isSource(p: string): boolean {
  return p.endsWith('.c') || p.endsWith('.S');
}

let toolVersions: string | undefined;

function versions(): string {
  if (toolVersions === undefined) {
    const v = (cmd: string): string => {
      try {
        return execFileSync(cmd, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        throw new Error(`guest build needs '${cmd}' (gcc and GNU binutils): ${(e as Error).message}`);
      }
    };
    toolVersions = v('gcc') + '\0' + v('ld') + '\0' + v('as');
  }
  return toolVersions;
}

function defineArgs(name: string, defines: Record<string, string | number>): string[] {
  const args = [`-DGUEST_NAME="${name}"`];
  for (const key of Object.keys(defines).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad define name: ${JSON.stringify(key)}`);
    if (key === 'GUEST_NAME') throw new Error('GUEST_NAME is set by the build');
    const value = String(defines[key]);
    if (/[\r\n\0]/.test(value)) throw new Error(`bad value for define ${key}`);
    args.push(`-D${key}=${value}`);
  }
  return args;
}

function run(cmd: string, args: string[], what: string): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string | Buffer; stdout?: string | Buffer; message: string };
    const stderr = err.stderr ? err.stderr.toString() : '';
    const stdout = err.stdout ? err.stdout.toString() : '';
    throw new Error(`${what} failed: ${cmd} ${args.join(' ')}\n${stderr}${stdout}`.trimEnd());
  }
}

/**
 * Build guests/<name> with guests/lib (and guests/lib32 for a multiboot
 * guest, guests/libpv for a Xen PV guest); return the path of the ELF image in the cache. Throws an Error carrying the compiler's or linker's stderr on failure.
 */
export function buildGuest(name: string, opts: BuildOptions = {}): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || LIBRARIES.includes(name)) throw new Error(`bad guest name: ${JSON.stringify(name)}`);
  const root = repoRoot();
  const libDir = join(root, 'guests', 'lib');
  const guestDir = join(root, 'guests', name);
  if (!existsSync(join(guestDir, 'main.c'))) throw new Error(`no such guest: ${name} (expected ${join(guestDir, 'main.c')})`);

  const boots = guestBoots(name);
  const boot = boots[0];
  // A multiboot guest also gets guests/lib32, a Xen PV guest guests/libpv: its sources
  // and its include directory (searched first); only guests/lib's mode-independent
  // sources (MULTIBOOT_LIB_SOURCES) go with them.
  const ownLib = boot === 'multiboot32' ? join(root, 'guests', 'lib32') : boot === 'xen-pv64' ? join(root, 'guests', 'libpv') : null;
  const libFiles = ownLib === null ? filesUnder(libDir) : [...filesUnder(libDir), ...filesUnder(ownLib)];
  const guestFiles = filesUnder(guestDir);
  const ownLinkScript = join(guestDir, 'link.ld');
  const linkScript =
    ownLib === null ? join(libDir, 'link.ld') : boot === 'multiboot32' && existsSync(ownLinkScript) ? ownLinkScript : join(ownLib, 'link.ld');
  const defines = defineArgs(name, opts.defines ?? {});
  const guestCflags = cflagsFor(boot, boots.length > 1);
  const includes = ownLib === null ? ['-I', join(libDir, 'include')] : ['-I', join(ownLib, 'include'), '-I', join(libDir, 'include')];
  const cflags = [...guestCflags, ...includes, '-I', guestDir, ...defines];
  const ldflags = boot === 'multiboot32' ? ['-m', 'elf_i386', ...GUEST_LDFLAGS] : GUEST_LDFLAGS;
  const libSources = libFiles
    .filter(isSource)
    .filter((f) =>
      ownLib === null
        ? dirname(f) === libDir
        : (dirname(f) === libDir && MULTIBOOT_LIB_SOURCES.includes(basename(f))) || dirname(f) === ownLib,
    );

  const hash = createHash('sha256');
  hash.update('ringside-guest-build-v1\0');
  for (const f of [...libFiles, ...guestFiles]) {
    hash.update(relative(root, f) + '\0');
    hash.update(readFileSync(f));
    hash.update('\0');
  }
  hash.update(JSON.stringify({ cflags: guestCflags, ldflags, defines }));
  hash.update(versions());
  const digest = hash.digest('hex');

  const cacheDir = join(root, '.cache', 'guests');
  const out = join(cacheDir, `${digest}.elf`);
  if (existsSync(out)) return out;

  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, `tmp-${name}-`));
  try {
    const objects: string[] = [];
    const compile = (src: string, prefix: string): void => {
      const obj = join(tmp, `${prefix}-${basename(src).replace(/\.(c|S)$/, '')}-${objects.length}.o`);
      run('gcc', [...cflags, '-c', src, '-o', obj], `compiling ${relative(root, src)}`);
      objects.push(obj);
    };
    for (const f of libSources) compile(f, 'lib');
    for (const f of guestFiles.filter(isSource)) compile(f, 'guest');

    const image = join(tmp, `${name}.elf`);
    const libs = boot === 'multiboot32' ? [libgcc32Path()] : [];
    run('ld', [...ldflags, '-T', linkScript, '-o', image, ...objects, ...libs], `linking guest ${name}`);
    renameSync(image, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

function main(argv: string[]): number {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stderr.write('usage: build.js --all | NAME [KEY=VALUE ...]\n');
    return argv.length === 0 ? 2 : 0;
  }
  try {
    if (argv[0] === '--all') {
      for (const g of new Set([...listGuests('native'), ...listGuests('xen')])) process.stdout.write(`${g} ${buildGuest(g)}\n`);
      return 0;
    }
    const defines: Record<string, string> = {};
    for (const kv of argv.slice(1)) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error(`bad define (want KEY=VALUE): ${kv}`);
      defines[kv.slice(0, i)] = kv.slice(i + 1);
    }
    process.stdout.write(buildGuest(argv[0]!, { defines }) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write((e as Error).message + '\n');
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
