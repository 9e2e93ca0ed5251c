/* fuzz_template.c — the chat template interpreter on untrusted templates and
 * messages. Input: one flags byte (bit 0 add_generation_prompt), the
 * template, then NUL-separated role and content strings. Every template must
 * render or fail with a one-line message, within the interpreter's limits.
 * Seeds: tests/fuzz/corpus/template (the templates of tests/data/chat_templates
 * with a short conversation). */
#include "chat_template.h"
#include "fuzz_util.h"

#define MAX_MSGS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *copy = fuzz_copy(data + 1, size - 1);  /* NUL-separated parts need a terminated copy */
    char *buf = malloc(size + 1);
    if (!copy || !buf) goto done;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    size_t tlen = strnlen(buf, size - 1);
    const char *roles[MAX_MSGS], *contents[MAX_MSGS];
    int n = 0;
    size_t i = tlen + 1;
    while (i < size - 1 && n < MAX_MSGS) {
        roles[n] = buf + i;
        i += strlen(buf + i) + 1;
        contents[n] = i < size ? buf + i : "";
        if (i < size) i += strlen(buf + i) + 1;
        n++;
    }
    char *out = NULL, err[256] = {0};
    size_t out_len = 0;
    memcpy(copy, buf, tlen); /* the template alone in an exact-size buffer */
    int rc = atn_template_render(copy, tlen, roles, contents, n, data[0] & 1, "<s>", "</s>", &out, &out_len, err, sizeof err);
    if (rc == 0) {
        FUZZ_CHECK(out && strlen(out) == out_len, "output length %zu", out_len);
        FUZZ_CHECK(out_len <= ATN_TEMPLATE_MAX_OUTPUT, "output of %zu bytes", out_len);
    } else {
        FUZZ_CHECK(err[0] && !strchr(err, '\n'), "a failed render gives a one-line message");
    }
    free(out);
    atn_template_family(buf);
done:
    free(copy);
    free(buf);
    return 0;
}
