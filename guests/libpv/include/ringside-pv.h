/*
 * Ringside PV library (guests/libpv): the one header a Xen PV64 guest includes.
 *
 * A guest whose guest.json says {"boot": "xen-pv64"} is a 64-bit PV kernel: Xen's
 * domain builder loads it at 1 MiB virtual (pseudo-physical frame n mapped at n * 4 KiB,
 * as the Xen Test Framework's images are), fills `hypercall_page` and enters `_start`
 * in ring 3 with %rsi = start_info.  The library gives it: hypercall wrappers through
 * the hypercall page, a console (console_io for dom0, the PV console ring otherwise),
 * XTF-style result reporting ending in SCHEDOP_shutdown, a trap table whose entry stubs
 * record every bounce frame, an exception table for events a test expects, and user
 * mode (pv_exec_user) entered and left through HYPERVISOR_iret.  guests/README.md,
 * "Xen PV guests", describes the whole; this header is usable from C and assembler.
 */
#ifndef RINGSIDE_PV_H
#define RINGSIDE_PV_H

/* Selectors Xen gives a 64-bit PV guest (public/arch-x86/xen-x86_64.h). */
#define FLAT_KERNEL_CS    0xe033     /* FLAT_RING3_CS64: also the user's */
#define FLAT_KERNEL_SS    0xe02b     /* FLAT_RING3_SS64 */
#define FLAT_USER_CS      0xe033
#define FLAT_USER_SS      0xe02b
#define FLAT_USER_CS32    0xe023
#define KERNEL_CS_RPL0    0xe030     /* the frame's CS when kernel context was interrupted */


/* The pseudo-vector of a syscall callback frame. */
#define VEC_SYSCALL       0x100      /* the pseudo-vector of a syscall callback frame */

#define PV_STACK_SIZE     8192

#ifdef __ASSEMBLER__

#include "xen-public.h"

.macro EXTABLE fault, fixup
        .pushsection .ex_table, "a"
        .balign 8
        .quad \fault, \fixup
        .popsection
.endm

#else /* C */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t  u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t   s8;
typedef int16_t  s16;
typedef int32_t  s32;
typedef int64_t  s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((__noreturn__))
#define NOINLINE __attribute__((__noinline__))
#define PAGE_SIZE 4096UL
#define barrier() asm volatile("" ::: "memory")

/* ---- Entry point every guest provides ---- */
void test_main(void);

/* ---- Console ----
 * printk/puts/putchar (guests/lib/console.c's formatter) write whole lines to
 * HYPERVISOR_console_io(CONSOLEIO_write) in the initial domain, otherwise to the PV
 * console ring (start_info console.domU), notifying its event channel.  Kernel mode only:
 * user code (pv_exec_user) cannot make hypercalls. */
void putchar(int c);
void puts(const char *s);
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  snprintk(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  vsnprintk(char *buf, size_t size, const char *fmt, va_list ap);
void console_flush(void);

/* ---- Reporting (as the Xen Test Framework's common/report.c) ----
 * Each call prints its message at once (`FAIL: ...`, `ERROR: ...`, `SKIP: ...`,
 * `WARNING: ...`) and records the worst status; after test_main() the library prints
 *   Test result: SUCCESS | SUCCESS with warnings | SKIP | ERROR | FAILURE
 * and shuts the domain down with SCHEDOP_shutdown(SHUTDOWN_poweroff). */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void test_finish(void);
/* Print `ERROR: reason` and `Test result: ERROR`, then power off. */
NORETURN void test_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print `name: got` and report a FAIL (`name: got, expected want`) when got differs:
 * pv_expect_rc in signed decimal (return codes, counts), pv_expect in hex.  Inline, as
 * the guests' own copies were: a guest's image layout (the frames of its static pages,
 * which some print) stays as it was. */
static inline void pv_expect_rc(const char *name, long got, long want)
{
    printk("%s: %ld\n", name, got);
    if (got != want)
        test_fail("%s: %ld, expected %ld", name, got, want);
}

static inline void pv_expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}
/* SCHEDOP_shutdown(reason); if Xen returns, crash the domain as XTF does. */
NORETURN void pv_shutdown(unsigned int reason);
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_crash    3

/* ---- Freestanding string functions (guests/lib/string.c) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int   memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int   strcmp(const char *a, const char *b);

/* ---- Xen's public structures (public/xen.h, arch-x86/xen-x86_64.h) ---- */
#include "xen-public.h"

