// Module initialisation cannot break (issue "shape", item 4). An ES-module import cycle
// makes the order in which modules evaluate depend on which one is imported first; a
// module whose top level uses a binding from one still being evaluated then throws
// (a TDZ ReferenceError), and only for some importers. So: (a) the value imports inside
// src/cpu form no cycle (type-only imports are erased from the compiled JS and do not
// count), and (b) every module under src/ imports on its own, first, in a fresh process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url)); // dist/src
const CPU = join(SRC, 'cpu');

/** Entry points run a program when imported (the CLI, the oracle's command), so (b) does
 *  not import them; everything they import is imported on its own like any module. */
const ENTRY_POINTS = ['cli/main.js', 'lab/oracle/main.js'];

/** Files under `dir` (recursively) whose names end in `ext`, sorted. */
function filesEnding(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesEnding(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

const jsFiles = (dir: string): string[] => filesEnding(dir, '.js');
const tsFiles = (dir: string): string[] => filesEnding(dir, '.ts');

/** Static import and re-export specifiers of a compiled module (`import ... from 'x'`,
 *  `import 'x'`, `export ... from 'x'`); dynamic import() is not a load-time edge. */
function staticSpecifiers(code: string): string[] {
  const re = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
  const out: string[] = [];
  for (let m = re.exec(code); m !== null; m = re.exec(code)) out.push(m[1] ?? m[2]);
  return out;
}

/** A cycle in a directed graph as a path that starts and ends at the same node, or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      const s = state.get(m);
      if (s === 1) return [...path.slice(path.indexOf(m)), m];
      if (s === undefined) {
        const c = visit(m);
        if (c !== null) return c;
      }
    }
    path.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of graph.keys()) {
    if (state.get(n) === undefined) {
      const c = visit(n);
      if (c !== null) return c;
    }
  }
  return null;
}

test('src/cpu: the value imports between its modules form no cycle', () => {
  const files = jsFiles(CPU);
  assert.ok(files.length > 10, `compiled src/cpu modules in ${CPU} (run npm run build)`);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps: string[] = [];
    for (const spec of staticSpecifiers(readFileSync(f, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      if (target.startsWith(CPU + sep)) deps.push(relative(CPU, target));
    }
    graph.set(relative(CPU, f), deps);
  }
  // The parser must see the edges it is meant to judge.
  assert.ok(graph.get('cpu.js')?.includes('decoder.js'), 'cpu.js imports decoder.js');
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import cycle in src/cpu: ${cycle?.join(' -> ')}`);
});

// The layers run one way (docs/architecture.md, "Layers as folders"): the CPU needs memory, ports and a model error, and
// declares them itself (cpu/bus.ts, cpu/errors.ts); machine/ implements them. Compiled
// JS keeps only value imports, so the source is read for type-only ones too.
test('src/cpu imports nothing from the layers above it', () => {
  const srcTs = fileURLToPath(new URL('../../src/cpu/', import.meta.url));
  const offenders: string[] = [];
  for (const cpuDir of [CPU, srcTs.replace(/[\\/]$/, '')]) {
    const allowed = [cpuDir, join(cpuDir, '..', 'arch')];
    const files = cpuDir === CPU ? jsFiles(cpuDir) : tsFiles(cpuDir);
    assert.ok(files.length > 10, `modules found in ${cpuDir}`);
    for (const f of files) {
      for (const spec of staticSpecifiers(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(f), spec);
        if (!allowed.some((d) => target.startsWith(d + sep))) offenders.push(`${f} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});


/** Import one module first in a fresh Node process; resolves to null or to what went wrong. */
function importAlone(file: string): Promise<string | null> {
  return new Promise((done) => {
    const url = pathToFileURL(file).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)});`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill(), 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done(code === 0 ? null : `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(0, 8).join('\n')}`);
    });
  });
}

test('every module under src/ imports on its own in a fresh process', async () => {
  for (const e of ENTRY_POINTS) assert.ok(existsSync(join(SRC, e)), `entry point ${e} exists`);
  const files = jsFiles(SRC).filter((f) => !ENTRY_POINTS.includes(relative(SRC, f).split(sep).join('/')));
  const failures: string[] = [];
  let next = 0;
  // Two at a time: the machine has two cores and other work to do.
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const f = files[next++];
      const err = await importAlone(f);
      if (err !== null) failures.push(`${relative(SRC, f)}: ${err}`);
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, [], failures.join('\n\n'));
});
