// page_first_token.mjs — time to the first translated token in the page, in
// headless chromium on localhost (bin/serve.js), cold (fresh profile: empty
// storage, no service worker) and warm (models stored), N runs each, with
// the page's own timeline of the steps (window.atento.timeline). The text is
// typed and Ctrl+Enter pressed as soon as the page is there.
//
//   node bench/page_first_token.mjs [N=3] [QUERY]   (needs chromium and npm install)
//
// QUERY is added to the page's URL, e.g. '?threads=1' (default: the page's own
// choice, every core up to 8 when cross-origin isolated).
//
// Prints one line per run and the best and median times as JSON (the
// machine is shared: the best of several runs is the least disturbed one). docs/benchmarks.md keeps the figures.
import { startServer, launch } from '../tests/browser/helpers.mjs';

const n = Number(process.argv[2] || 3);
const query = process.argv[3] || '';
const srv = await startServer();
const runs = { cold: [], warm: [] };
for (let i = 0; i < n; i++) {
  const b = await launch();
  for (const kind of ['cold', 'warm']) {
    const page = await b.context.newPage();
    await page.goto(`${srv.origin}/web/${query}`);
    await page.fill('#src', 'The cat is sleeping on the sofa.');
    await page.press('#src', 'Control+Enter');
    await page.waitForFunction(() => window.atento.firstTokenAt > 0, null, { timeout: 120000 });
    const r = await page.evaluate(() => ({
      first: Math.round(window.atento.firstTokenAt),
      dcl: Math.round(performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? 0),
      steps: window.atento.timeline.map((s) => `${s.at} ${s.what}`),
    }));
    runs[kind].push(r.first);
    console.log(`${kind} ${r.first} ms (page ready ${r.dcl} ms): ${r.steps.join(' | ')}`);
    // The warm run needs the model stored: the cold page stays until it is.
    if (kind === 'cold') await page.waitForFunction(() => window.atento.store.list().length > 0, null, { timeout: 120000 });
    await page.close();
  }
  await b.close();
}
await srv.close();
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const best = (a) => Math.min(...a);
console.log(JSON.stringify({ runs: n, coldBestMs: best(runs.cold), coldMedianMs: median(runs.cold), warmBestMs: best(runs.warm), warmMedianMs: median(runs.warm), cold: runs.cold, warm: runs.warm }));
