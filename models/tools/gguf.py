#!/usr/bin/env python3
"""gguf.py — a small GGUF v3 writer and an independent NumPy reader/dequantizer.

Written from the GGUF specification and ggml's documented block layouts, not
from atento's C code, so it can serve as an oracle for the C reader/kernels.

Shapes: NumPy order is the reverse of ggml order. A NumPy array of shape
(n_out, n_in) is written with ne = [n_in, n_out] (ne[0] contiguous), and the
reader gives it back with shape (n_out, n_in).

Writing
-------
    import sys; sys.path.insert(0, "models/tools"); import gguf
    w = gguf.GGUFWriter()                       # version=3, alignment=32
    w.add("general.architecture", "llama")      # str -> STRING
    w.add("llama.block_count", 2)               # int -> UINT32 (INT32 if < 0, 64-bit if large)
    w.add("llama.rope.freq_base", 10000.0)      # float -> FLOAT32
    w.add("tokenizer.ggml.add_bos_token", True) # bool -> BOOL
    w.add("tokenizer.ggml.tokens", ["<s>", "a"])      # list[str] -> ARRAY of STRING
    w.add("tokenizer.ggml.scores", [0.0, -1.5])       # list[float] -> ARRAY of FLOAT32
    w.add("tokenizer.ggml.token_type", [3, 1], gguf.INT32)  # explicit element type
    w.add("x.u64", 7, gguf.UINT64)              # explicit scalar type
    w.add("x.nested", [[1, 2], [3]], gguf.ARRAY)      # array of arrays (elements inferred)
    w.add_tensor("tok_embd.weight", np_f32_array, "q8_0")  # quantize: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1
    w.add_tensor("blk.0.attn_q.weight", arr, "q4_k")       # K-quants: random valid blocks (see below)
    w.add_tensor_raw("t", raw_bytes, ne=[256, 4], ttype="q6_k")  # pre-quantized block bytes
    w.write("model.gguf")                       # or w.to_bytes()

K-quants (q4_k, q5_k, q6_k): quantize_k() is a simple valid quantizer (per
sub-block min/max, 6-bit or int8 scales; not ggml's error-minimizing search,
so files differ from llama.cpp's but decode the same way). With rng= given,
add_tensor writes random valid blocks with small fp16 scales instead. Always
read the values back with the reader to get what the file actually holds.

Reading
-------
    r = gguf.GGUFReader("model.gguf")          # or GGUFReader(data=bytes)
    r.version, r.alignment, r.kv["llama.block_count"], r.kv_type["..."]
    r.tensors["tok_embd.weight"]                # TensorInfo(name, type, ne, offset, raw)
    r.tensor("tok_embd.weight")                 # float32 ndarray, NumPy shape, dequantized
    gguf.dequantize(raw_bytes, "q4_k", n)       # any supported type -> float32 (n,)
    gguf.quantize(x, "q4_0")                    # -> bytes (q8_0 q4_0 q4_1 q5_0 q5_1 f32 f16 bf16
                                                #    and q4_k q5_k q6_k via quantize_k)

Command line:  python3 models/tools/gguf.py dump FILE.gguf
"""
import struct
import zlib
import sys

import numpy as np

GGUF_MAGIC = b"GGUF"

# Metadata value types (GGUF specification numbering).
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
_NP_DTYPE = {UINT8: "<u1", INT8: "<i1", UINT16: "<u2", INT16: "<i2", UINT32: "<u4", INT32: "<i4",
             FLOAT32: "<f4", BOOL: "<u1", UINT64: "<u8", INT64: "<i8", FLOAT64: "<f8"}

# Tensor types: name -> (ggml id, values per block, bytes per block).
TYPES = {
    "f32": (0, 1, 4), "f16": (1, 1, 2), "q4_0": (2, 32, 18), "q4_1": (3, 32, 20),
    "q5_0": (6, 32, 22), "q5_1": (7, 32, 24), "q8_0": (8, 32, 34),
    "q4_k": (12, 256, 144), "q5_k": (13, 256, 176), "q6_k": (14, 256, 210), "bf16": (30, 1, 2),
}
TYPE_NAMES = {v[0]: k for k, v in TYPES.items()}


