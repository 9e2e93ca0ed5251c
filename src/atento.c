/* atento.c — the public API (atento.h) over the pieces: GGUF reader,
 * architecture table, tokenizer, sessions.
 *
 * Nothing here does I/O: the model arrives as bytes in memory, errors leave
 * through atn_error(). Every argument that crosses the API is checked here,
 * so the architecture files can assume sane input (see model.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "error.h"
#include "gguf.h"
#include "kernels.h"
#include "model.h"
#include "quant.h"
#include "tensor.h"
#include "threads.h"
#include "tokenizer.h"

/* ---- architectures ------------------------------------------------------ */

static const struct {
    const char *name;
    const atn_arch *arch;
} ARCHES[] = {
    {"llama", &atn_arch_llama},
    {"qwen2", &atn_arch_llama},
    {"qwen3", &atn_arch_llama},
    {"gemma2", &atn_arch_llama},
    {"gemma3", &atn_arch_llama},
    {"phi3", &atn_arch_llama},
    {"marian", &atn_arch_marian},
};

static const atn_arch *find_arch(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof ARCHES / sizeof ARCHES[0]; i++)
        if (strlen(ARCHES[i].name) == len && !memcmp(ARCHES[i].name, name, len)) return ARCHES[i].arch;
    return NULL;
}

/* A file that has a vocabulary but cannot run (no tensors, or an
 * architecture atento does not implement) loads with this table: the
 * tokenizer works, a session cannot be made. */
static int vocab_only_load(atn_model *m) {
    m->n_vocab = atn_tokenizer_n_vocab(m->tok);
    return 0;
}
static int vocab_only_session(atn_session *s) { return atn_error("session: %s", s->model->not_runnable); }
static int vocab_only_eval(atn_session *s, const int32_t *tokens, int n, int all_logits) {
    (void)tokens; (void)n; (void)all_logits;
    return atn_error("eval: %s", s->model->not_runnable);
}
static const atn_arch vocab_only_arch = {
    .name = "vocabulary only", .load = vocab_only_load, .session_init = vocab_only_session, .eval = vocab_only_eval,
};

/* ---- memory ------------------------------------------------------------- */

ATN_API void *atn_malloc(size_t n) { return malloc(n ? n : 1); }
ATN_API void atn_free(void *p) { free(p); }

/* ---- a growing string for the info JSON --------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len) {
    if (b->oom) return;
    size_t need = atn_add_size(atn_add_size(b->n, len), 1);
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < need) cap = atn_mul_size(cap, 2);
        char *p = atn_size_ok(cap) ? realloc(b->p, cap) : NULL;
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    sb_put(b, tmp, (size_t)n);
}

/* A JSON string literal; control characters escaped, bytes >= 0x80 passed
 * through (invalid UTF-8 becomes U+FFFD so the JSON stays valid). */
static void sb_json_str(sbuf *b, const char *s, size_t len) {
    sb_put(b, "\"", 1);
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char e[8];
            if (c == '"' || c == '\\') { e[0] = '\\'; e[1] = (char)c; sb_put(b, e, 2); }
            else if (c == '\n') sb_put(b, "\\n", 2);
            else if (c == '\r') sb_put(b, "\\r", 2);
            else if (c == '\t') sb_put(b, "\\t", 2);
            else if (c < 0x20 || c == 0x7f) { snprintf(e, sizeof e, "\\u%04x", c); sb_put(b, e, 6); }
            else sb_put(b, (const char *)&c, 1);
            i++;
            continue;
        }
        int k = atn_utf8_char_len(c);
        if (k == 0 || i + (size_t)k > len || !atn_utf8_valid(s + i, (size_t)k)) {
            sb_put(b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            sb_put(b, s + i, (size_t)k);
            i += (size_t)k;
        }
    }
    sb_put(b, "\"", 1);
}

