/*
 * pv-exceptions: the bounce frame Xen writes for an exception or a software interrupt
 * in a 64-bit PV guest, from guest kernel and from guest user mode.
 *
 * Xen 4.17 (and today, c447b7308b, in IDT mode):
 * - create_bounce_frame (xen/arch/x86/x86_64/entry.S) writes, below the interrupted
 *   %rsp rounded down to 16 bytes (kernel mode) or below the kernel stack
 *   HYPERVISOR_stack_switch registered (user mode, after toggle_guest_mode),
 *   [%rcx, %r11, (error code), %rip, %cs, %rflags, %rsp, %ss] of the interrupted
 *   context: %cs with RPL 0 (0xe030) when the kernel was interrupted ("Indicate kernel
 *   context to guest"), 0xe033 from user mode, and the saved upcall mask in bits
 *   32-39; %rflags with IF standing for "events not masked" (here they are: IF = 0);
 *   then it masks events for a trap-table entry with flag 4 and returns to the
 *   handler with SYSRET (entry_vector |= TRAP_syscall; restore_all_guest): the handler
 *   starts with %rcx = its address and %r11 = its RFLAGS ((eflags & ~(IOPL|VM)) | IF,
 *   after AC, VM, RF, NT, TF were cleared);
 * - #UD, #DE (xen/arch/x86/traps.c: do_trap), #GP(0) from a non-canonical access
 *   (do_general_protection: no privileged instruction to emulate, so the #GP is
 *   injected), #BP from INT3 (do_int3: a trap, %rip after it; Xen's IDT gate 3 is DPL 3);
 * - #PF (fixup_page_fault / pv_inject_page_fault, xen/arch/x86/pv/traps.c:
 *   pv_inject_event): the guest's %cr2 (vcpu_info arch.cr2, and what an emulated
 *   `mov %cr2` reads) = the address; the error code's U bit says guest user mode
 *   (PFEC_user_mode is recomputed: the guest kernel runs in ring 3 too);
 * - INT n with n's IDT gate DPL 0 in Xen (here 0x21) raises #GP((n << 3) | 2) in Xen;
 *   do_general_protection delivers it as the software interrupt if the trap-table DPL
 *   permits (permit_softint: DPL >= 1 from the guest kernel, 3 from user mode), %rip
 *   after the INT, no error code; otherwise the #GP goes to the guest with that error
 *   code and %rip at the INT;
 * - INT 0x80 (Xen's gate is DPL 3; int80_direct_trap in entry.S): with a trap-table
 *   entry it is bounced at once, whatever that entry's DPL (the direct path checks only
 *   that the entry exists); without one, int80_slow_path turns it into
 *   #GP((0x80 << 3) | 2) with %rip moved back to the INT.
 * Under the oracle (Xen under QEMU 7.2 TCG) the CPU's #GP error code for INT n through
 * a DPL-0 gate is (n << 4) | 2, not (n << 3) | 2 (QEMU's do_interrupt64 scales the
 * vector by the gate size; test/qemu-deviations.ts lists the same deviation for the
 * native guests), so Xen looks up trap-table entry 2n: the guest installs the same
 * entry (same DPL, same handler) at 2 * 0x21 = 0x42 too, so that delivery looks the same
 * either way, and accepts 0x212 beside 0x10a as the #GP's error code.
 * Every case loads %rcx = 0x1111, %r11 = 0x2222 and, with `xor %eax,%eax`, RFLAGS =
 * ZF | PF | bit 1 before the instruction, so the frame's values are known exactly.
 *
 * Xen in FRED mode (profiles xen/fred and xen-nocompat/fred; guest.json "expect"), a
 * PV guest cannot tell from its CPUID. FRED delivery records the event in the upper
 * bits of the saved SS (vector, type, 64-bit mode, instruction length, the software-event
 * bit); entry_from_pv (traps.c:2275) rewrites ssx only for SYSCALL and SYSENTER
 * (2412, 2456), and create_bounce_frame stores the whole quadword (entry.S:576-579,
 * `movq UREGS_ss`): the SS word of every exception frame here carries it, where IDT
 * delivery pushed the bare selector. INT $0x80 is an ordinary software interrupt
 * (2321-2351: "INT $0x80 doesn't need a fastpath"): permit_softint checks the DPL the
 * guest gave it (2343), so the DPL 0 handler called from user mode is #GP(0x402) at the
 * INT (2347), where IDT mode's entry_int80 (entry.S:444) ignores the DPL. Without
 * c5a4b9125b the handlers also find the interrupted context's %rcx/%r11 live
 * (entry-fred.S:44-45 are what reload them from the frame).
 */
#include "ringside-pv.h"

static u64 site, rsp_at;

