/*
 * pv-timer: Xen's time and timers for a PV vCPU (xen/arch/x86/time.c, common/sched/core.c,
 * common/domain.c's VCPUOP timers, common/timer.c; at 4.17 and today, c447b7308b).
 *
 * vcpu_time_info (in vcpu_info) is written with its version odd while it changes, so a
 * reader sees an even version around consistent fields; system time = system_time +
 * ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32, in ns, and never goes
 * back. shared_info's wall clock (wc_version even, wc_sec) is set when the domain is built.
 * Times are printed only as relations.
 *
 * do_set_timer_op takes an absolute system time and always returns 0: 0 stops the
 * single-shot timer, a deadline already passed fires at once (the timer softirq runs on the
 * way out, before events), and the expiry sends VIRQ_TIMER. VCPUOP_set_singleshot_timer
 * with a deadline in the past sends VIRQ_TIMER at once. The periodic timer (10 ms by
 * default) is stopped with VCPUOP_stop_periodic_timer first, so that nothing else raises
 * VIRQ_TIMER; VCPUOP_set_periodic_timer refuses a period under 1 ms (-EINVAL), and a
 * running periodic timer raises VIRQ_TIMER while the vCPU runs.
 *
 * SCHEDOP_block (vcpu_block_enable_events) clears evtchn_upcall_mask and sleeps until an
 * event: the single-shot timer's VIRQ_TIMER wakes it, and the upcall is delivered as the
 * hypercall returns. SCHEDOP_poll (do_poll): more than 128 ports -EINVAL, an unreadable
 * port list -EFAULT, a port that is not valid -EINVAL; it returns 0 at once when a listed
 * port is pending, else sleeps until a listed port is raised (even a masked one:
 * evtchn_check_pollers) or the absolute timeout passes (then nothing is raised); the
 * upcall mask is left as it is.
 *
 * Xen 3.0.4 (XENVER_version 3.0) had no VCPUOP timers: they came in 3.1 (public/vcpu.h
 * stops at sub-op 5 in 3.0.4-branched; do_vcpu_op's default -ENOSYS), and the periodic
 * timer cannot be stopped there, so after the time checks the guest checks the -ENOSYS and
 * the timer parts are not applicable on Xen 3.0.  Xen 3.1.1 has them.
 */
#include "ringside-pv.h"

#define MS 1000000ull

static void show(const char *name, long got, long want)
{
    printk("%s: %ld\n", name, got);
    if (got != want)
        test_fail("%s: %ld, expected %ld", name, got, want);
}

static void yes(const char *name, bool got)
{
    printk("%s: %s\n", name, got ? "yes" : "no");
    if (!got)
        test_fail("%s: no", name);
}

static u32 tport;

static void ack(void)
{
    pv_port_set(pv_evtchn_pending, tport, false);
    pv_vcpu0->evtchn_pending_sel = 0;
    pv_vcpu0->evtchn_upcall_pending = 0;
}

static long poll(u32 *ports, u32 n, u64 timeout)
{
    struct sched_poll p = { .ports = ports, .nr_ports = n, .timeout = timeout };
    return hypercall_sched_op(SCHEDOP_poll, &p);
}

