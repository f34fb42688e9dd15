/*
 * host-syscalls: a user program's system calls, serviced by this kernel's own SYSCALL
 * entry in machine code -- and, in test/host-entry.test.ts, by a TypeScript host
 * that claims the same entry point, so that the two can be compared register for register
 * at every return to ring 3 (issue 14, point 3; docs/architecture.md "Host entry points").
 *
 * What the architecture requires (SDM Vol. 2B SYSCALL and SYSRET "Operation"):
 * - SYSCALL (EFER.SCE = 1, 64-bit mode) saves the next RIP in RCX and RFLAGS in R11,
 *   loads CS = STAR[47:32], SS = STAR[47:32] + 8 (here 0x08 and 0x10), RIP = LSTAR and
 *   RFLAGS &= ~FMASK, at CPL 0, without switching stacks.
 * - SYSRET with REX.W returns to CS = STAR[63:48] + 16 (0x33), SS = STAR[63:48] + 8
 *   (0x2b), RIP = RCX, RFLAGS = (R11 & 3C7FD7H) | 2, CPL 3.
 * So after a system call the user sees RCX = the address after its SYSCALL and R11 = its
 * RFLAGS at the SYSCALL (the kernel keeps both), and, by this kernel's ABI (Linux's),
 * every other register but RAX, the result, as it left it.
 *
 * The kernel (entry.S, syscall_dispatch) does what Linux's entry_SYSCALL_64 does in
 * outline: SWAPGS to reach its per-CPU area through IA32_KERNEL_GS_BASE, a switch to its
 * own stack, all registers saved, a C dispatcher, all restored, SWAPGS, SYSRETQ. Its
 * calls, by Linux's numbers: write(fd, buf, len) -- fd 1 is the console (port 0xE9),
 * any other fd is -EBADF --, getpid() = GETPID_VALUE, exit(status) -- SYSRETQ to the
 * library's user_exit64 with RAX = status, which leaves ring 3 as exec_user's functions
 * do -- and -ENOSYS for any other number.
 *
 * The user program prints every observation itself, from ring 3, through write; the
 * kernel then checks them and prints the exit status.
 */
#include "ringside.h"
#include "host-syscalls.h"

static const u32 msr_star = 0xc0000081, msr_lstar = 0xc0000082, msr_fmask = 0xc0000084;
static const u32 msr_kernel_gs_base = 0xc0000102;
#define EFER_SCE (1 << 0)
/* FMASK as Linux sets it: TF, DF, IF, IOPL, AC and NT cleared on entry. */
#define FMASK 0x47700

extern char syscall_entry[], syscall_probe_return[], user_exit64[];
extern void syscall_probe(struct probe *p);

struct percpu percpu;
static u8 syscall_stack[4096] __attribute__((aligned(16)));

/* ---- the kernel ---- */

void syscall_dispatch(struct sysregs *r);
void syscall_dispatch(struct sysregs *r)
{
    switch (r->rax) {
    case SYS_WRITE:
        if (r->rdi != 1) {
            r->rax = (u64)-EBADF;
            break;
        }
        for (u64 i = 0; i < r->rdx; i++)
            outb(PORT_CONSOLE, ((const u8 *)(uintptr_t)r->rsi)[i]);
        r->rax = r->rdx;
        break;
    case SYS_GETPID:
        r->rax = GETPID_VALUE;
        break;
    case SYS_EXIT:
        r->rcx = (u64)(uintptr_t)user_exit64;
        r->rax = r->rdi;
        break;
    default:
        r->rax = (u64)-ENOSYS;
    }
}

/* ---- the user program (CPL 3) ---- */

