/*
 * pv-xenstore: a domU's xenstore as its toolstack's xenstored serves it (C xenstored at
 * c447b7308b: tools/xenstored/core.c, transaction.c, watch.c, domain.c; the wire format
 * xen/include/public/io/xs_wire.h; docs/misc/xenstore.txt).
 *
 * The guest writes struct xsd_sockmsg {type, req_id, tx_id, len} and the payload into req[]
 * of struct xenstore_domain_interface (start_info store_mfn), publishes req_prod and sends on
 * store_evtchn; the reply (same req_id and tx_id, type = the request's or XS_ERROR with the
 * errno's name, core.c send_error) comes in rsp[]. It waits with SCHEDOP_block; xenstored
 * notifies the port after each chunk it consumes or produces (domain.c).
 * Keys: libxl writes domid, name, store/port, store/ring-ref, console/ring-ref, owned by dom0
 * with read access for the domain ([n0, r<id>]: libxl_create.c libxl__domain_make,
 * libxl_dom.c libxl__build_post) and data/ owned by the domain; what the domain creates it
 * owns (core.c construct_node). Writing a dom0-owned node, or reading /local/domain/0/name,
 * is EACCES (perm_for_conn); a missing node under a readable parent ENOENT; a path with a
 * character outside [A-Za-z0-9-/_@] EINVAL (canonicalize). XS_WATCH fires once at once, then
 * on a change at or below its path and on the removal of a node above it (watch.c); an
 * event has req_id 0. A transaction's writes
 * are invisible outside it until TRANSACTION_END "T"; "F" drops them; a commit after another
 * write changed a node the transaction read gets EAGAIN (transaction.c).
 */
#include "ringside-pv.h"

struct xenstore_domain_interface {
    char req[1024];
    char rsp[1024];
    volatile u32 req_cons, req_prod, rsp_cons, rsp_prod;
    volatile u32 server_features, connection, error;
};

struct xsd_sockmsg { u32 type, req_id, tx_id, len; };

enum { XS_DIRECTORY = 1, XS_READ = 2, XS_GET_PERMS = 3, XS_WATCH = 4, XS_UNWATCH = 5, XS_TRANSACTION_START = 6,
       XS_TRANSACTION_END = 7, XS_INTRODUCE = 8, XS_GET_DOMAIN_PATH = 10, XS_WRITE = 11, XS_MKDIR = 12, XS_RM = 13,
       XS_WATCH_EVENT = 15, XS_ERROR = 16 };

static struct xenstore_domain_interface *ring;
static u32 port, req_id;
static char reply[1024], event[256];
static u32 reply_len, events;

static void ring_write(const void *data, u32 len)
{
    const char *p = data;

    for (u32 k = 0; k < len; k++) {
        while (ring->req_prod - ring->req_cons >= sizeof(ring->req)) {
            pv_evtchn_notify(port);
            pv_evtchn_wait(port);
        }
        ring->req[ring->req_prod & (sizeof(ring->req) - 1)] = p[k];
        barrier();
        ring->req_prod++;
    }
}

static void ring_read(void *data, u32 len)
{
    char *p = data;

    for (u32 k = 0; k < len; k++) {
        while (ring->rsp_cons == ring->rsp_prod)
            pv_evtchn_wait(port);
        p[k] = ring->rsp[ring->rsp_cons & (sizeof(ring->rsp) - 1)];
        barrier();
        ring->rsp_cons++;
    }
}

/* One request; watch events that come first are kept in `event` (the last one). Returns the
 * reply's type; the reply (NUL-terminated here) in `reply`. */
static u32 xs(u32 type, u32 tx, const char *payload, u32 len)
{
    struct xsd_sockmsg h = { type, ++req_id, tx, len };

    ring_write(&h, sizeof(h));
    ring_write(payload, len);
    pv_evtchn_notify(port);
    for (;;) {
        struct xsd_sockmsg r;
        ring_read(&r, sizeof(r));
        if (r.len >= sizeof(reply))
            test_abort("reply of %u bytes", r.len);
        ring_read(reply, r.len);
        reply[r.len] = 0;
        for (u32 k = 0; k + 1 < r.len; k++)
            if (!reply[k])
                reply[k] = ' ';   /* strings joined by spaces for printing */
        if (r.type == XS_WATCH_EVENT) {
            if (r.req_id != 0 || r.tx_id != 0)
                test_fail("watch event with req_id %u tx_id %u", r.req_id, r.tx_id);
            memcpy(event, reply, r.len + 1);
            events++;
            continue;
        }
        if (r.req_id != h.req_id || r.tx_id != tx)
            test_fail("reply req_id %u tx_id %u for %u %u", r.req_id, r.tx_id, h.req_id, tx);
        reply_len = r.len;
        return r.type;
    }
}

