/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: SSE parsing and the stream API.        */
/* Copyright (c) 2026 Parley developers                                 */

/* The EventSource parser, the event queue, and waiting with deadlines.
 * The transports are in sse_curl.c (h1, h2) and sse_h2c.c. */
#include "sse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPEN_DEADLINE_MS 10000

void pt__text_add(struct pt__text *t, const void *d, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        t->p = realloc(t->p, cap);
        PL_ASSERT(t->p);
        t->cap = cap;
    }
    if (n)
        memcpy(t->p + t->len, d, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_free(struct pt__text *t)
{
    free(t->p);
    memset(t, 0, sizeof(*t));
}

void pt_sse_event_free(struct pt_sse_event *ev)
{
    free(ev->data);
    if (ev->json)
        yajl_tree_free(ev->json);
    memset(ev, 0, sizeof(*ev));
}

struct pt_sse *pt__sse_parser_new(void)
{
    struct pt_sse *sse = calloc(1, sizeof(*sse));
    PL_ASSERT(sse);
    sse->retry = -1;
    sse->q_tail = &sse->q_head;
    return sse;
}

/* ---- the parser (WHATWG HTML, "Interpreting an event stream") ---- */

static void copy_field(char *dst, size_t cap, const char *v, size_t n)
{
    n = n < cap - 1 ? n : cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Every stream of every test checks the promise of GET /v1/events: an
 * event's id comes after the position the stream started from (its
 * Last-Event-ID, or what ready or reset announced) and after every id
 * before it. Anything else is an event the client already has. */
static void check_order(struct pt_sse *sse, const struct pt_sse_event *ev)
{
    if (ev->pos > 0) {
        if (ev->pos <= sse->floor || ev->pos <= sse->max_pos)
            pltest_fail(__FILE__, __LINE__,
                        "%s with id %lld on a stream that started at %lld and last had id %lld: "
                        "a repeated or out-of-order event",
                        ev->name, (long long)ev->pos, (long long)sse->floor,
                        (long long)sse->max_pos);
        sse->max_pos = ev->pos;
    } else if (ev->json && (strcmp(ev->name, "ready") == 0 || strcmp(ev->name, "reset") == 0)) {
        int64_t p = pt_json_int(ev->json, "position", NULL);
        if (p != PT_JSON_MISSING)
            sse->floor = p;
    }
}

/* A blank line: hand the event over unless its data is empty. The event
 * name and data reset either way; the last event ID persists. */
static void dispatch(struct pt_sse *sse)
{
    if (!sse->data.len) {
        sse->name[0] = sse->id[0] = '\0';
        return;
    }
    struct pt__sse_node *n = calloc(1, sizeof(*n));
    PL_ASSERT(n);
    /* The data buffer ends with the LF of its last line. */
    n->ev.data = strndup(sse->data.p, sse->data.len - 1);
    PL_ASSERT(n->ev.data);
    strcpy(n->ev.name, sse->name[0] ? sse->name : "message");
    strcpy(n->ev.id, sse->id);
    if (sse->id[0] && strspn(sse->id, "0123456789") == strlen(sse->id))
        n->ev.pos = strtoll(sse->id, NULL, 10);
    n->ev.json = yajl_tree_parse(n->ev.data, NULL, 0);
    if (sse->path)
        check_order(sse, &n->ev);
    if (getenv("PT_SSE_DEBUG"))
        fprintf(stderr, "%llu sse %p: %s id:%s %.80s\n", (unsigned long long)pt_now_ms(),
                (void *)sse, n->ev.name, n->ev.id, n->ev.data);
    if (sse->path)
        pt__record_sse(sse->path, n->ev.name, n->ev.data, n->ev.id[0] ? n->ev.id : NULL);
    *sse->q_tail = n;
    sse->q_tail = &n->next;
    sse->queued++;
    sse->data.len = 0;
    sse->name[0] = sse->id[0] = '\0';
    sse->touched = true;
}

static void process_line(struct pt_sse *sse, const char *l, size_t n)
{
    if (n == 0) {
        dispatch(sse);
        return;
    }
    if (l[0] == ':') {
        sse->comments++;
        copy_field(sse->last_comment, sizeof(sse->last_comment), l + 1, n - 1);
        sse->touched = true;
        return;
    }
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vlen = (size_t)(l + n - v);
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 5 && memcmp(l, "event", 5) == 0) {
        copy_field(sse->name, sizeof(sse->name), v, vlen);
    } else if (flen == 4 && memcmp(l, "data", 4) == 0) {
        pt__text_add(&sse->data, v, vlen);
        pt__text_add(&sse->data, "\n", 1);
    } else if (flen == 2 && memcmp(l, "id", 2) == 0) {
        if (!memchr(v, '\0', vlen)) {
            copy_field(sse->id, sizeof(sse->id), v, vlen);
            copy_field(sse->last_id, sizeof(sse->last_id), v, vlen);
        }
    } else if (flen == 5 && memcmp(l, "retry", 5) == 0) {
        if (vlen && vlen < 10 && strspn(v, "0123456789") >= vlen) {
            sse->retry = strtol(v, NULL, 10);
            sse->touched = true;
        }
    }
    /* Any other field is ignored, as the spec says. */
}

