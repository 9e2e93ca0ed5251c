#!/usr/bin/env python3
"""make_llama2c.py — a small random llama2.c model, and the GGUF that
llama.cpp's convert-llama2c-to-ggml makes of it (tests/data/llama2c/).

    /usr/bin/python3 models/tools/make_llama2c.py OUTDIR

Writes OUTDIR/model.bin (llama2.c checkpoint: int32 header dim, hidden_dim,
n_layers, n_heads, n_kv_heads, vocab_size (< 0: separate classifier),
seq_len, then float32 weights in run.c's order), OUTDIR/tokenizer.bin
(llama2.c's tokenizer format: int32 max_token_length, then per token float32
score, int32 length, bytes; spaces as ' ', BOS/EOS as "\\n<s>\\n" /
"\\n</s>\\n" as llama2.c's tokenizer export writes them) and
OUTDIR/model.gguf, converted as convert-llama2c-to-ggml.cpp does (read for
its facts, nothing copied):

- tokens: id 0 "<unk>" (unknown), 1 "<s>" and 2 "</s>" (control), empty
  pieces control, "<0xXX>" byte, the rest normal; spaces become U+2581;
  float32 scores; INT32 token types;
- UINT32 unknown/bos/eos ids 0/1/2 and seperator/padding ids 4294967295
  (LLAMA_TOKEN_NULL as uint32);
- UINT32 llama.context_length, embedding_length, feed_forward_length,
  attention.head_count, attention.head_count_kv, block_count,
  rope.dimension_count = min(64, head size); float32
  attention.layer_norm_rms_epsilon = 1e-5; no rope.freq_base, no vocab_size;
- f32 tensors token_embd, output_norm, output (the classifier, or the
  embedding when shared), then per layer attn_q, attn_k, attn_v, attn_output,
  attn_norm, ffn_gate (w1), ffn_down (w2), ffn_up (w3), ffn_norm: llama2.c's
  row-major (out, in) matrices are ggml's {in, out} as they are.
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, SEQ = 64, 176, 2, 4, 2, 128
WORDS = [
    "▁", "e", "t", "a", "o", "n", "i", "h", "s", "r", "d", "l", "u", "w", "m", "c", "y", "g", "f", "p", "b", "k",
    "v", ".", ",", "O", "T", "S", "▁t", "he", "▁a", "▁s", "▁w", "in", "nd", "▁the", "▁b", "re", "ed", "er", "an",
    "▁h", "ou", "on", "▁o", "it", "▁f", "ll", "at", "▁l", "▁p", "▁m", "en", "is", "▁d", "ing", "▁was", "▁and",
    "▁c", "ar", "▁g", "ay", "▁The", "▁to", "om", "▁he", "▁her", "▁Once", "▁upon", "▁time", "▁there", "▁lit",
    "tle", "▁little", "▁girl", "▁She", "▁play", "ed", "▁sun", "▁day", "▁named", "▁Lily", "▁park", "▁friend",
]


def tokenizer_pieces():
    """(text as llama2.c stores it, score) for each id"""
    out = [("<unk>", 0.0), ("\n<s>\n", 0.0), ("\n</s>\n", 0.0)]
    out += [("<0x%02X>" % b, 0.0) for b in range(256)]
    seen = set()
    for i, w in enumerate(WORDS):
        if w in seen:
            continue
        seen.add(w)
        out.append((w.replace("▁", " "), -float(i)))
    return out


def write_tokenizer_bin(path, pieces):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(t.encode("utf-8")) for t, _ in pieces)))
        for t, s in pieces:
            b = t.encode("utf-8")
            f.write(struct.pack("<fi", s, len(b)) + b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/llama2c"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2025)
    pieces = tokenizer_pieces()
    V = len(pieces)
    hs = DIM // HEADS
    kv = hs * KV_HEADS

    def mat(n_out, n_in, scale=1.0):
        return (rng.standard_normal((n_out, n_in)) * scale / np.sqrt(n_in)).astype(np.float32)

    emb = (rng.standard_normal((V, DIM)) * 0.5).astype(np.float32)
    w = {
        "rms_att": (1 + 0.1 * rng.standard_normal((LAYERS, DIM))).astype(np.float32),
        "wq": np.stack([mat(DIM, DIM) for _ in range(LAYERS)]),
        "wk": np.stack([mat(kv, DIM) for _ in range(LAYERS)]),
        "wv": np.stack([mat(kv, DIM) for _ in range(LAYERS)]),
        "wo": np.stack([mat(DIM, DIM) for _ in range(LAYERS)]),
        "rms_ffn": (1 + 0.1 * rng.standard_normal((LAYERS, DIM))).astype(np.float32),
        "w1": np.stack([mat(HIDDEN, DIM) for _ in range(LAYERS)]),
        "w2": np.stack([mat(DIM, HIDDEN) for _ in range(LAYERS)]),
        "w3": np.stack([mat(HIDDEN, DIM) for _ in range(LAYERS)]),
        "rms_final": (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32),
    }
    wcls = mat(V, DIM, 4.0)   # a separate classifier (vocab_size < 0 in the header)

    with open(os.path.join(out, "model.bin"), "wb") as f:
        f.write(struct.pack("<7i", DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, -V, SEQ))
        for a in (emb, w["rms_att"], w["wq"], w["wk"], w["wv"], w["wo"], w["rms_ffn"], w["w1"], w["w2"], w["w3"],
                  w["rms_final"]):
            f.write(a.astype(np.float32).tobytes())
        f.write(np.zeros(SEQ * hs, dtype=np.float32).tobytes())   # run.c skips the old freq_cis tables
        f.write(wcls.tobytes())
    write_tokenizer_bin(os.path.join(out, "tokenizer.bin"), pieces)

    # ---- the GGUF, as convert-llama2c-to-ggml writes it
    tokens, scores, types = [], [], []
    for i, (t, s) in enumerate(pieces):
        if i == 0:
            t, ty = "<unk>", 2
        elif i == 1:
            t, ty = "<s>", 3
        elif i == 2:
            t, ty = "</s>", 3
        elif t == "":
            ty = 3
        elif len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            ty = 6
        else:
            ty = 1
        tokens.append(t.replace(" ", "▁"))
        scores.append(s)
        types.append(ty)
    g = gguf.GGUFWriter()
    g.add("tokenizer.ggml.tokens", tokens, gguf.STRING)
    g.add("tokenizer.ggml.scores", np.asarray(scores, dtype=np.float32))
    g.add("tokenizer.ggml.token_type", np.asarray(types, dtype=np.int32))
    g.add("tokenizer.ggml.model", "llama")
    g.add("general.architecture", "llama")
    g.add("general.name", "llama")
    g.add("tokenizer.ggml.unknown_token_id", 0, gguf.UINT32)
    g.add("tokenizer.ggml.bos_token_id", 1, gguf.UINT32)
    g.add("tokenizer.ggml.eos_token_id", 2, gguf.UINT32)
    g.add("tokenizer.ggml.seperator_token_id", 0xFFFFFFFF, gguf.UINT32)
    g.add("tokenizer.ggml.padding_token_id", 0xFFFFFFFF, gguf.UINT32)
    g.add("llama.context_length", SEQ, gguf.UINT32)
    g.add("llama.embedding_length", DIM, gguf.UINT32)
    g.add("llama.feed_forward_length", HIDDEN, gguf.UINT32)
    g.add("llama.attention.head_count", HEADS, gguf.UINT32)
    g.add("llama.attention.head_count_kv", KV_HEADS, gguf.UINT32)
    g.add("llama.block_count", LAYERS, gguf.UINT32)
    g.add("llama.rope.dimension_count", min(64, hs), gguf.UINT32)
    g.add("llama.attention.layer_norm_rms_epsilon", 1e-5, gguf.FLOAT32)
    g.add_tensor("token_embd.weight", emb)
    g.add_tensor("output_norm.weight", w["rms_final"])
    g.add_tensor("output.weight", wcls)
    for l in range(LAYERS):
        for name, a in (("attn_q", w["wq"][l]), ("attn_k", w["wk"][l]), ("attn_v", w["wv"][l]),
                        ("attn_output", w["wo"][l]), ("attn_norm", w["rms_att"][l]), ("ffn_gate", w["w1"][l]),
                        ("ffn_down", w["w2"][l]), ("ffn_up", w["w3"][l]), ("ffn_norm", w["rms_ffn"][l])):
            g.add_tensor("blk.%d.%s.weight" % (l, name), a)
    g.write(os.path.join(out, "model.gguf"))
    print("vocab %d, %d bytes of GGUF" % (V, os.path.getsize(os.path.join(out, "model.gguf"))))


if __name__ == "__main__":
    main()
