// translate_shipped.test.mjs — the shipped English<->Spanish model
// (models/translate-en-es.gguf): held-out sentences of the test split
// (models/train/split/test.tsv, never seen in training) translate to their
// reference, a pasted page keeps its layout, greedy and beam agree on easy
// sentences, and the CLI's defaults pick this model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, root, runtime } from './helpers.mjs';
import { translateStream, scoreMarian } from '../../js/cli/translate.js';
import { convertMarian } from '../../js/convert/marian.js';
import { makeQuantizer } from '../../js/cli/convert.js';

const shipped = join(root, 'models', 'translate-en-es.gguf');
const skip = !existsSync(shipped) && 'models/translate-en-es.gguf is missing';

// [source, reference, target language]: lines of models/train/split/test.tsv
const HELD_OUT = [
  ['I am tired of my work.', 'Estoy cansado de mi trabajo.', 'es'],
  ['I want to go to Italy.', 'Quiero ir a Italia.', 'es'],
  ['Do you see what I mean?', '¿Ves lo que quiero decir?', 'es'],
  ['I have a bad pain here.', 'Tengo un fuerte dolor aquí.', 'es'],
  ['Detesto a los mentirosos.', 'I hate liars.', 'en'],
  ['Muéstrame cómo hacerlo.', 'Show me how to do it.', 'en'],
];

function translate(rt, m, text, opts) {
  let out = '';
  const sentences = [];
  for (const { piece, sentence } of translateStream(rt, m, text, opts)) {
    out += piece;
    if (sentence) sentences.push(sentence);
  }
  return { out, sentences };
}

test('held-out sentences are in the test split and translate to their reference (greedy and beam 4)', { skip }, async () => {
  const split = readFileSync(join(root, 'models', 'train', 'split', 'test.tsv'), 'utf8');
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(shipped));
  for (const [src, ref, to] of HELD_OUT) {
    const pair = to === 'es' ? `${src}\t${ref}` : `${ref}\t${src}`;
    assert.ok(split.includes(pair), `not a test-split pair: ${pair}`);
    for (const beam of [1, 4]) assert.equal(translate(rt, m, src, { to, beam }).out, ref, `${src} (beam ${beam})`);
  }
  m.free();
});

test('a pasted page: paragraphs and line breaks kept, each sentence translated', { skip }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(shipped));
  const page = `${HELD_OUT[0][0]} ${HELD_OUT[1][0]}\n\n${HELD_OUT[2][0]}\n${HELD_OUT[3][0]}\n`;
  const { out, sentences } = translate(rt, m, page, { to: 'es' });
  assert.equal(out, `${HELD_OUT[0][1]} ${HELD_OUT[1][1]}\n\n${HELD_OUT[2][1]}\n${HELD_OUT[3][1]}\n`);
  assert.deepEqual(sentences.map((s) => s.source), HELD_OUT.slice(0, 4).map((h) => h[0]));
  m.free();
});

test('attention: rows are distributions and the tag/EOS columns exist', { skip }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(shipped));
  const { sentences } = translate(rt, m, 'I want to go to Italy.', { to: 'es', attention: true });
  const s = sentences[0];
  assert.equal(s.attention.length, s.tokens.length);
  for (const row of s.attention) {
    assert.equal(row.length, s.sourceTokens.length);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-2);
  }
  // "Italia" attends most to a piece of "Italy" (a sanity check of the alignment)
  const it = s.tokens.findIndex((id) => /Italia/.test(m.piece(id)));
  assert.ok(it >= 0);
  const j = s.attention[it].indexOf(Math.max(...s.attention[it]));
  assert.match(m.piece(s.sourceTokens[j]), /It|aly/);
  m.free();
});

test('score: the reference is more likely than a wrong translation', { skip }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(shipped));
  const good = scoreMarian(rt, m, { source: 'I want to go to Italy.', target: 'Quiero ir a Italia.', to: 'es' });
  const bad = scoreMarian(rt, m, { source: 'I want to go to Italy.', target: 'El perro come pan.', to: 'es' });
  assert.ok(good.logprob > bad.logprob + 10, `${good.logprob} vs ${bad.logprob}`);
  m.free();
});

