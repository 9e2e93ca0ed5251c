// Types of the atento npm package's high-level API (js/index.js).
// The low-level layer is 'atento/core' (js/core.d.ts). These types need no
// DOM lib: they compile under a Node-only config too (tests/types/).
import type { WasmModule } from './js/core.js';

export type ErrorCode =
  | 'E_WASM' | 'E_UNSUPPORTED' | 'E_ARG' | 'E_NOMEM' | 'E_FREED' | 'E_LOAD' | 'E_TOKENIZE'
  | 'E_DETOKENIZE' | 'E_SESSION' | 'E_EVAL' | 'E_SCORE' | 'E_SAMPLE' | 'E_GENERATE' | 'E_ABORT'
  | 'E_FETCH' | 'E_ABORTED' | 'E_NOMODEL' | 'E_KIND' | 'E_TRANSLATE' | 'E_CONTEXT' | 'E_DISPOSED'
  | 'E_WORKER' | 'E_INTERNAL';

/** Every failure of atento: an Error with a machine-readable code and a one-line message. */
export class AtentoError extends Error {
  code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

export interface Progress {
  /** 'download' (network), 'cache' (Cache Storage) or 'read' (file, Blob, bytes). */
  phase: 'download' | 'cache' | 'read';
  loaded: number;
  /** 0 when the size is not known. */
  total: number;
  /** 0–100, or null when the size is not known. */
  percent: number | null;
  bytesPerSecond: number;
}

export interface LoadOptions {
  onProgress?: (p: Progress) => void;
  /** atento.wasm: a URL, a path (Node), its bytes or a compiled module (or a promise of one: the
   * worker starts while it compiles). Default: dist/atento.wasm of the package. */
  wasm?: string | URL | ArrayBuffer | ArrayBufferView | WasmModule | PromiseLike<WasmModule | undefined>;
  /** With a stream source: its length in bytes, if known (for progress and one allocation). */
  size?: number;
  /** Threads (1-16, or 'auto': the logical cores up to 8). More than 1 loads the threaded module
   * (dist/atento-mt.wasm) where memory can be shared (Node; a cross-origin isolated page), else
   * the single-thread one; ModelInfo.threads says which ran. Default 1. */
  threads?: number | 'auto';
  /** atento-mt.wasm, like `wasm`. Default: dist/atento-mt.wasm of the package. */
  threadedWasm?: string | URL | ArrayBuffer | ArrayBufferView | WasmModule | PromiseLike<WasmModule | undefined>;
  /** 'auto' (default): without `wasm` / `threadedWasm`, the relaxed-SIMD build (dist/atento-relaxed.wasm,
   * dist/atento-mt-relaxed.wasm) where the engine runs relaxed SIMD exactly, else the SIMD128 one;
   * 'simd128': always the SIMD128 one. ModelInfo.simd says which ran (docs/simd.md). */
  simd?: 'auto' | 'simd128';
  /** Browser, a URL source: a file of the Origin Private File System (FileSystemFileHandle) the worker writes the
   * downloaded bytes to as it reads them; ModelInfo.stored says how many it wrote ({bytes: 0, error} if it could not). */
  storeTo?: StoredFileHandle;
  /** Browser: a Worker already running js/worker.js (started early, e.g. while the page loads), not used yet. */
  worker?: object | null;
  /** A name for messages (default: the file name). */
  name?: string;
  /** Browser: the Cache Storage cache to look the URL up in and store the download to; false: none. */
  cache?: string | false;
  /** Cancels the download / read (the promise rejects with E_ABORTED). */
  signal?: AbortSignal;
}

export interface ModelInfo {
  name: string;
  arch: string;
  kind: 'chat' | 'translate';
  nVocab: number;
  nCtxTrain: number;
  fileSize: number;
  chatTemplate: string | null;
  /** Size of the worker's wasm memory right after loading. */
  memoryBytes: number;
  /** Threads in use: 1 with the single-thread module. */
  threads: number;
  /** Why more threads were asked for but not used, else null. */
  threadsError: string | null;
  /** The build that runs: 'relaxed' (relaxed SIMD) or 'simd128'. */
  simd: 'relaxed' | 'simd128';
  /** Why the relaxed-SIMD build was wanted but its SIMD128 twin runs, else null. */
  simdError: string | null;
  loadMs: number;
  /** atn_model_info_json, parsed. */
  info: Record<string, unknown>;
  /** Translation models: the target languages (the vocabulary's >>xx<< tags); [] for one direction only; null when unknown or not a translation model. */
  targets: string[] | null;
  /** Chat models: the tools it was trained to call (GGUF atento.tools), run by its worker when a chat gives no tools; else null. */
  tools: ToolDefinition[] | null;
  /** With LoadOptions.storeTo: the bytes written to that file (0 and why, when it could not be written). */
  stored?: { bytes: number; error?: string };
}

export interface SamplingOptions {
  /** Default 256. */
  maxTokens?: number;
  /** <= 0: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  /** Default: random. */
  seed?: number | bigint;
  stop?: string | string[];
  /** Report the n (<= 20) most likely next tokens with every piece. */
  topN?: number;
  /** Context size of the session (default: the training context, capped at 4096). */
  nCtx?: number;
  /** The KV cache's element type: 'f32' (default) or 'f16' (half the memory; docs/benchmarks.md measures the difference). */
  kvType?: 'f32' | 'f16';
  signal?: AbortSignal;
  onToken?: (piece: Piece) => void;
}

export interface GenerateOptions extends SamplingOptions {
  /** Add BOS when the model asks for it (default true). */
  addSpecial?: boolean;
  /** Text like "<|im_end|>" becomes its special token (default false). */
  parseSpecial?: boolean;
}

export interface TranslateOptions {
  /** 1 (greedy, streamed token by token) to 8 (an integer; anything else is E_ARG). */
  beam?: number;
  /**
   * The target language, one of info.targets. Left out: the language of the
   * text is detected and a two-language model translates into the other one.
   */
  to?: string;
  /**
   * Without `to`: each sentence goes the way its own language says (pasted
   * English and Spanish together); sentences of fewer than three words follow
   * a neighbour. The result says `mixed` when both directions were used.
   */
  mixed?: boolean;
  /** Ask for the cross-attention weights of each sentence. */
  attention?: boolean;
  /** Repeat guard: no n-gram of this many target tokens occurs twice (0: off, up to 16; default 0). */
  noRepeatNgram?: number;
  /** Repeat guard: no span of up to this many tokens starting a word right after a copy of itself, as in "library library" (0: off, up to 16; default 8). */
  noRepeatSpan?: number;
  signal?: AbortSignal;
  onToken?: (piece: Piece) => void;
  onSentence?: (s: SentenceStart) => void;
  onSentenceDone?: (s: SentenceResult) => void;
}

export interface Alternative {
  token: number;
  text: string;
  p: number;
}

export interface Piece {
  /** Whole UTF-8 characters (may be empty). */
  text: string;
  /** The token id, or -1 for text released at the end. */
  token: number;
  index: number;
  /** With topN: the most likely tokens at this step. */
  top?: Alternative[];
  /** translate: the sentence this piece belongs to. */
  sentence?: number;
}

export interface Stats {
  promptTokens?: number;
  genTokens: number;
  prefillMs?: number;
  decodeMs: number;
  tokensPerSecond: number;
  nCtx?: number;
  nPast?: number;
  sentences?: number;
}

export interface Result {
  reason: 'eog' | 'stop' | 'length' | 'abort' | 'done';
  text: string;
  tokens: number[];
  stats: Stats;
}

export interface ChatResult extends Result {
  /** Old messages dropped so that the conversation fits in the context. */
  droppedMessages: number;
  /** Prompt tokens whose KV cache was reused from the previous turn. */
  reusedTokens: number;
  /** Tokens in the chat's KV cache before this turn. */
  cachedBefore: number;
  /** With `tools`: the reply without its tool calls, and the calls. */
  content?: string;
  toolCalls?: ToolCall[];
  /** With `tools`: why the reply's calls could not be read (then toolCalls is empty). */
  toolCallError?: string;
  /** With `runTool` or the model's built-in tools: the conversation including the tool turns, and each tool run ([] when none ran). */
  messages?: ChatMessage[];
  toolRuns?: { name: string; arguments: unknown; result: string }[];
  /** With the model's built-in tools: how many replies the answer took (tool rounds + 1). */
  rounds?: number;
}

/** An OpenAI-style tool definition. */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: object };
}

