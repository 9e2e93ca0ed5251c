/* langid.c — is a text English or Spanish? A naive Bayes classifier over
 * hashed character n-grams (n = 1..4 bytes of the lower-cased UTF-8 text,
 * whitespace runs folded to one space, a space at either end). With two
 * classes naive Bayes is one sum: every n-gram adds its log-ratio
 * log P(g|en) / P(g|es) from atn_langid_table (src/langid_data.c, written
 * and checked by models/train/langid.py: 99.9 % right on the Tatoeba test
 * split, tests/c/test_langid.c). The text is read once, with no allocation
 * and a 4-byte window, so any length works. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "atento.h"

#define LANGID_BITS 14
#define LANGID_MAX_N 4
#define LANGID_SCALE 16.0f
/* When text counts as "already in the target language" (atn_text_is_in_language). */
#define ATN_SAME_LANGUAGE_MIN_WORDS 3
#define ATN_SAME_LANGUAGE_CONFIDENCE 0.95f

extern const int8_t atn_langid_table[1 << LANGID_BITS];

typedef struct {
    uint8_t win[LANGID_MAX_N]; /* the last bytes, win[LANGID_MAX_N-1] the newest */
    int have;                  /* how many of them are real */
    int64_t score;
} langid_state;

/* Add the n-grams that end with byte c. */
static void push(langid_state *st, uint8_t c) {
    memmove(st->win, st->win + 1, LANGID_MAX_N - 1);
    st->win[LANGID_MAX_N - 1] = c;
    if (st->have < LANGID_MAX_N) st->have++;
    for (int n = 1; n <= st->have; n++) {
        if (n == 1 && c == ' ') continue;
        uint32_t h = 2166136261u ^ (uint32_t)n;
        for (int i = LANGID_MAX_N - n; i < LANGID_MAX_N; i++) h = (h ^ st->win[i]) * 16777619u;
        st->score += atn_langid_table[h & ((1u << LANGID_BITS) - 1)];
    }
}

static int is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

const char *atn_detect_language(const char *text, size_t len, float *confidence) {
    if (confidence) *confidence = 0.0f;
    if (!text && len) return NULL;
    const uint8_t *s = (const uint8_t *)text;
    langid_state st = {{0}, 0, 0};
    int letters = 0, space = 1;
    push(&st, ' ');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (is_space(c)) {
            if (!space) push(&st, ' ');
            space = 1;
            continue;
        }
        space = 0;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') letters = 1;
        if (c >= 0x80) letters = 1;
        if (c >= 'A' && c <= 'Z') push(&st, (uint8_t)(c + 32));
        else if (c == 0xC3 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9E && s[i + 1] != 0x97) {
            /* Latin-1 capitals (À..Þ but ×) to their small letters */
            push(&st, c);
            push(&st, (uint8_t)(s[++i] + 0x20));
        } else push(&st, c);
    }
    if (!space) push(&st, ' ');
    if (!letters) return NULL;
    if (confidence) {
        /* P(winner) from the log-odds; naive Bayes is overconfident on long
         * texts, so this says "sure" or "unsure", not a calibrated chance. */
        double lo = fabs((double)st.score) / LANGID_SCALE;
        *confidence = (float)(1.0 / (1.0 + exp(-lo)));
    }
    return st.score > 0 ? "en" : "es";
}

/* How many words (runs of non-space bytes with a letter in them) the text
 * has, counted up to `enough`. */
static int count_words(const uint8_t *s, size_t len, int enough) {
    int words = 0, in_word = 0, letter = 0;
    for (size_t i = 0; i <= len && words < enough; i++) {
        if (i == len || is_space(s[i])) {
            words += in_word && letter;
            in_word = letter = 0;
            continue;
        }
        in_word = 1;
        if ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') letter = 1;
        if (s[i] >= 0x80) letter = 1;
    }
    return words;
}

int atn_text_is_in_language(const char *text, size_t len, const char *lang) {
    if (!lang || (!text && len)) return 0;
    /* One or two words are always translated: a single word is often spelled
     * alike in both languages or looks like the other one ("library" scores
     * Spanish with 0.99), and a wrong "already translated" hides the answer,
     * while translating a word that was already in the target costs little. */
    if (count_words((const uint8_t *)text, len, ATN_SAME_LANGUAGE_MIN_WORDS) < ATN_SAME_LANGUAGE_MIN_WORDS) return 0;
    float confidence;
    const char *got = atn_detect_language(text, len, &confidence);
    return got && !strcmp(got, lang) && confidence >= ATN_SAME_LANGUAGE_CONFIDENCE;
}
