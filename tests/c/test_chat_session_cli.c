/* test_chat_session_cli.c — the JSON reader and the flags of the native
 * `atento chat` (src/cli/chat.c, included here to reach its static parts):
 * documented shapes are read exactly (escapes, surrogates, BOM, several
 * conversations, unknown members skipped), every malformed or out-of-shape
 * input is refused with a message, and no truncation or damage of a valid
 * input crashes or reads out of bounds (each input is copied into a buffer of
 * exactly its size, so a sanitizer build sees any overread).
 */
#include "../../src/cli/chat.c"
#include "../../src/cli/chat_tools.c"
#include <stdarg.h>
#include "test_util.h"



/* read_conversations on an exact-size copy of s[0..n); error lines silenced */
static int parse(const char *s, size_t n, conversation **cs) {
    char *copy = malloc(n ? n : 1);
    if (!copy) return -2;
    memcpy(copy, s, n);
    g_quiet = 1;
    int r = read_conversations(copy, n, cs);
    g_quiet = 0;
    free(copy);
    return r;
}

static void free_all(conversation *cs, int n) {
    for (int i = 0; i < n; i++) conversation_free(&cs[i]);
    free(cs);
}

static int parses(const char *s) {
    conversation *cs = NULL;
    int n = parse(s, strlen(s), &cs);
    if (n > 0) free_all(cs, n);
    return n;
}

static const char *VALID =
    "\xEF\xBB\xBF{\n  \"model\": {\"name\": [1, 2.5e-3, -0, true, false, null, \"x\"]},\n"
    "  \"messages\": [\n    {\"role\": \"system\", \"content\": \"Be brief.\"},\n"
    "    {\"role\": \"user\", \"name\": \"ana\", \"content\": \"caf\\u00e9 \\ud83d\\ude00 \\ud800 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}\n  ],\n"
    "  \"temperature\": 0.5, \"top_p\": 1, \"top_k\": 40, \"min_p\": 0.05, \"repeat_penalty\": 1.1,\n"
    "  \"repeat_last_n\": 64, \"seed\": 42, \"max_tokens\": 16, \"stop\": [\"\\n\\n\", \"User:\"]\n}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"stop\":\"END\",\"seed\":null}\n";

static void test_valid(void) {
    conversation *cs = NULL;
    int n = parse(VALID, strlen(VALID), &cs);
    CHECK(n == 2, "two conversations, got %d", n);
    if (n != 2) return;
    conversation *c = &cs[0];
    CHECK(c->n == 2, "2 messages, got %d", c->n);
    if (c->n == 2) {
        CHECK(!strcmp(c->msgs[0].role, "system") && !strcmp(c->msgs[0].content, "Be brief."), "system message");
        CHECK(!strcmp(c->msgs[1].role, "user"), "user role");
        const char *want = "caf\xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBD \"q\" \\ / \b\f\n\r\t";
        CHECK(!strcmp(c->msgs[1].content, want), "escapes decoded: '%s'", c->msgs[1].content);
    }
    CHECK(c->p.temperature == 0.5 && c->p.top_p == 1 && c->p.top_k == 40 && fabs(c->p.min_p - 0.05) < 1e-12 &&
              fabs(c->p.repeat_penalty - 1.1) < 1e-12 && c->p.repeat_last_n == 64 && c->p.seed == 42 && c->p.max_tokens == 16,
          "numeric parameters");
    CHECK(c->p.n_stop == 2 && !strcmp(c->p.stop[0], "\n\n") && !strcmp(c->p.stop[1], "User:"), "stop list");
    c = &cs[1];
    CHECK(c->n == 1 && c->msgs[0].content[0] == 0, "empty content is allowed");
    CHECK(c->p.n_stop == 1 && !strcmp(c->p.stop[0], "END"), "stop as one string");
    CHECK(c->p.seed == -1 && isnan(c->p.temperature) && c->p.max_tokens == -1, "null and absent parameters are not given");
    free_all(cs, n);

    /* command line beats the conversation; stop strings add up */
    params cli, js;
    params_init(&cli);
    params_init(&js);
    cli.temperature = 0;
    cli.stop[cli.n_stop++] = "A";
    js.temperature = 0.9;
    js.seed = 7;
    js.stop[js.n_stop++] = "B";
    params p = merge(&cli, &js);
    CHECK(p.temperature == 0 && p.seed == 7 && p.n_stop == 2 && !strcmp(p.stop[1], "B"), "merge");

    CHECK(parses("{\"messages\":[{\"content\":\"x\",\"role\":\"user\"}]}") == 1, "member order is free");
    CHECK(parses("  {\"messages\" : [ { \"role\" : \"user\" , \"content\" : \"x\" } ] }  \n\n") == 1, "whitespace");
    CHECK(parses("{\"messages\":[{\"role\":\"a\",\"content\":\"1\"}],\"messages\":[{\"role\":\"b\",\"content\":\"2\"},"
                 "{\"role\":\"c\",\"content\":\"3\"}]}") == 1,
          "a repeated member: the last one counts");
    conversation *c2 = NULL;
    const char *dup = "{\"messages\":[{\"role\":\"a\",\"content\":\"1\",\"content\":\"2\"}]}";
    int k = parse(dup, strlen(dup), &c2);
    CHECK(k == 1 && !strcmp(c2[0].msgs[0].content, "2"), "repeated content: the last one counts");
    if (k > 0) free_all(c2, k);
}