void pt__sse_feed(struct pt_sse *sse, const char *d, size_t len)
{
    size_t room = sizeof(sse->head) - 1 - sse->head_len;
    size_t keep = len < room ? len : room;
    memcpy(sse->head + sse->head_len, d, keep);
    sse->head_len += keep;
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        if (sse->skip_lf) {
            sse->skip_lf = false;
            if (c == '\n')
                continue;
        }
        if (c == '\r' || c == '\n') {
            /* A CR may be the first half of a CRLF split across reads. */
            sse->skip_lf = c == '\r';
            /* The stream may start with a UTF-8 byte order mark. */
            const char *l = sse->line.p ? sse->line.p : "";
            size_t n = sse->line.len;
            if (!sse->past_bom && n >= 3 && memcmp(l, "\xef\xbb\xbf", 3) == 0) {
                l += 3;
                n -= 3;
            }
            sse->past_bom = true;
            process_line(sse, l, n);
            sse->line.len = 0;
            continue;
        }
        pt__text_add(&sse->line, &c, 1);
    }
}

void pt__sse_end(struct pt_sse *sse)
{
    /* A partial event at the end is discarded, like EventSource does. */
    sse->ended = true;
    sse->touched = true;
}

void pt__sse_set_status(struct pt_sse *sse, long status)
{
    /* A 1xx answer is followed by the real one: forget its headers. */
    sse->status = status;
    for (size_t i = 0; i < sse->n_headers; i++)
        free(sse->headers[i]);
    sse->n_headers = 0;
    sse->touched = true;
}

void pt__sse_add_header(struct pt_sse *sse, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    if (sse->n_headers == PT__SSE_MAX_HEADERS)
        return;
    char *h = malloc(nlen + vlen + 2);
    PL_ASSERT(h);
    memcpy(h, name, nlen);
    h[nlen] = '\0';
    memcpy(h + nlen + 1, value, vlen);
    h[nlen + 1 + vlen] = '\0';
    sse->headers[sse->n_headers++] = h;
}

void pt__sse_body(struct pt_sse *sse, const char *d, size_t len)
{
    /* Only an event stream is parsed; a problem document is kept whole. */
    if (sse->status == 200)
        pt__sse_feed(sse, d, len);
    else
        pt__text_add(&sse->body, d, len);
    sse->touched = true;
}

/* ---- the API ---- */

long pt_sse_status(const struct pt_sse *sse)
{
    return sse->status;
}

const char *pt_sse_header(struct pt_sse *sse, const char *name)
{
    for (size_t i = 0; i < sse->n_headers; i++)
        if (strcasecmp(sse->headers[i], name) == 0)
            return sse->headers[i] + strlen(sse->headers[i]) + 1;
    return NULL;
}

const char *pt_sse_body(const struct pt_sse *sse)
{
    return sse->body.p ? sse->body.p : "";
}

const char *pt_sse_head(const struct pt_sse *sse)
{
    return sse->head;
}

bool pt_sse_ended(const struct pt_sse *sse)
{
    return sse->ended;
}

unsigned pt_sse_comments(const struct pt_sse *sse)
{
    return sse->comments;
}

const char *pt_sse_last_comment(const struct pt_sse *sse)
{
    return sse->last_comment;
}

long pt_sse_retry(const struct pt_sse *sse)
{
    return sse->retry;
}

const char *pt_sse_last_id(const struct pt_sse *sse)
{
    return sse->last_id;
}

size_t pt_sse_queued(const struct pt_sse *sse)
{
    return sse->queued;
}

/* One round of I/O on the stream's connection, waiting up to timeout_ms. */
static void io(struct pt_sse *sse, int timeout_ms)
{
    if (sse->curl)
        pt__sse_curl_io(sse->curl, timeout_ms);
    else if (sse->h2c)
        pt__sse_h2c_io(sse->h2c, timeout_ms);
    else
        sse->ended = true; /* a bare parser has nothing more to come */
}

