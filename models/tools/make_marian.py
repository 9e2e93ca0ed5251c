#!/usr/bin/env python3
"""make_marian.py — tiny random Marian checkpoints in Hugging Face layout, and
a NumPy reference of the Marian forward pass, for atento's tests.

    /usr/bin/python3 models/tools/make_marian.py tests/data/marian

writes two checkpoint directories (config.json, model.safetensors written by
hand, source.spm, target.spm, vocab.json) and, for each, `ref.bin`: decoder
logits computed by the NumPy forward pass below (written from the HF
MarianMTModel equations, independent of atento's C code).

  tiny/     like atento's shipped model: one shared spm (ids = spm ids, pad 0,
            eos 1, unk 2, user-defined tags >>es<< >>en<<), ReLU, post-norm,
            tied embeddings, zero final_logits_bias, f32 safetensors.
  opus/     like an OPUS-MT checkpoint: separate source.spm (English) and
            target.spm (Spanish) merged into one vocab.json (</s> 0, <unk> 1,
            <pad> last = decoder start), swish, non-zero final_logits_bias,
            untied lm_head, f16 safetensors.

ref.bin (little-endian): "MREF", u32 n_cases, u32 n_vocab; per case: u32
n_src, i32 src[n_src], u32 n_tgt, i32 tgt[n_tgt] (decoder inputs, starting
with decoder_start_token_id), f32 logits[n_tgt][n_vocab]; then u32 n_greedy,
i32 greedy[n_greedy] (greedy decode of case 0's source, without the start
token, ending with EOS or at the length limit 2*n_src+10).
cases.json: the texts and ids of each case (for tokenizer checks).
"""
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import sentencepiece as spm

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/data/tatoeba-en-es/en-es.tsv")
if not os.path.exists(DATA):
    DATA = "/work/shared/data/tatoeba-en-es/en-es.tsv"


def sinusoids(n_pos, d):
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    i = np.arange(d // 2, dtype=np.float64)[None, :]
    ang = pos / np.power(10000.0, 2 * i / d)
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1).astype(np.float32)


# ---------------------------------------------------------------- safetensors

def save_safetensors(path, tensors, dtype):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name]).astype("<f4" if dtype == "F32" else "<f2")
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- reference

def layer_norm(x, w, b, eps=1e-5):
    x = x.astype(np.float64)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def act(x, kind):
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "swish":
        return x / (1 + np.exp(-x))
    if kind == "gelu":
        return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    raise ValueError(kind)


def attention(W, pre, x, kv, heads, causal):
    d = x.shape[1]
    hd = d // heads
    q = (x @ W[pre + "q_proj.weight"].T + W[pre + "q_proj.bias"]) * hd ** -0.5
    k = kv @ W[pre + "k_proj.weight"].T + W[pre + "k_proj.bias"]
    v = kv @ W[pre + "v_proj.weight"].T + W[pre + "v_proj.bias"]
    out = np.zeros_like(q)
    for h in range(heads):
        s = slice(h * hd, (h + 1) * hd)
        a = q[:, s] @ k[:, s].T
        if causal:
            a = a + np.triu(np.full(a.shape, -np.inf), 1)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        out[:, s] = a @ v[:, s]
    return out @ W[pre + "out_proj.weight"].T + W[pre + "out_proj.bias"]


def forward(W, c, src, tgt):
    """Decoder logits [len(tgt), V] for source ids src and decoder inputs tgt (float64)."""
    d, heads, kind = c["d_model"], c["encoder_attention_heads"], c["activation_function"]
    pre_norm = c.get("normalize_before", False)
    P = sinusoids(c["max_position_embeddings"], d).astype(np.float64)
    scale = math.sqrt(d) if c["scale_embedding"] else 1.0
    E = W["model.shared.weight"]

    def block(x, p, sub):
        if pre_norm:
            return x + sub(layer_norm(x, W[p + ".weight"], W[p + ".bias"]))
        return layer_norm(x + sub(x), W[p + ".weight"], W[p + ".bias"])

    def ffn(p):
        return lambda x: act(x @ W[p + "fc1.weight"].T + W[p + "fc1.bias"], kind) @ W[p + "fc2.weight"].T + W[p + "fc2.bias"]

    x = E[src] * scale + P[:len(src)]
    for n in range(c["encoder_layers"]):
        p = "model.encoder.layers.%d." % n
        x = block(x, p + "self_attn_layer_norm", lambda h: attention(W, p + "self_attn.", h, h, heads, False))
        x = block(x, p + "final_layer_norm", ffn(p))
    if pre_norm:
        x = layer_norm(x, W["model.encoder.layer_norm.weight"], W["model.encoder.layer_norm.bias"])
    enc = x
    y = E[tgt] * scale + P[:len(tgt)]
    for n in range(c["decoder_layers"]):
        p = "model.decoder.layers.%d." % n
        y = block(y, p + "self_attn_layer_norm", lambda h: attention(W, p + "self_attn.", h, h, heads, True))
        y = block(y, p + "encoder_attn_layer_norm", lambda h: attention(W, p + "encoder_attn.", h, enc, heads, False))
        y = block(y, p + "final_layer_norm", ffn(p))
    if pre_norm:
        y = layer_norm(y, W["model.decoder.layer_norm.weight"], W["model.decoder.layer_norm.bias"])
    out = W.get("lm_head.weight", E)
    return y @ out.T + W["final_logits_bias"][0]


