// Where QEMU (the oracle, QEMU 7.2 TCG) and the manual disagree on a value a guest
// prints: with -cpu max,vendor=GenuineIntel the Intel SDM (compared with native/idt),
// with -cpu max,vendor=AuthenticAMD the AMD APM (compared with native/idt-amd).  An
// entry applies to the vendor models in its `vendors` (default: Intel only); one for
// both cites both manuals.  A `kind: 'platform'` entry records where QEMU's machine,
// not its CPU, differs from the platform of Ringside's boot contract.  The
// cross-check (test/qemu-crosscheck.test.ts) compares Ringside's console output with
// QEMU's line by line; on a line matched by an entry here it requires instead that
// QEMU prints `qemuValue` and Ringside prints `sdmValue`.  An entry whose line now
// agrees between the two (QEMU fixed, or Ringside copying QEMU) fails the test, so
// the list cannot silently go stale.
//
// A guest line is `name: value`; `line` is matched against the name.

export interface QemuDeviation {
  /** Guest folder name under guests/. */
  guest: string;
  /** Matched against the part of a console line before the first ': '. */
  line: RegExp;
  /** 'cpu' (the default): QEMU's CPU departs from the manual. 'platform': the CPU agrees, but QEMU's
   *  machine is not the platform Ringside's boot contract describes (e.g. its memory map depends on
   *  the CPU vendor); then sdmSection names the contract and sdmValue is what the contract gives. */
  kind?: 'cpu' | 'platform';
  /** Where the manual says what the value must be: the Intel SDM for the Intel model, the AMD APM for
   *  the AMD model (an entry for both cites both; test/qemu-crosscheck.test.ts checks it); for a
   *  platform entry, Ringside's boot contract. */
  sdmSection: string;
  /** The value (text after ': ') the manual requires, which Ringside must print; null when Ringside
   *  prints no such line (a platform entry for a line only QEMU's machine produces): then QEMU's
   *  line is checked alone and skipped when aligning the transcripts. */
  sdmValue: string | null;
  /** The value QEMU prints, or null when QEMU prints no such line at all (a feature it
   *  lacks): then Ringside's line is checked alone and skipped when aligning the transcripts. */
  qemuValue: string | null;
  /** Where QEMU's behaviour comes from (file, function, version). */
  qemuSource: string;
  /** Why the values differ, in a sentence or two. */
  why: string;
  /** The QEMU vendor models it applies to: 'intel' (-cpu max,vendor=GenuineIntel, compared with
   *  native/idt), 'amd' (-cpu max,vendor=AuthenticAMD, compared with native/idt-amd). Default:
   *  Intel only. */
  vendors?: readonly Vendor[];
}

export type Vendor = 'intel' | 'amd';

/** The entries that apply when QEMU runs with this vendor's model. */
export function deviationsFor(vendor: Vendor): QemuDeviation[] {
  return QEMU_DEVIATIONS.filter((d) => (d.vendors ?? ['intel']).includes(vendor));
}

const RF_SDM =
  'Intel SDM Vol. 3B, debug chapter, "Instruction-Breakpoint Exception Condition": ' +
  '"For any fault-class exception except a debug exception generated in response to an ' +
  'instruction breakpoint, the value pushed for RF is 1."';
const RF_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c do_interrupt64(): pushes cpu_compute_eflags(env) ' +
  'as it is; nothing sets RF in the pushed image for fault-class exceptions';
const RF_WHY =
  'Faults push RFLAGS with RF=1 so that IRET back to the faulting instruction does not ' +
  're-trigger an instruction breakpoint; QEMU does not model RF on delivery.';

const RSVD_SDM =
  'Intel SDM Vol. 3A §4.7 "Page-Fault Exceptions": "bit 3 of the error code can be set only ' +
  'if bit 0 is also set" (reserved bits are checked only in present entries)';
const RSVD_QEMU =
  'QEMU 7.2 target/i386/tcg/sysemu/excp_helper.c mmu_translate(): the do_fault_rsvd path ' +
  'sets error_code = PG_ERROR_RSVD_MASK without PG_ERROR_P_MASK (older QEMU or-ed in P)';
const RSVD_WHY = 'QEMU reports reserved-bit page faults with P=0; hardware reports P=1.';

const SEG_SDM =
  'Intel SDM Vol. 3A §5.3 "Limit Checking" and §5.4 "Type Checking" (checks dropped only in 64-bit ' +
  'mode, §5.3.1): an access outside the limit, or a store through a read-only data segment, raises ' +
  '#GP(0), or #SS(0) through SS';
const SEG_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c gen_lea_v_seg(): data accesses add the segment base only; ' +
  'TCG checks neither the limit nor the segment type of a data access (only descriptor loads are checked)';
const SEG_WHY = 'QEMU TCG does not model segment limit or type checks on data accesses; the access completes.';

const QEMU_MISC = 'QEMU 7.2 target/i386/tcg/sysemu/misc_helper.c';
const NMI_IRET_SDM =
  'Intel SDM Vol. 3A §6.7.1 "Handling Multiple NMIs": "An execution of the IRET instruction unblocks NMIs even if ' +
  'the instruction causes a fault ... In such a case, NMIs are unmasked before the exception handler is invoked."';
const NMI_IRET_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_iret_protected(): env->hflags2 &= ~HF2_NMI_MASK comes after ' +
  'helper_ret_protected() returns; a fault in it (here #GP(0) for a null CS) leaves through raise_exception first';
const MSR_QEMU =
  QEMU_MISC + ' helper_wrmsr()/helper_rdmsr(): an index without a case falls to "default: ... /* XXX: exception? */" ' +
  '(RDMSR returns 0); the implemented cases store the value without reserved-bit or canonical checks';
const MSR_WHY = 'QEMU TCG raises #GP on no WRMSR/RDMSR outside a few MSRs; the SDM requires #GP(0).';
const CR0_SDM =
  'Intel SDM Vol. 2B "MOV—Move to/from Control Registers", Protected/64-Bit Mode Exceptions: #GP(0) for a 1 in ' +
  'CR0[63:32], PG = 1 with PE = 0, NW = 1 with CD = 0, clearing PG in 64-bit mode; reserved bits 31:0 of CR0 ' +
  '"remain clear after any load ... attempts to set them have no impact"';
const CR0_QEMU =
  QEMU_MISC + ' helper_write_crN() case 0 and target/i386/helper.c cpu_x86_update_cr0(): the value is stored ' +
  'as written, with no #GP checks and no masking of reserved bits';

const GD_SDM =
  'Intel SDM Vol. 3B §18.2.4 "Debug Control Register (DR7)", GD flag, and §18.3.1.3 "General-Detect Exception ' +
  'Condition": a debug-register access with GD = 1 is a fault-class #DB with DR6.BD = 1, and GD is cleared';
const GD_QEMU = 'QEMU 7.2 target/i386/tcg/sysemu/bpt_helper.c helper_get_dr()/helper_set_dr(): no general-detect check';
const GD_WHY = 'QEMU does not implement general detect: the access completes and GD stays set.';
const INTDPL_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c do_interrupt64(): the IDT-limit, gate-type and ' +
  'gate-DPL checks raise #GP with intno * 16 + 2 (later QEMU uses intno * 8 + 2)';
const INTDPL_SDM =
  'Intel SDM Vol. 3A §6.13 "Error Code" and Vol. 2 INT n "Operation" (IA-32e mode: gate DPL < CPL ' +
  '-> #GP(error_code(vector_number,1,0))): the selector-index field (bits 15:3) holds the vector, IDT = 1';
const IRET_SS_NP_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ret_protected(): a not-present SS raises ' +
  'EXCP0B_NOSEG (#NP) with the SS selector';
const IRET_RIP_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ret_protected(): no canonical check of the popped RIP; ' +
  'the IRETQ completes and the instruction fetch at CPL 3 faults (#GP(0) with CS 0x33)';

const INT1_SDM =
  'Intel SDM Vol. 2 INT n/INTO/INT3/INT1 "Description": INT1 (F1) generates a #DB trap, without the gate-DPL check ' +
  '(Vol. 3A §6.15 Interrupt 1: a trap; the saved RIP is that of the next instruction)';
const INT1_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c disas_insn(): case 0xf1 (icebp) is compiled only under WANT_ICEBP, ' +
  'which is not defined, so F1 is an illegal opcode (#UD)';
const NONCANON_SS_SDM =
  'Intel SDM Vol. 3A §6.15 Interrupt 12 and Vol. 1 §3.3.7.1: a non-canonical address in a reference ' +
  'that uses RSP or RBP as base register raises #SS(0), not #GP(0)';
const NONCANON_QEMU =
  'QEMU 7.2 target/i386/tcg/sysemu/excp_helper.c get_physical_address(): a non-canonical linear address ' +
  'raises EXCP0D_GPF with error code 0 whatever the segment register';
const TS_EXT_SDM =
  'Intel SDM Vol. 2 INT n "Operation" (IA-32e mode: IF (TSSstackAddress + 7) > current TSS limit THEN ' +
  '#TS(error_code(current TSS selector,0,EXT))) and Vol. 3A §6.13: EXT = 1 while delivering an exception';
const TS_EXT_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c get_rsp_from_tss(): raises EXCP0A_TSS with env->tr.selector & 0xfffc, ' +
  'never the EXT bit';
const AC_QEMU =
  'QEMU 7.2 target/i386/tcg: data accesses are not checked for alignment with CR0.AM and RFLAGS.AC ' +
  '(EXCP11_ALGN is never raised for them)';

const EXT_SDM =
  'Intel SDM Vol. 3A §6.13 "Error Code", EXT (bit 0): set when the exception occurred during delivery of an event ' +
  'external to the program, such as an earlier exception; Vol. 2 INT n "Operation": #NP(error_code(vector_number,1,EXT)), ' +
  '#GP(error_code(new code-segment selector,0,EXT))';
const EXT_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c do_interrupt64(): gate and code-segment checks raise their error code ' +
  'without the EXT bit (and the gate-present check with intno * 16 + 2)';
const LAR_SDM =
  'Intel SDM Vol. 2A LAR, Table "Segment and Gate Types" (IA-32e mode column) and Vol. 3A §5.10.1: in 64-bit ' +
  'and compatibility mode LAR accepts, of the system types, only the 64-bit TSS (9, B) and call gate (C); types ' +
  '1-5 (16-bit TSS, LDT, 16-bit call gate, task gate) clear ZF and leave the destination unchanged';
const LSL_SDM =
  'Intel SDM Vol. 2A LSL, Table "Segment and Gate Types" (IA-32e mode column) and Vol. 3A §5.10.3: in IA-32e mode ' +
  'LSL accepts only the LDT (2) and the 64-bit TSS (9, B) of the system types; 16-bit TSS types 1 and 3 clear ZF';