def type_id(t):
    if isinstance(t, int):
        return t
    return TYPES[t.lower()][0]


def type_name(tid):
    return TYPE_NAMES.get(tid, "type%d" % tid)


def row_bytes(ttype, n):
    _, bs, bb = TYPES[ttype]
    if n % bs:
        raise ValueError("%s: row of %d values is not a multiple of the block size %d" % (ttype, n, bs))
    return n // bs * bb


# ---------------------------------------------------------------- fp helpers
def f16_bits(x):
    return np.asarray(x, dtype=np.float32).astype("<f2").view("<u2")


def bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bits (NaN kept quiet)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def _f16(b):  # uint8 array (..., 2) -> float32
    return np.ascontiguousarray(b).view("<f2").astype(np.float32)[..., 0]


# ---------------------------------------------------------------- dequantize
def dequantize(raw, ttype, n):
    """Dequantize n values of type ttype from raw bytes -> float32 array (n,)."""
    ttype = type_name(ttype) if isinstance(ttype, int) else ttype.lower()
    _, bs, bb = TYPES[ttype]
    need = row_bytes(ttype, n)
    buf = np.frombuffer(bytes(raw[:need]) if not isinstance(raw, np.ndarray) else raw.tobytes()[:need], dtype=np.uint8)
    if buf.size < need:
        raise ValueError("need %d bytes, have %d" % (need, buf.size))
    if ttype == "f32":
        return buf.view("<f4").astype(np.float32)
    if ttype == "f16":
        return buf.view("<f2").astype(np.float32)
    if ttype == "bf16":
        return (buf.view("<u2").astype(np.uint32) << 16).view(np.float32)
    b = buf.reshape(-1, bb)
    nb = b.shape[0]
    if ttype == "q8_0":
        d = _f16(b[:, 0:2])
        q = b[:, 2:34].view(np.int8).astype(np.float32)
        return (d[:, None] * q).reshape(-1)
    if ttype in ("q4_0", "q4_1", "q5_0", "q5_1"):
        d = _f16(b[:, 0:2])
        off = 2
        m = None
        if ttype.endswith("_1"):
            m = _f16(b[:, 2:4])
            off = 4
        hi = None
        if ttype.startswith("q5"):
            qh = b[:, off:off + 4].copy().view("<u4")[:, 0].astype(np.uint32)
            off += 4
            bits = (qh[:, None] >> np.arange(32, dtype=np.uint32)[None, :]) & 1  # bit j -> value j
            hi = (bits << 4).astype(np.int32)
        qs = b[:, off:off + 16].astype(np.int32)
        q = np.concatenate([qs & 0xF, qs >> 4], axis=1)  # values 0..15 low nibbles, 16..31 high
        if hi is not None:
            q = q | hi
        if m is None:
            zero = 16 if ttype == "q5_0" else 8
            return (d[:, None] * (q - zero).astype(np.float32)).reshape(-1)
        return (d[:, None] * q.astype(np.float32) + m[:, None]).reshape(-1)
    if ttype in ("q4_k", "q5_k"):
        d = _f16(b[:, 0:2])
        dmin = _f16(b[:, 2:4])
        sc = b[:, 4:16].astype(np.int32)
        # 6-bit scales and mins for the 8 sub-blocks of 32
        scale = np.zeros((nb, 8), np.int32)
        mins = np.zeros((nb, 8), np.int32)
        for j in range(8):
            if j < 4:
                scale[:, j] = sc[:, j] & 63
                mins[:, j] = sc[:, j + 4] & 63
            else:
                scale[:, j] = (sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4)
                mins[:, j] = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
        if ttype == "q4_k":
            qs = b[:, 16:144].astype(np.int32).reshape(nb, 4, 32)
            qh = None
        else:
            qh = b[:, 16:48].astype(np.int32)           # (nb, 32)
            qs = b[:, 48:176].astype(np.int32).reshape(nb, 4, 32)
        out = np.zeros((nb, 8, 32), np.float32)
        for c in range(4):  # each 32-byte chunk of qs covers sub-blocks 2c (low) and 2c+1 (high)
            lo = qs[:, c, :] & 0xF
            hi = qs[:, c, :] >> 4
            if qh is not None:
                lo = lo + (((qh >> (2 * c)) & 1) << 4)
                hi = hi + (((qh >> (2 * c + 1)) & 1) << 4)
            for s, q in ((2 * c, lo), (2 * c + 1, hi)):
                out[:, s, :] = (d * scale[:, s])[:, None] * q - (dmin * mins[:, s])[:, None]
        return out.reshape(-1)
    if ttype == "q6_k":
        ql = b[:, 0:128].astype(np.int32)
        qh = b[:, 128:192].astype(np.int32)
        scales = b[:, 192:208].view(np.int8).astype(np.float32)
        d = _f16(b[:, 208:210])
        out = np.zeros((nb, 256), np.float32)
        for h in range(2):  # two halves of 128 values
            L = ql[:, 64 * h:64 * h + 64]
            H = qh[:, 32 * h:32 * h + 32]
            q1 = ((L[:, 0:32] & 0xF) | (((H >> 0) & 3) << 4)) - 32
            q2 = ((L[:, 32:64] & 0xF) | (((H >> 2) & 3) << 4)) - 32
            q3 = ((L[:, 0:32] >> 4) | (((H >> 4) & 3) << 4)) - 32
            q4 = ((L[:, 32:64] >> 4) | (((H >> 6) & 3) << 4)) - 32
            for k, q in enumerate((q1, q2, q3, q4)):
                for half in range(2):  # 16 values share one scale
                    si = 8 * h + 2 * k + half
                    pos = 128 * h + 32 * k + 16 * half
                    out[:, pos:pos + 16] = (d * scales[:, si])[:, None] * q[:, 16 * half:16 * half + 16]
        return out.reshape(-1)
    raise ValueError("dequantize: unsupported type %s" % ttype)


