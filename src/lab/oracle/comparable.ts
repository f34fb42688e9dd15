// Which opcode-table rows the hardware oracle compares with this machine's CPU, and
// why the others are not compared. Every row of src/cpu/opcodes.ts must be classified
// here, by its code (exact) or else by its mnemonic; test/hardware-oracle.test.ts walks
// the table and fails on a row with neither. A row that is comparable but not modelled
// yet ('unmodelled' semantics, on a feature the oracle's CPU model enumerates) is
// reported as such and generated once it is modelled.
//
// Instructions that fault at CPL 3 are compared as faults: the oracle runs at CPL 3 on
// Linux, where #GP shows up as SIGSEGV (si_code SI_KERNEL, trap number 13), #UD as
// SIGILL, #DE as SIGFPE, #BP as SIGTRAP, #SS/#NP as SIGBUS (compare.ts has the mapping).

import type { OpcodeDef } from '../../cpu/opcodes.js';

export interface Comparable {
  comparable: true;
  /** What the comparison checks when it is not the instruction's result (e.g. "#GP at CPL 3"). */
  note?: string;
}
export interface NotComparable {
  comparable: false;
  reason: string;
}
export type Comparability = Comparable | NotComparable;

const yes: Comparable = { comparable: true };
const fault = (note: string): Comparable => ({ comparable: true, note });
const no = (reason: string): NotComparable => ({ comparable: false, reason });

const PRIV = fault('privileged: #GP at CPL 3 (SIGSEGV)');
const UD64 = fault('invalid in 64-bit mode: #UD (SIGILL)');
const IO = fault('I/O at CPL 3 with IOPL 0 and no I/O bitmap: #GP (SIGSEGV)');
const HOST_STATE = (what: string): NotComparable => no(`reads host state: ${what}`);
const HOST_OS = (what: string): NotComparable => no(`reaches the host OS: ${what}`);
const HOST_FEATURE = (what: string): NotComparable =>
  no(`the host implements ${what}, which the profile does not advertise (the model raises #UD)`);

/** By the row's code, exactly as written in opcodes.ts. Checked before MNEMONIC. */
const CODE: Record<string, Comparability> = {
  // 40-4F are REX prefixes in 64-bit mode: these rows cannot be encoded there.
  '40+r': no('40-4F are REX prefixes in 64-bit mode, where the oracle runs'),
  '48+r': no('40-4F are REX prefixes in 64-bit mode, where the oracle runs'),
  // 62 and C4/C5 are EVEX and VEX prefixes in 64-bit mode; the host has AVX and AVX-512.
  '62 /r': HOST_FEATURE('62 as the EVEX prefix (AVX-512)'),
  'C4 /r': HOST_FEATURE('C4 as the 3-byte VEX prefix (AVX)'),
  'C5 /r': HOST_FEATURE('C5 as the 2-byte VEX prefix (AVX)'),
  '63 /r': yes, // MOVSXD in 64-bit mode (ARPL's row is classified by mnemonic)
  'CD': fault('INT n with n != 0x80: #GP through a DPL-0 gate, or #BP/#OF through the DPL-3 ones (Linux\'s gate DPLs)'),
  '0F 00 /0': HOST_STATE('SLDT returns the host LDTR (UMIP is off on the host)'),
  '0F 00 /1': HOST_STATE('STR returns the host TR (UMIP is off on the host)'),
  '0F 01 /0': HOST_STATE('SGDT returns the host GDTR (UMIP is off on the host)'),
  '0F 01 /1': HOST_STATE('SIDT returns the host IDTR (UMIP is off on the host)'),
  '0F 01 /4': HOST_STATE('SMSW returns the host CR0 (UMIP is off on the host)'),
  // Loading FS/GS changes the harness's own TLS base; the harness restores it after the case.
  '8E /4': fault('loads FS: the generator puts no FS/GS-relative access after it (null-selector base: Intel clears, AMD keeps)'),
  '8E /5': fault('loads GS: the generator puts no FS/GS-relative access after it (null-selector base: Intel clears, AMD keeps)'),
  '0F A1': fault('loads FS: the generator puts no FS/GS-relative access after it'),
  '0F A9': fault('loads GS: the generator puts no FS/GS-relative access after it'),
};

