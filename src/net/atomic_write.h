/* Writing whole files so that a reader sees the old bytes or the new ones, never a part: a new
 * temporary file beside the target (O_EXCL, never through a symbolic link), renamed over it.
 * Used by `flashback get` for its outputs and by flashbackd's reverse proxy for its mirror. */
#ifndef FB_NET_ATOMIC_WRITE_H
#define FB_NET_ATOMIC_WRITE_H

#include <sys/types.h>

#include "core/fbstd.h"

/* Writes all of data[0..len) to fd, retrying interrupted and short writes. Returns 0 or a
 * negative errno value. */
int fb_write_all(int fd, const void *data, size_t len);

/* Writes data[0..len) to `name` (one path component) in the directory open as dir_fd: into a
 * new temporary file there, whose modification time is set to mtime (seconds; -1: now), then
 * renamed over `name`. Returns 0, or a negative errno value with nothing left behind. */
int fb_write_replace(int dir_fd, const char *name, const void *data, size_t len, int64_t mtime);

#endif
