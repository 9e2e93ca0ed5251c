/* chat.c — conversations: rendering a message list with the model's chat
 * template (falling back to ChatML), fitting it into the context by dropping
 * the oldest turns, and multi-turn prefill that reuses the KV cache. */
#include <stdlib.h>
#include <string.h>
#include "atento.h"
#include "chat.h"
#include "chat_template.h"
#include "checked.h"
#include "error.h"
#include "model.h"
#include "tokenizer.h"

/* The text of a special token (bos/eos) as the template expects it: the
 * piece as stored in the vocabulary, or "" when the model has none. */
static char *token_text(const atn_model *m, int32_t id) {
    if (!m || !m->tok || id < 0) return NULL;
    int n = atn_tokenizer_piece(m->tok, id, NULL, 0);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    atn_tokenizer_piece(m->tok, id, s, n + 1);
    s[n] = 0;
    return s;
}

ATN_API int atn_chat_render(const atn_model *m, const char *const *roles, const char *const *contents,
                            int n_msgs, int add_generation_prompt, int *used_fallback, char *out, int cap) {
    if (n_msgs < 0 || (n_msgs > 0 && (!roles || !contents)) || cap < 0 || (cap > 0 && !out))
        return atn_error("atn_chat_render: bad arguments");
    for (int i = 0; i < n_msgs; i++)
        if (!roles[i] || !contents[i]) return atn_error("atn_chat_render: message %d has no role or content", i);
    const char *tmpl = m ? m->chat_template : NULL;
    if (used_fallback) *used_fallback = tmpl == NULL;
    if (!tmpl) tmpl = atn_template_chatml;
    char *bos = m && m->tok ? token_text(m, atn_tokenizer_bos(m->tok)) : NULL;
    char *eos = m && m->tok ? token_text(m, atn_tokenizer_eos(m->tok)) : NULL;
    char err[300], *text = NULL;
    size_t len = 0;
    int r = atn_template_render(tmpl, strlen(tmpl), roles, contents, n_msgs, add_generation_prompt,
                                bos ? bos : "", eos ? eos : "", &text, &len, err, sizeof err);
    free(bos);
    free(eos);
    if (r < 0) return atn_error("%s", err);
    if (len > (size_t)0x7FFFFFFF - 1) {
        free(text);
        return atn_error("chat prompt too long");
    }
    if (cap > 0) {
        size_t k = len < (size_t)cap ? len : (size_t)cap;
        memcpy(out, text, k);
        if (len < (size_t)cap) out[len] = 0;
    }
    free(text);
    return (int)len;
}

/* ---- multi-turn: fitting a conversation into the context --------------- */

/* Tokenize a rendered prompt the way chat templates expect: special tokens
 * in the text (<|im_start|>, <s>, ...) become their ids, and BOS is added only
 * when the model asks for it and the template did not already write it. */
static int tokenize_prompt(const atn_model *m, const char *text, size_t len, int32_t **ids) {
    int add_bos = 1;
    int32_t bos = atn_tokenizer_bos(m->tok);
    char *bos_text = token_text(m, bos);
    if (bos_text && bos_text[0] && strncmp(text, bos_text, strlen(bos_text)) == 0) add_bos = 0;
    free(bos_text);
    int n = atn_tokenizer_encode(m->tok, text, len, add_bos, 1, NULL, 0);
    if (n < 0) return -1;
    *ids = atn_malloc_array((size_t)n, sizeof(int32_t));
    if (!*ids) return atn_error("out of memory");
    if (atn_tokenizer_encode(m->tok, text, len, add_bos, 1, *ids, n) != n) {
        free(*ids);
        *ids = NULL;
        return atn_error("tokenize: inconsistent length");
    }
    return n;
}

int atn_chat_common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

static int is_role(const char *r, const char *want) { return r && strcmp(r, want) == 0; }

/* Render + tokenize the conversation with the first `drop` messages after the
 * system prompt left out. Returns the token count, ids in *ids (malloc'd). */
