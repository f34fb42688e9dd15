/*
 * Event helpers: the library's event callback, a port's acknowledge and wait as a
 * frontend of a backend's ring uses them, and Xen system time as a guest computes it
 * from vcpu_time_info (public/xen.h: system_time + ((tsc - tsc_timestamp) << tsc_shift) *
 * tsc_to_system_mul >> 32, read between two equal even versions).
 */
#include "ringside-pv.h"

extern void pv_upcall_entry(void);

void pv_upcall_install(void)
{
    struct callback_register cb = { .type = CALLBACKTYPE_event, .flags = 0, .address = (u64)(uintptr_t)pv_upcall_entry };
    long rc = hypercall_callback_op(CALLBACKOP_register, &cb);
    if (rc != 0)
        test_abort("callback_op(register event): %ld", rc);
}

void pv_evtchn_ack(u32 port)
{
    pv_port_set(pv_evtchn_pending, port, false);
    pv_vcpu0->evtchn_pending_sel = 0;
    pv_vcpu0->evtchn_upcall_pending = 0;
}

bool pv_evtchn_wait(u32 port)
{
    u64 before = pv_upcall_count;

    hypercall_sched_op(SCHEDOP_block, NULL);
    pv_vcpu0->evtchn_upcall_mask = 1;
    bool woken = pv_upcall_count != before;
    pv_evtchn_ack(port);
    return woken;
}

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

u64 pv_system_time(void)
{
    volatile struct vcpu_time_info *t = (volatile struct vcpu_time_info *)pv_vcpu0->time;
    u32 version;
    u64 ns;
    do {
        version = t->version;
        barrier();
        u64 delta = rdtsc() - t->tsc_timestamp;
        if (t->tsc_shift < 0)
            delta >>= -t->tsc_shift;
        else
            delta <<= t->tsc_shift;
        ns = t->system_time + (u64)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
        barrier();
    } while ((version & 1) != 0 || version != t->version);
    return ns;
}
