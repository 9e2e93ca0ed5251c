/* chat.c — conversations: rendering a message list with the model's chat
 * template (falling back to ChatML), for the public API. */
#include <stdlib.h>
#include <string.h>
#include "atento.h"
#include "chat_template.h"
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