bool pt_sse_pump(struct pt_sse *sse, int timeout_ms)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    sse->touched = false;
    do {
        uint64_t now = pt_now_ms();
        io(sse, now < deadline ? (int)(deadline - now) : 0);
    } while (!sse->touched && !sse->ended && pt_now_ms() < deadline);
    return sse->ended;
}

int pt_sse_next(struct pt_sse *sse, int timeout_ms, struct pt_sse_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    uint64_t deadline = pt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (int round = 0;; round++) {
        struct pt__sse_node *n = sse->q_head;
        if (n) {
            sse->q_head = n->next;
            if (!sse->q_head)
                sse->q_tail = &sse->q_head;
            sse->queued--;
            *ev = n->ev;
            free(n);
            return 0;
        }
        if (sse->ended)
            return PT_SSE_ENDED;
        uint64_t now = pt_now_ms();
        /* Even with no time left, look once at what is readable now. */
        if (now >= deadline && round > 0)
            return PT_SSE_TIMEOUT;
        io(sse, now < deadline ? (int)(deadline - now) : 0);
    }
}

int pt_sse_wait(struct pt_sse *sse, const char *name, int timeout_ms, struct pt_sse_event *ev)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        uint64_t now = pt_now_ms();
        int rc = pt_sse_next(sse, now < deadline ? (int)(deadline - now) : 0, ev);
        if (rc < 0 || strcmp(ev->name, name) == 0)
            return rc;
        pt_sse_event_free(ev);
    }
}

void pt__sse_expect(const char *file, int line, struct pt_sse *sse, const char *name,
                    int timeout_ms, struct pt_sse_event *ev)
{
    int rc = pt_sse_wait(sse, name, timeout_ms, ev);
    if (rc == PT_SSE_TIMEOUT)
        pltest_fail(file, line, "no \"%s\" event within %d ms", name, timeout_ms);
    if (rc == PT_SSE_ENDED)
        pltest_fail(file, line, "the stream ended before a \"%s\" event came", name);
}

/* Waits until every stream has its response head, or the deadline. */
static int wait_heads(struct pt_sse **v, size_t n)
{
    uint64_t deadline = pt_now_ms() + OPEN_DEADLINE_MS;
    for (size_t i = 0; i < n;) {
        if (v[i]->status >= 200 && (v[i]->head_done || v[i]->ended)) {
            i++;
            continue;
        }
        if (v[i]->ended || pt_now_ms() >= deadline) {
            pt__set_req_error("GET /v1/events: %s", v[i]->ended
                                                        ? "the stream ended before a response"
                                                        : "no response within 10 s");
            return -1;
        }
        io(v[i], 100);
    }
    return 0;
}

/* The position a request resumes from: its Last-Event-ID header, else its
 * last_event_id query parameter; 0 when neither is a number. */
static int64_t resume_position(const struct pt_sse_opts *o)
{
    const char *v = o->last_event_id;
    const char *q = o->path ? strstr(o->path, "last_event_id=") : NULL;
    if (!v && q && (q[-1] == '?' || q[-1] == '&'))
        v = q + strlen("last_event_id=");
    if (!v || !*v || strspn(v, "0123456789") == 0)
        return 0;
    return strtoll(v, NULL, 10);
}

/* The request's header lines, NULL-terminated; free with free_lines(). */
static char **request_lines(const struct pt_sse_opts *o)
{
    size_t cap = 4;
    for (size_t i = 0; o->headers && o->headers[i]; i++)
        cap++;
    char **l = calloc(cap, sizeof(*l));
    PL_ASSERT(l);
    size_t n = 0;
    PL_ASSERT(asprintf(&l[n++], "Accept: text/event-stream") >= 0);
    if (o->token)
        PL_ASSERT(asprintf(&l[n++], "Authorization: Bearer %s", o->token) >= 0);
    if (o->last_event_id)
        PL_ASSERT(asprintf(&l[n++], "Last-Event-ID: %s", o->last_event_id) >= 0);
    for (size_t i = 0; o->headers && o->headers[i]; i++) {
        l[n] = strdup(o->headers[i]);
        PL_ASSERT(l[n++]);
    }
    return l;
}

static void free_lines(char **l)
{
    for (size_t i = 0; l[i]; i++)
        free(l[i]);
    free(l);
}

/* Creates the streams and submits their requests, all on one connection
 * when n > 1. Returns 0, or -1 with pt_req_error() set. */
