/* Whole-file writes by temporary file and rename (see atomic_write.h). */
#include "net/atomic_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int fb_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fb_write_replace(int dir_fd, const char *name, const void *data, size_t len, int64_t mtime)
{
    char tmp[64];
    int fd = -1, rc;
    for (int tries = 0; tries < 16 && fd < 0; tries++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint64_t)getpid() * 2654435761u + (uint64_t)tries;
        snprintf(tmp, sizeof(tmp), ".fbtmp-%016llx", (unsigned long long)r);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    rc = fb_write_all(fd, data, len);
    if (rc == 0 && mtime >= 0) {
        struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)mtime}};
        if (futimens(fd, ts) != 0)
            rc = -errno;
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(dir_fd, tmp, dir_fd, name) != 0)
        rc = -errno;
    if (rc != 0)
        unlinkat(dir_fd, tmp, 0);
    return rc;
}
