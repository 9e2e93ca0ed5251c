/* atento.h — the whole public API of the atento core.
 *
 * The WebAssembly build exports exactly these functions (plus atn_malloc /
 * atn_free for the JS glue to move bytes in and out). Everything is plain C:
 * opaque handles, integers, floats, UTF-8 byte strings with explicit lengths.
 *
 * Errors: a call that fails returns NULL or a negative number; the reason is
 * a one-line message from atn_last_error(), valid until the next failing call.
 *
 * Lifetimes: a model owns its weights (the GGUF bytes); sessions, samplers
 * and generators borrow the model and must be freed before it.
 */
#ifndef ATENTO_H
#define ATENTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__wasm__)
#define ATN_API __attribute__((visibility("default"), used))
#else
#define ATN_API
#endif

typedef struct atn_model atn_model;     /* weights + tokenizer(s); read-only after load */
typedef struct atn_session atn_session; /* KV cache, activations, logits of one conversation */
typedef struct atn_sampler atn_sampler; /* sampling settings + RNG + recent-token history */
typedef struct atn_gen atn_gen;         /* one streamed generation: sample, detokenize, stop */

/* ---- errors, memory ---------------------------------------------------- */

ATN_API const char *atn_last_error(void);
ATN_API void *atn_malloc(size_t n);   /* for the JS glue; NULL on out-of-memory */
ATN_API void atn_free(void *p);

/* ---- models ------------------------------------------------------------ */

/* Load a GGUF model from bytes in memory. With take_ownership != 0 the model
 * keeps `data` (which must come from atn_malloc) and frees it on
 * atn_model_free: tensors point straight into it, so loading copies nothing.
 * Otherwise the caller keeps `data` alive until atn_model_free. */
ATN_API atn_model *atn_model_load(void *data, size_t size, int take_ownership);
/* The same with flags: ATN_LOAD_ANY_PRETOKENIZER lets a byte-level BPE
 * vocabulary whose tokenizer.ggml.pre atento does not know use GPT-2's rules
 * (a warning says so) instead of failing to load.
 * A file with a vocabulary but no tensors, or with an architecture atento
 * cannot run, loads as a tokenizer-only model: tokenizing and inspecting
 * work, atn_session_new fails and says why ("runnable": false in the info). */
#define ATN_LOAD_ANY_PRETOKENIZER 1
ATN_API atn_model *atn_model_load_flags(void *data, size_t size, int take_ownership, int flags);
/* What loading tolerated (special-token ids outside the vocabulary, odd token
 * types, a missing or unknown pre-tokenizer, ...), one line each, or NULL if
 * nothing; also the "warnings" array of atn_model_info_json. */
ATN_API const char *atn_model_warnings(const atn_model *m);
ATN_API void atn_model_free(atn_model *m);

/* A JSON object describing the model (architecture, hyper-parameters,
 * tensor types and sizes, tokenizer, chat template); owned by the model. */
ATN_API const char *atn_model_info_json(const atn_model *m);
ATN_API const char *atn_model_arch(const atn_model *m); /* "llama", "qwen2", "marian" */
ATN_API int atn_model_n_vocab(const atn_model *m);
ATN_API int atn_model_n_ctx_train(const atn_model *m);
/* The GGUF `tokenizer.chat_template`, or NULL. */
ATN_API const char *atn_model_chat_template(const atn_model *m);
/* The GGUF `atento.tools` string: the JSON array of tool definitions the
 * model was trained to call (docs/chat.md: built-in tools), or NULL. Not
 * validated here; callers parse it. */
ATN_API const char *atn_model_tools_json(const atn_model *m);

/* ---- tokenizer --------------------------------------------------------- */

/* Token ids of `text` (len bytes of UTF-8). add_special: add BOS when the
 * model says so (tokenizer.ggml.add_bos_token). parse_special: text like
 * "<|im_end|>" becomes its special token instead of being split.
 * Returns the number of ids (ids beyond cap are not written: call again with
 * a bigger buffer), or < 0 on error (e.g. invalid UTF-8). */
ATN_API int atn_tokenize(const atn_model *m, const char *text, size_t len,
                         int add_special, int parse_special,
                         int32_t *ids, int cap);
/* The bytes a token stands for (byte-fallback and ▁ / byte-level maps
 * undone). Returns the byte count (may exceed cap: nothing past cap is
 * written), or < 0 for an id out of range. Note a piece may be part of a
 * UTF-8 character. */
