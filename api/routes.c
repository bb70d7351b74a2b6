/* SPDX-License-Identifier: MIT */
/* Parley - the route table and the path from a request to a handler.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "http/router.h"

#include "common/log.h"
#include "common/loop.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("api");

/* Each resource file exports its own table (ending with a NULL method), so
 * adding endpoints never means editing a shared list; api_init() joins them
 * in this order, which is also the order of /metrics labels. */
static const struct api_route_def core_routes[] = {
    {"GET", "/healthz", api_health_live, API_INLINE | API_OPS},
    {"GET", "/readyz", api_health_ready, API_OPS},
    {"GET", "/metrics", api_metrics_get, API_INLINE | API_OPS},
    {"GET", "/openapi.yaml", api_openapi_get, API_INLINE},
    {"GET", "/problems/{slug}", api_problem_doc_get, API_INLINE},
    {"POST", "/v1/users", api_users_create, 0},
    {"POST", "/v1/sessions", api_sessions_create, 0},
    {"DELETE", "/v1/sessions/current", api_sessions_delete_current, API_AUTH},
    {"GET", "/v1/sessions", api_sessions_list, API_AUTH},
    {"DELETE", "/v1/sessions/{id}", api_sessions_delete, API_AUTH},
    {"PUT", "/v1/me/password", api_me_password_put, API_AUTH},
    {"GET", "/v1/me", api_me_get, API_AUTH},
    {"PATCH", "/v1/me", api_me_patch, API_AUTH},
    {NULL, NULL, NULL, 0},
};

static const struct api_route_def *const tables[] = {
    core_routes,
    api__conversation_routes,
    api__message_routes,
    api__stream_routes,
    api__media_routes,
    api__blob_routes,
    /* keys.c: the e2e key directory */
    api__key_routes,
    api__search_routes,
    api__user_routes,
    api__web_routes,
    api__analytics_routes,
    api__block_routes,
    api__account_routes,
    api__export_routes,
    api__push_routes,
};

#define MAX_ROUTES 96
static struct http_route routes[MAX_ROUTES];
static struct api_route_info infos[MAX_ROUTES];
static size_t n_routes;
/* The routes that stream their body, matched for every request when its
 * headers arrive: kept apart so that check costs a handful of compares. */
#define MAX_STREAM_ROUTES 8
static struct http_route stream_routes[MAX_STREAM_ROUTES];
static size_t n_stream_routes;

int api_init(void)
{
    n_routes = n_stream_routes = 0;
    for (size_t t = 0; t < PL_ARRAY_LEN(tables); t++)
        for (const struct api_route_def *d = tables[t]; d->method; d++) {
            if (n_routes == MAX_ROUTES || n_stream_routes == MAX_STREAM_ROUTES)
                return PL_EINTERNAL;
            if (d->flags & API_STREAM_BODY)
                stream_routes[n_stream_routes++] = (struct http_route){d->method, d->pattern};
            routes[n_routes] = (struct http_route){d->method, d->pattern};
            infos[n_routes++] = (struct api_route_info){d->fn, d->flags};
        }
    return api__docs_init();
}

size_t api_route_count(void)
{
    return n_routes;
}

const char *api_route_name(size_t i)
{
    return routes[i].pattern;
}

/* Turns a handler's result into the response and hands the request back to
 * its transport. A handler that set its own response (a detailed problem,
 * a 201) keeps it; a bare failure code becomes a generic problem. */
static void finish(struct api_call *c, int rc)
{
    struct http_req *req = c->req;
    if (rc == API_DEFERRED)
        return; /* completed later by whoever took the request */
    if (rc < 0 && http_resp_status(req) == 0) {
        if (rc != PL_EUNAVAIL && api_problem_status(rc) >= 500)
            pl_log_error("req %llu: %s %s failed: %s", (unsigned long long)http_req_id(req),
                         http_req_method(req), http_req_route_name(req), pl_strerror(rc));
        api_problem_send(req, rc, NULL);
    } else if (http_resp_status(req) == 0) {
        pl_log_error("req %llu: handler set no response", (unsigned long long)http_req_id(req));
        api_problem_send(req, PL_EINTERNAL, NULL);
    }
    char rid[24];
    snprintf(rid, sizeof(rid), "%llu", (unsigned long long)http_req_id(req));
    if (http_resp_header(req, "X-Request-Id", rid) < 0)
        pl_log_warn("req %s: could not add X-Request-Id", rid);
    http_req_complete(req);
}

