// atento bench: prefill and decode speed of the WebAssembly build, one thread.
import { UsageError, loadModelFile, kvTypeFlag, out, mib } from './_common.js';

export const summary = 'prefill and decode tokens/s and peak memory (WebAssembly; --threads N)';

export const flags = {
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  'prompt-tokens': { type: 'int', min: 1, max: 2 ** 20, default: 128, value: 'N', help: 'prompt length for the prefill' },
  'gen-tokens': { type: 'int', min: 0, max: 2 ** 20, default: 128, value: 'N', help: 'tokens to decode one by one after it' },
  reps: { type: 'int', min: 1, max: 1000, default: 1, value: 'N', help: 'repeat and keep the best run' },
  ...kvTypeFlag,
  json: { type: 'bool', help: 'print the figures as JSON' },
};

export async function run(o) {
  const { rt, model, loadMs, fileSize } = await loadModelFile(o.model);
  const nCtx = o.promptTokens + o.genTokens;
  if (model.nCtxTrain > 0 && nCtx > model.nCtxTrain) {
    throw new UsageError(`--prompt-tokens + --gen-tokens = ${nCtx} exceeds the model's context of ${model.nCtxTrain}`);
  }
  // A fixed pseudo-random prompt (ordinary tokens: ids above the first 256).
  const lo = Math.min(256, model.nVocab - 1);
  let x = 12345;
  const prompt = new Int32Array(o.promptTokens);
  for (let i = 0; i < prompt.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    prompt[i] = lo + ((x >>> 8) % (model.nVocab - lo));
  }
  const session = model.newSession(nCtx, { kvType: o.kvType });
  const kvType = session.kvType;
  const sampler = model.newSampler({ temperature: 0 });

  // Warm-up: lets the engine compile the hot functions at its top tier.
  session.eval(prompt.subarray(0, Math.min(8, prompt.length)));
  session.eval([prompt[0]]);

  let best = null;
  for (let r = 0; r < o.reps; r++) {
    session.truncate(0);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    session.eval(prompt);
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    let tok = sampler.sample(session.logits());
    for (let i = 0; i < o.genTokens; i++) {
      session.eval([tok]);
      tok = sampler.sample(session.logits());
    }
    const t2 = performance.now();
    const c2 = process.cpuUsage();
    const cpuMs = (a, b) => (b.user - a.user + b.system - a.system) / 1000;
    const run = { prefillMs: t1 - t0, decodeMs: t2 - t1, prefillCpuMs: cpuMs(c0, c1), decodeCpuMs: cpuMs(c1, c2) };
    if (!best || run.prefillMs + run.decodeMs < best.prefillMs + best.decodeMs) best = run;
  }
  const prefill = o.promptTokens / (best.prefillMs / 1000);
  const decode = o.genTokens ? o.genTokens / (best.decodeMs / 1000) : 0;
  const wasmBytes = rt.memoryBytes;
  const rss = process.resourceUsage().maxRSS * 1024;
  const info = model.info();
  const r2 = (v) => Math.round(v * 100) / 100;
  const res = {
    model: o.model,
    arch: model.arch,
    kernels: info.kernels ?? undefined,
    threads: rt.threads,
    model_bytes: fileSize,
    prompt_tokens: o.promptTokens,
    gen_tokens: o.genTokens,
    load_ms: r2(loadMs),
    prefill_ms: r2(best.prefillMs),
    decode_ms: r2(best.decodeMs),
    prefill_tokens_per_s: r2(prefill),
    decode_tokens_per_s: r2(decode),
    // CPU time of this process: on a busy machine, wall-clock rates drop
    // while these stay close to what an idle core gives.
    prefill_cpu_ms: r2(best.prefillCpuMs),
    decode_cpu_ms: r2(best.decodeCpuMs),
    prefill_tokens_per_cpu_s: r2(o.promptTokens / (best.prefillCpuMs / 1000)),
    decode_tokens_per_cpu_s: o.genTokens ? r2(o.genTokens / (best.decodeCpuMs / 1000)) : 0,
    kv_type: kvType,
    kv_cache_bytes: session.kvBytes,
    wasm_memory_bytes: wasmBytes,
    peak_rss_bytes: rss,
  };
  if (o.json) {
    await out(JSON.stringify(res) + '\n');
  } else {
    await out([
      `model:   ${o.model} (${model.arch}, ${mib(fileSize)})`,
      `load:    ${loadMs.toFixed(1)} ms`,
      `prefill: ${prefill.toFixed(2)} tokens/s (${o.promptTokens} tokens in ${best.prefillMs.toFixed(1)} ms; ${res.prefill_tokens_per_cpu_s} tokens per CPU second)`,
      `decode:  ${decode.toFixed(2)} tokens/s (${o.genTokens} tokens in ${best.decodeMs.toFixed(1)} ms; ${res.decode_tokens_per_cpu_s} tokens per CPU second)`,
      `memory:  wasm ${mib(wasmBytes)} (model file ${mib(fileSize)}), process peak RSS ${mib(rss)}, KV cache ${mib(res.kv_cache_bytes)} (${kvType})`,
    ].join('\n') + '\n');
  }
  sampler.free();
  model.free();
  return 0;
}

