// CPUID (SDM Vol. 2 CPUID): a coherent CPU per model that advertises nothing the
// model lacks — no x87, no SSE, no feature whose semantics are missing.

import type { CpuModelOptions } from './model.js';
import { MAXPHYADDR, LINEAR_BITS } from './model.js';

/** Features the decoder gates on (opcodes.ts `feature`), derived from the leaves below. */
export function featureSet(model: CpuModelOptions): Set<string> {
  const f = new Set<string>(['cx8', 'cmov', 'cx16', 'popcnt', 'lahf64', 'lzcnt', 'rdtscp', 'nx', 'lm', 'syscall', 'sep', 'tsc', 'msr',
    // Paging (SDM Vol. 3A §4.1.4): 4-MByte pages (PSE), global pages, PCIDs and INVPCID, SMEP, SMAP, 5-level paging.
    'pse', 'pge', 'pcid', 'invpcid', 'smep', 'smap', 'la57', 'page1gb',
    // The machine-check MSRs and CR4.MCE (SDM Vol. 3B §16.2); no machine check is ever signalled.
    'mce', 'mca']);
  f.add('fsgsbase');
  f.add('rdpid');
  if (model.fred) { f.add('fred'); f.add('lkgs'); }
  return f;
}

/** Four 32-bit results for leaf/subleaf. */
const MAX_BASIC = 7;
const MAX_EXTENDED = 0x80000008;

export function cpuid(model: CpuModelOptions, leaf: number, subleaf: number, out: Int32Array): void {
  out.fill(0);
  const vendor = model.vendor === 'amd' ? 'AuthenticAMD' : 'GenuineIntel';
  let l = leaf >>> 0;
  // Intel: a leaf above the maximum basic or extended leaf returns the highest basic
  // leaf's data (SDM CPUID, "INPUT EAX = 0"); AMD returns zeros.
  if ((l > MAX_BASIC && l < 0x80000000) || l > MAX_EXTENDED) {
    if (model.vendor === 'amd') return;
    l = MAX_BASIC;
  }
  switch (l) {
    case 0:
      out[0] = MAX_BASIC;
      out[1] = str4(vendor, 0); out[3] = str4(vendor, 4); out[2] = str4(vendor, 8);
      return;
    case 1:
      // Family 6, model 0x8f (a Sapphire Rapids-like signature), stepping 0.
      out[0] = (6 << 8) | (0xf << 4) | (0x8 << 16);
      out[1] = 0;
      // EBX[31:24]: the initial APIC ID, 0.
      // ECX: CX16 (13), PCID (17), x2APIC (21), POPCNT (23), TSC-deadline (24). EDX: DE (2), PSE (3), TSC (4),
      // MSR (5), PAE (6), MCE (7), CX8 (8), APIC (9; cleared while the APIC is disabled, ops/system.ts), SEP (11),
      // PGE (13), MCA (14), CMOV (15), PSE-36 (17). The local APIC is lapic.ts, machine checks machine-check.ts.
      out[2] = (1 << 13) | (1 << 17) | (1 << 21) | (1 << 23) | (1 << 24);
      out[3] = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 11) |
        (1 << 13) | (1 << 14) | (1 << 15) | (1 << 17);
      return;
    case 7:
      if (subleaf === 0) {
        out[0] = 1; // the highest subleaf
        // EBX: FSGSBASE (0), SMEP (7), INVPCID (10), SMAP (20). ECX: UMIP (2), LA57 (16), RDPID (22).
        out[1] = (1 << 0) | (1 << 7) | (1 << 10) | (1 << 20);
        out[2] = (1 << 2) | (1 << 16) | (1 << 22);
      }
      if (subleaf === 1 && model.fred) out[0] = (1 << 17) | (1 << 18); // FRED, LKGS
      return;
    case 0x80000000:
      out[0] = MAX_EXTENDED;
      if (model.vendor === 'amd') { out[1] = str4(vendor, 0); out[3] = str4(vendor, 4); out[2] = str4(vendor, 8); }
      return;
    case 0x80000001:
      // ECX: LAHF/SAHF in 64-bit mode (0), LZCNT (5). EDX: SYSCALL (11), NX (20), 1-GByte pages (26),
      // RDTSCP (27), LM (29).
      out[2] = (1 << 0) | (1 << 5);
      out[3] = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
      return;
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const brand = 'Ringside x86-64 model'.padEnd(48, '\0');
      const base = (leaf - 0x80000002) * 16;
      for (let k = 0; k < 4; k++) out[k] = str4(brand, base + 4 * k);
      return;
    }
    case 0x80000008:
      out[0] = MAXPHYADDR | (LINEAR_BITS << 8);
      return;
    default:
      return;
  }
}

function str4(s: string, at: number): number {
  return (s.charCodeAt(at) | (s.charCodeAt(at + 1) << 8) | (s.charCodeAt(at + 2) << 16) | (s.charCodeAt(at + 3) << 24)) | 0;
}
