/*
 * smep-smap: supervisor-mode execution and access prevention.
 *
 * What the architecture requires (Intel SDM Vol. 3A §4.6 "Access Rights",
 * §4.6.1 "Determination of Access Rights", §4.7 "Page-Fault Exceptions";
 * Vol. 2 STAC, CLAC; Vol. 3A §2.5 on CR4.SMEP/SMAP):
 *
 * - A page is a user-mode page when U/S = 1 in every paging-structure entry
 *   that maps it.  Supervisor-mode accesses are those at CPL < 3 and the
 *   implicit ones (descriptor tables, delivery frames) at any CPL.
 * - CR4.SMEP = 1: a supervisor-mode instruction fetch from a user-mode page
 *   raises #PF with P = 1 and I/D = 1 (I/D is reported because SMEP = 1, even
 *   with IA32_EFER.NXE = 0).  Supervisor data accesses to user pages are not
 *   affected by SMEP.
 * - CR4.SMAP = 1: a supervisor-mode data access to a user-mode page raises
 *   #PF with P = 1 (W = 1 for a write) unless it is explicit and RFLAGS.AC =
 *   1.  STAC sets AC, CLAC clears it (POPF can too); the effect is immediate,
 *   with no TLB invalidation.  Implicit supervisor accesses, such as the
 *   descriptor read of a segment load from a GDT entry on a user page, fault
 *   whatever AC is.  SMAP does not affect instruction fetches, nor accesses
 *   to supervisor pages.
 * - STAC/CLAC work at CPL 0 whether or not CR4.SMAP is set (they only change
 *   AC); at CPL > 0 they raise #UD (Vol. 2 STAC, CLAC) and AC is unchanged.
 * - From the user side (CPL 3, after ring3_init(), with only the pages of the
 *   user cases left user-mode pages): SMEP and SMAP restrict supervisor-mode
 *   accesses only, so with both on a CPL-3 fetch from a user page and CPL-3 reads
 *   and writes of user pages work, whatever RFLAGS.AC is.  A CPL-3 fetch from a
 *   supervisor page is #PF(P|U|I): I/D reported because SMEP = 1.  A CPL-3 read
 *   of a supervisor page is #PF(P|U) as without SMAP.
 * - With CR0.AM = 1, RFLAGS.AC = 1 (set here by POPF at CPL 3) and CPL 3, a
 *   misaligned data access raises #AC(0) (Vol. 3A §6.15, Interrupt 17; §2.5 CR0.AM):
 *   CR4.SMAP gives AC its SMAP meaning at CPL < 3 only.  An aligned access, or
 *   CR0.AM = 0, takes no #AC.
 * - CR2 holds the faulting linear address; the saved RIP is the faulting
 *   instruction.
 *
 * Each case prints vector, error code, CR2 (relative to the page concerned)
 * and RIP (relative to the instruction's label), or `none` for each; the CPL-3
 * cases also print the saved CS.
 */
#include "ringside.h"

#define CR4_SMEP (1UL << 20)
#define CR4_SMAP (1UL << 21)
#define CR0_AM   (1UL << 18)

