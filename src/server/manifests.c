/* The manifest service (manifests.h). A build resolves the page, lists its objects (scanning the
 * HTML for embedded ones), opens them all in a filestore through the origin's confined resolver,
 * hashes every chunk through that filestore (or takes the hashes cached for the same file
 * identity), writes the manifest text and hands the swarm to the seed. If a file changes while
 * this happens (its identity moves between two looks), the build starts again, once. Cached
 * manifests live in a chained hash table on the request path with an LRU list. */
#include "server/manifests.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "core/chunk.h"
#include "core/html_links.h"
#include "core/http_path.h"
#include "core/manifest.h"
#include "core/mime.h"

#define MAX_PATH_BYTES  1024  /* the manifest format's path cap (fb_manifest_caps default) */
#define MAX_CHUNKS      65536 /* chunks a peer or the engine accepts (fb_manifest_caps default) */
#define BUILD_TRIES     2     /* a build that meets a changing file is tried this often */
#define FILES_OPEN      16    /* descriptors a swarm's filestore keeps open at most */
#define TYPE_MAX        96    /* bytes of a content type in the manifest */
#define DEFAULT_HTML    (4u << 20)
#define DEFAULT_OBJECTS 256
#define DEFAULT_BYTES   (64ull << 20)
#define DEFAULT_SLICE   (1u << 20) /* bytes hashed per loop turn */
#define MAX_JOBS        16         /* builds going on from the loop at once */

typedef struct mentry {
    struct mentry *hnext, *prev, *next;
    uint32_t hash;
    char *key; /* the request path, as looked up */
    size_t key_len;
    uint8_t *text;
    size_t len;
    char etag[48];
    size_t etag_len;
    uint8_t *gz; /* the text gzipped (Content-Encoding: gzip), or NULL */
    size_t gz_len;
    char gz_etag[48]; /* etag with "-gz" before its closing quote */
    size_t gz_etag_len;
    int64_t built, checked;
    uint32_t n_obj;
    char **paths;    /* each object's file path (decoded, under the root) */
    fb_file_id *ids; /* each object's identity when it was hashed */
    int handle;      /* the seed's handle, or -1 */
    size_t mem;
} mentry;

struct job;

struct fb_manifests {
    uv_loop_t *loop; /* NULL: every build is done at once */
    uv_idle_t idle;  /* runs the slices while jobs wait */
    struct job *jobs;
    uint32_t n_jobs;
    fb_manifests_wait *notifying; /* waiters being told a job's result */
    fb_file_cache *files;
    fb_seed *seed;
    fb_manifests_config cfg;
    mentry **buckets;
    uint32_t n_buckets;
    mentry *head, *tail; /* LRU, most recent first */
    uint32_t n;
    uint64_t mem;
    fb_hashcache hc;
    EVP_MD_CTX *md;
    uint8_t *chunk_buf; /* chunk_size bytes */
    fb_html_link *links;
    char *link_text;
    size_t link_text_cap;
    fb_manifests_stats st;
};

/* One object while a manifest is being built. */
typedef struct bobj {
    char *fpath; /* file path under the root (decoded) */
    char *upath; /* URL path, as it goes into the manifest */
    uint64_t size;
} bobj;

typedef struct build {
    bobj *o;
    uint32_t n;
    uint64_t total;
    uint64_t chunks;
    fb_file_id page_id;
} build;

/* ---- small helpers ----------------------------------------------------------------------- */

/* True when a segment of the path starts with '.': the origin serves no such file. */
static bool hidden(const char *p)
{
    for (size_t i = 0; p[i] && p[i + 1]; i++)
        if (p[i] == '/' && p[i + 1] == '.')
            return true;
    return false;
}

static void id_of(const struct stat *st, fb_file_id *id)
{
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    id->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
}

