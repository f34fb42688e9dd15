// RDMSR and WRMSR from a PV guest kernel (xen/arch/x86/pv/emul-priv-op.c read_msr/write_msr,
// arch/x86/msr.c guest_rdmsr/guest_wrmsr, cpu/mcheck/vmce.c, all at c447b7308b).
//
// Xen answers in three layers: guest_rdmsr/guest_wrmsr (the MSRs every guest type shares,
// vMCE among them), then the PV switch in read_msr/write_msr, then #GP(0) — except that a
// read the guest has no #GP handler for reads 0 when the host MSR itself is readable
// ("faking RDMSR"). Where Xen reads the host's MSR (rdmsr_safe) the model reads its own
// CPU's (cpu/ops/system.ts rdmsrSafe): MSRs the model CPU lacks (the microcode revision
// 0x8B, IA32_PLATFORM_ID, AMD's SYSCFG/TOP_MEM/IORR/TSEG) are therefore #GP(0), as Xen's
// code gives on a CPU without them.
//
// Deliberate deviations (model errors, never guesses): the "faking RDMSR" probe of an x2APIC
// MSR; WRMSR of the hypercall page MSR 0x40000000. Not modelled because no path here
// reaches them: a cpufreq-controller dom0 and pinned dom0 vCPUs (dom0_vcpus_pin), vPMU
// (Xen's default vpmu=off: the counter MSRs read 0 and drop writes), msr_relaxed, Viridian.
// Since Xen 4.17: K8_HWCR reads 0 (4.17: TSC_FREQ_SEL on family 10h+; e4ca4e261d), and
// FAM10H_MMIO_CONF_BASE is the host's for the hardware domain on any AMD family and #GP(0)
// for others (b4071d28c5; 4.17: RAZ on families 10h-16h, #GP(0) elsewhere).

import { Msr } from '../../cpu/msrs.js';
import { rdmsrSafe } from '../../cpu/ops/system.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST } from '../../cpu/lapic.js';
import * as V from '../../arch/vectors.js';
import type { PvDomain } from './domain.js';
import { canonical, RAX, RCX, RDX } from './regs.js';

export type MsrOutcome = 'done' | 'gp';

const TWO32 = 4294967296;

/** MSR indices Xen names (msr-index.h). */
const P5_MC_ADDR = 0x0, P5_MC_TYPE = 0x1, TSC = 0x10, PLATFORM_ID = 0x17, APIC_BASE = 0x1b,
  FEATURE_CONTROL = 0x3a, UCODE_REV = 0x8b, PLATFORM_INFO = 0xce, MISC_FEATURES = 0x140,
  MCG_CAP = 0x179, MCG_STATUS = 0x17a, MCG_CTL = 0x17b, PERF_STATUS = 0x198, PERF_CTL = 0x199,
  THERM_STATUS = 0x19c, MISC_ENABLE = 0x1a0, PAT = 0x277, MC0_CTL2 = 0x280, PERF_CAPABILITIES = 0x345,
  MC0_CTL = 0x400, MCG_EXT_CTL = 0x4d0, EFER = 0xc0000080, FS_BASE = 0xc0000100,
  GS_BASE = 0xc0000101, SHADOW_GS = 0xc0000102, TSC_AUX = 0xc0000103,
  K8_SYSCFG = 0xc0010010, K8_HWCR = 0xc0010015, NB_CFG = 0xc001001f, FAM10H_MMIO_CONF = 0xc0010058,
  DE_CFG = 0xc0011029;
/** AMD's K8 IORR_BASE0..TOP_MEM2 and TSEG (guest_rdmsr: the hardware domain reads the host's). */
const K8_HOST = [K8_SYSCFG, 0xc0010016, 0xc0010017, 0xc0010018, 0xc0010019, 0xc001001a, 0xc001001d, 0xc0010112, 0xc0010113];
/** K7_FID_VID_CTL/STATUS, K8_PSTATE_LIMIT/CTRL/STATUS, K8_PSTATE0-7: RAZ and write-discard on AMD. */
const K8_PSTATE = [0xc0010041, 0xc0010042, 0xc0010061, 0xc0010062, 0xc0010063, 0xc0010064, 0xc0010065, 0xc0010066, 0xc0010067, 0xc0010068, 0xc0010069, 0xc001006a, 0xc001006b];
/** SYSCFG bits a hardware domain sees: TOM2_FORCE_WB, MTRR_TOM2_EN, MTRR_VAR_DRAM_EN, MTRR_FIX_DRAM_EN. */
const SYSCFG_VISIBLE = (1 << 22) | (1 << 21) | (1 << 20) | (1 << 18);
/** MISC_ENABLE: PERF_AVAIL and MONITOR_ENABLE hidden; BTS_UNAVAIL, PEBS_UNAVAIL, XTPR_DISABLE set. */
const MISC_ENABLE_HIDE = (1 << 7) | (1 << 18), MISC_ENABLE_SET = (1 << 11) | (1 << 12) | (1 << 23);
/** GUEST_MC_BANK_NUM and the vMCE MCG_CAP (vmce_init_vcpu): Intel adds SER_P, TES_P, CMCI_P. */
const GUEST_MC_BANKS = 2;
const INTEL_MCG_CAP = (1 << 24) | (1 << 11) | (1 << 10) | GUEST_MC_BANKS, AMD_MCG_CAP = GUEST_MC_BANKS;
const MCG_CTL_P = 1 << 8;
/** DE_CFG.LFENCE_SERIALISE. */
const DE_CFG_LFENCE = 1 << 1;