static void test_invalid(void) {
    static const char *const bad[] = {
        "",
        "   \n ",
        "{",
        "[",
        "[{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}]",
        "\"messages\"",
        "42",
        "null",
        "{}",
        "{\"messages\":[]}",
        "{\"messages\":{}}",
        "{\"messages\":\"hi\"}",
        "{\"messages\":[\"hi\"]}",
        "{\"messages\":[{\"role\":\"user\"}]}",
        "{\"messages\":[{\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"\",\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":1,\"content\":\"x\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":null}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} x",
        "{'messages':[{'role':'user','content':'x'}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\nb\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\x41\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\\u12\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\\u12g4\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\\",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xC3\x28\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xED\xA0\x80\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xF4\x90\x80\x80\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xC0\xAF\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":-1}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1e300}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":-3}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":01}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1.}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":.5}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1e}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":-}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":true}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":NaN}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[]}x",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"\"]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":\"\"}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
        "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"extra\":[1,2,}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"extra\":tru}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"extra\":{\"a\" 1}}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n{\"messages\":[]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(parses(bad[i]) < 0, "accepted bad input %zu: %s", i, bad[i]);

    /* deep nesting in an ignored member: bounded, refused, no stack overflow */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    if (deep) {
        size_t k = (size_t)sprintf(deep, "{\"x\":");
        for (size_t i = 0; i < depth; i++) deep[k++] = '[';
        for (size_t i = 0; i < depth; i++) deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = 0;
        CHECK(parses(deep) < 0, "deep nesting refused");
        free(deep);
    }
    CHECK(parses("{\"x\":[[[[{\"y\":[1,{}]}]]]],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}") == 1,
          "shallow nesting in an ignored member is fine");
}

/* every prefix of the valid input, and random damage: never a crash */
static void test_damage(void) {
    size_t n = strlen(VALID);
    int accepted = 0;
    for (size_t k = 0; k < n; k++) {
        conversation *cs = NULL;
        int r = parse(VALID, k, &cs);
        if (r > 0) {
            accepted++;
            free_all(cs, r);
        }
    }
    /* only "...}" and "...}\n" (the first conversation whole) and the
     * input without its final newline parse */
    CHECK(accepted == 3, "%d prefixes parse, expected 3", accepted);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char *copy = malloc(n);
    int survived = 0;
    for (int round = 0; round < 20000 && copy; round++) {
        memcpy(copy, VALID, n);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            size_t at = (size_t)(seed % n);
            static const char pool[] = "{}[]\",:\\u0e1-. \n\x80\xff";
            copy[at] = (round & 1) ? (char)(seed >> 40) : pool[(seed >> 32) % (sizeof pool - 1)];
        }
        size_t len = round % 3 == 0 ? (size_t)((seed >> 20) % n) : n;
        conversation *cs = NULL;
        int r = parse(copy, len, &cs);
        if (r > 0) free_all(cs, r);
        survived++;
    }
    free(copy);
    CHECK(survived == 20000, "damaged inputs: %d", survived);
}

static int args(options *o, int n, ...) {
    char *argv[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    g_quiet = 1;
    int r = parse_args(n, argv, o);
    g_quiet = 0;
    return r;
}

static void test_flags(void) {
    options o;
    CHECK(args(&o, 0) == 0 && !o.model && !o.json && o.p.max_tokens == -1 && isnan(o.p.temperature), "no flags");
    CHECK(args(&o, 8, "--model", "m.gguf", "--system=Be kind.", "--temperature", "0", "--stop", "A", "--stop=B") == 0 &&
              !strcmp(o.model, "m.gguf") && !strcmp(o.system, "Be kind.") && o.p.temperature == 0 && o.p.n_stop == 2,
          "flags read");
    CHECK(args(&o, 4, "--top-p", "0.9", "--seed", "12") == 0 && fabs(o.p.top_p - 0.9) < 1e-12 && o.p.seed == 12, "numbers");
    CHECK(args(&o, 2, "--json", "--verbose") == 0 && o.json && o.verbose, "bools");
    CHECK(args(&o, 1, "--help") == 1, "help");
    CHECK(args(&o, 1, "--bogus") < 0, "unknown flag");
    CHECK(args(&o, 1, "model") < 0, "stray argument");
    CHECK(args(&o, 1, "--model") < 0, "missing value");
    CHECK(args(&o, 2, "--temperature", "hot") < 0, "bad number");
    CHECK(args(&o, 2, "--top-p", "1.5") < 0, "out of range");
    CHECK(args(&o, 2, "--max-tokens", "0") < 0, "max-tokens >= 1");
    CHECK(args(&o, 2, "--max-tokens", "3.5") < 0, "integer flag");
    CHECK(args(&o, 4, "--seed", "1", "--seed", "2") < 0, "repeated flag");
    CHECK(args(&o, 2, "--stop", "") < 0, "empty stop");
    CHECK(args(&o, 1, "--json=maybe") < 0, "bool with a value");
    CHECK(args(&o, 3, "--json", "--system", "x") < 0, "--system with --json");
}

int main(void) {
    test_valid();
    test_invalid();
    test_damage();
    test_flags();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