static bool id_eq(const fb_file_id *a, const fb_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

/* Opens path with the origin's resolver and stats it. Returns the descriptor, or a negative
 * code (FB_ENOENT for anything that is not there or not ours to serve). */
static int open_stat(fb_manifests *m, const char *path, struct stat *st)
{
    int fd = fb_file_cache_open(m->files, path);
    if (fd < 0)
        return fd;
    if (fstat(fd, st) != 0) {
        close(fd);
        return FB_ENOENT;
    }
    return fd;
}

static int opener(void *ctx, const char *path)
{
    return fb_file_cache_open(ctx, path);
}

static void sha256(fb_manifests *m, const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned n = 0;
    if (EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(m->md, data, len) == 1 && EVP_DigestFinal_ex(m->md, out, &n) == 1 &&
        n == 32)
        return;
    fprintf(stderr, "flashbackd: OpenSSL SHA-256 failed\n");
    abort(); /* a wrong hash would make every peer ban the seed */
}

static void build_free(build *b)
{
    for (uint32_t i = 0; b->o && i < b->n; i++) {
        free(b->o[i].fpath);
        free(b->o[i].upath);
    }
    free(b->o);
    memset(b, 0, sizeof(*b));
}

static int build_add(build *b, const char *fpath, const char *upath, size_t ulen, uint64_t size,
                     uint32_t chunk_size)
{
    bobj *o = &b->o[b->n];
    o->fpath = strdup(fpath);
    o->upath = malloc(ulen + 1);
    if (!o->fpath || !o->upath) {
        free(o->fpath);
        free(o->upath);
        return FB_ENOMEM;
    }
    memcpy(o->upath, upath, ulen);
    o->upath[ulen] = '\0';
    o->size = size;
    b->n++;
    b->total += size;
    b->chunks += fb_chunk_count(size, chunk_size);
    return 0;
}

/* ---- building ---------------------------------------------------------------------------- */

/* Reads up to cap bytes of fd into a new buffer. Returns the length or a negative code. */
static ssize_t read_head(int fd, size_t cap, char **out)
{
    char *buf = malloc(cap ? cap : 1);
    size_t got = 0;
    if (!buf)
        return FB_ENOMEM;
    while (got < cap) {
        ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return FB_EAGAIN;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *out = buf;
    return (ssize_t)got;
}

/* Adds the same-origin objects embedded in the HTML page (html[0..n)) after object 0. */
static int add_embedded(fb_manifests *m, build *b, const char *html, size_t n)
{
    fb_html_links hl;
    char dec[MAX_PATH_BYTES + 16];
    fb_html_links_init(&hl, m->links, m->cfg.max_objects - 1, m->link_text, m->link_text_cap,
                       MAX_PATH_BYTES);
    int rc = fb_html_links_scan(&hl, html, n, b->o[0].upath, strlen(b->o[0].upath), NULL, 0);
    if (rc != 0 && rc != FB_ENOSPC)
        return 0; /* the page's own path is unusable as a base: the page alone */
    if (hl.truncated)
        m->st.objects_capped++;
    m->st.objects_missing += hl.too_long;
    for (size_t i = 0; i < hl.count; i++) {
        const char *lp = hl.links[i].path;
        size_t ll = hl.links[i].len;
        fb_http_path p = {.path = dec};
        struct stat st;
        if (strlen(b->o[0].upath) == ll && memcmp(lp, b->o[0].upath, ll) == 0)
            continue; /* the page itself */
        if (!fb_manifest_path_ok(lp, ll, MAX_PATH_BYTES) ||
            fb_http_path_parse(lp, ll, &p, sizeof(dec)) != 0 || hidden(p.path) ||
            p.trailing_slash) {
            m->st.objects_missing++;
            continue;
        }
        int fd = open_stat(m, p.path, &st);
        if (fd == FB_ENOSPC || fd == FB_ENOMEM)
            return fd;
        if (fd < 0) {
            m->st.objects_missing++;
            continue;
        }
        close(fd);
        if (!S_ISREG(st.st_mode)) {
            m->st.objects_missing++;
            continue;
        }
        uint64_t size = (uint64_t)st.st_size;
        if (b->n >= m->cfg.max_objects || b->total + size > m->cfg.max_bytes ||
            b->chunks + fb_chunk_count(size, m->cfg.chunk_size) > MAX_CHUNKS) {
            m->st.objects_capped++;
            continue;
        }
        rc = build_add(b, p.path, lp, ll, size, m->cfg.chunk_size);
        if (rc)
            return rc;
    }
    return 0;
}

/* Resolves the page and lists the objects of its manifest into b. */
static int list_objects(fb_manifests *m, const char *path, size_t len, build *b)
{
    char *fpath = malloc(len + 16), *udec = malloc(len + 2), *upath = NULL;
    struct stat st;
    int fd = -1, rc;
    b->o = calloc(m->cfg.max_objects, sizeof(bobj));
    if (!fpath || !udec || !b->o) {
        rc = FB_ENOMEM;
        goto out;
    }
    memcpy(fpath, path, len);
    fpath[len] = '\0';
    memcpy(udec, path, len);
    udec[len] = '\0';
    if (len == 0 || path[0] != '/' || memchr(path, '\0', len) || hidden(fpath)) {
        rc = FB_ENOENT;
        goto out;
    }
    fd = open_stat(m, fpath, &st);
    if (fd < 0) {
        rc = fd == FB_ENOSPC || fd == FB_ENOMEM ? fd : FB_ENOENT;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        /* A directory, with or without its slash, means its index.html; object 0 is named by
         * the slash form, which the origin serves without a redirect. */
        close(fd);
        size_t k = len;
        if (fpath[k - 1] != '/') {
            fpath[k++] = '/';
            udec[k - 1] = '/';
            udec[k] = '\0';
        }
        memcpy(fpath + k, "index.html", 11);
        fd = open_stat(m, fpath, &st);
        if (fd < 0) {
            rc = fd == FB_ENOSPC || fd == FB_ENOMEM ? fd : FB_ENOENT;
            goto out;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        rc = FB_ENOENT;
        goto out;
    }
    size_t ucap = 3 * strlen(udec) + 1;
    upath = malloc(ucap);
    if (!upath) {
        rc = FB_ENOMEM;
        goto out;
    }
    int ul = fb_http_path_encode(udec, strlen(udec), upath, ucap);
    if (ul < 0 || !fb_manifest_path_ok(upath, (size_t)ul, MAX_PATH_BYTES) ||
        (uint64_t)st.st_size > m->cfg.max_bytes ||
        fb_chunk_count((uint64_t)st.st_size, m->cfg.chunk_size) > MAX_CHUNKS) {
        rc = FB_E2BIG;
        goto out;
    }
    id_of(&st, &b->page_id);
    rc = build_add(b, fpath, upath, (size_t)ul, (uint64_t)st.st_size, m->cfg.chunk_size);
    if (rc || !fb_mime_is_html(fb_file_cache_type(m->files, fpath, strlen(fpath))))
        goto out;
    char *html = NULL;
    ssize_t n = read_head(fd, (size_t)FB_MIN((uint64_t)st.st_size, m->cfg.max_html), &html);
    if (n < 0) {
        rc = (int)n;
        goto out;
    }
    struct stat st2;
    fb_file_id again;
    if (fstat(fd, &st2) != 0) {
        free(html);
        rc = FB_EAGAIN;
        goto out;
    }
    id_of(&st2, &again);
    if (!id_eq(&again, &b->page_id)) {
        free(html);
        rc = FB_EAGAIN; /* it changed while we read it */
        goto out;
    }
    rc = add_embedded(m, b, html, (size_t)n);
    free(html);
out:
    if (fd >= 0)
        close(fd);
    free(fpath);
    free(udec);
    free(upath);
    return rc;
}

/* The hashing cursor of a build: object, chunk within it, global chunk. */
typedef struct cursor {
    uint32_t obj, k, c;
} cursor;

/* Hashes chunks from the cursor on, through fs, into hashes, until every object is done (returns
 * 0) or about `budget` bytes were hashed (returns 1: call again). Objects whose hashes the cache
 * holds for their identity cost nothing. FB_EAGAIN: a file changed (the build must start over);
 * FB_ENOMEM. Each object's hashes go into the cache once its last chunk is done and its
 * identity checked again. */
static int hash_step(fb_manifests *m, const build *b, fb_filestore *fs, uint8_t *hashes,
                     cursor *cur, uint64_t budget)
{
    uint32_t cs = m->cfg.chunk_size;
    uint64_t used = 0;
    while (cur->obj < b->n) {
        uint32_t i = cur->obj;
        uint32_t n_i = (uint32_t)fb_chunk_count(b->o[i].size, cs);
        fb_file_id id;
        fb_filestore_identity(fs, i, &id);
        if (cur->k == 0) {
            const uint8_t *cached = fb_hashcache_get(&m->hc, &id, cs, n_i);
            if (cached) {
                memcpy(hashes + (size_t)cur->c * 32, cached, (size_t)n_i * 32);
                cur->c += n_i;
                cur->obj++;
                continue;
            }
        }
        if (used >= budget)
            return 1;
        if (cur->k < n_i) {
            uint32_t k = cur->k;
            size_t len = (size_t)FB_MIN((uint64_t)cs, b->o[i].size - (uint64_t)k * cs);
            if (fb_filestore_read(fs, cur->c + k, 0, m->chunk_buf, len) != 0)
                return FB_EAGAIN;
            sha256(m, m->chunk_buf, len, hashes + (size_t)(cur->c + k) * 32);
            m->st.bytes_hashed += len;
            used += len;
            cur->k++;
            continue;
        }
        /* A last identity check: the bytes hashed are the version recorded. */
        if (n_i && fb_filestore_read(fs, cur->c, 0, m->chunk_buf, 0) != 0)
            return FB_EAGAIN;
        if (fb_hashcache_put(&m->hc, &id, cs, hashes + (size_t)cur->c * 32, n_i) == FB_ENOMEM)
            return FB_ENOMEM;
        cur->c += n_i;
        cur->obj++;
        cur->k = 0;
    }
    return 0;
}

/* Copies a content type without its spaces (the manifest separates fields by spaces): the one
 * the origin serves the file with (its file cache's, which a proxy's upstream may set). */
static void type_of(fb_manifests *m, const char *fpath, char out[TYPE_MAX])
{
    const char *t = fb_file_cache_type(m->files, fpath, strlen(fpath));
    size_t k = 0;
    for (; *t && k + 1 < TYPE_MAX; t++)
        if (*t != ' ')
            out[k++] = *t;
    out[k] = '\0';
}

static void entry_free(mentry *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; e->paths && i < e->n_obj; i++)
        free(e->paths[i]);
    free(e->paths);
    free(e->ids);
    free(e->text);
    free(e->gz);
    free(e->key);
    free(e);
}

/* Gzips e's text into e->gz (level 9, once per build: every request then sends the cached
 * bytes). Leaves e->gz NULL when zlib fails or the result is no smaller: the manifest is then
 * only served plain. */
static void entry_gzip(mentry *e)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    uLong cap = deflateBound(&z, (uLong)e->len);
    uint8_t *buf = malloc(cap);
    if (buf) {
        z.next_in = e->text;
        z.avail_in = (uInt)e->len;
        z.next_out = buf;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < e->len) {
            e->gz = buf;
            e->gz_len = z.total_out;
            e->mem += e->gz_len;
            buf = NULL;
            memcpy(e->gz_etag, e->etag, e->etag_len - 1);
            memcpy(e->gz_etag + e->etag_len - 1, "-gz\"", 5);
            e->gz_etag_len = e->etag_len + 3;
        }
    }
    free(buf);
    deflateEnd(&z);
}

