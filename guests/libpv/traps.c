/*
 * The PV kernel's trap table and event dispatch.
 *
 * HYPERVISOR_set_trap_table is the PV counterpart of LIDT
 * (xen/arch/x86/pv/callback.c: do_set_trap_table): each
 * struct trap_info names a vector, a DPL (who may reach it with INT n: Xen's
 * do_general_protection permits a software interrupt when the DPL is at least 1 from
 * the guest kernel, 3 from guest user mode), whether events are masked on entry, and
 * the handler.  The library's table is the Xen Test Framework's (arch/x86/pv/traps.c
 * there): every exception DPL 0 with events masked, #BP and #OF DPL 3.
 *
 * Every delivery (entry.S) is recorded in last_event.  One whose frame RIP is in the
 * exception table resumes at the fixup with HYPERVISOR_iret in the mode it came from;
 * the syscall callback returns with pv_syscall_iret_flags; anything else prints its
 * frame and ends the run with ERROR.
 */
#include "ringside-pv.h"

struct extable_entry {
    u64 fault;
    u64 fixup;
};

extern const struct extable_entry __ex_table_start[], __ex_table_end[];
extern const char pv_entry_stubs[], pv_event_entry[], pv_failsafe_entry[];
extern u64 pv_live_rcx, pv_live_r11, pv_live_rsp;

volatile struct pv_event last_event;
void (*pv_syscall_hook)(struct pv_frame *f);
u64 pv_syscall_iret_flags = VGCF_in_syscall;
u8 pv_kernel_stack[PV_STACK_SIZE] __attribute__((aligned(4096)));
u8 pv_user_stack[PV_STACK_SIZE] __attribute__((aligned(4096)));
static unsigned int depth;

#define HAVE_EC ((1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | \
                 (1u << 17) | (1u << 21) | (1u << 29) | (1u << 30))

static const char *const names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
    "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
    "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *exc_name(unsigned int vector)
{
    if (vector == VEC_SYSCALL)
        return "syscall";
    return vector < 32 ? names[vector] : "INT n";
}

u64 pv_entry_stub(unsigned int vector)
{
    return (u64)(uintptr_t)pv_entry_stubs + 64 * (u64)vector;
}

static void add_entry(struct trap_info *t, unsigned int vector, unsigned int dpl, bool mask)
{
    *t = (struct trap_info){
        .vector = (u8)vector,
        .flags = (u8)(dpl | (mask ? TI_MASK_EVENTS : 0)),
        .cs = FLAT_KERNEL_CS,
        .address = pv_entry_stub(vector),
    };
}

static long install_defaults(void)
{
    struct trap_info table[33];
    unsigned int n = 0;

    for (unsigned int v = 0; v < 32; v++)
        add_entry(&table[n++], v, v == 3 || v == 4 ? 3 : 0, true);
    table[n] = (struct trap_info){ 0 };             /* the sentinel: address 0 */
    return hypercall_set_trap_table(table);
}

long pv_trap_set(unsigned int vector, unsigned int dpl, bool mask_events)
{
    struct trap_info table[2] = { { 0 } };

    add_entry(&table[0], vector, dpl, mask_events);
    return hypercall_set_trap_table(table);
}

long pv_trap_reset(void)
{
    long rc = hypercall_set_trap_table(NULL);       /* NULL clears all 256 entries */

    return rc ? rc : install_defaults();
}

void pv_traps_init(void)
{
    long rc = install_defaults();

    if (rc)
        test_abort("set_trap_table: %ld", rc);
    /* The kernel stack Xen switches to for an event from user mode (virtual TSS). */
    rc = hypercall_stack_switch(FLAT_KERNEL_SS, PV_KERNEL_STACK_TOP);
    if (rc)
        test_abort("stack_switch: %ld", rc);

    static const struct { u16 type, flags; const char *entry; } cbs[] = {
        { CALLBACKTYPE_event, 0, pv_event_entry },
        { CALLBACKTYPE_failsafe, 0, pv_failsafe_entry },
        { CALLBACKTYPE_syscall, CALLBACKF_mask_events, pv_syscall_entry },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(cbs); i++) {
        struct callback_register cb = { .type = cbs[i].type, .flags = cbs[i].flags,
                                        .address = (u64)(uintptr_t)cbs[i].entry };
        rc = hypercall_callback_op(CALLBACKOP_register, &cb);
        if (rc)
            test_abort("callback_op(register, type %u): %ld", cbs[i].type, rc);
    }
}