/* A request of one or two strings ("a\0" or "a\0b", with `nul2` "a\0b\0"). */
static u32 req(u32 type, u32 tx, const char *a, const char *b, bool nul2)
{
    char buf[256];
    u32 n = strlen(a) + 1;

    memcpy(buf, a, n);
    if (b) {
        u32 m = strlen(b) + (nul2 ? 1 : 0);
        memcpy(buf + n, b, m);
        n += m;
    }
    return xs(type, tx, buf, n);
}

static void expect_event(const char *name, const char *want)
{
    printk("%s: %s\n", name, event);
    if (strcmp(event, want) != 0)
        test_fail("%s: \"%s\", expected \"%s\"", name, event, want);
}

/* Prints the outcome as `name: value` (an error as its name) and checks it. */
static void expect(const char *name, u32 type, u32 want_type, const char *want)
{
    printk("%s: %s\n", name, reply);
    if (type != want_type || strcmp(reply, want) != 0)
        test_fail("%s: type %u \"%s\", expected type %u \"%s\"", name, type, reply, want_type, want);
}

static u32 number(const char *s)
{
    u32 v = 0;

    while (*s >= '0' && *s <= '9')
        v = v * 10 + (u32)(*s++ - '0');
    return v;
}

void test_main(void)
{
    char want[64], id[16];

    ring = (struct xenstore_domain_interface *)(uintptr_t)(M2P[pv_start_info->store_mfn] << 12);
    port = pv_start_info->store_evtchn;
    pv_upcall_install();
    pv_evtchn_ack(port);
    pv_port_set(pv_evtchn_mask, port, false);

    /* The toolstack's keys. */
    u32 t = req(XS_READ, 0, "domid", NULL, false);
    printk("read.domid: %s\n", reply);
    if (t != XS_READ || reply_len == 0 || number(reply) == 0)
        test_fail("domid: a domU's decimal id expected");
    memcpy(id, reply, reply_len + 1);
    snprintk(want, sizeof(want), "/local/domain/%s", id);
    t = req(XS_GET_DOMAIN_PATH, 0, id, NULL, false);
    expect("get_domain_path", t, XS_GET_DOMAIN_PATH, want);
    t = req(XS_READ, 0, "name", NULL, false);
    printk("read.name.nonempty: %s\n", t == XS_READ && reply_len > 0 ? "yes" : "no");
    snprintk(want, sizeof(want), "%u", pv_start_info->store_evtchn);
    expect("read.store_port", req(XS_READ, 0, "store/port", NULL, false), XS_READ, want);
    snprintk(want, sizeof(want), "%lu", pv_start_info->store_mfn);
    expect("read.store_ring_ref", req(XS_READ, 0, "store/ring-ref", NULL, false), XS_READ, want);
    expect("get_perms.domid", req(XS_GET_PERMS, 0, "domid", NULL, false), XS_GET_PERMS, "n0 r1");
    expect("get_perms.data", req(XS_GET_PERMS, 0, "data", NULL, false), XS_GET_PERMS, "n1");

    /* Writes, directories, removal. */
    expect("write.data", req(XS_WRITE, 0, "data/ringside", "value1", false), XS_WRITE, "OK");
    expect("read.back", req(XS_READ, 0, "data/ringside", NULL, false), XS_READ, "value1");
    expect("mkdir", req(XS_MKDIR, 0, "data/dir", NULL, false), XS_MKDIR, "OK");
    req(XS_WRITE, 0, "data/dir/a", "1", false);
    req(XS_WRITE, 0, "data/dir/b", "2", false);
    expect("directory", req(XS_DIRECTORY, 0, "data/dir", NULL, false), XS_DIRECTORY, "a b");
    expect("rm", req(XS_RM, 0, "data/dir/a", NULL, false), XS_RM, "OK");
    expect("directory.after_rm", req(XS_DIRECTORY, 0, "data/dir", NULL, false), XS_DIRECTORY, "b");
    expect("get_perms.created", req(XS_GET_PERMS, 0, "data/dir/b", NULL, false), XS_GET_PERMS, "n1");

    /* Errors. */
    expect("read.missing", req(XS_READ, 0, "data/missing", NULL, false), XS_ERROR, "ENOENT");
    expect("write.domid", req(XS_WRITE, 0, "domid", "2", false), XS_ERROR, "EACCES");
    expect("read.dom0_name", req(XS_READ, 0, "/local/domain/0/name", NULL, false), XS_ERROR, "EACCES");
    expect("read.bad_path", req(XS_READ, 0, "data/bad!", NULL, false), XS_ERROR, "EINVAL");
    expect("read.unknown_tx", req(XS_READ, 99, "domid", NULL, false), XS_ERROR, "ENOENT");
    expect("introduce", req(XS_INTRODUCE, 0, "0", NULL, false), XS_ERROR, "EACCES");

    /* Watches. */
    u32 before = events;
    expect("watch", req(XS_WATCH, 0, "data/w", "tok", true), XS_WATCH, "OK");
    req(XS_READ, 0, "domid", NULL, false);          /* the event comes after the reply */
    printk("watch.initial_events: %u\n", events - before);
    expect_event("watch.initial", "data/w tok");
    expect("write.watched", req(XS_WRITE, 0, "data/w/x", "1", false), XS_WRITE, "OK");
    req(XS_READ, 0, "domid", NULL, false);
    printk("watch.events_after_write: %u\n", events - before);
    expect_event("watch.event", "data/w/x tok");
    expect("unwatch", req(XS_UNWATCH, 0, "data/w", "tok", true), XS_UNWATCH, "OK");
    req(XS_WRITE, 0, "data/w/x", "2", false);
    req(XS_READ, 0, "domid", NULL, false);
    printk("watch.events_after_unwatch: %u\n", events - before);
    if (events - before != 2)
        test_fail("watch events: %u, expected 2", events - before);
    /* Removing a node fires the watches on the nodes it takes. */
    req(XS_WATCH, 0, "data/dir/b", "t2", true);
    expect("rm.parent", req(XS_RM, 0, "data/dir", NULL, false), XS_RM, "OK");
    req(XS_READ, 0, "domid", NULL, false);
    expect_event("watch.event_on_rm_below", "data/dir/b t2");
    expect("read.removed_child", req(XS_READ, 0, "data/dir/b", NULL, false), XS_ERROR, "ENOENT");

    /* Transactions. */
    t = req(XS_TRANSACTION_START, 0, "", NULL, false);
    u32 tx = number(reply);
    printk("transaction_start: %s\n", t == XS_TRANSACTION_START && tx ? "an id" : reply);
    expect("tx.write", req(XS_WRITE, tx, "data/t", "in-tx", false), XS_WRITE, "OK");
    expect("tx.read_outside", req(XS_READ, 0, "data/t", NULL, false), XS_ERROR, "ENOENT");
    expect("tx.read_inside", req(XS_READ, tx, "data/t", NULL, false), XS_READ, "in-tx");
    expect("tx.commit", req(XS_TRANSACTION_END, tx, "T", NULL, false), XS_TRANSACTION_END, "OK");
    expect("tx.read_committed", req(XS_READ, 0, "data/t", NULL, false), XS_READ, "in-tx");
    expect("tx.end_again", req(XS_TRANSACTION_END, tx, "T", NULL, false), XS_ERROR, "ENOENT");

    req(XS_TRANSACTION_START, 0, "", NULL, false);
    tx = number(reply);
    req(XS_WRITE, tx, "data/t", "aborted", false);
    expect("tx.abort", req(XS_TRANSACTION_END, tx, "F", NULL, false), XS_TRANSACTION_END, "OK");
    expect("tx.read_after_abort", req(XS_READ, 0, "data/t", NULL, false), XS_READ, "in-tx");

    req(XS_TRANSACTION_START, 0, "", NULL, false);
    tx = number(reply);
    req(XS_READ, tx, "data/t", NULL, false);
    expect("conflict.direct_write", req(XS_WRITE, 0, "data/t", "direct", false), XS_WRITE, "OK");
    req(XS_WRITE, tx, "data/t", "tx3", false);
    expect("conflict.commit", req(XS_TRANSACTION_END, tx, "T", NULL, false), XS_ERROR, "EAGAIN");
    expect("conflict.read", req(XS_READ, 0, "data/t", NULL, false), XS_READ, "direct");
}
