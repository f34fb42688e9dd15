/*
 * pv-boot: what a 64-bit PV kernel finds when Xen's dom0 builder starts it (and,
 * where it differs, what a domU finds when its toolstack built it: see the domU branch
 * below; real Xen runs this guest as dom0 only, so the domU lines rest on the source).
 *
 * xen/arch/x86/pv/dom0_build.c (dom0_construct_pv, at Xen 4.17 and today):
 * - the bootstrap layout, virtual, from the image's base (0: no VIRT_BASE note): the
 *   kernel, then the P2M list (vphysmap_start = round_pgup(vkern_end): one 8-byte MFN
 *   per page), then start_info (round_pgup of the list's end; the dom0 VGA console info
 *   after it on the same page), then the bootstrap page tables (vpt_start =
 *   round_pgup(vstartinfo_end)), then one stack page (vstack_start = vpt_end);
 * - "Initial register values": DS, ES, FS, GS = FLAT_KERNEL_DS (FLAT_RING3_DS64, the
 *   NULL selector, public/arch-x86/xen-x86_64.h), CS:RIP = FLAT_KERNEL_CS (0xe033):
 *   entry, SS:RSP = FLAT_KERNEL_SS (0xe02b): vstack_end, RSI = start_info,
 *   "rAX,rBX,rCX,rDX,rDI,rBP,R8-R15 are zero", eflags = X86_EFLAGS_IF (the kernel reads
 *   RFLAGS with IF and the always-one bit 1, IOPL 0: it runs in ring 3);
 * - start_info: magic "xen-3.0-x86_%d%s" (xen/arch/x86/pv/dom0_build.c): "p" for
 *   PAE_MODE until Xen 4.18 ignored the note for 64-bit kernels (d5e1795ab4, "x86/PV:
 *   ignore PAE_MODE ELF note for 64-bit Dom0"), so "xen-3.0-x86_64p" on 4.17 and
 *   "xen-3.0-x86_64" from 4.18 on (the image says PAE_MODE "yes"); Xen 3.0.4 and 3.1.1
 *   wrote "xen-<major>.<minor>-x86_64" for dom0, "xen-3.1-x86_64" on 3.1.1
 *   (3.1.0-branched xen/arch/x86/domain_build.c:831-834, made a constant by 6ca4cce4f4),
 *   while libxc's domU builder always said "xen-3.0-x86_64" (tools/libxc/xc_dom_x86.c:339);
 *   nr_pages, shared_info (a machine address), flags SIF_PRIVILEGED | SIF_INITDOMAIN
 *   | xen_processor_pmbits << 8 (xen/common/domain.c: XEN_PROCESSOR_PM_PX = 2 by
 *   default, xen/arch/x86/setup.c: | XEN_PROCESSOR_PM_CX = 1 with cpuidle, the
 *   default: 0x303), pt_base, nr_pt_frames, mfn_list, mod_start/mod_len only with a
 *   module (none here), cmd_line from the module's string with the image name cut off
 *   (xen/arch/x86/setup.c: cmdline_cook), the store fields zero (clear_page), and
 *   console.dom0 naming the struct dom0_vga_console_info Xen copies right after
 *   start_info whatever the boot video was (xen/drivers/video/vga.c:
 *   fill_console_start_info returns 1): info_off = sizeof(start_info) = 0x490,
 *   info_size = 0x28; video_type is 0 when Xen found no VGA text console (QEMU
 *   -nodefaults has none);
 * - the P2M written by dom0_update_physmap: pfn -> mfn from the domain's allocation,
 *   never the identity (Xen's heap is below it); Xen's read-only M2P at
 *   0xffff800000000000 maps each back (RO_MPT_VIRT_START, public/arch-x86/xen-x86_64.h);
 * - "Mask all upcalls...": every vcpu_info's evtchn_upcall_mask = 1, nothing pending;
 * - the hypercall page (xen/arch/x86/pv/hypercall.c: pv_ring3_init_hypercall_page):
 *   0xcc fill, each 32-byte slot `push %rcx; push %r11; mov $i,%eax; syscall;
 *   pop %r11; pop %rcx; ret`, slot 23 (iret) `push %rcx; push %r11; push %rax;
 *   mov $23,%eax; syscall`;
 * - XENVER_version (xen/common/kernel.c: do_xen_version) = major << 16 | minor.
 * A mov from %cr3 is emulated (xen/arch/x86/pv/emul-priv-op.c: read_cr): the machine
 * address of the kernel's L4, the frame pt_base names.
 */
#include "ringside-pv.h"

extern char __image_end[];

static void check_u64(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s is 0x%lx, expected 0x%lx", name, got, want);
}

static void check_yes(const char *name, bool got)
{
    printk("%s: %s\n", name, got ? "yes" : "no");
    if (!got)
        test_fail("%s: no", name);
}

