// page.test.mjs — the atento page (web/) in headless Debian chromium, driven
// by playwright-core: translate with tokens streaming in, chat and Stop, a
// model opened through the file input, a damaged model, offline reload, the
// Models list. Screenshots of every view go to tests/artifacts/ (git-ignored).
// Skipped (and counted as skipped) only when chromium is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  root, skipReason, useBrowser, screenshot, chatModel, randomLlama, translateModel, shippedModels,
  urlPath, openFileModel, openUrlModel, recordTexts,
} from './helpers.mjs';

const skip = skipReason();
if (skip) console.log(`# browser tests skipped: ${skip}`);
const T = { skip: skip || false, timeout: 240000 };

const b = useBrowser(skip);

async function newPage(hash = '') {
  const page = await b.open(hash);
  await page.waitForFunction(() => !!window.atento);
  return page;
}

function fail(msg) {
  return new Error(`${msg}\n${b.browser.logs.slice(-20).join('\n')}`);
}

/** Make sure a translation model is in use (the shipped default, else a test model by URL). */
async function useTranslateModel(page) {
  const shipped = shippedModels().find((m) => m.kind === 'translate');
  if (shipped) {
    await page.evaluate(() => window.atento.ensureModel('translate'));
  } else {
    const file = translateModel();
    if (!file) throw fail('no translation model: neither web/models.json\'s shipped model nor tests/data/marian/*.gguf exists');
    await openUrlModel(page, urlPath(file), 'translate');
  }
  if (!(await page.evaluate(() => !!window.atento.slots.translate))) throw fail(`no translation model in use: ${await page.textContent('#notice-text')}`);
}

async function translateOnce(page, text) {
  await page.click('#tab-translate');
  await page.fill('#src', text);
  const states = await recordTexts(page, '#dst');
  await page.evaluate(() => { document.getElementById('translate-status').textContent = ''; });
  await page.click('#translate');
  await page.waitForFunction(() => /tokens\/s|Stopped/.test(document.getElementById('translate-status').textContent) || !document.getElementById('notice').hidden, null, { timeout: 120000 });
  const notice = await page.evaluate(() => (document.getElementById('notice').hidden ? '' : document.getElementById('notice-text').textContent));
  if (notice) throw fail(`translation failed: ${notice}`);
  return { states: await states(), out: await page.textContent('#dst') };
}

test('the page shows its views, keyboard tabs work, and nothing fails at startup', T, async () => {
  const page = await newPage();
  for (const v of ['translate', 'chat', 'models', 'attention']) {
    await page.click(`#tab-${v}`);
    assert.equal(await page.isVisible(`#view-${v}`), true, v);
  }
  // Arrow keys move between tabs.
  await page.focus('#tab-attention');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.isVisible('#view-translate'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-translate');
  // Every form control has a label.
  const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => e.type !== 'radio' && e.type !== 'file' && !e.labels?.length && !e.getAttribute('aria-label'))
    .map((e) => e.id));
  assert.deepEqual(unlabeled, []);
  await page.waitForFunction(() => /ready|cannot/.test(document.getElementById('engine-status').textContent));
  // Debian's chromium runs relaxed SIMD exactly: the page picks the relaxed build.
  assert.match(await page.textContent('#engine-status'), /WebAssembly engine ready \(cross-origin isolated, relaxed SIMD\)/);
  const errors = b.browser.logs.filter((l) => l.startsWith('pageerror'));
  assert.deepEqual(errors, []);
  await page.setViewportSize({ width: 390, height: 800 });
  await page.click('#tab-chat');
  await screenshot(page, 'phone-chat');
  await page.click('#tab-translate');
  await screenshot(page, 'phone-translate');
  await page.close();
});

