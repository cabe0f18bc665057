/* Unit tests for net/http_server's deferred answers (fb_http_defer), with a real server on
 * 127.0.0.1:0 and plain client sockets, all on the test's thread: the loop runs in small steps
 * while the client polls its socket. Cases: an answer given later from a timer (keep-alive
 * kept, the connection serves the next request), pipelined requests behind a deferred one
 * (answered in order), HEAD, the client going away (cancel, no reply on a dead exchange), the
 * defer timeout (504 and cancel), and shutdown while deferred. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_server.h"

#define MAX_HELD 8

typedef struct fixture {
    uv_loop_t loop;
    fb_http_server *srv;
    int port;
    fb_http_exchange *held[MAX_HELD]; /* deferred exchanges not yet answered */
    int n_held;
    int cancelled;
    int handled;
    bool stopped;
} fixture;

static void on_cancel(void *arg, fb_http_exchange *x)
{
    fixture *f = arg;
    for (int i = 0; i < f->n_held; i++)
        if (f->held[i] == x) {
            f->held[i] = f->held[--f->n_held];
            f->cancelled++;
            return;
        }
    fail_msg("cancel for an exchange the test does not hold");
}

/* /defer*: deferred; anything else: answered at once with its path as the body. */
static void handler(void *ctx, fb_http_exchange *x, const fb_http_request *req)
{
    fixture *f = ctx;
    static char body[256];
    f->handled++;
    if (req->target_len >= 6 && memcmp(req->target, "/defer", 6) == 0) {
        fb_http_exchange *d = fb_http_defer(x, on_cancel, f);
        assert_non_null(d);
        assert_true(f->n_held < MAX_HELD);
        f->held[f->n_held++] = d;
        /* A second defer of the same request is refused. */
        assert_null(fb_http_defer(x, on_cancel, f));
        return;
    }
    size_t n = FB_MIN(req->target_len, sizeof(body));
    memcpy(body, req->target, n);
    fb_http_reply r = {.status = 200, .has_length = true, .length = n, .body = body};
    r.head_only = req->meth == FB_HTTP_HEAD;
    fb_http_reply_send(x, &r);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    fb_http_config cfg;
    char bound[64];
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    fb_http_config_default(&cfg);
    cfg.defer_timeout_ms = 400;
    f->srv = fb_http_server_new(&f->loop, &cfg, handler, f);
    assert_non_null(f->srv);
    assert_int_equal(fb_http_server_listen(f->srv, "127.0.0.1:0", bound), 0);
    f->port = atoi(strrchr(bound, ':') + 1);
    *state = f;
    return 0;
}

static void on_stopped(void *arg)
{
    ((fixture *)arg)->stopped = true;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fb_http_server_shutdown(f->srv, 100, on_stopped, f);
    for (int i = 0; i < 200 && !f->stopped; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT), usleep(2000);
    assert_true(f->stopped);
    fb_http_server_free(f->srv);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static int client(fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Runs the loop for about ms milliseconds, gathering what the client receives into buf (NUL-
 * terminated). Stops early once `until` appears (when not NULL) or the server closes. Returns
 * the bytes gathered; *closed tells whether the server closed the connection. */
static size_t pump(fixture *f, int fd, char *buf, size_t cap, size_t have, const char *until,
                   int ms, bool *closed)
{
    if (closed)
        *closed = false;
    for (int i = 0; i < ms / 2; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2) == 1) {
            ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                if (closed)
                    *closed = true;
                break;
            }
            if (n > 0)
                have += (size_t)n;
        }
        buf[have] = '\0';
        if (until && strstr(buf, until))
            break;
    }
    buf[have] = '\0';
    return have;
}

static void reply_text(fb_http_exchange *x, const char *text)
{
    fb_http_reply r = {.status = 200, .has_length = true, .length = strlen(text), .body = text};
    fb_http_reply_send(x, &r);
}

/* A deferred request gets nothing until the owner answers; then the answer, and the
 * connection goes on serving. */
