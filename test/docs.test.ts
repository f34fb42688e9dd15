// docs/architecture.md is written from the code; these tests keep it from drifting away
// from the checkout:
// - every path it names in backquotes exists: rooted ones (src/..., test/..., guests/...,
//   bench/..., docs/..., bin/...; folders and files) at that place, bare file and folder
//   names (`cpu.ts`, `ops/string.ts`, `head.S`, `lab/oracle/`) somewhere in the tree. `<name>` and `*` match one path
//   component (or part of one), so `guests/<name>/main.c` needs at least one guest;
// - every folder directly under src/ is mentioned, so a new layer cannot go undocumented;
// - it cites no design document outside the repository.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/docs.test.js -> the checkout. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = 'docs/architecture.md';
const ROOTED = /^(src|test|guests|bench|docs|bin)(\/|$)/;
/** Bare names checked against the tree: files with a source or data extension, and
 *  folders written with their trailing '/' (`ops/`, `lab/oracle/`). */
const FILE = /^[\w.*<>-]+(\/[\w.*<>-]+)*\.(ts|c|S|h|ld|json|md)$/;
const FOLDER = /^[\w-]+(\/[\w-]+)*\/$/;
/** Not part of the checkout's sources: build outputs and installed packages. */
const SKIP = new Set(['node_modules', 'dist', '.git', '.cache']);
const BUILT = /^(dist|\.cache|node_modules)\//;

/** Every file and folder of the checkout, relative, '/'-separated; folders end in '/'. */
function tree(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      if (SKIP.has(d.name)) continue;
      const p = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        out.push(p + '/');
        walk(p);
      } else out.push(p);
    }
  };
  walk('');
  return out;
}

/** A path as written in the document, as a pattern: `<...>` and `*` stand for part of a
 *  component; a trailing '/' (a folder) is optional on a file-or-folder name. */
function pattern(path: string, anchored: boolean): RegExp {
  const body = path
    .replace(/\/$/, '')
    .split(/(<[^>]*>|\*)/)
    .map((part) => (part === '*' || /^<[^>]*>$/.test(part) ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`${anchored ? '^' : '(^|/)'}${body}/?$`);
}

/** Inline code spans of the document, outside fenced blocks. */
function codeSpans(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1].trim());
}

const text = readFileSync(join(ROOT, DOC), 'utf8');
const spans = codeSpans(text);

test(`every path ${DOC} names exists in the checkout`, () => {
  const files = tree();
  const rooted = [...new Set(spans.filter((s) => ROOTED.test(s) && !/\s/.test(s)))];
  const bare = [...new Set(spans.filter((s) => !ROOTED.test(s) && !BUILT.test(s) && (FILE.test(s) || FOLDER.test(s))))];
  assert.ok(rooted.length > 50, `only ${rooted.length} rooted paths found: is the span parser broken?`);
  const missing = [
    ...rooted.filter((p) => !files.some((f) => pattern(p, true).test(f))),
    ...bare.filter((p) => !files.some((f) => pattern(p, false).test(f))).map((p) => `${p} (anywhere)`),
  ];
  assert.deepEqual(missing, [], `${DOC} names paths that do not exist:\n  ${missing.join('\n  ')}`);
});

test(`every folder under src/ is described in ${DOC}`, () => {
  const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.ok(folders.includes('cpu'), 'src/cpu found');
  const named = new Set(spans.map((s) => s.replace(/\/$/, '')));
  const undocumented = folders.filter((f) => !named.has(`src/${f}`)).map((f) => `src/${f}/`);
  assert.deepEqual(undocumented, [], `${DOC} never names these layers: ${undocumented.join(', ')}`);
});

test(`${DOC} cites no design document outside the repository`, () => {
  assert.ok(existsSync(join(ROOT, DOC)));
  assert.doesNotMatch(text, /DESIGN\.md/);
});

// The team's design document lives in a shared folder beside the repository, not in it:
// nothing the project ships may send a reader there. The contracts it states are in the
// README (command line, boot contracts, verdicts, exit statuses, JSON) and the structure
// in docs/architecture.md.
test('no file of the project cites a document outside the repository', () => {
  const offenders: string[] = [];
  const check = (rel: string): void => {
    readFileSync(join(ROOT, rel), 'utf8').split('\n').forEach((line, k) => {
      if (line.includes('DESIGN.md')) offenders.push(`${rel}:${k + 1}`);
    });
  };
  const scan = (rel: string): void => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (SKIP.has(e.name)) continue;
      if (e.isDirectory()) scan(child);
      else if (child !== 'test/docs.test.ts') check(child); // this test names what it looks for
    }
  };
  for (const dir of ['src', 'test', 'bench', 'guests', 'docs', '.ci', 'bin']) scan(dir);
  for (const file of ['README.md', 'package.json']) check(file);
  assert.deepEqual(offenders, []);
});
