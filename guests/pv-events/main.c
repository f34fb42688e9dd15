/*
 * pv-events: the exit loop's virtual NMI and event upcall (Xen's test_all_events,
 * xen/arch/x86/x86_64/entry.S, at 4.17 and today, c447b7308b).
 *
 * NMI: VCPUOP_send_nmi (xen/common/domain.c; a non-NULL argument is -EINVAL) sets
 * nmi_pending; on the way out of that very hypercall process_nmi finds it, unless an NMI is
 * already being handled (async_exception_mask), and set_guest_nmi_trapbounce bounces it
 * through trap_ctxt[2], which CALLBACKOP_register of CALLBACKTYPE_nmi filled with flags
 * TI_SET_IF(1) (xen/arch/x86/pv/callback.c): events masked in the handler. The frame's RIP is
 * where the hypercall returns (the hypercall page's `pop %r11` after the SYSCALL), CS 0xe030
 * (kernel interrupted) with the saved upcall mask. A second send_nmi from inside the handler
 * returns 0 and stays pending (the mask); HYPERVISOR_iret ends the NMI (pv/iret.c
 * async_exception_cleanup) and the same exit delivers the second one at once.
 *
 * Upcall: with evtchn_upcall_pending set and evtchn_upcall_mask clear in vcpu_info, the
 * exit loop bounces to the event callback (always with events masked, TBF_INTERRUPT), frame
 * RFLAGS.IF set (the saved mask was 0); Linux's way to get it delivered after unmasking is
 * any hypercall (xen_force_evtchn_callback: xen_version). HYPERVISOR_iret with the frame's
 * IF unmasks again.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3) had no VCPUOP_send_nmi (11): public/vcpu.h
 * stops at sub-op 5 in 3.0.4-branched and 9 in 3.1.0-branched (10 only reserved), and
 * do_vcpu_op's default is -ENOSYS; the NMI part is not applicable there, the guest checks
 * the -ENOSYS.  The upcall part is the same (3.0.4-branched xen/arch/x86/x86_64/entry.S:
 * 172-195, test_all_events).
 */
#include "ringside-pv.h"

#define CALLBACKTYPE_nmi 4

extern void nmi_entry(void), event_entry(void);
extern volatile u64 nmi_rip, nmi_cs, nmi_rflags, nmi_live_mask, nmi_count, nmi_inner_rc, nmi_count_after_inner;
extern volatile u64 ev_rip, ev_cs, ev_rflags, ev_live_mask, ev_count;

static long send_nmi(void *arg)
{
    long rc;
    register u64 rdx asm("rdx") = (u64)(uintptr_t)arg;
    unsigned int cmd = 11, vcpu = 0;
    asm volatile("call hypercall_page + 24 * 32"
                 : "=a"(rc), "+D"(cmd), "+S"(vcpu), "+r"(rdx) :: "rcx", "r11", "memory");
    return rc;
}

static void show(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

static void show_rip(const char *name, u64 rip, u64 slot)
{
    u64 at = (u64)(uintptr_t)hypercall_page + slot * 32;
    printk("%s: hypercall_page+0x%lx\n", name, rip - (u64)(uintptr_t)hypercall_page);
    if (rip != at + 10)
        test_fail("%s: 0x%lx, expected the return from hypercall slot %lu", name, rip, slot);
}

static void nmi(void)
{
    u64 dummy = 0;
    show("send_nmi.non_null_arg", (u64)send_nmi(&dummy), (u64)-22);

    struct callback_register cb = { .type = CALLBACKTYPE_nmi, .flags = 0, .address = (u64)(uintptr_t)nmi_entry };
    show("callback_op.register_nmi", (u64)hypercall_callback_op(CALLBACKOP_register, &cb), 0);
    show("send_nmi", (u64)send_nmi(NULL), 0);
    show("nmi.count", nmi_count, 2);
    show_rip("nmi.rip", nmi_rip, 24);
    show("nmi.cs", nmi_cs, (1UL << 32) | 0xe030);
    show("nmi.rflags_if", nmi_rflags & 0x200, 0);
    show("nmi.live_upcall_mask", nmi_live_mask, 1);
    show("nmi.inner_send_nmi", nmi_inner_rc, 0);
    show("nmi.count_after_inner_send", nmi_count_after_inner, 1);
    show("upcall_mask_after", pv_vcpu0->evtchn_upcall_mask, 1);
}

void test_main(void)
{
    if (hypercall_xen_version(0 /* XENVER_version */, NULL) >> 16 == 3) {
        printk("nmi: not applicable on Xen 3 (no VCPUOP_send_nmi)\n");
        show("send_nmi.xen3", (u64)send_nmi(NULL), (u64)-38);
    } else {
        nmi();
    }

    struct callback_register ev = { .type = CALLBACKTYPE_event, .flags = 0, .address = (u64)(uintptr_t)event_entry };
    show("callback_op.register_event", (u64)hypercall_callback_op(CALLBACKOP_register, &ev), 0);
    pv_vcpu0->evtchn_upcall_pending = 1;
    hypercall_xen_version(0, NULL);
    show("upcall.while_masked", ev_count, 0);
    pv_vcpu0->evtchn_upcall_mask = 0;
    hypercall_xen_version(0, NULL);
    show("upcall.count", ev_count, 1);
    show_rip("upcall.rip", ev_rip, 17);
    show("upcall.cs", ev_cs, 0xe030);
    show("upcall.rflags_if", ev_rflags & 0x200, 0x200);
    show("upcall.live_upcall_mask", ev_live_mask, 1);
    show("upcall_mask_after", pv_vcpu0->evtchn_upcall_mask, 0);
    pv_vcpu0->evtchn_upcall_mask = 1;
}
