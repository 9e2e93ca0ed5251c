// first-visit.test.mjs — the page as a new visitor meets it, in a fresh
// chromium profile: each model is downloaded once and only when its tab
// needs it, with a progress bar (bytes, %, speed) while the actions wait;
// a chat message sent during the load appears at once and is sent once;
// models are stored in the Origin Private File System, the same file opened
// again is stored once; offline the footer and sizes stay right and nothing
// logs errors. Times to the first translated token (cold: empty profile;
// warm: models stored) go to tests/artifacts/first-token.json for
// docs/benchmarks.md — measured, not asserted (timing goals live in benchmarks).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root, artifacts, skipReason, useBrowser, screenshot, shippedModels } from './helpers.mjs';

const shipped = shippedModels();
const skip = skipReason() || (shipped.length < 2 && 'the shipped models are missing') || false;
const T = { skip, timeout: 300000 };

const requests = []; // paths of every .gguf the server sent
const b = useBrowser(skip, { onRequest: (req) => { if (req.url.endsWith('.gguf')) requests.push(req.url); } });

const count = (name) => requests.filter((u) => u.endsWith(name)).length;
const timings = {};

// Record what the Translate tab's load bar says, and whether Translate is
// disabled meanwhile, from the first moment of the page.
const watchLoad = () => {
  window.__load = [];
  document.addEventListener('DOMContentLoaded', () => {
    const text = document.getElementById('translate-loadtext');
    new MutationObserver(() => {
      window.__load.push({ text: text.textContent, visible: !document.getElementById('translate-loadbar').hidden, disabled: document.getElementById('translate').disabled });
    }).observe(text, { childList: true, characterData: true, subtree: true });
  });
};

async function firstToken(page, text) {
  // Typed and asked for (Ctrl+Enter) as soon as the page is there, while the
  // model may still load: the translation starts, once, when it is ready.
  await page.fill('#src', text);
  await page.press('#src', 'Control+Enter');
  await page.waitForFunction(() => window.atento.firstTokenAt > 0 || !document.getElementById('notice').hidden, null, { timeout: 120000 });
  const notice = await page.evaluate(() => (document.getElementById('notice').hidden ? '' : document.getElementById('notice-text').textContent));
  assert.equal(notice, '');
  await page.waitForFunction(() => /tokens\/s/.test(document.getElementById('translate-status').textContent), null, { timeout: 120000 });
  assert.match(await page.textContent('#translate-status'), /^1 sentence, /, 'translated once');
  return page.evaluate(() => window.atento.firstTokenAt);
}

test('first visit: the translation model is downloaded once, with a progress bar, and nothing else is', T, async () => {
  const page = await b.browser.context.newPage();
  await page.addInitScript(watchLoad);
  await page.goto(`${b.srv.origin}/web/`);
  timings.coldFirstTokenMs = await firstToken(page, 'The cat is sleeping on the sofa.');
  assert.match(await page.textContent('#dst'), /gato/);
  const seen = await page.evaluate(() => window.__load);
  const progress = seen.filter((s) => /^Downloading .*: \d+% [\d.]+ [kMG]?B of [\d.]+ MB [\d.]+ [kMG]?B\/s$/.test(s.text));
  assert.ok(progress.length >= 1, `no bytes/%/speed in the load bar: ${JSON.stringify(seen.slice(0, 5))}`);
  assert.ok(progress.every((s) => s.visible && s.disabled), 'the bar is shown and Translate disabled while the model downloads');
  assert.equal(await page.isVisible('#translate-loadbar'), false, 'the bar goes away when the model is ready');
  assert.equal(count('translate-en-es.gguf'), 1);
  assert.equal(count('tutor-en-es.gguf'), 0, 'the chat model is not fetched before the Chat tab needs it');
  // Stored in the Origin Private File System, once.
  const list = await page.evaluate(() => window.atento.store.list());
  assert.equal(list.length, 1);
  assert.equal(list[0].where, 'opfs');
  assert.equal(list[0].size, statSync(join(root, 'models', 'translate-en-es.gguf')).size);
  await screenshot(page, 'first-visit-translate');
  await page.close();
});

