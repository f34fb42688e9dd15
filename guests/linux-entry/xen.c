/*
 * linux-entry as a Xen PV kernel: the C side of the PV boot (Linux's xen_start_kernel and
 * xen_enable_syscall, read for the facts), the console and the exit.
 *
 * Entered at xen_start (xen-asm.S) instead of the PVH entry, the kernel:
 * - reads its command line (start_info.cmd_line, `--append`): `xen_entry=2016` selects the
 *   pre-2017 SYSCALL entry and the SYSRET-style return (xen.h XEN_ENTRY_2016), anything else
 *   today's;
 * - patches the native entry code's XENPV sites (linux.h XENPV_BEGIN/XENPV_END), as Linux's
 *   apply_alternatives does for X86_FEATURE_XENPV;
 * - loads a GDT page of its own with Linux's user selectors (__USER32_CS 0x23, __USER_DS 0x2b,
 *   __USER_CS 0x33): mapped read-only first (update_va_mapping), as HYPERVISOR_set_gdt requires
 *   of a descriptor page, so that HYPERVISOR_iret returns user mode to the selectors the native
 *   kernel uses;
 * - registers its L4 as the user page tables too (MMUEXT_NEW_USER_BASEPTR: one address space,
 *   as the native kernel's identity map), maps shared_info and masks a domU's console port
 *   (the backend's answers would otherwise be upcalls while user mode runs with events on);
 * - in linux_kernel_init (kernel.c), instead of the IDT, the MSRs and the TSS: the trap table
 *   (xen-asm.S), the event, failsafe and syscall callbacks (the syscall one with
 *   CALLBACKF_mask_events, as Linux's xen_enable_syscall), HYPERVISOR_stack_switch to the
 *   native kernel stack's top (so that Xen's frames from user mode land where the CPU's would:
 *   pt_regs at the top, kernel.c top_regs), and the per-CPU area as the kernel's GS base
 *   (SEGBASE_GS_KERNEL: Linux's xen_write_msr for MSR_GS_BASE), the user's 0.
 * Console: printk's lines through HYPERVISOR_console_io in dom0, the console ring in a domU;
 * the run ends with SCHEDOP_shutdown(poweroff).  Natively the same functions write port 0xE9
 * and 0xF4 as guests/lib does.
 *
 * The Xen profiles where the user programs see something else (guest.json "expect", today's
 * entry; test/linux-pv.test.ts holds both entries on every profile):
 * - xen/fred: Xen clears DF in regs before it builds the syscall callback's frame
 *   (traps.c:2432, entry_from_pv), so the RFLAGS word xen_entry_SYSCALL_64 keeps in pt_regs
 *   has lost the user's DF, and the IRET back gives user mode DF = 0 (syscall_nt.DF, TF_DF).
 *   With xen_entry=2016, xen_sysret64's HYPERVISOR_iret with VGCF_in_syscall leaves FRED-mode
 *   Xen through ERETU of its frame: %rcx/%r11 are the iret stub's SYSCALL's (traps.c:
 *   2414-2415) and CS/SS the frame's 0x33/0x2b, where IDT-mode Xen's SYSRET gave the return
 *   RIP, RFLAGS and its STAR selectors.
 * - xen-nocompat/fred: also the frame's %rcx/%r11 words are the user's own values (no
 *   traps.c:2414-2415), which `pop %rcx; pop %r11` put in pt_regs: user mode gets them back
 *   (seed 000). With xen_entry=2016 the kernel SYSRETs to that stale %rcx and user mode runs
 *   wild.
 * - xen-3.1.1/idt: the frame's %r11 word is &syscall_enter (369bafdb1c's trampoline; seed
 *   003), which user mode gets back as %r11 — and with xen_entry=2016 as RFLAGS too (AC set,
 *   Solaris's symptom). xen-3.0.4/idt has the user's RFLAGS there, as today's Xen.
 */
#include "linux.h"
#include "xen.h"

bool k_xenpv;
u64 k_xen_entry;
struct start_info *xen_start_info;

