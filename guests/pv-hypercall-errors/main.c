/*
 * pv-hypercall-errors: the argument checks and error numbers of a 64-bit PV guest's
 * hypercalls (release build, dummy XSM), in dom0 and in a domU.
 *
 * Xen 4.17 and c447b7308b alike unless a version is named (errno values as Linux's:
 * EPERM 1, ENOENT 2, ESRCH 3, EFAULT 14, EBUSY 16, EEXIST 17, EINVAL 22, ENOSYS 38,
 * EACCES 13, ENODATA 61, ENOBUFS 105, E2BIG 7, EOPNOTSUPP 95):
 * - set_trap_table (xen/arch/x86/pv/callback.c: do_set_trap_table): NULL clears the
 *   table (0); an entry whose address is not canonical -EINVAL; an unreadable list
 *   -EFAULT.  set_callbacks ignores register_guest_callback's results (0 even when no
 *   address is canonical, and nothing is stored); stack_switch stores anything (0).
 *   callback_op: cmd other than register/unregister -ENOSYS; register checks the
 *   address first (-EINVAL, whatever the type), then the type (3 and 6 -ENOSYS);
 *   unregister of the event type -EINVAL, of NMI 0, of an unknown type -ENOSYS; an
 *   unreadable argument -EFAULT.
 * - set_segment_base (pv/misc-hypercalls.c): an unknown `which` -EINVAL.
 * - vm_assist (common/domain.c: do_vm_assist): a type outside PV64_VM_ASSIST_MASK
 *   (0x1_0000_003f) -EINVAL before the cmd is looked at; a bad cmd -ENOSYS.
 * - xen_version (common/kernel.c): XENVER_version (major << 16 | minor); pagesize with
 *   an argument -EINVAL, NULL 4096; platform_parameters' virt_start 0xffff800000000000
 *   (4.17 always, c447b7308b in release builds); get_features submap 1 -EINVAL,
 *   submap 0 for PV64: bits 5, 6, 7, 13, 17 (0x220e0), + 11 in dom0, + 4
 *   (pae_pgdir_above_4gb) while VMASST pae_extended_cr3 is on (which 4.17's dom0
 *   builder turns on for this image's PAE_MODE "yes", pv/dom0_build.c, and since 4.19
 *   only for a 32-bit kernel: a773adedbd, "x86/PV32: restore PAE-extended-CR3 logic";
 *   libxenguest never for a 64-bit domU), + 18 and 19 from 4.18
 *   (48a3fd1432, "domain: expose newly introduced hypercalls as XENFEAT"), + 20 from
 *   4.19 (64b21662b1, "x86/msi: passthrough all MSI-X vector ctrl writes to device
 *   model"); commandline: dom0 gets the 1024-byte buffer, a domU "<denied>" (9 bytes,
 *   rc 0); build_id: a domU -EPERM; dom0 with len 0: 4.17 -EINVAL, from 4.20
 *   (e3bb1b6525, xenver_varbuf_op) -ENODATA without a build id or -ENOBUFS with one;
 *   an unknown sub-op -ENOSYS.
 * - console_io (drivers/char/console.c): XSM lets only the control domain in (a domU
 *   -EPERM for every cmd); dom0: write of 0 bytes 0, read of 0 bytes 0, read of more
 *   than INT_MAX -E2BIG, an unknown cmd -ENOSYS.
 * - sched_op (common/sched/core.c): an unknown cmd -ENOSYS; remote_shutdown looks the
 *   domain up without DOMID_SELF (-ESRCH) and then needs the device model's or the
 *   control domain's rights (a domU naming dom0 -EPERM).
 * - vcpu_op (arch/x86/domain.c, common/domain.c): a vCPU that does not exist -ENOENT
 *   before anything else; is_up of vCPU 0 is 1; initialise of vCPU 0 (the context read
 *   first) -EEXIST; get_physid only for the hardware domain's vCPU whose hard affinity
 *   is one physical CPU (is_hwdom_pinned_vcpu): dom0 on a one-CPU machine gets 0 and
 *   {APIC ID | ACPI processor ID << 32}, a domU -EINVAL; an unknown cmd -ENOSYS.
 * - physdev_op set_iopl above 3 -EINVAL (arch/x86/physdev.c).
 * - sysctl (common/sysctl.c): a wrong interface_version -EACCES before privilege; a
 *   domU with the right one (4.17 0x15, 0x16 from 4.21: 4c3ce492ed) -EPERM.
 * - mmuext_op (arch/x86/mm.c): foreigndom = the caller's own id -ESRCH ("Cannot
 *   specify itself as foreign domain"; dom0's id is 0, a domU cannot know its own);
 *   pinning the L4 the builder pinned -EINVAL; an unknown cmd (14, 21) -ENOSYS;
 *   MARK_SUPER -EOPNOTSUPP.
 * - update_va_mapping: a non-canonical or Xen-range va -EINVAL (map_guest_l1e); a
 *   writable mapping of a page-table page (the L4) -EBUSY (get_page_type
 *   PGT_writable_page fails); a read-only one 0, and the L4's entry for this image
 *   reads back present through it.
 * - event_channel_op EVTCHNOP_send (common/event_channel.c): the reserved port 0, a
 *   free port and a port past the valid ones -EINVAL.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3; notes/xen-2007.md) answer differently where
 * the call did not exist yet or changed since: get_features submap 0 is only
 * pae_pgdir_above_4gb, with VMASST pae_extended_cr3 (3.0.4-branched
 * xen/common/kernel.c:188-200); vm_assist types above 3 -EINVAL (common/domain.c:561,
 * MAX_VMASST_TYPE 3), m2p_strict included; XENVER sub-ops above 8 (commandline, build_id)
 * -ENOSYS (kernel.c:229); VCPUOP_get_physid (12) -ENOSYS (public/vcpu.h stops at 5 or 9);
 * sysctl checks the privilege before the interface version (common/sysctl.c:35-41), so a
 * domU gets -EPERM either way, and the right version is 2 (3.0.4) or 3 (3.1; public/sysctl.h:37).
 */
