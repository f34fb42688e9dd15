// Where QEMU (the oracle, QEMU 7.2 TCG with -cpu max,vendor=GenuineIntel) and
// the Intel SDM disagree on a value a guest prints.  The cross-check
// (test/qemu-crosscheck.test.ts) compares Ringside's console output with
// QEMU's line by line; on a line matched by an entry here it requires instead
// that QEMU prints `qemuValue` and Ringside prints `sdmValue`.  An entry whose
// line now agrees between the two (QEMU fixed, or Ringside copying QEMU) fails
// the test, so the list cannot silently go stale.
//
// A guest line is `name: value`; `line` is matched against the name.

export interface QemuDeviation {
  /** Guest folder name under guests/. */
  guest: string;
  /** Matched against the part of a console line before the first ': '. */
  line: RegExp;
  /** Where the SDM says what the value must be. */
  sdmSection: string;
  /** The value (text after ': ') the SDM requires, which Ringside must print. */
  sdmValue: string;
  /** The value QEMU prints. */
  qemuValue: string;
  /** Where QEMU's behaviour comes from (file, function, version). */
  qemuSource: string;
  /** Why the values differ, in a sentence or two. */
  why: string;
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

/** The fault-frame RF line of a paging guest (all its faults are fault-class). */
const rfEntry = (guest: string, what: string): QemuDeviation => ({
  guest, line: /\.rf$/, sdmSection: RF_SDM, sdmValue: '1', qemuValue: '0', qemuSource: RF_QEMU, why: RF_WHY + ` Here: ${what}.`,
});

export const QEMU_DEVIATIONS: QemuDeviation[] = [
  ...([[/^rsvd\..*\.(read|exec_nxe0)\.error_code$/, '0x9', '0x8', 'a read (or a fetch with NXE = 0 and SMEP = 0): P|RSVD'],
    [/^rsvd\..*\.write\.error_code$/, '0xb', '0xa', 'a write: P|W|RSVD'],
    [/^rsvd\..*\.exec_nxe1\.error_code$/, '0x19', '0x18', 'a fetch with NXE = 1: P|RSVD|I']] as const)
    .map(([line, sdmValue, qemuValue, what]): QemuDeviation => ({
      guest: 'pf-bits',
      line,
      sdmSection: RSVD_SDM + '; the reserved bits of each entry format (§4.5.4)',
      sdmValue,
      qemuValue,
      qemuSource: RSVD_QEMU,
      why: RSVD_WHY + ` Here: ${what}.`,
    })),
  ...([['enumerated', '1', '0'], ['gp\\.', '#GP(0)', 'not enumerated'], ['ok\\.', 'none', 'not enumerated'],
    ['flush\\.', 'page B', 'not enumerated'], ['check\\.', 'yes', 'not enumerated']] as const)
    .map(([what, sdmValue, qemuValue]): QemuDeviation => ({
      guest: 'tlb',
      line: new RegExp(`^pcid\\.${what}`),
      sdmSection: PCID_SDM,
      sdmValue,
      qemuValue,
      qemuSource: PCID_QEMU,
      why: PCID_WHY,
    })),
  ...([['enumerated', '1', '0'], ['gp\\.', '#GP(0)', '#UD'], ['ok\\.', 'none', '#UD'], ['flush\\.', 'page B', '#UD']] as const)
    .map(([what, sdmValue, qemuValue]): QemuDeviation => ({
      guest: 'tlb',
      line: new RegExp(`^invpcid\\.${what}`),
      sdmSection: INVPCID_SDM,
      sdmValue,
      qemuValue,
      qemuSource: INVPCID_QEMU,
      why: INVPCID_WHY,
    })),
  ...(['vector', 'error_code', 'cr2', 'rip'] as const).map((field, k): QemuDeviation => ({
    guest: 'smep-smap',
    line: new RegExp(`^smap1\\.implicit_gdt\\.ac1\\.${field}$`),
    sdmSection: SMAP_IMPLICIT_SDM,
    sdmValue: ['14', '0x1', 'page+0x0', 'label+0x0'][k],
    qemuValue: 'none',
    qemuSource: SMAP_IMPLICIT_QEMU,
    why: SMAP_IMPLICIT_WHY + ' Here: MOV to DS of a selector whose GDT entry is on a user page, with AC = 1 (STAC).',
  })),
  rfEntry('la57', '#PF, #GP and #SS'),
  {
    guest: 'la57',
    line: /^rsvd\.pml5_ps\.read\.error_code$/,
    sdmSection: RSVD_SDM + '; PS is reserved in a PML5E (§4.5.4)',
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PML5E with PS=1: P|RSVD.',
  },
  {
    guest: 'la57',
    line: /^noncanonical\.rbp\.read\.fault$/,
    sdmSection: SS_SDM,
    sdmValue: '#SS',
    qemuValue: '#GP',
    qemuSource: SS_QEMU,
    why: SS_WHY + ' Here: a read with RBP as the base register at 0x0100000000000000 under LA57.',
  },
  {
    guest: 'la57',
    line: /^noncanonical\.rbp\.read\.vector$/,
    sdmSection: SS_SDM,
    sdmValue: '12',
    qemuValue: '13',
    qemuSource: SS_QEMU,
    why: SS_WHY + ' Here: a read with RBP as the base register at 0x0100000000000000 under LA57.',
  },
  {
    guest: 'seg-limits',
    line: /^bad\..*\.completed$/,
    sdmSection: SEG_SDM,
    sdmValue: '0',
    qemuValue: '1',
    qemuSource: SEG_QEMU,
    why: SEG_WHY,
  },
  {
    guest: 'seg-limits',
    line: /^bad\.(read|write|rmw)_.*\.vector$/,
    sdmSection: SEG_SDM,
    sdmValue: '13',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: #GP(0).',
  },
  {
    guest: 'seg-limits',
    line: /^bad\.push\..*\.vector$/,
    sdmSection: SEG_SDM,
    sdmValue: '12',
    qemuValue: 'none',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: #SS(0) for a push past the stack segment\'s limit.',
  },
  {
    guest: 'seg-limits',
    line: /^readonly\.byte_after$/,
    sdmSection: SEG_SDM,
    sdmValue: '0x77',
    qemuValue: '0x5b',
    qemuSource: SEG_QEMU,
    why: SEG_WHY + ' Here: the faulting store and read-modify-write through a read-only segment change memory on QEMU.',
  },
  {
    guest: 'pf-errcode',
    line: /\.rf$/,
    sdmSection: RF_SDM,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #PF.',
  },
  {
    guest: 'alu-flags',
    line: /\.rf$/,
    sdmSection: RF_SDM,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #DE from DIV/IDIV.',
  },
  {
    guest: 'legacy32',
    line: /\.rf$/,
    sdmSection: RF_SDM,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #BR from BOUND in compatibility mode.',
  },
  {
    guest: 'exceptions',
    line: /^(ud\.ud2|gp\.[a-z_]+)\.rf$/,
    sdmSection: RF_SDM,
    sdmValue: '1',
    qemuValue: '0',
    qemuSource: RF_QEMU,
    why: RF_WHY + ' Here: #UD and #GP (bp.int3 is a trap: RF stays 0 on both).',
  },
  {
    guest: 'exceptions',
    line: /^gp\.int_beyond_idt\.error_code$/,
    sdmSection:
      'Intel SDM Vol. 3A §6.13 "Error Code": the selector index field (bits 15:3) holds the ' +
      'IDT vector and bit 1 (IDT) is set, so INT 0x21 beyond the IDT limit gives 0x21*8+2',
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
    sdmSection: RSVD_SDM,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PTE with XD set while EFER.NXE=0: P|RSVD.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.xd_nxe0\.write\.error_code$/,
    sdmSection: RSVD_SDM,
    sdmValue: '0xb',
    qemuValue: '0xa',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Write through a PTE with XD set while EFER.NXE=0: P|W|RSVD.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.xd_nxe0\.exec\.error_code$/,
    sdmSection: RSVD_SDM,
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Fetch through a PTE with XD set while EFER.NXE=0: P|RSVD, and I/D=0 because NXE=0 and SMEP=0.',
  },
  {
    guest: 'pf-errcode',
    line: /^rsvd\.pml4_ps\.read\.error_code$/,
    sdmSection: RSVD_SDM + '; PS is reserved in a PML4E (§4.5.4)',
    sdmValue: '0x9',
    qemuValue: '0x8',
    qemuSource: RSVD_QEMU,
    why: RSVD_WHY + ' Read through a PML4E with PS=1: P|RSVD.',
  },
];
