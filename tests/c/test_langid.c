/* test_langid.c — atn_detect_language (src/langid.c) on the Tatoeba test
 * split (models/train/split/test.tsv, sentences its table never saw):
 * >= 99 % right on sentences of 4+ words, in each language; plus the edges:
 * no letters, empty, capitals, invalid UTF-8, a long text. */
#include "test_util.h"

static int words(const char *s, size_t n) {
    int w = 0, in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = s[i] == ' ' || s[i] == '\t';
        if (!sp && !in) w++;
        in = !sp;
    }
    return w;
}

int main(void) {
    size_t size;
    char *data = read_file("models/train/split/test.tsv", &size);
    CHECK(data != NULL, "cannot read models/train/split/test.tsv");
    if (data) {
        int n[2] = {0, 0}, ok[2] = {0, 0};
        char *line = data, *end = data + size;
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            if (!nl) nl = end;
            char *tab = memchr(line, '\t', (size_t)(nl - line));
            if (tab) {
                const char *part[2] = {line, tab + 1};
                size_t len[2] = {(size_t)(tab - line), (size_t)(nl - tab - 1)};
                const char *want[2] = {"en", "es"};
                for (int k = 0; k < 2; k++) {
                    if (words(part[k], len[k]) < 4) continue;
                    const char *got = atn_detect_language(part[k], len[k], NULL);
                    n[k]++;
                    if (got && !strcmp(got, want[k])) ok[k]++;
                }
            }
            line = nl + 1;
        }
        printf("test split, 4+ words: en %d/%d, es %d/%d\n", ok[0], n[0], ok[1], n[1]);
        CHECK(n[0] > 1500 && n[1] > 1500, "too few test sentences: %d %d", n[0], n[1]);
        CHECK(ok[0] >= 0.99 * n[0], "English %d/%d", ok[0], n[0]);
        CHECK(ok[1] >= 0.99 * n[1], "Spanish %d/%d", ok[1], n[1]);
        atn_free(data);
    }

    float conf = -1;
    CHECK(atn_detect_language("", 0, &conf) == NULL && conf == 0.0f, "empty text has no language");
    CHECK(atn_detect_language(NULL, 0, NULL) == NULL, "NULL, 0");
    CHECK(atn_detect_language("12 + 7 = 19 !!", 14, NULL) == NULL, "no letters");
    const char *s = "WHERE IS THE TRAIN STATION?";
    CHECK(!strcmp(atn_detect_language(s, strlen(s), &conf), "en") && conf > 0.9f, "capitals: %f", conf);
    s = "¿DÓNDE ESTÁ LA ESTACIÓN DE TREN?";
    CHECK(!strcmp(atn_detect_language(s, strlen(s), NULL), "es"), "Spanish capitals");
    s = "El gato duerme en el sofá.\xff\xfe";
    CHECK(!strcmp(atn_detect_language(s, strlen(s), NULL), "es"), "invalid UTF-8 bytes are only bytes");
    /* a long text: the score is 64-bit, the window fixed */
    size_t big = 1u << 22;
    char *long_text = malloc(big);
    const char *unit = "The weather is nice today and we are going to the beach. ";
    size_t ul = strlen(unit);
    for (size_t i = 0; i < big; i++) long_text[i] = unit[i % ul];
    CHECK(!strcmp(atn_detect_language(long_text, big, &conf), "en") && conf > 0.99f, "4 MiB of English");

    /* "already in the target language": 3+ words and a sure detector; one or
     * two words never (the detector calls "library" Spanish). */
    const char *words[] = {"library", "table", "hello", "hola", "gato", "  Library!  ", "buenos días", "good morning"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        CHECK(!atn_text_is_in_language(words[i], strlen(words[i]), "en"), "'%s' is never already English", words[i]);
        CHECK(!atn_text_is_in_language(words[i], strlen(words[i]), "es"), "'%s' is never already Spanish", words[i]);
    }
    s = "Where is the train station?";
    CHECK(atn_text_is_in_language(s, strlen(s), "en") && !atn_text_is_in_language(s, strlen(s), "es"), "an English sentence");
    s = "El perro come pan en la cocina.";
    CHECK(atn_text_is_in_language(s, strlen(s), "es") && !atn_text_is_in_language(s, strlen(s), "en"), "a Spanish sentence");
    s = "hola , ! gato";
    CHECK(!atn_text_is_in_language(s, strlen(s), "es"), "punctuation is not a word");
    CHECK(!atn_text_is_in_language(long_text, big, "es") && atn_text_is_in_language(long_text, big, "en"), "4 MiB of English");
    CHECK(!atn_text_is_in_language(NULL, 0, "en") && !atn_text_is_in_language("a b c", 5, NULL), "NULL text or language");
    free(long_text);
    return test_summary();
}