struct vcpu_info {
    u8  evtchn_upcall_pending;
    u8  evtchn_upcall_mask;
    u8  pad0[6];
    u64 evtchn_pending_sel;
    u64 cr2;                    /* arch.cr2: the last #PF's address */
    u64 pad1;
    u8  time[32];
};

/* What _start found (head.S): every register as Xen's domain builder left it. */
struct pv_entry_regs {
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    u64 r8, r9, r10, r11, r12, r13, r14, r15;
    u64 rflags, cs, ss, ds, es, fs, gs;
};
extern struct pv_entry_regs pv_entry;
extern struct start_info *pv_start_info;
/* shared_info, mapped by the library over a page of its own (update_va_mapping);
 * vcpu 0's vcpu_info is its first 64 bytes. */
extern u8 pv_shared_info[4096];
#define pv_vcpu0 ((volatile struct vcpu_info *)pv_shared_info)
#define M2P ((const volatile u64 *)0xffff800000000000UL)   /* Xen's read-only M2P */
extern u8 hypercall_page[4096];

/* Pseudo-physical frame of a library or image address (virtual = PFN << 12). */
static inline u64 pv_pfn(const volatile void *va) { return (u64)(uintptr_t)va >> 12; }
static inline u64 pv_mfn(const volatile void *va)
{
    return ((const u64 *)(uintptr_t)pv_start_info->mfn_list)[pv_pfn(va)];
}

/* ---- Hypercalls: `call hypercall_page + 32 * N`, arguments in rdi, rsi, rdx, r10, r8,
 * result in rax.  The page's stubs keep %rcx/%r11; Xen may clobber the argument
 * registers, so they are in/out operands. ---- */
#define HYPERCALL_STR_(n) #n
#define HYPERCALL_STR(n) HYPERCALL_STR_(n)
#define _hypercall2(n, a1, a2) ({                                               \
    long res_; u64 a1_ = (u64)(a1), a2_ = (u64)(a2);                            \
    asm volatile("call hypercall_page + " HYPERCALL_STR(n) " * 32"             \
                 : "=a"(res_), "+D"(a1_), "+S"(a2_) :: "rdx", "r10", "r8", "memory"); \
    res_; })
#define _hypercall3(n, a1, a2, a3) ({                                           \
    long res_; u64 a1_ = (u64)(a1), a2_ = (u64)(a2), a3_ = (u64)(a3);           \
    asm volatile("call hypercall_page + " HYPERCALL_STR(n) " * 32"             \
                 : "=a"(res_), "+D"(a1_), "+S"(a2_), "+d"(a3_) :: "r10", "r8", "memory"); \
    res_; })
#define _hypercall4(n, a1, a2, a3, a4) ({                                       \
    long res_; u64 a1_ = (u64)(a1), a2_ = (u64)(a2), a3_ = (u64)(a3);           \
    register u64 a4_ asm("r10") = (u64)(a4);                                    \
    asm volatile("call hypercall_page + " HYPERCALL_STR(n) " * 32"             \
                 : "=a"(res_), "+D"(a1_), "+S"(a2_), "+d"(a3_), "+r"(a4_) :: "r8", "memory"); \
    res_; })

static inline long hypercall_set_trap_table(const struct trap_info *t)
{ return _hypercall2(__HYPERVISOR_set_trap_table, t, 0); }
static inline long hypercall_stack_switch(u64 ss, u64 sp)
{ return _hypercall2(__HYPERVISOR_stack_switch, ss, sp); }
static inline long hypercall_update_va_mapping(u64 va, u64 pte, u64 flags)
{ return _hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags); }
static inline long hypercall_console_write(const char *buf, u64 len)
{ return _hypercall3(__HYPERVISOR_console_io, 0 /* CONSOLEIO_write */, len, buf); }
static inline long hypercall_set_segment_base(u64 which, u64 base)
{ return _hypercall2(__HYPERVISOR_set_segment_base, which, base); }
static inline long hypercall_mmuext_op(const void *ops, u64 count)
{ return _hypercall4(__HYPERVISOR_mmuext_op, ops, count, 0, 0x7ff0 /* DOMID_SELF */); }
static inline long hypercall_sched_op(u64 cmd, void *arg)
{ return _hypercall2(__HYPERVISOR_sched_op, cmd, arg); }
static inline long hypercall_callback_op(u64 cmd, const void *arg)
{ return _hypercall2(__HYPERVISOR_callback_op, cmd, arg); }
static inline long hypercall_event_channel_op(u64 cmd, void *arg)
{ return _hypercall2(__HYPERVISOR_event_channel_op, cmd, arg); }
static inline long hypercall_xen_version(u64 cmd, void *arg)
{ return _hypercall2(__HYPERVISOR_xen_version, cmd, arg); }
static inline long hypercall_set_timer_op(u64 deadline_ns)
{ return _hypercall2(__HYPERVISOR_set_timer_op, deadline_ns, 0); }
static inline long hypercall_vcpu_op(u64 cmd, u64 vcpu, void *arg)
{ return _hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, arg); }

