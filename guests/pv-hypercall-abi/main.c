/*
 * pv-hypercall-abi: the register ABI of a 64-bit PV guest's hypercalls, HYPERVISOR_iret
 * back to kernel mode, and multicall.
 *
 * Xen 4.17 and c447b7308b, release builds:
 * - A guest kernel's `syscall` enters lstar_enter (xen/arch/x86/x86_64/entry.S), which
 *   saves every GPR in the frame; with TF_kernel_mode set it calls pv_hypercall
 *   (xen/arch/x86/pv/hypercall.c: _pv_hypercall), which takes the number from the whole
 *   of %rax and the arguments from rdi, rsi, rdx, r10, r8, each truncated to its C type
 *   (xen_version's `int cmd`: rdi 0xd1d1d1d100000000 is XENVER_version), and stores
 *   only the handler's result in %rax: clobber_regs() is empty without CONFIG_DEBUG.
 *   A number that matches no case of the generated switch (11 is unused, 60 is past the
 *   last, and a %rax with an upper bit set matches nothing although its low half is
 *   xen_version's 17) gives -ENOSYS (-38).  restore_all_guest leaves on the SYSRET path
 *   (TRAP_syscall): %rcx = the return RIP, %r11 = (RFLAGS & ~(IOPL|VM)) | IF, the
 *   RFLAGS the `syscall` saved, and SYSRET reloads RFLAGS from it.  So a bare `syscall`
 *   changes %rax, %rcx and %r11 and nothing else; through the hypercall page, whose slot
 *   pushes and pops %rcx and %r11 around it (pv_ring3_init_hypercall_page), only %rax.
 *   The RFLAGS set before (every arithmetic flag and DF) survive.
 * - HYPERVISOR_iret (xen/arch/x86/pv/iret.c: do_iret) with a frame whose CS has RPL 0
 *   stays in kernel mode (only RPL 3 toggles to user mode) and returns with CS 0xe033,
 *   SS 0xe02b, the frame's RIP and RSP, %rax = the context's rax (all 64 bits), the
 *   event mask = !frame.IF, and RFLAGS = frame & ~(IOPL|VM) | IF; c447b7308b also
 *   keeps only the bits that exist and sets bit 1 (dbd936248f, "x86: Clamp bits in
 *   eflags more aggressively", first in 4.22; 4.17 passes the rest through).  With
 *   VGCF_in_syscall the exit is SYSRET (%rcx = RIP, %r11 = that RFLAGS value with IF:
 *   4.17's keeps the nonexistent bits and the frame's bit 1), without it IRET with
 *   %rcx/%r11 from the context.  The CPU drops what does not exist either way (SYSRET
 *   takes R11 & 0x3C7FD7 | 2, IRET cannot set reserved bits), so the live RFLAGS are the
 *   same on both versions: the frame's arithmetic flags, DF and ID, IOPL 0, IF 1.
 * - multicall (xen/common/multicall.c: do_multicall) runs each 64-byte entry through
 *   the same switch (pv_do_multicall_call) and writes back only its result: an unknown
 *   op -ENOSYS, a nested multicall -EINVAL ("Multicall reentry is disallowed"), and the
 *   batch goes on; the multicall returns 0.  An iret entry (XSA-213) ends the batch
 *   (mc_exit): its result (the context's full rax) is written, later entries do not
 *   run, and the multicall's rc is `int`, so the guest resumes at the iret frame's RIP
 *   with %rax = the context's rax truncated to 32 bits and sign-extended.
 *
 * Xen in FRED mode (xen/fred, xen-nocompat/fred; guest.json "expect"): HYPERVISOR_iret
 * with VGCF_in_syscall no longer returns the way SYSRET did. FRED has no SYSRET path:
 * do_iret leaves TRAP_syscall as the hypercall's entry set it (pv/iret.c:91), but FRED
 * entry never sets it (entry_from_pv copies the 8-bit vector, traps.c:2283), so
 * eretu_exit_to_guest's CMOVs (entry-fred.S:44-45) do not fire and user mode gets %rcx =
 * the hypercall page's iret stub after its SYSCALL and %r11 = the RFLAGS at that SYSCALL
 * (traps.c:2414-2415) instead of its return RIP and RFLAGS. Without c5a4b9125b even those
 * lines are absent: every direct SYSCALL hypercall returns with the caller's own %rcx and
 * %r11, and the iret case with what the stub pushed.
 */
#include "ringside-pv.h"

#define __HYPERVISOR_multicall 13
#define XENVER_version  0
#define XENVER_pagesize 7
#define ENOSYS 38
#define EINVAL 22

