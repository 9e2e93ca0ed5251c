// atento score: teacher-forced log-probabilities and perplexity.
import { UsageError, exactlyOne, loadModelFile, out } from './_common.js';

export const summary = 'log-probabilities log p(t_i | t_<i) of a text and its perplexity';

export const flags = {
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  tokens: { type: 'ids', value: '1,2,3', help: 'the token ids to score, taken exactly as given' },
  text: { type: 'string', value: 'TEXT', help: 'the text to score (tokenized, BOS added when the model asks for it)' },
  json: { type: 'bool', help: 'print {"logprobs":[...], "perplexity":x}' },
};

export const examples = ['atento score --model m.gguf --text "The cat sat on the mat." --json'];

export async function run(o) {
  exactlyOne('score', o, 'tokens', 'text');
  if (o.text !== undefined && o.text.length === 0) throw new UsageError('--text is empty');
  const { model } = await loadModelFile(o.model);
  const ids = o.tokens !== undefined ? Int32Array.from(o.tokens) : model.tokenize(o.text, { addSpecial: true });
  for (const id of ids) {
    if (id >= model.nVocab) throw new UsageError(`--tokens: id ${id} is out of range (the vocabulary has ${model.nVocab} tokens)`);
  }
  if (ids.length < 2) throw new UsageError(`need at least 2 tokens to score, got ${ids.length}`);
  const session = model.newSession(ids.length);
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
