/* test_dictionary.c — atn_dict_* (src/dictionary.c): lookups in the shipped
 * models/dict-en-es.tsv (the normalization and fallbacks; the same strings
 * as models/tools/dictionary.py gives, which tests/js/dictionary.test.mjs
 * checks on a longer list), and damaged or hostile files: each refused with
 * a one-line reason, every truncation of a valid file refused cleanly. */
#include "test_util.h"

static void expect(const atn_dict *d, const char *word, const char *from, const char *want) {
    char out[256];
    int n = atn_dict_lookup(d, word, strlen(word), from, out, sizeof out);
    CHECK(n >= 0 && (size_t)n == strlen(want) && !strcmp(out, want), "lookup(%s, %s) = %d '%s', want '%s' (%s)", word,
          from, n, n >= 0 ? out : "", want, n < 0 ? atn_last_error() : "");
}

static void refused(const char *text, const char *reason) {
    atn_dict *d = atn_dict_load(text, strlen(text));
    CHECK(d == NULL && strstr(atn_last_error(), reason) != NULL, "file %.40s...: got '%s', want '%s'", text,
          d ? "(loaded)" : atn_last_error(), reason);
    CHECK(strchr(atn_last_error(), '\n') == NULL, "one line: %s", atn_last_error());
    atn_dict_free(d);
}