export interface ToolCall {
  name: string;
  arguments: any;
}

export interface ChatOptions extends SamplingOptions {
  /** Tools the model may call; the template shows them the way its family expects. false: not even the model's built-in tools. */
  tools?: ToolDefinition[] | false;
  /** Where the built-in tools' files come from (a path in Node, a URL, a Blob or the bytes); default: the shipped ones. */
  toolSources?: { translate?: string | URL | Blob | ArrayBuffer | ArrayBufferView; dictionary?: string | URL | Blob | ArrayBuffer | ArrayBufferView };
  /** Run a call; the result (a string, or anything JSON) becomes a `tool` message and the model continues. */
  runTool?: (call: ToolCall) => unknown | Promise<unknown>;
  /** At most this many rounds of tool calls (default 4). */
  maxToolRounds?: number;
  /** Other template variables, e.g. {enable_thinking: false} for Qwen3. */
  templateVars?: Record<string, unknown>;
}

export interface Attention {
  nLayers: number;
  nHeads: number;
  nTgt: number;
  nSrc: number;
  /** nLayers × nHeads × nTgt × nSrc weights, row-major. */
  data: Float32Array;
}

export interface SentenceStart {
  index: number;
  count: number;
  source: string;
  sep: string;
  /** The sentence's language and the one it is translated into. */
  from?: string | null;
  to?: string;
}

