#!/usr/bin/env node
// translate_page.mjs — words per second translating a whole text in the page
// (web/), in the browser tests' headless Chromium, as a user does: the text
// is pasted into the source box, Translate is clicked, and the clock stops
// when the page reports the end (the status line with tokens/s). The page
// streams the translation sentence by sentence meanwhile; the time to the
// first translated text is reported too.
//
//   node bench/translate_page.mjs [--text bench/texts/en-5000.txt] [--threads 1,2] [--beams 1,4] [--reps 1] [--simd auto|simd128]
//
// threads N is the page's ?threads=N (default of the page: 'auto'); the page
// reports which module ran (model info threads, simd: its relaxed-SIMD build
// where Chromium has relaxed SIMD, --simd simd128 for the SIMD128 one). One
// JSON line per run.
import { readFileSync } from 'node:fs';
import { startServer, launch } from '../tests/browser/helpers.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const textPath = opt('text', new URL('./texts/en-5000.txt', import.meta.url).pathname);
const threadList = opt('threads', '1,2').split(',').map(Number);
const beams = opt('beams', '1,4').split(',').map(Number);
const reps = Number(opt('reps', '1'));
const simdQuery = opt('simd', 'auto') === 'simd128' ? '&simd=simd128' : '';
const text = readFileSync(textPath, 'utf8');
const words = text.split(/\s+/).filter(Boolean).length;
const esToEn = /(^|\/)es-/.test(textPath);

const srv = await startServer();
const browser = await launch();
try {
  const pages = new Map();
  for (const n of threadList) {
    const page = await browser.context.newPage();
    await page.goto(`${srv.origin}/web/?threads=${n}${simdQuery}`);
    await page.waitForFunction(() => !!window.atento);
    await page.evaluate(() => window.atento.ensureModel('translate'));
    if (esToEn) await page.check('input[name=dir][value="es-en"]');
    const { used, simd } = await page.evaluate(() => ({ used: window.atento.slots.translate?.info?.threads ?? null, simd: window.atento.slots.translate?.info?.simd ?? null }));
    pages.set(n, { page, used, simd });
  }
  for (let rep = 0; rep < reps; rep++) {
    for (const beam of beams) {
      for (const n of threadList) {
        const { page, used, simd } = pages.get(n);
        await page.click('#tab-translate');
        await page.selectOption('#beam', String(beam));
        await page.fill('#src', text);
        await page.evaluate(() => { document.getElementById('translate-status').textContent = ''; document.getElementById('dst').textContent = ''; });
        const t0 = Date.now();
        await page.click('#translate');
        await page.waitForFunction(() => document.getElementById('dst').textContent.trim().length > 0, null, { timeout: 600000, polling: 10 });
        const first = Date.now() - t0;
        await page.waitForFunction(() => /tokens\/s|Stopped/.test(document.getElementById('translate-status').textContent) || !document.getElementById('notice').hidden, null, { timeout: 1200000, polling: 50 });
        const s = (Date.now() - t0) / 1000;
        const status = await page.textContent('#translate-status');
        console.log(JSON.stringify({ text: textPath.split('/').pop(), threads: n, threads_used: used, simd, beam, rep, words,
          seconds: +s.toFixed(2), words_per_s: +(words / s).toFixed(1), first_text_ms: first, status }));
      }
    }
  }
} finally {
  await browser.close();
  await srv.close();
}
