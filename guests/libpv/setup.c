/*
 * The PV kernel's start, after head.S: check that the domain builder wrote the
 * hypercall page, then set up what the Xen Test Framework's arch_setup and
 * arch_init_traps set up for a PV64 test (arch/x86/setup.c, arch/x86/pv/traps.c there):
 * the console, the trap table, the kernel stack for events from user mode, the event,
 * failsafe and syscall callbacks, shared_info mapped over a page of the image
 * (update_va_mapping of start_info->shared_info, a machine address), page 0 unmapped,
 * and the kernel's page tables registered as the user page tables
 * (MMUEXT_NEW_USER_BASEPTR: one address space for both modes).  Events stay masked
 * throughout (the builder starts vCPU 0 with them masked; every library entry masks them).
 */
#include "ringside-pv.h"

#define MMUEXT_NEW_USER_BASEPTR 15
#define PTE_P_RW_A_D 0x63

struct mmuext_op {
    u32 cmd;
    u32 pad;
    u64 arg1;
    u64 arg2;
};

struct pv_entry_regs pv_entry;
struct start_info *pv_start_info;
u8 pv_shared_info[4096] __attribute__((aligned(4096)));

void pv_console_init(void);
void pv_traps_init(void);

NORETURN void pv_main(void)
{
    /* Until the builder has written the page, a hypercall would only RET. */
    if (hypercall_page[0] == 0xc3)
        pv_shutdown(SHUTDOWN_crash);

    pv_console_init();
    pv_traps_init();

    long rc = hypercall_update_va_mapping((u64)(uintptr_t)pv_shared_info,
                                          pv_start_info->shared_info | PTE_P_RW_A_D, UVMF_INVLPG);
    if (rc)
        test_abort("update_va_mapping(shared_info): %ld", rc);
    /*
     * A domU's console channel: xenconsoled answers every notification with an event
     * on it (tools/console/daemon/io.c: xenevtchn_notify after reading the ring). The
     * library never waits for those, so it masks the port: an event on a masked port
     * only sets its pending bit (xen/common/event_2l.c: evtchn_2l_set_pending), and
     * no upcall reaches a guest that unmasks events. Anything already pending is
     * acknowledged.
     */
    if (!(pv_start_info->flags & SIF_INITDOMAIN)) {
        u32 port = pv_start_info->console.domU.evtchn;
        volatile u64 *mask = (volatile u64 *)(pv_shared_info + 0xa00);
        /* public/xen.h struct shared_info: evtchn_pending[64] at 0x800, evtchn_mask[64] at 0xa00. */
        volatile u64 *pending = (volatile u64 *)(pv_shared_info + 0x800);
        mask[port / 64] |= 1UL << (port % 64);
        pending[port / 64] &= ~(1UL << (port % 64));
        pv_vcpu0->evtchn_pending_sel = 0;
        pv_vcpu0->evtchn_upcall_pending = 0;
    }
    rc = hypercall_update_va_mapping(0, 0, UVMF_INVLPG);
    if (rc)
        test_abort("update_va_mapping(0, unmap): %ld", rc);
    struct mmuext_op op = { .cmd = MMUEXT_NEW_USER_BASEPTR, .arg1 = pv_mfn((void *)pv_start_info->pt_base) };
    rc = hypercall_mmuext_op(&op, 1);
    if (rc)
        test_abort("mmuext_op(NEW_USER_BASEPTR): %ld", rc);

    printk("Ringside guest: %s\n", GUEST_NAME);
    printk("Environment: PV 64bit (Long mode 4 levels)\n");
    pv_event_reset();
    test_main();
    test_finish();
}
