// Segment selectors and descriptors (SDM Vol. 3 §3.4, §3.5, §6.14.1).

export const SEL_RPL = 3;
export const SEL_TI = 4;

/** Segment register numbers, in ModRM.reg order. */
export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

// Descriptor access byte (bits 40..47) and flags (52..55), as seen in the high dword
// (SDM Vol. 3A §3.4.5, Figure 3-8). The segment-register caches (Cpu.segAttr) keep the
// same bit positions, so these masks apply to both.
export const DESC_TYPE_SHIFT = 8; // in the high dword
/** The 4-bit type field, bits 11:8 of the high dword. */
export const DESC_TYPE_MASK = 0xf << DESC_TYPE_SHIFT;
export const DESC_S = 1 << 12;
export const DESC_DPL_SHIFT = 13;
export const DESC_DPL_MASK = 3 << DESC_DPL_SHIFT;
export const DESC_P = 1 << 15;
export const DESC_AVL = 1 << 20;
export const DESC_L = 1 << 21;
export const DESC_DB = 1 << 22;
export const DESC_G = 1 << 23;
/** The access byte and flags (bits 23:8 less the limit's 19:16): what a segment cache keeps. */
export const DESC_ATTR_MASK = 0x00f0ff00;

// Type bits of a code or data descriptor (S = 1), in the high dword (SDM Vol. 3A
// §3.4.5.1, Table 3-1 "Code- and Data-Segment Types"). Bit 11 tells code from data;
// bits 10 and 9 mean different things for each, hence the shared values.
/** Type bit 3: a code segment (else data). */
export const DESC_TYPE_CODE = 1 << 11;
/** Type bit 2 of a code segment: conforming (runs at the caller's CPL). */
export const DESC_TYPE_CONFORMING = 1 << 10;
/** Type bit 2 of a data segment: expand-down (valid offsets lie above the limit). */
export const DESC_TYPE_EXPAND_DOWN = 1 << 10;
/** Type bit 1 of a code segment: readable. */
export const DESC_TYPE_READABLE = 1 << 9;
/** Type bit 1 of a data segment: writable. */
export const DESC_TYPE_WRITABLE = 1 << 9;
/** Type bit 0: accessed (set by the processor on a segment load, §3.4.5.1). */
export const DESC_TYPE_ACCESSED = 1 << 8;
/** A TSS descriptor's busy bit: type bit 1 (available 9 -> busy 0xB, §8.2.2). */
export const DESC_TYPE_TSS_BUSY = 1 << 9;

/** System descriptor / gate types (S = 0) in 64-bit mode. */
export const TYPE_LDT = 0x2;
export const TYPE_TSS_AVAIL = 0x9;
export const TYPE_TSS_BUSY = 0xb;
export const TYPE_CALL_GATE = 0xc;
export const TYPE_INT_GATE = 0xe;
export const TYPE_TRAP_GATE = 0xf;
/** Protected-mode-only system types (SDM Vol. 3A §3.5, Table 3-2, 32-bit mode column). */
export const TYPE_TASK_GATE = 0x5;
export const TYPE_INT_GATE16 = 0x6;
export const TYPE_TRAP_GATE16 = 0x7;
/** In an interrupt or trap gate: type bit 3 makes the gate 32-bit (D, §6.11 Figure 6-2),
 *  type bit 0 makes it a trap gate, which leaves RFLAGS.IF alone (§6.12.1, flag usage). */
export const GATE_TYPE_32 = 0x8;
export const GATE_TYPE_TRAP = 0x1;
/** GATE_TYPE_TRAP as a bit of the gate's second dword. */
export const GATE_TRAP = GATE_TYPE_TRAP << DESC_TYPE_SHIFT;

/** 64-bit TSS: offsets of RSP0 and IST1 (SDM Vol. 3 §8.7). */
export const TSS64_RSP0 = 4;
export const TSS64_IST1 = 0x24;
export const TSS64_IOMAP_BASE = 0x66;
