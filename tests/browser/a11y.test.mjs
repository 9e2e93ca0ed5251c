// a11y.test.mjs — the page for people who do not use a mouse or a wide
// screen: axe-core (pinned devDependency) finds no violation in any view;
// every control is reached with Tab in reading order and works from the
// keyboard; streamed output sits in live regions; at phone width (375 px)
// nothing is wider than the screen. Screenshots go to tests/artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root, skipReason, useBrowser, screenshot, shippedModels } from './helpers.mjs';

const axePath = join(root, 'node_modules', 'axe-core', 'axe.min.js');
const skip = skipReason() || (!existsSync(axePath) && 'axe-core is not installed: npm install')
  || (!shippedModels().some((m) => m.kind === 'translate') && 'the shipped translation model is missing') || false;
const T = { skip, timeout: 300000 };
const VIEWS = ['translate', 'chat', 'models', 'attention'];

const b = useBrowser(skip);

async function ready(page) {
  await page.waitForFunction(() => !!window.atento);
  await page.evaluate(() => window.atento.ensureModel('translate'));
  await page.waitForFunction(() => !document.getElementById('translate').disabled);
}

async function axe(page, what) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(r, [], `axe-core, ${what}`);
}

test('axe-core: no violations in any view, before and after use', T, async () => {
  const page = await b.open();
  await ready(page);
  for (const v of VIEWS) {
    await page.click(`#tab-${v}`);
    await axe(page, `the ${v} view`);
  }
  // With content: a translation, its attention map, an error notice.
  await page.click('#tab-translate');
  await page.fill('#src', 'The cat is sleeping on the sofa.');
  await page.click('#translate');
  await page.waitForFunction(() => /tokens\/s/.test(document.getElementById('translate-status').textContent));
  await axe(page, 'the translate view with a translation');
  await page.click('#tab-attention');
  await axe(page, 'the attention view with a heatmap');
  await page.evaluate(() => window.atento.openModel({ key: 'x', name: 'missing.gguf', url: '/models/missing.gguf' }, { keep: false }));
  await page.waitForSelector('#notice:not([hidden])');
  await axe(page, 'an error notice');
  await page.close();
});

test('keyboard only: Tab order follows the page, and translate, swap, tabs and chat work without a mouse', T, async () => {
  const page = await b.open();
  await ready(page);
  // From the first stop (the skip link), Tab goes through the controls in reading order.
  await page.focus('a.skip');
  const order = ['skip'];
  for (let i = 0; i < 7; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.className || document.activeElement.tagName));
  }
  // (Stop is disabled while nothing runs, so Clear follows Translate.)
  assert.deepEqual(order, ['skip', 'tab-translate', 'from', 'swap', 'beam', 'src', 'translate', 'src-clear'], `focus order: ${order.join(' → ')}`);
  // Every control can be focused from the keyboard (none has tabindex -1 but the inactive tabs).
  const unreachable = await page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, [tabindex]')]
    .filter((e) => e.tabIndex < 0 && e.getAttribute('role') !== 'tab' && e.type !== 'file').map((e) => e.id || e.outerHTML.slice(0, 60)));
  assert.deepEqual(unreachable, []);

  // Translate: type, Ctrl+Enter; the output is a polite live region.
  await page.focus('#src');
  await page.keyboard.type('¿Dónde está la estación de tren?');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(() => /tokens\/s/.test(document.getElementById('translate-status').textContent), null, { timeout: 120000 });
  assert.match(await page.textContent('#dst'), /station/i);
  assert.equal(await page.getAttribute('#dst', 'aria-live'), 'polite');
  // ⇄ from the keyboard.
  await page.focus('#swap');
  await page.keyboard.press('Enter');
  assert.equal(await page.inputValue('#from'), 'en');
  // Tabs with the arrow keys (the next one is shown at once), Enter on a tab,
  // then into the chat composer.
  const tabIds = await page.evaluate(() => [...document.querySelectorAll('[role=tab]')].map((t) => t.id));
  await page.focus('#tab-translate');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), tabIds[1]);
  assert.equal(await page.isVisible(`#${tabIds[1].replace('tab-', 'view-')}`), true);
  await page.focus('#tab-chat');
  await page.keyboard.press('Enter');
  assert.equal(await page.isVisible('#view-chat'), true);
  assert.equal(await page.getAttribute('#messages', 'aria-live'), 'polite');
  await page.focus('#chat-input');
  await page.keyboard.type('Hola');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#messages li.user').count(), 1);
  await screenshot(page, 'keyboard-chat');
  await page.close();
});

test('phone width: every view fits 375 px without sideways scrolling', T, async () => {
  const page = await b.browser.context.newPage();
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${b.srv.origin}/web/`);
  await ready(page);
  for (const v of VIEWS) {
    await page.click(`#tab-${v}`);
    const over = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')].filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && e.offsetParent !== null && r.right > w + 1 && !e.closest('.heatmap-wrap');
      });
      return { scroll: document.documentElement.scrollWidth, w, wide: wide.slice(0, 5).map((e) => e.id || e.tagName) };
    });
    assert.ok(over.scroll <= over.w + 1, `${v}: the page is ${over.scroll} px wide at ${over.w} px (${over.wide.join(', ')})`);
    await screenshot(page, `phone-${v}`);
  }
  await page.close();
});
