/* What main.c and entry.S share: the system call numbers (Linux's x86-64 numbers), the
 * constants the kernel answers with, and the layouts of the per-CPU area and the saved
 * registers. */
#ifndef HOST_SYSCALLS_H
#define HOST_SYSCALLS_H

#define SYS_WRITE  1
#define SYS_GETPID 39
#define SYS_EXIT   60

#define GETPID_VALUE 4242
#define ENOSYS 38
#define EBADF  9

/* struct percpu (GS-relative after SWAPGS). */
#define PERCPU_KERNEL_RSP 0
#define PERCPU_USER_RSP   8

/* struct probe, filled by syscall_probe. */
#define PROBE_RESULT 0
#define PROBE_FLAGS  8
#define PROBE_RCX    16
#define PROBE_R11    24
#define PROBE_REGS   32
#define PROBE_NREGS  12

#ifndef __ASSEMBLER__
struct percpu {
    u64 kernel_rsp;
    u64 user_rsp;
};

/* The user's registers as syscall_entry pushes them (rax at the lowest address). */
struct sysregs {
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* What syscall_probe saw: its result, RFLAGS before SYSCALL, RCX and R11 after it,
 * and the twelve registers it loaded with patterns (rbx rbp rdx rsi rdi r8 r9 r10
 * r12 r13 r14 r15) as they were after it. */
struct probe {
    u64 result, flags, rcx, r11;
    u64 regs[PROBE_NREGS];
};
#endif

#endif
