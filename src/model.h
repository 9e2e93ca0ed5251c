/* model.h — what every architecture shares: the model and session structs
 * behind the opaque handles of atento.h, and the table of operations an
 * architecture file (models/llama.c, models/marian.c) provides.
 */
#ifndef ATN_MODEL_H
#define ATN_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "atento.h"
#include "gguf.h"
#include "tokenizer.h"

typedef struct atn_arch {
    const char *name;                       /* GGUF general.architecture */
    /* Read hyper-parameters and tensors from m->gguf into m->impl;
     * check every shape. Returns 0 or atn_error(...). */
    int (*load)(atn_model *m);
    void (*free)(atn_model *m);
    /* Append a JSON fragment of hyper-parameters ("\"n_layer\":30,...")
     * to buf (cap bytes); returns bytes written. */
    int (*info_json)(const atn_model *m, char *buf, int cap);
    /* Allocate s->impl (KV cache, activations) and s->logits. */
    int (*session_init)(atn_session *s);
    void (*session_free)(atn_session *s);
    /* Forward pass over n tokens at positions n_past..n_past+n-1; writes
     * logits (n rows if all_logits, else 1) into s->logits. */
    int (*eval)(atn_session *s, const int32_t *tokens, int n, int all_logits);
    /* Encoder-decoder only (NULL otherwise). */
    int (*set_source)(atn_session *s, const int32_t *src, int n);
} atn_arch;

struct atn_model {
    void *data;              /* the GGUF bytes */
    size_t size;
    int owns_data;
    atn_gguf *gguf;
    const atn_arch *arch;
    void *impl;              /* the architecture's weights + hparams */
    atn_tokenizer *tok;      /* the (target) vocabulary */
    atn_tokenizer *src_tok;  /* marian: source vocabulary (may equal tok) */
    int n_vocab;
    int n_ctx_train;
    char *info_json;
    char *chat_template;     /* NUL-terminated copy, or NULL */
    char *tools_json;        /* GGUF atento.tools (the built-in tools it calls), copy, or NULL */
    char arch_name[32];      /* general.architecture ("llama", "qwen2", ...) */
    char *warnings;          /* load-time warnings, '\n'-separated, or NULL */
    char not_runnable[160];  /* tokenizer-only model: why it cannot run ("" if it can) */
};

struct atn_session {
    atn_model *model;
    int n_ctx;
    int n_past;
    float *logits;           /* n_logits_cap rows of n_vocab */
    int n_logits;            /* rows valid after the last eval */
    int n_logits_cap;
    int all_logits;
    int n_eval;              /* tokens of the last eval (atn_logits' index range) */
    int32_t *tokens;         /* n_ctx ids: tokens[0..n_past) are the ones in the cache */
    int kv_type;             /* ATN_KV_F32 or ATN_KV_F16 (checked before session_init) */
    size_t kv_bytes;         /* bytes of the KV cache (keys and values) the arch holds now */
    void *impl;
};

/* The session keeps the ids in its cache (chat.c reuses the common prefix). */
#define ATN_SESSION_TOKENS 1

/* Contract for arch->eval: it is called with 1 <= n, n_past + n <= n_ctx and
 * every id in [0, n_vocab) (atento.c checks); it must not change n_past
 * (atento.c advances it and records the ids after a successful eval). */

/* Architectures known to the loader (atento.c). */
extern const atn_arch atn_arch_llama;   /* "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3" */
extern const atn_arch atn_arch_marian;  /* "marian" */

#endif
