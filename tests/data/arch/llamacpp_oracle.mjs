// llamacpp_oracle.mjs — llama.cpp's own outputs on the test models of this
// folder, the reference that tests/c/test_arch.c checks atento against.
//
// Runs in the wllama harness (../../../../shared/peers, see its README.md:
// @wllama/wllama 3.8.1 = llama.cpp b11364 compiled to WebAssembly, driven in
// headless Chromium). From a copy of the harness with its server running and
// USER_DEFINED copies of the models (pytools/gguf_patch.py --userdef) under
// its models/ folder:
//
//   node llamacpp_oracle.mjs /models/NAME.ud.gguf N_CTX OUT.json IDS
//
// Teacher forcing: for every prefix ids[0..i] (i >= 1), one completion of
// max_tokens 1 with logprobs = the whole vocabulary, so the answer holds
// log p(t | ids[0..i]) for every token t (llama-server's probabilities are
// the softmax of the raw logits). Written: for each position, the log-prob of
// the next id of IDS (teacher-forced) and the top 8 (id, log-prob). Then 16
// greedy ids from the first 8 prompt ids with the top-1 - top-2 margins.
// KV cache f32 and no flash attention: llama.cpp's exact path.
import path from 'path';
import fs from 'fs';
import { openPage, readGgufHeader, idsToPrompt } from './lib.mjs';

const [model, nCtx, out, idsArg] = process.argv.slice(2);
const ids = idsArg.split(',').map(Number);
const { kv } = readGgufHeader(path.join(process.cwd(), model));
const V = kv['tokenizer.ggml.tokens'].length;
const pg = await openPage();
const load = await pg.call('wlLoad', model, { n_threads: 1, n_ctx: +nCtx, n_gpu_layers: 0, cache_type_k: 'f32',
  cache_type_v: 'f32', flash_attn: false });
const base = { max_tokens: 1, logprobs: V, temperature: 0, top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 1,
  ignore_eos: true, cache_prompt: true };
const teacher = [];
for (let i = 1; i < ids.length; i++) {
  const r = await pg.call('wlComplete', { ...base, prompt: idsToPrompt(ids.slice(0, i), kv) });
  if (r.r.usage.prompt_tokens !== i) throw new Error(`prompt of ${i} ids became ${r.r.usage.prompt_tokens} tokens`);
  const top = r.r.choices[0].logprobs.content[0].top_logprobs;
  if (top.length !== V) throw new Error(`got ${top.length} log-probs, wanted ${V}`);
  const next = top.find((t) => t.id === ids[i]);
  teacher.push({ logprob: next.logprob, top: top.slice(0, 8).map((t) => [t.id, t.logprob]) });
}
const g = await pg.call('wlComplete', { ...base, max_tokens: 16, logprobs: 2, cache_prompt: false,
  prompt: idsToPrompt(ids.slice(0, 8), kv) });
const c = g.r.choices[0].logprobs.content;
const greedy = { prompt: ids.slice(0, 8), ids: c.map((t) => t.id),
  margins: c.map((t) => +(t.top_logprobs[0].logprob - t.top_logprobs[1].logprob).toFixed(5)) };
await pg.close();
fs.writeFileSync(out, JSON.stringify({ source: 'llama.cpp b11364 (@wllama/wllama 3.8.1, WebAssembly), MIT licence',
  model: path.basename(model).replace('.ud.gguf', '.gguf'), n_ctx: +nCtx, kv_cache: 'f32', flash_attn: false,
  n_vocab: V, ids, teacher, greedy }) + '\n');
console.log(out, 'n_ctx', load.ctx.n_ctx, 'greedy', greedy.ids.join(','));
