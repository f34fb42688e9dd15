/*
 * pv-xsa7: HYPERVISOR_iret to a non-canonical RIP, and the exit path that must not use
 * SYSRET for it (XSA-7, CVE-2012-0217: on Intel a SYSRET with a non-canonical %rcx
 * raises #GP in ring 0, on the guest's stack).
 *
 * Xen 4.17 (and today, c447b7308b, in IDT mode):
 * - do_iret (xen/arch/x86/pv/iret.c) takes RIP from the guest's iret_context without a
 *   check; with VGCF_in_syscall entry_vector keeps TRAP_syscall, without it the
 *   context's %rcx and %r11 are loaded;
 * - restore_all_guest (xen/arch/x86/x86_64/entry.S): with TRAP_syscall it computes
 *   %r11 = (RFLAGS & ~(IOPL|VM)) | IF and tests RIP ("Don't use SYSRET path if the
 *   return address is not canonical": sar $47; inc; cmp $1; ja); a non-canonical RIP
 *   goes to .Lrestore_rcx_iret_exit_to_guest, which loads %rcx = RIP, so the guest gets
 *   the %rcx/%r11 SYSRET would have given, and leaves by IRETQ;
 * - the IRETQ (iret_to_guest / .Lft0) faults with #GP(0) in ring 0;
 *   exception_with_ints_disabled finds it in the pre-exception table and restarts
 *   handle_exception on the frame being restored, "as if this exception occurred in
 *   guest context": do_general_protection sees error code 0 and tries
 *   pv_emulate_privileged_op, whose instruction fetch refuses a non-canonical address
 *   (emul-priv-op.c: insn_fetch -> pv_emul_virt_to_linear: !__addr_ok -> #GP(0)), so
 *   the guest gets #GP(0) with the frame's RIP = the non-canonical value, CS = the
 *   returned-to mode's (0xe030 for the kernel, 0xe033 for user), %rcx/%r11 as above;
 * - a canonical RIP in Xen's range is not refused either: SYSRET (or IRET) goes there and
 *   the guest's own fetch faults. 0xffff800000000000 is the read-only M2P, mapped
 *   user-readable but NX (__PAGE_HYPERVISOR_RO | _PAGE_USER), so #PF with P and I/D, the
 *   U bit as pv_inject_event recomputes it (kernel 0x11, user 0x15), %cr2 = RIP.
 * Kernel cases: the kernel builds the iret_context itself (CS 0xe030: back to kernel
 * mode; RFLAGS 0x2: events stay masked) with %rcx = 0x1111, %r11 = 0x2222, %rax = 0x3333.
 * User cases: a user `syscall` (RFLAGS ZF | PF) whose callback changes the return RIP and
 * offers %rcx = 0x4444, %r11 = 0x5555, returning with or without VGCF_in_syscall.
 * Every event resumes at the instruction after the return (EXTABLE on the fault RIP),
 * where %rcx, %r11 (and %rax) are recorded. RF is left out of the printed RFLAGS: the CPU
 * pushes RF = 1 for the #PF (Intel SDM Vol. 3A 6.8.3), QEMU TCG 0; both are accepted.
 *
 * Xen in FRED mode (xen/fred, xen-nocompat/fred; guest.json "expect"): the #GP and #PF
 * frames' SS words carry FRED's event description (create_bounce_frame stores the whole
 * ssx, entry.S:576-579), and HYPERVISOR_iret with VGCF_in_syscall leaves %rcx/%r11 as the
 * iret stub's SYSCALL had them (traps.c:2414-2415; no TRAP_syscall, so no CMOV at
 * entry-fred.S:44-45) — without c5a4b9125b, as the stub pushed them — rather than the
 * return RIP and RFLAGS. A non-canonical return RIP faults on ERETU in both cases
 * (handle_eretu_event: the guest's error, traps.c:2548-2553), as IRET did.
 *
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3) predate the XSA-7 fix (6b091fa445, 2012):
 * restore_all_guest SYSRETs to whatever RIP regs hold (3.0.4-branched
 * xen/arch/x86/x86_64/entry.S:40-53), which on Intel is the #GP in ring 0 on the guest's
 * stack that XSA-7 is about, and a fault on its IRETQ went to the guest's failsafe callback
 * (:57-94, __pre_ex_table / __ex_table) rather than coming back as the fault.  There only
 * the canonical cases are run; the others are not applicable on Xen 3 (the xen_m2p one as
 * well: how 2007 mapped the M2P for a guest, NX included, is not what this guest describes).
 */
