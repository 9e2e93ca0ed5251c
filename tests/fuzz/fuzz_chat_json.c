/* fuzz_chat_json.c — the native CLI's `chat --json` reader (src/cli/chat.c,
 * included to reach its static reader, as tests/c/test_chat_session_cli.c
 * does) on any bytes: a conversation list or a one-line error, every bound
 * checked (the input is an exact-size copy). */
#include "../../src/cli/chat.c"
#include "../../src/cli/chat_tools.c" /* chat.c runs the built-in tools through it */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = fuzz_copy(data, size);
    if (!copy) return 0;
    conversation *cs = NULL;
    g_quiet = 1;
    int n = read_conversations(copy, size, &cs);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(cs[i].n > 0, "conversation %d has no messages", i);
        for (int k = 0; k < cs[i].n; k++)
            FUZZ_CHECK(cs[i].msgs[k].role && cs[i].msgs[k].role[0] && cs[i].msgs[k].content, "message %d", k);
        conversation_free(&cs[i]);
    }
    free(cs);
    free(copy);
    return 0;
}
