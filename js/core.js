// core.js — the thin low-level layer over dist/atento.wasm (src/atento.h).
//
// Works in Node >= 20 and in a browser (Worker or page): no Node-only import
// at the top level; Node's file reading is only reached through a dynamic
// import when initAtento() is given a file: URL (or nothing, in Node).
//
//   import { initAtento } from './core.js';
//   const rt = await initAtento();                 // or bytes, a URL, a Response, a WebAssembly.Module
//   const model = rt.loadModel(ggufBytes);         // copies the bytes once into wasm memory
//   const ids = model.tokenize('Hello');           // Int32Array
//   const s = model.newSession(512);
//   s.eval(ids);
//   const smp = model.newSampler({ temperature: 0.8, seed: 1 });
//   for (const { token, text } of model.generate(s, smp, { maxTokens: 32 })) ...
//   smp.free(); s.free(); model.free();
//
// Everything here is a direct call into the C API; no model logic lives in JS.
// Errors are AtentoError (an Error) with a `code`:
//   E_WASM        the .wasm cannot be fetched / compiled / instantiated
//   E_UNSUPPORTED the .wasm lacks an API function (stale build)
//   E_ARG         a bad argument given from JS (not an array of ids, ...)
//   E_NOMEM       wasm memory cannot grow any more
//   E_FREED       use of a model/session/sampler after free()
//   E_LOAD, E_TOKENIZE, E_DETOKENIZE, E_SESSION, E_EVAL, E_SCORE, E_SAMPLE,
//   E_GENERATE    the C call failed; the message is atn_last_error()
//   E_ABORT       the wasm code trapped or aborted (a bug in atento: please
//                 report it). That instance is discarded and a fresh one
//                 started at once, so the runtime keeps working; models,
//                 sessions and samplers of the old instance are gone (using
//                 one throws E_ABORT) and must be loaded again.
// Pointers are unsigned 32-bit (memory may grow to 4 GiB): always `>>> 0`.
// Limits of wasm32 (docs/conventions.md, "Limits"): the memory holds at most
// 4 GiB in all, and one allocation (a model file is one) at most 2 GiB.

const SAMPLER_PARAMS_SIZE = 32; // sizeof(atn_sampler_params) in wasm32, see below
const WASM_MAX_MEMORY = 2 ** 32; // 65536 pages of 64 KiB (build.sh: -sMAXIMUM_MEMORY=4GB)
const WASM_MAX_ALLOC = 2 ** 31; // dlmalloc grows its heap by less than half the address space at once
const mib = (n) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;
const utf8enc = new TextEncoder();
const utf8decoder = new TextDecoder('utf-8'); // replacement chars for invalid bytes, never throws
// TextDecoder refuses views of a SharedArrayBuffer (the threaded module's
// memory): those are copied first.
const utf8dec = {
  decode: (v) => utf8decoder.decode(typeof SharedArrayBuffer !== 'undefined' && v && v.buffer instanceof SharedArrayBuffer ? v.slice() : v),
};

export class AtentoError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'AtentoError';
    this.code = code;
  }
}

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// ---- loading the module -----------------------------------------------------

/** The default location of the module: ../dist/atento.wasm beside this file. */
export function defaultWasmUrl() {
  return new URL('../dist/atento.wasm', import.meta.url);
}

async function compile(source) {
  if (source === undefined || source === null) source = defaultWasmUrl();
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  if (typeof source === 'string') {
    // A path in Node, else a URL relative to the page / worker.
    if (isNode && !/^[a-z][a-z0-9+.-]*:/i.test(source)) {
      const { pathToFileURL } = await import('node:url');
      source = pathToFileURL(source);
    } else {
      source = new URL(source, globalThis.location ? globalThis.location.href : undefined);
    }
  }
  if (source instanceof URL) {
    if (source.protocol === 'file:') {
      if (!isNode) throw new AtentoError('E_WASM', `cannot read ${source.href} outside Node`);
      const { readFile } = await import('node:fs/promises');
      let bytes;
      try {
        bytes = await readFile(source);
      } catch (e) {
        throw new AtentoError('E_WASM', `cannot read ${decodeURIComponent(source.pathname)}: ${e.code || e.message} (build it with ./build.sh)`);
      }
      return WebAssembly.compile(bytes);
    }
    source = fetch(source);
  }
  if (source && typeof source.then === 'function') source = await source;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new AtentoError('E_WASM', `cannot fetch ${source.url}: HTTP ${source.status}`);
    if (WebAssembly.compileStreaming && (source.headers.get('content-type') || '').startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(source);
    }
    return WebAssembly.compile(await source.arrayBuffer());
  }
  throw new AtentoError('E_ARG', 'initAtento: expected bytes, a URL, a Response or a WebAssembly.Module');
}

/**
 * Compile and instantiate atento.wasm.
 *
 * opts.simd: 'auto' (default) loads the relaxed-SIMD build
 * (dist/atento-relaxed.wasm, dist/atento-mt-relaxed.wasm) where
 * relaxedSimdSupported() and the caller gave no module of its own, else the
 * SIMD128 one; 'simd128' always the SIMD128 one. A relaxed module that cannot
 * be fetched, compiled or instantiated is replaced by its SIMD128 twin
 * (rt.simdError says why). rt.simd names the build that runs.
 * @param {BufferSource|URL|string|Response|Promise<Response>|WebAssembly.Module} [source]
 * @returns {Promise<Atento>}
 */
export async function initAtento(source, opts = {}) {
  const simd = checkSimd(opts.simd);
  const threads = wantedThreads(opts.threads);
  const relaxed = simd === 'auto' && relaxedSimdSupported();
  const given = (s) => s !== undefined && s !== null;
  if (threads > 1) {
    // The threaded module when this environment can share memory between
    // threads; the single-thread one otherwise (rt.threadsError says why).
    const why = sharedMemoryMissing();
    if (!why) {
      try {
        return await withFallback(given(opts.threadedWasm) ? opts.threadedWasm : null, relaxed,
          defaultThreadedRelaxedWasmUrl, defaultThreadedWasmUrl, (s) => initThreaded(s, threads));
      } catch (e) {
        const rt = await initAtento(source, { simd });
        rt.threadsError = e.message;
        return rt;
      }
    }
    const rt = await initAtento(source, { simd });
    rt.threadsError = why;
    return rt;
  }
  return withFallback(given(source) ? source : null, relaxed, defaultRelaxedWasmUrl, defaultWasmUrl, initSingle);
}

// The module the caller gave; else the relaxed default where wanted, its
// SIMD128 twin should it fail to load; else the SIMD128 default.
async function withFallback(source, relaxed, relaxedUrl, plainUrl, init) {
  if (source !== null) return init(source);
  if (!relaxed) return init(plainUrl());
  try {
    return await init(relaxedUrl());
  } catch (e) {
    const rt = await init(plainUrl());
    rt.simdError = e.message;
    return rt;
  }
}

async function initSingle(source) {
  let module;
  try {
    module = await compile(source);
  } catch (e) {
    if (e instanceof AtentoError) throw e;
    throw new AtentoError('E_WASM', `cannot compile ${wasmName(source, 'atento.wasm')}: ${e.message}`);
  }
  const rt = new Atento();
  rt._module = module;
  rt.simd = simdOf(module);
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, rt._imports(module));
  } catch (e) {
    if (e instanceof AtentoError) throw e;
    throw new AtentoError('E_WASM', `cannot instantiate ${wasmName(source, 'atento.wasm')}: ${e.message}`);
  }
  rt._attach(instance);
  return rt;
}

