/* Safe output paths and atomic writes for `flashback get` (see outpath.h). The mapping is pure;
 * the writers walk the directory tree one component at a time with openat(O_NOFOLLOW), so
 * neither a hostile path nor a symbolic link planted in the output directory can send a write
 * outside it. */
#include "peer/outpath.h"

#include "net/atomic_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static bool bad_byte(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == '\\';
}

int fb_outpath_map(const char *path, size_t n, char *out, size_t cap)
{
    size_t end = 0, o = 0, i, depth = 0;
    if (path == NULL || n == 0 || path[0] != '/' || cap == 0)
        return FB_EINVAL;
    if (cap > FB_OUTPATH_MAX + 1)
        cap = FB_OUTPATH_MAX + 1;
    while (end < n && path[end] != '?' && path[end] != '#')
        end++;
    i = 1;
    for (;;) {
        /* One component: raw bytes [i, j). */
        size_t j = i, start = o;
        while (j < end && path[j] != '/')
            j++;
        if (j == i) {
            if (j < end)
                return FB_EINVAL; /* "//": an empty component */
            /* The path ends with '/' (or is "/"): the directory's index file. */
            static const char idx[] = FB_OUTPATH_INDEX;
            if (o + sizeof(idx) > cap)
                return FB_E2BIG;
            memcpy(out + o, idx, sizeof(idx)); /* with its NUL */
            return (int)(o + sizeof(idx) - 1);
        }
        if (++depth > FB_OUTPATH_DEPTH)
            return FB_EINVAL;
        for (size_t k = i; k < j; k++) {
            unsigned char c = (unsigned char)path[k];
            if (bad_byte(c))
                return FB_EINVAL;
            if (c == '%') {
                int hi = k + 2 < j ? fb_hexval(path[k + 1]) : -1;
                int lo = k + 2 < j ? fb_hexval(path[k + 2]) : -1;
                if (hi < 0 || lo < 0)
                    return FB_EINVAL;
                c = (unsigned char)(hi << 4 | lo);
                if (c == 0 || c == '/' || bad_byte(c))
                    return FB_EINVAL;
                k += 2;
            }
            if (o + 1 >= cap)
                return FB_E2BIG;
            out[o++] = (char)c;
        }
        size_t len = o - start;
        if (len > FB_OUTPATH_NAME)
            return FB_EINVAL;
        if ((len == 1 && out[start] == '.') ||
            (len == 2 && out[start] == '.' && out[start + 1] == '.'))
            return FB_EINVAL;
        if (j >= end) {
            out[o] = '\0';
            return (int)o;
        }
        if (o + 1 >= cap)
            return FB_E2BIG;
        out[o++] = '/';
        i = j + 1;
    }
}

int fb_outpath_resolve(char (*paths)[FB_OUTPATH_MAX + 1], bool *dup, size_t n)
{
    static const char idx[] = "/" FB_OUTPATH_INDEX;
    for (size_t i = 0; i < n; i++) {
        size_t li = strlen(paths[i]);
        for (size_t j = 0; j < n; j++) {
            if (j != i && strncmp(paths[j], paths[i], li) == 0 && paths[j][li] == '/') {
                if (li + sizeof(idx) > FB_OUTPATH_MAX + 1)
                    return FB_E2BIG;
                memcpy(paths[i] + li, idx, sizeof(idx));
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        dup[i] = false;
        for (size_t j = 0; j < i && !dup[i]; j++)
            dup[i] = strcmp(paths[i], paths[j]) == 0;
    }
    return 0;
}

/* Opens directory `name` in dir_fd without following a symbolic link, creating it if missing. */
static int open_subdir(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : -errno;
    if (mkdirat(dir_fd, name, 0755) != 0 && errno != EEXIST)
        return -errno;
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

int fb_outpath_write_at(int dir_fd, const char *rel, const uint8_t *data, size_t len)
{
    char buf[FB_OUTPATH_MAX + 1];
    size_t n = rel ? strlen(rel) : 0;
    int cur = dir_fd, rc = 0;
    char *comp;
    if (n == 0 || n > FB_OUTPATH_MAX || rel[0] == '/')
        return -EINVAL;
    memcpy(buf, rel, n + 1);
    comp = buf;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (*comp == '\0' || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0 ||
            (slash && (slash == comp || (slash - comp == 1 && comp[0] == '.') ||
                       (slash - comp == 2 && comp[0] == '.' && comp[1] == '.')))) {
            rc = -EINVAL; /* not a path from fb_outpath_map */
            break;
        }
        if (slash == NULL) {
            rc = fb_write_replace(cur, comp, data, len, -1);
            break;
        }
        *slash = '\0';
        int next = open_subdir(cur, comp);
        if (cur != dir_fd)
            close(cur);
        cur = dir_fd;
        if (next < 0) {
            rc = next;
            break;
        }
        cur = next;
        comp = slash + 1;
    }
    if (cur != dir_fd)
        close(cur);
    return rc;
}

int fb_outpath_write_file(const char *path, const uint8_t *data, size_t len)
{
    char dir[4096];
    const char *slash = strrchr(path, '/'), *name = path;
    int dfd, rc;
    if (path[0] == '\0')
        return -EINVAL;
    if (slash) {
        size_t dl = (size_t)(slash - path);
        if (slash[1] == '\0')
            return -EISDIR;
        if (dl >= sizeof(dir))
            return -ENAMETOOLONG;
        memcpy(dir, path, dl);
        dir[dl] = '\0';
        if (dl == 0)
            strcpy(dir, "/");
        name = slash + 1;
    } else {
        strcpy(dir, ".");
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    rc = fb_write_replace(dfd, name, data, len, -1);
    close(dfd);
    return rc;
}

int fb_outpath_open_dir(const char *dir)
{
    int fd;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -errno;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}