static char *build_info_json(const atn_model *m) {
    sbuf b = {0};
    const atn_gguf *g = m->gguf;
    sb_put(&b, "{\"architecture\":", 16);
    sb_json_str(&b, m->arch_name, strlen(m->arch_name));
    const char *s;
    size_t len;
    if (atn_gguf_get_str(g, "general.name", &s, &len) == 0) {
        sb_put(&b, ",\"name\":", 8);
        sb_json_str(&b, s, len);
    }
    sb_printf(&b, ",\"gguf_version\":%u,\"file_bytes\":%zu,\"n_vocab\":%d,\"n_ctx_train\":%d,\"kernels\":\"%s\"",
              atn_gguf_version(g), m->size, m->n_vocab, m->n_ctx_train, atn_kernels_name());
    sb_printf(&b, ",\"runnable\":%s", m->not_runnable[0] ? "false" : "true");
    if (m->not_runnable[0]) {
        sb_put(&b, ",\"not_runnable\":", 16);
        sb_json_str(&b, m->not_runnable, strlen(m->not_runnable));
    }
    sb_put(&b, ",\"warnings\":[", 13);
    for (const char *w = m->warnings; w && *w;) {
        const char *e = strchr(w, '\n');
        size_t wl = e ? (size_t)(e - w) : strlen(w);
        if (w != m->warnings) sb_put(&b, ",", 1);
        sb_json_str(&b, w, wl);
        w += wl + (e ? 1 : 0);
    }
    sb_put(&b, "]", 1);
    /* hyper-parameters from the architecture */
    sb_put(&b, ",\"hparams\":{", 12);
    if (m->arch->info_json) {
        char frag[2048];
        int n = m->arch->info_json(m, frag, sizeof frag);
        if (n > 0) sb_put(&b, frag, (size_t)n < sizeof frag ? (size_t)n : sizeof frag - 1);
    }
    sb_put(&b, "}", 1);
    /* tensors: totals by type, then each one */
    int nt = atn_gguf_n_tensors(g);
    size_t count[ATN_TYPE_COUNT] = {0}, bytes[ATN_TYPE_COUNT] = {0}, total = 0;
    int64_t params = 0;
    for (int i = 0; i < nt; i++) {
        const atn_tensor *t = atn_gguf_tensor(g, i);
        if (t->type >= 0 && t->type < ATN_TYPE_COUNT) { count[t->type]++; bytes[t->type] += t->nbytes; }
        total += t->nbytes;
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    sb_printf(&b, ",\"tensors\":{\"count\":%d,\"bytes\":%zu,\"parameters\":%lld,\"by_type\":{", nt, total,
              (long long)params);
    int first = 1;
    for (int ty = 0; ty < ATN_TYPE_COUNT; ty++) {
        if (!count[ty]) continue;
        sb_printf(&b, "%s\"%s\":{\"count\":%zu,\"bytes\":%zu}", first ? "" : ",", atn_type_name(ty), count[ty], bytes[ty]);
        first = 0;
    }
    sb_put(&b, "},\"list\":[", 10);
    for (int i = 0; i < nt; i++) {
        const atn_tensor *t = atn_gguf_tensor(g, i);
        sb_put(&b, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
        sb_json_str(&b, t->name, strlen(t->name));
        sb_printf(&b, ",\"type\":\"%s\",\"shape\":[", atn_type_name(t->type));
        for (int d = 0; d < t->n_dims; d++) sb_printf(&b, "%s%lld", d ? "," : "", (long long)t->ne[d]);
        sb_printf(&b, "],\"bytes\":%zu}", t->nbytes);
    }
    sb_put(&b, "]}", 2);
    /* tokenizer */
    if (m->tok) {
        const char *kind = atn_tokenizer_kind(m->tok);
        sb_put(&b, ",\"tokenizer\":{\"kind\":", 21);
        sb_json_str(&b, kind, strlen(kind));
        sb_printf(&b, ",\"n_vocab\":%d,\"bos\":%d,\"eos\":%d,\"add_bos\":%s", atn_tokenizer_n_vocab(m->tok),
                  (int)atn_tokenizer_bos(m->tok), (int)atn_tokenizer_eos(m->tok),
                  atn_tokenizer_add_bos(m->tok) ? "true" : "false");
        if (atn_gguf_get_str(g, "tokenizer.ggml.pre", &s, &len) == 0) {
            sb_put(&b, ",\"pre\":", 7);
            sb_json_str(&b, s, len);
        }
        sb_put(&b, "}", 1);
    } else {
        sb_put(&b, ",\"tokenizer\":null", 17);
    }
    sb_put(&b, ",\"chat_template\":", 17);
    if (m->chat_template) sb_json_str(&b, m->chat_template, strlen(m->chat_template));
    else sb_put(&b, "null", 4);
    sb_put(&b, "}", 1);
    if (b.oom) { free(b.p); return NULL; }
    return b.p;
}

/* ---- models ------------------------------------------------------------- */

ATN_API void atn_model_free(atn_model *m) {
    if (!m) return;
    if (m->arch && m->arch->free && m->impl) m->arch->free(m);
    if (m->src_tok && m->src_tok != m->tok) atn_tokenizer_free(m->src_tok);
    if (m->tok) atn_tokenizer_free(m->tok);
    if (m->gguf) atn_gguf_close(m->gguf);
    free(m->info_json);
    free(m->chat_template);
    free(m->tools_json);
    free(m->warnings);
    if (m->owns_data) free(m->data);
    free(m);
}

/* m->warnings: the tokenizer's load-time warnings, one a line */
static int collect_warnings(atn_model *m) {
    if (!m->tok || atn_tokenizer_n_warnings(m->tok) == 0) return 0;
    size_t n = 0;
    for (int i = 0; i < atn_tokenizer_n_warnings(m->tok); i++) n += strlen(atn_tokenizer_warning(m->tok, i)) + 1;
    m->warnings = malloc(n);
    if (!m->warnings) return atn_error("load: out of memory");
    size_t k = 0;
    for (int i = 0; i < atn_tokenizer_n_warnings(m->tok); i++) {
        const char *w = atn_tokenizer_warning(m->tok, i);
        size_t l = strlen(w);
        if (k) m->warnings[k++] = '\n';
        memcpy(m->warnings + k, w, l);
        k += l;
    }
    m->warnings[k] = 0;
    return 0;
}

ATN_API atn_model *atn_model_load(void *data, size_t size, int take_ownership) {
    return atn_model_load_flags(data, size, take_ownership, 0);
}

ATN_API atn_model *atn_model_load_flags(void *data, size_t size, int take_ownership, int flags) {
    if (!data || size == 0) {
        if (take_ownership) free(data);
        atn_error("load: no model bytes");
        return NULL;
    }
    atn_model *m = calloc(1, sizeof *m);
    if (!m) {
        if (take_ownership) free(data);
        atn_error("load: out of memory");
        return NULL;
    }
    m->data = data;
    m->size = size;
    m->owns_data = take_ownership != 0;
    char err[256];
    err[0] = 0;
    m->gguf = atn_gguf_open(data, size, err, sizeof err);
    if (!m->gguf) {
        atn_error("load: %s", err[0] ? err : "not a GGUF file");
        goto fail;
    }
    const char *an;
    size_t alen;
    if (atn_gguf_get_str(m->gguf, "general.architecture", &an, &alen) != 0) {
        atn_error("load: general.architecture is missing or not a string");
        goto fail;
    }
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)(alen < sizeof m->arch_name ? alen : sizeof m->arch_name - 1), an);
    for (char *c = m->arch_name; *c; c++) if ((unsigned char)*c < 32 || (unsigned char)*c > 126) *c = '?';
    if (atn_gguf_find(m->gguf, "tokenizer.ggml.model") >= 0) {
        m->tok = atn_tokenizer_load_flags(m->gguf, "tokenizer.ggml",
                                          (flags & ATN_LOAD_ANY_PRETOKENIZER) ? ATN_TOK_ANY_PRETOKENIZER : 0, err, sizeof err);
        if (!m->tok) {
            atn_error("load: tokenizer: %s", err);
            goto fail;
        }
        if (collect_warnings(m) != 0) goto fail;
    }
    m->arch = find_arch(an, alen);
    if (!m->arch) {
        if (!m->tok) {
            atn_error("load: unsupported architecture '%.*s'", (int)(alen > 64 ? 64 : alen), an);
            goto fail;
        }
        snprintf(m->not_runnable, sizeof m->not_runnable,
                 "architecture '%.*s' is not supported for running (only its vocabulary was loaded)", (int)(alen > 64 ? 64 : alen), an);
        m->arch = &vocab_only_arch;
    } else if (m->tok && atn_gguf_n_tensors(m->gguf) == 0) {
        snprintf(m->not_runnable, sizeof m->not_runnable, "this file has only a vocabulary (no tensors)");
        m->arch = &vocab_only_arch;
    }
    if (m->arch->load(m) != 0) goto fail;
    if (m->n_vocab <= 0) {
        atn_error("load: the model has no vocabulary");
        goto fail;
    }
    if (m->tok && atn_tokenizer_n_vocab(m->tok) > m->n_vocab) {
        atn_error("load: the tokenizer has %d tokens but the model only %d", atn_tokenizer_n_vocab(m->tok), m->n_vocab);
        goto fail;
    }
    const char *ct;
    size_t ctlen;
    if (atn_gguf_get_str(m->gguf, "tokenizer.chat_template", &ct, &ctlen) == 0) {
        m->chat_template = malloc(atn_add_size(ctlen, 1));
        if (!m->chat_template) { atn_error("load: out of memory"); goto fail; }
        memcpy(m->chat_template, ct, ctlen);
        m->chat_template[ctlen] = 0;
    }
    /* The tools a model was trained to call (docs/chat.md: built-in tools). */
    if (atn_gguf_get_str(m->gguf, "atento.tools", &ct, &ctlen) == 0) {
        m->tools_json = malloc(atn_add_size(ctlen, 1));
        if (!m->tools_json) { atn_error("load: out of memory"); goto fail; }
        memcpy(m->tools_json, ct, ctlen);
        m->tools_json[ctlen] = 0;
    }
    m->info_json = build_info_json(m);
    if (!m->info_json) { atn_error("load: out of memory"); goto fail; }
    return m;
fail:
    atn_model_free(m);
    return NULL;
}

