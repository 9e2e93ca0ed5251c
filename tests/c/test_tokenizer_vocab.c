/* test_tokenizer_vocab.c — llama.cpp's tokenizer test vocabularies
 * (tests/data/vocab/, see its README.md) against the ids Hugging Face's
 * tokenizers give: every input of every vocabulary equal, or the vocabulary
 * refused with a message that names what is missing.
 *
 * The files are loaded through the public API (atn_model_load): they hold a
 * vocabulary and no tensors, so they load as tokenizer-only models, and a
 * session on them fails and says why. The vocabularies are cut down to the
 * pieces the inputs can reach; `atento.test.vocab_ids` maps the kept ids back
 * to the whole vocabulary's. */
#include "test_tokenizer_util.h"

static const struct {
    const char *name;
    const char *refused;   /* NULL: must equal the reference; else part of the load error */
} VOCABS[] = {
    { "llama-spm", NULL },      /* SentencePiece BPE (Llama 2) */
    { "phi-3", NULL },          /* SentencePiece BPE */
    { "gpt-2", NULL },          /* byte-level BPE, pre "gpt-2" */
    { "mpt", NULL },            /* pre "mpt" (GPT-2's expression) */
    { "llama-bpe", NULL },      /* Llama 3, pre "llama-bpe", ignore_merges */
    { "qwen2", NULL },          /* Qwen2/2.5/3, pre "qwen2" */
    { "starcoder", NULL },      /* pre "starcoder": digits, then GPT-2 */
    { "refact", NULL },         /* pre "refact" */
    { "deepseek-llm", NULL },   /* pre "deepseek-llm": six splits */
    { "deepseek-coder", NULL }, /* pre "deepseek-coder" */
    { "deepseek-v3", NULL },    /* pre "deepseek-v3" */
    { "falcon", NULL },         /* pre "falcon": punctuation, GPT-2, digits on the byte level */
    { "gpt-4o", NULL },         /* pre "gpt-4o" (o200k) */
    { "tekken", NULL },         /* pre "tekken" (Mistral's expression, on o200k's vocabulary) */
    { "bert-bge", "unsupported tokenizer model 'bert'" },  /* WordPiece: not implemented */
};

static const char SEP[] = "\n__ggml_vocab_test__\n";

static int parse_line(const char *p, const char *end, int32_t *ids, int cap) {
    int n = 0;
    while (p < end) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        char *q;
        long v = strtol(p, &q, 10);
        if (q == p) break;
        if (n < cap) ids[n] = (int32_t)v;
        n++;
        p = q;
    }
    return n;
}

/* every input of DIR/BASE.EXT against its line of out_path */
static void check_inputs(const atn_model *m, const atn_gguf *g, uint64_t n_map, const char *name, const char *dir,
                         const char *base, const char *ext, const char *out_path) {
    char path[256];
    size_t ni, no;
    snprintf(path, sizeof path, "%s%s%s", dir, base, ext);
    char *inp = read_file(path, &ni);
    char *out = read_file(out_path, &no);
    CHECK(inp && out, "%s: %s and %s", name, path, out_path);
    int total = 0, equal = 0, shown = 0;
    static int32_t ids[8192], ref[8192];
    size_t ip = 0, op = 0;
    while (inp && out && ip < ni && op < no) {
        /* one input (up to the separator) and one output line */
        const char *s = strstr(inp + ip, SEP);
        size_t il = s ? (size_t)(s - (inp + ip)) : ni - ip;
        const char *oe = memchr(out + op, '\n', no - op);
        size_t ol = oe ? (size_t)(oe - (out + op)) : no - op;
        int nr = parse_line(out + op, out + op + ol, ref, 8192);
        int k = atn_tokenize(m, inp + ip, il, 0, 0, ids, 8192);
        int same = k == nr;
        for (int i = 0; i < k && i < 8192 && same; i++) {
            int64_t orig = -1;
            if (ids[i] >= 0 && (uint64_t)ids[i] < n_map) atn_gguf_arr_i64(g, "atento.test.vocab_ids", (uint64_t)ids[i], &orig);
            same = orig == ref[i];
        }
        total++;
        equal += same;
        if (!same && shown++ < 3) printf("  %s: %s input %d (%zu bytes) differs: %d ids, reference %d\n", name, base, total - 1, il, k, nr);
        ip += il + (s ? sizeof SEP - 1 : 0);
        op += ol + 1;
    }
    CHECK(total > 0 && total == equal, "%s: %d/%d %s inputs equal to the reference", name, equal, total, base);
    printf("  %-15s %3d/%3d %s inputs equal to Hugging Face's ids\n", name, equal, total, ext[1] == 'i' && strcmp(base, "stress") ? "test" : base);
    atn_free(inp);
    atn_free(out);
}