#include "ringside-pv.h"

#define __HYPERVISOR_set_callbacks  4
#define __HYPERVISOR_vm_assist     21
#define __HYPERVISOR_vcpu_op       24
#define __HYPERVISOR_physdev_op    33
#define __HYPERVISOR_sysctl        35

#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define E2BIG 7
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSYS 38
#define ENODATA 61
#define EOPNOTSUPP 95
#define ENOBUFS 105

#define DOMID_SELF 0x7ff0
#define NONCANONICAL 0x8000000000000000UL
#define UNMAPPED ((void *)8)            /* page 0: the library unmapped it */

struct mmuext_op {
    u32 cmd;
    u32 pad;
    u64 arg1;
    u64 arg2;
};

static u8 scratch[4096] __attribute__((aligned(4096)));
static u8 buf[2048];
static u8 vcpu_context[8192];
static bool dom0;

static bool has_nul(const u8 *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == 0)
            return true;
    return false;
}

static long mmuext(u32 cmd, u64 arg1, u64 foreigndom)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = arg1 };
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, 0, foreigndom);
}

static long callback_register(u16 type, u64 address)
{
    struct callback_register cb = { .type = type, .address = address };
    return hypercall_callback_op(CALLBACKOP_register, &cb);
}

static long callback_unregister(u16 type)
{
    u32 arg = type;
    return hypercall_callback_op(1 /* CALLBACKOP_unregister */, &arg);
}

static void traps_and_callbacks(void)
{
    struct trap_info bad[3] = {
        { .vector = 0x81, .flags = 3, .cs = FLAT_KERNEL_CS, .address = pv_entry_stub(0x81) },
        { .vector = 0x82, .flags = 3, .cs = FLAT_KERNEL_CS, .address = NONCANONICAL },
        { 0 },
    };
    pv_expect_rc("set_trap_table.noncanonical", hypercall_set_trap_table(bad), -EINVAL);
    pv_expect_rc("set_trap_table.unreadable", hypercall_set_trap_table(UNMAPPED), -EFAULT);
    pv_expect_rc("set_trap_table.null", hypercall_set_trap_table(NULL), 0);
    if (pv_trap_reset())
        test_abort("the library's trap table");

    pv_expect_rc("set_callbacks.noncanonical",
              _hypercall3(__HYPERVISOR_set_callbacks, NONCANONICAL, NONCANONICAL, NONCANONICAL), 0);
    pv_expect_rc("stack_switch.anything", hypercall_stack_switch(0, NONCANONICAL), 0);
    if (hypercall_stack_switch(FLAT_KERNEL_SS, PV_KERNEL_STACK_TOP))
        test_abort("stack_switch back");

    pv_expect_rc("callback_op.bad_cmd", hypercall_callback_op(2, NULL), -ENOSYS);
    pv_expect_rc("callback_op.register_unreadable", hypercall_callback_op(CALLBACKOP_register, UNMAPPED), -EFAULT);
    pv_expect_rc("callback_op.register_type_3", callback_register(3, pv_entry_stub(0x81)), -ENOSYS);
    pv_expect_rc("callback_op.register_type_6", callback_register(6, pv_entry_stub(0x81)), -ENOSYS);
    pv_expect_rc("callback_op.register_event_noncanonical", callback_register(CALLBACKTYPE_event, NONCANONICAL), -EINVAL);
    pv_expect_rc("callback_op.register_type_6_noncanonical", callback_register(6, NONCANONICAL), -EINVAL);
    pv_expect_rc("callback_op.unregister_event", callback_unregister(CALLBACKTYPE_event), -EINVAL);
    pv_expect_rc("callback_op.unregister_syscall", callback_unregister(CALLBACKTYPE_syscall), -EINVAL);
    pv_expect_rc("callback_op.unregister_nmi", callback_unregister(4), 0);
    pv_expect_rc("callback_op.unregister_type_6", callback_unregister(6), -ENOSYS);

    pv_expect_rc("set_segment_base.which_4", hypercall_set_segment_base(4, 0), -EINVAL);
    pv_expect_rc("set_segment_base.which_ffffffff", hypercall_set_segment_base(0xffffffff, 0), -EINVAL);
}

