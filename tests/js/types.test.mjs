// types.test.mjs — the package's .d.ts files compile for a user's code
// (tests/types/use.ts) under a Node-only config (no DOM lib, skipLibCheck
// off) and under a browser (DOM) config, with the pinned typescript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './helpers.mjs';

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const skip = !existsSync(tsc) && 'typescript is not installed: npm install';

for (const config of ['tsconfig.node.json', 'tsconfig.dom.json']) {
  test(`the types compile with tsc -p tests/types/${config}`, { skip, timeout: 120000 }, () => {
    const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tests', 'types', config)], { encoding: 'utf8', cwd: root });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
}

test('a type error in user code is caught (the check can fail)', { skip, timeout: 120000 }, () => {
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--lib', 'es2022', '--types', 'node',
    '--module', 'nodenext', '--moduleResolution', 'nodenext', join(root, 'tests', 'types', 'bad.ts')], { encoding: 'utf8', cwd: root });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /bad\.ts\(6,\d+\): error TS2322/);
});
