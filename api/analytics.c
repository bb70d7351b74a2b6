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

/* A point's value as JSON / CSV text: an integer, or a ratio to 4
 * decimals without trailing zeros. buf has 32 bytes. */
static int point_text(const struct store_analytics_point *p, char *buf)
{
    if (p->is_real)
        return snprintf(buf, 32, "%.4g", p->real);
    char tmp[24];
    int n = 0;
    uint64_t v = p->value < 0 ? 0 - (uint64_t)p->value : (uint64_t)p->value;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    int len = 0;
    if (p->value < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* Appends s at buf + len; the new length. */
static size_t put(char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + len, s, n);
    return len + n;
}

/*
 * The series as JSON or CSV, written straight into one arena buffer: a
 * year by hour is 8,760 points (about 400 kB), and printf-style
 * formatting of each point (with yajl's copy of the whole body) was a
 * good part of parleyd's CPU time of such a request (perf, bench/README.md).
 * Nothing needs escaping: metric is one of the known names, gran "hour" or
 * "day", t an RFC 3339 string and value a number.
 */

static int reply_series(struct api_call *c, const char *metric, const char *gran,
                        const struct store_analytics_point *p, unsigned n)
{
    bool csv = wants_csv(c);
    size_t cap = 96 + strlen(metric) + (size_t)n * 72, len = 0;
    char *buf = pl_arena_alloc(c->a, cap);
    if (!buf)
        return PL_ENOMEM;
    if (csv)
        len = (size_t)snprintf(buf, cap, "t,value\n");
    else
        len = (size_t)snprintf(buf, cap, "{\"metric\":\"%s\",\"granularity\":\"%s\",\"points\":[",
                               metric, gran);
    for (unsigned i = 0; i < n && len < cap; i++) {
        char num[32];
        int nl = point_text(&p[i], num);
        size_t tl = strlen(p[i].t);
        if (len + tl + (size_t)nl + 24 >= cap)
            return PL_EINTERNAL; /* cannot happen: 72 bytes a point */
        if (!csv)
            len = put(buf, len, i ? ",{\"t\":\"" : "{\"t\":\"");
        memcpy(buf + len, p[i].t, tl);
        len = put(buf, len + tl, csv ? "," : "\",\"value\":");
        memcpy(buf + len, num, (size_t)nl);
        len = put(buf, len + (size_t)nl, csv ? "\n" : "}");
    }
    if (!csv)
        len += (size_t)snprintf(buf + len, cap - len, "]}");
    if (len >= cap)
        return PL_EINTERNAL;
    api__reply_raw(c, 200, csv ? "text/csv; charset=utf-8" : "application/json", buf, len);
    return 0;
}

static int reply_cohorts(struct api_call *c, const struct store_analytics_cohort *co, unsigned n)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "min_cohort", c->env->cfg->analytics_min_cohort);
    api__gen_key(g, "cohorts");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_str(g, "week", co[i].week);
        api__gen_key(g, "suppressed");
        yajl_gen_bool(g, co[i].suppressed);
        api__gen_int(g, "size", co[i].size);
        api__gen_key(g, "active");
        yajl_gen_array_open(g);
        for (unsigned k = 0; k < co[i].n_weeks; k++)
            yajl_gen_integer(g, co[i].active[k]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* GET /v1/admin/analytics/retention?from=: the cohort table. */
static int cohorts_get(struct api_call *c)
{
    const char *from = http_req_query(c->req, "from");
    if (!from || !ts_ok(from))
        return bad_query(c, "from is required: an RFC 3339 timestamp or a date");
    struct store_analytics_cohort *co = NULL;
    unsigned n = 0;
    int rc = store_pg_analytics_cohorts(c->w->pg, c->a, from, c->env->cfg->analytics_min_cohort,
                                        &co, &n);
    if (rc == PL_EINVAL)
        return bad_query(c, "from must be a valid timestamp");
    if (rc < 0)
        return rc;
    if (n > SERIES_POINTS_MAX)
        return bad_query(c, "the range has too many weeks");
    if (wants_csv(c)) {
        size_t cap = 64 + (size_t)n * 256, len = 0;
        char *csv = pl_arena_alloc(c->a, cap);
        if (!csv)
            return PL_ENOMEM;
        len += (size_t)snprintf(csv, cap, "week,size,w1,w2,w3,w4,w5,w6,w7,w8\n");
        for (unsigned i = 0; i < n && len < cap; i++) {
            len += (size_t)snprintf(
                csv + len, cap - len, "%s,%s", co[i].week,
                co[i].suppressed ? "" : pl_arena_sprintf(c->a, "%lld", (long long)co[i].size));
            for (unsigned k = 0; k < 8 && len < cap; k++)
                len += (size_t)snprintf(csv + len, cap - len,
                                        k < co[i].n_weeks && !co[i].suppressed ? ",%lld" : ",",
                                        (long long)co[i].active[k]);
            if (len < cap)
                len += (size_t)snprintf(csv + len, cap - len, "\n");
        }
        api__reply_raw(c, 200, "text/csv; charset=utf-8", csv, len < cap ? len : cap - 1);
        return 0;
    }
    return reply_cohorts(c, co, n);
}

/* GET /v1/admin/analytics/group_sizes: groups by member count, now. */
static int group_sizes_get(struct api_call *c)
{
    struct store_analytics_size *b = NULL;
    unsigned n = 0;
    int rc = store_pg_analytics_group_sizes(c->w->pg, c->a, &b, &n);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "buckets");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "min_members", b[i].min);
        api__gen_key(g, "max_members");
        if (b[i].max)
            yajl_gen_integer(g, b[i].max);
        else
            yajl_gen_null(g);
        api__gen_int(g, "groups", b[i].groups);
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
    if (metric && strcmp(metric, "retention") == 0)
        return cohorts_get(c);
    if (metric && strcmp(metric, "group_sizes") == 0)
        return group_sizes_get(c);
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
    if (store_pg_analytics_daily_metric(metric) && strcmp(gran, "day") != 0)
        return bad_query(c, "dau, wau, mau, stickiness and active_groups are daily:"
                            " use granularity=day");
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
    int64_t replies = 0, avg_s = -1;
    int rc;
    API_READ(c, pg, rc, store_pg_activity_weeks(pg, c->a, c->user_id, ACTIVITY_WEEKS, &w, &nw));
    if (rc == 0)
        API_READ(c, pg, rc, store_pg_activity_top(pg, c->a, c->user_id, ACTIVITY_TOP, &t, &nt));
    if (rc == 0)
        API_READ(c, pg, rc, store_pg_activity_replies(pg, c->user_id, &replies, &avg_s));
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
    api__gen_int(g, "replies", replies);
    api__gen_key(g, "avg_reply_s");
    if (avg_s >= 0)
        yajl_gen_integer(g, avg_s);
    else
        yajl_gen_null(g);
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
