/* SPDX-License-Identifier: MIT */
/* Parley - integration: per-user quotas (sends, searches, groups, media
 * bytes, event streams): 429 quota-exceeded with Retry-After. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

static void expect_quota(struct pt_resp *r, const char *name)
{
    PT_ASSERT_PROBLEM(r, 429, "quota-exceeded");
    const char *ra = pt_resp_header(r, "Retry-After");
    PL_ASSERT(ra && atoi(ra) >= 1);
    if (!strstr(r->body, name))
        pltest_fail(__FILE__, __LINE__, "the problem does not name the %s quota: %s", name,
                    r->body);
}

/* Fails unless /metrics counted a refusal of limit. */
static void expect_counted(struct pt_server *s, enum pt_proto p, const char *limit)
{
    struct pt_resp m;
    pt_get(s, p, "/metrics", PT_METRICS_TOKEN, &m);
    char line[96];
    snprintf(line, sizeof(line), "parley_limit_rejected_total{limit=\"%s\"} ", limit);
    const char *at = strstr(m.body, line);
    if (!at || atoll(at + strlen(line)) < 1)
        pltest_fail(__FILE__, __LINE__, "no refusal of %s counted in /metrics", limit);
    pt_resp_free(&m);
}

/* Sends per second: twenty sends at a quota of two per second cannot all
 * pass unless they take ten seconds; the refused ones store nothing. */