export interface SentenceResult {
  index: number;
  count: number;
  source: string;
  text: string;
  tokens: number[];
  sourceTokens: number[];
  /** Sum of log p over the target ids. */
  logprob: number;
  aborted: boolean;
  from?: string | null;
  to?: string;
  sourcePieces?: string[];
  targetPieces?: string[];
  attention?: Attention;
}

export interface TranslateResult extends Omit<Result, 'reason'> {
  /** 'same-language': the text is already in `to`; it comes back unchanged in `text`, with a note. */
  reason: Result['reason'] | 'same-language';
  sentences: Omit<SentenceResult, 'attention'>[];
  /** The language detected in the text ('en', 'es'), or null. */
  from: string | null;
  /** The language translated into ('' for a model without language tags). */
  to: string;
  /** Why the text was not translated, in words (reason 'same-language'). */
  note?: string;
  /** With `mixed`: the sentences went both ways (each says its own from/to). */
  mixed?: true;
}

/** The limits of an option: the same rules in the API, the CLIs and the page. */
export interface OptionRule {
  int?: boolean;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** The command-line flag (without --). */
  flag: string;
}

/** beam, maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, topN, nCtx, noRepeatNgram, noRepeatSpan. */
export const RULES: Readonly<Record<'beam' | 'maxTokens' | 'temperature' | 'topK' | 'topP' | 'minP' | 'repeatPenalty' | 'repeatLastN' | 'seed' | 'topN' | 'nCtx' | 'noRepeatNgram' | 'noRepeatSpan', OptionRule>>;

/** "an integer from 1 to 8": what a rule allows, in words. */
export function ruleText(rule: OptionRule): string;

/** Async iterable of pieces that is also a promise of the final result. */
export class Stream<R = Result> implements AsyncIterable<Piece>, PromiseLike<R> {
  readonly id: number;
  readonly result: Promise<R>;
  /** Stop this generation now: the iteration ends at once (unread pieces are dropped); the result has reason 'abort'. */
  abort(): void;
  [Symbol.asyncIterator](): AsyncIterator<Piece>;
  then<A = R, B = never>(onFulfilled?: ((r: R) => A | PromiseLike<A>) | null, onRejected?: ((e: any) => B | PromiseLike<B>) | null): Promise<A | B>;
  catch<B = never>(onRejected?: ((e: any) => B | PromiseLike<B>) | null): Promise<R | B>;
  finally(f?: (() => void) | null): Promise<R>;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface FinetuneOptions {
  /** target-language tag of a multi-target model ('es', 'en') */
  to?: string;
  /** optimizer steps (default 30) */
  steps?: number;
  /** peak learning rate (default 0.003) */
  lr?: number;
  seed?: number;
  /** source sentences whose own translations are replayed (keeps the rest of the model's behaviour) */
  replay?: string[];
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  /** abort between steps */
  signal?: AbortSignal;
}

export interface FinetuneResult {
  reason: 'done' | 'abort';
  /** the fine-tuned model (an ordinary GGUF file); absent after an abort */
  bytes?: Uint8Array;
  info?: { pairs: number; replay: number; step: number; steps: number; lr: number; loss: number; lora_rank: number; lora_alpha: number; trainer_bytes: number };
  losses: number[];
  trainMs?: number;
  memoryBytes?: number;
}

export class Model {
  readonly info: ModelInfo;
  readonly arch: string;
  readonly kind: 'chat' | 'translate';
  generate(prompt: string | number[], opts?: GenerateOptions): Stream<Result>;
  chat(messages: ChatMessage[], opts?: ChatOptions): Stream<ChatResult>;
  /** Forget the chat's KV cache (a new conversation). */
  resetChat(): Promise<Result>;
  translate(text: string, opts?: TranslateOptions): Stream<TranslateResult>;
  /** The language of a text (src/langid.c: English or Spanish), and how sure (0.5–1). */
  detectLanguage(text: string): Promise<{ language: 'en' | 'es' | null; confidence: number }>;
  /** Fine-tune this translation model on sentence pairs (docs/training.md); resolves to the new GGUF bytes. */
  finetune(pairs: Array<{ source: string; target: string } | [string, string]>, opts?: FinetuneOptions): Promise<FinetuneResult>;
  tokenize(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): Promise<{ tokens: number[]; pieces: string[] }>;
  /** Stop every generation of this model, running or queued. */
  abort(): void;
  /** Free the model and end its worker. */
  dispose(): Promise<void>;
}

/** Load a GGUF model (URL, path in Node, File/Blob, a file of the Origin Private File System, or bytes) into a new worker. */
export function load(source: string | URL | Blob | ByteStream | StoredFileHandle | ArrayBuffer | ArrayBufferView, opts?: LoadOptions): Promise<Model>;

/** A FileSystemFileHandle (browser: the Origin Private File System), read by the worker in place; typed without the DOM lib. */
export interface StoredFileHandle {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<Blob>;
}

/** A ReadableStream of bytes (moved to the worker and read as it arrives); typed without the DOM lib. */
export interface ByteStream {
  getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> };
}

/** "1.5 MB", "812 kB". */
export function formatBytes(n: number): string;