const MNEMONIC: Record<string, Comparability> = {
  // The integer instruction set: compared on results.
  ADD: yes, OR: yes, ADC: yes, SBB: yes, AND: yes, SUB: yes, XOR: yes, CMP: yes, TEST: yes,
  INC: yes, DEC: yes, NOT: yes, NEG: yes, MUL: yes, IMUL: yes, DIV: yes, IDIV: yes,
  ROL: yes, ROR: yes, RCL: yes, RCR: yes, SHL: yes, SHR: yes, SAL: yes, SAR: yes, SHLD: yes, SHRD: yes,
  BT: yes, BTS: yes, BTR: yes, BTC: yes, BSF: yes, BSR: yes, POPCNT: yes, LZCNT: yes,
  SET: yes, CMOV: yes, BSWAP: yes, MOV: yes, MOVZX: yes, MOVSX: yes, MOVSXD: yes, LEA: yes,
  XCHG: yes, XADD: yes, CMPXCHG: yes, CMPXCHG8B: yes, CMPXCHG16B: yes,
  PUSH: yes, POP: yes, PUSHF: yes,
  POPF: fault('the popped image has TF and AC clear (a trap flag would single-step the harness)'),
  LAHF: yes, SAHF: yes, CBW: yes, CWD: yes, XLAT: yes, ENTER: yes, LEAVE: yes,
  CLC: yes, STC: yes, CMC: yes, CLD: yes, STD: yes, NOP: yes, PAUSE: yes, ENDBR64: yes, ENDBR32: yes,
  LFENCE: yes, MFENCE: yes, SFENCE: yes,
  MOVSB: yes, MOVS: yes, CMPSB: yes, CMPS: yes, STOSB: yes, STOS: yes, LODSB: yes, LODS: yes, SCASB: yes, SCAS: yes,
  LSS: yes, LFS: fault('loads FS: the generator puts no FS/GS-relative access after it'),
  LGS: fault('loads GS: the generator puts no FS/GS-relative access after it'),
  // Control transfers: targets are instruction boundaries later in the same sequence.
  J: yes, JMP: yes, CALL: yes, LOOP: yes, LOOPE: yes, LOOPNE: yes, JrCXZ: yes,
  RET: fault('the return address on the stack is a later instruction of the sequence'),
  RETF: fault('the far return pointer is a later instruction of the sequence and a selector'),
  IRET: fault('the frame returns to a later instruction of the sequence (RFLAGS image without TF/AC)'),
  JMPF: fault('the far pointer is a later instruction of the sequence and a selector'),
  CALLF: fault('the far pointer is a later instruction of the sequence and a selector'),
  INT3: fault('#BP through Linux\'s DPL-3 gate: SIGTRAP after the instruction'),
  INT1: fault('#DB trap (ICEBP): SIGTRAP after the instruction'),
  UD0: fault('#UD (SIGILL)'), UD1: fault('#UD (SIGILL)'), UD2: fault('#UD (SIGILL)'),
  // Invalid in 64-bit mode.
  DAA: UD64, DAS: UD64, AAA: UD64, AAS: UD64, AAM: UD64, AAD: UD64, PUSHA: UD64, POPA: UD64,
  SALC: UD64, INTO: UD64, LES: UD64, LDS: UD64, BOUND: UD64,
  ARPL: no('63 is MOVSXD in 64-bit mode: the ARPL row cannot be encoded there'),
  // Privileged: compared as #GP(0) at CPL 3.
  HLT: PRIV, CLI: fault('CPL 3 > IOPL 0: #GP (SIGSEGV)'), STI: fault('CPL 3 > IOPL 0: #GP (SIGSEGV)'),
  LGDT: PRIV, LIDT: PRIV, LLDT: PRIV, LTR: PRIV, LMSW: PRIV, INVLPG: PRIV, CLTS: PRIV, INVD: PRIV,
  WBINVD: PRIV, RDMSR: PRIV, WRMSR: PRIV, SWAPGS: PRIV, SYSRET: PRIV,
  IN: IO, OUT: IO, INSB: IO, INS: IO, OUTSB: IO, OUTS: IO,
  // Not comparable.
  SYSCALL: HOST_OS('SYSCALL enters the host kernel'),
  SYSENTER: HOST_OS('SYSENTER enters the host kernel on Intel (and is #UD in long mode on AMD)'),
  SYSEXIT: no('vendor difference at CPL 3 in long mode: #GP on Intel, #UD on AMD'),
  CPUID: HOST_STATE('CPUID describes the host CPU, not the profile'),
  RDTSC: HOST_STATE('the host TSC (the model\'s is virtual)'),
  RDTSCP: HOST_STATE('the host TSC and TSC_AUX'),
  LAR: HOST_STATE('LAR reads the host\'s descriptor tables'),
  LSL: HOST_STATE('LSL reads the host\'s descriptor tables (the CPUNODE segment\'s limit is the CPU number)'),
  VERR: HOST_STATE('VERR reads the host\'s descriptor tables'),
  VERW: HOST_STATE('VERW reads the host\'s descriptor tables'),
  RDFSBASE: HOST_STATE('RDFSBASE reads the harness thread\'s FS base'),
  RDGSBASE: HOST_STATE('RDGSBASE reads the harness thread\'s GS base'),
  WRFSBASE: no('WRFSBASE would replace the harness thread\'s FS base (its TLS)'),
  WRGSBASE: no('WRGSBASE would replace the harness thread\'s GS base'),
  x87: HOST_FEATURE('x87'),
  WAIT: HOST_FEATURE('x87 (WAIT checks for pending x87 exceptions)'),
  EMMS: HOST_FEATURE('MMX'),
  SSE: HOST_FEATURE('MMX/SSE'),
  // Features the profile does not advertise, some of which the host implements. CPUID
  // under a hypervisor may hide a feature the silicon still executes, so these are not
  // compared on any host.
  '3DNow!': HOST_FEATURE('3DNow! (on some AMD hosts)'),
  XABORT: HOST_FEATURE('RTM (on some hosts)'), XBEGIN: HOST_FEATURE('RTM (on some hosts)'),
  VMREAD: no('VMX instructions: #UD outside VMX operation on Intel, another instruction map on AMD'),
  VMWRITE: no('VMX instructions: #UD outside VMX operation on Intel, another instruction map on AMD'),
  INVEPT: no('VMX instructions: #UD outside VMX operation on Intel, another instruction map on AMD'),
  INVVPID: no('VMX instructions: #UD outside VMX operation on Intel, another instruction map on AMD'),
  INVPCID: no('INVPCID at CPL 3: #GP(0) where the host implements it (as in the model), #UD where it does not'),
  // SMAP's STAC/CLAC are #UD at CPL 3 whether or not the host implements SMAP.
  CLAC: fault('#UD at CPL 3 (SIGILL)'), STAC: fault('#UD at CPL 3 (SIGILL)'),
  EXTRQ: HOST_FEATURE('SSE4A (on AMD hosts)'), INSERTQ: HOST_FEATURE('SSE4A (on AMD hosts)'),
  MOVNTSS: HOST_FEATURE('SSE4A (on AMD hosts)'), MOVNTSD: HOST_FEATURE('SSE4A (on AMD hosts)'),
  MOVNTI: HOST_FEATURE('SSE2'),
  AESENCWIDE: HOST_FEATURE('Key Locker (on some hosts)'), AESKL: HOST_FEATURE('Key Locker (on some hosts)'),
  ENCODEKEY128: HOST_FEATURE('Key Locker (on some hosts)'), ENCODEKEY256: HOST_FEATURE('Key Locker (on some hosts)'),
  CRC32: HOST_FEATURE('SSE4.2 CRC32'), MOVBE: HOST_FEATURE('MOVBE'),
  WRUSS: HOST_FEATURE('CET shadow stacks (on some hosts)'), WRSS: HOST_FEATURE('CET shadow stacks (on some hosts)'),
  ADCX: HOST_FEATURE('ADX'), ADOX: HOST_FEATURE('ADX'),
  MOVDIR64B: HOST_FEATURE('MOVDIR64B'), MOVDIRI: HOST_FEATURE('MOVDIRI'),
  ENQCMD: HOST_FEATURE('ENQCMD (on some hosts)'), ENQCMDS: HOST_FEATURE('ENQCMD (on some hosts)'),
  'RAO-INT': HOST_FEATURE('RAO-INT (on some hosts)'), HRESET: HOST_FEATURE('HRESET (on some hosts)'),
  // FRED: the oracle's CPU model (native/idt) does not enumerate FRED, so these decode as
  // #UD in the model; on a host without FRED they are #UD too (F3/F2 0F 01 CA are CLAC-like
  // encodings with a prefix, F2 0F 00 /6 a reserved one).
  ERETU: fault('FRED is not enumerated: #UD'), ERETS: fault('FRED is not enumerated: #UD'),
  LKGS: fault('FRED is not enumerated: #UD'),
};

