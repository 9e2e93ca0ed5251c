// atento score: teacher-forced log-probabilities and perplexity.
import { UsageError, exactlyOne, loadModelFile, pretokenizerFlag, kvTypeFlag, out } from './_common.js';

export const summary = 'log-probabilities log p(t_i | t_<i) of a text and its perplexity';

export const flags = {
  ...pretokenizerFlag,
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  tokens: { type: 'ids', value: '1,2,3', help: 'the token ids to score, taken exactly as given' },
  text: { type: 'string', value: 'TEXT', help: 'the text to score (tokenized, BOS added when the model asks for it)' },
  source: { type: 'string', value: 'TEXT', help: 'translation models: the source sentence; --text is then the translation to score' },
  to: { type: 'string', value: 'LANG', help: 'translation models: the target language tag, for multilingual models' },
  ...kvTypeFlag,
  json: { type: 'bool', help: 'print {"logprobs":[...], "perplexity":x}' },
};

export const examples = [
  'atento score --model m.gguf --text "The cat sat on the mat." --json',
  'atento score --model translate-en-es.gguf --source "I am hungry." --text "Tengo hambre." --json',
];

export async function run(o) {
  exactlyOne('score', o, 'tokens', 'text');
  if (o.text !== undefined && o.text.length === 0) throw new UsageError('--text is empty');
  if (o.source !== undefined && o.source.length === 0) throw new UsageError('--source is empty');
  const { rt, model } = await loadModelFile(o.model, { allowUnknownPretokenizer: o.allowUnknownPretokenizer });
  if (model.arch === 'marian') return scoreTranslation(rt, model, o);
  if (o.source !== undefined || o.to !== undefined) throw new UsageError(`--source and --to are for translation models; this one is '${model.arch}'`);
  const ids = o.tokens !== undefined ? Int32Array.from(o.tokens) : model.tokenize(o.text, { addSpecial: true });
  for (const id of ids) {
    if (id >= model.nVocab) throw new UsageError(`--tokens: id ${id} is out of range (the vocabulary has ${model.nVocab} tokens)`);
  }
  if (ids.length < 2) throw new UsageError(`need at least 2 tokens to score, got ${ids.length}`);
  const session = model.newSession(ids.length, { kvType: o.kvType });
  const lp = Array.from(session.score(ids));
  const nll = -lp.reduce((a, b) => a + b, 0) / lp.length;
  const perplexity = Math.exp(nll);
  if (o.json) {
    await out(JSON.stringify({ logprobs: lp, perplexity }) + '\n');
  } else {
    const lines = ['  i     id  logprob  piece'];
    for (let i = 1; i < ids.length; i++) {
      lines.push(`${String(i).padStart(3)} ${String(ids[i]).padStart(6)} ${lp[i - 1].toFixed(4).padStart(8)}  ${JSON.stringify(model.piece(ids[i]))}`);
    }
    lines.push(`tokens: ${ids.length}  mean log-prob: ${(-nll).toFixed(4)}  perplexity: ${perplexity.toFixed(4)}`);
    await out(lines.join('\n') + '\n');
  }
  model.free();
  return 0;
}

// Encoder-decoder models: log p(target | source), teacher-forced (the
// decoder's start token first, EOS last), through js/cli/translate.js.
async function scoreTranslation(rt, model, o) {
  if (o.source === undefined || o.text === undefined) {
    throw new UsageError("a translation model scores --text as a translation of --source: give both");
  }
  // the translation caches are f32 only: an f16 session is refused, in the C core's words
  if ((o.kvType ?? 'f32') !== 'f32') model.newSession(1, { kvType: o.kvType }).free();
  const { scoreMarian } = await import('./translate.js');
  const r = scoreMarian(rt, model, { source: o.source, target: o.text, to: o.to ?? null });
  if (o.json) {
    await out(JSON.stringify({ logprobs: r.logprobs, perplexity: r.perplexity }) + '\n');
  } else {
    const lines = ['  i     id  logprob  piece'];
    r.tokens.forEach((id, i) => {
      lines.push(`${String(i + 1).padStart(3)} ${String(id).padStart(6)} ${r.logprobs[i].toFixed(4).padStart(8)}  ${JSON.stringify(model.piece(id))}`);
    });
    lines.push(`source tokens: ${r.sourceTokens.length}  target tokens: ${r.tokens.length}  log-prob: ${r.logprob.toFixed(4)}  perplexity: ${r.perplexity.toFixed(4)}`);
    await out(lines.join('\n') + '\n');
  }
  model.free();
  return 0;
}
