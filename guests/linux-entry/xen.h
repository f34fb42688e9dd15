/*
 * linux-entry as a Xen PV kernel (xen.c, xen-asm.S): Xen's public ABI as guests/lib's
 * xen-public.h has it, the few pieces beyond it this kernel uses (xen/include/public/xen.h,
 * arch-x86/xen-x86_64.h; read for the facts), and what the PV side shares with the native
 * kernel.  Usable from C and from assembler.
 */
#ifndef LINUX_ENTRY_XEN_H
#define LINUX_ENTRY_XEN_H

/* Hypercall numbers, flags and structures: guests/lib/include/xen-public.h. */
#include "xen-public.h"

/* Selectors of Xen's own GDT page (FLAT_RING3_*): what Xen's SYSRET loads from its IA32_STAR
 * (XEN_MSR_STAR), and the guest kernel's CS/SS while it runs. */
#define FLAT_USER_CS64  0xe033
#define FLAT_USER_SS    0xe02b

/* The two shapes of Linux's Xen SYSCALL entry (seed 001; kernel command line xen_entry=):
 * XEN_ENTRY_2016, before Linux 8a9949bc71a7 (2017): the callback reloads RCX, R11 and the user
 * RSP from Xen's frame and jumps into the native entry after its SWAPGS; the return takes the
 * native SYSRET checks and, where they pass, xen_sysret64 (HYPERVISOR_iret with VGCF_in_syscall,
 * until afd30525a659, 2020).  XEN_ENTRY_TODAY: pop RCX and R11, enter at
 * entry_SYSCALL_64_after_hwframe on Xen's frame, always return with HYPERVISOR_iret, flags 0. */
#define XEN_ENTRY_TODAY 0
#define XEN_ENTRY_2016  1

#ifndef __ASSEMBLER__

struct mmuext_op { u32 cmd, pad; u64 arg1, arg2; };
#define MMUEXT_NEW_USER_BASEPTR 15

#define M2P ((const volatile u64 *)0xffff800000000000UL)   /* Xen's read-only M2P */

/* Hypercalls through the page Xen's builder writes (XEN_ELFNOTE_HYPERCALL_PAGE):
 * `call hypercall_page + 32 * N`, arguments in rdi, rsi, rdx, r10, result in rax. */
#define XEN_STR_(n) #n
#define XEN_STR(n) XEN_STR_(n)
#define xen_hypercall3(n, a1, a2, a3) ({                                        \
    long res_; u64 a1_ = (u64)(a1), a2_ = (u64)(a2), a3_ = (u64)(a3);           \
    asm volatile("call hypercall_page + " XEN_STR(n) " * 32"                    \
                 : "=a"(res_), "+D"(a1_), "+S"(a2_), "+d"(a3_) :: "r10", "r8", "memory"); \
    res_; })
#define xen_hypercall4(n, a1, a2, a3, a4) ({                                    \
    long res_; u64 a1_ = (u64)(a1), a2_ = (u64)(a2), a3_ = (u64)(a3);           \
    register u64 a4_ asm("r10") = (u64)(a4);                                    \
    asm volatile("call hypercall_page + " XEN_STR(n) " * 32"                    \
                 : "=a"(res_), "+D"(a1_), "+S"(a2_), "+d"(a3_), "+r"(a4_) :: "r8", "memory"); \
    res_; })

extern bool k_xenpv;            /* entered through the PV entry (xen_start): a Xen PV kernel */
extern u64 k_xen_entry;         /* XEN_ENTRY_* */
extern struct start_info *xen_start_info;
extern u8 hypercall_page[4096];

/* xen.c: the kernel's Xen side of linux_kernel_init (trap table, callbacks, kernel stack, GS). */
void xen_kernel_init(u64 kernel_stack_top, u64 percpu_base);

/* xen-asm.S */
NORETURN void xen_start(void);
extern char xen_entry_SYSCALL_64[], xen_entry_SYSCALL_64_2016[], xen_hypervisor_callback[],
    xen_failsafe_callback[], xen_sysret64[], xen_iret[], xen_iret_pop_orig_ax[];

#endif /* !__ASSEMBLER__ */
#endif /* LINUX_ENTRY_XEN_H */
