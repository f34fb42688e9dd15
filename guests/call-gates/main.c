/*
 * call-gates: far CALL and far JMP through 64-bit call gates, and far RET to an outer
 * privilege level, in IA-32e mode.
 *
 * What the architecture requires (Intel SDM Vol. 2 CALL "Operation" CALL-GATE,
 * MORE-PRIVILEGE and SAME-PRIVILEGE; JMP "Operation" CALL-GATE; RET "Operation"
 * IA-32E-MODE and RETURN-TO-OUTER-PRIVILEGE-LEVEL; Vol. 3A §5.8.3.1 "IA-32e Mode Call
 * Gates", §5.8.4 access checks, §5.8.5 stack switching, §5.8.6 returning):
 *   - A 64-bit call gate is 16 bytes; the far pointer's offset is not used. CALL from
 *     CPL 3 through a DPL-3 gate to a non-conforming DPL-0 64-bit code segment runs the
 *     target at CPL 0 on the stack TSS.RSP0 gives, with SS a null selector whose RPL is
 *     the new CPL (0), and pushes the old SS, RSP, CS and RIP as 8-byte values. The gate
 *     may be in the LDT. Through a conforming target, or one with DPL = CPL, CPL does not
 *     change and only CS and RIP are pushed, on the current stack.
 *   - LRETQ from there pops RIP and CS (RPL 3 > CPL: a return to an outer level), then
 *     RSP and SS; LRETQ imm16 releases imm16 bytes on both stacks. DS, ES, FS and GS
 *     holding a data segment with DPL < the new CPL become null (the selector only: GS
 *     keeps its base); a DPL-3 one stays.
 *   - JMP through a gate never changes CPL: to a non-conforming segment its DPL must
 *     equal CPL. It pushes nothing.
 *   - Faults (Vol. 2 CALL/JMP/RET exceptions): gate DPL < CPL or < RPL: #GP(gate);
 *     gate not present: #NP(gate); upper 8 bytes beyond the table limit or their type
 *     field not 0: #GP(gate); a null target selector: #GP(0); a target that is not code,
 *     not 64-bit, has DPL > CPL (CALL) or DPL != CPL (JMP, non-conforming): #GP(target);
 *     target not present: #NP(target). RET to an outer level: the return CS with
 *     DPL != RPL: #GP(CS), not present: #NP(CS); SS with RPL != the CS RPL, not writable
 *     data, DPL != RPL: #GP(SS); a null SS when returning to CPL 3: #GP(0); SS not
 *     present: #SS(SS); a non-canonical RIP: #GP(0), taken at CPL 0 before anything
 *     changes. Error codes carry the selector with RPL cleared, EXT = 0.
 * Every observation is printed. QEMU 7.2 TCG deviates on five lines (test/qemu-deviations.ts):
 * a CALL through a gate to a conforming segment sets CS.RPL to the segment's DPL; a JMP
 * through a gate to a not-present segment is #GP; RET to an outer level with a not-present
 * SS is #NP; RET to an outer level with a non-canonical RIP completes and faults at CPL 3
 * on the fetch. The guest accepts QEMU's values on those lines and the cross-check holds
 * Ringside to the SDM's.
 */
#include "ringside.h"
#include "gates.h"