test('CLI defaults: no --model uses the shipped model, --to picks the direction', { skip }, () => {
  let r = cli(['translate', '--text', HELD_OUT[1][0]]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, HELD_OUT[1][1] + '\n');
  r = cli(['translate', '--to', 'en', '--json'], { input: HELD_OUT[5][0] });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).translations[0].text, HELD_OUT[5][1]);
});

const hfDir = join(root, 'models', 'train', 'out', 'translate', 'marian');
test('the shipped GGUF is exactly `atento convert marian` of the trained checkpoint', { skip: !existsSync(hfDir) && 'no local training output' }, async () => {
  const rt = await runtime();
  const { bytes } = convertMarian(hfDir, { type: 'q8_0', quantize: makeQuantizer(rt) });
  assert.ok(Buffer.from(bytes).equals(readFileSync(shipped)));
});

// ---- the independent check against PyTorch (models/train/reference, H6) ----
const refDir = join(root, 'models', 'train', 'reference');
const haveRef = existsSync(join(refDir, 'translate_ref.bin'));

function readMref(path) {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(4, true), V = dv.getUint32(8, true);
  let o = 12;
  const ints = (k) => { const a = []; for (let i = 0; i < k; i++) a.push(dv.getInt32(o + 4 * i, true)); o += 4 * k; return a; };
  const cases = [];
  for (let c = 0; c < n; c++) {
    const ns = dv.getUint32(o, true); o += 4;
    const src = ints(ns);
    const nt = dv.getUint32(o, true); o += 4;
    const tgt = ints(nt);
    cases.push({ src, tgt, logits: new Float32Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 4 * nt * V)) });
    o += 4 * nt * V;
  }
  return { V, cases };
}

function vsReference(m, ref) {
  const s = m.newSession(64);
  let worst = 0, same = 0, n = 0;
  for (const c of ref.cases) {
    s.setSource(c.src);
    s.truncate(0);
    s.eval(c.tgt, { allLogits: true });
    for (let t = 0; t < c.tgt.length; t++) {
      const l = s.logits(t);
      let a = 0, b = 0;
      for (let v = 0; v < ref.V; v++) {
        worst = Math.max(worst, Math.abs(l[v] - c.logits[t * ref.V + v]));
        if (l[v] > l[a]) a = v;
        if (c.logits[t * ref.V + v] > c.logits[t * ref.V + b]) b = v;
      }
      same += a === b;
      n++;
    }
  }
  s.free();
  return { worst, same, n };
}

test('PyTorch reference: shipped q8_0 logits close, same argmax; greedy/beam outputs agree', { skip: (skip || !haveRef) && 'no reference' }, async () => {
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(shipped));
  const r = vsReference(m, readMref(join(refDir, 'translate_ref.bin')));
  assert.ok(r.worst <= 0.5, `q8_0 vs PyTorch: ${r.worst}`);
  assert.equal(r.same, r.n);
  const { sentences } = JSON.parse(readFileSync(join(refDir, 'translate_ref.json'), 'utf8'));
  let g = 0, b4 = 0;
  for (const s of sentences) {
    const to = s.direction.endsWith('es') ? 'es' : 'en';
    // the translator takes text; the reference's source ids must be what it builds
    const { sourceIds } = await import('../../js/cli/translate.js');
    assert.deepEqual(sourceIds(rt, m, s.source, to), s.src_ids, s.source);
    const one = translate(rt, m, s.source, { to }).sentences;
    const four = translate(rt, m, s.source, { to, beam: 4 }).sentences;
    const strip = (ids) => ids.filter((id) => id !== m.eos);
    g += one.length === 1 && JSON.stringify(strip(one[0].tokens)) === JSON.stringify(s.greedy_ids);
    b4 += four.length === 1 && JSON.stringify(strip(four[0].tokens)) === JSON.stringify(s.beam4_ids);
  }
  // q8_0 may flip a near-tie; the f32 check below is exact
  assert.ok(g >= sentences.length - 2, `greedy equal for ${g}/${sentences.length}`);
  assert.ok(b4 >= sentences.length - 3, `beam 4 equal for ${b4}/${sentences.length}`);
  m.free();
});