/** A vCPU's vMCE state (arch.vmce): MCG_STATUS, and MCi_CTL2 of the guest banks (Intel). Each
 *  bank's STATUS, ADDR and MISC only take 0 from the guest and Xen injects nothing: always 0. */
export interface Vmce {
  mcgStatusLo: number;
  mcgStatusHi: number;
  ctl2Lo: number[];
  ctl2Hi: number[];
}

export function newVmce(): Vmce {
  return { mcgStatusLo: 0, mcgStatusHi: 0, ctl2Lo: [0, 0], ctl2Hi: [0, 0] };
}

const host = new Int32Array(2);

/** RDMSR (read_msr) or WRMSR (write_msr) of ECX with EDX:EAX, from the guest kernel. */
export function emulateMsr(d: PvDomain, write: boolean): MsrOutcome {
  const cpu = d.cpu;
  const index = cpu.regLo[RCX] >>> 0;
  if (write) return writeMsr(d, index, cpu.regLo[RAX], cpu.regLo[RDX]);
  const out: [number, number] = [0, 0];
  let rc = readMsr(d, index, out);
  // "faking RDMSR": with no #GP handler registered, a refused read of an MSR the host has
  // (outside Xen's 0x4000xxxx range) reads 0.
  if (rc === 'gp' && d.vcpu.trapCtxt[V.GP].address === 0 && (index >>> 16) !== 0x4000 && hostRdmsr(d, index)) {
    out[0] = 0; out[1] = 0; rc = 'done';
  }
  if (rc === 'done') { cpu.regLo[RAX] = out[0]; cpu.regHi[RAX] = 0; cpu.regLo[RDX] = out[1]; cpu.regHi[RDX] = 0; }
  return rc;
}

/** rdmsr_safe on the model's CPU: its value in `host`, false where the CPU raises #GP. */
function hostRdmsr(d: PvDomain, index: number): boolean {
  if (index >= X2APIC_MSR_FIRST && index <= X2APIC_MSR_LAST) return d.cpu.modelError(`Xen model: rdmsr_safe of x2APIC MSR 0x${index.toString(16)} is not modelled`);
  return rdmsrSafe(d.cpu, index, host);
}

function amd(d: PvDomain): boolean { return d.cpu.model.vendor === 'amd'; }