def greedy(W, c, src, limit):
    tgt = [c["decoder_start_token_id"]]
    while len(tgt) - 1 < limit:
        lg = forward(W, c, src, tgt)[-1].copy()
        lg[c["pad_token_id"]] = -np.inf  # HF bad_words_ids [[pad]]
        t = int(lg.argmax())
        tgt.append(t)
        if t == c["eos_token_id"]:
            break
    return tgt[1:]


# ---------------------------------------------------------------- checkpoints

def train_spm(lines, prefix, vocab_size, rule="nmt_nfkc", **kw):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        name = f.name
    spm.SentencePieceTrainer.train(
        input=name, model_prefix=prefix, model_type="unigram", vocab_size=vocab_size,
        character_coverage=1.0, normalization_rule_name=rule, num_threads=1,
        shuffle_input_sentence=False, minloglevel=2, **kw)
    os.remove(name)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def random_weights(c, rng, untied, nonzero_bias):
    d, f, V = c["d_model"], c["encoder_ffn_dim"], c["vocab_size"]
    W = {}

    def lin(name, n_out, n_in):
        W[name + ".weight"] = (rng.standard_normal((n_out, n_in)) * (1.0 / math.sqrt(n_in))).astype(np.float32)
        W[name + ".bias"] = (rng.standard_normal(n_out) * 0.1).astype(np.float32)

    def ln(name):
        W[name + ".weight"] = (1 + rng.standard_normal(d) * 0.2).astype(np.float32)
        W[name + ".bias"] = (rng.standard_normal(d) * 0.1).astype(np.float32)

    W["model.shared.weight"] = (rng.standard_normal((V, d)) * 0.3).astype(np.float32)
    for side, n_layers in (("encoder", c["encoder_layers"]), ("decoder", c["decoder_layers"])):
        for n in range(n_layers):
            p = "model.%s.layers.%d." % (side, n)
            attns = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for a in attns:
                for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    lin(p + a + "." + m, d, d)
                ln(p + a + "_layer_norm")
            lin(p + "fc1", f, d)
            lin(p + "fc2", d, f)
            ln(p + "final_layer_norm")
        W["model.%s.embed_positions.weight" % side] = sinusoids(c["max_position_embeddings"], d)
        if c.get("normalize_before"):
            ln("model.%s.layer_norm" % side)
    W["final_logits_bias"] = ((rng.standard_normal((1, V)) * 0.5) if nonzero_bias else np.zeros((1, V))).astype(np.float32)
    if untied:
        W["lm_head.weight"] = (rng.standard_normal((V, d)) * 0.3).astype(np.float32)
    return W


def config(V, pad, eos, activation, pre_norm=False):
    return {
        "architectures": ["MarianMTModel"], "model_type": "marian",
        "vocab_size": V, "decoder_vocab_size": V, "d_model": 32,
        "encoder_layers": 2, "decoder_layers": 2,
        "encoder_attention_heads": 4, "decoder_attention_heads": 4,
        "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_position_embeddings": 128,
        "activation_function": activation, "scale_embedding": True, "normalize_before": pre_norm,
        "normalize_embedding": False, "add_bias_logits": False, "static_position_embeddings": True,
        "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True,
        "pad_token_id": pad, "eos_token_id": eos, "decoder_start_token_id": pad, "bos_token_id": 0,
        "forced_eos_token_id": eos, "bad_words_ids": [[pad]], "num_beams": 4, "max_length": 512,
        "is_encoder_decoder": True, "torch_dtype": "float32",
    }


