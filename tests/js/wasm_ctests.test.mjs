// wasm_ctests.test.mjs — the C unit tests compiled to WebAssembly and run
// under node:wasi (tests/wasm_ctests.sh), so the SIMD128 kernels are checked
// against their scalar references in the build that ships; the kernel and
// thread tests also with the relaxed-SIMD kernels (clang-16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './helpers.mjs';

const script = join(root, 'tests', 'wasm_ctests.sh');

test('C tests compiled to WASM pass under node:wasi', { skip: !existsSync(script) && 'tests/wasm_ctests.sh not written yet' }, () => {
  const r = spawnSync('bash', [script], { cwd: root, encoding: 'utf8', timeout: 30 * 60 * 1000, env: { ...process.env, NODE_PATH: '/usr/share/nodejs' } });
  const out = (r.stdout || '') + (r.stderr || '');
  assert.equal(r.status, 0, `tests/wasm_ctests.sh failed (exit ${r.status}):\n${out.slice(-4000)}`);
  assert.doesNotMatch(out, /\b[1-9]\d* failed\b/, out.slice(-4000));
});