#define IRET_RAX 0x8877665544332211UL
#define IRET_R11 0x1111222233334444UL
#define IRET_RCX 0xcccc0000cccc0000UL
#define MC_RAX   0x123456789abcdef0UL
#define MC_R11   0x0b0b0b0b0b0b0b0bUL
#define MC_RCX   0x0c0c0c0c0c0c0c0cUL

/* RFLAGS before the hypercalls: CF PF AF ZF SF DF OF, bit 1, IF (the CPU keeps IF 1). */
#define FLAGS_IN 0xed7UL
/* The iret frames' RFLAGS: CF PF AF ZF SF DF OF, IOPL 3, ID, bits 22-23 and 48-63 (which
 * do not exist), bit 1 clear; IF added per case. */
#define FRAME_RFLAGS 0xdead000000e03cd5UL
#define RFLAGS_EXIST 0x3f7fd5UL      /* X86_EFLAGS_ALL */

struct abi_regs {
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rsp, rflags;
};
static const char *const reg_names[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15", "rsp", "rflags",
};
struct abi_regs abi_in, abi_out;
u64 abi_target;
void abi_raw(void);
void abi_page(void);
extern const char abi_raw_ret[];

struct { u64 rax, rcx, r11, rsp, rflags, cs, ss; } iret_out;
u64 iret_out_rsp_before;
void iret_kernel(u64 flags, u64 rflags);
extern const char iret_kernel_ret[];

struct multicall_entry {
    u64 op, result, args[6];
};
struct { u64 rax, rcx, r11, rsp; } mc_out;
u64 mc_rsp_before, mc_fell_through;
void mc_iret(struct multicall_entry *list, u64 nr);
static struct multicall_entry batch[4];

static bool clamped;        /* dbd936248f: Xen 4.22 and later */

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* Every register but those in `changed` (bit k: reg_names[k]) as it was loaded. */
static void expect_preserved(const char *name, unsigned int changed)
{
    const u64 *in = (const u64 *)&abi_in, *out = (const u64 *)&abi_out;
    unsigned int kept = 0, differ = 0;

    for (unsigned int k = 0; k < ARRAY_SIZE(reg_names); k++) {
        if (changed & (1u << k))
            continue;
        /* abi_in.rsp is the %rsp noted before the load; the out value must equal it. */
        if (out[k] == in[k])
            kept++;
        else {
            differ++;
            test_fail("%s: %s 0x%lx, loaded 0x%lx", name, reg_names[k], out[k], in[k]);
        }
    }
    printk("%s.preserved: %u of %u\n", name, kept, kept + differ);
}

static void load(u64 rax, u64 rdi)
{
    u64 *in = (u64 *)&abi_in;
    for (unsigned int k = 0; k < 15; k++)
        in[k] = 0x5a00c0de00000000UL | ((u64)k << 40) | (0x1111u * (k + 1));
    abi_in.rax = rax;
    abi_in.rdi = rdi;
    abi_in.rflags = FLAGS_IN;
}

#define BIT(r) (1u << (offsetof(struct abi_regs, r) / 8))

static void raw(const char *name, u64 rax, u64 rdi, u64 want_rax)
{
    char n[64];
    load(rax, rdi);
    abi_raw();
    snprintk(n, sizeof(n), "%s.rax", name);
    expect(n, abi_out.rax, want_rax);
    snprintk(n, sizeof(n), "%s.rcx_is_return_rip", name);
    expect(n, abi_out.rcx == (u64)(uintptr_t)abi_raw_ret, 1);
    snprintk(n, sizeof(n), "%s.r11", name);
    expect(n, abi_out.r11, FLAGS_IN);
    expect_preserved(name, BIT(rax) | BIT(rcx) | BIT(r11));
}

static void page(const char *name, unsigned int slot, u64 rdi, u64 want_rax)
{
    char n[64];
    load(0x7777, rdi);
    abi_target = (u64)(uintptr_t)(hypercall_page + 32 * slot);
    abi_page();
    snprintk(n, sizeof(n), "%s.rax", name);
    expect(n, abi_out.rax, want_rax);
    expect_preserved(name, BIT(rax));
}

