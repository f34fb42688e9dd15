// FRED event delivery, ERETU/ERETS and SYSCALL/SYSENTER under FRED (Intel SDM Vol. 3 §8.3
// "FRED Event Delivery", §8.4 "FRED Return Instructions"; Vol. 2 ERETU, ERETS, SYSCALL,
// SYSENTER "Operation", FRED-era edition). The guest guests/fred prints what it observes from
// ring 0 and ring 3 on native/fred; each line is checked here against the specification, with
// the addresses the guest prints (stacks, entry point) as the only inputs. On native/idt the
// guest must say FRED is not enumerated and skip. The stack-level rule is also checked alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';
import { eventStackLevel, FredType } from '../src/cpu/fred.js';
import type { TransitionRecord } from '../src/cpu/transition.js';

const image = (): string => buildGuest('fred');

interface Run { verdict: string; out: Map<string, string>; console: string; records: TransitionRecord[] }

let cached: Run | null = null;
function fredRun(): Run {
  if (cached !== null) return cached;
  const records: TransitionRecord[] = [];
  const r = runImage(image(), { profile: 'native/fred', maxInsns: 50_000_000, trace: (rec) => { records.push(rec); } });
  const out = new Map<string, string>();
  for (const l of r.console.split('\n')) {
    const i = l.indexOf(': ');
    if (i > 0) out.set(l.slice(0, i), l.slice(i + 2));
  }
  cached = { verdict: r.verdict, out, console: r.console, records };
  return cached;
}

/** The printed value of `name` as a BigInt (hex or decimal). */
function v(name: string): bigint {
  const s = fredRun().out.get(name);
  assert.ok(s !== undefined, `the guest printed no "${name}"`);
  return BigInt(s);
}

const RSP = (level: number): bigint => v(`rsp${level}`);
const ENTRY = (): bigint => v('config.entry');

/** Checks common to every frame (§8.3 "FRED stack frame"): the reserved slot and the zero
 *  bits of the augmented SS are 0, WFE (CS bit 18) is 0 without CET, and delivery leaves
 *  RFLAGS = 2 ("RFLAGS is cleared"; IA32_FMASK is not used). */
function frameBasics(name: string): void {
  assert.equal(v(`${name}.reserved`), 0n, `${name}: the frame's last quadword is 0`);
  assert.equal(v(`${name}.ss_zero`), 0n, `${name}: augmented SS bits 31:19, 47:40, 55:52, 56, 59 are 0`);
  assert.equal(v(`${name}.cs_high`), 0n, `${name}: augmented CS bits 63:18 are 0 (WFE: no CET)`);
  assert.equal(v(`${name}.handler_rflags`), 2n, `${name}: RFLAGS after delivery is 2`);
  assert.equal(v(`${name}.ss_l`), 1n, `${name}: the event came in 64-bit mode`);
}

/** An event from ring 3 (§8.3): the ring-3 entry point, level 0 on IA32_FRED_RSP0 (not
 *  nested, not #DF), user CS/SS in the frame with stack level 0. */
function fromRing3(name: string): void {
  frameBasics(name);
  assert.equal(v(`${name}.kernel_entry`), 0n, `${name}: entered at CONFIG[63:12] (the ring-3 entry)`);
  assert.equal(v(`${name}.csl`), 0n, `${name}: level 0 for an event from ring 3`);
  assert.equal(v(`${name}.frame`), RSP(0) - 64n, `${name}: frame at IA32_FRED_RSP0 - 64`);
  assert.equal(v(`${name}.cs`), 0x33n);
  assert.equal(v(`${name}.ss`), 0x2bn);
  assert.equal(v(`${name}.cs_sl`), 0n, `${name}: augmented CS stack level 0 from ring 3`);
  assert.equal(v(`${name}.ss_nested`), 0n);
}

