// node.js — Node-only helpers over core.js: read atento.wasm and .gguf files
// straight into wasm memory (one copy, no intermediate buffer). Browsers use
// core.js directly (fetch / File bytes, or reserve() + chunks).
import { openSync, fstatSync, readSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { initAtento, AtentoError } from './core.js';

export const defaultWasmPath = fileURLToPath(new URL('../dist/atento.wasm', import.meta.url));

export const defaultThreadedWasmPath = fileURLToPath(new URL('../dist/atento-mt.wasm', import.meta.url));

// The relaxed-SIMD twins (docs/simd.md), which initAtentoFromFile's default
// picks where relaxedSimdSupported() (Node 22 and later; Node 20 with
// --experimental-wasm-relaxed-simd, which bin/atento.js sets).
export const defaultRelaxedWasmPath = fileURLToPath(new URL('../dist/atento-relaxed.wasm', import.meta.url));

export const defaultThreadedRelaxedWasmPath = fileURLToPath(new URL('../dist/atento-mt-relaxed.wasm', import.meta.url));

/**
 * Instantiate atento.wasm from a file (default: dist/atento.wasm, or
 * $ATENTO_WASM); with threads > 1 the threaded module (dist/atento-mt.wasm,
 * or $ATENTO_WASM_MT) and its workers. With neither given, the relaxed-SIMD
 * build where the engine has it (initAtento's choice; opts.simd, else
 * $ATENTO_SIMD: 'auto' or 'simd128').
 */
export async function initAtentoFromFile(path = process.env.ATENTO_WASM, opts = {}) {
  const env = process.env.ATENTO_SIMD || undefined; // empty: unset
  if (opts.simd === undefined && env !== undefined && env !== 'auto' && env !== 'simd128') {
    throw new AtentoError('E_ARG', `ATENTO_SIMD must be 'auto' or 'simd128', got "${env}"`);
  }
  const simd = opts.simd ?? env ?? 'auto';
  if (!path && !opts.threadedPath && !process.env.ATENTO_WASM_MT) return initAtento(undefined, { threads: opts.threads, simd });
  path ||= defaultWasmPath;
  let bytes;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new AtentoError('E_WASM', `${path} not found: build it with ./build.sh`);
  }
  const threadedPath = opts.threadedPath || process.env.ATENTO_WASM_MT || defaultThreadedWasmPath;
  return initAtento(bytes, { threads: opts.threads, threadedWasm: threadedPath, simd });
}

function fsMessage(e) {
  return { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[e.code] || e.message;
}

/**
 * Load a .gguf file into the runtime `rt`: the bytes are read into memory
 * reserved inside wasm, and the model takes them over.
 * @param {import('./core.js').Atento} rt
 * @param {string} path
 * @param {{onProgress?: (loaded: number, total: number) => void, allowUnknownPretokenizer?: boolean}} [opts]
 * @returns {import('./core.js').Model}
 */
export function loadModelFromFile(rt, path, { onProgress, allowUnknownPretokenizer } = {}) {
  let fd;
  let size;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = st.size;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw new AtentoError('E_LOAD', `cannot open model '${path}': ${fsMessage(e)}`);
  }
  let buf;
  try {
    buf = rt.reserve(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf.view(), off, Math.min(size - off, 1 << 26), off);
      if (n === 0) throw new Error('the file shrank while it was read');
      off += n;
      onProgress?.(off, size);
    }
  } catch (e) {
    buf?.free();
    if (e instanceof AtentoError) throw e;
    throw new AtentoError('E_LOAD', `cannot read model '${path}': ${fsMessage(e)}`);
  } finally {
    closeSync(fd);
  }
  try {
    return buf.load({ allowUnknownPretokenizer });
  } catch (e) {
    if (e instanceof AtentoError && e.code === 'E_LOAD') e.message = `${path}: ${e.message}`;
    throw e;
  }
}