static void test_defer_then_answer(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int fd = client(f);
    send_all(fd, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n = pump(f, fd, buf, sizeof(buf), 0, NULL, 100, NULL);
    assert_int_equal(n, 0);
    assert_int_equal(f->n_held, 1);
    reply_text(f->held[0], "later");
    f->n_held = 0;
    n = pump(f, fd, buf, sizeof(buf), 0, "later", 500, NULL);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 5\r\n"));
    assert_null(strstr(buf, "Connection: close"));
    assert_true(n >= 5 && memcmp(buf + n - 5, "later", 5) == 0);
    /* The same connection serves the next request. */
    send_all(fd, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    n = pump(f, fd, buf, sizeof(buf), 0, "/again", 500, NULL);
    assert_true(n >= 6 && memcmp(buf + n - 6, "/again", 6) == 0);
    assert_int_equal(f->cancelled, 0);
    close(fd);
}

/* Two requests pipelined behind a deferred one are processed only after its answer, in order. */
static void test_pipelined_behind_deferred(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int fd = client(f);
    send_all(fd, "GET /defer1 HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
                 "HEAD /three HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n = pump(f, fd, buf, sizeof(buf), 0, NULL, 100, NULL);
    assert_int_equal(n, 0);
    assert_int_equal(f->handled, 1); /* the others wait in the connection's input */
    assert_int_equal(f->n_held, 1);
    reply_text(f->held[0], "first");
    f->n_held = 0;
    n = pump(f, fd, buf, sizeof(buf), 0, "/two", 500, NULL);
    n = pump(f, fd, buf, sizeof(buf), n, "Content-Length: 6\r\n\r\n", 200, NULL);
    char *a = strstr(buf, "first"), *b = strstr(buf, "/two");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_int_equal(f->handled, 3);
    /* HEAD /three: a head with the length, no body. */
    char *h = strstr(b, "HTTP/1.1 200 OK");
    assert_non_null(h);
    assert_non_null(strstr(h, "Content-Length: 6\r\n\r\n"));
    assert_null(strstr(h, "/three"));
    close(fd);
}

/* A deferred HEAD answered with fb_http_reply_status: the head only. */
static void test_deferred_head(void **state)
{
    fixture *f = *state;
    char buf[4096];
    int fd = client(f);
    send_all(fd, "HEAD /defer HTTP/1.0\r\n\r\n");
    pump(f, fd, buf, sizeof(buf), 0, NULL, 60, NULL);
    assert_int_equal(f->n_held, 1);
    fb_http_reply_status(f->held[0], 404, "X-Test: 1\r\n", false);
    f->n_held = 0;
    bool closed;
    pump(f, fd, buf, sizeof(buf), 0, NULL, 500, &closed);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(buf, "X-Test: 1\r\n"));
    assert_non_null(strstr(buf, "Connection: close\r\n")); /* HTTP/1.0 without keep-alive */
    assert_null(strstr(buf, "404 Not Found\n"));           /* no body */
    assert_true(closed);
    close(fd);
}

/* The client goes away: the owner is told, and never answers a dead exchange. */
static void test_client_goes_away(void **state)
{
    fixture *f = *state;
    char buf[256];
    int fd = client(f);
    send_all(fd, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(f, fd, buf, sizeof(buf), 0, NULL, 60, NULL);
    assert_int_equal(f->n_held, 1);
    close(fd);
    for (int i = 0; i < 100 && f->cancelled == 0; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT), usleep(2000);
    assert_int_equal(f->cancelled, 1);
    assert_int_equal(f->n_held, 0);
    assert_int_equal(fb_http_server_stats(f->srv)->conns_active, 0);
}

/* Nobody answers: 504 after defer_timeout_ms, and the owner is told first. */
static void test_defer_timeout(void **state)
{
    fixture *f = *state;
    char buf[1024];
    bool closed;
    int fd = client(f);
    send_all(fd, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(f, fd, buf, sizeof(buf), 0, NULL, 100, NULL);
    assert_int_equal(f->n_held, 1);
    pump(f, fd, buf, sizeof(buf), 0, NULL, 2000, &closed);
    assert_non_null(strstr(buf, "HTTP/1.1 504 Gateway Timeout\r\n"));
    assert_int_equal(f->cancelled, 1);
    assert_int_equal(f->n_held, 0);
    assert_int_equal(fb_http_server_stats(f->srv)->timeouts_defer, 1);
    close(fd);
}

/* Shutdown with a deferred exchange outstanding: cancelled by the deadline, nothing leaks. */
static void test_shutdown_while_deferred(void **state)
{
    fixture *f = *state;
    char buf[256];
    int fd = client(f);
    send_all(fd, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(f, fd, buf, sizeof(buf), 0, NULL, 60, NULL);
    assert_int_equal(f->n_held, 1);
    fb_http_server_shutdown(f->srv, 50, on_stopped, f);
    for (int i = 0; i < 200 && !f->stopped; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT), usleep(2000);
    assert_true(f->stopped);
    assert_int_equal(f->cancelled, 1);
    assert_int_equal(f->n_held, 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defer_then_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_behind_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_goes_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defer_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_while_deferred, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
