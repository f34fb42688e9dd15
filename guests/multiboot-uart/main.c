/*
 * multiboot-uart: a 32-bit multiboot (v1) kernel whose console is the 16550
 * UART on COM1 (I/O ports 0x3F8-0x3FF).
 *
 * What the loader must provide (Multiboot Specification 0.6.96):
 *   - §3.2: EAX = 0x2BADB002, EBX = physical address of the multiboot
 *     information structure, 32-bit protected mode with paging off
 *     (CR0.PE = 1, CR0.PG = 0), A20 enabled, EFLAGS.VM = 0 and EFLAGS.IF = 0.
 *   - §3.3: the information structure; `flags` says which fields are valid.
 *     Bit 0: mem_lower/mem_upper, KiB of memory below 640 KiB and from 1 MiB
 *     to the first hole (mem_lower is at most 640).  Bit 6: mmap_addr /
 *     mmap_length, a buffer of entries each preceded by its `size` (not
 *     counting the size field itself): base_addr, length (64-bit), type
 *     (1 = available RAM).  Bits 1, 2, 3, 9: boot_device, cmdline,
 *     mods_count/mods_addr, boot_loader_name.  The header asked for memory
 *     information (header flags bit 1), so bit 0 must be set.
 * What the UART must do (TI/National PC16550D datasheet, register summary
 * and register descriptions):
 *   - LCR bit 7 (DLAB) = 1 maps the divisor latch (DLL, DLM) at offsets 0
 *     and 1 instead of RBR/THR and IER; the latches keep their value.
 *   - IER bits 7-4 are always 0.  IIR bit 0 = 1 means no interrupt pending;
 *     bits 7-6 are set while the FIFOs are enabled (FCR bit 0).  With
 *     ETBEI (IER bit 1) set and the THR empty, IIR reads 0x2 (THR empty,
 *     priority 3, interrupt control functions table), and reading IIR
 *     clears that indication.
 *   - LSR: THRE (bit 5) and TEMT (bit 6) say the transmitter is empty, DR
 *     (bit 0) that a received byte is waiting, OE (bit 1) an overrun; reading
 *     LSR clears OE.  In FIFO mode an overrun does not overwrite the FIFO:
 *     the 16 bytes already received stay, the 17th is lost.
 *   - MCR bit 4 (loop): the transmitter's output is looped back to the
 *     receiver (nothing leaves the chip) and the modem status inputs follow
 *     the modem control outputs: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.
 *   - SCR is a plain read/write scratch register.
 * The guest programs the UART as a driver does (divisor 1 = 115200 baud,
 * 8N1, FIFOs on), polls LSR.THRE before each byte it sends, prints every
 * observation as `name: value` and checks the values the specifications fix.
 * The modem status lines with nothing attached are not fixed by the
 * datasheet; the guest prints MSR only in loopback, where they are.
 */
#include "ringside32.h"

#define COM1 0x3f8
#define UART_RBR 0      /* DLAB = 0, read */
#define UART_THR 0      /* DLAB = 0, write */
#define UART_DLL 0      /* DLAB = 1 */
#define UART_IER 1      /* DLAB = 0 */
#define UART_DLM 1      /* DLAB = 1 */
#define UART_IIR 2      /* read */
#define UART_FCR 2      /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LCR_DLAB 0x80
#define LCR_8N1  0x03
#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define MB_INFO_MAGIC 0x2badb002

struct multiboot_info {
    u32 flags;
    u32 mem_lower, mem_upper;
    u32 boot_device;
    u32 cmdline;
    u32 mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
    u32 drives_length, drives_addr;
    u32 config_table;
    u32 boot_loader_name;
};

struct __attribute__((packed)) mmap_entry {
    u32 size;
    u32 base_lo, base_hi;
    u32 len_lo, len_hi;
    u32 type;
};

static u8 uart_in(unsigned int reg) { return inb(COM1 + reg); }
static void uart_out(unsigned int reg, u8 v) { outb(COM1 + reg, v); }

static void uart_putc(char c)
{
    while (!(uart_in(UART_LSR) & LSR_THRE))
        ;
    uart_out(UART_THR, (u8)c);
}

