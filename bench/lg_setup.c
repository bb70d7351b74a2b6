/* SPDX-License-Identifier: MIT */
/* Parley - load generator: the untimed setup (users, sessions, conversations, streams). */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/*
 * Setup runs many requests concurrently (o.setup_conns at a time) as a
 * "batch": op i is started, its response is checked, and a response worth
 * retrying (429, 503, a dropped connection) is retried up to LG_TRIES times.
 * Everything is re-runnable against the same database: a taken username
 * (409) counts as registered, and direct conversations are idempotent.
 */

#define LG_TRIES 5

struct batch;
typedef int batch_start_fn(struct batch *bt, unsigned i);
/* 0 done, 1 retry, negative failed for good. */
typedef int batch_finish_fn(struct batch *bt, unsigned i, struct lg_req *r);

struct batch {
    struct lg_bench *b;
    const char *what;
    unsigned n, next, done, failed, inflight, max_inflight;
    uint8_t *tries;
    batch_start_fn *start;
    batch_finish_fn *finish;
};

static bool batch_done(void *ctx)
{
    struct batch *bt = ctx;
    return bt->done + bt->failed >= bt->n;
}

static void batch_fill(struct batch *bt)
{
    while (bt->inflight < bt->max_inflight && bt->next < bt->n) {
        unsigned i = bt->next++;
        bt->inflight++;
        if (bt->start(bt, i) < 0) {
            bt->inflight--;
            bt->failed++;
        }
    }
}

static void batch_on_done(struct lg_req *r)
{
    struct batch *bt = r->ctx;
    unsigned i = (unsigned)r->tag;
    bt->inflight--;
    if (r->status == -ECANCELED)
        return;
    int rc = bt->finish(bt, i, r);
    if (rc == 1 && ++bt->tries[i] < LG_TRIES) {
        bt->inflight++;
        if (bt->start(bt, i) == 0)
            return;
        bt->inflight--;
        rc = -1;
    }
    if (rc == 0) {
        bt->done++;
    } else {
        if (bt->failed++ < 3)
            fprintf(stderr, "loadgen: %s #%u failed: status %d: %.*s\n", bt->what, i, r->status,
                    (int)PL_MIN(r->resp.len, 300), pl_buf_head(&r->resp));
    }
    batch_fill(bt);
}

static int batch_run(struct lg_bench *b, struct batch *bt)
{
    bt->b = b;
    bt->max_inflight = b->o.setup_conns;
    bt->tries = calloc(bt->n ? bt->n : 1, 1);
    if (!bt->tries)
        return PL_ENOMEM;
    uint64_t t0 = lg_now_ns();
    batch_fill(bt);
    int rc = lg_loop_run(batch_done, NULL, bt, 100, b->o.setup_timeout * 1000ull);
    free(bt->tries);
    double secs = (double)(lg_now_ns() - t0) / 1e9;
    fprintf(stderr, "loadgen: setup %s: %u ok, %u failed in %.1f s (%.0f/s)\n", bt->what, bt->done,
            bt->failed, secs, secs > 0 ? bt->done / secs : 0);
    if (rc < 0 || bt->failed) {
        fprintf(stderr, "loadgen: setup %s did not complete%s\n", bt->what,
                rc < 0 ? " in time" : "");
        return rc < 0 ? rc : PL_EINTERNAL;
    }
    return 0;
}

/* Submits a JSON POST for op i of the batch; takes ownership of body. */
static int post(struct batch *bt, unsigned i, const char *path, const char *token, char *body)
{
    if (!body)
        return PL_ENOMEM;
    struct lg_req *r = lg_req_new("POST", path, token, body, strlen(body), batch_on_done, bt);
    if (!r)
        return PL_ENOMEM;
    r->tag = i;
    lg_client_submit(bt->b->setup, r);
    return 0;
}

static int retryable(int status)
{
    return status < 0 || status == 429 || status == 503 ? 1 : -1;
}

/* Parses r's JSON body; free with yajl_tree_free. NULL when it is not JSON. */
static yajl_val json_of(struct lg_req *r)
{
    if (pl_buf_append(&r->resp, "", 1) < 0)
        return NULL;
    return yajl_tree_parse(pl_buf_head(&r->resp), NULL, 0);
}

static bool json_int(yajl_val root, const char **path, int64_t *out)
{
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);
    if (!v || !YAJL_IS_INTEGER(v))
        return false;
    *out = YAJL_GET_INTEGER(v);
    return true;
}

/* ---- users and sessions ------------------------------------------------ */

static char *credentials_json(struct lg_bench *b, unsigned i, bool login)
{
    char *s = NULL;
    if (asprintf(&s, "{\"username\":\"%s\",\"password\":\"%s\"%s}", b->users[i].name, b->o.password,
                 login ? ",\"device_name\":\"loadgen\"" : "") < 0)
        return NULL;
    return s;
}

static int register_start(struct batch *bt, unsigned i)
{
    return post(bt, i, "/v1/users", NULL, credentials_json(bt->b, i, false));
}

static int register_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    return r->status == 201 || r->status == 409 ? 0 : retryable(r->status);
}