/** guest_rdmsr then read_msr: the value in `out` (low, high), or 'gp'. */
function readMsr(d: PvDomain, index: number, out: [number, number]): MsrOutcome {
  const cpu = d.cpu;
  const set = (lo: number, hi: number): MsrOutcome => { out[0] = lo | 0; out[1] = hi | 0; return 'done'; };
  const fromHost = (): MsrOutcome => hostRdmsr(d, index) ? set(host[0], host[1]) : 'gp';
  // guest_rdmsr.
  if (isVmceMsr(index)) return vmceRdmsr(d, index, out);
  switch (index) {
    case FEATURE_CONTROL: return amd(d) ? 'gp' : set(1, 0); // LOCK; PV hides VMX, no LMCE
    case PLATFORM_ID: return amd(d) ? 'gp' : fromHost();
    case UCODE_REV: return fromHost(); // Xen's last microcode load: the CPU's own value
    case PLATFORM_INFO: return set(0, 0); // the model CPU has no CPUID faulting, so neither has the policy
    case MISC_FEATURES: return set(0, 0);
    case PERF_STATUS: case PERF_CTL: case THERM_STATUS: return amd(d) ? 'gp' : set(0, 0);
    case TSC_AUX: return cpu.features.has('rdtscp') ? set(cpu.msrLo[Msr.TscAux], cpu.msrHi[Msr.TscAux]) : 'gp';
    case K8_HWCR: return amd(d) ? set(0, 0) : 'gp';
    case FAM10H_MMIO_CONF: return d.state.dom0 && amd(d) ? fromHost() : 'gp';
    case DE_CFG: return amd(d) ? set(DE_CFG_LFENCE, 0) : 'gp';
    case 0x40000000: return set(0, 0); // guest_rdmsr_xen: the hypercall page MSR reads 0
    default: break;
  }
  if (index > 0x40000000 && index <= 0x400002ff) return 'gp'; // guest_rdmsr_xen
  if (K8_HOST.includes(index)) {
    if (!amd(d)) return 'gp';
    if (d.state.dom0) {
      if (!hostRdmsr(d, index)) return 'gp';
      return set(index === K8_SYSCFG ? host[0] & SYSCFG_VISIBLE : host[0], index === K8_SYSCFG ? 0 : host[1]);
    }
  }
  // read_msr's own switch.
  switch (index) {
    case APIC_BASE: return set(0xfee00900, 0); // ENABLE | BSP (vCPU 0) | the default base
    case FS_BASE: return set(cpu.segBaseLo[4], cpu.segBaseHi[4]);
    // In FRED mode the CPU swapped the two on the way into Xen (pv/emul-priv-op.c: "^ opt_fred").
    case GS_BASE: case SHADOW_GS:
      return (index === GS_BASE) !== d.fredMode
        ? set(cpu.segBaseLo[5], cpu.segBaseHi[5])
        : set(cpu.msrLo[Msr.KernelGsBase], cpu.msrHi[Msr.KernelGsBase]);
    case TSC: { const t = cpu.icount + cpu.tscOffset; return set((t % TWO32) | 0, Math.floor(t / TWO32)); }
    case EFER: return set(cpu.efer & 0xd01, 0); // guest_efer: SCE, LME, LMA, NXE
    case PAT: return set(0x00070406, 0x00000501); // XEN_MSR_PAT
    case NB_CFG: return amd(d) ? set(0, 0) : 'gp'; // not a pinned hardware-domain vCPU
    case MISC_ENABLE:
      if (!hostRdmsr(d, index)) return 'gp';
      return set((host[0] & ~MISC_ENABLE_HIDE) | MISC_ENABLE_SET, host[1]);
    case PERF_CAPABILITIES: return set(0, 0);
    default: break;
  }
  if (K8_PSTATE.includes(index)) return amd(d) ? set(0, 0) : 'gp';
  if (isPmuMsr(d, index)) return set(0, 0); // vpmu_do_rdmsr with vPMU off
  return 'gp';
}

/** guest_wrmsr then write_msr of hi:lo. */
function writeMsr(d: PvDomain, index: number, lo: number, hi: number): MsrOutcome {
  const cpu = d.cpu;
  // guest_wrmsr.
  if (isVmceMsr(index)) return vmceWrmsr(d, index, lo, hi);
  switch (index) {
    case PLATFORM_ID: case PLATFORM_INFO: return 'gp'; // read-only
    case UCODE_REV: return !amd(d) && lo === 0 && hi === 0 ? 'done' : 'gp'; // Intel's "write 0 first"
    case MISC_FEATURES: return lo === 0 && hi === 0 ? 'done' : 'gp'; // no CPUID faulting to enable
    case PERF_CTL: return amd(d) ? 'gp' : 'done';
    case TSC_AUX:
      if (!cpu.features.has('rdtscp') || hi !== 0) return 'gp';
      cpu.msrLo[Msr.TscAux] = lo; cpu.msrHi[Msr.TscAux] = 0;
      return 'done';
    case DE_CFG: return amd(d) ? 'done' : 'gp';
    default: break;
  }
  if (index >= 0x40000000 && index <= 0x400002ff) {
    return index === 0x40000000 ? cpu.modelError('Xen model: WRMSR of the hypercall page MSR is not modelled') : 'gp';
  }
  // write_msr's own switch.
  switch (index) {
    case FS_BASE: case GS_BASE: case SHADOW_GS:
      if (!canonical(hi)) return 'gp';
      if (index === FS_BASE) { cpu.segBaseLo[4] = lo; cpu.segBaseHi[4] = hi; cpu.segmentBaseChanged(4); }
      else if ((index === GS_BASE) !== d.fredMode) { cpu.segBaseLo[5] = lo; cpu.segBaseHi[5] = hi; cpu.segmentBaseChanged(5); }
      else { cpu.msrLo[Msr.KernelGsBase] = lo; cpu.msrHi[Msr.KernelGsBase] = hi; }
      return 'done';
    case EFER: return hi === 0 && lo === (cpu.efer & 0xd01) ? 'done' : 'gp';
    case K8_HWCR: return amd(d) ? 'done' : 'gp';
    case NB_CFG: return amd(d) ? 'done' : 'gp'; // dropped: not a pinned hardware-domain vCPU
    // Any other value is "Domain attempted WRMSR" and dropped too.
    case MISC_ENABLE: return hostRdmsr(d, index) ? 'done' : 'gp';
    default: break;
  }
  if (K8_PSTATE.includes(index)) return amd(d) ? 'done' : 'gp';
  if (isPmuMsr(d, index)) return 'done'; // vpmu_do_wrmsr with vPMU off
  return 'gp';
}

