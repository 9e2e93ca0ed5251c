// gguf_writer.js — a GGUF v3 writer (metadata + tensors), written from the
// GGUF specification. Used by `atento convert`.
//
//   const w = new GGUFWriter();
//   w.add('general.architecture', T.STRING, 'marian');
//   w.add('tokenizer.ggml.tokens', T.ARRAY, ['a', 'b'], T.STRING);
//   w.addTensor('token_embd.weight', [d, V], typeId, bytes);  // ne in ggml order
//   const bytes = w.toBytes();
export const T = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
};

const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const enc = new TextEncoder();

class Buf {
  constructor() { this.chunks = []; this.size = 0; }
  push(u8) { this.chunks.push(u8); this.size += u8.length; }
  scalar(type, v) {
    const b = new Uint8Array(SCALAR_SIZE[type]);
    const dv = new DataView(b.buffer);
    switch (type) {
      case T.UINT8: dv.setUint8(0, v); break;
      case T.INT8: dv.setInt8(0, v); break;
      case T.UINT16: dv.setUint16(0, v, true); break;
      case T.INT16: dv.setInt16(0, v, true); break;
      case T.UINT32: dv.setUint32(0, v, true); break;
      case T.INT32: dv.setInt32(0, v, true); break;
      case T.FLOAT32: dv.setFloat32(0, v, true); break;
      case T.BOOL: dv.setUint8(0, v ? 1 : 0); break;
      case T.UINT64: dv.setBigUint64(0, BigInt(v), true); break;
      case T.INT64: dv.setBigInt64(0, BigInt(v), true); break;
      case T.FLOAT64: dv.setFloat64(0, v, true); break;
      default: throw new Error(`gguf: bad scalar type ${type}`);
    }
    this.push(b);
  }
  string(s) {
    const b = typeof s === 'string' ? enc.encode(s) : s;
    this.scalar(T.UINT64, b.length);
    this.push(b);
  }
  concat() {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}

export class GGUFWriter {
  constructor(alignment = 32) {
    this.alignment = alignment;
    this.kv = [];
    this.tensors = [];
  }

  /** type: T.*; for arrays, value is an array (or typed array) and elemType its T.*. */
  add(key, type, value, elemType) {
    if (this.kv.some((e) => e.key === key)) throw new Error(`gguf: duplicate key ${key}`);
    this.kv.push({ key, type, value, elemType });
  }

  /** ne in ggml order (ne[0] contiguous); data: the tensor's bytes in its type. */
  addTensor(name, ne, type, data) {
    if (this.tensors.some((t) => t.name === name)) throw new Error(`gguf: duplicate tensor ${name}`);
    this.tensors.push({ name, ne, type, data });
  }

  toBytes() {
    const h = new Buf();
    h.push(enc.encode('GGUF'));
    h.scalar(T.UINT32, 3);
    h.scalar(T.UINT64, this.tensors.length);
    h.scalar(T.UINT64, this.kv.length);
    for (const { key, type, value, elemType } of this.kv) {
      h.string(key);
      h.scalar(T.UINT32, type);
      if (type === T.STRING) h.string(value);
      else if (type === T.ARRAY) {
        h.scalar(T.UINT32, elemType);
        h.scalar(T.UINT64, value.length);
        if (elemType === T.STRING) for (const s of value) h.string(s);
        else if (elemType === T.UINT8 && value instanceof Uint8Array) h.push(value);
        else if (elemType === T.FLOAT32 && value instanceof Float32Array) h.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        else if (elemType === T.INT32 && value instanceof Int32Array) h.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        else for (const v of value) h.scalar(elemType, v);
      } else h.scalar(type, value);
    }
    const al = this.alignment;
    let off = 0;
    const offsets = [];
    for (const t of this.tensors) {
      off = Math.ceil(off / al) * al;
      offsets.push(off);
      off += t.data.length;
      h.string(t.name);
      h.scalar(T.UINT32, t.ne.length);
      for (const n of t.ne) h.scalar(T.UINT64, n);
      h.scalar(T.UINT32, t.type);
      h.scalar(T.UINT64, offsets[offsets.length - 1]);
    }
    const headLen = Math.ceil(h.size / al) * al;
    const out = new Uint8Array(headLen + Math.ceil(off / al) * al);
    out.set(h.concat(), 0);
    this.tensors.forEach((t, i) => out.set(t.data, headLen + offsets[i]));
    return out;
  }
}
