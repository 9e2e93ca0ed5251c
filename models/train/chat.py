#!/usr/bin/env python3
"""Train atento's default chat model: a small Llama-architecture English/Spanish
tutor, on templated conversations built from the Tatoeba TRAINING split.

One command, seeded (see models/tutor-en-es.md for the exact commands):

    python3 models/train/chat.py --device cuda --out models/train/out/chat

Steps: (1) the split of common.load_split (by English sentence); (2) a
SentencePiece BPE tokenizer with byte fallback trained on rendered training
conversations (identity normalization, no dummy prefix, <|im_start|> and
<|im_end|> as user-defined pieces); (3) a Llama decoder (RMSNorm, SwiGLU,
RoPE rotating ADJACENT pairs (2i, 2i+1), i.e. GGUF/llama.cpp's layout, so no
permutation of q/k is needed; tied embeddings) trained on ChatML
conversations with the loss on the assistant replies; (4) held-out turns built
from test-split pairs whose English and Spanish never occur in training,
answered greedily; exact match and chrF of the quoted translation;
(5) export to GGUF (models/train/export_chat_gguf.py) and the same evaluation
of the dequantized Q8_0 weights.
"""
import argparse
import json
import math
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import chat_data  # noqa: E402

SPECIALS = ("<|im_start|>", "<|im_end|>")


# ----------------------------------------------------------------------------
# Model