ATN_API const char *atn_model_info_json(const atn_model *m) { return m ? m->info_json : NULL; }
ATN_API const char *atn_model_arch(const atn_model *m) { return m ? m->arch_name : NULL; }
ATN_API const char *atn_model_warnings(const atn_model *m) { return m ? m->warnings : NULL; }
ATN_API int atn_model_n_vocab(const atn_model *m) { return m ? m->n_vocab : atn_error("no model"); }
ATN_API int atn_model_n_ctx_train(const atn_model *m) { return m ? m->n_ctx_train : atn_error("no model"); }
ATN_API const char *atn_model_chat_template(const atn_model *m) { return m ? m->chat_template : NULL; }
ATN_API const char *atn_model_tools_json(const atn_model *m) { return m ? m->tools_json : NULL; }

/* ---- tokenizer ---------------------------------------------------------- */

#define NEED_TOK(m)                                                        \
    do {                                                                   \
        if (!(m)) return atn_error("no model");                            \
        if (!(m)->tok) return atn_error("the model has no tokenizer");     \
    } while (0)

ATN_API int atn_tokenize(const atn_model *m, const char *text, size_t len, int add_special, int parse_special,
                         int32_t *ids, int cap) {
    NEED_TOK(m);
    if (!text && len) return atn_error("tokenize: no text");
    if (cap < 0 || (cap > 0 && !ids)) return atn_error("tokenize: bad output buffer");
    return atn_tokenizer_encode(m->tok, text ? text : "", len, add_special, parse_special, ids, cap);
}