static u8 user_data[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 user_code[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 super_data[PAGE_SIZE] __attribute__((aligned(4096)));
/* The stack of the CPL-3 routines below (a user page; they switch to it at once). */
u8 user_page_stack[PAGE_SIZE] __attribute__((aligned(4096)));
/* Page 0 (supervisor) ends with GDT entries 0-3; page 1 (user) starts with entry 4. */
static u8 gdt_area[2 * PAGE_SIZE] __attribute__((aligned(4096)));

#define OFFSET 0x40

asm(".pushsection .text\n"
    ".globl fixup_ret\n"
    "fixup_ret: ret\n"
    ".popsection");
extern char fixup_ret[];

/*
 * Code run at CPL 3 by exec_user_frame(), on a page of its own (the only code page
 * left user-mode once SMEP is on).  Each routine takes its argument in %rdi,
 * switches to user_page_stack and ends with INT VEC_USER_RETURN (the library's
 * return path is on supervisor pages), its result in %rax.
 */
#define USER_STACK_TOP "user_page_stack+4096"
asm(".pushsection .text\n"
    ".balign 4096\n"
    "user_text:\n"
    /* STAC, CLAC: result RFLAGS after the instruction. */
    "u_stac: lea " USER_STACK_TOP "(%rip), %rsp\n"
    "u_stac_insn: .byte 0x0f, 0x01, 0xcb\n"
    "u_stac_after: pushfq\n pop %rax\n int $" STR(VEC_USER_RETURN) "\n"
    EXTABLE(u_stac_insn, u_stac_after)
    "u_clac: lea " USER_STACK_TOP "(%rip), %rsp\n"
    "u_clac_insn: .byte 0x0f, 0x01, 0xca\n"
    "u_clac_after: pushfq\n pop %rax\n int $" STR(VEC_USER_RETURN) "\n"
    EXTABLE(u_clac_insn, u_clac_after)
    /* CALL *%rdi (a `ret`); a faulting fetch resumes at u_ret (fault_expect_at). */
    "u_call: lea " USER_STACK_TOP "(%rip), %rsp\n"
    " call *%rdi\n"
    " mov $0x600d, %eax\n int $" STR(VEC_USER_RETURN) "\n"
    "u_ret: ret\n"
    /* Read (%rdi), store its complement at 8(%rdi); result the value read. */
    "u_rw: lea " USER_STACK_TOP "(%rip), %rsp\n"
    " mov $0xbad, %eax\n"
    "u_rw_read: mov (%rdi), %rax\n"
    " mov %rax, %rdx\n not %rdx\n"
    "u_rw_write: mov %rdx, 8(%rdi)\n"
    "u_rw_done: int $" STR(VEC_USER_RETURN) "\n"
    EXTABLE(u_rw_read, u_rw_done)
    EXTABLE(u_rw_write, u_rw_done)
    /* POPF setting AC, then an 8-byte read of (%rdi); result the value read. */
    "u_ac: lea " USER_STACK_TOP "(%rip), %rsp\n"
    " pushfq\n orl $0x40000, (%rsp)\n popfq\n"          /* RFLAGS.AC */
    " mov $0xbad, %eax\n"
    "u_ac_insn: mov (%rdi), %rax\n"
    "u_ac_after: int $" STR(VEC_USER_RETURN) "\n"
    EXTABLE(u_ac_insn, u_ac_after)
    ".balign 4096\n"
    ".popsection");
extern char user_text[], u_stac[], u_stac_insn[], u_clac[], u_clac_insn[], u_call[], u_ret[];
extern char u_rw[], u_rw_read[], u_rw_write[], u_ac[], u_ac_insn[];

static u64 read_at(const volatile void *p, u64 *label)
{
    u64 v = 0xbadUL, l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov (%[p]), %[v]\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [v] "+r"(v), [l] "=&r"(l) : [p] "r"(p) : "memory");
    *label = l;
    return v;
}

static void write_at(volatile void *p, u64 v, u64 *label)
{
    u64 l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov %[v], (%[p])\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(l) : [p] "r"(p), [v] "r"(v) : "memory");
    *label = l;
}

static void exec_at(const volatile void *target)
{
    fault_expect_at((u64)(uintptr_t)target, (u64)(uintptr_t)fixup_ret);
    asm volatile("call *%0" :: "r"(target) : "cc", "memory");
    fault_expect_at(0, 0);
}

static void stac(void) { asm volatile(".byte 0x0f, 0x01, 0xcb" ::: "cc", "memory"); }
static void clac(void) { asm volatile(".byte 0x0f, 0x01, 0xca" ::: "cc", "memory"); }

static u64 rflags_ac(void) { return (read_rflags() >> 18) & 1; }

/*
 * Print one case: vector, error code, CR2 relative to `page` (#PF only), RIP
 * relative to `label`; `none` where nothing was raised.  Check against
 * want_ec (< 0: no fault expected) and the expected CR2 page offset.
 * qemu_none: QEMU takes no fault here (test/qemu-deviations.ts); accepted.
 */
static void outcome(const char *name, u64 label, u64 page, long want_ec, u64 want_off, bool qemu_none)
{
    if (!last_fault.count) {
        printk("%s.vector: none\n%s.error_code: none\n%s.cr2: none\n%s.rip: none\n", name, name, name, name);
        if (want_ec >= 0 && !qemu_none)
            test_fail("%s: no fault, expected #PF error code 0x%lx", name, want_ec);
        return;
    }
    printk("%s.vector: %lu\n", name, last_fault.vector);
    printk("%s.error_code: 0x%lx\n", name, last_fault.error_code);
    if (last_fault.vector == 14 && last_fault.cr2 >= page)
        printk("%s.cr2: page+0x%lx\n", name, last_fault.cr2 - page);
    else
        printk("%s.cr2: none\n", name);
    if (last_fault.rip >= label)
        printk("%s.rip: label+0x%lx\n", name, last_fault.rip - label);
    else
        printk("%s.rip: label-0x%lx\n", name, label - last_fault.rip);
    if (want_ec < 0 || last_fault.vector != 14 || last_fault.error_code != (u64)want_ec ||
        last_fault.cr2 != page + want_off || last_fault.rip != label)
        test_fail("%s: got %s error code 0x%lx cr2 0x%lx, expected #PF 0x%lx", name,
                  exc_name((unsigned int)last_fault.vector), last_fault.error_code, last_fault.cr2, want_ec);
}

