/*
 * linux-entry: FRED (Intel's Flexible Return and Event Delivery specification), enabled the way
 * Linux's arch/x86/kernel/fred.c and entry_fred.c do it (read for the facts; written anew here).
 *
 * fred_setup() (when CPUID.(EAX=7,ECX=1):EAX[17] enumerates FRED):
 *   - IA32_FRED_CONFIG: the ring-3 entry point asm_fred_entrypoint_user (4 KiB aligned; ring-0
 *     events enter 256 bytes on: FRED specification §5.1.1), a red zone of one 64-byte line
 *     below a same-level frame (Linux reserves it for int3 CALL emulation), external interrupts
 *     at stack level 0 (§5.1.1, CONFIG[8:6], CONFIG[10:9]);
 *   - IA32_FRED_STKLVLS: #DB on level 1, NMI and #MC on level 2, #DF on level 3, the others 0
 *     (Linux's levels), with IA32_FRED_RSP1..3 the tops of the stacks the IDT kernel gives those
 *     events as IST stacks, and IA32_FRED_RSP0 the kernel stack's top (§4.1);
 *   - CR4.FRED = 1 (§4.1: IA-32e mode only).  From here on the IDT, TSS.RSP0/IST, LSTAR, CSTAR
 *     and the SYSENTER MSRs are not used; STAR still gives ring 0's CS/SS and ERETU's fast path.
 *
 * fred_entry_from_user(): events from ring 3, by the frame's event type and vector (§5.1.2, SS
 * bits 51:48 and 39:32): "other" vector 1 from 64-bit mode is SYSCALL, vector 2 from
 * compatibility mode SYSENTER (neither changed any register: SDM SYSCALL/SYSENTER under FRED);
 * INT $0x80 is the 32-bit system call, INT3 (CD 03) and INTO (CD 04) their exceptions, any other
 * INT n the #GP its missing DPL-0 gate would have raised, error code (n << 3) | 2, RIP back at
 * the INT (RIP minus the frame's instruction length) -- Linux's emulation, so that user
 * programs see what an IDT kernel gives them; exceptions become faults of the program;
 * NMIs and #DB are the paranoid handlers' work under the IDT, plain calls here.  The exit is
 * ERETU of the same frame (entry.S).
 * fred_entry_from_kernel(): NMI, #DB, interrupts, and exceptions, of which a #GP on the ERETU
 * itself is a fault of the program it was returning to (kernel.c do_exception).
 */
#include "linux.h"

#define IST_DF 1

bool fred_setup(u64 kernel_stack_top)
{
    wrmsr(MSR_FRED_CONFIG, (u64)(uintptr_t)asm_fred_entrypoint_user | FRED_CONFIG_REDZONE | FRED_CONFIG_INT_STKLVL(0));
    wrmsr(MSR_FRED_STKLVLS, FRED_STKLVL(1, FRED_DB_STACK_LEVEL) | FRED_STKLVL(2, FRED_NMI_STACK_LEVEL) |
          FRED_STKLVL(18, FRED_MC_STACK_LEVEL) | FRED_STKLVL(8, FRED_DF_STACK_LEVEL));
    wrmsr(MSR_FRED_RSP0, kernel_stack_top);
    wrmsr(MSR_FRED_RSP0 + FRED_DB_STACK_LEVEL, ist_top(IST_DB));
    wrmsr(MSR_FRED_RSP0 + FRED_NMI_STACK_LEVEL, ist_top(IST_NMI));
    wrmsr(MSR_FRED_RSP0 + FRED_DF_STACK_LEVEL, ist_top(IST_DF));
    write_cr4(read_cr4() | X86_CR4_FRED);
    return true;
}

/* Whether GS.base is the user's (Linux's paranoid entries ask IA32_GS_BASE): never under FRED,
 * whose delivery from ring 3 swaps GS (FRED specification §5.1.1) -- asked, not assumed. */
static bool gs_is_user(void)
{
    return rdmsr(MSR_GS_BASE) != k_percpu_base;
}

/* The event data of the frame, above pt_regs' SS (FRED specification §5.1.2). */
static u64 event_data(const struct pt_regs *regs)
{
    return ((const u64 *)(regs + 1))[0];
}

/* INT n without an IDT: the #GP a DPL-0 gate would raise (SDM §6.12.1.1: error code = the IDT
 * vector's selector form), at the INT instruction. */
static void int_as_gp(struct pt_regs *regs, unsigned int vector)
{
    regs->orig_ax = ((u64)vector << 3) | 2;
    regs->ip -= FRED_SS_INSNLEN(regs->ss);
    regs->flags |= X86_EFLAGS_RF;
    do_exception(regs, 13);
}

void fred_entry_from_user(struct pt_regs *regs)
{
    u64 ss = regs->ss;
    unsigned int vector = FRED_SS_VECTOR(ss);

    switch (FRED_SS_TYPE(ss)) {
    case EVENT_TYPE_OTHER:
        if (vector == 1 && (ss & FRED_SS_L)) {
            long nr = (long)regs->ax;
            regs->orig_ax = regs->ax;
            regs->ax = (u64)-ENOSYS;
            do_syscall_64(regs, nr);
        } else if (vector == 2 && !(ss & FRED_SS_L)) {
            regs->orig_ax = (u32)regs->ax;
            regs->ax = (u64)-ENOSYS;
            do_fast_syscall_32(regs);
        } else {
            do_exception(regs, 6);
        }
        break;
    case EVENT_TYPE_SWINT:
        if (vector == 0x80) {
            regs->orig_ax = (u32)regs->ax;
            regs->ax = (u64)-ENOSYS;
            do_int80_syscall_32(regs);
        } else if (vector == 3 || vector == 4) {
            regs->orig_ax = (u64)-1;
            do_exception(regs, vector);
        } else {
            int_as_gp(regs, vector);
        }
        break;
    case EVENT_TYPE_HWEXC:
    case EVENT_TYPE_PRIV_SWEXC:
    case EVENT_TYPE_SWEXC:
        if (vector == 1)
            handle_debug(regs, gs_is_user(), event_data(regs));
        else
            do_exception(regs, vector);
        break;
    case EVENT_TYPE_NMI:
        do_nmi(regs, gs_is_user());
        break;
#ifdef LINUX_APIC_TIMER
    case EVENT_TYPE_EXTINT:
        sysvec_apic_timer_interrupt(regs);
        break;
#endif
    default:
        test_abort("FRED: unexpected event type %lu vector %u from user mode", FRED_SS_TYPE(ss), vector);
    }
    fred_exit_to_user();
}

int fred_entry_from_kernel(struct pt_regs *regs)
{
    u64 ss = regs->ss;
    unsigned int vector = FRED_SS_VECTOR(ss);

    switch (FRED_SS_TYPE(ss)) {
    case EVENT_TYPE_HWEXC:
    case EVENT_TYPE_PRIV_SWEXC:
    case EVENT_TYPE_SWEXC:
        if (vector == 1) {
            handle_debug(regs, gs_is_user(), event_data(regs));
            return 0;
        }
        return do_exception(regs, vector);
    case EVENT_TYPE_NMI:
        do_nmi(regs, gs_is_user());
        return 0;
#ifdef LINUX_APIC_TIMER
    case EVENT_TYPE_EXTINT:
        sysvec_apic_timer_interrupt(regs);
        return 0;
#endif
    default:
        test_abort("FRED: unexpected event type %lu vector %u in kernel mode", FRED_SS_TYPE(ss), vector);
    }
}