#define G_RING0      0x50   /* gate, DPL 3 -> SEL_CODE64:gate_target */
#define G_DPL0       0x60   /* gate, DPL 0 -> SEL_CODE64:gate_target */
#define G_NP         0x70   /* gate, DPL 3, not present */
#define G_UPPER      0x80   /* gate, DPL 3, upper type field 0xC */
#define G_TO_DATA    0x90   /* gate -> SEL_DATA */
#define G_TO_CODE32  0xa0   /* gate -> SEL_CODE32 */
#define G_TO_NP      0xb0   /* gate -> C64_NP */
#define C64_NP       0xc0   /* 64-bit code, DPL 0, not present */
#define D3_NP        0xc8   /* data, DPL 3, not present */
#define G_TO_USER    0xd0   /* gate, DPL 0 -> SEL_USER_CODE64:user_gate_target */
#define G_SAME       0xe0   /* gate, DPL 3 -> SEL_USER_CODE64:user_gate_target */
#define SEL_LDT      0xf0   /* LDT descriptor (16 bytes) */
#define G_NULL       0x100  /* gate, DPL 3, target selector 0 */
#define G_CONF       0x110  /* gate, DPL 3 -> C64_CONF:user_gate_target */
#define C64_CONF     0x120  /* 64-bit code, DPL 0, conforming */
#define C64_NP3      0x128  /* 64-bit code, DPL 3, not present */
#define G_JMP_SAME   0x130  /* gate, DPL 3 -> SEL_USER_CODE64:jmp_landing */
#define G_TO_NP3     0x140  /* gate, DPL 3 -> C64_NP3 */
#define GDT_ENTRIES  48
#define G_LAST       ((GDT_ENTRIES - 1) * 8)   /* a gate whose upper half is past the limit */
#define LDT_GATE     0x07   /* LDT index 0, RPL 3 */
#define NONCANONICAL 0x0000800000000000UL

extern struct { u64 rsp, cs, ss, rip, frame_cs, frame_rsp, frame_ss, count; } gate_rec;
extern struct { u64 rsp, cs, ss, ds, es, fs, gs; } seg_rec;
extern u64 gate_mode, rsp_before;
extern char gate_target[], user_gate_target[], jmp_landing[], far_call_ret[], gate_bad_lretq[];
u64 far_call(u64 sel), far_jmp(u64 sel);
u64 kernel_lretq(u64 rip, u64 cs, u64 rsp, u64 ss);

static u64 gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static u64 ldt[2] __attribute__((aligned(16)));
static unsigned int mismatches;

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

/* A 64-bit call gate (Vol. 3A Figure 5-9) at t[i], t[i + 1]. */
static void set_gate(u64 *t, unsigned int i, u16 sel, const void *target, unsigned int dpl, bool present,
                     unsigned int upper_type)
{
    u64 off = (u64)(uintptr_t)target;
    t[i] = (off & 0xffff) | ((u64)sel << 16) | ((u64)(0x0c | (dpl << 5) | (present ? 0x80 : 0)) << 40) |
           ((off >> 16) & 0xffff) << 48;
    t[i + 1] = (off >> 32) | ((u64)upper_type << 40);
}

static void install_tables(void)
{
    memcpy(gdt, user_gdt, sizeof(user_gdt));
    set_gate(gdt, G_RING0 / 8, SEL_CODE64, gate_target, 3, true, 0);
    set_gate(gdt, G_DPL0 / 8, SEL_CODE64, gate_target, 0, true, 0);
    set_gate(gdt, G_NP / 8, SEL_CODE64, gate_target, 3, false, 0);
    set_gate(gdt, G_UPPER / 8, SEL_CODE64, gate_target, 3, true, 0x0c);
    set_gate(gdt, G_TO_DATA / 8, SEL_DATA, gate_target, 3, true, 0);
    set_gate(gdt, G_TO_CODE32 / 8, SEL_CODE32, gate_target, 3, true, 0);
    set_gate(gdt, G_TO_NP / 8, C64_NP, gate_target, 3, true, 0);
    gdt[C64_NP / 8] = seg_descriptor(0, 0xfffff, 0x1a, 0xa);
    gdt[D3_NP / 8] = seg_descriptor(0, 0xfffff, 0x72, 0xc);
    set_gate(gdt, G_TO_USER / 8, SEL_USER_CODE64, user_gate_target, 0, true, 0);
    set_gate(gdt, G_SAME / 8, SEL_USER_CODE64, user_gate_target, 3, true, 0);
    u64 l = (u64)(uintptr_t)ldt;
    gdt[SEL_LDT / 8] = seg_descriptor((u32)l, sizeof(ldt) - 1, 0x82, 0);
    gdt[SEL_LDT / 8 + 1] = l >> 32;
    set_gate(gdt, G_NULL / 8, 0, gate_target, 3, true, 0);
    set_gate(gdt, G_CONF / 8, C64_CONF, user_gate_target, 3, true, 0);
    gdt[C64_CONF / 8] = seg_descriptor(0, 0xfffff, 0x9e, 0xa);
    gdt[C64_NP3 / 8] = seg_descriptor(0, 0xfffff, 0x7a, 0xa);
    set_gate(gdt, G_JMP_SAME / 8, SEL_USER_CODE64, jmp_landing, 3, true, 0);
    set_gate(gdt, G_TO_NP3 / 8, C64_NP3 | 3, jmp_landing, 3, true, 0);
    /* Only the first half fits: the upper 8 bytes lie past the GDT limit. */
    u64 last[2];
    set_gate(last, 0, SEL_CODE64, gate_target, 3, true, 0);
    gdt[G_LAST / 8] = last[0];
    set_gate(ldt, 0, SEL_CODE64, gate_target, 3, true, 0);
    gdt_load(gdt, GDT_ENTRIES);
    asm volatile("lldt %w0" :: "r"(SEL_LDT) : "memory");
}

