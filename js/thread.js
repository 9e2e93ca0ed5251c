// thread.js — one worker of the threaded module's pool (dist/atento-mt.wasm).
//
// Started by core.js (Atento._startThreads) as a Web Worker or a Node
// worker_thread. It receives the compiled module, the shared memory, its id
// (1..n-1) and the top of a stack core.js allocated for it; it instantiates
// the module over that memory (no _initialize: the memory and the C runtime
// are the main instance's), moves its stack pointer to its own stack, says
// it is ready and enters atn_thread_run, which parks in memory.atomic.wait
// between jobs and returns only when the pool shrinks below id + 1 threads.
// See docs/threads.md.

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

function imports(module, memory) {
  const imp = {};
  for (const i of WebAssembly.Module.imports(module)) {
    let v;
    if (i.kind === 'memory') v = memory;
    else if (i.name === 'emscripten_notify_memory_growth') v = () => {};
    else if (i.name === 'clock_time_get') v = () => 52; // ENOSYS: kernels never ask for the time
    else v = () => { throw new Error(`atento thread: unexpected call to ${i.module}.${i.name}`); };
    (imp[i.module] ??= {})[i.name] = v;
  }
  return imp;
}

async function run(msg, post) {
  let id = 0;
  try {
    const { module, memory, stackTop } = msg;
    id = msg.id;
    const instance = await WebAssembly.instantiate(module, imports(module, memory));
    instance.exports.stackRestore(stackTop);
    post({ type: 'ready', id });
    instance.exports.atn_thread_run(id);
    post({ type: 'exit', id });
  } catch (e) {
    post({ type: 'error', id, message: String(e && e.message || e) });
  }
}

if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  parentPort.once('message', (msg) => run(msg, (m) => parentPort.postMessage(m)));
} else {
  self.onmessage = (e) => { self.onmessage = null; run(e.data, (m) => self.postMessage(m)); };
}
