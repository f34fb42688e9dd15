/*
 * Start and result reporting of the 32-bit guest library, in the style of the
 * Xen Test Framework like guests/lib/report.c: the run prints
 * `Ringside guest: NAME` first, records failures as it goes and ends with
 * exactly one verdict line (README.md, "ringside run", says how it is judged):
 *   Test result: SUCCESS
 *   Test result: FAILURE (first message[; and N more])
 *   Test result: ERROR (reason)
 * followed by a 32-bit write of 0 to the exit port 0xF4.
 */
#include "ringside32.h"

static unsigned int failures;
static char first_failure[160];

/* The default console is port 0xE9; a guest with its own console driver
 * defines both. */
__attribute__((weak)) void console_init(void) {}
__attribute__((weak)) void console_write(const char *s) { puts(s); }

void console_printk(const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintk(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    console_write(buf);
}

static NORETURN void platform_exit(void)
{
    outl(PORT_EXIT, 0);
    for (;;)
        asm volatile("cli; hlt");
}

void test_fail(const char *fmt, ...)
{
    char msg[sizeof(first_failure)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintk(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    console_printk("FAIL: %s\n", msg);
    if (failures++ == 0)
        memcpy(first_failure, msg, sizeof(msg));
}

NORETURN void test_finish(void)
{
    if (failures == 0)
        console_printk("Test result: SUCCESS\n");
    else if (failures == 1)
        console_printk("Test result: FAILURE (%s)\n", first_failure);
    else
        console_printk("Test result: FAILURE (%s; and %u more)\n", first_failure, failures - 1);
    platform_exit();
}

NORETURN void test_abort(const char *reason)
{
    console_printk("Test result: ERROR (%s)\n", reason);
    platform_exit();
}

/* Entered from start.S on the boot stack. */
NORETURN void lib32_main(void);
NORETURN void lib32_main(void)
{
    console_init();
    console_printk("Ringside guest: %s\n", GUEST_NAME);
    tables_init();
    test_main();
    test_finish();
}
