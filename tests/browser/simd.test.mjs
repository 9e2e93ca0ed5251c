// simd.test.mjs — the relaxed-SIMD build (docs/simd.md) in Debian's
// chromium, whose engine computes the relaxed dot exactly: the loader and the
// page pick it, 'simd128' picks the SIMD128 build, a relaxed module that
// cannot be fetched gives way to its twin, and both builds give the same
// translations and scores with the shipped models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root, skipReason, useBrowser, shippedModels, urlPath } from './helpers.mjs';

const relaxedBuilt = ['atento-relaxed.wasm', 'atento-mt-relaxed.wasm'].every((f) => existsSync(join(root, 'dist', f)));
const skip = skipReason() || (!relaxedBuilt && 'the relaxed modules are missing: run ./build.sh (with clang-16, lld-16, llvm-16)') || false;
const T = { skip, timeout: 240000 };
const shipped = shippedModels();
const translateModel = shipped.find((m) => m.kind === 'translate')?.path;
const chatModel = shipped.find((m) => m.kind === 'chat')?.path;
// small models whose matrices take the relaxed kernels (q4_0, q4_1, q5_0,
// q5_1; q4_K and q5_K with q6_K, which stays on the int16 path)
const relaxedModels = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'kmix'].map((t) => join(root, 'tests', 'data', 'llama', `llama_${t}.gguf`));

// The .wasm files the page asked for itself (not its service worker, whose
// requests carry sw.js as their referrer).
const wasmRequests = [];
const b = useBrowser(skip, {
  onRequest: (req) => {
    if (req.url.includes('.wasm') && !/\/sw\.js/.test(req.headers.referer || '')) wasmRequests.push(req.url.replace(/\?.*/, ''));
  },
});

/** A tab on a small same-origin document (cross-origin isolated, as every response of the server). */
async function blank() {
  const page = await b.browser.context.newPage();
  await page.goto(`${b.srv.origin}/web/models.json`);
  return page;
}

test('the probe says yes; initAtento loads the relaxed build, threaded or not, and the SIMD128 one when asked', T, async () => {
  const page = await blank();
  const r = await page.evaluate(async () => {
    const core = await import('/js/core.js');
    const out = { probe: core.relaxedSimdSupported(), iso: crossOriginIsolated };
    for (const [name, opts] of [['one', {}], ['mt', { threads: 2 }], ['plain', { simd: 'simd128' }], ['plainMt', { simd: 'simd128', threads: 2 }]]) {
      const rt = await core.initAtento(undefined, opts);
      out[name] = { simd: rt.simd, simdError: rt.simdError, threads: rt.threads, threadsError: rt.threadsError };
      await rt.dispose();
    }
    return out;
  });
  assert.equal(r.probe, true);
  assert.equal(r.iso, true);
  assert.deepEqual(r.one, { simd: 'relaxed', simdError: '', threads: 1, threadsError: '' });
  assert.deepEqual(r.mt, { simd: 'relaxed', simdError: '', threads: 2, threadsError: '' });
  assert.deepEqual(r.plain, { simd: 'simd128', simdError: '', threads: 1, threadsError: '' });
  assert.deepEqual(r.plainMt, { simd: 'simd128', simdError: '', threads: 2, threadsError: '' });
  await page.close();
});

test('a relaxed module that cannot be fetched gives way to its SIMD128 twin, and simdError says why', T, async () => {
  const page = await blank();
  await page.route(/-relaxed\.wasm$/, (route) => route.fulfill({ status: 404, body: 'gone' }));
  const r = await page.evaluate(async () => {
    const core = await import('/js/core.js');
    const out = {};
    for (const [name, opts] of [['one', {}], ['mt', { threads: 2 }]]) {
      const rt = await core.initAtento(undefined, opts);
      out[name] = { simd: rt.simd, simdError: rt.simdError, threads: rt.threads };
      await rt.dispose();
    }
    return out;
  });
  assert.equal(r.one.simd, 'simd128');
  assert.match(r.one.simdError, /atento-relaxed\.wasm: HTTP 404/);
  assert.equal(r.mt.simd, 'simd128');
  assert.equal(r.mt.threads, 2);
  assert.match(r.mt.simdError, /atento-mt-relaxed\.wasm: HTTP 404/);
  await page.close();
});

