// node-api.test.mjs — the npm package's high-level API (js/index.js) in Node,
// where each model runs in a worker_threads worker (js/worker.js): loading
// from a path, bytes and a Blob with progress, streamed generation, abort,
// multi-turn chat, translation, and every error path. The same API in a
// browser is exercised through the page by page.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, AtentoError, formatBytes } from '../../js/index.js';
import { root, chatModel, randomLlama, translateModel, shippedModels } from './helpers.mjs';

const wasm = join(root, 'dist', 'atento.wasm');
const needWasm = existsSync(wasm) ? false : 'dist/atento.wasm is missing: run ./build.sh';
const chat = chatModel();
const marian = translateModel();
const shippedTranslate = shippedModels().find((x) => x.kind === 'translate')?.path;
const T = { skip: needWasm, timeout: 120000 };

function noChat() {
  if (!chat) throw new Error('no chat model: neither the shipped one nor tests/data/llama/*.gguf exists');
}

test('load a model from a path with progress, and describe it', T, async () => {
  noChat();
  const seen = [];
  const m = await load(chat, { onProgress: (p) => seen.push(p) });
  try {
    assert.ok(['llama', 'qwen2'].includes(m.arch), m.arch);
    assert.equal(m.kind, 'chat');
    assert.equal(m.info.fileSize, readFileSync(chat).length);
    assert.ok(m.info.nVocab > 0 && m.info.memoryBytes >= m.info.fileSize);
    const last = seen.at(-1);
    assert.equal(last.loaded, m.info.fileSize);
    assert.equal(last.percent, 100);
    assert.equal(last.phase, 'read');
    assert.ok(seen.every((p, i) => i === 0 || p.loaded >= seen[i - 1].loaded));
  } finally {
    await m.dispose();
  }
});

test('generate streams pieces whose text and tokens add up to the result', T, async () => {
  noChat();
  const m = await load(new Uint8Array(readFileSync(chat)));
  try {
    const stream = m.generate('Once upon a time', { maxTokens: 12, temperature: 0, topN: 3 });
    const pieces = [];
    for await (const p of stream) pieces.push(p);
    const r = await stream;
    assert.ok(['length', 'eog', 'stop'].includes(r.reason), r.reason);
    assert.equal(pieces.map((p) => p.text).join(''), r.text);
    assert.deepEqual(pieces.filter((p) => p.token >= 0).map((p) => p.token), r.tokens);
    assert.ok(r.tokens.length >= 1 && r.tokens.length <= 12);
    if (r.reason === 'length') assert.equal(r.tokens.length, 12);
    assert.ok(r.stats.promptTokens >= 4 && r.stats.genTokens === r.tokens.length);
    // top-3 alternatives: sorted probabilities, and greedy picks the first.
    for (const p of pieces.filter((x) => x.token >= 0)) {
      assert.equal(p.top.length, 3);
      assert.ok(p.top[0].p >= p.top[1].p && p.top[1].p >= p.top[2].p && p.top[0].p <= 1);
      assert.equal(p.top[0].token, p.token);
    }
    // Greedy is deterministic.
    const again = await m.generate('Once upon a time', { maxTokens: 12, temperature: 0 });
    assert.deepEqual(again.tokens, r.tokens);
  } finally {
    await m.dispose();
  }
});

test('abort stops a long generation within a token or two, and the model stays usable', T, async () => {
  // A random-weight model babbles on without an end-of-generation token.
  const babbler = randomLlama();
  assert.ok(babbler, 'cannot make a test model with models/tools/make_llama.py');
  const m = await load(babbler);
  try {
    const stream = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 7, nCtx: 2048 });
    let n = 0, after = 0, aborted = false;
    for await (const p of stream) {
      if (aborted) after++;
      if (++n === 5) { m.abort(); aborted = true; }
    }
    const r = await stream;
    assert.equal(r.reason, 'abort');
    assert.equal(after, 0, `${after} pieces arrived after abort`);
    assert.ok(r.tokens.length >= 5 && r.tokens.length < 2000, `${r.tokens.length} tokens`);
    // An AbortSignal works too, and breaking out of the loop stops it as well.
    const ac = new AbortController();
    // Seed 7 as above: that run went on for at least 5 tokens, so no
    // end-of-generation token can end these before they are stopped.
    const s2 = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 7, signal: ac.signal, nCtx: 2048 });
    let k = 0;
    for await (const _ of s2) if (++k === 3) ac.abort();
    assert.equal((await s2).reason, 'abort');
    const s3 = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 7, nCtx: 2048 });
    for await (const _ of s3) break;
    assert.equal((await s3).reason, 'abort');
    const ok = await m.generate('The', { maxTokens: 3, temperature: 0 });
    assert.ok(ok.tokens.length >= 1);
  } finally {
    await m.dispose();
  }
});

