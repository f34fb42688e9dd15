// The execution mode, from EFER.LMA and CS.L/D (Cpu.modeChanged). Its own module so
// that the modules cpu.ts imports can use it without importing cpu.ts back.

export const enum Mode {
  /** 32-bit protected mode (CS.D = 1, not in long mode). */
  Protected32 = 0,
  /** 64-bit mode (IA-32e, CS.L = 1). */
  Long64 = 1,
  /** Compatibility mode (IA-32e, CS.L = 0, CS.D = 1). */
  Compat32 = 2,
}