function event(name: string, type: number, vector: number, insnlen: number, swevent: number): void {
  assert.equal(v(`${name}.type`), BigInt(type), `${name}: event type`);
  assert.equal(v(`${name}.vector`), BigInt(vector), `${name}: vector`);
  assert.equal(v(`${name}.ss_insnlen`), BigInt(insnlen), `${name}: instruction length (SS[63:60])`);
  assert.equal(v(`${name}.ss_swevent`), BigInt(swevent), `${name}: SS[17] set for SYSCALL, SYSENTER, INT n only`);
  assert.equal(v(`${name}.ss_nmi`), type === FredType.Nmi ? 1n : 0n, `${name}: SS[18] set for NMI only`);
}

test('native/fred: the guest runs to SUCCESS with FRED enabled', () => {
  const r = fredRun();
  assert.equal(r.verdict, 'success', r.console.split('\n').filter((l) => l.startsWith('FAIL') || l.startsWith('Test result')).join('\n'));
  assert.equal(v('cr4.fred'), 1n, 'CR4.FRED (bit 32) set in IA-32e mode when CPUID enumerates FRED');
});

test('native/idt: the guest finds FRED not enumerated and skips', () => {
  const r = runImage(image(), { profile: 'native/idt', maxInsns: 10_000_000 });
  assert.equal(r.verdict, 'skip');
  assert.ok(r.console.includes('FRED not enumerated\n'));
});

test('SYSCALL and SYSENTER from ring 3: type 7, vectors 1 and 2, no register changed (SDM SYSCALL, SYSENTER)', () => {
  fromRing3('syscall');
  event('syscall', FredType.Other, 1, 2, 1);
  assert.equal(v('syscall.rcx_at_entry'), 0x1111n, 'RCX at entry is the user RCX (no RCX := RIP)');
  assert.equal(v('syscall.r11_at_entry'), 0x2222n, 'R11 at entry is the user R11 (no R11 := RFLAGS)');
  assert.equal(v('user.rcx_after_syscall'), 0x1111n);
  assert.equal(v('user.r11_after_syscall'), 0x2222n);
  assert.equal(v('rip.syscall_next'), 1n, 'the frame saves the next RIP');
  assert.equal(v('syscall.edata'), 0n);
  assert.equal(v('syscall.error'), 0n);
  // GS.base swapped with IA32_KERNEL_GS_BASE on ring-3 delivery, back by ERETU (§8.3, ERETU).
  assert.equal(v('syscall.gs_base'), 0xaaaa000n);
  assert.equal(v('syscall.kernel_gs_base'), 0xbbbb000n);
  assert.equal(v('gs.base_after'), 0xaaaa000n);
  assert.equal(v('gs.kernel_gs_base_after'), 0xbbbb000n);
  fromRing3('sysenter');
  event('sysenter', FredType.Other, 2, 2, 1);
  assert.equal(v('rip.sysenter_next'), 1n);
  assert.equal(v('user.exit'), 0x600dn, 'every event returned with ERETU and user code reached its end');
  assert.equal(v('user.events'), 11n);
});

test('INT n, INT3, INT $3, INT1 from ring 3: types 4, 6, 4, 5 with their lengths (§8.3)', () => {
  for (const n of ['int81', 'int3', 'intcd3', 'int1', 'exit']) fromRing3(n);
  event('int81', FredType.SoftwareInterrupt, 0x81, 2, 1);
  event('int3', FredType.SoftwareException, 3, 1, 0);
  event('intcd3', FredType.SoftwareInterrupt, 3, 2, 1);
  event('int1', FredType.PrivilegedSoftwareException, 1, 1, 0);
  event('exit', FredType.SoftwareInterrupt, 0x80, 2, 1);
  for (const n of ['int81', 'int3', 'intcd3', 'int1']) assert.equal(v(`rip.${n}_next`), 1n, `${n}: next RIP saved`);
  // INT3 from ring 3 is at level 0 although STKLVLS gives #BP level 2 (the ring-3 rule).
  // INT1's event data: 0 (fred.ts open points: the model's reading, unverified).
  assert.equal(v('int1.edata'), 0n);
});

