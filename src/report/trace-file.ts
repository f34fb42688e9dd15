// Trace files (docs/architecture.md, "Trace files"): `ringside run --trace FILE` writes
// one JSON line per transition after a header line; `ringside trace FILE` reads them back.
//
// The file appears whole or not at all: lines go to FILE.tmp, renamed to FILE when the
// run ends, however it ends (verdict, model error, Ctrl-C). Reading checks every line, so
// a truncated or corrupt file is refused with one line naming where, never half-rendered.
//
// Deviations: frames of 16-bit gates are shown as unnamed slots.

import { closeSync, openSync, readFileSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import { BadInput } from '../machine/errors.js';
import type { TransitionRecord, TransitionSide } from '../cpu/transition.js';
import type { SymbolTable } from '../guest/elf-symbols.js';
import { FRED_FRAME, decodeFredCs, decodeFredSs } from '../arch/fred-frame.js';

export const TRACE_FORMAT = 'ringside-trace';
export const TRACE_VERSION = 2;

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  profile: string;
  image: string;
}

/** One stack slot of a frame: its offset from the frame's lowest address, its linear
 *  address, what it holds and its value. */
export interface FrameSlot {
  offset: number;
  address: string;
  name: string;
  value: string;
}

/** A transition as a trace line holds it. */
export interface TraceEntry {
  seq: number;
  icount: number;
  kind: TransitionRecord['kind'];
  vector: number | null;
  source: TransitionRecord['source'];
  /** The FRED event type of a FRED delivery (absent in traces written before FRED). */
  fredType?: number | null;
  errorCode: number | null;
  annotation: string | null;
  before: TransitionSide;
  after: TransitionSide;
  frame: { address: string; bytes: string; slots: FrameSlot[] } | null;
  instruction: { address: string; symbol: string | null; bytes: string; text: string; role: 'caused' | 'next' } | null;
  /** A hypervisor host's guest mode (kernel or user) for the transition (absent otherwise). */
  guestMode?: 'kernel' | 'user';
  /** On a return out of a host entry point: the guest memory the host wrote (bounce frames,
   *  hypercall results), each as its address and hex bytes. */
  hostWrites?: Array<{ address: string; bytes: string }>;
}

const hexBytes = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

function hexValue(bytes: readonly number[], at: number, width: number): string {
  let v = 0n;
  for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[at + k]);
  return '0x' + v.toString(16).padStart(width * 2, '0');
}

/** The FRED frame's slots (SDM Vol. 3 §8.3, "FRED stack frame"), lowest address first, the
 *  augmented CS and SS named with their fields as delivery writes them (fred.ts); ERETU and
 *  ERETS read the first six (eret.ts). */
function fredSlotNames(bytes: readonly number[]): string[] {
  const dword = (at: number): number => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const cs = decodeFredCs(dword(FRED_FRAME.cs));
  const ss = decodeFredSs(dword(FRED_FRAME.ss), dword(FRED_FRAME.ss + 4));
  return ['error code', 'RIP', `CS (selector 0x${cs.selector.toString(16)}, sl ${cs.stackLevel}, wfe ${cs.wfe})`, 'RFLAGS', 'RSP',
    `SS (selector 0x${ss.selector.toString(16)}, sti ${ss.stiBlock}, swevent ${ss.swEvent}, nmi ${ss.nmi}, ` +
      `vector ${ss.vector}, type ${ss.type}, l ${ss.long}, nested ${ss.nested}, insnlen ${ss.insnLen})`,
    'event data', 'reserved'];
}

/** What each slot of a frame holds, lowest address first (SDM Vol. 3A §6.12.1, §6.14.2 for
 *  deliveries; the IRET, CALL and RET pseudocode of Vol. 2 for the frames they pop or push). */