PLTEST_PROTO(sends_per_second_are_limited)
{
    const char *const args[] = {"--quota-sends-per-s", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "qsend", &a);
    PT_USER_NEW(s, proto, "qsend_peer", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    int sent = 0, refused = 0;
    for (int i = 0; i < 20; i++) {
        struct pt_resp r;
        char path[64];
        snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
        pt_reqf(s, proto, "POST", a.token, &r, path,
                "{\"client_msg_id\":\"q-%d\",\"kind\":\"text\",\"text\":\"hi %d\"}", i, i);
        if (r.status == 201) {
            sent++;
        } else {
            expect_quota(&r, "sends");
            refused++;
        }
        pt_resp_free(&r);
    }
    PL_ASSERT(refused > 0);
    /* The other member's quota is their own. */
    PT_SEND(s, proto, &b, conv, "my own budget");
    struct pt_resp r;
    char path[80];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=100", (long long)conv);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val items = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(items && YAJL_IS_ARRAY(items));
    PL_ASSERT_INT_EQ(items->u.array.len, sent + 1);
    pt_resp_free(&r);
    expect_counted(s, proto, "sends");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(searches_per_second_are_limited)
{
    const char *const args[] = {"--quota-searches-per-s", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a;
    PT_USER_NEW(s, proto, "qsearch", &a);
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        struct pt_resp r;
        pt_get(s, proto, "/v1/search?q=pineapple", a.token, &r);
        if (r.status != 200) {
            expect_quota(&r, "searches");
            refused++;
        }
        pt_resp_free(&r);
    }
    PL_ASSERT(refused > 0);
    expect_counted(s, proto, "searches");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(group_creations_are_limited)
{
    const char *const args[] = {"--quota-groups-per-hour", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "qgroup", &a);
    PT_USER_NEW(s, proto, "qgroup_peer", &b);
    PT_GROUP(s, proto, &a, "one", &b.id, 1);
    PT_GROUP(s, proto, &a, "two", &b.id, 1);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", a.token, &r, "/v1/conversations",
            "{\"kind\":\"group\",\"title\":\"three\",\"members\":[%lld]}", (long long)b.id);
    expect_quota(&r, "groups");
    pt_resp_free(&r);
    /* Direct conversations are not group creations. */
    PT_DIRECT(s, proto, &a, b.id, 201);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static long media_request(struct pt_server *s, enum pt_proto p, const struct pt_user *u, long size,
                          struct pt_resp *r)
{
    pt_reqf(s, p, "POST", u->token, r, "/v1/media",
            "{\"content_type\":\"image/png\",\"size\":%ld,\"sha256\":\"%s\"}", size, SHA_ZERO);
    return r->status;
}

/* Media bytes per day count the declared size of each upload URL. */
PLTEST_PROTO(media_bytes_per_day_are_limited)
{
    const char *dir = pt_temp_dir("quota-media");
    const char *const args[] = {"--quota-media-bytes-per-day", "1000", "--data-dir", dir, NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "qmedia", &a);
    PT_USER_NEW(s, proto, "qmedia_b", &b);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(media_request(s, proto, &a, 600, &r), 201);
    pt_resp_free(&r);
    media_request(s, proto, &a, 600, &r);
    expect_quota(&r, "media_bytes");
    pt_resp_free(&r);
    /* What is left of the day's budget can still be used. */
    PL_ASSERT_INT_EQ(media_request(s, proto, &a, 400, &r), 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(media_request(s, proto, &b, 1000, &r), 201);
    pt_resp_free(&r);
    expect_counted(s, proto, "media_bytes");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Open event streams per user: the third of two is refused; once one
 * closes, a new one opens (the count is given back asynchronously, so the
 * reopen is retried until a deadline). */
PLTEST_PROTO(event_streams_per_user_are_limited)
{
    const char *const args[] = {"--quota-streams", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a;
    PT_USER_NEW(s, proto, "qstream", &a);
    struct pt_sse *s1 = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_sse *s2 = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_sse *s3 = NULL;
    struct pt_sse_opts o = {.token = a.token};
    PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &s3), 0);
    PL_ASSERT_INT_EQ(pt_sse_status(s3), 429);
    PL_ASSERT(strstr(pt_sse_body(s3), "quota-exceeded"));
    PL_ASSERT(pt_sse_header(s3, "Retry-After"));
    pt_sse_close(s3);
    pt_sse_close(s1);
    uint64_t deadline = pt_now_ms() + 10000;
    long st = 0;
    while (st != 200 && pt_now_ms() < deadline) {
        s3 = NULL;
        PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &s3), 0);
        st = pt_sse_status(s3);
        if (st != 200) {
            PL_ASSERT_INT_EQ(st, 429);
            pt_sse_close(s3);
            pt_sleep_ms(100);
        }
    }
    PL_ASSERT_INT_EQ(st, 200);
    pt_sse_close(s3);
    pt_sse_close(s2);
    expect_counted(s, proto, "streams");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The quotas are counted in Redis, so they hold across nodes: a user with
 * one stream open on node A gets no second one on node B, and sends on A
 * and B share one budget. */
PLTEST_PROTO(quotas_hold_across_nodes)
{
    const char *const args[] = {"--quota-streams", "1", "--quota-sends-per-s", "2", NULL};
    struct pt_server *na = PT_SERVER_START(args), *nb = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(na, proto, "qnodes", &a);
    PT_USER_NEW(na, proto, "qnodes_peer", &b);
    struct pt_sse *s1 = PT_SSE_OPEN_READY(na, proto, a.token, NULL);
    struct pt_sse *s2 = NULL;
    struct pt_sse_opts o = {.token = a.token};
    PL_ASSERT_INT_EQ(pt_sse_open_opts(nb, proto, &o, &s2), 0);
    PL_ASSERT_INT_EQ(pt_sse_status(s2), 429);
    PL_ASSERT(strstr(pt_sse_body(s2), "quota-exceeded"));
    pt_sse_close(s2);
    pt_sse_close(s1);
    int64_t conv = PT_DIRECT(na, proto, &a, b.id, 201);
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        struct pt_resp r;
        pt_reqf(i % 2 ? nb : na, proto, "POST", a.token, &r, path,
                "{\"client_msg_id\":\"n-%d\",\"kind\":\"text\",\"text\":\"hi %d\"}", i, i);
        if (r.status != 201) {
            expect_quota(&r, "sends");
            refused++;
        }
        pt_resp_free(&r);
    }
    PL_ASSERT(refused > 0);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}
