// Default limits of a run (README.md, "Command line": --max-insns, --memory).

/** Instruction budget: 10^10. */
export const DEFAULT_MAX_INSNS = 1e10;
/** Guest RAM, as `qemu -m 128`. */
export const DEFAULT_MEMORY_MIB = 128;
export const MAX_MEMORY_MIB = 4096;
/** The profile of `run` (and of any command taking one profile) when --profile is not given. */
export const DEFAULT_PROFILE = 'native/idt';
