// spm.js — read a SentencePiece .model file (a serialized ModelProto) by
// hand from the protobuf wire format, and turn it into GGUF tokenizer keys
// (docs/tokenizers.md; the same keys as models/tools/spm_to_gguf.py writes).
import { T } from './gguf_writer.js';

export const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
const MODEL_TYPES = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };
const utf8 = new TextDecoder('utf-8', { fatal: true });
function text(bytes, what) {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error(`spm: ${what} is not valid UTF-8`);
  }
}

function varint(buf, i) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (i >= buf.length) throw new Error('spm: truncated varint');
    const b = buf[i++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, i];
    shift += 7n;
    if (shift > 63n) throw new Error('spm: varint too long');
  }
}

/** The fields of one message: [{fn, wt, v}] (v: BigInt for varints, Uint8Array otherwise). */
function fields(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    let key;
    [key, i] = varint(buf, i);
    const fn = Number(key >> 3n);
    const wt = Number(key & 7n);
    let v;
    if (wt === 0) [v, i] = varint(buf, i);
    else if (wt === 1 || wt === 5) {
      const n = wt === 1 ? 8 : 4;
      if (i + n > buf.length) throw new Error(`spm: truncated field ${fn}`);
      v = buf.subarray(i, i + n);
      i += n;
    } else if (wt === 2) {
      let n;
      [n, i] = varint(buf, i);
      if (n > BigInt(buf.length - i)) throw new Error(`spm: truncated field ${fn}`);
      v = buf.subarray(i, i + Number(n));
      i += Number(n);
    } else throw new Error(`spm: unsupported wire type ${wt} (not a SentencePiece model?)`);
    out.push({ fn, wt, v });
  }
  return out;
}

const int32 = (v) => Number(BigInt.asIntN(32, v));

/** Parse a SentencePiece model. */
export function parseSpm(bytes) {
  const info = {
    pieces: [], modelType: 'unigram', byteFallback: false, unkId: 0, bosId: 1, eosId: 2, padId: -1,
    normalizerName: 'nmt_nfkc', charsmap: new Uint8Array(0), addDummyPrefix: true,
    removeExtraWhitespaces: true, escapeWhitespaces: true, suffix: false,
  };
  for (const { fn, wt, v } of fields(bytes)) {
    if (fn === 1 && wt === 2) {
      let piece = '';
      let score = 0;
      let type = NORMAL;
      for (const f of fields(v)) {
        if (f.fn === 1 && f.wt === 2) piece = text(f.v, `piece ${info.pieces.length}`);
        else if (f.fn === 2 && f.wt === 5) score = new DataView(f.v.buffer, f.v.byteOffset, 4).getFloat32(0, true);
        else if (f.fn === 3 && f.wt === 0) type = Number(f.v);
      }
      info.pieces.push([piece, score, type]);
    } else if (fn === 2 && wt === 2) {
      for (const f of fields(v)) {
        if (f.wt !== 0) continue;
        if (f.fn === 3) info.modelType = MODEL_TYPES[Number(f.v)] || String(f.v);
        else if (f.fn === 35) info.byteFallback = f.v !== 0n;
        else if (f.fn === 24) info.suffix = f.v !== 0n;
        else if (f.fn === 40) info.unkId = int32(f.v);
        else if (f.fn === 41) info.bosId = int32(f.v);
        else if (f.fn === 42) info.eosId = int32(f.v);
        else if (f.fn === 43) info.padId = int32(f.v);
      }
    } else if (fn === 3 && wt === 2) {
      for (const f of fields(v)) {
        if (f.fn === 1 && f.wt === 2) info.normalizerName = text(f.v, 'the normalizer name');
        else if (f.fn === 2 && f.wt === 2) info.charsmap = f.v;
        else if (f.fn === 3 && f.wt === 0) info.addDummyPrefix = f.v !== 0n;
        else if (f.fn === 4 && f.wt === 0) info.removeExtraWhitespaces = f.v !== 0n;
        else if (f.fn === 5 && f.wt === 0) info.escapeWhitespaces = f.v !== 0n;
      }
    }
  }
  if (!info.pieces.length) throw new Error('spm: no pieces (not a SentencePiece model?)');
  return info;
}