test('translate: the translation streams in token by token', T, async () => {
  const page = await newPage();
  await useTranslateModel(page);
  const { states, out } = await translateOnce(page, 'The cat is sleeping on the sofa. I like to read books in the evening.');
  assert.ok(out.trim().length > 0, 'empty translation');
  // Intermediate states: the output grew piece by piece before the end.
  const partial = states.filter((s) => s.trim() && s !== out);
  assert.ok(partial.length >= 3, `expected the text to arrive in pieces, saw ${partial.length} intermediate states: ${JSON.stringify(states.slice(0, 8))}`);
  assert.match(await page.textContent('#translate-status'), /2 sentences, \d+ tokens in [\d.]+ s/);
  await screenshot(page, 'translate');
  assert.equal(await page.textContent('#src-label'), 'English (detected)');
  // A pasted page keeps its paragraphs; Spanish is detected and translated
  // into English, here with beam search.
  if (shippedModels().some((m) => m.kind === 'translate')) {
    await page.selectOption('#beam', '4');
    const r = await translateOnce(page, 'El gato duerme en el sofá.\n\nMe gusta leer libros.');
    assert.match(r.out, /cat/i);
    assert.match(r.out, /\n\n/);
    assert.match(await page.textContent('#translate-status'), /^2 sentences/);
    assert.equal(await page.textContent('#src-label'), 'Spanish (detected)');
    assert.equal(await page.textContent('#to-lang'), 'English');
    await screenshot(page, 'translate-es-en-beam');
    // Text already in the language chosen as the target is said so, not translated again.
    await page.selectOption('#from', 'en');
    await page.fill('#src', 'El perro come pan en la cocina.');
    await page.click('#translate');
    await page.waitForFunction(() => /already in Spanish/.test(document.getElementById('translate-status').textContent));
    assert.equal(await page.textContent('#dst'), '');
    // ⇄ makes Spanish the source; it translates now.
    await page.click('#swap');
    assert.equal(await page.inputValue('#from'), 'es');
    const back = await translateOnce(page, 'El perro come pan en la cocina.');
    assert.match(back.out, /dog/i);
    await page.selectOption('#from', 'auto');
    await page.selectOption('#beam', '1');
  }
  // The attention view works out the heatmap of the sentence it shows when
  // it is opened (translations do not pay for the extra pass).
  await page.click('#tab-attention');
  await page.waitForFunction(() => document.getElementById('heatmap').width > 0 || /no attention/.test(document.getElementById('att-empty').textContent), null, { timeout: 60000 });
  assert.match(await page.textContent('#att-align'), /^Strongest link of each target token: /);
  await page.selectOption('#att-layer', '1');
  assert.ok(await page.evaluate(() => document.getElementById('heatmap').width > 0));
  await screenshot(page, 'attention-translate');
  await page.close();
});

test('translate: mixed English and Spanish text goes each sentence its own way, and says so', { ...T, skip: T.skip || (!shippedModels().some((m) => m.kind === 'translate') && 'the shipped translation model is missing') }, async () => {
  const page = await newPage();
  await useTranslateModel(page);
  const { out } = await translateOnce(page, 'The cat is sleeping on the sofa. El perro come pan en la cocina.\nI like to read books in the evening.');
  const sentences = await page.$$eval('#dst .sentence', (els) => els.map((e) => ({ text: e.textContent, lang: e.lang, dir: e.dataset.dir, title: e.title })));
  assert.equal(sentences.length, 3);
  assert.deepEqual(sentences.map((x) => [x.lang, x.dir, x.title]), [
    ['es', 'EN→ES', 'English → Spanish'], ['en', 'ES→EN', 'Spanish → English'], ['es', 'EN→ES', 'English → Spanish']]);
  assert.match(sentences[0].text, /gato/i);
  assert.match(sentences[1].text, /dog/i);
  assert.match(out, /\n/, 'the line break is kept');
  assert.equal(await page.evaluate(() => document.getElementById('dst').classList.contains('mixed')), true);
  assert.match(await page.textContent('#translate-status'), /^3 sentences, \d+ tokens in [\d.]+ s \([\d.]+ tokens\/s\)\. Mixed text: 2 English → Spanish, 1 Spanish → English\.$/);
  assert.equal(await page.textContent('#detected'), 'Detected: English and Spanish, sentence by sentence');
  assert.equal(await page.textContent('#src-label'), 'English and Spanish (detected)');
  await screenshot(page, 'translate-mixed');
  // One language again: an ordinary translation, no marks.
  await translateOnce(page, 'The dog is eating bread.');
  assert.equal(await page.evaluate(() => document.getElementById('dst').classList.contains('mixed')), false);
  assert.equal(await page.textContent('#src-label'), 'English (detected)');
  await page.close();
});

