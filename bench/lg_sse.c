/* SPDX-License-Identifier: MIT */
/* Parley - load generator: text/event-stream parser.                   */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <string.h>

/*
 * The WHATWG event-stream grammar, minus what a benchmark never needs
 * (the id and retry fields are read past; BOM handling is skipped because
 * parleyd never sends one). Lines end in LF, CRLF or CR-LF split across
 * reads; a CR alone as a terminator is not supported (parleyd uses LF).
 * Complete lines are parsed in place from the transport's buffer; only a
 * line cut by the end of a read is copied.
 */

void lg_sse_init(struct lg_sse *s)
{
    pl_buf_init(&s->line, LG_SSE_MAX);
    pl_buf_init(&s->data, LG_SSE_MAX);
    s->event[0] = 0;
    s->last_id = 0;
}

void lg_sse_deinit(struct lg_sse *s)
{
    pl_buf_deinit(&s->line);
    pl_buf_deinit(&s->data);
}

static void dispatch(struct lg_req *r)
{
    struct lg_sse *s = &r->sse_p;
    if (s->data.len || s->event[0]) {
        /* A data-less event (ready has data, but be lenient) still counts. */
        const char *name = s->event[0] ? s->event : "message";
        size_t len = s->data.len;
        /* The spec strips the final newline the data lines were joined with. */
        if (len && pl_buf_head(&s->data)[len - 1] == '\n')
            len--;
        if (r->on_event)
            r->on_event(r, name, pl_buf_head(&s->data), len);
    }
    pl_buf_reset(&s->data);
    s->event[0] = 0;
}

static int field(struct lg_req *r, const char *l, size_t n)
{
    struct lg_sse *s = &r->sse_p;
    if (n && l[n - 1] == '\r')
        n--;
    if (n == 0) {
        dispatch(r);
        return 0;
    }
    if (l[0] == ':') /* a comment: parleyd's keep-alive */
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t nl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (v < l + n && *v == ' ')
        v++;
    size_t vl = (size_t)(l + n - v);
    if (nl == 4 && memcmp(l, "data", 4) == 0) {
        int rc = pl_buf_append(&s->data, v, vl);
        return rc ? rc : pl_buf_append(&s->data, "\n", 1);
    }
    if (nl == 2 && memcmp(l, "id", 2) == 0) {
        uint64_t id = 0;
        for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
            id = id * 10 + (uint64_t)(v[i] - '0');
        s->last_id = id;
    }
    if (nl == 5 && memcmp(l, "event", 5) == 0) {
        size_t m = PL_MIN(vl, sizeof(s->event) - 1);
        memcpy(s->event, v, m);
        s->event[m] = 0;
    }
    return 0;
}

int lg_sse_feed(struct lg_req *r, const char *p, size_t n)
{
    struct lg_sse *s = &r->sse_p;
    while (n) {
        const char *nl = memchr(p, '\n', n);
        if (!nl)
            return pl_buf_append(&s->line, p, n);
        size_t len = (size_t)(nl - p);
        int rc;
        if (s->line.len) {
            if ((rc = pl_buf_append(&s->line, p, len)) < 0)
                return rc;
            rc = field(r, pl_buf_head(&s->line), s->line.len);
            pl_buf_reset(&s->line);
        } else {
            rc = field(r, p, len);
        }
        if (rc < 0)
            return rc;
        p = nl + 1;
        n -= len + 1;
    }
    return 0;
}
