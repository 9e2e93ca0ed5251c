// teach.test.mjs — the page's Teach view (web/teach.js) in headless chromium:
// fine-tuning the translation model in use (the tiny test model, so the test
// is quick) shows progress and a loss plot, stores the adapted model under its
// own name and puts it in use, before/after are shown; Stop leaves the model
// in use unchanged; malformed pairs get a one-line message. The main thread
// keeps answering during training (a timer keeps firing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { root, skipReason, useBrowser, screenshot, urlPath, openUrlModel } from './helpers.mjs';

const skip = skipReason();
const T = { skip: skip || false, timeout: 240000 };
const tiny = join(root, 'tests', 'data', 'marian', 'tiny.q8_0.gguf');

const b = useBrowser(skip);

test('Teach: fine-tune in the worker, progress, loss plot, stored under its own name, Stop', T, async () => {
  const page = await b.open();
  await page.waitForFunction(() => !!window.atento);
  await openUrlModel(page, urlPath(tiny), 'translate');
  await page.click('#tab-teach');
  assert.equal(await page.isVisible('#view-teach'), true);

  await page.fill('#teach-pairs', 'a\tb\tc');
  await page.click('#teach-run');
  await page.waitForFunction(() => /expected source<TAB>target/.test(document.getElementById('teach-status').textContent));

  await page.fill('#teach-pairs', 'the cat\tel gato\nhello world\thola mundo');
  await page.fill('#teach-name', 'tiny taught');
  await page.fill('#teach-sample', 'the cat');
  // Count main-thread timer ticks during training: the page must not block.
  await page.evaluate(() => { window.__ticks = 0; window.__timer = setInterval(() => window.__ticks++, 50); });
  await page.click('#teach-run');
  await page.waitForFunction(() => /Step \d+ of \d+, loss/.test(document.getElementById('teach-status').textContent), null, { timeout: 120000 });
  await page.waitForFunction(() => /is stored and in use/.test(document.getElementById('teach-status').textContent) || /failed/.test(document.getElementById('teach-status').textContent), null, { timeout: 200000 });
  const st = await page.textContent('#teach-status');
  assert.match(st, /Taught 2 pairs in 30 steps/);
  assert.ok(await page.evaluate(() => window.__ticks) > 3, 'the main thread kept running');
  assert.equal(await page.evaluate(() => window.atento.slots.translate.name), 'tiny taught');
  assert.ok((await page.textContent('#teach-after')).length > 0);
  const stored = await page.evaluate(() => window.atento.store.list().map((e) => e.name));
  assert.ok(stored.includes('tiny taught'), stored.join(' '));
  await screenshot(page, 'teach');

  // Stop: the model in use stays the one that was in use (1000 steps: it
  // cannot finish before the click).
  await page.fill('#teach-name', 'never');
  await page.fill('#teach-steps', '1000');
  await page.click('#teach-run');
  await page.waitForFunction(() => /Step \d+ of/.test(document.getElementById('teach-status').textContent), null, { timeout: 120000 });
  await page.click('#teach-stop');
  await page.waitForFunction(() => /Stopped after/.test(document.getElementById('teach-status').textContent), null, { timeout: 60000 });
  assert.equal(await page.evaluate(() => window.atento.slots.translate.name), 'tiny taught');
  await page.close();
});