test('translate: a link with ?text= opens the Translate tab on that text and translates it at once', { ...T, skip: T.skip || (!shippedModels().some((m) => m.kind === 'translate') && 'the shipped translation model is missing') }, async () => {
  const page = await newPage(`?text=${encodeURIComponent('El gato duerme en el sofá.')}&from=es#chat`);
  await page.waitForFunction(() => /tokens\/s/.test(document.getElementById('translate-status').textContent) || !document.getElementById('notice').hidden, null, { timeout: 120000 });
  assert.equal(await page.isVisible('#view-translate'), true, 'the Translate tab, whatever the hash says');
  assert.equal(await page.inputValue('#src'), 'El gato duerme en el sofá.');
  assert.equal(await page.inputValue('#from'), 'es');
  assert.match(await page.textContent('#dst'), /cat/i);
  assert.ok(await page.evaluate(() => window.atento.firstTokenAt > 0));
  await page.close();
  // A blank text is no request: the page opens as usual, nothing translated.
  const blank = await newPage('?text=%20%20#models');
  assert.equal(await blank.isVisible('#view-models'), true);
  assert.equal(await blank.inputValue('#src'), '');
  assert.equal(await blank.textContent('#dst'), '');
  await blank.close();
});

test('chat: a model opened through the file input streams its reply, and Stop halts at once', T, async () => {
  const file = randomLlama();
  if (!file) throw new Error('cannot make a test model with models/tools/make_llama.py');
  const page = await newPage();
  await openFileModel(page, file, 'chat');
  assert.match(await page.textContent('#inuse-chat'), /tiny-llama\.gguf \(llama, /);
  await screenshot(page, 'models-loaded');
  await page.click('#tab-chat');
  await page.evaluate(() => { document.getElementById('chat-settings').open = true; });
  await page.fill('#maxtokens', '4000');
  const states = await recordTexts(page, '#messages');
  // Press Stop as soon as a few tokens have arrived (from inside the page:
  // this tiny model is fast enough to finish before a round trip from here).
  await page.evaluate(() => {
    window.__atStop = null;
    const list = document.getElementById('messages');
    const obs = new MutationObserver(() => {
      const li = list.querySelector('li.assistant');
      const body = li?.querySelector('.body');
      if (body && body.textContent.length >= 12) {
        obs.disconnect();
        window.__atStop = { text: body.textContent, streaming: li.classList.contains('streaming') };
        document.getElementById('chat-stop').click();
      }
    });
    obs.observe(list, { childList: true, subtree: true, characterData: true });
  });
  await page.fill('#chat-input', 'How do you say "good morning" in Spanish?');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.__atStop !== null, null, { timeout: 120000 });
  const atStop = await page.evaluate(() => window.__atStop);
  assert.equal(atStop.streaming, true, 'the reply ended by itself before Stop');
  await page.waitForSelector('#messages li.assistant .meta', { timeout: 30000 });
  await page.waitForTimeout(500);
  const later = await page.textContent('#messages li.assistant .body');
  assert.equal(later, atStop.text, 'text kept arriving after Stop');
  const seen = await states();
  assert.ok(seen.length >= 4, `the reply did not stream (${seen.length} states)`);
  assert.equal(await page.isDisabled('#chat-stop'), true);
  assert.equal(await page.isEnabled('#send'), true);
  assert.match(await page.textContent('#messages li.assistant .meta'), /stopped/);
  assert.match(await page.textContent('#chat-status'), /Stopped|tokens/);
  await screenshot(page, 'chat-stopped');
  // The model is still usable after a stop.
  await page.fill('#maxtokens', '5');
  await page.fill('#chat-input', 'Thanks');
  await page.click('#send');
  await page.waitForFunction(() => document.querySelectorAll('#messages li.assistant .meta').length === 2, null, { timeout: 120000 });
  assert.match(await page.textContent('#messages li.assistant:last-child .meta'), /token limit reached · 5 tokens/);
  await page.close();
});

