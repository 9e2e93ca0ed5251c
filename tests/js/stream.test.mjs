// stream.test.mjs — tokens streamed from the model worker (js/worker.js) to
// the API (js/index.js): the worker sends the first token of a job at once
// and the later ones in batches ('tokens' messages, at most one per 16 ms);
// the stream still yields every token once, in order, as the result has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { load } from '../../js/index.js';
import { root } from './helpers.mjs';

const llama = join(root, 'tests', 'data', 'llama', 'llama_q8_0.gguf');
const marian = join(root, 'models', 'translate-en-es.gguf');

/* the worker's messages to the model, by type */
function countMessages(model) {
  const counts = {};
  const orig = model._onMessage.bind(model);
  model._onMessage = (msg) => {
    counts[msg.type] = (counts[msg.type] || 0) + 1;
    orig(msg);
  };
  return counts;
}

test('a generation streams every token once, in order, in fewer messages than tokens', async () => {
  const m = await load(llama);
  try {
    const counts = countMessages(m);
    const stream = m.generate('The', { maxTokens: 200, temperature: 1, seed: 3, nCtx: 256 });
    const got = [];
    for await (const piece of stream) got.push(piece);
    const r = await stream;
    assert.ok(r.tokens.length >= 50, `only ${r.tokens.length} tokens`);
    assert.deepEqual(got.map((p) => p.index), r.tokens.map((_, i) => i));
    assert.deepEqual(got.map((p) => p.token), r.tokens);
    assert.equal(got.map((p) => p.text).join(''), r.text);
    const messages = (counts.token || 0) + (counts.tokens || 0);
    assert.ok(counts.token >= 1, 'the first token comes alone');
    assert.ok(messages < r.tokens.length / 2, `${messages} messages for ${r.tokens.length} tokens`);
  } finally {
    await m.dispose();
  }
});

test('onToken sees each token of a batch; an abort at the first token stops the generation', async () => {
  const m = await load(llama);
  try {
    const seen = [];
    const r = await m.generate('The', { maxTokens: 200, temperature: 1, seed: 3, nCtx: 256, onToken: (p) => seen.push(p.token) });
    assert.deepEqual(seen, r.tokens);
    // the first token leaves the worker at once: an abort then finds it generating
    const stream = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 5, nCtx: 256 });
    for await (const _ of stream) stream.abort();
    const a = await stream;
    assert.equal(a.reason, 'abort');
  } finally {
    await m.dispose();
  }
});

test('a translation streams its pieces in order, each sentence whole', async () => {
  const m = await load(marian);
  try {
    const counts = countMessages(m);
    const text = 'The cat is sleeping on the bed. I would like a cup of coffee, please. Where is the train station?';
    const pieces = [];
    const stream = m.translate(text, { to: 'es' });
    for await (const p of stream) pieces.push(p);
    const r = await stream;
    assert.equal(pieces.map((p) => p.text).join(''), r.text);
    for (let s = 0; s < r.sentences.length; s++) {
      const own = pieces.filter((p) => p.sentence === s).map((p) => p.text).join('');
      assert.equal(own.trim(), r.sentences[s].text.trim(), `sentence ${s}`);
    }
    assert.ok(counts.token >= 1);
  } finally {
    await m.dispose();
  }
});