/* ---- Event channels (public/event_channel.h, xen.h, sched.h, vcpu.h) ---- */
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq        1
#define EVTCHNOP_close            3
#define EVTCHNOP_send             4
#define EVTCHNOP_status           5
#define EVTCHNOP_alloc_unbound    6
#define EVTCHNOP_bind_ipi         7
#define EVTCHNOP_bind_vcpu        8
#define EVTCHNOP_unmask           9
#define EVTCHNOP_reset           10
#define EVTCHNOP_init_control    11
#define EVTCHNOP_expand_array    12
#define EVTCHNOP_set_priority    13
#define DOMID_SELF           0x7ff0
#define VIRQ_TIMER    0
#define VIRQ_DEBUG    1
#define VIRQ_CONSOLE  2
#define NR_VIRQS     24
#define SCHEDOP_yield 0
#define SCHEDOP_block 1
#define SCHEDOP_poll  3
#define VCPUOP_set_periodic_timer    6
#define VCPUOP_stop_periodic_timer   7
#define VCPUOP_set_singleshot_timer  8
#define VCPUOP_stop_singleshot_timer 9

struct evtchn_alloc_unbound { u16 dom, remote_dom; u32 port; };
struct evtchn_bind_interdomain { u16 remote_dom; u16 pad; u32 remote_port, local_port; };
struct evtchn_bind_virq { u32 virq, vcpu, port; };
struct evtchn_bind_ipi { u32 vcpu, port; };
struct evtchn_status {
    u16 dom; u16 pad; u32 port;
    u32 status, vcpu;                       /* EVTCHNSTAT_closed 0, unbound 1, interdomain 2, pirq 3, virq 4, ipi 5 */
    union { u16 unbound_dom; struct { u16 dom; u16 pad; u32 port; } interdomain; u32 virq; } u;
};
struct sched_poll { u32 *ports; u32 nr_ports; u32 pad; u64 timeout; };
struct vcpu_time_info {
    u32 version, pad0;
    u64 tsc_timestamp, system_time;
    u32 tsc_to_system_mul;
    s8  tsc_shift;
    u8  flags, pad1[2];
};
/* shared_info's 2-level event bits: 4096 ports as 64 words each. */
#define pv_evtchn_pending ((volatile u64 *)(pv_shared_info + 0x800))
#define pv_evtchn_mask    ((volatile u64 *)(pv_shared_info + 0xa00))
static inline bool pv_port_bit(volatile u64 *bits, u32 port) { return (bits[port / 64] >> (port % 64)) & 1; }
static inline void pv_port_set(volatile u64 *bits, u32 port, bool on)
{
    if (on) asm volatile("lock btsq %1, %0" : "+m"(bits[port / 64]) : "r"((u64)(port % 64)) : "memory");
    else asm volatile("lock btrq %1, %0" : "+m"(bits[port / 64]) : "r"((u64)(port % 64)) : "memory");
}

/* The library's event callback (events.S), installed by pv_upcall_install(): each upcall
 * counts in pv_upcall_count, takes the vCPU's selector (xchg with 0) into pv_upcall_sel
 * (ORed), clears evtchn_upcall_pending and returns with HYPERVISOR_iret. */
extern volatile u64 pv_upcall_count, pv_upcall_sel;
void pv_upcall_install(void);
/* A port to a backend: pv_evtchn_notify sends on it (EVTCHNOP_send; inline, as the
 * console's own was); pv_evtchn_ack (events.c) clears its pending bit and the upcall's
 * (pending_sel, upcall_pending); pv_evtchn_wait blocks until an event (SCHEDOP_block
 * unmasks events), masks them again, acknowledges the port and says whether an upcall
 * came meanwhile. */
static inline void pv_evtchn_notify(u32 port)
{
    hypercall_event_channel_op(EVTCHNOP_send, &port);
}
void pv_evtchn_ack(u32 port);
bool pv_evtchn_wait(u32 port);
/* Xen system time now, from vcpu 0's vcpu_time_info and RDTSC (the version loop of
 * public/xen.h). */
u64 pv_system_time(void);