test('chat: the shipped tutor answers over two turns, with tokens/s and top-5 probabilities', T, async () => {
  const shipped = shippedModels().find((m) => m.kind === 'chat');
  const page = await newPage('#models');
  if (shipped) {
    // Chosen in the Models tab (the page would otherwise reopen the chat model used last).
    await page.locator('#shipped li', { hasText: shipped.name }).locator('button', { hasText: 'Use' }).click();
    await page.waitForFunction((n) => window.atento.slots.chat?.name === n, shipped.name, { timeout: 120000 });
  } else {
    await openFileModel(page, chatModel(), 'chat');
  }
  await page.click('#tab-chat');
  await page.fill('#chat-input', 'How do you say "thank you" in Spanish?');
  await page.click('#send');
  await page.waitForSelector('#messages li.assistant .meta', { timeout: 120000 });
  const reply1 = await page.textContent('#messages li.assistant .body');
  assert.ok(reply1.trim().length > 0, 'empty reply');
  assert.match(await page.textContent('#chat-status'), /\d+ tokens · [\d.]+ tokens\/s/);
  await page.fill('#chat-input', '¿Cómo se dice "perro" en inglés?');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#messages li.assistant .meta').length === 2, null, { timeout: 120000 });
  assert.equal(await page.locator('#messages li.user').count(), 2);
  // A model that declares no tools (GGUF atento.tools) never shows a "used: …" note.
  if (!(await page.evaluate(() => window.atento.slots.chat.info.tools?.length))) assert.equal(await page.locator('#messages .tools-used').count(), 0);
  await screenshot(page, 'chat');
  // Top-5 next-token probabilities of the last reply.
  await page.click('#tab-attention');
  const rows = await page.locator('#topk .tok').count();
  assert.ok(rows >= 1, 'no top-5 rows');
  assert.equal(await page.locator('#topk .tok').first().locator('ol li').count(), 5);
  await screenshot(page, 'attention-chat');
  // New chat empties the conversation.
  await page.click('#tab-chat');
  await page.click('#new-chat');
  assert.equal(await page.locator('#messages li.user').count(), 0);
  await page.close();
});

// A scripted tutor that declares the built-in tools and calls lookup,
// translate, an unknown tool and lookup with a bad argument, then answers
// (tests/data/chat/make_tutor_tools.py); the worker runs the calls.
const toolsFixture = join(root, 'tests', 'data', 'chat', 'tutor_tools.gguf');
test('chat: an answer that used the model\'s tools says "used: …" under it, with the calls', { ...T, skip: T.skip || (!existsSync(toolsFixture) && 'tests/data/chat/tutor_tools.gguf (a tutor that calls the built-in tools) is not here') }, async () => {
  const page = await newPage('#models');
  await openFileModel(page, toolsFixture, 'chat');
  await page.click('#tab-chat');
  await page.fill('#chat-input', 'How do you say "good morning" in Spanish?');
  await page.press('#chat-input', 'Enter');
  await page.waitForSelector('#messages li.assistant .meta', { timeout: 120000 });
  const answer = page.locator('#messages li.assistant');
  assert.equal((await answer.locator('.body').textContent()).trim(), 'good amigo', 'the answer after the tool round, without the call');
  const summary = answer.locator('.tools-used summary');
  assert.equal(await summary.textContent(), 'used: lookup, translate');
  // The calls, opened from the keyboard: each with its arguments and result.
  await summary.focus();
  await page.keyboard.press('Enter');
  const calls = await answer.locator('.tools-used li').allTextContents();
  assert.equal(calls.length, 4, JSON.stringify(calls));
  assert.match(calls[0], /^lookup\(word: "gato", from: "es"\) → cat\b/);
  assert.match(calls[1], /^translate\(text: "good morning", to: "es"\) → (?!error)\S/, 'the translation model answered');
  assert.match(calls[2], /^dance\(.*\) → error/);
  assert.equal(await answer.locator('.tools-used').evaluate((d) => d.open), true);
  await screenshot(page, 'chat-tools-used');
  await page.close();
});

