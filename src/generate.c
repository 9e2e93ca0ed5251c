/* generate.c — the streaming loop: sample a token from the session's last
 * logits, turn it into bytes, release only whole UTF-8 characters that can
 * no longer be the start of a stop string, and evaluate the token.
 *
 * Text flow of one step:  token bytes → pending → (stop string found? end,
 * releasing what precedes it) → release the longest prefix of pending that
 * ends on a whole character and is not followed by a possible stop-string
 * start. The end-of-generation token itself is never turned into text.
 */
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "error.h"
#include "model.h"
#include "tokenizer.h"

#define MAX_STOPS 16
#define MAX_STOP_LEN 256

struct atn_gen {
    atn_session *s;
    atn_sampler *smp;
    char *stops[MAX_STOPS];
    size_t stop_len[MAX_STOPS];
    int n_stop;
    char *pend;        /* bytes produced but not released yet */
    size_t pend_n, pend_cap;
    char *out;         /* text released by the last step, NUL-terminated */
    size_t out_n, out_cap;
    int done;
};

static int reserve(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c = atn_mul_size(c, 2);
    char *q = atn_size_ok(c) ? realloc(*p, c) : NULL;
    if (!q) return atn_error("generate: out of memory");
    *p = q;
    *cap = c;
    return 0;
}

ATN_API atn_gen *atn_gen_new(atn_session *s, atn_sampler *smp) {
    if (!s || !smp) { atn_error("generate: needs a session and a sampler"); return NULL; }
    if (!s->model->tok) { atn_error("generate: the model has no tokenizer"); return NULL; }
    atn_gen *g = calloc(1, sizeof *g);
    if (!g) { atn_error("generate: out of memory"); return NULL; }
    g->s = s;
    g->smp = smp;
    if (reserve(&g->out, &g->out_cap, 256) || reserve(&g->pend, &g->pend_cap, 256)) {
        atn_gen_free(g);
        return NULL;
    }
    g->out[0] = 0;
    return g;
}

ATN_API void atn_gen_free(atn_gen *g) {
    if (!g) return;
    for (int i = 0; i < g->n_stop; i++) free(g->stops[i]);
    free(g->pend);
    free(g->out);
    free(g);
}

ATN_API int atn_gen_add_stop(atn_gen *g, const char *stop, size_t len) {
    if (!g) return atn_error("generate: no generator");
    if (!stop || len == 0) return atn_error("generate: empty stop string");
    if (len > MAX_STOP_LEN) return atn_error("generate: stop string longer than %d bytes", MAX_STOP_LEN);
    if (!atn_utf8_valid(stop, len)) return atn_error("generate: stop string is not valid UTF-8");
    if (g->n_stop >= MAX_STOPS) return atn_error("generate: at most %d stop strings", MAX_STOPS);
    char *c = malloc(len);
    if (!c) return atn_error("generate: out of memory");
    memcpy(c, stop, len);
    g->stops[g->n_stop] = c;
    g->stop_len[g->n_stop++] = len;
    return 0;
}

static int emit(atn_gen *g, const char *p, size_t n) {
    if (reserve(&g->out, &g->out_cap, g->out_n + n + 1)) return -1;
    memcpy(g->out + g->out_n, p, n);
    g->out_n += n;
    g->out[g->out_n] = 0;
    return 0;
}

/* Release pending bytes up to `limit` as valid UTF-8: whole characters pass,
 * bytes that can never form one (a stray continuation byte, a lead byte
 * followed by a non-continuation, overlongs, surrogates) become U+FFFD, and
 * a character still incomplete at the end is kept pending unless `all`
 * (then it becomes U+FFFD too). */
