#!/usr/bin/env python3
"""Reference outputs of the trained translation model, from PyTorch (f32, CPU),
for atento's independent check of its Marian implementation.

    python3 models/train/marian_reference.py models/train/out/translate/marian models/train/reference

Reads the Hugging Face Marian directory written by translate.py (the one the
shipped GGUF was converted from) and writes:

  translate_ref.bin   H7's "MREF" format (models/tools/make_marian.py):
                      "MREF", u32 n_cases, u32 n_vocab; per case u32 n_src,
                      i32 src[n_src], u32 n_tgt, i32 tgt[n_tgt] (decoder
                      inputs, starting with decoder_start_token_id = 0),
                      f32 logits[n_tgt][n_vocab]; then u32 n_greedy,
                      i32 greedy[n_greedy] (greedy decode of case 0, no start
                      token, ending with EOS or at 2*n_src+10 tokens).
                      8 test sentences (4 en->es, 4 es->en), 2 decoder positions.
  translate_ref_q8_0.bin  the same cases and format, computed from the weights
                      of the shipped q8_0 GGUF (dequantized by models/tools/gguf.py),
                      so atento running models/translate-en-es.gguf can be held
                      to f32 tolerance.
  translate_ref.json  20 test sentences (10 per direction): text, source ids,
                      PyTorch greedy and beam-4 output ids and text; plus the
                      cases of translate_ref.bin.

It also recomputes the logits with an independent NumPy forward pass
(models/tools/make_marian.py, float64) and prints the largest difference.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import common  # noqa: E402
import translate  # noqa: E402


def load_model(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    W = {k: v.astype(np.float32) for k, v in common.load_safetensors(os.path.join(d, "model.safetensors")).items()}
    c = {k: cfg[k] for k in ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                             "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
                             "max_position_embeddings", "pad_token_id", "dropout", "attention_dropout",
                             "activation_dropout")}
    m = translate.Marian(c)
    missing, unexpected = m.load_state_dict({k: torch.from_numpy(v) for k, v in W.items()}, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    m.eval()
    return m, c, cfg, W


def weights_from_gguf(path, cfg):
    """HF-named f32 weights from a marian GGUF (docs/marian-gguf.md names)."""
    import gguf
    r = gguf.GGUFReader(path)
    T = {n: r.tensor(n).astype(np.float32) for n in r.tensors}
    W = {"model.shared.weight": T["token_embd.weight"],
         "final_logits_bias": T.get("output.bias", np.zeros(cfg["vocab_size"], np.float32)).reshape(1, -1)}
    attn = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "out_proj"}
    for side, n_layers in (("encoder", cfg["encoder_layers"]), ("decoder", cfg["decoder_layers"])):
        g = "enc" if side == "encoder" else "dec"
        for i in range(n_layers):
            hp, gp = "model.%s.layers.%d." % (side, i), "%s.blk.%d." % (g, i)
            for wb in ("weight", "bias"):
                for a, h in attn.items():
                    W[hp + "self_attn.%s.%s" % (h, wb)] = T[gp + "attn_%s.%s" % (a, wb)]
                    if side == "decoder":
                        W[hp + "encoder_attn.%s.%s" % (h, wb)] = T[gp + "cross_%s.%s" % (a, wb)]
                W[hp + "self_attn_layer_norm." + wb] = T[gp + "attn_norm." + wb]
                if side == "decoder":
                    W[hp + "encoder_attn_layer_norm." + wb] = T[gp + "cross_norm." + wb]
                W[hp + "fc1." + wb] = T[gp + "ffn_up." + wb]
                W[hp + "fc2." + wb] = T[gp + "ffn_down." + wb]
                W[hp + "final_layer_norm." + wb] = T[gp + "ffn_norm." + wb]
    n = cfg["max_position_embeddings"]
    W["model.encoder.embed_positions.weight"] = translate.sinusoids(n, cfg["d_model"]).numpy()
    W["model.decoder.embed_positions.weight"] = translate.sinusoids(n, cfg["d_model"]).numpy()
    return W


def write_mref(path, m, cases, greedy_src):
    V = m.c["vocab_size"]
    blob = [b"MREF", struct.pack("<II", len(cases), V)]
    for r in cases:
        tgt = r["bin_tgt_ids"]
        with torch.no_grad():
            lg = m(torch.tensor([r["src_ids"]]), torch.tensor([tgt]))[0].numpy().astype(np.float32)
        blob.append(struct.pack("<I", len(r["src_ids"])) + np.array(r["src_ids"], "<i4").tobytes())
        blob.append(struct.pack("<I", len(tgt)) + np.array(tgt, "<i4").tobytes())
        blob.append(lg.astype("<f4").tobytes())
    with torch.no_grad():
        g = translate.translate_batch(m, torch.tensor([greedy_src]), beam=1, max_len_a=2.0, max_len_b=10)[0]
    g = g + [translate.EOS] if len(g) < 2 * len(greedy_src) + 10 else g
    blob.append(struct.pack("<I", len(g)) + np.array(g, "<i4").tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(blob))
    return g


def main():
    import sentencepiece as spm
    d, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m, c, cfg, W = load_model(d)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "source.spm"))
    test = common.load_split()["test"]
    # every 100th test pair: a spread of lengths
    picks = test[::100][:10]
    rows = []
    for direction, si, ti, tag in (("en-es", 0, 1, ">>es<<"), ("es-en", 1, 0, ">>en<<")):
        for p in picks:
            src = [sp.piece_to_id(tag)] + sp.encode(p[si]) + [translate.EOS]
            rows.append({"direction": direction, "source": p[si], "reference": p[ti], "src_ids": src,
                         "ref_ids": sp.encode(p[ti])})
    with torch.no_grad():
        for r in rows:
            s = torch.tensor([r["src_ids"]])
            g = translate.translate_batch(m, s, beam=1)[0]
            b = translate.translate_batch(m, s, beam=4)[0]
            r.update({"greedy_ids": g, "greedy": sp.decode(g), "beam4_ids": b, "beam4": sp.decode(b)})
    cases = [r for r in rows if r["direction"] == "en-es"][:4] + [r for r in rows if r["direction"] == "es-en"][:4]
    V = c["vocab_size"]
    blob = [b"MREF", struct.pack("<II", len(cases), V)]
    maxdiff = 0.0
    import make_marian
    for r in cases:
        tgt = [0] + r["ref_ids"][:1]
        with torch.no_grad():
            lg = m(torch.tensor([r["src_ids"]]), torch.tensor([tgt]))[0].numpy().astype(np.float32)
        ref64 = make_marian.forward({k: v.astype(np.float64) for k, v in W.items()}, cfg, r["src_ids"], tgt)
        maxdiff = max(maxdiff, float(np.abs(ref64 - lg).max()))
        r["bin_tgt_ids"] = tgt
        blob.append(struct.pack("<I", len(r["src_ids"])) + np.array(r["src_ids"], "<i4").tobytes())
        blob.append(struct.pack("<I", len(tgt)) + np.array(tgt, "<i4").tobytes())
        blob.append(lg.astype("<f4").tobytes())
    c0 = cases[0]["src_ids"]
    with torch.no_grad():
        g = translate.translate_batch(m, torch.tensor([c0]), beam=1, max_len_a=2.0, max_len_b=10)[0]
    g = g + [translate.EOS] if len(g) < 2 * len(c0) + 10 else g
    blob.append(struct.pack("<I", len(g)) + np.array(g, "<i4").tobytes())
    with open(os.path.join(out, "translate_ref.bin"), "wb") as f:
        f.write(b"".join(blob))
    gg = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "translate-en-es.gguf")
    if os.path.exists(gg):
        q = translate.Marian(c)
        q.load_state_dict({k: torch.from_numpy(v) for k, v in weights_from_gguf(gg, cfg).items()})
        q.eval()
        gq = write_mref(os.path.join(out, "translate_ref_q8_0.bin"), q, cases, c0)
        print("q8_0 reference written; greedy of case 0:", gq, "(f32 weights:", g, ")")
    with open(os.path.join(out, "translate_ref.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "models/translate-en-es.gguf (converted from this checkpoint's f16 weights)",
                   "note": "PyTorch f32 on CPU; source = [tag] + spm(text) + [</s>]; outputs without start/EOS; "
                           "beam4: length-normalized (sum logprob / length), max length 1.5*n_src+10",
                   "numpy_vs_pytorch_max_abs_logit_diff": maxdiff,
                   "sentences": rows}, f, ensure_ascii=False, indent=1)
    print("numpy float64 vs pytorch f32: max |logit diff| = %.3g" % maxdiff)
    for r in rows[:3] + rows[10:13]:
        print(r["direction"], "|", r["source"], "->", r["greedy"], "|", r["beam4"])


if __name__ == "__main__":
    main()
