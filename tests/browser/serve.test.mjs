// serve.test.mjs — bin/serve.js: COOP/COEP on every response, MIME types,
// the / redirect, and no way out of the served root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { root, startServer } from './helpers.mjs';
import { resolvePath } from '../../bin/serve.js';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.close(); });

// A raw request (the path is sent exactly as given, no URL normalisation).
function get(path, method = 'GET') {
  const u = new URL(srv.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('every response is cross-origin isolated and typed', async () => {
  for (const [path, type] of [['/web/', 'text/html'], ['/web/app.js', 'text/javascript'], ['/web/style.css', 'text/css'],
    ['/js/index.js', 'text/javascript'], ['/web/models.json', 'application/json'], ['/dist/atento.wasm', 'application/wasm']]) {
    const r = await get(path);
    if (path.endsWith('.wasm') && r.status === 404) continue; // not built here
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', path);
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', path);
    assert.ok(r.headers['content-type'].startsWith(type), `${path}: ${r.headers['content-type']}`);
  }
  const nf = await get('/nope.txt');
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['cross-origin-embedder-policy'], 'require-corp');
});

test('/ redirects to the page; directories get their slash', async () => {
  const r = await get('/');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/web/');
  const d = await get('/docs');
  assert.equal(d.status, 301);
  assert.equal(d.headers.location, '/docs/');
  assert.equal((await get('/web/index.html', 'HEAD')).status, 200);
  assert.equal((await get('/web/', 'POST')).status, 405);
});

test('paths outside the root are refused', async () => {
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/web/..%2f..%2f..%2fetc/passwd', '/%00', '/web/%E0%A4%A']) {
    const r = await get(p);
    assert.ok([403, 404, 400].includes(r.status), `${p}: ${r.status}`);
    assert.doesNotMatch(r.body, /root:/);
  }
  assert.equal(resolvePath('/srv/x', '/../y'), null);
  assert.equal(resolvePath('/srv/x', '/a/%2e%2e/%2e%2e/y'), null);
  assert.equal(resolvePath('/srv/x', '/a/b'), '/srv/x/a/b');
});

test('the command line prints the URL and takes --port', async () => {
  const child = spawn(process.execPath, [join(root, 'bin', 'serve.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c) => { out += c; if (out.includes('\n')) resolve(out); });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    assert.match(line, /^atento: serving .* at http:\/\/localhost:\d+\/web\//);
  } finally {
    child.kill();
  }
  const bad = spawn(process.execPath, [join(root, 'bin', 'serve.js'), '--port', 'x']);
  const code = await new Promise((r) => bad.on('exit', r));
  assert.equal(code, 2);
});
