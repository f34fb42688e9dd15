// Faults are values: an instruction that faults records the exception in the CPU
// (vector, error code) and unwinds to the run loop with this one preallocated
// sentinel, which never leaves the CPU. The run loop then delivers the exception
// through the IDT (or FRED) like any other event.

export const FAULT: { readonly fault: true } = Object.freeze({ fault: true });

/** Thrown by HLT and by anything that ends the run from inside an instruction. */
export const STOP: { readonly stop: true } = Object.freeze({ stop: true });

/** The #DF classes of SDM Vol. 3 §6.15, Interrupt 8, Table 6-4 and 6-5. */
export const enum FaultClass {
  Benign = 0,
  Contributory = 1,
  PageFault = 2,
  DoubleFault = 3,
}

/** Table 6-4: contributory #DE, #TS, #NP, #SS, #GP, #CP; page faults #PF, #VE; all else benign.
 *  (#CP and #VE cannot arise in the model; they are classed as the SDM says.) */
export function faultClass(vector: number): FaultClass {
  switch (vector) {
    case 0: case 10: case 11: case 12: case 13: case 21: return FaultClass.Contributory;
    case 14: case 20: return FaultClass.PageFault;
    case 8: return FaultClass.DoubleFault;
    default: return FaultClass.Benign;
  }
}

/** Table 6-5: does a second exception during delivery of the first become #DF? */
export function makesDoubleFault(first: FaultClass, second: FaultClass): boolean {
  if (first === FaultClass.Contributory) return second === FaultClass.Contributory;
  if (first === FaultClass.PageFault) return second === FaultClass.Contributory || second === FaultClass.PageFault;
  return false;
}
