// Exception vectors (SDM Vol. 3 §6.15, Table 6-1).
//
// Nothing in the model raises these, so no guest can observe them: #MF (16) and #XM (19)
// (no x87 or SSE is modelled: cpu/cpuid.ts), #MC (18) (CPUID advertises neither MCE nor MCA), #VE (20)
// (no EPT), #CP (21) (no CET). NMI (2) comes from the local APIC and injection
// (cpu/events.ts). #DB (1) arises
// from INT1, DR7.GD general detect and TF single-step traps (cpu/events.ts); the other
// debug exceptions cannot pass silently: arming a breakpoint in DR7 is a model error
// (ops/system.ts), and task switches (the TSS T flag) are not modelled.
export const DE = 0;
export const DB = 1;
export const NMI = 2;
export const BP = 3;
export const OF = 4;
export const BR = 5;
export const UD = 6;
export const NM = 7;
export const DF = 8;
export const TS = 10;
export const NP = 11;
export const SS = 12;
export const GP = 13;
export const PF = 14;
export const MF = 16;
export const AC = 17;
export const MC = 18;
export const XM = 19;
export const VE = 20;
export const CP = 21;

export const MNEMONIC: readonly string[] = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'vec9', '#TS', '#NP', '#SS', '#GP',
  '#PF', 'vec15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

/** Exceptions that push an error code (SDM Vol. 3 Table 6-1). */
export function pushesErrorCode(vector: number): boolean {
  return vector === DF || (vector >= TS && vector <= PF) || vector === AC || vector === CP;
}

/** #PF error-code bits (SDM Vol. 3 §4.7). */
export const PFEC_P = 1 << 0;
export const PFEC_W = 1 << 1;
export const PFEC_U = 1 << 2;
export const PFEC_RSVD = 1 << 3;
export const PFEC_I = 1 << 4;
export const PFEC_PK = 1 << 5;
