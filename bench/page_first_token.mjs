// page_first_token.mjs — time to the first translated token in the page, in
// headless chromium on localhost (bin/serve.js), N runs, each in a fresh
// browser profile, with the page's own timeline of the steps
// (window.atento.timeline):
//
//   cold  first visit (empty storage, no service worker); the text is typed
//         and Ctrl+Enter pressed as soon as the page is there
//   warm  the same, the model stored by the cold visit
//   link  warm, the text in the page's link (/web/?text=…): what the page
//         itself takes from navigation to the first token. The typed runs
//         also count the harness: playwright's fill and key press reach the
//         page 150-250 ms after its load event on this machine ("key" below),
//         so for them the time from the key to the first token is given too.
//
//   node bench/page_first_token.mjs [N=3] [QUERY]   (needs chromium and npm install)
//
// QUERY is added to the page's URL, e.g. '?threads=1' (default: the page's own
// choice, every core up to 8 when cross-origin isolated) or '?simd=simd128'
// (the SIMD128 build where the page would run the relaxed-SIMD one; each line
// says which ran, docs/simd.md).
//
// Prints one line per run and the best and median times as JSON (the
// machine is shared: the best of several runs is the least disturbed one). docs/benchmarks.md keeps the figures.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { launch } from '../tests/browser/helpers.mjs';

// The page's server runs in its own process, as `npm start` does: in this
// one it would share an event loop with playwright's driver.
async function startServer() {
  const p = spawn(process.execPath, [fileURLToPath(new URL('../bin/serve.js', import.meta.url)), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const origin = await new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d) => { out += d; const m = /at (http:\/\/[^/\s]+)/.exec(out); if (m) resolve(m[1].replace('localhost', '127.0.0.1')); });
    p.on('exit', (c) => reject(new Error(`bin/serve.js exited (${c})`)));
  });
  // (killed with the bench too, e.g. by timeout(1): it holds the bench's stderr)
  process.once('exit', () => p.kill());
  process.once('SIGTERM', () => process.exit(143));
  return { origin, close: async () => { p.kill(); } };
}

const n = Number(process.argv[2] || 3);
const query = process.argv[3] || '';
const TEXT = 'The cat is sleeping on the sofa.';
const srv = await startServer();
const runs = { cold: [], warm: [], warmFromKey: [], link: [] };
const simds = new Set(); // the builds that ran: 'relaxed', 'simd128'
for (let i = 0; i < n; i++) {
  const b = await launch();
  for (const kind of ['cold', 'warm', 'link']) {
    const page = await b.context.newPage();
    await page.addInitScript(() => { addEventListener('keydown', () => { window.atentoKeyAt ??= performance.now(); }, true); });
    if (kind === 'link') {
      const sep = query ? '&' : '?';
      await page.goto(`${srv.origin}/web/${query}${sep}text=${encodeURIComponent(TEXT)}`, { waitUntil: 'commit' });
    } else {
      await page.goto(`${srv.origin}/web/${query}`);
      await page.fill('#src', TEXT);
      await page.press('#src', 'Control+Enter');
    }
    await page.waitForFunction(() => window.atento?.firstTokenAt > 0, null, { timeout: 120000 });
    const r = await page.evaluate(() => ({
      first: Math.round(window.atento.firstTokenAt),
      key: Math.round(window.atentoKeyAt ?? 0),
      dcl: Math.round(performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? 0),
      steps: window.atento.timeline.map((s) => `${s.at} ${s.what}`),
      simd: window.atento.slots.translate?.info?.simd ?? null,
    }));
    simds.add(r.simd);
    runs[kind].push(r.first);
    if (kind === 'warm') runs.warmFromKey.push(r.first - r.key);
    const key = r.key ? `, key at ${r.key} ms: ${r.first - r.key} ms after it` : '';
    console.log(`${kind} ${r.first} ms (page ready ${r.dcl} ms${key}, ${r.simd}): ${r.steps.join(' | ')}`);
    // The warm runs need the model stored: the cold page stays until it is.
    if (kind === 'cold') await page.waitForFunction(() => window.atento.store.list().length > 0, null, { timeout: 120000 });
    await page.close();
  }
  await b.close();
}
await srv.close();
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const best = (a) => Math.min(...a);
const out = { runs: n, simd: [...simds].join(',') };
for (const [k, v] of Object.entries(runs)) { out[`${k}BestMs`] = best(v); out[`${k}MedianMs`] = median(v); }
console.log(JSON.stringify({ ...out, ...runs }));
