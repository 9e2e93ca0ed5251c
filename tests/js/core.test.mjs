// core.test.mjs — js/core.js over dist/atento.wasm: loading, exports, error
// paths, and (with the committed test models) tokenizing, evaluating,
// scoring and streaming generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { initAtento, AtentoError } from '../../js/core.js';
import { runtime, wasmPath, declaredApi, llamaModels, maxAbs } from './helpers.mjs';

test('the module exports every ATN_API function of atento.h, and imports nothing unexpected', async () => {
  const mod = new WebAssembly.Module(readFileSync(wasmPath));
  const exported = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
  const missing = declaredApi().filter((n) => !exported.has(n));
  assert.deepEqual(missing, [], `not exported (not defined yet?): ${missing.join(' ')}`);
  assert.ok(exported.has('memory'));
  for (const imp of WebAssembly.Module.imports(mod)) {
    assert.equal(imp.kind, 'function', `${imp.module}.${imp.name}`);
    assert.ok(['env', 'wasi_snapshot_preview1'].includes(imp.module), `${imp.module}.${imp.name}`);
  }
});

test('initAtento accepts bytes, a WebAssembly.Module and a file URL, and rejects junk', async () => {
  const bytes = readFileSync(wasmPath);
  const a = await initAtento(bytes);
  assert.ok(a.memoryBytes >= 16 * 2 ** 20);
  const b = await initAtento(new WebAssembly.Module(bytes));
  assert.equal(typeof b.exports.atn_last_error, 'function');
  const c = await initAtento(new URL('../../dist/atento.wasm', import.meta.url));
  assert.equal(typeof c.exports.atn_malloc, 'function');
  await assert.rejects(initAtento(new Uint8Array([1, 2, 3, 4])), (e) => e instanceof AtentoError && e.code === 'E_WASM');
  await assert.rejects(initAtento(new URL('file:///nonexistent/atento.wasm')), (e) => e.code === 'E_WASM' && /build\.sh/.test(e.message));
  await assert.rejects(initAtento(42), (e) => e.code === 'E_ARG');
});

test('malloc/free and memory growth keep views valid', async () => {
  const rt = await runtime();
  const before = rt.memoryBytes;
  const p = rt.malloc(64 * 2 ** 20); // forces growth past the 16 MiB start
  assert.ok(rt.memoryBytes > before);
  rt.u8[p] = 7;
  rt.u8[p + 64 * 2 ** 20 - 1] = 9;
  assert.equal(rt.u8[p], 7);
  rt.free(p);
  assert.throws(() => rt.malloc(2 ** 32 - 16), (e) => e.code === 'E_NOMEM');
});

test('damaged model bytes give E_LOAD with a one-line message, and the runtime keeps working', async () => {
  const rt = await runtime();
  const cases = [
    new Uint8Array(0),
    new Uint8Array([1, 2, 3]),
    new TextEncoder().encode('definitely not a gguf file, just some text'),
    new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0]), // "GGUF" v3, then nothing
    new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]),
  ];
  for (const bytes of cases) {
    assert.throws(() => rt.loadModel(bytes), (e) => {
      assert.ok(e instanceof AtentoError, String(e));
      assert.equal(e.code, 'E_LOAD');
      assert.ok(e.message.length > 0 && !e.message.includes('\n'), JSON.stringify(e.message));
      return true;
    });
  }
  assert.throws(() => rt.loadModel('not bytes'), (e) => e.code === 'E_ARG');
  // Failed loads free their bytes: memory does not keep growing.
  const big = new Uint8Array(8 * 2 ** 20);
  for (let i = 0; i < 3; i++) assert.throws(() => rt.loadModel(big));
  const after = rt.memoryBytes;
  for (let i = 0; i < 10; i++) assert.throws(() => rt.loadModel(big));
  assert.equal(rt.memoryBytes, after);
});

