/* SPDX-License-Identifier: MIT */
/* Parley - the transport-neutral request object.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "http_int.h"

#include "common/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

PL_LOG_TOPIC("http");

static const char *const proto_names[HTTP_PROTO_N] = {"HTTP/1.1", "HTTP/1.1+TLS", "h2c", "h2"};

struct http_req *http__req_new(struct http_server *s, enum http_proto proto, const char *peer,
                               const struct http__req_ops *ops, void *tctx)
{
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return NULL;
    struct http_req *req = pl_arena_zalloc(a, sizeof(*req));
    if (!req) {
        pl_arena_free(a);
        return NULL;
    }
    req->srv = s;
    req->arena = a;
    req->ops = ops;
    req->tctx = tctx;
    req->proto = proto;
    req->id = ++s->next_req_id;
    req->start_us = pl_now_us();
    req->peer = peer ? pl_arena_strdup(a, peer) : "";
    req->route_idx = -1;
    req->route_name = "unmatched";
    /* The body cap sits one byte above max_body so "exactly at the limit"
     * is accepted and anything more trips PL_ETOOBIG. */
    pl_buf_init(&req->body, s->cfg.limits.max_body + 1);
    return req;
}

void http__req_free(struct http_req *req)
{
    if (!req)
        return;
    pl_buf_deinit(&req->body);
    http__body_free(req->body_pipe);
    pl_arena_free(req->arena);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into the arena; '+' becomes a space in query
 * components only. NUL bytes are refused: they would truncate C strings
 * and let "a%00b" compare equal to "a". */
static char *decode(struct pl_arena *a, const char *s, size_t n, bool plus, int *rc)
{
    char *out = pl_arena_alloc(a, n + 1), *o = out;
    if (!out) {
        *rc = PL_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                *rc = PL_EMALFORMED;
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                *rc = PL_EMALFORMED;
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus) {
            *o++ = ' ';
        } else if (c < 0x21 || c == 0x7f) {
            *rc = PL_EMALFORMED; /* raw spaces and controls are not allowed */
            return NULL;
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

static int parse_query(struct http_req *req, const char *q, size_t n)
{
    unsigned count = 1;
    for (size_t i = 0; i < n; i++)
        count += q[i] == '&';
    if (count > 64)
        return PL_EMALFORMED;
    req->query = pl_arena_alloc(req->arena, count * sizeof(*req->query));
    if (!req->query)
        return PL_ENOMEM;
    int rc = 0;
    const char *p = q, *end = q + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if (seg_end > p) {
            const char *eq = memchr(p, '=', (size_t)(seg_end - p));
            const char *kend = eq ? eq : seg_end;
            struct http_hdr *h = &req->query[req->n_query];
            h->name = decode(req->arena, p, (size_t)(kend - p), true, &rc);
            if (!h->name)
                return rc;
            h->value = eq ? decode(req->arena, eq + 1, (size_t)(seg_end - eq - 1), true, &rc) : "";
            if (!h->value)
                return rc;
            req->n_query++;
        }
        p = seg_end + 1;
    }
    return 0;
}

int http__req_set_line(struct http_req *req, const char *method, size_t mlen, const char *target,
                       size_t tlen)
{
    int rc = PL_ENOMEM;
    req->method = pl_arena_strndup(req->arena, method, mlen);
    req->target = pl_arena_strndup(req->arena, target, tlen);
    if (!req->method || !req->target)
        goto fail;
    req->path = "/";
    /* Only origin-form ("/path?query") is served; absolute-form and "*"
     * are for proxies and OPTIONS, neither of which we are. */
    if (tlen == 0 || target[0] != '/') {
        rc = PL_EMALFORMED;
        goto fail;
    }
    const char *qm = memchr(target, '?', tlen);
    size_t plen = qm ? (size_t)(qm - target) : tlen;
    const char *path = decode(req->arena, target, plen, false, &rc);
    if (!path)
        goto fail;
    req->path = path;
    if (qm && (rc = parse_query(req, qm + 1, tlen - plen - 1)) < 0)
        goto fail;
    return 0;
fail:
    if (rc == PL_EMALFORMED && !req->error)
        req->error = PL_EMALFORMED;
    return rc;
}

bool http__valid_header_value(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

int http__req_add_header(struct http_req *req, const char *name, size_t nlen, const char *value,
                         size_t vlen)
{
    const struct http_limits *lim = &req->srv->cfg.limits;
    req->header_bytes += nlen + vlen;
    if (req->n_headers >= lim->max_headers || req->header_bytes > lim->max_header_bytes) {
        if (!req->error)
            req->error = PL_EHDRTOOBIG;
        return PL_EHDRTOOBIG;
    }
    if (req->n_headers == req->cap_headers) {
        unsigned cap = req->cap_headers ? req->cap_headers * 2 : 16;
        struct http_hdr *h = pl_arena_alloc(req->arena, cap * sizeof(*h));
        if (!h)
            return PL_ENOMEM;
        if (req->n_headers)
            memcpy(h, req->headers, req->n_headers * sizeof(*h));
        req->headers = h;
        req->cap_headers = cap;
    }
    char *n = pl_arena_strndup(req->arena, name, nlen);
    char *v = pl_arena_strndup(req->arena, value, vlen);
    if (!n || !v)
        return PL_ENOMEM;
    for (char *p = n; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    req->headers[req->n_headers++] = (struct http_hdr){n, v};
    return 0;
}

int http__req_body_append(struct http_req *req, const void *p, size_t n)
{
    if (req->error == PL_ETOOBIG)
        return PL_ETOOBIG;
    int rc = pl_buf_append(&req->body, p, n);
    if (rc == PL_ETOOBIG || (rc == 0 && req->body.len > req->srv->cfg.limits.max_body)) {
        req->error = PL_ETOOBIG;
        pl_buf_deinit(&req->body); /* free what we held; the body is refused */
        return PL_ETOOBIG;
    }
    return rc;
}

void http__req_dispatch(struct http_req *req)
{
    /* A compressed body is decoded later, on the worker
     * (http_req_decode_body): decoding up to max_body bytes is CPU work
     * that the loop must not do for every connection it serves. */
    req->state = HTTP_REQ_DISPATCHED;
    req->srv->ops->on_request(req->srv->ctx, req);
}

static void on_complete_task(struct pl_task *t)
{
    struct http_req *req = PL_CONTAINER_OF(t, struct http_req, task);
    /* A streamed body the handler did not read to the end: stop taking
     * it, and give the transport back what the pipe held. */
    size_t rest = http__body_close(req);
    if (rest && !req->orphaned && req->ops->body_resume)
        req->ops->body_resume(req, rest);
    if (req->orphaned) {
        /* The client left while a worker held the request. */
        if (req->stream_ops && req->stream_ops->on_close)
            req->stream_ops->on_close(req->stream_ctx, PL_ECANCELED);
        req->srv->ops->on_done(req->srv->ctx, req, false);
        http__req_free(req);
        return;
    }
    req->state = req->stream_ops ? HTTP_REQ_STREAMING : HTTP_REQ_COMPLETE;
    req->ops->send(req);
}

void http_req_complete(struct http_req *req)
{
    http__compress_response(req);
    req->task.run = on_complete_task;
    pl_loop_post(req->srv->loop, &req->task);
}

void http__req_finish(struct http_req *req, bool sent)
{
    if (req->state == HTTP_REQ_DISPATCHED) {
        req->orphaned = true;
        http__body_fail(req, PL_ECANCELED); /* wakes a handler blocked on the body */
        return;
    }
    if (req->stream_ops && !req->stream_closed) {
        req->stream_closed = true;
        if (req->stream_ops->on_close)
            req->stream_ops->on_close(req->stream_ctx, sent ? 0 : PL_ECANCELED);
    }
    /* A request that never reached on_request (MHD refused it, the client
     * left mid-headers) is not reported: on_done pairs with on_request. */
    if (req->state != HTTP_REQ_READING)
        req->srv->ops->on_done(req->srv->ctx, req, sent);
    http__req_free(req);
}

bool http__bucket_take(struct http__bucket *b, const struct http_limits *lim, uint64_t now_ms)
{
    if (!lim->conn_rate)
        return true;
    if (b->last_ms == 0) {
        b->tokens = lim->conn_burst;
        b->last_ms = now_ms;
    }
    double add = (double)(now_ms - b->last_ms) * lim->conn_rate / 1000.0;
    b->tokens = PL_MIN(b->tokens + add, (double)lim->conn_burst);
    b->last_ms = now_ms;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

void http__format_peer(const struct sockaddr *sa, char *out, size_t n)
{
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
    else
        snprintf(out, n, "local");
}

/* ---- accessors ---- */

const char *http_req_method(const struct http_req *req)
{
    return req->method;
}
const char *http_req_path(const struct http_req *req)
{
    return req->path;
}
struct pl_arena *http_req_arena(struct http_req *req)
{
    return req->arena;
}
enum http_proto http_req_proto(const struct http_req *req)
{
    return req->proto;
}
const char *http_req_proto_name(const struct http_req *req)
{
    return proto_names[req->proto];
}
uint64_t http_req_id(const struct http_req *req)
{
    return req->id;
}
const char *http_req_peer(const struct http_req *req)
{
    return req->peer;
}
bool http_req_admin(const struct http_req *req)
{
    return req->srv->cfg.admin;
}
int http_req_decode_body(struct http_req *req)
{
    if (req->body_decoded)
        return 0;
    req->body_decoded = true;
    return http__decode_body(req);
}
int http_req_error(const struct http_req *req)
{
    return req->error;
}
int http_req_route(const struct http_req *req)
{
    return req->route_idx;
}
const char *http_req_route_name(const struct http_req *req)
{
    return req->route_name;
}
int http_resp_status(const struct http_req *req)
{
    return req->status;
}
size_t http_resp_bytes_sent(const struct http_req *req)
{
    return req->bytes_sent;
}
uint64_t http_req_elapsed_us(const struct http_req *req)
{
    return pl_now_us() - req->start_us;
}

void http_req_set_route(struct http_req *req, int route_idx, const char *route_name)
{
    req->route_idx = route_idx;
    req->route_name = route_name;
}

void http_req_set_params(struct http_req *req, const char *const *params, unsigned n)
{
    req->n_params = PL_MIN(n, (unsigned)HTTP_MAX_PARAMS);
    for (unsigned i = 0; i < req->n_params; i++)
        req->params[i] = params[i];
}

const char *http_req_param(const struct http_req *req, unsigned i)
{
    return i < req->n_params ? req->params[i] : NULL;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
    for (unsigned i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].name, name) == 0)
            return req->query[i].value;
    return NULL;
}

int http_req_query_each(const struct http_req *req,
                        int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    for (unsigned i = 0; i < req->n_query; i++) {
        int rc = fn(ctx, req->query[i].name, req->query[i].value);
        if (rc)
            return rc;
    }
    return 0;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
    for (unsigned i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
    *len = req->body.len;
    if (!req->body.data)
        return "";
    /* pl_buf keeps no terminator; there is always room for one because the
     * cap is max_body + 1 and an over-long body was refused. */
    struct pl_buf *b = (struct pl_buf *)&req->body;
    int rc = 0;
    char *end = pl_buf_reserve(b, 1, &rc);
    if (end)
        *end = '\0';
    return pl_buf_head(&req->body);
}

int http_resp_header(struct http_req *req, const char *name, const char *value)
{
    if (!http__valid_header_value(name) || !http__valid_header_value(value))
        return PL_EINVAL;
    if (req->n_resp_headers == req->cap_resp_headers) {
        unsigned cap = req->cap_resp_headers ? req->cap_resp_headers * 2 : 8;
        struct http_hdr *h = pl_arena_alloc(req->arena, cap * sizeof(*h));
        if (!h)
            return PL_ENOMEM;
        if (req->n_resp_headers)
            memcpy(h, req->resp_headers, req->n_resp_headers * sizeof(*h));
        req->resp_headers = h;
        req->cap_resp_headers = cap;
    }
    const char *n = pl_arena_strdup(req->arena, name), *v = pl_arena_strdup(req->arena, value);
    if (!n || !v)
        return PL_ENOMEM;
    req->resp_headers[req->n_resp_headers++] = (struct http_hdr){n, v};
    return 0;
}

void http_resp_set(struct http_req *req, int status, const char *content_type, const char *body,
                   size_t len)
{
    req->status = status;
    req->resp_ctype = content_type;
    req->resp_body = body;
    req->resp_len = len;
}

void http_resp_stream(struct http_req *req, int status, const char *content_type,
                      const struct http_stream_ops *ops, void *ctx)
{
    http_resp_set(req, status, content_type, NULL, 0);
    req->stream_ops = ops;
    req->stream_ctx = ctx;
    http__compress_stream(req);
}

void http_resp_stream_length(struct http_req *req, uint64_t len)
{
    req->stream_len_set = true;
    req->stream_len = len;
}

void http_stream_wake(struct http_req *req)
{
    if (req->state == HTTP_REQ_STREAMING && !req->stream_closed && req->ops->wake)
        req->ops->wake(req);
}

enum http_sniff http_sniff_preface(const void *buf, size_t len)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = PL_MIN(len, sizeof(preface) - 1);
    if (memcmp(buf, preface, n) != 0)
        return HTTP_SNIFF_H1;
    return n == sizeof(preface) - 1 ? HTTP_SNIFF_H2 : HTTP_SNIFF_NEED_MORE;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}
