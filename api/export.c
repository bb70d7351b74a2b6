/* SPDX-License-Identifier: MIT */
/* Parley - POST /v1/me/export, GET /v1/me/exports/{id}: data exports.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "common/log.h"
#include "storage/account.h"
#include "storage/archive.h"
#include "storage/blob.h"
#include "storage/conversations.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

PL_LOG_TOPIC("api");

/*
 * An export is a brotli-compressed JSON document (application/json,
 * Content-Encoding of the file: br; format "parley-export-1") with the
 * user's profile, its conversations and the messages it can read in them.
 * End-to-end encrypted conversations are listed by id only: the server
 * holds no text for them, so their history is exported by a client
 * holding the keys; the document says so in "note".
 *
 * POST answers 202 at once; the work runs as a job on the worker pool
 * (env->run, like the archive and upload jobs), never on the loop. It
 * reads the history through the same store calls as GET .../messages (so
 * archived segments are included), writes the archive to the blob store
 * under an "x/" key, marks the export ready and emits an export.ready
 * event to the user (persisted like every event, so a stream that was
 * closed gets it on resume) with a presigned download URL.
 *
 * Bounds: one running export per user (the partial unique index of
 * 0016; 409 export-running), at most EXPORT_JOBS_MAX jobs per node at once
 * (503 exports-busy; each holds a worker and up to export_max_bytes of
 * JSON in memory), and the JSON stops at export_max_bytes ("truncated":
 * true). Only the newest export of a user is kept.
 */
#define EXPORT_JOBS_MAX 2
#define EXPORT_STALE_S 3600 /* a "running" export this old died with its node */
#define CONV_PAGE 100
#define MSG_PAGE 200
#define EXPORT_FORMAT "parley-export-1"
#define EXPORT_NOTE                                                                                \
    "Messages of end-to-end encrypted conversations are not in this archive: the server cannot "   \
    "read them. Export those from a client that holds the keys (parley history)."

static atomic_uint jobs_running;

struct export_job {
    const struct api_env *env;
    int64_t user, id;
};

/* The archive being written, and what it holds so far. */
struct export_doc {
    yajl_gen g;
    size_t max;
    int64_t messages;
    bool truncated;
};

static size_t doc_len(const struct export_doc *d)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(d->g, &buf, &len);
    return len;
}