static void value(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* Load DS with `sel` (a descriptor read from the GDT: an implicit supervisor access). */
static void load_ds(u16 sel, u64 *label)
{
    u64 l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov %[s], %%ds\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(l) : [s] "r"(sel) : "memory");
    *label = l;
}

static void implicit_gdt_case(const char *name, bool ac)
{
    struct __attribute__((packed)) { u16 limit; u64 base; } old, new;
    u64 *gdt = (u64 *)(gdt_area + PAGE_SIZE - 32);
    u64 user_page = (u64)(uintptr_t)(gdt_area + PAGE_SIZE);
    u64 label, restore_label;

    asm volatile("sgdt %0" : "=m"(old));
    memcpy(gdt, (void *)old.base, 32);
    stac();                                         /* an explicit store to the user page */
    gdt[4] = seg_descriptor(0, 0xfffff, 0x93, 0xc);   /* flat data, accessed (no A-bit write) */
    clac();
    new.limit = 5 * 8 - 1;
    new.base = (u64)(uintptr_t)gdt;
    asm volatile("lgdt %0" :: "m"(new) : "memory");
    if (ac)
        stac();
    fault_reset();
    load_ds(0x20, &label);
    clac();
    load_ds(SEL_DATA, &restore_label);
    asm volatile("lgdt %0" :: "m"(old) : "memory");
    /* The descriptor is the first 8 bytes of the user page: CR2 = page + 0. */
    outcome(name, label, user_page, 0x1, 0, ac);
}

/*
 * A case at CPL 3: run `routine` with %rdi = arg and the given RFLAGS, then print
 * vector, error code, CR2 relative to `page` (#PF only), RIP relative to `label`
 * and CS, or `none` for each.  want_vector < 0: no fault expected; qemu_none: QEMU
 * takes no fault here (test/qemu-deviations.ts), accepted.  Returns the routine's
 * result.
 */
static u64 user_case(const char *name, const char *routine, u64 arg, u64 rflags, u64 label, u64 page,
                     long want_vector, u64 want_ec, u64 want_off, bool qemu_none)
{
    fault_reset();
    u64 r = exec_user_frame((u64)(uintptr_t)routine, arg, SEL_USER_CODE64, rflags);

    if (!last_fault.count) {
        printk("%s.vector: none\n%s.error_code: none\n%s.cr2: none\n%s.rip: none\n%s.cs: none\n",
               name, name, name, name, name);
        if (want_vector >= 0 && !qemu_none)
            test_fail("%s: no fault, expected %s(0x%lx)", name, exc_name((unsigned int)want_vector), want_ec);
        return r;
    }
    printk("%s.vector: %lu\n", name, last_fault.vector);
    printk("%s.error_code: 0x%lx\n", name, last_fault.error_code);
    if (last_fault.vector == 14 && last_fault.cr2 >= page)
        printk("%s.cr2: page+0x%lx\n", name, last_fault.cr2 - page);
    else
        printk("%s.cr2: none\n", name);
    if (last_fault.rip >= label)
        printk("%s.rip: label+0x%lx\n", name, last_fault.rip - label);
    else
        printk("%s.rip: label-0x%lx\n", name, label - last_fault.rip);
    printk("%s.cs: 0x%lx\n", name, last_fault.cs);
    if (want_vector < 0 || last_fault.vector != (u64)want_vector || last_fault.error_code != want_ec ||
        (want_vector == 14 && last_fault.cr2 != page + want_off) || last_fault.rip != label ||
        last_fault.cs != SEL_USER_CODE64)
        test_fail("%s: got %s(0x%lx) cr2 0x%lx rip 0x%lx cs 0x%lx", name,
                  exc_name((unsigned int)last_fault.vector), last_fault.error_code, last_fault.cr2,
                  last_fault.rip, last_fault.cs);
    return r;
}

