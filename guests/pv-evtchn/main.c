/*
 * pv-evtchn: the event-channel port table and the 2-level ABI (xen/common/event_channel.c,
 * event_2l.c, event_fifo.c's init_control checks, at 4.17 and today, c447b7308b).
 *
 * Ports are handed out lowest free first; port 0 is reserved (ECS_RESERVED: status says
 * closed, close and send are -EINVAL). A port is valid below valid_evtchns, which grows a
 * bucket of 64 at a time: status of port 64 in a fresh domain is -EINVAL. A domU's ports 1
 * and 2 are the toolstack's store and console channels, so its first free port is 3.
 *
 * evtchn_alloc_unbound (DOMID_SELF for dom and remote_dom) makes an ECS_UNBOUND port;
 * evtchn_bind_interdomain to it from the same domain (loopback) makes both ends
 * ECS_INTERDOMAIN and "conservatively" sets the new local port pending. evtchn_send on an
 * interdomain port raises the far end, on an IPI port itself, on an unbound port nothing
 * ("silently drop"), on a VIRQ port -EINVAL. evtchn_2l_set_pending: the pending bit; unless
 * the port is masked, the selector bit (port / 64) and evtchn_upcall_pending. evtchn_close of
 * one end of a loopback channel reverts the other to ECS_UNBOUND towards this domain; a
 * second close is -EINVAL. evtchn_2l_unmask re-raises the selector and the upcall only when
 * the mask bit was set and the port is pending: with evtchn_upcall_mask clear, the upcall is
 * delivered on the way out of the unmask hypercall.
 *
 * evtchn_bind_virq: virq >= NR_VIRQS (24) -EINVAL; a global VIRQ on a vCPU other than 0
 * -EINVAL; a vCPU that does not exist -ENOENT; a second binding -EEXIST. A global VIRQ
 * (VIRQ_CONSOLE) is bound by its handler, the hardware domain (dom0); another domain gets
 * -EBUSY since Xen 4.18 (4.17 accepted it). evtchn_bind_vcpu: a vCPU that does not exist
 * -ENOENT before anything else; a per-vCPU VIRQ or an IPI -EINVAL. EVTCHNOP_reset closes
 * every port: the next allocation is port 1 again (tried as dom0 only: a domU would close
 * its console channel with the rest).
 *
 * FIFO (2-level guest): init_control -ENOENT for a vCPU that does not exist, -EINVAL for an
 * offset past PAGE_SIZE - 64 or not 8-aligned, -EINVAL for a frame that is not the
 * domain's; expand_array -EOPNOTSUPP; set_priority -ENOSYS for a valid port (2-level has
 * no priorities), -EINVAL beyond. Unknown operations -ENOSYS; an unreadable argument -EFAULT.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3): the FIFO operations (11-13) came in 2013
 * and EVTCHNOP_reset (10) after 3.0.4: public/event_channel.h stops at 9 in
 * 3.0.4-branched and at 10 in 3.1.0-branched, and do_event_channel_op's default is
 * -ENOSYS.  Those parts are not applicable there; the guest checks the -ENOSYS.
 *
 * The vCPU id 1000 is one no domain has (dom0 on real Xen has several vCPUs).
 */
#include "ringside-pv.h"

#define NO_VCPU 1000

static bool dom0;
static long version;                 /* XENVER_version */

static void show(const char *name, long got, long want)
{
    printk("%s: %ld\n", name, got);
    if (got != want)
        test_fail("%s: %ld, expected %ld", name, got, want);
}

static long evtchn(u64 cmd, void *arg) { return hypercall_event_channel_op(cmd, arg); }

static u32 alloc_unbound(void)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    show("alloc_unbound", evtchn(EVTCHNOP_alloc_unbound, &a), 0);
    return a.port;
}

static struct evtchn_status status(const char *name, u32 port, long want)
{
    struct evtchn_status s = { .dom = DOMID_SELF, .port = port };
    show(name, evtchn(EVTCHNOP_status, &s), want);
    return s;
}

static long port_op(u64 cmd, u32 port) { return evtchn(cmd, &port); }

/* The guest's own acknowledgement: the pending bit, the selector and upcall_pending. */
static void ack_all(void)
{
    for (unsigned int w = 0; w < 64; w++)
        pv_evtchn_pending[w] = 0;
    pv_vcpu0->evtchn_pending_sel = 0;
    pv_vcpu0->evtchn_upcall_pending = 0;
}

