/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's HTTP: libcurl requests, SSE stream, JSON helpers. */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"
#include "common/buf.h"

#include <curl/curl.h>
#include <sodium.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Largest JSON answer and longest unfinished stream line the CLI holds. */
#define BODY_MAX (64u * 1024 * 1024)

/* Appends k bytes to b and writes a NUL after them (not counted in len),
 * so the data can be read as a string. 0, or a pl_buf code. */
static int append_str(struct pl_buf *b, const char *data, size_t k)
{
    int rc = pl_buf_append(b, data, k);
    char *end = rc == 0 ? pl_buf_reserve(b, 1, &rc) : NULL;
    if (end)
        *end = 0;
    return rc;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    size_t k = size * n;
    return append_str(ctx, data, k) == 0 ? k : 0; /* 0 fails the transfer */
}

/* Prepares h for path (on the server) or an absolute URL; auth: send the
 * token when there is one. */
static CURL *prepare(struct cli *c, CURL *h, const char *path, int auth, struct curl_slist **hdrs)
{
    char url[4096], bearer[256];
    curl_easy_reset(h);
    if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0)
        snprintf(url, sizeof(url), "%s", path);
    else
        snprintf(url, sizeof(url), "%s%s", c->server, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    /* Another origin (an S3 bucket's presigned URL) gets curl's defaults
     * and never the token: the flags below describe the Parley server. */
    size_t sl = strlen(c->server);
    bool ours = strncmp(url, c->server, sl) == 0 && (url[sl] == '/' || url[sl] == '\0');
    if (!ours)
        auth = 0;
    /* --http2-prior-knowledge: h2 without upgrade or ALPN (h2c on http://). */
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                     !ours || c->http11 ? CURL_HTTP_VERSION_1_1
                     : c->h2c           ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                        : CURL_HTTP_VERSION_2TLS);
    if (ours && c->h2c) {
        /* libcurl before 8.0 (Debian 12: 7.88) fails every second request
         * on a reused prior-knowledge connection ("Error in the HTTP2
         * framing layer", curl issue 10634): one connection per request. */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    const char *ca = getenv("PARLEY_CA_FILE");
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    *hdrs = curl_slist_append(NULL, "Accept: application/json, text/event-stream");
    const char *tok = auth ? cli_conf(c, "token") : NULL;
    if (tok) {
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", tok);
        *hdrs = curl_slist_append(*hdrs, bearer);
    }
    return h;
}

static CURL *handle(struct cli *c, CURL *h, const char *path, struct curl_slist **hdrs)
{
    return prepare(c, h, path, 1, hdrs);
}

struct xfer {
    FILE *in;
    cli_sink_cb *sink;
    void *ctx;
    int failed;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    size_t r = fread(buf, 1, size * n, x->in);
    if (r == 0 && ferror(x->in))
        return CURL_READFUNC_ABORT;
    return r;
}

static size_t on_write(char *data, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    if (x->sink(x->ctx, data, size * n) < 0) {
        x->failed = 1;
        return 0;
    }
    return size * n;
}

static long http_stream(struct cli *c, const char *method, const char *url, int auth, FILE *in,
                        long long size, const char *ctype, cli_sink_cb *sink, void *ctx,
                        int redirects)
{
    struct curl_slist *hdrs;
    struct xfer x = {in, sink, ctx, 0};
    char err[CURL_ERROR_SIZE] = "", ct[160];
    long status = 0;
    if (!c->curl_req && !(c->curl_req = curl_easy_init()))
        cli_die("out of memory");
    CURL *h = prepare(c, c->curl_req, url, auth, &hdrs);
    if (in) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
        if (ctype) {
            snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
            hdrs = curl_slist_append(hdrs, ct);
        }
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    /* Redirects (a download's 302 to its presigned URL) are followed
     * below, so that each hop is prepared for its own origin. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    /* Big files take as long as they take; a stalled transfer does not. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (x.failed)
        cli_die("%s %s: cannot write the received bytes", method, url);
    if (rc != CURLE_OK)
        cli_die("%s %s: %s", method, url, err[0] ? err : curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char *next = NULL;
    if (!in && status >= 301 && status <= 308 && status != 304 && redirects < 3 &&
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next) {
        /* The presigned URL is the credential: no token. */
        char *u = cli_strndup(next, strlen(next));
        status = http_stream(c, method, u, 0, in, size, ctype, sink, ctx, redirects + 1);
        free(u);
    }
    return status;
}