/* Writes the manifest of b (its chunks hashed into `hashes`) and makes the cache entry (not yet
 * inserted). */
static int make_entry(fb_manifests *m, const build *b, const fb_filestore *fs,
                      const uint8_t *hashes, const char *key, size_t key_len, int64_t now,
                      mentry **out)
{
    fb_manifest_entry *me = calloc(b->n, sizeof(*me));
    char(*types)[TYPE_MAX] = calloc(b->n, TYPE_MAX);
    char(*etags)[FB_FILE_ETAG_MAX] = calloc(b->n, FB_FILE_ETAG_MAX);
    mentry *e = calloc(1, sizeof(*e));
    int rc = FB_ENOMEM;
    if (!me || !types || !etags || !e)
        goto out;
    e->handle = -1;
    e->n_obj = b->n;
    e->paths = calloc(b->n, sizeof(char *));
    e->ids = calloc(b->n, sizeof(fb_file_id));
    e->key = malloc(key_len + 1);
    if (!e->paths || !e->ids || !e->key)
        goto out;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    e->key_len = key_len;
    e->mem = sizeof(*e) + key_len + 1 + b->n * (sizeof(char *) + sizeof(fb_file_id));
    for (uint32_t i = 0; i < b->n; i++) {
        fb_filestore_identity(fs, i, &e->ids[i]);
        e->paths[i] = strdup(b->o[i].fpath);
        if (!e->paths[i])
            goto out;
        e->mem += strlen(b->o[i].fpath) + 1;
        type_of(m, b->o[i].fpath, types[i]);
        fb_file_etag(etags[i], e->ids[i].ino, e->ids[i].size, e->ids[i].mtime_sec,
                     e->ids[i].mtime_nsec);
        me[i] = (fb_manifest_entry){b->o[i].upath, b->o[i].size, types[i], etags[i]};
    }
    size_t need = 0;
    int n = fb_manifest_build(NULL, 0, m->cfg.chunk_size, me, b->n, (const uint8_t(*)[32])hashes,
                              &need);
    if (n != FB_E2BIG) {
        rc = n < 0 ? n : FB_EINVAL;
        goto out;
    }
    e->text = malloc(need);
    if (!e->text) {
        rc = FB_ENOMEM;
        goto out;
    }
    n = fb_manifest_build(e->text, need, m->cfg.chunk_size, me, b->n, (const uint8_t(*)[32])hashes,
                          NULL);
    if (n < 0) {
        rc = n;
        goto out;
    }
    e->len = (size_t)n;
    e->mem += e->len;
    uint8_t digest[32];
    sha256(m, e->text, e->len, digest);
    size_t k = 0;
    e->etag[k++] = '"';
    for (int i = 0; i < 12; i++)
        k += (size_t)snprintf(e->etag + k, sizeof(e->etag) - k, "%02x", digest[i]);
    e->etag[k++] = '"';
    e->etag[k] = '\0';
    e->etag_len = k;
    if (e->len <= UINT32_MAX)
        entry_gzip(e);
    e->built = e->checked = now;
    rc = 0;
out:
    if (rc) {
        entry_free(e);
        e = NULL;
    }
    *out = e;
    free(me);
    free(types);
    free(etags);
    return rc;
}

