/* Shared by main.c and code.S. */
#ifndef COMPILED_CODE_H
#define COMPILED_CODE_H

#define RFLAGS_TF       0x100
#define RFLAGS_RF_BIT   16
#define APIC_EOI_ADDR   0xfee000b0
#define VEC_IRQ         0x50    /* the vector `--inject irq:0x50@N` raises */
#define LOOP_ITERS      40      /* iterations of each hot loop: well past the compile threshold (16) */
#define PAGES           16      /* pages of the paged loops (WP, NXE) */
#define PAGE_STEP       512     /* bytes between accesses there: eight per page */

#endif