def write_ref(path, W, c, cases):
    V = c["vocab_size"]
    Wd = {k: v.astype(np.float64) for k, v in W.items()}
    out = [b"MREF", struct.pack("<II", len(cases), V)]
    for src, tgt in cases:
        lg = forward(Wd, c, src, tgt)
        out.append(struct.pack("<I", len(src)) + np.array(src, "<i4").tobytes())
        out.append(struct.pack("<I", len(tgt)) + np.array(tgt, "<i4").tobytes())
        out.append(lg.astype("<f4").tobytes())
    g = greedy(Wd, c, cases[0][0], 2 * len(cases[0][0]) + 10)
    out.append(struct.pack("<I", len(g)) + np.array(g, "<i4").tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(out))
    return g


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/marian"
    pairs = []
    with open(DATA, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 40 == 0:
                en, es = line.rstrip("\n").split("\t")[:2]
                pairs.append((en, es))
    en = [p[0] for p in pairs]
    es = [p[1] for p in pairs]
    texts = [("Tom is reading a book.", "Tom está leyendo un libro."),
             ("Where is the station?", "¿Dónde está la estación?"),
             ("I like green apples, but not red ones.", "Me gustan las manzanas verdes.")]

    # ---- tiny: shared spm, tags, ReLU, tied, like the shipped model
    d = os.path.join(outdir, "tiny")
    os.makedirs(d, exist_ok=True)
    sp = train_spm(en + es, os.path.join(d, "spm"), 160, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                   pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>", user_defined_symbols=">>es<<,>>en<<")
    os.replace(os.path.join(d, "spm.model"), os.path.join(d, "source.spm"))
    os.remove(os.path.join(d, "spm.vocab"))
    with open(os.path.join(d, "source.spm"), "rb") as f:
        blob = f.read()
    with open(os.path.join(d, "target.spm"), "wb") as f:
        f.write(blob)
    V = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(V)}
    c = config(V, 0, 1, "relu")
    c["atento"] = {"target_language_tags": {"es": ">>es<<", "en": ">>en<<"}}
    W = random_weights(c, np.random.default_rng(1), untied=False, nonzero_bias=False)
    tag = vocab[">>es<<"]
    cases, meta = [], []
    for s, t in texts:
        src = [tag] + sp.encode(s) + [1]
        tgt = [0] + sp.encode(t)
        cases.append((src, tgt))
        meta.append({"source": s, "target": t, "src_ids": src, "tgt_ids": tgt})
    save(d, c, W, vocab, "F32", cases, meta)

    # ---- opus: separate spms, merged vocab.json, swish, untied, bias, f16
    d = os.path.join(outdir, "opus")
    os.makedirs(d, exist_ok=True)
    # identity normalization (no 237 KB charsmap) keeps the test data small
    ss = train_spm(en, os.path.join(d, "src"), 120, rule="identity", unk_id=1, eos_id=0, bos_id=-1, pad_id=-1,
                   eos_piece="</s>", unk_piece="<unk>")
    ts = train_spm(es, os.path.join(d, "tgt"), 120, rule="identity", unk_id=1, eos_id=0, bos_id=-1, pad_id=-1,
                   eos_piece="</s>", unk_piece="<unk>")
    os.replace(os.path.join(d, "src.model"), os.path.join(d, "source.spm"))
    os.replace(os.path.join(d, "tgt.model"), os.path.join(d, "target.spm"))
    os.remove(os.path.join(d, "src.vocab"))
    os.remove(os.path.join(d, "tgt.vocab"))
    vocab = {"</s>": 0, "<unk>": 1}
    for s in (ss, ts):
        for i in range(s.get_piece_size()):
            p = s.id_to_piece(i)
            if p not in vocab:
                vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    V = len(vocab)
    c = config(V, V - 1, 0, "swish")
    c["torch_dtype"] = "float16"
    W = random_weights(c, np.random.default_rng(2), untied=True, nonzero_bias=True)
    W["final_logits_bias"][0, 0] = 5.0  # </s> likely enough that translations end
    W = {k: v.astype(np.float16).astype(np.float32) for k, v in W.items()}  # what the f16 file holds
    cases, meta = [], []
    for s, t in texts:
        src = [vocab[p] for p in ss.encode(s, out_type=str)] + [0]
        tgt = [V - 1] + [vocab[p] for p in ts.encode(t, out_type=str)]
        cases.append((src, tgt))
        meta.append({"source": s, "target": t, "src_ids": src, "tgt_ids": tgt})
    save(d, c, W, vocab, "F16", cases, meta)


def save(d, c, W, vocab, dtype, cases, meta):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    save_safetensors(os.path.join(d, "model.safetensors"), W, dtype)
    g = write_ref(os.path.join(d, "ref.bin"), W, c, cases)
    with open(os.path.join(d, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": meta, "greedy": g}, f, ensure_ascii=False, indent=1)
    print(d, "vocab", c["vocab_size"], "greedy", g)


if __name__ == "__main__":
    main()
