// Default limits of a run (README.md, "Command line": --max-insns, --memory).

/** Instruction budget: 10^10. */
export const DEFAULT_MAX_INSNS = 1e10;
/** Guest RAM, as `qemu -m 128`. */
export const DEFAULT_MEMORY_MIB = 128;
export const MAX_MEMORY_MIB = 4096;
