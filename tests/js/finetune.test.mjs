// finetune.test.mjs — `atento finetune` in both CLIs (WASM: bin/atento.js;
// native: build/atento) on the tiny test model: the output is an ordinary
// model that translates, the training.* metadata is there, the loss falls, and
// every bad input is a one-line error with a non-zero exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, nativeCliRun, root, runtime, tempDir } from './helpers.mjs';
import { parseTsv } from '../../js/cli/finetune.js';

const tiny = join(root, 'tests', 'data', 'marian', 'tiny.q8_0.gguf');
const llama = join(root, 'tests', 'data', 'llama', 'llama_f32.gguf');
const dir = tempDir();
const pairs = join(dir, 'pairs.tsv');
writeFileSync(pairs, '# my words\nthe cat\tel gato\n\nhello world\thola mundo\r\n');
const replay = join(dir, 'replay.tsv');
writeFileSync(replay, 'good morning\tbuenos días\nthe dog\tel perro\n');

function oneLineError(r, re) {
  assert.notEqual(r.code, 0, r.stdout);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
}

const runners = [['wasm', (args) => cli(args)], ['native', (args) => nativeCliRun(args)]];

for (const [name, run] of runners) {
  test(`${name} CLI: finetune writes an ordinary model with training metadata`, async (t) => {
    if (name === 'native' && !nativeCliRun(['--help'])) return t.skip('native CLI not built');
    const out = join(dir, `${name}.gguf`);
    const r = run(['finetune', '--model', tiny, '--to', 'es', '--pairs', pairs, '--replay', replay, '-o', out, '--steps', '6', '--lr', '0.005', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.losses.length, 6);
    assert.ok(j.losses[5] < j.losses[0], `loss ${j.losses[0]} -> ${j.losses[5]}`);
    assert.equal(j.info.pairs, 2);
    assert.equal(j.info.replay, 2);
    assert.match(r.stderr, /step 6(\/6)? loss \d/);
    const rt = await runtime();
    const m = rt.loadModel(readFileSync(out));
    assert.equal(m.arch, 'marian');
    m.free();
    const bytes = readFileSync(out).toString('latin1');
    assert.ok(bytes.includes('training.base_model.sha256') && bytes.includes('training.pairs'), 'metadata');
    const tr = run(['translate', '--model', out, '--to', 'es', '--json', 'the cat']);
    assert.equal(tr.code, 0, tr.stderr);
    assert.equal(JSON.parse(tr.stdout).translations.length, 1);
  });

  test(`${name} CLI: finetune's bad input gets one-line errors`, (t) => {
    if (name === 'native' && !nativeCliRun(['--help'])) return t.skip('native CLI not built');
    const out = join(dir, 'x.gguf');
    const base = ['finetune', '--model', tiny, '--to', 'es', '-o', out, '--replay', 'none'];
    const write = (n, s) => { const p = join(dir, n); writeFileSync(p, s); return p; };
    oneLineError(run([...base, '--pairs', write('empty.tsv', '\n# nothing\n')]), /no pairs/);
    oneLineError(run([...base, '--pairs', write('three.tsv', 'a\tb\tc\n')]), /three\.tsv:1: expected source<TAB>target, found 3 columns/);
    oneLineError(run([...base, '--pairs', write('one.tsv', 'the cat\tel gato\njust one column\n')]), /one\.tsv:2: expected source<TAB>target, found 1 column$/);
    oneLineError(run([...base, '--pairs', write('blank.tsv', 'the cat\t  \n')]), /blank\.tsv:1:.*empty/);
    oneLineError(run([...base, '--pairs', write('long.tsv', 'a '.repeat(400) + '\tb\n')]), /long\.tsv:1:.*too long/);
    oneLineError(run([...base, '--pairs', join(dir, 'missing.tsv')]), /cannot read pairs/);
    oneLineError(run([...base.slice(0, 2), llama, '-o', out, '--pairs', pairs]), /marian/);
    oneLineError(run(['finetune', '--model', tiny, '--pairs', pairs]), /-o out\.gguf/);
    oneLineError(run(['finetune', '--model', tiny, '-o', out]), /--pairs/);
    oneLineError(run([...base, '--pairs', pairs, '--steps', '0']), /--steps/);
    oneLineError(run([...base, '--pairs', pairs, '--lr', 'fast']), /--lr/);
    oneLineError(run([...base, '--pairs', pairs, '--seed', '-3']), /--seed/);
    oneLineError(run([...base, '--pairs', pairs, '--bogus', '1']), /unknown flag --bogus/);
  });
}

test('wasm CLI: pairs that are not UTF-8 are refused', () => {
  const p = join(dir, 'latin1.tsv');
  writeFileSync(p, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
  oneLineError(cli(['finetune', '--model', tiny, '--to', 'es', '-o', join(dir, 'x.gguf'), '--replay', 'none', '--pairs', p]), /not valid UTF-8/);
});

test('parseTsv: lines, comments, CRLF, columns', () => {
  assert.deepEqual(parseTsv('# c\na\tb\r\n\n c \td\n'), [{ source: 'a', target: 'b', line: 2 }, { source: ' c ', target: 'd', line: 4 }]);
  assert.throws(() => parseTsv('a\tb\nx\n', 'p.tsv'), /p\.tsv:2: expected source<TAB>target, found 1 column$/);
});

test('Node API: model.finetune with progress events, abort, validation', async () => {
  const { load } = await import('../../js/index.js');
  const m = await load(tiny);
  try {
    const seen = [];
    const r = await m.finetune([{ source: 'the cat', target: 'el gato' }, ['hello world', 'hola mundo']], {
      to: 'es', steps: 4, lr: 0.005, replay: ['good morning'], onProgress: (p) => seen.push(p),
    });
    assert.equal(r.reason, 'done');
    assert.deepEqual(seen.map((p) => p.step), [1, 2, 3, 4]);
    assert.ok(seen.every((p) => p.steps === 4 && Number.isFinite(p.loss)));
    assert.equal(r.info.pairs, 2);
    assert.ok(r.losses[3] < r.losses[0]);
    const tuned = await load(r.bytes);
    assert.equal(tuned.arch, 'marian');
    let text = '';
    for await (const piece of tuned.translate('the cat', { to: 'es' })) text += piece.text;
    assert.ok(text.length > 0);
    await tuned.dispose();

    const ac = new AbortController();
    const ab = await m.finetune([['the cat', 'el gato']], { to: 'es', steps: 50, signal: ac.signal, onProgress: (p) => { if (p.step === 2) ac.abort(); } });
    assert.equal(ab.reason, 'abort');
    assert.ok(ab.losses.length < 50);

    await assert.rejects(m.finetune([], { to: 'es' }), (e) => e.code === 'E_ARG' && /non-empty/.test(e.message));
    await assert.rejects(m.finetune([{ source: '', target: 'x' }], { to: 'es' }), (e) => /pair 1: .*empty/.test(e.message));
    await assert.rejects(m.finetune([{ source: 'a' }], { to: 'es' }), (e) => e.code === 'E_ARG');
  } finally {
    await m.dispose();
  }
  const l = await load(llama);
  try {
    await assert.rejects(l.finetune([['a', 'b']]), (e) => e.code === 'E_KIND' && /marian/.test(e.message));
  } finally {
    await l.dispose();
  }
});