static u32 features(void)
{
    u32 fi[2] = { 0, 0 };
    long rc = hypercall_xen_version(6 /* get_features */, fi);
    if (rc)
        test_fail("get_features: %ld", rc);
    return fi[1];
}

static void version_and_assists(long version)
{
    const u32 pae_pgdir = 1u << 4;
    const bool xen3 = version >> 16 == 3;
    u32 want = xen3 ? 0 : 0x220e0 | (dom0 ? 1u << 11 : 0);
    if (version >= 0x40012)
        want |= (1u << 18) | (1u << 19);
    if (version >= 0x40013)
        want |= 1u << 20;

    u32 fi[2] = { 1, 0 };
    pv_expect_rc("xen_version.get_features_submap_1", hypercall_xen_version(6, fi), -EINVAL);
    u32 initial = features();
    /* Xen 3: not checked (3.0.4's builder wanted PAE_MODE to match Xen's own paging mode,
     * 3.0.4-branched xen/arch/x86/domain_build.c:324-338; notes/xen-2007.md). */
    if (xen3)
        printk("xen_version.get_features_initial_pae_pgdir_above_4gb: 0x%x\n", !!(initial & pae_pgdir));
    else
        pv_expect("xen_version.get_features_initial_pae_pgdir_above_4gb", !!(initial & pae_pgdir),
                  dom0 && version < 0x40013);
    pv_expect("xen_version.get_features_other_bits", initial & ~pae_pgdir, want);

    pv_expect_rc("vm_assist.disable_pae_extended_cr3", _hypercall2(__HYPERVISOR_vm_assist, 1, 3), 0);
    pv_expect("xen_version.get_features_without_pae_extended_cr3", features(), want);
    pv_expect_rc("vm_assist.enable_pae_extended_cr3", _hypercall2(__HYPERVISOR_vm_assist, 0, 3), 0);
    pv_expect("xen_version.get_features_with_pae_extended_cr3", features(), want | pae_pgdir);
    if (!(initial & pae_pgdir) && _hypercall2(__HYPERVISOR_vm_assist, 1, 3))
        test_fail("vm_assist: restoring pae_extended_cr3");

    pv_expect_rc("vm_assist.type_6", _hypercall2(__HYPERVISOR_vm_assist, 0, 6), -EINVAL);
    pv_expect_rc("vm_assist.type_31", _hypercall2(__HYPERVISOR_vm_assist, 0, 31), -EINVAL);
    pv_expect_rc("vm_assist.type_64", _hypercall2(__HYPERVISOR_vm_assist, 0, 64), -EINVAL);
    pv_expect_rc("vm_assist.enable_m2p_strict", _hypercall2(__HYPERVISOR_vm_assist, 0, 32), xen3 ? -EINVAL : 0);
    pv_expect_rc("vm_assist.disable_m2p_strict", _hypercall2(__HYPERVISOR_vm_assist, 1, 32), xen3 ? -EINVAL : 0);
    pv_expect_rc("vm_assist.bad_cmd_type_0", _hypercall2(__HYPERVISOR_vm_assist, 2, 0), -ENOSYS);
    pv_expect_rc("vm_assist.bad_cmd_type_6", _hypercall2(__HYPERVISOR_vm_assist, 2, 6), -EINVAL);

    pv_expect_rc("xen_version.pagesize_null", hypercall_xen_version(7, NULL), 4096);
    pv_expect_rc("xen_version.pagesize_arg", hypercall_xen_version(7, buf), -EINVAL);
    u64 virt_start = 0;
    pv_expect_rc("xen_version.platform_parameters", hypercall_xen_version(5, &virt_start), 0);
    pv_expect("xen_version.platform_parameters_virt_start", virt_start, 0xffff800000000000UL);

    memset(buf, 0x55, sizeof(buf));
    if (xen3) {
        pv_expect_rc("xen_version.commandline", hypercall_xen_version(9, buf), -ENOSYS);
        pv_expect_rc("xen_version.build_id", hypercall_xen_version(10, NULL), -ENOSYS);
        pv_expect_rc("xen_version.unknown_100", hypercall_xen_version(100, buf), -ENOSYS);
        return;
    }
    pv_expect_rc("xen_version.commandline", hypercall_xen_version(9, buf), 0);
    if (dom0) {
        pv_expect("xen_version.commandline_byte_1024_untouched", buf[1024] == 0x55, 1);
        pv_expect("xen_version.commandline_terminated", has_nul(buf, 1024), 1);
    } else {
        pv_expect("xen_version.commandline_denied", memcmp(buf, "<denied>", 9) == 0, 1);
        pv_expect("xen_version.commandline_byte_9_untouched", buf[9] == 0x55, 1);
    }

    if (dom0) {
        u32 len0[2] = { 0, 0 };
        long rc = hypercall_xen_version(10, len0);
        printk("xen_version.build_id_len_0: %ld\n", rc);
        if (version < 0x40014 ? rc != -EINVAL : rc != -ENODATA && rc != -ENOBUFS)
            test_fail("build_id with len 0: %ld", rc);
    } else {
        pv_expect_rc("xen_version.build_id_null", hypercall_xen_version(10, NULL), -EPERM);
    }
    pv_expect_rc("xen_version.unknown_100", hypercall_xen_version(100, buf), -ENOSYS);
}

