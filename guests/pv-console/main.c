/*
 * pv-console: a domU's PV console ring as xenconsoled serves it (tools/console/daemon/io.c at
 * c447b7308b; the ring is struct xencons_interface, xen/include/public/io/console.h).
 *
 * buffer_append: on an event on its port xenconsoled snapshots out_cons and out_prod, takes
 * all out_prod - out_cons bytes (none if that is 0 or more than the ring's 2048), stores
 * out_cons = out_prod and notifies the guest's port (xenevtchn_notify). It runs in dom0, not
 * while the guest's vCPU does: a guest that writes more than 2048 bytes before it stops,
 * announcing each line, finds the ring full and waits. Here it waits with SCHEDOP_block (xen/common/sched/core.c:
 * vcpu_block_enable_events unmasks events and sleeps until one is pending) with its console
 * port unmasked, so xenconsoled's notification wakes it through the event callback.
 *
 * handle_tty_read: console input goes into in[] at in_prod, at most 80 bytes per read of the
 * pty and never more than the ring's free space (1024 - (in_prod - in_cons)); in_prod is
 * published and the port notified. The guest reads in[in_cons++ & 1023] and publishes
 * in_cons (as Linux's hvc_xen does). Without input, a few yields find the ring empty.
 */
#include "ringside-pv.h"

#define LINES 48
#define LINE_BYTES 64

static struct xencons_interface *ring;
static u32 port;
static u64 waits, woken_by_event;

/* Sleep until an event arrives (xenconsoled's notification); events masked again after. */
static void wait_event(void)
{
    waits++;
    if (pv_evtchn_wait(port))
        woken_by_event++;
}

static void yesno(const char *name, bool v)
{
    printk("%s: %s\n", name, v ? "yes" : "no");
    if (!v)
        test_fail("%s", name);
}

static void fill(void)
{
    u32 prod = ring->out_prod;
    u64 full = 0;
    bool within = true, advanced = true;

    for (unsigned int l = 0; l < LINES; l++) {
        char line[LINE_BYTES + 1];
        snprintk(line, sizeof(line), "fill %02u: ", l);
        for (unsigned int k = strlen(line); k < LINE_BYTES - 1; k++)
            line[k] = "abcdefghijklmnopqrstuvwxyz"[(k + l) % 26];
        line[LINE_BYTES - 1] = '\n';
        for (unsigned int k = 0; k < LINE_BYTES; k++) {
            while (prod - ring->out_cons >= sizeof(ring->out)) {
                u32 cons = ring->out_cons;
                full++;
                barrier();
                ring->out_prod = prod;
                pv_evtchn_notify(port);
                wait_event();
                if (ring->out_cons == cons)
                    advanced = false;
                if (prod - ring->out_cons > sizeof(ring->out))
                    within = false;
            }
            ring->out[prod++ & (sizeof(ring->out) - 1)] = line[k];
        }
        /* Each line published and announced, as a console driver does. */
        barrier();
        ring->out_prod = prod;
        pv_evtchn_notify(port);
    }
    barrier();
    ring->out_prod = prod;
    pv_evtchn_notify(port);
    while (ring->out_cons != prod)
        wait_event();
    yesno("out.ring_was_full", full > 0);
    yesno("out.used_within_2048", within);
    yesno("out.cons_advanced_on_wake", advanced);
    yesno("out.woken_by_event", waits > 0 && woken_by_event == waits);
}

static void input(void)
{
    char got[256];
    unsigned int n = 0;

    for (int k = 0; k < 4 && ring->in_cons == ring->in_prod; k++)
        hypercall_sched_op(SCHEDOP_yield, NULL);
    if (ring->in_cons == ring->in_prod) {
        printk("input: none\n");
        return;
    }
    for (;;) {
        u32 cons = ring->in_cons;
        if (cons == ring->in_prod) {
            wait_event();
            continue;
        }
        char c = ring->in[cons & (sizeof(ring->in) - 1)];
        barrier();
        ring->in_cons = cons + 1;
        if (c == '\n' || n == sizeof(got) - 1)
            break;
        got[n++] = c;
    }
    pv_evtchn_notify(port);
    got[n] = 0;
    printk("input: %s\n", got);
    printk("input.bytes: %u\n", n);
}

void test_main(void)
{
    ring = (struct xencons_interface *)(uintptr_t)(M2P[pv_start_info->console.domU.mfn] << 12);
    port = pv_start_info->console.domU.evtchn;

    pv_upcall_install();
    pv_evtchn_ack(port);
    pv_port_set(pv_evtchn_mask, port, false);

    fill();
    input();
}
