"""Shared helpers for atento's training scripts (translate.py, chat.py).

- load_split(): the deterministic train/dev/test split of the Tatoeba en-es
  pairs BY ENGLISH SENTENCE (all Spanish variants of an English sentence go to
  the same split).
- save_safetensors()/load_safetensors(): a minimal writer/reader of the
  safetensors format (8-byte little-endian header length, JSON header, raw
  little-endian data), so the scripts need no extra package.
- Timer/log helpers.
"""
import json
import os
import random
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPLIT_SEED = 20261123
N_DEV = 2000
N_TEST = 2000


def default_data_path():
    for p in (os.path.join(REPO, ".devdata", "en-es.tsv"),
              os.path.join(REPO, "..", "shared", "data", "tatoeba-en-es", "en-es.tsv"),
              "/work/shared/data/tatoeba-en-es/en-es.tsv"):
        if os.path.exists(p):
            return p
    return os.path.join(REPO, "..", "shared", "data", "tatoeba-en-es", "en-es.tsv")


def read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            en, es = parts[0].strip(), parts[1].strip()
            if en and es:
                pairs.append((en, es))
    return pairs


def load_split(path=None):
    """Returns dict split -> list of (en, es) pairs, in file order.
    The English sentences (unique, in order of first appearance) are shuffled
    with random.Random(SPLIT_SEED); the first N_TEST go to test, the next N_DEV
    to dev, the rest to train."""
    pairs = read_pairs(path or default_data_path())
    seen = {}
    for en, _ in pairs:
        if en not in seen:
            seen[en] = len(seen)
    order = list(seen)
    random.Random(SPLIT_SEED).shuffle(order)
    which = {}
    for i, en in enumerate(order):
        which[en] = "test" if i < N_TEST else ("dev" if i < N_TEST + N_DEV else "train")
    out = {"train": [], "dev": [], "test": []}
    for en, es in pairs:
        out[which[en]].append((en, es))
    return out


def write_split_files(split, outdir):
    os.makedirs(outdir, exist_ok=True)
    for name in ("dev", "test"):
        with open(os.path.join(outdir, name + ".tsv"), "w", encoding="utf-8") as f:
            for en, es in split[name]:
                f.write(en + "\t" + es + "\n")


_ST_DTYPES = {"float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32"}
_ST_NP = {v: k for k, v in _ST_DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (float32/float16/int)."""
    header = {}
    off = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        b = a.tobytes()
        header[name] = {"dtype": _ST_DTYPES[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + s:base + e], dtype=_ST_NP[info["dtype"]]).reshape(info["shape"]).copy()
    return out


class Log:
    def __init__(self, path=None):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.t0 = time.time()

    def __call__(self, *a):
        s = "[%7.1fs] " % (time.time() - self.t0) + " ".join(str(x) for x in a)
        print(s, flush=True)
        if self.f:
            self.f.write(s + "\n")
            self.f.flush()


def set_seed(seed):
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_run(args):
    """What every training script does first: the output folder, a log that
    records the arguments, the seed, the device, and whether to use bf16
    autocast + TF32 (on CUDA only). Returns (log, device, amp)."""
    import torch
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, "train.log"))
    log("args", vars(args))
    set_seed(args.seed)
    device = torch.device(args.device)
    amp = device.type == "cuda"
    if amp:
        torch.backends.cuda.matmul.allow_tf32 = True
    return log, device, amp


def autocast(enabled):
    """bf16 autocast on CUDA, nothing otherwise (old CPU torch builds choke on
    torch.autocast("cuda", enabled=False))."""
    import contextlib
    import torch
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16)


def sdpa(q, k, v, mask=None, dropout_p=0.0, is_causal=False):
    """softmax(q k^T / sqrt(head_dim) + mask) v; mask is boolean (True = attend).
    Uses torch's fused kernel where it exists (torch >= 2.0)."""
    import torch
    import torch.nn.functional as F
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
    s = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
    if is_causal:
        T, S = q.shape[-2], k.shape[-2]
        mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    p = torch.softmax(s.float(), -1).to(q.dtype)
    if dropout_p:
        p = F.dropout(p, dropout_p)
    return p @ v


def inv_sqrt_lr(step, peak, warmup):
    step = max(step, 1)
    return peak * min(step / warmup, (warmup / step) ** 0.5)


if __name__ == "__main__":
    # python3 models/train/common.py [DATA.tsv]: write models/train/split/{dev,test}.tsv
    sp = load_split(sys.argv[1] if len(sys.argv) > 1 else None)
    for k, v in sp.items():
        print(k, len(v), "pairs,", len({en for en, _ in v}), "English sentences")
    write_split_files(sp, os.path.join(HERE, "split"))