static void console_sched_vcpu(long version)
{
    if (dom0) {
        pv_expect_rc("console_io.write_0", hypercall_console_write((const char *)buf, 0), 0);
        pv_expect_rc("console_io.read_0", _hypercall3(__HYPERVISOR_console_io, 1, 0, buf), 0);
        pv_expect_rc("console_io.read_2g", _hypercall3(__HYPERVISOR_console_io, 1, 0x80000000UL, buf), -E2BIG);
        pv_expect_rc("console_io.cmd_2", _hypercall3(__HYPERVISOR_console_io, 2, 0, buf), -ENOSYS);
    } else {
        pv_expect_rc("console_io.write_0", hypercall_console_write((const char *)buf, 0), -EPERM);
        pv_expect_rc("console_io.cmd_2", _hypercall3(__HYPERVISOR_console_io, 2, 0, buf), -EPERM);
    }

    pv_expect_rc("sched_op.cmd_100", hypercall_sched_op(100, NULL), -ENOSYS);
    struct { u16 domid; u16 pad; u32 reason; } rs = { DOMID_SELF, 0, SHUTDOWN_poweroff };
    pv_expect_rc("sched_op.remote_shutdown_domid_self", hypercall_sched_op(4, &rs), -ESRCH);
    if (!dom0) {
        rs.domid = 0;
        pv_expect_rc("sched_op.remote_shutdown_dom0", hypercall_sched_op(4, &rs), -EPERM);
    }

    pv_expect_rc("vcpu_op.is_up_vcpu_100", _hypercall3(__HYPERVISOR_vcpu_op, 3, 100, NULL), -ENOENT);
    pv_expect_rc("vcpu_op.initialise_vcpu_100", _hypercall3(__HYPERVISOR_vcpu_op, 0, 100, vcpu_context), -ENOENT);
    pv_expect_rc("vcpu_op.is_up_vcpu_0", _hypercall3(__HYPERVISOR_vcpu_op, 3, 0, NULL), 1);
    pv_expect_rc("vcpu_op.initialise_vcpu_0", _hypercall3(__HYPERVISOR_vcpu_op, 0, 0, vcpu_context), -EEXIST);
    u64 physid = 0x5555555555555555UL;
    if (version >> 16 == 3) {
        pv_expect_rc("vcpu_op.get_physid", _hypercall3(__HYPERVISOR_vcpu_op, 12, 0, &physid), -ENOSYS);
    } else if (dom0) {
        pv_expect_rc("vcpu_op.get_physid", _hypercall3(__HYPERVISOR_vcpu_op, 12, 0, &physid), 0);
        printk("vcpu_op.get_physid_phys_id: 0x%lx\n", physid);
    } else {
        pv_expect_rc("vcpu_op.get_physid", _hypercall3(__HYPERVISOR_vcpu_op, 12, 0, &physid), -EINVAL);
    }
    pv_expect_rc("vcpu_op.cmd_100", _hypercall3(__HYPERVISOR_vcpu_op, 100, 0, NULL), -ENOSYS);

    u32 iopl = 4;
    pv_expect_rc("physdev_op.set_iopl_4", _hypercall2(__HYPERVISOR_physdev_op, 6, &iopl), -EINVAL);

    /* struct xen_sysctl: cmd, interface_version, a 128-byte union. */
    u32 sysctl[34] = { 0 };
    sysctl[1] = 0xdeadbeef;
    const bool xen3 = version >> 16 == 3;
    pv_expect_rc("sysctl.wrong_interface_version", _hypercall2(__HYPERVISOR_sysctl, sysctl, 0), xen3 && !dom0 ? -EPERM : -EACCES);
    if (!dom0) {
        sysctl[1] = xen3 ? (version == 0x30000 ? 2 : 3) : version >= 0x40015 ? 0x16 : 0x15;
        pv_expect_rc("sysctl.right_interface_version", _hypercall2(__HYPERVISOR_sysctl, sysctl, 0), -EPERM);
    }
}

