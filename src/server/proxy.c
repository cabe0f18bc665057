/* The reverse proxy (proxy.h). A table of paths, keyed by the mirror file a path maps to
 * (core/proxy_policy), says for each whether the mirror holds a copy, until when it is fresh,
 * the upstream's validators and Content-Type, and which fetch is in flight. A request for a
 * fresh copy is served by the origin's static code from the mirror; any other joins the path's
 * one fetch as a waiter (its answer deferred) or starts it. When the fetch ends, a storable
 * answer is written into the mirror (temp file + rename, kept as is when the bytes did not
 * change) and every waiter is served from there; anything else is relayed from memory. */
#include "server/proxy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/html_links.h"
#include "core/mime.h"
#include "core/http_date.h"
#include "core/proxy_policy.h"
#include "net/atomic_write.h"
#include "net/http_client.h"
#include "server/origin.h"

#define KEEP_HEADERS  (64 * 1024) /* an upstream answer's header block, at most */
#define RELAY_HEADERS (16 * 1024) /* header lines relayed with an answer, at most */
#define COND_HEADERS  6           /* the request's conditional and range fields kept by waiters */
#define MAX_HTML      (4u << 20)  /* bytes of a page scanned for its objects */
#define MAX_URL       1024        /* longest object path a manifest takes */
#define URL_MAX       (16 * 1024)
#define SPOOL_MIN     (64 * 1024) /* a shared relay larger than this goes through a file */

typedef struct fetch fetch;
typedef struct waiter waiter;

typedef struct pentry {
    struct pentry *hnext, *prev, *next; /* hash chain; LRU list, most recent first */
    uint32_t hash;
    char *file; /* the mirror path: the key */
    size_t file_len;
    char *upath; /* the request path it is fetched by (the first one that mapped here) */
    size_t upath_len;
    char *query; /* and its query, or NULL */
    size_t query_len;
    bool mirrored;                /* the mirror holds the file for this path */
    uint64_t size;                /* its bytes (counted in the mirror's total) */
    uint64_t fresh_until;         /* loop time (ms) until which the copy is fresh */
    uint64_t pass_until;          /* loop time until which requests go upstream on their own */
    uint64_t ttl_ms;              /* freshness of the copy, from its last 200 */
    char *etag, *lastmod;         /* the upstream's validators of the copy, or NULL */
    char type[FB_PROXY_TYPE_MAX]; /* the upstream's Content-Type, "" when it gave none */
    fetch *inflight;
} pentry;

struct waiter {
    waiter *next;
    fb_proxy_prep *prep; /* an internal waiter (a manifest's preparation), else NULL */
    waiter *prep_next;
    fetch *f;
    fb_http_exchange *x;
    bool head;
    fb_http_header hdrs[COND_HEADERS];
    size_t n_hdrs;
    char *hbuf;
    char *cookie, *auth; /* for a pass-through request: the client's fields */
    char xff[64];
};

struct fetch {
    fb_proxy *p;
    pentry *e; /* NULL: a pass-through request for its one waiter */
    fb_http_req *req;
    waiter *waiters, **tail;
    uint32_t n_waiters;
    bool conditional;
};

struct fb_proxy_prep {
    fb_proxy *p;
    void (*done)(void *arg);
    void *arg;
    waiter *waiters; /* attached to fetches */
    uint32_t pending;
    bool page_phase;
    char *page; /* the page's request path */
    size_t page_len;
    uint32_t max_objects;
};

struct fb_proxy {
    uv_loop_t *loop;
    fb_proxy_config cfg;
    fb_http_client *client;
    fb_origin *origin;
    char *base; /* scheme://host:port/prefix without a trailing slash */
    char *mirror;
    int mirror_fd;
    bool own_mirror;
    pentry **buckets;
    uint32_t n_buckets;
    pentry *head, *tail;
    uint32_t n;
    uint64_t bytes; /* of the mirrored files */
    uint32_t tmp_seq;
    char *relay; /* RELAY_HEADERS bytes: headers of the answer being relayed */
    char *path;  /* scratch for mirror paths */
    fb_proxy_stats st;
};

static void fetch_done(void *ctx, const fb_http_result *r);
static void prep_waiter_done(waiter *w);

/* ---- the path table ---------------------------------------------------------------------- */

