/*
 * pv-syscall: a 64-bit PV guest's user-mode SYSCALL, its syscall callback and the
 * return to user mode with HYPERVISOR_iret.
 *
 * Xen 4.17 (and today, c447b7308b, in IDT mode):
 * - registration: CALLBACKOP_register of CALLBACKTYPE_syscall with
 *   CALLBACKF_mask_events (xen/arch/x86/pv/callback.c: register_guest_callback) sets
 *   syscall_callback_eip and VGCF_syscall_disables_events;
 * - SYSCALL from guest user mode enters lstar_enter (xen/arch/x86/x86_64/entry.S),
 *   which keeps the CPU's %rcx (return RIP) and %r11 (RFLAGS) as the guest's, and
 *   switch_to_kernel bounces to the callback: create_bounce_frame writes
 *   [%rcx, %r11, %rip, %cs | saved upcall mask << 32, %rflags, %rsp, %ss] below the
 *   kernel stack (stack_switch) with the user's values, %cs 0xe033 and %ss 0xe02b as
 *   lstar_enter pushed them, %rflags with IF = !saved mask, and masks events
 *   (TBF_INTERRUPT); Xen SYSRETs to the callback (restore_all_guest: %r11 =
 *   (eflags & ~(IOPL|VM)) | IF, %rcx = the callback), so it starts with %rcx = its own
 *   address and %r11 = its RFLAGS; %rax and the other registers are the user's.
 *   The RFLAGS the callback runs with are meant to lose DF only ("The PV ABI ...
 *   hardcodes that DF is cleared"), but since d2fe9ab304 (2024-07-02, "x86/entry:
 *   don't clear DF when raising #UD for lack of syscall handler"; in 4.17 as
 *   b61a4baf35, and unchanged at c447b7308b) switch_to_kernel keeps the mask in %esi
 *   across `call create_bounce_frame`, which uses %rsi for the guest frame pointer:
 *   `and %esi, UREGS_eflags(%rsp)` ANDs the user's RFLAGS with the low 32 bits of the
 *   bounce frame's address.  So the callback's %r11 is (RFLAGS & frame address) | IF:
 *   with the frame at kernel_sp - 56 = ...fc8 DF survives and PF and bit 1 go; with
 *   kernel_sp 0x400 lower (frame ...bc8) DF goes too.  Before d2fe9ab304,
 *   `andl $~X86_EFLAGS_DF` cleared DF alone.  The frame on the stack keeps the user's
 *   RFLAGS either way;
 * - HYPERVISOR_iret (xen/arch/x86/pv/iret.c: do_iret) reads struct iret_context
 *   {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss} from the stack; CS RPL 3 toggles
 *   to user mode; RFLAGS gets IF forced on and the event mask becomes !(IF);
 *   "If flags contains VGCF_in_syscall: Restore RAX, RIP, RFLAGS, RSP. Discard R11,
 *   RCX, CS, SS" (public/arch-x86/xen-x86_64.h): entry_vector keeps TRAP_syscall and
 *   Xen returns with SYSRET, so user mode sees %rcx = RIP and %r11 = RFLAGS; without
 *   it, IRET, and user mode sees the %rcx/%r11 the kernel passed in the iret_context.
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3; notes/xen-2007.md): the frame is the same
 * except for two points.  The callback runs with the user's DF (and every other flag but
 * AC|VM|RF|NT|TF): switch_to_kernel did not touch RFLAGS before c461d64b66 (2007-07-03;
 * 3.0.4-branched xen/arch/x86/x86_64/entry.S:28-37, 296-300), so its %r11 is the user's
 * RFLAGS | IF.  And on 3.1.1 (extraversion ".1") the frame's %r11 slot is not the user's
 * RFLAGS but the address of Xen's syscall_enter: 369bafdb1c's trampoline jumps there
 * through %r11 (b28b3c245a^ xen/arch/x86/x86_64/traps.c:292-300) after pushing the real
 * RFLAGS into the hardware frame, and syscall_enter saves %r11 as regs->r11, which
 * create_bounce_frame copies into the slot (entry.S:122-128, 291-292) -- the 2007
 * regression Solaris hit, fixed by b28b3c245a.  The guest checks the slot then holds an
 * address in Xen's range (HYPERVISOR_VIRT_START..END) instead; its value is the build's.
 * User mode runs with events masked (RFLAGS.IF = 0 in the iret frame) except in the
 * `unmasked` case, where the frame's saved upcall mask byte is 0 and its IF is 1.
 * Before the SYSCALL the user code sets RFLAGS to ZF | PF (and DF in the `df` case)
 * with `xor`, so every value is known.
 *
 * Xen in FRED mode (xen/fred, xen-nocompat/fred; guest.json "expect"): entry_from_pv's
 * SYSCALL case (traps.c:2385-2437) clears DF *before* the bounce frame is written
 * (2432), so the frame's RFLAGS lose the user's DF (the kernel's HYPERVISOR_iret with
 * them returns to user mode with DF clear), and it clears DF alone: the callback's %r11
 * (eretu_exit_to_guest's CMOV of the frame RFLAGS, entry-fred.S:45) keeps bit 1 and PF
 * that IDT mode's AND with the frame address drops. HYPERVISOR_iret with VGCF_in_syscall
 * returns %rcx = the iret stub's address after its SYSCALL and %r11 = the RFLAGS there
 * (2414-2415; TRAP_syscall is never set by FRED entry). Without c5a4b9125b the frame's
 * %rcx/%r11 words and the callback's live %rcx/%r11 are the user's own values
 * (0x1111/0x2222 here) — what seed 000's patch is about.
 */