static u8 xen_shared_info[4096] __attribute__((aligned(4096)));
/* The GDT page: entries 4-6 as Linux's (arch/x86/kernel/cpu/common.c gdt_page). */
static u64 xen_gdt[512] __attribute__((aligned(4096))) = {
    [__USER32_CS >> 3] = 0x00cffb000000ffffUL,      /* code, 32-bit, DPL 3 */
    [__USER_DS >> 3]   = 0x00cff3000000ffffUL,      /* data, DPL 3 */
    [__USER_CS >> 3]   = 0x00affb000000ffffUL,      /* code, 64-bit, DPL 3 */
};
#define XEN_GDT_ENTRIES 16
#define PTE_P_RW_A_D 0x63UL
#define PTE_P_A_D    0x61UL
#define UVMF_INVLPG  2

extern const struct trap_info xen_trap_table[];
NORETURN void xen_start_kernel(struct start_info *si);
NORETURN void xen_unexpected_callback(u64 which);

static struct xencons_interface *cons_ring;
static u32 cons_evtchn;
static char line[256];
static size_t line_len;

static u64 xen_mfn(const volatile void *va)
{
    return ((const u64 *)(uintptr_t)xen_start_info->mfn_list)[(u64)(uintptr_t)va >> 12];
}

static void ring_write(const char *s, size_t n)
{
    u32 prod = cons_ring->out_prod;
    for (size_t i = 0; i < n; i++) {
        while (prod - cons_ring->out_cons >= sizeof(cons_ring->out)) {
            cons_ring->out_prod = prod;
            xen_hypercall3(__HYPERVISOR_event_channel_op, 4 /* EVTCHNOP_send */, &cons_evtchn, 0);
            xen_hypercall3(__HYPERVISOR_sched_op, 0 /* SCHEDOP_yield */, 0, 0);
        }
        cons_ring->out[prod++ % sizeof(cons_ring->out)] = s[i];
    }
    asm volatile("" ::: "memory");      /* the bytes before the index (x86 keeps store order) */
    cons_ring->out_prod = prod;
    xen_hypercall3(__HYPERVISOR_event_channel_op, 4 /* EVTCHNOP_send */, &cons_evtchn, 0);
}

static void console_flush(void)
{
    if (!line_len)
        return;
    if (cons_ring)
        ring_write(line, line_len);
    else
        xen_hypercall3(__HYPERVISOR_console_io, 0 /* CONSOLEIO_write */, line_len, line);
    line_len = 0;
}

void putchar(int c)
{
    if (!k_xenpv) {
        outb(PORT_CONSOLE, (u8)c);
        return;
    }
    line[line_len++] = (char)c;
    if (c == '\n' || line_len == sizeof(line))
        console_flush();
}

NORETURN void platform_exit(u32 value)
{
    if (k_xenpv) {
        u32 reason = 0;         /* SHUTDOWN_poweroff */
        console_flush();
        xen_hypercall3(__HYPERVISOR_sched_op, 2 /* SCHEDOP_shutdown */, &reason, 0);
        for (;;)
            asm volatile("ud2");
    }
    outl(PORT_EXIT, value);
    for (;;)
        asm volatile("cli; hlt");
}

NORETURN void xen_unexpected_callback(u64 which)
{
    test_abort("unexpected Xen %s callback", which ? "failsafe" : "event");
}

static bool cmdline_has(const char *word)
{
    const char *p = xen_start_info->cmd_line;
    size_t n = strlen(word);
    for (size_t i = 0; p[i]; i++)
        if ((i == 0 || p[i - 1] == ' ') && !memcmp(p + i, word, n) && (p[i + n] == ' ' || !p[i + n]))
            return true;
    return false;
}

/* Linux's apply_alternatives for X86_FEATURE_XENPV: each site becomes JMP rel32 to its target
 * (the rest INT3: never reached), or NOPs. */
static void xenpv_patch(void)
{
    for (const struct xenpv_patch *p = xenpv_patch_start; p < xenpv_patch_end; p++) {
        u8 *at = (u8 *)(uintptr_t)p->start;
        u64 len = p->end - p->start;
        if (!p->target) {
            memset(at, 0x90, len);
            continue;
        }
        if (len < 5)
            test_abort("XENPV site at 0x%lx: %lu bytes, too short for a JMP", p->start, len);
        s32 rel = (s32)(p->target - (p->start + 5));
        at[0] = 0xe9;
        memcpy(at + 1, &rel, 4);
        memset(at + 5, 0xcc, len - 5);
    }
}

static void check(const char *what, long rc)
{
    if (rc)
        test_abort("%s: %ld", what, rc);
}

