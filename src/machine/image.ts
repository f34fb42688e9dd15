// What a host needs to know of a bootable image, independent of how it was read.
// src/guest/elf.ts produces it from an ELF file; hosts consume it.

export interface ImageSegment {
  /** Physical load address (ELF p_paddr). */
  paddr: number;
  /** Virtual address (ELF p_vaddr): a bigint, since ELF64 kernels link in the top
   *  half (0xffffffff80000000...), past what a number holds exactly. */
  vaddr: bigint;
  /** Bytes present in the file (p_filesz of them). */
  data: Uint8Array;
  /** Size in memory; the tail past data.length is zero-filled. */
  memsz: number;
}

export interface ImageNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

export interface LoadableImage {
  /** Path or label, for messages. */
  label: string;
  elfClass: 32 | 64;
  /** ELF e_entry (a bigint for the same reason as vaddr). */
  entry: bigint;
  segments: ImageSegment[];
  notes: ImageNote[];
  /** The first malformed note, which ended the reading of its segment's notes; the
   *  notes before it are in `notes`. Said in the message when a needed note is missing. */
  noteProblem?: string;
}
