// atento generate: stream a continuation of a prompt.
import { AtentoError } from '../core.js';
import { UsageError, exactlyOne, loadModelFile, pretokenizerFlag, kvTypeFlag, samplerFlags, samplerOpts, out } from './_common.js';

export const summary = 'generate text from a prompt (streamed)';

export const flags = {
  ...pretokenizerFlag,
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  prompt: { type: 'string', value: 'TEXT', help: 'the prompt (BOS added when the model asks for it)' },
  tokens: { type: 'ids', value: '1,2,3', help: 'the prompt as token ids, taken exactly as given (no BOS)' },
  'max-tokens': { type: 'int', min: 0, max: 2 ** 20, default: 128, value: 'N', help: 'stop after N generated tokens' },
  ...samplerFlags,
  stop: { type: 'list', value: 'TEXT', help: 'stop when TEXT is generated (repeatable)' },
  'parse-special': { type: 'bool', help: 'turn special-token text in the prompt (e.g. <|im_end|>) into special tokens' },
  ctx: { type: 'int', min: 0, max: 2 ** 20, value: 'N', help: 'context size (default: prompt + max-tokens, within the model\'s)' },
  ...kvTypeFlag,
  json: { type: 'bool', help: 'print one JSON object at the end instead of streaming' },
};

export const examples = [
  'atento generate --model m.gguf --prompt "Once upon a time" --max-tokens 64',
  'atento generate --model m.gguf --tokens 1,450,4996 --temperature 0 --json',
];

export async function run(o) {
  exactlyOne('generate', o, 'prompt', 'tokens');
  if (o.prompt !== undefined && o.prompt.length === 0) throw new UsageError('--prompt is empty');
  for (const s of o.stop) if (s.length === 0) throw new UsageError('--stop is empty');
  const { rt, model, loadMs } = await loadModelFile(o.model, { allowUnknownPretokenizer: o.allowUnknownPretokenizer });
  let ids;
  if (o.tokens !== undefined) {
    ids = Int32Array.from(o.tokens);
    for (const id of ids) {
      if (id >= model.nVocab) throw new UsageError(`--tokens: id ${id} is out of range (the vocabulary has ${model.nVocab} tokens)`);
    }
  } else {
    ids = model.tokenize(o.prompt, { addSpecial: true, parseSpecial: o.parseSpecial });
    if (ids.length === 0) throw new UsageError('--prompt gives no tokens');
  }
  const trainCtx = model.nCtxTrain > 0 ? Math.min(model.nCtxTrain, 4096) : 4096;
  const nCtx = o.ctx || Math.min(trainCtx, ids.length + o.maxTokens);
  if (ids.length > nCtx) throw new AtentoError('E_CONTEXT', `the prompt has ${ids.length} tokens, more than the context of ${nCtx} (see --ctx)`);
  const maxTokens = Math.min(o.maxTokens, nCtx - ids.length);

  const session = model.newSession(nCtx, { kvType: o.kvType });
  const sampler = model.newSampler(samplerOpts(o));
  const t0 = performance.now();
  session.eval(ids);
  const t1 = performance.now();
  let text = '', result, t2 = t1;
  const gen = model.generate(session, sampler, { maxTokens, stop: o.stop });
  for (;;) {
    const { value, done } = gen.next();
    if (done) { result = value; break; }
    text += value.text;
    if (!o.json && value.text) await out(value.text);
  }
  t2 = performance.now();
  const n = result.tokens.length;
  if (o.json) {
    const timings = {
      load_ms: round(loadMs),
      prompt_ms: round(t1 - t0),
      prompt_tokens_per_s: round(ids.length / ((t1 - t0) / 1000)),
      gen_ms: round(t2 - t1),
      gen_tokens_per_s: n ? round(n / ((t2 - t1) / 1000)) : 0,
    };
    await out(JSON.stringify({ tokens: result.tokens, text, prompt_tokens: ids.length, stop_reason: result.reason, timings }) + '\n');
  } else {
    await out('\n');
  }
  sampler.free();
  model.free();
  void rt;
  return 0;
}

function round(x) {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : 0;
}