// The file name of a module given by URL or path, for messages.
function wasmName(source, fallback) {
  const s = source instanceof URL ? source.pathname : typeof source === 'string' ? source : '';
  const m = /([^/\\]+\.wasm)$/i.exec(s);
  return m ? decodeURIComponent(m[1]) : fallback;
}

// ---- relaxed SIMD (docs/simd.md) ---------------------------------------------

/** The default location of the relaxed-SIMD module, beside atento.wasm. */
export function defaultRelaxedWasmUrl() {
  return new URL('../dist/atento-relaxed.wasm', import.meta.url);
}

/** The default location of the threaded relaxed-SIMD module, beside atento.wasm. */
export function defaultThreadedRelaxedWasmUrl() {
  return new URL('../dist/atento-mt-relaxed.wasm', import.meta.url);
}

const SIMD_CHOICES = ['auto', 'simd128'];

/** The simd option: 'auto' (also for undefined / null) or 'simd128'; anything else throws E_ARG. */
export function checkSimd(v) {
  if (v === undefined || v === null) return 'auto';
  if (!SIMD_CHOICES.includes(v)) {
    throw new AtentoError('E_ARG', `simd must be 'auto' or 'simd128', got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  return v;
}

/** 'relaxed' for a module of the relaxed-SIMD build (its custom section "atento.simd", build.sh), else 'simd128'. */
export function simdOf(module) {
  try {
    const [sec] = WebAssembly.Module.customSections(module, 'atento.simd');
    if (sec && new TextDecoder().decode(sec) === 'relaxed') return 'relaxed';
  } catch { /* not a WebAssembly.Module */ }
  return 'simd128';
}

// The probe's operands. b's lanes stay in 0..127 (the "i7" operand), where
// every implementation of the relaxed dot must agree; a's take the whole
// signed range, -128 included (a pair of products stays within 16 bits).
const PROBE_A = [-128, 127, -1, 2, 100, -100, 50, -50, 3, -7, 11, -13, 127, -128, 64, -64];
const PROBE_B = [127, 127, 1, 126, 90, 45, 0, 1, 127, 5, 9, 100, 1, 2, 3, 127];

// The probe module, assembled from the operands above. It runs the relaxed
// instruction the kernels use (src/kernels/simd128.c, rdot16):
//
//   (module
//     (func (export "dot") (result i32) (local v128)
//       v128.const i8x16 <PROBE_A>
//       v128.const i8x16 <PROBE_B>
//       i16x8.relaxed_dot_i8x16_i7x16_s         ;; 0xfd 0x112
//       local.set 0
//       local.get 0  i16x8.extract_lane_s 0
//       local.get 0  i16x8.extract_lane_s 1  i32.add
//       ...
//       local.get 0  i16x8.extract_lane_s 7  i32.add))
function probeBytes() {
  const v128 = (bytes) => [0xfd, 0x0c, ...bytes.map((x) => x & 0xff)];
  const lane = (i) => [0x20, 0x00, 0xfd, 0x18, i]; // local.get 0; i16x8.extract_lane_s i
  const lanes = [...lane(0)];
  for (let i = 1; i < 8; i++) lanes.push(...lane(i), 0x6a); // i32.add
  const body = [
    0x01, 0x01, 0x7b, // one local: v128
    ...v128(PROBE_A), ...v128(PROBE_B),
    0xfd, 0x92, 0x02, // i16x8.relaxed_dot_i8x16_i7x16_s (0x112, LEB128)
    0x21, 0x00, // local.set 0
    ...lanes,
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
    0x03, 0x02, 0x01, 0x00, // function section: function 0 has type 0
    0x07, 0x07, 0x01, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00, // export "dot" = function 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section (both sizes < 128)
  ]);
}

/** The exact result of the probe: the dot of a and b (each lane's pair sum fits 16 bits). */
function probeExpected() {
  let sum = 0;
  for (let i = 0; i < 16; i++) sum += PROBE_A[i] * PROBE_B[i];
  return sum;
}

let relaxedProbe = null;
/**
 * Does this engine run relaxed SIMD with the exact i16x8.relaxed_dot_i8x16_i7x16_s
 * (the one relaxed instruction of the kernels)? A tiny module computes it on
 * constant vectors: true only if it validates, instantiates and returns the
 * exact value. Synchronous, computed once. (Node 20's V8 has relaxed SIMD
 * behind --experimental-wasm-relaxed-simd, which bin/atento.js sets; there
 * this instruction is exact, while its i32x4 form returns twice the dot.)
 */
export function relaxedSimdSupported() {
  if (relaxedProbe === null) {
    try {
      const bytes = probeBytes();
      relaxedProbe = WebAssembly.validate(bytes)
        && new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports.dot() === probeExpected();
    } catch {
      relaxedProbe = false;
    }
  }
  return relaxedProbe;
}

// ---- threads (dist/atento-mt.wasm, docs/threads.md) --------------------------

/** The default location of the threaded module, beside atento.wasm. */
export function defaultThreadedWasmUrl() {
  return new URL('../dist/atento-mt.wasm', import.meta.url);
}

const MAX_THREADS = 16;             // src/threads.h ATN_MAX_THREADS
const THREAD_STACK = 256 * 1024;    // each worker's C stack (the kernels need little)
const THREAD_START_MS = 20000;      // a worker not ready by then is given up (the pool works without it)

/** The logical cores here, capped at 8: the default of `threads: 'auto'`. */
export function defaultThreads() {
  const n = (globalThis.navigator && navigator.hardwareConcurrency) || 1;
  return Math.max(1, Math.min(8, n));
}

function wantedThreads(t) {
  if (t === undefined || t === null) return 1;
  if (t === 'auto') return defaultThreads();
  if (!Number.isInteger(t) || t < 1 || t > MAX_THREADS) {
    throw new AtentoError('E_ARG', `threads must be an integer from 1 to ${MAX_THREADS} or 'auto', got ${t}`);
  }
  return t;
}

/** Why memory cannot be shared between threads here, or '' if it can. */
export function sharedMemoryMissing() {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available (the page is not cross-origin isolated)';
  if (!isNode && globalThis.crossOriginIsolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers)';
  if (!isNode && typeof Worker === 'undefined') return 'Workers are not available here';
  return '';
}

async function initThreaded(source, threads) {
  let module;
  try {
    module = await compile(source);
  } catch (e) {
    if (e instanceof AtentoError) throw e;
    throw new AtentoError('E_WASM', `cannot compile ${wasmName(source, 'atento-mt.wasm')}: ${e.message}`);
  }
  // The module asks for at least 16 MiB (256 pages) and may grow to 4 GiB.
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
  const rt = new Atento();
  rt._sharedMemory = memory;
  rt._module = module;
  rt.simd = simdOf(module);
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, rt._imports(module));
  } catch (e) {
    throw new AtentoError('E_WASM', `cannot instantiate ${wasmName(source, 'atento-mt.wasm')}: ${e.message}`);
  }
  rt._attach(instance);
  rt.threaded = true;
  await rt.setThreads(threads);
  return rt;
}

function spawnThread(url) {
  if (isNode) {
    return import('node:worker_threads').then(({ Worker }) => {
      // not the parent's --input-type, --eval and the like: the worker is a module file
      const w = new Worker(url, { execArgv: process.execArgv.filter((a) => !/^--(input-type|eval|print)/.test(a)) });
      return {
        post: (m) => w.postMessage(m),
        on: (f) => {
          w.on('message', f);
          w.on('error', (e) => f({ type: 'error', message: e.message }));
          w.unref(); // after the listeners (which ref it): parked workers must not keep Node alive
        },
        terminate: () => w.terminate(),
      };
    });
  }
  const w = new Worker(url, { type: 'module', name: 'atento-thread' });
  return Promise.resolve({
    post: (m) => w.postMessage(m),
    on: (f) => { w.onmessage = (e) => f(e.data); w.onerror = (e) => { e.preventDefault?.(); f({ type: 'error', message: e.message || 'worker failed' }); }; },
    terminate: () => w.terminate(),
  });
}

// ---- the runtime ------------------------------------------------------------

export class Atento {
  constructor() {
    this.exports = null;
    this.memory = null;
    this._buf = null;
    this._u8 = null;
    this._scratch = 0; // 16 bytes for out-parameters
    this._module = null; // kept to start a fresh instance after a trap
    this._fns = new Map(); // export name -> trap-catching wrapper, per instance
    this.epoch = 0; // counts instances: handles of an older one are dead
    this.threaded = false;    // the threaded module (dist/atento-mt.wasm) is loaded
    this.threadsError = '';   // why threads were asked for but are not available
    this.simd = 'simd128';    // the build that runs: 'relaxed' (dist/atento*-relaxed.wasm) or 'simd128'
    this.simdError = '';      // why the relaxed build was wanted but its SIMD128 twin runs
    this._threads = [];       // workers 1..n-1: { handle, stack, exited }
    // Called with the discarded instance's memory when a call traps, before
    // the fresh instance starts: what it must keep (js/worker.js copies the
    // model file out of it to load the model again) is read there.
    this.onTrap = null;
    this._afterTrap = false; // a trap restarted the instance and nothing has called it since
  }

  /** Threads in use (1 for the single-thread module). */
  get threads() { return this.threaded ? this._threads.length + 1 : 1; }

  /**
   * Use n threads (1..16; 'auto' = the logical cores up to 8). Starts or
   * stops workers of the threaded module and resolves to the count in use;
   * the single-thread module stays at 1. Call it between operations.
   */
  async setThreads(n) {
    n = wantedThreads(n);
    if (!this.threaded) return 1;
    if (n - 1 < this._threads.length) await this._stopThreads(n);
    if (this.fn('atn_set_threads')(n) < 0) this.fail('E_ARG', 'setting the thread count');
    if (isNode && n > 1 && !this._exitHook) {
      // Node cannot end a worker_thread parked in memory.atomic.wait: at exit
      // the pool is shrunk, so the workers leave the module and can be ended.
      this._exitHook = () => { try { this.fn('atn_set_threads')(1); } catch { /* exiting anyway */ } };
      process.once('exit', this._exitHook);
    }
    const starting = [];
    for (let id = this._threads.length + 1; id < n; id++) {
      const stack = this.malloc(THREAD_STACK);
      const t = { id, stack, exited: null, handle: null };
      this._threads.push(t);
      starting.push(spawnThread(new URL('./thread.js', import.meta.url)).then((handle) => new Promise((resolve, reject) => {
        t.handle = handle;
        let onExit;
        t.exited = new Promise((r) => { onExit = r; });
        const timer = setTimeout(() => reject(new AtentoError('E_WASM', `thread ${id} did not start`)), THREAD_START_MS);
        handle.on((m) => {
          if (m.type === 'ready') { clearTimeout(timer); resolve(); }
          else if (m.type === 'exit') onExit(true);
          else if (m.type === 'error') { clearTimeout(timer); onExit(false); reject(new AtentoError('E_WASM', `thread ${id}: ${m.message}`)); }
        });
        handle.post({ module: this._module, memory: this._sharedMemory, id, stackTop: stack + THREAD_STACK });
      })));
    }
    const results = await Promise.allSettled(starting);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      // Run with the threads that did start (the pool never waits for a
      // worker that is not running).
      await this._stopThreads(1);
      this.fn('atn_set_threads')(1);
      this.threadsError = failed.reason.message;
    }
    return this.threads;
  }

  /** Stop workers n..: they leave atn_thread_run, then are terminated. */
  async _stopThreads(n) {
    const leaving = this._threads.splice(n - 1);
    if (!leaving.length) return;
    this.fn('atn_set_threads')(n);
    await Promise.all(leaving.map(async (t) => {
      // A stack is freed only once its worker has provably left the module.
      const left = t.exited ? await Promise.race([t.exited, new Promise((r) => setTimeout(() => r(false), 2000))]) : false;
      if (t.handle) await t.handle.terminate();
      if (left) this.free(t.stack);
    }));
  }

  /** Stop the workers (the runtime goes on with one thread). */
  async dispose() {
    if (this.threaded) await this._stopThreads(1);
  }

  // The imports a standalone emscripten module may ask for. The core does no
  // I/O, so WASI calls are stubs; anything unexpected fails loudly when called.
  _imports(module) {
    const imports = {};
    const self = this;
    const stub = (mod, name) => {
      if (name === 'emscripten_notify_memory_growth') return () => {}; // views are refreshed lazily
      if (name === 'emscripten_memcpy_big') return (d, s, n) => { self.u8.copyWithin(d >>> 0, s >>> 0, (s >>> 0) + (n >>> 0)); return d; };
      if (name === 'proc_exit' || name === 'abort' || name === '__assert_fail' || name === '_abort_js') {
        return (code) => { throw new AtentoError('E_ABORT', `atento.wasm aborted (${name}${typeof code === 'number' ? ' ' + code : ''})`); };
      }
      if (name === 'fd_write') {
        // Only reached through a debugging printf; forward to the console.
        return (fd, iovs, iovsLen, nwritten) => {
          const dv = self.view();
          let total = 0, text = '';
          for (let i = 0; i < iovsLen; i++) {
            const p = dv.getUint32((iovs >>> 0) + 8 * i, true), n = dv.getUint32((iovs >>> 0) + 8 * i + 4, true);
            text += utf8dec.decode(self.u8.subarray(p, p + n));
            total += n;
          }
          if (text) console.error(text.replace(/\n$/, ''));
          dv.setUint32(nwritten >>> 0, total, true);
          return 0;
        };
      }
      if (name === 'clock_time_get') {
        return (id, prec, out) => {
          const ns = BigInt(Math.round((globalThis.performance ? performance.timeOrigin + performance.now() : Date.now()) * 1e6));
          self.view().setBigUint64(out >>> 0, ns, true);
          return 0;
        };
      }
      if (name === 'random_get') {
        return (p, n) => { const b = new Uint8Array(n >>> 0); globalThis.crypto.getRandomValues(b); self.u8.set(b, p >>> 0); return 0; };
      }
      if (name === 'environ_sizes_get' || name === 'args_sizes_get') {
        return (a, b) => { const dv = self.view(); dv.setUint32(a >>> 0, 0, true); dv.setUint32(b >>> 0, 0, true); return 0; };
      }
      if (name === 'environ_get' || name === 'args_get') return () => 0;
      if (mod === 'wasi_snapshot_preview1') return () => 52; // ENOSYS
      return () => { throw new AtentoError('E_ABORT', `atento.wasm called an import it should not need: ${mod}.${name}`); };
    };
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind === 'memory' && this._sharedMemory) { (imports[imp.module] ??= {})[imp.name] = this._sharedMemory; continue; }
      if (imp.name === '__emscripten_init_main_thread_js') {
        // the threaded libc's main-thread setup: (thread block, is main
        // browser thread, is main runtime thread, can block)
        const onPage = !isNode && typeof WorkerGlobalScope === 'undefined';
        imports[imp.module] ??= {};
        imports[imp.module][imp.name] = (tb) => self.exports._emscripten_thread_init(tb, onPage ? 1 : 0, 1, onPage ? 0 : 1);
        continue;
      }
      if (imp.kind !== 'function') {
        throw new AtentoError('E_WASM', `atento.wasm imports a ${imp.kind} (${imp.module}.${imp.name}); rebuild it with ./build.sh`);
      }
      (imports[imp.module] ??= {})[imp.name] = stub(imp.module, imp.name);
    }
    return imports;
  }

  _attach(instance) {
    this.exports = instance.exports;
    this._fns = new Map();
    this.memory = instance.exports.memory ?? this._sharedMemory;
    if (!(this.memory instanceof WebAssembly.Memory)) throw new AtentoError('E_WASM', 'atento.wasm exports no memory');
    if (typeof this.exports._initialize === 'function') this.exports._initialize();
    this._scratch = this.malloc(16);
  }

  /**
   * The C function `name`, or an E_UNSUPPORTED error if this build lacks it.
   * A call that traps (RuntimeError, stack exhaustion, abort) throws E_ABORT
   * after the instance was replaced by a fresh one (see _trapped).
   */
  fn(name) {
    let w = this._fns.get(name);
    if (w) return w;
    if (!this.exports) throw new AtentoError('E_ABORT', 'the atento runtime was discarded after a trap and could not restart; create a new one with initAtento()');
    const f = this.exports[name];
    if (typeof f !== 'function') {
      throw new AtentoError('E_UNSUPPORTED', `this atento.wasm has no ${name} (stale build? run ./build.sh)`);
    }
    const freeing = name === 'atn_free' || name.endsWith('_free');
    w = (...args) => {
      if (this._afterTrap) {
        // Cleanup unwinding from a trap (finally blocks) frees pointers of
        // the discarded instance: in the fresh one they would free whatever
        // lies there. Frees are dropped until the runtime is used again.
        if (freeing) return undefined;
        this._afterTrap = false;
      }
      try {
        return f(...args);
      } catch (e) {
        throw this._trapped(e, name);
      }
    };
    this._fns.set(name, w);
    return w;
  }

  // Whatever unwinds out of a wasm call (a trap, a stack overflow, an abort
  // thrown by an import) leaves the C heap and globals in an unknown state:
  // the instance is discarded and a fresh one started from the same module,
  // synchronously, so the next call works. Handles (Model, Session, Sampler)
  // of the old instance know their epoch and refuse to be used.
  _trapped(e, name) {
    const what = e instanceof AtentoError ? e.message : `${e && e.name ? e.name + ': ' : ''}${e && e.message ? e.message : e}`;
    if (this.onTrap) {
      try { this.onTrap(this.memory); } catch { /* recovery goes on without it */ }
    }
    this.epoch++;
    this.exports = null;
    this._fns = new Map();
    this._buf = this._u8 = this._dv = null;
    let restarted = false;
    if (this._sharedMemory) {
      // The threaded module: its workers are parked in the old memory. They
      // are ended, and the fresh instance gets a fresh memory and one thread
      // (setThreads starts workers again).
      for (const t of this._threads) t.handle?.terminate();
      this._threads = [];
      this._sharedMemory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
      this.threadsError = 'the threads were stopped after a trap';
    }
    if (this._module) {
      try {
        this._attach(new WebAssembly.Instance(this._module, this._imports(this._module)));
        restarted = true;
        this._afterTrap = true;
      } catch {
        this.exports = null; // e.g. synchronous instantiation refused on a browser's main thread
      }
    }
    return new AtentoError('E_ABORT', `atento.wasm trapped in ${name} (${what}); the WebAssembly instance was discarded${restarted ? ' and a fresh one started: load the model again' : ''}`);
  }

  /** Current byte view of the wasm memory (re-created after memory growth). */
  get u8() {
    if (this._buf !== this.memory.buffer) {
      this._buf = this.memory.buffer;
      this._u8 = new Uint8Array(this._buf);
      this._dv = new DataView(this._buf);
    }
    return this._u8;
  }

  view() { this.u8; return this._dv; }

  /** Size of the wasm memory in bytes (it only grows, so this is also its peak). */
  get memoryBytes() { return this.memory.buffer.byteLength; }

  lastError() {
    const p = this.fn('atn_last_error')() >>> 0;
    return p ? this.cstring(p) : '';
  }

  /** Throw the last C error as an AtentoError with `code`. */
  fail(code, what) {
    const msg = this.lastError();
    throw new AtentoError(code, msg ? msg : `${what} failed`);
  }

  malloc(n) {
    if (!Number.isSafeInteger(n) || n < 0) throw new AtentoError('E_ARG', `bad allocation size ${n}`);
    if (n > WASM_MAX_ALLOC) {
      throw new AtentoError('E_NOMEM', `cannot allocate ${mib(n)} in WebAssembly memory: one allocation is limited to ${mib(WASM_MAX_ALLOC)} (wasm32)`);
    }
    const p = this.fn('atn_malloc')(Math.max(1, n) >>> 0) >>> 0;
    if (!p) throw new AtentoError('E_NOMEM', `out of memory: cannot allocate ${mib(n)} in WebAssembly memory (grown to ${mib(this.memoryBytes)} of its ${mib(WASM_MAX_MEMORY)} limit)`);
    return p;
  }

  free(p) { if (p) this.fn('atn_free')(p); }

  /** A NUL-terminated C string at p, decoded as UTF-8 (any length). */
  cstring(p) {
    p >>>= 0;
    const u8 = this.u8;
    let e = u8.indexOf(0, p);
    if (e < 0) e = u8.length;
    return utf8dec.decode(u8.subarray(p, e));
  }

  /** Copy bytes into fresh wasm memory (NUL-terminated); returns [ptr, len]. */
  putBytes(bytes) {
    const p = this.malloc(bytes.length + 1);
    const u8 = this.u8;
    u8.set(bytes, p);
    u8[p + bytes.length] = 0;
    return [p, bytes.length];
  }

  putString(s) {
    if (typeof s !== 'string') throw new AtentoError('E_ARG', `expected a string, got ${typeof s}`);
    return this.putBytes(utf8enc.encode(s));
  }

  /**
   * The tool calls in a model's reply (atn_chat_parse_tool_calls): Hermes/Qwen
   * <tool_call> blocks or a Llama 3.1 JSON call.
   * @returns {{content: string, toolCalls: {name: string, arguments: object}[]}}
   */
  parseToolCalls(text) {
    const r = JSON.parse(this.parseToolCallsJson(text));
    return { content: r.content, toolCalls: r.tool_calls };
  }

  /** The same as the JSON text the C core writes: {"content": ..., "tool_calls": [...]}. */
  parseToolCallsJson(text) {
    const [p, n] = this.putString(text);
    try {
      const f = this.fn('atn_chat_parse_tool_calls');
      const len = f(p, n, 0, 0);
      if (len < 0) this.fail('E_TOOL_CALL', 'reading the tool calls');
      const out = this.malloc(len + 1);
      try {
        f(p, n, out, len + 1);
        return utf8dec.decode(this.u8.subarray(out, out + len));
      } finally {
        this.free(out);
      }
    } finally {
      this.free(p);
    }
  }

  /** Copy token ids into fresh wasm memory; returns [ptr, n]. */
  putIds(ids) {
    const n = checkIds(ids);
    const p = this.malloc(4 * n);
    const a = new Int32Array(this.memory.buffer, p, n);
    for (let i = 0; i < n; i++) a[i] = ids[i];
    return [p, n];
  }

  /**
   * Load a GGUF model. The bytes are copied once into wasm memory and the
   * model keeps that copy (take_ownership): tensors point straight into it.
   * Options: allowUnknownPretokenizer (a byte-level BPE vocabulary whose
   * tokenizer.ggml.pre atento does not know uses GPT-2's rules, and
   * model.warnings says so, instead of failing). A file with a vocabulary
   * but no tensors, or an architecture atento cannot run, loads as a
   * tokenizer-only model (model.runnable false; newSession throws why).
   * @param {Uint8Array|ArrayBuffer} bytes
   * @param {{allowUnknownPretokenizer?: boolean}} [opts]
   */
  loadModel(bytes, opts = {}) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes) && !(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!(bytes instanceof Uint8Array)) throw new AtentoError('E_ARG', 'loadModel: expected the bytes of a .gguf file (Uint8Array or ArrayBuffer)');
    const buf = this.reserve(bytes.length);
    buf.view().set(bytes);
    return buf.load(opts);
  }

  /**
   * Load the bilingual dictionary of the built-in `lookup` tool
   * (models/dict-en-es.tsv, src/dictionary.c); the bytes are copied and
   * every line checked (a damaged file throws E_LOAD with the reason).
   * @param {Uint8Array|ArrayBuffer} bytes
   * @returns {Dictionary}
   */
  loadDictionary(bytes) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes) && !(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!(bytes instanceof Uint8Array)) throw new AtentoError('E_ARG', 'loadDictionary: expected the bytes of a dictionary file (Uint8Array or ArrayBuffer)');
    const [p, n] = this.putBytes(bytes);
    try {
      const d = this.fn('atn_dict_load')(p, n) >>> 0;
      if (!d) this.fail('E_LOAD', 'loading the dictionary');
      return new Dictionary(this, d);
    } finally {
      this.free(p);
    }
  }

  /**
   * Reserve `size` bytes of wasm memory for a model file and fill them
   * yourself (a file read or a download written chunk by chunk, without an
   * intermediate copy), then call load(). Until load() succeeds, free() it if
   * you give up. view() must be re-taken after any other call into atento
   * (memory may grow and detach old views).
   */
  reserve(size) {
    if (!Number.isSafeInteger(size) || size < 0) throw new AtentoError('E_ARG', `bad model size ${size}`);
    if (size > WASM_MAX_ALLOC) {
      throw new AtentoError('E_NOMEM', `the model file is ${mib(size)}; the WebAssembly build holds model files of at most ${mib(WASM_MAX_ALLOC)} (wasm32: one allocation up to 2 GiB, 4 GiB of memory in all); use the native build for larger ones`);
    }
    const rt = this;
    let p = rt.malloc(size);
    const epoch = rt.epoch;
    const live = () => {
      if (epoch !== rt.epoch) { p = 0; throw staleError('model buffer'); }
    };
    return {
      size,
      get ptr() { return p; },
      view() {
        live();
        if (!p) throw new AtentoError('E_FREED', 'model buffer already loaded or freed');
        return new Uint8Array(rt.memory.buffer, p, size);
      },
      set(chunk, offset) {
        if (offset < 0 || offset + chunk.length > size) throw new AtentoError('E_ARG', `chunk [${offset}, ${offset + chunk.length}) outside the ${size}-byte model buffer`);
        this.view().set(chunk, offset);
      },
      load(opts = {}) {
        live();
        if (!p) throw new AtentoError('E_FREED', 'model buffer already loaded or freed');
        const flags = opts.allowUnknownPretokenizer ? 1 : 0; // ATN_LOAD_ANY_PRETOKENIZER
        const ptr = p;
        const m = rt.fn('atn_model_load_flags')(p, size, 1, flags) >>> 0;
        // With take_ownership the model frees the bytes, even when loading fails.
        p = 0;
        if (!m) rt.fail('E_LOAD', 'loading the model');
        return new Model(rt, m, size, ptr);
      },
      free() { if (p && epoch === rt.epoch) rt.free(p); p = 0; },
    };
  }

  /** atn_sampler_defaults as a JS object. */
  samplerDefaults() {
    const p = this.malloc(SAMPLER_PARAMS_SIZE);
    try {
      this.u8.fill(0, p, p + SAMPLER_PARAMS_SIZE);
      this.fn('atn_sampler_defaults')(p);
      return readSamplerParams(this.view(), p);
    } finally {
      this.free(p);
    }
  }

  /**
   * A sampler. Options (all optional, C defaults otherwise): temperature
   * (<= 0: greedy), topK, topP, minP, repeatPenalty, repeatLastN, seed.
   */
  newSampler(opts = {}) {
    const p = this.malloc(SAMPLER_PARAMS_SIZE);
    let smp;
    try {
      this.u8.fill(0, p, p + SAMPLER_PARAMS_SIZE);
      this.fn('atn_sampler_defaults')(p);
      const prm = { ...readSamplerParams(this.view(), p), ...definedOnly(opts) };
      writeSamplerParams(this.view(), p, prm);
      smp = this.fn('atn_sampler_new')(p) >>> 0;
    } finally {
      this.free(p);
    }
    if (!smp) this.fail('E_SAMPLE', 'creating the sampler');
    return new Sampler(this, smp);
  }
}

// atn_sampler_params in wasm32: float temperature @0, int top_k @4,
// float top_p @8, float min_p @12, float repeat_penalty @16,
// int repeat_last_n @20, uint64_t seed @24 (8-aligned); 32 bytes.
function readSamplerParams(dv, p) {
  return {
    temperature: dv.getFloat32(p, true),
    topK: dv.getInt32(p + 4, true),
    topP: dv.getFloat32(p + 8, true),
    minP: dv.getFloat32(p + 12, true),
    repeatPenalty: dv.getFloat32(p + 16, true),
    repeatLastN: dv.getInt32(p + 20, true),
    seed: dv.getBigUint64(p + 24, true),
  };
}

function writeSamplerParams(dv, p, o) {
  const num = (k) => {
    const v = Number(o[k]);
    if (!Number.isFinite(v)) throw new AtentoError('E_ARG', `sampler option ${k} must be a finite number, got ${o[k]}`);
    return v;
  };
  const int = (k) => {
    const v = num(k);
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new AtentoError('E_ARG', `sampler option ${k} must be an integer, got ${o[k]}`);
    return v;
  };
  dv.setFloat32(p, num('temperature'), true);
  dv.setInt32(p + 4, int('topK'), true);
  dv.setFloat32(p + 8, num('topP'), true);
  dv.setFloat32(p + 12, num('minP'), true);
  dv.setFloat32(p + 16, num('repeatPenalty'), true);
  dv.setInt32(p + 20, int('repeatLastN'), true);
  let seed;
  try {
    seed = BigInt(o.seed);
  } catch {
    throw new AtentoError('E_ARG', `sampler option seed must be an integer, got ${o.seed}`);
  }
  if (seed < 0n || seed >= 2n ** 64n) throw new AtentoError('E_ARG', `sampler option seed must be in [0, 2^64), got ${o.seed}`);
  dv.setBigUint64(p + 24, seed, true);
}

/** The KV cache types, in the order of atento.h's ATN_KV_* codes. */
export const KV_TYPES = Object.freeze(['f32', 'f16']);

/**
 * The ATN_KV_* code of a kvType option (undefined or null: f32); throws
 * E_ARG "kvType must be 'f32' or 'f16', got "q8"" (js/options.js has the
 * command line's words for --kv-type).
 */
export function kvTypeCode(v, label = 'kvType') {
  if (v === undefined || v === null) return 0;
  const i = typeof v === 'string' ? KV_TYPES.indexOf(v) : -1;
  if (i < 0) {
    const given = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(v) : `a ${typeof v}`;
    throw new AtentoError('E_ARG', `${label} must be ${KV_TYPES.map((t) => `'${t}'`).join(' or ')}, got ${given}`);
  }
  return i;
}

// A number that crosses into wasm as an int: checked, never wrapped (x | 0
// would turn 2^32 + 5 into token 5 and a context of 99999999999 into
// 1215752191).
function int32(v, what) {
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new AtentoError('E_ARG', `${what} must be a 32-bit integer, got ${v}`);
  return v;
}

function staleError(what) {
  return new AtentoError('E_ABORT', `this ${what} belonged to a WebAssembly instance discarded after a trap; load the model again`);
}

function definedOnly(o) {
  const r = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = v;
  return r;
}

function checkIds(ids) {
  if (!(ids instanceof Int32Array || Array.isArray(ids) || ArrayBuffer.isView(ids))) {
    throw new AtentoError('E_ARG', 'expected an array of token ids');
  }
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new AtentoError('E_ARG', `token id ${v} at position ${i} is not an integer`);
  }
  return n;
}

// ---- model --------------------------------------------------------------------

export class Model {
  constructor(rt, ptr, fileSize, filePtr = 0) {
    this.rt = rt;
    this.ptr = ptr;
    this.fileSize = fileSize;
    // Where the file's bytes lie in wasm memory (the model owns and never
    // writes them: tensors point into them), 0 when not known.
    this.filePtr = filePtr;
    this.epoch = rt.epoch;
    this._sessions = new Set();
    this.nVocab = rt.fn('atn_model_n_vocab')(ptr);
    this.nCtxTrain = rt.fn('atn_model_n_ctx_train')(ptr);
    const a = rt.fn('atn_model_arch')(ptr) >>> 0;
    this.arch = a ? rt.cstring(a) : '';
    this.bos = rt.fn('atn_token_bos')(ptr);
    this.eos = rt.fn('atn_token_eos')(ptr);
    // What loading tolerated (ids outside the vocabulary, an unknown
    // pre-tokenizer, ...), one string each.
    const w = rt.fn('atn_model_warnings')(ptr) >>> 0;
    this.warnings = w ? rt.cstring(w).split('\n') : [];
    this.runnable = this.info().runnable !== false;
  }

  _p() {
    if (!this.ptr) throw new AtentoError('E_FREED', 'the model was freed');
    if (this.epoch !== this.rt.epoch) throw staleError('model');
    return this.ptr;
  }

  /** The model's description (atn_model_info_json), parsed. */
  info() {
    const p = this.rt.fn('atn_model_info_json')(this._p()) >>> 0;
    if (!p) this.rt.fail('E_LOAD', 'reading the model info');
    const s = this.rt.cstring(p);
    try {
      return JSON.parse(s);
    } catch (e) {
      throw new AtentoError('E_LOAD', `atn_model_info_json gave invalid JSON: ${e.message}`);
    }
  }

  /** The GGUF chat template, or null. */
  chatTemplate() {
    const p = this.rt.fn('atn_model_chat_template')(this._p()) >>> 0;
    return p ? this.rt.cstring(p) : null;
  }

  /** The GGUF `atento.tools` string (the tools the model was trained to call), or null. */
  toolsJson() {
    const p = this.rt.fn('atn_model_tools_json')(this._p()) >>> 0;
    return p ? this.rt.cstring(p) : null;
  }

  /**
   * Token ids of `text`.
   * @param {string|Uint8Array} text
   * @param {{addSpecial?: boolean, parseSpecial?: boolean}} [opts] addSpecial
   *   (default true): BOS when the model asks for it; parseSpecial (default
   *   false): "<|im_end|>" and the like become their special tokens.
   * @returns {Int32Array}
   */
  tokenize(text, { addSpecial = true, parseSpecial = false } = {}) {
    const rt = this.rt, m = this._p();
    const [tp, tn] = typeof text === 'string' ? rt.putString(text) : rt.putBytes(text);
    try {
      // a first guess (a token per byte, bounded); the exact count otherwise
      let cap = Math.min(tn + 16, 1 << 22);
      for (;;) {
        const ip = rt.malloc(4 * cap);
        try {
          const n = rt.fn('atn_tokenize')(m, tp, tn, addSpecial ? 1 : 0, parseSpecial ? 1 : 0, ip, cap);
          if (n < 0) rt.fail('E_TOKENIZE', 'tokenizing');
          if (n <= cap) return new Int32Array(rt.memory.buffer, ip, n).slice();
          cap = n;
        } finally {
          rt.free(ip);
        }
      }
    } finally {
      rt.free(tp);
    }
  }

  // Calls f(outPtr, cap) -> byte count (possibly > cap), growing the buffer.
  _bytesOut(f, code, what, guess = 64) {
    const rt = this.rt;
    let cap = guess;
    for (;;) {
      const op = rt.malloc(cap);
      try {
        const n = f(op, cap);
        if (n < 0) rt.fail(code, what);
        if (n <= cap) return rt.u8.slice(op, op + n);
        cap = n;
      } finally {
        rt.free(op);
      }
    }
  }

  /** The bytes token `id` stands for (may be part of a UTF-8 character). */
  tokenToBytes(id) {
    const m = this._p();
    return this._bytesOut((op, cap) => this.rt.fn('atn_token_to_bytes')(m, int32(id, 'token id'), op, cap), 'E_DETOKENIZE', `token ${id}`, 32);
  }

  /** The vocabulary entry of token `id` (e.g. "▁hello", "<0x0A>"). */
  piece(id) {
    const m = this._p();
    return utf8dec.decode(this._bytesOut((op, cap) => this.rt.fn('atn_token_piece')(m, int32(id, 'token id'), op, cap), 'E_DETOKENIZE', `token ${id}`, 32));
  }

  /** Bytes of a whole sequence of ids. */
  detokenizeBytes(ids) {
    const rt = this.rt, m = this._p();
    const [ip, n] = rt.putIds(ids);
    try {
      return this._bytesOut((op, cap) => rt.fn('atn_detokenize')(m, ip, n, op, cap), 'E_DETOKENIZE', 'detokenizing', Math.min(8 * n + 16, 1 << 24));
    } finally {
      rt.free(ip);
    }
  }

  /** Text of a whole sequence of ids (invalid UTF-8 becomes U+FFFD). */
  detokenize(ids) {
    return utf8dec.decode(this.detokenizeBytes(ids));
  }

  isEog(id) { return this.rt.fn('atn_token_is_eog')(this._p(), int32(id, 'token id')) !== 0; }

  /** The id of a special token given its text, or -1. */
  lookup(text) {
    const rt = this.rt, m = this._p();
    const [p, n] = rt.putString(text);
    try {
      return rt.fn('atn_token_lookup')(m, p, n);
    } finally {
      rt.free(p);
    }
  }

  /**
   * A session (KV cache); nCtx <= 0: the training context capped at 4096.
   * opts.kvType: 'f32' (default) or 'f16' (the cache rounded to half: half
   * the memory; decoder-only models).
   */
  newSession(nCtx = 0, opts = {}) {
    const rt = this.rt;
    const kv = kvTypeCode(opts?.kvType);
    const m = this._p(), n = int32(nCtx, 'nCtx');
    // atn_session_params {int kv_type}, in the runtime's scratch bytes
    rt.view().setInt32(rt._scratch, kv, true);
    const s = rt.fn('atn_session_new_ex')(m, n, rt._scratch) >>> 0;
    if (!s) rt.fail('E_SESSION', 'creating the session');
    const sess = new Session(this, s);
    this._sessions.add(sess);
    return sess;
  }

  newSampler(opts) { return this.rt.newSampler(opts); }

  /**
   * Stream a generation: the session's last logits are sampled, the token is
   * evaluated, and text comes out in whole UTF-8 characters (held back while
   * it might begin a stop string). Yields {token, text}; a last piece with
   * token -1 carries text released at the end. The generator's return value
   * is {reason: 'eog'|'stop'|'length', tokens: [ids], finalToken}.
   * Breaking out of the loop frees the C generator.
   * @param {Session} session  already evaluated on the prompt
   * @param {Sampler} sampler
   * @param {{maxTokens?: number, stop?: string[]}} [opts]
   */
  *generate(session, sampler, { maxTokens = 256, stop = [] } = {}) {
    const rt = this.rt;
    if (!(session instanceof Session) || session.model !== this) throw new AtentoError('E_ARG', 'generate: the session does not belong to this model');
    if (!(sampler instanceof Sampler)) throw new AtentoError('E_ARG', 'generate: expected a Sampler');
    if (typeof stop === 'string') stop = [stop];
    const g = rt.fn('atn_gen_new')(session._p(), sampler._p()) >>> 0;
    if (!g) rt.fail('E_GENERATE', 'starting the generation');
    session._gens.add(g);
    const tokens = [];
    let reason = 'length', finalToken = -1;
    const lenp = rt._scratch, tokp = rt._scratch + 8;
    const text = (p) => {
      p >>>= 0;
      const n = rt.view().getUint32(lenp, true);
      return p && n ? utf8dec.decode(rt.u8.subarray(p, p + n)) : '';
    };
    try {
      for (const s of stop) {
        if (typeof s !== 'string' || s.length === 0) throw new AtentoError('E_ARG', 'stop strings must be non-empty strings');
        const [sp, sn] = rt.putString(s);
        try {
          if (rt.fn('atn_gen_add_stop')(g, sp, sn) < 0) rt.fail('E_GENERATE', 'adding a stop string');
        } finally {
          rt.free(sp);
        }
      }
      while (tokens.length < maxTokens) {
        rt.view().setInt32(tokp, -1, true);
        const r = rt.fn('atn_gen_next')(g, tokp);
        if (r < 0) rt.fail('E_GENERATE', 'generating');
        const tok = rt.view().getInt32(tokp, true);
        rt.view().setUint32(lenp, 0, true);
        const t = text(rt.fn('atn_gen_text')(g, lenp));
        if (r === 0) {
          finalToken = tok;
          reason = tok >= 0 && this.isEog(tok) ? 'eog' : 'stop';
          if (t) yield { token: -1, text: t };
          break;
        }
        tokens.push(tok);
        yield { token: tok, text: t };
      }
      rt.view().setUint32(lenp, 0, true);
      const t = text(rt.fn('atn_gen_flush')(g, lenp));
      if (t) yield { token: -1, text: t };
      return { reason, tokens, finalToken };
    } finally {
      // session.free() frees its generators; free ours only if still live.
      if (session._gens.delete(g) && session.epoch === rt.epoch) rt.fn('atn_gen_free')(g);
    }
  }

  /** Free the model and every session still open on it. */
  free() {
    if (!this.ptr) return;
    for (const s of this._sessions) s.free();
    if (this.epoch === this.rt.epoch) this.rt.fn('atn_model_free')(this.ptr);
    this.ptr = 0;
  }
}

// ---- dictionary -----------------------------------------------------------------

/** The built-in `lookup` tool's dictionary (src/dictionary.c); from rt.loadDictionary(). */
export class Dictionary {
  constructor(rt, ptr) {
    this.rt = rt;
    this.ptr = ptr;
    this.epoch = rt.epoch;
  }

  _p() {
    if (!this.ptr) throw new AtentoError('E_FREED', 'the dictionary was freed');
    if (this.epoch !== this.rt.epoch) throw staleError('dictionary');
    return this.ptr;
  }

  /** Entries of language 'en' or 'es'. */
  size(lang) {
    const [lp] = this.rt.putString(String(lang));
    try {
      const n = this.rt.fn('atn_dict_size')(this._p(), lp);
      if (n < 0) this.rt.fail('E_ARG', 'dictionary size');
      return n;
    } finally {
      this.rt.free(lp);
    }
  }

  /**
   * The lookup tool's result: at most five translations, most common first,
   * joined by ", ", or "(no entry)" (rules: src/atento.h, atn_dict_lookup).
   * @param {string} word
   * @param {'en'|'es'} from  the language of the word
   */
  lookup(word, from) {
    const d = this._p();
    if (typeof word !== 'string') throw new AtentoError('E_ARG', `lookup: the word must be a string, got ${typeof word}`);
    const [wp, wn] = this.rt.putString(word);
    const [lp] = this.rt.putString(String(from));
    try {
      const f = this.rt.fn('atn_dict_lookup');
      const n = f(d, wp, wn, lp, 0, 0);
      if (n < 0) this.rt.fail('E_ARG', 'lookup');
      const out = this.rt.malloc(n + 1);
      try {
        f(d, wp, wn, lp, out, n + 1);
        return utf8dec.decode(this.rt.u8.subarray(out, out + n));
      } finally {
        this.rt.free(out);
      }
    } finally {
      this.rt.free(wp);
      this.rt.free(lp);
    }
  }

  free() {
    if (this.ptr && this.epoch === this.rt.epoch) this.rt.fn('atn_dict_free')(this.ptr);
    this.ptr = 0;
  }
}

// ---- session --------------------------------------------------------------------

export class Session {
  constructor(model, ptr) {
    this.model = model;
    this.rt = model.rt;
    this.ptr = ptr;
    this.epoch = model.rt.epoch;
    this._gens = new Set();
  }

  _p() {
    if (!this.ptr) throw new AtentoError('E_FREED', 'the session was freed');
    if (this.epoch !== this.rt.epoch) throw staleError('session');
    return this.ptr;
  }

  get nCtx() { return this.rt.fn('atn_session_n_ctx')(this._p()); }
  /** 'f32' or 'f16': the element type of the KV cache. */
  get kvType() { return KV_TYPES[this.rt.fn('atn_session_kv_type')(this._p())]; }
  /** Bytes of the KV cache (keys and values) as allocated now. */
  get kvBytes() { return this.rt.fn('atn_session_kv_bytes')(this._p()) >>> 0; }
  get nPast() { return this.rt.fn('atn_session_n_past')(this._p()); }

  /** Forget the cache past the first nKeep tokens (0: start over). */
  truncate(nKeep = 0) {
    if (this.rt.fn('atn_session_truncate')(this._p(), int32(nKeep, 'nKeep')) < 0) this.rt.fail('E_SESSION', 'truncating the session');
  }

  /** Run the model on `ids` appended after the cached tokens. */
  eval(ids, { allLogits = false } = {}) {
    const rt = this.rt, s = this._p();
    const [p, n] = rt.putIds(ids);
    try {
      if (rt.fn('atn_eval')(s, p, n, allLogits ? 1 : 0) < 0) rt.fail('E_EVAL', 'evaluating');
    } finally {
      rt.free(p);
    }
  }

  /**
   * Make the session ready to answer a conversation (atn_chat_prefill): the
   * messages ({role, content}) are rendered with the model's chat template,
   * the longest matching prefix of the KV cache is kept and only the rest is
   * evaluated; if fewer than `reserve` positions would be left for the reply,
   * the oldest turns after the system prompt are dropped. `vars`: extra
   * template variables, e.g. {tools: [...], enable_thinking: false}.
   * @returns {{evaluated: number, dropped: number}} tokens evaluated, messages dropped
   */
  chatPrefill(messages, reserve, vars = null) {
    const rt = this.rt, s = this._p();
    const n = messages.length;
    const strings = [];
    if (vars) {
      const [vp] = rt.putString(JSON.stringify(vars));
      strings.push(vp);
    }
    const arr = rt.malloc(8 * n + 8); // n role pointers, n content pointers, int n_dropped
    try {
      for (let i = 0; i < n; i++) {
        const [rp] = rt.putString(messages[i].role);
        strings.push(rp);
        const [cp] = rt.putString(messages[i].content);
        strings.push(cp);
        rt.view().setUint32(arr + 4 * i, rp, true);
        rt.view().setUint32(arr + 4 * n + 4 * i, cp, true);
      }
      const droppedp = arr + 8 * n;
      rt.view().setInt32(droppedp, 0, true);
      const r = vars
        ? rt.fn('atn_chat_prefill_ex')(s, arr, arr + 4 * n, n, strings[0], int32(reserve, 'reserve'), droppedp)
        : rt.fn('atn_chat_prefill')(s, arr, arr + 4 * n, n, int32(reserve, 'reserve'), droppedp);
      if (r < 0) rt.fail('E_CONTEXT', 'preparing the chat prompt');
      return { evaluated: r, dropped: rt.view().getInt32(droppedp, true) };
    } finally {
      for (const p of strings) rt.free(p);
      rt.free(arr);
    }
  }

  /** A copy of the logits of token i of the last eval (-1: the last). */
  logits(i = -1) {
    const rt = this.rt;
    const p = rt.fn('atn_logits')(this._p(), int32(i, 'logits index')) >>> 0;
    if (!p) {
      const msg = rt.lastError();
      throw new AtentoError('E_EVAL', `no logits for token ${i} of the last eval${msg ? ' (' + msg + ')' : ' (evaluate with allLogits to keep them)'}`);
    }
    return new Float32Array(rt.memory.buffer, p, this.model.nVocab).slice();
  }

  /**
   * Teacher-forced log-probabilities: out[i-1] = log p(ids[i] | ids[<i]),
   * from one batched pass over a fresh cache.
   * @returns {Float32Array} ids.length - 1 values
   */
  score(ids) {
    const rt = this.rt, s = this._p();
    const [p, n] = rt.putIds(ids);
    let lp = 0;
    try {
      lp = rt.malloc(4 * Math.max(1, n - 1));
      const r = rt.fn('atn_score')(s, p, n, lp);
      if (r < 0) rt.fail('E_SCORE', 'scoring');
      return new Float32Array(rt.memory.buffer, lp, r).slice();
    } finally {
      rt.free(lp);
      rt.free(p);
    }
  }

  /** Encoder-decoder models: encode the source ids (EOS included). */
  setSource(ids) {
    const rt = this.rt, s = this._p();
    const [p, n] = rt.putIds(ids);
    try {
      if (rt.fn('atn_set_source')(s, p, n) < 0) rt.fail('E_EVAL', 'encoding the source');
    } finally {
      rt.free(p);
    }
  }

  free() {
    if (!this.ptr) return;
    const live = this.epoch === this.rt.epoch;
    if (live) for (const g of this._gens) this.rt.fn('atn_gen_free')(g);
    this._gens.clear();
    if (live) this.rt.fn('atn_session_free')(this.ptr);
    this.ptr = 0;
    this.model._sessions.delete(this);
  }
}

// ---- sampler --------------------------------------------------------------------

export class Sampler {
  constructor(rt, ptr) {
    this.rt = rt;
    this.ptr = ptr;
    this.epoch = rt.epoch;
  }

  _p() {
    if (!this.ptr) throw new AtentoError('E_FREED', 'the sampler was freed');
    if (this.epoch !== this.rt.epoch) throw staleError('sampler');
    return this.ptr;
  }

  /** Add a token to the history the repetition penalty sees. */
  accept(id) { this.rt.fn('atn_sampler_accept')(this._p(), int32(id, 'token id')); }

  /** Choose a token from a logits vector (Float32Array). */
  sample(logits) {
    const rt = this.rt, smp = this._p();
    if (!(logits instanceof Float32Array)) throw new AtentoError('E_ARG', 'sample: expected a Float32Array of logits');
    const p = rt.malloc(4 * logits.length);
    try {
      new Float32Array(rt.memory.buffer, p, logits.length).set(logits);
      const id = rt.fn('atn_sample')(smp, p, logits.length);
      if (id < 0) rt.fail('E_SAMPLE', 'sampling');
      return id;
    } finally {
      rt.free(p);
    }
  }

  free() {
    if (!this.ptr) return;
    if (this.epoch === this.rt.epoch) this.rt.fn('atn_sampler_free')(this.ptr);
    this.ptr = 0;
  }
}