# ---------------------------------------------------------------- quantize
def _round_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize(x, ttype, rng=None):
    """Quantize a float array (size a multiple of the block size) -> bytes."""
    ttype = ttype.lower()
    if ttype in ("q4_k", "q5_k", "q6_k"):
        return quantize_k(x, ttype)
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if ttype == "f32":
        return x.astype("<f4").tobytes()
    if ttype == "f16":
        return f16_bits(x).tobytes()
    if ttype == "bf16":
        return bf16_bits(x).astype("<u2").tobytes()
    _, bs, bb = TYPES[ttype]
    if x.size % bs:
        raise ValueError("%s needs a multiple of %d values, got %d" % (ttype, bs, x.size))
    v = x.reshape(-1, bs)
    nb = v.shape[0]
    out = np.zeros((nb, bb), np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ttype == "q8_0":
            amax = np.abs(v).max(axis=1)
            d = amax / 127.0
            idd = np.where(d != 0, 1.0 / d, 0.0).astype(np.float32)
            q = _round_away(v * idd[:, None]).clip(-127, 127).astype(np.int8)
            out[:, 0:2] = f16_bits(d).view(np.uint8).reshape(nb, 2)
            out[:, 2:34] = q.view(np.uint8)
            return out.tobytes()
        if ttype in ("q4_0", "q5_0"):
            nmax = 16 if ttype == "q5_0" else 8
            top = 2 * nmax - 1
            idx = np.abs(v).argmax(axis=1)
            mx = v[np.arange(nb), idx]                 # signed value of largest magnitude
            d = mx / -nmax
            idd = np.where(d != 0, 1.0 / d, 0.0).astype(np.float32)
            q = np.minimum(top, np.trunc(v * idd[:, None] + (nmax + 0.5)).astype(np.int32)).astype(np.int32)
            q = np.maximum(q, 0)
            out[:, 0:2] = f16_bits(d).view(np.uint8).reshape(nb, 2)
            off = 2
        else:  # q4_1, q5_1
            top = 31 if ttype == "q5_1" else 15
            mn = v.min(axis=1)
            mxv = v.max(axis=1)
            d = (mxv - mn) / top
            idd = np.where(d != 0, 1.0 / d, 0.0).astype(np.float32)
            q = np.minimum(top, np.trunc((v - mn[:, None]) * idd[:, None] + 0.5).astype(np.int32))
            q = np.maximum(q, 0)
            out[:, 0:2] = f16_bits(d).view(np.uint8).reshape(nb, 2)
            out[:, 2:4] = f16_bits(mn).view(np.uint8).reshape(nb, 2)
            off = 4
    if ttype.startswith("q5"):
        hb = ((q >> 4) & 1).astype(np.uint64)
        qh = (hb << np.arange(32, dtype=np.uint64)[None, :]).sum(axis=1).astype("<u4")
        out[:, off:off + 4] = qh.view(np.uint8).reshape(nb, 4)
        off += 4
    lo = q[:, 0:16] & 0xF
    hi = q[:, 16:32] & 0xF
    out[:, off:off + 16] = (lo | (hi << 4)).astype(np.uint8)
    return out.tobytes()


def _pack_scales_k4(sc, m):
    """Inverse of the 6-bit scale/min packing of q4_K/q5_K: (nb,8),(nb,8) -> (nb,12)."""
    nb = sc.shape[0]
    q = np.zeros((nb, 12), np.int32)
    for j in range(4):
        q[:, j] = (sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)
        q[:, j + 4] = (m[:, j] & 63) | ((m[:, j + 4] >> 4) << 6)
        q[:, j + 8] = (sc[:, j + 4] & 0xF) | ((m[:, j + 4] & 0xF) << 4)
    return q.astype(np.uint8)


def quantize_k(x, ttype):
    """Simple (not ggml's optimal-search) but valid K-quantizer: q4_k, q5_k, q6_k."""
    ttype = ttype.lower()
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if x.size % 256:
        raise ValueError("%s needs a multiple of 256 values, got %d" % (ttype, x.size))
    nb = x.size // 256
    bb = TYPES[ttype][2]
    out = np.zeros((nb, bb), np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ttype in ("q4_k", "q5_k"):
            top = 15 if ttype == "q4_k" else 31
            v = x.reshape(nb, 8, 32)
            mn = np.minimum(v.min(axis=2), 0.0)
            scale = (v.max(axis=2) - mn) / top
            d = f16_bits(scale.max(axis=1) / 63).view("<f2").astype(np.float32)
            dmin = f16_bits((-mn).max(axis=1) / 63).view("<f2").astype(np.float32)
            sc = np.where(d[:, None] > 0, np.rint(scale / d[:, None]), 0).clip(0, 63).astype(np.int32)
            m = np.where(dmin[:, None] > 0, np.rint(-mn / dmin[:, None]), 0).clip(0, 63).astype(np.int32)
            step = (d[:, None] * sc)[:, :, None]
            q = np.where(step > 0, np.rint((v + (dmin[:, None] * m)[:, :, None]) / step), 0).clip(0, top).astype(np.int32)
            out[:, 0:2] = f16_bits(d).view(np.uint8).reshape(nb, 2)
            out[:, 2:4] = f16_bits(dmin).view(np.uint8).reshape(nb, 2)
            out[:, 4:16] = _pack_scales_k4(sc, m)
            off = 16
            if ttype == "q5_k":
                qh = np.zeros((nb, 32), np.int32)
                for s in range(8):
                    qh |= ((q[:, s, :] >> 4) & 1) << s
                out[:, 16:48] = qh.astype(np.uint8)
                off = 48
            for c in range(4):
                out[:, off + 32 * c:off + 32 * c + 32] = ((q[:, 2 * c] & 0xF) | ((q[:, 2 * c + 1] & 0xF) << 4)).astype(np.uint8)
            return out.tobytes()
        if ttype == "q6_k":
            v = x.reshape(nb, 16, 16)
            scale = np.abs(v).max(axis=2) / 31
            d = f16_bits(scale.max(axis=1) / 127).view("<f2").astype(np.float32)
            sc = np.where(d[:, None] > 0, np.rint(scale / d[:, None]), 0).clip(-128, 127).astype(np.int32)
            step = (d[:, None] * sc)[:, :, None]
            q = np.where(step != 0, np.rint(v / step), 0).clip(-32, 31).astype(np.int32) + 32
            q = q.reshape(nb, 256)
            ql = np.zeros((nb, 128), np.int32)
            qh = np.zeros((nb, 64), np.int32)
            for h in range(2):
                q1, q2, q3, q4 = (q[:, 128 * h + 32 * k:128 * h + 32 * k + 32] for k in range(4))
                ql[:, 64 * h:64 * h + 32] = (q1 & 0xF) | ((q3 & 0xF) << 4)
                ql[:, 64 * h + 32:64 * h + 64] = (q2 & 0xF) | ((q4 & 0xF) << 4)
                qh[:, 32 * h:32 * h + 32] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
            out[:, 0:128] = ql.astype(np.uint8)
            out[:, 128:192] = qh.astype(np.uint8)
            out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
            out[:, 208:210] = f16_bits(d).view(np.uint8).reshape(nb, 2)
            return out.tobytes()
    raise ValueError("not a K-quant: %s" % ttype)


def random_kquant_blocks(ttype, n, rng):
    """n values' worth of random valid K-quant blocks with small fp16 scales."""
    ttype = ttype.lower()
    _, bs, bb = TYPES[ttype]
    if n % bs:
        raise ValueError("%s needs a multiple of %d values, got %d" % (ttype, bs, n))
    nb = n // bs
    out = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
    if ttype in ("q4_k", "q5_k"):
        out[:, 0:2] = f16_bits(rng.uniform(0.0001, 0.001, nb)).view(np.uint8).reshape(nb, 2)
        out[:, 2:4] = f16_bits(rng.uniform(0.0, 0.001, nb)).view(np.uint8).reshape(nb, 2)
    elif ttype == "q6_k":
        out[:, 192:208] = rng.integers(-64, 64, size=(nb, 16), dtype=np.int8).view(np.uint8)
        out[:, 208:210] = f16_bits(rng.uniform(0.00005, 0.0005, nb)).view(np.uint8).reshape(nb, 2)
    else:
        raise ValueError("not a K-quant: %s" % ttype)
    return out.tobytes()


# ---------------------------------------------------------------- writer
def _infer_type(v):
    if isinstance(v, (bool, np.bool_)):
        return BOOL
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if 0 <= v < 2 ** 32:
            return UINT32
        if -2 ** 31 <= v < 0:
            return INT32
        return UINT64 if v >= 0 else INT64
    if isinstance(v, (float, np.floating)):
        return FLOAT32
    if isinstance(v, (str, bytes)):
        return STRING
    if isinstance(v, (list, tuple, np.ndarray)):
        return ARRAY
    raise TypeError("cannot infer a GGUF type for %r" % (v,))


def _infer_elem_type(values):
    vals = list(values)
    if not vals:
        return INT32
    if isinstance(values, np.ndarray):
        k = values.dtype
        m = {np.dtype(np.float32): FLOAT32, np.dtype(np.float64): FLOAT32, np.dtype(np.int32): INT32,
             np.dtype(np.int64): INT32, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
             np.dtype(np.uint32): UINT32, np.dtype(np.bool_): BOOL}
        return m.get(k, FLOAT32)
    if all(isinstance(x, (str, bytes)) for x in vals):
        return STRING
    if all(isinstance(x, (bool, np.bool_)) for x in vals):
        return BOOL
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in vals):
        return INT32 if all(-2 ** 31 <= int(x) < 2 ** 31 for x in vals) else INT64
    if all(isinstance(x, (int, float, np.integer, np.floating)) for x in vals):
        return FLOAT32
    if all(isinstance(x, (list, tuple, np.ndarray)) for x in vals):
        return ARRAY
    raise TypeError("mixed array element types")


def _str_bytes(s):
    b = s if isinstance(s, bytes) else s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value_bytes(vtype, v, elem_type=None):
    if vtype == STRING:
        return _str_bytes(v)
    if vtype == ARRAY:
        et = elem_type if elem_type is not None else _infer_elem_type(v)
        out = [struct.pack("<IQ", et, len(v))]
        if et == STRING:
            out += [_str_bytes(s) for s in v]
        elif et == ARRAY:
            out += [_value_bytes(ARRAY, a) for a in v]
        else:
            if et in (FLOAT32, FLOAT64):
                out.append(np.asarray(v, dtype=np.float64).astype(_NP_DTYPE[et]).tobytes())
            else:
                out.append(np.array([int(x) for x in v], dtype=_NP_DTYPE[et]).tobytes())
        return b"".join(out)
    return struct.pack(_SCALAR_FMT[vtype], v)


class GGUFWriter:
    def __init__(self, version=3, alignment=32):
        self.version = version
        self.alignment = alignment
        self.kvs = []       # (key, type, value, elem_type)
        self.tensors = []   # (name, ne, type_id, raw bytes)

    def add(self, key, value, vtype=None, elem_type=None):
        """Add a metadata key. vtype: scalar type, or ARRAY (elements inferred or elem_type);
        for a list value, a scalar vtype is taken as the element type."""
        if isinstance(value, (list, tuple, np.ndarray)):
            if vtype is not None and vtype != ARRAY and elem_type is None:
                elem_type, vtype = vtype, ARRAY
            vtype = ARRAY
        elif vtype is None:
            vtype = _infer_type(value)
        if key == "general.alignment":
            self.alignment = int(value)
        self.kvs.append((key, vtype, value, elem_type))

    def add_tensor(self, name, array, ttype="f32", rng=None):
        """Add a float array (NumPy shape, reversed into ne), quantized to ttype.
        K-quants use quantize_k(); pass rng= to get random valid blocks instead."""
        a = np.asarray(array, dtype=np.float32)
        ne = list(reversed(a.shape)) if a.ndim else [1]
        ttype = ttype.lower()
        if ttype in ("q4_k", "q5_k", "q6_k"):
            if ne[0] % 256:
                raise ValueError("%s: ne[0]=%d not a multiple of 256" % (name, ne[0]))
            raw = random_kquant_blocks(ttype, a.size, rng) if rng is not None else quantize_k(a, ttype)
        else:
            if ne[0] % TYPES[ttype][1]:
                raise ValueError("%s: ne[0]=%d not a multiple of %s's block size" % (name, ne[0], ttype))
            raw = quantize(a, ttype)
        self.tensors.append((name, ne, type_id(ttype), raw))

    def add_tensor_raw(self, name, raw, ne, ttype):
        """Add pre-encoded tensor bytes with ggml dims ne (ne[0] contiguous)."""
        self.tensors.append((name, list(ne), type_id(ttype), bytes(raw)))

    def to_bytes(self):
        al = self.alignment
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<I", self.version)
        if self.version == 1:
            out += struct.pack("<II", len(self.tensors), len(self.kvs))
        else:
            out += struct.pack("<QQ", len(self.tensors), len(self.kvs))
        for key, vtype, value, et in self.kvs:
            out += _str_bytes(key) + struct.pack("<I", vtype) + _value_bytes(vtype, value, et)
        offset = 0
        offsets = []
        for name, ne, tid, raw in self.tensors:
            offsets.append(offset)
            out += _str_bytes(name) + struct.pack("<I", len(ne))
            out += b"".join(struct.pack("<Q", int(d)) for d in ne)
            out += struct.pack("<IQ", tid, offset)
            offset += len(raw)
            offset = (offset + al - 1) // al * al
        out += b"\0" * ((-len(out)) % al)
        data = bytearray()
        for (name, ne, tid, raw), off in zip(self.tensors, offsets):
            data += b"\0" * (off - len(data))
            data += raw
        return bytes(out) + bytes(data)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())