/**
 * The pieces in the order of a model's own vocabulary (Marian's vocab.json,
 * a Map piece -> id): pieces the .spm lacks become UNUSED, except <pad>,
 * <s>, </s> (CONTROL) and <unk> (UNKNOWN). Returns {pieces, ids}.
 */
export function remap(info, vocab) {
  const byPiece = new Map(info.pieces.map((p) => [p[0], p]));
  let n = 0;
  for (const id of vocab.values()) n = Math.max(n, id + 1);
  const pieces = Array.from({ length: n }, (_, i) => [`<unused${i}>`, 0, UNUSED]);
  for (const [piece, i] of vocab) {
    if (byPiece.has(piece)) pieces[i] = byPiece.get(piece);
    else if (piece === '<pad>' || piece === '<s>' || piece === '</s>') pieces[i] = [piece, 0, CONTROL];
    else if (piece === '<unk>') pieces[i] = [piece, 0, UNKNOWN];
    else pieces[i] = [piece, 0, UNUSED];
  }
  const ids = {};
  for (const [k, def] of [['unkId', '<unk>'], ['bosId', '<s>'], ['eosId', '</s>'], ['padId', '<pad>']]) {
    const sid = info[k];
    const name = sid >= 0 && sid < info.pieces.length ? info.pieces[sid][0] : def;
    ids[k] = vocab.has(name) ? vocab.get(name) : vocab.has(def) ? vocab.get(def) : -1;
  }
  return { pieces, ids };
}

/** Add the tokenizer keys of `info` under `prefix` to a GGUFWriter. */
export function addTokenizer(w, info, { prefix = 'tokenizer.ggml', addBos = false, addEos = false, vocab = null } = {}) {
  if (info.modelType !== 'unigram' && info.modelType !== 'bpe') throw new Error(`spm: unsupported SentencePiece model type ${info.modelType}`);
  if (info.suffix) throw new Error('spm: treat_whitespace_as_suffix is not supported');
  const { pieces, ids } = vocab ? remap(info, vocab)
    : { pieces: info.pieces, ids: { unkId: info.unkId, bosId: info.bosId, eosId: info.eosId, padId: info.padId } };
  const n = pieces.length;
  w.add(`${prefix}.model`, T.STRING, info.modelType === 'bpe' ? 'llama' : 'unigram');
  w.add(`${prefix}.tokens`, T.ARRAY, pieces.map((p) => p[0]), T.STRING);
  w.add(`${prefix}.scores`, T.ARRAY, Float32Array.from(pieces, (p) => p[1]), T.FLOAT32);
  w.add(`${prefix}.token_type`, T.ARRAY, Int32Array.from(pieces, (p) => p[2]), T.INT32);
  for (const [name, k] of [['bos_token_id', 'bosId'], ['eos_token_id', 'eosId'], ['unknown_token_id', 'unkId'], ['padding_token_id', 'padId']]) {
    if (ids[k] >= 0 && ids[k] < n) w.add(`${prefix}.${name}`, T.UINT32, ids[k]);
  }
  w.add(`${prefix}.add_bos_token`, T.BOOL, addBos);
  w.add(`${prefix}.add_eos_token`, T.BOOL, addEos);
  w.add(`${prefix}.add_space_prefix`, T.BOOL, info.addDummyPrefix);
  w.add(`${prefix}.remove_extra_whitespaces`, T.BOOL, info.removeExtraWhitespaces);
  w.add(`${prefix}.escape_whitespaces`, T.BOOL, info.escapeWhitespaces);
  if (info.charsmap.length) w.add(`${prefix}.precompiled_charsmap`, T.ARRAY, info.charsmap, T.UINT8);
  return { n, ids };
}