static void format_time(char *buf, size_t size, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes every message of cv the user may read, oldest first. */
static int write_messages(struct api_call *c, struct export_doc *d, const struct store_conv *cv)
{
    struct store_msg_page page = {.after = 0, .limit = MSG_PAGE, .forward = true};
    bool more = true;
    while (more && !d->truncated) {
        struct store_message *m;
        unsigned n;
        int rc = store_pg_messages_list(c->w->pg, c->a, cv->id, c->user_id, &page, &m, &n, &more);
        if (rc == PL_ENOTFOUND)
            return 0; /* left the conversation meanwhile */
        if (rc < 0)
            return rc;
        for (unsigned i = 0; i < n; i++)
            api__gen_message(d->g, &m[i]);
        d->messages += n;
        if (n)
            page.after = m[n - 1].seq;
        else
            more = false;
        if (doc_len(d) > d->max)
            d->truncated = true;
    }
    return 0;
}

/* Writes the "conversations" array; e2e ones only into e2e_ids. */
static int write_conversations(struct api_call *c, struct export_doc *d, int64_t **e2e_ids,
                               unsigned *n_e2e)
{
    struct store_conv_cursor cur;
    const struct store_conv_cursor *after = NULL;
    size_t cap = 0;
    *e2e_ids = NULL;
    *n_e2e = 0;
    api__gen_key(d->g, "conversations");
    yajl_gen_array_open(d->g);
    for (;;) {
        struct store_conv *cv;
        unsigned n;
        int rc = store_pg_conv_list(c->w->pg, c->a, c->user_id, after, CONV_PAGE, &cv, &n);
        if (rc < 0)
            return rc;
        for (unsigned i = 0; i < n && !d->truncated; i++) {
            if (cv[i].encryption && strcmp(cv[i].encryption, "e2e") == 0) {
                if (*n_e2e == cap) {
                    cap = cap ? 2 * cap : 16;
                    int64_t *v = pl_arena_alloc(c->a, cap * sizeof(*v));
                    if (!v)
                        return PL_ENOMEM;
                    if (*n_e2e)
                        memcpy(v, *e2e_ids, *n_e2e * sizeof(*v));
                    *e2e_ids = v;
                }
                (*e2e_ids)[(*n_e2e)++] = cv[i].id;
                continue;
            }
            yajl_gen_map_open(d->g);
            api__gen_key(d->g, "conversation");
            api__gen_conversation(d->g, &cv[i], false, NULL, 0);
            api__gen_key(d->g, "messages");
            yajl_gen_array_open(d->g);
            if ((rc = write_messages(c, d, &cv[i])) < 0)
                return rc;
            yajl_gen_array_close(d->g);
            yajl_gen_map_close(d->g);
        }
        if (n < CONV_PAGE || d->truncated)
            break;
        cur = (struct store_conv_cursor){.activity_us = cv[n - 1].activity_us, .id = cv[n - 1].id};
        after = &cur;
    }
    yajl_gen_array_close(d->g);
    return 0;
}

static int write_doc(struct api_call *c, struct export_doc *d)
{
    struct store_user u;
    int rc = store_pg_user_get(c->w->pg, c->a, c->user_id, &u);
    if (rc < 0)
        return rc;
    char now[32];
    format_time(now, sizeof(now), time(NULL));
    yajl_gen_map_open(d->g);
    api__gen_str(d->g, "format", EXPORT_FORMAT);
    api__gen_str(d->g, "exported_at", now);
    api__gen_str(d->g, "note", EXPORT_NOTE);
    api__gen_key(d->g, "user");
    api__gen_user(d->g, &u);
    int64_t *e2e;
    unsigned n_e2e;
    if ((rc = write_conversations(c, d, &e2e, &n_e2e)) < 0)
        return rc;
    api__gen_key(d->g, "e2e_conversation_ids");
    yajl_gen_array_open(d->g);
    for (unsigned i = 0; i < n_e2e; i++)
        yajl_gen_integer(d->g, e2e[i]);
    yajl_gen_array_close(d->g);
    api__gen_int(d->g, "message_count", d->messages);
    api__gen_key(d->g, "truncated");
    yajl_gen_bool(d->g, d->truncated);
    yajl_gen_map_close(d->g);
    return 0;
}

/* Writes export.ready's payload (also GET's body) for a ready export. */
static int gen_export(struct api_call *c, yajl_gen g, const struct store_export *e, bool event)
{
    char url[STORE_BLOB_URL_MAX], exp_s[32];
    int64_t exp = (int64_t)time(NULL) + c->env->cfg->export_url_ttl_s;
    if (e->state == STORE_EXPORT_READY) {
        int rc = store_blob_presign(c->env->blobs, "GET", e->blob_key, 0, NULL, exp, url);
        if (rc < 0)
            return rc;
        format_time(exp_s, sizeof(exp_s), exp);
    }
    static const char *const states[] = {"running", "ready", "failed"};
    yajl_gen_map_open(g);
    api__gen_int(g, event ? "export_id" : "id", e->id);
    api__gen_str(g, "state", states[e->state]);
    if (e->created_at)
        api__gen_str(g, "created_at", e->created_at);
    if (e->state == STORE_EXPORT_READY) {
        if (e->ready_at)
            api__gen_str(g, "ready_at", e->ready_at);
        api__gen_str(g, "url", url);
        api__gen_str(g, "expires_at", exp_s);
        api__gen_int(g, "size", e->size);
        api__gen_int(g, "messages", e->messages);
        api__gen_str(g, "content_type", "application/json");
        api__gen_str(g, "content_encoding", "br");
    }
    if (e->state == STORE_EXPORT_FAILED && e->error)
        api__gen_str(g, "error", e->error);
    yajl_gen_map_close(g);
    return 0;
}

/* Marks the export ready and emits export.ready, in one transaction. */
static int announce(struct api_call *c, struct store_export *e)
{
    struct api_emit em = {.n = 0};
    int rc = store_pg_tx_begin(c->w->pg);
    if (rc < 0)
        return rc;
    rc = store_pg_export_ready(c->w->pg, e->id, e->blob_key, e->size, e->messages);
    yajl_gen g = rc == 0 ? api__gen_new() : NULL;
    if (rc == 0 && !g)
        rc = PL_ENOMEM;
    const char *payload = NULL;
    if (rc == 0 && (rc = gen_export(c, g, e, true)) == 0 && !(payload = api__gen_take(c, g)))
        rc = PL_ENOMEM;
    else if (rc < 0 && g)
        yajl_gen_free(g);
    if (rc == 0 && (rc = api__emit(&em, "export.ready", 0, c->user_id, payload)) == 0 &&
        (rc = api__emit_store(c, &em)) == 0 && (rc = store_pg_tx_commit(c->w->pg)) == 0) {
        api__emit_publish(c, &em);
        return 0;
    }
    store_pg_tx_rollback(c->w->pg);
    return rc;
}

static int export_run(struct api_call *c, int64_t id)
{
    struct export_doc d = {.g = api__gen_new(), .max = c->env->cfg->export_max_bytes};
    if (!d.g)
        return PL_ENOMEM;
    int rc = write_doc(c, &d);
    void *z = NULL;
    size_t zlen = 0;
    if (rc == 0) {
        const unsigned char *raw;
        size_t len;
        yajl_gen_get_buf(d.g, &raw, &len);
        rc = store_archive_compress(raw, len, &z, &zlen);
    }
    yajl_gen_free(d.g);
    char key[STORE_BLOB_KEY_MAX];
    if (rc == 0 && (rc = store_blob_key_init("x", key)) == 0)
        rc = store_blob_put_buf(c->env->blobs, key, z, zlen, NULL);
    free(z);
    if (rc < 0)
        return rc;
    struct store_export e = {.id = id,
                             .user_id = c->user_id,
                             .state = STORE_EXPORT_READY,
                             .blob_key = key,
                             .size = (int64_t)zlen,
                             .messages = d.messages};
    if ((rc = announce(c, &e)) < 0 && store_blob_delete(c->env->blobs, key) < 0)
        pl_log_warn("export %lld: blob %s left behind", (long long)id, key);
    if (rc == 0)
        pl_log_info("user %lld: export %lld ready (%lld messages, %zu bytes%s)",
                    (long long)c->user_id, (long long)id, (long long)d.messages, zlen,
                    d.truncated ? ", truncated" : "");
    return rc;
}

/* Worker pool: the job. Owns j. */
static void export_job(struct api_worker *w, void *arg)
{
    struct export_job *j = arg;
    struct pl_arena *a = pl_arena_new();
    struct api_call c = {.w = w, .env = j->env, .a = a, .user_id = j->user};
    int rc = a ? export_run(&c, j->id) : PL_ENOMEM;
    if (rc < 0) {
        pl_log_warn("user %lld: export %lld failed: %s", (long long)j->user, (long long)j->id,
                    pl_strerror(rc));
        if (store_pg_export_fail(w->pg, j->id, pl_strerror(rc)) < 0)
            pl_log_warn("export %lld: could not be marked failed", (long long)j->id);
    }
    pl_arena_free(a);
    atomic_fetch_sub(&jobs_running, 1);
    free(j);
}

static int busy(struct api_call *c)
{
    struct api_problem p = {.rc = PL_EBUSY, .slug = "exports-busy", .offset = -1};
    api_problem_sendx(c->req, &p);
    return PL_EBUSY;
}

static int start(struct api_call *c, int64_t *id)
{
    const char **old;
    unsigned n_old;
    int rc = store_pg_export_start(c->w->pg, c->a, c->user_id, EXPORT_STALE_S, id, &old, &n_old);
    if (rc == PL_ECONFLICT) {
        struct api_problem p = {.rc = PL_ECONFLICT, .slug = "export-running", .offset = -1};
        api_problem_sendx(c->req, &p);
    }
    for (unsigned i = 0; rc == 0 && i < n_old; i++)
        if (old[i] && store_blob_delete(c->env->blobs, old[i]) < 0)
            pl_log_warn("user %lld: old export blob %s left behind", (long long)c->user_id, old[i]);
    return rc;
}

static int api_me_export_post(struct api_call *c)
{
    if (!c->env->blobs || !c->env->run) {
        api_problem_send(c->req, PL_EUNAVAIL, "exports need the blob store");
        return PL_EUNAVAIL;
    }
    if (atomic_fetch_add(&jobs_running, 1) >= EXPORT_JOBS_MAX) {
        atomic_fetch_sub(&jobs_running, 1);
        return busy(c);
    }
    int64_t id = 0;
    struct export_job *j = NULL;
    int rc = start(c, &id);
    if (rc == 0 && !(j = malloc(sizeof(*j))))
        rc = PL_ENOMEM;
    if (rc == 0) {
        *j = (struct export_job){.env = c->env, .user = c->user_id, .id = id};
        if ((rc = c->env->run(c->env->run_ctx, export_job, j)) < 0) {
            free(j);
            if (store_pg_export_fail(c->w->pg, id, "not started") < 0)
                pl_log_warn("export %lld: could not be marked failed", (long long)id);
            if (rc == PL_EBUSY)
                rc = busy(c);
        }
    }
    if (rc < 0) {
        atomic_fetch_sub(&jobs_running, 1);
        return rc;
    }
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/me/exports/%lld", (long long)id);
    if ((rc = http_resp_header(c->req, "Location", loc)) < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "id", id);
    api__gen_str(g, "state", "running");
    yajl_gen_map_close(g);
    return api__reply_json(c, 202, g);
}

static int api_me_export_get(struct api_call *c)
{
    int64_t id;
    struct store_export e;
    int rc = api__parse_id(http_req_param(c->req, 0), &id) ? 0 : PL_ENOTFOUND;
    if (rc == 0)
        rc = store_pg_export_get(c->w->pg, c->a, c->user_id, id, &e);
    if (rc == PL_ENOTFOUND) {
        api_problem_send(c->req, rc, "no such export");
        return rc;
    }
    if (rc < 0)
        return rc;
    if (!c->env->blobs && e.state == STORE_EXPORT_READY)
        return PL_EUNAVAIL;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    if ((rc = gen_export(c, g, &e, false)) < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 200, g);
}

const struct api_route_def api__export_routes[] = {
    {"POST", "/v1/me/export", api_me_export_post, API_AUTH},
    {"GET", "/v1/me/exports/{id}", api_me_export_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