/* Lists the page's objects and opens them in a filestore (recording their identities), looking
 * again while files change under us (BUILD_TRIES times; then FB_EPROTO). On success b, *fs and
 * *hashes (room for every chunk) are the caller's. */
static int prepare(fb_manifests *m, const char *path, size_t len, build *b, fb_filestore **fs,
                   uint8_t **hashes)
{
    int rc = FB_EAGAIN;
    *fs = NULL;
    *hashes = NULL;
    for (int tries = 0; tries < BUILD_TRIES && rc == FB_EAGAIN; tries++) {
        if (tries)
            m->st.retries++;
        build_free(b);
        rc = list_objects(m, path, len, b);
        if (rc)
            continue;
        fb_filestore_object *fo = calloc(b->n, sizeof(*fo));
        *fs = calloc(1, sizeof(**fs));
        if (!fo || !*fs) {
            free(fo);
            rc = FB_ENOMEM;
            break;
        }
        for (uint32_t i = 0; i < b->n; i++)
            fo[i] = (fb_filestore_object){b->o[i].fpath, b->o[i].size};
        rc = fb_filestore_init_with(*fs, opener, m->files, fo, b->n, m->cfg.chunk_size, FILES_OPEN);
        free(fo);
        if (rc) {
            /* A file vanished or changed size since we looked: look again. */
            rc = rc == FB_ENOENT || rc == FB_EPROTO ? FB_EAGAIN : rc;
            free(*fs);
            *fs = NULL;
            continue;
        }
        fb_file_id id0;
        fb_filestore_identity(*fs, 0, &id0);
        if (!id_eq(&id0, &b->page_id)) {
            rc = FB_EAGAIN; /* the page changed after we scanned it */
            fb_filestore_fini(*fs);
            free(*fs);
            *fs = NULL;
        }
    }
    if (rc == 0) {
        *hashes = malloc((*fs)->n_chunks ? (size_t)(*fs)->n_chunks * 32 : 1);
        if (!*hashes)
            rc = FB_ENOMEM;
    }
    if (rc) {
        if (*fs) {
            fb_filestore_fini(*fs);
            free(*fs);
            *fs = NULL;
        }
        build_free(b);
    }
    return rc == FB_EAGAIN ? FB_EPROTO : rc;
}

