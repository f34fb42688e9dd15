/*
 * pv-sysenter: SYSENTER from a 64-bit PV guest's user mode.
 *
 * Xen 4.17 (and today, c447b7308b, in IDT mode):
 * - Xen points the CPU's SYSENTER MSRs at sysenter_entry (xen/arch/x86/x86_64/entry.S)
 *   on Intel; in long mode only Intel CPUs execute SYSENTER: on AMD it raises #UD
 *   ("SYSENTER ... is invalid in long mode", AMD APM vol. 3), which do_invalid_op
 *   (xen/arch/x86/traps.c) finds is not the forced-emulation prefix and bounces as #UD
 *   through the trap table, RIP at the SYSENTER;
 * - sysenter_entry cannot know where SYSENTER came from (it saves no RIP or RSP), so the
 *   frame it builds has SS FLAT_USER_SS (0xe02b), RSP 0, the RFLAGS the CPU left ("PUSHF
 *   above has saved EFLAGS.IF clear (the caller had it set)": IF ORed back), CS 3 ("ring 3
 *   null cs") and RIP 0 ("null rip"), entry_vector TRAP_syscall, and bounces at once
 *   (.Lbounce_exception: create_bounce_frame) to the callback registered with
 *   CALLBACKOP_register of CALLBACKTYPE_sysenter (5; xen/arch/x86/pv/callback.c:
 *   register_guest_callback), masking events only with CALLBACKF_mask_events
 *   (sysenter_disables_events);
 * - with no callback (sysenter_addr 0: UNLIKELY_START(z, sysenter_gpf)) the bounce is
 *   #GP with error code 0 (%eax, the zero address) through trap-table entry 13, with the
 *   same frame: RIP 0, CS 3, RSP 0;
 * - create_bounce_frame writes [%rcx, %r11, (error code), %rip, %cs | saved upcall mask
 *   << 32, %rflags, %rsp, %ss] below the kernel stack (stack_switch), the user's %rcx and
 *   %r11 (SYSENTER leaves them), RFLAGS.IF standing for "events not masked"; Xen then
 *   SYSRETs to the handler (TRAP_syscall), so it starts with %rcx = its address and
 *   %r11 = (RFLAGS & ~(IOPL|VM)) | IF.
 * The guest takes the vendor from Xen's CPUID policy (forced-emulation CPUID leaf 0,
 * the host's vendor) and checks the Intel or the AMD outcome. Real Xen runs under QEMU
 * `-cpu max` with TCG, whose vendor is AuthenticAMD: there only the #UD is seen.
 * Before the SYSENTER, user code sets %rcx = 0x1111, %r11 = 0x2222 and RFLAGS = ZF | PF
 * (`xor`), events masked in the first case and unmasked in the others, so the saved
 * upcall mask and IF are known. The handlers (entry.S) cannot return to RIP 0: they
 * record the frame and IRET to the instruction after the SYSENTER with the user's stack.
 * SYSCALL from the 32-bit user segment (FLAT_USER_CS32, 0xe023; entered and left
 * with far jumps): only AMD CPUs execute SYSCALL in compatibility mode
 * (Intel SDM: "#UD If ... not in 64-bit mode"); Xen's cstar_enter frame has CS 0xe023,
 * RIP = %rcx (the return address), RFLAGS = %r11, and switch_to_kernel bounces to the
 * CALLBACKTYPE_syscall32 callback (7) or, without one, raises #UD at the SYSCALL (RIP
 * moved back 2) with %rcx/%r11 as the SYSCALL left them; the callback's %r11 is its
 * RFLAGS ANDed with the frame's address (see guests/pv-syscall). %r11 is not printed for
 * the Intel #UD: the SDM leaves the upper registers undefined across compatibility mode.
 * Xen 3.0.4 and 3.1.1 (XENVER_version major 3; notes/xen-2007.md) had neither callback:
 * they came with cd75d47348 (2007-10-24, "syscall/sysenter support for 32-bit apps").
 * CALLBACKOP_register of types 5 and 7 is -ENOSYS (3.0.4-branched
 * xen/arch/x86/x86_64/traps.c:346-379, 3.1.0-branched :375-404), and Xen never writes the
 * SYSENTER MSRs on x86-64, so IA32_SYSENTER_CS is 0 and an Intel CPU's SYSENTER raises
 * #GP(0) itself (Intel SDM Vol. 2B SYSENTER: "IF IA32_SYSENTER_CS[15:2] = 0 THEN #GP(0)"),
 * which do_general_protection bounces with the CPU's frame: RIP at the SYSENTER, the user's
 * CS, RFLAGS and RSP.  A compatibility-mode SYSCALL on AMD reached the one 64-bit syscall
 * callback then (traps.c:301-331); the library's would treat it as a 64-bit system call,
 * so on AMD with Xen 3 that part is not run.
 * RF is left out of the printed RFLAGS: a CPU pushes RF = 1 for a fault (Intel SDM Vol.
 * 3A 6.8.3 and the #UD here), QEMU TCG 0 (test/qemu-deviations.ts); both are accepted.
 *
 * Xen in FRED mode (xen/fred, xen-nocompat/fred; guest.json "expect"): entry_from_pv's
 * SYSENTER case (traps.c:2439-2467) clears IF with VM (2458) and nothing sets it again,
 * so the sysenter callback runs with IF = 0 and c5a4b9125b's %r11 (the frame RFLAGS,
 * entry-fred.S:45) shows it; IDT mode's sysenter_entry ORs IF back (entry.S:400-401).
 * The compatibility-mode SYSCALL's #UD is a hardware exception whose frame SS word
 * carries FRED's event description (create_bounce_frame stores the whole ssx,
 * entry.S:576-579). Without c5a4b9125b the callback's live %rcx/%r11 are the user's.
 */