static int release(atn_gen *g, size_t limit, int all) {
    size_t i = 0;
    while (i < limit) {
        unsigned char c = (unsigned char)g->pend[i];
        if (c < 0x80) {
            if (emit(g, g->pend + i, 1)) return -1;
            i++;
            continue;
        }
        int k = atn_utf8_char_len(c);
        if (k > 0 && i + (size_t)k > limit) {
            /* incomplete: may still be completed by the next token? */
            int cont = 1;
            for (size_t j = i + 1; j < limit; j++) cont &= ((unsigned char)g->pend[j] & 0xC0) == 0x80;
            if (cont && !all) break;
            k = 0;
        }
        if (k > 0 && atn_utf8_valid(g->pend + i, (size_t)k)) {
            if (emit(g, g->pend + i, (size_t)k)) return -1;
            i += (size_t)k;
        } else {
            if (emit(g, "\xEF\xBF\xBD", 3)) return -1;
            i++;
        }
    }
    memmove(g->pend, g->pend + i, g->pend_n - i);
    g->pend_n -= i;
    return 0;
}

static int release_all(atn_gen *g) { return release(g, g->pend_n, 1); }

/* Earliest complete stop-string match in pending, or -1. */
static long find_stop(const atn_gen *g) {
    long best = -1;
    for (int i = 0; i < g->n_stop; i++) {
        size_t L = g->stop_len[i];
        for (size_t j = 0; j + L <= g->pend_n; j++) {
            if (best >= 0 && (long)j >= best) break;
            if (!memcmp(g->pend + j, g->stops[i], L)) { best = (long)j; break; }
        }
    }
    return best;
}

/* Length of the longest suffix of pending that is a proper prefix of a stop. */
static size_t stop_hold(const atn_gen *g) {
    size_t hold = 0;
    for (int i = 0; i < g->n_stop; i++) {
        size_t L = g->stop_len[i];
        size_t k = L - 1 < g->pend_n ? L - 1 : g->pend_n;
        for (; k > hold; k--)
            if (!memcmp(g->pend + g->pend_n - k, g->stops[i], k)) { hold = k; break; }
    }
    return hold;
}

ATN_API int atn_gen_next(atn_gen *g, int32_t *token) {
    if (token) *token = -1;
    if (!g) return atn_error("generate: no generator");
    g->out_n = 0;
    g->out[0] = 0;
    if (g->done) return 0;
    atn_session *s = g->s;
    const atn_model *m = s->model;
    const float *logits = atn_logits(s, -1);
    if (!logits) return atn_error("generate: evaluate the prompt first (no logits)");
    int32_t id = atn_sample(g->smp, logits, m->n_vocab);
    if (id < 0) return -1;
    if (token) *token = id;
    atn_sampler_accept(g->smp, id);
    if (atn_token_is_eog(m, id)) {
        g->done = 1;
        return release_all(g) ? -1 : 0;
    }
    int tok_vocab = atn_tokenizer_n_vocab(m->tok);
    if (id < tok_vocab) {
        /* control tokens (BOS, <|im_start|>, ...) produce no text; user-defined
         * ones (Qwen's <tool_call>, <think>) are text, as in llama.cpp */
        int n = atn_tokenizer_is_control(m->tok, id) ? 0 : atn_tokenizer_token_bytes(m->tok, id, NULL, 0);
        if (n < 0) return -1;
        if (n > 0) {
            if (reserve(&g->pend, &g->pend_cap, g->pend_n + (size_t)n + 1)) return -1;
            atn_tokenizer_token_bytes(m->tok, id, g->pend + g->pend_n, n);
            g->pend_n += (size_t)n;
        }
    }
    long at = find_stop(g);
    if (at >= 0) {
        g->pend_n = (size_t)at;
        g->done = 1;
        return release_all(g) ? -1 : 0;
    }
    if (release(g, g->pend_n - stop_hold(g), 0)) return -1;
    if (s->n_past >= s->n_ctx) {
        g->done = 1; /* the context is full: this token ends the generation */
        return 1;
    }
    if (atn_eval(s, &id, 1, 0) != 0) return -1;
    return 1;
}

ATN_API const char *atn_gen_text(const atn_gen *g, size_t *len) {
    if (!g) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = g->out_n;
    return g->out;
}

ATN_API const char *atn_gen_flush(atn_gen *g, size_t *len) {
    if (!g) {
        if (len) *len = 0;
        return "";
    }
    g->out_n = 0;
    g->out[0] = 0;
    if (release_all(g)) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = g->out_n;
    return g->out;
}