void test_main(void)
{
    const bool xen30 = hypercall_xen_version(0 /* XENVER_version */, NULL) == 0x30000;
    show("stop_periodic_timer", hypercall_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL), xen30 ? -38 : 0);
    pv_upcall_install();

    /* ---- vcpu_time_info and the wall clock ---- */
    volatile struct vcpu_time_info *t = (volatile struct vcpu_time_info *)pv_vcpu0->time;
    yes("time_info.version_even", t->version != 0 && (t->version & 1) == 0);
    yes("time_info.mul_set", t->tsc_to_system_mul != 0);
    volatile u32 *wc = (volatile u32 *)(pv_shared_info + 0xc00);
    yes("wallclock.version_even", (wc[0] & 1) == 0);
    yes("wallclock.sec_set", wc[1] != 0);
    u64 t0 = pv_system_time();
    for (volatile int i = 0; i < 10000; i++)
        ;
    u64 t1 = pv_system_time();
    yes("system_time.later", t1 > t0);
    if (xen30) {
        printk("timers: not applicable on Xen 3.0 (no VCPUOP timers)\n");
        show("set_singleshot.xen30", hypercall_vcpu_op(VCPUOP_set_singleshot_timer, 0, NULL), -38);
        show("set_periodic.xen30", hypercall_vcpu_op(VCPUOP_set_periodic_timer, 0, NULL), -38);
        return;
    }

    struct evtchn_bind_virq v = { .virq = VIRQ_TIMER, .vcpu = 0 };
    show("bind_virq.timer", hypercall_event_channel_op(EVTCHNOP_bind_virq, &v), 0);
    tport = v.port;
    ack();

    /* ---- set_timer_op + SCHEDOP_block ---- */
    u64 before = pv_upcall_count;
    /* Values are taken before anything is printed: a console line takes real time on Xen. */
    u64 deadline = pv_system_time() + 20 * MS;
    long rc = hypercall_set_timer_op(deadline);
    bool early = pv_port_bit(pv_evtchn_pending, tport);
    show("set_timer_op", rc, 0);
    show("set_timer_op.pending_before_deadline", early, 0);
    show("block", hypercall_sched_op(SCHEDOP_block, NULL), 0);
    yes("block.woke_at_deadline", pv_system_time() >= deadline);
    show("block.upcalls", pv_upcall_count - before, 1);
    show("block.timer_pending", pv_port_bit(pv_evtchn_pending, tport), 1);
    show("block.upcall_mask_after", pv_vcpu0->evtchn_upcall_mask, 0);
    pv_vcpu0->evtchn_upcall_mask = 1;
    ack();

    /* ---- a deadline in the past fires at once ---- */
    show("set_timer_op.past", hypercall_set_timer_op(1), 0);
    show("set_timer_op.past.pending", pv_port_bit(pv_evtchn_pending, tport), 1);
    show("set_timer_op.past.upcall_pending", pv_vcpu0->evtchn_upcall_pending, 1);

    /* ---- SCHEDOP_poll ---- */
    u32 ports[2] = { tport, 0 };
    show("poll.pending_port", poll(ports, 1, 0), 0);
    show("poll.too_many_ports", poll(ports, 129, 0), -22);
    show("poll.unreadable_ports", poll((u32 *)8, 1, 0), -14);
    u32 bad[1] = { 5000 };
    show("poll.invalid_port", poll(bad, 1, 0), -22);
    ack();

    /* 0 cancels: the poll then ends at its timeout with nothing raised. */
    rc = hypercall_set_timer_op(pv_system_time() + 1 * MS);
    long rc2 = hypercall_set_timer_op(0);
    show("set_timer_op.arm", rc, 0);
    show("set_timer_op.cancel", rc2, 0);
    u64 timeout = pv_system_time() + 3 * MS;
    show("poll.timeout", poll(ports, 1, timeout), 0);
    yes("poll.timeout.woke_at_timeout", pv_system_time() >= timeout);
    show("poll.timeout.pending", pv_port_bit(pv_evtchn_pending, tport), 0);
    show("poll.timeout.upcall_mask", pv_vcpu0->evtchn_upcall_mask, 1);

    /* A masked port that is polled wakes the poll; no upcall. */
    pv_port_set(pv_evtchn_mask, tport, true);
    before = pv_upcall_count;
    u64 start = pv_system_time();
    rc = hypercall_set_timer_op(start + 1 * MS);
    rc2 = poll(ports, 1, start + 200 * MS);
    u64 woke = pv_system_time();
    show("set_timer_op.masked", rc, 0);
    show("poll.masked", rc2, 0);
    yes("poll.masked.woke_by_timer", woke >= start + 1 * MS && woke < start + 200 * MS);
    show("poll.masked.pending", pv_port_bit(pv_evtchn_pending, tport), 1);
    show("poll.masked.upcall_pending", pv_vcpu0->evtchn_upcall_pending, 0);
    show("poll.masked.upcalls", pv_upcall_count - before, 0);
    pv_port_set(pv_evtchn_mask, tport, false);
    ack();

    /* ---- VCPUOP single-shot timer ---- */
    struct { u64 timeout; u32 flags, pad; } ss = { .timeout = 1 };
    show("set_singleshot.past", hypercall_vcpu_op(VCPUOP_set_singleshot_timer, 0, &ss), 0);
    show("set_singleshot.past.pending", pv_port_bit(pv_evtchn_pending, tport), 1);
    ack();
    before = pv_upcall_count;
    ss.timeout = pv_system_time() + 1 * MS;
    rc = hypercall_vcpu_op(VCPUOP_set_singleshot_timer, 0, &ss);
    rc2 = hypercall_sched_op(SCHEDOP_block, NULL);
    show("set_singleshot", rc, 0);
    show("set_singleshot.block", rc2, 0);
    yes("set_singleshot.woke_at_deadline", pv_system_time() >= ss.timeout);
    show("set_singleshot.upcalls", pv_upcall_count - before, 1);
    pv_vcpu0->evtchn_upcall_mask = 1;
    ack();
    ss.timeout = pv_system_time() + 1 * MS;
    rc = hypercall_vcpu_op(VCPUOP_set_singleshot_timer, 0, &ss);
    rc2 = hypercall_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
    show("set_singleshot.rearm", rc, 0);
    show("stop_singleshot", rc2, 0);
    timeout = pv_system_time() + 3 * MS;
    show("stop_singleshot.poll", poll(ports, 1, timeout), 0);
    show("stop_singleshot.pending", pv_port_bit(pv_evtchn_pending, tport), 0);

    /* ---- periodic timer ---- */
    u64 period = MS / 2;
    show("set_periodic.under_1ms", hypercall_vcpu_op(VCPUOP_set_periodic_timer, 0, &period), -22);
    period = 1 * MS;
    show("set_periodic", hypercall_vcpu_op(VCPUOP_set_periodic_timer, 0, &period), 0);
    ack();
    start = pv_system_time();
    while (!pv_port_bit(pv_evtchn_pending, tport) && pv_system_time() < start + 100 * MS)
        ;
    yes("periodic.ticked_while_running", pv_port_bit(pv_evtchn_pending, tport));
    show("stop_periodic", hypercall_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL), 0);
    ack();
    show("close.timer", hypercall_event_channel_op(EVTCHNOP_close, &tport), 0);
}