test('#GP, #PF and #UD from ring 3: faults with RF = 1, CR2 as event data, level 0 (§8.3)', () => {
  for (const n of ['hlt', 'pf', 'erets3', 'eretu3']) {
    fromRing3(n);
    assert.equal(v(`${n}.type`), 3n);
    assert.equal(v(`${n}.ss_insnlen`), 0n);
    assert.equal(v(`${n}.rflags`) & (1n << 16n), 1n << 16n, `${n}: RF = 1 in the saved RFLAGS of a fault`);
    assert.equal(v(`rip.${n}`), 1n, `${n}: the faulting instruction's RIP`);
  }
  assert.equal(v('hlt.vector'), 13n); assert.equal(v('hlt.error'), 0n);
  assert.equal(v('pf.vector'), 14n);
  assert.equal(v('pf.error'), 4n, '#PF error code: user read of a not-present page');
  assert.equal(v('pf.edata'), v('pf.hole'), '#PF event data is the faulting address (CR2)');
  // ERETS and ERETU at CPL 3: #UD (SDM ERETS, ERETU: "IF ... CPL > 0 THEN #UD").
  assert.equal(v('erets3.vector'), 6n);
  assert.equal(v('eretu3.vector'), 6n);
});

test('an external interrupt from ring 3 uses level 0, from ring 0 CONFIG[10:9] (§8.3)', () => {
  fromRing3('ext3');
  event('ext3', FredType.External, 0x41, 0, 0);
  assert.equal(v('ext3.at_user_exit'), 1n, 'taken before the first ring-3 instruction after ERETU set IF');
  assert.equal(v('ext3.rflags') & 0x200n, 0x200n);
  frameBasics('ext0');
  event('ext0', FredType.External, 0x40, 0, 0);
  assert.equal(v('ext0.kernel_entry'), 1n);
  assert.equal(v('ext0.csl'), 1n, 'CONFIG[10:9] = 1');
  assert.equal(v('ext0.frame'), RSP(1) - 64n, 'a level increase: IA32_FRED_RSP1');
  assert.equal(v('ext0.at_boundary'), 1n);
  assert.equal(v('ext0.edata'), 0n);
});

test('NMI: type 2, SS[18], level from STKLVLS, NMIs blocked until ERETS with SS[18] (§8.3, ERETS)', () => {
  frameBasics('nmi0');
  event('nmi0', FredType.Nmi, 2, 0, 0);
  assert.equal(v('nmi0.edata'), 0n, 'NMI event data 0 (no NMI-source reporting)');
  assert.equal(v('nmi0.csl'), 1n, 'STKLVLS gives vector 2 level 1');
  assert.equal(v('nmi0.frame'), RSP(1) - 64n);
  assert.equal(v('nmi.count_in_handler'), 1n, 'a second NMI waits while the first is handled');
  assert.equal(v('nmi.count'), 2n, 'and is delivered after ERETS unblocks NMIs');
});