test('chat: a message sent twice while the model loads shows at once and is answered once', T, async () => {
  const page = await b.open();
  await page.waitForFunction(() => !!window.atento);
  await page.click('#tab-chat');
  await page.fill('#chat-input', 'Hello!');
  await page.press('#chat-input', 'Enter');
  await page.press('#chat-input', 'Enter');
  // Shown at once, marked as waiting, the box emptied.
  assert.equal(await page.locator('#messages li.user').count(), 1);
  assert.equal(await page.inputValue('#chat-input'), '');
  const waiting = await page.evaluate(() => document.querySelector('#messages li.user').classList.contains('queued'));
  const busy = await page.getAttribute('#view-chat', 'aria-busy');
  await page.waitForSelector('#messages li.assistant .meta', { timeout: 180000 });
  await page.press('#chat-input', 'Enter'); // an empty box sends nothing
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#messages li.user').count(), 1, 'sent once');
  assert.equal(await page.locator('#messages li.assistant').count(), 1, 'answered once');
  assert.ok(waiting || busy === 'true' || count('tutor-en-es.gguf') === 1, 'the message waited for the model');
  assert.equal(count('tutor-en-es.gguf'), 1);
  assert.equal(count('translate-en-es.gguf'), 1, 'the stored translation model is not downloaded again');
  // The top-5 view shows no replacement characters (partial UTF-8 is shown as bytes).
  await page.click('#tab-attention');
  assert.doesNotMatch(await page.textContent('#topk'), /\uFFFD/);
  await screenshot(page, 'first-visit-chat');
  await page.close();
});

test('warm visit: models load from storage, no download; the same file opened from disk is stored once', T, async () => {
  const page = await b.open();
  timings.warmFirstTokenMs = await firstToken(page, 'Where is the train station?');
  assert.equal(count('translate-en-es.gguf'), 1, 'no second download');
  // Model already in memory: from the click to the first token.
  await page.fill('#src', 'I would like a cup of coffee.');
  await page.evaluate(() => { window.atento.firstTokenAt = 0; });
  const t = await page.evaluate(async () => {
    const t0 = performance.now();
    document.getElementById('translate').click();
    while (!(window.atento.firstTokenAt > 0)) await new Promise((r) => setTimeout(r, 1));
    return window.atento.firstTokenAt - t0;
  });
  timings.readyFirstTokenMs = t;

  const before = await page.evaluate(() => window.atento.store.list());
  await page.click('#tab-models');
  await page.setInputFiles('#file', join(root, 'models', 'translate-en-es.gguf'));
  await page.waitForFunction(() => window.atento.store.list().some((e) => e.keys.some((k) => k.startsWith('file:'))), null, { timeout: 120000 });
  const after = await page.evaluate(() => window.atento.store.list());
  assert.equal(after.length, before.length, 'no second copy');
  const entry = after.find((e) => e.keys.some((k) => k.startsWith('file:')));
  assert.ok(entry.keys.some((k) => k.endsWith('translate-en-es.gguf') && k.startsWith('http')), 'the downloaded copy gained the name');
  await page.evaluate(() => window.atento.refreshModelLists());
  assert.match(await page.textContent('#storage-usage'), /^Using [\d.]+ [kMG]?B of [\d.]+ [kMG]?B available\.$/);
  assert.equal(await page.locator('#stored li').count(), 2);
  assert.match(await page.textContent('#stored'), /file system/);
  await screenshot(page, 'models-stored');
  await page.close();
});

test('offline: footer, sizes and model lists are right, and a refresh logs no errors', T, async () => {
  const page = await b.open('#models');
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await b.browser.context.setOffline(true);
  const mark = b.browser.logs.length;
  try {
    await page.reload();
    await page.waitForFunction(() => !!window.atento);
    await page.evaluate(() => window.atento.refreshModelLists());
    await page.evaluate(() => window.atento.refreshModelLists());
    assert.match(await page.textContent('#offline-status'), /^Offline: the 2 stored models still work\.$/);
    const sizes = await page.locator('#shipped .size').allTextContents();
    assert.deepEqual(sizes.map((s) => /^\d+ MB$/.test(s)), [true, true], JSON.stringify(sizes));
    // Translate works offline from storage.
    await page.click('#tab-translate');
    await firstToken(page, 'Good morning.');
    await screenshot(page, 'offline-footer');
  } finally {
    await b.browser.context.setOffline(false);
  }
  const errors = b.browser.logs.slice(mark).filter((l) => /console\.error|pageerror/.test(l));
  assert.deepEqual(errors, []);
  await page.close();
});

test('models.json gives the true sizes of the shipped models', { skip: shipped.length < 2 && 'no shipped models' }, () => {
  for (const m of shipped) assert.equal(m.size, statSync(m.path).size, m.url);
});

after(() => {
  if (skip || !Object.keys(timings).length) return;
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, 'first-token.json'), JSON.stringify({ ...timings, note: 'ms; cold/warm from navigation start, ready from the click; localhost, headless chromium' }, null, 2) + '\n');
  console.log(`# first translated token: ${JSON.stringify(timings)}`);
});
