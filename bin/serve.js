#!/usr/bin/env node
// serve.js — a tiny static server for the atento page (node:http only).
//
//   node bin/serve.js [--port N] [--host H] [--root DIR]     (PORT env also works; default 8080)
//
// --root defaults to the repository; a root without web/ serves its own index.html at /.
//
// Serves the repository root so that /web/, /dist/, /js/ and /models/ are all
// reachable with the same relative paths a static host would give; `/`
// redirects to /web/. Every response carries COOP/COEP (cross-origin
// isolation: SharedArrayBuffer for the abort flag, threads later) and the
// right MIME type (application/wasm for streaming compilation). Paths that
// leave the root (.., symlinks out of it, NUL bytes) are refused.
import { createServer } from 'node:http';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { resolve, join, extname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function parseArgs(argv) {
  const o = { port: process.env.PORT || 8080, host: '127.0.0.1', root: fileURLToPath(new URL('..', import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port' || a === '-p') o.port = val();
    else if (a.startsWith('--port=')) o.port = a.slice(7);
    else if (a === '--host') o.host = val();
    else if (a === '--root') o.root = val();
    else if (a === '--quiet' || a === '-q') o.quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bin/serve.js [--port N] [--host H] [--root DIR] [--quiet]');
      process.exit(0);
    } else fail(`unknown flag ${a}`);
  }
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port '${o.port}'`);
  o.port = port;
  o.root = resolve(o.root);
  return o;
}

function fail(msg) {
  console.error(`serve.js: ${msg}`);
  process.exit(2);
}

function headers(extra = {}) {
  return {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  };
}

function send(res, status, text, extra = {}) {
  res.writeHead(status, headers({ 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra }));
  res.end(text);
}

/** The file path for a URL path, or null if it would leave the root. */
export function resolvePath(root, urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (p.includes('\0')) return null;
  const full = resolve(join(root, p));
  if (full !== root && !full.startsWith(root + sep)) return null;
  return full;
}

export function createStaticServer({ root, quiet = true }) {
  let realRoot = null;
  // The repository root redirects to the page; any other root serves its own index.html.
  const hasWeb = existsSync(join(root, 'web', 'index.html'));
  return createServer(async (req, res) => {
    const done = (status) => { if (!quiet) console.log(`${status} ${req.method} ${req.url}`); };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      done(405);
      return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    const url = new URL(req.url, 'http://localhost');
    if ((url.pathname === '/' || url.pathname === '/web') && hasWeb) {
      done(302);
      res.writeHead(302, headers({ Location: '/web/' + url.search }));
      return res.end();
    }
    let file = resolvePath(root, url.pathname);
    if (!file) { done(403); return send(res, 403, 'forbidden\n'); }
    try {
      realRoot ??= await fsp.realpath(root);
      let st = await fsp.stat(file);
      if (st.isDirectory()) {
        if (!url.pathname.endsWith('/')) {
          done(301);
          res.writeHead(301, headers({ Location: url.pathname + '/' + url.search }));
          return res.end();
        }
        file = join(file, 'index.html');
        st = await fsp.stat(file);
      }
      // A symlink inside the root must not lead outside it.
      const real = await fsp.realpath(file);
      if (real !== realRoot && !real.startsWith(realRoot + sep)) { done(403); return send(res, 403, 'forbidden\n'); }
      if (!st.isFile()) { done(404); return send(res, 404, 'not found\n'); }
      const type = MIME[extname(file).toLowerCase()] || 'application/octet-stream';
      const h = headers({
        'Content-Type': type,
        'Content-Length': st.size,
        'Last-Modified': st.mtime.toUTCString(),
        'Cache-Control': 'no-cache',
      });
      const ims = req.headers['if-modified-since'];
      if (ims && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(ims) / 1000)) {
        done(304);
        res.writeHead(304, headers({ 'Last-Modified': h['Last-Modified'], 'Cache-Control': 'no-cache' }));
        return res.end();
      }
      done(200);
      res.writeHead(200, h);
      if (req.method === 'HEAD') return res.end();
      // 1 MiB reads (64 KiB by default): a model file goes out in few, large writes.
      createReadStream(file, { highWaterMark: 1 << 20 }).on('error', () => res.destroy()).pipe(res);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') { done(404); return send(res, 404, 'not found\n'); }
      done(500);
      send(res, 500, 'cannot read file\n');
    }
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  const server = createStaticServer(o);
  server.on('error', (e) => fail(e.code === 'EADDRINUSE' ? `port ${o.port} is in use (try --port ${o.port + 1})` : e.message));
  server.listen(o.port, o.host, () => {
    const { port } = server.address();
    const host = o.host === '127.0.0.1' ? 'localhost' : o.host.includes(':') ? `[${o.host}]` : o.host;
    const path = existsSync(join(o.root, 'web', 'index.html')) ? '/web/' : '/';
    console.log(`atento: serving ${o.root} at http://${host}:${port}${path} (Ctrl-C stops)`);
  });
}
