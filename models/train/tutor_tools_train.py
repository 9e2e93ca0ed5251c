#!/usr/bin/env python3
"""Fine-tune the shipped tutor (models/tutor-en-es.gguf) to call the built-in
`translate` and `lookup` tools (TOOLS-CONTRACT.md), on CPU, in one command:

    /usr/bin/python3 models/train/tutor_tools_train.py --out models/train/out/tutor --train-seconds 3900
    /usr/bin/python3 models/train/tutor_tools_train.py --export CHECKPOINT.pt OUT.gguf   # a checkpoint as GGUF

Steps: (1) the tokenizer rebuilt from the GGUF's own pieces (gguf_spm.py), so
the ids are the ones the model was trained with (checked against the GGUF's
vocabulary); (2) the weights read back from the GGUF (q8_0, dequantized);
(3) seeded conversations from tool_data.py (dictionary headwords, Tatoeba
training-split pairs; the held-out everyday set excluded), tokenized as the
runtime tokenizes the tutor's chat template, loss on the assistant turns only;
(4) AdamW on the upper blocks (the embeddings and the lower --frozen-layers
blocks stay as shipped and run without gradients, which roughly halves the
step time), cosine schedule over a time budget or a step count; checkpoints
while training; (5) export to q8_0 GGUF with the new chat template and the
atento.tools key.
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import chat  # noqa: E402
import common  # noqa: E402
import export_chat_gguf  # noqa: E402
import gguf_spm  # noqa: E402
import tool_data  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
EVAL = os.path.join(HERE, "tutor_eval", "everyday.tsv")
DESCRIPTION = ("Small English/Spanish tutor chat model trained by atento on conversations built from Tatoeba "
               "(tatoeba.org, www.manythings.org/anki; CC BY 2.0) and fine-tuned to call the translate and lookup "
               "tools on conversations built from Tatoeba and the FreeDict English-Spanish dictionaries (GPL-2+).")
LICENSE = ("CC-BY-2.0 AND GPL-2.0-or-later (training data: tatoeba.org and www.manythings.org/anki, CC BY 2.0; "
           "FreeDict eng-spa and spa-eng dictionaries, GPL-2+)")


def forward(model, ids, n_frozen, targets):
    """chat.Llama.forward with the embeddings and the first n_frozen blocks
    computed without gradients, and the output layer only at the positions
    that have a target (the assistant turns): -> (logits, their targets)."""
    cos, sin = model.rope(ids.shape[1], ids.device)
    with torch.no_grad():
        x = model.tok(ids)
        for b in model.blocks[:n_frozen]:
            x = b(x, cos, sin)
    for b in model.blocks[n_frozen:]:
        x = b(x, cos, sin)
    sel = targets != -100
    return F.linear(model.norm(x[sel]), model.tok.weight), targets[sel], sel


def load_model(gguf_path, dropout):
    t = export_chat_gguf.read_back(gguf_path)
    r = export_chat_gguf.gguf.GGUFReader(gguf_path)
    kv = r.kv
    c = {"vocab": int(kv["llama.vocab_size"]), "dim": int(kv["llama.embedding_length"]),
         "n_layers": int(kv["llama.block_count"]), "n_heads": int(kv["llama.attention.head_count"]),
         "n_kv_heads": int(kv["llama.attention.head_count_kv"]), "ffn": int(kv["llama.feed_forward_length"]),
         "norm_eps": float(kv["llama.attention.layer_norm_rms_epsilon"]), "rope_base": float(kv["llama.rope.freq_base"]),
         "dropout": dropout, "context_length": int(kv["llama.context_length"])}
    m = chat.Llama(c)
    m.load_gguf_tensors(t)
    return m, list(kv["tokenizer.ggml.tokens"])


def export(model, tok, path, log=print):
    export_chat_gguf.export(model, tok, path, "q8_0", log, template=tool_data.TEMPLATE, tools=tool_data.TOOLS,
                            description=DESCRIPTION, license=LICENSE)


def export_checkpoint(ck_path, out_path):
    ck = torch.load(ck_path, map_location="cpu")
    m = chat.Llama(ck["config"])
    m.load_state_dict(ck["state_dict"])
    export(m, chat.Tok(ck["tokenizer"]), out_path)
    print("step", ck.get("step"))


def copy_weights(tok, msgs, ids, mask, w):
    """Loss weight w (instead of 1) on the assistant tokens that copy text:
    a piece of two or more characters found in the user message or tool
    result just before (the tool's argument, the result in the answer) --
    the hard part of this task for a model trained to translate."""
    out = np.ones(len(ids), dtype=np.float32)
    if w == 1:
        return out
    # the assistant turns in order, each with the text it may copy from
    sources, last = [], ""
    for m in msgs:
        if m["role"] in ("user", "tool"):
            last = m["content"]
        elif m["role"] == "assistant":
            sources.append(last)
    k, turn = 0, -1
    while k < len(ids):
        if mask[k] == 1:
            turn += 1
            src = sources[turn] if turn < len(sources) else ""
            while k < len(ids) and mask[k] == 1:
                piece = tok.sp.id_to_piece(int(ids[k])).replace("\u2581", " ").strip()
                if len(piece) >= 2 and piece in src:
                    out[k] = w
                k += 1
        else:
            k += 1
    return out


def make_data(tok, src, n, seed, max_len, copy_weight=1.0):
    rng = random.Random(seed)
    data, convs = [], []
    while len(data) < n:
        c = tool_data.sample(rng, src)
        ids, mask = tok.encode_conv(c)
        if len(ids) <= max_len:
            data.append((np.array(ids, dtype=np.int16), np.array(mask, dtype=np.int8),
                         copy_weights(tok, c, ids, mask, copy_weight)))
            convs.append(c)
    return data, convs


def collate_weights(data, b):
    L = max(len(data[i][0]) for i in b)
    w = np.zeros((len(b), L), dtype=np.float32)
    for r, i in enumerate(b):
        n = len(data[i][2])
        w[r, :n - 1] = data[i][2][1:]  # the weight of the token each position predicts
    return torch.from_numpy(w)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--export":  # --export CHECKPOINT.pt OUT.gguf
        return export_checkpoint(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=os.path.join(REPO, "models", "tutor-en-es.gguf"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "tutor"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--conversations", type=int, default=8000)
    ap.add_argument("--max-len", type=int, default=320)
    ap.add_argument("--max-tokens", type=int, default=1536, help="padded tokens per batch")
    ap.add_argument("--frozen-layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--train-seconds", type=float, default=3900)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--checkpoint-seconds", type=float, default=300)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--init", default=None, help="start from this checkpoint (chat.pt) instead of the base GGUF's weights")
    ap.add_argument("--copy-weight", type=float, default=1.0, help="loss weight of the assistant tokens that copy text")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train.log"), "a", encoding="utf-8")

    def log(s):
        line = "[%s] %s" % (time.strftime("%H:%M:%S"), s)
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    log("args: %s" % vars(args))
    tok_path = gguf_spm.convert(args.base, os.path.join(args.out, "tokenizer.model"))
    tok = chat.Tok(tok_path)
    model, vocab = load_model(args.base, args.dropout)
    assert tok.sp.get_piece_size() == len(vocab) and all(tok.sp.id_to_piece(i) == p for i, p in enumerate(vocab)), \
        "tokenizer ids differ from the GGUF's"
    split = common.load_split()
    ev = tool_data.read_eval(EVAL)
    src = tool_data.Sources(split["train"], exclude=[i for _, i, _ in ev] + [a for _, _, acc in ev for a in acc])
    t0 = time.time()
    data, _ = make_data(tok, src, args.conversations, args.seed, args.max_len, args.copy_weight)
    log("copy-weighted tokens: %d" % sum(int((d[2] != 1).sum()) for d in data))
    if args.init:
        ck0 = torch.load(args.init, map_location="cpu")
        model.load_state_dict(ck0["state_dict"])
        log("weights from %s (step %s)" % (args.init, ck0.get("step")))
    ntok = sum(len(d[0]) for d in data)
    nloss = sum(int(d[1].sum()) for d in data)
    log("conversations: %d (%d tokens, %.1f per conversation, %d in the loss) in %.1fs" % (
        len(data), ntok, ntok / len(data), nloss, time.time() - t0))

    for p in model.tok.parameters():
        p.requires_grad_(False)
    for b in model.blocks[:args.frozen_layers]:
        for p in b.parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    log("trainable params: %d of %d (embeddings and blocks 0-%d frozen)" % (
        sum(p.numel() for p in params), sum(p.numel() for p in model.parameters()), args.frozen_layers - 1))
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() == 2], "weight_decay": args.weight_decay},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    pairs = [(d[0], d[1]) for d in data]  # what chat.collate reads
    rng = random.Random(args.seed)
    step, epoch, seen, lsum, ln = 0, 0, 0, 0.0, 0
    t0 = last_ck = time.time()
    cpu0 = time.process_time()
    model.train()
    ck = os.path.join(args.out, "chat.pt")
    done = False
    while not done:
        epoch += 1
        for b in chat.batches_of(data, args.max_tokens, rng):
            progress = step / args.steps if args.steps else (time.time() - t0) / args.train_seconds
            if progress >= 1.0:
                done = True
                break
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (
                args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = chat.collate(pairs, b, "cpu")
            logits, tgt, sel = forward(model, x, args.frozen_layers, y)
            w = collate_weights(data, b)[sel]
            loss = (F.cross_entropy(logits, tgt, reduction="none") * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            seen += x.numel()
            lsum += loss.item()
            ln += 1
            if step % 10 == 0:
                el = time.time() - t0
                log("step %d epoch %d loss %.4f lr %.2e  %.0f padded tok/s wall, %.0f per CPU-second" % (
                    step, epoch, lsum / ln, lr, seen / el, seen / max(time.process_time() - cpu0, 1e-9)))
                lsum, ln = 0.0, 0
            if time.time() - last_ck > args.checkpoint_seconds:
                torch.save({"config": model.c, "state_dict": model.state_dict(), "tokenizer": tok.path, "step": step}, ck)
                last_ck = time.time()
    log("training done: %d steps, %d padded tokens, epoch %d, %.0fs wall, %.0f CPU-seconds" % (
        step, seen, epoch, time.time() - t0, time.process_time() - cpu0))
    torch.save({"config": model.c, "state_dict": model.state_dict(), "tokenizer": tok.path, "step": step}, ck)
    if not args.no_export:
        gg = os.path.join(args.out, "tutor-en-es.q8_0.gguf")
        export(model, tok, gg, log)
    log("done")


if __name__ == "__main__":
    main()