function slotNames(r: TransitionRecord, length: number): { width: number; names: string[] } | null {
  const long = (side: TransitionSide): boolean => side.mode === '64-bit';
  if ((r.fredType !== null || r.kind === 'eretu' || r.kind === 'erets') && r.frame !== null && length >= 48) {
    return { width: 8, names: fredSlotNames(r.frame.bytes).slice(0, length / 8) };
  }
  let width: number;
  switch (r.kind) {
    case 'delivery': width = long(r.after) ? 8 : 4; break; // IA-32e mode: 8-byte slots (§6.14.2)
    case 'iret': width = long(r.before) && length === 40 ? 8 : 4; break; // IRETQ, else IRETD
    case 'call-gate': case 'far-return': width = (long(r.after) || long(r.before)) && length === 32 ? 8 : 4; break;
    default: return null;
  }
  if (length % width !== 0) return null;
  const [ip, flags, sp] = width === 8 ? ['RIP', 'RFLAGS', 'RSP'] : ['EIP', 'EFLAGS', 'ESP'];
  const n = length / width;
  let names: string[];
  if (r.kind === 'delivery') names = [...(r.errorCode !== null ? ['error code'] : []), ip, 'CS', flags, sp, 'SS', 'ES', 'DS', 'FS', 'GS'];
  else if (r.kind === 'iret') names = [ip, 'CS', flags, sp, 'SS', 'ES', 'DS', 'FS', 'GS'];
  else names = [ip, 'CS', ...Array.from({ length: Math.max(0, n - 4) }, (_, k) => `parameter ${k + 1}`), sp, 'SS'];
  return n <= names.length ? { width, names: names.slice(0, n) } : null;
}

function decodeFrame(r: TransitionRecord): TraceEntry['frame'] {
  if (r.frame === null) return null;
  const { bytes } = r.frame;
  const base = BigInt(r.frame.address);
  const layout = slotNames(r, bytes.length) ?? { width: bytes.length % 8 === 0 ? 8 : 4, names: [] };
  const slots: FrameSlot[] = [];
  for (let off = 0; off + layout.width <= bytes.length; off += layout.width) {
    slots.push({
      offset: off,
      address: '0x' + ((base + BigInt(off)) & 0xffffffffffffffffn).toString(16).padStart(16, '0'),
      name: layout.names[off / layout.width] ?? `+0x${off.toString(16)}`,
      value: hexValue(bytes, off, layout.width),
    });
  }
  return { address: r.frame.address, bytes: hexBytes(bytes), slots };
}

/** Disassembles with iced-x86 (GNU as syntax, as the guests are written). */
class Disassembler {
  private readonly formatter = new Formatter(FormatterSyntax.Gas);

  constructor(private readonly symbols: SymbolTable) {}

  /** The instruction at the leaving side's CS:RIP, decoded as its code segment's size. */
  instruction(r: TransitionRecord): TraceEntry['instruction'] {
    if (r.code === null) return null;
    // A host entry point's return: what ran there is the host's function, not the bytes
    // (host-entry.ts); the annotation names it.
    if (r.code.role === 'caused' && r.annotation !== null && r.annotation.startsWith('host:')) {
      return { address: r.code.address, symbol: this.symbols.name(BigInt(r.code.address)), bytes: '', text: r.annotation.split(' ')[0], role: 'caused' };
    }
    const address = BigInt(r.code.address);
    const decoder = new Decoder(r.before.codeSize, Uint8Array.from(r.code.bytes), DecoderOptions.None);
    decoder.ip = address;
    const insn = decoder.decode();
    const text = insn.isInvalid ? '(not a whole instruction)' : this.formatter.format(insn);
    const length = insn.isInvalid ? r.code.bytes.length : insn.length;
    insn.free();
    decoder.free();
    return { address: r.code.address, symbol: this.symbols.name(address), bytes: hexBytes(r.code.bytes.slice(0, length)), text, role: r.code.role };
  }
}

function traceEntry(r: TransitionRecord, disassembler: Disassembler): TraceEntry {
  return {
    seq: r.seq,
    icount: r.icount,
    kind: r.kind,
    vector: r.vector,
    source: r.source,
    fredType: r.fredType,
    errorCode: r.errorCode,
    annotation: r.annotation,
    before: r.before,
    after: r.after,
    frame: decodeFrame(r),
    instruction: disassembler.instruction(r),
    ...(r.guestMode !== undefined ? { guestMode: r.guestMode } : {}),
    ...(r.hostWrites !== undefined ? { hostWrites: r.hostWrites.map((w) => ({ address: w.address, bytes: hexBytes(w.bytes) })) } : {}),
  };
}