#include "ringside-pv.h"

static u64 site, rsp_at;
static struct { u64 rax, rcx, r11, rflags; } after;
static u64 seen_rax;
static bool xen3, r11_trampoline;    /* Xen 3.x; 3.1.1's %r11 trampoline */

static NOINLINE u64 user_syscall(u64 set_df)
{
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "mov $0x1111, %%rcx\n\t"
                 "mov $0x2222, %%r11\n\t"
                 "xor %%edx, %%edx\n\t"          /* ZF | PF */
                 "mov $7, %%eax\n\t"
                 "test %[df], %[df]\n\t"
                 "jz 3f\n\t"
                 "xor %%edx, %%edx\n\t"
                 "std\n\t"
                 "jmp 4f\n\t"
                 "3: xor %%edx, %%edx\n\t"
                 "4: mov $7, %%eax\n\t"
                 "1: syscall\n\t"
                 "pushfq\n\t"
                 "popq %[rflags]\n\t"
                 "cld\n\t"
                 "mov %%rax, %[rax]\n\t"
                 "mov %%rcx, %[rcx]\n\t"
                 "mov %%r11, %[r11]\n\t"
                 : [site] "=m"(site), [rsp] "=m"(rsp_at), [rax] "=m"(after.rax), [rcx] "=m"(after.rcx),
                   [r11] "=m"(after.r11), [rflags] "=m"(after.rflags)
                 : [df] "r"(set_df)
                 : "rax", "rcx", "rdx", "r11", "memory", "cc");
    return 0;
}

/* The kernel's handler: note %rax, return 0x5a5a, and offer %rcx/%r11 values that only
 * an IRET-style return (flags without VGCF_in_syscall) hands to user mode. */
static void handler(struct pv_frame *f)
{
    seen_rax = f->rax;
    f->rax = 0x5a5a;
    f->rcx = 0xc0c0;
    f->r11 = 0x1d1d;
}