ATN_API int atn_token_to_bytes(const atn_model *m, int32_t id, char *out, int cap) {
    NEED_TOK(m);
    if (cap < 0 || (cap > 0 && !out)) return atn_error("token_to_bytes: bad output buffer");
    return atn_tokenizer_token_bytes(m->tok, id, out, cap);
}

ATN_API int atn_token_piece(const atn_model *m, int32_t id, char *out, int cap) {
    NEED_TOK(m);
    if (cap < 0 || (cap > 0 && !out)) return atn_error("token_piece: bad output buffer");
    return atn_tokenizer_piece(m->tok, id, out, cap);
}

ATN_API int atn_detokenize(const atn_model *m, const int32_t *ids, int n, char *out, int cap) {
    NEED_TOK(m);
    if (n < 0 || (n > 0 && !ids)) return atn_error("detokenize: bad ids");
    if (cap < 0 || (cap > 0 && !out)) return atn_error("detokenize: bad output buffer");
    int nv = atn_tokenizer_n_vocab(m->tok);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= nv) return atn_error("detokenize: token id %d out of range [0, %d)", (int)ids[i], nv);
    return atn_tokenizer_decode(m->tok, ids, n, 0, out, cap);
}

ATN_API int32_t atn_token_bos(const atn_model *m) { return m && m->tok ? atn_tokenizer_bos(m->tok) : -1; }
ATN_API int32_t atn_token_eos(const atn_model *m) { return m && m->tok ? atn_tokenizer_eos(m->tok) : -1; }
ATN_API int atn_token_is_eog(const atn_model *m, int32_t id) {
    if (!m || !m->tok || id < 0 || id >= atn_tokenizer_n_vocab(m->tok)) return 0;
    return atn_tokenizer_is_eog(m->tok, id);
}
ATN_API int32_t atn_token_lookup(const atn_model *m, const char *text, size_t len) {
    if (!m || !m->tok || (!text && len)) return -1;
    return atn_tokenizer_lookup(m->tok, text ? text : "", len);
}