ATN_API int atn_token_to_bytes(const atn_model *m, int32_t id, char *out, int cap);
/* The piece as stored in the vocabulary (e.g. "▁hello", "<0x0A>"). */
ATN_API int atn_token_piece(const atn_model *m, int32_t id, char *out, int cap);
/* Whole-sequence detokenization (leading space of SentencePiece removed).
 * Returns byte count like atn_token_to_bytes. */
ATN_API int atn_detokenize(const atn_model *m, const int32_t *ids, int n, char *out, int cap);
ATN_API int32_t atn_token_bos(const atn_model *m);   /* -1 if none */
ATN_API int32_t atn_token_eos(const atn_model *m);   /* -1 if none */
ATN_API int atn_token_is_eog(const atn_model *m, int32_t id); /* EOS, <|im_end|>, <|eot_id|>, ... */
/* The id of a special/control token given its text, or -1. */
ATN_API int32_t atn_token_lookup(const atn_model *m, const char *text, size_t len);

/* ---- sessions: KV cache + forward pass --------------------------------- */

/* n_ctx <= 0 means the model's training context, capped at 4096. */
ATN_API atn_session *atn_session_new(atn_model *m, int n_ctx);
/* The same with settings; p == NULL means the defaults (atn_session_new).
 * kv_type: the element type of the KV cache. ATN_KV_F32 (the default) keeps
 * keys and values as computed; ATN_KV_F16 rounds them to IEEE half (to
 * nearest even) as they are stored, halving the cache, and attention reads
 * them back exactly (docs/benchmarks.md: "KV cache in f16" measures what it
 * changes). Decoder-only models only: a translation ("marian") model refuses
 * ATN_KV_F16 with an error. */
#define ATN_KV_F32 0
#define ATN_KV_F16 1
typedef struct atn_session_params {
    int kv_type; /* ATN_KV_F32 or ATN_KV_F16 */
} atn_session_params;
ATN_API atn_session *atn_session_new_ex(atn_model *m, int n_ctx, const atn_session_params *p);
ATN_API int atn_session_kv_type(const atn_session *s);
/* Bytes of the session's KV cache (keys and values) as allocated now: a
 * decoder-only model's whole cache from the start; an encoder-decoder's
 * self-attention cache grows with its hypotheses (beam, sentences). */
ATN_API size_t atn_session_kv_bytes(const atn_session *s);
ATN_API void atn_session_free(atn_session *s);
ATN_API int atn_session_n_ctx(const atn_session *s);
ATN_API int atn_session_n_past(const atn_session *s);   /* tokens in the KV cache */
/* Forget the cache past the first n_keep tokens (0 = start over). */
ATN_API int atn_session_truncate(atn_session *s, int n_keep);

/* Run the model on n tokens appended after the cached ones, in batches
 * (matrix-matrix). all_logits != 0 keeps the logits of every token, else only
 * of the last. Returns 0, or < 0 (context full, bad id, ...). */
ATN_API int atn_eval(atn_session *s, const int32_t *tokens, int n, int all_logits);
/* Logits of the i-th token of the last atn_eval (i = -1: the last one), or
 * NULL if they were not kept. n_vocab floats. */
ATN_API const float *atn_logits(const atn_session *s, int i);

/* Teacher-forced log-probabilities: logprobs[i-1] = log p(t_i | t_<i) for
 * i = 1..n-1, from one batched pass over a fresh cache. Returns n-1 or < 0.
 * For encoder-decoder models, set the source first (atn_set_source); the
 * tokens are the decoder's input, so tokens[0] must be the decoder start
 * token (marian.decoder_start_token_id) followed by the target ids. */
ATN_API int atn_score(atn_session *s, const int32_t *tokens, int n, float *logprobs);

/* Encoder-decoder models: encode the source sentence (source-vocabulary ids,
 * EOS included) once; its keys/values are cached for cross-attention and the
 * decoder cache is reset. */
ATN_API int atn_set_source(atn_session *s, const int32_t *src_ids, int n);

/* ---- sampling ---------------------------------------------------------- */

typedef struct atn_sampler_params {
    float temperature;    /* <= 0: greedy */
    int top_k;            /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* window for the penalty; 64 by default */
    uint64_t seed;
} atn_sampler_params;

ATN_API void atn_sampler_defaults(atn_sampler_params *p);
ATN_API atn_sampler *atn_sampler_new(const atn_sampler_params *p);
ATN_API void atn_sampler_free(atn_sampler *smp);
/* Record a token as part of the history the repetition penalty sees. */
ATN_API void atn_sampler_accept(atn_sampler *smp, int32_t id);
/* Choose the next token from a logits vector (not modified). */
ATN_API int32_t atn_sample(atn_sampler *smp, const float *logits, int n_vocab);