test('ring 0: entry at +256, red zone and 64-byte alignment, stack levels never drop (§8.3)', () => {
  frameBasics('gp0');
  assert.equal(v('gp0.kernel_entry'), 1n);
  assert.equal(v('gp0.type'), 3n); assert.equal(v('gp0.vector'), 13n); assert.equal(v('gp0.error'), 0n);
  assert.equal(v('gp0.at_insn'), 1n);
  assert.equal(v('gp0.cs'), 0x8n); assert.equal(v('gp0.ss'), 0x10n, 'CS and SS unchanged from ring 0');
  assert.equal(v('gp0.rsp'), v('gp0.fault_rsp'), 'the frame saves RSP as it was');
  const redzone = v('redzone_lines') * 64n;
  assert.equal(v('gp0.frame'), ((v('gp0.fault_rsp') - redzone) & ~63n) - 64n, 'same level: (RSP - red zone) & ~63, then the frame');
  // #PF in ring 0 at STKLVLS level 1: IA32_FRED_RSP1; event data = CR2; back to level 0 after ERETS.
  frameBasics('pf0');
  assert.equal(v('pf0.vector'), 14n); assert.equal(v('pf0.error'), 0n);
  assert.equal(v('pf0.edata'), v('pf0.hole')); assert.equal(v('pf0.cr2'), v('pf0.hole'), 'CR2 is written too');
  assert.equal(v('pf0.csl'), 1n); assert.equal(v('pf0.frame'), RSP(1) - 64n);
  assert.equal(v('pf0.csl_after'), 0n, 'ERETS: CSL := min(CSL, CS[17:16] = 0)');
  // INT3 at level 2 (STKLVLS), then #UD (level 0) inside its handler stays at level 2 on the same stack.
  frameBasics('bp0');
  event('bp0', FredType.SoftwareException, 3, 1, 0);
  assert.equal(v('bp0.csl'), 2n); assert.equal(v('bp0.frame'), RSP(2) - 64n); assert.equal(v('bp0.cs_sl'), 0n);
  assert.equal(v('ud0.vector'), 6n); assert.equal(v('ud0.csl'), 2n, 'levels never drop on delivery');
  assert.equal(v('ud0.cs_sl'), 2n, 'augmented CS records the interrupted level');
  assert.equal(v('ud0.frame'), ((v('ud0.handler_rsp') - redzone) & ~63n) - 64n);
  assert.equal(v('ud0.csl_after_erets'), 2n, 'ERETS to level 2 keeps level 2');
  assert.equal(v('bp0.csl_after'), 0n, 'ERETS to level 0 lowers it');
  // INT $3 (CD 03) is INT n: type 4, level 0 even though STKLVLS gives #BP level 2.
  event('intcd3_0', FredType.SoftwareInterrupt, 3, 2, 1);
  assert.equal(v('intcd3_0.csl'), 0n);
  assert.equal(v('sti_int3.ss_sti'), 1n, 'SS[16]: STI blocking was in effect (INT3 right after STI)');
  assert.equal(v('sti_int3.rflags_if'), 1n);
  // SYSCALL in ring 0: delivered at the ring-0 entry, RCX/R11 unchanged.
  event('syscall0', FredType.Other, 1, 2, 1);
  assert.equal(v('syscall0.kernel_entry'), 1n); assert.equal(v('syscall0.csl'), 0n);
  assert.equal(v('syscall0.rcx_after'), 0x3333n); assert.equal(v('syscall0.r11_after'), 0x4444n);
});

test('nested #PF while pushing onto an unmapped IA32_FRED_RSP0: SS[58], STKLVLS level, CR2 (§8.3)', () => {
  assert.equal(v('nested.events'), 2n, 'a nested #PF, then the #GP once the page is present');
  frameBasics('nested_pf');
  assert.equal(v('nested_pf.vector'), 14n);
  assert.equal(v('nested_pf.ss_nested'), 1n);
  assert.equal(v('nested_pf.error'), 2n, 'supervisor write to a not-present page');
  assert.equal(v('nested_pf.csl'), 1n, 'a nested exception from ring 3 takes its STKLVLS level');
  assert.equal(v('nested_pf.frame'), RSP(1) - 64n);
  assert.equal(v('nested_pf.kernel_entry'), 0n, 'the event still came from ring 3');
  assert.equal(v('nested_pf.cs'), 0x33n, 'the frame holds the interrupted ring-3 state');
  assert.equal(v('nested.rip_is_hlt'), 1n, 'RIP of the instruction whose #GP could not be delivered');
  const top = v('nested.rsp0');
  assert.ok(v('nested_pf.edata') >= top - 64n && v('nested_pf.edata') < top, 'event data: an address in the frame being pushed');
  assert.equal(v('nested_pf.edata') & ~0xfffn, (top - 64n) & ~0xfffn);
  fromRing3Except('nested_gp');
  assert.equal(v('nested_gp.vector'), 13n);
  assert.equal(v('nested_gp.frame'), top - 64n);
});