static void iret_case(const char *name, u64 flags, u64 frame_if)
{
    const u64 frame = FRAME_RFLAGS | frame_if;
    const u64 live = (frame & RFLAGS_EXIST & ~0x3000UL) | 0x202;
    char n[64];

    iret_kernel(flags, frame);
    u8 mask = pv_vcpu0->evtchn_upcall_mask;
    pv_vcpu0->evtchn_upcall_mask = 1;

    printk("%s.frame_rflags: 0x%lx\n", name, frame);
    snprintk(n, sizeof(n), "%s.rax", name);
    expect(n, iret_out.rax, IRET_RAX);
    if (flags & VGCF_in_syscall) {
        snprintk(n, sizeof(n), "%s.rcx_is_return_rip", name);
        expect(n, iret_out.rcx == (u64)(uintptr_t)iret_kernel_ret, 1);
        /* regs->rflags as do_iret made it, & ~(IOPL|VM) | IF on the way out. */
        u64 want = clamped ? live : (frame & ~0x23000UL) | 0x200;
        snprintk(n, sizeof(n), "%s.r11", name);
        expect(n, iret_out.r11, want);
    } else {
        snprintk(n, sizeof(n), "%s.rcx", name);
        expect(n, iret_out.rcx, IRET_RCX);
        snprintk(n, sizeof(n), "%s.r11", name);
        expect(n, iret_out.r11, IRET_R11);
    }
    snprintk(n, sizeof(n), "%s.rflags", name);
    expect(n, iret_out.rflags, live);
    snprintk(n, sizeof(n), "%s.rsp_is_frame_rsp", name);
    expect(n, iret_out.rsp == iret_out_rsp_before, 1);
    snprintk(n, sizeof(n), "%s.cs", name);
    expect(n, iret_out.cs, FLAT_KERNEL_CS);
    snprintk(n, sizeof(n), "%s.ss", name);
    expect(n, iret_out.ss, FLAT_KERNEL_SS);
    snprintk(n, sizeof(n), "%s.upcall_mask", name);
    expect(n, mask, frame_if ? 0 : 1);
}

static void mc_entry(struct multicall_entry *e, u64 op, u64 a0, u64 a1)
{
    memset(e, 0, sizeof(*e));
    e->op = op;
    e->result = 0x5a5a5a5a5a5a5a5aUL;
    e->args[0] = a0;
    e->args[1] = a1;
}

void test_main(void)
{
    const long version = hypercall_xen_version(XENVER_version, NULL);
    printk("xen_version: 0x%lx\n", version);
    clamped = version >= 0x40016;

    raw("raw_xen_version", 17, 0xd1d1d1d100000000UL, (u64)version);
    raw("raw_unused_11", 11, 0, (u64)-ENOSYS);
    raw("raw_past_last_60", 60, 0, (u64)-ENOSYS);
    raw("raw_upper_bit_17", 0x100000011UL, 0, (u64)-ENOSYS);
    page("page_xen_version", 17, 0xd1d1d1d100000000UL, (u64)version);
    page("page_unused_11", 11, 0, (u64)-ENOSYS);
    page("page_past_last_60", 60, 0, (u64)-ENOSYS);

    iret_case("iret_in_syscall_masked", VGCF_in_syscall, 0);
    iret_case("iret_in_syscall_unmasked", VGCF_in_syscall, 0x200);
    iret_case("iret_masked", 0, 0);
    iret_case("iret_unmasked", 0, 0x200);

    /* A batch: version, an unknown op, a nested multicall, pagesize. */
    mc_entry(&batch[0], 17, XENVER_version, 0);
    mc_entry(&batch[1], 11, 0, 0);
    mc_entry(&batch[2], __HYPERVISOR_multicall, (u64)(uintptr_t)&batch[0], 1);
    mc_entry(&batch[3], 17, XENVER_pagesize, 0);
    long rc = _hypercall2(__HYPERVISOR_multicall, batch, 4);
    expect("multicall.rc", (u64)rc, 0);
    expect("multicall.0_xen_version", batch[0].result, (u64)version);
    expect("multicall.1_unused_11", batch[1].result, (u64)-ENOSYS);
    expect("multicall.2_nested", batch[2].result, (u64)-EINVAL);
    expect("multicall.3_pagesize", batch[3].result, 4096);

    /* A batch ending in an iret: version, iret to mc_iret_ret, pagesize (never run). */
    mc_entry(&batch[0], 17, XENVER_version, 0);
    mc_entry(&batch[1], __HYPERVISOR_iret, 0, 0);
    mc_entry(&batch[2], 17, XENVER_pagesize, 0);
    mc_iret(batch, 3);
    expect("multicall_iret.returned_at_frame_rip", !mc_fell_through, 1);
    expect("multicall_iret.rax", mc_out.rax, (u64)(s64)(s32)MC_RAX);
    expect("multicall_iret.rcx", mc_out.rcx, MC_RCX);
    expect("multicall_iret.r11", mc_out.r11, MC_R11);
    expect("multicall_iret.rsp_is_frame_rsp", mc_out.rsp == mc_rsp_before, 1);
    expect("multicall_iret.0_xen_version", batch[0].result, (u64)version);
    expect("multicall_iret.1_iret", batch[1].result, MC_RAX);
    expect("multicall_iret.2_not_run", batch[2].result, 0x5a5a5a5a5a5a5a5aUL);
    expect("multicall_iret.upcall_mask", pv_vcpu0->evtchn_upcall_mask, 1);
}
