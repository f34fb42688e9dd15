// The TLB's shape: Cpu holds its arrays, paging.ts fills them, delivery and descriptor
// code pick a tag array by kind. Its own module so that those modules need not import
// cpu.ts, which imports them.

const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/** TLB tag arrays, one per access kind and privilege. */
export const enum TlbKind { ReadS = 0, WriteS = 1, FetchS = 2, ReadU = 3, WriteU = 4, FetchU = 5 }
export const TLB_KINDS = 6;
/** The kinds that let a store through (a mask of 1 << TlbKind). */
export const WRITE_KINDS = (1 << TlbKind.WriteS) | (1 << TlbKind.WriteU);