static void fs_free(fb_filestore *fs)
{
    if (fs) {
        fb_filestore_fini(fs);
        free(fs);
    }
}

/* ---- the cache --------------------------------------------------------------------------- */

static mentry *cache_find(fb_manifests *m, const char *key, size_t len, uint32_t h)
{
    mentry *e = m->buckets[h & (m->n_buckets - 1)];
    while (e && !(e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0))
        e = e->hnext;
    return e;
}

static void cache_unlink(fb_manifests *m, mentry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        m->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        m->tail = e->prev;
    e->prev = e->next = NULL;
}

static void cache_push(fb_manifests *m, mentry *e)
{
    e->next = m->head;
    e->prev = NULL;
    if (m->head)
        m->head->prev = e;
    m->head = e;
    if (!m->tail)
        m->tail = e;
}

static void remove_entry(fb_manifests *m, mentry *e)
{
    mentry **pp = &m->buckets[e->hash & (m->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    cache_unlink(m, e);
    m->n--;
    m->mem -= e->mem;
    if (e->handle >= 0 && m->seed)
        fb_seed_release(m->seed, e->handle);
    entry_free(e);
}

static void insert(fb_manifests *m, mentry *e)
{
    while (m->n >= m->cfg.max_manifests && m->tail) {
        remove_entry(m, m->tail);
        m->st.evictions++;
    }
    e->hash = fb_hash_bytes(e->key, e->key_len);
    e->hnext = m->buckets[e->hash & (m->n_buckets - 1)];
    m->buckets[e->hash & (m->n_buckets - 1)] = e;
    cache_push(m, e);
    m->n++;
    m->mem += e->mem;
}

/* True when a file of e changed (or is gone) since e was built. */
static bool changed(fb_manifests *m, const mentry *e)
{
    if (e->handle >= 0 && m->seed && fb_seed_stale(m->seed, e->handle))
        return true;
    for (uint32_t i = 0; i < e->n_obj; i++) {
        struct stat st;
        fb_file_id id;
        int fd = open_stat(m, e->paths[i], &st);
        if (fd < 0)
            return fd != FB_ENOSPC; /* out of descriptors says nothing about the file */
        close(fd);
        id_of(&st, &id);
        if (!id_eq(&id, &e->ids[i]))
            return true;
    }
    return false;
}

static void view_of(const mentry *e, fb_manifest_view *v)
{
    v->text = e->text;
    v->len = e->len;
    v->etag = e->etag;
    v->etag_len = e->etag_len;
    v->gz = e->gz;
    v->gz_len = e->gz_len;
    v->gz_etag = e->gz_etag;
    v->gz_etag_len = e->gz_etag_len;
    v->built = e->built;
    v->seeded = e->handle >= 0;
}

/* Makes the entry of a finished build, hands its swarm to the seed, and puts it in the cache in
 * place of an older one for the same path (removed only now, so that an identical manifest
 * keeps its swarm). Takes fs (the seed's, or freed). */
static int install(fb_manifests *m, const build *b, fb_filestore *fs, const uint8_t *hashes,
                   const char *key, size_t len, int64_t now, mentry **out)
{
    mentry *e = NULL;
    int rc = make_entry(m, b, fs, hashes, key, len, now, &e);
    if (rc == 0 && m->seed) {
        int h = fb_seed_add(m->seed, e->text, e->len, fs);
        if (h >= 0) {
            e->handle = h;
            fs = NULL; /* the seed's now */
        } else {
            m->st.seed_refused++;
        }
    }
    fs_free(fs);
    mentry *old = cache_find(m, key, len, fb_hash_bytes(key, len));
    if (old) {
        remove_entry(m, old);
        if (rc == 0)
            m->st.rebuilds++;
    }
    if (rc) {
        m->st.build_failures++;
        return rc;
    }
    m->st.builds++;
    insert(m, e);
    *out = e;
    return 0;
}

static void loop_held(fb_manifests *m, uint64_t t0)
{
    uint64_t us = (uv_hrtime() - t0) / 1000;
    m->st.build_us_total += us;
    if (us > m->st.build_us_max)
        m->st.build_us_max = us;
}

/* ---- builds in slices ---------------------------------------------------------------------- */

/* A build that needs more than one slice of hashing: it goes on from the loop, a slice per
 * turn, while the requests that want it wait. */
typedef struct job {
    struct job *next;
    char *key;
    size_t key_len;
    int64_t now;
    int tries;
    build b;
    fb_filestore *fs;
    uint8_t *hashes;
    cursor cur;
    fb_manifests_wait *waiters;
} job;

static job *job_find(fb_manifests *m, const char *key, size_t len)
{
    for (job *j = m->jobs; j; j = j->next)
        if (j->key_len == len && memcmp(j->key, key, len) == 0)
            return j;
    return NULL;
}

static void enlist(fb_manifests *m, job *j, fb_manifests_wait *w)
{
    w->next = j->waiters;
    w->pprev = &j->waiters;
    if (j->waiters)
        j->waiters->pprev = &w->next;
    j->waiters = w;
    m->st.deferred++;
}

void fb_manifests_unwait(fb_manifests *m, fb_manifests_wait *w)
{
    (void)m;
    if (!w->pprev)
        return;
    *w->pprev = w->next;
    if (w->next)
        w->next->pprev = w->pprev;
    w->next = NULL;
    w->pprev = NULL;
}

static void job_free(job *j)
{
    fs_free(j->fs);
    build_free(&j->b);
    free(j->hashes);
    free(j->key);
    free(j);
}

/* Ends a job: its manifest goes into the cache (rc 0) or its error to every waiter. */
static void job_end(fb_manifests *m, job *j, int rc)
{
    mentry *e = NULL;
    for (job **pp = &m->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    m->n_jobs--;
    if (rc == 0) {
        rc = install(m, &j->b, j->fs, j->hashes, j->key, j->key_len, j->now, &e);
        j->fs = NULL;
    } else {
        mentry *old = cache_find(m, j->key, j->key_len, fb_hash_bytes(j->key, j->key_len));
        if (old)
            remove_entry(m, old); /* its files changed and no good manifest replaces it */
        m->st.build_failures++;
    }
    /* Every waiter is told once. The list moves to m->notifying first, so that a waiter that
     * goes away meanwhile (fb_manifests_unwait) leaves it cleanly. */
    m->notifying = j->waiters;
    if (m->notifying)
        m->notifying->pprev = &m->notifying;
    j->waiters = NULL;
    job_free(j);
    while (m->notifying) {
        fb_manifests_wait *w = m->notifying;
        fb_manifests_unwait(m, w);
        fb_manifest_view v;
        if (rc == 0)
            view_of(e, &v);
        w->cb(w->arg, rc, rc == 0 ? &v : NULL);
    }
}

/* One loop turn: a slice of hashing, shared by the jobs in turn. */
static void on_idle(uv_idle_t *h)
{
    fb_manifests *m = h->data;
    uint64_t t0 = uv_hrtime();
    job *j = m->jobs;
    if (j) {
        /* Round robin: the job served now goes to the end of the list. */
        if (j->next) {
            job *last = j->next;
            while (last->next)
                last = last->next;
            m->jobs = j->next;
            last->next = j;
            j->next = NULL;
        }
        m->st.slices++;
        int rc = hash_step(m, &j->b, j->fs, j->hashes, &j->cur, m->cfg.slice_bytes);
        if (rc == FB_EAGAIN && ++j->tries < BUILD_TRIES) {
            /* A file changed: list and open everything again; unchanged files' hashes come
             * from the cache. */
            m->st.retries++;
            fs_free(j->fs);
            free(j->hashes);
            j->fs = NULL;
            j->hashes = NULL;
            memset(&j->cur, 0, sizeof(j->cur));
            rc = prepare(m, j->key, j->key_len, &j->b, &j->fs, &j->hashes);
            if (rc == 0)
                rc = 1;
        }
        if (rc != 1)
            job_end(m, j, rc == FB_EAGAIN ? FB_EPROTO : rc);
    }
    loop_held(m, t0);
    if (!m->jobs)
        uv_idle_stop(&m->idle);
}

/* ---- lookups ------------------------------------------------------------------------------- */

int fb_manifests_get(fb_manifests *m, const char *path, size_t len, int64_t now,
                     fb_manifest_view *out, fb_manifests_wait *w)
{
    m->st.requests++;
    job *j = job_find(m, path, len);
    if (j && w) {
        enlist(m, j, w);
        return FB_EAGAIN;
    }
    mentry *e = cache_find(m, path, len, fb_hash_bytes(path, len));
    if (e && !j) {
        bool stale = false;
        if (e->checked != now) {
            stale = changed(m, e);
            e->checked = now;
        }
        if (!stale) {
            m->st.hits++;
            cache_unlink(m, e);
            cache_push(m, e);
            view_of(e, out);
            return 0;
        }
    }
    /* Build: the first slice now; the rest from the loop if it does not fit. */
    uint64_t t0 = uv_hrtime();
    build b;
    fb_filestore *fs = NULL;
    uint8_t *hashes = NULL;
    cursor cur = {0, 0, 0};
    memset(&b, 0, sizeof(b));
    int rc = prepare(m, path, len, &b, &fs, &hashes);
    for (int tries = 1; rc == 0; tries++) {
        bool async = m->loop && w && !j && m->n_jobs < MAX_JOBS;
        rc = hash_step(m, &b, fs, hashes, &cur, async ? m->cfg.slice_bytes : UINT64_MAX);
        if (rc == 1) {
            job *nj = calloc(1, sizeof(*nj));
            char *key = malloc(len ? len : 1);
            if (!nj || !key) {
                free(nj);
                free(key);
                rc = FB_ENOMEM;
                break;
            }
            memcpy(key, path, len);
            *nj = (job){m->jobs, key, len, now, 0, b, fs, hashes, cur, NULL};
            m->jobs = nj;
            m->n_jobs++;
            enlist(m, nj, w);
            uv_idle_start(&m->idle, on_idle);
            loop_held(m, t0);
            return FB_EAGAIN;
        }
        if (rc != FB_EAGAIN || tries >= BUILD_TRIES)
            break;
        /* A file changed while we hashed it: again from the start (the cache keeps the rest). */
        m->st.retries++;
        fs_free(fs);
        free(hashes);
        memset(&cur, 0, sizeof(cur));
        rc = prepare(m, path, len, &b, &fs, &hashes);
    }
    mentry *ne = NULL;
    if (rc == 0) {
        rc = install(m, &b, fs, hashes, path, len, now, &ne);
        fs = NULL;
    } else {
        if (e && !j)
            remove_entry(m, e); /* gone, or changing: the old manifest would mislead */
        m->st.build_failures++;
        rc = rc == FB_EAGAIN ? FB_EPROTO : rc;
    }
    fs_free(fs);
    free(hashes);
    build_free(&b);
    loop_held(m, t0);
    if (rc)
        return rc;
    view_of(ne, out);
    return 0;
}

/* ---- life cycle -------------------------------------------------------------------------- */

int fb_manifests_new(uv_loop_t *loop, fb_file_cache *files, fb_seed *seed,
                     const fb_manifests_config *cfg, fb_manifests **out)
{
    fb_manifests *m = calloc(1, sizeof(*m));
    *out = NULL;
    if (!m)
        return FB_ENOMEM;
    m->loop = loop;
    m->files = files;
    m->seed = seed;
    m->cfg = *cfg;
    if (!m->cfg.max_manifests)
        m->cfg.max_manifests = 64;
    if (!m->cfg.max_objects)
        m->cfg.max_objects = DEFAULT_OBJECTS;
    if (!m->cfg.max_bytes)
        m->cfg.max_bytes = DEFAULT_BYTES;
    if (!m->cfg.chunk_size)
        m->cfg.chunk_size = FB_CHUNK_SIZE_DEFAULT;
    if (!m->cfg.hash_cache_bytes)
        m->cfg.hash_cache_bytes = 16u << 20;
    if (!m->cfg.hash_cache_files)
        m->cfg.hash_cache_files = 65536;
    if (!m->cfg.max_html)
        m->cfg.max_html = DEFAULT_HTML;
    if (!m->cfg.slice_bytes)
        m->cfg.slice_bytes = DEFAULT_SLICE;
    if (m->cfg.max_objects > 1024 || m->cfg.max_bytes > (1ull << 30) ||
        m->cfg.chunk_size % FB_BLOCK_SIZE || m->cfg.chunk_size > FB_CHUNK_SIZE_MAX ||
        m->cfg.max_manifests > (1u << 20)) {
        free(m);
        return FB_EINVAL;
    }
    m->n_buckets = 16;
    while (m->n_buckets < 2 * m->cfg.max_manifests)
        m->n_buckets <<= 1;
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    m->md = EVP_MD_CTX_new();
    m->chunk_buf = malloc(m->cfg.chunk_size);
    m->link_text_cap = FB_HTML_LINKS_TEXT_CAP(m->cfg.max_objects, MAX_PATH_BYTES);
    m->links = calloc(m->cfg.max_objects, sizeof(fb_html_link));
    m->link_text = malloc(m->link_text_cap);
    if (!m->buckets || !m->md || !m->chunk_buf || !m->links || !m->link_text ||
        fb_hashcache_init(&m->hc, m->cfg.hash_cache_files, m->cfg.hash_cache_bytes) != 0) {
        fb_hashcache_fini(&m->hc);
        free(m->buckets);
        EVP_MD_CTX_free(m->md);
        free(m->chunk_buf);
        free(m->links);
        free(m->link_text);
        free(m);
        return FB_ENOMEM;
    }
    if (loop) {
        uv_idle_init(loop, &m->idle);
        m->idle.data = m;
    }
    *out = m;
    return 0;
}

static void release(fb_manifests *m)
{
    fb_hashcache_fini(&m->hc);
    free(m->buckets);
    EVP_MD_CTX_free(m->md);
    free(m->chunk_buf);
    free(m->links);
    free(m->link_text);
    free(m);
}

static void on_idle_closed(uv_handle_t *h)
{
    release(h->data);
}

void fb_manifests_free(fb_manifests *m)
{
    if (!m)
        return;
    while (m->jobs) {
        job *j = m->jobs;
        m->jobs = j->next;
        while (j->waiters)
            fb_manifests_unwait(m, j->waiters); /* dropped: their owners are gone by now */
        job_free(j);
    }
    while (m->head)
        remove_entry(m, m->head);
    if (m->loop)
        uv_close((uv_handle_t *)&m->idle, on_idle_closed);
    else
        release(m);
}

void fb_manifests_stats_get(fb_manifests *m, fb_manifests_stats *out)
{
    *out = m->st;
    out->cached = m->n;
    out->cached_bytes = m->mem;
    out->building = m->n_jobs;
    out->hash_cache = &m->hc;
}
