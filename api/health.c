/* SPDX-License-Identifier: MIT */
/* Parley - operator endpoints: health, readiness, metrics, documents.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "common/embedded.h"
#include "storage/pg.h"
#include "storage/redis.h"
#include "crypto/crypto.h"

#include <string.h>
#include <strings.h>

extern const struct pl_embedded api_openapi_spec[];

/* The OpenAPI document, compressed once at startup: it is about 160 KiB
 * and was brotli-compressed on the loop thread for every request. */
static struct http_doc openapi_doc;

int api__docs_init(void)
{
    const struct pl_embedded *spec = &api_openapi_spec[0];
    http_doc_deinit(&openapi_doc);
    return http_doc_init(&openapi_doc, "application/yaml", (const char *)spec->data, spec->len);
}

int api_health_live(struct api_call *c)
{
    static const char body[] = "{\"status\":\"ok\"}";
    api__reply_raw(c, 200, "application/json", body, sizeof(body) - 1);
    return 0;
}

/* Ready means both dependencies answer now; probes call this often, so it
 * is one PING each on the worker's own connections. */
int api_health_ready(struct api_call *c)
{
    bool pg_ok = store_pg_ping(c->w->pg) == 0;
    bool redis_ok = store_redis_ping(c->w->redis) == 0;
    const char *checks = pl_arena_sprintf(c->a, "{\"postgres\":\"%s\",\"redis\":\"%s\"}",
                                          pg_ok ? "ok" : "down", redis_ok ? "ok" : "down");
    if (!checks)
        return PL_ENOMEM;
    if (pg_ok && redis_ok) {
        const char *body = pl_arena_sprintf(c->a, "{\"status\":\"ready\",\"checks\":%s}", checks);
        if (!body)
            return PL_ENOMEM;
        api__reply_raw(c, 200, "application/json", body, strlen(body));
        return 0;
    }
    struct api_problem p = {.rc = PL_EUNAVAIL, .offset = -1, .checks_json = checks};
    p.detail = !pg_ok && !redis_ok ? "PostgreSQL and Redis are unreachable"
               : !pg_ok            ? "PostgreSQL is unreachable"
                                   : "Redis is unreachable";
    api_problem_sendx(c->req, &p);
    return PL_EUNAVAIL;
}

/* /metrics reveals traffic, users online and internals: on the public
 * listeners it needs the metrics_token; on the admin listener (loopback by
 * default) it is open. Anyone else learns nothing, not even that it exists. */
static bool metrics_allowed(struct api_call *c)
{
    if (http_req_admin(c->req))
        return true;
    const char *want = c->env->cfg->metrics_token;
    const char *h = http_req_header(c->req, "authorization");
    if (!want || !*want || !h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(want);
    return strlen(h) == n && pcrypto_equal(h, want, n);
}

int api_metrics_get(struct api_call *c)
{
    if (!metrics_allowed(c)) {
        api_problem_send(c->req, PL_ENOTFOUND, "no such endpoint");
        return PL_ENOTFOUND;
    }
    struct pl_buf out;
    pl_buf_init(&out, 4 * 1024 * 1024);
    int rc = c->env->render_metrics(c->env->metrics_ctx, &out);
    char *body = rc == 0 ? pl_arena_memdup(c->a, pl_buf_head(&out), out.len) : NULL;
    size_t len = out.len;
    pl_buf_deinit(&out);
    if (rc < 0)
        return rc;
    if (!body)
        return PL_ENOMEM;
    api__reply_raw(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
    return 0;
}

int api_openapi_get(struct api_call *c)
{
    http_resp_set_doc(c->req, 200, &openapi_doc);
    return 0;
}

int api_problem_doc_get(struct api_call *c)
{
    const char *slug = http_req_param(c->req, 0);
    const char *text = api_problem_explain(slug);
    if (!text)
        return PL_ENOTFOUND;
    const char *body = pl_arena_sprintf(c->a, "%s\n\n%s\n", slug, text);
    if (!body)
        return PL_ENOMEM;
    api__reply_raw(c, 200, "text/plain; charset=utf-8", body, strlen(body));
    return 0;
}