long cli_http_stream(struct cli *c, const char *method, const char *url, int auth, FILE *in,
                     long long size, const char *ctype, cli_sink_cb *sink, void *ctx)
{
    return http_stream(c, method, url, auth, in, size, ctype, sink, ctx, 0);
}

/* Retry-After: delta-seconds (the only form parleyd sends). */
static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    long *retry_after = ctx;
    size_t k = size * n;
    if (k > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
        *retry_after = strtol(data + 12, NULL, 10);
    return k;
}

/* The client of the last request, for cli_expect()'s advice. */
static struct cli *last_cli;

/* One request; -1 (and the reason in err) when the server was not reached. */
static long request(struct cli *c, const char *method, const char *path, const char *body,
                    yajl_val *out, long *retry_after, char err[CURL_ERROR_SIZE])
{
    struct curl_slist *hdrs;
    struct pl_buf b;
    pl_buf_init(&b, BODY_MAX);
    long status = 0, ra = -1;
    last_cli = c;
    /* Requests get their own handle: they may run inside a stream's
     * callback, while the stream's handle is busy. */
    if (!c->curl_req && !(c->curl_req = curl_easy_init()))
        cli_die("out of memory");
    CURL *h = handle(c, c->curl_req, path, &hdrs);
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &ra);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (retry_after)
        *retry_after = ra;
    *out = NULL;
    if (rc != CURLE_OK) {
        if (!err[0])
            snprintf(err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
        pl_buf_deinit(&b);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *out = b.len ? yajl_tree_parse(pl_buf_head(&b), NULL, 0) : NULL;
    pl_buf_deinit(&b);
    return status;
}

long cli_http_send(struct cli *c, const char *method, const char *path, const char *body,
                   yajl_val *out, long *retry_after, char err[256])
{
    char cerr[CURL_ERROR_SIZE] = "";
    long st = request(c, method, path, body, out, retry_after, cerr);
    if (st < 0 && err)
        snprintf(err, 256, "%s %s: %s", method, path, cerr);
    return st;
}

long cli_http_try(struct cli *c, const char *method, const char *path, const char *body,
                  yajl_val *out)
{
    char err[CURL_ERROR_SIZE] = "";
    return request(c, method, path, body, out, NULL, err);
}

long cli_http(struct cli *c, const char *method, const char *path, const char *body, yajl_val *out)
{
    char err[CURL_ERROR_SIZE] = "";
    long st = request(c, method, path, body, out, NULL, err);
    if (st < 0)
        cli_die("cannot reach %s (%s %s: %s); is parleyd running there? Use --server URL or "
                "PARLEY_SERVER to pick another server",
                c->server, method, path, err);
    return st;
}

void cli_expect(long status, yajl_val body, long ok1, long ok2, const char *what)
{
    if (status == ok1 || status == ok2)
        return;
    const char *title = cli_jstr(body, "title"), *detail = cli_jstr(body, "detail");
    /* A token the server no longer takes: say how to get a new one. */
    if (status == 401 && last_cli && cli_conf(last_cli, "token"))
        cli_die("%s failed: this device's session is no longer valid (logged out elsewhere?); "
                "run `parley logout`, then `parley login %s`",
                what, cli_conf(last_cli, "username") ? cli_conf(last_cli, "username") : "USERNAME");
    cli_die_code(status == 404 ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERROR, "%s failed: HTTP %ld%s%s%s%s",
                 what, status, title ? " " : "", title ? title : "", detail ? ": " : "",
                 detail ? detail : "");
}

/* ---- SSE ---- */

struct sse {
    struct cli *c;
    cli_event_cb *cb;
    void *ctx;
    struct pl_buf buf; /* bytes after the last complete line */
    char type[64], id[64];
    char *data;
    size_t dlen;
    int stop;
    struct cli_stream_end *end;
};

/* One line of the stream (without its end): fields accumulate until an
 * empty line dispatches the event. */
static void sse_line(struct sse *s, char *line)
{
    if (!*line) {
        if (s->data && !s->stop)
            s->stop = s->cb(s->c, s->type[0] ? s->type : "message", s->data, s->id, s->ctx);
        free(s->data);
        s->data = NULL;
        s->dlen = 0;
        s->type[0] = 0;
        return;
    }
    char *v = strchr(line, ':');
    if (v == line)
        return; /* a comment (keep-alive) */
    if (v) {
        *v++ = 0;
        if (*v == ' ')
            v++;
    } else {
        v = line + strlen(line);
    }
    if (strcmp(line, "event") == 0) {
        snprintf(s->type, sizeof(s->type), "%s", v);
    } else if (strcmp(line, "id") == 0) {
        snprintf(s->id, sizeof(s->id), "%s", v);
    } else if (strcmp(line, "retry") == 0) {
        if (*v >= '0' && *v <= '9' && s->end)
            s->end->retry_ms = strtol(v, NULL, 10); /* the server's reconnection delay */
    } else if (strcmp(line, "data") == 0) {
        size_t n = strlen(v);
        char *d = realloc(s->data, s->dlen + n + 2);
        if (!d)
            cli_die("out of memory");
        if (s->dlen)
            d[s->dlen++] = '\n';
        memcpy(d + s->dlen, v, n + 1);
        s->data = d;
        s->dlen += n;
    }
}

static size_t on_stream(char *data, size_t size, size_t n, void *ctx)
{
    struct sse *s = ctx;
    size_t k = size * n;
    if (append_str(&s->buf, data, k) < 0)
        return 0;
    /* Lines are cut in place: the buffer is ours and NUL-terminated. */
    char *p = (char *)pl_buf_head(&s->buf), *start = p, *nl;
    while (!s->stop && (nl = memchr(start, '\n', (size_t)(p + s->buf.len - start)))) {
        *nl = 0;
        if (nl > start && nl[-1] == '\r')
            nl[-1] = 0;
        sse_line(s, start);
        start = nl + 1;
    }
    pl_buf_consume(&s->buf, (size_t)(start - p));
    return s->stop ? 0 : k; /* 0 aborts the transfer once the callback is done */
}

volatile sig_atomic_t cli_interrupted;

/* Called by libcurl at least once a second: Ctrl-C ends the transfer. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ctx, (void)dt, (void)dn, (void)ut, (void)un;
    return cli_interrupted ? 1 : 0;
}

int cli_stream(struct cli *c, const char *last_id, long timeout_s, cli_event_cb *cb, void *ctx,
               struct cli_stream_end *end)
{
    struct curl_slist *hdrs;
    struct sse s = {.c = c, .cb = cb, .ctx = ctx, .end = end};
    pl_buf_init(&s.buf, BODY_MAX);
    char hdr[128];
    long ra = -1;
    CURL *h = handle(c, c->curl, "/v1/events", &hdrs);
    if (last_id && *last_id) {
        snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", last_id);
        hdrs = curl_slist_append(hdrs, hdr);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &ra);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    if (timeout_s > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    pl_buf_deinit(&s.buf);
    free(s.data);
    end->status = status;
    end->retry_after_s = ra;
    snprintf(end->why, sizeof(end->why), "%s",
             rc == CURLE_OK ? "the server ended the stream" : curl_easy_strerror(rc));
    if (s.stop)
        return 0;
    if (cli_interrupted)
        return 2;
    if (rc == CURLE_OPERATION_TIMEDOUT && status == 200)
        return 1;
    if (status == 401 || status == 403)
        cli_die("event stream: HTTP %ld (log in again)", status);
    return -1;
}

/* ---- JSON and encodings ---- */

yajl_val cli_jget(yajl_val v, const char *k)
{
    if (!YAJL_IS_OBJECT(v))
        return NULL;
    for (size_t i = 0; i < v->u.object.len; i++)
        if (strcmp(v->u.object.keys[i], k) == 0)
            return v->u.object.values[i];
    return NULL;
}

long long cli_jint(yajl_val v, const char *k)
{
    yajl_val x = cli_jget(v, k);
    return YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
}

const char *cli_jstr(yajl_val v, const char *k)
{
    yajl_val x = cli_jget(v, k);
    return YAJL_IS_STRING(x) ? YAJL_GET_STRING(x) : NULL;
}

char *cli_b64(const uint8_t *b, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);
    if (!s)
        cli_die("out of memory");
    sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

int cli_unb64(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    return sodium_base642bin(out, cap, s, strlen(s), NULL, n, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0
               ? 0
               : -1;
}

char *cli_strndup(const void *p, size_t n)
{
    /* Not strndup(): the bytes need not be NUL-terminated anywhere. */
    char *s = malloc(n + 1);
    if (!s)
        cli_die("out of memory");
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

char *cli_urlenc(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0), *r;
    if (!e || !(r = strdup(e)))
        cli_die("out of memory");
    curl_free(e);
    return r;
}