test('PyTorch reference: f32 conversion of the trained checkpoint within 1e-3 (WASM and native)', { skip: (!existsSync(hfDir) || !haveRef) && 'no local training output' }, async () => {
  const rt = await runtime();
  const { bytes } = convertMarian(hfDir, { type: 'f32' });
  const m = rt.loadModel(bytes);
  const r = vsReference(m, readMref(join(refDir, 'translate_ref.bin')));
  assert.ok(r.worst <= 1e-3, `WASM f32 vs PyTorch: ${r.worst}`);
  assert.equal(r.same, r.n);
  m.free();
  const native = join(root, 'build', 'test_marian');
  if (existsSync(native)) {
    const { writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const { tempDir } = await import('./helpers.mjs');
    const f = join(tempDir(), 'trained.f32.gguf');
    writeFileSync(f, bytes);
    const p = spawnSync(native, [], { cwd: root, encoding: 'utf8', env: { ...process.env, ATENTO_MARIAN_F32: f } });
    assert.equal(p.status, 0, p.stdout.slice(-2000));
    assert.match(p.stdout, /trained\.f32\.gguf vs PyTorch: logits max abs diff/);
  }
});

// Runs in every checkout (no training output needed): the shipped q8_0
// weights, dequantized to f32 by gguf.py's independent NumPy reader, against
// PyTorch logits computed from those same dequantized weights
// (translate_ref_q8_0.bin). With f32 weights no activation is quantized, so
// the math itself must agree to within 1e-3, natively and in WASM.
const haveRefQ8 = existsSync(join(refDir, 'translate_ref_q8_0.bin'));
const python = '/usr/bin/python3';
test('PyTorch reference: the shipped weights in f32 match within 1e-3 (WASM and native)',
  { skip: (skip || !haveRefQ8 || !existsSync(python)) && 'no reference or no python3' }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { tempDir } = await import('./helpers.mjs');
  const f = join(tempDir(), 'shipped.f32.gguf');
  const p = spawnSync(python, [join(root, 'models', 'tools', 'dequantize_gguf.py'), shipped, f], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const rt = await runtime();
  const m = rt.loadModel(readFileSync(f));
  const ref = readMref(join(refDir, 'translate_ref_q8_0.bin'));
  const r = vsReference(m, ref);
  assert.ok(r.worst <= 1e-3, `WASM f32 vs PyTorch: ${r.worst}`);
  assert.equal(r.same, r.n);
  m.free();
  // the native build: test_marian's trained-model check, run on this file and reference
  const native = join(root, 'build', 'test_marian');
  if (existsSync(native)) {
    const env = { ...process.env, ATENTO_MARIAN_F32: f, ATENTO_MARIAN_REF: join(refDir, 'translate_ref_q8_0.bin') };
    const n = spawnSync(native, [], { cwd: root, encoding: 'utf8', env });
    assert.equal(n.status, 0, n.stdout.slice(-2000));
    assert.match(n.stdout, /shipped\.f32\.gguf vs PyTorch: logits max abs diff/);
  }
});

// Bit for bit, not within a tolerance: the native build has WebAssembly's
// arithmetic (no fused multiply-add anywhere, CMakeLists.txt). A last-bit
// difference is not harmless with q8_0 weights: it can flip an activation's
// 8-bit level, and a fine-tuned model scored 5e-3 apart that way. The native
// CLI prints each f32 with 9 significant digits, which gives the f32 back.
test('score: the native build gives the same log p(target | source) as the WASM build, bit for bit', { skip }, async () => {
  const { nativeCli, nativeCliRun } = await import('./helpers.mjs');
  if (!existsSync(nativeCli)) return;
  for (const [source, text, to] of [
    ['I am tired of my work.', 'Estoy cansado de mi trabajo.', null],
    ['I am tired of my work.', 'Estoy cansado de mi trabajo.', 'es'],
    ['¿Dónde está la estación de tren?', 'Where is the train station?', 'en'],
  ]) {
    const args = ['score', '--model', shipped, '--source', source, '--text', text, '--json', ...(to ? ['--to', to] : [])];
    const w = cli(args), n = nativeCliRun(args);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(n.code, 0, n.stderr);
    const a = JSON.parse(w.stdout), b = JSON.parse(n.stdout);
    assert.equal(a.logprobs.length, b.logprobs.length);
    a.logprobs.forEach((x, i) => assert.equal(Math.fround(x), Math.fround(b.logprobs[i]), `${source} (to ${to}) logprob ${i}: wasm ${x} native ${b.logprobs[i]}`));
  }
  const bad = nativeCliRun(['score', '--model', shipped, '--text', 'Hola.']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /give both/);
});
