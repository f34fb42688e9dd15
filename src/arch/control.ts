// Control registers and EFER (SDM Vol. 3 §2.5, §2.2.1).
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
export const CR4_UMIP = 1 << 11;
export const CR4_LA57 = 1 << 12;
export const CR4_FSGSBASE = 1 << 16;
export const CR4_PCIDE = 1 << 17;
export const CR4_OSXSAVE = 1 << 18;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const CR4_PKE = 1 << 22;
export const CR4_CET = 1 << 23;
// CR4.FRED is bit 32: it lives in the high half (see cpu CR4 storage).
export const CR4_HI_FRED = 1 << 0;

export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;