/** The classification of one row, or undefined if this file does not say (a test fails). */
export function classify(d: OpcodeDef): Comparability | undefined {
  return CODE[d.code] ?? MNEMONIC[d.mnemonic];
}

/** Prefix and encoding choices the generator steers around, each with its reason: the
 *  host would execute something else than the entry, or Intel and AMD differ and the
 *  model is Intel. `intelOnly` ones are generated on Intel hosts. */
export const STEERING = [
  { what: 'F3 before 0F BC', reason: 'F3 0F BC is TZCNT on a host with BMI1; the profile does not advertise BMI1 (the model runs BSF)', intelOnly: false },
  { what: '66 before near branches (f64 rows: Jcc, JMP, CALL, RET, LOOP, JrCXZ)', reason: 'Intel ignores 66 on near branches in 64-bit mode; AMD honours it (16-bit IP)', intelOnly: true },
  { what: 'REX.W on far indirect JMP/CALL and LSS/LFS/LGS (m16:64)', reason: 'Intel supports m16:64; AMD ignores REX.W there (m16:32)', intelOnly: true },
  { what: 'FS/GS-relative accesses after an FS/GS load in the same sequence', reason: 'loading a null selector clears the base on Intel, keeps it on AMD; and the harness\'s TLS base is restored only after the case', intelOnly: false },
  { what: 'LOCK before MOV CR (0F 20/0F 22)', reason: 'AMD\'s LOCK MOV CR0 is MOV CR8 (AltMovCr8)', intelOnly: false },
  { what: 'INT 0x80', reason: 'the Linux system call gate', intelOnly: false },
  { what: 'INT n for vectors where the host does not follow the gate-DPL rule', reason: 'found by probing every vector at the start of a run (this host: 0x19 reports SIGSEGV after the instruction without an error code)', intelOnly: false },
  { what: '0F 0D with a register operand', reason: 'AMD raises #UD; Intel executes it as a NOP (the model)', intelOnly: true },
  { what: 'ENTER whose new stack top is not writable', reason: 'AMD probes the new top of stack (a #PF there); the SDM\'s ENTER does not access it; unknown on Intel', intelOnly: true },
  { what: 'RETF imm16 releasing past the mapped stack', reason: 'AMD reads the stack past the released bytes before checking the popped CS; the model checks CS first; unknown on Intel', intelOnly: true },
  { what: 'IRET whose frame runs into an unmapped page', reason: 'AMD reads the frame slots in another order and reports a later slot\'s address in CR2 (si_addr); the model pops RIP, CS, RFLAGS, RSP, SS in the SDM\'s order; unknown on Intel', intelOnly: true },
  { what: 'REP INS/OUTS with a zero count', reason: 'AMD raises #GP for the I/O permission even with RCX = 0; the model (the SDM\'s REP loop) does nothing; unknown on Intel', intelOnly: true },
  { what: 'F2/F3 before LOOPE/LOOPNE', reason: 'on this AMD CPU (family 1Ah) F2/F3 select the ZF condition of E0/E1 (F2: loop while ZF = 0, F3: while ZF = 1) whatever the opcode; Intel ignores them, as the model does', intelOnly: true },
  { what: 'more than 15 bytes of an instruction that raises #UD (rows invalid in 64-bit mode, UD0, UD1, UD2)', reason: 'past 15 bytes AMD raises #GP(0) for 82/D4/... (their whole length decoded, immediates included) where the model\'s decoder stops early with #UD, and #UD for UD1 and for UD0 (which has no ModRM on AMD) where the model counts a ModRM and raises #GP; unknown on Intel', intelOnly: true },
  { what: 'REX.B with F3 90', reason: 'AMD executes F3 41 90 as XCHG R8, RAX; Intel decoders (iced-x86) and the model as PAUSE', intelOnly: true },
  { what: 'selector 0x23 (USER32_CS) as a far-transfer target', reason: 'would switch the harness to compatibility mode', intelOnly: false },
] as const;