void api__finish(struct api_call *c, int rc)
{
    finish(c, rc);
}

static void call_init(struct api_call *c, const struct api_env *env, struct api_worker *w,
                      struct http_req *req)
{
    *c = (struct api_call){.req = req, .w = w, .env = env, .a = http_req_arena(req)};
}

/* 404, 405 or an out-of-memory answer for a path the router did not take. */
static void answer_unrouted(struct api_call *c, int rc, const char *allow)
{
    struct api_problem p = {.rc = rc, .offset = -1, .allow = allow};
    if (rc == PL_ENOTFOUND)
        p.detail = "no such endpoint";
    else if (rc == PL_EMETHOD)
        p.detail = pl_arena_sprintf(c->a, "%s is not supported here; allowed: %s",
                                    http_req_method(c->req), allow);
    api_problem_sendx(c->req, &p);
    finish(c, rc);
}

/* Requests of API_LOOP routes that the loop answered itself. */
static _Atomic uint64_t loop_answered;

/* Runs an API_LOOP route's handler on the loop thread when its token is in
 * the token cache and its body is as sent (the loop never decodes a
 * compressed body), unless the loop is busy: from loop_sends_max_load
 * (pl_loop_load(), per mille) on, the workers take them. The loop is one
 * thread, and under a saturated CPU the scheduler gives it one thread's
 * share while the workers' parsing can spread over several. False when it
 * needs a worker: nothing was answered. */
static bool on_loop(struct api_call *c, int idx)
{
    unsigned max = c->env->cfg->limits.loop_sends_max_load;
    if (max == 0 || (c->env->loop && pl_loop_load(c->env->loop) >= max))
        return false;
    if (http_req_header(c->req, "content-encoding") || !api__auth_cached(c))
        return false;
    int rc = infos[idx].fn(c);
    if (rc == API_WORKER)
        return false;
    atomic_fetch_add_explicit(&loop_answered, 1, memory_order_relaxed);
    finish(c, rc);
    return true;
}

enum api_route_result api_route(const struct api_env *env, struct http_req *req)
{
    struct api_call c;
    call_init(&c, env, NULL, req);
    int err = http_req_error(req);
    if (err) {
        api_problem_send(req, err, NULL);
        finish(&c, err);
        return API_ROUTE_DONE;
    }
    const char *params[HTTP_MAX_PARAMS];
    unsigned n_params = 0;
    char allow[64];
    int idx = http_router_match(routes, n_routes, http_req_method(req), http_req_path(req), c.a,
                                params, &n_params, allow, sizeof(allow));
    /* The admin listener is for operators' probes and scrapes only. */
    if (idx >= 0 && http_req_admin(req) && !(infos[idx].flags & API_OPS))
        idx = PL_ENOTFOUND;
    if (idx < 0) {
        answer_unrouted(&c, idx, allow);
        return API_ROUTE_DONE;
    }
    http_req_set_route(req, idx, routes[idx].pattern);
    http_req_set_params(req, params, n_params);
    if (infos[idx].flags & API_LOOP && on_loop(&c, idx))
        return API_ROUTE_DONE;
    if (!(infos[idx].flags & API_INLINE))
        return API_ROUTE_WORKER;
    finish(&c, infos[idx].fn(&c));
    return API_ROUTE_DONE;
}

uint64_t api_loop_answered(void)
{
    return atomic_load_explicit(&loop_answered, memory_order_relaxed);
}

bool api_route_waits(const struct http_req *req)
{
    int idx = http_req_route(req);
    return idx >= 0 && (infos[idx].flags & API_WAITS);
}

bool api_route_streams_body(const struct api_env *env, struct http_req *req)
{
    (void)env;
    const char *params[HTTP_MAX_PARAMS];
    unsigned n_params = 0;
    char allow[64];
    struct pl_arena *a = http_req_arena(req);
    return n_stream_routes &&
           http_router_match(stream_routes, n_stream_routes, http_req_method(req),
                             http_req_path(req), a, params, &n_params, allow, sizeof(allow)) >= 0;
}

