/*
 * The PV kernel's console: guests/lib/console.c formats (printk, vsnprintk) and calls
 * putchar, which here collects a line and writes it whole.
 *
 * The initial domain writes with HYPERVISOR_console_io(CONSOLEIO_write), which Xen
 * prints on its own console (xen/drivers/char/console.c: do_console_io).  Any other
 * domain writes the PV console ring its toolstack set up (start_info console.domU):
 * struct xencons_interface (public/io/console.h: in[1024], out[2048], then the u32
 * indices in_cons, in_prod, out_cons, out_prod), found as the Xen Test Framework finds
 * it (arch/x86/setup.c: setup_pv_console, mfn_to_virt): the machine frame's
 * pseudo-physical frame from Xen's read-only M2P, mapped at PFN << 12; the backend is
 * told with EVTCHNOP_send on the console's event channel.
 */
#include "ringside-pv.h"

static char line[256];
static size_t len;
static struct xencons_interface *ring;
static u32 ring_evtchn;

void pv_console_init(void)
{
    if (pv_start_info->flags & SIF_INITDOMAIN)
        return;
    ring = (struct xencons_interface *)(uintptr_t)(M2P[pv_start_info->console.domU.mfn] << 12);
    ring_evtchn = pv_start_info->console.domU.evtchn;
}

static void ring_write(const char *s, size_t n)
{
    u32 prod = ring->out_prod;

    for (size_t i = 0; i < n; i++) {
        while (prod - ring->out_cons >= sizeof(ring->out)) {
            ring->out_prod = prod;
            pv_evtchn_notify(ring_evtchn);
            hypercall_sched_op(SCHEDOP_yield, NULL);
        }
        ring->out[prod++ % sizeof(ring->out)] = s[i];
    }
    barrier();                  /* the bytes before the index (x86 keeps store order) */
    ring->out_prod = prod;
    pv_evtchn_notify(ring_evtchn);
}

void console_flush(void)
{
    if (!len)
        return;
    if (ring)
        ring_write(line, len);
    else
        hypercall_console_write(line, len);
    len = 0;
}

void putchar(int c)
{
    line[len++] = (char)c;
    if (c == '\n' || len == sizeof(line))
        console_flush();
}