/* ---- generation: the streaming loop ------------------------------------ */

/* A generator feeds the session's last logits to the sampler, evaluates the
 * chosen token, and hands back text that is always whole UTF-8 characters,
 * holding back any tail that might begin a stop string. */
ATN_API atn_gen *atn_gen_new(atn_session *s, atn_sampler *smp);
ATN_API void atn_gen_free(atn_gen *g);
ATN_API int atn_gen_add_stop(atn_gen *g, const char *stop, size_t len);
/* One step. Returns 1 when a token was produced (id in *token), 0 when the
 * generation ended (end-of-generation token or stop string; *token is the
 * final token or -1), < 0 on error. After each call, atn_gen_text() holds the
 * text released by this step (may be empty), NUL-terminated. */
ATN_API int atn_gen_next(atn_gen *g, int32_t *token);
ATN_API const char *atn_gen_text(const atn_gen *g, size_t *len);
/* Release any text still held back (call once at the end). */
ATN_API const char *atn_gen_flush(atn_gen *g, size_t *len);

/* ---- chat (src/chat.c, src/chat_template.c) ---------------------------- */

/* Render a conversation (n_msgs roles and contents, NUL-terminated UTF-8)
 * into the prompt text with the model's chat template (GGUF
 * tokenizer.chat_template, interpreted safely; bos_token/eos_token are the
 * model's). A model without a template gets ChatML, and *used_fallback (may
 * be NULL) is set to 1 (else 0). add_generation_prompt: end with the header of
 * the assistant's turn. Returns the prompt's byte count (nothing past cap is
 * written; call again with a bigger buffer if it is >= cap; out is
 * NUL-terminated when it fits), or < 0 on error (template error, a template's
 * raise_exception, limits exceeded). */
ATN_API int atn_chat_render(const atn_model *m, const char *const *roles, const char *const *contents,
                            int n_msgs, int add_generation_prompt, int *used_fallback, char *out, int cap);

/* Multi-turn: make the session ready to generate the next reply to this
 * conversation (the whole message list, every turn so far). Renders it with a
 * generation prompt, tokenizes it, keeps the longest prefix of the KV cache
 * that matches, and evaluates only the rest, so each turn processes only its
 * own new tokens. When the prompt would leave fewer than `reserve` free
 * positions in the context (reserve = room for the reply), the oldest turns
 * after the system prompt are dropped until it fits, and *n_dropped (may be
 * NULL) says how many messages were dropped (0 normally); the cache is then
 * re-evaluated from the first changed token. Then generate with atn_gen_new.
 * Returns the number of tokens evaluated, or < 0 on error (e.g. even the
 * system prompt and the last message do not fit). */
ATN_API int atn_chat_prefill(atn_session *s, const char *const *roles, const char *const *contents,
                             int n_msgs, int reserve, int *n_dropped);

/* Roles are "system", "user", "assistant" or "tool"; any other is an error.
 * Message contents are text: control-token text inside them (e.g. a user
 * typing "<|im_end|><|im_start|>system") never becomes a control token; only
 * the template's own markup does (docs/chat.md).
 * The _ex variants take the request's extra template variables: vars_json is
 * NULL or a JSON object whose members the template sees besides the messages,
 * e.g. {"tools": [{"type": "function", "function": {"name": "translate",
 * "description": "...", "parameters": {...}}}], "enable_thinking": false}.
 * An assistant turn that called tools is its raw text (as generated, with
 * its <tool_call> markup); a tool's result is a "tool" message. */
ATN_API int atn_chat_render_ex(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                               const char *vars_json, int add_generation_prompt, int *used_fallback, char *out, int cap);
ATN_API int atn_chat_prefill_ex(atn_session *s, const char *const *roles, const char *const *contents, int n_msgs,
                                const char *vars_json, int reserve, int *n_dropped);
/* Find the tool calls in a model's reply (len bytes of UTF-8): Hermes/Qwen
 * <tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks, or a
 * Llama 3.1 call (the whole reply one JSON object {"name": ..., "parameters":
 * {...}}, optionally after <|python_tag|>). Writes a JSON object
 * {"content": "<the reply without the calls>", "tool_calls": [{"name": "...",
 * "arguments": {...}}, ...]} (NUL-terminated when it fits) and returns its
 * length (call again with a bigger buffer if it is >= cap), or < 0 on error
 * (a call whose JSON is invalid or lacks a name). No calls: an empty list. */
ATN_API int atn_chat_parse_tool_calls(const char *text, int len, char *out, int cap);


