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
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

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

typedef struct mentry {
    struct mentry *hnext, *prev, *next;
    uint32_t hash;
    char *key; /* the request path, as looked up */
    size_t key_len;
    uint8_t *text;
    size_t len;
    char etag[48];
    size_t etag_len;
    int64_t built, checked;
    uint32_t n_obj;
    char **paths;    /* each object's file path (decoded, under the root) */
    fb_file_id *ids; /* each object's identity when it was hashed */
    int handle;      /* the seed's handle, or -1 */
    size_t mem;
} mentry;

struct fb_manifests {
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

static uint32_t hash_key(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* True when a segment of the path starts with '.': the origin serves no such file. */
static bool hidden(const char *p)
{
    for (size_t i = 0; p[i] && p[i + 1]; i++)
        if (p[i] == '/' && p[i + 1] == '.')
            return true;
    return false;
}

static bool is_html(const char *p)
{
    const char *dot = strrchr(p, '.');
    return dot && strchr(dot, '/') == NULL &&
           (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0);
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
    if (rc || !is_html(fpath))
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

/* Hashes every chunk of every object through fs (or takes the cached hashes). */
static int hash_objects(fb_manifests *m, const build *b, fb_filestore *fs, uint8_t *hashes)
{
    uint32_t cs = m->cfg.chunk_size, c = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        fb_file_id id;
        fb_filestore_identity(fs, i, &id);
        uint32_t n_i = (uint32_t)fb_chunk_count(b->o[i].size, cs);
        const uint8_t *cached = fb_hashcache_get(&m->hc, &id, cs, n_i);
        if (cached) {
            memcpy(hashes + (size_t)c * 32, cached, (size_t)n_i * 32);
        } else {
            for (uint32_t k = 0; k < n_i; k++) {
                size_t len = (size_t)FB_MIN((uint64_t)cs, b->o[i].size - (uint64_t)k * cs);
                if (fb_filestore_read(fs, c + k, 0, m->chunk_buf, len) != 0)
                    return FB_EAGAIN;
                sha256(m, m->chunk_buf, len, hashes + (size_t)(c + k) * 32);
                m->st.bytes_hashed += len;
            }
            /* A last identity check: the bytes hashed are the version recorded. */
            if (n_i && fb_filestore_read(fs, c, 0, m->chunk_buf, 0) != 0)
                return FB_EAGAIN;
            int rc = fb_hashcache_put(&m->hc, &id, cs, hashes + (size_t)c * 32, n_i);
            if (rc == FB_ENOMEM)
                return rc;
        }
        c += n_i;
    }
    return 0;
}

/* Copies a content type without its spaces (the manifest separates fields by spaces). */
static void type_of(const char *fpath, char out[TYPE_MAX])
{
    const char *t = fb_mime_type(fpath, strlen(fpath));
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
    free(e->key);
    free(e);
}

/* Writes the manifest of b from fs and makes the cache entry (not yet inserted). */
static int make_entry(fb_manifests *m, const build *b, fb_filestore *fs, const char *key,
                      size_t key_len, int64_t now, mentry **out)
{
    uint8_t *hashes = malloc(fs->n_chunks ? (size_t)fs->n_chunks * 32 : 1);
    fb_manifest_entry *me = calloc(b->n, sizeof(*me));
    char(*types)[TYPE_MAX] = calloc(b->n, TYPE_MAX);
    char(*etags)[FB_FILE_ETAG_MAX] = calloc(b->n, FB_FILE_ETAG_MAX);
    mentry *e = calloc(1, sizeof(*e));
    int rc = FB_ENOMEM;
    if (!hashes || !me || !types || !etags || !e)
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
        type_of(b->o[i].fpath, types[i]);
        fb_file_etag(etags[i], e->ids[i].ino, e->ids[i].size, e->ids[i].mtime_sec,
                     e->ids[i].mtime_nsec);
        me[i] = (fb_manifest_entry){b->o[i].upath, b->o[i].size, types[i], etags[i]};
    }
    rc = hash_objects(m, b, fs, hashes);
    if (rc)
        goto out;
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
    e->built = e->checked = now;
    rc = 0;
out:
    if (rc) {
        entry_free(e);
        e = NULL;
    }
    *out = e;
    free(hashes);
    free(me);
    free(types);
    free(etags);
    return rc;
}

/* One attempt at building the manifest of `path`. FB_EAGAIN: a file changed meanwhile. */
static int build_once(fb_manifests *m, const char *path, size_t len, int64_t now, mentry **out)
{
    build b;
    memset(&b, 0, sizeof(b));
    fb_filestore *fs = NULL;
    *out = NULL;
    int rc = list_objects(m, path, len, &b);
    if (rc)
        goto out;
    fb_filestore_object *fo = calloc(b.n, sizeof(*fo));
    fs = calloc(1, sizeof(*fs));
    if (!fo || !fs) {
        free(fo);
        rc = FB_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < b.n; i++)
        fo[i] = (fb_filestore_object){b.o[i].fpath, b.o[i].size};
    rc = fb_filestore_init_with(fs, opener, m->files, fo, b.n, m->cfg.chunk_size, FILES_OPEN);
    free(fo);
    if (rc) {
        free(fs);
        fs = NULL;
        /* A file vanished or changed size since we looked: look again. */
        rc = rc == FB_ENOENT || rc == FB_EPROTO ? FB_EAGAIN : rc;
        goto out;
    }
    fb_file_id id0;
    fb_filestore_identity(fs, 0, &id0);
    if (!id_eq(&id0, &b.page_id)) {
        rc = FB_EAGAIN; /* the page changed after we scanned it */
        goto out;
    }
    rc = make_entry(m, &b, fs, path, len, now, out);
    if (rc)
        goto out;
    if (m->seed) {
        int h = fb_seed_add(m->seed, (*out)->text, (*out)->len, fs);
        if (h >= 0) {
            (*out)->handle = h;
            fs = NULL; /* the seed's now */
        } else {
            m->st.seed_refused++;
        }
    }
out:
    if (fs) {
        fb_filestore_fini(fs);
        free(fs);
    }
    build_free(&b);
    return rc;
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
    e->hash = hash_key(e->key, e->key_len);
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
    v->built = e->built;
    v->seeded = e->handle >= 0;
}

int fb_manifests_get(fb_manifests *m, const char *path, size_t len, int64_t now,
                     fb_manifest_view *out)
{
    uint32_t h = hash_key(path, len);
    mentry *e = cache_find(m, path, len, h), *ne = NULL;
    m->st.requests++;
    if (e) {
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
    uint64_t t0 = uv_hrtime();
    int rc = FB_EAGAIN;
    for (int i = 0; i < BUILD_TRIES && rc == FB_EAGAIN; i++) {
        if (i)
            m->st.retries++;
        rc = build_once(m, path, len, now, &ne);
    }
    uint64_t us = (uv_hrtime() - t0) / 1000;
    m->st.build_us_total += us;
    if (us > m->st.build_us_max)
        m->st.build_us_max = us;
    if (e) {
        remove_entry(m, e); /* after the new one took the seed's swarm if it is the same */
        if (!rc)
            m->st.rebuilds++;
    }
    if (rc) {
        m->st.build_failures++;
        return rc;
    }
    m->st.builds++;
    insert(m, ne);
    view_of(ne, out);
    return 0;
}

/* ---- life cycle -------------------------------------------------------------------------- */

int fb_manifests_new(fb_file_cache *files, fb_seed *seed, const fb_manifests_config *cfg,
                     fb_manifests **out)
{
    fb_manifests *m = calloc(1, sizeof(*m));
    *out = NULL;
    if (!m)
        return FB_ENOMEM;
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
        fb_manifests_free(m);
        return FB_ENOMEM;
    }
    *out = m;
    return 0;
}

void fb_manifests_free(fb_manifests *m)
{
    if (!m)
        return;
    while (m->head)
        remove_entry(m, m->head);
    fb_hashcache_fini(&m->hc);
    free(m->buckets);
    EVP_MD_CTX_free(m->md);
    free(m->chunk_buf);
    free(m->links);
    free(m->link_text);
    free(m);
}

void fb_manifests_stats_get(fb_manifests *m, fb_manifests_stats *out)
{
    *out = m->st;
    out->cached = m->n;
    out->cached_bytes = m->mem;
    out->hash_cache = &m->hc;
}
