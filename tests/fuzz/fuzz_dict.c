/* fuzz_dict.c — the lookup tool's dictionary (src/dictionary.c) on any bytes.
 * The first byte chooses: even — the rest is a dictionary file: it loads or
 * is refused with a one-line reason, and a loaded one answers lookups with a
 * non-empty string that fits the bounds; odd — the rest is a query (second
 * byte: its language) to the shipped models/dict-en-es.tsv: the answer is
 * "(no entry)" or a line of the file's translations, never longer than
 * the file's longest, and the same when asked with a small buffer. */
#include "atento.h"
#include "fuzz_util.h"

static atn_dict *shipped;

static void check_lookup(const atn_dict *d, const char *q, size_t n, const char *lang) {
    char out[1100], small[4];
    int k = atn_dict_lookup(d, q, n, lang, out, sizeof out);
    if (k < 0) {
        const char *e = atn_last_error();
        FUZZ_CHECK(e && *e && !strchr(e, '\n'), "error '%s'", e ? e : "(null)");
        return;
    }
    FUZZ_CHECK(k > 0 && k < (int)sizeof out && strlen(out) == (size_t)k && !strchr(out, '\n') && !strchr(out, '\t'),
               "result of %d bytes", k);
    int k2 = atn_dict_lookup(d, q, n, lang, small, sizeof small);
    FUZZ_CHECK(k2 == k && strlen(small) == (size_t)(k < 3 ? k : 3), "%d then %d", k, k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!shipped) {
        size_t n;
        uint8_t *file = fuzz_read_fixture("models/dict-en-es.tsv", &n);
        shipped = atn_dict_load(file, n);
        free(file);
        FUZZ_CHECK(shipped != NULL, "the shipped dictionary does not load: %s", atn_last_error());
    }
    char *rest = fuzz_copy(data + 1, size - 1);
    if (!rest) return 0;
    if (data[0] % 2 == 0) {
        atn_dict *d = atn_dict_load(rest, size - 1);
        if (!d) {
            const char *e = atn_last_error();
            FUZZ_CHECK(e && !strncmp(e, "dictionary: ", 12) && !strchr(e, '\n'), "error '%s'", e ? e : "(null)");
        } else {
            static const char *const qs[] = {"cat", "Gatos", "el perro", "\xc3\x81rbol", "", "luces"};
            for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
                check_lookup(d, qs[i], strlen(qs[i]), "en");
                check_lookup(d, qs[i], strlen(qs[i]), "es");
            }
            FUZZ_CHECK(atn_dict_size(d, "en") >= 0 && atn_dict_size(d, "es") >= 0, "sizes");
            atn_dict_free(d);
        }
    } else if (size >= 2) {
        check_lookup(shipped, rest + 1, size - 2, (data[1] & 1) ? "es" : "en");
    }
    free(rest);
    return 0;
}