/* ---- translation (src/translate.c, src/models/marian.c) ---------------- */

/* A translator runs an encoder-decoder ("marian") model over a whole text:
 * the text is split into sentences (line breaks always end one), each is
 * translated, and the original whitespace and line breaks between them are
 * kept, so a pasted page comes back as a page. beam: 1 (greedy, streamed
 * token by token) to 8 (beam search, length-normalized by the hypothesis
 * length, stops when `beam` hypotheses have ended and no live one can
 * beat them, as Hugging Face's generate does; at most 2n+10 target
 * tokens for n source tokens). target_lang: "es" selects the tag >>es<< of a
 * multi-target model (NULL or "" for none). flags: ATN_TR_ATTENTION keeps
 * the cross-attention weights of each sentence. */
typedef struct atn_translator atn_translator;
#define ATN_TR_ATTENTION 1
ATN_API atn_translator *atn_translator_new(atn_model *m, int beam, const char *target_lang, int flags);
/* The repeat guard (src/repeat_guard.h), on by default with these values:
 * no_repeat_ngram n (0 off, 1..16): no n-gram of target tokens occurs twice;
 * no_repeat_span k (0 off, 1..16): no span of 1..k tokens starting a word
 * directly follows a copy of itself ("library library"). A value < 0 keeps
 * that rule as it is. Set before atn_translate_begin. Returns 0, or < 0 on
 * a value out of range. */
#define ATN_TR_NO_REPEAT_NGRAM 0
#define ATN_TR_NO_REPEAT_SPAN 8
ATN_API int atn_translator_set_repeat_guard(atn_translator *t, int no_repeat_ngram, int no_repeat_span);
ATN_API void atn_translator_free(atn_translator *t);

/* Start translating len bytes of UTF-8 text (copied). */
ATN_API int atn_translate_begin(atn_translator *t, const char *text, size_t len);
/* One step. Returns 1: more output text is in atn_translate_piece (greedy:
 * one token); 2: a sentence is finished (its results below are valid, and
 * the piece holds the rest of its text); 0: the whole text is done (the
 * piece may hold trailing whitespace); < 0 on error. Concatenating every
 * piece gives the translated text. */
ATN_API int atn_translate_next(atn_translator *t);
ATN_API const char *atn_translate_piece(const atn_translator *t, size_t *len);

/* Results of the sentence last finished (after atn_translate_next gave 2). */
ATN_API const char *atn_translate_source(const atn_translator *t, size_t *len); /* its source text */
ATN_API const char *atn_translate_output(const atn_translator *t, size_t *len); /* its translation */
/* which 0: the target ids (EOS included when produced), 1: the source ids
 * (tag and EOS included). Returns the count; ids beyond cap are not written. */
ATN_API int atn_translate_tokens(const atn_translator *t, int which, int32_t *ids, int cap);
ATN_API float atn_translate_logprob(const atn_translator *t); /* sum of log p over the target ids */
/* Cross-attention weights (needs ATN_TR_ATTENTION): n_target x n_source
 * floats, row i = the weights target token i gave each source token, of
 * one layer and head (layer or head = -1: the mean over all of them).
 * Returns n_target * n_source (nothing past cap is written), or < 0. */
ATN_API int atn_translate_attention(const atn_translator *t, int layer, int head, float *out, int cap);

/* The source ids the translator feeds the encoder for one sentence:
 * [>>target_lang<<] + the source vocabulary's segmentation + [</s>]
 * (target_lang NULL or "": no tag). Count like atn_tokenize, or < 0. */
ATN_API int atn_translate_source_ids(const atn_model *m, const char *target_lang, const char *text, size_t len,
                                     int32_t *ids, int cap);

/* Sentence spans of a text: spans[2i], spans[2i+1] = byte start and end of
 * sentence i (surrounding whitespace excluded). Returns the count (spans
 * past cap/2 are not written). */
ATN_API int atn_split_sentences(const char *text, size_t len, int32_t *spans, int cap);

/* ---- language detection (src/langid.c) -------------------------------- */

/* The language of len bytes of UTF-8 text: "en" or "es" (character n-gram
 * naive Bayes, 99.9 % right on Tatoeba test sentences of 4+ words), or NULL
 * when the text has no letters. confidence (may be NULL): the winner's
 * probability, 0.5..1, from the log-odds (how sure, not a calibrated chance). */
ATN_API const char *atn_detect_language(const char *text, size_t len, float *confidence);

