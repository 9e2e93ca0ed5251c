// helpers.mjs — shared by tests/browser/*.test.mjs (not a test file itself):
// a static server over the repository (bin/serve.js), Debian's chromium
// driven by playwright-core with a fresh profile, and the models to use.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { createStaticServer } from '../../bin/serve.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const artifacts = join(root, 'tests', 'artifacts');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/** Why the browser tests cannot run here, or '' when they can. */
export function skipReason() {
  if (!existsSync(chromiumPath)) return `chromium is not installed (${chromiumPath}): apt-get install -y chromium`;
  try {
    readFileSync(join(root, 'node_modules', 'playwright-core', 'package.json'));
  } catch {
    return 'playwright-core is not installed: npm install';
  }
  return '';
}

function firstGguf(dir, filter = () => true) {
  const d = join(root, dir);
  if (!existsSync(d)) return null;
  const f = readdirSync(d).filter((x) => x.endsWith('.gguf') && filter(x)).sort();
  return f.length ? join(d, f[0]) : null;
}

/** The shipped models, from web/models.json, that exist on disk. */
export function shippedModels() {
  const j = JSON.parse(readFileSync(join(root, 'web', 'models.json'), 'utf8'));
  return j.models
    .map((m) => ({ ...m, path: join(root, 'web', m.url) }))
    .filter((m) => existsSync(m.path));
}

/**
 * A chat (llama) model: the shipped one, else a committed test model, else a
 * tiny random-weight one made here with models/tools/make_llama.py (into the
 * git-ignored tests/artifacts/).
 */
export function chatModel() {
  const s = shippedModels().find((m) => m.kind === 'chat');
  if (s) return s.path;
  const t = firstGguf('tests/data/llama', (f) => !/bad|broken|trunc/i.test(f));
  if (t) return t;
  return randomLlama();
}

/**
 * A tiny random-weight Llama (2 layers, width 64, context 2048) made with
 * models/tools/make_llama.py into tests/artifacts/: it babbles on without
 * ending, which is what a test of Stop needs.
 */
export function randomLlama() {
  const made = join(artifacts, 'tiny-llama.gguf');
  if (!existsSync(made)) {
    mkdirSync(artifacts, { recursive: true });
    // Written aside and renamed, so test files running at once never see half a file.
    const tmp = `${made}.${process.pid}.tmp`;
    const r = spawnSync('/usr/bin/python3', [join(root, 'models', 'tools', 'make_llama.py'), tmp, '--ctx', '2048'], { encoding: 'utf8' });
    if (r.status !== 0) return null;
    renameSync(tmp, made);
  }
  return made;
}

/** A translation (marian) model: the shipped one, else a test model. */
export function translateModel() {
  const s = shippedModels().find((m) => m.kind === 'translate');
  if (s) return s.path;
  return firstGguf('tests/data/marian', (f) => !/bad|broken|trunc/i.test(f));
}

/** The URL path of a file in the repository, as the server serves it. */
export function urlPath(file) {
  return '/' + relative(root, file).split('\\').join('/');
}

export async function startServer() {
  const server = createStaticServer({ root, quiet: true });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { server, origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

/**
 * The static server and the browser of a test file: started before its
 * tests (not when `skip` says why they are skipped) and closed after them.
 * Returns {srv, browser, open(rest)}, filled in by the time a test runs;
 * onRequest(req) sees each request the server gets.
 */
export function useBrowser(skip, { onRequest } = {}) {
  const env = {
    srv: null,
    browser: null,
    /** A new tab on the page (web/ + `rest`, e.g. '#models'). */
    async open(rest = '') {
      const page = await env.browser.context.newPage();
      await page.goto(`${env.srv.origin}/web/${rest}`);
      return page;
    },
  };
  before(async () => {
    if (skip) return;
    env.srv = await startServer();
    if (onRequest) env.srv.server.on('request', onRequest);
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.srv?.close();
  });
  return env;
}

export async function launch() {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'atento-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 820 },
  });
  const logs = [];
  context.on('page', (p) => watch(p, logs));
  for (const p of context.pages()) watch(p, logs);
  return {
    context,
    logs,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

function watch(page, logs) {
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => logs.push(`worker console.${m.type()}: ${m.text()}`)));
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Open a model through the Models tab's file input and wait until it is in use. */
export async function openFileModel(page, file, kind) {
  await page.click('#tab-models');
  await page.setInputFiles('#file', file);
  await page.waitForFunction((k) => !!window.atento?.slots?.[k] || !document.getElementById('notice').hidden, kind, { timeout: 120000 });
  const notice = await page.evaluate(() => (document.getElementById('notice').hidden ? '' : document.getElementById('notice-text').textContent));
  if (notice && !(await page.evaluate((k) => !!window.atento.slots[k], kind))) throw new Error(`the page refused ${file}: ${notice}`);
}

/** Load a model through the Models tab's URL form and wait until it is in use. */
export async function openUrlModel(page, path, kind) {
  await page.click('#tab-models');
  await page.fill('#model-url', path);
  await page.click('#url-form button[type=submit]');
  await page.waitForFunction((k) => !!window.atento?.slots?.[k] || !document.getElementById('notice').hidden, kind, { timeout: 120000 });
  const ok = await page.evaluate((k) => !!window.atento.slots[k], kind);
  if (!ok) throw new Error(`the page refused ${path}: ${await page.textContent('#notice-text')}`);
}

/**
 * Record every distinct text of an element while something streams into it:
 * returns a function that gives back the recorded states.
 */
export async function recordTexts(page, selector) {
  await page.evaluate((sel) => {
    const node = document.querySelector(sel);
    window.__states = [];
    window.__obs?.disconnect();
    window.__obs = new MutationObserver(() => {
      const t = node.textContent;
      const s = window.__states;
      if (s[s.length - 1] !== t) s.push(t);
    });
    window.__obs.observe(node, { childList: true, subtree: true, characterData: true });
  }, selector);
  return () => page.evaluate(() => { window.__obs.disconnect(); return window.__states; });
}