static void check_vocab(const char *name, const char *refused) {
    char path[256];
    size_t size;
    snprintf(path, sizeof path, "tests/data/vocab/%s.gguf", name);
    uint8_t *data = read_file(path, &size);
    if (!data) { CHECK(0, "cannot read %s", path); return; }
    /* the id map, from the file itself */
    char err[256];
    atn_gguf *g = atn_gguf_open(data, size, err, sizeof err);
    int et = 0;
    uint64_t n_map = 0;
    CHECK(g && atn_gguf_get_arr(g, "atento.test.vocab_ids", &et, &n_map) == 0, "%s: vocab_ids", name);

    atn_model *m = atn_model_load(data, size, 0);
    if (refused) {
        CHECK(m == NULL && strstr(atn_last_error(), refused) != NULL, "%s refused: %s", name, m ? "loaded" : atn_last_error());
        printf("  %-15s refused: %s\n", name, atn_last_error());
        atn_model_free(m);
        atn_gguf_close(g);
        atn_free(data);
        return;
    }
    CHECK(m != NULL, "%s loads: %s", name, atn_last_error());
    if (!m || !g) { atn_model_free(m); atn_gguf_close(g); atn_free(data); return; }
    CHECK(atn_session_new(m, 16) == NULL && strstr(atn_last_error(), "vocabulary"), "%s: no session (%s)", name,
          atn_last_error());

    snprintf(path, sizeof path, "tests/data/vocab/%s.out", name);
    check_inputs(m, g, n_map, name, "tests/data/vocab/", name, ".inp", path);
    snprintf(path, sizeof path, "tests/data/vocab/%s.stress.out", name);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        check_inputs(m, g, n_map, name, "tests/data/vocab/", "stress", ".inp", path);
    }
    atn_model_free(m);
    atn_gguf_close(g);
    atn_free(data);
}

/* Qwen2's NFC normalizer: decomposed and reordered input gives the ids of
 * its composed form (and for gpt-2, which has no normalizer, it does not) */
static void check_nfc(void) {
    static const char *const pairs[][2] = {
        { "Cafe\xCC\x81", "Caf\xC3\xA9" },                                 /* e + U+0301 -> é */
        { "a\xCC\x81\xCC\xA8 x", "\xC4\x85\xCC\x81 x" },                    /* a + acute + ogonek -> ą + acute */
        { "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8!", "\xEA\xB0\x81!" },   /* Hangul L V T -> 각 */
        { "\xE2\x84\xAB", "\xC3\x85" },                                   /* Angstrom sign -> Å (a singleton) */
    };
    for (int v = 0; v < 2; v++) {
        const char *name = v ? "gpt-2" : "qwen2";
        char path[128];
        size_t size;
        snprintf(path, sizeof path, "tests/data/vocab/%s.gguf", name);
        uint8_t *data = read_file(path, &size);
        atn_model *m = data ? atn_model_load(data, size, 1) : NULL;
        CHECK(m != NULL, "%s loads", name);
        if (!m) continue;
        int all_same = 1;
        for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
            int32_t a[64], b[64];
            int na = atn_tokenize(m, pairs[k][0], strlen(pairs[k][0]), 0, 0, a, 64);
            int nb = atn_tokenize(m, pairs[k][1], strlen(pairs[k][1]), 0, 0, b, 64);
            int same = na == nb && na > 0 && memcmp(a, b, (size_t)na * sizeof *a) == 0;
            if (v == 0) CHECK(same, "qwen2: NFC of input %zu", k);
            all_same &= same;
        }
        if (v == 1) CHECK(!all_same, "gpt-2 does not normalize");
        atn_model_free(m);
    }
}

int main(void) {
    for (size_t i = 0; i < sizeof VOCABS / sizeof *VOCABS; i++) check_vocab(VOCABS[i].name, VOCABS[i].refused);
    check_nfc();
    return test_summary();
}
