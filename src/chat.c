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

/* Message roles a conversation may use. Templates branch on the role; any
 * other string would reach them unchecked, so it is refused here. */
static const char *const chat_roles[] = {"system", "user", "assistant", "tool", NULL};

static int check_messages(const char *const *roles, const char *const *contents, int n_msgs) {
    if (n_msgs < 0 || (n_msgs > 0 && (!roles || !contents))) return atn_error("chat: bad message list");
    for (int i = 0; i < n_msgs; i++) {
        if (!roles[i] || !contents[i]) return atn_error("chat: message %d has no role or content", i);
        int ok = 0;
        for (int k = 0; chat_roles[k]; k++) ok |= strcmp(roles[i], chat_roles[k]) == 0;
        if (!ok)
            return atn_error("chat: message %d has role '%.40s' (expected system, user, assistant or tool)", i, roles[i]);
    }
    return 0;
}

/* Render with the model's template (or ChatML): the text, and which of its
 * bytes came from message contents or request variables (mask, may be NULL
 * when none did). */
static int render_text(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                       const char *vars_json, int add_generation_prompt, int *used_fallback,
                       char **text, size_t *len, unsigned char **mask) {
    *text = NULL;
    if (check_messages(roles, contents, n_msgs)) return -1;
    const char *tmpl = m ? m->chat_template : NULL;
    if (used_fallback) *used_fallback = tmpl == NULL;
    if (!tmpl) tmpl = atn_template_chatml;
    char *bos = m && m->tok ? token_text(m, atn_tokenizer_bos(m->tok)) : NULL;
    char *eos = m && m->tok ? token_text(m, atn_tokenizer_eos(m->tok)) : NULL;
    char err[300];
    atn_template_input in = {roles, contents, n_msgs, add_generation_prompt, bos ? bos : "", eos ? eos : "",
                             vars_json, vars_json ? strlen(vars_json) : 0};
    int r = atn_template_render_ex(tmpl, strlen(tmpl), &in, text, len, mask, err, sizeof err);
    free(bos);
    free(eos);
    if (r < 0) return atn_error("%s", err);
    if (*len > (size_t)0x7FFFFFFF - 1) {
        free(*text);
        if (mask) free(*mask);
        *text = NULL;
        return atn_error("chat prompt too long");
    }
    return 0;
}

ATN_API int atn_chat_render_ex(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                               const char *vars_json, int add_generation_prompt, int *used_fallback, char *out, int cap) {
    if (cap < 0 || (cap > 0 && !out)) return atn_error("atn_chat_render: bad arguments");
    char *text = NULL;
    size_t len = 0;
    if (render_text(m, roles, contents, n_msgs, vars_json, add_generation_prompt, used_fallback, &text, &len, NULL))
        return -1;
    if (cap > 0) {
        size_t k = len < (size_t)cap ? len : (size_t)cap;
        memcpy(out, text, k);
        if (len < (size_t)cap) out[len] = 0;
    }
    free(text);
    return (int)len;
}

ATN_API int atn_chat_render(const atn_model *m, const char *const *roles, const char *const *contents,
                            int n_msgs, int add_generation_prompt, int *used_fallback, char *out, int cap) {
    return atn_chat_render_ex(m, roles, contents, n_msgs, NULL, add_generation_prompt, used_fallback, out, cap);
}

/* ---- multi-turn: fitting a conversation into the context --------------- */

/* Tokenize a rendered prompt the way chat templates expect: special tokens
 * the template wrote (<|im_start|>, <s>, ...) become their ids, while text
 * from message contents (mask 1) never does — a user who types
 * "<|im_end|><|im_start|>system" gets those characters, not a new turn. BOS
 * is added only when the model asks for it and the template did not already
 * write it. */
static int tokenize_prompt(const atn_model *m, const char *text, size_t len, const unsigned char *mask, int32_t **ids) {
    int add_bos = 1;
    int32_t bos = atn_tokenizer_bos(m->tok);
    char *bos_text = token_text(m, bos);
    if (bos_text && bos_text[0] && strncmp(text, bos_text, strlen(bos_text)) == 0 && !(mask && mask[0])) add_bos = 0;
    free(bos_text);
    int n = atn_tokenizer_encode_masked(m->tok, text, len, mask, add_bos, NULL, 0);
    if (n < 0) return -1;
    *ids = atn_malloc_array((size_t)n, sizeof(int32_t));
    if (!*ids) return atn_error("out of memory");
    if (atn_tokenizer_encode_masked(m->tok, text, len, mask, add_bos, *ids, n) != n) {
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
                      const char *vars_json, int first, int drop, const char **r, const char **c, int32_t **ids) {
    int k = 0;
    for (int i = 0; i < first; i++) { r[k] = roles[i]; c[k] = contents[i]; k++; }
    for (int i = first + drop; i < n_msgs; i++) { r[k] = roles[i]; c[k] = contents[i]; k++; }
    char *text;
    size_t len;
    unsigned char *mask = NULL;
    if (render_text(m, r, c, k, vars_json, 1, NULL, &text, &len, &mask)) return -1;
    int n = tokenize_prompt(m, text, len, mask, ids);
    free(text);
    free(mask);
    return n;
}

int atn_chat_fit(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                 int budget, int32_t **ids, int *n_dropped) {
    return atn_chat_fit_ex(m, roles, contents, n_msgs, NULL, budget, ids, n_dropped);
}

int atn_chat_fit_ex(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                    const char *vars_json, int budget, int32_t **ids, int *n_dropped) {
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
    int n = render_ids(m, roles, contents, n_msgs, vars_json, first, 0, r, c, ids);
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
        int k = render_ids(m, roles, contents, n_msgs, vars_json, first, cuts[mid], r, c, &t);
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
    return atn_chat_prefill_ex(s, roles, contents, n_msgs, NULL, reserve, n_dropped);
}

ATN_API int atn_chat_prefill_ex(atn_session *s, const char *const *roles, const char *const *contents, int n_msgs,
                                const char *vars_json, int reserve, int *n_dropped) {
    if (n_dropped) *n_dropped = 0;
    if (!s || !s->model) return atn_error("chat: no session");
    int n_ctx = atn_session_n_ctx(s);
    if (reserve < 0) reserve = 0;
    if (reserve >= n_ctx) return atn_error("chat: reserve %d leaves no room in a context of %d", reserve, n_ctx);
    int32_t *ids = NULL;
    int dropped = 0;
    int n = atn_chat_fit_ex(s->model, roles, contents, n_msgs, vars_json, n_ctx - reserve, &ids, &dropped);
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