/** The re-executed #GP of the nested case lands on the remapped IA32_FRED_RSP0 stack. */
function fromRing3Except(name: string): void {
  frameBasics(name);
  assert.equal(v(`${name}.kernel_entry`), 0n);
  assert.equal(v(`${name}.csl`), 0n);
  assert.equal(v(`${name}.ss_nested`), 0n);
}

test('ERETS and ERETU #GP(0) checks (SDM ERETS, ERETU "Operation")', () => {
  const cases = ['erets_cs', 'erets_cs_high', 'erets_flags1', 'erets_vm', 'erets_ss', 'erets_rip',
    'eretu_cs_rpl', 'eretu_cs_high', 'eretu_iopl', 'eretu_ss_rpl', 'eretu_csl'];
  for (const c of cases) {
    assert.equal(v(`${c}.events`), 1n, `${c}: one event`);
    assert.equal(v(`${c}.vector`), 13n, `${c}: #GP`);
    assert.equal(v(`${c}.error`), 0n, `${c}: error code 0`);
    assert.equal(v(`${c}.at_eret`), 1n, `${c}: a fault at the ERET itself`);
  }
  assert.equal(v('eretu_csl.csl_after'), 1n, 'the #GP at level 1 returned with ERETS to level 1');
});

test('the trace records FRED deliveries with their type and names the FRED frame\'s slots', () => {
  const { records } = fredRun();
  const syscall = records.find((r) => r.kind === 'delivery' && r.fredType === FredType.Other && r.vector === 1 && r.before.cpl === 3);
  assert.ok(syscall, 'a FRED SYSCALL delivery');
  assert.equal(syscall.source, 'other');
  assert.equal(syscall.frame?.bytes.length, 64);
  assert.equal(syscall.before.registers.rcx, syscall.after.registers.rcx, 'RCX unchanged by the transition');
  assert.equal(syscall.before.registers.r11, syscall.after.registers.r11, 'R11 unchanged by the transition');
  // §8.3: ring-3 events enter at CONFIG[63:12], ring-0 events 256 bytes beyond.
  assert.equal(BigInt(syscall.after.registers.rip), ENTRY(), 'ring-3 entry point');
  const ring0 = records.find((r) => r.kind === 'delivery' && r.fredType !== null && r.before.cpl === 0);
  assert.ok(ring0);
  assert.equal(BigInt(ring0.after.registers.rip), ENTRY() + 256n, 'ring-0 entry point');
  assert.ok(records.some((r) => r.kind === 'eretu' && r.before.cpl === 0 && r.after.cpl === 3));
  assert.ok(records.some((r) => r.kind === 'erets' && r.after.cpl === 0));
});

