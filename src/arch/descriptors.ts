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

// Descriptor access byte (bits 40..47) and flags (52..55), as seen in the high dword.
export const DESC_TYPE_SHIFT = 8; // in the high dword
export const DESC_S = 1 << 12;
export const DESC_DPL_SHIFT = 13;
export const DESC_P = 1 << 15;
export const DESC_AVL = 1 << 20;
export const DESC_L = 1 << 21;
export const DESC_DB = 1 << 22;
export const DESC_G = 1 << 23;

/** System descriptor / gate types (S = 0) in 64-bit mode. */
export const TYPE_LDT = 0x2;
export const TYPE_TSS_AVAIL = 0x9;
export const TYPE_TSS_BUSY = 0xb;
export const TYPE_CALL_GATE = 0xc;
export const TYPE_INT_GATE = 0xe;
export const TYPE_TRAP_GATE = 0xf;

/** 64-bit TSS: offsets of RSP0 and IST1 (SDM Vol. 3 §8.7). */
export const TSS64_RSP0 = 4;
export const TSS64_IST1 = 0x24;
export const TSS64_IOMAP_BASE = 0x66;