static void show_bits(const char *prefix, u32 port)
{
    printk("%s.pending: %d\n", prefix, (int)pv_port_bit(pv_evtchn_pending, port));
    printk("%s.selector: %d\n", prefix, (int)((pv_vcpu0->evtchn_pending_sel >> (port / 64)) & 1));
    printk("%s.upcall_pending: %d\n", prefix, (int)pv_vcpu0->evtchn_upcall_pending);
}

static void reset_part(u32 ub);

void test_main(void)
{
    dom0 = (pv_start_info->flags & SIF_INITDOMAIN) != 0;
    version = hypercall_xen_version(0 /* XENVER_version */, NULL);
    u32 own = dom0 ? 0 : 1, first = dom0 ? 1 : 3;
    pv_upcall_install();
    /* The console channel (domU) is masked by the library; nothing else is. */
    ack_all();

    /* ---- loopback: alloc_unbound + bind_interdomain ---- */
    u32 a = alloc_unbound();
    show("alloc_unbound.port_is_first_free", a == first, 1);
    struct evtchn_status s = status("status.unbound", a, 0);
    show("status.unbound.status", s.status, 1);
    show("status.unbound.vcpu", s.vcpu, 0);
    show("status.unbound.remote_is_self", s.u.unbound_dom == own, 1);

    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = a };
    show("bind_interdomain", evtchn(EVTCHNOP_bind_interdomain, &bi), 0);
    u32 b = bi.local_port;
    show("bind_interdomain.port_is_next", b == a + 1, 1);
    show_bits("bind_interdomain.local", b);
    show("bind_interdomain.remote.pending", pv_port_bit(pv_evtchn_pending, a), 0);
    s = status("status.interdomain", a, 0);
    show("status.interdomain.status", s.status, 2);
    show("status.interdomain.remote_is_self", s.u.interdomain.dom == own, 1);
    show("status.interdomain.remote_port_is_b", s.u.interdomain.port == b, 1);
    s = status("status.interdomain.b", b, 0);
    show("status.interdomain.b.remote_port_is_a", s.u.interdomain.port == a, 1);
    struct evtchn_bind_interdomain bad = { .remote_dom = DOMID_SELF, .remote_port = a };
    show("bind_interdomain.bound_port", evtchn(EVTCHNOP_bind_interdomain, &bad), -22);
    bad.remote_port = 63;
    show("bind_interdomain.free_port", evtchn(EVTCHNOP_bind_interdomain, &bad), -22);
    bad.remote_port = 5000;
    show("bind_interdomain.invalid_port", evtchn(EVTCHNOP_bind_interdomain, &bad), -22);
    bad.remote_dom = 0x1234;
    show("bind_interdomain.no_domain", evtchn(EVTCHNOP_bind_interdomain, &bad), -3);

    /* ---- send ---- */
    ack_all();
    show("send.a", port_op(EVTCHNOP_send, a), 0);
    show_bits("send.a.far_end", b);
    show("send.a.own.pending", pv_port_bit(pv_evtchn_pending, a), 0);
    ack_all();
    show("send.b", port_op(EVTCHNOP_send, b), 0);
    show_bits("send.b.far_end", a);
    /* Already pending: nothing more (the selector stays as the guest left it). */
    pv_vcpu0->evtchn_pending_sel = 0;
    pv_vcpu0->evtchn_upcall_pending = 0;
    show("send.b.again", port_op(EVTCHNOP_send, b), 0);
    show_bits("send.b.again.far_end", a);

    /* ---- masking and unmask ---- */
    ack_all();
    pv_port_set(pv_evtchn_mask, b, true);
    show("send.masked", port_op(EVTCHNOP_send, a), 0);
    show_bits("send.masked", b);
    show("upcalls.before_unmask", pv_upcall_count, 0);
    pv_vcpu0->evtchn_upcall_mask = 0;
    show("unmask", port_op(EVTCHNOP_unmask, b), 0);
    pv_vcpu0->evtchn_upcall_mask = 1;
    show("unmask.mask_bit", pv_port_bit(pv_evtchn_mask, b), 0);
    show("unmask.upcalls", pv_upcall_count, 1);
    show("unmask.upcall_selector", (pv_upcall_sel >> (b / 64)) & 1, 1);
    show("unmask.upcall_pending_after", pv_vcpu0->evtchn_upcall_pending, 0);
    /* Not masked before: nothing raised again, though b is still pending. */
    pv_vcpu0->evtchn_pending_sel = 0;
    show("unmask.again", port_op(EVTCHNOP_unmask, b), 0);
    show_bits("unmask.again", b);
    /* Masked while not pending: the mask goes, nothing is raised. */
    ack_all();
    pv_port_set(pv_evtchn_mask, b, true);
    show("unmask.not_pending", port_op(EVTCHNOP_unmask, b), 0);
    show("unmask.not_pending.mask_bit", pv_port_bit(pv_evtchn_mask, b), 0);
    show_bits("unmask.not_pending", b);
    /* A free port: not usable, its mask bit stays. */
    pv_port_set(pv_evtchn_mask, 60, true);
    show("unmask.free_port", port_op(EVTCHNOP_unmask, 60), 0);
    show("unmask.free_port.mask_bit", pv_port_bit(pv_evtchn_mask, 60), 1);
    pv_port_set(pv_evtchn_mask, 60, false);
    show("unmask.invalid_port", port_op(EVTCHNOP_unmask, 5000), -22);

    /* ---- close ---- */
    ack_all();
    show("send.pending_before_close", port_op(EVTCHNOP_send, a), 0);
    show("close.b", port_op(EVTCHNOP_close, b), 0);
    show("close.b.pending_cleared", pv_port_bit(pv_evtchn_pending, b), 0);
    s = status("status.closed", b, 0);
    show("status.closed.status", s.status, 0);
    s = status("status.after_close.a", a, 0);
    show("status.after_close.a.status", s.status, 1);
    show("status.after_close.a.remote_is_self", s.u.unbound_dom == own, 1);
    show("close.b.again", port_op(EVTCHNOP_close, b), -22);
    show("send.closed", port_op(EVTCHNOP_send, b), -22);
    show("send.unbound", port_op(EVTCHNOP_send, a), 0);
    show("close.a", port_op(EVTCHNOP_close, a), 0);
    u32 again = alloc_unbound();
    show("alloc_unbound.reuses_lowest", again == a, 1);
    show("close.again", port_op(EVTCHNOP_close, again), 0);

    /* ---- port 0 and validity ---- */
    s = status("status.port0", 0, 0);
    show("status.port0.status", s.status, 0);
    show("close.port0", port_op(EVTCHNOP_close, 0), -22);
    show("send.port0", port_op(EVTCHNOP_send, 0), -22);
    status("status.port63", 63, 0);
    status("status.port64", 64, -22);
    status("status.port4096", 4096, -22);
    struct evtchn_status other = { .dom = 0x1234, .port = 1 };
    show("status.no_domain", evtchn(EVTCHNOP_status, &other), -3);
    show("unknown_op", evtchn(99, &other), -38);
    show("status.unreadable", evtchn(EVTCHNOP_status, (void *)8), -14);

    /* ---- VIRQs ---- */
    struct evtchn_bind_virq v = { .virq = VIRQ_DEBUG, .vcpu = 0 };
    show("bind_virq.debug", evtchn(EVTCHNOP_bind_virq, &v), 0);
    u32 vp = v.port;
    show("bind_virq.debug.port_is_first_free", vp == first, 1);
    show("bind_virq.debug.again", evtchn(EVTCHNOP_bind_virq, &v), -17);
    s = status("status.virq", vp, 0);
    show("status.virq.status", s.status, 4);
    show("status.virq.virq", s.u.virq, VIRQ_DEBUG);
    show("send.virq", port_op(EVTCHNOP_send, vp), -22);
    struct { u32 port, vcpu; } bv = { vp, 0 };
    show("bind_vcpu.per_vcpu_virq", evtchn(EVTCHNOP_bind_vcpu, &bv), -22);
    bv.vcpu = NO_VCPU;
    show("bind_vcpu.no_vcpu", evtchn(EVTCHNOP_bind_vcpu, &bv), -2);
    bv.port = 5000;
    show("bind_vcpu.no_vcpu_bad_port", evtchn(EVTCHNOP_bind_vcpu, &bv), -2);
    bv.vcpu = 0;
    show("bind_vcpu.bad_port", evtchn(EVTCHNOP_bind_vcpu, &bv), -22);
    struct evtchn_bind_virq bad_v = { .virq = NR_VIRQS, .vcpu = 0 };
    show("bind_virq.out_of_range", evtchn(EVTCHNOP_bind_virq, &bad_v), -22);
    bad_v.virq = VIRQ_CONSOLE; bad_v.vcpu = NO_VCPU;
    show("bind_virq.global_other_vcpu", evtchn(EVTCHNOP_bind_virq, &bad_v), -22);
    bad_v.virq = VIRQ_DEBUG;
    show("bind_virq.no_vcpu", evtchn(EVTCHNOP_bind_virq, &bad_v), -2);
    struct evtchn_bind_virq con = { .virq = VIRQ_CONSOLE, .vcpu = 0 };
    long rc = evtchn(EVTCHNOP_bind_virq, &con);
    show("bind_virq.console", rc, dom0 ? 0 : -16);
    if (rc == 0) {
        s = status("status.virq_console", con.port, 0);
        show("status.virq_console.virq", s.u.virq, VIRQ_CONSOLE);
        bv.port = con.port; bv.vcpu = 0;
        show("bind_vcpu.global_virq", evtchn(EVTCHNOP_bind_vcpu, &bv), 0);
        show("close.virq_console", port_op(EVTCHNOP_close, con.port), 0);
    }
    show("close.virq", port_op(EVTCHNOP_close, vp), 0);
    show("bind_virq.debug.after_close", evtchn(EVTCHNOP_bind_virq, &v), 0);
    show("close.virq.again", port_op(EVTCHNOP_close, v.port), 0);

    /* ---- IPIs ---- */
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    show("bind_ipi", evtchn(EVTCHNOP_bind_ipi, &ipi), 0);
    ack_all();
    show("send.ipi", port_op(EVTCHNOP_send, ipi.port), 0);
    show_bits("send.ipi", ipi.port);
    s = status("status.ipi", ipi.port, 0);
    show("status.ipi.status", s.status, 5);
    bv.port = ipi.port; bv.vcpu = 0;
    show("bind_vcpu.ipi", evtchn(EVTCHNOP_bind_vcpu, &bv), -22);
    struct evtchn_bind_ipi bad_ipi = { .vcpu = NO_VCPU };
    show("bind_ipi.no_vcpu", evtchn(EVTCHNOP_bind_ipi, &bad_ipi), -2);
    show("close.ipi", port_op(EVTCHNOP_close, ipi.port), 0);
    show("close.ipi.pending_cleared", pv_port_bit(pv_evtchn_pending, ipi.port), 0);
    ack_all();

    /* ---- FIFO ABI setup from a 2-level guest ---- */
    struct { u64 gfn; u32 offset, vcpu; u8 link_bits, pad[7]; } ic = { .gfn = (u64)-2, .offset = 0, .vcpu = 0 };
    if (version >> 16 == 3) {
        printk("fifo: not applicable on Xen 3\n");
        show("init_control.xen3", evtchn(EVTCHNOP_init_control, &ic), -38);
        show("set_priority.xen3", evtchn(EVTCHNOP_set_priority, &ic), -38);
        u32 last = alloc_unbound();
        if (version == 0x30000) {
            printk("reset: not applicable on Xen 3.0\n");
            show("reset.xen30", evtchn(EVTCHNOP_reset, &ic), -38);
            show("close.last", port_op(EVTCHNOP_close, last), 0);
            return;
        }
        reset_part(last);
        return;
    }
    show("init_control.bad_gfn", evtchn(EVTCHNOP_init_control, &ic), -22);
    show("init_control.link_bits_not_copied", ic.link_bits, 0);
    ic.vcpu = NO_VCPU;
    show("init_control.no_vcpu", evtchn(EVTCHNOP_init_control, &ic), -2);
    ic.vcpu = 0; ic.offset = 4096 - 56;
    show("init_control.offset_past_page", evtchn(EVTCHNOP_init_control, &ic), -22);
    ic.offset = 4;
    show("init_control.offset_unaligned", evtchn(EVTCHNOP_init_control, &ic), -22);
    u64 gfn = 0;
    show("expand_array", evtchn(EVTCHNOP_expand_array, &gfn), -95);
    u32 ub = alloc_unbound();
    struct { u32 port, priority; } sp = { ub, 0 };
    show("set_priority", evtchn(EVTCHNOP_set_priority, &sp), -38);
    sp.port = 5000;
    show("set_priority.invalid_port", evtchn(EVTCHNOP_set_priority, &sp), -22);
    reset_part(ub);
}

/* ---- reset (dom0 only: a domU's reset closes its console channel too) ---- */
static void reset_part(u32 ub)
{
    struct evtchn_status s;
    struct { u16 dom; } r = { 0x1234 };
    show("reset.no_domain", evtchn(EVTCHNOP_reset, &r), -3);
    if (!dom0) {
        show("close.last", port_op(EVTCHNOP_close, ub), 0);
        return;
    }
    r.dom = DOMID_SELF;
    show("reset", evtchn(EVTCHNOP_reset, &r), 0);
    s = status("status.after_reset", ub, 0);
    show("status.after_reset.status", s.status, 0);
    u32 after = alloc_unbound();
    show("alloc_unbound.after_reset_is_port1", after, 1);
    show("close.after_reset", port_op(EVTCHNOP_close, after), 0);
}