static int login_start(struct batch *bt, unsigned i)
{
    return post(bt, i, "/v1/sessions", NULL, credentials_json(bt->b, i, true));
}

static int login_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    if (r->status != 201)
        return retryable(r->status);
    yajl_val root = json_of(r);
    const char *tok_path[] = {"token", NULL}, *id_path[] = {"user", "id", NULL};
    yajl_val tok = root ? yajl_tree_get(root, tok_path, yajl_t_string) : NULL;
    const char *t = tok && YAJL_IS_STRING(tok) ? tok->u.string : NULL;
    struct lg_user *u = &bt->b->users[i];
    int rc = -1;
    if (t && strlen(t) < sizeof(u->token) && json_int(root, id_path, &u->id)) {
        strcpy(u->token, t);
        rc = 0;
    }
    yajl_tree_free(root);
    return rc;
}

int lg_setup_users(struct lg_bench *b, unsigned n)
{
    b->users = calloc(n, sizeof(*b->users));
    if (!b->users)
        return PL_ENOMEM;
    b->n_users = n;
    for (unsigned i = 0; i < n; i++)
        snprintf(b->users[i].name, sizeof(b->users[i].name), "%s_%u", b->o.prefix, i);
    struct batch reg = {
        .what = "register", .n = n, .start = register_start, .finish = register_finish};
    int rc = batch_run(b, &reg);
    if (rc < 0)
        return rc;
    struct batch login = {.what = "login", .n = n, .start = login_start, .finish = login_finish};
    return batch_run(b, &login);
}

/* ---- conversations ------------------------------------------------------- */

/* Op k creates the direct conversation of pair k: users perm[2k], perm[2k+1]. */
static int direct_start(struct batch *bt, unsigned k)
{
    struct lg_bench *b = bt->b;
    struct lg_user *a = &b->users[2 * k];
    char *body = NULL;
    if (asprintf(&body, "{\"kind\":\"direct\",\"user\":%" PRId64 "}", b->users[a->peer].id) < 0)
        return PL_ENOMEM;
    return post(bt, 2 * k, "/v1/conversations", a->token, body);
}

static int direct_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    if (r->status != 201 && r->status != 200)
        return retryable(r->status);
    yajl_val root = json_of(r);
    const char *id_path[] = {"id", NULL};
    struct lg_user *a = &bt->b->users[i];
    int rc = root && json_int(root, id_path, &a->conv) ? 0 : -1;
    bt->b->users[a->peer].conv = a->conv;
    yajl_tree_free(root);
    return rc;
}

int lg_setup_direct(struct lg_bench *b)
{
    /* Random pairs: shuffle the users (Fisher-Yates), then pair neighbours.
     * The shuffled order is stored by swapping whole user records, so pair
     * k is users 2k and 2k+1 and a user's index stays its stream's tag. */
    unsigned n = b->n_users & ~1u;
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = (unsigned)(lg_rand(b) % (i + 1));
        struct lg_user t = b->users[i];
        b->users[i] = b->users[j];
        b->users[j] = t;
    }
    for (unsigned k = 0; k < n / 2; k++) {
        b->users[2 * k].peer = 2 * k + 1;
        b->users[2 * k + 1].peer = 2 * k;
    }
    struct batch bt = {
        .what = "direct conversations", .n = n / 2, .start = direct_start, .finish = direct_finish};
    b->fanout = 1;
    return batch_run(b, &bt);
}

static int group_start(struct batch *bt, unsigned i)
{
    struct lg_bench *b = bt->b;
    struct pl_buf body;
    pl_buf_init(&body, 1u << 20);
    int rc = pl_buf_printf(&body, "{\"kind\":\"group\",\"title\":\"bench %s\",\"members\":[",
                           b->run_tag);
    for (unsigned m = 1; rc == 0 && m < b->n_users; m++)
        rc = pl_buf_printf(&body, "%s%" PRId64, m > 1 ? "," : "", b->users[m].id);
    if (rc == 0)
        rc = pl_buf_append(&body, "]}", 3); /* with the NUL */
    if (rc < 0) {
        pl_buf_deinit(&body);
        return rc;
    }
    return post(bt, i, "/v1/conversations", b->users[0].token, body.data);
}

static int group_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    if (r->status != 201)
        return retryable(r->status);
    yajl_val root = json_of(r);
    const char *id_path[] = {"id", NULL};
    int rc = root && json_int(root, id_path, &bt->b->group) ? 0 : -1;
    yajl_tree_free(root);
    return rc;
}

int lg_setup_group(struct lg_bench *b, unsigned members)
{
    if (members > b->n_users || members < 2)
        return PL_EINVAL;
    struct batch bt = {.what = "group", .n = 1, .start = group_start, .finish = group_finish};
    b->fanout = members - 1;
    return batch_run(b, &bt);
}

/* ---- groups of the mixed scenario ------------------------------------------ */