/* ---- sessions ----------------------------------------------------------- */

#define ATN_MAX_CTX (1 << 20)

ATN_API atn_session *atn_session_new(atn_model *m, int n_ctx) { return atn_session_new_ex(m, n_ctx, NULL); }

ATN_API atn_session *atn_session_new_ex(atn_model *m, int n_ctx, const atn_session_params *p) {
    if (!m) { atn_error("session: no model"); return NULL; }
    int kv_type = p ? p->kv_type : ATN_KV_F32;
    if (kv_type != ATN_KV_F32 && kv_type != ATN_KV_F16) {
        atn_error("session: unknown KV cache type %d (%d: f32, %d: f16)", kv_type, ATN_KV_F32, ATN_KV_F16);
        return NULL;
    }
    if (n_ctx <= 0) {
        n_ctx = m->n_ctx_train > 0 ? m->n_ctx_train : 4096;
        if (n_ctx > 4096) n_ctx = 4096;
    }
    if (n_ctx > ATN_MAX_CTX) { atn_error("session: n_ctx %d is too large (at most %d)", n_ctx, ATN_MAX_CTX); return NULL; }
    atn_session *s = calloc(1, sizeof *s);
    if (!s) { atn_error("session: out of memory"); return NULL; }
    s->model = m;
    s->n_ctx = n_ctx;
    s->kv_type = kv_type;
    if (m->arch->session_init(s) != 0) {
        if (m->arch->session_free) m->arch->session_free(s);
        free(s->logits);
        free(s);
        return NULL;
    }
    s->tokens = atn_malloc_array((size_t)s->n_ctx, sizeof(int32_t));
    if (!s->tokens) {
        atn_error("session: out of memory");
        atn_session_free(s);
        return NULL;
    }
    return s;
}

ATN_API void atn_session_free(atn_session *s) {
    if (!s) return;
    if (s->model && s->model->arch->session_free) s->model->arch->session_free(s);
    free(s->logits); /* the arch may have freed it already and set it to NULL */
    free(s->tokens);
    free(s);
}

ATN_API int atn_session_kv_type(const atn_session *s) { return s ? s->kv_type : atn_error("no session"); }
ATN_API size_t atn_session_kv_bytes(const atn_session *s) {
    if (!s) {
        atn_error("no session");
        return 0;
    }
    return s->kv_bytes;
}
ATN_API int atn_session_n_ctx(const atn_session *s) { return s ? s->n_ctx : atn_error("no session"); }
ATN_API int atn_session_n_past(const atn_session *s) { return s ? s->n_past : atn_error("no session"); }

ATN_API int atn_session_truncate(atn_session *s, int n_keep) {
    if (!s) return atn_error("no session");
    if (n_keep < 0 || n_keep > s->n_past)
        return atn_error("truncate: n_keep %d is outside [0, %d]", n_keep, s->n_past);
    s->n_past = n_keep;   /* cache rows past n_keep are simply overwritten */
    s->n_logits = 0;
    s->n_eval = 0;
    return 0;
}

ATN_API int atn_eval(atn_session *s, const int32_t *tokens, int n, int all_logits) {
    if (!s) return atn_error("eval: no session");
    if (n <= 0 || !tokens) return atn_error("eval: no tokens (n = %d)", n);
    if (n > s->n_ctx - s->n_past)
        return atn_error("eval: context full (%d cached + %d new > n_ctx %d)", s->n_past, n, s->n_ctx);
    int nv = s->model->n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return atn_error("eval: token id %d at position %d is out of range [0, %d)", (int)tokens[i], i, nv);
    s->n_logits = 0;
    s->n_eval = 0;
    s->all_logits = all_logits != 0;
    if (s->model->arch->eval(s, tokens, n, s->all_logits) != 0) return -1;
    memcpy(s->tokens + s->n_past, tokens, (size_t)n * sizeof(int32_t));
    s->n_past += n;
    s->n_eval = n;
    return 0;
}

