// `ringside trace FILE`: a trace file (trace-file.ts) rendered for a person, one block per
// transition: what happened, the privilege and mode change, the instruction with its
// symbol (the one that caused the transition, or the next to run after a trap or an
// external event), the registers, segment bases and MSRs that changed, and the frame drawn as stack slots, highest
// address first as a stack is drawn.

import type { TraceEntry, TraceHeader } from './trace-file.js';

/** Exception mnemonics (SDM Vol. 3A §6.15, Table 6-1); other vectors are shown by number. */
const EXCEPTIONS: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS', 11: '#NP',
  12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM', 20: '#VE', 21: '#CP',
};

export interface TraceFilter {
  kinds?: ReadonlySet<string>;
  vector?: number;
  from?: number;
  to?: number;
}

export function selectEntries(entries: readonly TraceEntry[], f: TraceFilter): TraceEntry[] {
  return entries.filter((e) =>
    (f.kinds === undefined || f.kinds.has(e.kind)) &&
    (f.vector === undefined || e.vector === f.vector) &&
    (f.from === undefined || e.seq >= f.from) &&
    (f.to === undefined || e.seq <= f.to));
}

function what(e: TraceEntry): string {
  if (e.vector === null) return e.kind;
  const name = e.kind === 'delivery' && e.source !== 'software' && e.source !== 'external' && e.source !== 'other' ? EXCEPTIONS[e.vector] : undefined;
  const parts = [`vector ${e.vector} (0x${e.vector.toString(16)})`, ...(e.source !== null ? [e.source] : []),
    ...(e.fredType !== null && e.fredType !== undefined ? [`FRED type ${e.fredType}`] : [])];
  return `${e.kind} ${name !== undefined ? name + ' ' : ''}${parts.join(', ')}`;
}

function renderEntry(e: TraceEntry): string {
  const out: string[] = [];
  const error = e.errorCode !== null ? `, error code 0x${e.errorCode.toString(16)}` : '';
  out.push(`#${e.seq}  t=${e.icount}  ${what(e)}${error}${e.annotation !== null ? `  [${e.annotation}]` : ''}`);
  out.push(`  CPL ${e.before.cpl} ${e.before.mode} -> CPL ${e.after.cpl} ${e.after.mode}${e.guestMode !== undefined ? `, guest ${e.guestMode} mode` : ''}`);
  if (e.instruction !== null) {
    const i = e.instruction;
    const role = i.role === 'caused' ? 'caused by' : 'next to run';
    out.push(`  ${role} ${i.address}${i.symbol !== null ? ` <${i.symbol}>` : ''}: ${i.text}${i.bytes !== '' ? `   (${i.bytes})` : ''}`);
  } else {
    out.push('  at (instruction bytes not available)');
  }
  const changes = (group: 'registers' | 'bases' | 'msrs'): string[] => {
    const before: Record<string, string> = e.before[group], after: Record<string, string> = e.after[group];
    return Object.keys(after).filter((r) => before[r] !== after[r]).map((r) => `    ${(group === 'bases' ? `${r}.base` : r).padEnd(12)} ${before[r] ?? '(absent)'} -> ${after[r]}`);
  };
  const changed = [...changes('registers'), ...changes('bases'), ...changes('msrs')];
  if (changed.length === 0) out.push('  registers: none changed');
  else out.push('  registers changed:', ...changed);
  if (e.frame !== null) {
    const verb = e.kind === 'iret' || e.kind === 'far-return' || e.kind === 'eretu' || e.kind === 'erets' ? 'popped' : 'pushed';
    out.push(`  frame ${verb} at ${e.frame.address} (${e.frame.slots.length} slots, highest address first):`);
    for (const s of [...e.frame.slots].reverse()) {
      out.push(`    ${s.address}  +0x${s.offset.toString(16).padStart(2, '0')}  ${s.name.padEnd(10)} ${s.value}`);
    }
  }
  for (const w of e.hostWrites ?? []) out.push(`  the host wrote ${w.bytes.split(' ').length} bytes of guest memory at ${w.address}: ${w.bytes}`);
  return out.join('\n');
}

export function renderTrace(header: TraceHeader, entries: readonly TraceEntry[], total: number): string {
  const head = `trace of ${header.image} on ${header.profile}: ${entries.length} of ${total} transition${total === 1 ? '' : 's'} shown`;
  return [head, ...entries.map(renderEntry)].join('\n\n') + '\n';
}