/** The MSRs guest_rdmsr/guest_wrmsr hand to vMCE: P5_MC_ADDR/TYPE, MCG_CAP..MCG_CTL,
 *  MC0_CTL2..MC31_CTL2, MC0_CTL..MC31_MISC, MCG_EXT_CTL. */
function isVmceMsr(index: number): boolean {
  return index === P5_MC_ADDR || index === P5_MC_TYPE || (index >= MCG_CAP && index <= MCG_CTL) ||
    (index >= MC0_CTL2 && index < MC0_CTL2 + 32) || (index >= MC0_CTL && index < MC0_CTL + 128) || index === MCG_EXT_CTL;
}

function mcgCap(d: PvDomain): number { return amd(d) ? AMD_MCG_CAP : INTEL_MCG_CAP; }

/** mce_bank_msr: a bank MSR of the guest's banks, or Intel's MCi_CTL2 of one, or
 *  P5_MC_ADDR/TYPE on Intel. */
function bankMsr(d: PvDomain, index: number): boolean {
  const n = mcgCap(d) & 0xff;
  if (index >= MC0_CTL && index < MC0_CTL + 4 * n) return true;
  return !amd(d) && ((index >= MC0_CTL2 && index < MC0_CTL2 + n) || index === P5_MC_ADDR || index === P5_MC_TYPE);
}

/** vmce_rdmsr: every index reads (0 where vMCE does not handle it) but MCG_EXT_CTL without LMCE. */
function vmceRdmsr(d: PvDomain, index: number, out: [number, number]): MsrOutcome {
  const m = d.state.vmce;
  out[0] = 0; out[1] = 0;
  if (index === MCG_EXT_CTL) return 'gp';
  if (index === MCG_STATUS) { out[0] = m.mcgStatusLo; out[1] = m.mcgStatusHi; }
  else if (index === MCG_CAP) out[0] = mcgCap(d);
  else if (index === MCG_CTL) { if ((mcgCap(d) & MCG_CTL_P) !== 0) { out[0] = -1; out[1] = -1; } }
  else if (bankMsr(d, index) && index >= MC0_CTL && ((index - MC0_CTL) & 3) === 0) { out[0] = -1; out[1] = -1; } // MCi_CTL: all 1s
  else if (bankMsr(d, index) && index >= MC0_CTL2 && index < MC0_CTL2 + GUEST_MC_BANKS) {
    out[0] = m.ctl2Lo[index - MC0_CTL2]; out[1] = m.ctl2Hi[index - MC0_CTL2];
  }
  // MCi_STATUS/ADDR/MISC, P5_MC_ADDR/TYPE (bank 1's ADDR and STATUS on Intel): nothing injected, 0.
  return 'done';
}

/** vmce_wrmsr: MCG_CTL, MCG_CAP and MCi_CTL ignore writes; STATUS/ADDR/MISC take only 0. */
function vmceWrmsr(d: PvDomain, index: number, lo: number, hi: number): MsrOutcome {
  const m = d.state.vmce;
  if (index === MCG_EXT_CTL) return 'gp';
  if (index === MCG_STATUS) {
    m.mcgStatusLo = lo; m.mcgStatusHi = hi;
    return 'done';
  }
  if (index === MCG_CAP || index === MCG_CTL || !bankMsr(d, index)) return 'done';
  if (index >= MC0_CTL) return ((index - MC0_CTL) & 3) === 0 || (lo === 0 && hi === 0) ? 'done' : 'gp';
  if (index >= MC0_CTL2 && index < MC0_CTL2 + GUEST_MC_BANKS) { m.ctl2Lo[index - MC0_CTL2] = lo; m.ctl2Hi[index - MC0_CTL2] = hi; }
  return 'done'; // vmce_intel_wrmsr: P5_MC_ADDR/TYPE ignored
}

/** The counter MSRs read_msr/write_msr give vPMU: Intel's P6/core ones, AMD's K7 and family 15h ones. */
function isPmuMsr(d: PvDomain, index: number): boolean {
  if (amd(d)) return (index >= 0xc0010000 && index <= 0xc0010007) || (index >= 0xc0010200 && index <= 0xc001020b);
  return (index >= 0xc1 && index <= 0xc8) || (index >= 0x186 && index <= 0x18d) || (index >= 0x309 && index <= 0x30b) || (index >= 0x38d && index <= 0x390);
}