def add_llama_hparams(w, n_ctx, n_embd, n_layer, n_ff, n_head, n_head_kv, head_dim,
                      eps=1e-5, rope_base=10000.0, vocab_size=None, arch="llama"):
    """The hyper-parameter keys of a llama-family model, in llama.cpp's names."""
    w.add("%s.context_length" % arch, n_ctx)
    w.add("%s.embedding_length" % arch, n_embd)
    w.add("%s.block_count" % arch, n_layer)
    w.add("%s.feed_forward_length" % arch, n_ff)
    w.add("%s.attention.head_count" % arch, n_head)
    w.add("%s.attention.head_count_kv" % arch, n_head_kv)
    w.add("%s.attention.layer_norm_rms_epsilon" % arch, eps)
    w.add("%s.rope.freq_base" % arch, rope_base)
    w.add("%s.rope.dimension_count" % arch, head_dim)
    if vocab_size is not None:
        w.add("%s.vocab_size" % arch, vocab_size)


# ---------------------------------------------------------------- reader
class TensorInfo:
    def __init__(self, name, ttype, ne, offset, raw):
        self.name, self.type, self.ne, self.offset, self.raw = name, ttype, ne, offset, raw

    @property
    def type_name(self):
        return type_name(self.type)

    @property
    def shape(self):  # NumPy order
        return tuple(reversed(self.ne))

    def __repr__(self):
        return "TensorInfo(%s, %s, ne=%s, offset=%d)" % (self.name, self.type_name, self.ne, self.offset)


