// marian.js — a Hugging Face Marian / OPUS-MT checkpoint directory -> GGUF
// (architecture `marian`, layout in docs/marian-gguf.md).
//
// The directory holds config.json, model.safetensors (F32/F16/BF16),
// vocab.json (piece -> id: the shared embedding's rows), source.spm and
// target.spm (SentencePiece models; ids always come from vocab.json).
import { readFileSync, existsSync } from 'node:fs';
import { join, basename, resolve } from 'node:path';
import { GGUFWriter, T } from './gguf_writer.js';
import { readSafetensors, tensorF32 } from './safetensors.js';
import { parseSpm, addTokenizer } from './spm.js';

export const TYPES = { f32: 0, f16: 1, q4_0: 2, q8_0: 8 };
const BLOCK = { 0: 1, 1: 1, 2: 32, 8: 32 };

function readJson(path, what) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${what}: cannot read ${path} (${e.code === 'ENOENT' ? 'no such file' : e.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON (${e.message})`);
  }
}

function readBytes(path, what) {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new Error(`${what}: cannot read ${path} (${e.code === 'ENOENT' ? 'no such file' : e.message})`);
  }
}

function intKey(c, key, def) {
  const v = c[key] ?? def;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`config.json: ${key} must be a non-negative integer, got ${JSON.stringify(c[key])}`);
  return v;
}

/** Read and check config.json: the hyper-parameters atento supports. */
export function marianHparams(c) {
  if (c.model_type !== undefined && c.model_type !== 'marian') throw new Error(`config.json: model_type is '${c.model_type}', expected 'marian'`);
  const h = {
    d: intKey(c, 'd_model'),
    nEnc: intKey(c, 'encoder_layers'),
    nDec: intKey(c, 'decoder_layers'),
    nHead: intKey(c, 'encoder_attention_heads'),
    nFf: intKey(c, 'encoder_ffn_dim'),
    nCtx: intKey(c, 'max_position_embeddings', 512),
    vocab: intKey(c, 'vocab_size'),
    pad: intKey(c, 'pad_token_id'),
    eos: intKey(c, 'eos_token_id'),
    scaleEmbedding: c.scale_embedding ?? false,
    normalizeBefore: c.normalize_before ?? false,
    activation: c.activation_function ?? 'gelu',
  };
  h.start = intKey(c, 'decoder_start_token_id', h.pad);
  if (intKey(c, 'decoder_attention_heads', h.nHead) !== h.nHead) throw new Error('config.json: encoder and decoder head counts differ (not supported)');
  if (intKey(c, 'decoder_ffn_dim', h.nFf) !== h.nFf) throw new Error('config.json: encoder and decoder FFN sizes differ (not supported)');
  if (intKey(c, 'decoder_vocab_size', h.vocab) !== h.vocab || c.share_encoder_decoder_embeddings === false) {
    throw new Error('config.json: separate source and target embeddings (share_encoder_decoder_embeddings false) are not supported');
  }
  if (c.normalize_embedding) throw new Error('config.json: normalize_embedding is not supported');
  if (c.static_position_embeddings === false) throw new Error('config.json: learned position embeddings are not supported (Marian uses static sinusoids)');
  const act = { relu: 'relu', gelu: 'gelu', swish: 'swish', silu: 'swish' }[h.activation];
  if (!act) throw new Error(`config.json: activation_function '${h.activation}' is not supported (relu, gelu, swish)`);
  h.activation = act;
  if (!h.d || h.d % 2 || !h.nHead || h.d % h.nHead || !h.nEnc || !h.nDec || !h.nFf || !h.vocab || h.nCtx < 2) {
    throw new Error(`config.json: bad sizes (d_model ${h.d}, heads ${h.nHead}, layers ${h.nEnc}+${h.nDec}, ffn ${h.nFf}, vocab ${h.vocab})`);
  }
  for (const k of ['pad', 'eos', 'start']) if (h[k] >= h.vocab) throw new Error(`config.json: ${k} id ${h[k]} is outside the vocabulary (${h.vocab})`);
  return h;
}

/** The HF name -> GGUF name table (docs/marian-gguf.md). */
export function tensorNames(h) {
  const map = [];
  const attn = [['q_proj', 'q'], ['k_proj', 'k'], ['v_proj', 'v'], ['out_proj', 'o']];
  for (const [side, gside, n] of [['encoder', 'enc', h.nEnc], ['decoder', 'dec', h.nDec]]) {
    for (let i = 0; i < n; i++) {
      const p = `model.${side}.layers.${i}.`;
      const g = `${gside}.blk.${i}.`;
      for (const wb of ['weight', 'bias']) {
        for (const [a, b] of attn) map.push([`${p}self_attn.${a}.${wb}`, `${g}attn_${b}.${wb}`, true]);
        map.push([`${p}self_attn_layer_norm.${wb}`, `${g}attn_norm.${wb}`, true]);
        if (side === 'decoder') {
          for (const [a, b] of attn) map.push([`${p}encoder_attn.${a}.${wb}`, `${g}cross_${b}.${wb}`, true]);
          map.push([`${p}encoder_attn_layer_norm.${wb}`, `${g}cross_norm.${wb}`, true]);
        }
        map.push([`${p}fc1.${wb}`, `${g}ffn_up.${wb}`, true]);
        map.push([`${p}fc2.${wb}`, `${g}ffn_down.${wb}`, true]);
        map.push([`${p}final_layer_norm.${wb}`, `${g}ffn_norm.${wb}`, true]);
      }
    }
    for (const wb of ['weight', 'bias']) map.push([`model.${side}.layer_norm.${wb}`, `${gside}.output_norm.${wb}`, false]);
  }
  return map;
}

function sinusoid(pos, i, d) {
  const half = d / 2;
  const k = i < half ? i : i - half;
  const ang = pos / 10000 ** ((2 * k) / d);
  return i < half ? Math.sin(ang) : Math.cos(ang);
}

/**
 * Convert. opts: {type: 'q8_0'|'q4_0'|'f16'|'f32', quantize(typeId, Float32Array, nPerRow) -> Uint8Array, log}.
 * quantize is needed for every type but f32 (the CLI passes the WASM reference quantizer).
 * Returns {bytes: Uint8Array, summary: string}.
 */
export function convertMarian(dir, { type = 'q8_0', quantize, log = () => {} } = {}) {
  if (!(type in TYPES)) throw new Error(`--type must be one of ${Object.keys(TYPES).join(', ')}, got '${type}'`);
  const want = TYPES[type];
  if (!existsSync(dir)) throw new Error(`${dir}: no such directory`);
  const c = readJson(join(dir, 'config.json'), 'config.json');
  const h = marianHparams(c);
  const vjson = readJson(join(dir, 'vocab.json'), 'vocab.json');
  if (typeof vjson !== 'object' || vjson === null || Array.isArray(vjson)) throw new Error('vocab.json: expected an object piece -> id');
  const vocab = new Map();
  const seen = new Set();
  for (const [piece, id] of Object.entries(vjson)) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= h.vocab) throw new Error(`vocab.json: id ${id} of ${JSON.stringify(piece)} is outside the vocabulary (${h.vocab})`);
    if (seen.has(id)) throw new Error(`vocab.json: id ${id} is used twice`);
    seen.add(id);
    vocab.set(piece, id);
  }
  // Rows of the embedding that vocab.json does not name: unused pieces.
  for (let i = 0; i < h.vocab; i++) if (!seen.has(i)) vocab.set(`<unused${i}>`, i);

  const stBytes = readBytes(join(dir, 'model.safetensors'), 'model.safetensors');
  const st = readSafetensors(stBytes);
  const get = (name) => (st.has(name) ? tensorF32(stBytes, st.get(name), name) : null);
  const shapeOf = (name) => st.get(name).shape;

  const w = new GGUFWriter();
  w.add('general.architecture', T.STRING, 'marian');
  w.add('general.name', T.STRING, basename(resolve(dir)));
  w.add('general.file_type', T.UINT32, want);
  w.add('marian.context_length', T.UINT32, h.nCtx);
  w.add('marian.embedding_length', T.UINT32, h.d);
  w.add('marian.encoder.block_count', T.UINT32, h.nEnc);
  w.add('marian.decoder.block_count', T.UINT32, h.nDec);
  w.add('marian.attention.head_count', T.UINT32, h.nHead);
  w.add('marian.feed_forward_length', T.UINT32, h.nFf);
  w.add('marian.attention.layer_norm_epsilon', T.FLOAT32, 1e-5);
  w.add('marian.normalize_before', T.BOOL, !!h.normalizeBefore);
  w.add('marian.activation', T.STRING, h.activation);
  w.add('marian.scale_embedding', T.BOOL, !!h.scaleEmbedding);
  w.add('marian.decoder_start_token_id', T.UINT32, h.start);
  const tagMap = c.atento?.target_language_tags;
  let tags = tagMap && typeof tagMap === 'object' ? Object.values(tagMap).filter((t) => typeof t === 'string' && vocab.has(t)) : [];
  if (!tags.length) tags = [...vocab.keys()].filter((p) => /^>>[A-Za-z_]{2,12}<<$/.test(p));
  if (tags.length) w.add('marian.target_language_tags', T.ARRAY, tags, T.STRING);

  // Tokenizers: the target spm with vocab.json ids; the source spm separately when it differs.
  const tgtSpm = readBytes(join(dir, 'target.spm'), 'target.spm');
  const srcSpm = readBytes(join(dir, 'source.spm'), 'source.spm');
  const tgtInfo = parseSpm(tgtSpm);
  const { ids } = addTokenizer(w, tgtInfo, { prefix: 'tokenizer.ggml', addBos: false, addEos: false, vocab });
  if (ids.eosId !== h.eos) log(`note: vocab.json's </s> is ${ids.eosId}, config.json's eos_token_id ${h.eos}`);
  const same = srcSpm.length === tgtSpm.length && srcSpm.every((b, i) => b === tgtSpm[i]);
  if (!same) addTokenizer(w, parseSpm(srcSpm), { prefix: 'tokenizer.source', addBos: false, addEos: true, vocab });

  // Tensors.
  let nParams = 0;
  const put = (gname, values, ne, matrix) => {
    nParams += values.length;
    let t = matrix ? want : 0;
    if (t !== 0 && ne[0] % BLOCK[t] !== 0) {
      log(`note: ${gname} rows of ${ne[0]} are not a multiple of ${BLOCK[t]}: stored as f16`);
      t = 1;
    }
    const data = t === 0 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice() : quantize(t, values, ne[0]);
    w.addTensor(gname, ne, t, data);
  };
  const need = (name, shape) => {
    if (!st.has(name)) throw new Error(`model.safetensors: tensor ${name} is missing`);
    const s = shapeOf(name);
    if (s.length !== shape.length || s.some((v, i) => v !== shape[i])) throw new Error(`model.safetensors: ${name} has shape [${s}], expected [${shape}]`);
    return get(name);
  };
  const embName = ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight'].find((n) => st.has(n));
  if (!embName) throw new Error('model.safetensors: no token embeddings (model.shared.weight)');
  const emb = need(embName, [h.vocab, h.d]);
  put('token_embd.weight', emb, [h.d, h.vocab], true);
  if (st.has('lm_head.weight')) {
    const lm = need('lm_head.weight', [h.vocab, h.d]);
    if (lm.some((v, i) => v !== emb[i])) put('output.weight', lm, [h.d, h.vocab], true);
  }
  if (st.has('final_logits_bias')) {
    const b = get('final_logits_bias');
    if (b.length !== h.vocab) throw new Error(`model.safetensors: final_logits_bias has ${b.length} values, expected ${h.vocab}`);
    put('output.bias', b, [h.vocab], false);
  }
  for (const [hf, g, required] of tensorNames(h)) {
    if (!st.has(hf)) {
      if (required) throw new Error(`model.safetensors: tensor ${hf} is missing`);
      continue;
    }
    const s = shapeOf(hf);
    const v = get(hf);
    if (s.length === 2) put(g, v, [s[1], s[0]], true);
    else if (s.length === 1) put(g, v, [s[0]], false);
    else throw new Error(`model.safetensors: ${hf} has ${s.length} dimensions`);
  }
  if (h.normalizeBefore !== st.has('model.encoder.layer_norm.weight')) {
    log(`note: normalize_before is ${h.normalizeBefore} but model.encoder.layer_norm is ${st.has('model.encoder.layer_norm.weight') ? 'present' : 'absent'}`);
  }
  // Static positions: stored copies must be the sinusoids atento computes.
  for (const side of ['encoder', 'decoder']) {
    const name = `model.${side}.embed_positions.weight`;
    if (!st.has(name)) continue;
    const s = shapeOf(name);
    const p = get(name);
    const rows = Math.min(s[0], 64);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < h.d; i++) {
        if (Math.abs(p[r * h.d + i] - sinusoid(r, i, h.d)) > 2e-3) {
          throw new Error(`model.safetensors: ${name} is not Marian's static sinusoid table (row ${r}, column ${i}); learned positions are not supported`);
        }
      }
    }
  }
  const bytes = w.toBytes();
  const summary = `marian: d_model ${h.d}, layers ${h.nEnc}+${h.nDec}, heads ${h.nHead}, ffn ${h.nFf}, vocab ${h.vocab}, ` +
    `${h.activation}, ${(nParams / 1e6).toFixed(2)}M parameters, ${type}, ${same ? 'one' : 'separate source and target'} spm` +
    (tags.length ? `, tags ${tags.join(' ')}` : '');
  return { bytes, summary };
}