static void print_bytes(const char *name, const u8 *p, unsigned int n)
{
    char buf[3 * 32 + 1];
    unsigned int at = 0;

    for (unsigned int i = 0; i < n; i++)
        at += (unsigned int)snprintk(buf + at, sizeof(buf) - at, i ? " %02x" : "%02x", p[i]);
    printk("%s: %s\n", name, buf);
}

static u64 round_up(u64 v)
{
    return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

static void entry_registers(void)
{
    const struct start_info *si = pv_start_info;
    static const char *const zero_names[] = {
        "entry.rax", "entry.rbx", "entry.rcx", "entry.rdx", "entry.rdi", "entry.rbp",
        "entry.r8", "entry.r9", "entry.r10", "entry.r11", "entry.r12", "entry.r13",
        "entry.r14", "entry.r15",
    };
    const u64 zero_values[] = {
        pv_entry.rax, pv_entry.rbx, pv_entry.rcx, pv_entry.rdx, pv_entry.rdi, pv_entry.rbp,
        pv_entry.r8, pv_entry.r9, pv_entry.r10, pv_entry.r11, pv_entry.r12, pv_entry.r13,
        pv_entry.r14, pv_entry.r15,
    };

    check_yes("entry.rsi_is_start_info", pv_entry.rsi == (u64)(uintptr_t)si);
    u64 pt_end = si->pt_base + si->nr_pt_frames * PAGE_SIZE;
    printk("entry.rsp: pt_end+0x%lx\n", pv_entry.rsp - pt_end);
    if (pv_entry.rsp != pt_end + PAGE_SIZE)
        test_fail("entry rsp is not the top of the stack page after the page tables");
    for (unsigned int i = 0; i < ARRAY_SIZE(zero_values); i++)
        check_u64(zero_names[i], zero_values[i], 0);
    check_u64("entry.rflags", pv_entry.rflags, 0x202);
    check_u64("entry.cs", pv_entry.cs, FLAT_KERNEL_CS);
    check_u64("entry.ss", pv_entry.ss, FLAT_KERNEL_SS);
    check_u64("entry.ds", pv_entry.ds, 0);
    check_u64("entry.es", pv_entry.es, 0);
    check_u64("entry.fs", pv_entry.fs, 0);
    check_u64("entry.gs", pv_entry.gs, 0);
}

static void start_info_fields(void)
{
    const struct start_info *si = pv_start_info;
    const u64 *p2m = (const u64 *)(uintptr_t)si->mfn_list;

    printk("start_info.magic: \"%s\"\n", si->magic);
    long ver = hypercall_xen_version(0 /* XENVER_version */, NULL);
    const char *magic = ver < 0x40012 ? "xen-3.0-x86_64p" : "xen-3.0-x86_64";
    char magic3[16];
    if (ver >> 16 == 3) {
        /* Xen 3.x: a dom0's magic carried Xen's own major.minor, libxc's for a domU did not. */
        const bool initdom = (si->flags & SIF_INITDOMAIN) != 0;
        snprintk(magic3, sizeof(magic3), "xen-%ld.%ld-x86_64", initdom ? ver >> 16 : 3, initdom ? ver & 0xffff : 0);
        magic = magic3;
    }
    if (strcmp(si->magic, magic) != 0)
        test_fail("start_info magic \"%s\", expected \"%s\" for Xen %ld.%ld", si->magic, magic, ver >> 16, ver & 0xffff);
    check_u64("start_info.page_offset", (u64)(uintptr_t)si & (PAGE_SIZE - 1), 0);
    printk("start_info.nr_pages: %lu\n", si->nr_pages);
    if (si->nr_pages < 1024)
        test_fail("nr_pages %lu is less than the 4 MiB initial mapping", si->nr_pages);
    const bool dom0 = si->flags & SIF_INITDOMAIN;
    /* The pages a domU's toolstack puts between start_info and the page tables. */
    const u64 rings = dom0 ? 0 : 2;
    if (dom0) {
        check_u64("start_info.flags", si->flags, SIF_PRIVILEGED | SIF_INITDOMAIN | 0x300);
        check_u64("start_info.store_mfn", si->store_mfn, 0);
        check_u64("start_info.store_evtchn", si->store_evtchn, 0);
        check_u64("start_info.console.info_off", si->console.dom0.info_off, sizeof(struct start_info));
        check_u64("start_info.console.info_size", si->console.dom0.info_size, 0x28);
        check_u64("start_info.console.video_type", ((const u8 *)si)[si->console.dom0.info_off], 0);
    } else {
        /* domU (tools/libs/guest/xg_dom_x86.c: alloc_magic_pages_pv, start_info_x86_64;
         * tools/libs/light/libxl_dom.c allocates the xenstore channel, then the
         * console's, on a fresh domain whose port 0 is reserved): flags 0, the xenstore
         * page and the console page right after start_info's page. */
        check_u64("start_info.flags", si->flags, 0);
        u64 store = M2P[si->store_mfn] << 12, cons = M2P[si->console.domU.mfn] << 12;
        printk("start_info.store: start_info+0x%lx\n", store - (u64)(uintptr_t)si);
        if (store != (u64)(uintptr_t)si + PAGE_SIZE)
            test_fail("the xenstore page is not the page after start_info");
        check_u64("start_info.store_evtchn", si->store_evtchn, 1);
        printk("start_info.console: start_info+0x%lx\n", cons - (u64)(uintptr_t)si);
        if (cons != (u64)(uintptr_t)si + 2 * PAGE_SIZE)
            test_fail("the console page is not the second page after start_info");
        check_u64("start_info.console.evtchn", si->console.domU.evtchn, 2);
    }

    printk("start_info.mfn_list: kernel_end_page+0x%lx\n", si->mfn_list - round_up((u64)(uintptr_t)__image_end));
    if (si->mfn_list != round_up((u64)(uintptr_t)__image_end))
        test_fail("mfn_list is not the page after the kernel");
    printk("start_info.self: p2m_end_page+0x%lx\n", (u64)(uintptr_t)si - round_up(si->mfn_list + si->nr_pages * 8));
    if ((u64)(uintptr_t)si != round_up(si->mfn_list + si->nr_pages * 8))
        test_fail("start_info is not the page after the P2M list");
    printk("start_info.pt_base: start_info+0x%lx\n", si->pt_base - (u64)(uintptr_t)si);
    if (si->pt_base != (u64)(uintptr_t)si + (1 + rings) * PAGE_SIZE)
        test_fail("pt_base is not where the builder puts the page tables");
    printk("start_info.nr_pt_frames: %lu\n", si->nr_pt_frames);
    if (si->nr_pt_frames < 4)
        test_fail("fewer than 4 bootstrap page-table frames (L4, L3, L2, L1)");
    check_u64("start_info.mod_start", si->mod_start, 0);
    check_u64("start_info.mod_len", si->mod_len, 0);
    printk("start_info.cmd_line: \"%s\"\n", si->cmd_line);
    printk("start_info.first_p2m_pfn: %lu\n", si->first_p2m_pfn);
    printk("start_info.nr_p2m_frames: %lu\n", si->nr_p2m_frames);
    check_u64("start_info.shared_info.page_offset", si->shared_info & (PAGE_SIZE - 1), 0);

    /* The P2M: never the identity; the M2P maps every entry back. */
    u64 identity = 0, m2p_mismatch = 0;
    for (u64 pfn = 0; pfn < si->nr_pages; pfn++) {
        identity += p2m[pfn] == pfn;
        m2p_mismatch += M2P[p2m[pfn]] != pfn;
    }
    printk("p2m_identity_entries: %lu\n", identity);
    if (identity)
        test_fail("%lu P2M entries map a PFN to the same MFN", identity);
    check_u64("m2p_mismatches", m2p_mismatch, 0);

    /* The kernel's L4 is the page pt_base names: the emulated %cr3 and the L4's own
     * entries say so (Xen maps the page tables read-only, but readable). */
    u64 cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    check_yes("cr3_is_pt_base_frame", cr3 == pv_mfn((void *)si->pt_base) << 12);
    const u64 *l4 = (const u64 *)(uintptr_t)si->pt_base;
    check_yes("l4[0].present", l4[0] & 1);
    check_yes("l4[0].frame_is_domain_page", M2P[(l4[0] >> 12) & 0xffffffffffUL] < si->nr_pages);
}

static void events_and_page(void)
{
    check_u64("vcpu0.evtchn_upcall_mask", pv_vcpu0->evtchn_upcall_mask, 1);
    check_u64("vcpu0.evtchn_upcall_pending", pv_vcpu0->evtchn_upcall_pending, 0);

    static const u8 slot0[14] = { 0x51, 0x41, 0x53, 0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3 };
    static const u8 slot23[11] = { 0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05 };
    print_bytes("hypercall_page.slot0", hypercall_page, 16);
    print_bytes("hypercall_page.slot23", hypercall_page + 23 * 32, 16);
    if (memcmp(hypercall_page, slot0, sizeof(slot0)) || hypercall_page[14] != 0xcc)
        test_fail("hypercall slot 0");
    if (memcmp(hypercall_page + 23 * 32, slot23, sizeof(slot23)) || hypercall_page[23 * 32 + 11] != 0xcc)
        test_fail("hypercall slot 23 (iret)");
    u64 later = 0;
    for (unsigned int i = 0; i < 128; i++)
        later += hypercall_page[i * 32 + (i == 23 ? 5 : 4)] != (u8)i;
    check_u64("hypercall_page.slots_not_matching", later, 0);

    long v = hypercall_xen_version(0 /* XENVER_version */, NULL);
    printk("xen_version: %ld.%ld\n", v >> 16, v & 0xffff);
}

void test_main(void)
{
    entry_registers();
    start_info_fields();
    events_and_page();
}
