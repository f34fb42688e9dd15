/*
 * pv-vcpu: moving vcpu_info with VCPUOP_register_vcpu_info, and RDTSC under the guest's
 * own CR4.TSD.
 *
 * VCPUOP_register_vcpu_info (Xen 4.17: xen/common/domain.c map_vcpu_info; today,
 * c447b7308b: vcpu_info_area through map_guest_area): the argument names a guest frame and
 * an offset in it; an offset that is not 8-byte aligned or whose 64 bytes would cross the
 * page is -ENXIO in both; a frame the domain cannot map writable (here the L4 page table,
 * which Xen keeps typed as a page table) is -EINVAL on 4.17 and -EACCES today; a good one
 * moves the vcpu_info there: its old contents are copied (the upcall mask stays 1), and
 * Xen marks a "spurious" event pending (evtchn_pending_sel all ones, upcall_pending 1) so
 * nothing pending is lost; registering a second time is -EINVAL on 4.17 and -EBUSY today.
 *
 * RDTSC: Xen makes the hardware's CR4.TSD the guest's own (pv_make_cr4, xen/arch/x86/pv/
 * domain.c, without vtsc), so after the kernel sets CR4.TSD (an emulated MOV to CR4: the
 * guest controls TSD, pv_fixup_guest_cr4) RDTSC traps to Xen everywhere: in guest user
 * mode emulate_privileged_op refuses it (#GP(0), RIP at the RDTSC), in the guest kernel it
 * emulates it (RIP after it). With TSD clear again, user-mode RDTSC runs.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3) had no VCPUOP_register_vcpu_info: 3.0.4's
 * public/vcpu.h stops at sub-op 5, 3.1's only reserves 10 ("3.1.0 won't have an
 * implementation for it", dea6904c01), and do_vcpu_op's default is -ENOSYS.  There the
 * guest checks the -ENOSYS; moving vcpu_info is not applicable on Xen 3.
 */
#include "ringside-pv.h"

#define VCPUOP_register_vcpu_info 10
#define __HYPERVISOR_vcpu_op 24

struct register_vcpu_info {
    u64 mfn;
    u32 offset;
    u32 rsvd;
};

static u8 area[4096] __attribute__((aligned(4096)));
static u64 site;

static long vcpu_op(unsigned int cmd, unsigned int vcpu, void *arg)
{
    long rc;
    register u64 rdx asm("rdx") = (u64)(uintptr_t)arg;
    asm volatile("call hypercall_page + 24 * 32"
                 : "=a"(rc), "+D"(cmd), "+S"(vcpu), "+r"(rdx) :: "rcx", "r11", "memory");
    return rc;
}

static long reg(u64 mfn, u32 offset)
{
    struct register_vcpu_info r = { .mfn = mfn, .offset = offset };
    return vcpu_op(VCPUOP_register_vcpu_info, 0, &r);
}

static void check(const char *name, long got, long want)
{
    printk("%s: %ld\n", name, got);
    if (got != want)
        test_fail("%s: %ld, expected %ld", name, got, want);
}

static NOINLINE u64 do_rdtsc(u64 a)
{
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "1: rdtsc\n"
                 "2:\n\t"
                 EXTABLE(1b, 2b)
                 : [site] "=m"(site) :: "rax", "rdx", "memory");
    return a;
}

static void rdtsc_case(const char *name, bool user, bool faults)
{
    pv_event_reset();
    if (user)
        pv_exec_user(do_rdtsc, 0);
    else
        do_rdtsc(0);
    bool gp = last_event.count == 1 && last_event.vector == 13 && last_event.rip == site;
    printk("%s: %s\n", name, gp ? "#GP" : last_event.count == 0 ? "ran" : "other");
    if (gp != faults || (!faults && last_event.count != 0))
        test_fail("%s: expected %s", name, faults ? "#GP(0)" : "no fault");
    if (gp && last_event.error_code != 0)
        test_fail("%s: #GP error code 0x%lx", name, last_event.error_code);
}

static void rdtsc_cases(void);

void test_main(void)
{
    long ver = hypercall_xen_version(0, NULL);
    bool v417 = ver < 0x40012;
    u64 mfn = pv_mfn(area);

    if (ver >> 16 == 3) {
        printk("register_vcpu_info: not applicable on Xen 3\n");
        check("register_vcpu_info.xen3", reg(mfn, 64), -38);
        rdtsc_cases();
        return;
    }
    check("register_vcpu_info.misaligned", reg(mfn, 4), -6);
    check("register_vcpu_info.crosses_page", reg(mfn, 4096 - 32), -6);
    check("register_vcpu_info.page_table", reg(pv_mfn((void *)pv_start_info->pt_base), 0), v417 ? -22 : -13);

    volatile struct vcpu_info *vi = (volatile struct vcpu_info *)(area + 64);
    check("register_vcpu_info.good", reg(mfn, 64), 0);
    check("vcpu_info.upcall_mask", vi->evtchn_upcall_mask, 1);
    check("vcpu_info.upcall_pending", vi->evtchn_upcall_pending, 1);
    printk("vcpu_info.pending_sel: 0x%lx\n", vi->evtchn_pending_sel);
    if (vi->evtchn_pending_sel != ~0UL)
        test_fail("pending_sel 0x%lx, expected all ones", vi->evtchn_pending_sel);
    check("register_vcpu_info.again", reg(mfn, 128), v417 ? -22 : -16);
    /* Acknowledge the spurious event: the library keeps events masked anyway. */
    vi->evtchn_upcall_pending = 0;
    vi->evtchn_pending_sel = 0;
    rdtsc_cases();
}

static void rdtsc_cases(void)
{
    rdtsc_case("rdtsc.user", true, false);
    u64 cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" :: "r"(cr4 | 4));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    check("cr4.tsd", (long)(cr4 & 4), 4);
    rdtsc_case("rdtsc_tsd.kernel", false, false);
    rdtsc_case("rdtsc_tsd.user", true, true);
    asm volatile("mov %0, %%cr4" :: "r"(cr4 & ~4UL));
    rdtsc_case("rdtsc_after.user", true, false);
}
