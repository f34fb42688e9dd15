// Minimising a disagreement: find the one instruction of the sequence that disagrees
// on its own, started from the state the model had just before it (registers, flags,
// scratch memory), with every other instruction replaced by NOPs so addresses, RIP-
// relative operands and branch targets stay where they were; then try dropping the
// NOPs, the memory patches and each register's value. If no single instruction
// disagrees alone (an interaction, e.g. through the lazy flags), the shortest window
// of consecutive instructions that does is kept.

import { inHarness, type Hardware, type Hello } from './harness.js';
import type { OracleModel, ModelOutcome } from './model.js';
import { compareOutcomes, modelRanges } from './compare.js';
import { CODE_ADDR, EndKind, type Case, type HostOutcome, type Patch } from './layout.js';
import type { Disagreement } from './run.js';

export interface Minimised {
  original: Disagreement;
  c: Case;
  host: HostOutcome;
  model: ModelOutcome;
  diffs: string[];
  /** Reduced to one instruction (the others are NOPs or gone). */
  single: boolean;
  /** ENTRIES indices of the instructions left. */
  entries: number[];
}

export interface MinimiseContext {
  hw: Hardware;
  hello: Hello;
  model: OracleModel;
  images: Uint8Array[];
  calibrated: boolean;
}

const NOP = 0x90;

function fields(diffs: string[]): string {
  return diffs.map((d) => d.split(':')[0]).sort().join(',');
}

async function check(ctx: MinimiseContext, c: Case): Promise<{ host: HostOutcome; model: ModelOutcome; diffs: string[] } | null> {
  ctx.model.load(c);
  const model = ctx.model.run(c);
  if ((model.tainted && !ctx.calibrated) || model.trapFlags) return null;
  if (model.kind === EndKind.Fault && model.vector === 14 && inHarness(ctx.hello, model.cr2)) return null;
  const [host] = await ctx.hw.run([c]);
  ctx.model.load(c);
  ctx.model.run(c);
  const diffs = compareOutcomes(ctx.images[c.image], host, model, modelRanges(ctx.images[c.image], ctx.model.scratch()), { calibrated: ctx.calibrated });
  return diffs.length > 0 ? { host, model, diffs } : null;
}

/** The state before instruction `from` of case c, as the model computes it, with only
 *  instructions [from, to) kept (the rest NOPs). Null if the model never gets there. */
function window(ctx: MinimiseContext, c: Case, from: number, to: number): Case | null {
  const start = c.insns[from].offset;
  ctx.model.load(c);
  const pre = ctx.model.run(c, start);
  if (pre.kind !== EndKind.End || pre.rip !== CODE_ADDR + start) return null;
  const code = new Uint8Array(c.code.length).fill(NOP);
  const stop = to < c.insns.length ? c.insns[to].offset : c.code.length;
  code.set(c.code.subarray(start, stop), start);
  const image = ctx.images[c.image];
  const scratch = ctx.model.scratch();
  const patches: Patch[] = [];
  for (let k = 0; k < scratch.length;) {
    if (scratch[k] === image[k]) { k++; continue; }
    let e = k + 1;
    while (e < scratch.length && scratch[e] !== image[e]) e++;
    patches.push({ offset: k, bytes: scratch.slice(k, e) });
    k = e;
  }
  return {
    regs: pre.regs.slice(), image: c.image, patches, code, flags: c.flags,
    insns: c.insns.slice(from, to).map((i) => ({ ...i })),
  };
}

export async function minimise(d: Disagreement, ctx: MinimiseContext): Promise<Minimised> {
  const c = d.c;
  const n = c.insns.length;
  let best: Case | null = null;
  let found: { host: HostOutcome; model: ModelOutcome; diffs: string[] } | null = null;
  for (let w = 1; w <= n && best === null; w++) {
    if (w === n && n > 1) break;
    for (let k = 0; k + w <= n; k++) {
      const cand = window(ctx, c, k, k + w);
      if (cand === null) continue;
      const r = await check(ctx, cand);
      if (r !== null) { best = cand; found = r; break; }
    }
  }
  if (best === null || found === null) {
    return { original: d, c, host: d.host, model: d.model, diffs: d.diffs, single: n === 1, entries: c.insns.map((i) => i.entry) };
  }
  const key = fields(found.diffs);
  const keep = async (cand: Case): Promise<boolean> => {
    const r = await check(ctx, cand);
    if (r === null || fields(r.diffs) !== key) return false;
    best = cand;
    found = r;
    return true;
  };
  // Without the NOPs, if the instruction does not depend on where it is (no branch, no
  // RIP-relative operand).
  if (best.insns.length === 1 && !ctx.model.dependsOnRip(best, best.insns[0].offset)) {
    const i = best.insns[0];
    const alone: Case = { ...best, code: best.code.slice(i.offset, i.offset + i.length), insns: [{ ...i, offset: 0 }] };
    await keep(alone);
  }
  // Without the memory patches, then register by register at zero — not with an FS/GS
  // prefix around: an unaimed FS-relative access reaches the harness's own TLS.
  const fsgs = best.code.includes(0x64) || best.code.includes(0x65);
  if (best.patches.length > 0 && !fsgs) await keep({ ...best, patches: [] });
  for (let r = 0; r < 16 && !fsgs; r++) {
    if (r === 4) continue;
    const cur: Case = best;
    if (cur.regs[2 * r] === 0 && cur.regs[2 * r + 1] === 0) continue;
    const regs = cur.regs.slice();
    regs[2 * r] = 0;
    regs[2 * r + 1] = 0;
    await keep({ ...cur, regs });
  }
  const fin = best as Case;
  const res = found as { host: HostOutcome; model: ModelOutcome; diffs: string[] };
  return { original: d, c: fin, host: res.host, model: res.model, diffs: res.diffs, single: fin.insns.length === 1, entries: fin.insns.map((i) => i.entry) };
}