ATN_API const float *atn_logits(const atn_session *s, int i) {
    if (!s) { atn_error("logits: no session"); return NULL; }
    if (s->n_eval <= 0 || s->n_logits <= 0) { atn_error("logits: nothing evaluated yet"); return NULL; }
    if (i == -1) i = s->n_eval - 1;
    if (i < 0 || i >= s->n_eval) { atn_error("logits: index %d outside the last eval of %d tokens", i, s->n_eval); return NULL; }
    if (s->n_logits == s->n_eval) return s->logits + (size_t)i * (size_t)s->model->n_vocab;
    if (i == s->n_eval - 1) return s->logits + (size_t)(s->n_logits - 1) * (size_t)s->model->n_vocab;
    atn_error("logits: token %d's logits were not kept (eval with all_logits)", i);
    return NULL;
}

/* log p(tok) under softmax(logits), computed stably in double. */
static float log_softmax_at(const float *logits, int n, int32_t tok) {
    float mx = logits[0];
    for (int j = 1; j < n; j++) if (logits[j] > mx) mx = logits[j];
    double sum = 0;
    for (int j = 0; j < n; j++) sum += exp((double)(logits[j] - mx));
    return (float)((double)(logits[tok] - mx) - log(sum));
}

#define SCORE_CHUNK 64

ATN_API int atn_score(atn_session *s, const int32_t *tokens, int n, float *logprobs) {
    if (!s) return atn_error("score: no session");
    if (n <= 0 || !tokens) return atn_error("score: no tokens (n = %d)", n);
    if (n > 1 && !logprobs) return atn_error("score: no output buffer");
    if (s->model->arch->set_source) {
        /* encoder-decoder: the decoder must start from its start token */
        uint32_t start = 0;
        char key[64];
        snprintf(key, sizeof key, "%s.decoder_start_token_id", s->model->arch_name);
        if (atn_gguf_get_u32(s->model->gguf, key, &start) == 0 && tokens[0] != (int32_t)start)
            return atn_error("score: for an encoder-decoder model the tokens must begin with the decoder start token %u",
                             start);
    }
    if (n > s->n_ctx) return atn_error("score: %d tokens do not fit a context of %d", n, s->n_ctx);
    int nv = s->model->n_vocab;
    for (int i = 1; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return atn_error("score: token id %d at position %d is out of range [0, %d)", (int)tokens[i], i, nv);
    s->n_past = 0;
    if (n == 1) return 0;
    /* one pass over the sequence, in chunks so that only SCORE_CHUNK rows of
     * logits exist at a time (a 4096-token text over a 150k vocabulary would
     * otherwise need gigabytes) */
    for (int i0 = 0; i0 < n - 1; i0 += SCORE_CHUNK) {
        int c = n - 1 - i0 < SCORE_CHUNK ? n - 1 - i0 : SCORE_CHUNK;
        if (atn_eval(s, tokens + i0, c, 1) != 0) return -1;
        for (int j = 0; j < c; j++)
            logprobs[i0 + j] = log_softmax_at(s->logits + (size_t)j * (size_t)nv, nv, tokens[i0 + j + 1]);
    }
    return n - 1;
}

ATN_API int atn_set_source(atn_session *s, const int32_t *src_ids, int n) {
    if (!s) return atn_error("set_source: no session");
    if (!s->model->arch->set_source)
        return atn_error("set_source: '%s' is not an encoder-decoder model", s->model->arch_name);
    if (n <= 0 || !src_ids) return atn_error("set_source: no source tokens (n = %d)", n);
    int nv = s->model->src_tok ? atn_tokenizer_n_vocab(s->model->src_tok) : s->model->n_vocab;
    for (int i = 0; i < n; i++)
        if (src_ids[i] < 0 || src_ids[i] >= nv)
            return atn_error("set_source: token id %d at position %d is out of range [0, %d)", (int)src_ids[i], i, nv);
    int r = s->model->arch->set_source(s, src_ids, n);
    if (r != 0) return r;
    s->n_past = 0;
    s->n_logits = 0;
    s->n_eval = 0;
    return 0;
}

/* ---- converters --------------------------------------------------------- */

ATN_API size_t atn_quantize(int type, const float *src, void *dst, size_t n) {
    if (!src || !dst || n == 0 || !atn_type_known(type)) return 0;
    return atn_quantize_row(type, src, dst, (int64_t)n);
}

ATN_API int atn_set_threads(int n) {
    int got = atn_threads_set(n);
    if (got < 0) return atn_error("threads: %d is not a thread count from 1 to %d (or a loop is running)", n, ATN_MAX_THREADS);
    return got;
}

ATN_API int atn_threads(void) { return atn_threads_get(); }

ATN_API void atn_thread_run(int id) { atn_thread_worker(id); }