/* ---- Traps ----
 * The library's trap table covers vectors 0-31 (DPL 0, #BP and #OF DPL 3, all with
 * events masked).  Every vector 0-255 has an entry stub
 * (pv_entry_stub(v)); pv_trap_set() installs one more (or another DPL), and
 * pv_trap_reset() clears the whole table (set_trap_table(NULL)) and installs the
 * library's entries again. */
u64  pv_entry_stub(unsigned int vector);
long pv_trap_set(unsigned int vector, unsigned int dpl, bool mask_events);
long pv_trap_reset(void);

/* The frame an entry stub saves: the GPRs (rcx and r11 as Xen's bounce frame held
 * them), the vector (VEC_SYSCALL for the syscall callback), the error code (0 where
 * the frame has none) and the rest of Xen's frame. */
struct pv_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error_code;
    u64 rip, cs, rflags, rsp, ss;
};

/* One delivery as the guest kernel saw it. */
struct pv_event {
    u64 count;          /* deliveries recorded since pv_event_reset() */
    u64 vector;
    bool has_error_code;
    u64 error_code;
    u64 rcx, r11;       /* the frame's %rcx/%r11 slots */
    u64 rip, cs, rflags, rsp, ss;   /* cs with the saved upcall mask in bits 32-39 */
    u64 frame;          /* %rsp at the entry stub: the frame's lowest slot */
    u64 live_rcx, live_r11;         /* %rcx/%r11 at the stub's first instruction */
    u64 fixup;          /* where execution resumed */
};
extern volatile struct pv_event last_event;
void pv_event_reset(void);
const char *exc_name(unsigned int vector);

/* The exception table: an event whose frame RIP is `fault` resumes at `fixup` (for a
 * fault, the faulting instruction; for a trap or INT n, the instruction after it),
 * in the mode it came from (the frame's CS RPL: 0 kernel, 3 user), registers as they
 * were.  Any other event prints its frame and ends the run with ERROR. */
#define EXTABLE(fault, fixup)                                   \
    ".pushsection .ex_table, \"a\"\n\t"                         \
    ".balign 8\n\t"                                             \
    ".quad " #fault ", " #fixup "\n\t"                          \
    ".popsection\n\t"

/* Print last_event as `prefix.field: value` lines: vector, error_code (if the frame has
 * one), rcx, r11, rip (as label+offset), cs, rflags, rsp, ss; frame and live registers
 * are the caller's to relate. */
void print_event(const char *prefix, u64 rip_label);

/* ---- The syscall callback (CALLBACKTYPE_syscall, events masked) ----
 * A `syscall` in user mode reaches the library's entry, which records the frame in
 * last_event (vector VEC_SYSCALL), calls pv_syscall_hook (if set) with the saved
 * registers, and returns to user mode with HYPERVISOR_iret, its flags word
 * pv_syscall_iret_flags (VGCF_in_syscall by default, as XTF's entry_SYSCALL). */
extern void (*pv_syscall_hook)(struct pv_frame *f);
extern u64 pv_syscall_iret_flags;
extern const char pv_syscall_entry[];

/* ---- User mode ----
 * pv_exec_user(fn, arg) runs fn(arg) in guest user mode: HYPERVISOR_iret to CS 0xe033
 * (RPL 3: Xen toggles to the user page tables, which the library set to the kernel's,
 * and swaps GS), SS 0xe02b, on the library's user stack, with RFLAGS pv_user_rflags
 * (IF clear by default: events stay masked).  fn returns to a `syscall` the library's
 * syscall callback recognises (by the frame's return address), which comes back to the
 * kernel with fn's result.  Faults in user mode bounce to the
 * library's entry on the kernel stack (HYPERVISOR_stack_switch); EXTABLE fixups resume
 * in user mode.  User code must not call the console or make hypercalls. */
u64 pv_exec_user(u64 (*fn)(u64), u64 arg);
extern u64 pv_user_rflags;
extern u8 pv_user_stack[PV_STACK_SIZE];
extern u8 pv_kernel_stack[PV_STACK_SIZE];     /* kernel_sp: the top of it */
#define PV_USER_STACK_TOP   ((u64)(uintptr_t)(pv_user_stack + PV_STACK_SIZE))
#define PV_KERNEL_STACK_TOP ((u64)(uintptr_t)(pv_kernel_stack + PV_STACK_SIZE))

static inline u64 read_rflags(void)
{
    u64 v;
    asm volatile("pushfq; pop %0" : "=r"(v));
    return v;
}

#endif /* __ASSEMBLER__ */
#endif /* RINGSIDE_PV_H */
