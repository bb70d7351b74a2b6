/* SPDX-License-Identifier: MIT */
/* Parley - analytics: the admin series and the user's own activity.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "analytics/report.h"
#include "storage/analytics.h"

#include <stdio.h>
#include <string.h>

/* 400 days of hours; a day series of ten years. */
#define SERIES_POINTS_MAX 9600
#define ACTIVITY_WEEKS 12
#define ACTIVITY_TOP 5

static int bad_query(struct api_call *c, const char *detail)
{
    api_problem_send(c->req, PL_EMALFORMED, detail);
    return PL_EMALFORMED;
}

/* RFC 3339 or a date: digits and the separators they use, nothing else
 * (PostgreSQL then parses it; a value it refuses is a 400 too). */
static bool ts_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 10 && n <= 40 && strspn(s, "0123456789-T:.Z+ ") == n && s[4] == '-';
}

/* Admin routes answer 404 to everyone else, as if they did not exist. */
static int require_admin(struct api_call *c)
{
    bool admin = false;
    const char *names = c->env->cfg->admins ? c->env->cfg->admins : "";
    int rc = store_pg_analytics_is_admin(c->w->pg, c->user_id, names, &admin);
    return rc < 0 ? rc : admin ? 0 : PL_ENOTFOUND;
}

static bool wants_csv(struct api_call *c)
{
    const char *acc = http_req_header(c->req, "accept");
    return acc && strstr(acc, "text/csv") != NULL;
}

static int reply_series(struct api_call *c, const char *metric, const char *gran,
                        const struct store_analytics_point *p, unsigned n)
{
    if (wants_csv(c)) {
        size_t cap = 16 + (size_t)n * 56, len = 0;
        char *csv = pl_arena_alloc(c->a, cap);
        if (!csv)
            return PL_ENOMEM;
        len += (size_t)snprintf(csv, cap, "t,value\n");
        for (unsigned i = 0; i < n && len < cap; i++)
            len +=
                (size_t)snprintf(csv + len, cap - len, "%s,%lld\n", p[i].t, (long long)p[i].value);
        api__reply_raw(c, 200, "text/csv; charset=utf-8", csv, len < cap ? len : cap - 1);
        return 0;
    }
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_str(g, "metric", metric);
    api__gen_str(g, "granularity", gran);
    api__gen_key(g, "points");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_str(g, "t", p[i].t);
        api__gen_int(g, "value", p[i].value);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* GET /v1/admin/analytics/{metric}?from=&to=&granularity=hour|day */
static int series_get(struct api_call *c)
{
    int rc = require_admin(c);
    if (rc < 0)
        return rc;
    const char *metric = http_req_param(c->req, 0);
    if (!metric || !analytics_metric_known(metric))
        return PL_ENOTFOUND;
    const char *from = http_req_query(c->req, "from"), *to = http_req_query(c->req, "to");
    const char *gran = http_req_query(c->req, "granularity");
    if (!gran)
        gran = "day";
    if (strcmp(gran, "hour") != 0 && strcmp(gran, "day") != 0)
        return bad_query(c, "granularity must be hour or day");
    if (!from || !to || !ts_ok(from) || !ts_ok(to))
        return bad_query(c, "from and to are required: RFC 3339 timestamps or dates");
    bool distinct = !strcmp(metric, "dau") || !strcmp(metric, "wau") || !strcmp(metric, "mau");
    if (distinct && strcmp(gran, "day") != 0)
        return bad_query(c, "dau, wau and mau are daily: use granularity=day");
    struct store_analytics_point *p = NULL;
    unsigned n = 0;
    API_READ(
        c, pg, rc,
        store_pg_analytics_series(pg, c->a, metric, from, to, gran, SERIES_POINTS_MAX, &p, &n));
    if (rc == PL_EINVAL)
        return bad_query(c, "from and to must be valid timestamps");
    if (rc == PL_ETOOBIG)
        return bad_query(c, "the range has too many points for this granularity");
    if (rc < 0)
        return rc;
    return reply_series(c, metric, gran, p, n);
}

/* GET /v1/me/activity: the caller's own numbers only. */
static int activity_get(struct api_call *c)
{
    struct store_activity_week *w = NULL;
    struct store_activity_conv *t = NULL;
    unsigned nw = 0, nt = 0;
    int rc;
    API_READ(c, pg, rc, store_pg_activity_weeks(pg, c->a, c->user_id, ACTIVITY_WEEKS, &w, &nw));
    if (rc == 0)
        API_READ(c, pg, rc, store_pg_activity_top(pg, c->a, c->user_id, ACTIVITY_TOP, &t, &nt));
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "weeks");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < nw; i++) {
        yajl_gen_map_open(g);
        api__gen_str(g, "week", w[i].week);
        api__gen_int(g, "sent", w[i].sent);
        api__gen_int(g, "received", w[i].received);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    api__gen_key(g, "top_conversations");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < nt; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "conversation_id", t[i].conversation_id);
        api__gen_str(g, "kind", t[i].kind);
        api__gen_int(g, "messages", t[i].messages);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

const struct api_route_def api__analytics_routes[] = {
    {"GET", "/v1/admin/analytics/{metric}", series_get, API_AUTH},
    {"GET", "/v1/me/activity", activity_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
