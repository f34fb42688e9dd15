/*
 * Result reporting in the style of the Xen Test Framework: a test records
 * failures, errors, skips and warnings as it goes, and the run ends with
 * exactly one verdict line (README.md, "ringside run", says how it is judged):
 *   Test result: SUCCESS
 *   Test result: SUCCESS with warnings
 *   Test result: SKIP (reason)
 *   Test result: ERROR (reason)
 *   Test result: FAILURE (reason)
 * followed by a 32-bit write of 0 to the exit port 0xF4.
 */
#include "ringside.h"

enum status { ST_SUCCESS, ST_SKIP, ST_ERROR, ST_FAILURE };

static enum status status = ST_SUCCESS;
static char reason[160];
static unsigned int nr_reports;     /* reports at the current status */
static bool warned;

static void record(enum status st, const char *tag, const char *fmt, va_list ap)
{
    char msg[sizeof(reason)];

    vsnprintk(msg, sizeof(msg), fmt, ap);
    printk("%s: %s\n", tag, msg);

    if (st > status) {
        status = st;
        nr_reports = 0;
        memcpy(reason, msg, sizeof(reason));
    }
    if (st == status)
        nr_reports++;
}

void test_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(ST_FAILURE, "FAIL", fmt, ap);
    va_end(ap);
}

void test_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(ST_ERROR, "ERROR", fmt, ap);
    va_end(ap);
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(ST_SKIP, "SKIP", fmt, ap);
    va_end(ap);
}

void test_warn(const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(reason)];

    va_start(ap, fmt);
    vsnprintk(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printk("WARNING: %s\n", msg);
    warned = true;
}

/* A guest that also boots as a Xen PV kernel (guest.json "boot": ["pvh", "xen-pv64"]) brings
 * its own, built with PLATFORM_EXIT_EXTERNAL: under Xen it shuts the domain down instead. */
#ifndef PLATFORM_EXIT_EXTERNAL
NORETURN void platform_exit(u32 value)
{
    outl(PORT_EXIT, value);
    for (;;)
        asm volatile("cli; hlt");
}
#endif

NORETURN void test_finish(void)
{
    static const char *const names[] = {
        [ST_SUCCESS] = "SUCCESS", [ST_SKIP] = "SKIP",
        [ST_ERROR] = "ERROR", [ST_FAILURE] = "FAILURE",
    };

    if (status == ST_SUCCESS)
        printk("Test result: SUCCESS%s\n", warned ? " with warnings" : "");
    else if (nr_reports > 1)
        printk("Test result: %s (%s; and %u more)\n", names[status], reason,
               nr_reports - 1);
    else
        printk("Test result: %s (%s)\n", names[status], reason);
    platform_exit(0);
}

NORETURN void test_abort(const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(reason)];

    va_start(ap, fmt);
    vsnprintk(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printk("Test result: ERROR (%s)\n", msg);
    platform_exit(0);
}
