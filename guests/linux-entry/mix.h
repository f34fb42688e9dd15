/*
 * linux-entry: the kernel-heavy mix of the benchmark (LINUX_MIX_BENCH = N; issue 18), its
 * proportions in one place.  bench/mix-bench.ts times it and test/linux-entry-mix.test.ts reads
 * these definitions to check the guest's counts against them.
 *
 * One iteration of the user program (user.c prog_mix) does, in this order:
 *   MIX_GETPID        getpid() round trips by SYSCALL (SYSRET, or ERETU under FRED);
 *   MIX_FAULTS        reads of a page of a file mapping that is not mapped: each a #PF the kernel
 *                     resolves from its page cache and returns from to the faulting read (mm.c),
 *                     unmapping the page it mapped before (a resident set of one page), so that
 *                     the next read faults again;
 *   MIX_COPY_BYTES    copied by one REP MOVSQ (each iteration counts as one instruction, as under
 *                     QEMU's -icount: src/cpu/ops/string.ts);
 *   MIX_CHASE_STEPS   loads of a pointer chase whose cycle runs through MIX_CHASE_PAGES 4 KiB pages
 *                     of a user region, one node a page, MIX_CHASE_STRIDE pages apart; the chase
 *                     goes on where the previous iteration stopped.  MIX_CHASE_PAGES is twice
 *                     Ringside's TLB (src/cpu/tlb.ts TLB_SIZE, 4096 entries, one a page), so
 *                     every step misses it.
 * and the local APIC timer, periodic every MIX_TIMER_PERIOD counts (one count per instruction of
 * virtual time on Ringside and under QEMU's -icount shift=0), interrupts the program
 * wherever it is in user mode: about one tick an iteration.
 *
 * Transitions an iteration: 2 per round trip, fault and tick (the delivery and the return), so
 * 2 * (MIX_GETPID + MIX_FAULTS + ticks); the sizes are chosen for about 200 guest instructions
 * per transition overall (bench/mix-bench.ts prints the measured figure).
 */
#ifndef LINUX_MIX_H
#define LINUX_MIX_H

#define MIX_GETPID        2
#define MIX_FAULTS        1
#define MIX_COPY_BYTES    2048
#define MIX_CHASE_STEPS   240
#define MIX_CHASE_PAGES   8192
#define MIX_CHASE_STRIDE  2731          /* odd, so the cycle visits every page */
#define MIX_TIMER_PERIOD  1600

/* The file mapping's pages (the page cache holds them all) and the word at qword j of page k. */
#define MIX_FILE_PAGES    4
#define MIX_FILE_WORD(k, j) (0xf11e000000000000UL | ((u64)(k) << 32) | (u64)(j))

/* The user regions, in PML4 slot 1 (linear 512 GiB up): the chase's pages from the first GiB,
 * the file mapping from the second. */
#define MIX_PML4_SLOT     1
#define MIX_CHASE_BASE    0x8000000000UL
#define MIX_FILE_BASE     0x8040000000UL

#define MIX_COPY_QWORDS   (MIX_COPY_BYTES / 8)

#ifndef __ASSEMBLER__
/* One node a chase page, at a different 64-byte line of each page. */
struct mix_node {
    struct mix_node *next;
    u64 value;
};
#define MIX_NODE_VALUE(p) ((u64)(p) + 1)

/* What the kernel counted (mm.c, kernel.c), for main.c's report. */
struct mix_stats {
    u64 getpid;                 /* getpid() calls */
    u64 faults;                 /* file-mapping faults resolved */
    u64 evictions;              /* pages unmapped (INVLPG) to make room */
};
extern struct mix_stats mix_stats;
void mix_mm_init(void);
bool mix_handle_fault(u64 address, u64 error);
#endif

#endif /* LINUX_MIX_H */
