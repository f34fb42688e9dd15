/*
 * The pieces of Xen's public PV interface the guests use (xen/include/public/xen.h,
 * callback.h, io/console.h, arch-x86/xen-x86_64.h; read for the facts), shared by the PV
 * library (guests/libpv) and the guests that boot both natively and as a PV kernel
 * (linux-entry).  The constants are usable from assembler; the structures, from C, need
 * u8..u64 defined first.
 */
#ifndef XEN_PUBLIC_H
#define XEN_PUBLIC_H

/* Hypercall numbers (public/xen.h). */
#define __HYPERVISOR_set_trap_table     0
#define __HYPERVISOR_set_gdt            2
#define __HYPERVISOR_stack_switch       3
#define __HYPERVISOR_update_va_mapping 14
#define __HYPERVISOR_set_timer_op      15
#define __HYPERVISOR_xen_version       17
#define __HYPERVISOR_console_io        18
#define __HYPERVISOR_iret              23
#define __HYPERVISOR_vcpu_op           24
#define __HYPERVISOR_set_segment_base  25
#define __HYPERVISOR_mmuext_op         26
#define __HYPERVISOR_sched_op          29
#define __HYPERVISOR_callback_op       30
#define __HYPERVISOR_event_channel_op  32

/* HYPERVISOR_iret's flags word: "Restore RAX, RIP, RFLAGS, RSP. Discard R11, RCX, CS, SS"
 * (arch-x86/xen-x86_64.h); Xen then leaves as SYSRET would. */
#define VGCF_in_syscall 0x100

/* trap_info.flags bit 2: mask events on entry (as an interrupt gate clears IF). */
#define TI_MASK_EVENTS 4

#define SIF_PRIVILEGED (1u << 0)
#define SIF_INITDOMAIN (1u << 1)

#define CALLBACKOP_register    0
#define CALLBACKTYPE_event     0
#define CALLBACKTYPE_failsafe  1
#define CALLBACKTYPE_syscall   2
#define CALLBACKF_mask_events  1

#define SEGBASE_FS          0
#define SEGBASE_GS_USER     1
#define SEGBASE_GS_KERNEL   2
#define SEGBASE_GS_USER_SEL 3

#define UVMF_INVLPG 2

#ifndef __ASSEMBLER__

struct start_info {
    char magic[32];
    u64 nr_pages;
    u64 shared_info;            /* machine address */
    u32 flags;                  /* SIF_* */
    u64 store_mfn;
    u32 store_evtchn;
    union {
        struct { u64 mfn; u32 evtchn; } domU;
        struct { u32 info_off, info_size; } dom0;
    } console;
    u64 pt_base;                /* virtual address of the L4 */
    u64 nr_pt_frames;
    u64 mfn_list;               /* virtual: the P2M, one u64 MFN per PFN */
    u64 mod_start;
    u64 mod_len;
    char cmd_line[1024];
    u64 first_p2m_pfn;
    u64 nr_p2m_frames;
};

struct trap_info {
    u8  vector;
    u8  flags;                  /* DPL in bits 0-1; 4: mask events on entry */
    u16 cs;
    u64 address;
};

struct callback_register {
    u16 type;
    u16 flags;
    u32 pad;
    u64 address;
};

/* The PV console ring (public/io/console.h). */
struct xencons_interface {
    char in[1024];
    char out[2048];
    volatile u32 in_cons, in_prod;
    volatile u32 out_cons, out_prod;
};

#endif /* !__ASSEMBLER__ */
#endif /* XEN_PUBLIC_H */