def rope_tables(T, hd, base, device):
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float64, device=device) / hd)  # theta_i = base^(-2i/hd)
    ang = torch.arange(T, dtype=torch.float64, device=device)[:, None] * inv[None]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x (B,H,T,hd); rotates ADJACENT pairs (x[2i], x[2i+1]) by angle pos*theta_i
    (GGUF llama / llama.cpp rope mode 0)."""
    x0, x1 = x[..., 0::2].float(), x[..., 1::2].float()
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], -1).flatten(-2).to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight).to(x.dtype)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv = c["dim"], c["n_heads"], c["n_kv_heads"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.attn_norm = RMSNorm(d, c["norm_eps"])
        self.wq = nn.Linear(d, h * self.hd, bias=False)
        self.wk = nn.Linear(d, kv * self.hd, bias=False)
        self.wv = nn.Linear(d, kv * self.hd, bias=False)
        self.wo = nn.Linear(h * self.hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["norm_eps"])
        self.w_gate = nn.Linear(d, c["ffn"], bias=False)
        self.w_up = nn.Linear(d, c["ffn"], bias=False)
        self.w_down = nn.Linear(c["ffn"], d, bias=False)
        self.p = c["dropout"]

    def forward(self, x, cos, sin):
        B, T, d = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.kv != self.h:
            k = k.repeat_interleave(self.h // self.kv, 1)  # head j uses kv head j // (h/kv), as llama.cpp
            v = v.repeat_interleave(self.h // self.kv, 1)
        o = common.sdpa(q, k, v, None, self.p if self.training else 0.0, is_causal=True)
        x = x + F.dropout(self.wo(o.transpose(1, 2).reshape(B, T, -1)), self.p, self.training)
        h = self.ffn_norm(x)
        return x + F.dropout(self.w_down(F.silu(self.w_gate(h)) * self.w_up(h)), self.p, self.training)


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c["vocab"], c["dim"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["n_layers"])])
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if n.endswith("wo.weight") or n.endswith("w_down.weight"):
                    std = 0.02 / math.sqrt(2 * c["n_layers"])
                nn.init.normal_(p, 0.0, std)
        self._rope = None

    def rope(self, T, device):
        if self._rope is None or self._rope[0].shape[0] < T or self._rope[0].device != device:
            self._rope = rope_tables(max(T, 512), self.c["dim"] // self.c["n_heads"], self.c["rope_base"], device)
        return self._rope[0][:T], self._rope[1][:T]

    def forward(self, ids):
        cos, sin = self.rope(ids.shape[1], ids.device)
        x = F.dropout(self.tok(ids), self.c["dropout"], self.training)
        for b in self.blocks:
            x = b(x, cos, sin)
        return F.linear(self.norm(x), self.tok.weight)  # tied output

    def gguf_tensors(self):
        """name -> float32 numpy array, GGUF llama names, NumPy (out, in) shapes."""
        t = {"token_embd.weight": self.tok.weight, "output_norm.weight": self.norm.weight,
             "output.weight": self.tok.weight}
        for i, b in enumerate(self.blocks):
            p = "blk.%d." % i
            t.update({p + "attn_norm.weight": b.attn_norm.weight, p + "attn_q.weight": b.wq.weight,
                      p + "attn_k.weight": b.wk.weight, p + "attn_v.weight": b.wv.weight,
                      p + "attn_output.weight": b.wo.weight, p + "ffn_norm.weight": b.ffn_norm.weight,
                      p + "ffn_gate.weight": b.w_gate.weight, p + "ffn_up.weight": b.w_up.weight,
                      p + "ffn_down.weight": b.w_down.weight})
        return {k: v.detach().float().cpu().numpy() for k, v in t.items()}

    def load_gguf_tensors(self, t):
        with torch.no_grad():
            self.tok.weight.copy_(torch.from_numpy(t["token_embd.weight"]))
            self.norm.weight.copy_(torch.from_numpy(t["output_norm.weight"]))
            for i, b in enumerate(self.blocks):
                p = "blk.%d." % i
                for name, mod in (("attn_norm", b.attn_norm), ("attn_q", b.wq), ("attn_k", b.wk), ("attn_v", b.wv),
                                  ("attn_output", b.wo), ("ffn_norm", b.ffn_norm), ("ffn_gate", b.w_gate),
                                  ("ffn_up", b.w_up), ("ffn_down", b.w_down)):
                    mod.weight.copy_(torch.from_numpy(t[p + name + ".weight"]))
        if "output.weight" in t and not np.array_equal(t["output.weight"], t["token_embd.weight"]):
            raise ValueError("untied output.weight: this PyTorch model ties output and token_embd")


# ----------------------------------------------------------------------------
# Tokenizer and data

class Tok:
    def __init__(self, path):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.path = path
        self.im_start = self.sp.piece_to_id(SPECIALS[0])
        self.im_end = self.sp.piece_to_id(SPECIALS[1])
        self.nl = self.sp.encode("\n")

    def encode_conv(self, msgs, add_generation_prompt=False):
        """ChatML ids as the runtime tokenizes the rendered template (specials
        split out, every text fragment encoded on its own, no dummy prefix),
        and a mask: 1 on assistant content tokens and their <|im_end|>."""
        ids, mask = [], []
        for m in msgs:
            if m["role"] == "assistant":
                head = self.sp.encode("assistant\n")
                body = self.sp.encode(m["content"])
                ids += [self.im_start] + head + body + [self.im_end] + self.nl
                mask += [0] * (1 + len(head)) + [1] * (len(body) + 1) + [0] * len(self.nl)
            else:
                t = self.sp.encode(m["role"] + "\n" + m["content"])
                ids += [self.im_start] + t + [self.im_end] + self.nl
                mask += [0] * (len(t) + 2 + len(self.nl))
        if add_generation_prompt:
            head = [self.im_start] + self.sp.encode("assistant\n")
            ids += head
            mask += [0] * len(head)
        return ids, mask


def train_tokenizer(train_pairs, outdir, vocab, seed, log):
    import sentencepiece as spm
    rng = random.Random(seed + 7)
    txt = os.path.join(outdir, "chat_spm_train.txt")
    with open(txt, "w", encoding="utf-8") as f:
        for en, es in train_pairs:
            f.write(en + "\n" + es + "\n")
        for _ in range(20000):  # template text, role names
            for m in chat_data.conversation(rng, train_pairs):
                f.write(m["role"] + "\n" + m["content"] + "\n")
    prefix = os.path.join(outdir, "tokenizer")
    spm.SentencePieceTrainer.train(
        input=txt, model_prefix=prefix, model_type="bpe", vocab_size=vocab,
        character_coverage=0.9999, byte_fallback=True, normalization_rule_name="identity",
        add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        user_defined_symbols=",".join(SPECIALS), input_sentence_size=2000000,
        shuffle_input_sentence=False, num_threads=8, minloglevel=2)
    os.remove(txt)
    tok = Tok(prefix + ".model")
    log("tokenizer: %d pieces, im_start %d im_end %d, '\\n' -> %s" % (
        tok.sp.get_piece_size(), tok.im_start, tok.im_end, tok.nl))
    return tok


_W = {}


def _init_worker(tok_path, pairs):
    _W["tok"] = Tok(tok_path)
    _W["pairs"] = pairs


def _gen(args):
    seed, n, max_len = args
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ids, mask = _W["tok"].encode_conv(chat_data.conversation(rng, _W["pairs"]))
        if len(ids) <= max_len:
            out.append((np.array(ids, dtype=np.int16), np.array(mask, dtype=np.int8)))
    return out


def make_dataset(tok, pairs, n, seed, max_len, workers):
    chunk = 2000
    jobs = [(seed * 1000003 + i, min(chunk, n - i * chunk), max_len) for i in range((n + chunk - 1) // chunk)]
    if workers > 1:
        with Pool(workers, initializer=_init_worker, initargs=(tok.path, pairs)) as pool:
            parts = pool.map(_gen, jobs)
    else:
        _init_worker(tok.path, pairs)
        parts = [_gen(j) for j in jobs]
    return [x for p in parts for x in p]


def batches_of(data, max_tokens, rng):
    idx = list(range(len(data)))
    rng.shuffle(idx)
    out = []
    for s in range(0, len(idx), 4096):  # sort within windows to cut padding
        win = sorted(idx[s:s + 4096], key=lambda i: len(data[i][0]))
        cur, mx = [], 0
        for i in win:
            L = len(data[i][0])
            if cur and max(mx, L) * (len(cur) + 1) > max_tokens:
                out.append(cur)
                cur, mx = [], 0
            cur.append(i)
            mx = max(mx, L)
        if cur:
            out.append(cur)
    rng.shuffle(out)
    return out


def collate(data, b, device):
    L = max(len(data[i][0]) for i in b)
    x = np.zeros((len(b), L), dtype=np.int64)
    y = np.full((len(b), L), -100, dtype=np.int64)
    for r, i in enumerate(b):
        ids, m = data[i]
        n = len(ids)
        x[r, :n] = ids
        tgt = np.where(m[1:] == 1, ids[1:], -100)
        y[r, :n - 1] = tgt
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


# ----------------------------------------------------------------------------
# Evaluation

@torch.no_grad()
def generate(model, tok, prompts, device, amp, max_new=80, bs=256):
    """Greedy, no KV cache; prompts of equal length are batched together."""
    model.eval()
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    out = [None] * len(prompts)
    for L, idxs in sorted(by_len.items()):
        for s in range(0, len(idxs), bs):
            chunk = idxs[s:s + bs]
            x = torch.tensor([prompts[i] for i in chunk], dtype=torch.long, device=device)
            done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
            gen = []
            for _ in range(max_new):
                with common.autocast(amp):
                    logits = model(x)[:, -1].float()
                nxt = logits.argmax(-1)
                gen.append(nxt)
                done |= nxt == tok.im_end
                x = torch.cat([x, nxt[:, None]], 1)
                if done.all():
                    break
            g = torch.stack(gen, 1).tolist()
            for i, row in zip(chunk, g):
                if tok.im_end in row:
                    row = row[:row.index(tok.im_end)]
                out[i] = tok.sp.decode(row)
    return out


def evaluate(model, tok, tests, device, amp, log, tag, outdir, variants):
    try:
        import sacrebleu
    except ImportError:
        sacrebleu = None
    prompts = [tok.encode_conv(t["messages"], add_generation_prompt=True)[0] for t in tests]
    t0 = time.time()
    answers = generate(model, tok, prompts, device, amp)
    dt = time.time() - t0
    res = {}
    rows = []
    for d in ("en2es", "es2en", "all"):
        sel = [i for i, t in enumerate(tests) if d == "all" or t["direction"] == d]
        hyps = [chat_data.extract(answers[i]) for i in sel]
        refs = [tests[i]["reference"] for i in sel]
        exact = sum(h == r or h in variants.get((tests[i]["direction"], tests[i]["pair"]), ())
                    for h, r, i in zip(hyps, refs, sel))
        fmt = sum(answers[i] == tests[i]["answer"].replace(tests[i]["reference"], chat_data.extract(answers[i]))
                  for i in sel)
        r = {"n": len(sel), "exact_match": round(exact / max(len(sel), 1), 4),
             "answer_format_ok": round(fmt / max(len(sel), 1), 4)}
        if sacrebleu:
            r["chrf"] = round(sacrebleu.corpus_chrf(hyps, [refs]).score / 100, 4)
            r["bleu"] = round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)
        res[d] = r
        log("%s %s %s" % (tag, d, r))
    res["seconds"] = round(dt, 1)
    with open(os.path.join(outdir, "heldout.%s.jsonl" % tag), "w", encoding="utf-8") as f:
        for t, a in zip(tests, answers):
            f.write(json.dumps({"messages": t["messages"], "direction": t["direction"], "reference": t["reference"],
                                "expected": t["answer"], "answer": a}, ensure_ascii=False) + "\n")
    model.train()
    return res


def heldout(split, n_per_dir, seed):
    train_en = {en for en, _ in split["train"]}
    train_es = {es for _, es in split["train"]}
    pairs = [(en, es) for en, es in split["test"] if en not in train_en and es not in train_es]
    variants = {}
    for en, es in split["test"]:
        variants.setdefault(("en2es", (en, es)), set())
    es_of = {}
    en_of = {}
    for en, es in split["test"]:
        es_of.setdefault(en, set()).add(es)
        en_of.setdefault(es, set()).add(en)
    for en, es in pairs:  # any Spanish variant of the same English sentence counts as exact (and vice versa)
        variants[("en2es", (en, es))] = es_of[en]
        variants[("es2en", (en, es))] = en_of[es]
    tests = chat_data.test_prompts(random.Random(seed), pairs, n_per_dir)
    return tests, variants, len(pairs)


# ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=os.path.join(common.HERE, "out", "chat"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=6000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--max-tokens", type=int, default=32768)
    ap.add_argument("--max-len", type=int, default=384)
    ap.add_argument("--conversations", type=int, default=600000)
    ap.add_argument("--train-seconds", type=float, default=480)
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (schedule by steps, not time)")
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--test-per-dir", type=int, default=500)
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    log, device, amp = common.start_run(args)
    split = common.load_split(args.data)
    train = split["train"][:args.limit_train] if args.limit_train else split["train"]
    tok = train_tokenizer(train, args.out, args.vocab, args.seed, log)
    # the runtime's fragment-wise tokenization equals ours:
    s = "assistant\n" + 'In Spanish: "¿Dónde está?"'
    assert tok.sp.encode(s) == tok.sp.encode("assistant\n") + tok.sp.encode(s[len("assistant\n"):]), "split encode differs"

    t0 = time.time()
    data = make_dataset(tok, train, args.conversations, args.seed, args.max_len, args.workers)
    ntok = sum(len(d[0]) for d in data)
    log("conversations: %d (%d tokens, %.1f per conversation) in %.1fs" % (len(data), ntok, ntok / len(data), time.time() - t0))
    tests, variants, n_pairs = heldout(split, args.test_per_dir, args.seed + 100)
    log("held-out: %d test pairs with English and Spanish unseen in training; %d test turns" % (n_pairs, len(tests)))

    c = {"vocab": tok.sp.get_piece_size(), "dim": args.dim, "n_layers": args.layers, "n_heads": args.heads,
         "n_kv_heads": args.kv_heads, "ffn": args.ffn, "norm_eps": 1e-5, "rope_base": 10000.0,
         "dropout": args.dropout, "context_length": 512}
    model = Llama(c).to(device)
    nparam = sum(p.numel() for p in model.parameters())
    log("model params: %d (tied embeddings)" % nparam)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95),
                            eps=1e-8, **({"fused": True} if amp else {}))
    rng = random.Random(args.seed)
    step, epoch, seen = 0, 0, 0
    t0 = time.time()
    model.train()
    done = False
    while not done:
        epoch += 1
        for b in batches_of(data, args.max_tokens, rng):
            progress = step / args.steps if args.steps else (time.time() - t0) / args.train_seconds
            if progress >= 1.0:
                done = True
                break
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (
                args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = collate(data, b, device)
            with common.autocast(amp):
                logits = model(x)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            seen += x.numel()
            if step % 200 == 0:
                log("step %d epoch %d loss %.4f lr %.2e tok/s %.0f" % (step, epoch, loss.item(), lr,
                                                                     seen / (time.time() - t0)))
    log("training done: %d steps, %.2f epochs over %d conversations, %.0fs" % (
        step, epoch, len(data), time.time() - t0))
    ck = os.path.join(args.out, "chat.pt")
    torch.save({"config": c, "state_dict": model.state_dict(), "tokenizer": tok.path}, ck)
    info = {"params": nparam, "steps": step, "config": c, "conversations": len(data),
            "heldout_pairs": n_pairs, "heldout_turns": len(tests)}
    info["heldout_pytorch"] = evaluate(model, tok, tests, device, amp, log, "pytorch", args.out, variants)
    if not args.no_export:
        import export_chat_gguf
        gg = os.path.join(args.out, "tutor-en-es.q8_0.gguf")
        export_chat_gguf.export(model, tok, gg, "q8_0", log)
        q = Llama(c).to(device)
        q.load_gguf_tensors(export_chat_gguf.read_back(gg))
        info["heldout_q8_0"] = evaluate(q, tok, tests, device, amp, log, "q8_0", args.out, variants)
        info["gguf_bytes"] = os.path.getsize(gg)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(info, f, indent=2)
    log("done")


if __name__ == "__main__":
    main()