/*
 * The user side.  ring3_init() makes every page user-mode; U/S is then cleared
 * again in every PTE of the first 2 MiB except the pages the CPL-3 routines use
 * (their code, stack, and user_data / user_code), so that the kernel, its stacks
 * and descriptor tables are supervisor pages: with SMEP on, the kernel's own
 * fetches (the fault handler included) must not be from user pages.
 */
static void user_side(void)
{
    const u64 ud = (u64)(uintptr_t)user_data, uc = (u64)(uintptr_t)user_code;
    const u64 sd = (u64)(uintptr_t)super_data, kret = (u64)(uintptr_t)fixup_ret;
    volatile u64 *up = (volatile u64 *)(user_data + OFFSET);
    u64 r;

    ring3_init();
    for (unsigned int i = 0; i < 512; i++)
        boot_pt[i] &= ~PTE_U;
    boot_pt[ud >> 12] |= PTE_U;
    boot_pt[uc >> 12] |= PTE_U;
    boot_pt[(u64)(uintptr_t)user_text >> 12] |= PTE_U;
    boot_pt[(u64)(uintptr_t)user_page_stack >> 12] |= PTE_U;
    write_cr3(read_cr3());
    *up = 0x1234567890abcdefUL;

    write_cr4(read_cr4() | CR4_SMEP);
    r = user_case("user.smep1.exec_user", u_call, uc, RFLAGS_FIXED, 0, 0, -1, 0, 0, false);
    value("user.smep1.exec_user.returned", r, 0x600d);
    fault_expect_at(kret, (u64)(uintptr_t)u_ret);
    user_case("user.smep1.exec_supervisor", u_call, kret, RFLAGS_FIXED, kret, kret, 14, 0x15, 0, false);
    fault_expect_at(0, 0);

    /* SMAP as well: the user's accesses to user pages, with AC = 0 and AC = 1. */
    write_cr4(read_cr4() | CR4_SMAP);
    r = user_case("user.smap1.ac0.rw_user", u_rw, (u64)(uintptr_t)up, RFLAGS_FIXED, 0, 0, -1, 0, 0, false);
    value("user.smap1.ac0.rw_user.value", r, 0x1234567890abcdefUL);
    r = user_case("user.smap1.ac1.rw_user", u_rw, (u64)(uintptr_t)up, RFLAGS_FIXED | RFLAGS_AC, 0, 0, -1, 0, 0,
                  false);
    value("user.smap1.ac1.rw_user.value", r, 0x1234567890abcdefUL);
    user_case("user.smap1.ac1.read_supervisor", u_rw, sd, RFLAGS_FIXED | RFLAGS_AC, (u64)(uintptr_t)u_rw_read, sd,
              14, 0x5, 0, false);

    /* STAC and CLAC at CPL 3: #UD, AC unchanged. */
    r = user_case("user.stac", u_stac, 0, RFLAGS_FIXED, (u64)(uintptr_t)u_stac_insn, 0, 6, 0, 0, false);
    value("user.stac.ac", (r >> 18) & 1, 0);
    r = user_case("user.clac", u_clac, 0, RFLAGS_FIXED | RFLAGS_AC, (u64)(uintptr_t)u_clac_insn, 0, 6, 0, 0, false);
    value("user.clac.ac", (r >> 18) & 1, 1);

    /* CR0.AM = 1 with SMAP on: AC set by POPF at CPL 3 enables alignment checking. */
    write_cr0(read_cr0() | CR0_AM);
    user_case("user.am1.popf_ac.misaligned", u_ac, (u64)(uintptr_t)up + 1, RFLAGS_FIXED,
              (u64)(uintptr_t)u_ac_insn, 0, 17, 0, 0, true);
    r = user_case("user.am1.popf_ac.aligned", u_ac, (u64)(uintptr_t)up, RFLAGS_FIXED, 0, 0, -1, 0, 0, false);
    value("user.am1.popf_ac.aligned.value", r, 0x1234567890abcdefUL);
    write_cr0(read_cr0() & ~CR0_AM);
    user_case("user.am0.popf_ac.misaligned", u_ac, (u64)(uintptr_t)up + 1, RFLAGS_FIXED, 0, 0, -1, 0, 0, false);

    write_cr4(read_cr4() & ~(CR4_SMEP | CR4_SMAP));
    value("user.smap1.rw_user.memory", up[1], ~0x1234567890abcdefUL);
}

