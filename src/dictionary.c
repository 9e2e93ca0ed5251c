/* dictionary.c — the bilingual dictionary of the built-in `lookup` tool.
 *
 * The file (models/dict-en-es.tsv, built by models/tools/make_dict.py) is
 * UTF-8 text:
 *     atento-dictionary 1
 *     en<TAB><count>         then <count> lines  key<TAB>translations
 *     es<TAB><count>         then <count> lines  key<TAB>translations
 * keys strictly ascending by bytes within a section, already normalized.
 * Loading copies the bytes and checks every line; a lookup is a binary
 * search. The normalization and the order of the fallbacks must stay the
 * same as models/tools/dictionary.py (the Python side that makes training
 * data from the same file): tests/js/dictionary.test.mjs compares the two.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "error.h"
#include "tokenizer.h"

#define DICT_MAGIC "atento-dictionary 1\n"
#define DICT_MAX_ENTRIES 1000000
#define DICT_MAX_KEY 255     /* bytes; longer keys make the file invalid */
#define DICT_MAX_VALUE 1023
#define DICT_MAX_QUERY 1024  /* bytes of a query */

typedef struct {
    uint32_t key, val;         /* byte offsets into the copy of the file */
    uint16_t key_len, val_len;
} dict_entry;

/* An entry's key with accents folded, for the accent-insensitive lookup. */
typedef struct {
    const char *key; /* into atn_dict.folded_text */
    uint32_t key_len;
    int entry;       /* index into entries[lang] */
} folded_key;

struct atn_dict {
    char *text;
    dict_entry *entries[2]; /* 0: en, 1: es */
    int n[2];
    /* every key folded, sorted by (folded key, entry): the first match of a
     * binary search is the first key in byte order that folds the same */
    char *folded_text;
    folded_key *by_folded[2];
};

static const char *const LANGS[2] = {"en", "es"};

/* ---- the file ------------------------------------------------------------- */

/* The line starting at *pos (without its '\n'), or -1 when the file ends
 * without one. */
