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

extern const char pvb_syscall_entry[], pvb_upcall_entry[];
extern u64 pvb_count, pvb_pid, pvb_upcalls, pvb_port;
u64 pvb_user_loop(u64 n);
u64 pvb_hypercalls(u64 n);
u64 pvb_events(u64 n, u32 *port);

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

    event_round_trips(PV_BENCH_EVENTS);
}