test('eventStackLevel: the stack-level rules of §8.3', () => {
  const stklvls = (v: number, l: number): [number, number] => v < 16 ? [l << (2 * v), 0] : [0, l << (2 * (v - 16))];
  const [pfLo, pfHi] = stklvls(14, 1);
  const [dfLo, dfHi] = stklvls(8, 3);
  const [acLo, acHi] = stklvls(17, 2);
  const config = 2 << 9; // external interrupts at level 2
  // Ring 3: level 0 unless nested or #DF.
  assert.equal(eventStackLevel(FredType.HardwareException, 14, 3, false, 0, config, pfLo, pfHi), 0);
  assert.equal(eventStackLevel(FredType.HardwareException, 14, 3, true, 0, config, pfLo, pfHi), 1);
  assert.equal(eventStackLevel(FredType.HardwareException, 8, 3, false, 0, config, dfLo, dfHi), 3);
  assert.equal(eventStackLevel(FredType.External, 0x40, 3, false, 0, config, 0, 0), 0);
  // An external interrupt with vector 8 is not #DF.
  assert.equal(eventStackLevel(FredType.External, 8, 3, false, 0, config, dfLo, dfHi), 0);
  // Ring 0: by type, never below the current level.
  assert.equal(eventStackLevel(FredType.External, 0x40, 0, false, 0, config, 0, 0), 2);
  assert.equal(eventStackLevel(FredType.HardwareException, 17, 0, false, 0, 0, acLo, acHi), 2, 'STKLVLS bits 35:34 for vector 17');
  assert.equal(eventStackLevel(FredType.SoftwareInterrupt, 14, 0, false, 0, 0, pfLo, pfHi), 0, 'INT n: level 0');
  assert.equal(eventStackLevel(FredType.Other, 1, 0, false, 0, 0, 0xffffffff, 0xffffffff), 0, 'SYSCALL: level 0');
  assert.equal(eventStackLevel(FredType.Other, 1, 0, false, 3, 0, 0, 0), 3, 'never below CSL');
  assert.equal(eventStackLevel(FredType.HardwareException, 14, 0, false, 2, 0, pfLo, pfHi), 2);
  assert.equal(eventStackLevel(FredType.Nmi, 2, 0, false, 0, 0, stklvls(2, 3)[0], 0), 3);
});

test('#DF at its IA32_FRED_STKLVLS level, from ring 0 and from ring 3: a #PF while delivering a #PF (SDM Vol. 3A §6.15 Table 6-5; §8.3)', () => {
  // Ring 0: the #PF (STKLVLS level 1) cannot be written onto IA32_FRED_RSP1's unmapped page.
  assert.equal(v('df0.events'), 1n, 'one event: the #DF (the #PF is never delivered)');
  frameBasics('df0');
  assert.equal(v('df0.type'), 3n); assert.equal(v('df0.vector'), 8n);
  assert.equal(v('df0.error'), 0n, '#DF error code 0');
  assert.equal(v('df0.edata'), 0n, 'event data 0');
  assert.equal(v('df0.ss_nested'), 0n, 'the nested bit is never set for #DF');
  assert.equal(v('df0.csl'), 3n, 'STKLVLS gives vector 8 level 3');
  assert.equal(v('df0.frame'), RSP(3) - 64n, 'a level increase: IA32_FRED_RSP3');
  assert.equal(v('df0.kernel_entry'), 1n); assert.equal(v('df0.cs'), 0x8n); assert.equal(v('df0.cs_sl'), 0n);
  assert.equal(v('df0.cr2_in_rsp1_page'), 1n, 'CR2: the second #PF, on the level-1 stack');
  assert.equal(v('df0.csl_after'), 0n);
  // Ring 3: a user #PF goes to level 0, whose stack page is unmapped; the #DF still takes level 3.
  assert.equal(v('df3.events'), 1n);
  frameBasics('df3');
  assert.equal(v('df3.vector'), 8n); assert.equal(v('df3.error'), 0n); assert.equal(v('df3.edata'), 0n);
  assert.equal(v('df3.ss_nested'), 0n);
  assert.equal(v('df3.kernel_entry'), 0n, 'from ring 3: the ring-3 entry point');
  assert.equal(v('df3.cs'), 0x33n); assert.equal(v('df3.ss'), 0x2bn, 'the interrupted ring-3 state');
  assert.equal(v('df3.csl'), 3n, '#DF from ring 3 is not at level 0');
  assert.equal(v('df3.frame'), RSP(3) - 64n);
  assert.equal(v('df3.exit'), 0x600dn, 'ERETU back to ring 3 after the handler lowered the level');
});