void pv_event_reset(void)
{
    memset((void *)&last_event, 0, sizeof(last_event));
    last_event.vector = ~0UL;
}

static u64 find_fixup(u64 rip)
{
    for (const struct extable_entry *e = __ex_table_start; e < __ex_table_end; e++)
        if (e->fault == rip)
            return e->fixup;
    return 0;
}

static NORETURN void unexpected(const struct pv_frame *f)
{
    const char *what = f->vector == 0x200 ? "event upcall" : exc_name((unsigned int)f->vector);

    printk("unexpected %s: vector 0x%lx error_code 0x%lx\n", what, f->vector, f->error_code);
    printk("rip: 0x%016lx cs: 0x%lx rflags: 0x%lx rsp: 0x%016lx ss: 0x%lx\n",
           f->rip, f->cs, f->rflags, f->rsp, f->ss);
    printk("rax: 0x%016lx rbx: 0x%016lx rcx: 0x%016lx rdx: 0x%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    printk("rsi: 0x%016lx rdi: 0x%016lx rbp: 0x%016lx r11: 0x%016lx\n", f->rsi, f->rdi, f->rbp, f->r11);
    if (f->vector == 14)
        printk("cr2: 0x%016lx\n", pv_vcpu0->cr2);
    test_abort("unexpected %s at rip 0x%lx", what, f->rip);
}

void pv_dispatch(struct pv_frame *f)
{
    if (depth++) {
        printk("nested %s at rip 0x%lx\n", exc_name((unsigned int)f->vector), f->rip);
        test_abort("nested event");
    }
    u64 fixup = 0;
    if (f->vector != VEC_SYSCALL && !(fixup = find_fixup(f->rip)))
        unexpected(f);

    last_event.count++;
    last_event.vector = f->vector;
    last_event.has_error_code = f->vector < 32 && (HAVE_EC & (1u << f->vector));
    last_event.error_code = f->error_code;
    last_event.rcx = f->rcx;
    last_event.r11 = f->r11;
    last_event.rip = f->rip;
    last_event.cs = f->cs;
    last_event.rflags = f->rflags;
    last_event.rsp = f->rsp;
    last_event.ss = f->ss;
    last_event.frame = pv_live_rsp;
    last_event.live_rcx = pv_live_rcx;
    last_event.live_r11 = pv_live_r11;

    if (f->vector == VEC_SYSCALL) {
        if (pv_syscall_hook)
            pv_syscall_hook(f);
        last_event.fixup = f->rip;
        f->error_code = pv_syscall_iret_flags;
    } else {
        last_event.fixup = fixup;
        f->rip = fixup;
        f->error_code = 0;                  /* a plain IRET */
    }
    depth--;
}

NORETURN void pv_failsafe(void)
{
    const u64 *frame = (const u64 *)(uintptr_t)pv_live_rsp;

    printk("failsafe callback: ds 0x%lx es 0x%lx fs 0x%lx gs 0x%lx rip 0x%lx cs 0x%lx\n",
           frame[2], frame[3], frame[4], frame[5], frame[6], frame[7]);
    test_abort("failsafe callback");
}

void print_event(const char *prefix, u64 label)
{
    if (!last_event.count) {
        printk("%s.event: none\n", prefix);
        return;
    }
    printk("%s.event: %s\n", prefix, exc_name((unsigned int)last_event.vector));
    printk("%s.vector: 0x%lx\n", prefix, last_event.vector);
    if (last_event.has_error_code)
        printk("%s.error_code: 0x%lx\n", prefix, last_event.error_code);
    printk("%s.rcx: 0x%lx\n", prefix, last_event.rcx);
    printk("%s.r11: 0x%lx\n", prefix, last_event.r11);
    if (last_event.rip >= label)
        printk("%s.rip: label+0x%lx\n", prefix, last_event.rip - label);
    else
        printk("%s.rip: label-0x%lx\n", prefix, label - last_event.rip);
    printk("%s.cs: 0x%lx\n", prefix, last_event.cs);
    printk("%s.rflags: 0x%lx\n", prefix, last_event.rflags);
    printk("%s.ss: 0x%lx\n", prefix, last_event.ss);
}