/* The last fault, as name.fault / name.error_code / name.cs lines. */
static void expect_fault(const char *name, u64 faulted, unsigned int vector, u64 error, u64 cs)
{
    char buf[64];
    printk("%s.fault: %s\n", name, faulted ? exc_name((unsigned int)last_fault.vector) : "none");
    if (!faulted) {
        if (mismatches++ == 0)
            test_fail("%s: no fault, expected %s", name, exc_name(vector));
        return;
    }
    snprintk(buf, sizeof(buf), "%s.error_code", name);
    expect(buf, last_fault.error_code, error);
    snprintk(buf, sizeof(buf), "%s.cs", name);
    expect(buf, last_fault.cs, cs);
    if (last_fault.vector != vector && mismatches++ == 0)
        test_fail("%s: %s, expected %s", name, exc_name((unsigned int)last_fault.vector), exc_name(vector));
}

static u64 user_call(u64 sel) { fault_reset(); return exec_user(far_call, sel); }
static u64 user_jmp(u64 sel) { fault_reset(); return exec_user(far_jmp, sel); }

/* CALL from CPL 3 through a gate to CPL 0 and LRETQ back (§5.8.5, §5.8.6). */
static void inner_call(const char *name, u64 sel)
{
    char buf[64];
#define E(field, got, want) (snprintk(buf, sizeof(buf), "%s." field, name), expect(buf, got, want))
    gate_mode = 0;
    u64 faulted = user_call(sel);
    E("faulted", faulted, 0);
    E("target_cs", gate_rec.cs, SEL_CODE64);
    E("target_ss", gate_rec.ss, 0);
    E("rsp0_minus_target_rsp", user_tss.rsp0 - gate_rec.rsp, 32);
    E("frame_rip_is_return", gate_rec.rip == (u64)(uintptr_t)far_call_ret, 1);
    E("frame_cs", gate_rec.frame_cs, SEL_USER_CODE64);
    E("frame_rsp_is_caller_rsp", gate_rec.frame_rsp == rsp_before, 1);
    E("frame_ss", gate_rec.frame_ss, SEL_USER_DATA);
    E("after_cs", seg_rec.cs, SEL_USER_CODE64);
    E("after_ss", seg_rec.ss, SEL_USER_DATA);
    E("after_rsp_is_caller_rsp", seg_rec.rsp == rsp_before, 1);
    E("after_ds", seg_rec.ds, 0);
    E("after_es", seg_rec.es, 0);
    E("after_fs", seg_rec.fs, SEL_USER_DATA);
    E("after_gs", seg_rec.gs, 0);
    E("after_gs_base", rdmsr(0xc0000101 /* MSR_GS_BASE */), GS_BASE_MARK);
    wrmsr(0xc0000101, 0);
#undef E
}