void test_main(void)
{
    u64 label, v;
    const u64 ud = (u64)(uintptr_t)user_data, uc = (u64)(uintptr_t)user_code;
    volatile u64 *up = (volatile u64 *)(user_data + OFFSET);
    struct cpuid_regs l7 = cpuid(7, 0);

    if (!(l7.ebx & (1U << 7)) || !(l7.ebx & (1U << 20)))
        test_skip("CPUID.(EAX=07H,ECX=0):EBX does not enumerate both SMEP and SMAP");

    /* User pages: U/S = 1 in the PML4E, PDPTE, PDE (no boot PTE has U/S = 1, so nothing
     * else becomes a user page) and in the PTEs of the pages under test. */
    boot_pml4[0] |= PTE_U;
    boot_pdpt[0] |= PTE_U;
    boot_pd[0] |= PTE_U;
    write_cr3(read_cr3());
    pte_set(user_data, PTE_U);
    pte_set(user_code, PTE_U);
    pte_set(gdt_area + PAGE_SIZE, PTE_U);
    user_code[0] = 0xc3;                    /* ret */
    *up = 0x1111222233334444UL;
    *(volatile u64 *)super_data = 0x5555666677778888UL;

    /* SMEP. */
    fault_reset();
    exec_at(user_code);
    outcome("smep0.exec_user", uc, uc, -1, 0, false);
    write_cr4(read_cr4() | CR4_SMEP);
    value("cr4.smep", (read_cr4() >> 20) & 1, 1);
    fault_reset();
    exec_at(user_code);
    outcome("smep1.exec_user", uc, uc, 0x11, 0, false);
    fault_reset();
    v = read_at(up, &label);
    outcome("smep1.read_user", label, ud, -1, 0, false);
    value("smep1.read_user.value", v, 0x1111222233334444UL);
    write_cr4(read_cr4() & ~CR4_SMEP);

    /* STAC/CLAC with CR4.SMAP = 0: they only change AC. */
    stac();
    value("smap0.stac.ac", rflags_ac(), 1);
    clac();
    value("smap0.clac.ac", rflags_ac(), 0);

    /* SMAP. */
    write_cr4(read_cr4() | CR4_SMAP);
    value("cr4.smap", (read_cr4() >> 21) & 1, 1);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.ac0.read_user", label, ud, 0x1, OFFSET, false);
    fault_reset();
    write_at(up, 0xaaaaUL, &label);
    outcome("smap1.ac0.write_user", label, ud, 0x3, OFFSET, false);

    stac();
    value("smap1.stac.ac", rflags_ac(), 1);
    value("smap1.ac0.write_user.memory_unchanged", *up, 0x1111222233334444UL);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.ac1.read_user", label, ud, -1, 0, false);
    value("smap1.ac1.read_user.value", v, 0x1111222233334444UL);
    fault_reset();
    write_at(up, 0xbbbbUL, &label);
    outcome("smap1.ac1.write_user", label, ud, -1, 0, false);
    value("smap1.ac1.write_user.memory", *up, 0xbbbbUL);
    clac();
    value("smap1.clac.ac", rflags_ac(), 0);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.clac.read_user", label, ud, 0x1, OFFSET, false);

    /* POPF setting AC has the same effect as STAC. */
    asm volatile("pushfq\n\torq %0, (%%rsp)\n\tpopfq" :: "i"(RFLAGS_AC) : "cc", "memory");
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.popf_ac1.read_user", label, ud, -1, 0, false);
    clac();

    /* Supervisor pages and instruction fetches are not affected. */
    fault_reset();
    v = read_at(super_data, &label);
    outcome("smap1.ac0.read_supervisor", label, (u64)(uintptr_t)super_data, -1, 0, false);
    value("smap1.ac0.read_supervisor.value", v, 0x5555666677778888UL);
    fault_reset();
    exec_at(user_code);
    outcome("smap1.exec_user", uc, uc, -1, 0, false);

    /* Implicit supervisor access: a GDT descriptor on a user page. */
    implicit_gdt_case("smap1.implicit_gdt.ac0", false);
    implicit_gdt_case("smap1.implicit_gdt.ac1", true);

    /* Both: SMEP and SMAP together, with EFER.NXE = 1 (I/D still reported). */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr4(read_cr4() | CR4_SMEP);
    fault_reset();
    exec_at(user_code);
    outcome("smep1_smap1_nxe1.exec_user", uc, uc, 0x11, 0, false);
    write_cr4(read_cr4() & ~(CR4_SMEP | CR4_SMAP));
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);

    user_side();
}