/* The library's console (banner, FAIL: lines, the result line) is this UART. */
void console_init(void)
{
    uart_out(UART_IER, 0);
    uart_out(UART_LCR, LCR_DLAB);
    uart_out(UART_DLL, 1);              /* 115200 baud from the 1.8432 MHz clock */
    uart_out(UART_DLM, 0);
    uart_out(UART_LCR, LCR_8N1);
    uart_out(UART_FCR, 0x07);           /* enable and clear both FIFOs */
    uart_out(UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
}

void console_write(const char *s)
{
    for (; *s; s++)
        uart_putc(*s);
}

/* Print `name: 0x..` and fail unless it is the value the specification fixes. */
static void expect(const char *name, u32 got, u32 want)
{
    console_printk("%s: 0x%x\n", name, got);
    if (got != want)
        test_fail("%s is 0x%x, expected 0x%x", name, got, want);
}

static void entry_state(void)
{
    u32 cr0 = read_cr0();

    expect("entry.eax", entry_eax, MB_INFO_MAGIC);
    expect("entry.eflags.if", (entry_eflags >> 9) & 1, 0);
    expect("entry.eflags.vm", (entry_eflags >> 17) & 1, 0);
    expect("cr0.pe", cr0 & 1, 1);
    expect("cr0.pg", cr0 >> 31, 0);

    /* A20: with the gate closed, 1 MiB + x would alias x. */
    volatile u32 *hi = (volatile u32 *)&entry_eflags;       /* linked above 1 MiB */
    volatile u32 *lo = (volatile u32 *)((uintptr_t)hi & ~0x100000u);
    u32 saved = *lo;
    *lo = 0x5a5a5a5a;
    *hi = 0xa5a5a5a5;
    u32 aliased = *lo == 0xa5a5a5a5;
    *lo = saved;
    expect("a20.aliased", aliased, 0);
}

static void multiboot_info(const struct multiboot_info *mbi)
{
    console_printk("info.flags: 0x%x\n", mbi->flags);
    if (!(mbi->flags & (1 << 0)))
        test_fail("info.flags bit 0 (memory) clear, but the header asked for it");
    if (mbi->flags & (1 << 0)) {
        console_printk("info.mem_lower: %u\n", mbi->mem_lower);
        console_printk("info.mem_upper: %u\n", mbi->mem_upper);
        if (mbi->mem_lower > 640)
            test_fail("mem_lower %u KiB is above 640", mbi->mem_lower);
    }
    if (mbi->flags & (1 << 1))
        console_printk("info.boot_device: 0x%x\n", mbi->boot_device);
    if (mbi->flags & (1 << 3))
        console_printk("info.mods_count: %u\n", mbi->mods_count);
    if (mbi->flags & (1 << 9))
        console_printk("info.boot_loader_name: %s\n", mbi->boot_loader_name ? "present" : "null");

    if (!(mbi->flags & (1 << 6))) {
        test_fail("info.flags bit 6 (memory map) clear");
        return;
    }
    console_printk("info.mmap_length: %u\n", mbi->mmap_length);
    u32 upper_end = 0;          /* end of the RAM run starting at 1 MiB */
    unsigned int i = 0;
    for (u32 p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length; i++) {
        const struct mmap_entry *e = (const struct mmap_entry *)p;
        console_printk("info.mmap[%u]: size %u base 0x%08x%08x length 0x%08x%08x type %u\n", i,
            e->size, e->base_hi, e->base_lo, e->len_hi, e->len_lo, e->type);
        if (e->type == 1 && !e->base_hi && !e->len_hi && e->base_lo <= 0x100000 &&
            e->base_lo + e->len_lo > 0x100000)
            upper_end = e->base_lo + e->len_lo;
        p += e->size + 4;
    }
    /* §3.3: mem_upper is the memory from 1 MiB to the first hole. */
    if ((mbi->flags & 1) && upper_end && mbi->mem_upper != (upper_end - 0x100000) / 1024)
        test_fail("mem_upper %u KiB, but the map's RAM from 1 MiB ends at 0x%x", mbi->mem_upper, upper_end);
}

/*
 * Readings taken while printing would disturb them (DLAB set: THR is the
 * divisor latch; loopback: printed bytes would land in the receiver; a
 * printed byte re-raises the THR-empty condition) are recorded first and
 * printed afterwards.
 */
struct reading { const char *name; u32 got, want; };
static struct reading readings[32];
static unsigned int nr_readings;

static void take(const char *name, u32 got, u32 want)
{
    if (nr_readings < ARRAY_SIZE(readings))
        readings[nr_readings++] = (struct reading){ name, got, want };
}

static void print_readings(void)
{
    for (unsigned int i = 0; i < nr_readings; i++)
        expect(readings[i].name, readings[i].got, readings[i].want);
    nr_readings = 0;
}

static void uart_registers(void)
{
    uart_out(UART_SCR, 0xa5);
    take("uart.scr", uart_in(UART_SCR), 0xa5);
    uart_out(UART_SCR, 0x5a);
    take("uart.scr", uart_in(UART_SCR), 0x5a);

    /* Divisor latch round trip: 12 = 9600 baud, then back to 1 = 115200. */
    uart_out(UART_LCR, LCR_DLAB | LCR_8N1);
    uart_out(UART_DLL, 0x0c);
    uart_out(UART_DLM, 0x00);
    take("uart.dll", uart_in(UART_DLL), 0x0c);
    take("uart.dlm", uart_in(UART_DLM), 0x00);
    take("uart.lcr (dlab)", uart_in(UART_LCR), LCR_DLAB | LCR_8N1);
    uart_out(UART_DLL, 0x01);
    take("uart.dll", uart_in(UART_DLL), 0x01);
    uart_out(UART_LCR, LCR_8N1);
    take("uart.lcr", uart_in(UART_LCR), LCR_8N1);
    take("uart.ier (dlab clear)", uart_in(UART_IER), 0x00);

    take("uart.lsr", uart_in(UART_LSR), LSR_THRE | LSR_TEMT);
    take("uart.iir", uart_in(UART_IIR), 0xc1);

    /* IER keeps bits 3-0 only; ETBEI with an empty THR identifies "THR empty". */
    uart_out(UART_IER, 0xff);
    take("uart.ier", uart_in(UART_IER), 0x0f);
    take("uart.iir (etbei, thr empty)", uart_in(UART_IIR), 0xc2);
    take("uart.iir (after reading it)", uart_in(UART_IIR), 0xc1);
    uart_out(UART_IER, 0);
    take("uart.ier", uart_in(UART_IER), 0x00);
    print_readings();

    /* Loopback, with the outputs chosen so that no modem input changes. */
    uart_out(UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS | MCR_DTR);
    take("uart.mcr (loop)", uart_in(UART_MCR), MCR_LOOP | MCR_OUT2 | MCR_RTS | MCR_DTR);
    take("uart.msr (loop: dcd, dsr, cts)", uart_in(UART_MSR), 0xb0);
    uart_out(UART_THR, 'R');
    take("uart.lsr (loop, 1 byte)", uart_in(UART_LSR), LSR_TEMT | LSR_THRE | LSR_DR);
    take("uart.rbr", uart_in(UART_RBR), 'R');
    take("uart.lsr (loop, read)", uart_in(UART_LSR), LSR_TEMT | LSR_THRE);

    /* 17 bytes into the 16-byte receive FIFO: the 17th is lost, OE is set. */
    for (unsigned int i = 0; i < 17; i++)
        uart_out(UART_THR, (u8)('a' + i));
    take("uart.lsr (loop, 17 bytes)", uart_in(UART_LSR), LSR_TEMT | LSR_THRE | LSR_OE | LSR_DR);
    take("uart.lsr (oe cleared by reading)", uart_in(UART_LSR), LSR_TEMT | LSR_THRE | LSR_DR);
    char got[17];
    unsigned int n = 0;
    while ((uart_in(UART_LSR) & LSR_DR) && n < 16)
        got[n++] = (char)uart_in(UART_RBR);
    got[n] = '\0';
    take("uart.lsr (fifo drained)", uart_in(UART_LSR), LSR_TEMT | LSR_THRE);

    uart_out(UART_MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);
    take("uart.mcr", uart_in(UART_MCR), MCR_OUT2 | MCR_RTS | MCR_DTR);
    print_readings();
    console_printk("uart.fifo: %s\n", got);
    if (memcmp(got, "abcdefghijklmnop", 17) != 0)
        test_fail("receive FIFO held \"%s\", expected the first 16 bytes", got);
}

void test_main(void)
{
    entry_state();
    if (entry_eax == MB_INFO_MAGIC)
        multiboot_info((const struct multiboot_info *)entry_ebx);
    uart_registers();
}
