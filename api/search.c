/* SPDX-License-Identifier: MIT */
/* Parley - GET /v1/search: full-text search over readable history.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "analytics/samples.h"
#include "storage/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 100
/* Far more than anyone types; bounds what one request can make
 * PostgreSQL parse and evaluate. */
#define SEARCH_Q_MAX 16384
/* A cursor is "<score>~<id>"; a float8 prints in at most 24 bytes. */
#define SCORE_MAX 32

static int bad_query(struct api_call *c, const char *detail)
{
    api_problem_send(c->req, PL_EMALFORMED, detail);
    return PL_EMALFORMED;
}

/* Parses "<score>~<id>": the score as PostgreSQL printed it (a finite
 * float8, passed back as text so that it compares exactly) and the id. */
static bool cursor_parse(struct api_call *c, const char *s, struct store_search_query *q)
{
    const char *tilde = strchr(s, '~');
    if (!tilde || tilde == s || (size_t)(tilde - s) > SCORE_MAX)
        return false;
    if (!api__parse_id(tilde + 1, &q->after_id))
        return false;
    char *score = pl_arena_strndup(c->a, s, (size_t)(tilde - s));
    if (!score)
        return false;
    /* Only what a float8 prints as: digits, sign, point, exponent. */
    if (strspn(score, "0123456789+-.e") != strlen(score))
        return false;
    char *end;
    double v = strtod(score, &end);
    if (*end || !isfinite(v))
        return false;
    q->after_score = score;
    return true;
}

static bool int_param(struct api_call *c, const char *name, int64_t *out)
{
    const char *v = http_req_query(c->req, name);
    return !v || api__parse_id(v, out);
}

static int read_query(struct api_call *c, struct store_search_query *q)
{
    *q = (struct store_search_query){.user_id = c->user_id, .limit = SEARCH_LIMIT_DEFAULT};
    q->q = http_req_query(c->req, "q");
    if (!q->q || !*q->q)
        return bad_query(c, "q (the search text) is required");
    size_t len = strlen(q->q);
    if (len > SEARCH_Q_MAX)
        return bad_query(c, "q must be at most 16384 bytes");
    if (!api_utf8_valid(q->q, len))
        return bad_query(c, "q must be valid UTF-8");
    if (!int_param(c, "conversation_id", &q->conversation_id))
        return bad_query(c, "conversation_id must be a conversation id (a positive integer)");
    if (!int_param(c, "before", &q->before_id))
        return bad_query(c, "before must be a message id (a positive integer)");
    int64_t limit = SEARCH_LIMIT_DEFAULT;
    if (!int_param(c, "limit", &limit) || limit > SEARCH_LIMIT_MAX)
        return bad_query(c, "limit must be an integer from 1 to 100");
    q->limit = (unsigned)limit;
    const char *cur = http_req_query(c->req, "cursor");
    if (cur && !cursor_parse(c, cur, q))
        return bad_query(c, "cursor must be the next_cursor of a previous page");
    return 0;
}

/* A search restricted to one conversation must name one the caller is in
 * (404 otherwise, like every other conversation endpoint) and one the
 * server can read. */
static int check_scope(struct api_call *c, int64_t conversation_id)
{
    bool e2e = false;
    int rc = store_pg_search_scope(c->w->pg, conversation_id, c->user_id, &e2e);
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc < 0)
        return rc;
    if (e2e)
        return api__fail_field(c, "",
                               "the conversation is end-to-end encrypted: the server cannot read "
                               "or search it; search it on your device");
    return 0;
}

static void gen_hit(yajl_gen g, const struct store_search_hit *h)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", h->id);
    api__gen_int(g, "conversation_id", h->conversation_id);
    api__gen_int(g, "seq", h->seq);
    api__gen_int(g, "sender", h->sender_id);
    api__gen_str(g, "created_at", h->created_at);
    api__gen_str(g, "snippet", h->snippet);
    yajl_gen_map_close(g);
}

static int reply_hits(struct api_call *c, const struct store_search_hit *h, unsigned n, bool more)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "hits");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++)
        gen_hit(g, &h[i]);
    yajl_gen_array_close(g);
    api__gen_key(g, "next_cursor");
    if (more && n) {
        char cur[SCORE_MAX + 32];
        snprintf(cur, sizeof(cur), "%s~%lld", h[n - 1].score, (long long)h[n - 1].id);
        yajl_gen_string(g, (const unsigned char *)cur, strlen(cur));
    } else {
        yajl_gen_null(g);
    }
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int search_get(struct api_call *c)
{
    struct store_search_query q;
    int rc = read_query(c, &q);
    if (rc == 0 && q.conversation_id)
        rc = check_scope(c, q.conversation_id);
    /* Each search is a full-text query over the caller's history. */
    if (rc == 0)
        rc = api__limit_user(c, API_LIMIT_SEARCHES, c->user_id, 1);
    if (rc < 0)
        return rc;
    struct store_search_hit *h;
    unsigned n;
    bool more;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    API_READ(c, pg, rc, store_pg_search(pg, c->a, &q, &h, &n, &more));
    if (rc < 0)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    analytics_search_done(
        (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    return reply_hits(c, h, n, more);
}

const struct api_route_def api__search_routes[] = {
    {"GET", "/v1/search", search_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
