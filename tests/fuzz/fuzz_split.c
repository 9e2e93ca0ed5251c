/* fuzz_split.c — the translator's sentence splitter (atn_split_sentences) on
 * any bytes: spans in order, inside the text, not overlapping, never
 * starting or ending on whitespace, and the count the same with a small
 * buffer. */
#include "atento.h"
#include "fuzz_util.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_copy(data, size);
    int n = atn_split_sentences(text, size, NULL, 0);
    FUZZ_CHECK(n >= 0, "count %d", n);
    int32_t *spans = malloc(((size_t)n * 2 + 2) * sizeof *spans);
    if (!text || !spans) goto done;
    int n2 = atn_split_sentences(text, size, spans, 2 * n);
    FUZZ_CHECK(n2 == n, "%d then %d sentences", n, n2);
    int32_t prev = 0;
    for (int i = 0; i < n; i++) {
        int32_t a = spans[2 * i], b = spans[2 * i + 1];
        FUZZ_CHECK(a >= prev && a < b && (size_t)b <= size, "span %d: [%d, %d) after %d of %zu", i, a, b, prev, size);
        FUZZ_CHECK(!is_ws(text[a]) && !is_ws(text[b - 1]), "span %d: [%d, %d) starts or ends on whitespace", i, a, b);
        prev = b;
    }
done:
    free(spans);
    free(text);
    return 0;
}
