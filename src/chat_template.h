/* chat_template.h — a small, safe interpreter for the Jinja subset that chat
 * templates (GGUF `tokenizer.chat_template`, HF `tokenizer_config.json`) use.
 *
 * Rendered as Hugging Face renders them: trim_blocks and lstrip_blocks on,
 * one trailing newline of the template dropped, `{%-`/`-%}` whitespace
 * control. Supported: text, {{ }}, {# #}, if/elif/else, for (one or two
 * targets, `if` filter, else, loop.index/index0/revindex/first/last/length/
 * previtem/nextitem, break/continue), set (incl. namespace attributes and
 * block set), generation blocks; expressions with literals, lists, dicts,
 * attribute/item access, slices, calls, filters, tests, arithmetic, ~ and +
 * concatenation, comparisons, in, and/or/not, conditional expressions;
 * string/dict methods (strip, split, startswith, items, get, ...);
 * raise_exception, namespace, range.
 *
 * A template can only read the variables given to it (messages, bos_token,
 * eos_token, add_generation_prompt); it cannot reach files, the clock or the
 * host. Work is bounded: a step budget, a memory budget, an output cap and a
 * nesting limit turn runaway templates into errors instead of hangs. Unknown
 * tags, filters, tests and methods are errors. strftime_now is deliberately
 * not defined, so templates that ask for it fall back to their fixed date.
 */
#ifndef ATN_CHAT_TEMPLATE_H
#define ATN_CHAT_TEMPLATE_H

#include <stddef.h>

#define ATN_TEMPLATE_MAX_SOURCE (1u << 20)   /* template text */
#define ATN_TEMPLATE_MAX_OUTPUT (8u << 20)   /* rendered bytes */
#define ATN_TEMPLATE_MAX_MEMORY (64u << 20)  /* values built while rendering */
#define ATN_TEMPLATE_MAX_STEPS 1000000       /* statements + expressions evaluated */
#define ATN_TEMPLATE_MAX_DEPTH 64            /* nested blocks / parentheses */
#define ATN_TEMPLATE_MAX_WORK 50000000       /* bytes scanned + items visited inside steps */
#define ATN_TEMPLATE_MAX_VALUE_DEPTH 64      /* nested lists/dicts printed, compared or read from JSON */

/* Render `tmpl` (tmpl_len bytes) for n_msgs messages (NUL-terminated role and
 * content strings). bos/eos may be NULL (empty). On success returns 0 and sets
 * *out to a malloc'd NUL-terminated string of *out_len bytes (caller frees).
 * On failure returns -1 and writes a one-line reason into err; a template's
 * raise_exception("msg") gives "template error: msg". */
int atn_template_render(const char *tmpl, size_t tmpl_len,
                        const char *const *roles, const char *const *contents, int n_msgs,
                        int add_generation_prompt, const char *bos, const char *eos,
                        char **out, size_t *out_len, char *err, size_t errcap);

/* The same with everything a chat request can carry. vars_json (may be
 * NULL) is a JSON object whose members become template variables besides
 * the messages (e.g. {"tools": [...], "enable_thinking": false}); it may not
 * redefine the built-in names. When out_mask is not NULL it receives a
 * malloc'd array of *out_len bytes, 1 where the rendered byte came from a
 * message's content or a string in vars_json (text the template copied or
 * transformed), 0 where the template itself wrote it; or NULL when no byte
 * came from there. The tokenizer uses it so that text given by users can
 * never become a control token. */
typedef struct atn_template_input {
    const char *const *roles, *const *contents;
    int n_msgs;
    int add_generation_prompt;
    const char *bos, *eos;          /* NULL: empty */
    const char *vars_json;          /* NULL: none */
    size_t vars_len;
} atn_template_input;
int atn_template_render_ex(const char *tmpl, size_t tmpl_len, const atn_template_input *in,
                           char **out, size_t *out_len, unsigned char **out_mask, char *err, size_t errcap);

/* The family a template belongs to, recognised from its markers:
 * "chatml", "llama2", "llama3", "zephyr", "gemma", "phi3", "mistral", or
 * "unknown". For information (inspect, logs); rendering never depends on it. */
const char *atn_template_family(const char *tmpl);

/* The ChatML template atento uses when a model has none. */
extern const char atn_template_chatml[];

#endif
