// Types of js/core.js, the low-level layer over atento.wasm (src/atento.h).

export type ErrorCode =
  | 'E_WASM' | 'E_UNSUPPORTED' | 'E_ARG' | 'E_NOMEM' | 'E_FREED' | 'E_LOAD' | 'E_TOKENIZE'
  | 'E_DETOKENIZE' | 'E_SESSION' | 'E_EVAL' | 'E_SCORE' | 'E_SAMPLE' | 'E_GENERATE' | 'E_ABORT';

export class AtentoError extends Error {
  code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

/**
 * A compiled WebAssembly.Module. Written without the DOM's WebAssembly
 * namespace so that these types compile under a Node-only config (no DOM lib).
 */
export type WasmModule = object;

/** The wasm memory (a WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(delta: number): number;
}

export type WasmSource = ArrayBuffer | ArrayBufferView | URL | string | Response | Promise<Response> | WasmModule;

export function defaultWasmUrl(): URL;
export interface InitOptions {
  /** 1-16 or 'auto' (the logical cores up to 8); > 1 loads the threaded module where memory can be shared. */
  threads?: number | 'auto';
  /** atento-mt.wasm (default: dist/atento-mt.wasm beside this file). */
  threadedWasm?: WasmSource;
  /** 'auto' (default): where no module is given and relaxedSimdSupported(), the relaxed-SIMD build
   * (dist/atento-relaxed.wasm, dist/atento-mt-relaxed.wasm), else the SIMD128 one; 'simd128': always the SIMD128 one. */
  simd?: 'auto' | 'simd128';
}
export function initAtento(source?: WasmSource, opts?: InitOptions): Promise<Atento>;
export function defaultRelaxedWasmUrl(): URL;
export function defaultThreadedRelaxedWasmUrl(): URL;
/** Does this engine run relaxed SIMD, with an exact i32x4.relaxed_dot_i8x16_i7x16_add_s? Computed once. */
export function relaxedSimdSupported(): boolean;
/** 'relaxed' for a module of the relaxed-SIMD build, else 'simd128'. */
export function simdOf(module: WasmModule): 'relaxed' | 'simd128';
/** The simd option checked: 'auto' (for undefined / null too) or 'simd128'; anything else throws E_ARG. */
export function checkSimd(v: unknown): 'auto' | 'simd128';
export function defaultThreadedWasmUrl(): URL;
export function defaultThreads(): number;
export function sharedMemoryMissing(): string;

export interface SamplerOptions {
  temperature?: number;   // <= 0: greedy
  topK?: number;          // <= 0: off
  topP?: number;          // >= 1: off
  minP?: number;          // <= 0: off
  repeatPenalty?: number; // 1: off
  repeatLastN?: number;
  seed?: number | bigint;
}

export interface ModelBuffer {
  readonly size: number;
  readonly ptr: number;
  /** A view of the reserved bytes; take it again after any other call into atento. */
  view(): Uint8Array;
  set(chunk: Uint8Array, offset: number): void;
  load(opts?: { allowUnknownPretokenizer?: boolean }): Model;
  free(): void;
}

export class Atento {
  readonly exports: Record<string, unknown>;
  readonly memory: WasmMemory;
  /** Current size of wasm memory in bytes (it only grows: also the peak). */
  readonly memoryBytes: number;
  /** The threaded module is loaded (dist/atento-mt.wasm). */
  readonly threaded: boolean;
  /** Threads in use (1 with the single-thread module). */
  readonly threads: number;
  /** Why threads were asked for but are not used ('' otherwise). */
  threadsError: string;
  /** The build that runs: 'relaxed' (relaxed SIMD) or 'simd128'. */
  readonly simd: 'relaxed' | 'simd128';
  /** Why the relaxed-SIMD build was wanted but its SIMD128 twin runs ('' otherwise). */
  simdError: string;
  /** Start or stop workers; resolves to the count in use. Call between operations. */
  setThreads(n: number | 'auto'): Promise<number>;
  /** Stop the workers (the runtime goes on with one thread). */
  dispose(): Promise<void>;
  /** allowUnknownPretokenizer: a vocabulary whose tokenizer.ggml.pre atento does not know uses GPT-2's rules (with a warning) instead of failing. */
  loadModel(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, opts?: { allowUnknownPretokenizer?: boolean }): Model;
  /** The built-in lookup tool's dictionary (models/dict-en-es.tsv); a damaged file throws E_LOAD. */
  loadDictionary(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Dictionary;
  reserve(size: number): ModelBuffer;
  samplerDefaults(): Required<Omit<SamplerOptions, 'seed'>> & { seed: bigint };
  newSampler(opts?: SamplerOptions): Sampler;
  lastError(): string;
}

export interface GenerateOptions {
  maxTokens?: number;
  stop?: string | string[];
}

export interface GeneratePiece {
  /** The token produced, or -1 for text released at the end. */
  token: number;
  /** Whole UTF-8 characters released by this step (may be empty). */
  text: string;
}

export interface GenerateResult {
  reason: 'eog' | 'stop' | 'length';
  tokens: number[];
  finalToken: number;
}

export class Model {
  readonly arch: string;
  readonly nVocab: number;
  readonly nCtxTrain: number;
  readonly bos: number;
  readonly eos: number;
  readonly fileSize: number;
  /** What loading tolerated (special-token ids outside the vocabulary, an unknown pre-tokenizer, ...). */
  readonly warnings: string[];
  /** false for a tokenizer-only model (a vocabulary without tensors, or an architecture atento cannot run): newSession throws why. */
  readonly runnable: boolean;
  info(): Record<string, unknown>;
  chatTemplate(): string | null;
  /** The GGUF atento.tools string (the tools the model was trained to call), or null. */
  toolsJson(): string | null;
  tokenize(text: string | Uint8Array, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(ids: ArrayLike<number>): string;
  detokenizeBytes(ids: ArrayLike<number>): Uint8Array;
  tokenToBytes(id: number): Uint8Array;
  piece(id: number): string;
  isEog(id: number): boolean;
  lookup(text: string): number;
  /** kvType: the KV cache's element type, 'f32' (default) or 'f16' (half the memory; decoder-only models). */
  newSession(nCtx?: number, opts?: { kvType?: 'f32' | 'f16' }): Session;
  newSampler(opts?: SamplerOptions): Sampler;
  generate(session: Session, sampler: Sampler, opts?: GenerateOptions): Generator<GeneratePiece, GenerateResult, void>;
  free(): void;
}

export class Dictionary {
  /** Entries of 'en' or 'es'. */
  size(lang: 'en' | 'es'): number;
  /** At most five translations, most common first, joined by ", ", or "(no entry)". */
  lookup(word: string, from: 'en' | 'es'): string;
  free(): void;
}

export class Session {
  readonly model: Model;
  readonly nCtx: number;
  readonly nPast: number;
  readonly kvType: 'f32' | 'f16';
  /** Bytes of the KV cache (keys and values) as allocated now. */
  readonly kvBytes: number;
  truncate(nKeep?: number): void;
  eval(ids: ArrayLike<number>, opts?: { allLogits?: boolean }): void;
  logits(i?: number): Float32Array;
  score(ids: ArrayLike<number>): Float32Array;
  setSource(ids: ArrayLike<number>): void;
  /** Render a conversation with the model's chat template, keep the longest matching prefix of the KV cache, evaluate the rest. */
  chatPrefill(messages: ReadonlyArray<{ role: string; content: string }>, reserve: number): { evaluated: number; dropped: number };
  free(): void;
}

export class Sampler {
  accept(id: number): void;
  sample(logits: Float32Array): number;
  free(): void;
}