#include "ringside-pv.h"

#define NC_LOW  0x0000800000000000UL
#define NC_HIGH 0xffff7ffffffff000UL
#define XEN_M2P 0xffff800000000000UL
#define RF 0x10000UL
#define USER_OFFSET 0x10UL

static u64 site, rsp_at, target;
static struct { u64 rcx, r11, rax; } resumed;

/* HYPERVISOR_iret from the kernel to the kernel, at `target` (0: the label after it). */
static NOINLINE void kernel_iret(u64 flags)
{
    u64 t = target;
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "test %[t], %[t]\n\t"
                 "cmovz %%rax, %[t]\n\t"
                 "mov %%rsp, %%rbx\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "pushq $" HYPERCALL_STR(FLAT_KERNEL_SS) "\n\t"
                 "push %%rbx\n\t"
                 "pushq $0x2\n\t"
                 "pushq $" HYPERCALL_STR(KERNEL_CS_RPL0) "\n\t"
                 "push %[t]\n\t"
                 "push %[flags]\n\t"
                 "mov $0x1111, %%rcx\n\t"
                 "mov $0x2222, %%r11\n\t"
                 "mov $0x3333, %%eax\n\t"
                 "jmp hypercall_page + " HYPERCALL_STR(__HYPERVISOR_iret) " * 32\n"
                 "1:\n\t"
                 "mov %%rcx, %[rcx]\n\t"
                 "mov %%r11, %[r11]\n\t"
                 "mov %%rax, %[rax]\n\t"
                 EXTABLE(0x0000800000000000, 1b)
                 EXTABLE(0xffff7ffffffff000, 1b)
                 EXTABLE(0xffff800000000000, 1b)
                 : [site] "=m"(site), [rsp] "=m"(rsp_at), [rcx] "=m"(resumed.rcx), [r11] "=m"(resumed.r11),
                   [rax] "=m"(resumed.rax), [t] "+r"(t)
                 : [flags] "r"(flags)
                 : "rax", "rbx", "rcx", "r11", "memory", "cc");
}

/* User mode: a `syscall` the callback returns from at `target` (0: where it was). The
 * exception table is keyed by the fault's RIP alone, so user targets are 0x10 above the
 * kernel's. */
static NOINLINE u64 user_syscall(u64 a)
{
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "mov $0x1111, %%rcx\n\t"
                 "mov $0x2222, %%r11\n\t"
                 "xor %%eax, %%eax\n\t"
                 "syscall\n"
                 "1:\n\t"
                 "mov %%rcx, %[rcx]\n\t"
                 "mov %%r11, %[r11]\n\t"
                 EXTABLE(0x0000800000000010, 1b)
                 EXTABLE(0xffff7ffffffff010, 1b)
                 EXTABLE(0xffff800000000010, 1b)
                 : [site] "=m"(site), [rsp] "=m"(rsp_at), [rcx] "=m"(resumed.rcx), [r11] "=m"(resumed.r11)
                 :: "rax", "rcx", "r11", "memory", "cc");
    return a;
}

static void hook(struct pv_frame *f)
{
    if (target)
        f->rip = target;
    f->rcx = 0x4444;
    f->r11 = 0x5555;
}