static void memory(void)
{
    const u64 l4 = pv_mfn((void *)pv_start_info->pt_base);
    const u64 va = (u64)(uintptr_t)scratch;

    if (dom0)
        pv_expect_rc("mmuext_op.foreigndom_own_id", mmuext(6 /* TLB_FLUSH_LOCAL */, 0, 0), -ESRCH);
    pv_expect_rc("mmuext_op.pin_pinned_l4", mmuext(3 /* PIN_L4_TABLE */, l4, DOMID_SELF), -EINVAL);
    pv_expect_rc("mmuext_op.cmd_14", mmuext(14, 0, DOMID_SELF), -ENOSYS);
    pv_expect_rc("mmuext_op.cmd_21", mmuext(21, 0, DOMID_SELF), -ENOSYS);
    pv_expect_rc("mmuext_op.mark_super", mmuext(19, pv_mfn(scratch), DOMID_SELF), -EOPNOTSUPP);

    pv_expect_rc("update_va_mapping.noncanonical", hypercall_update_va_mapping(0x0000800000000000UL, 0, UVMF_INVLPG), -EINVAL);
    pv_expect_rc("update_va_mapping.xen_range", hypercall_update_va_mapping(0xffff800000000000UL, 0, UVMF_INVLPG), -EINVAL);
    pv_expect_rc("update_va_mapping.l4_writable", hypercall_update_va_mapping(va, (l4 << 12) | 0x63, UVMF_INVLPG), -EBUSY);
    pv_expect_rc("update_va_mapping.l4_read_only", hypercall_update_va_mapping(va, (l4 << 12) | 0x21, UVMF_INVLPG), 0);
    u64 entry0 = *(volatile u64 *)scratch;
    pv_expect("update_va_mapping.l4_entry0_present", entry0 & 1, 1);
    if (hypercall_update_va_mapping(va, (pv_mfn(scratch) << 12) | 0x63, UVMF_INVLPG))
        test_abort("remapping the scratch page");

    const u32 ports[] = { 0, 63, 4096 };
    for (unsigned int i = 0; i < ARRAY_SIZE(ports); i++) {
        char name[48];
        u32 port = ports[i];
        snprintk(name, sizeof(name), "evtchn_send.port_%u", port);
        pv_expect_rc(name, hypercall_event_channel_op(4 /* EVTCHNOP_send */, &port), -EINVAL);
    }
}

void test_main(void)
{
    dom0 = (pv_start_info->flags & SIF_INITDOMAIN) != 0;
    const long version = hypercall_xen_version(0, NULL);
    printk("xen_version: 0x%lx\n", version);
    printk("dom0: %u\n", dom0);
    traps_and_callbacks();
    version_and_assists(version);
    console_sched_vcpu(version);
    memory();
}