NORETURN void xen_start_kernel(struct start_info *si)
{
    xen_start_info = si;
    k_xenpv = true;
    if (hypercall_page[0] == 0xcc)      /* the builder did not write it: nothing can be said */
        for (;;)
            asm volatile("ud2");
    if (!(si->flags & SIF_INITDOMAIN)) {
        cons_ring = (struct xencons_interface *)(uintptr_t)(M2P[si->console.domU.mfn] << 12);
        cons_evtchn = si->console.domU.evtchn;
    }
    k_xen_entry = cmdline_has("xen_entry=2016") ? XEN_ENTRY_2016 : XEN_ENTRY_TODAY;
    xenpv_patch();

    check("update_va_mapping(shared_info)",
          xen_hypercall3(__HYPERVISOR_update_va_mapping, xen_shared_info, si->shared_info | PTE_P_RW_A_D, UVMF_INVLPG));
    if (cons_ring) {
        /* struct shared_info: evtchn_pending[] at 0x800, evtchn_mask[] at 0xa00 (public/xen.h);
         * a masked port only sets its pending bit (event_2l.c evtchn_2l_set_pending). */
        volatile u64 *pending = (volatile u64 *)(xen_shared_info + 0x800);
        volatile u64 *mask = (volatile u64 *)(xen_shared_info + 0xa00);
        mask[cons_evtchn / 64] |= 1UL << (cons_evtchn % 64);
        pending[cons_evtchn / 64] &= ~(1UL << (cons_evtchn % 64));
        *(volatile u64 *)(xen_shared_info + 8) = 0;     /* vcpu 0: evtchn_pending_sel */
        *(volatile u8 *)xen_shared_info = 0;            /* evtchn_upcall_pending */
    }

    u64 gdt_mfn = xen_mfn(xen_gdt);
    check("update_va_mapping(gdt, read-only)",
          xen_hypercall3(__HYPERVISOR_update_va_mapping, xen_gdt, (gdt_mfn << 12) | PTE_P_A_D, UVMF_INVLPG));
    check("set_gdt", xen_hypercall3(__HYPERVISOR_set_gdt, &gdt_mfn, XEN_GDT_ENTRIES, 0));
    struct mmuext_op op = { .cmd = MMUEXT_NEW_USER_BASEPTR, .arg1 = xen_mfn((void *)(uintptr_t)si->pt_base) };
    check("mmuext_op(NEW_USER_BASEPTR)", xen_hypercall4(__HYPERVISOR_mmuext_op, &op, 1, 0, 0x7ff0 /* DOMID_SELF */));

    printk("Ringside guest: %s\n", GUEST_NAME);
    test_main();
    test_finish();
}

void xen_kernel_init(u64 kernel_stack_top, u64 percpu_base)
{
    check("set_trap_table", xen_hypercall3(__HYPERVISOR_set_trap_table, xen_trap_table, 0, 0));
    static const struct { u16 type, flags; char *address; } cbs[] = {
        { CALLBACKTYPE_event, 0, xen_hypervisor_callback },
        { CALLBACKTYPE_failsafe, 0, xen_failsafe_callback },
        { CALLBACKTYPE_syscall, CALLBACKF_mask_events, xen_entry_SYSCALL_64 },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(cbs); i++) {
        struct callback_register cb = { .type = cbs[i].type, .flags = cbs[i].flags, .address = (u64)(uintptr_t)cbs[i].address };
        if (cbs[i].type == CALLBACKTYPE_syscall && k_xen_entry == XEN_ENTRY_2016)
            cb.address = (u64)(uintptr_t)xen_entry_SYSCALL_64_2016;
        check("callback_op(register)", xen_hypercall3(__HYPERVISOR_callback_op, CALLBACKOP_register, &cb, 0));
    }
    check("stack_switch", xen_hypercall3(__HYPERVISOR_stack_switch, FLAT_USER_SS, kernel_stack_top, 0));
    check("set_segment_base(GS_KERNEL)", xen_hypercall3(__HYPERVISOR_set_segment_base, SEGBASE_GS_KERNEL, percpu_base, 0));
    check("set_segment_base(GS_USER)", xen_hypercall3(__HYPERVISOR_set_segment_base, SEGBASE_GS_USER, 0, 0));
    printk("kernel.xen_entry: %s\n", k_xen_entry == XEN_ENTRY_2016 ? "2016 (after_swapgs, VGCF_in_syscall)" : "today (after_hwframe, flags 0)");
}