static int render_ids(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                      int first, int drop, const char **r, const char **c, int32_t **ids) {
    int k = 0;
    for (int i = 0; i < first; i++) { r[k] = roles[i]; c[k] = contents[i]; k++; }
    for (int i = first + drop; i < n_msgs; i++) { r[k] = roles[i]; c[k] = contents[i]; k++; }
    int len = atn_chat_render(m, r, c, k, 1, NULL, NULL, 0);
    if (len < 0) return -1;
    char *text = malloc((size_t)len + 1);
    if (!text) return atn_error("out of memory");
    atn_chat_render(m, r, c, k, 1, NULL, text, len + 1);
    int n = tokenize_prompt(m, text, (size_t)len, ids);
    free(text);
    return n;
}

int atn_chat_fit(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                 int budget, int32_t **ids, int *n_dropped) {
    *ids = NULL;
    if (n_dropped) *n_dropped = 0;
    if (!m || !m->tok) return atn_error("chat: the model has no tokenizer");
    if (n_msgs <= 0 || !roles || !contents) return atn_error("chat: no messages");
    int first = is_role(roles[0], "system") ? 1 : 0;
    const char **r = atn_malloc_array((size_t)n_msgs, sizeof(char *));
    const char **c = atn_malloc_array((size_t)n_msgs, sizeof(char *));
    int *cuts = atn_malloc_array((size_t)n_msgs, sizeof(int));
    int result = -1, n_cuts = 0;
    if (!r || !c || !cuts) { atn_error("out of memory"); goto done; }
    /* the usual case: everything fits */
    int n = render_ids(m, roles, contents, n_msgs, first, 0, r, c, ids);
    if (n < 0) goto done;
    if (n <= budget) { result = n; goto done; }
    free(*ids);
    *ids = NULL;
    /* Where the kept part may start: at a user message after the first kept
     * one, never past the last user message. Fewer messages never need more
     * tokens, so binary-search the smallest drop that fits. */
    for (int j = first + 1; j < n_msgs; j++)
        if (is_role(roles[j], "user")) cuts[n_cuts++] = j - first;
    int lo = 0, hi = n_cuts - 1, best = -1, best_n = 0;
    int32_t *best_ids = NULL;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int32_t *t = NULL;
        int k = render_ids(m, roles, contents, n_msgs, first, cuts[mid], r, c, &t);
        if (k < 0) { free(best_ids); goto done; }
        if (k <= budget) {
            free(best_ids);
            best_ids = t;
            best = mid;
            best_n = k;
            hi = mid - 1;
        } else {
            free(t);
            lo = mid + 1;
        }
    }
    if (best < 0) {
        atn_error("chat: the prompt does not fit in %d tokens even with only %slast message", budget,
                  first ? "the system prompt and the " : "the ");
        goto done;
    }
    *ids = best_ids;
    if (n_dropped) *n_dropped = cuts[best];
    result = best_n;
done:
    free(r);
    free(c);
    free(cuts);
    return result;
}

/* ---- multi-turn prefill ------------------------------------------------- */

#ifdef ATN_SESSION_TOKENS
/* Needs the session to know the ids in its KV cache: atn_session.tokens
 * (model.h), kept by atn_eval and atn_session_truncate. */
ATN_API int atn_chat_prefill(atn_session *s, const char *const *roles, const char *const *contents,
                             int n_msgs, int reserve, int *n_dropped) {
    if (n_dropped) *n_dropped = 0;
    if (!s || !s->model) return atn_error("chat: no session");
    int n_ctx = atn_session_n_ctx(s);
    if (reserve < 0) reserve = 0;
    if (reserve >= n_ctx) return atn_error("chat: reserve %d leaves no room in a context of %d", reserve, n_ctx);
    int32_t *ids = NULL;
    int dropped = 0;
    int n = atn_chat_fit(s->model, roles, contents, n_msgs, n_ctx - reserve, &ids, &dropped);
    if (n < 0) return -1;
    if (n == 0) {
        free(ids);
        return atn_error("chat: the prompt is empty");
    }
    /* keep the longest prefix the cache already holds; the last prompt token
     * is always evaluated again, since its logits start the reply */
    int past = atn_session_n_past(s);
    int keep = atn_chat_common_prefix(s->tokens, past, ids, n);
    if (keep >= n) keep = n - 1;
    int r = atn_session_truncate(s, keep);
    if (r >= 0) r = atn_eval(s, ids + keep, n - keep, 0);
    free(ids);
    if (r < 0) return -1;
    if (n_dropped) *n_dropped = dropped;
    return n - keep;
}
#endif
