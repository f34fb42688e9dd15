/*
 * platform-devices: the QEMU platform devices kvm-unit-tests relies on, read and
 * exercised the way kvm-unit-tests does, and at their edges. These are QEMU's own
 * devices, so QEMU 7.2's source is the specification (hw/nvram/fw_cfg.c,
 * hw/i386/fw_cfg.c, hw/i386/multiboot.c, hw/misc/pc-testdev.c; QEMU's memory core
 * cuts a port access into pieces per device region, softmmu/physmem.c):
 *
 * - fw_cfg at ports 0x510/0x511: a 2-byte write selects an item (bit 14 ignored,
 *   bit 15 the x86 table) and rewinds it; each 1-byte read at either port returns
 *   the item's next byte, 0 past its end; a 1-byte write is ignored; a selector at
 *   or past 0x40 names nothing and reads 0. A 2-byte read is not accepted (0) and
 *   the unclaimed ports 0x512/0x513 read all ones. kvm-unit-tests reads the CPU
 *   count (0x05, 2 bytes), the RAM size (0x03) and key 0x11 (its "MAX_RAM"; on
 *   QEMU the multiboot loader's kernel data, which starts with the loaded kernel).
 * - pc-testdev: a 32-bit register at ports 0xE0-0xE3 (and byte by byte at
 *   0xE8-0xEB), the flush port 0xE4 (4-byte accesses only; reads 0), IRQ-line ports
 *   at 0x2000 (read 0), and 64 KiB of memory at 0xFF000000 that REP INSB fills
 *   across a page as kvm-unit-tests' emulator test does.
 *
 * This is a multiboot kernel, booted as kvm-unit-tests' kernels are, with paging off
 * (the device memory is reached at its physical address). The IRQ lines are only read:
 * setting one needs an interrupt controller.
 */
#include "ringside32.h"

#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511
#define TESTDEV 0xe0
#define TESTDEV_FLUSH 0xe4
#define TESTDEV_BYTE 0xe8
#define TESTDEV_IRQ 0x2000
#define IOMEM ((volatile u8 *)0xff000000u)

extern char multiboot_entry[];