test('a damaged model file gives a clear message and the page keeps working', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atento-bad-'));
  const junk = join(dir, 'broken.gguf');
  writeFileSync(junk, Buffer.from('GGUF\x03\x00\x00\x00this is not a model at all, just some bytes'.padEnd(4096, '!')));
  const page = await newPage();
  await page.click('#tab-models');
  await page.setInputFiles('#file', junk);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 60000 });
  const msg = await page.textContent('#notice-text');
  assert.match(msg, /^Cannot use the model broken\.gguf: .{10,}/);
  assert.doesNotMatch(msg, /undefined|\[object/);
  await screenshot(page, 'damaged-model');

  // A valid GGUF of an architecture atento does not run, dropped on the page.
  await page.click('#notice-close');
  const fixture = readFileSync(join(root, 'tests', 'fixtures', 'gguf', 'types.gguf')).toString('base64');
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'other-arch.gguf'));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, fixture);
  await page.waitForSelector('#notice:not([hidden])', { timeout: 60000 });
  assert.match(await page.textContent('#notice-text'), /^Cannot use the model other-arch\.gguf: .*unsupported architecture 'fixture'/);

  // A truncated copy of a real model is refused too.
  const good = chatModel();
  if (good) {
    const half = join(dir, 'half.gguf');
    const bytes = readFileSync(good);
    writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await page.click('#notice-close');
    await page.setInputFiles('#file', half);
    await page.waitForSelector('#notice:not([hidden])', { timeout: 60000 });
    assert.match(await page.textContent('#notice-text'), /^Cannot use the model half\.gguf: /);
    // ... and the page still works: a good model loads and chats.
    await page.click('#notice-close');
    await openFileModel(page, good, 'chat');
    await page.click('#tab-chat');
    await page.evaluate(() => { document.getElementById('chat-settings').open = true; });
    await page.fill('#maxtokens', '4');
    await page.fill('#chat-input', 'Hola');
    await page.click('#send');
    await page.waitForSelector('#messages li.assistant .meta', { timeout: 120000 });
  }
  assert.deepEqual(b.browser.logs.filter((l) => l.startsWith('pageerror')), []);
  await page.close();
});

test('offline: after the first visit the page reloads and translates with the network off', T, async () => {
  const page = await newPage();
  await page.evaluate(() => navigator.serviceWorker.ready);
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) await page.reload();
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await useTranslateModel(page);
  await translateOnce(page, 'Good morning.');

  await screenshot(page, 'models-before-offline');
  await b.browser.context.setOffline(true);
  try {
    await page.reload();
    await page.waitForFunction(() => !!window.atento);
    const { out } = await translateOnce(page, 'Where is the station?');
    assert.ok(out.trim().length > 0, 'no translation offline');
    await screenshot(page, 'offline-translate');
  } finally {
    await b.browser.context.setOffline(false);
  }
  await page.close();
});

test('models: loading from a URL shows bytes, % and speed; stored models are listed with sizes and can be deleted', T, async () => {
  const file = chatModel();
  if (!file) throw new Error('no chat model to load');
  const page = await newPage('#models');
  const states = await recordTexts(page, '#load-status');
  await openUrlModel(page, urlPath(file), 'chat');
  const seen = await states();
  assert.ok(seen.some((s) => /100% .* of .*B/.test(s)), `no progress with % and bytes: ${JSON.stringify(seen)}`);
  await page.evaluate(() => window.atento.refreshModelLists());
  // The model is stored (under the name it was first stored with: an earlier
  // test may have downloaded the same file as the shipped tutor).
  const items = page.locator('#stored li', { hasText: 'downloaded' });
  await items.first().waitFor();
  const n = await items.count();
  assert.match(await items.first().textContent(), /\d+(\.\d)? (B|kB|MB|GB)/);
  await screenshot(page, 'models');
  await items.first().locator('button', { hasText: 'Delete' }).click();
  await page.waitForFunction((k) => [...document.querySelectorAll('#stored li')].filter((li) => li.textContent.includes('downloaded')).length === k, n - 1);
  await page.close();
});
