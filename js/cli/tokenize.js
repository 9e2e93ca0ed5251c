// atento tokenize: text -> ids (and pieces), or --ids -> text.
import { UsageError, exactlyOne, loadModelFile, pretokenizerFlag, out } from './_common.js';

export const summary = 'token ids of a text (--ids: the text of token ids)';

export const flags = {
  ...pretokenizerFlag,
  model: { type: 'path', required: true, value: 'M.gguf', help: 'the model' },
  text: { type: 'string', value: 'TEXT', help: 'the text to tokenize (BOS added when the model asks for it)' },
  ids: { type: 'ids', value: '1,2,3', help: 'token ids to turn back into text' },
  'parse-special': { type: 'bool', help: 'turn special-token text (e.g. <|im_end|>) into special tokens' },
  'no-bos': { type: 'bool', help: 'do not add BOS' },
  json: { type: 'bool', help: 'print {"ids":[...], "pieces":[...]} (with --ids: {"text":...})' },
};

export const examples = [
  'atento tokenize --model m.gguf --text "Hello world" --json',
  'atento tokenize --model m.gguf --ids 15043,3186',
];

export async function run(o) {
  exactlyOne('tokenize', o, 'text', 'ids');
  const { model } = await loadModelFile(o.model, { allowUnknownPretokenizer: o.allowUnknownPretokenizer });
  if (o.ids !== undefined) {
    for (const id of o.ids) {
      if (id >= model.nVocab) throw new UsageError(`--ids: id ${id} is out of range (the vocabulary has ${model.nVocab} tokens)`);
    }
    const text = model.detokenize(o.ids);
    if (o.json) await out(JSON.stringify({ text, ids: o.ids, pieces: o.ids.map((i) => model.piece(i)) }) + '\n');
    else await out(text + '\n');
  } else {
    const ids = Array.from(model.tokenize(o.text, { addSpecial: !o.noBos, parseSpecial: o.parseSpecial }));
    const pieces = ids.map((i) => model.piece(i));
    if (o.json) await out(JSON.stringify({ ids, pieces }) + '\n');
    else await out(ids.map((id, i) => `${String(id).padStart(6)}  ${JSON.stringify(pieces[i])}`).join('\n') + (ids.length ? '\n' : ''));
  }
  model.free();
  return 0;
}