/* True for methods that may change state (all but GET, HEAD, OPTIONS). */
static bool method_writes(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* The part of api_handle() after authentication (rc: its result). */
static void handle_authed(struct api_call *cp, int rc)
{
    struct api_call c = *cp;
    struct api_worker *w = c.w;
    struct http_req *req = c.req;
    const struct api_route_info *info = &infos[http_req_route(req)];
    /* A compressed body is decoded here, on the worker, after the token
     * was checked: the loop never decodes, and an unauthenticated client
     * cannot make a worker decode for routes that need a token. */
    if (rc == 0 && (rc = http_req_decode_body(req)) < 0)
        api_problem_send(req, rc, rc == PL_EMALFORMED ? "the br body is corrupt" : NULL);
    if (rc == 0)
        rc = info->fn(&c);
    /* Before finish() hands the answer to the transport: a read the caller
     * sends once it has the answer must find the write's position. (Sends
     * are deferred to the writer, which does the same in api/send.c.) */
    if (rc != API_DEFERRED && w->pg_ro && method_writes(http_req_method(req)))
        api__note_write(w, c.user_id);
    finish(&c, rc);
}

void api_handle(struct api_worker *w, struct http_req *req)
{
    struct api_call c;
    call_init(&c, w->env, w, req);
    const struct api_route_info *info = &infos[http_req_route(req)];
    int rc = 0;
    if (info->flags & (API_AUTH | API_AUTH_ANY))
        rc = api__auth(&c, (info->flags & API_AUTH_ANY) != 0);
    handle_authed(&c, rc);
}

bool api_route_batches(const struct http_req *req)
{
    int idx = http_req_route(req);
    return idx >= 0 && (infos[idx].flags & API_BATCH);
}

/* The receipts of a batch (cs[0..n), authenticated): bodies decoded one
 * by one, then all of them in one transaction. rcs: scratch, n long. */
static void handle_receipts(struct api_call **cs, unsigned n, int *rcs)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = http_req_decode_body(cs[i]->req);
        if (rc < 0) {
            api_problem_send(cs[i]->req, rc, rc == PL_EMALFORMED ? "the br body is corrupt" : NULL);
            finish(cs[i], rc);
        } else {
            cs[k++] = cs[i];
        }
    }
    if (k)
        api__receipts_post_many(cs, k, rcs);
    for (unsigned i = 0; i < k; i++) {
        if (cs[i]->w->pg_ro)
            api__note_write(cs[i]->w, cs[i]->user_id);
        finish(cs[i], rcs[i]);
    }
}

void api_handle_batch(struct api_worker *w, struct http_req **reqs, unsigned n)
{
    struct api_call *cs = calloc(n ? n : 1, sizeof(*cs));
    int *rcs = calloc(n ? n : 1, sizeof(*rcs));
    if (!cs || !rcs) {
        free(cs);
        free(rcs);
        for (unsigned i = 0; i < n; i++)
            api_handle(w, reqs[i]);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        call_init(&cs[i], w->env, w, reqs[i]);
    /* One statement for every token of the batch; each request still gets
     * its own answer (401 for its own unknown token). A failed lookup
     * fails them all, as it would have one by one. */
    int rc = api__auth_many(cs, n, false, rcs);
    /* Receipts of the batch share one transaction (api/receipts.c); the
     * rest run one by one. */
    struct api_call **rx = calloc(n ? n : 1, sizeof(*rx));
    unsigned nr = 0;
    for (unsigned i = 0; i < n; i++) {
        int rci = rc < 0 && rcs[i] == 0 ? rc : rcs[i];
        if (rci == 0 && rx && infos[http_req_route(cs[i].req)].fn == api__receipts_post)
            rx[nr++] = &cs[i];
        else
            handle_authed(&cs[i], rci);
    }
    if (nr == 1)
        handle_authed(rx[0], 0);
    else if (nr > 1)
        handle_receipts(rx, nr, rcs);
    free(rx);
    free(cs);
    free(rcs);
}

void api_reject(const struct api_env *env, struct http_req *req, int rc)
{
    struct api_call c;
    call_init(&c, env, NULL, req);
    api_problem_send(req, rc,
                     rc == PL_EBUSY ? "the server is busy; retry shortly"
                                    : "the server is shutting down");
    finish(&c, rc);
}