static void expect(const char *name, const char *field, u64 got, u64 want)
{
    printk("%s.%s: 0x%lx\n", name, field, got);
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

static void run(const char *name, u64 iret_flags, bool unmasked, bool df, u64 kernel_sp_below)
{
    const volatile struct pv_event *ev = &last_event;
    const u64 user_df = df ? 0x400 : 0;
    const u64 user_rflags = 0x246 | user_df;         /* what SYSCALL put in %r11 */
    const u64 kernel_sp = PV_KERNEL_STACK_TOP - kernel_sp_below;

    if (kernel_sp_below && hypercall_stack_switch(FLAT_KERNEL_SS, kernel_sp))
        test_fail("%s: stack_switch", name);
    pv_event_reset();
    pv_syscall_iret_flags = iret_flags;
    pv_user_rflags = unmasked ? 0x202 : 0x2;
    pv_exec_user(user_syscall, df);
    pv_user_rflags = 0x2;
    if (kernel_sp_below && hypercall_stack_switch(FLAT_KERNEL_SS, PV_KERNEL_STACK_TOP))
        test_fail("%s: stack_switch back", name);

    if (ev->count != 1 || ev->vector != VEC_SYSCALL) {
        test_fail("%s: %lu events, last %s", name, ev->count, exc_name((unsigned int)ev->vector));
        return;
    }
    /* The callback's view. */
    expect(name, "callback.rax", seen_rax, 7);
    expect(name, "callback.frame.rcx_is_return_rip", ev->rcx == site + 2, 1);
    if (r11_trampoline)
        expect(name, "callback.frame.r11_in_xen_range", ev->r11 >= 0xffff800000000000UL && ev->r11 < 0xffff880000000000UL, 1);
    else
        expect(name, "callback.frame.r11", ev->r11, user_rflags);
    printk("%s.callback.frame.rip: label+0x%lx\n", name, ev->rip - site);
    if (ev->rip != site + 2)
        test_fail("%s: frame rip", name);
    expect(name, "callback.frame.cs", ev->cs, (unmasked ? 0 : 1UL << 32) | FLAT_USER_CS);
    expect(name, "callback.frame.rflags", ev->rflags, (user_rflags & ~0x200UL) | (unmasked ? 0x200 : 0));
    expect(name, "callback.frame.rsp_is_user_rsp", ev->rsp == rsp_at, 1);
    expect(name, "callback.frame.ss", ev->ss, FLAT_USER_SS);
    printk("%s.callback.frame: kernel_sp-0x%lx\n", name, kernel_sp - ev->frame);
    printk("%s.callback.frame_low12: 0x%lx\n", name, ev->frame & 0xfff);
    if (ev->frame != kernel_sp - 56)
        test_fail("%s: frame address", name);
    expect(name, "callback.live_rcx_is_callback", ev->live_rcx == (u64)(uintptr_t)pv_syscall_entry, 1);
    expect(name, "callback.live_r11", ev->live_r11, xen3 ? user_rflags | 0x200 : (user_rflags & (u32)ev->frame) | 0x200);

    /* What user mode sees after the return. */
    expect(name, "user.rax", after.rax, 0x5a5a);
    if (iret_flags & VGCF_in_syscall) {
        expect(name, "user.rcx_is_return_rip", after.rcx == site + 2, 1);
        expect(name, "user.r11", after.r11, user_rflags);
    } else {
        expect(name, "user.rcx", after.rcx, 0xc0c0);
        expect(name, "user.r11", after.r11, 0x1d1d);
    }
    expect(name, "user.rflags", after.rflags, user_rflags);
}

void test_main(void)
{
    const long version = hypercall_xen_version(0 /* XENVER_version */, NULL);
    char extra[16] = { 0 };

    xen3 = version >> 16 == 3;
    if (version == 0x30001)
        hypercall_xen_version(1 /* XENVER_extraversion */, extra);
    r11_trampoline = version == 0x30001 && strcmp(extra, ".1") == 0;
    pv_syscall_hook = handler;
    run("in_syscall", VGCF_in_syscall, false, false, 0);
    run("iret", 0, false, false, 0);
    run("in_syscall_unmasked", VGCF_in_syscall, true, false, 0);
    run("iret_unmasked", 0, true, false, 0);
    run("in_syscall_df", VGCF_in_syscall, false, true, 0);
    run("iret_df", 0, false, true, 0);
    run("in_syscall_df_stack_400", VGCF_in_syscall, false, true, 0x400);
    pv_syscall_hook = NULL;
    pv_syscall_iret_flags = VGCF_in_syscall;
    expect("events", "mask_after", pv_vcpu0->evtchn_upcall_mask, 1);
}