#define PREP                                                        \
    "lea 1f(%%rip), %%rax\n\t"                                      \
    "mov %%rax, %[site]\n\t"                                        \
    "mov %%rsp, %[rsp]\n\t"                                         \
    "mov $0x1111, %%rcx\n\t"                                        \
    "mov $0x2222, %%r11\n\t"
#define FLAGS "xor %%eax, %%eax\n\t"
#define TAIL "2:\n\t" EXTABLE(1b, 2b) EXTABLE(2b, 2b)
#define OUTS [site] "=m"(site), [rsp] "=m"(rsp_at)
#define CLOBBERS "rax", "rbx", "rcx", "rdx", "r11", "memory", "cc"

/* Each runs in kernel mode (called) and in user mode (pv_exec_user). */
static NOINLINE u64 ud(u64 a)
{ asm volatile(PREP FLAGS "1: ud2\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 gp(u64 a)
{ asm volatile(PREP "movabs $0x8000000000000000, %%rdx\n\t" FLAGS "1: mov (%%rdx), %%rbx\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 pf_read(u64 a)
{ asm volatile(PREP FLAGS "1: mov 0x18, %%rbx\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 pf_write(u64 a)
{ asm volatile(PREP FLAGS "1: mov %%rbx, 0x20\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 bp(u64 a)
{ asm volatile(PREP FLAGS "1: int3\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 de(u64 a)
{ asm volatile(PREP "xor %%ebx, %%ebx\n\txor %%edx, %%edx\n\t" FLAGS "1: div %%rbx\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 int80(u64 a)
{ asm volatile(PREP FLAGS "1: int $0x80\n\t" TAIL : OUTS :: CLOBBERS); return a; }
static NOINLINE u64 int21(u64 a)
{ asm volatile(PREP FLAGS "1: int $0x21\n\t" TAIL : OUTS :: CLOBBERS); return a; }

struct expect {
    u64 vector;
    bool ec;
    u64 error_code;
    u64 qemu_error_code;    /* what Xen passes on under QEMU 7.2 TCG (0: none) */
    u64 rip_off;        /* frame %rip - the instruction */
    u64 cr2;            /* #PF only */
    bool rf;            /* a fault the CPU delivered to Xen: RF = 1 in its frame */
};

static void check(const char *name, const char *field, u64 got, u64 want)
{
    if (got != want)
        test_fail("%s.%s: 0x%lx, expected 0x%lx", name, field, got, want);
}

static void run(const char *name, u64 (*fn)(u64), bool user, struct expect e)
{
    pv_event_reset();
    if (user)
        pv_exec_user(fn, 0);
    else
        fn(0);

    const volatile struct pv_event *ev = &last_event;
    print_event(name, site);
    if (ev->count != 1) {
        test_fail("%s: %lu events recorded, expected 1", name, ev->count);
        return;
    }
    u64 frame_size = e.ec ? 64 : 56;
    u64 base = user ? PV_KERNEL_STACK_TOP & ~0xfUL : rsp_at & ~0xfUL;
    printk("%s.rsp: at_instruction%s0x%lx\n", name, ev->rsp >= rsp_at ? "+" : "-",
           ev->rsp >= rsp_at ? ev->rsp - rsp_at : rsp_at - ev->rsp);
    printk("%s.frame: %s-0x%lx\n", name, user ? "kernel_sp" : "rsp_aligned", base - ev->frame);
    if (ev->live_rcx == pv_entry_stub((unsigned int)ev->vector))
        printk("%s.live_rcx: handler\n", name);
    else
        printk("%s.live_rcx: 0x%lx\n", name, ev->live_rcx);
    printk("%s.live_r11: 0x%lx\n", name, ev->live_r11);

    check(name, "vector", ev->vector, e.vector);
    check(name, "has_error_code", ev->has_error_code, e.ec);
    if (e.ec && !(e.qemu_error_code && ev->error_code == e.qemu_error_code))
        check(name, "error_code", ev->error_code, e.error_code);
    check(name, "rcx", ev->rcx, 0x1111);
    check(name, "r11", ev->r11, 0x2222);
    check(name, "rip", ev->rip, site + e.rip_off);
    check(name, "cs", ev->cs, (1UL << 32) | (user ? FLAT_USER_CS : KERNEL_CS_RPL0));
    /* RF: "For any fault-class exception except a debug exception generated in response
     * to an instruction breakpoint, the value pushed for RF is 1" (Intel SDM Vol. 3B,
     * "Instruction-Breakpoint Exception Condition"), and Xen copies the frame's RFLAGS
     * into the bounce frame with only IF and IOPL replaced. QEMU TCG pushes RF = 0
     * (test/qemu-deviations.ts), so under the oracle 0x46 is accepted too. */
    if (!(e.rf && ev->rflags == 0x46))
        check(name, "rflags", ev->rflags, e.rf ? 0x10046 : 0x46);
    check(name, "rsp", ev->rsp, rsp_at);
    check(name, "ss", ev->ss, FLAT_KERNEL_SS);
    check(name, "frame", ev->frame, base - frame_size);
    check(name, "live_rcx", ev->live_rcx, pv_entry_stub((unsigned int)e.vector));
    check(name, "live_r11", ev->live_r11, 0x246);
    if (e.vector == 14) {
        u64 cr2_mov;
        asm volatile("mov %%cr2, %0" : "=r"(cr2_mov));
        printk("%s.cr2: 0x%lx\n", name, pv_vcpu0->cr2);
        printk("%s.cr2_mov: 0x%lx\n", name, cr2_mov);
        check(name, "cr2", pv_vcpu0->cr2, e.cr2);
        check(name, "cr2_mov", cr2_mov, e.cr2);
    }
}

/* Trap-table entry 0x21 with this DPL, and the same at 0x42 (see the top). */
static void set_int21(unsigned int dpl)
{
    struct trap_info t[3] = {
        { .vector = 0x21, .flags = (u8)(dpl | TI_MASK_EVENTS), .cs = FLAT_KERNEL_CS, .address = pv_entry_stub(0x21) },
        { .vector = 0x42, .flags = (u8)(dpl | TI_MASK_EVENTS), .cs = FLAT_KERNEL_CS, .address = pv_entry_stub(0x21) },
        { 0 },
    };
    long rc = hypercall_set_trap_table(t);

    if (rc)
        test_fail("set_trap_table(0x21, dpl %u): %ld", dpl, rc);
}

#define FAULT(v) (struct expect){ .vector = (v), .rf = true }
#define FAULT_EC(v, code) (struct expect){ .vector = (v), .ec = true, .error_code = (code), .rf = true }
/* INT 0x80 without a trap-table entry: Xen's DPL-3 gate took a trap (RF = 0), and
 * int80_slow_path turns it into #GP itself. */
#define INT80_GP (struct expect){ .vector = 13, .ec = true, .error_code = (0x80 << 3) | 2 }

void test_main(void)
{
    for (int user = 0; user <= 1; user++) {
        const char *m = user ? "user" : "kernel";
        char n[32];
#define NAME(s) (snprintk(n, sizeof(n), "%s.%s", m, s), n)
        run(NAME("ud"), ud, user, FAULT(6));
        run(NAME("gp"), gp, user, FAULT_EC(13, 0));
        run(NAME("pf_read"), pf_read, user, (struct expect){ .vector = 14, .ec = true, .error_code = user ? 4 : 0, .cr2 = 0x18, .rf = true });
        run(NAME("pf_write"), pf_write, user, (struct expect){ .vector = 14, .ec = true, .error_code = user ? 6 : 2, .cr2 = 0x20, .rf = true });
        run(NAME("bp"), bp, user, (struct expect){ .vector = 3, .rip_off = 1 });
        run(NAME("de"), de, user, FAULT(0));
    }

    /* INT 0x21: Xen's gate is DPL 0; the trap table's DPL decides. */
    const struct expect gp21 = { .vector = 13, .ec = true, .error_code = (0x21 << 3) | 2,
                                 .qemu_error_code = (0x21 << 4) | 2, .rf = true };
    set_int21(3);
    /* Delivered as the software interrupt from the #GP's frame: RF as the #GP pushed it. */
    run("user.int21_dpl3", int21, true, (struct expect){ .vector = 0x21, .rip_off = 2, .rf = true });
    set_int21(0);
    run("user.int21_dpl0", int21, true, gp21);
    run("kernel.int21_dpl0", int21, false, gp21);
    set_int21(1);
    run("kernel.int21_dpl1", int21, false, (struct expect){ .vector = 0x21, .rip_off = 2, .rf = true });

    /* INT 0x80: Xen's gate is DPL 3 and its direct path ignores the entry's DPL. */
    if (pv_trap_set(0x80, 3, true))
        test_fail("set_trap_table(0x80, dpl 3)");
    run("user.int80_dpl3", int80, true, (struct expect){ .vector = 0x80, .rip_off = 2 });
    if (pv_trap_set(0x80, 0, true))
        test_fail("set_trap_table(0x80, dpl 0)");
    run("user.int80_dpl0", int80, true, (struct expect){ .vector = 0x80, .rip_off = 2 });
    long rc = pv_trap_reset();
    if (rc)
        test_fail("set_trap_table reset: %ld", rc);
    run("user.int80_none", int80, true, INT80_GP);
    run("kernel.int80_none", int80, false, INT80_GP);
}