static void same_level_calls(void)
{
    /* Through a gate to DPL 3 code at CPL 3: CS and RIP pushed on the caller's stack. */
    gate_rec.count = 0;
    expect("same.faulted", user_call(G_SAME | 3), 0);
    expect("same.target_cs", gate_rec.cs, SEL_USER_CODE64);
    expect("same.target_ss", gate_rec.ss, SEL_USER_DATA);
    expect("same.caller_rsp_minus_target_rsp", rsp_before - gate_rec.rsp, 16);
    expect("same.frame_rip_is_return", gate_rec.rip == (u64)(uintptr_t)far_call_ret, 1);
    expect("same.frame_cs", gate_rec.frame_cs, SEL_USER_CODE64);
    expect("same.after_cs", seg_rec.cs, SEL_USER_CODE64);

    /* Through a gate to a conforming DPL-0 segment: CPL stays 3, and CS.RPL with it
     * (SAME-PRIVILEGE: "CS(RPL) := CPL"). QEMU sets CS.RPL to the segment's DPL. */
    expect("conforming.faulted", user_call(G_CONF | 3), 0);
    expect("conforming.target_cs", gate_rec.cs, gate_rec.cs == C64_CONF ? C64_CONF : C64_CONF | 3);
    expect("conforming.target_ss", gate_rec.ss, SEL_USER_DATA);
    expect("conforming.caller_rsp_minus_target_rsp", rsp_before - gate_rec.rsp, 16);
    expect("conforming.frame_cs", gate_rec.frame_cs, SEL_USER_CODE64);

    /* At CPL 0 through a DPL-3 gate to DPL-0 code: no stack switch. */
    gate_mode = 3;
    fault_reset();
    u64 ss;
    asm volatile("mov %%ss, %0" : "=r"(ss));
    expect("ring0.faulted", far_call(G_RING0), 0);
    expect("ring0.target_cs", gate_rec.cs, SEL_CODE64);
    expect("ring0.target_ss_unchanged", gate_rec.ss == ss, 1);
    expect("ring0.caller_rsp_minus_target_rsp", rsp_before - gate_rec.rsp, 16);
    expect("ring0.frame_cs", gate_rec.frame_cs, SEL_CODE64);
    expect("gate.calls_reaching_targets", gate_rec.count, 3);
}

static void retf_variants(void)
{
    /* LRETQ $16 from the inner level: 16 bytes released on each stack. */
    gate_mode = 2;
    expect("retf_imm.faulted", user_call(G_RING0 | 3), 0);
    expect("retf_imm.after_rsp_minus_caller_rsp", seg_rec.rsp - rsp_before, 16);
    expect("retf_imm.after_ss", seg_rec.ss, SEL_USER_DATA);
    expect("retf_imm.after_cs", seg_rec.cs, SEL_USER_CODE64);

    /* A non-canonical return RIP: #GP(0) at CPL 0, on the LRETQ. QEMU returns and faults
     * on the fetch at CPL 3; the fixup then resumes at the return address in both. */
    gate_mode = 1;
    fault_expect_at(NONCANONICAL, (u64)(uintptr_t)far_call_ret);
    u64 faulted = user_call(G_RING0 | 3);
    fault_expect_at(0, 0);
    bool qemu = last_fault.count == 1 && last_fault.cs == SEL_USER_CODE64 && last_fault.rip == NONCANONICAL;
    expect("retf_noncanonical.call_faulted", faulted, 0);
    printk("retf_noncanonical.fault: %s\n", last_fault.count ? exc_name((unsigned int)last_fault.vector) : "none");
    expect("retf_noncanonical.error_code", last_fault.error_code, 0);
    expect("retf_noncanonical.cs", last_fault.cs, qemu ? SEL_USER_CODE64 : SEL_CODE64);
    expect("retf_noncanonical.rip_is_lretq", last_fault.rip == (u64)(uintptr_t)gate_bad_lretq, qemu ? 0 : 1);
    expect("retf_noncanonical.after_cs", seg_rec.cs, SEL_USER_CODE64);
    expect("retf_noncanonical.after_rsp_is_caller_rsp", seg_rec.rsp == rsp_before, 1);
    if (last_fault.vector != 13 && mismatches++ == 0)
        test_fail("retf_noncanonical: expected #GP");
}

