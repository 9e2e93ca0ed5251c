// packages.test.mjs — atento as npm users get it, from packed tarballs
// installed offline into fresh folders: with the companion package
// atento-models-en-es (packages/), `npx atento translate "Hello"` works with
// no --model; without it, a plain message says what to install (exit 1, not
// "internal error").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './helpers.mjs';

const skip = !existsSync(join(root, 'dist', 'atento.wasm')) ? 'dist/atento.wasm is missing: run ./build.sh'
  : !existsSync(join(root, 'models', 'translate-en-es.gguf')) ? 'models/translate-en-es.gguf is missing' : false;
let dir, atentoTgz, modelsTgz;

const npm = (args, cwd) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 300000, env: { ...process.env, npm_config_update_notifier: 'false' } });

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'atento-packages-'));
  // --ignore-scripts for atento: the module as built now (its prepack would rebuild it).
  let r = npm(['pack', '--ignore-scripts', '--pack-destination', dir], root);
  assert.equal(r.status, 0, r.stderr);
  r = npm(['pack', '--pack-destination', dir], join(root, 'packages', 'atento-models-en-es'));
  assert.equal(r.status, 0, r.stderr);
  const files = readdirSync(dir);
  atentoTgz = join(dir, files.find((f) => /^atento-\d/.test(f)));
  modelsTgz = join(dir, files.find((f) => /^atento-models-en-es-/.test(f)));
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function project(name, tarballs) {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  const r = npm(['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', ...tarballs], d);
  assert.equal(r.status, 0, r.stderr);
  return d;
}

const npx = (d, args, input = '') => spawnSync('npx', ['--offline', 'atento', ...args], { cwd: d, encoding: 'utf8', timeout: 120000, input });

test('the models package holds both models and their cards, nothing else', { skip }, () => {
  const r = spawnSync('tar', ['-tzf', modelsTgz], { encoding: 'utf8' });
  const files = r.stdout.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  assert.deepEqual(files, ['README.md', 'dict-en-es.md', 'dict-en-es.tsv', 'index.d.ts', 'index.js', 'package.json', 'translate-en-es.gguf', 'translate-en-es.md', 'tutor-en-es.gguf', 'tutor-en-es.md']);
});

test('npm install atento atento-models-en-es && npx atento translate "Hello" works offline', { skip, timeout: 600000 }, () => {
  const d = project('with-models', [atentoTgz, modelsTgz]);
  const r = npx(d, ['translate', 'Hello, how are you?']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Hola/);
  // the dictionary of the chat tools is found in the package too
  const look = npx(d, ['lookup', 'gato', '--from', 'es']);
  assert.equal(look.status, 0, look.stderr);
  assert.equal(look.stdout, 'cat, jack\n');
  const back = npx(d, ['translate', '¿Dónde está la estación de tren?']);
  assert.equal(back.status, 0, back.stderr);
  assert.match(back.stdout, /station/i);
  // From code, through the package's export.
  writeFileSync(join(d, 'use.mjs'), "import { load } from 'atento';\nimport { translate } from 'atento-models-en-es';\n"
    + "const mt = await load(translate);\nconsole.log((await mt.translate('Good morning.')).text);\nawait mt.dispose();\n");
  const code = spawnSync(process.execPath, ['use.mjs'], { cwd: d, encoding: 'utf8', timeout: 120000 });
  assert.equal(code.status, 0, code.stderr);
  assert.match(code.stdout, /Buen/);
});

test('without the models package: a plain message says what to install or pass', { skip, timeout: 600000 }, () => {
  const d = project('no-models', [atentoTgz]);
  const r = npx(d, ['translate', 'Hello']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'atento: no translation model given and translate-en-es.gguf is not installed: install the shipped models with "npm install atento-models-en-es", or pass --model M.gguf\n');
  const c = npx(d, ['chat', '--json'], '{"messages":[{"role":"user","content":"Hi"}]}');
  assert.equal(c.status, 1);
  assert.match(c.stderr, /^atento: no chat model given and tutor-en-es\.gguf is not installed: install the shipped models with "npm install atento-models-en-es", or pass --model M\.gguf\n$/);
});