static int groups_start(struct batch *bt, unsigned i)
{
    struct lg_bench *b = bt->b;
    const struct lg_group *g = &b->groups[i];
    struct pl_buf body;
    pl_buf_init(&body, 1u << 16);
    int rc = pl_buf_printf(&body, "{\"kind\":\"group\",\"title\":\"mixed %u\",\"members\":[", i);
    for (unsigned m = 1; rc == 0 && m < g->size; m++)
        rc = pl_buf_printf(&body, "%s%" PRId64, m > 1 ? "," : "",
                           b->users[(g->first + m) % b->n_users].id);
    if (rc == 0)
        rc = pl_buf_append(&body, "]}", 3); /* with the NUL */
    if (rc < 0) {
        pl_buf_deinit(&body);
        return rc;
    }
    return post(bt, i, "/v1/conversations", b->users[g->first].token, body.data);
}

static int groups_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    if (r->status != 201)
        return retryable(r->status);
    yajl_val root = json_of(r);
    const char *id_path[] = {"id", NULL};
    int rc = root && json_int(root, id_path, &bt->b->groups[i].conv) ? 0 : -1;
    yajl_tree_free(root);
    return rc;
}

int lg_setup_groups(struct lg_bench *b, unsigned n, unsigned min, unsigned max)
{
    if (!n)
        return 0;
    if (min < 2 || max < min || max > b->n_users)
        return PL_EINVAL;
    b->groups = calloc(n, sizeof(*b->groups));
    if (!b->groups)
        return PL_ENOMEM;
    b->n_groups = n;
    for (unsigned i = 0; i < n; i++)
        b->groups[i] = (struct lg_group){.first = (unsigned)(lg_rand(b) % b->n_users),
                                         .size = min + (unsigned)(lg_rand(b) % (max - min + 1))};
    struct batch bt = {.what = "groups", .n = n, .start = groups_start, .finish = groups_finish};
    return batch_run(b, &bt);
}

/* ---- presence subscriptions -------------------------------------------- */

/* Op i: user i subscribes to users i + stride*k - (stride-1) (k = 1..subs,
 * mod n): the next subs users for stride 1, the next subs at odd offsets
 * for stride 2. */
static int subs_start(struct batch *bt, unsigned i)
{
    struct lg_bench *b = bt->b;
    struct pl_buf body;
    pl_buf_init(&body, 1u << 16);
    int rc = pl_buf_printf(&body, "{\"users\":[");
    for (unsigned k = 1; rc == 0 && k <= b->subs; k++)
        rc = pl_buf_printf(&body, "%s%" PRId64, k > 1 ? "," : "",
                           b->users[(i + b->sub_stride * k - (b->sub_stride - 1)) % b->n_users].id);
    if (rc == 0)
        rc = pl_buf_append(&body, "]}", 3);
    if (rc < 0) {
        pl_buf_deinit(&body);
        return rc;
    }
    struct lg_req *r = lg_req_new("PUT", "/v1/presence/subscriptions", b->users[i].token, body.data,
                                  strlen(body.data), batch_on_done, bt);
    if (!r)
        return PL_ENOMEM;
    r->tag = i;
    lg_client_submit(b->setup, r);
    return 0;
}

static int subs_finish(struct batch *bt, unsigned i, struct lg_req *r)
{
    (void)bt;
    (void)i;
    return r->status == 200 ? 0 : retryable(r->status);
}

int lg_setup_subs(struct lg_bench *b)
{
    struct batch bt = {.what = "presence subscriptions",
                       .n = b->n_users,
                       .start = subs_start,
                       .finish = subs_finish};
    return batch_run(b, &bt);
}

/* ---- event streams ------------------------------------------------------ */

/* Streams being opened at once. Each open is a request the server
 * authenticates on a worker, so opening 10,000 at once would only fill its
 * worker queue (503 overloaded) and measure that. */
#define LG_STREAM_WINDOW 512

struct stream_wait {
    struct lg_bench *b;
    unsigned total, n_users;
};

static bool streams_ready(void *ctx)
{
    struct stream_wait *w = ctx;
    return w->b->n.ready >= w->total || w->b->n.closed > 0;
}

static void streams_tick(void *ctx)
{
    struct stream_wait *w = ctx;
    struct lg_bench *b = w->b;
    while (b->streams_opened < w->total && b->streams_opened - b->n.ready < LG_STREAM_WINDOW) {
        if (lg_run_stream_open(b, b->streams_opened % w->n_users, 0) < 0)
            return;
        b->streams_opened++;
    }
}

int lg_setup_streams(struct lg_bench *b, unsigned total, unsigned n_users)
{
    uint64_t t0 = lg_now_ns();
    struct stream_wait w = {b, total, n_users};
    int rc = lg_loop_run(streams_ready, streams_tick, &w, 10, b->o.setup_timeout * 1000ull);
    double secs = (double)(lg_now_ns() - t0) / 1e9;
    fprintf(stderr,
            "loadgen: setup streams: %" PRIu64 " ready (%u wanted) on %u connections in %.1f s\n",
            b->n.ready, total, b->streams->n_conns, secs);
    if (b->n.closed) {
        fprintf(stderr, "loadgen: %" PRIu64 " streams ended during setup\n", b->n.closed);
        return PL_EINTERNAL;
    }
    return rc;
}