/** Writes a trace file: the sink to attach, and finish() once the run has ended. */
export class TraceWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private readonly disassembler: Disassembler;
  private pending: string[] = [];
  private pendingChars = 0;
  private closed = false;
  /** Transitions written. */
  count = 0;
  /** Wall-clock time spent building and writing lines: what tracing cost the run. */
  milliseconds = 0;

  constructor(readonly path: string, header: Omit<TraceHeader, 'format' | 'version'>, symbols: SymbolTable) {
    this.tmp = `${path}.tmp`;
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      throw new BadInput(`--trace ${path}: cannot write ${this.tmp} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    this.disassembler = new Disassembler(symbols);
    this.line({ format: TRACE_FORMAT, version: TRACE_VERSION, ...header });
  }

  readonly sink = (record: TransitionRecord): void => {
    const started = performance.now();
    this.line(traceEntry(record, this.disassembler));
    this.count++;
    this.milliseconds += performance.now() - started;
  };

  private line(value: object): void {
    const text = JSON.stringify(value) + '\n';
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
  }

  /** Write what is left and move the file into place. */
  finish(): void {
    if (this.closed) return;
    const started = performance.now();
    this.flush();
    this.closed = true;
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    this.milliseconds += performance.now() - started;
  }

  /** Leave no file behind (the run never started: bad input). */
  discard(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    try { unlinkSync(this.tmp); } catch { /* already gone */ }
  }
}

/** Read and check a whole trace file; BadInput (one line) for anything not a trace of
 *  this version. */
export function readTrace(path: string): { header: TraceHeader; entries: TraceEntry[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BadInput(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (text.length === 0) throw new BadInput(`${path}: empty file, not a Ringside trace`);
  if (!text.endsWith('\n')) throw new BadInput(`${path}: truncated trace (the last line is cut off)`);
  const lines = text.slice(0, -1).split('\n');
  const parsed = (k: number): Record<string, unknown> => {
    try {
      const v: unknown = JSON.parse(lines[k]);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* reported below */ }
    throw new BadInput(`${path}: line ${k + 1} is not a JSON object; not a Ringside trace or corrupt`);
  };
  const h = parsed(0);
  if (h.format !== TRACE_FORMAT) throw new BadInput(`${path}: not a Ringside trace (the first line has no "format": "${TRACE_FORMAT}")`);
  if (h.version !== TRACE_VERSION) {
    throw new BadInput(`${path}: trace version ${JSON.stringify(h.version)} is not readable by this ringside (version ${TRACE_VERSION}); run it again with --trace`);
  }
  if (typeof h.profile !== 'string' || typeof h.image !== 'string') throw new BadInput(`${path}: line 1: the header lacks "profile" or "image"`);
  const entries: TraceEntry[] = [];
  for (let k = 1; k < lines.length; k++) {
    const e = parsed(k);
    const missing = missingField(e);
    if (missing !== null) throw new BadInput(`${path}: line ${k + 1}: ${missing}; corrupt trace`);
    entries.push(e as unknown as TraceEntry);
  }
  return { header: h as unknown as TraceHeader, entries };
}

const isHexRecord = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');
const isSide = (v: unknown): boolean => {
  const s = v as TransitionSide | null;
  return typeof s === 'object' && s !== null && typeof s.cpl === 'number' && typeof s.mode === 'string' &&
    (s.codeSize === 16 || s.codeSize === 32 || s.codeSize === 64) && isHexRecord(s.registers) && isHexRecord(s.bases) && isHexRecord(s.msrs) &&
    Array.isArray(s.undefinedFlags) && s.undefinedFlags.every((f) => typeof f === 'string') && typeof s.statusLoaded === 'boolean';
};
const isNumOrNull = (v: unknown): boolean => v === null || typeof v === 'number';
const isStrOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** The first field a line lacks or holds in the wrong type, or null. */
function missingField(e: Record<string, unknown>): string | null {
  if (typeof e.seq !== 'number') return 'no "seq" number';
  if (typeof e.icount !== 'number') return 'no "icount" number';
  if (typeof e.kind !== 'string') return 'no "kind"';
  if (!isNumOrNull(e.vector) || !isNumOrNull(e.errorCode)) return '"vector" or "errorCode" missing or not a number';
  if (!isStrOrNull(e.source) || !isStrOrNull(e.annotation)) return '"source" or "annotation" missing';
  if (e.fredType !== undefined && !isNumOrNull(e.fredType)) return '"fredType" not a number';
  if (!isSide(e.before) || !isSide(e.after)) return '"before" or "after" missing or malformed';
  const f = e.frame as TraceEntry['frame'];
  if (f !== null && (typeof f !== 'object' || typeof f.address !== 'string' || !Array.isArray(f.slots) ||
      !f.slots.every((s) => typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.address === 'string' && typeof s.value === 'string'))) {
    return '"frame" missing or malformed';
  }
  const i = e.instruction as TraceEntry['instruction'];
  if (i !== null && (typeof i !== 'object' || typeof i.address !== 'string' || typeof i.text !== 'string' || typeof i.bytes !== 'string' ||
      !isStrOrNull(i.symbol) || (i.role !== 'caused' && i.role !== 'next'))) {
    return '"instruction" missing or malformed';
  }
  return null;
}