test('chat: the second turn reuses the KV cache of the first', T, async () => {
  noChat();
  const m = await load(chat);
  try {
    const msgs = [{ role: 'system', content: 'You are a tutor.' }, { role: 'user', content: 'How do you say cat in Spanish?' }];
    const r1 = await m.chat(msgs, { maxTokens: 8, temperature: 0 });
    assert.ok(r1.stats.promptTokens > 5);
    msgs.push({ role: 'assistant', content: r1.text }, { role: 'user', content: 'And dog?' });
    const r2 = await m.chat(msgs, { maxTokens: 8, temperature: 0 });
    assert.ok(r2.reusedTokens > 0, `no KV-cache reuse on the second turn (${JSON.stringify(r2.stats)})`);
    assert.ok(r2.stats.promptTokens < r1.stats.promptTokens + 20, `the second turn evaluated ${r2.stats.promptTokens} tokens`);
    assert.equal(r2.droppedMessages, 0);
    await m.resetChat();
    const r3 = await m.chat(msgs, { maxTokens: 2 });
    assert.equal(r3.reusedTokens, 0);
  } finally {
    await m.dispose();
  }
});

test('translate splits sentences and streams each one', { ...T, skip: needWasm || (!marian && 'no marian model (shipped or tests/data/marian) yet') }, async () => {
  const m = await load(marian);
  try {
    assert.equal(m.kind, 'translate');
    const starts = [];
    const stream = m.translate('The cat sleeps.\nI like books.', { onSentence: (s) => starts.push(s) });
    const pieces = [];
    for await (const p of stream) pieces.push(p);
    const r = await stream;
    assert.equal(r.sentences.length, 2);
    assert.deepEqual(starts.map((s) => s.source), ['The cat sleeps.', 'I like books.']);
    assert.equal(starts[0].sep, '\n');
    assert.ok(r.text.includes('\n'), 'the line break was lost');
    assert.ok(pieces.some((p) => p.sentence === 0) && pieces.some((p) => p.sentence === 1));
    // Beam search gives each sentence whole; with attention asked, the
    // weights come as layer x head x target x source rows that sum to 1.
    const done = [];
    const b = await m.translate('The cat sleeps.', { beam: 4, attention: true, onSentenceDone: (s) => done.push(s) });
    assert.ok(b.text.trim().length > 0);
    const a = done[0].attention;
    if (a) {
      assert.equal(a.data.length, a.nLayers * a.nHeads * a.nTgt * a.nSrc);
      assert.equal(a.nSrc, done[0].sourceTokens.length);
      assert.equal(done[0].sourcePieces.length, a.nSrc);
      const row = a.data.subarray(0, a.nSrc).reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(row - 1) < 1e-3, `attention row sums to ${row}`);
    }
    if (m.info.name === 'translate-en-es.gguf') {
      // The shipped model goes both ways (target-language tags); paragraphs survive.
      const en = await m.translate('El gato duerme en el sofá.\n\nBuenos días.', { to: 'en' });
      assert.match(en.text, /cat/i);
      assert.match(en.text, /\n\n/);
      const es = await m.translate('The dog is eating.', { to: 'es' });
      assert.match(es.text, /perro/i);
    }
    await assert.rejects(m.chat([{ role: 'user', content: 'hi' }]), (e) => e.code === 'E_KIND');
  } finally {
    await m.dispose();
  }
});

