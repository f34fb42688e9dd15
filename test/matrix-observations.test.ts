// The matrix's observations word (issue 16, point 5; README, "ringside matrix"): beside each
// image's verdicts, whether what the guest could observe differs between the profiles run —
// each profile's run compared with the first profile's by the ABI diff, so the word is what
// `ringside diff IMAGE --profiles FIRST,P` exits with. The word never changes the exit status.
//
// guests/sysenter: SYSENTER in 64-bit mode enters the kernel on Intel (SDM Vol. 2B SYSENTER,
// "Operation") and is #UD in long mode on AMD (APM Vol. 3 SYSENTER, exceptions), so ring 3
// resumes differently: `differs`. guests/host-syscalls: SYSCALL and SYSRET to canonical
// addresses, which both vendors define alike (SDM Vol. 2B SYSCALL/SYSRET; APM Vol. 3): `same`.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPvhImage, ringside } from './helpers/pvh-image.js';

const BOTH = 'native/idt,native/idt-amd';

interface Row {
  name: string;
  cells: Array<{ verdict: string; profile: string }>;
  observations: 'same' | 'differs' | null;
  observationsDiffer: string[];
}

function matrixJson(args: string[]): { status: number | null; rows: Row[]; stderr: string } {
  const r = ringside(['matrix', ...args, '--json']);
  return { status: r.status, rows: (JSON.parse(r.stdout) as { rows: Row[] }).rows, stderr: r.stderr };
}

describe('ringside matrix: the observations word', () => {
  it('a last column: sysenter differs between Intel and AMD, host-syscalls does not; the exit status stays the verdicts\'', () => {
    const r = ringside(['matrix', 'sysenter', 'host-syscalls', '--profiles', BOTH]);
    assert.equal(r.status, 0, r.stderr); // every run succeeded: `differs` is not a failure
    assert.match(r.stdout, /^guest\s+native\/idt\s+native\/idt-amd\s+observations$/m);
    assert.match(r.stdout, /^sysenter\s+success\s+success\s+differs$/m);
    assert.match(r.stdout, /^host-syscalls\s+success\s+success\s+same$/m);
    assert.match(r.stdout, /^sysenter: observations on native\/idt-amd differ from native\/idt/m);
    assert.doesNotMatch(r.stdout, /^host-syscalls: observations/m);
  });

  it('--json: each row has `observations` and `observationsDiffer`, and the word is what `ringside diff` exits with', () => {
    const { status, rows, stderr } = matrixJson(['sysenter', 'host-syscalls', '--profiles', BOTH]);
    assert.equal(status, 0, stderr);
    const by = new Map(rows.map((row) => [row.name, row]));
    assert.equal(by.get('sysenter')?.observations, 'differs');
    assert.deepEqual(by.get('sysenter')?.observationsDiffer, ['native/idt-amd']);
    assert.equal(by.get('host-syscalls')?.observations, 'same');
    assert.deepEqual(by.get('host-syscalls')?.observationsDiffer, []);
    for (const row of rows) {
      const d = ringside(['diff', row.name, '--profiles', BOTH]);
      assert.equal(d.status, row.observations === 'differs' ? 1 : 0, `${row.name}: diff exited ${d.status}, the matrix said ${row.observations}`);
    }
  });

  it('each profile is compared with the first, not with its neighbour', () => {
    const { rows } = matrixJson(['sysenter', '--profiles', 'native/idt,native/idt-amd,native/idt']);
    assert.equal(rows[0].observations, 'differs');
    assert.deepEqual(rows[0].observationsDiffer, ['native/idt-amd']);
    const same = matrixJson(['host-syscalls', '--profiles', 'native/idt-amd,native/idt,native/idt-amd']);
    assert.equal(same.rows[0].observations, 'same');
  });

  it('`-` (null) when only one profile ran', () => {
    const r = ringside(['matrix', 'sysenter', '--profiles', 'native/idt']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sysenter\s+success\s+-$/m);
    assert.equal(matrixJson(['sysenter', '--profiles', 'native/idt']).rows[0].observations, null);
  });

  it('`-` (null) when a run was cut short: two timeouts are not compared, and the verdicts alone decide the exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringside-matrixword-'));
    const spin = join(dir, 'spin.elf');
    writeFileSync(spin, buildPvhImage({ code: [0xeb, 0xfe] })); // jmp .
    const { status, rows } = matrixJson([spin, '--profiles', BOTH, '--max-insns', '10000']);
    assert.equal(status, 5);
    assert.deepEqual(rows[0].cells.map((c) => c.verdict), ['timeout', 'timeout']);
    // Both runs spun to the same budget, so `diff` would find nothing; the matrix still
    // does not call a run the guest did not end "same".
    assert.equal(rows[0].observations, null);
    assert.deepEqual(rows[0].observationsDiffer, []);
  });
});
