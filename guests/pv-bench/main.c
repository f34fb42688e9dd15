/*
 * pv-bench: the round trips a 64-bit PV guest makes most, in tight loops, for
 * `npm run bench` (bench/xen-bench.ts). Not a conformance test: it checks only that each
 * loop did what it counts, so that the figures are for the path they name.
 *
 * - PV_BENCH_SYSCALLS (default 1000) system calls from guest user mode: SYSCALL enters
 *   Xen's lstar_enter, switch_to_kernel bounces to the guest kernel's syscall callback
 *   (toggle_guest_mode, create_bounce_frame; Xen SYSRETs to the callback), the callback
 *   returns with HYPERVISOR_iret and VGCF_in_syscall (do_iret toggles back to user mode
 *   and Xen SYSRETs to the instruction after the SYSCALL). Four CPU transitions a round
 *   trip: SYSCALL, SYSRET, SYSCALL, SYSRET (xen-pv-abi.md §1). The callback
 *   (loops.S) counts the calls and returns pvb_pid in %rax.
 * - PV_BENCH_HYPERCALLS (default 1000) HYPERVISOR_xen_version(XENVER_version) calls from
 *   the guest kernel through the hypercall page: SYSCALL, do_xen_version, SYSRET (two
 *   transitions); each returns major << 16 | minor (xen/common/kernel.c).
 * - PV_BENCH_EVENTS (default 1000) event-channel round trips from the guest kernel with
 *   events unmasked: EVTCHNOP_send on an IPI channel bound to vCPU 0 (bind_ipi; send ->
 *   evtchn_port_set_pending on the sender's own vCPU: xen/common/event_channel.c), Xen's
 *   exit path (test_all_events) bounces to the event callback, which clears the port and
 *   returns with HYPERVISOR_iret (do_iret; Xen leaves by IRETQ) to the instruction after
 *   the send's hypercall.
 * - PV_BENCH_PTROUNDS (default 100) rounds of what a PV kernel does to make a new
 *   page-table hierarchy live (Linux's xen_pgd_pin pattern): four pages filled as an L4 ->
 *   L3 -> L2 -> L1 with plain stores while writable (once, before the loop); each round
 *   remaps the four read-only in one multicall of update_va_mapping (the last with
 *   UVMF_TLB_FLUSH|UVMF_ALL), pins the L4 with MMUEXT_PIN_L4_TABLE (Xen validates all four
 *   levels: get_page_from_l[1-4]e for every present entry, xen/arch/x86/mm.c), rewrites
 *   PV_BENCH_PT_UPDATES (64) entries of the pinned L1 with one mmu_update
 *   (MMU_NORMAL_PT_UPDATE: mod_l1_entry releases the old frame and validates the new),
 *   unpins (devalidation) and remaps the four writable. Ten CPU transitions a round.
 *
 * The harness builds the image with N and with 0 of each and subtracts, so boot and
 * shutdown drop out; both loops always run (0 times or more) so the images differ only
 * in their counts.
 */
#include "ringside-pv.h"

#ifndef PV_BENCH_SYSCALLS
#define PV_BENCH_SYSCALLS 1000
#endif
#ifndef PV_BENCH_HYPERCALLS
#define PV_BENCH_HYPERCALLS 1000
#endif
#ifndef PV_BENCH_EVENTS
#define PV_BENCH_EVENTS 1000
#endif
#ifndef PV_BENCH_PTROUNDS
#define PV_BENCH_PTROUNDS 100
#endif
#define PV_BENCH_PT_UPDATES 64

extern const char pvb_syscall_entry[], pvb_upcall_entry[];
extern u64 pvb_count, pvb_pid, pvb_upcalls, pvb_port;
u64 pvb_user_loop(u64 n);
u64 pvb_hypercalls(u64 n);
u64 pvb_events(u64 n, u32 *port);

#define __HYPERVISOR_mmu_update 1
#define __HYPERVISOR_multicall  13
#define MMUEXT_PIN_L4_TABLE 3
#define MMUEXT_UNPIN_TABLE  4
#define UVMF_TLB_FLUSH 1
#define UVMF_ALL       4
#define PTE_P  0x1UL
#define PTE_RW 0x2UL
#define PTE_US 0x4UL
#define PTE_A  0x20UL
#define PTE_D  0x40UL

struct mmu_update { u64 ptr, val; };
struct mmuext_op { u32 cmd, pad; u64 arg1, arg2; };
struct multicall_entry { u64 op, result, args[6]; };

static u8 pt[4][4096] __attribute__((aligned(4096)));      /* L4, L3, L2, L1 */
static u8 data[8][4096] __attribute__((aligned(4096)));    /* what the L1 maps */
static struct mmu_update updates[PV_BENCH_PT_UPDATES];
static struct multicall_entry remap[4];

static long remap_all(u64 rw)
{
    for (int k = 0; k < 4; k++)
        remap[k] = (struct multicall_entry){ .op = __HYPERVISOR_update_va_mapping, .args = {
            (u64)(uintptr_t)pt[k], (pv_mfn(pt[k]) << 12) | PTE_P | PTE_A | (rw ? PTE_RW | PTE_D : 0),
            k == 3 ? UVMF_TLB_FLUSH | UVMF_ALL : 0 } };
    long rc = _hypercall2(__HYPERVISOR_multicall, remap, 4);
    for (int k = 0; rc == 0 && k < 4; k++)
        rc = (long)remap[k].result;
    return rc;
}