static long sys(long nr, long a, long b, long c)
{
    long ret;
    asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static long uprint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long uprint(const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintk(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return sys(SYS_WRITE, 1, (long)buf, n);
}

static const u64 patterns[PROBE_NREGS] = {
    0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444,
    0x5555555555555555, 0x8888888888888888, 0x9999999999999999, 0xaaaaaaaaaaaaaaaa,
    0xcccccccccccccccc, 0xdddddddddddddddd, 0xeeeeeeeeeeeeeeee, 0xffffffffffffffff,
};

/* What the user program observed, for the kernel to check. */
static struct {
    long hello, written, pid, badfd, unknown, kept, rcx_ok, r11_ok;
} seen;

static u64 user_main(u64 arg)
{
    static const char hello[] = "user: hello from ring 3\n";
    struct probe p;

    (void)arg;
    seen.hello = sys(SYS_WRITE, 1, (long)hello, sizeof(hello) - 1);
    seen.written = uprint("user: write returned: %ld\n", seen.hello);
    seen.pid = sys(SYS_GETPID, 0, 0, 0);
    uprint("user: getpid: %ld\n", seen.pid);
    /* DIV leaves every status flag undefined (SDM Vol. 2A DIV, "Flags Affected"); SYSCALL
     * saves RFLAGS in R11 and SYSRET restores it, so the user gets back whatever its CPU made
     * of them.  Nothing is printed: `ringside diff` must class the difference between vendors
     * as "undefined, vendor table" by itself, not as an ABI difference. */
    {
        long nr = SYS_GETPID, rdx = 0, rax = 0x37;
        asm volatile("xor %%edx, %%edx; mov $0x37, %%eax; cmp %%eax, %%eax; mov $5, %%ecx; div %%rcx; mov %3, %%rax; syscall"
                     : "=a"(rax), "=&d"(rdx) : "0"(rax), "r"(nr) : "rcx", "r11", "memory", "cc");
        (void)rdx;
    }
    seen.badfd = sys(SYS_WRITE, 5, (long)hello, 4);
    uprint("user: write to fd 5: %ld\n", seen.badfd);
    seen.unknown = sys(999, 0, 0, 0);
    uprint("user: system call 999: %ld\n", seen.unknown);

    syscall_probe(&p);
    seen.kept = 0;
    for (unsigned int i = 0; i < PROBE_NREGS; i++)
        seen.kept += p.regs[i] == patterns[i];
    seen.rcx_ok = p.rcx == (u64)(uintptr_t)syscall_probe_return;
    seen.r11_ok = p.r11 == p.flags;
    uprint("user: getpid with every register set: %ld\n", (long)p.result);
    uprint("user: registers kept: %ld of %d\n", seen.kept, PROBE_NREGS);
    uprint("user: rcx is the return address: %s\n", seen.rcx_ok ? "yes" : "no");
    uprint("user: r11 is rflags: %s\n", seen.r11_ok ? "yes" : "no");

    sys(SYS_EXIT, 7, 0, 0);
    return 0xdead;   /* not reached: exit leaves through user_exit64 */
}

static void expect(const char *name, long got, long want)
{
    if (got != want)
        test_fail("%s: %ld, expected %ld", name, got, want);
}

void test_main(void)
{
    ring3_init();
    percpu.kernel_rsp = (u64)(uintptr_t)syscall_stack + sizeof(syscall_stack);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(msr_star, ((u64)SEL_USER_CODE32 << 48) | ((u64)SEL_CODE64 << 32));
    wrmsr(msr_lstar, (u64)(uintptr_t)syscall_entry);
    wrmsr(msr_fmask, FMASK);
    wrmsr(msr_kernel_gs_base, (u64)(uintptr_t)&percpu);

    u64 status = exec_user(user_main, 0);
    printk("exit status: %lu\n", status);

    expect("write returned", seen.hello, 24);
    expect("write of the report line", seen.written, 25);
    expect("getpid", seen.pid, GETPID_VALUE);
    expect("write to fd 5", seen.badfd, -EBADF);
    expect("system call 999", seen.unknown, -ENOSYS);
    expect("registers kept", seen.kept, PROBE_NREGS);
    expect("rcx is the return address", seen.rcx_ok, 1);
    expect("r11 is rflags", seen.r11_ok, 1);
    expect("exit status", (long)status, 7);
}
