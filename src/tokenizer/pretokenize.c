/* pretokenize.c — the pre-tokenizers of byte-level BPE, written out by hand.
 *
 * A pre-tokenizer is a sequence of stages, as Hugging Face's `Sequence` of
 * `Split(pattern, behavior = "Isolated")` / `Digits` / `Punctuation` /
 * `ByteLevel(use_regex)` pre-tokenizers: each stage cuts every piece the
 * previous stage made into the matches of its pattern and the gaps between
 * them (both kept). A pattern is matched as a backtracking regex engine does:
 * scanning left to right, at each position the first alternative that
 * matches wins, and the pattern sees only the piece (so `$` is the piece's
 * end). \p{L}, \p{N}, \p{P}, ... are Unicode general categories
 * (unicode_tables.c), \s is White_Space.
 *
 * Patterns (U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}],
 * C = 's|'t|'re|'ve|'m|'ll|'d):
 *   GPT2    C| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   LLAMA3  (?i:C)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   QWEN2   LLAMA3 with \p{N} instead of \p{N}{1,3}
 *   TEKKEN  [^\r\n\p{L}\p{N}]?U*W+|[^\r\n\p{L}\p{N}]?U+W*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   GPT4O   [^\r\n\p{L}\p{N}]?U*W+(?i:C)?|[^\r\n\p{L}\p{N}]?U+W*(?i:C)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   DS3     [!-/:-@\[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Pre-tokenizers (the names are the GGUF `tokenizer.ggml.pre` values, see
 * atn_pretokenizer_find):
 *   gpt2            GPT2
 *   llama3, qwen2   LLAMA3 / QWEN2
 *   smollm          \p{N} ; GPT2           (Digits(individual) + ByteLevel)
 *   default         [\p{P}$+<=>^~|]+ ; GPT2 ; \p{N}+ ; [0-9]{3}   (llama.cpp's own)
 *   falcon          [\p{P}$+<=>^~|`]+ ; GPT2 ; then, on the byte-level
 *                   stand-in characters (the stages after ByteLevel see
 *                   those): runs of numeric stand-ins ; [0-9]{3}
 *   deepseek-llm    [\r\n] ; \s?[Latin, Greek, Cyrillic, ... letters]+ ;
 *                   \s?[!-/:-~！-／：-～‘-‟　-。]+ ; \s+$ ; [一-龥ࠀ-一가-퟿]+ ; \p{N}+
 *   deepseek-coder  [\r\n] ; \s?\p{L}+ ; \s?\p{P}+ ; [一-龥ࠀ-一가-퟿]+ ; \p{N}
 *   deepseek-v3     \p{N}{1,3} ; [一-龥぀-ゟ゠-ヿ]+ ; DS3
 *   tekken, gpt-4o  TEKKEN / GPT4O
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "../checked.h"
#include "../error.h"

static int cat(uint32_t c) { return atn_unicode_category(c); }
static int is_l(uint32_t c) { int k = cat(c); return k >= ATN_UC_LU && k <= ATN_UC_LO; }
static int is_n(uint32_t c) { return cat(c) == ATN_UC_N; }
static int is_p(uint32_t c) { return cat(c) == ATN_UC_P; }
static int is_s(uint32_t c) { return atn_unicode_is_space(c); }
static int is_o(uint32_t c) { return !is_s(c) && !is_l(c) && !is_n(c); } /* [^\s\p{L}\p{N}] */
static int is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
static int is_ps(uint32_t c) { int k = cat(c); return k == ATN_UC_P || k == ATN_UC_S; }
static int is_lm(uint32_t c) { int k = cat(c); return (k >= ATN_UC_LU && k <= ATN_UC_LO) || k == ATN_UC_M; }
static int is_upper_ish(uint32_t c) { int k = cat(c); return k == ATN_UC_LU || k == ATN_UC_LT || k == ATN_UC_LM || k == ATN_UC_LO || k == ATN_UC_M; }
static int is_lower_ish(uint32_t c) { int k = cat(c); return k == ATN_UC_LL || k == ATN_UC_LM || k == ATN_UC_LO || k == ATN_UC_M; }
static int is_ascii_letter(uint32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_ascii_punct(uint32_t c) { return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~'); }
static uint32_t lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* a piece being matched: its code points; memo is one per-piece value a
 * matcher may cache (-1 = not computed) */
typedef struct { const uint32_t *c; int n; int memo; } piece;
/* end of the match that starts at i, or -1 */
typedef int (*matcher)(piece *p, int i);

static int run_of(const uint32_t *c, int i, int n, int (*cls)(uint32_t)) {
    while (i < n && cls(c[i])) i++;
    return i;
}

/* 's 't 're 've 'm 'll 'd; returns the end or -1 */
static int contraction(const uint32_t *c, int i, int n, int icase) {
    if (i >= n || c[i] != '\'' || i + 1 >= n) return -1;
    uint32_t x = icase ? lower(c[i + 1]) : c[i + 1];
    if (x == 's' || x == 't' || x == 'm' || x == 'd') return i + 2;
    if (i + 2 < n) {
        uint32_t y = icase ? lower(c[i + 2]) : c[i + 2];
        if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return i + 3;
    }
    return -1;
}

/* \s+(?!\S) then \s+, at a whitespace character */
static int spaces(const uint32_t *c, int i, int n) {
    int k = run_of(c, i, n, is_s);
    if (k == n) return k;
    if (k - i >= 2) return k - 1;   /* leave the last one to the next piece */
    return k;
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at a whitespace character */
static int spaces_nl(const uint32_t *c, int i, int n) {
    int k = run_of(c, i, n, is_s), last = -1;
    for (int q = i; q < k; q++) if (is_nl(c[q])) last = q;
    if (last >= 0) return last + 1;    /* up to the last newline of the run */
    return spaces(c, i, n);
}

/* " ?X+" followed by Y*: returns the end or -1 */
static int opt_space_run(const uint32_t *c, int i, int n, int (*x)(uint32_t), int (*y)(uint32_t)) {
    int j = -1;
    if (c[i] == ' ' && i + 1 < n && x(c[i + 1])) j = i + 1;
    else if (x(c[i])) j = i;
    if (j < 0) return -1;
    int k = run_of(c, j, n, x);
    return y ? run_of(c, k, n, y) : k;
}

static int m_gpt2(piece *p, int i) {
    const uint32_t *c = p->c;
    int n = p->n;
    int e = contraction(c, i, n, 0);
    if (e >= 0) return e;
    if ((e = opt_space_run(c, i, n, is_l, NULL)) >= 0) return e;
    if ((e = opt_space_run(c, i, n, is_n, NULL)) >= 0) return e;
    if ((e = opt_space_run(c, i, n, is_o, NULL)) >= 0) return e;
    return spaces(c, i, n);          /* only whitespace is left */
}

static int llama3_like(piece *p, int i, int max_digits) {
    const uint32_t *c = p->c;
    int n = p->n;
    int e = contraction(c, i, n, 1);
    if (e >= 0) return e;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (is_l(c[i])) return run_of(c, i, n, is_l);
    if (!is_n(c[i]) && !is_nl(c[i]) && i + 1 < n && is_l(c[i + 1])) return run_of(c, i + 1, n, is_l);
    /* \p{N}{1,max} */
    if (is_n(c[i])) {
        int k = i;
        while (k < n && k - i < max_digits && is_n(c[k])) k++;
        return k;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    if ((e = opt_space_run(c, i, n, is_o, is_nl)) >= 0) return e;
    return spaces_nl(c, i, n);
}
static int m_llama3(piece *p, int i) { return llama3_like(p, i, 3); }
static int m_qwen2(piece *p, int i) { return llama3_like(p, i, 1); }

/* U*W+ from j (greedy U*, giving back until W+ can start), or -1 */
static int upper_then_lower(const uint32_t *c, int j, int n) {
    int q = run_of(c, j, n, is_upper_ish);
    for (int s = q; s >= j; s--)
        if (s < n && is_lower_ish(c[s])) return run_of(c, s, n, is_lower_ish);
    return -1;
}

/* [^\r\n\p{L}\p{N}]?U*W+(C)?|[^\r\n\p{L}\p{N}]?U+W*(C)? (C only with contr) */
static int cased_word(const uint32_t *c, int i, int n, int contr) {
    int pre = !is_nl(c[i]) && !is_l(c[i]) && !is_n(c[i]);
    int e = -1;
    for (int alt = 0; alt < 2 && e < 0; alt++) {
        for (int k = pre; k >= 0 && e < 0; k--) {
            int j = i + k;
            if (j >= n) continue;
            if (alt == 0) e = upper_then_lower(c, j, n);
            else if (is_upper_ish(c[j])) e = run_of(c, run_of(c, j, n, is_upper_ish), n, is_lower_ish);
        }
    }
    if (e >= 0 && contr) {
        int x = contraction(c, e, n, 1);
        if (x >= 0) e = x;
    }
    return e;
}

static int tekken_like(piece *p, int i, int contr, int max_digits) {
    const uint32_t *c = p->c;
    int n = p->n;
    int e = cased_word(c, i, n, contr);
    if (e >= 0) return e;
    if (is_n(c[i])) {
        int k = i;
        while (k < n && k - i < max_digits && is_n(c[k])) k++;
        return k;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
    int j = -1;
    if (c[i] == ' ' && i + 1 < n && is_o(c[i + 1])) j = i + 1;
    else if (is_o(c[i])) j = i;
    if (j >= 0) {
        int k = run_of(c, j, n, is_o);
        while (k < n && (is_nl(c[k]) || c[k] == '/')) k++;
        return k;
    }
    return spaces_nl(c, i, n);
}
static int m_tekken(piece *p, int i) { return tekken_like(p, i, 0, 1); }
static int m_gpt4o(piece *p, int i) { return tekken_like(p, i, 1, 3); }

static int m_deepseek3(piece *p, int i) {
    const uint32_t *c = p->c;
    int n = p->n;
    /* [!-/:-@\[-`{-~][A-Za-z]+ */
    if (is_ascii_punct(c[i]) && i + 1 < n && is_ascii_letter(c[i + 1])) return run_of(c, i + 1, n, is_ascii_letter);
    /* [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ */
    if (!is_nl(c[i]) && !is_l(c[i]) && !is_ps(c[i]) && i + 1 < n && is_lm(c[i + 1])) return run_of(c, i + 1, n, is_lm);
    if (is_lm(c[i])) return run_of(c, i, n, is_lm);
    /*  ?[\p{P}\p{S}]+[\r\n]* */
    int e = opt_space_run(c, i, n, is_ps, is_nl);
    if (e >= 0) return e;
    if (is_s(c[i])) return spaces_nl(c, i, n);
    return -1;
}

/* ---- simple stages --------------------------------------------------------- */

static int m_digit(piece *p, int i) { return is_n(p->c[i]) ? i + 1 : -1; }
static int m_digits(piece *p, int i) { return is_n(p->c[i]) ? run_of(p->c, i, p->n, is_n) : -1; }
static int m_digits3(piece *p, int i) {
    int k = i;
    while (k < p->n && k - i < 3 && is_n(p->c[k])) k++;
    return k > i ? k : -1;
}
static int is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int m_ascii_digits3(piece *p, int i) {
    const uint32_t *c = p->c;
    return i + 3 <= p->n && is_ascii_digit(c[i]) && is_ascii_digit(c[i + 1]) && is_ascii_digit(c[i + 2]) ? i + 3 : -1;
}
static int m_newline(piece *p, int i) { return is_nl(p->c[i]) ? i + 1 : -1; }

/* [\p{P}$+<=>^~|]+ (llama.cpp's default) and with ` (Falcon: HF's
 * Punctuation, i.e. \p{P} and the ASCII punctuation) */
static int is_punct_default(uint32_t c) { return is_p(c) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|'; }
static int is_punct_falcon(uint32_t c) { return is_punct_default(c) || c == '`'; }
static int m_punct_default(piece *p, int i) { return is_punct_default(p->c[i]) ? run_of(p->c, i, p->n, is_punct_default) : -1; }
static int m_punct_falcon(piece *p, int i) { return is_punct_falcon(p->c[i]) ? run_of(p->c, i, p->n, is_punct_falcon) : -1; }

typedef struct { uint32_t lo, hi; } cp_range;
static int in_ranges(uint32_t c, const cp_range *r, int n) {
    for (int i = 0; i < n; i++) if (c >= r[i].lo && c <= r[i].hi) return 1;
    return 0;
}

/* the letters of DeepSeek LLM's second pattern, as its tokenizer.json lists them */
static const cp_range DS_LETTERS[] = {
    {0x41,0x5a},{0x61,0x7a},{0xb5,0xb5},{0xc0,0xd6},{0xd8,0xf6},{0xf8,0x1ba},{0x1bc,0x1bf},{0x1c4,0x293},
    {0x295,0x2af},{0x370,0x373},{0x376,0x377},{0x37b,0x37d},{0x37f,0x37f},{0x386,0x386},{0x388,0x38a},
    {0x38c,0x38c},{0x38e,0x3a1},{0x3a3,0x3f5},{0x3f7,0x481},{0x48a,0x52f},{0x531,0x556},{0x10a0,0x10c5},
    {0x13a0,0x13f5},{0x13f8,0x13fd},{0x1c90,0x1cba},{0x1cbd,0x1cbf},{0x1d00,0x1d2b},{0x1d6b,0x1d77},
    {0x1d79,0x1d9a},{0x1e00,0x1f15},{0x1f18,0x1f1d},{0x1f20,0x1f45},{0x1f48,0x1f4d},{0x1f50,0x1f57},
    {0x1f59,0x1f59},{0x1f5b,0x1f5b},{0x1f5d,0x1f5d},{0x1f5f,0x1f7d},{0x1f80,0x1fb4},{0x1fb6,0x1fbc},
    {0x1fbe,0x1fbe},{0x1fc2,0x1fc4},{0x1fc6,0x1fcc},{0x1fd0,0x1fd3},{0x1fd6,0x1fdb},{0x1fe0,0x1fec},
    {0x1ff2,0x1ff4},{0x1ff6,0x1ffc},{0x2102,0x2102},{0x2107,0x2107},{0x210a,0x2113},{0x2115,0x2115},
    {0x2119,0x211d},{0x2124,0x2124},{0x2126,0x2126},{0x2128,0x2128},{0x212a,0x212d},{0x212f,0x2134},
    {0x2139,0x2139},{0x213c,0x213f},{0x2145,0x2149},{0x214e,0x214e},{0x2183,0x2184},{0x2c00,0x2c7b},
    {0x2c7e,0x2ce4},{0x2ceb,0x2cee},{0x2cf2,0x2cf3},{0xa640,0xa66d},{0xa680,0xa69b},{0xa722,0xa76f},
    {0xa771,0xa787},{0xa78b,0xa78e},{0xab70,0xabbf},{0xfb00,0xfb06},{0xfb13,0xfb17},{0xff21,0xff3a},
    {0xff41,0xff5a},{0x10400,0x1044f},{0x104b0,0x104d3},{0x104d8,0x104fb},{0x10c80,0x10cb2},
    {0x10cc0,0x10cf2},{0x118a0,0x118df},{0x1e900,0x1e943},
};
static const cp_range DS_PUNCT[] = {
    {0x21,0x2f},{0x3a,0x7e},{0xff01,0xff0f},{0xff1a,0xff5e},{0x2018,0x201f},{0x3000,0x3002},
};
static int is_ds_letter(uint32_t c) { return in_ranges(c, DS_LETTERS, (int)(sizeof DS_LETTERS / sizeof *DS_LETTERS)); }
static int is_ds_punct(uint32_t c) { return in_ranges(c, DS_PUNCT, (int)(sizeof DS_PUNCT / sizeof *DS_PUNCT)); }
/* [一-龥ࠀ-一가-퟿] */
static int is_ds_cjk(uint32_t c) { return (c >= 0x800 && c <= 0x9fa5) || (c >= 0xac00 && c <= 0xd7ff); }
/* [一-龥぀-ゟ゠-ヿ] */
static int is_ds3_cjk(uint32_t c) { return (c >= 0x4e00 && c <= 0x9fa5) || (c >= 0x3040 && c <= 0x30ff); }

/* \s?X+ : the optional \s is tried first, then without it */
static int opt_ws_run(piece *p, int i, int (*x)(uint32_t)) {
    const uint32_t *c = p->c;
    if (is_s(c[i]) && i + 1 < p->n && x(c[i + 1])) return run_of(c, i + 1, p->n, x);
    return x(c[i]) ? run_of(c, i, p->n, x) : -1;
}
static int m_ds_letters(piece *p, int i) { return opt_ws_run(p, i, is_ds_letter); }
static int m_ds_punct(piece *p, int i) { return opt_ws_run(p, i, is_ds_punct); }
static int m_ws_letters(piece *p, int i) { return opt_ws_run(p, i, is_l); }
static int m_ws_punct(piece *p, int i) { return opt_ws_run(p, i, is_p); }
static int m_ds_cjk(piece *p, int i) { return is_ds_cjk(p->c[i]) ? run_of(p->c, i, p->n, is_ds_cjk) : -1; }
static int m_ds3_cjk(piece *p, int i) { return is_ds3_cjk(p->c[i]) ? run_of(p->c, i, p->n, is_ds3_cjk) : -1; }
/* \s+$ : whitespace that runs to the end of the piece */
static int m_trailing_ws(piece *p, int i) {
    if (p->memo < 0) {
        int t = p->n;
        while (t > 0 && is_s(p->c[t - 1])) t--;
        p->memo = t;          /* where the trailing whitespace begins */
    }
    return i >= p->memo && is_s(p->c[i]) ? p->n : -1;
}

/* ---- the table ------------------------------------------------------------- */

#define MAX_STAGES 6
typedef struct {
    const char *names;        /* '|'-separated GGUF tokenizer.ggml.pre values */
    matcher stages[MAX_STAGES];
    int n_stages;
    int ignore_merges;        /* whole pre-token looked up in the vocabulary first */
    int add_bos;              /* llama.cpp's add_bos default for this pre-tokenizer */
    int falcon_bytes;         /* Falcon's stages on the byte-level characters */
} pretokenizer;

static const pretokenizer PRE[] = {
    [ATN_PRE_GPT2] = { "gpt2|gpt-2|mpt|olmo|jais|phi-2|roberta-bpe|gigachat|jina-es|jina-de|jina-v1-en|jina-v2-es|"
                       "jina-v2-de|jina-v2-code", { m_gpt2 }, 1, 0, 0, 0 },
    [ATN_PRE_LLAMA3] = { "llama-bpe|llama3|llama-v3|falcon3|dbrx|smaug-bpe", { m_llama3 }, 1, 1, 1, 0 },
    [ATN_PRE_QWEN2] = { "qwen2|deepseek-r1-qwen|megrez|stablelm2", { m_qwen2 }, 1, 0, 0, 0 },
    [ATN_PRE_SMOLLM] = { "smollm|starcoder|refact|command-r|codeshell|exaone|minerva-7b", { m_digit, m_gpt2 }, 2, 0, 0, 0 },
    [ATN_PRE_DEFAULT] = { "default", { m_punct_default, m_gpt2, m_digits, m_ascii_digits3 }, 4, 0, 0, 0 },
    [ATN_PRE_FALCON] = { "falcon", { m_punct_falcon, m_gpt2 }, 2, 0, 0, 1 },
    [ATN_PRE_DEEPSEEK_LLM] = { "deepseek-llm", { m_newline, m_ds_letters, m_ds_punct, m_trailing_ws, m_ds_cjk, m_digits }, 6, 0, 0, 0 },
    [ATN_PRE_DEEPSEEK_CODER] = { "deepseek-coder", { m_newline, m_ws_letters, m_ws_punct, m_ds_cjk, m_digit }, 5, 0, 0, 0 },
    [ATN_PRE_DEEPSEEK3] = { "deepseek-v3", { m_digits3, m_ds3_cjk, m_deepseek3 }, 3, 0, 0, 0 },
    [ATN_PRE_TEKKEN] = { "tekken", { m_tekken }, 1, 1, 1, 0 },
    [ATN_PRE_GPT4O] = { "gpt-4o", { m_gpt4o }, 1, 1, 0, 0 },
};

int atn_pretokenizer_find(const char *name, size_t len, int *ignore_merges, int *add_bos) {
    for (int k = 0; k < ATN_PRE_COUNT; k++) {
        const char *s = PRE[k].names;
        while (*s) {
            const char *e = strchr(s, '|');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            if (l == len && memcmp(s, name, len) == 0) {
                if (ignore_merges) *ignore_merges = PRE[k].ignore_merges;
                if (add_bos) *add_bos = PRE[k].add_bos;
                return k;
            }
            s += l + (e ? 1 : 0);
        }
    }
    return -1;
}

/* Qwen2's tokenizer.json has an NFC normalizer; the GGUF does not record it,
 * so it goes with the names of Qwen's own vocabularies. */
int atn_pretokenizer_nfc(int pre, const char *name, size_t len) {
    (void)pre;
    return (len == 5 && memcmp(name, "qwen2", 5) == 0) || (len == 16 && memcmp(name, "deepseek-r1-qwen", 16) == 0);
}

/* ---- running the stages ------------------------------------------------------- */

typedef struct {
    const pretokenizer *pt;
    const char *text;
    const uint32_t *c;
    const size_t *off;
    atn_pretok_fn fn;
    void *ctx;
} pipeline;

/* Falcon's Digits and [0-9]{3} run after ByteLevel, on GPT-2's stand-in
 * characters: the numeric ones are those of the bytes 0-9, ² ³ ¹ ¼ ½ ¾ (which
 * stand for themselves), so a run can end inside a UTF-8 character. */
static int numeric_standin(unsigned char b) {
    return (b >= '0' && b <= '9') || b == 0xB2 || b == 0xB3 || b == 0xB9 || (b >= 0xBC && b <= 0xBE);
}
static int falcon_digits3(pipeline *pl, const char *s, size_t n) {
    /* [0-9]{3} in a piece */
    size_t gap = 0;
    for (size_t i = 0; i + 3 <= n;) {
        if (is_ascii_digit((unsigned char)s[i]) && is_ascii_digit((unsigned char)s[i + 1]) && is_ascii_digit((unsigned char)s[i + 2])) {
            if (gap < i && pl->fn(pl->ctx, s + gap, i - gap) < 0) return -1;
            if (pl->fn(pl->ctx, s + i, 3) < 0) return -1;
            i += 3;
            gap = i;
        } else {
            i++;
        }
    }
    return gap < n ? pl->fn(pl->ctx, s + gap, n - gap) : 0;
}
static int falcon_bytes(pipeline *pl, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int num = numeric_standin((unsigned char)s[i]);
        while (j < n && numeric_standin((unsigned char)s[j]) == num) j++;
        if (falcon_digits3(pl, s + i, j - i) < 0) return -1;
        i = j;
    }
    return 0;
}

static int emit(pipeline *pl, int a, int b) {
    const char *s = pl->text + pl->off[a];
    size_t n = pl->off[b] - pl->off[a];
    if (pl->pt->falcon_bytes) return falcon_bytes(pl, s, n);
    return pl->fn(pl->ctx, s, n);
}

/* stage k on the code points [a, b): matches and the gaps between them go on
 * to stage k + 1 */
static int run_stage(pipeline *pl, int k, int a, int b) {
    if (k == pl->pt->n_stages) return emit(pl, a, b);
    piece p = { pl->c + a, b - a, -1 };
    int gap = 0;
    for (int i = 0; i < p.n;) {
        int e = pl->pt->stages[k](&p, i);
        if (e <= i) { i++; continue; }
        if (gap < i && run_stage(pl, k + 1, a + gap, a + i) < 0) return -1;
        if (run_stage(pl, k + 1, a + i, a + e) < 0) return -1;
        i = gap = e;
    }
    if (gap < p.n) return run_stage(pl, k + 1, a + gap, b);
    return 0;
}

int atn_pretokenize(int pre, const char *text, size_t len, atn_pretok_fn fn, void *ctx) {
    if (len == 0) return 0;
    if (pre < 0 || pre >= ATN_PRE_COUNT) return atn_error("tokenize: bad pre-tokenizer %d", pre);
    if (len > (SIZE_MAX - 1) / sizeof(size_t) || len > (size_t)INT_MAX) return atn_error("tokenize: text too long (%zu bytes)", len);
    uint32_t *c = atn_malloc_array(len, sizeof *c);
    size_t *off = atn_malloc_array(atn_add_size(len, 1), sizeof *off);
    if (!c || !off) { free(c); free(off); return atn_error("tokenize: out of memory"); }
    int n = 0;
    for (size_t i = 0; i < len;) {
        off[n] = i;
        i += (size_t)atn_utf8_decode(text + i, len - i, &c[n]);
        n++;
    }
    off[n] = len;
    pipeline pl = { &PRE[pre], text, c, off, fn, ctx };
    int rc = run_stage(&pl, 0, 0, n);
    free(c); free(off);
    return rc < 0 ? -1 : 0;
}