static void outw(u16 port, u16 v) { asm volatile("outw %w0, %w1" :: "a"(v), "Nd"(port)); }
static u16 inw(u16 port) { u16 v; asm volatile("inw %w1, %w0" : "=a"(v) : "Nd"(port)); return v; }
static u32 inl(u16 port) { u32 v; asm volatile("inl %w1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void fw_select(u16 key) { outw(FW_CFG_CTL, key); }

/* As kvm-unit-tests' fwcfg_get_u: select, then `bytes` byte reads, little-endian. */
static u64 fw_get(u16 key, int bytes)
{
    u64 r = 0;
    fw_select(key);
    for (int i = 0; i < bytes; i++) r |= (u64)inb(FW_CFG_DATA) << (i * 8);
    return r;
}

static void expect(const char *name, u64 got, u64 want)
{
    if (got != want) test_fail("%s: 0x%llx, expected 0x%llx", name, got, want);
}

static void fw_cfg(void)
{
    char sig[5] = { 0 };
    fw_select(0x00);
    for (int i = 0; i < 4; i++) sig[i] = (char)inb(FW_CFG_DATA);
    printk("fw_cfg.signature: %s\n", sig);
    if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U') test_fail("fw_cfg signature is not QEMU");
    u32 past = inb(FW_CFG_DATA) | (u32)inb(FW_CFG_DATA) << 8;
    printk("fw_cfg.signature_past_end: 0x%x\n", past);
    expect("fw_cfg.signature_past_end", past, 0);
    printk("fw_cfg.id: 0x%llx\n", fw_get(0x01, 4));
    u64 uuid = fw_get(0x02, 8);
    printk("fw_cfg.uuid_zero: %d\n", uuid == 0);
    u64 ram = fw_get(0x03, 8);
    printk("fw_cfg.ram_size: 0x%llx\n", ram);
    expect("fw_cfg.ram_size", ram, 128ull << 20);
    printk("fw_cfg.nographic: %llu\n", fw_get(0x04, 2));
    u64 cpus = fw_get(0x05, 2);
    printk("fw_cfg.nb_cpus: %llu\n", cpus);
    expect("fw_cfg.nb_cpus", cpus, 1);
    printk("fw_cfg.boot_menu: %llu\n", fw_get(0x0e, 2));
    printk("fw_cfg.max_cpus: %llu\n", fw_get(0x0f, 2));

    /* The multiboot loader's items. */
    u32 kaddr = (u32)fw_get(0x07, 4);
    printk("fw_cfg.kernel_addr: 0x%x\n", kaddr);
    u32 ksize = (u32)fw_get(0x08, 4);
    printk("fw_cfg.kernel_size_page_aligned: %d\n", (ksize & 0xfff) == 0);
    printk("fw_cfg.kernel_entry_is_entry: %d\n", (u32)fw_get(0x10, 4) == (u32)multiboot_entry);
    u64 data = fw_get(0x11, 8);
    printk("fw_cfg.kernel_data_u64: 0x%llx\n", data);
    expect("fw_cfg.kernel_data_u64", data, *(volatile u64 *)kaddr);
    printk("fw_cfg.initrd_addr: 0x%llx\n", fw_get(0x0a, 4));
    printk("fw_cfg.initrd_size: %llu\n", fw_get(0x0b, 4));
    printk("fw_cfg.initrd_data_flags: 0x%llx\n", fw_get(0x12, 4));

    /* Selector edges. */
    printk("fw_cfg.write_channel_bit_ignored: %llu\n", fw_get(0x4005, 2));
    printk("fw_cfg.key_0x40: 0x%llx\n", fw_get(0x40, 8));
    printk("fw_cfg.key_0x8040: 0x%llx\n", fw_get(0x8040, 8));
    printk("fw_cfg.key_0xffff: 0x%llx\n", fw_get(0xffff, 8));
    fw_select(0x00);
    u32 first = inb(FW_CFG_DATA);
    outb(FW_CFG_DATA, 0x55); /* ignored */
    outb(FW_CFG_CTL, 0x05);  /* a 1-byte write: a data write, ignored */
    u32 second = inb(FW_CFG_CTL); /* a 1-byte read at either port reads data */
    printk("fw_cfg.bytes_after_byte_writes: %c%c\n", (char)first, (char)second);
    printk("fw_cfg.word_read_ctl: 0x%x\n", inw(FW_CFG_CTL));
    printk("fw_cfg.next_byte_after_word_read: %c\n", (char)inb(FW_CFG_DATA));
    printk("fw_cfg.dword_read_ctl: 0x%x\n", inl(FW_CFG_CTL));
    outl(FW_CFG_CTL, 0xaaaa0005); /* the low 2 bytes select; 0x512 takes the rest */
    printk("fw_cfg.after_dword_select: %u\n", inb(FW_CFG_DATA));
    fw_select(0x00);
    printk("fw_cfg.reselect_rewinds: %c\n", (char)inb(FW_CFG_DATA));
}

static void testdev(void)
{
    static const char st1[] = "abcdefghijklmnop";
    /* kvm-unit-tests' emulator test_stringio: the register keeps the last byte. */
    asm volatile("cld; rep outsb" :: "d"(TESTDEV), "S"(st1), "c"(sizeof(st1) - 1) : "memory");
    printk("testdev.outsb_up: %c\n", (char)inb(TESTDEV));
    asm volatile("std; rep outsb; cld" :: "d"(TESTDEV), "S"(st1 + sizeof(st1) - 2), "c"(sizeof(st1) - 1) : "memory");
    printk("testdev.outsb_down: %c\n", (char)inb(TESTDEV));

    outl(TESTDEV, 0x12345678);
    printk("testdev.dword: 0x%x\n", inl(TESTDEV));
    printk("testdev.bytes: 0x%x 0x%x 0x%x 0x%x\n", inb(TESTDEV), inb(TESTDEV + 1), inb(TESTDEV + 2), inb(TESTDEV + 3));
    printk("testdev.word_at_2: 0x%x\n", inw(TESTDEV + 2));
    outw(TESTDEV + 1, 0xbeef);
    printk("testdev.after_word_write_at_1: 0x%x\n", inl(TESTDEV));
    outb(TESTDEV + 3, 0x9a);
    printk("testdev.after_byte_write_at_3: 0x%x\n", inl(TESTDEV));
    printk("testdev.byte_alias_dword: 0x%x\n", inl(TESTDEV_BYTE));
    outl(TESTDEV_BYTE, 0xcafe0a0d); /* byte 1 goes to the console at 0xE9: a newline */
    printk("testdev.after_byte_alias_write: 0x%x\n", inl(TESTDEV));
    outl(TESTDEV + 2, 0x11223344); /* bytes 2-3, then 2 bytes the flush port drops */
    printk("testdev.after_dword_write_at_2: 0x%x\n", inl(TESTDEV));
    printk("testdev.dword_read_at_2: 0x%x\n", inl(TESTDEV + 2));
    printk("testdev.dword_read_byte_alias_at_2: 0x%x\n", inl(TESTDEV_BYTE + 2));

    printk("testdev.flush_dword_read: 0x%x\n", inl(TESTDEV_FLUSH));
    printk("testdev.flush_word_read: 0x%x\n", inw(TESTDEV_FLUSH));
    static volatile u32 page_word = 0x5a5a1234;
    outl(TESTDEV_FLUSH, (u32)&page_word); /* kvm-unit-tests' eventinj flush */
    printk("testdev.after_flush: 0x%x\n", page_word);
    printk("testdev.irq_line_read: 0x%x\n", inb(TESTDEV_IRQ));
    printk("testdev.irq_line_read_last: 0x%x\n", inb(TESTDEV_IRQ + 23));

    printk("testdev.iomem_initial: 0x%x\n", *(volatile u32 *)IOMEM);
    *(volatile u32 *)IOMEM = 0xdeadbeef;
    printk("testdev.iomem_dword: 0x%x\n", *(volatile u32 *)IOMEM);
    printk("testdev.iomem_byte_1: 0x%x\n", IOMEM[1]);
    *(volatile u16 *)(IOMEM + 0xfff) = 0x88aa; /* across a page inside the region */
    printk("testdev.iomem_cross_page: 0x%x 0x%x\n", IOMEM[0xfff], IOMEM[0x1000]);
    /* kvm-unit-tests' test_string_io_mmio: REP INSB from the register into the memory. */
    outw(TESTDEV, 0x9999);
    asm volatile("cld; rep insb" :: "d"(TESTDEV), "D"(IOMEM + 4032), "c"(1024) : "memory");
    printk("testdev.string_io_mmio: 0x%x 0x%x\n", IOMEM[4032], IOMEM[4032 + 1023]);
    *(volatile u32 *)(IOMEM + 0xfffc) = 0x01020304;
    printk("testdev.iomem_last_dword: 0x%x\n", *(volatile u32 *)(IOMEM + 0xfffc));
}

void test_main(void)
{
    fw_cfg();
    testdev();
}