test('ERETU with SS bit 17 (pend_DB) and TF = 1: single-step #DB before the first user instruction; without it, after (SDM ERETU)', () => {
  for (const n of ['pend_db', 'step_db']) {
    fromRing3(n);
    event(n, FredType.HardwareException, 1, 0, 0);
    assert.equal(v(`${n}.edata`), 0x4000n, `${n}: event data BS (bit 14)`);
    assert.equal(v(`${n}.rflags`) & 0x100n, 0x100n, `${n}: TF in the saved RFLAGS`);
  }
  assert.equal(v('pend_db.at_first_insn'), 1n, 'pending #DB: RIP of the first instruction, not yet executed');
  assert.equal(v('step_db.after_first_insn'), 1n, 'no pend_DB: the trap follows the first instruction');
});

test('general detect under FRED: #DB fault with BD in the event data (SDM Vol. 3B §18.2.4; §8.3)', () => {
  frameBasics('gd');
  assert.equal(v('gd.events'), 1n);
  event('gd', FredType.HardwareException, 1, 0, 0);
  assert.equal(v('gd.edata'), 0x2000n, 'event data: BD (bit 13) alone');
  assert.equal(v('gd.at_mov'), 1n, 'a fault: RIP of the MOV');
  assert.equal(v('gd.kernel_entry'), 1n);
});

test('ERETS with SS bit 16 re-establishes STI blocking; ERETS/ERETU with SS bit 18 unblock NMIs (SDM ERETS, ERETU)', () => {
  assert.equal(v('sti_erets.taken_at'), 1n, 'STI_block with IF = 1: the pending interrupt waits one instruction');
  assert.equal(v('no_sti_erets.taken_at'), 0n, 'without it: taken before the first instruction');
  assert.equal(v('nmi_keep.taken'), 1n, 'an ERETS without SS bit 18 left NMIs blocked: the second NMI is held');
  assert.equal(v('nmi_keep.after_erets_without_bit18'), 1n, 'another ERETS without bit 18: still held');
  assert.equal(v('nmi_erets.taken'), 2n, 'ERETS with SS bit 18: the held NMI is delivered');
  assert.equal(v('nmi_erets.events'), 1n);
  assert.equal(v('nmi_erets.at_target'), 1n, 'at the boundary right after the ERETS');
  assert.equal(v('nmi_keep3.taken'), 1n);
  assert.equal(v('nmi_eretu.taken'), 2n, 'ERETU with SS bit 18 unblocks NMIs');
  fromRing3('nmi_eretu');
  event('nmi_eretu', FredType.Nmi, 2, 0, 0);
  assert.equal(v('nmi_eretu.at_user_exit'), 1n, 'taken before the first ring-3 instruction');
});

test('ERETU to compatibility mode through the GDT (not STAR\'s selectors) and SYSENTER from compatibility mode (SDM ERETU, SYSENTER)', () => {
  assert.equal(v('compat.exit'), 0xc0den, 'the 32-bit program ran and exited by INT $0x80');
  assert.equal(v('compat.events'), 2n);
  for (const n of ['sysenter32', 'exit32']) {
    assert.equal(v(`${n}.kernel_entry`), 0n); assert.equal(v(`${n}.csl`), 0n);
    assert.equal(v(`${n}.frame`), RSP(0) - 64n);
    assert.equal(v(`${n}.cs`), 0x53n, `${n}: the GDT compatibility segment ERETU loaded`);
    assert.equal(v(`${n}.ss`), 0x2bn);
    assert.equal(v(`${n}.ss_l`), 0n, `${n}: SS bit 57 clear: not 64-bit mode`);
    assert.equal(v(`${n}.ss_nested`), 0n);
    assert.equal(v(`${n}.handler_rflags`), 2n);
  }
  event('sysenter32', FredType.Other, 2, 2, 1);
  assert.equal(v('sysenter32.rip_next'), 1n, 'the frame saves the next (32-bit) RIP');
  event('exit32', FredType.SoftwareInterrupt, 0x80, 2, 1);
  // Compatibility: "newRIP > CS limit THEN #GP(0)" with the GDT descriptor's limit.
  for (const [c, err] of [['eretu_compat_limit', 0n], ['eretu_cs_bit15', 0x8030n]] as const) {
    assert.equal(v(`${c}.events`), 1n); assert.equal(v(`${c}.vector`), 13n);
    assert.equal(v(`${c}.error`), err, `${c}: error code`); assert.equal(v(`${c}.at_eret`), 1n);
  }
  // "newRIP[63:32] := 0" for compatibility mode: a non-canonical RIP is no fault there.
  assert.equal(v('compat_noncanon.exit'), 0xc0den);
  assert.equal(v('compat_noncanon.events'), 1n);
  assert.equal(v('compat_noncanon.cs'), 0x23n, "STAR[63:48]'s standard compatibility segment");
  assert.equal(v('compat_noncanon.ss_l'), 0n);
  // STAR's compatibility segment has limit FFFFFFFFH: RIP FFFFF000H passes, the fetch faults.
  assert.equal(v('compat_top.exit'), 0x600dn);
  assert.equal(v('compat_top.vector'), 14n);
  assert.equal(v('compat_top.rip'), 0xfffff000n); assert.equal(v('compat_top.edata'), 0xfffff000n);
  assert.equal(v('compat_top.cs'), 0x23n); assert.equal(v('compat_top.kernel_entry'), 0n);
  assert.equal(v('compat_top.error') & 4n, 4n, 'a user-mode access');
});