const LARLSL_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_lar() / helper_lsl(): one switch over the system type (LAR: 1, 2, 3, ' +
  '4, 5, 9, 11, 12; LSL: 1, 2, 3, 9, 11) whatever the mode; HF_LMA is not consulted';
const LAR_APM =
  'AMD APM Vol. 3 LAR, long-mode column of its descriptor-type table (the Vol. 3 text was not available here); ' +
  'Vol. 2 §4.8.3 "System Descriptors", Table 4-6, and §4.13.2 "Long Mode Type Check Differences": in long mode the ' +
  'LDT (2), the 64-bit TSS (9, B) and the 64-bit call gate (C) are the valid system types, while types 1, 3 (16-bit ' +
  'TSS), 4 (16-bit call gate) and 5 (task gate) are illegal -- so LAR clears ZF for them and leaves the destination ' +
  'unchanged (that LAR, unlike Intel\'s, accepts the LDT rests on Table 4-6, not on the Vol. 3 table)';
const LARLSL_WHY = 'QEMU applies the protected-mode type table in IA-32e mode as well.';
const TABLE_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c disas_insn(), 0F 01 /2 (lgdt) and /3 (lidt): the base is loaded with ' +
  'gen_op_ld_v() and stored into env->gdt.base / env->idt.base with no canonical check';

const NULL_SS_SDM =
  'Intel SDM Vol. 2B MOV and Vol. 2A LSS "64-Bit Mode Exceptions": #GP(0) if an attempt is made to load SS with a ' +
  'NULL selector when CPL < 3 and CPL != RPL';
const NULL_SS_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_load_seg(): the null-selector case raises #GP(0) for SS only when ' +
  'not in 64-bit code or at CPL 3; the RPL is not compared with CPL';
const NULL_SS_WHY = 'QEMU loads a null SS with RPL 3 at CPL 0 in 64-bit mode; the SDM requires RPL = CPL.';
const FSBASE_SDM =
  'Intel SDM Vol. 2B WRMSR "Protected Mode Exceptions" and Vol. 4 IA32_FS_BASE: #GP(0) if the source register ' +
  'contains a non-canonical address for an MSR holding a linear address (FS_BASE, GS_BASE, ...)';
const FSBASE_QEMU =
  'QEMU 7.2 target/i386/tcg/sysemu/misc_helper.c helper_wrmsr(): case MSR_FSBASE stores the value into ' +
  'env->segs[R_FS].base with no canonical check';

const FAR_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ljmp_protected() / helper_lcall_protected(): for a code-segment ' +
  'target, L and D are checked only on the call-gate path, and CS is loaded with cpu_x86_load_seg_cache() ' +
  'without writing the accessed bit back to the descriptor';
const LD_SDM =
  'Intel SDM Vol. 2A JMP/CALL "Operation" (CONFORMING-/NONCONFORMING-CODE-SEGMENT): IF L-bit = 1 and D-bit = 1 ' +
  'and IA32_EFER.LMA = 1 THEN #GP(new code segment selector); Vol. 3A §5.2.1 (L = D = 1 is reserved)';

const WRFSBASE_SDM =
  'Intel SDM Vol. 2B WRFSBASE/WRGSBASE "64-Bit Mode Exceptions": #GP(0) if the source register contains a ' +
  'non-canonical address';
const WRFSBASE_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c disas_insn(), F3 0F AE /2 (wrfsbase): after the CR4.FSGSBASE test the ' +
  'register is stored into env->segs[R_FS].base with no canonical check';
const SS_SDM =
  'Intel SDM Vol. 3A §6.15 "Interrupt 12—Stack Fault Exception (#SS)": in 64-bit mode #SS(0) for a ' +
  'non-canonical address in a memory reference that uses SS (explicitly, or by default with RSP or RBP ' +
  'as the base register); Vol. 1 §3.3.7.1';
const SS_QEMU =
  'QEMU 7.2 target/i386/tcg/sysemu/excp_helper.c get_physical_address(): the sign-extension test of a ' +
  'long-mode linear address (bit 47, or 56 with LA57) raises EXCP0D_GPF whatever the segment';
const SS_WHY = 'QEMU checks canonicality in its page walk, where the segment is unknown: always #GP(0).';

const SMAP_IMPLICIT_SDM =
  'Intel SDM Vol. 3A §4.6.1 "Determination of Access Rights": with CR4.SMAP = 1, data may not be read ' +
  'from a user-mode address by an implicit supervisor-mode access (descriptor tables ...), whatever EFLAGS.AC';
const SMAP_IMPLICIT_QEMU =
  'QEMU 7.2 target/i386/cpu.h cpu_mmu_index_kernel(): implicit ("kernel") accesses at CPL < 3 with ' +
  'EFLAGS.AC = 1 use MMU_KNOSMAP_IDX, so the page walk (excp_helper.c mmu_translate(), is_mmu_index_smap) ' +
  'does not apply SMAP to them';
const AC_SDM =
  'Intel SDM Vol. 3A §6.15 "Interrupt 17—Alignment Check Exception (#AC)" and §2.5 (CR0.AM): with CR0.AM = 1, ' +
  'RFLAGS.AC = 1 and CPL 3, an unaligned data access raises #AC(0) (error code 0); CR4.SMAP gives AC its ' +
  'SMAP meaning only at CPL < 3';
const AC_ALIGN_QEMU =
  'QEMU 7.2 target/i386/cpu.h: EXCP11_ALGN is defined but raised nowhere under target/i386, and EFLAGS.AC ' +
  'is read only by cpu_mmu_index()/cpu_mmu_index_kernel() to choose the SMAP MMU index; TCG data accesses ' +
  '(target/i386/tcg/translate.c gen_op_ld_v/gen_op_st_v) are issued without an alignment requirement';
const AC_WHY = 'A missing feature: QEMU TCG has no alignment-check exception; the misaligned read completes.';
const SMAP_IMPLICIT_WHY = 'QEMU lets RFLAGS.AC = 1 exempt implicit supervisor accesses from SMAP; the SDM exempts only explicit ones.';

const INVPCID_SDM =
  'Intel SDM Vol. 2 INVPCID and Vol. 3A §4.10.4.1: INVPCID types 0-3 invalidate as described, with #GP(0) ' +
  'for type > 3, descriptor bits 63:12 set, a non-canonical type-0 address or memory operand, and a ' +
  'type-0/1 PCID other than 0 while CR4.PCIDE = 0 (Ringside enumerates INVPCID, CPUID.(EAX=07H,ECX=0):EBX[10])';
const INVPCID_QEMU =
  'QEMU 7.2 target/i386/cpu.c TCG_7_0_EBX_FEATURES: CPUID_7_0_EBX_INVPCID is listed as missing, so ' +
  '-cpu max does not enumerate INVPCID and the instruction raises #UD';
const PCID_SDM =
  'Intel SDM Vol. 3A §4.10.1 "Process-Context Identifiers" and Vol. 2 MOV (Control Registers): with ' +
  'CPUID.01H:ECX.PCID[17] = 1 (Ringside enumerates it), CR4.PCIDE can be set only with CR3[11:0] = 0 ' +
  '(#GP(0)), CR3[11:0] is the PCID, bit 63 of a MOV to CR3 source is not stored';
const PCID_QEMU =
  'QEMU 7.2 target/i386/cpu.c TCG_EXT_FEATURES lacks CPUID_EXT_PCID, so -cpu max does not enumerate PCID ' +
  '(its MOV to CR4/CR3 helpers in target/i386/tcg/sysemu/misc_helper.c then neither check CR3[11:0] nor ' +
  'strip bit 63); the guest runs the PCID cases only where PCID is enumerated';
const PCID_WHY = 'A missing feature: QEMU TCG does not enumerate PCID.';
const INVPCID_WHY = 'A missing feature: QEMU TCG does not implement INVPCID; the guest accepts #UD when CPUID does not enumerate it.';

const PDPTE_SDM = 'Intel SDM Vol. 3A §4.4.1 "PDPTE Registers"';
const PDPTE_QEMU =
  'QEMU 7.2 target/i386/tcg/sysemu/excp_helper.c mmu_translate(): PAE paging ("Page table level 3", restart_3_nolma) ' +
  'reads the PDPTE from memory at (cr3 & ~0x1f) + ((addr >> 27) & 0x18) on every walk and checks bits 63:MAXPHYADDR ' +
  'there (a #PF with RSVD; bits 2:1 and 8:5 not at all); TCG keeps no PDPTE registers';
const PDPTE_WHY = 'QEMU TCG does not model the PDPTE registers of PAE paging.';

const SYSEXIT_SDM =
  'Intel SDM Vol. 2B SYSEXIT, "64-Bit Mode Exceptions": #GP(0) if RCX or RDX contains a non-canonical address ' +
  '(a REX.W SYSEXIT to 64-bit mode; raised at CPL 0 before anything changes)';
const SYSEXIT_QEMU =
  'QEMU 7.2 target/i386/tcg/seg_helper.c helper_sysexit(): for dflag == 2 it loads CS/SS and sets ' +
  'ESP = ECX (RCX), EIP = EDX (RDX) with no canonical check; only sysenter_cs == 0 and CPL != 0 raise #GP';
const SYSEXIT_WHY = 'QEMU completes the return to CPL 3 with a non-canonical RSP; hardware raises #GP(0) at CPL 0.';
const RDPID_SDM =
  'Intel SDM Vol. 2B RDPID and CPUID.(EAX=07H,ECX=0):ECX[22] (Ringside enumerates RDPID): RDPID reads IA32_TSC_AUX ' +
  'into r64 in 64-bit mode at any CPL';
const RDPID_QEMU =
  'QEMU 7.2 target/i386/cpu.c TCG_7_0_ECX_FEATURES: CPUID_7_0_ECX_RDPID is not in the TCG feature set, so ' +
  '-cpu max does not enumerate RDPID (the guest runs RDPID only where CPUID enumerates it)';

/** The fault-frame RF line of a paging guest (all its faults are fault-class). */
const rfEntry = (guest: string, what: string): QemuDeviation => ({
  guest, vendors: BOTH, line: /\.rf$/, sdmSection: RF_SDM + '; ' + APM_RF, sdmValue: '1', qemuValue: '0', qemuSource: RF_QEMU, why: RF_WHY + ` Here: ${what}.`,
});

const GATE_QEMU = 'QEMU 7.2 target/i386/tcg/seg_helper.c';
const GATE_CONF_SDM =
  'Intel SDM Vol. 2 CALL "Operation", SAME-PRIVILEGE (a call gate to a conforming segment, or one with DPL = CPL): ' +
  '"CS(RPL) <- CPL"; Vol. 3A §5.8.1.2: a conforming segment runs at the caller\'s CPL';
const RETF_SS_NP_SDM =
  'Intel SDM Vol. 2 RET "Operation", IA-32E-MODE-RETURN-TO-OUTER-PRIVILEGE-LEVEL: "IF stack segment not present ' +
  'THEN #SS(StackSegmentSelector)"';
const RETF_RIP_SDM =
  'Intel SDM Vol. 2 RET "Operation", IA-32E-MODE-RETURN-TO-OUTER-PRIVILEGE-LEVEL: "IF tempRIP is non-canonical ' +
  'THEN #GP(0)" -- checked before CPL changes, so the #GP is the RET\'s, at CPL 0';
const RETF_RIP_QEMU =
  GATE_QEMU + ' helper_ret_protected() (helper_lret_protected): no canonical check of the popped RIP; the LRETQ ' +
  'completes and the instruction fetch at CPL 3 faults (#GP(0) with CS 0x33)';
const SYSENTER_AMD_APM = 'AMD APM Vol. 3 SYSENTER (page not available here) and Vol. 2 §8.2, #UD (as quoted by ' +
  'rust-osdev/x86_64 src/structures/idt.rs: "Execution of the SYSENTER or SYSEXIT instructions in long mode"; Bochs ' +
  'marks both "not recognized in long mode"): #UD in long mode, 64-bit and compatibility mode alike';
const SYSENTER_AMD_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c disas_insn() case 0x134 (sysenter): non-Intel vendors get #UD only ' +
  'under CODE64(s), so SYSENTER from compatibility mode runs helper_sysenter() (later QEMU tests LMA(s))';
const SYSENTER_AMD_WHY = 'QEMU runs SYSENTER from compatibility mode on AMD models; AMD raises #UD in long mode.';

// Where AMD's APM states the rule an entry's SDM text states, for the entries that apply to the AMD
// model too (QEMU's code path is the same for both vendors, and Ringside's amd flavour prints the
// same value). Vol. 2 section numbers and titles were checked against a recent revision of the APM
// Vol. 2 text (one with NullSelectorClearsBase and 5-level paging); chapter 8 was read only through
// quotations in other projects (named where used). The Vol. 3 instruction pages were not available
// here: a "Vol. 3 <instruction>" citation names the page where AMD states the rule, and where no
// Vol. 2 text confirms the rule the entry says so and names the evidence the AMD value rests on
// (docs/architecture.md, "The QEMU oracle under both vendor models").
const BOTH: readonly Vendor[] = ['intel', 'amd'];
/** For rules only the SDM and the (unread) Vol. 3 page state. */
const APM_NOT_READ = 'the APM text was not available here; AMD behaviour taken from the SDM rule cited, no AMD source found';
const APM_RF =
  'AMD APM Vol. 2 §3.1.6 "RFLAGS Register", Resume Flag: when an exception occurs the processor normally sets RF = 1 ' +
  'in the rFLAGS image saved on the interrupt stack (cleared only for an instruction-breakpoint #DB)';
const APM_PF_ERR =
  'AMD APM Vol. 2 §5.4.1 "Field Definitions", Reserved Bits: a 1 in a reserved bit of a page-translation-table entry ' +
  'raises #PF in long mode and with PAE paging; §8.4.2 "Page-Fault Error Code" (number and bit meanings as quoted by ' +
  'rust-osdev/x86_64 src/structures/idt.rs): RSV = 1 when the processor read a 1 from a reserved field, P = 1 for ' +
  'any fault other than a not-present page';
const APM_PCID =
  'AMD APM Vol. 2 §5.5.1 "Process Context Identifier": the current PCID is CR3[11:0]; setting CR4.PCIDE with ' +
  'EFER.LMA = 0 or CR3[11:0] != 0 raises #GP';
const APM_INVPCID = 'AMD APM Vol. 2 §5.5.3 "TLB Management" names INVPCID and refers to its Vol. 3 page for the ' +
  'invalidation types and #GP(0) conditions: ' + APM_NOT_READ;
const APM_SMAP = 'AMD APM Vol. 2 §5.6.6 "Supervisor-Mode Access Prevention (CR4.SMAP) Bit": implicit supervisor-mode ' +
  'accesses are subject to the SMAP check regardless of RFLAGS.AC';
const APM_AC = 'AMD APM Vol. 2 §3.1.1 "CR0 Register" (AM) and §3.1.6 "RFLAGS Register" (AC): with CR0.AM = 1 and ' +
  'rFLAGS.AC = 1 an unaligned reference at CPL 3 raises #AC; §8.2 "#AC—Alignment-Check Exception (Vector 17)": ' +
  'error code 0 (as quoted by rust-osdev/x86_64 src/structures/idt.rs)';
const APM_SS = 'AMD APM Vol. 2 §5.3.1 "Canonical Address Form": a non-canonical reference raises #GP or #SS as ' +
  'appropriate; §8.2 "#SS—Stack Exception (Vector 12)": an implied stack reference with a non-canonical address, ' +
  'error code 0 (as quoted by rust-osdev/x86_64 src/structures/idt.rs)';
const APM_SEG = 'AMD APM Vol. 2 §4.12 "Limit Checks" (#GP, #SS for the stack segment; not made in 64-bit mode) and ' +
  '§4.13 "Type Checks"; §4.5.1 "Segment Selectors", Null Selector: a reference through a segment register holding a ' +
  'null selector outside 64-bit mode raises #GP';
const APM_SELECTOR_ERR = 'AMD APM Vol. 2 §8.4.1 "Selector-Error Code" (number and bits as quoted by other projects: ' +
  'a kernel citing "AMD Vol. 2, Section 8.4.1", and a Rust crate quoting 24593): IDT = 1 when the selector index ' +
  '(bits 15:3) names a gate in the IDT; EXT = 1 when the exception source is external to the processor';
const APM_MOV_CR = 'AMD APM Vol. 2 §3.1.1 "CR0 Register": bits 63:32 must be written with zero in long mode (#GP), ' +
  'setting PG with PE = 0 raises #GP, reserved bits are to be written as read; for NW = 1 with CD = 0 (which §3.1.1 ' +
  'calls ignored), clearing PG in long mode and CR8[63:4] the Vol. 3 MOV CRn page was not available here: AMD ' +
  'behaviour taken from the SDM and from Linux KVM\'s vendor-independent CR0 checks (arch/x86/kvm/x86.c ' +
  'kvm_is_valid_cr0: NW without CD, PG without PE)';
const APM_DR = 'AMD APM Vol. 2 §13.1.1 "Debug Registers": DR6 bit 12 is reserved and must be 0; DR7.GD makes a ' +
  'MOV DRn raise #DB before the instruction executes, with DR6.BD = 1, and GD is cleared when the #DB handler is entered';
const APM_MSR = 'AMD APM Vol. 3 RDMSR/WRMSR (#GP(0) for an unimplemented MSR or a reserved bit: ' + APM_NOT_READ + '); ' +
  'Vol. 2 §3.1.7 "Extended Feature Enable Register (EFER)" (#GP(0) for enabling an unsupported feature), §4.5.3 ' +
  '"Segment Registers in 64-Bit Mode" (FS.base, GS.base must be canonical, #GP); for LME while paging is on, the PAT ' +
  'types (§7.8 "Page-Attribute Table Mechanism") and the APIC base (§16.3.1 "Local APIC Enable") ' + APM_NOT_READ;
const APM_IRET = 'AMD APM Vol. 3 IRET: ' + APM_NOT_READ + '; Vol. 2 §8.2 (#SS, as quoted by rust-osdev/x86_64) has ' +
  'the #SS with the selector for a not-present stack segment';
const APM_INT = 'AMD APM Vol. 3 INT n and Vol. 2 §8.9 "Long-Mode Interrupt Control Transfers"; §4.8.4 "Gate ' +
  'Descriptors": 16-bit gates and task gates are illegal in long mode (#GP), a gate whose target is not 64-bit code ' +
  'reports the vector as error code; the error-code format is §8.4.1; for the DPL check, the #TS for the TSS limit ' +
  'and the #SS for a non-canonical new stack ' + APM_NOT_READ;
const APM_INT1 = 'AMD APM Vol. 2 §8.2, #DB (as quoted by rust-osdev/x86_64 src/structures/idt.rs): executing INT1 ' +
  '(opcode F1) raises #DB, and the instruction completes first (a trap)';
const APM_LSL = 'AMD APM Vol. 3 LSL, long-mode column of its descriptor-type table (not available here); Vol. 2 ' +
  '§4.8.3 "System Descriptors", Table 4-6, and §4.13.2 "Long Mode Type Check Differences": in long mode the 16-bit ' +
  'TSS types 1 and 3 are illegal, the LDT (2) and the 64-bit TSS (9, B) valid';
const APM_TABLES = 'AMD APM Vol. 2 §8.2, #GP (as quoted by rust-osdev/x86_64): loading a non-canonical base into ' +
  'GDTR or IDTR; for LTR of a null selector (Vol. 3 LTR) and SGDT\'s 32-bit base outside 64-bit mode ' + APM_NOT_READ;
const APM_NULL_SS = 'AMD APM Vol. 2 §4.5.1 "Segment Selectors", Null Selector: loading SS with a null selector ' +
  'outside 64-bit mode or at CPL 3 raises #GP; for the RPL = CPL condition (Vol. 3 MOV, LSS) ' + APM_NOT_READ;
const APM_FSBASE = 'AMD APM Vol. 2 §4.5.3 "Segment Registers in 64-Bit Mode", FS and GS Registers: FS.base and ' +
  'GS.base must be canonical, and any instruction writing a non-canonical address there (WRMSR, WRFSBASE, WRGSBASE) ' +
  'raises #GP';
const APM_CODE_LD = 'AMD APM Vol. 2 §4.8.1 "Code-Segment Descriptors" (long mode): L = 1 with D = 1 is reserved; ' +
  'for the #GP(selector) of a far JMP/CALL to such a segment (Vol. 3 JMP, CALL) ' + APM_NOT_READ;
const APM_ACCESSED = 'AMD APM Vol. 2 §4.7.2 "Code-Segment Descriptors" and §4.7.3 "Data-Segment Descriptors", ' +
  'Accessed bit: set when the descriptor is copied from the GDT or LDT into a segment register';
const APM_RDPID = 'AMD APM Vol. 3 RDPID (TSC_AUX into r64 at any CPL): ' + APM_NOT_READ;
const APM_GATES = 'AMD APM Vol. 3 CALL/JMP (far) and RET (far) and Vol. 2 §4.11 "Control-Transfer Privilege Checks"; ' +
  'Vol. 2 §8.2 (as quoted by rust-osdev/x86_64): #NP with the selector for a not-present segment, #SS with the ' +
  'selector for a not-present stack segment; for the canonical check of the return RIP before CPL changes and ' +
  'CS.RPL = CPL through a conforming target ' + APM_NOT_READ;

const SYSEXIT_AMD_APM = 'AMD APM Vol. 3 SYSEXIT (page not available here) and Vol. 2 §8.2, #UD (as quoted by ' +
  'rust-osdev/x86_64 src/structures/idt.rs: "Execution of the SYSENTER or SYSEXIT instructions in long mode"): #UD in ' +
  'long mode, 64-bit and compatibility mode alike';
const SYSEXIT_AMD_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c disas_insn() case 0x135 (sysexit): non-Intel vendors get #UD only under ' +
  'CODE64(s) (later QEMU tests LMA(s)); from compatibility mode seg_helper.c helper_sysexit() runs and raises #GP(0) ' +
  'because CPL != 0';
const MB_MAP_CONTRACT =
  'Ringside\'s multiboot boot contract (guests/README.md, "The boot contract"; src/hosts/native/multiboot.ts): SeaBIOS\'s six-entry ' +
  'memory map as QEMU 7.2\'s pc machine gives it, the same for both vendor flavours';
const MB_MAP_QEMU =
  'QEMU 7.2 hw/i386/pc.c pc_memory_init(): for an AMD vCPU (IS_AMD_CPU) with phys_bits >= 40 it adds ' +
  'e820_add_entry(AMD_HT_START = 0xfd00000000, AMD_HT_SIZE = 0x300000000, E820_RESERVED), the HyperTransport hole; ' +
  'SeaBIOS copies QEMU\'s e820 table (fw_cfg etc/e820) into the map the multiboot loader hands over';
const MB_MAP_WHY =
  'QEMU\'s machine depends on the CPU vendor; Ringside\'s platform does not (it models no HyperTransport hole).';

const BPT_QEMU = 'QEMU 7.2 target/i386/tcg/sysemu/bpt_helper.c breakpoint_handler()';
const APM_DEBUG = 'AMD APM Vol. 2 §13.1 "Software-Debug Resources" (data breakpoints are traps after the ' +
  'instruction; rFLAGS.RF and the MOV SS / POP SS interrupt shadow as in the SDM): ' + APM_NOT_READ;
const REP_SDM =
  'Intel SDM Vol. 3B §18.3.1.2 "Data Memory and I/O Breakpoint Exception Conditions" (with repeated string ' +
  'instructions the trap follows the iteration that accessed the breakpoint location) and §18.3.1.1: "For any ' +
  'trap-class exception generated by any iteration of a repeated string instruction but the last iteration, the ' +
  'value pushed for RF is 1"; after the last iteration the instruction has completed';
const REP_QEMU =
  'QEMU 7.2 target/i386/tcg/translate.c gen_repz(): every iteration ends by jumping back to the REP instruction ' +
  'itself (the next pass finds rCX = 0 and goes on); ' + BPT_QEMU + ' raises the #DB with that RIP, and ' +
  'seg_helper.c do_interrupt64() pushes RFLAGS without setting RF';
const MOVSS_DB_SDM =
  'Intel SDM Vol. 3A §6.8.3 "Masking Exceptions and Interrupts When Switching Stacks": after MOV SS the processor ' +
  'inhibits debug exceptions until the boundary after the next instruction; a data breakpoint met by the MOV SS ' +
  'is reported then (the CVE-2018-8897 case when the next instruction is SYSCALL)';
const MOVSS_DB_QEMU =
  BPT_QEMU + ': a watchpoint hit raises EXCP01_DB as soon as the instruction that hit it is re-executed, ' +
  'whatever the MOV SS shadow (which QEMU applies to interrupts only)';
const EXEC_MOVSS_SDM =
  'Intel SDM Vol. 3B §18.3.1.1 "Instruction-Breakpoint Exception Condition": "if a code instruction breakpoint is ' +
  'placed on an instruction located immediately after a POP SS/MOV SS instruction, the breakpoint may not be ' +
  'triggered. In most situations, POP SS/MOV SS will inhibit such interrupts"; Vol. 2 MOV: loading SS "suppresses ' +
  'or inhibits some debug exceptions" (kvm-unit-tests x86/emulator.c test_mov_pop_ss_code_db expects none on Intel ' +
  'hardware)';
const EXEC_MOVSS_QEMU =
  'QEMU 7.2 accel/tcg/cpu-exec.c check_for_breakpoints(): an instruction breakpoint (cpu_breakpoint_insert in ' +
  'bpt_helper.c) matches at its PC unless RF = 1 (the target\'s debug_check_breakpoint hook); the MOV SS inhibit ' +
  'flag is not consulted, and ' + BPT_QEMU + ' raises the #DB';
const TF_DATA_SDM =
  'Intel SDM Vol. 3B §18.3.1 and §18.2.3: the single-step and data-breakpoint conditions of one instruction are ' +
  'reported by one #DB, DR6 showing BS and Bn';
const TF_DATA_QEMU =
  BPT_QEMU + ' and helper_single_step(): the watchpoint hit and the single-step trap are raised separately, so ' +
  'the guest sees two #DBs, the first with BS and B1 at an address outside the stepped code';

export const QEMU_DEVIATIONS: QemuDeviation[] = [
  {
    guest: 'apic-timer',
    line: /^tscdeadline\.count$/,
    sdmSection: 'Intel SDM Vol. 3A §11.5.4.1 "TSC-Deadline Mode" (enumerated by CPUID.1:ECX[24]); AMD APM: the same CPUID bit, which Ringside sets for both flavours',
    sdmValue: '1',
    qemuValue: null,
    qemuSource: 'QEMU 7.2 target/i386/cpu.c: TCG_EXT_FEATURES lacks CPUID_EXT_TSC_DEADLINE_TIMER, so -cpu max under TCG does not enumerate it',
    why: 'Ringside models and enumerates the TSC-deadline timer; QEMU 7.2 TCG does not, so the guest runs (and prints) this case only on Ringside.',
    vendors: ['intel', 'amd'],
  },
  {
    guest: 'apic-timer',
    line: /^tscdeadline\.msr_after$/,
    sdmSection: 'Intel SDM Vol. 3A §11.5.4.1 "TSC-Deadline Mode" (enumerated by CPUID.1:ECX[24]); AMD APM: the same CPUID bit, which Ringside sets for both flavours',
    sdmValue: '0x0',
    qemuValue: null,
    qemuSource: 'QEMU 7.2 target/i386/cpu.c: TCG_EXT_FEATURES lacks CPUID_EXT_TSC_DEADLINE_TIMER, so -cpu max under TCG does not enumerate it',
    why: 'Ringside models and enumerates the TSC-deadline timer; QEMU 7.2 TCG does not, so the guest runs (and prints) this case only on Ringside.',
    vendors: ['intel', 'amd'],
  },
  ...([[/^rsvd\..*\.(read|exec_nxe0)\.error_code$/, '0x9', '0x8', 'a read (or a fetch with NXE = 0 and SMEP = 0): P|RSVD'],
    [/^rsvd\..*\.write\.error_code$/, '0xb', '0xa', 'a write: P|W|RSVD'],
    [/^rsvd\..*\.exec_nxe1\.error_code$/, '0x19', '0x18', 'a fetch with NXE = 1: P|RSVD|I']] as const)
    .map(([line, sdmValue, qemuValue, what]): QemuDeviation => ({
      guest: 'pf-bits',
      line,
      vendors: BOTH,
      sdmSection: RSVD_SDM + '; the reserved bits of each entry format (§4.5.4)' + '; ' + APM_PF_ERR,
      sdmValue,
      qemuValue,
      qemuSource: RSVD_QEMU,
      why: RSVD_WHY + ` Here: ${what}.`,
    })),
  {
    guest: 'compiled-code',
    line: /^nxe\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; bit 63 (XD) of a PTE is reserved while IA32_EFER.NXE = 0 (§4.5.4)' + '; ' + APM_PF_ERR,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Here: a read through a PTE with XD set, the first after a hot loop cleared EFER.NXE: P|RSVD.',
  },
  ...([['enumerated', '1', '0'], ['gp\\.', '#GP(0)', 'not enumerated'], ['ok\\.', 'none', 'not enumerated'],
    ['flush\\.', 'page B', 'not enumerated'], ['check\\.', 'yes', 'not enumerated']] as const)
    .map(([what, sdmValue, qemuValue]): QemuDeviation => ({
      guest: 'tlb',
      line: new RegExp(`^pcid\\.${what}`),
      vendors: BOTH,
      sdmSection: PCID_SDM + '; ' + APM_PCID,
      sdmValue,
      qemuValue,
      qemuSource: PCID_QEMU,
      why: PCID_WHY,
    })),
  ...([['enumerated', '1', '0'], ['gp\\.', '#GP(0)', '#UD'], ['ok\\.', 'none', '#UD'], ['flush\\.', 'page B', '#UD']] as const)
    .map(([what, sdmValue, qemuValue]): QemuDeviation => ({
      guest: 'tlb',
      line: new RegExp(`^invpcid\\.${what}`),
      vendors: BOTH,
      sdmSection: INVPCID_SDM + '; ' + APM_INVPCID,
      sdmValue,
      qemuValue,
      qemuSource: INVPCID_QEMU,
      why: INVPCID_WHY,
    })),
  ...(['vector', 'error_code', 'cr2', 'rip'] as const).map((field, k): QemuDeviation => ({
    guest: 'smep-smap',
    line: new RegExp(`^smap1\\.implicit_gdt\\.ac1\\.${field}$`),
    vendors: BOTH,
    sdmSection: SMAP_IMPLICIT_SDM + '; ' + APM_SMAP,
    sdmValue: ['14', '0x1', 'page+0x0', 'label+0x0'][k],
    qemuValue: 'none',
    qemuSource: SMAP_IMPLICIT_QEMU,
    why: SMAP_IMPLICIT_WHY + ' Here: MOV to DS of a selector whose GDT entry is on a user page, with AC = 1 (STAC).',
  })),
  rfEntry('la57', '#PF, #GP and #SS'),
  rfEntry('pf-user', '#PF from CPL 3'),
  ...(['vector', 'error_code', 'rip', 'cs'] as const).map((field, k): QemuDeviation => ({
    guest: 'smep-smap',
    line: new RegExp(`^user\\.am1\\.popf_ac\\.misaligned\\.${field}$`),
    vendors: BOTH,
    sdmSection: AC_SDM + '; ' + APM_AC,
    sdmValue: ['17', '0x0', 'label+0x0', '0x33'][k],
    qemuValue: 'none',
    qemuSource: AC_ALIGN_QEMU,
    why: AC_WHY + ' Here: CR0.AM = 1, CR4.SMAP = 1, AC set by POPF at CPL 3, an 8-byte read at an odd address.',
  })),
  ...([[/^rsvd\.xd_nxe0\.read\.error_code$/, '0xd', '0xc', 'a user read through a PTE with XD set while EFER.NXE = 0: P|RSVD|U'],
    [/^rsvd\.xd_nxe0\.write\.error_code$/, '0xf', '0xe', 'a user write through a PTE with XD set while EFER.NXE = 0: P|W|RSVD|U']] as const)
    .map(([line, sdmValue, qemuValue, what]): QemuDeviation => ({
      guest: 'pf-user',
      line,
      vendors: BOTH,
      sdmSection: RSVD_SDM + '; ' + APM_PF_ERR,
      sdmValue,
      qemuValue,
      qemuSource: RSVD_QEMU + '; U/S is or-ed in afterwards for a user access (do_fault_cont)',
      why: RSVD_WHY + ` Here: ${what}.`,
    })),
  {
    guest: 'la57',
    line: /^rsvd\.pml5_ps\.read\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; PS is reserved in a PML5E (§4.5.4)' + '; ' + APM_PF_ERR,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PML5E with PS=1: P|RSVD.',
  },
  {
    guest: 'la57',
    line: /^noncanonical\.rbp\.read\.fault$/,
    vendors: BOTH,
    sdmSection: SS_SDM + '; ' + APM_SS,
    sdmValue: '#SS',
    qemuValue: '#GP',
    qemuSource: SS_QEMU,
    why: SS_WHY + ' Here: a read with RBP as the base register at 0x0100000000000000 under LA57.',
  },
  {
    guest: 'la57',
    line: /^noncanonical\.rbp\.read\.vector$/,
    vendors: BOTH,
    sdmSection: SS_SDM + '; ' + APM_SS,
    sdmValue: '12',
    qemuValue: '13',
    qemuSource: SS_QEMU,
    why: SS_WHY + ' Here: a read with RBP as the base register at 0x0100000000000000 under LA57.',
  },
  {
    guest: 'seg-limits',
    line: /^bad\..*\.completed$/,
    vendors: BOTH,
    sdmSection: SEG_SDM + '; ' + APM_SEG,
    sdmValue: '0',
    qemuValue: '1',
    qemuSource: SEG_QEMU,
    why: SEG_WHY,
  },
  {
    guest: 'seg-limits',
    line: /^bad\.(read|write|rmw)_.*\.vector$/,
    vendors: BOTH,
    sdmSection: SEG_SDM + '; ' + APM_SEG,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: #GP(0).',
  },
  {
    guest: 'seg-limits',
    line: /^bad\.push\..*\.vector$/,
    vendors: BOTH,
    sdmSection: SEG_SDM + '; ' + APM_SEG,
    sdmValue: '12',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: #SS(0) for a push past the stack segment\'s limit.',
  },
  {
    guest: 'seg-limits',
    line: /^readonly\.byte_after$/,
    vendors: BOTH,
    sdmSection: SEG_SDM + '; ' + APM_SEG,
    sdmValue: '0x77',
    qemuValue: '0x5b',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: the faulting store and read-modify-write through a read-only segment change memory on QEMU.',
  },
  {
    guest: 'pf-errcode',
    line: /\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #PF.',
  },
  {
    guest: 'alu-flags',
    line: /\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #DE from DIV/IDIV.',
  },
  {
    guest: 'legacy32',
    line: /\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #BR from BOUND in compatibility mode.',
  },
  {
    guest: 'exceptions',
    line: /^(ud\.ud2|gp\.[a-z_]+)\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #UD and #GP (bp.int3 is a trap: RF stays 0 on both).',
  },
  {
    guest: 'exceptions',
    line: /^gp\.int_beyond_idt\.error_code$/,
    vendors: BOTH,
    sdmSection:
      'Intel SDM Vol. 3A §6.13 "Error Code": the selector index field (bits 15:3) holds the ' +
      'IDT vector and bit 1 (IDT) is set, so INT 0x21 beyond the IDT limit gives 0x21*8+2' + '; ' + APM_SELECTOR_ERR,
    sdmValue: '0x10a',
    qemuValue: '0x212',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/seg_helper.c do_interrupt64(): the IDT-limit check raises ' +
      '#GP with intno * 16 + 2 (the 64-bit gate size instead of the selector-index shift)',
    why: 'QEMU scales the vector by the 16-byte gate size; the error code format scales it by 8.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.xd_nxe0\.read\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; ' + APM_PF_ERR,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PTE with XD set while EFER.NXE=0: P|RSVD.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.xd_nxe0\.write\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; ' + APM_PF_ERR,
    sdmValue: '0xb',
    qemuValue: '0xa',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Write through a PTE with XD set while EFER.NXE=0: P|W|RSVD.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.xd_nxe0\.exec\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; ' + APM_PF_ERR,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Fetch through a PTE with XD set while EFER.NXE=0: P|RSVD, and I/D=0 because NXE=0 and SMEP=0.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.pml4_ps\.read\.error_code$/,
    vendors: BOTH,
    sdmSection: RSVD_SDM + '; PS is reserved in a PML4E (§4.5.4)' + '; ' + APM_PF_ERR,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PML4E with PS=1: P|RSVD.',
  },
  {
    guest: 'control-regs',
    line: /^cr0\.(bit32|nw_without_cd)$/,
    vendors: BOTH,
    sdmSection: CR0_SDM + '; ' + APM_MOV_CR,
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: CR0_QEMU,
    why: 'QEMU TCG checks no operand of MOV to CR0; the write takes effect (the guest restores CR0 at once).',
  },
  {
    guest: 'control-regs',
    line: /^cr0\.(pg_without_pe|clear_pg_in_long_mode)$/,
    vendors: BOTH,
    sdmSection: CR0_SDM + '; ' + APM_MOV_CR,
    sdmValue: '#GP(0x0)',
    qemuValue: 'skipped (MOV CR0 does not check its operand)',
    qemuSource: CR0_QEMU,
    why: 'QEMU cannot produce this line: without the checks these writes would leave protected or long mode, ' +
      'so the guest runs them only where cr0.bit32 faulted.',
  },
  {
    guest: 'control-regs',
    line: /^cr0\.reserved_bit6\.read$/,
    vendors: BOTH,
    sdmSection: CR0_SDM + '; ' + APM_MOV_CR,
    sdmValue: '0x80010011',
    qemuValue: '0x80010051',
    qemuSource: CR0_QEMU,
    why: 'QEMU keeps reserved CR0 bit 6 when it is written; hardware keeps it clear.',
  },
  {
    guest: 'control-regs',
    line: /^cr8\.write16$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2B "MOV—Move to/from Control Registers": #GP(0) "if an attempt is made to write a 1 to ' +
      'any reserved bit in CR8" (bits 63:4)' + '; ' + APM_MOV_CR,
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: QEMU_MISC + ' helper_write_crN() case 8: sets the APIC TPR from the value and v_tpr = t0 & 0x0f, no check',
    why: 'QEMU accepts reserved CR8 bits.',
  },
  {
    guest: 'control-regs',
    line: /^cr8\.after_fault$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2B "MOV—Move to/from Control Registers": a faulting MOV changes nothing' + '; ' + APM_MOV_CR,
    sdmValue: '0xf',
    qemuValue: '0x0',
    qemuSource: QEMU_MISC + ' helper_write_crN() case 8 / hw/intc/apic.c cpu_set_apic_tpr(): TPR = (16 & 0xf) << 4 = 0',
    why: 'On QEMU the write of 16 took effect and set the TPR to 0.',
  },
  {
    guest: 'control-regs',
    line: /^dr6\.read_bit12$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3B §18.2.3 "Debug Status Register (DR6)", Figure 18-2: bit 12 is reserved and reads as 0' + '; ' + APM_DR,
    sdmValue: '0xffff0ff0',
    qemuValue: '0xffff1ff0',
    qemuSource: 'QEMU 7.2 target/i386/tcg/sysemu/bpt_helper.c helper_set_dr(): env->dr[6] = t0 | DR6_FIXED_1 keeps bit 12',
    why: 'QEMU keeps DR6 bit 12 as written.',
  },
  {
    guest: 'control-regs',
    line: /^dr7\.gd\.access$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '#DB',
    qemuValue: 'ok',
    qemuSource: GD_QEMU,
    why: GD_WHY,
  },
  {
    guest: 'control-regs',
    line: /^dr7\.gd\.dr6$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '0xffff2ff0',
    qemuValue: '0xffff0ff0',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: DR6.BD is not set.',
  },
  {
    guest: 'control-regs',
    line: /^dr7\.gd\.dr7$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '0x400',
    qemuValue: '0x2400',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: DR7.GD stays set.',
  },
  {
    guest: 'control-regs',
    line: /^msr\.(unknown|unknown_low)\.(rdmsr|wrmsr)$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2B RDMSR/WRMSR: #GP(0) "if the value in ECX specifies a reserved or unimplemented MSR address"' + '; ' + APM_MSR,
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: MSR_QEMU,
    why: MSR_WHY,
  },
  {
    guest: 'control-regs',
    line: /^rdpmc\.(index8|fixed0)$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2B RDPMC: #GP(0) "if the value in ECX ... specifies an unsupported PMC encoding" ' +
      '(no architectural PMU: CPUID leaf 0AH not enumerated)' + '; AMD APM Vol. 3 RDPMC: #GP for an ECX beyond the implemented counters',
    sdmValue: '#GP(0x0)',
    qemuValue: '#UD',
    qemuSource: 'QEMU 7.2 target/i386/tcg/misc_helper.c helper_rdpmc(): after the CR4.PCE/CPL check, "currently unimplemented": ' +
      'raise_exception_err(env, EXCP06_ILLOP, 0) for every counter index',
    why: 'QEMU TCG does not implement RDPMC and raises #UD; hardware faults #GP(0) on a counter it does not have.',
  },
  {
    guest: 'control-regs',
    line: /^msr\.(efer\.reserved_bit1|efer\.clear_lme_paging|fs_base\.noncanonical|kernel_gs_base\.noncanonical|lstar\.noncanonical|pat\.type2|pat\.type8|apic_base\.reserved_bit0)$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2B WRMSR: #GP(0) for a 1 in a reserved bit or a non-canonical address in an address MSR; ' +
      'Vol. 3A §10.8.5 (EFER.LME cannot change while paging is on), §12.12.2 (PAT types 2, 3, 8+ reserved), ' +
      '§11.4.4 (IA32_APIC_BASE reserved bits)' + '; ' + APM_MSR,
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: MSR_QEMU + '; EFER writes are masked to the writable bits (update_mask) and applied',
    why: MSR_WHY,
  },
  {
    guest: 'control-regs',
    line: /^(mca\.mcg_cap\.wrmsr|mc\d+\.(status\.write1|addr\.write1s|misc\.write1s|ctl\.rdmsr|misc\.wrmsr))$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3B §16.3.1.1 (IA32_MCG_CAP is read-only), §16.3.2.2-16.3.2.4 (IA32_MCi_STATUS, _ADDR, ' +
      '_MISC: "writing 1s to them causes a general-protection exception"), Vol. 2B RDMSR/WRMSR (#GP(0) for an ' +
      'unimplemented MSR: a bank at or beyond IA32_MCG_CAP.Count); AMD APM Vol. 2 ch. 9 "Machine Check Mechanism": ' +
      APM_NOT_READ,
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: MSR_QEMU + '; the bank MSRs below 0x400 + 4 * Count store any value but MCi_CTL\'s (below), MCG_CAP ' +
      'has no WRMSR case',
    why: MSR_WHY,
  },
  {
    guest: 'control-regs',
    line: /^mc\d+\.ctl\.read$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3B §16.3.2.1: each of the 64 EEj flags of IA32_MCi_CTL enables one error; the ' +
      'processor drops writes only to bits it does not implement (Ringside implements all 64; the all-0s/all-1s rule ' +
      'is the P6 family\'s); AMD APM Vol. 2 ch. 9: ' + APM_NOT_READ,
    sdmValue: '0xaaaaaaaaaaaaaaaa',
    qemuValue: '0xffffffffffffffff',
    qemuSource: 'QEMU 7.2 target/i386/tcg/sysemu/misc_helper.c helper_wrmsr(), default case: a write to MCi_CTL is ' +
      'stored only when the value is 0 or all 1s, otherwise silently dropped',
    why: 'QEMU keeps the P6 family\'s all-0s-or-all-1s rule for MCi_CTL and drops other values without a fault.',
  },
  {
    guest: 'control-regs',
    line: /^msr\.efer\.after$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3A §10.8.5: EFER.LME cannot be cleared while CR0.PG = 1 (#GP(0), EFER unchanged)' + '; ' + APM_MSR,
    sdmValue: '0x500',
    qemuValue: '0x400',
    qemuSource: MSR_QEMU + '; helper_wrmsr() MSR_EFER applies the new LME through cpu_load_efer()',
    why: 'QEMU clears EFER.LME while long mode is active (LMA stays 1).',
  },
  {
    guest: 'control-regs',
    line: /^msr\.tsc_aux\.bit32_amd\.read$/,
    vendors: ['amd'],
    sdmSection:
      'AMD APM: the text on TSC_AUX (Vol. 2 MSRs, Vol. 3 RDTSCP, RDPID) was not available here; AMD behaviour taken ' +
      'from Linux\'s KVM, which ignores bits 63:32 for AMD guests (arch/x86/kvm/x86.c kvm_set_msr_common(), ' +
      'MSR_TSC_AUX: "Current AMD CPUs completely ignore bits 63:32") and from the AMD hosts of this project',
    sdmValue: '0x55',
    qemuValue: '0x100000055',
    qemuSource: MSR_QEMU + '; helper_wrmsr() MSR_TSC_AUX stores all 64 bits (env->tsc_aux) and helper_rdmsr() returns them',
    why: 'QEMU keeps bits 63:32 of TSC_AUX; AMD hardware drops them.',
  },
  {
    // Intel only: on AMD the write succeeds and bits 63:32 are dropped (the entry above).
    guest: 'control-regs',
    line: /^msr\.tsc_aux\.bit32$/,
    sdmSection: 'Intel SDM Vol. 2B WRMSR and Vol. 4 IA32_TSC_AUX: bits 63:32 are reserved, #GP(0) for a 1 there',
    sdmValue: '#GP(0x0)',
    qemuValue: 'ok',
    qemuSource: MSR_QEMU,
    why: MSR_WHY,
  },
  {
    guest: 'ring3',
    line: /^(iret|user|priv)\.[a-z0-9_]+\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #GP/#NP/#SS from IRETQ at CPL 0 and #GP from privileged instructions and INT n at CPL 3.',
  },
  {
    guest: 'ring3',
    line: /^iret\.ss_not_present\.fault$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 IRET "Operation", RETURN-TO-OUTER-PRIVILEGE-LEVEL: "IF stack segment is not present THEN #SS(SS selector)"' + '; ' + APM_IRET,
    sdmValue: '#SS',
    qemuValue: '#NP',
    qemuSource: IRET_SS_NP_QEMU,
    why: 'QEMU raises #NP where the SDM raises #SS for a not-present stack segment popped by IRET.',
  },
  {
    guest: 'ring3',
    line: /^iret\.ss_not_present\.vector$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 IRET "Operation", RETURN-TO-OUTER-PRIVILEGE-LEVEL: "IF stack segment is not present THEN #SS(SS selector)"' + '; ' + APM_IRET,
    sdmValue: '12',
    qemuValue: '11',
    qemuSource: IRET_SS_NP_QEMU,
    why: 'QEMU raises #NP where the SDM raises #SS for a not-present stack segment popped by IRET.',
  },
  {
    guest: 'ring3',
    line: /^iret\.rip_noncanonical\.fault_cpl$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 IRET "Operation", IA-32e mode: "IF new mode = 64-Bit Mode and tempRIP is non-canonical THEN #GP(0)" -- a fault of the IRETQ, at CPL 0' + '; ' + APM_IRET,
    sdmValue: '0',
    qemuValue: '3',
    qemuSource: IRET_RIP_QEMU,
    why: 'QEMU returns to CPL 3 with a non-canonical RIP and faults on the fetch there.',
  },
  {
    guest: 'ring3',
    line: /^user\.int_dpl0_gate\.error_code$/,
    vendors: BOTH,
    sdmSection: INTDPL_SDM + '; ' + APM_INT,
    sdmValue: '0x40a',
    qemuValue: '0x812',
    qemuSource: INTDPL_QEMU,
    why: 'QEMU scales the vector by the 16-byte gate size; the error code format scales it by 8.',
  },
  {
    guest: 'exception-frames',
    line: /^(ring[03]|gate)\.[a-z0-9_]+\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: every fault-class vector from CPL 0 and CPL 3 (traps print trap_rf, 0 on both).',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.db_int1\.fault$/,
    vendors: BOTH,
    sdmSection: INT1_SDM + '; ' + APM_INT1,
    sdmValue: '#DB',
    qemuValue: '#UD',
    qemuSource: INT1_QEMU,
    why: 'QEMU 7.2 does not decode INT1; it raises #UD at the instruction instead of a #DB trap after it.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.db_int1\.vector$/,
    vendors: BOTH,
    sdmSection: INT1_SDM + '; ' + APM_INT1,
    sdmValue: '1',
    qemuValue: '6',
    qemuSource: INT1_QEMU,
    why: 'QEMU 7.2 does not decode INT1; it raises #UD at the instruction instead of a #DB trap after it.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.db_int1\.rip$/,
    vendors: BOTH,
    sdmSection: INT1_SDM + '; ' + APM_INT1,
    sdmValue: 'label+0x1',
    qemuValue: 'label+0x0',
    qemuSource: INT1_QEMU,
    why: 'QEMU 7.2 does not decode INT1; it raises #UD at the instruction instead of a #DB trap after it.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.np_gate\.error_code$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 INT n "Operation": IF gate not present THEN #NP(error_code(vector_number,1,EXT)); Vol. 3A §6.13' + '; ' + APM_INT,
    sdmValue: '0x42a',
    qemuValue: '0x852',
    qemuSource: INTDPL_QEMU + '; the gate-present check likewise',
    why: 'QEMU scales the vector by the 16-byte gate size; the error code format scales it by 8.',
  },
  {
    guest: 'exception-frames',
    line: /^ring3\.bp_int3_dpl0_gate\.error_code$/,
    vendors: BOTH,
    sdmSection: INTDPL_SDM + '; ' + APM_INT,
    sdmValue: '0x1a',
    qemuValue: '0x32',
    qemuSource: INTDPL_QEMU,
    why: 'QEMU scales the vector by the 16-byte gate size; the error code format scales it by 8.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.ss_(push_)?noncanonical\.fault$/,
    vendors: BOTH,
    sdmSection: NONCANON_SS_SDM + '; ' + APM_SS,
    sdmValue: '#SS',
    qemuValue: '#GP',
    qemuSource: NONCANON_QEMU,
    why: 'QEMU does not distinguish stack references when checking canonical addresses.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.ss_(push_)?noncanonical\.vector$/,
    vendors: BOTH,
    sdmSection: NONCANON_SS_SDM + '; ' + APM_SS,
    sdmValue: '12',
    qemuValue: '13',
    qemuSource: NONCANON_QEMU,
    why: 'QEMU does not distinguish stack references when checking canonical addresses.',
  },
  {
    guest: 'exception-frames',
    line: /^ring3\.ac_unaligned\.fault$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3A §6.15 Interrupt 17: with CR0.AM = 1, RFLAGS.AC = 1 and CPL 3, an unaligned data reference raises #AC(0)' + '; ' + APM_AC,
    sdmValue: '#AC',
    qemuValue: 'none',
    qemuSource: AC_QEMU,
    why: 'QEMU TCG does not implement alignment checking; the unaligned load completes.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.ss_limit32\.fault$/,
    vendors: BOTH,
    sdmSection: SEG_SDM + '; ' + APM_SEG,
    sdmValue: '#SS',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: a PUSH past the limit of SS in compatibility mode.',
  },
  {
    guest: 'exception-frames',
    line: /^ring[03]\.ts_ist_beyond_limit\.error_code$/,
    vendors: BOTH,
    sdmSection: TS_EXT_SDM + '; ' + APM_INT,
    sdmValue: '0x41',
    qemuValue: '0x40',
    qemuSource: TS_EXT_QEMU,
    why: 'QEMU leaves EXT clear in the #TS error code raised while delivering #UD through an IST slot past the TSS limit.',
  },
  {
    guest: 'ist',
    line: /^ring[03]\.(ist7\.tss_limit_0x5a|ist4_noncanonical\.int3|ist4_noncanonical\.ud2)\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #TS and #SS raised while delivering through a bad IST slot (past the TSS limit, non-canonical).',
  },
  {
    guest: 'double-fault',
    line: /^benign_then_np\.error_code$/,
    vendors: BOTH,
    sdmSection: EXT_SDM + '; ' + APM_SELECTOR_ERR,
    sdmValue: '0x33',
    qemuValue: '0x62',
    qemuSource: EXT_QEMU,
    why: 'QEMU scales the vector by 16 and leaves EXT clear for #NP raised while delivering #UD through a not-present gate.',
  },
  {
    guest: 'double-fault',
    line: /^benign_then_gp\.error_code$/,
    vendors: BOTH,
    sdmSection: EXT_SDM + '; ' + APM_SELECTOR_ERR,
    sdmValue: '0x11',
    qemuValue: '0x10',
    qemuSource: EXT_QEMU,
    why: 'QEMU leaves EXT clear for #GP raised while delivering #UD through a gate whose selector names a data segment.',
  },
  {
    guest: 'ring3',
    line: /^iret\.cs_l_and_d\.outcome$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3A §5.2.1 and §3.4.5 (L bit): in IA-32e mode a code segment with L = 1 and D = 1 is reserved; ' +
      'Vol. 2 IRET "Operation" checks the return code segment descriptor: #GP(selector)' + '; ' + APM_CODE_LD,
    sdmValue: '#GP(0x60) at iretq',
    qemuValue: 'returned',
    qemuSource: 'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ret_protected(): the return CS is checked for S, ' +
      'code type, RPL/DPL and P only; L = 1 with D = 1 is loaded',
    why: 'QEMU does not reject the reserved L = 1, D = 1 code-segment encoding on IRET.',
  },
  {
    guest: 'ring3',
    line: /^iret\.compat_eip_beyond_limit\.outcome$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 IRET "Operation": "IF new mode ≠ 64-Bit Mode THEN IF tempEIP is not within code ' +
      'segment limits THEN #GP(0)"' + '; ' + APM_IRET,
    sdmValue: '#GP(0x0) at iretq',
    qemuValue: 'returned',
    qemuSource: 'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ret_protected(): no check of the new EIP against the ' +
      'CS limit; the code at that EIP then runs',
    why: 'QEMU returns to compatibility mode at an EIP beyond the CS limit instead of faulting in the IRET.',
  },
  {
    guest: 'ist',
    line: /^ring[03]\.ist4_noncanonical\.ud2\.error_code$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 INT n "Operation", IA-32e mode: "IF NewRSP is non-canonical THEN #SS(EXT)"; ' +
      'Vol. 3A §6.13: EXT = 1 while delivering an exception (#UD here)' + '; ' + APM_INT,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource: 'QEMU 7.2 target/i386/tcg/seg_helper.c get_rsp_from_tss(): a non-canonical stack pointer read from ' +
      'the TSS raises EXCP0C_STACK with error code 0, without the EXT bit',
    why: 'QEMU leaves EXT clear in the #SS error code for a non-canonical IST stack while delivering an exception.',
  },
  {
    guest: 'exception-frames',
    line: /^gate\.call_gate_type\.error_code$/,
    vendors: BOTH,
    sdmSection: INTDPL_SDM + '; a gate type other than interrupt/trap gate raises #GP(error_code(vector_number,1,EXT))' + '; ' + APM_INT,
    sdmValue: '0x44a',
    qemuValue: '0x892',
    qemuSource: INTDPL_QEMU,
    why: 'QEMU scales the vector by the 16-byte gate size; the error code format scales it by 8.',
  },
  {
    guest: 'protected-idt',
    line: /^(ud|de|gp_selector|gp_idt_limit|np_gate)\.rf$/,
    vendors: BOTH,
    sdmSection: RF_SDM + '; ' + APM_RF,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: 'QEMU 7.2 target/i386/tcg/seg_helper.c do_interrupt_protected(): pushes cpu_compute_eflags(env) as it is; ' +
      'nothing sets RF in the pushed image for fault-class exceptions',
    why: RF_WHY + ' Here: faults delivered through a protected-mode IDT (#UD, #DE, #GP, #NP).',
  },
  ...([[/^pg32\.rsvd_pde_bit21\.read\.error_code$/, '0x9', '0x8', 'a read through a 4-MByte PDE with bit 21 set (32-bit paging, §4.3): P|RSVD'],
    [/^pg32\.rsvd_pde_bit21\.write\.error_code$/, '0xb', '0xa', 'a write through a 4-MByte PDE with bit 21 set: P|W|RSVD'],
    [/^pae\.rsvd_pte_bit52\.read\.error_code$/, '0x9', '0x8', 'a read through a PAE PTE with bit 52 set (reserved, 62:MAXPHYADDR, §4.4.2): P|RSVD'],
    [/^pae\.xd_nxe0\.read\.error_code$/, '0x9', '0x8', 'a read through a PAE PTE with XD set while EFER.NXE = 0: P|RSVD']] as const)
    .map(([line, sdmValue, qemuValue, what]): QemuDeviation => ({
      guest: 'paging32', vendors: BOTH, line, sdmSection: RSVD_SDM + '; ' + APM_PF_ERR, sdmValue, qemuValue, qemuSource: RSVD_QEMU, why: RSVD_WHY + ` Here: ${what}.`,
    })),
  // PDPTE registers: Intel only. The amd flavour reads and checks the PDPT entries on demand, as
  // modern AMD processors do (AMD APM Vol. 2 §5.5.3, "Handling of PDPT Entries in PAE Mode"), and
  // as QEMU does, so the AMD model agrees with it there (src/cpu/paging.ts).
  ...([[/^pae\.pdpte_rsvd_bit(1|40)\.mov_cr3$/, '#GP', 'completed', 'the MOV to CR3 itself'],
    [/^pae\.pdpte_rsvd_bit(1|40)\.mov_cr3\.error_code$/, '0x0', null, 'the #GP error code, printed only when it is raised'],
    [/^pae\.pdpte_rsvd_bit(1|40)\.cr3$/, 'unchanged', 'loaded', 'CR3 after the MOV']] as const)
    .map(([line, sdmValue, qemuValue, what]): QemuDeviation => ({
      guest: 'paging32',
      line,
      sdmSection: PDPTE_SDM + '; "If any of the PDPTEs sets both the P flag (bit 0) and any reserved bit, the MOV to CR ' +
        'instruction causes a general-protection exception (#GP(0)) and the PDPTEs are not loaded" (reserved: 2:1, 8:5, 63:MAXPHYADDR)',
      sdmValue,
      qemuValue,
      qemuSource: PDPTE_QEMU + '; helper_write_crN() case 3 calls cpu_x86_update_cr3() without looking at the PDPTEs',
      why: PDPTE_WHY + ` Here: ${what} with a reserved bit (1 or 40) in a present PDPTE.`,
    })),
  // The walk through the bad PDPTE 3 after that MOV: Intel never loads such a CR3; AMD walks and faults.
  ...([['1', 'completed', 'QEMU\'s walk does not check PDPTE bit 1'], ['40', '#PF(0x8) cr2=0xc0000010', 'QEMU reports RSVD without P']] as const)
    .flatMap(([bit, qemuValue, what]): QemuDeviation[] => [
      {
        guest: 'paging32',
        line: new RegExp(`^pae\\.pdpte_rsvd_bit${bit}\\.walk$`),
        sdmSection: PDPTE_SDM + ': MOV to CR3 with a reserved bit in a present PDPTE raises #GP(0) and loads nothing, so no walk uses it',
        sdmValue: 'not walked (CR3 unchanged)',
        qemuValue,
        qemuSource: PDPTE_QEMU + '; helper_write_crN() case 3 calls cpu_x86_update_cr3() without looking at the PDPTEs',
        why: PDPTE_WHY + ` Here: the read through PDPTE 3 (bit ${bit} set) after QEMU loaded CR3; ${what}.`,
      },
      {
        guest: 'paging32',
        line: new RegExp(`^pae\\.pdpte_rsvd_bit${bit}\\.walk$`),
        vendors: ['amd'],
        sdmSection: 'AMD APM Vol. 2 §5.5.3, "Handling of PDPT Entries in PAE Mode": modern AMD processors check the PDPT ' +
          'entries during translation, a reserved bit (2:1, 8:5, 63:MAXPHYADDR) raising #PF; ' + APM_PF_ERR,
        sdmValue: '#PF(0x9) cr2=0xc0000010',
        qemuValue,
        qemuSource: RSVD_QEMU,
        why: `QEMU's AMD model walks the PDPT as AMD does, but ${what}.`,
      },
    ]),
  {
    guest: 'paging32',
    line: /^pae\.pdpte_cache\.after_invlpg$/,
    sdmSection: PDPTE_SDM + ': the PDPTE registers are loaded only by MOV to CR3 under PAE paging, by MOV to CR0/CR4 ' +
      'entering PAE paging or changing CR0.CD/NW/PG or CR4.PAE/PGE/PSE/SMEP, and by task switches; INVLPG (§4.10.4.1) ' +
      'invalidates TLB and paging-structure-cache entries, not the PDPTE registers',
    sdmValue: 'old',
    qemuValue: 'new',
    qemuSource: PDPTE_QEMU,
    why: PDPTE_WHY + ' Here: PDPTE 1 changed in memory, then INVLPG; the next walk must still use the loaded PDPTE.',
  },
  {
    guest: 'descriptor-insns',
    line: /^(64|compat)\.s0\.t[1-5]\.dpl(0\.rpl0|3\.rpl3)\.p[01]\.lar\.zf$/,
    sdmSection: LAR_SDM,
    sdmValue: '0x0',
    qemuValue: '0x1',
    qemuSource: LARLSL_QEMU,
    why: LARLSL_WHY + ' Here: ZF.',
  },
  {
    guest: 'descriptor-insns',
    line: /^(64|compat)\.s0\.t[1-5]\.dpl(0\.rpl0|3\.rpl3)\.p[01]\.lar\.unchanged$/,
    sdmSection: LAR_SDM,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource: LARLSL_QEMU,
    why: LARLSL_WHY + ' Here: QEMU writes the access rights into the destination.',
  },
  // The AMD model: the APM's long-mode LAR table also accepts the LDT (type 2), as QEMU does in
  // every mode, so only types 1, 3, 4 and 5 differ (guests/descriptor-insns reads the CPUID vendor).
  ...([['zf', '0x0', '0x1', 'ZF'], ['unchanged', '0x1', '0x0', 'QEMU writes the access rights into the destination']] as const)
    .map(([what, sdmValue, qemuValue, here]): QemuDeviation => ({
      guest: 'descriptor-insns',
      vendors: ['amd'],
      line: new RegExp(`^(64|compat)\\.s0\\.t[1345]\\.dpl(0\\.rpl0|3\\.rpl3)\\.p[01]\\.lar\\.${what}$`),
      sdmSection: LAR_APM,
      sdmValue,
      qemuValue,
      qemuSource: LARLSL_QEMU,
      why: LARLSL_WHY + ` Here: ${here}.`,
    })),
  {
    guest: 'descriptor-insns',
    line: /^(64|compat)\.s0\.t[13]\.dpl(0\.rpl0|3\.rpl3)\.p[01]\.lsl\.zf$/,
    vendors: BOTH,
    sdmSection: LSL_SDM + '; ' + APM_LSL,
    sdmValue: '0x0',
    qemuValue: '0x1',
    qemuSource: LARLSL_QEMU,
    why: LARLSL_WHY + ' Here: ZF.',
  },
  {
    guest: 'descriptor-insns',
    line: /^(64|compat)\.s0\.t[13]\.dpl(0\.rpl0|3\.rpl3)\.p[01]\.lsl\.unchanged$/,
    vendors: BOTH,
    sdmSection: LSL_SDM + '; ' + APM_LSL,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource: LARLSL_QEMU,
    why: LARLSL_WHY + ' Here: QEMU writes the limit into the destination.',
  },
  {
    guest: 'descriptor-insns',
    line: /^ltr\.null(_rpl3)?\.vector$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2A LTR "Operation": IF SRC is a NULL selector THEN #GP(0)' + '; ' + APM_TABLES,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ltr(): a null selector takes the "NULL selector case: invalid TR" ' +
      'branch, clearing TR\'s base, limit and flags without a fault',
    why: 'QEMU accepts a null selector in LTR (as in LLDT, where the SDM allows it); the SDM faults.',
  },
  {
    guest: 'descriptor-insns',
    line: /^l[gi]dt64\.noncanonical\.vector$/,
    vendors: BOTH,
    sdmSection:
      'Intel SDM Vol. 2A LGDT/LIDT "64-Bit Mode Exceptions": #GP(0) if the base address in the operand is ' +
      'non-canonical (Vol. 3A §3.3.7.1 for the descriptor-table registers)' + '; ' + APM_TABLES,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: TABLE_QEMU,
    why: 'QEMU loads any 64-bit base into GDTR/IDTR; hardware faults on a non-canonical one.',
  },
  {
    guest: 'descriptor-insns',
    line: /^compat\.sgdt16\.base_bits_31_24$/,
    vendors: BOTH,
    sdmSection:
      'Intel SDM Vol. 2B SGDT "Operation": with a 16- or 32-bit operand size (legacy or compatibility mode) ' +
      'DEST[16:47] := GDTR(Base), the full 32-bit base' + '; ' + APM_TABLES,
    sdmValue: '0xab',
    qemuValue: '0x0',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/translate.c disas_insn(), 0F 01 /0 (sgdt): with dflag == MO_16 the base is ' +
      'and-ed with 0xffffff before the store (the 80286 behaviour older manuals described)',
    why: 'QEMU stores only a 24-bit base for SGDT with a 16-bit operand; the SDM stores all 32 bits.',
  },
  {
    guest: 'segment-loads',
    line: /^64\.(mov_ss|lss)\.null_rpl3\.sel03\.vector$/,
    vendors: BOTH,
    sdmSection: NULL_SS_SDM + '; ' + APM_NULL_SS,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: NULL_SS_QEMU,
    why: NULL_SS_WHY,
  },
  {
    guest: 'segment-loads',
    line: /^64\.(mov_ss|lss)\.null_rpl3\.sel03\.loaded$/,
    vendors: BOTH,
    sdmSection: NULL_SS_SDM + '; ' + APM_NULL_SS,
    sdmValue: '0xdead',
    qemuValue: '0x3',
    qemuSource: NULL_SS_QEMU,
    why: NULL_SS_WHY + ' Here: the selector read back (0xdead: the load faulted).',
  },
  {
    guest: 'segment-loads',
    line: /^64\.wrmsr_fs_base\.noncanonical\.vector$/,
    vendors: BOTH,
    sdmSection: FSBASE_SDM + '; ' + APM_FSBASE,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: FSBASE_QEMU,
    why: 'QEMU accepts a non-canonical FS base from WRMSR; hardware raises #GP(0).',
  },
  {
    guest: 'segment-loads',
    line: /^64\.wrmsr_fs_base\.noncanonical\.base_kept$/,
    vendors: BOTH,
    sdmSection: FSBASE_SDM + '; ' + APM_FSBASE,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: FSBASE_QEMU,
    why: 'QEMU accepts a non-canonical FS base from WRMSR; hardware faults and keeps the old base.',
  },
  {
    guest: 'segment-loads',
    line: /^compat\.null_es\.access\.vector$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3A §3.4.2 and §5.4 (null selectors): outside 64-bit mode a memory access through a ' +
      'segment register holding a null selector raises #GP(0)' + '; ' + APM_SEG,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: an access through a null ES in compatibility mode.',
  },
  {
    guest: 'segment-loads',
    line: /^compat\.null_es\.access\.completed$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 3A §3.4.2 (null selectors): an access through a null ES faults outside 64-bit mode' + '; ' + APM_SEG,
    sdmValue: '0',
    qemuValue: '1',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: the access through a null ES completes on QEMU.',
  },
  {
    guest: 'segment-loads',
    line: /^64\.(ljmp|lcall)\.code_l1_d1\.sel98\.vector$/,
    vendors: BOTH,
    sdmSection: LD_SDM + '; ' + APM_CODE_LD,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: FAR_QEMU,
    why: 'QEMU transfers to a code segment with L = D = 1 (running it as 64-bit code); the SDM faults.',
  },
  {
    guest: 'segment-loads',
    line: /^64\.(ljmp|lcall)\.code_l1_d1\.sel98\.error_code$/,
    vendors: BOTH,
    sdmSection: LD_SDM + '; ' + APM_CODE_LD,
    sdmValue: '0x98',
    qemuValue: '0x0',
    qemuSource: FAR_QEMU,
    why: 'QEMU transfers to a code segment with L = D = 1; the SDM faults with the selector as error code.',
  },
  {
    guest: 'segment-loads',
    line: /^64\.(ljmp|lcall)\.code_l1_d1\.sel98\.target_cs$/,
    vendors: BOTH,
    sdmSection: LD_SDM + '; ' + APM_CODE_LD,
    sdmValue: '0xdead',
    qemuValue: '0x98',
    qemuSource: FAR_QEMU,
    why: 'QEMU reaches the target (CS 0x98); on the SDM the transfer faults (0xdead).',
  },
  // The same from compatibility mode: helper_ljmp_protected()/helper_lcall_protected() take the same
  // code-segment path whatever the current mode, so L = D = 1 is not checked there either.
  ...([
    ['vector', '13', 'none'],
    ['error_code', '0x98', '0x0'],
    ['target_cs', '0xdead', '0x98'],
  ] as const).map(([what, sdmValue, qemuValue]): QemuDeviation => ({
    guest: 'segment-loads',
    line: new RegExp(`^compat\\.(ljmp|lcall)_(m32|ptr)\\.code_l1_d1\\.sel98\\.${what}$`),
    vendors: BOTH,
    sdmSection: LD_SDM + '; ' + APM_CODE_LD,
    sdmValue,
    qemuValue,
    qemuSource: FAR_QEMU,
    why: 'QEMU transfers from compatibility mode to a code segment with L = D = 1 (running it as 64-bit code); ' +
      `the SDM faults with #GP(0x98) (the ${what} line).`,
  })),
  {
    guest: 'ring3',
    line: /^iret\.ss_fresh\.accessed$/,
    vendors: BOTH,
    sdmSection:
      'Intel SDM Vol. 3A §3.4.5.1 "Code- and Data-Segment Descriptor Types": the processor sets the accessed bit ' +
      'when it loads the segment selector into a segment register (SS loaded by IRET included)' + '; ' + APM_ACCESSED,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/seg_helper.c helper_ret_protected() (IRETQ to an outer level): SS is loaded with ' +
      'cpu_x86_load_seg_cache() from the descriptor read, and the descriptor in memory is not written back',
    why: 'QEMU does not set the accessed bit of the SS descriptor an IRET loads.',
  },
  {
    guest: 'segment-loads',
    line: /^accessed\.code_conforming_after_far$/,
    vendors: BOTH,
    sdmSection:
      'Intel SDM Vol. 3A §3.4.5.1 "Code- and Data-Segment Descriptor Types": the processor sets the accessed bit ' +
      'when it loads the segment selector into a segment register (CS included)' + '; ' + APM_ACCESSED,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource: FAR_QEMU,
    why: 'QEMU sets the accessed bit for data and stack segment loads but not for CS loads by far JMP/CALL.',
  },
  {
    guest: 'segment-loads',
    line: /^fsgsbase\.wrfsbase\.noncanonical\.vector$/,
    vendors: BOTH,
    sdmSection: WRFSBASE_SDM + '; ' + APM_FSBASE,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: WRFSBASE_QEMU,
    why: 'QEMU accepts a non-canonical FS base from WRFSBASE; hardware raises #GP(0).',
  },
  {
    guest: 'segment-loads',
    line: /^fsgsbase\.wrfsbase\.noncanonical\.base_kept$/,
    vendors: BOTH,
    sdmSection: WRFSBASE_SDM + '; ' + APM_FSBASE,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: WRFSBASE_QEMU,
    why: 'QEMU accepts a non-canonical FS base from WRFSBASE; hardware faults and keeps the old base.',
  },
  {
    guest: 'sysenter',
    line: /^sysexit64\.noncanonical_rcx$/,
    sdmSection: SYSEXIT_SDM,
    sdmValue: '#GP(0)',
    qemuValue: 'none',
    qemuSource: SYSEXIT_QEMU,
    why: SYSEXIT_WHY,
  },
  {
    guest: 'sysenter',
    line: /^sysexit64\.noncanonical_rcx\.fault_cs$/,
    sdmSection: SYSEXIT_SDM,
    sdmValue: '0x50',
    qemuValue: null,
    qemuSource: SYSEXIT_QEMU,
    why: SYSEXIT_WHY + ' The #GP is taken at CPL 0 (CS = IA32_SYSENTER_CS); QEMU takes none, so prints no such line.',
  },
  {
    guest: 'sysenter',
    line: /^rdpid\.enumerated$/,
    vendors: BOTH,
    sdmSection: RDPID_SDM + '; ' + APM_RDPID,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RDPID_QEMU,
    why: 'A missing feature: QEMU 7.2 TCG does not enumerate RDPID.',
  },
  ...(['cpl0', 'cpl3'] as const).map((cpl): QemuDeviation => ({
    guest: 'sysenter',
    line: new RegExp(`^rdpid\\.${cpl}$`),
    vendors: BOTH,
    sdmSection: RDPID_SDM + '; ' + APM_RDPID,
    sdmValue: '0x8000002a',
    qemuValue: null,
    qemuSource: RDPID_QEMU,
    why: 'A missing feature: QEMU 7.2 TCG does not enumerate RDPID, so the guest does not run it.',
  })),
  {
    guest: 'call-gates',
    line: /^conforming\.target_cs$/,
    vendors: BOTH,
    sdmSection: GATE_CONF_SDM + '; ' + APM_GATES,
    sdmValue: '0x123',
    qemuValue: '0x120',
    qemuSource: GATE_QEMU + ' helper_lcall_protected(): "selector = (selector & ~3) | dpl" for every call through a gate, ' +
      'so CS.RPL becomes the target\'s DPL (0) though CPL, taken from SS.DPL, stays 3',
    why: 'QEMU loads CS with RPL = DPL of a conforming target; the SDM keeps RPL = CPL.',
  },
  {
    guest: 'call-gates',
    line: /^jmp_target_not_present\.fault$/,
    vendors: BOTH,
    sdmSection: 'Intel SDM Vol. 2 JMP "Operation", CALL-GATE: "IF code segment is not present THEN #NP(code-segment selector)"' + '; ' + APM_GATES,
    sdmValue: '#NP',
    qemuValue: '#GP',
    qemuSource: GATE_QEMU + ' helper_ljmp_protected(), call-gate case: a not-present code segment raises EXCP0D_GPF ' +
      'with the code-segment selector (helper_lcall_protected raises EXCP0B_NOSEG)',
    why: 'QEMU raises #GP where the SDM raises #NP for a JMP through a gate to a not-present segment.',
  },
  {
    guest: 'call-gates',
    line: /^retf_ss_not_present\.fault$/,
    vendors: BOTH,
    sdmSection: RETF_SS_NP_SDM + '; ' + APM_GATES,
    sdmValue: '#SS',
    qemuValue: '#NP',
    qemuSource: IRET_SS_NP_QEMU + ' (RETF shares it through helper_lret_protected())',
    why: 'QEMU raises #NP where the SDM raises #SS for a not-present stack segment popped by RETF.',
  },
  {
    guest: 'call-gates',
    line: /^retf_noncanonical\.cs$/,
    vendors: BOTH,
    sdmSection: RETF_RIP_SDM + '; ' + APM_GATES,
    sdmValue: '0x8',
    qemuValue: '0x33',
    qemuSource: RETF_RIP_QEMU,
    why: 'QEMU returns to CPL 3 with a non-canonical RIP and faults on the fetch there.',
  },
  {
    guest: 'call-gates',
    line: /^retf_noncanonical\.rip_is_lretq$/,
    vendors: BOTH,
    sdmSection: RETF_RIP_SDM + '; ' + APM_GATES,
    sdmValue: '0x1',
    qemuValue: '0x0',
    qemuSource: RETF_RIP_QEMU,
    why: 'QEMU returns to CPL 3 with a non-canonical RIP and faults on the fetch there (RIP 0x800000000000).',
  },
  // linux-entry (guests/linux-entry, test/linux-entry.test.ts): both vendor models.
  {
    guest: 'linux-entry',
    line: /^sysret_rip\.(sigreturn\.\d+|fallthrough)\.fault$/,
    sdmSection:
      'Intel SDM Vol. 2A IRET "Operation" (IA-32e mode: #GP(0) if the return RIP is not canonical, raised at the ' +
      "IRET's CPL); AMD APM Vol. 3 IRET: the APM text was not available here, AMD behaviour taken from the SDM rule",
    sdmValue: '#GP(0x0) at iretq',
    qemuValue: '#GP(0x0) at user',
    qemuSource: IRET_RIP_QEMU,
    why: "The kernel's IRETQ to a non-canonical RIP completes under QEMU and the fetch faults at CPL 3; hardware faults on the IRETQ at CPL 0.",
    vendors: ['intel', 'amd'],
  },
  {
    guest: 'linux-entry',
    line: /^sysret_rip\.unsafe\.where$/,
    sdmSection: 'Intel SDM Vol. 2B SYSRET "Operation": IF RCX is not canonical THEN #GP(0), before CPL changes (CVE-2012-0217)',
    sdmValue: 'kernel',
    qemuValue: 'user',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/seg_helper.c helper_sysret(): loads RIP from RCX with no canonical check for any vendor ' +
      '(later QEMU adds the Intel check); the fetch at CPL 3 then faults',
    why: "QEMU's SYSRET returns to a non-canonical RCX on Intel models as AMD's does; Intel raises #GP(0) at CPL 0.",
  },
  {
    guest: 'linux-entry',
    line: /^compat32\.syscall$/,
    sdmSection: 'Intel SDM Vol. 2B SYSCALL "Operation": #UD unless IA32_EFER.LMA = 1 and CS.L = 1 (64-bit mode)',
    sdmValue: '#UD cs 0x23',
    qemuValue: 'eax 0x1 kept 6 exit sysretl',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/translate.c disas_insn() case 0x105 (syscall): the Intel check is "!LMA(s)", so ' +
      'compatibility mode is accepted and helper_syscall() enters at IA32_CSTAR',
    why: 'QEMU runs SYSCALL from compatibility mode on Intel models (through CSTAR, as AMD does); Intel raises #UD.',
  },
  {
    guest: 'linux-entry',
    line: /^sysret_ss_attrs\.unfixed\.compat_stack$/,
    sdmSection:
      'AMD APM Vol. 3 SYSRET (SS.sel := STAR.SYSRET_CS + 8, its hidden attributes not reloaded; the Vol. 3 text was ' +
      'not available here) and Linux X86_BUG_SYSRET_SS_ATTRS, commit 61f01dd941ba: "SS is apparently equal to ' +
      '__USER_DS but causes #SS if used", which the AMD value rests on',
    sdmValue: '#SS(0x0)',
    qemuValue: 'ok',
    qemuSource:
      'QEMU 7.2 target/i386/tcg/seg_helper.c helper_sysret(): cpu_x86_load_seg_cache(R_SS, ...) with fixed flat DPL-3 ' +
      'attributes for every vendor; and TCG checks no segment on data accesses (gen_lea_v_seg)',
    why: "QEMU reloads SS's attributes on SYSRET for AMD models too, so a null kernel SS does not leak into user mode.",
    vendors: ['amd'],
  },
  {
    guest: 'linux-entry',
    line: /^compat32\.sysenter$/,
    sdmSection: SYSENTER_AMD_APM,
    sdmValue: '#UD cs 0x23',
    qemuValue: 'eax 0x1 kept 6 exit sysretl',
    qemuSource: SYSENTER_AMD_QEMU,
    why: SYSENTER_AMD_WHY,
    vendors: ['amd'],
  },
  {
    guest: 'linux-entry',
    line: /^single_step\.sysenter32\.fault$/,
    sdmSection: SYSENTER_AMD_APM,
    sdmValue: '#UD',
    qemuValue: 'none',
    qemuSource: SYSENTER_AMD_QEMU,
    why: SYSENTER_AMD_WHY,
    vendors: ['amd'],
  },
  {
    guest: 'linux-entry',
    line: /^single_step\.sysenter32\.traps$/,
    sdmSection: SYSENTER_AMD_APM,
    sdmValue: 'step32_sysenter_2 vsyscall_sysenter vsyscall_sysenter+0x1 vsyscall_sysenter+0x2 vsyscall_sysenter+0x3 vsyscall_sysenter+0x5',
    qemuValue: 'step32_sysenter_2 vsyscall_sysenter vsyscall_sysenter+0x1 vsyscall_sysenter+0x2 vsyscall_sysenter+0x3 vsyscall_sysenter+0x5 vdso32_landing_pad+0x1 vdso32_landing_pad+0x2 vdso32_landing_pad+0x3 step32_sysenter_3 step32_sysenter_4 step32_sysenter_5',
    qemuSource: SYSENTER_AMD_QEMU,
    why: SYSENTER_AMD_WHY,
    vendors: ['amd'],
  },
  // sysenter under the AMD model: QEMU 7.2 applies AMD's long-mode #UD only in 64-bit mode.
  {
    guest: 'sysenter',
    vendors: ['amd'],
    line: /^sysexit32\.cpl3$/,
    sdmSection: SYSEXIT_AMD_APM,
    sdmValue: '#UD(0)',
    qemuValue: '#GP(0)',
    qemuSource: SYSEXIT_AMD_QEMU,
    why: 'QEMU runs SYSEXIT from compatibility mode on AMD models, where its CPL check raises #GP(0); AMD raises #UD in long mode.',
  },
  {
    guest: 'sysenter',
    vendors: ['amd'],
    line: /^sysenter32\.amd$/,
    sdmSection: SYSENTER_AMD_APM,
    sdmValue: '#UD(0)',
    qemuValue: 'entered',
    qemuSource: SYSENTER_AMD_QEMU,
    why: SYSENTER_AMD_WHY + ' Here: the kernel entry at IA32_SYSENTER_EIP is reached from compatibility mode.',
  },
  // multiboot-uart under the AMD model: a platform difference, not a CPU one.
  {
    guest: 'multiboot-uart',
    kind: 'platform',
    vendors: ['amd'],
    line: /^info\.mmap_length$/,
    sdmSection: MB_MAP_CONTRACT,
    sdmValue: '144',
    qemuValue: '168',
    qemuSource: MB_MAP_QEMU,
    why: MB_MAP_WHY + ' Here: six 24-byte entries (size field included) instead of seven.',
  },
  {
    guest: 'multiboot-uart',
    kind: 'platform',
    vendors: ['amd'],
    line: /^info\.mmap\[6\]$/,
    sdmSection: MB_MAP_CONTRACT,
    sdmValue: null,
    qemuValue: 'size 20 base 0x000000fd00000000 length 0x0000000300000000 type 2',
    qemuSource: MB_MAP_QEMU,
    why: MB_MAP_WHY + ' Here: the seventh entry, which Ringside\'s map does not have.',
  },
  {
    guest: 'nmi',
    line: /^iretfault\.second_nmi_at$/,
    sdmSection: NMI_IRET_SDM,
    sdmValue: 'gp-handler',
    qemuValue: 'fixup',
    qemuSource: NMI_IRET_QEMU,
    why: 'QEMU unblocks NMIs only when IRET completes: the NMI held in the handler waits through the #GP and comes ' +
      'after the #GP handler\'s own IRET, at the fixup, where the SDM takes it before the #GP handler\'s first instruction.',
  },
  {
    guest: 'breakpoints',
    line: /^exec\.after_movss\.db$/,
    sdmSection: EXEC_MOVSS_SDM,
    sdmValue: '0',
    qemuValue: '1',
    qemuSource: EXEC_MOVSS_QEMU,
    why: 'QEMU takes an instruction breakpoint on the instruction right after MOV SS; Intel processors do not.',
  },
  {
    guest: 'breakpoints',
    line: /^rep\.mid\.db0\.rf$/,
    vendors: BOTH,
    sdmSection: REP_SDM + '; ' + APM_DEBUG,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: REP_QEMU,
    why: 'QEMU does not set RF in the frame of a #DB taken between iterations of a REP string instruction.',
  },
  {
    guest: 'breakpoints',
    line: /^rep\.last\.db0\.rip$/,
    vendors: BOTH,
    sdmSection: REP_SDM + '; ' + APM_DEBUG,
    sdmValue: 'bp_rep_end',
    qemuValue: 'bp_rep_insn',
    qemuSource: REP_QEMU,
    why: 'After the last iteration QEMU has not yet left the REP instruction, so the trap reports its RIP.',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.db$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: no #DB from MOV from DR0.',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.db0\.rip$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: 'bp_gd',
    qemuValue: 'none',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: no #DB, so no saved RIP.',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.db0\.rf$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + RF_SDM + '; ' + APM_DR,
    sdmValue: '1',
    qemuValue: 'none',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: no #DB, so no saved RF (1 for this fault-class #DB).',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.db0\.dr6$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '0x2000',
    qemuValue: 'none',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: no #DB, so no DR6.BD.',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.db0\.dr7_gd$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '0',
    qemuValue: 'none',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: no #DB handler runs to read DR7.',
  },
  {
    guest: 'breakpoints',
    line: /^gd\.dr7_gd_after$/,
    vendors: BOTH,
    sdmSection: GD_SDM + '; ' + APM_DR,
    sdmValue: '0',
    qemuValue: '1',
    qemuSource: GD_QEMU,
    why: GD_WHY + ' Here: DR7.GD stays set.',
  },
  {
    guest: 'breakpoints',
    line: /^movss\.nop\.db0\.rip$/,
    vendors: BOTH,
    sdmSection: MOVSS_DB_SDM + '; ' + APM_DEBUG,
    sdmValue: 'bp_movss_2',
    qemuValue: 'bp_movss_1',
    qemuSource: MOVSS_DB_QEMU,
    why: 'QEMU delivers the data-breakpoint #DB of a MOV SS right after it, not after the next instruction (a NOP).',
  },
  {
    guest: 'breakpoints',
    line: /^movss\.syscall\.db0\.rip$/,
    vendors: BOTH,
    sdmSection: MOVSS_DB_SDM + '; ' + APM_DEBUG,
    sdmValue: 'bp_syscall_target',
    qemuValue: 'bp_movss_syscall_1',
    qemuSource: MOVSS_DB_QEMU,
    why: 'QEMU delivers the #DB before the SYSCALL that follows the MOV SS, so CVE-2018-8897\'s #DB at the ' +
      'SYSCALL target, in ring 0 on the caller\'s stack, cannot be reproduced on QEMU TCG.',
  },
  {
    guest: 'breakpoints',
    line: /^tf\.data\.db$/,
    vendors: BOTH,
    sdmSection: TF_DATA_SDM + '; ' + APM_DEBUG,
    sdmValue: '1',
    qemuValue: '2',
    qemuSource: TF_DATA_QEMU,
    why: 'QEMU splits the single-step trap and the data breakpoint of one instruction into two #DBs.',
  },
  {
    guest: 'breakpoints',
    line: /^tf\.data\.db0\.rip$/,
    vendors: BOTH,
    sdmSection: TF_DATA_SDM + '; ' + APM_DEBUG,
    sdmValue: 'bp_tf_data_2',
    qemuValue: '(elsewhere)',
    qemuSource: TF_DATA_QEMU,
    why: 'QEMU\'s first of its two #DBs (BS and B1) reports a RIP outside the stepped code.',
  },
];
