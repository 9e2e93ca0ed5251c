#!/usr/bin/env python3
"""report.py — results of bench/run.sh as a Markdown table, with the checks.

    report.py --wrap ENGINE TYPE OUT_FILE RSS_FILE   one JSON line from a bench run
    report.py RESULTS.jsonl [--kv-bytes 4] [--shape NAME]   the table and the checks

A bench run's output is either one JSON line (js/cli/bench.js --json,
bench/model_bench) or text lines like "prefill: 123.4 tokens/s" and
"decode: 56.7 tokens/s"; the process peak RSS comes from /usr/bin/time.
"""
import json
import re
import sys

# The shapes of bench/make_bench_models.py: layers, KV width (kv heads x 64).
SHAPES = {"smollm2-135m": (30, 3 * 64), "qwen2.5-0.5b": (24, 2 * 64), "llama3.2-1b": (16, 8 * 64)}
N_LAYER, N_KV_DIM = SHAPES["smollm2-135m"]
# llama.cpp's WebAssembly build (@wllama/wllama 3.8.1, headless Chromium, one
# thread) on this machine, from issue 2: tokens/s (prefill of 128, decode).
WLLAMA = {"q8_0": (21.0, 12.9), "q4_0": (11.0, 7.2)}
WLLAMA_2T_Q8 = (37.0, 19.0)


