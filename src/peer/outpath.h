/* Where `flashback get` writes what it fetched, safely: the mapping of an untrusted URL path
 * from the network to a relative file path under the output directory (pure), and atomic writes
 * (a temporary file renamed into place) that never leave that directory, whatever symbolic
 * links or files an attacker placed in it. */
#ifndef FB_PEER_OUTPATH_H
#define FB_PEER_OUTPATH_H

#include "core/fbstd.h"

#define FB_OUTPATH_MAX   1024 /* bytes of a relative output path */
#define FB_OUTPATH_NAME  255  /* bytes of one component (NAME_MAX) */
#define FB_OUTPATH_DEPTH 32   /* components at most */
#define FB_OUTPATH_INDEX "index.html"

/* Maps a URL path (n bytes, as a manifest gives it: "/", "/img/a.png", "/news/",
 * "/a%20b.css?v=2") to a relative file path, NUL-terminated in out (cap bytes): the query and
 * any fragment are dropped, percent-escapes decoded, and a path ending in '/' gets
 * "index.html" ("/" -> "index.html", "/news/" -> "news/index.html"). Refused (FB_EINVAL): a
 * path not starting with '/'; an empty, "." or ".." component (after decoding); a NUL, '/',
 * '\\' or control byte produced by decoding, or a raw '\\' or control byte; a malformed escape;
 * a component over FB_OUTPATH_NAME bytes; more than FB_OUTPATH_DEPTH components. FB_E2BIG when
 * the result needs more than cap bytes (or FB_OUTPATH_MAX). Returns the length. */
int fb_outpath_map(const char *path, size_t n, char *out, size_t cap);

/* Resolves clashes in a list of mapped paths (n entries, each a NUL-terminated string in a
 * buffer of FB_OUTPATH_MAX + 1 bytes): a path that is also a directory of another path ("news"
 * beside "news/a.png", as "/news" beside "/news/a.png") becomes its index file
 * ("news/index.html"), and a path equal to an earlier one is marked a duplicate (dup[i] = true:
 * the caller writes it once). Returns 0, or FB_E2BIG if an extended path does not fit. */
int fb_outpath_resolve(char (*paths)[FB_OUTPATH_MAX + 1], bool *dup, size_t n);

/* Writes len bytes to `rel` (a path from fb_outpath_map) under the directory open as dir_fd:
 * each missing directory on the way is created (0755), no component is followed if it is a
 * symbolic link, the bytes go to a new temporary file beside the target (O_EXCL) that is then
 * renamed over it. Returns 0, or a negative errno value (-ELOOP, -ENOTDIR, -EISDIR, -ENOSPC...)
 * with nothing left behind but directories it created. */
int fb_outpath_write_at(int dir_fd, const char *rel, const uint8_t *data, size_t len);

/* Writes len bytes to the file `path` (given by the user, trusted) atomically: a temporary file
 * in the same directory, renamed over it. Returns 0 or a negative errno value. */
int fb_outpath_write_file(const char *path, const uint8_t *data, size_t len);

/* Opens (creating it if missing, one level) the output directory given by the user. Returns a
 * descriptor or a negative errno value. */
int fb_outpath_open_dir(const char *dir);

#endif