test('translate with mixed: each sentence of pasted English and Spanish goes its own way', { ...T, skip: needWasm || (!shippedTranslate && 'the shipped translation model is missing') }, async () => {
  const m = await load(shippedTranslate);
  try {
    const text = 'The cat is sleeping on the sofa. El perro come pan en la cocina. Yes.\n\nI like to read books in the evening. Me gusta mucho la música. Hola.';
    const starts = [];
    const r = await m.translate(text, { mixed: true, onSentence: (s) => starts.push(s) });
    assert.equal(r.mixed, true);
    // Long sentences by their own language; the short ones follow a long
    // neighbour of their language ("Yes." the next sentence, "Hola." the one before).
    assert.deepEqual(r.sentences.map((s) => `${s.from}>${s.to}`), ['en>es', 'es>en', 'en>es', 'en>es', 'es>en', 'es>en']);
    assert.deepEqual(starts.map((s) => s.to), r.sentences.map((s) => s.to));
    assert.match(r.sentences[0].text, /gato/i);
    assert.match(r.sentences[1].text, /dog/i);
    assert.match(r.sentences[3].text, /libros/i);
    assert.match(r.sentences[4].text, /music/i);
    assert.match(r.text, /\n\n/, 'the paragraph break is kept');
    assert.equal(r.text, r.sentences.map((s, i) => s.text + starts[i].sep).join(''), 'the pieces add up to the text, separators included');
    // Without mixed the text goes one way, as before; one language is not "mixed".
    const one = await m.translate(text);
    assert.equal(one.mixed, undefined);
    assert.ok(one.sentences.every((s) => s.to === 'es'));
    const plain = await m.translate('The cat sleeps. I like books.', { mixed: true });
    assert.equal(plain.mixed, undefined);
    assert.deepEqual(plain.sentences.map((s) => s.to), ['es', 'es']);
    // `to` wins over mixed: everything into Spanish.
    const to = await m.translate('El perro come pan en la cocina. I like to read books.', { mixed: true, to: 'es' });
    assert.equal(to.mixed, undefined);
    assert.ok(to.sentences.every((s) => s.to === 'es'));
  } finally {
    await m.dispose();
  }
});

test('errors: damaged and missing files, wrong kind, bad arguments, use after dispose', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atento-api-'));
  const junk = join(dir, 'junk.gguf');
  writeFileSync(junk, Buffer.alloc(1000, 7));
  await assert.rejects(load(junk), (e) => e instanceof AtentoError && e.code === 'E_LOAD' && /junk\.gguf/.test(e.message) && !e.message.includes('\n'));
  await assert.rejects(load(join(dir, 'nope.gguf')), (e) => e.code === 'E_LOAD' && /no such file/.test(e.message));
  await assert.rejects(load(join(root, 'tests', 'fixtures', 'gguf', 'types.gguf')), (e) => e.code === 'E_LOAD' && /unsupported architecture/.test(e.message));
  await assert.rejects(load(42), (e) => e.code === 'E_ARG');
  await assert.rejects(load(new Uint8Array(0)), (e) => e instanceof AtentoError && e.code === 'E_LOAD');
  await assert.rejects(load('http://127.0.0.1:9/none.gguf'), (e) => e.code === 'E_FETCH');
  if (chat) {
    const bytes = readFileSync(chat);
    await assert.rejects(load(new Blob([bytes.subarray(0, bytes.length >> 1)])), (e) => e.code === 'E_LOAD');
    const m = await load(new Blob([bytes]));
    await assert.rejects(m.translate('Hello'), (e) => e.code === 'E_KIND');
    await assert.rejects(m.chat([]), (e) => e.code === 'E_ARG');
    await assert.rejects(m.chat([{ role: 'user' }]), (e) => e.code === 'E_ARG');
    await assert.rejects(m.generate(''), (e) => e.code === 'E_ARG');
    await m.dispose();
    await assert.rejects(m.generate('x'), (e) => e.code === 'E_DISPOSED');
  }
  assert.equal(formatBytes(1500000), '1.5 MB');
});

test('a Node program that forgets dispose() still exits', T, () => {
  if (!chat) return;
  const code = `import { load } from ${JSON.stringify(join(root, 'js', 'index.js'))};
    const m = await load(${JSON.stringify(chat)});
    const r = await m.generate('Hi', { maxTokens: 2 });
    console.log('ok', r.tokens.length);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.signal, null, 'did not exit');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ok \d/);
});