static int submit(struct pt_server *s, enum pt_proto p, const struct pt_sse_opts *o, size_t n,
                  struct pt_sse **v)
{
    const char *path = o[0].path ? o[0].path : "/v1/events";
    char err[256] = "";
    struct pt__sse_conn *h2c = NULL;
    struct pt__sse_curl *cm = NULL;
    if (p == PT_H2C) {
        h2c =
            pt__sse_h2c_connect(pt_server_port(s), o[0].rcvbuf, o[0].h2c_window, err, sizeof(err));
        if (!h2c) {
            pt__set_req_error("GET %s over h2c: %s", path, err);
            return -1;
        }
    } else {
        cm = pt__sse_curl_new(n > 1);
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = pt__sse_parser_new();
        v[i]->path = strdup(o[i].path ? o[i].path : "/v1/events");
        PL_ASSERT(v[i]->path);
        v[i]->floor = resume_position(&o[i]);
        char **lines = request_lines(&o[i]);
        int rc = 0;
        if (h2c)
            rc = pt__sse_h2c_submit(h2c, o[i].path ? o[i].path : "/v1/events", lines, v[i], err,
                                    sizeof(err));
        else
            pt__sse_curl_submit(cm, s, p, o[i].path ? o[i].path : "/v1/events", lines, o[i].rcvbuf,
                                v[i]);
        free_lines(lines);
        if (rc < 0) {
            pt__set_req_error("GET %s over h2c: %s", path, err);
            return -1;
        }
    }
    return 0;
}

int pt_sse_open_opts(struct pt_server *s, enum pt_proto p, const struct pt_sse_opts *o,
                     struct pt_sse **out)
{
    struct pt_sse_opts none = {0};
    *out = NULL;
    if (submit(s, p, o ? o : &none, 1, out) < 0)
        return -1;
    return wait_heads(out, 1);
}

static void assert_event_stream(struct pt_sse *sse, const char *what)
{
    if (sse->status != 200)
        pltest_fail(__FILE__, __LINE__, "%s: expected 200, got %ld: %.300s", what, sse->status,
                    pt_sse_body(sse));
    const char *ct = pt_sse_header(sse, "Content-Type");
    if (!ct || strncmp(ct, "text/event-stream", 17) != 0)
        pltest_fail(__FILE__, __LINE__, "%s: Content-Type is \"%s\", not text/event-stream", what,
                    ct ? ct : "(none)");
}

struct pt_sse *pt_sse_open(struct pt_server *s, enum pt_proto p, const char *token,
                           const char *last_event_id)
{
    struct pt_sse_opts o = {.token = token, .last_event_id = last_event_id};
    struct pt_sse *sse;
    if (pt_sse_open_opts(s, p, &o, &sse) < 0)
        pltest_fail(__FILE__, __LINE__, "opening the event stream failed: %s", pt_req_error());
    assert_event_stream(sse, "GET /v1/events");
    return sse;
}

void pt_sse_open_many(struct pt_server *s, enum pt_proto p, size_t n, const char *const *tokens,
                      struct pt_sse **out)
{
    PL_ASSERT(p == PT_H2C || p == PT_H2);
    PL_ASSERT(n > 0);
    struct pt_sse_opts *o = calloc(n, sizeof(*o));
    PL_ASSERT(o);
    for (size_t i = 0; i < n; i++)
        o[i].token = tokens[i];
    int rc = submit(s, p, o, n, out);
    free(o);
    if (rc < 0 || wait_heads(out, n) < 0)
        pltest_fail(__FILE__, __LINE__, "opening %zu multiplexed streams failed: %s", n,
                    pt_req_error());
    for (size_t i = 0; i < n; i++)
        assert_event_stream(out[i], "GET /v1/events (multiplexed)");
    /* h2c streams share their connection by construction; for libcurl,
     * check that it did not quietly open more connections. */
    if (p == PT_H2)
        pt__sse_curl_assert_one_conn(out, n);
}

void pt_sse_close(struct pt_sse *sse)
{
    if (!sse)
        return;
    /* The response as the OpenAPI check sees it: an event stream is
     * checked for its content type, a problem for its body. */
    if (sse->path && sse->status >= 200)
        pt__record_response("GET", sse->path, sse->status, pt_sse_header(sse, "Content-Type"),
                            sse->status == 200 ? "" : pt_sse_body(sse),
                            sse->status == 200 ? 0 : sse->body.len);
    free(sse->path);
    if (sse->curl)
        pt__sse_curl_close_stream(sse->curl, sse);
    else if (sse->h2c)
        pt__sse_h2c_close_stream(sse->h2c, sse);
    struct pt_sse_event ev;
    while (sse->q_head) {
        pt_sse_next(sse, 0, &ev);
        pt_sse_event_free(&ev);
    }
    for (size_t i = 0; i < sse->n_headers; i++)
        free(sse->headers[i]);
    text_free(&sse->line);
    text_free(&sse->data);
    text_free(&sse->body);
    free(sse);
}