test('sampler parameters round-trip through the C struct', async () => {
  const rt = await runtime();
  const d = rt.samplerDefaults();
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'seed']) assert.ok(k in d, k);
  assert.equal(typeof d.seed, 'bigint');
  const s = rt.newSampler({ temperature: 0 });
  // Greedy: the largest logit wins, whatever the seed.
  const logits = new Float32Array(100).map((_, i) => Math.sin(i));
  let best = 0;
  for (let i = 1; i < 100; i++) if (logits[i] > logits[best]) best = i;
  assert.equal(s.sample(logits), best);
  s.free();
  assert.throws(() => s.sample(logits), (e) => e.code === 'E_FREED');
  s.free(); // twice is harmless
  assert.throws(() => rt.newSampler({ topK: 1.5 }), (e) => e.code === 'E_ARG');
  assert.throws(() => rt.newSampler({ seed: -1 }), (e) => e.code === 'E_ARG');
  assert.throws(() => rt.newSampler({ temperature: NaN }), (e) => e.code === 'E_ARG');
});

test('seeded sampling is deterministic', async () => {
  const rt = await runtime();
  const logits = new Float32Array(1000).map((_, i) => Math.cos(i * 0.37) * 3);
  const draw = (seed) => {
    const s = rt.newSampler({ temperature: 1, topK: 0, topP: 1, minP: 0, seed });
    const out = [];
    for (let i = 0; i < 50; i++) out.push(s.sample(logits));
    s.free();
    return out;
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

for (const path of llamaModels()) {
  const name = basename(path);

  test(`${name}: loads, describes itself, frees`, async () => {
    const rt = await runtime();
    const bytes = readFileSync(path);
    const before = rt.memoryBytes;
    const m = rt.loadModel(bytes);
    assert.ok(['llama', 'qwen2'].includes(m.arch), m.arch);
    assert.ok(m.nVocab > 0);
    const info = m.info();
    assert.equal(typeof info, 'object');
    // One copy of the file: wasm memory grows by about the file size, not twice it.
    assert.ok(rt.memoryBytes - before < 2 * bytes.length + 32 * 2 ** 20, `memory grew by ${rt.memoryBytes - before} for a ${bytes.length}-byte file`);
    const s = m.newSession(64);
    // keys and values of every layer and position; half of that in f16
    const { n_layer: l, n_head_kv: h, head_dim: d } = info.hparams;
    assert.equal(s.kvBytes, 2 * l * 64 * h * d * 4);
    const s16 = m.newSession(64, { kvType: 'f16' });
    assert.equal(s16.kvBytes, 2 * l * 64 * h * d * 2);
    s16.free();
    m.free();
    assert.throws(() => m.tokenize('x'), (e) => e.code === 'E_FREED');
    assert.throws(() => s.eval([1]), (e) => e.code === 'E_FREED'); // freed with its model
    m.free();
  });

  const refPath = path.replace(/\.gguf$/, '.ref');
  test(`${name}: logits match the NumPy float64 reference (models/tools/reference_llama.py)`, { skip: !existsSync(refPath) && 'no .ref file' }, async () => {
    // .ref: int32 n, int32 n_vocab, n int32 ids, n x n_vocab float32 logits.
    const ref = readFileSync(refPath);
    const dv = new DataView(ref.buffer, ref.byteOffset, ref.byteLength);
    const n = dv.getInt32(0, true), V = dv.getInt32(4, true);
    assert.equal(ref.length, 8 + 4 * n + 4 * n * V);
    const ids = Array.from({ length: n }, (_, i) => dv.getInt32(8 + 4 * i, true));
    const logitsAt = (t) => new Float32Array(ref.buffer.slice(ref.byteOffset + 8 + 4 * n + 4 * V * t, ref.byteOffset + 8 + 4 * n + 4 * V * (t + 1)));
    const rt = await runtime();
    const m = rt.loadModel(readFileSync(path));
    try {
      assert.equal(m.nVocab, V);
      // Same tolerances as tests/c/test_llama.c: float weights leave only
      // float32 rounding; quantized weights add the kernels' 8-bit
      // activation quantization (the reference uses the dequantized weights).
      const tol = /f32|f16/.test(name) ? 1e-3 : 3e-2;
      let scale = 0;
      for (let t = 0; t < n; t++) scale = Math.max(scale, maxAbs(logitsAt(t)));
      const s = m.newSession(n);
      s.eval(ids, { allLogits: true });
      let worst = 0;
      for (let t = 0; t < n; t++) worst = Math.max(worst, maxAbsDiffArr(s.logits(t), logitsAt(t)));
      assert.ok(worst <= tol * scale, `max |wasm - reference| = ${worst} > ${tol} x ${scale}`);
      // Token by token through the KV cache: the same reference.
      s.truncate(0);
      let worst1 = 0;
      for (let t = 0; t < n; t++) {
        s.eval([ids[t]]);
        worst1 = Math.max(worst1, maxAbsDiffArr(s.logits(), logitsAt(t)));
      }
      assert.ok(worst1 <= tol * scale, `token by token: max diff ${worst1} > ${tol} x ${scale}`);
      s.free();
    } finally {
      m.free();
    }
  });

  test(`${name}: tokenize / detokenize round trip`, async () => {
    const rt = await runtime();
    const m = rt.loadModel(readFileSync(path));
    try {
      for (const text of ['Hello world', 'The quick brown fox jumps over the lazy dog.', 'naïve café — ¿qué tal? 日本語 🙂', ' leading space', 'a\nb\tc']) {
        const ids = m.tokenize(text, { addSpecial: false });
        assert.ok(ids instanceof Int32Array && ids.length > 0);
        for (const id of ids) assert.ok(id >= 0 && id < m.nVocab);
        assert.equal(m.detokenize(ids), text, JSON.stringify(text));
        // Token bytes concatenated give the same text (minus an SPM leading space).
        const parts = Array.from(ids, (id) => m.tokenToBytes(id));
        const joined = new TextDecoder().decode(Buffer.concat(parts));
        assert.ok(joined === text || joined === ' ' + text, JSON.stringify(joined));
      }
      const withBos = m.tokenize('Hello', { addSpecial: true });
      const without = m.tokenize('Hello', { addSpecial: false });
      if (m.bos >= 0 && withBos.length === without.length + 1) assert.equal(withBos[0], m.bos);
      assert.equal(m.tokenize('', { addSpecial: false }).length, 0);
      assert.equal(typeof m.piece(without[0]), 'string');
      assert.throws(() => m.tokenToBytes(m.nVocab), (e) => e.code === 'E_DETOKENIZE');
      assert.throws(() => m.detokenize([m.nVocab + 5]), (e) => e.code === 'E_DETOKENIZE');
      assert.throws(() => m.detokenize([1.5]), (e) => e.code === 'E_ARG');
    } finally {
      m.free();
    }
  });

  test(`${name}: eval, logits, incremental eval equals batched eval, score`, async () => {
    const rt = await runtime();
    const m = rt.loadModel(readFileSync(path));
    try {
      const ids = Array.from({ length: 12 }, (_, i) => (i * 37 + 5) % m.nVocab);
      const s = m.newSession(32);
      s.eval(ids, { allLogits: true });
      assert.equal(s.nPast, ids.length);
      const all = ids.map((_, i) => s.logits(i));
      assert.equal(all[0].length, m.nVocab);
      for (const l of all) for (const v of l) assert.ok(Number.isFinite(v));
      assert.deepEqual(s.logits(-1), all[ids.length - 1]);
      // Token by token through the cache gives the same logits.
      s.truncate(0);
      assert.equal(s.nPast, 0);
      for (let i = 0; i < ids.length; i++) {
        s.eval([ids[i]]);
        const d = maxAbsDiffArr(s.logits(), all[i]);
        assert.ok(d <= 1e-3 * Math.max(1, maxAbs(all[i])), `token ${i}: incremental differs from batched by ${d}`);
      }
      // Scores are the log-softmax of those logits.
      const lp = s.score(ids);
      assert.equal(lp.length, ids.length - 1);
      for (let i = 1; i < ids.length; i++) {
        const l = all[i - 1];
        let mx = -Infinity;
        for (const v of l) mx = Math.max(mx, v);
        let z = 0;
        for (const v of l) z += Math.exp(v - mx);
        const want = l[ids[i]] - mx - Math.log(z);
        assert.ok(Math.abs(lp[i - 1] - want) < 2e-3 * Math.max(1, Math.abs(want)), `logprob ${i}: ${lp[i - 1]} vs ${want}`);
      }
      // Errors: bad ids, context overflow.
      s.truncate(0);
      assert.throws(() => s.eval([m.nVocab]), (e) => e.code === 'E_EVAL' && e.message.length > 0);
      assert.throws(() => s.eval([-1]), (e) => e.code === 'E_EVAL');
      assert.throws(() => s.eval(new Array(33).fill(1)), (e) => e.code === 'E_EVAL');
      assert.throws(() => s.eval(['x']), (e) => e.code === 'E_ARG');
      s.free();
    } finally {
      m.free();
    }
  });

  test(`${name}: streaming generation is greedy-deterministic and honours maxTokens and stop`, async () => {
    const rt = await runtime();
    const m = rt.loadModel(readFileSync(path));
    try {
      const prompt = m.tokenize('Once upon a time');
      const run = (opts, samplerOpts = { temperature: 0 }) => {
        const s = m.newSession(prompt.length + 40);
        const smp = m.newSampler(samplerOpts);
        s.eval(prompt);
        const pieces = [];
        const it = m.generate(s, smp, opts);
        let r;
        for (;;) {
          r = it.next();
          if (r.done) break;
          pieces.push(r.value);
        }
        smp.free();
        s.free();
        return { pieces, result: r.value };
      };
      const a = run({ maxTokens: 16 });
      const b = run({ maxTokens: 16 });
      assert.deepEqual(a, b);
      assert.ok(a.result.tokens.length <= 16);
      if (a.result.reason === 'length') assert.equal(a.result.tokens.length, 16);
      const text = a.pieces.map((p) => p.text).join('');
      // Pieces are whole characters: joining them equals detokenizing the ids.
      // (detokenize treats the ids as a whole text, so SentencePiece drops
      // its leading space; a continuation keeps it.)
      const dt = m.detokenize(a.result.tokens);
      // (stray invalid bytes become U+FFFD, more or fewer depending on how
      // they are grouped: compare without them)
      const noLead = (t) => t.replace(/\uFFFD/g, '').replace(/^ /, '');
      assert.ok(noLead(dt).startsWith(noLead(text)), `${JSON.stringify(text)} vs ${JSON.stringify(dt)}`);
      for (const p of a.pieces) assert.ok(!p.text.includes('\uFFFD') || dt.includes('\uFFFD'));
      // Greedy generation equals argmax over logits, step by step.
      const s = m.newSession(prompt.length + 40);
      s.eval(prompt);
      const greedy = [];
      for (let i = 0; i < a.result.tokens.length; i++) {
        const l = s.logits();
        let best = 0;
        for (let v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
        greedy.push(best);
        s.eval([best]);
      }
      s.free();
      assert.deepEqual(a.result.tokens, greedy);
      // A stop string taken from the output ends the generation before it.
      // (random models emit stray bytes: take printable ASCII, which is the
      // same in the text and in the bytes the C side compares)
      const at = text.slice(1).search(/[!-~]{2}/) + 1;
      if (at > 0) {
        const stop = text.slice(at, at + 2);
        const c = run({ maxTokens: 16, stop: [stop] });
        const ctext = c.pieces.map((p) => p.text).join('');
        assert.ok(!ctext.includes(stop), `${JSON.stringify(ctext)} contains the stop string ${JSON.stringify(stop)}`);
        assert.ok(text.startsWith(ctext));
        assert.equal(c.result.reason, 'stop');
      }
      // Breaking out early frees the generator; the session stays usable.
      const s2 = m.newSession(prompt.length + 40);
      const smp = m.newSampler({ temperature: 0.9, seed: 3 });
      s2.eval(prompt);
      for (const _ of m.generate(s2, smp, { maxTokens: 10 })) break;
      s2.eval([prompt[0]]);
      smp.free();
      s2.free();
      // Seeded sampling reproduces itself.
      assert.deepEqual(run({ maxTokens: 12 }, { temperature: 1, seed: 5 }), run({ maxTokens: 12 }, { temperature: 1, seed: 5 }));
    } finally {
      m.free();
    }
  });
}

function maxAbsDiffArr(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