/* 1 when the text is surely in language lang ("en" or "es"), so that
 * translating it into lang has nothing to do: it has 3 or more words and the
 * detector says lang with confidence >= 0.95. One- and two-word texts are
 * never "already" in a language (a single word fools the detector: "library"
 * looks Spanish). 0 otherwise. The API, both CLIs and the page decide with it. */
ATN_API int atn_text_is_in_language(const char *text, size_t len, const char *lang);

/* ---- dictionary (src/dictionary.c, the built-in `lookup` tool) --------- */

/* The bilingual dictionary models/dict-en-es.tsv (format in src/dictionary.c,
 * built by models/tools/make_dict.py). Loading copies the bytes and checks
 * every line; a damaged file gives NULL and a one-line reason. */
typedef struct atn_dict atn_dict;
ATN_API atn_dict *atn_dict_load(const void *data, size_t size);
ATN_API void atn_dict_free(atn_dict *d);
/* Entries of a language ("en" or "es"), or < 0. */
ATN_API int atn_dict_size(const atn_dict *d, const char *lang);
/* The `lookup` tool's result for len bytes of UTF-8 `word` in language
 * `from`: at most five translations, most common first, joined by ", ", or
 * exactly "(no entry)". The word is trimmed of spaces, punctuation and quotes,
 * lowercased, tried with and without one leading article ("to", "the", "el",
 * "las", ...), then accent-insensitively, then as a simple plural's singular.
 * Returns the result's byte count (nothing past cap is written; NUL-terminated
 * when it fits), or < 0 (bad `from`, invalid UTF-8, over 1024 bytes). */
ATN_API int atn_dict_lookup(const atn_dict *d, const char *word, size_t len, const char *from, char *out, int cap);

/* ---- threads (src/threads.c, docs/threads.md) -------------------------- */

/* Use n threads (1..16) for every later call: matrix products split by rows,
 * attention by heads. Natively starts pthreads; in the threaded WebAssembly
 * build (dist/atento-mt.wasm) the JS loader starts the workers. Results do
 * not depend on n. Returns the count in use (1 where the build has no
 * threads), or < 0 for a bad n or a call from inside a running loop. */
ATN_API int atn_set_threads(int n);
ATN_API int atn_threads(void);
/* The entry of a WebAssembly worker (id 1..n-1); returns when the pool
 * shrinks below id + 1 threads. For the JS loader only. */
ATN_API void atn_thread_run(int id);

/* ---- fine-tuning (translation models) -------------------------------------
 * Teach a marian model the user's sentence pairs (docs/training.md): LoRA
 * adapters on the decoder trained with label-smoothed cross-entropy and
 * AdamW, replaying the model's own translations of `replay` sentences so it
 * keeps the rest of its behaviour; the result is an ordinary GGUF file.
 *   f = atn_finetune_new(model, "es", 0, 0, seed);   steps, lr: 0 = defaults
 *   atn_finetune_add_pair(f, src, n, tgt, n) ...; atn_finetune_add_replay(f, src, n) ...
 *   while ((r = atn_finetune_step(f, &loss)) > 0) { progress }   r < 0: error
 *   bytes = atn_finetune_save(f, &size);  (atn_free them)
 * The model must outlive f and is not changed. */
typedef struct atn_finetune atn_finetune;
ATN_API atn_finetune *atn_finetune_new(atn_model *m, const char *target_lang, int steps, float lr, uint32_t seed);
ATN_API void atn_finetune_free(atn_finetune *f);
/* 0, or < 0 with a one-line reason (empty side, invalid UTF-8, too long). */
ATN_API int atn_finetune_add_pair(atn_finetune *f, const char *src, size_t src_len, const char *tgt, size_t tgt_len);
ATN_API int atn_finetune_add_replay(atn_finetune *f, const char *src, size_t len);
/* One optimizer step over all pairs and replayed sentences (the first call
 * also translates the replayed sentences). 1: done, *loss = its loss;
 * 0: all steps were done; < 0: error. */
ATN_API int atn_finetune_step(atn_finetune *f, float *loss);
/* {"pairs","replay","step","steps","lr","loss","lora_rank","lora_alpha","trainer_bytes"} */
ATN_API const char *atn_finetune_info_json(atn_finetune *f);
/* The fine-tuned model as GGUF bytes (atn_malloc'd), or NULL. */
ATN_API void *atn_finetune_save(atn_finetune *f, size_t *size);

/* The C reference quantizer (quant.h) for converters: n values (a multiple
 * of the type's block size) of type `type` (tensor.h) into dst. Returns the
 * bytes written, or 0 for an unsupported type or length. */
ATN_API size_t atn_quantize(int type, const float *src, void *dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* ATENTO_H */
