// examples.test.mjs — the examples in examples/ against the packed tarball,
// as an npm user gets it: `npm pack`, install the tarball into a copy of each
// example, run the Node one, and open the page one in chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, skipReason, launch, screenshot, translateModel } from './helpers.mjs';
import { createStaticServer } from '../../bin/serve.js';

const model = translateModel();
const skip = !existsSync(join(root, 'dist', 'atento.wasm')) ? 'dist/atento.wasm is missing: run ./build.sh'
  : !model ? 'no translation model' : false;
let dir, tarball;

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'atento-examples-'));
  // --ignore-scripts: the tarball of the module as built now (prepack would rebuild it).
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')));
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function install(example) {
  const d = join(dir, example);
  cpSync(join(root, 'examples', example), d, { recursive: true, filter: (p) => !p.includes('node_modules') });
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-package-lock', tarball], { cwd: d, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return d;
}

test('the tarball ships the wasm, the JS and the types, nothing else', { skip }, () => {
  const r = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  const files = r.stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
  for (const f of ['dist/atento.wasm', 'js/index.js', 'js/worker.js', 'js/core.js', 'index.d.ts', 'package.json']) assert.ok(files.includes(f), f);
  // The relaxed-SIMD twins (docs/simd.md), wherever this build made them.
  for (const f of ['dist/atento-relaxed.wasm', 'dist/atento-mt-relaxed.wasm']) if (existsSync(join(root, f))) assert.ok(files.includes(f), f);
  assert.deepEqual(files.filter((f) => /^(src|tests|web|models|examples|build)\//.test(f)), []);
});

test('the Node example translates with the installed package', { skip, timeout: 120000 }, () => {
  const d = install('node');
  const r = spawnSync(process.execPath, ['example.mjs', model, 'The cat sleeps on the sofa.'], { cwd: d, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().length > 0, 'no output');
  assert.match(r.stderr, /translate/);
  assert.match(r.stderr, /\[done\] \d+ tokens/);
});

test('the page example runs the installed package in chromium', { skip: skip || skipReason() || false, timeout: 120000 }, async () => {
  const d = install('page');
  const server = createStaticServer({ root: d });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.setInputFiles('#file', model);
    await page.waitForFunction(() => !document.getElementById('run').disabled, null, { timeout: 60000 });
    await page.fill('#text', 'Good morning.');
    await page.click('#run');
    await page.waitForFunction(() => /^(done|eog|length|stop):/.test(document.getElementById('status').textContent), null, { timeout: 60000 });
    assert.ok((await page.textContent('#out')).trim().length > 0);
    await screenshot(page, 'example-page');
    assert.deepEqual(browser.logs.filter((l) => l.startsWith('pageerror')), []);
  } finally {
    await browser.close();
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
});
