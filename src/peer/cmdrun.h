/* What the peer's long-running commands (`flashback get`, `flashback open`) and their pages share
 * around one libuv loop: the milliseconds since their start, the progress line on stderr that
 * --quiet silences, and the loop's last turns at exit. */
#ifndef FB_PEER_CMDRUN_H
#define FB_PEER_CMDRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Starts a command's run: ignores SIGPIPE (a closed output is a write error, not a death),
 * allocates `size` zeroed bytes for its state and initializes *loop. Returns the state (the
 * caller frees it), or NULL after printing "NAME: out of memory" on stderr with nothing left
 * allocated. */
void *fb_cmdrun_start(uv_loop_t *loop, size_t size, const char *name);

/* Milliseconds since t0 (a uv_hrtime() value). */
uint64_t fb_cmdrun_ms(uint64_t t0);

/* Prints "NAME: message" and a line break on stderr, unless quiet. */
void fb_cmdrun_say(bool quiet, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the loop until nothing is left on it, then once more without waiting to release what
 * closed in the last turn, and closes it; a handle still open at that point is reported on
 * stderr as "NAME: warning: handles left open at exit". */
void fb_cmdrun_loop(uv_loop_t *loop, const char *name);

#endif