// The relaxed kernels form the same integer sums as the SIMD128 ones and the
// same floats from them (docs/simd.md): both builds give the same results bit
// for bit, for the shipped q8_0 models and for small models of every format
// with relaxed kernels, in a prompt (score) and token by token (eval +
// logits: the decode kernels).
test('the npm API: ModelInfo.simd; translations, scores and logits equal bit for bit between the two builds', {
  ...T, skip: skip || ((!translateModel || !chatModel) && 'the shipped models are missing'),
}, async () => {
  const page = await blank();
  const r = await page.evaluate(async ({ translateUrl, chatUrl, relaxedUrls }) => {
    const { load } = await import('/js/index.js');
    const core = await import('/js/core.js');
    const sentences = ['The cat is sleeping on the sofa.', 'I want to go to Italy.', 'Muéstrame cómo hacerlo.'];
    const out = {};
    for (const simd of ['auto', 'simd128']) {
      const m = await load(translateUrl, { threads: 2, simd, cache: false });
      const texts = [];
      for (const s of sentences) texts.push((await m.translate(s, { beam: 1 })).text);
      out[simd] = { simd: m.info.simd, simdError: m.info.simdError, threads: m.info.threads, texts };
      await m.dispose();
    }
    const files = { chat: chatUrl, ...relaxedUrls };
    for (const [name, url] of Object.entries(files)) {
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      for (const simd of ['auto', 'simd128']) {
        const rt = await core.initAtento(undefined, { simd });
        const model = rt.loadModel(bytes);
        const ids = model.tokenize('Hola, ¿cómo estás? I am learning Spanish with a tutor.');
        let session = model.newSession(256);
        const scores = Array.from(session.score(ids));
        session.free();
        // token by token: the logits after each of the first eight tokens
        session = model.newSession(256);
        const steps = [];
        for (const id of ids.slice(0, 8)) {
          session.eval([id]);
          steps.push(Array.from(session.logits()));
        }
        session.free();
        out[simd][name] = { simd: rt.simd, n: ids.length, scores, steps };
        model.free();
      }
    }
    return out;
  }, { translateUrl: urlPath(translateModel), chatUrl: urlPath(chatModel),
    relaxedUrls: Object.fromEntries(relaxedModels.map((f) => [f.match(/llama_(\w+)\.gguf$/)[1], urlPath(f)])) });
  const [relaxed, plain] = [r.auto, r.simd128];
  assert.deepEqual([relaxed.simd, relaxed.simdError, relaxed.threads], ['relaxed', null, 2]);
  assert.deepEqual([plain.simd, plain.simdError, plain.threads], ['simd128', null, 2]);
  assert.deepEqual(relaxed.texts, plain.texts);
  assert.match(relaxed.texts[0], /gato/);
  assert.equal(relaxed.texts[1], 'Quiero ir a Italia.');
  assert.equal(relaxed.texts[2], 'Show me how to do it.');
  for (const name of ['chat', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'kmix']) {
    const [x, y] = [relaxed[name], plain[name]];
    assert.deepEqual([x.simd, y.simd], ['relaxed', 'simd128'], name);
    assert.ok(x.n >= 8, `${name}: ${x.n} tokens`);
    assert.equal(x.scores.length, x.n - 1, name);
    assert.ok(x.scores.every((v) => Number.isFinite(v) && v <= 0), `${name}: ${x.scores}`);
    assert.equal(x.steps.length, 8, name);
    assert.ok(x.steps.every((l) => l.length > 100 && l.every(Number.isFinite)), `${name}: logits`);
    // bit for bit (Object.is: -0 and +0, NaN, are told apart)
    for (let i = 0; i < x.scores.length; i++) assert.ok(Object.is(x.scores[i], y.scores[i]), `${name} score ${i}: relaxed ${x.scores[i]}, simd128 ${y.scores[i]}`);
    for (let t = 0; t < 8; t++) {
      const bad = x.steps[t].findIndex((v, j) => !Object.is(v, y.steps[t][j]));
      assert.equal(bad, -1, `${name} step ${t}: logit ${bad} relaxed ${x.steps[t][bad]}, simd128 ${y.steps[t][bad]}`);
    }
  }
  await page.close();
});

test('the page fetches only the relaxed module its workers run (the SIMD128 one with ?simd=simd128), and its service worker keeps it', T, async () => {
  for (const [query, file, words] of [['', 'atento-mt-relaxed.wasm', 'relaxed SIMD'], ['?simd=simd128', 'atento-mt.wasm', 'SIMD128']]) {
    wasmRequests.length = 0;
    const page = await b.browser.context.newPage();
    await page.goto(`${b.srv.origin}/web/${query}`);
    await page.waitForFunction(() => /ready|cannot/.test(document.getElementById('engine-status')?.textContent || ''));
    assert.equal(await page.textContent('#engine-status'), `WebAssembly engine ready (cross-origin isolated, ${words}).`);
    assert.deepEqual(wasmRequests.map((u) => u.split('/').pop()), [file], 'the page itself asked for one module');
    if (!query) {
      // The service worker (registered as sw.js?simd=relaxed here) keeps the relaxed modules too.
      const cached = await page.evaluate(async () => {
        const reg = await navigator.serviceWorker.ready;
        const shell = await caches.open('atento-shell-v2');
        // install has put every shell file in the cache by the time the worker is active
        return { script: reg.active.scriptURL, keys: (await shell.keys()).map((k) => new URL(k.url).pathname).filter((p) => p.endsWith('.wasm')).sort() };
      });
      assert.match(cached.script, /\/web\/sw\.js\?simd=relaxed$/);
      assert.deepEqual(cached.keys, ['/dist/atento-mt-relaxed.wasm', '/dist/atento-mt.wasm', '/dist/atento-relaxed.wasm', '/dist/atento.wasm']);
    }
    await page.close();
  }
});