class GGUFReader:
    def __init__(self, path=None, data=None):
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        self.data = memoryview(bytes(data))
        self.pos = 0
        if bytes(self.data[0:4]) != GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        self.pos = 4
        self.version = self._u("<I")
        if self.version == 1:
            raise ValueError("GGUF v1 is not supported")
        n_tensors = self._u("<Q")
        n_kv = self._u("<Q")
        self.kv, self.kv_type = {}, {}
        for _ in range(n_kv):
            key = self._str()
            vt = self._u("<I")
            self.kv_type[key] = vt
            self.kv[key] = self._value(vt)
        self.alignment = int(self.kv.get("general.alignment", 32))
        infos = []
        for _ in range(n_tensors):
            name = self._str()
            nd = self._u("<I")
            ne = [self._u("<Q") for _ in range(nd)]
            tid = self._u("<I")
            off = self._u("<Q")
            infos.append((name, tid, ne, off))
        self.data_offset = (self.pos + self.alignment - 1) // self.alignment * self.alignment
        self.tensors = {}
        for name, tid, ne, off in infos:
            n = int(np.prod(ne)) if ne else 1
            tn = type_name(tid)
            nbytes = row_bytes(tn, n) if tn in TYPES else 0
            start = self.data_offset + off
            self.tensors[name] = TensorInfo(name, tid, ne, off, bytes(self.data[start:start + nbytes]))

    def _u(self, fmt):
        size = struct.calcsize(fmt)
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return v

    def _str(self):
        n = self._u("<Q")
        s = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        try:
            return s.decode("utf-8")
        except UnicodeDecodeError:
            return s

    def _value(self, vt):
        if vt == STRING:
            return self._str()
        if vt == ARRAY:
            et = self._u("<I")
            n = self._u("<Q")
            if et == STRING:
                return [self._str() for _ in range(n)]
            if et == ARRAY:
                return [self._value(ARRAY) for _ in range(n)]
            dt = np.dtype(_NP_DTYPE[et])
            a = np.frombuffer(self.data, dtype=dt, count=n, offset=self.pos).copy()
            self.pos += n * dt.itemsize
            return a.astype(bool) if et == BOOL else a
        v = self._u(_SCALAR_FMT[vt])
        return v

    def tensor(self, name):
        t = self.tensors[name]
        n = int(np.prod(t.ne)) if t.ne else 1
        return dequantize(t.raw, type_name(t.type), n).reshape(t.shape)


def _dump(path):
    r = GGUFReader(path)
    print("GGUF v%d, alignment %d, %d kv, %d tensors" % (r.version, r.alignment, len(r.kv), len(r.tensors)))
    for k, v in r.kv.items():
        s = repr(v)
        if len(s) > 100:
            s = s[:100] + "..."
        print("  %-40s %2d %s" % (k, r.kv_type[k], s))
    for t in r.tensors.values():
        print("  %-40s %-5s %s @%d" % (t.name, t.type_name, t.ne, t.offset))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        _dump(sys.argv[2])
    else:
        print(__doc__)
