/* chat.h — internals of chat.c shared with its tests. */
#ifndef ATN_CHAT_H
#define ATN_CHAT_H

#include <stdint.h>
#include "atento.h"

/* Render (generation prompt on) and tokenize a conversation, dropping the
 * oldest turns after the system prompt until the prompt has at most `budget`
 * tokens. A turn is a user message and what follows it up to the next user
 * message, so the kept part still starts with a user message (templates that
 * check alternation pass); the last user message is never dropped. Special
 * tokens in the rendered text become their ids; BOS is added only when the
 * model wants it and the template did not write it. Returns the token count
 * (ids in *ids, malloc'd, caller frees) and sets *n_dropped to the number of
 * messages dropped; < 0 on error (nothing fits, template error, ...). */
int atn_chat_fit(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                 int budget, int32_t **ids, int *n_dropped);

/* The same with request variables (vars_json: NULL or a JSON object, see
 * atn_chat_render_ex). */
int atn_chat_fit_ex(const atn_model *m, const char *const *roles, const char *const *contents, int n_msgs,
                    const char *vars_json, int budget, int32_t **ids, int *n_dropped);

/* Length of the common prefix of a[0..na) and b[0..nb). */
int atn_chat_common_prefix(const int32_t *a, int na, const int32_t *b, int nb);

#endif