static long pin(u32 cmd)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = pv_mfn(pt[0]) };
    return hypercall_mmuext_op(&op, 1);
}

static void page_table_rounds(u64 n)
{
    volatile u64 *l4 = (volatile u64 *)pt[0], *l3 = (volatile u64 *)pt[1], *l2 = (volatile u64 *)pt[2], *l1 = (volatile u64 *)pt[3];
    const u64 upper = PTE_P | PTE_RW | PTE_US | PTE_A;

    l4[0] = (pv_mfn(pt[1]) << 12) | upper;
    l3[0] = (pv_mfn(pt[2]) << 12) | upper;
    l2[0] = (pv_mfn(pt[3]) << 12) | upper;
    for (int i = 0; i < PV_BENCH_PT_UPDATES; i++)
        l1[i] = (pv_mfn(data[i % 8]) << 12) | PTE_P | PTE_RW | PTE_A | PTE_D;
    u64 done = 0;
    for (u64 r = 0; r < n; r++) {
        long rc = remap_all(0);
        if (rc == 0)
            rc = pin(MMUEXT_PIN_L4_TABLE);
        /* Each round maps each entry to another data page than the last (no fast path). */
        for (int i = 0; rc == 0 && i < PV_BENCH_PT_UPDATES; i++)
            updates[i] = (struct mmu_update){ (pv_mfn(pt[3]) << 12) + i * 8,
                                              (pv_mfn(data[(i + r + 1) % 8]) << 12) | PTE_P | PTE_RW | PTE_A | PTE_D };
        u32 count = 0;
        if (rc == 0)
            rc = _hypercall4(__HYPERVISOR_mmu_update, updates, PV_BENCH_PT_UPDATES, &count, 0x7ff0);
        done += count;
        if (rc == 0)
            rc = pin(MMUEXT_UNPIN_TABLE);
        if (rc == 0)
            rc = remap_all(1);
        if (rc != 0)
            test_fail("page-table round %lu: %ld", r, rc);
    }
    printk("pvbench.pagetables.rounds: %lu\n", n);
    printk("pvbench.pagetables.updates: %lu\n", done);
    if (done != n * PV_BENCH_PT_UPDATES)
        test_fail("%lu mmu_update entries done for %lu rounds", done, n);
}

static void event_round_trips(u64 n)
{
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    long rc = hypercall_event_channel_op(EVTCHNOP_bind_ipi, &ipi);

    if (rc)
        test_abort("EVTCHNOP_bind_ipi: %ld", rc);
    pvb_port = ipi.port;
    struct callback_register cb = { .type = CALLBACKTYPE_event, .address = (u64)(uintptr_t)pvb_upcall_entry };
    rc = hypercall_callback_op(CALLBACKOP_register, &cb);
    if (rc)
        test_abort("callback_op(register, event): %ld", rc);
    pv_evtchn_mask[ipi.port / 64] &= ~(1ull << (ipi.port % 64));
    u32 port = ipi.port;
    pv_vcpu0->evtchn_upcall_mask = 0;
    u64 upcalls = pvb_events(n, &port);
    pv_vcpu0->evtchn_upcall_mask = 1;
    printk("pvbench.events.round_trips: %lu\n", n);
    printk("pvbench.events.upcalls: %lu\n", upcalls);
    if (upcalls != n)
        test_fail("%lu upcalls for %lu sends", upcalls, n);
}

static void set_syscall_callback(const char *entry)
{
    struct callback_register cb = { .type = CALLBACKTYPE_syscall, .flags = CALLBACKF_mask_events,
                                    .address = (u64)(uintptr_t)entry };
    long rc = hypercall_callback_op(CALLBACKOP_register, &cb);

    if (rc)
        test_abort("callback_op(register, syscall): %ld", rc);
}

void test_main(void)
{
    const u64 n = PV_BENCH_SYSCALLS, h = PV_BENCH_HYPERCALLS;

    pvb_pid = 0x5a5a;
    set_syscall_callback(pvb_syscall_entry);
    u64 got = pv_exec_user(pvb_user_loop, n);
    set_syscall_callback(pv_syscall_entry);
    printk("pvbench.syscall.round_trips: %lu\n", n);
    printk("pvbench.syscall.kernel_count: %lu\n", pvb_count);
    printk("pvbench.syscall.result: 0x%lx\n", got);
    if (pvb_count != n)
        test_fail("the kernel counted %lu system calls, not %lu", pvb_count, n);
    if (got != (n ? pvb_pid : 0))
        test_fail("user mode got 0x%lx from the last system call, not 0x%lx", got, pvb_pid);

    long version = hypercall_xen_version(0 /* XENVER_version */, NULL);
    u64 last = pvb_hypercalls(h);
    printk("pvbench.hypercall.round_trips: %lu\n", h);
    printk("pvbench.hypercall.result_is_version: %d\n", last == (h ? (u64)version : 0));
    if (last != (h ? (u64)version : 0))
        test_fail("the last xen_version returned 0x%lx, not 0x%lx", last, (u64)version);

    page_table_rounds(PV_BENCH_PTROUNDS);
    event_round_trips(PV_BENCH_EVENTS);
}