#include "ringside-pv.h"

#define CALLBACKTYPE_sysenter 5
#define CALLBACKTYPE_syscall32 7
#define RF 0x10000UL

extern const char se_callback[], se_gp[], sysenter_resume[];
extern const char compat_back[];
extern volatile u64 se_live_rcx, se_live_r11, se_live_rsp, se_live_mask, se_frame[8], se_count, se_user_rsp, se_resume;

static u64 site, user_rsp;
static bool intel, xen3;

static NOINLINE u64 user_sysenter(u64 a)
{
    asm volatile("lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 "mov %%rsp, se_user_rsp(%%rip)\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "mov $0x1111, %%rcx\n\t"
                 "mov $0x2222, %%r11\n\t"
                 "xor %%eax, %%eax\n\t"
                 "1: sysenter\n\t"
                 ".globl sysenter_resume\n"
                 "sysenter_resume:\n\t"
                 EXTABLE(1b, sysenter_resume)
                 : [site] "=m"(site), [rsp] "=m"(user_rsp)
                 :: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    return a;
}

/* User mode: a far jump to the 32-bit user code segment, SYSCALL there, and a far jump
 * back to 64-bit code (also the #UD's fixup, in compatibility mode). */
static NOINLINE u64 user_compat_syscall(u64 a)
{
    asm volatile("mov %%rsp, se_user_rsp(%%rip)\n\t"
                 "mov %%rsp, %[rsp]\n\t"
                 "lea 1f(%%rip), %%rax\n\t"
                 "mov %%rax, %[site]\n\t"
                 ".pushsection .data\n"
                 "4: .long 2f\n\t"
                 ".word " HYPERCALL_STR(FLAT_USER_CS32) "\n\t"
                 ".popsection\n\t"
                 "ljmpl *4b(%%rip)\n\t"
                 ".code32\n"
                 "2: mov $0x1111, %%ecx\n\t"
                 "xor %%eax, %%eax\n"
                 "1: syscall\n"
                 "3: ljmpl $" HYPERCALL_STR(FLAT_USER_CS) ", $compat_back\n\t"
                 ".code64\n"
                 ".globl compat_back\n"
                 "compat_back:\n\t"
                 "mov se_user_rsp(%%rip), %%rsp\n\t"
                 EXTABLE(1b, 3b)
                 : [site] "=m"(site), [rsp] "=m"(user_rsp)
                 :: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    return a;
}

static void check(const char *name, const char *field, u64 got, u64 want)
{
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

static void show(const char *name, const char *field, u64 got, u64 want)
{
    printk("%s.%s: 0x%lx\n", name, field, got);
    check(name, field, got, want);
}

static void vendor(void)
{
    u32 a = 0, b, c = 0, d;
    asm volatile("ud2; .ascii \"xen\"; cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    char v[13];
    memcpy(v, &b, 4);
    memcpy(v + 4, &d, 4);
    memcpy(v + 8, &c, 4);
    v[12] = 0;
    printk("vendor: %s\n", v);
    intel = strcmp(v, "GenuineIntel") == 0;
    if (!intel && strcmp(v, "AuthenticAMD") != 0)
        test_fail("vendor %s: neither Intel nor AMD", v);
}

static long register_sysenter(bool mask)
{
    struct callback_register cb = { .type = CALLBACKTYPE_sysenter, .flags = mask ? CALLBACKF_mask_events : 0,
                                    .address = (u64)(uintptr_t)se_callback };
    return hypercall_callback_op(CALLBACKOP_register, &cb);
}

/* Intel: what the callback or the #GP handler found. */
static void intel_case(const char *name, bool gp, bool unmasked, bool mask_events)
{
    const u64 user_rflags = 0x246;          /* ZF | PF | IF (the CPU's IF is always set) */
    const u64 words = gp ? 8 : 7;
    const volatile u64 *f = se_frame;

    printk("%s.event: %s\n", name, gp ? "#GP" : "callback");
    show(name, "count", se_count, 1);
    show(name, "frame.rcx", f[0], 0x1111);
    show(name, "frame.r11", f[1], 0x2222);
    if (gp) {
        show(name, "frame.error_code", f[2], 0);
        f++;
    }
    if (xen3) {
        /* The CPU's #GP(0) at the SYSENTER, bounced with its frame. */
        printk("%s.frame.rip: label+0x%lx\n", name, f[2] - site);
        check(name, "frame.rip", f[2], site);
        show(name, "frame.cs", f[3], (unmasked ? 0 : 1UL << 32) | FLAT_USER_CS);
        show(name, "frame.rflags_without_rf", f[4] & ~RF, (user_rflags & ~0x200UL) | (unmasked ? 0x200 : 0));
        show(name, "frame.rsp_is_user_rsp", f[5] == user_rsp, 1);
    } else {
        show(name, "frame.rip", f[2], 0);
        show(name, "frame.cs", f[3], (unmasked ? 0 : 1UL << 32) | 3);
        show(name, "frame.rflags", f[4], (user_rflags & ~0x200UL) | (unmasked ? 0x200 : 0));
        show(name, "frame.rsp", f[5], 0);
    }
    show(name, "frame.ss", f[6], FLAT_USER_SS);
    printk("%s.frame: kernel_sp-0x%lx\n", name, PV_KERNEL_STACK_TOP - se_live_rsp);
    check(name, "frame", se_live_rsp, PV_KERNEL_STACK_TOP - 8 * words);
    u64 entry = (u64)(uintptr_t)(gp ? se_gp : se_callback);
    show(name, "live_rcx_is_handler", se_live_rcx == entry, 1);
    show(name, "live_r11", se_live_r11, user_rflags);
    show(name, "live_upcall_mask", se_live_mask, gp || mask_events || !unmasked);
}

/* AMD: the #UD at the SYSENTER, through the library's trap table. */
static void amd_case(const char *name, bool unmasked)
{
    const volatile struct pv_event *ev = &last_event;

    printk("%s.event: %s\n", name, ev->count ? exc_name((unsigned int)ev->vector) : "none");
    show(name, "count", ev->count, 1);
    show(name, "vector", ev->vector, 6);
    show(name, "frame.rcx", ev->rcx, 0x1111);
    show(name, "frame.r11", ev->r11, 0x2222);
    printk("%s.frame.rip: label+0x%lx\n", name, ev->rip - site);
    check(name, "frame.rip", ev->rip, site);
    show(name, "frame.cs", ev->cs, (unmasked ? 0 : 1UL << 32) | FLAT_USER_CS);
    show(name, "frame.rflags_without_rf", ev->rflags & ~RF, unmasked ? 0x246 : 0x46);
    show(name, "frame.rsp_is_user_rsp", ev->rsp == user_rsp, 1);
    show(name, "frame.ss", ev->ss, FLAT_USER_SS);
}

/* SYSCALL in compatibility mode: AMD with a syscall32 callback reaches it (cstar_enter,
 * switch_to_kernel); AMD without one gets Xen's #UD at the SYSCALL; Intel's CPU raises #UD
 * itself (SYSCALL is valid only in 64-bit mode there). */
static void compat_run(const char *name, bool registered)
{
    const volatile struct pv_event *ev = &last_event;
    const volatile u64 *f = se_frame;

    if (xen3 && !intel) {
        printk("%s: not run (AMD, Xen 3: the 64-bit syscall callback)\n", name);
        return;
    }
    se_count = 0;
    se_resume = (u64)(uintptr_t)compat_back;
    pv_event_reset();
    pv_exec_user(user_compat_syscall, 0);
    if (!intel && registered) {
        printk("%s.event: syscall32 callback\n", name);
        show(name, "count", se_count, 1);
        show(name, "frame.rcx_is_return_rip", f[0] == site + 2, 1);
        show(name, "frame.r11", f[1], 0x246);
        printk("%s.frame.rip: label+0x%lx\n", name, f[2] - site);
        check(name, "frame.rip", f[2], site + 2);
        show(name, "frame.cs", f[3], (1UL << 32) | FLAT_USER_CS32);
        show(name, "frame.rflags", f[4], 0x46);
        show(name, "frame.rsp_is_user_rsp", f[5] == user_rsp, 1);
        show(name, "frame.ss", f[6], FLAT_USER_SS);
        show(name, "live_rcx_is_handler", se_live_rcx == (u64)(uintptr_t)se_callback, 1);
        show(name, "live_r11", se_live_r11, (0x246 & (u32)se_live_rsp) | 0x200);
        return;
    }
    printk("%s.event: %s\n", name, ev->count ? exc_name((unsigned int)ev->vector) : "none");
    show(name, "count", ev->count, 1);
    show(name, "vector", ev->vector, 6);
    /* Xen's #UD comes after the SYSCALL wrote %rcx (the return RIP); the CPU's before. */
    if (intel)
        show(name, "frame.rcx", ev->rcx, 0x1111);
    else
        show(name, "frame.rcx_is_return_rip", ev->rcx == site + 2, 1);
    printk("%s.frame.rip: label+0x%lx\n", name, ev->rip - site);
    check(name, "frame.rip", ev->rip, site);
    show(name, "frame.cs", ev->cs, (1UL << 32) | FLAT_USER_CS32);
    show(name, "frame.rflags_without_rf", ev->rflags & ~RF, 0x46);
    show(name, "frame.rsp_is_user_rsp", ev->rsp == user_rsp, 1);
    show(name, "frame.ss", ev->ss, FLAT_USER_SS);
}

static void run(const char *name, bool unmasked, bool registered, bool mask_events)
{
    se_resume = (u64)(uintptr_t)sysenter_resume;
    bool gp = intel && (!registered || xen3);

    if (gp) {
        /* Entry 13 to se_gp for this run: events masked, as the library's. */
        struct trap_info t[2] = { { .vector = 13, .flags = TI_MASK_EVENTS, .cs = FLAT_KERNEL_CS,
                                    .address = (u64)(uintptr_t)se_gp } };
        if (hypercall_set_trap_table(t))
            test_fail("%s: set_trap_table", name);
    }
    se_count = 0;
    pv_event_reset();
    pv_user_rflags = unmasked ? 0x202 : 0x2;
    pv_exec_user(user_sysenter, 0);
    pv_user_rflags = 0x2;
    if (gp && pv_trap_reset())
        test_fail("%s: trap table reset", name);
    if (intel)
        intel_case(name, gp, unmasked, mask_events);
    else
        amd_case(name, unmasked);
}

void test_main(void)
{
    const u64 enosys = (u64)-38L;

    vendor();
    xen3 = hypercall_xen_version(0 /* XENVER_version */, NULL) >> 16 == 3;
    run("none", false, false, false);
    long rc = register_sysenter(true);
    show("register_mask_events", "rc", (u64)rc, xen3 ? enosys : 0);
    run("mask_events", true, true, true);
    rc = register_sysenter(false);
    show("register_no_mask", "rc", (u64)rc, xen3 ? enosys : 0);
    run("no_mask", true, true, false);

    compat_run("compat_syscall_none", false);
    struct callback_register cb = { .type = CALLBACKTYPE_syscall32, .flags = CALLBACKF_mask_events,
                                    .address = (u64)(uintptr_t)se_callback };
    show("register_syscall32", "rc", (u64)hypercall_callback_op(CALLBACKOP_register, &cb), xen3 ? enosys : 0);
    compat_run("compat_syscall_callback", true);
    show("events", "mask_after", pv_vcpu0->evtchn_upcall_mask, 1);
}