def parse_run(engine, ttype, out_path, rss_path):
    text = open(out_path).read()
    rec = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                pass
    if rec is None:
        rec = {}
        low = text.lower()
        for key, pat in (("prefill_tokens_per_s", r"prefill[^\n]*?([0-9.]+)\s*(?:tokens|tok)/s"),
                         ("decode_tokens_per_s", r"decode[^\n]*?([0-9.]+)\s*(?:tokens|tok)/s"),
                         ("load_ms", r"load[^\n]*?([0-9.]+)\s*ms")):
            m = re.search(pat, low)
            if m:
                rec[key] = float(m.group(1))
        m = re.search(r"kv[^\n]*?([0-9.]+)\s*mib", low)
        if m:
            rec["kv_bytes_reported"] = float(m.group(1)) * 2**20
    rec["engine"] = engine
    rec["type"] = ttype
    try:
        rec["process_peak_rss_bytes"] = int(open(rss_path).read().split()[-1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rec


def mb(x):
    return "%.1f" % (x / 1e6) if x is not None else "—"


def fmt(x, nd=1):
    return ("%." + str(nd) + "f") % x if x is not None else "—"


def report(path, kv_bytes=4):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    node_base = next((r["peak_rss_bytes"] for r in recs if r["engine"] == "node-baseline"), None)
    best = {}
    for r in recs:
        if r["engine"] == "node-baseline":
            continue
        k = (r["engine"], r["type"])
        b = best.setdefault(k, {"runs": 0})
        b["runs"] += 1
        for key in ("prefill_tokens_per_s", "decode_tokens_per_s", "prefill_cpu_tokens_per_s", "decode_cpu_tokens_per_s"):
            if r.get(key) is not None:
                b[key] = max(b.get(key, 0), r[key])
        for key in ("process_peak_rss_bytes", "wasm_memory_bytes", "peak_rss_bytes", "model_bytes",
                    "heap_load_extra_bytes", "heap_session_bytes", "heap_after_eval_bytes", "prompt_tokens",
                    "gen_tokens"):
            if r.get(key) is not None:
                b[key] = max(b.get(key, 0), r[key])
        for key in ("load_ms",):
            if r.get(key) is not None:
                b[key] = min(b.get(key, 1e30), r[key])
    types = []
    for (_, t) in best:
        if t not in types:
            types.append(t)
    engines = ("native", "model_bench", "wasm", "wasm_wasi")
    print("Wall clock (best run) and, where measured, process CPU time (`cpu`). Ratios: WASM engines to wllama's")
    print("single-thread WASM; WASM/native decode: wasm to native (wall), wasm_wasi to model_bench (CPU).")
    print()
    print("| type | engine | prefill tok/s | decode tok/s | prefill tok/s (cpu) | decode tok/s (cpu) | wllama 1T prefill / decode | prefill ratio (≥ 2) | decode ratio (≥ 1.3) | WASM/native decode (≥ 0.6) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in types:
        for eng in engines:
            b = best.get((eng, t))
            if not b:
                continue
            wl = WLLAMA.get(t)
            pf, dc = b.get("prefill_tokens_per_s"), b.get("decode_tokens_per_s")
            cpf, cdc = b.get("prefill_cpu_tokens_per_s"), b.get("decode_cpu_tokens_per_s")
            is_wasm = eng.startswith("wasm")
            bp, bd = (cpf or pf), (cdc or dc)
            r_pf = bp / wl[0] if wl and bp else None
            r_dc = bd / wl[1] if wl and bd else None
            wn = None
            if eng == "wasm":
                nat = best.get(("native", t)) or best.get(("model_bench", t))
                if nat and dc and nat.get("decode_tokens_per_s"):
                    wn = dc / nat["decode_tokens_per_s"]
            elif eng == "wasm_wasi":
                nat = best.get(("model_bench", t))
                if nat and cdc and nat.get("decode_cpu_tokens_per_s"):
                    wn = cdc / nat["decode_cpu_tokens_per_s"]
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                t, eng, fmt(pf), fmt(dc), fmt(cpf), fmt(cdc), "%g / %g" % wl if wl else "—",
                (fmt(r_pf, 2) if is_wasm else "(%s)" % fmt(r_pf, 2)) if r_pf else "—",
                (fmt(r_dc, 2) if is_wasm else "(%s)" % fmt(r_dc, 2)) if r_dc else "—",
                fmt(wn, 2) if wn else "—"))
    print()
    print("Memory (MB = 10^6 bytes). Budget = (model file + KV cache) x 1.15; KV cache = 2 x %d layers x n_ctx x %d x %d bytes."
          % (N_LAYER, N_KV_DIM, kv_bytes))
    print()
    print("| type | engine | file | KV cache | budget | process peak RSS | wasm memory | heap: load beyond file | heap: session | within budget |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in types:
        for eng in ("native", "model_bench", "wasm"):
            b = best.get((eng, t))
            if not b:
                continue
            size = b.get("model_bytes")
            if size is None:
                size = next((x.get("model_bytes") for (e, tt), x in best.items() if tt == t and x.get("model_bytes")), None)
            n_ctx = (b.get("prompt_tokens") or 128) + (b.get("gen_tokens") or 128)
            kv = 2 * N_LAYER * n_ctx * N_KV_DIM * kv_bytes
            budget = (size + kv) * 1.15 if size else None
            rss = b.get("process_peak_rss_bytes")
            wm = b.get("wasm_memory_bytes")
            # native: the whole process; wasm: the wasm memory (the process adds Node itself)
            measured = wm if eng == "wasm" else rss
            ok = None if budget is None or measured is None else measured <= budget
            rss_s = mb(rss)
            if eng == "wasm" and rss and node_base:
                rss_s += " (node alone %s)" % mb(node_base)
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                t, eng, mb(size), mb(kv), mb(budget), rss_s, mb(wm),
                mb(b.get("heap_load_extra_bytes")), mb(b.get("heap_session_bytes")),
                "—" if ok is None else ("yes" if ok else "**no**")))
    for t in types:
        b = best.get(("model_bench", t))
        if b and b.get("heap_load_extra_bytes") is not None:
            extra = b["heap_load_extra_bytes"]
            print()
            print("%s: atn_model_load(take_ownership=1) allocated %s MB beyond the %s MB file: %s" % (
                t, mb(extra), mb(b["model_bytes"]),
                "the bytes are used in place (loaded once)" if extra < 0.05 * b["model_bytes"]
                else "**weights are copied or repacked at load**"))


def main():
    a = sys.argv[1:]
    if a and a[0] == "--wrap":
        print(json.dumps(parse_run(*a[1:5])))
        return
    kv = 4
    if "--kv-bytes" in a:
        i = a.index("--kv-bytes")
        kv = int(a[i + 1])
        del a[i:i + 2]
    if "--shape" in a:
        global N_LAYER, N_KV_DIM
        i = a.index("--shape")
        N_LAYER, N_KV_DIM = SHAPES[a[i + 1]]
        if a[i + 1] != "smollm2-135m":
            WLLAMA.clear()  # wllama's figures are of the 135M shape only
        del a[i:i + 2]
    report(a[0], kv)


if __name__ == "__main__":
    main()
