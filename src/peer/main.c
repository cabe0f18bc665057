/* flashback: the native peer. One program, several subcommands; each lives in its own module
 * and this file only dispatches. */
#include <stdio.h>
#include <string.h>

#include "peer/commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"get", fb_cmd_get, "fetch a page through the swarm, the origin as fallback (like curl)"},
    {"open", fb_cmd_open, "serve a site to your browser through the swarm (a local server)"},
    {"crowd", fb_cmd_crowd, "run a flash crowd of N visitors against a page, in one process"},
    {"sim", fb_cmd_sim, "run a flash crowd on the deterministic network simulator"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: flashback COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-6s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`flashback COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("flashback %s\n", FB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "flashback: unknown command '%s' (try --help)\n", argv[1]);
    return 2;
}