static void gate_faults(void)
{
    /* From CPL 3. */
    expect_fault("gate_dpl_below_cpl", user_call(G_DPL0 | 3), 13, G_DPL0, SEL_USER_CODE64);
    expect_fault("gate_not_present", user_call(G_NP | 3), 11, G_NP, SEL_USER_CODE64);
    expect_fault("gate_upper_type", user_call(G_UPPER | 3), 13, G_UPPER, SEL_USER_CODE64);
    expect_fault("gate_upper_past_limit", user_call(G_LAST | 3), 13, G_LAST, SEL_USER_CODE64);
    expect_fault("gate_null_target", user_call(G_NULL | 3), 13, 0, SEL_USER_CODE64);
    expect_fault("target_data", user_call(G_TO_DATA | 3), 13, SEL_DATA, SEL_USER_CODE64);
    expect_fault("target_code32", user_call(G_TO_CODE32 | 3), 13, SEL_CODE32, SEL_USER_CODE64);
    expect_fault("target_not_present", user_call(G_TO_NP | 3), 11, C64_NP, SEL_USER_CODE64);
    expect_fault("jmp_to_inner", user_jmp(G_RING0 | 3), 13, SEL_CODE64, SEL_USER_CODE64);

    /* A JMP to a not-present segment: #NP(target); QEMU raises #GP(target). */
    u64 faulted = user_jmp(G_TO_NP3 | 3);
    bool qemu = faulted && last_fault.vector == 13;
    expect_fault("jmp_target_not_present", faulted, qemu ? 13 : 11, C64_NP3, SEL_USER_CODE64);

    /* From CPL 0. */
    fault_reset();
    expect_fault("gate_rpl_above_dpl", far_call(G_DPL0 | 3), 13, G_DPL0, SEL_CODE64);
    fault_reset();
    expect_fault("target_dpl_above_cpl", far_call(G_TO_USER), 13, SEL_USER_CODE64 & ~3, SEL_CODE64);
}

static void jmp_same_level(void)
{
    u64 faulted = user_jmp(G_JMP_SAME | 3);
    expect("jmp.faulted", faulted, 0);
    expect("jmp.cs", seg_rec.cs, SEL_USER_CODE64);
    expect("jmp.rsp_unchanged", seg_rec.rsp == rsp_before, 1);
}

/* LRETQ at CPL 0 to CPL 3 with a bad frame (RET "Operation", RETURN-TO-OUTER-PRIVILEGE-LEVEL). */
static void retf_faults(void)
{
    u64 rip = (u64)(uintptr_t)far_call_ret, rsp = user_stack_top;
#define RETF(name, cs, ss, vec, err) \
    (fault_reset(), expect_fault(name, kernel_lretq(rip, cs, rsp, ss), vec, err, SEL_CODE64))
    RETF("retf_cs_dpl_not_rpl", SEL_CODE64 | 3, SEL_USER_DATA, 13, SEL_CODE64);
    RETF("retf_cs_not_present", C64_NP3 | 3, SEL_USER_DATA, 11, C64_NP3);
    RETF("retf_ss_rpl_not_cs_rpl", SEL_USER_CODE64, SEL_USER_DATA & ~3, 13, SEL_USER_DATA & ~3);
    RETF("retf_ss_not_data", SEL_USER_CODE64, SEL_USER_CODE64, 13, SEL_USER_CODE64 & ~3);
    RETF("retf_ss_dpl_not_rpl", SEL_USER_CODE64, SEL_DATA | 3, 13, SEL_DATA);
    RETF("retf_ss_null_to_cpl3", SEL_USER_CODE64, 3, 13, 0);
    /* Not present: #SS(SS); QEMU raises #NP(SS). */
    fault_reset();
    u64 faulted = kernel_lretq(rip, SEL_USER_CODE64, rsp, D3_NP | 3);
    bool qemu = faulted && last_fault.vector == 11;
    expect_fault("retf_ss_not_present", faulted, qemu ? 11 : 12, D3_NP, SEL_CODE64);
#undef RETF
}

void test_main(void)
{
    ring3_init();
    install_tables();

    inner_call("gdt", G_RING0 | 3);
    inner_call("ldt", LDT_GATE);
    same_level_calls();
    retf_variants();
    jmp_same_level();
    gate_faults();
    retf_faults();
    asm volatile("mov %0, %%fs; mov %0, %%gs" :: "r"(0) : "memory");
}