static void check(const char *name, const char *field, u64 got, u64 want)
{
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

/* A value, printed as `label` when it is the instruction after the return. */
static void show(const char *name, const char *field, u64 got, u64 want)
{
    if (got == site)
        printk("%s.%s: label\n", name, field);
    else
        printk("%s.%s: 0x%lx\n", name, field, got);
    check(name, field, got, want);
}

static void run(const char *name, bool user, u64 to, bool in_syscall)
{
    const volatile struct pv_event *ev = &last_event;
    const u64 in_rcx = user ? 0x4444 : 0x1111, in_r11 = user ? 0x5555 : 0x2222;
    /* The RFLAGS Xen returns with: the user's ZF | PF, or the kernel's 0x2; IF set. */
    const u64 ret_rflags = user ? 0x246 : 0x202;

    if (user && to)
        to += USER_OFFSET;
    target = to;
    pv_event_reset();
    if (user) {
        pv_syscall_hook = hook;
        pv_syscall_iret_flags = in_syscall ? VGCF_in_syscall : 0;
        pv_exec_user(user_syscall, 0);
        pv_syscall_hook = NULL;
        pv_syscall_iret_flags = VGCF_in_syscall;
    } else {
        kernel_iret(in_syscall ? VGCF_in_syscall : 0);
    }
    const u64 rip = to ? to : site;
    const u64 want_rcx = in_syscall ? rip : in_rcx, want_r11 = in_syscall ? ret_rflags : in_r11;
    /* The user's syscall is one event; the fault, if any, another. */
    const u64 events = (user ? 1 : 0) + (to ? 1 : 0);

    show(name, "events", ev->count, events);
    if (to) {
        const bool pf = (to & ~USER_OFFSET) == XEN_M2P;
        printk("%s.event: %s\n", name, exc_name((unsigned int)ev->vector));
        check(name, "vector", ev->vector, pf ? 14 : 13);
        show(name, "error_code", ev->error_code, pf ? (user ? 0x15 : 0x11) : 0);
        show(name, "frame.rcx", ev->rcx, want_rcx);
        show(name, "frame.r11", ev->r11, want_r11);
        show(name, "frame.rip", ev->rip, rip);
        show(name, "frame.cs", ev->cs, (1UL << 32) | (user ? FLAT_USER_CS : KERNEL_CS_RPL0));
        show(name, "frame.rflags_without_rf", ev->rflags & ~RF, ret_rflags & ~0x200UL);
        if (!pf)
            check(name, "frame.rflags", ev->rflags, ret_rflags & ~0x200UL);
        show(name, "frame.rsp_is_rsp_before", ev->rsp == rsp_at, 1);
        show(name, "frame.ss", ev->ss, FLAT_KERNEL_SS);
        if (pf)
            show(name, "cr2", pv_vcpu0->cr2, to);
    }
    show(name, "resumed.rcx", resumed.rcx, want_rcx);
    show(name, "resumed.r11", resumed.r11, want_r11);
    if (!user)
        show(name, "resumed.rax", resumed.rax, 0x3333);
}

void test_main(void)
{
    static const struct { const char *name; u64 to; } targets[] = {
        { "canonical", 0 }, { "noncanonical_low", NC_LOW }, { "noncanonical_high", NC_HIGH }, { "xen_m2p", XEN_M2P },
    };
    char name[64];
    const bool xen3 = hypercall_xen_version(0 /* XENVER_version */, NULL) >> 16 == 3;

    if (xen3)
        printk("xen3: only the canonical cases (XSA-7 and the failsafe callback)\n");
    for (unsigned int u = 0; u < 2; u++)
        for (unsigned int i = 0; i < ARRAY_SIZE(targets); i++)
            for (unsigned int s = 0; s < 2; s++) {
                if (xen3 && targets[i].to)
                    continue;
                snprintk(name, sizeof(name), "%s_%s_%s", u ? "user" : "kernel", s ? "in_syscall" : "iret",
                         targets[i].name);
                run(name, u, targets[i].to, s);
            }
    show("events", "mask_after", pv_vcpu0->evtchn_upcall_mask, 1);
}
