#!/usr/bin/env python3
"""translate_finetune.py — fine-tune the shipped translation model (from its
GGUF weights) on Tatoeba plus the data of translate_data.py, on CPU or GPU.

    /usr/bin/python3 models/train/translate_data.py
    /usr/bin/python3 models/train/translate_finetune.py --init models/translate-en-es.gguf \\
        --data models/train/out/mt/data --out models/train/out/mt/ft --train-seconds 4200 --threads 2
    node bin/atento.js convert marian models/train/out/mt/ft/marian -o models/translate-en-es.gguf --type q8_0

The GGUF's q8_0 matrices are dequantized to f32 (gguf.py) and loaded into
translate.py's Marian; its vocabulary is rebuilt as a SentencePiece model
(spm_from_gguf.py), so the ids do not change. Each "round" draws a fresh mixture
(by examples): Tatoeba training pairs (both directions) --mix-tatoeba, dictionary
entries --mix-dict, short unpunctuated phrases --mix-phrases, synthetic
multi-sentence/list lines --mix-multi; batches are grouped by length as in
translate.py. The learning rate warms up over --warmup steps to --lr and decays
linearly with elapsed time to 10 % at --train-seconds, so a time budget gives a
complete schedule. A checkpoint (ckpt.pt: model, optimizer, step, seconds) is
written every --ckpt-seconds and training resumes from it (--resume). At the end
the Hugging Face Marian directory is written to OUT/marian.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import common  # noqa: E402
import gguf  # noqa: E402
import spm_from_gguf  # noqa: E402
import translate  # noqa: E402

# GGUF tensor name -> translate.py (Hugging Face) parameter name, per layer
_ATTN = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "out_proj"}


def gguf_to_hf_names(n_enc, n_dec):
    m = {"token_embd.weight": "model.shared.weight", "output.bias": "final_logits_bias"}
    for side, n, g in (("encoder", n_enc, "enc"), ("decoder", n_dec, "dec")):
        for i in range(n):
            p, q = "model.%s.layers.%d." % (side, i), "%s.blk.%d." % (g, i)
            for wb in ("weight", "bias"):
                for a, b in _ATTN.items():
                    m[q + "attn_%s.%s" % (a, wb)] = p + "self_attn.%s.%s" % (b, wb)
                    if side == "decoder":
                        m[q + "cross_%s.%s" % (a, wb)] = p + "encoder_attn.%s.%s" % (b, wb)
                m[q + "attn_norm." + wb] = p + "self_attn_layer_norm." + wb
                if side == "decoder":
                    m[q + "cross_norm." + wb] = p + "encoder_attn_layer_norm." + wb
                m[q + "ffn_up." + wb] = p + "fc1." + wb
                m[q + "ffn_down." + wb] = p + "fc2." + wb
                m[q + "ffn_norm." + wb] = p + "final_layer_norm." + wb
    return m


def load_gguf_model(path, dropout):
    r = gguf.GGUFReader(path)
    kv = r.kv
    c = {"vocab_size": len(kv["tokenizer.ggml.tokens"]), "d_model": int(kv["marian.embedding_length"]),
         "encoder_layers": int(kv["marian.encoder.block_count"]), "decoder_layers": int(kv["marian.decoder.block_count"]),
         "encoder_attention_heads": int(kv["marian.attention.head_count"]),
         "decoder_attention_heads": int(kv["marian.attention.head_count"]),
         "encoder_ffn_dim": int(kv["marian.feed_forward_length"]), "decoder_ffn_dim": int(kv["marian.feed_forward_length"]),
         "max_position_embeddings": int(kv["marian.context_length"]), "pad_token_id": translate.PAD,
         "dropout": dropout, "attention_dropout": dropout / 2, "activation_dropout": dropout / 2}
    model = translate.Marian(c)
    sd = model.state_dict()
    names = gguf_to_hf_names(c["encoder_layers"], c["decoder_layers"])
    loaded = set()
    for gname, hname in names.items():
        a = torch.from_numpy(np.ascontiguousarray(r.tensor(gname), dtype=np.float32))
        if hname == "final_logits_bias":
            a = a.view(1, -1)
        assert sd[hname].shape == a.shape, (gname, hname, a.shape, sd[hname].shape)
        sd[hname].copy_(a)
        loaded.add(hname)
    missing = [k for k in sd if k not in loaded and "embed_positions" not in k]
    assert not missing, missing
    return model, c


def read_tsv(path, sp):
    t_es, t_en = sp.piece_to_id(">>es<<"), sp.piece_to_id(">>en<<")
    rows = [l.rstrip("\n").split("\t") for l in open(path, encoding="utf-8")]
    srcs = sp.encode([r[1] for r in rows])
    tgts = sp.encode([r[2] for r in rows])
    return [([t_es if r[0] == "es" else t_en] + s + [translate.EOS], t + [translate.EOS])
            for r, s, t in zip(rows, srcs, tgts)]


def draw(pools, mix, n, rng):
    out = []
    for name, frac in mix.items():
        pool = pools[name]
        k = int(round(n * frac))
        out.extend(rng.sample(pool, k) if k <= len(pool) else [rng.choice(pool) for _ in range(k)])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default=os.path.join(common.REPO, "models", "translate-en-es.gguf"))
    ap.add_argument("--data", default=os.path.join(HERE, "out", "mt", "data"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "mt", "ft"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--max-tokens", type=int, default=3000)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--round", type=int, default=20000, help="examples drawn per round")
    ap.add_argument("--mix-tatoeba", type=float, default=0.55)
    ap.add_argument("--mix-dict", type=float, default=0.15)
    ap.add_argument("--mix-phrases", type=float, default=0.12)
    ap.add_argument("--mix-multi", type=float, default=0.18)
    ap.add_argument("--train-seconds", type=float, default=4200)
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--ckpt-seconds", type=float, default=600)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-dev", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="write OUT/marian from OUT/ckpt.pt and stop")
    ap.add_argument("--log-every", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log, device, amp = common.start_run(args)
    import sentencepiece as spm

    # the vocabulary of the GGUF as a .model file (the template gives the trainer/normalizer spec)
    spm_path = os.path.join(args.out, "spm.model")
    tmpl = os.path.join(args.out, "template")
    if not os.path.exists(spm_path):
        split = common.load_split()
        _, tpath = translate.train_spm(split["train"][:20000], _mk(tmpl), 2000, log)
        spm_from_gguf.main(args.init, tpath, spm_path)
    sp = spm.SentencePieceProcessor(model_file=spm_path)

    model, c = load_gguf_model(args.init, args.dropout)
    model.to(device)
    ckpt = os.path.join(args.out, "ckpt.pt")
    if args.export_only:
        st = torch.load(ckpt, map_location=device)
        model.load_state_dict(st["model"])
        model.eval()
        translate.write_hf_dir(model, sp, spm_path, os.path.join(args.out, "marian"), np.float32)
        log("wrote %s from the checkpoint of step %d (%.0fs)" % (os.path.join(args.out, "marian"), st["step"], st["seconds"]))
        return
    split = common.load_split()
    pools = {"tatoeba": translate.make_examples(split["train"], sp),
             "dict": read_tsv(os.path.join(args.data, "dict.tsv"), sp),
             "phrases": read_tsv(os.path.join(args.data, "phrases.tsv"), sp),
             "multi": read_tsv(os.path.join(args.data, "multi.tsv"), sp)}
    mix = {"tatoeba": args.mix_tatoeba, "dict": args.mix_dict, "phrases": args.mix_phrases, "multi": args.mix_multi}
    log("pools:", {k: len(v) for k, v in pools.items()}, "mix:", mix)
    dev_ex = translate.make_examples(split["dev"][:600], sp)
    dev_ex, dev_batches = translate.make_batches(dev_ex, args.max_tokens, random.Random(0), args.max_len)

    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    step, spent, rnd = 0, 0.0, 0
    if args.resume and os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=device)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, spent, rnd = st["step"], st["seconds"], st["round"]
        log("resumed at step %d, %.0fs" % (step, spent))
    if not args.no_dev:
        log("dev_nll (600 dev pairs, both directions) at start: %.4f" % translate.dev_loss(model, dev_ex, dev_batches, device, False))
    rng = random.Random(args.seed * 1000 + rnd)
    t0 = time.time() - spent
    last_ckpt = time.time()
    ntok, tstart = 0, time.time()
    stop = False

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "seconds": time.time() - t0, "round": rnd}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    while not stop:
        rnd += 1
        ex, batches = translate.make_batches(draw(pools, mix, args.round, rng), args.max_tokens, rng, args.max_len)
        for b in batches:
            src, tin, tout = translate.collate(ex, b, device)
            elapsed = time.time() - t0
            frac = min(elapsed / args.train_seconds, 1.0)
            lr = args.lr * min((step + 1) / args.warmup, 1.0) * (1.0 - 0.9 * frac)
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(src, tin)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), tout.view(-1),
                                   ignore_index=-100, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            ntok += int((tout != -100).sum())
            if step % args.log_every == 0:
                log("step %d round %d loss %.3f lr %.2e tgt_tok/s %.0f elapsed %.0fs" % (
                    step, rnd, loss.item(), lr, ntok / (time.time() - tstart), elapsed))
            if time.time() - last_ckpt > args.ckpt_seconds:
                save()
                last_ckpt = time.time()
                if not args.no_dev:
                    log("step %d dev_nll %.4f" % (step, translate.dev_loss(model, dev_ex, dev_batches, device, False)))
            if elapsed > args.train_seconds or step >= args.max_steps:
                stop = True
                break
    save()
    log("training done: %d steps, %.0fs, %d target tokens this run" % (step, time.time() - t0, ntok))
    if not args.no_dev:
        log("final dev_nll %.4f" % translate.dev_loss(model, dev_ex, dev_batches, device, False))
    model.eval()
    translate.write_hf_dir(model, sp, spm_path, os.path.join(args.out, "marian"), np.float32)
    log("wrote", os.path.join(args.out, "marian"))


def _mk(d):
    os.makedirs(d, exist_ok=True)
    return d


if __name__ == "__main__":
    main()
