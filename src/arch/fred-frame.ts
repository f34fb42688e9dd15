// The FRED stack frame (Intel SDM Vol. 3 §8.3 "FRED stack frame", FRED-era edition; FRED
// specification §5.1): eight quadwords that FRED event delivery writes below the new RSP
// (src/cpu/fred.ts) and whose first six ERETU and ERETS read back (src/cpu/eret.ts), lowest
// address first: error code, RIP, augmented CS, RFLAGS, RSP, augmented SS, event data,
// reserved. The augmented selectors carry the event's description in their upper bits.
//
// Readers: a host at a FRED entry point (src/hosts/fred-frame.ts) and the trace's slot names
// (src/report/trace-file.ts). Decoding is for the cold edges (hosts, reports): it uses BigInt.

/** Byte offsets of the frame's slots from its lowest address (the error code). */
export const FRED_FRAME = {
  errorCode: 0,
  rip: 8,
  cs: 16,
  rflags: 24,
  rsp: 32,
  ss: 40,
  eventData: 48,
  reserved: 56,
  /** The whole frame; ERETU and ERETS read the first RETURN_BYTES. */
  size: 64,
} as const;

/** The bytes a return reads: error code (skipped) through augmented SS. */
export const FRED_RETURN_BYTES = 48;

/** Augmented CS: bits 15:0 the selector, 17:16 the stack level the event interrupted (on return,
 *  the level ERETS returns to), 18 WFE (delivery) / IBT_restore (ERETS). */
export interface FredCs { selector: number; stackLevel: number; wfe: number }

/** Augmented SS: bits 15:0 the selector, 16 STI blocking, 17 a software event (on return:
 *  pend_DB), 18 NMI (on return: NMI_unblock), 39:32 vector, 51:48 type, 57 64-bit mode,
 *  58 nested exception, 63:60 instruction length. */
export interface FredSs {
  selector: number; stiBlock: number; swEvent: number; nmi: number;
  vector: number; type: number; long: number; nested: number; insnLen: number;
}

/** A decoded frame; 64-bit slots as unsigned BigInts. `eventData` is null for the 48 bytes a
 *  return reads. */
export interface FredFrame {
  errorCode: bigint; rip: bigint; cs: FredCs; rflags: bigint; rsp: bigint; ss: FredSs;
  eventData: bigint | null;
}

const bit = (v: number, n: number): number => (v >>> n) & 1;

/** The augmented CS from its low doubleword (bits 63:19 are 0 as delivery writes them). */
export function decodeFredCs(lo: number): FredCs {
  return { selector: lo & 0xffff, stackLevel: (lo >>> 16) & 3, wfe: bit(lo, 18) };
}

/** The augmented SS from its two doublewords. */
export function decodeFredSs(lo: number, hi: number): FredSs {
  return {
    selector: lo & 0xffff, stiBlock: bit(lo, 16), swEvent: bit(lo, 17), nmi: bit(lo, 18),
    vector: hi & 0xff, type: (hi >>> 16) & 0xf, long: bit(hi, 25), nested: bit(hi, 26), insnLen: hi >>> 28,
  };
}

/** Decode a frame from its bytes, lowest address first: 64 (delivery) or 48 (what a return
 *  reads). */
export function decodeFredFrame(bytes: ArrayLike<number>): FredFrame {
  if (bytes.length !== FRED_FRAME.size && bytes.length !== FRED_RETURN_BYTES) {
    throw new Error(`a FRED frame is ${FRED_FRAME.size} bytes (${FRED_RETURN_BYTES} for a return), not ${bytes.length}`);
  }
  const dword = (at: number): number => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const qword = (at: number): bigint => (BigInt(dword(at + 4)) << 32n) | BigInt(dword(at));
  return {
    errorCode: qword(FRED_FRAME.errorCode),
    rip: qword(FRED_FRAME.rip),
    cs: decodeFredCs(dword(FRED_FRAME.cs)),
    rflags: qword(FRED_FRAME.rflags),
    rsp: qword(FRED_FRAME.rsp),
    ss: decodeFredSs(dword(FRED_FRAME.ss), dword(FRED_FRAME.ss + 4)),
    eventData: bytes.length === FRED_FRAME.size ? qword(FRED_FRAME.eventData) : null,
  };
}
