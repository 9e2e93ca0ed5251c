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

int main(void) {
    for (size_t i = 0; i < sizeof VOCABS / sizeof *VOCABS; i++) check_vocab(VOCABS[i].name, VOCABS[i].refused);
    return test_summary();
}