static int next_line(const char *s, size_t size, size_t *pos, size_t *start, size_t *len) {
    if (*pos >= size) return -1;
    const char *nl = memchr(s + *pos, '\n', size - *pos);
    if (!nl) return -1;
    *start = *pos;
    *len = (size_t)(nl - (s + *pos));
    *pos += *len + 1;
    return 0;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

ATN_API void atn_dict_free(atn_dict *d) {
    if (!d) return;
    free(d->entries[0]);
    free(d->entries[1]);
    free(d->by_folded[0]);
    free(d->by_folded[1]);
    free(d->folded_text);
    free(d->text);
    free(d);
}

static int index_folded(atn_dict *d, size_t text_size);

ATN_API atn_dict *atn_dict_load(const void *data, size_t size) {
    if (!data && size) { atn_error("dictionary: no data"); return NULL; }
    if (size < sizeof DICT_MAGIC - 1 || memcmp(data, DICT_MAGIC, sizeof DICT_MAGIC - 1) != 0) {
        atn_error("dictionary: not an atento dictionary (the file must start with \"atento-dictionary 1\")");
        return NULL;
    }
    if (size > UINT32_MAX - 1) { atn_error("dictionary: the file is larger than 4 GiB"); return NULL; }
    if (!atn_utf8_valid(data, size)) { atn_error("dictionary: the file is not valid UTF-8"); return NULL; }
    /* a lookup answers with a C string: a NUL inside an entry would cut it short */
    const char *nul = memchr(data, 0, size);
    if (nul) {
        atn_error("dictionary: the file holds a NUL byte (at byte %zu): it is not text",
                  (size_t)(nul - (const char *)data));
        return NULL;
    }
    atn_dict *d = calloc(1, sizeof *d);
    if (!d || !(d->text = malloc(atn_add_size(size, 1)))) {
        atn_dict_free(d);
        atn_error("dictionary: out of memory");
        return NULL;
    }
    memcpy(d->text, data, size);
    d->text[size] = 0;
    const char *s = d->text;
    size_t pos = sizeof DICT_MAGIC - 1, start, len;
    int lineno = 1;
    for (int lang = 0; lang < 2; lang++) {
        lineno++;
        if (next_line(s, size, &pos, &start, &len) != 0 || len < 4 || memcmp(s + start, LANGS[lang], 2) != 0 ||
            s[start + 2] != '\t') {
            atn_error("dictionary: line %d: expected the header of section '%s' (%s<TAB>count)", lineno, LANGS[lang],
                      LANGS[lang]);
            goto fail;
        }
        long count = 0;
        for (size_t i = start + 3; i < start + len; i++) {
            if (s[i] < '0' || s[i] > '9' || count > DICT_MAX_ENTRIES) { count = -1; break; }
            count = count * 10 + (s[i] - '0');
        }
        if (count < 0 || count > DICT_MAX_ENTRIES) {
            atn_error("dictionary: line %d: bad entry count for section '%s' (at most %d)", lineno, LANGS[lang],
                      DICT_MAX_ENTRIES);
            goto fail;
        }
        /* every entry takes at least 4 bytes ("k\tv\n"): a count the rest of the file cannot hold is a lie */
        if ((size_t)count > (size - pos) / 4) {
            atn_error("dictionary: line %d: section '%s' claims %ld entries, more than the file holds", lineno,
                      LANGS[lang], count);
            goto fail;
        }
        d->entries[lang] = malloc(atn_mul_size((size_t)count ? (size_t)count : 1, sizeof(dict_entry)));
        if (!d->entries[lang]) { atn_error("dictionary: out of memory"); goto fail; }
        for (long i = 0; i < count; i++) {
            lineno++;
            if (next_line(s, size, &pos, &start, &len) != 0) {
                atn_error("dictionary: section '%s' ends after %ld of its %ld entries", LANGS[lang], i, count);
                goto fail;
            }
            const char *line = s + start;
            const char *tab = memchr(line, '\t', len);
            size_t kl = tab ? (size_t)(tab - line) : 0, vl = tab ? len - kl - 1 : 0;
            if (!tab || kl == 0 || vl == 0 || memchr(tab + 1, '\t', vl) || memchr(line, '\r', len)) {
                atn_error("dictionary: line %d: expected key<TAB>translations", lineno);
                goto fail;
            }
            if (kl > DICT_MAX_KEY || vl > DICT_MAX_VALUE) {
                atn_error("dictionary: line %d: key longer than %d or translations longer than %d bytes", lineno,
                          DICT_MAX_KEY, DICT_MAX_VALUE);
                goto fail;
            }
            dict_entry *e = &d->entries[lang][i];
            e->key = (uint32_t)start;
            e->key_len = (uint16_t)kl;
            e->val = (uint32_t)(start + kl + 1);
            e->val_len = (uint16_t)vl;
            if (i > 0) {
                const dict_entry *p = e - 1;
                if (key_cmp(s + p->key, p->key_len, line, kl) >= 0) {
                    atn_error("dictionary: line %d: keys are not in ascending byte order", lineno);
                    goto fail;
                }
            }
        }
        d->n[lang] = (int)count;
    }
    if (pos != size) { atn_error("dictionary: line %d: data after the last section", lineno + 1); goto fail; }
    if (index_folded(d, size) != 0) { atn_error("dictionary: out of memory"); goto fail; }
    return d;
fail:
    atn_dict_free(d);
    return NULL;
}

ATN_API int atn_dict_size(const atn_dict *d, const char *lang) {
    if (!d) return atn_error("dictionary: no dictionary");
    for (int i = 0; i < 2; i++)
        if (lang && !strcmp(lang, LANGS[i])) return d->n[i];
    return atn_error("lookup: 'from' must be \"en\" or \"es\"");
}

/* ---- normalization (the same rules as models/tools/dictionary.py) ---------- */

static uint32_t decode(const char *s, size_t len, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    int n = atn_utf8_char_len(u[0]);
    if (n <= 0 || *i + (size_t)n > len) { (*i)++; return 0xFFFD; } /* input is validated first */
    uint32_t cp = n == 1 ? u[0] : u[0] & (0x7F >> n);
    for (int k = 1; k < n; k++) cp = (cp << 6) | (u[k] & 0x3F);
    *i += (size_t)n;
    return cp;
}

static size_t encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int is_space(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0; }

/* Punctuation and quotes stripped from both ends of a query. */
static int is_edge(uint32_t c) {
    if (c < 0x80) return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
    switch (c) {
    case 0xBF: case 0xA1: case 0xAB: case 0xBB:                     /* ¿ ¡ « » */
    case 0x201C: case 0x201D: case 0x2018: case 0x2019: case 0x201E: /* “ ” ‘ ’ „ */
    case 0x2039: case 0x203A: case 0x2026: case 0x2014: case 0x2013: /* ‹ › … — – */
        return 1;
    }
    return 0;
}

/* ASCII and Latin-1 capitals only, as the Python side. */
static uint32_t lower(uint32_t c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
    return c;
}

/* Latin-1 lowercase letters with accents to their base letter. */
static uint32_t fold(uint32_t c) {
    if (c < 0xE0 || c > 0xFF) return c;
    /* à..å æ ç è..ë ì..ï ð ñ ò..ö ÷ ø ù..ü ý þ ÿ */
    static const char map[32] = "aaaaaa\0c" "eeee" "iiii" "\0n" "ooooo" "\0o" "uuuu" "y\0y";
    return map[c - 0xE0] ? (uint32_t)(unsigned char)map[c - 0xE0] : c;
}

/* Trim spaces and edge punctuation, lowercase, collapse space runs to one
 * ' '. out has room for len bytes (the result is never longer). */
static size_t normalize(const char *s, size_t len, char *out) {
    uint32_t cps[DICT_MAX_QUERY];
    size_t n = 0;
    for (size_t i = 0; i < len;) cps[n++] = decode(s, len, &i);
    size_t a = 0, b = n;
    while (a < b && (is_space(cps[a]) || is_edge(cps[a]))) a++;
    while (b > a && (is_space(cps[b - 1]) || is_edge(cps[b - 1]))) b--;
    size_t o = 0;
    int space = 0;
    for (size_t i = a; i < b; i++) {
        if (is_space(cps[i])) { space = 1; continue; }
        if (space) { out[o++] = ' '; space = 0; }
        o += encode(lower(cps[i]), out + o);
    }
    return o;
}

/* fold() over a UTF-8 string (never longer than the input). */
static size_t fold_str(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) o += encode(fold(decode(s, len, &i)), out + o);
    return o;
}

