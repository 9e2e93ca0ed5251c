// threads.test.mjs — the threaded WebAssembly module (dist/atento-mt.wasm)
// and its loader (js/core.js, js/thread.js) in Node: results bit-identical to
// one thread (llama logits, translations greedy and beam 4), growing and
// shrinking the pool, dispose, a Node process exiting with workers parked,
// abort through the worker API, bad thread counts, and --threads in both CLIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { initAtento, AtentoError } from '../../js/core.js';
import { load } from '../../js/index.js';
import { translateStream } from '../../js/cli/translate.js';
import { root, cli, nativeCliRun } from './helpers.mjs';

const mtPath = join(root, 'dist', 'atento-mt.wasm');
const T = { skip: existsSync(mtPath) ? false : 'dist/atento-mt.wasm is missing: run ./build.sh', timeout: 300000 };
const llama = join(root, 'tests', 'data', 'llama', 'llama_q8_0.gguf');
const marian = join(root, 'models', 'translate-en-es.gguf');
const text = 'The cat is sleeping on the bed. I would like a cup of coffee, please.\n' +
  'Where is the train station? We have been waiting for two hours and nobody came. ' +
  'Tom told me that he had never seen such a beautiful garden in his whole life.';

function translateAll(rt, model, beam) {
  let out = '', logprob = 0;
  for (const { piece, sentence } of translateStream(rt, model, text, { beam, to: 'es' })) {
    out += piece;
    if (sentence) logprob += sentence.logprob;
  }
  return { out, logprob };
}

test('the threaded module imports a shared memory and exports the worker entry', T, () => {
  const mod = new WebAssembly.Module(readFileSync(mtPath));
  const mem = WebAssembly.Module.imports(mod).filter((i) => i.kind === 'memory');
  assert.deepEqual(mem.map((i) => `${i.module}.${i.name}`), ['env.memory']);
  const ex = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
  for (const n of ['atn_thread_run', 'atn_set_threads', 'stackRestore', '_initialize', 'atn_translator_new']) assert.ok(ex.has(n), n);
});

test('2 and 3 threads give the one-thread results bit for bit', T, async () => {
  const one = await initAtento();
  const many = await initAtento(undefined, { threads: 2 });
  assert.equal(one.threads, 1);
  assert.equal(one.threaded, false);
  assert.equal(many.threaded, true, many.threadsError);
  assert.equal(many.threads, 2);
  try {
    // a llama prefill with every token's logits: matmuls split by rows, attention by heads
    const bytes = readFileSync(llama);
    const ids = Array.from({ length: 200 }, (_, i) => 3 + ((i * 37) % 400));
    const logits = (rt) => {
      const m = rt.loadModel(bytes);
      const s = m.newSession(256);
      s.eval(ids, { allLogits: true });
      const all = [0, 57, 123, 199].map((i) => s.logits(i));
      s.free();
      m.free();
      return all;
    };
    const ref = logits(one);
    assert.deepEqual(logits(many), ref);
    assert.equal(await many.setThreads(3), 3);
    assert.deepEqual(logits(many), ref);
    // translation: encoder, decoder lanes, beam search
    const mm = many.loadModel(readFileSync(marian)), m1 = one.loadModel(readFileSync(marian));
    for (const beam of [1, 4]) {
      const a = translateAll(one, m1, beam), b = translateAll(many, mm, beam);
      assert.ok(a.out.length > 100, a.out);
      assert.equal(b.out, a.out);
      assert.equal(b.logprob, a.logprob);
    }
    assert.equal(await many.setThreads(1), 1);
    assert.equal(translateAll(many, mm, 1).out, translateAll(one, m1, 1).out);
    assert.equal(await many.setThreads(2), 2);
    assert.equal(translateAll(many, mm, 1).out, translateAll(one, m1, 1).out);
    mm.free();
    m1.free();
  } finally {
    await many.dispose();
  }
  assert.equal(many.threads, 1);
});