int main(void) {
    size_t size;
    char *data = read_file("models/dict-en-es.tsv", &size);
    CHECK(data != NULL, "cannot read models/dict-en-es.tsv");
    if (data) {
        atn_dict *d = atn_dict_load(data, size);
        CHECK(d != NULL, "load: %s", atn_last_error());
        atn_free(data);
        if (d) {
            CHECK(atn_dict_size(d, "en") > 5000 && atn_dict_size(d, "es") > 4000, "sizes %d %d", atn_dict_size(d, "en"),
                  atn_dict_size(d, "es"));
            expect(d, "gato", "es", "cat, jack");
            expect(d, "  \xc2\xab" "El Gato\xc2\xbb?! ", "es", "cat, jack");      /* quotes, article, case */
            expect(d, "The cats", "en", "gato");                                   /* article + plural */
            expect(d, "to be", "en", "ser, estar");                                 /* filled from es -> en */
            expect(d, "arbol", "es", "tree");                                       /* accent-insensitive */
            expect(d, "\xc3\x81RBOL", "es", "tree");                               /* ÁRBOL */
            expect(d, "luces", "es", "light");                                      /* -ces -> -z */
            expect(d, "libraries", "en", "biblioteca");                             /* -ies -> -y */
            expect(d, "good morning", "en", "buenos d\xc3\xad" "as");
            expect(d, "Buenos   d\xc3\xad" "as", "es", "good morning, good day");  /* spaces collapsed */
            expect(d, "run", "en", "correr, atropellar, arranque, funcionar");     /* most common first */
            expect(d, "xyzzy", "en", "(no entry)");
            expect(d, "", "en", "(no entry)");
            expect(d, "...", "en", "(no entry)");
            expect(d, "gato", "en", "(no entry)");

            char out[8];
            int n = atn_dict_lookup(d, "gato", 4, "es", out, sizeof out);
            CHECK(n == 9 && !strcmp(out, "cat, ja"), "truncated to cap: %d '%s'", n, out);
            CHECK(atn_dict_lookup(d, "gato", 4, "es", NULL, 0) == 9, "size query");
            CHECK(atn_dict_lookup(d, "gato", 4, "fr", out, sizeof out) < 0 && strstr(atn_last_error(), "'from'"),
                  "bad language: %s", atn_last_error());
            CHECK(atn_dict_lookup(d, "gato", 4, NULL, out, sizeof out) < 0, "NULL language");
            CHECK(atn_dict_lookup(d, "g\xff", 2, "es", out, sizeof out) < 0 && strstr(atn_last_error(), "UTF-8"),
                  "invalid UTF-8: %s", atn_last_error());
            char big[1100];
            memset(big, 'a', sizeof big);
            CHECK(atn_dict_lookup(d, big, sizeof big, "en", out, sizeof out) < 0 && strstr(atn_last_error(), "longer"),
                  "over-long word: %s", atn_last_error());
            CHECK(atn_dict_lookup(d, big, 1024, "en", out, sizeof out) == 10, "1024 bytes is allowed");
            CHECK(atn_dict_lookup(NULL, "gato", 4, "es", out, sizeof out) < 0, "no dictionary");
            CHECK(atn_dict_size(d, "de") < 0, "size of an unknown language");
            atn_dict_free(d);
        }
    }

    /* a small valid file, then damaged copies of it */
    const char *ok = "atento-dictionary 1\nen\t2\ncat\tgato\ndog\tperro\nes\t1\ngato\tcat\n";
    atn_dict *d = atn_dict_load(ok, strlen(ok));
    CHECK(d != NULL, "small file: %s", atn_last_error());
    if (d) {
        expect(d, "Cats", "en", "gato");
        expect(d, "perro", "es", "(no entry)");
        atn_dict_free(d);
    }
    for (size_t cut = 0; cut < strlen(ok); cut++) {
        atn_dict *t = atn_dict_load(ok, cut);
        CHECK(t == NULL, "the first %zu bytes must not load", cut);
        atn_dict_free(t);
    }
    CHECK(atn_dict_load(NULL, 0) == NULL, "no data");
    refused("GGUF", "not an atento dictionary");
    refused("atento-dictionary 2\nen\t0\nes\t0\n", "not an atento dictionary");
    refused("atento-dictionary 1\nes\t0\nen\t0\n", "section 'en'");
    refused("atento-dictionary 1\nen\t-1\nes\t0\n", "bad entry count");
    refused("atento-dictionary 1\nen\t99999999999999999999\nes\t0\n", "bad entry count");
    refused("atento-dictionary 1\nen\t900000\nes\t0\n", "more than the file holds");
    refused("atento-dictionary 1\nen\t2\ndog\tperro\ncat\tgato\nes\t0\n", "ascending");
    refused("atento-dictionary 1\nen\t2\ncat\tgato\ncat\tgato\nes\t0\n", "ascending");
    refused("atento-dictionary 1\nen\t1\ncat gato\nes\t0\n", "key<TAB>translations");
    refused("atento-dictionary 1\nen\t1\ncat\tga\tto\nes\t0\n", "key<TAB>translations");
    refused("atento-dictionary 1\nen\t1\n\tgato\nes\t0\n", "key<TAB>translations");
    refused("atento-dictionary 1\nen\t1\ncat\t\nes\t0\n", "key<TAB>translations");
    refused("atento-dictionary 1\nen\t1\ncat\tgato\r\nes\t0\n", "key<TAB>translations");
    refused("atento-dictionary 1\nen\t1\nca\xff\tgato\nes\t0\n", "UTF-8");
    refused("atento-dictionary 1\nen\t0\nes\t0\nextra\n", "after the last section");
    refused("atento-dictionary 1\nen\t3\ncat\tgato\nes\t0\n", "ends after");
    {
        /* a NUL inside a translation would cut a lookup's C string short (found by fuzz_dict) */
        static const char nul[] = "atento-dictionary 1\nen\t0\nes\t1\ngato\t\0\0cat\n";
        atn_dict *d = atn_dict_load(nul, sizeof nul - 1);
        CHECK(d == NULL && strstr(atn_last_error(), "NUL byte") != NULL && !strchr(atn_last_error(), '\n'),
              "a NUL byte: got '%s'", d ? "(loaded)" : atn_last_error());
        atn_dict_free(d);
    }
    {
        char longkey[400];
        strcpy(longkey, "atento-dictionary 1\nen\t1\n");
        size_t p = strlen(longkey);
        memset(longkey + p, 'k', 300);
        strcpy(longkey + p + 300, "\tv\nes\t0\n");
        refused(longkey, "key longer than");
    }
    return test_summary();
}
