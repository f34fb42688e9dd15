// Model-specific register indices (SDM Vol. 4).
export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;
export const MSR_MISC_ENABLE = 0x1a0;
export const MSR_TSC_DEADLINE = 0x6e0;
export const MSR_PAT = 0x277;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_MCG_CAP = 0x179;
export const MSR_MCG_STATUS = 0x17a;
export const MSR_MCG_CTL = 0x17b;
/** IA32_MCi_CTL, _STATUS, _ADDR, _MISC of bank i are MSR_MC0_CTL + 4i + 0..3 (SDM Vol. 3B §16.3.2). */
export const MSR_MC0_CTL = 0x400;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
/** FRED (FRED specification §4; SDM Vol. 4): IA32_FRED_RSP0..3 are 1CCH..1CFH, then
 *  IA32_FRED_STKLVLS, IA32_FRED_SSP1..3, IA32_FRED_CONFIG. */
export const MSR_FRED_RSP0 = 0x1cc;
export const MSR_FRED_STKLVLS = 0x1d0;
export const MSR_FRED_SSP1 = 0x1d1;
export const MSR_FRED_CONFIG = 0x1d4;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_FMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

/** IA32_MCG_CAP.MCG_CTL_P (bit 8): IA32_MCG_CTL is present (SDM Vol. 3B §16.3.1.1). */
export const MCG_CTL_P = 1 << 8;

/** Power-on values (SDM Vol. 3A §11.4.4 IA32_APIC_BASE: enabled, BSP, base 0xFEE00000;
 *  §12.12.4 IA32_PAT: 0x0007040600070406). */
export const APIC_BASE_RESET = 0xfee00900;
export const PAT_RESET_LO = 0x00070406;
export const PAT_RESET_HI = 0x00070406;
