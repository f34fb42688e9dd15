/*
 * linux-entry: the user address space of the mix benchmark (LINUX_MIX_BENCH; mix.h), and the
 * page faults the kernel resolves in it.
 *
 * - The chase region: MIX_CHASE_PAGES pages at MIX_CHASE_BASE, mapped with 4 KiB pages (SDM
 *   Vol. 3A §4.5: PML4E -> PDPTE -> PDE -> PTE), present, writable, user, before the program
 *   runs (Linux's MAP_POPULATE), onto a 32 MiB array of the kernel.
 * - The file mapping: MIX_FILE_PAGES pages at MIX_FILE_BASE, read-only, none present at first.
 *   A read from user mode of one of them is a #PF with error code U = 1 and P, W, RSVD, I/D 0 (§4.7);
 *   the kernel resolves it as Linux's do_user_addr_fault -> handle_mm_fault -> filemap_fault
 *   does for a page found in the page cache: it installs the PTE of that page and returns to the
 *   faulting instruction, which reads again and finds it (§4.10.2.3: a not-present entry is not
 *   cached, so no flush is needed for the new one).  The mapping keeps one page resident: the
 *   page mapped before is unmapped first (Linux's reclaim: zap the PTE, then flush the one
 *   translation, flush_tlb_one_user = INVLPG: §4.10.4.1), so each read of another page faults.
 * Any other fault is not this handler's: the kernel delivers it to the program as before.
 */
#include "linux.h"
#include "mix.h"

#ifdef LINUX_MIX_BENCH

#define PF_PROT  (1UL << 0)
#define PF_WRITE (1UL << 1)
#define PF_USER  (1UL << 2)
#define PF_RSVD  (1UL << 3)
#define PF_INSTR (1UL << 4)

#define NOT_MAPPED ((u64)-1)

struct mix_stats mix_stats;

static u64 mix_pdpt[512] __attribute__((aligned(4096)));
static u64 chase_pd[512] __attribute__((aligned(4096)));
static u64 chase_pt[MIX_CHASE_PAGES / 512][512] __attribute__((aligned(4096)));
static u64 file_pd[512] __attribute__((aligned(4096)));
static u64 file_pt[512] __attribute__((aligned(4096)));
static u8 chase_frames[MIX_CHASE_PAGES][PAGE_SIZE] __attribute__((aligned(4096)));
static u64 page_cache[MIX_FILE_PAGES][PAGE_SIZE / 8] __attribute__((aligned(4096)));
static u64 resident = NOT_MAPPED;

_Static_assert(MIX_CHASE_PAGES % 512 == 0 && MIX_CHASE_PAGES <= 512 * 512, "the chase region: whole page tables in one PD");
_Static_assert(MIX_FILE_PAGES >= 2 && MIX_FILE_PAGES <= 512, "the file mapping: one page table, and a read of the next page faults");

void mix_mm_init(void)
{
    const u64 table = PTE_P | PTE_W | PTE_U;

    boot_pml4[MIX_PML4_SLOT] = (u64)(uintptr_t)mix_pdpt | table;
    mix_pdpt[0] = (u64)(uintptr_t)chase_pd | table;
    mix_pdpt[1] = (u64)(uintptr_t)file_pd | table;
    for (u64 t = 0; t < MIX_CHASE_PAGES / 512; t++) {
        chase_pd[t] = (u64)(uintptr_t)chase_pt[t] | table;
        for (u64 i = 0; i < 512; i++)
            chase_pt[t][i] = (u64)(uintptr_t)chase_frames[t * 512 + i] | table;
    }
    file_pd[0] = (u64)(uintptr_t)file_pt | table;
    for (u64 k = 0; k < MIX_FILE_PAGES; k++)
        for (u64 j = 0; j < PAGE_SIZE / 8; j++)
            page_cache[k][j] = MIX_FILE_WORD(k, j);
    write_cr3(read_cr3());
}

/* A fault at `address` with `error` from user mode: true if it was a read of a file page not
 * mapped, now mapped (return to the faulting instruction), false if not this handler's. */
bool mix_handle_fault(u64 address, u64 error)
{
    u64 page = (address - MIX_FILE_BASE) / PAGE_SIZE;

    if (address < MIX_FILE_BASE || page >= MIX_FILE_PAGES || (error & (PF_PROT | PF_WRITE | PF_RSVD | PF_INSTR)) || !(error & PF_USER))
        return false;
    if (resident != NOT_MAPPED) {
        file_pt[resident] = 0;
        invlpg((const void *)(uintptr_t)(MIX_FILE_BASE + resident * PAGE_SIZE));
        mix_stats.evictions++;
    }
    file_pt[page] = (u64)(uintptr_t)page_cache[page] | PTE_P | PTE_U;
    resident = page;
    mix_stats.faults++;
    return true;
}

#endif /* LINUX_MIX_BENCH */
