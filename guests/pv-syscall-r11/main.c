/*
 * pv-syscall-r11: a guest kernel that returns from a system call the way Solaris's did
 * in 2007 (seed 003): it takes the user's RIP and RFLAGS from the %rcx and %r11 slots of
 * the syscall callback's frame ("we were relying on being able to just pop the stack into
 * %rcx/%r11 and get syscall-like values") and goes back to user mode with HYPERVISOR_iret
 * and VGCF_in_syscall, as a native kernel's SYSRET would.
 *
 * What the PV ABI documents about the frame (public/arch-x86/xen-x86_64.h; create_bounce_frame
 * in xen/arch/x86/x86_64/entry.S, 3.0.4-branched and c447b7308b alike; xen-pv-abi.md §1.6):
 * from the new kernel %rsp upward [%rcx, %r11, %rip, %cs | saved upcall mask << 32,
 * %rflags, %rsp, %ss]; for a SYSCALL from user mode the %rcx slot and %rip are the return
 * address, %rflags the user's RFLAGS with IF standing for the saved upcall mask, %rsp the
 * user's stack, %cs 0xe033, %ss 0xe02b.  The guest checks those.  The %r11 slot was never
 * written down ("this aspect of the interface was undocumented and unused by Linux",
 * Keir Fraser, seed 003), so the guest does not hold Xen to a value there: it prints the
 * slot and what user mode finds in RFLAGS after the return built from it, as observations.
 *
 * HYPERVISOR_iret (pv/iret.c, 3.0.4-branched x86_64/traps.c:192-238) makes RFLAGS the
 * frame's with IOPL and VM cleared and IF set, and with VGCF_in_syscall Xen leaves by
 * SYSRET, which loads RFLAGS from %r11 (Intel SDM Vol. 2B SYSRET: (R11 & 3C7FD7H) | 2).
 * User mode sets RFLAGS to ZF | PF with `xor` before the SYSCALL (events masked: IF 0 in
 * user mode's iret frame), reads RFLAGS with PUSHF after it and clears AC again at once,
 * so that a stray AC cannot make a later unaligned access fault.
 *
 * Xen in FRED mode with c5a4b9125b (xen/fred) writes regs->rcx/r11 from the frame FRED
 * delivered (traps.c:2414-2415), so the slots hold the return RIP and the user's RFLAGS as in
 * IDT mode; without it (xen-nocompat/fred; guest.json "expect") they hold the user's own %rcx
 * and %r11 (FRED's SYSCALL writes neither), and the Solaris-style return jumps to the user's
 * %rcx: 0 here, a #PF the library reports as an error (seed 000).
 */
#include "ringside-pv.h"

#define AC 0x40000UL

static u64 site, user_rsp, rflags_after;
static struct { u64 rcx, r11, rip, rflags; } seen;

static NOINLINE u64 user_syscall(u64 a)
{
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "xor %%edx, %%edx\n\t"          /* ZF | PF */
                 "mov $7, %%eax\n"
                 "1: syscall\n\t"
                 "pushfq\n\t"
                 "popq %[rflags]\n\t"
                 "pushfq\n\t"
                 "andq $~" HYPERCALL_STR(AC) ", (%%rsp)\n\t"
                 "popfq\n\t"
                 : [site] "=m"(site), [rsp] "=m"(user_rsp), [rflags] "=m"(rflags_after)
                 :: "rax", "rcx", "rdx", "r11", "memory", "cc");
    return a;
}

/* Solaris's way back: RIP and RFLAGS from the %rcx and %r11 slots. */
static void sysret_style(struct pv_frame *f)
{
    seen.rcx = f->rcx;
    seen.r11 = f->r11;
    seen.rip = f->rip;
    seen.rflags = f->rflags;
    f->rip = f->rcx;
    f->rflags = f->r11;
}

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

void test_main(void)
{
    const volatile struct pv_event *ev = &last_event;

    pv_event_reset();
    pv_syscall_hook = sysret_style;
    pv_syscall_iret_flags = VGCF_in_syscall;
    pv_exec_user(user_syscall, 0);
    pv_syscall_hook = NULL;

    expect("callback.count", ev->count, 1);
    expect("callback.frame.rcx_is_return_rip", seen.rcx == site + 2, 1);
    expect("callback.frame.rip_is_return_rip", seen.rip == site + 2, 1);
    expect("callback.frame.cs", ev->cs, (1UL << 32) | FLAT_USER_CS);
    expect("callback.frame.rflags", seen.rflags, 0x46);
    expect("callback.frame.rsp_is_user_rsp", ev->rsp == user_rsp, 1);
    expect("callback.frame.ss", ev->ss, FLAT_USER_SS);
    /* Observations: what the undocumented slot held, and what user mode got from it. */
    printk("callback.frame.r11: 0x%lx\n", seen.r11);
    printk("user.rflags_after_return: 0x%lx\n", rflags_after);
    printk("user.ac_after_return: %lu\n", (rflags_after & AC) != 0);
}
