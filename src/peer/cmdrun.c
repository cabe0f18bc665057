/* The peer commands' shared loop plumbing (see cmdrun.h). */
#include "peer/cmdrun.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void *fb_cmdrun_start(uv_loop_t *loop, size_t size, const char *name)
{
    void *state;
    signal(SIGPIPE, SIG_IGN);
    state = calloc(1, size);
    if (state == NULL || uv_loop_init(loop) != 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        free(state);
        return NULL;
    }
    return state;
}

uint64_t fb_cmdrun_ms(uint64_t t0)
{
    return (uv_hrtime() - t0) / 1000000;
}

void fb_cmdrun_say(bool quiet, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (quiet)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

void fb_cmdrun_loop(uv_loop_t *loop, const char *name)
{
    uv_run(loop, UV_RUN_DEFAULT);
    uv_run(loop, UV_RUN_NOWAIT);
    if (uv_loop_close(loop) != 0)
        fprintf(stderr, "%s: warning: handles left open at exit\n", name);
}
