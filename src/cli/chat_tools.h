/* chat_tools.h — the built-in tools of the native `atento chat` (chat_tools.c). */
#ifndef ATN_CLI_CHAT_TOOLS_H
#define ATN_CLI_CHAT_TOOLS_H

#include <stddef.h>

#define CLI_MAX_TOOL_ROUNDS 3 /* calls, results, and the model continues, at most this often per answer */

typedef struct cli_tools cli_tools;

/* The string members of a call's arguments that the tools read (NULL: absent
 * or not a string); is_object: the arguments are a JSON object. */
typedef struct {
    int is_object;
    const char *text, *to, *word, *from;
    size_t word_len;
} cli_tool_args;

cli_tools *cli_tools_new(void);
void cli_tools_free(cli_tools *t);
/* The result of one call (malloc'd; NULL only when out of memory): the tool's
 * answer, or "error: ..." for an unknown tool, bad arguments or a missing file. */
char *cli_tools_run(cli_tools *t, const char *name, const cli_tool_args *a);

/* `atento lookup WORD --from en|es`: the exit status. */
int atn_cli_lookup(int argc, char **argv);

#endif