static pentry *lookup(fb_proxy *p, const char *file, size_t len)
{
    uint32_t h = fb_hash_bytes(file, len);
    for (pentry *e = p->buckets[h & (p->n_buckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->file_len == len && memcmp(e->file, file, len) == 0)
            return e;
    return NULL;
}

static void lru_unlink(fb_proxy *p, pentry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        p->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        p->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(fb_proxy *p, pentry *e)
{
    e->next = p->head;
    if (p->head)
        p->head->prev = e;
    p->head = e;
    if (!p->tail)
        p->tail = e;
}

/* Removes the mirror file of e (relative to the mirror). */
static void unmirror(fb_proxy *p, pentry *e)
{
    if (e->mirrored) {
        unlinkat(p->mirror_fd, e->file + 1, 0);
        p->bytes -= e->size;
    }
    e->mirrored = false;
    e->size = 0;
    free(e->etag);
    free(e->lastmod);
    e->etag = e->lastmod = NULL;
    e->type[0] = '\0';
}

static void entry_drop(fb_proxy *p, pentry *e)
{
    pentry **pp = &p->buckets[e->hash & (p->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(p, e);
    unmirror(p, e);
    free(e->file);
    free(e->upath);
    free(e->query);
    free(e);
    p->n--;
}

/* The entry for mirror path file[0..len), created when missing (evicting the least recently
 * used entry without a fetch when the table is full) for the request path[0..plen) with its
 * query (NULL: none), by which it is fetched. NULL when none can be had. */
static pentry *entry_get(fb_proxy *p, const char *file, size_t len, const char *path, size_t plen,
                         const char *query, size_t qlen)
{
    pentry *e = lookup(p, file, len);
    if (e) {
        lru_unlink(p, e);
        lru_front(p, e);
        return e;
    }
    if (p->n >= p->cfg.max_paths) {
        pentry *v = p->tail;
        while (v && v->inflight)
            v = v->prev;
        if (!v)
            return NULL;
        entry_drop(p, v);
        p->st.evictions++;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->file = malloc(len + 1);
    e->upath = malloc(plen + 1);
    e->query = query ? malloc(qlen + 1) : NULL;
    if (!e->file || !e->upath || (query && !e->query)) {
        free(e->file);
        free(e->upath);
        free(e->query);
        free(e);
        return NULL;
    }
    memcpy(e->file, file, len);
    e->file[len] = '\0';
    e->file_len = len;
    memcpy(e->upath, path, plen);
    e->upath[plen] = '\0';
    e->upath_len = plen;
    if (query) {
        memcpy(e->query, query, qlen);
        e->query[qlen] = '\0';
        e->query_len = qlen;
    }
    e->hash = fb_hash_bytes(file, len);
    e->hnext = p->buckets[e->hash & (p->n_buckets - 1)];
    p->buckets[e->hash & (p->n_buckets - 1)] = e;
    lru_front(p, e);
    p->n++;
    return e;
}

/* The file cache's type function: the upstream's Content-Type of a mirrored file. */
static const char *type_of(void *ctx, const char *path, size_t len)
{
    pentry *e = lookup(ctx, path, len);
    return e && e->mirrored && e->type[0] ? e->type : NULL;
}

/* ---- the mirror -------------------------------------------------------------------------- */

/* Opens (creating as needed) the directory holding mirror path file (starting with '/'),
 * never following a symlink. Returns a descriptor, and in *name the last segment; -1 when a
 * segment exists as something other than a directory (the path conflicts with a file). */
static int open_parent(fb_proxy *p, char *file, const char **name)
{
    int dfd = dup(p->mirror_fd);
    char *s = file + 1;
    for (;;) {
        char *slash = strchr(s, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (mkdirat(dfd, s, 0755) != 0 && errno != EEXIST) {
            *slash = '/';
            close(dfd);
            return -1;
        }
        int nfd = openat(dfd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        close(dfd);
        if (nfd < 0)
            return -1;
        dfd = nfd;
        s = slash + 1;
    }
    *name = s;
    return dfd;
}

/* True when the file `name` in dfd holds exactly body[0..len). */
static bool same_bytes(int dfd, const char *name, const uint8_t *body, size_t len)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    bool same = false;
    if (fd < 0)
        return false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
        char buf[65536];
        size_t off = 0;
        same = true;
        while (same && off < len) {
            ssize_t n = pread(fd, buf, FB_MIN(sizeof(buf), len - off), (off_t)off);
            if (n <= 0 || memcmp(buf, body + off, (size_t)n) != 0)
                same = false;
            else
                off += (size_t)n;
        }
    }
    close(fd);
    return same;
}

/* Writes body into the mirror at e->file, unless the file there already holds those bytes
 * (then *kept is set). mtime (seconds, or -1) becomes the file's modification time, which the
 * origin sends as Last-Modified. Returns 0, or -1 when the path cannot be a file of the mirror
 * (it conflicts with a directory or a file) or the write failed. */
static int mirror_write(fb_proxy *p, pentry *e, const uint8_t *body, size_t len, int64_t mtime,
                        bool *kept)
{
    const char *name;
    *kept = false;
    memcpy(p->path, e->file, e->file_len + 1);
    int dfd = open_parent(p, p->path, &name);
    if (dfd < 0)
        return -1;
    if (e->mirrored && same_bytes(dfd, name, body, len)) {
        *kept = true;
        close(dfd);
        return 0;
    }
    int rc = fb_write_replace(dfd, name, body, len, mtime);
    close(dfd);
    return rc == 0 ? 0 : -1;
}

/* nftw: removes everything below the mirror (and the mirror itself when we created it). */
static bool rm_top;
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0 || rm_top)
        remove(path);
    return 0;
}

/* ---- answering --------------------------------------------------------------------------- */

/* A request as the origin's conditional code sees it: the waiter's kept fields. */
static void waiter_request(const waiter *w, fb_http_request *req)
{
    memset(req, 0, sizeof(*req));
    req->headers = (fb_http_header *)w->hdrs;
    req->num_headers = w->n_hdrs;
    req->meth = w->head ? FB_HTTP_HEAD : FB_HTTP_GET;
}

/* Serves e's mirrored file to the request. Returns 0, or an error (nothing was sent) when the
 * file is not there. */
static int serve_mirror(fb_proxy *p, fb_http_exchange *x, const fb_http_request *req, pentry *e)
{
    return fb_origin_serve_file_at(p->origin, x, req, req->meth == FB_HTTP_HEAD, e->file,
                                   e->file_len);
}

/* A large answer relayed to several requests is spooled into a file of the mirror (a hidden
 * name, unlinked at once: the file cache holds its descriptor) and sent from there with
 * sendfile, so that each connection does not copy the body it cannot send at once. Returns a
 * referenced entry, or NULL (then the body goes from memory). */
static fb_file *spool(fb_proxy *p, const fb_http_result *r, int64_t now)
{
    char name[64];
    fb_file *f = NULL;
    snprintf(name, sizeof(name), "/.fbrelay.%ld.%u", (long)getpid(), p->tmp_seq++);
    int fd =
        openat(p->mirror_fd, name + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    int wrc = fb_write_all(fd, r->body, r->len);
    if (close(fd) == 0 && wrc == 0 &&
        fb_file_cache_get(&p->origin->cache, name, strlen(name), now, &f) == 0 &&
        (f->is_dir || f->size != r->len)) {
        fb_file_release(&p->origin->cache, f);
        f = NULL;
    }
    if (f)
        fb_file_cache_forget(&p->origin->cache, f); /* gone with its last reference */
    unlinkat(p->mirror_fd, name + 1, 0);
    return f;
}

static void relay(fb_proxy *p, fb_http_exchange *x, bool head, const fb_http_result *r,
                  fb_file *spooled)
{
    int n = fb_proxy_relay_headers(r->headers ? r->headers : "", r->headers_len, p->relay,
                                   RELAY_HEADERS);
    if (n < 0) {
        fb_http_reply_status(x, 502, NULL, false);
        return;
    }
    bool bodiless = r->status == 204 || r->status == 304 || r->status < 200;
    fb_http_reply rep = {.status = (int)r->status,
                         .headers = p->relay,
                         .headers_len = (size_t)n,
                         .has_length = !bodiless,
                         .length = r->len,
                         .body = (const char *)r->body,
                         .file = spooled,
                         .head_only = head || bodiless};
    if (spooled)
        rep.body = NULL;
    p->st.relayed++;
    fb_http_reply_send(x, &rep);
}

static void waiter_free(waiter *w)
{
    free(w->hbuf);
    free(w->cookie);
    free(w->auth);
    free(w);
}

/* Removes w from its fetch's list. */
static void waiter_detach(waiter *w)
{
    fetch *f = w->f;
    waiter **pp = &f->waiters;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = w->next;
        if (f->tail == &w->next)
            f->tail = pp;
        f->n_waiters--;
    }
    w->f = NULL;
    w->next = NULL;
}

static void on_waiter_cancel(void *arg, fb_http_exchange *x)
{
    waiter *w = arg;
    (void)x;
    if (w->f)
        waiter_detach(w);
    waiter_free(w);
}

/* A waiter for the request being handled: keeps its conditional fields (and for a
 * pass-through its Cookie and Authorization) and the client's address. */
static waiter *waiter_new(const fb_http_exchange *x, const fb_http_request *req, bool pass)
{
    static const char *const names[COND_HEADERS] = {
        "Range",         "If-Range",          "If-Match",
        "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"};
    waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->head = req->meth == FB_HTTP_HEAD;
    size_t need = 0;
    const fb_http_header *h[COND_HEADERS];
    for (size_t i = 0; i < COND_HEADERS; i++) {
        h[i] = fb_http_find_header(req, names[i]);
        if (h[i])
            need += h[i]->value_len + strlen(names[i]);
    }
    if (need) {
        char *b = w->hbuf = malloc(need);
        if (!b) {
            free(w);
            return NULL;
        }
        for (size_t i = 0; i < COND_HEADERS; i++) {
            if (!h[i])
                continue;
            size_t nl = strlen(names[i]);
            memcpy(b, names[i], nl);
            memcpy(b + nl, h[i]->value, h[i]->value_len);
            w->hdrs[w->n_hdrs++] = (fb_http_header){b, b + nl, (uint32_t)nl, h[i]->value_len};
            b += nl + h[i]->value_len;
        }
    }
    if (pass) {
        const fb_http_header *c = fb_http_find_header(req, "Cookie");
        const fb_http_header *a = fb_http_find_header(req, "Authorization");
        if (c && asprintf(&w->cookie, "Cookie: %.*s", (int)c->value_len, c->value) < 0)
            w->cookie = NULL;
        if (a && asprintf(&w->auth, "Authorization: %.*s", (int)a->value_len, a->value) < 0)
            w->auth = NULL;
    }
    char s[FB_ADDR_STRLEN];
    fb_addr_format(fb_http_exchange_peer(x), s);
    char *colon = strrchr(s, ':');
    if (colon)
        *colon = '\0';
    const char *ip = s[0] == '[' ? s + 1 : s;
    size_t il = strlen(ip);
    if (il && ip[il - 1] == ']')
        il--;
    snprintf(w->xff, sizeof(w->xff), "X-Forwarded-For: %.*s", (int)il, ip);
    return w;
}

/* ---- fetching ---------------------------------------------------------------------------- */

/* Starts the upstream GET for `target` (a normalized path, query included) on behalf of f's
 * first waiter w. Returns 0 or a negative code. */
static int fetch_start(fb_proxy *p, fetch *f, const char *path, size_t len, const char *query,
                       size_t qlen, const waiter *w)
{
    char *url = malloc(URL_MAX);
    const char *hdrs[8];
    size_t nh = 0;
    char inm[300], ims[300];
    int rc = FB_E2BIG;
    if (!url)
        return FB_ENOMEM;
    size_t bl = strlen(p->base);
    if (bl + qlen + 2 >= URL_MAX)
        goto out;
    int n = fb_http_path_encode(path, len, url + bl, URL_MAX - bl - qlen - 2);
    if (n < 0)
        goto out;
    memcpy(url, p->base, bl);
    size_t k = bl + (size_t)n;
    if (query) {
        url[k++] = '?';
        memcpy(url + k, query, qlen);
        k += qlen;
    }
    url[k] = '\0';
    if (w && w->xff[0])
        hdrs[nh++] = w->xff;
    pentry *e = f->e;
    if (f->conditional && e->etag && strlen(e->etag) < 256) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", e->etag);
        hdrs[nh++] = inm;
    }
    if (f->conditional && e->lastmod && strlen(e->lastmod) < 256) {
        snprintf(ims, sizeof(ims), "If-Modified-Since: %s", e->lastmod);
        hdrs[nh++] = ims;
    }
    if (!f->e && w && w->cookie)
        hdrs[nh++] = w->cookie;
    if (!f->e && w && w->auth)
        hdrs[nh++] = w->auth;
    fb_http_client_request rq = {.url = url,
                                 .max_body = p->cfg.max_body,
                                 .timeout_ms = p->cfg.timeout_ms,
                                 .connect_timeout_ms = FB_MIN(p->cfg.timeout_ms, 5000),
                                 .headers = hdrs,
                                 .n_headers = nh,
                                 .any_status = true,
                                 .keep_headers = KEEP_HEADERS};
    rc = fb_http_get(p->client, &rq, fetch_done, f, &f->req);
    if (rc == 0)
        p->st.upstream_requests++;
out:
    free(url);
    return rc;
}

static fetch *fetch_new(fb_proxy *p, pentry *e)
{
    fetch *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->p = p;
    f->e = e;
    f->tail = &f->waiters;
    return f;
}

static void fetch_add(fetch *f, waiter *w)
{
    w->f = f;
    w->next = NULL;
    *f->tail = w;
    f->tail = &w->next;
    f->n_waiters++;
}

/* Sends the request upstream on its own (not stored, not shared). Answers it (503/502) when
 * that cannot start. */
static void pass(fb_proxy *p, fb_http_exchange *x, const fb_http_request *req,
                 const fb_http_path *path)
{
    waiter *w = waiter_new(x, req, true);
    fetch *f = fetch_new(p, NULL);
    p->st.passed++;
    if (!w || !f) {
        free(f);
        if (w)
            waiter_free(w);
        fb_http_reply_status(x, 503, NULL, false);
        return;
    }
    int rc = fetch_start(p, f, path->path, path->len, path->query, path->query_len, w);
    if (rc == 0) {
        w->x = fb_http_defer(x, on_waiter_cancel, w);
        if (w->x) {
            fetch_add(f, w);
            return;
        }
        fb_http_cancel(f->req);
    }
    free(f);
    waiter_free(w);
    p->st.refused++;
    fb_http_reply_status(x, rc == FB_E2BIG ? 414 : 503, NULL, false);
}

/* Restarts a waiter of a private answer for e as its own pass-through fetch. */
static void repass(fb_proxy *p, waiter *w, const pentry *e)
{
    fetch *f = fetch_new(p, NULL);
    if (f && fetch_start(p, f, e->upath, e->upath_len, e->query, e->query_len, w) == 0) {
        fetch_add(f, w);
        p->st.passed++;
        return;
    }
    free(f);
    p->st.refused++;
    fb_http_reply_status(w->x, 503, NULL, false);
    waiter_free(w);
}

static int64_t upstream_mtime(const fb_proxy_answer *a)
{
    int64_t t;
    if (a->last_modified.p &&
        fb_http_date_parse(a->last_modified.p, a->last_modified.n, (int64_t)time(NULL), &t) == 0)
        return t;
    return -1;
}

static char *dup_str(fb_proxy_str s)
{
    if (!s.p)
        return NULL;
    char *d = malloc(s.n + 1);
    if (d) {
        memcpy(d, s.p, s.n);
        d[s.n] = '\0';
    }
    return d;
}

/* Makes room for `need` more mirrored bytes by dropping the least recently used copies without
 * a fetch (other than keep's). Returns false when that cannot be done. */
static bool make_room(fb_proxy *p, const pentry *keep, uint64_t need)
{
    pentry *v = p->tail;
    while (p->bytes + need > p->cfg.max_bytes && v) {
        pentry *prev = v->prev;
        if (v != keep && !v->inflight && v->mirrored) {
            unmirror(p, v);
            p->st.evictions++;
        }
        v = prev;
    }
    return p->bytes + need <= p->cfg.max_bytes;
}

/* Stores a STORE answer for e. Returns 0 when the mirror now holds it. */
static int store(fb_proxy *p, pentry *e, const fb_http_result *r, const fb_proxy_answer *a,
                 uint64_t now)
{
    bool kept;
    char type[FB_PROXY_TYPE_MAX] = "";
    if (a->content_type.p) {
        memcpy(type, a->content_type.p, a->content_type.n);
        type[a->content_type.n] = '\0';
    }
    /* A new type must reach the file cache: the file is rewritten then. */
    bool type_same = strcmp(type, e->type) == 0;
    if (!type_same && e->mirrored)
        unmirror(p, e);
    uint64_t old = e->mirrored ? e->size : 0;
    if (r->len > old && !make_room(p, e, r->len - old))
        return -1;
    if (mirror_write(p, e, r->body, r->len, upstream_mtime(a), &kept) != 0)
        return -1;
    p->bytes = p->bytes - old + r->len;
    e->size = r->len;
    if (kept)
        p->st.unchanged++;
    else
        p->st.stored++;
    free(e->etag);
    free(e->lastmod);
    e->etag = dup_str(a->etag);
    e->lastmod = dup_str(a->last_modified);
    memcpy(e->type, type, sizeof(type));
    e->mirrored = true;
    e->ttl_ms = fb_proxy_ttl_ms(a, p->cfg.ttl_ms);
    e->fresh_until = now + e->ttl_ms;
    return 0;
}

/* Answers every waiter in list: from e's mirrored copy (503 if it is gone), or with `status`
 * when e is NULL; a manifest's waiter is told its fetch ended. */
static void answer_all(fb_proxy *p, waiter *list, pentry *e, int status)
{
    while (list) {
        waiter *w = list;
        list = w->next;
        w->f = NULL;
        if (w->prep) {
            prep_waiter_done(w);
            continue;
        }
        fb_http_request req;
        waiter_request(w, &req);
        if (!e || serve_mirror(p, w->x, &req, e) != 0)
            fb_http_reply_status(w->x, e ? 503 : status, NULL, false);
        waiter_free(w);
    }
}

static void fetch_done(void *ctx, const fb_http_result *r)
{
    fetch *f = ctx;
    fb_proxy *p = f->p;
    pentry *e = f->e;
    waiter *list = f->waiters;
    uint64_t now = uv_now(p->loop);
    f->req = NULL;
    if (e)
        e->inflight = NULL;
    free(f);
    for (waiter *w = list; w; w = w->next)
        w->f = NULL; /* the fetch is gone: a cancel no longer detaches */
    if (r->error == FB_HTTP_ECANCELED) {
        answer_all(p, list, NULL, 503);
        return;
    }
    bool failed = r->error != 0 || r->status >= 500;
    if (r->error)
        p->st.upstream_errors++;
    else if (r->status >= 500)
        p->st.upstream_5xx++;
    if (e && e->mirrored && failed) {
        /* stale-if-error: the copy we have, and no new try before a TTL passed */
        e->fresh_until = now + p->cfg.ttl_ms;
        for (waiter *w = list; w; w = w->next)
            p->st.stale_served += w->prep == NULL;
        answer_all(p, list, e, 0);
        return;
    }
    if (r->error) {
        answer_all(p, list, NULL, r->error == FB_HTTP_ETIMEOUT ? 504 : 502);
        return;
    }
    fb_proxy_answer a;
    fb_proxy_scan(r->headers ? r->headers : "", r->headers_len, &a);
    if (e && e->mirrored && r->status == 304) {
        p->st.not_modified++;
        if (a.has_max_age || a.has_s_maxage)
            e->ttl_ms = fb_proxy_ttl_ms(&a, p->cfg.ttl_ms);
        e->fresh_until = now + e->ttl_ms;
        answer_all(p, list, e, 0);
        return;
    }
    fb_proxy_verdict v = fb_proxy_decide((int)r->status, &a, r->len, p->cfg.max_body);
    if (e && v == FB_PROXY_STORE && store(p, e, r, &a, now) == 0) {
        answer_all(p, list, e, 0);
        return;
    }
    if (e && e->mirrored)
        unmirror(p, e); /* the upstream no longer gives a storable answer */
    if (e && v == FB_PROXY_PRIVATE)
        e->pass_until = now + FB_MAX(p->cfg.ttl_ms, 1000u);
    uint32_t n_clients = 0;
    for (waiter *w = list; w; w = w->next)
        n_clients += w->prep == NULL;
    fb_file *spooled = NULL;
    if (v == FB_PROXY_SHARED && n_clients > 1 && r->len > SPOOL_MIN && p->origin)
        spooled = spool(p, r, (int64_t)time(NULL));
    p->st.spooled += spooled != NULL;
    bool first = true;
    while (list) {
        waiter *w = list;
        list = w->next;
        if (w->prep) {
            prep_waiter_done(w);
            continue;
        }
        if (first || v != FB_PROXY_PRIVATE) {
            relay(p, w->x, w->head, r, spooled);
            waiter_free(w);
        } else {
            repass(p, w, e);
        }
        first = false;
    }
    if (spooled)
        fb_file_release(&p->origin->cache, spooled);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* Joins (or starts) e's fetch with w (NULL: starts it without a waiter). Returns 0, or a
 * negative code when neither can be done (w is then untouched). */
static int join(fb_proxy *p, pentry *e, waiter *w)
{
    if (e->inflight && !w)
        return 0;
    if (e->inflight) {
        if (e->inflight->n_waiters >= p->cfg.max_waiters)
            return FB_ENOSPC;
        fetch_add(e->inflight, w);
        p->st.coalesced++;
        return 0;
    }
    fetch *f = fetch_new(p, e);
    if (!f)
        return FB_ENOMEM;
    f->conditional = e->mirrored && (e->etag || e->lastmod);
    int rc = fetch_start(p, f, e->upath, e->upath_len, e->query, e->query_len, w);
    if (rc != 0) {
        free(f);
        return rc;
    }
    if (e->mirrored)
        p->st.revalidations++;
    else
        p->st.misses++;
    e->inflight = f;
    if (w)
        fetch_add(f, w);
    return 0;
}

void fb_proxy_handle(fb_proxy *p, fb_http_exchange *x, const fb_http_request *req,
                     const fb_http_path *path)
{
    p->st.requests++;
    int fl =
        fb_proxy_mirror_path(path->path, path->len, path->query, path->query_len, p->path, URL_MAX);
    if (fl < 0 || fb_http_find_header(req, "Authorization")) {
        pass(p, x, req, path);
        return;
    }
    pentry *e =
        entry_get(p, p->path, (size_t)fl, path->path, path->len, path->query, path->query_len);
    if (!e) {
        p->st.refused++;
        fb_http_reply_status(x, 503, NULL, false);
        return;
    }
    uint64_t now = uv_now(p->loop);
    if (e->mirrored && now < e->fresh_until && !e->inflight) {
        if (serve_mirror(p, x, req, e) == 0) {
            p->st.hits++;
            return;
        }
        unmirror(p, e); /* gone from the mirror: fetch it again */
    }
    if (e->mirrored && e->inflight) {
        /* Being revalidated: the copy we have, at once, so a crowd never waits for the
         * upstream once a copy exists (nginx's "use_stale updating"). */
        if (serve_mirror(p, x, req, e) == 0) {
            p->st.stale_updating++;
            return;
        }
        unmirror(p, e);
    }
    if (!e->inflight && now < e->pass_until) {
        pass(p, x, req, path);
        return;
    }
    waiter *w = waiter_new(x, req, false);
    int rc = w ? join(p, e, w) : FB_ENOMEM;
    if (rc == 0) {
        w->x = fb_http_defer(x, on_waiter_cancel, w);
        if (w->x)
            return;
        waiter_detach(w); /* the fetch goes on, for the others and the mirror */
    }
    if (w)
        waiter_free(w);
    if (e->mirrored) {
        /* No fetch could start: the copy we have beats an error. */
        p->st.stale_served++;
        if (serve_mirror(p, x, req, e) == 0)
            return;
    }
    p->st.refused++;
    fb_http_reply_status(x, rc == FB_E2BIG ? 414 : 503, NULL, false);
}

/* ---- preparing a manifest ---------------------------------------------------------------- */

static void prep_finish(fb_proxy_prep *pp)
{
    void (*done)(void *) = pp->done;
    void *arg = pp->arg;
    free(pp->page);
    free(pp);
    done(arg);
}

/* Brings path[0..len) into the mirror for pp: 1 when pp now waits for it, 0 when it need
 * not or cannot. */
static int prep_ensure(fb_proxy_prep *pp, const char *path, size_t len)
{
    fb_proxy *p = pp->p;
    int fl = fb_proxy_mirror_path(path, len, NULL, 0, p->path, URL_MAX);
    if (fl < 0)
        return 0;
    pentry *e = entry_get(p, p->path, (size_t)fl, path, len, NULL, 0);
    uint64_t now = uv_now(p->loop);
    if (!e || (e->mirrored && now < e->fresh_until && !e->inflight) ||
        (!e->inflight && now < e->pass_until))
        return 0;
    if (e->mirrored) {
        /* A stale copy: the manifest is built from it while it is revalidated (a changed file
         * rebuilds the manifest later). */
        if (!e->inflight)
            join(p, e, NULL);
        return 0;
    }
    waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return 0;
    w->prep = pp;
    if (join(p, e, w) != 0) {
        free(w);
        return 0;
    }
    w->prep_next = pp->waiters;
    pp->waiters = w;
    pp->pending++;
    return 1;
}

/* Lists the page's embedded objects from its mirrored copy and brings each into the mirror. */
static void prep_objects(fb_proxy_prep *pp)
{
    fb_proxy *p = pp->p;
    pp->page_phase = false;
    int fl = fb_proxy_mirror_path(pp->page, pp->page_len, NULL, 0, p->path, URL_MAX);
    pentry *e = fl < 0 ? NULL : lookup(p, p->path, (size_t)fl);
    if (!e || !e->mirrored || pp->max_objects < 2)
        return;
    if (!fb_mime_is_html(fb_file_cache_type(&p->origin->cache, e->file, e->file_len)))
        return;
    int fd = openat(p->mirror_fd, e->file + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t max_links = pp->max_objects - 1;
    size_t text_cap = FB_HTML_LINKS_TEXT_CAP(max_links, MAX_URL);
    char *html_buf = malloc(MAX_HTML);
    fb_html_link *links = calloc(max_links, sizeof(*links));
    char *text = malloc(text_cap);
    char *ppath = malloc(3 * pp->page_len + 1);
    char *dec = malloc(MAX_URL + 16);
    ssize_t n = html_buf ? pread(fd, html_buf, MAX_HTML, 0) : -1;
    close(fd);
    int pl = ppath ? fb_http_path_encode(pp->page, pp->page_len, ppath, 3 * pp->page_len + 1) : -1;
    if (n > 0 && links && text && pl > 0 && dec) {
        fb_html_links hl;
        fb_html_links_init(&hl, links, max_links, text, text_cap, MAX_URL);
        int rc = fb_html_links_scan(&hl, html_buf, (size_t)n, ppath, (size_t)pl, NULL, 0);
        for (size_t i = 0; (rc == 0 || rc == FB_ENOSPC) && i < hl.count; i++) {
            fb_http_path lp = {.path = dec};
            if (fb_http_path_parse(hl.links[i].path, hl.links[i].len, &lp, MAX_URL + 16) != 0 ||
                lp.trailing_slash)
                continue;
            prep_ensure(pp, lp.path, lp.len);
        }
    }
    free(html_buf);
    free(links);
    free(text);
    free(ppath);
    free(dec);
}

static void prep_waiter_done(waiter *w)
{
    fb_proxy_prep *pp = w->prep;
    waiter **q = &pp->waiters;
    while (*q != w)
        q = &(*q)->prep_next;
    *q = w->prep_next;
    free(w);
    pp->pending--;
    if (pp->page_phase)
        prep_objects(pp);
    if (pp->pending == 0)
        prep_finish(pp);
}

int fb_proxy_prepare(fb_proxy *p, const char *path, size_t len, uint32_t max_objects,
                     void (*done)(void *arg), void *arg, fb_proxy_prep **out)
{
    fb_proxy_prep *pp = calloc(1, sizeof(*pp));
    *out = NULL;
    if (!pp || !(pp->page = malloc(len + 1))) {
        free(pp);
        return FB_ENOMEM;
    }
    memcpy(pp->page, path, len);
    pp->page[len] = '\0';
    pp->page_len = len;
    pp->p = p;
    pp->done = done;
    pp->arg = arg;
    pp->max_objects = max_objects;
    pp->page_phase = true;
    if (!prep_ensure(pp, path, len))
        prep_objects(pp);
    if (pp->pending == 0) {
        free(pp->page);
        free(pp);
        return 0;
    }
    *out = pp;
    return FB_EAGAIN;
}

void fb_proxy_prepare_cancel(fb_proxy_prep *pp)
{
    while (pp->waiters) {
        waiter *w = pp->waiters;
        pp->waiters = w->prep_next;
        if (w->f)
            waiter_detach(w);
        free(w);
    }
    free(pp->page);
    free(pp);
}

/* ---- life -------------------------------------------------------------------------------- */

/* Frees p's buffers and p itself (its mirror directory and entries are the caller's). */
static void release(fb_proxy *p)
{
    free(p->mirror);
    free(p->base);
    free(p->buckets);
    free(p->relay);
    free(p->path);
    free(p);
}

int fb_proxy_new(uv_loop_t *loop, const fb_proxy_config *cfg, fb_proxy **out, char *err,
                 size_t errcap)
{
    fb_proxy_url u;
    const char *why;
    *out = NULL;
    if (fb_proxy_url_parse(cfg->upstream, strlen(cfg->upstream), &u, &why) != 0) {
        snprintf(err, errcap, "bad --upstream '%s': %s", cfg->upstream, why);
        return FB_EINVAL;
    }
    fb_proxy *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return FB_ENOMEM;
    }
    p->loop = loop;
    p->cfg = *cfg;
    p->mirror_fd = -1;
    if (!p->cfg.max_body)
        p->cfg.max_body = 64ull << 20;
    if (!p->cfg.timeout_ms)
        p->cfg.timeout_ms = 10000;
    if (!p->cfg.max_waiters)
        p->cfg.max_waiters = 1024;
    if (!p->cfg.max_paths)
        p->cfg.max_paths = 16384;
    if (!p->cfg.max_fetches)
        p->cfg.max_fetches = 256;
    if (!p->cfg.max_bytes)
        p->cfg.max_bytes = 1ull << 30;
    p->n_buckets = 1;
    while (p->n_buckets < p->cfg.max_paths)
        p->n_buckets <<= 1;
    p->buckets = calloc(p->n_buckets, sizeof(pentry *));
    p->relay = malloc(RELAY_HEADERS);
    p->path = malloc(URL_MAX);
    if (asprintf(&p->base, "%s://%.*s:%u%.*s", u.https ? "https" : "http", (int)u.host.n, u.host.p,
                 u.port, (int)u.prefix.n, u.prefix.p) < 0)
        p->base = NULL;
    int rc = FB_ENOMEM;
    if (!p->buckets || !p->relay || !p->path || !p->base) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    if (cfg->mirror_dir) {
        p->mirror = strdup(cfg->mirror_dir);
        if (!p->mirror)
            goto fail;
        if (mkdir(p->mirror, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errcap, "--mirror-dir '%s': %s", p->mirror, strerror(errno));
            rc = FB_EINVAL;
            goto fail;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&p->mirror, "%s/flashbackd-mirror.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
            p->mirror = NULL;
            goto fail;
        }
        if (!mkdtemp(p->mirror)) {
            snprintf(err, errcap, "cannot create a mirror directory '%s': %s", p->mirror,
                     strerror(errno));
            rc = FB_EINVAL;
            goto fail;
        }
        p->own_mirror = true;
    }
    p->mirror_fd = open(p->mirror, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->mirror_fd < 0) {
        snprintf(err, errcap, "--mirror-dir '%s': %s", p->mirror, strerror(errno));
        rc = FB_EINVAL;
        goto fail;
    }
    if (!p->own_mirror) {
        /* Files we did not write must never be served as the upstream's. */
        DIR *d = fdopendir(dup(p->mirror_fd));
        struct dirent *de;
        bool empty = true;
        while (d && (de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                empty = false;
        if (d)
            closedir(d);
        if (!d || !empty) {
            snprintf(err, errcap, "--mirror-dir '%s' must be an empty directory", p->mirror);
            rc = FB_EINVAL;
            goto fail;
        }
    }
    fb_http_client_config cc = {.max_requests = p->cfg.max_fetches,
                                .max_connections = 64,
                                .max_host_connections = 32,
                                .user_agent = "flashbackd/" FB_VERSION};
    rc = fb_http_client_new(loop, &cc, &p->client);
    if (rc != 0) {
        snprintf(err, errcap, "cannot start the HTTP client");
        goto fail;
    }
    *out = p;
    return 0;
fail:
    if (p->mirror_fd >= 0)
        close(p->mirror_fd);
    if (p->own_mirror)
        rmdir(p->mirror);
    release(p);
    return rc;
}

const char *fb_proxy_mirror(const fb_proxy *p)
{
    return p->mirror;
}

void fb_proxy_attach(fb_proxy *p, fb_origin *o)
{
    p->origin = o;
    fb_file_cache_set_types(&o->cache, type_of, p);
}

void fb_proxy_stats_get(const fb_proxy *p, fb_proxy_stats *out)
{
    *out = p->st;
    out->paths = p->n;
    out->mirror_bytes = p->bytes;
    out->in_flight = p->client ? fb_http_client_pending(p->client) : 0;
}

void fb_proxy_free(fb_proxy *p)
{
    if (!p)
        return;
    fb_http_client_free(p->client); /* every fetch ends with FB_HTTP_ECANCELED */
    if (p->origin)
        fb_file_cache_set_types(&p->origin->cache, NULL, NULL);
    while (p->head) {
        pentry *e = p->head;
        e->mirrored = false; /* the whole tree goes below */
        entry_drop(p, e);
    }
    close(p->mirror_fd);
    /* A given --mirror-dir is left empty (as it had to be at start), ours is removed. */
    rm_top = p->own_mirror;
    nftw(p->mirror, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    release(p);
}