static size_t n_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int ends_with(const char *s, size_t len, const char *suffix) {
    size_t k = strlen(suffix);
    return len >= k && memcmp(s + len - k, suffix, k) == 0;
}

/* ---- lookup ------------------------------------------------------------------ */

static const dict_entry *find_exact(const atn_dict *d, int lang, const char *k, size_t kl) {
    int lo = 0, hi = d->n[lang] - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const dict_entry *e = &d->entries[lang][mid];
        int c = key_cmp(d->text + e->key, e->key_len, k, kl);
        if (c == 0) return e;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int folded_cmp(const void *pa, const void *pb) {
    const folded_key *a = pa, *b = pb;
    int c = key_cmp(a->key, a->key_len, b->key, b->key_len);
    return c ? c : (a->entry > b->entry) - (a->entry < b->entry);
}

/* Fold every key once (folding only shortens, so the keys' bytes bound the
 * buffer) and sort them, so that a lookup is a binary search. */
static int index_folded(atn_dict *d, size_t text_size) {
    if (!(d->folded_text = malloc(text_size ? text_size : 1))) return -1;
    size_t used = 0;
    for (int lang = 0; lang < 2; lang++) {
        int n = d->n[lang];
        if (!(d->by_folded[lang] = malloc(atn_mul_size(n ? (size_t)n : 1, sizeof(folded_key))))) return -1;
        for (int i = 0; i < n; i++) {
            const dict_entry *e = &d->entries[lang][i];
            folded_key *f = &d->by_folded[lang][i];
            f->key = d->folded_text + used;
            f->key_len = (uint32_t)fold_str(d->text + e->key, e->key_len, d->folded_text + used);
            f->entry = i;
            used += f->key_len;
        }
        qsort(d->by_folded[lang], (size_t)n, sizeof(folded_key), folded_cmp);
    }
    return 0;
}

/* The first key (in byte order) whose accent-folded form equals that of k. */
static const dict_entry *find_folded(const atn_dict *d, int lang, const char *k, size_t kl) {
    char fk[DICT_MAX_QUERY];
    size_t fkl = fold_str(k, kl, fk);
    int lo = 0, hi = d->n[lang]; /* lower bound of fk among the folded keys */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const folded_key *f = &d->by_folded[lang][mid];
        if (key_cmp(f->key, f->key_len, fk, fkl) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == d->n[lang]) return NULL;
    const folded_key *f = &d->by_folded[lang][lo];
    return key_cmp(f->key, f->key_len, fk, fkl) == 0 ? &d->entries[lang][f->entry] : NULL;
}

static int put_result(const char *v, size_t vl, char *out, int cap) {
    if (out && cap > 0) {
        size_t n = vl < (size_t)cap - 1 ? vl : (size_t)cap - 1;
        memcpy(out, v, n);
        out[n] = 0;
    }
    return (int)vl;
}

ATN_API int atn_dict_lookup(const atn_dict *d, const char *word, size_t len, const char *from, char *out, int cap) {
    static const char *const articles[2][9] = {
        {"to ", "the ", "a ", "an ", NULL},
        {"el ", "la ", "los ", "las ", "un ", "una ", "unos ", "unas ", NULL},
    };
    if (!d) return atn_error("lookup: no dictionary");
    int lang = -1;
    for (int i = 0; i < 2; i++)
        if (from && !strcmp(from, LANGS[i])) lang = i;
    if (lang < 0) return atn_error("lookup: 'from' must be \"en\" or \"es\"");
    if (!word && len) return atn_error("lookup: no word");
    if (len > DICT_MAX_QUERY) return atn_error("lookup: the word is longer than %d bytes", DICT_MAX_QUERY);
    if (!atn_utf8_valid(word, len)) return atn_error("lookup: the word is not valid UTF-8");

    char norm[DICT_MAX_QUERY];
    size_t nl = normalize(word, len, norm);
    const char *cand[2];
    size_t cl[2];
    int nc = 0;
    if (nl) { cand[nc] = norm; cl[nc++] = nl; }
    for (int a = 0; articles[lang][a]; a++) {
        size_t al = strlen(articles[lang][a]);
        if (nl > al && memcmp(norm, articles[lang][a], al) == 0) {
            cand[nc] = norm + al;
            cl[nc++] = nl - al;
            break;
        }
    }
    const dict_entry *e = NULL;
    for (int c = 0; c < nc && !e; c++) e = find_exact(d, lang, cand[c], cl[c]);
    for (int c = 0; c < nc && !e; c++) e = find_folded(d, lang, cand[c], cl[c]);
    for (int c = 0; c < nc && !e; c++) {
        /* simple plurals, in order: -ies -> -y, -ces -> -z, -es -> '', -s -> '' */
        char sing[DICT_MAX_QUERY + 1];
        const char *k = cand[c];
        size_t kl = cl[c], chars = n_chars(k, kl);
        struct { const char *suffix, *repl; size_t min_chars; } rules[4] = {
            {"ies", "y", 5}, {"ces", "z", 5}, {"es", "", 4}, {"s", "", 3}};
        for (int r = 0; r < 4 && !e; r++) {
            if (chars < rules[r].min_chars || !ends_with(k, kl, rules[r].suffix)) continue;
            size_t base = kl - strlen(rules[r].suffix), rl = strlen(rules[r].repl);
            memcpy(sing, k, base);
            memcpy(sing + base, rules[r].repl, rl);
            e = find_exact(d, lang, sing, base + rl);
            if (!e) e = find_folded(d, lang, sing, base + rl);
        }
    }
    if (!e) return put_result("(no entry)", 10, out, cap);
    return put_result(d->text + e->val, e->val_len, out, cap);
}
