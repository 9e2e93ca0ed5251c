#!/usr/bin/env python3
"""dequantize_gguf.py — rewrite a GGUF with every quantized tensor as f32.

    /usr/bin/python3 models/tools/dequantize_gguf.py IN.gguf OUT.gguf

The metadata section is copied byte for byte; tensors of a quantized or
half-precision type are dequantized with gguf.py's NumPy reader (independent
of the C code) and written as f32. Used by the tests to check atento's f32
math against PyTorch logits computed from the same dequantized weights
(models/train/reference/translate_ref_q8_0.bin): with f32 weights atento's
kernels do not quantize activations, so the two must agree to ~1e-4.
"""
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gguf  # noqa: E402


def metadata_bytes(r):
    """The raw bytes of the key/value section and the tensor count."""
    r.pos = 8  # magic + version
    n_tensors = r._u("<Q")
    n_kv = r._u("<Q")
    start = r.pos
    for _ in range(n_kv):
        r._str()
        r._value(r._u("<I"))
    return n_tensors, n_kv, bytes(r.data[start:r.pos])


def main(src, dst):
    r = gguf.GGUFReader(src)
    n_tensors, n_kv, kv = metadata_bytes(r)
    al = r.alignment
    out = bytearray(gguf.GGUF_MAGIC + struct.pack("<IQQ", r.version, n_tensors, n_kv) + kv)
    blobs, offset = [], 0
    for t in r.tensors.values():  # file order
        if t.type_name == "f32":
            raw = t.raw
        else:
            raw = r.tensor(t.name).astype("<f4").tobytes()
        out += struct.pack("<Q", len(t.name.encode())) + t.name.encode() + struct.pack("<I", len(t.ne))
        out += b"".join(struct.pack("<Q", int(d)) for d in t.ne)
        out += struct.pack("<IQ", gguf.type_id("f32"), offset)
        blobs.append((offset, raw))
        offset = (offset + len(raw) + al - 1) // al * al
    out += b"\0" * ((-len(out)) % al)
    data = bytearray()
    for off, raw in blobs:
        data += b"\0" * (off - len(data))
        data += raw
    Path(dst).write_bytes(bytes(out) + bytes(data))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: dequantize_gguf.py IN.gguf OUT.gguf")
    main(sys.argv[1], sys.argv[2])
