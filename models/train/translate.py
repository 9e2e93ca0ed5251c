#!/usr/bin/env python3
"""Train atento's default English<->Spanish translation model (one Marian model,
target-language tag >>es<< / >>en<< prepended to the source) on Tatoeba.

One command, seeded (see models/translate-en-es.md for the exact commands):

    python3 models/train/translate.py --device cuda --out models/train/out/translate

It (1) splits the data by English sentence (common.load_split), (2) trains a
shared SentencePiece unigram vocabulary on the training split, (3) trains a
Transformer with exactly Hugging Face MarianMTModel's math and parameter names,
keeping the checkpoint with the best dev loss, (4) writes a Hugging Face Marian
directory (config.json, model.safetensors, source.spm, target.spm, vocab.json),
(5) translates the test split (greedy and beam 4) and scores it with sacrebleu.

Token convention (as HF MarianTokenizer does for multi-target OPUS-MT models):
source ids = [id(>>es<<)] + spm(text) + [</s>]; target ids = spm(text) + [</s>];
the decoder starts from <pad> (decoder_start_token_id = pad_token_id = 0).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PAD, EOS, UNK = 0, 1, 2
TAGS = (">>es<<", ">>en<<")


# ----------------------------------------------------------------------------
# Model: Hugging Face MarianMTModel math, HF state-dict names.

def sinusoids(n_pos, dim):
    """Marian/HF layout: column i = sin(pos / 10000^(2i/d)), column d/2+i = cos(...)."""
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    i = np.arange(dim // 2, dtype=np.float64)[None, :]
    ang = pos / np.power(10000.0, 2 * i / dim)
    out = np.zeros((n_pos, dim), dtype=np.float64)
    out[:, :dim // 2] = np.sin(ang)
    out[:, dim // 2:] = np.cos(ang)
    return torch.tensor(out, dtype=torch.float32)


class Attention(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.h = heads
        self.hd = d // heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.dropout = dropout

    def forward(self, x, kv, mask):
        """x (B,T,d), kv (B,S,d), mask: bool (B,1,T|1,S) True = attend, or None."""
        B, T, d = x.shape
        S = kv.shape[1]
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(kv).view(B, S, self.h, self.hd).transpose(1, 2)
        v = self.v_proj(kv).view(B, S, self.h, self.hd).transpose(1, 2)
        # scale 1/sqrt(head_dim) (HF applies it to q; same math)
        o = common.sdpa(q, k, v, mask,
                        dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(o.transpose(1, 2).reshape(B, T, d))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["encoder_attention_heads"], c["attention_dropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["encoder_ffn_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p, self.pa = c["dropout"], c["activation_dropout"]

    def forward(self, x, mask):
        x = self.self_attn_layer_norm(x + F.dropout(self.self_attn(x, x, mask), self.p, self.training))
        h = F.dropout(F.relu(self.fc1(x)), self.pa, self.training)
        return self.final_layer_norm(x + F.dropout(self.fc2(h), self.p, self.training))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["decoder_attention_heads"], c["attention_dropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = Attention(d, c["decoder_attention_heads"], c["attention_dropout"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["decoder_ffn_dim"])
        self.fc2 = nn.Linear(c["decoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p, self.pa = c["dropout"], c["activation_dropout"]

    def forward(self, x, enc, self_mask, enc_mask):
        x = self.self_attn_layer_norm(x + F.dropout(self.self_attn(x, x, self_mask), self.p, self.training))
        x = self.encoder_attn_layer_norm(x + F.dropout(self.encoder_attn(x, enc, enc_mask), self.p, self.training))
        h = F.dropout(F.relu(self.fc1(x)), self.pa, self.training)
        return self.final_layer_norm(x + F.dropout(self.fc2(h), self.p, self.training))


class Stack(nn.Module):
    def __init__(self, layers, c):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        # stored as in HF checkpoints (not trained)
        self.embed_positions = nn.Embedding(c["max_position_embeddings"], c["d_model"])
        self.embed_positions.weight.data.copy_(sinusoids(c["max_position_embeddings"], c["d_model"]))
        self.embed_positions.weight.requires_grad_(False)


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"], padding_idx=c["pad_token_id"])
        self.encoder = Stack([EncoderLayer(c) for _ in range(c["encoder_layers"])], c)
        self.decoder = Stack([DecoderLayer(c) for _ in range(c["decoder_layers"])], c)


class Marian(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.register_buffer("final_logits_bias", torch.zeros(1, c["vocab_size"]))
        self.scale = math.sqrt(c["d_model"])
        std = 0.02
        for n, p in self.named_parameters():
            if "embed_positions" in n:
                continue
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, std)
            elif n.endswith("bias"):
                nn.init.zeros_(p)
        # Embedding std: scaled by sqrt(d) on input, so keep it ~1/sqrt(d)
        nn.init.normal_(self.model.shared.weight, 0.0, self.c["d_model"] ** -0.5)
        with torch.no_grad():
            self.model.shared.weight[c["pad_token_id"]].zero_()

    def embed(self, ids, stack):
        T = ids.shape[1]
        x = self.model.shared(ids) * self.scale + stack.embed_positions.weight[:T][None]
        return F.dropout(x, self.c["dropout"], self.training)

    def encode(self, src):
        mask = (src != PAD)[:, None, None, :]
        x = self.embed(src, self.model.encoder)
        for l in self.model.encoder.layers:
            x = l(x, mask)
        return x, mask

    def decode(self, tgt_in, enc, enc_mask):
        T = tgt_in.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).tril()[None, None]
        x = self.embed(tgt_in, self.model.decoder)
        for l in self.model.decoder.layers:
            x = l(x, enc, causal, enc_mask)
        return F.linear(x, self.model.shared.weight) + self.final_logits_bias

    def forward(self, src, tgt_in):
        enc, m = self.encode(src)
        return self.decode(tgt_in, enc, m)

    def hf_state_dict(self):
        """HF Marian names. Tied: model.shared.weight == lm_head.weight ==
        encoder/decoder embed_tokens (written once, as HF does)."""
        sd = {k: v.detach().float().cpu() for k, v in self.state_dict().items()}
        return sd


# ----------------------------------------------------------------------------
# Decoding (no KV cache: the decoder is recomputed each step; fine on a GPU)

@torch.no_grad()
def translate_batch(model, src, beam=1, max_len_a=1.5, max_len_b=10):
    """src (B,S) padded with PAD. Returns list of id lists (without EOS).
    Beam search scores = sum log p / length (HF length_penalty=1.0)."""
    device = src.device
    B = src.shape[0]
    enc, m = model.encode(src)
    max_len = int((src != PAD).sum(1).max().item() * max_len_a + max_len_b)
    max_len = min(max_len, model.c["max_position_embeddings"] - 1)
    if beam == 1:
        ys = torch.full((B, 1), PAD, dtype=torch.long, device=device)
        done = torch.zeros(B, dtype=torch.bool, device=device)
        for _ in range(max_len):
            logits = model.decode(ys, enc, m)[:, -1].float()
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            ys = torch.cat([ys, nxt[:, None]], 1)
            done |= nxt == EOS
            if done.all():
                break
        out = []
        for row in ys[:, 1:].tolist():
            r = []
            for t in row:
                if t in (EOS, PAD):
                    break
                r.append(t)
            out.append(r)
        return out
    K = beam
    V = model.c["vocab_size"]
    enc = enc.repeat_interleave(K, 0)
    m = m.repeat_interleave(K, 0)
    ys = torch.full((B * K, 1), PAD, dtype=torch.long, device=device)
    scores = torch.zeros(B, K, device=device)
    scores[:, 1:] = -1e9  # only the first beam is live at the start
    finished = [[] for _ in range(B)]  # (norm score, ids)
    alive = [True] * B
    for step in range(max_len):
        logits = model.decode(ys, enc, m)[:, -1].float()
        lp = F.log_softmax(logits, -1)
        lp[:, PAD] = -1e9
        cand = (scores.view(B * K, 1) + lp).view(B, K * V)
        top_s, top_i = cand.topk(2 * K, dim=1)
        beam_idx = top_i // V
        tok = top_i % V
        top_s_l, beam_l, tok_l = top_s.tolist(), beam_idx.tolist(), tok.tolist()
        new_rows, new_scores = [], []
        ys_l = ys.tolist()
        for b in range(B):
            rows, sc = [], []
            if alive[b]:
                for s, bi, t in zip(top_s_l[b], beam_l[b], tok_l[b]):
                    prev = ys_l[b * K + bi]
                    if t == EOS:
                        L = len(prev)  # tokens generated incl. EOS = len(prev)-1+1
                        finished[b].append((s / L, prev[1:]))
                    else:
                        rows.append(prev + [t])
                        sc.append(s)
                    if len(rows) == K:
                        break
                # stop when K finished and best alive cannot beat them (HF early_stopping=False heuristic)
                if len(finished[b]) >= K:
                    best_done = max(f[0] for f in finished[b])
                    if not rows or sc[0] / (step + 2) < best_done:
                        alive[b] = False
            if not alive[b] or not rows:
                rows = [ys_l[b * K] + [PAD]] * K
                sc = [-1e9] * K
                alive[b] = False
            while len(rows) < K:
                rows.append(rows[-1])
                sc.append(-1e9)
            new_rows.extend(rows)
            new_scores.append(sc)
        ys = torch.tensor(new_rows, dtype=torch.long, device=device)
        scores = torch.tensor(new_scores, device=device)
        if not any(alive):
            break
    out = []
    ys_l = ys.tolist()
    for b in range(B):
        if not finished[b]:  # ran out of length: take the best alive hypothesis
            out.append([t for t in ys_l[b * K][1:] if t != PAD])
        else:
            out.append(max(finished[b], key=lambda f: f[0])[1])
    return out


def pad_batch(seqs, device):
    L = max(len(s) for s in seqs)
    a = np.full((len(seqs), L), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        a[i, :len(s)] = s
    return torch.from_numpy(a).to(device)


def translate_all(model, sp, sources, tag, device, beam, bs=128, amp=False):
    ids = [[sp.piece_to_id(tag)] + sp.encode(s) + [EOS] for s in sources]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = [None] * len(ids)
    for i in range(0, len(order), bs):
        chunk = order[i:i + bs]
        src = pad_batch([ids[j] for j in chunk], device)
        with common.autocast(amp):
            hyps = translate_batch(model, src, beam=beam)
        for j, h in zip(chunk, hyps):
            out[j] = sp.decode(h)
    return out


# ----------------------------------------------------------------------------

def train_spm(train_pairs, outdir, vocab, log):
    import sentencepiece as spm
    txt = os.path.join(outdir, "spm_train.txt")
    with open(txt, "w", encoding="utf-8") as f:
        for en, es in train_pairs:
            f.write(en + "\n" + es + "\n")
    prefix = os.path.join(outdir, "spm")
    spm.SentencePieceTrainer.train(
        input=txt, model_prefix=prefix, model_type="unigram", vocab_size=vocab,
        character_coverage=1.0, normalization_rule_name="nmt_nfkc",
        pad_id=PAD, eos_id=EOS, unk_id=UNK, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        user_defined_symbols=",".join(TAGS), input_sentence_size=1000000,
        shuffle_input_sentence=False, num_threads=4, seed_sentencepiece_size=1000000,
        minloglevel=2)
    os.remove(txt)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    log("spm: %d pieces; tags %s" % (sp.get_piece_size(), [sp.piece_to_id(t) for t in TAGS]))
    return sp, prefix + ".model"


def make_examples(pairs, sp):
    ens = sp.encode([p[0] for p in pairs])
    ess = sp.encode([p[1] for p in pairs])
    t_es, t_en = sp.piece_to_id(">>es<<"), sp.piece_to_id(">>en<<")
    ex = []
    for a, b in zip(ens, ess):
        ex.append(([t_es] + a + [EOS], b + [EOS]))
        ex.append(([t_en] + b + [EOS], a + [EOS]))
    return ex


def make_batches(ex, max_tokens, rng, max_len):
    ex = [e for e in ex if len(e[0]) <= max_len and len(e[1]) <= max_len]
    idx = list(range(len(ex)))
    rng.shuffle(idx)
    idx.sort(key=lambda i: (len(ex[i][1]), len(ex[i][0])))  # stable: random within equal lengths
    batches, cur, mx = [], [], 0
    for i in idx:
        L = max(len(ex[i][0]), len(ex[i][1]))
        if cur and max(mx, L) * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, mx = [], 0
        cur.append(i)
        mx = max(mx, L)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return ex, batches


def collate(ex, b, device):
    src = pad_batch([ex[i][0] for i in b], device)
    tgt = [ex[i][1] for i in b]
    tin = pad_batch([[PAD] + t[:-1] for t in tgt], device)
    tout = pad_batch(tgt, device)
    lens = torch.tensor([len(t) for t in tgt], device=device)
    ar = torch.arange(tout.shape[1], device=device)[None]
    tout = torch.where(ar < lens[:, None], tout, torch.full_like(tout, -100))
    return src, tin, tout


@torch.no_grad()
def dev_loss(model, ex, batches, device, amp):
    model.eval()
    tot, n = 0.0, 0
    for b in batches:
        src, tin, tout = collate(ex, b, device)
        with common.autocast(amp):
            logits = model(src, tin)
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), tout.view(-1), ignore_index=-100, reduction="sum")
        tot += loss.item()
        n += (tout != -100).sum().item()
    model.train()
    return tot / max(n, 1)


def hf_config(c):
    return {
        "architectures": ["MarianMTModel"], "model_type": "marian",
        "vocab_size": c["vocab_size"], "decoder_vocab_size": c["vocab_size"],
        "d_model": c["d_model"], "encoder_layers": c["encoder_layers"], "decoder_layers": c["decoder_layers"],
        "encoder_attention_heads": c["encoder_attention_heads"], "decoder_attention_heads": c["decoder_attention_heads"],
        "encoder_ffn_dim": c["encoder_ffn_dim"], "decoder_ffn_dim": c["decoder_ffn_dim"],
        "max_position_embeddings": c["max_position_embeddings"],
        "activation_function": "relu", "scale_embedding": True, "normalize_before": False,
        "normalize_embedding": False, "add_bias_logits": False, "static_position_embeddings": True,
        "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True,
        "pad_token_id": PAD, "eos_token_id": EOS, "decoder_start_token_id": PAD,
        "forced_eos_token_id": EOS, "bos_token_id": PAD,
        "dropout": c["dropout"], "attention_dropout": c["attention_dropout"],
        "activation_dropout": c["activation_dropout"], "init_std": 0.02,
        "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "is_encoder_decoder": True, "use_cache": True,
        "num_beams": 4, "max_length": 256, "bad_words_ids": [[PAD]], "num_hidden_layers": c["encoder_layers"],
        "torch_dtype": "float32",
        "atento": {"target_language_tags": {"es": ">>es<<", "en": ">>en<<"},
                   "source_format": "[tag] + spm(text) + [</s>]"},
    }


def write_hf_dir(model, sp, spm_path, outdir, dtype):
    import shutil
    os.makedirs(outdir, exist_ok=True)
    sd = model.hf_state_dict()
    arrs = {k: v.numpy().astype(dtype) for k, v in sd.items()}
    common.save_safetensors(os.path.join(outdir, "model.safetensors"), arrs, {"format": "pt"})
    cfg = hf_config(model.c)
    cfg["torch_dtype"] = "float16" if dtype == np.float16 else "float32"
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(spm_path, os.path.join(outdir, "source.spm"))
    shutil.copy(spm_path, os.path.join(outdir, "target.spm"))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    with open(os.path.join(outdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    with open(os.path.join(outdir, "tokenizer_config.json"), "w") as f:
        json.dump({"source_lang": "en", "target_lang": "es", "model_max_length": 256,
                   "tokenizer_class": "MarianTokenizer", "separate_vocabs": False}, f, indent=2)
    with open(os.path.join(outdir, "generation_config.json"), "w") as f:
        json.dump({"bad_words_ids": [[PAD]], "decoder_start_token_id": PAD, "eos_token_id": EOS,
                   "forced_eos_token_id": EOS, "max_length": 256, "num_beams": 4, "pad_token_id": PAD}, f, indent=2)


def evaluate(model, sp, test, device, amp, log, outdir, beams=(1, 4)):
    try:
        import sacrebleu
    except ImportError:
        sacrebleu = None
        log("sacrebleu not installed: writing hypotheses without scores")
    res = {}
    for direction, src_i, tgt_i, tag in (("en-es", 0, 1, ">>es<<"), ("es-en", 1, 0, ">>en<<")):
        srcs = [p[src_i] for p in test]
        refs = [p[tgt_i] for p in test]
        for beam in beams:
            t0 = time.time()
            hyps = translate_all(model, sp, srcs, tag, device, beam, amp=amp)
            dt = time.time() - t0
            name = "%s.beam%d" % (direction, beam)
            res[name] = {"n": len(hyps), "seconds": round(dt, 1)}
            if sacrebleu:
                bleu = sacrebleu.corpus_bleu(hyps, [refs])
                chrf = sacrebleu.corpus_chrf(hyps, [refs])
                res[name].update({"bleu": round(bleu.score, 2), "chrf": round(chrf.score / 100, 4),
                                  "bleu_str": str(bleu), "chrf_str": str(chrf)})
            log(name, res[name])
            with open(os.path.join(outdir, "test.%s.hyp" % name), "w", encoding="utf-8") as f:
                f.write("\n".join(hyps) + "\n")
        with open(os.path.join(outdir, "test.%s.ref" % direction), "w", encoding="utf-8") as f:
            f.write("\n".join(refs) + "\n")
        with open(os.path.join(outdir, "test.%s.src" % direction), "w", encoding="utf-8") as f:
            f.write("\n".join(srcs) + "\n")
    return res


def hf_check(model, hfdir, sp, test, device, log):
    """Load the written directory with Hugging Face transformers (if installed)
    and compare its logits and tokenization with ours: the checkpoint is a real
    MarianMTModel."""
    try:
        from transformers import MarianMTModel, MarianTokenizer
    except Exception as e:  # noqa: BLE001
        log("hf_check skipped:", repr(e)[:200])
        return None
    res = {}
    try:
        hf = MarianMTModel.from_pretrained(hfdir, torch_dtype=torch.float32).to(device).eval()
        srcs = [[sp.piece_to_id(">>es<<")] + sp.encode(p[0]) + [EOS] for p in test[:16]]
        tgts = [[PAD] + sp.encode(p[1]) for p in test[:16]]
        src, tin = pad_batch(srcs, device), pad_batch(tgts, device)
        with torch.no_grad():
            ours = model.float()(src, tin)
            theirs = hf(input_ids=src, attention_mask=(src != PAD).long(), decoder_input_ids=tin).logits
        valid = (tin != PAD)
        valid[:, 0] = True
        d = (ours - theirs).abs()[valid].max().item()
        res["hf_max_abs_logit_diff"] = d
        log("hf_check: MarianMTModel loads the directory; max |logit diff| vs ours = %.3g" % d)
        tok = MarianTokenizer.from_pretrained(hfdir)
        same = 0
        for p, ids in zip(test[:200], [[sp.piece_to_id(">>es<<")] + sp.encode(p[0]) + [EOS] for p in test[:200]]):
            same += tok(">>es<< " + p[0])["input_ids"] == ids
        res["hf_tokenizer_same_ids"] = "%d/200" % same
        log("hf_check: MarianTokenizer('>>es<< ' + text) ids equal ours for %d/200 sentences" % same)
        gen = hf.generate(src[:4], attention_mask=(src[:4] != PAD).long(), num_beams=4, max_new_tokens=40)
        res["hf_generate_examples"] = [sp.decode([t for t in g.tolist() if t > EOS]) for g in gen]
        log("hf_check generate:", res["hf_generate_examples"])
    except Exception as e:  # noqa: BLE001
        log("hf_check failed:", repr(e)[:500])
        res["hf_error"] = repr(e)[:500]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=os.path.join(common.HERE, "out", "translate"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--d-model", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--ffn", type=int, default=1536)
    ap.add_argument("--enc-layers", type=int, default=4)
    ap.add_argument("--dec-layers", type=int, default=3)
    ap.add_argument("--max-pos", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--attention-dropout", type=float, default=0.1)
    ap.add_argument("--activation-dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--max-tokens", type=int, default=12000, help="per batch (padded, max of src/tgt)")
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--train-seconds", type=float, default=480)
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--limit-train", type=int, default=0, help="use only N training pairs (smoke tests)")
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--save-dtype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args()

    log, device, amp = common.start_run(args)

    split = common.load_split(args.data)
    train = split["train"][:args.limit_train] if args.limit_train else split["train"]
    test = split["test"][:args.limit_test] if args.limit_test else split["test"]
    log("pairs: train %d dev %d test %d" % (len(train), len(split["dev"]), len(test)))
    sp, spm_path = train_spm(train, args.out, args.vocab, log)

    c = {"vocab_size": sp.get_piece_size(), "d_model": args.d_model,
         "encoder_layers": args.enc_layers, "decoder_layers": args.dec_layers,
         "encoder_attention_heads": args.heads, "decoder_attention_heads": args.heads,
         "encoder_ffn_dim": args.ffn, "decoder_ffn_dim": args.ffn,
         "max_position_embeddings": args.max_pos, "pad_token_id": PAD,
         "dropout": args.dropout, "attention_dropout": args.attention_dropout,
         "activation_dropout": args.activation_dropout}
    model = Marian(c).to(device)
    nparam = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad)
    log("model params (trainable): %d" % nparam)

    rng = random.Random(args.seed)
    train_ex = make_examples(train, sp)
    dev_ex = make_examples(split["dev"], sp)
    dev_ex, dev_batches = make_batches(dev_ex, args.max_tokens, random.Random(0), args.max_len)
    log("examples: train %d dev %d" % (len(train_ex), len(dev_ex)))

    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                           betas=(0.9, 0.98), eps=1e-9, **({"fused": True} if amp else {}))
    step, epoch = 0, 0
    best = (float("inf"), -1)
    best_path = os.path.join(args.out, "best.pt")
    t0 = time.time()
    stop = False
    ntok = 0
    while not stop:
        epoch += 1
        ex, batches = make_batches(train_ex, args.max_tokens, rng, args.max_len)
        for b in batches:
            src, tin, tout = collate(ex, b, device)
            for g in opt.param_groups:
                g["lr"] = common.inv_sqrt_lr(step + 1, args.lr, args.warmup)
            with common.autocast(amp):
                logits = model(src, tin)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), tout.view(-1),
                                   ignore_index=-100, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            ntok += int((tout != -100).sum())
            elapsed = time.time() - t0
            if step % args.eval_every == 0 or elapsed > args.train_seconds or step >= args.max_steps:
                dl = dev_loss(model, dev_ex, dev_batches, device, amp)
                log("step %d epoch %d loss %.3f dev_nll %.4f lr %.2e tgt_tok/s %.0f" % (
                    step, epoch, loss.item(), dl, opt.param_groups[0]["lr"], ntok / elapsed))
                if dl < best[0]:
                    best = (dl, step)
                    torch.save(model.state_dict(), best_path)
            if elapsed > args.train_seconds or step >= args.max_steps:
                stop = True
                break
    log("training done: %d steps, %d epochs, %.0fs; best dev_nll %.4f at step %d" % (
        step, epoch, time.time() - t0, best[0], best[1]))
    model.load_state_dict(torch.load(best_path, map_location=device))
    model.eval()
    hf = os.path.join(args.out, "marian")
    write_hf_dir(model, sp, spm_path, hf, np.float16 if args.save_dtype == "f16" else np.float32)
    info = {"params_trainable": nparam, "steps": step, "epochs": epoch, "best_step": best[1],
            "best_dev_nll": best[0], "train_pairs": len(train), "config": c}
    if not args.no_eval:
        info["test"] = evaluate(model, sp, test, device, amp, log, args.out)
        info["hf_check"] = hf_check(model, hf, sp, test, device, log)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(info, f, indent=2)
    log("wrote", hf)


if __name__ == "__main__":
    main()
