/*
 * Result reporting as the Xen Test Framework's common/report.c: statuses SUCCESS <
 * SKIP < ERROR < FAILURE, the worst one wins, and the run ends with exactly one line
 *   Test result: SUCCESS[ with warnings] | SKIP | ERROR | FAILURE
 * then SCHEDOP_shutdown(SHUTDOWN_poweroff) (xtf_exit).  The messages are printed as
 * they are reported (FAIL:/ERROR:/SKIP:/WARNING: lines).
 */
#include "ringside-pv.h"

#define SCHEDOP_shutdown 2

enum status { ST_SUCCESS, ST_SKIP, ST_ERROR, ST_FAILURE };

static enum status status = ST_SUCCESS;
static bool warned;

static void record(enum status st, const char *tag, const char *fmt, va_list ap)
{
    char msg[160];

    vsnprintk(msg, sizeof(msg), fmt, ap);
    printk("%s: %s\n", tag, msg);
    if (st > status)
        status = st;
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
    char msg[160];

    va_start(ap, fmt);
    vsnprintk(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printk("WARNING: %s\n", msg);
    warned = true;
}

NORETURN void pv_shutdown(unsigned int reason)
{
    console_flush();
    hypercall_sched_op(SCHEDOP_shutdown, &reason);
    /* Xen returned: crash the domain as XTF's arch_crash_hard does, with a
     * non-canonical stack Xen cannot write a bounce frame to. */
    asm volatile("movabs $0x800000000badc0de, %%rsp; pushfq" ::: "memory");
    for (;;)
        ;
}

NORETURN void test_finish(void)
{
    static const char *const names[] = {
        [ST_SUCCESS] = "SUCCESS", [ST_SKIP] = "SKIP",
        [ST_ERROR] = "ERROR", [ST_FAILURE] = "FAILURE",
    };

    printk("Test result: %s%s\n", names[status], status == ST_SUCCESS && warned ? " with warnings" : "");
    pv_shutdown(SHUTDOWN_poweroff);
}

NORETURN void test_abort(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(ST_ERROR, "ERROR", fmt, ap);
    va_end(ap);
    test_finish();
}