test('bad thread counts are refused with E_ARG; the single module stays at one thread', T, async () => {
  for (const bad of [0, -1, 17, 1.5, 'many']) {
    await assert.rejects(initAtento(undefined, { threads: bad }), (e) => e instanceof AtentoError && e.code === 'E_ARG', String(bad));
  }
  const one = await initAtento();
  assert.equal(await one.setThreads(4), 1);
  await assert.rejects(one.setThreads(99), (e) => e.code === 'E_ARG');
  // a missing threaded module falls back to one thread and says why
  const fb = await initAtento(undefined, { threads: 2, threadedWasm: new URL('file:///nonexistent/atento-mt.wasm') });
  assert.equal(fb.threads, 1);
  assert.match(fb.threadsError, /atento-mt\.wasm/);
});

test('a Node process with parked workers exits by itself (no dispose)', T, () => {
  const code = `import { initAtento } from ${JSON.stringify(join(root, 'js', 'core.js'))};
    const rt = await initAtento(undefined, { threads: 3 });
    if (rt.threads !== 3) process.exit(3);
    console.log('ok');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.signal, null, 'the process hung and was killed');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
});

test('worker API with threads: abort stops a generation, dispose never hangs', T, async () => {
  const m = await load(llama, { threads: 2 });
  try {
    assert.equal(m.info.threads, 2, m.info.threadsError);
    const stream = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 7, nCtx: 256 });
    // at the first token, which the worker sends at once (later ones come in
    // batches, by when this small model may have filled its context)
    let n = 0;
    for await (const _ of stream) if (++n === 1) m.abort();
    const r = await stream;
    assert.equal(r.reason, 'abort');
    const ok = await m.generate('The', { maxTokens: 3, temperature: 0 });
    assert.ok(ok.tokens.length >= 1);
    // dispose while a generation is running
    const s2 = m.generate('The', { maxTokens: 100000, temperature: 1, seed: 7, nCtx: 256 });
    for await (const _ of s2) break;
  } finally {
    const t0 = Date.now();
    await m.dispose();
    assert.ok(Date.now() - t0 < 30000, 'dispose took too long');
  }
  const tr = await load(marian, { threads: 2 });
  try {
    assert.equal(tr.info.threads, 2);
    const r = await tr.translate('The cat is sleeping on the bed.');
    assert.match(r.text, /gato/);
  } finally {
    await tr.dispose();
  }
});

test('--threads N in the WebAssembly and native CLIs: same translation, bad values refused', T, () => {
  const args = ['translate', '--to', 'es', text];
  const one = cli(args), two = cli(['--threads', '2', ...args]), three = cli([...args.slice(0, 1), '--threads=3', ...args.slice(1)]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.stdout, one.stdout);
  assert.equal(three.stdout, one.stdout);
  for (const bad of [['--threads', '0'], ['--threads', '17'], ['--threads']]) {
    const r = cli([...args, ...bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^atento: --threads/);
  }
  const n1 = nativeCliRun(['translate', '--model', marian, '--to', 'es', text]);
  if (n1) {
    const n2 = nativeCliRun(['translate', '--model', marian, '--to', 'es', '--threads', '2', text]);
    assert.equal(n2.code, 0, n2.stderr);
    assert.equal(n2.stdout, n1.stdout);
    assert.equal(nativeCliRun(['translate', '--threads', '0', text]).code, 2);
  }
});

test('a trap in the threaded module ends its workers and restarts on a fresh memory', T, async () => {
  const rt = await initAtento(undefined, { threads: 2 });
  try {
    assert.equal(rt.threads, 2, rt.threadsError);
    const one = await initAtento();
    const ref = translateAll(one, one.loadModel(readFileSync(marian)), 1);
    assert.throws(() => rt.fn('atn_model_load')(0xffffff00, 4096, 0), (e) => e instanceof AtentoError && e.code === 'E_ABORT' && /fresh one started/.test(e.message));
    assert.equal(rt.threads, 1);
    assert.match(rt.threadsError, /trap/);
    assert.equal(await rt.setThreads(2), 2);
    const m = rt.loadModel(readFileSync(marian));
    assert.equal(translateAll(rt, m, 1).out, ref.out);
    m.free();
  } finally {
    await rt.dispose();
  }
});