test('WRMSR IA32_FRED_CONFIG with a non-canonical entry point: #GP(0) at the WRMSR; SYSCALL under FRED ignores EFER.SCE', () => {
  assert.equal(v('config_noncanon.events'), 1n);
  assert.equal(v('config_noncanon.vector'), 13n); assert.equal(v('config_noncanon.error'), 0n);
  assert.equal(v('config_noncanon.at_wrmsr'), 1n);
  assert.equal(v('config_noncanon.unchanged'), 1n);
  // SDM SYSCALL: with CR4.FRED = 1 only the 64-bit-mode check applies; this guest never sets
  // EFER.SCE, and its SYSCALLs (ring 3 and ring 0) were delivered as FRED events above.
  assert.equal(v('efer.sce'), 0n);
  event('syscall', FredType.Other, 1, 2, 1);
  event('syscall0', FredType.Other, 1, 2, 1);
});

const TRIPLE_LAST = 'triple: expecting a triple fault now';

test('FRED_TRIPLE=1: a fault while delivering #DF (its level-3 stack unmapped) shuts down: verdict crash (SDM Vol. 3A §6.15)', () => {
  const r = runImage(buildGuest('fred', { defines: { FRED_TRIPLE: 1 } }), { profile: 'native/fred', maxInsns: 50_000_000 });
  assert.equal(r.verdict, 'crash', `verdict ${r.verdict}: ${r.reason}`);
  assert.match(r.reason, /triple fault/);
  assert.ok(!r.console.includes('Test result:'), 'no result line');
  assert.equal(r.console.split('\n').filter((l) => l !== '').pop(), TRIPLE_LAST);
});

test('an NMI whose frame write faults: a nested #PF, and NMIs are not blocked by the NMI that was never delivered (docs/fred-readings.md D8)', () => {
  assert.equal(fredRun().verdict, 'success');
  // §8.3: a fault while delivering an event is a nested exception, on its own stack level.
  assert.equal(v('nmi_fault.first_type'), 3n, 'the first event is a hardware exception');
  assert.equal(v('nmi_fault.first_vector'), 14n, '#PF');
  assert.equal(v('nmi_fault.first_nested'), 1n, 'nested: raised while delivering the NMI');
  assert.equal(v('nmi_fault.cr2_in_rsp2_page'), 1n, 'CR2: the NMI frame\'s first write, below IA32_FRED_RSP2');
  assert.equal(v('nmi_fault.nmis'), 0n, 'the faulting NMI was not delivered');
  // NMI blocking follows the NMI's delivery (D8): none was delivered, so the second NMI is taken.
  assert.equal(v('nmi_fault.second_nmis'), 1n, 'the second NMI is delivered');
});
