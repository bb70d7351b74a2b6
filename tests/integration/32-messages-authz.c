/* SPDX-License-Identifier: MIT */
/* Parley - integration: conversations are invisible to non-members.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every /v1/conversations/{id}/... endpoint answers a non-member exactly
 * as it answers for an id that does not exist: 404 not-found, the same
 * problem shape, so nobody can probe which conversations exist. {id},
 * {user} and {seq} are filled in per conversation.
 */
static const struct endpoint {
    const char *method, *path, *body;
} endpoints[] = {
    {"GET", "/v1/conversations/{id}", NULL},
    {"PATCH", "/v1/conversations/{id}", "{\"title\":\"taken over\"}"},
    {"PUT", "/v1/conversations/{id}/members/{user}", "{\"role\":\"admin\"}"},
    {"PUT", "/v1/conversations/{id}/members/{user}", NULL},
    {"DELETE", "/v1/conversations/{id}/members/{user}", NULL},
    {"POST", "/v1/conversations/{id}/messages",
     "{\"client_msg_id\":\"intruder\",\"kind\":\"text\",\"text\":\"hi\"}"},
    {"GET", "/v1/conversations/{id}/messages", NULL},
    {"GET", "/v1/conversations/{id}/messages?after=0&limit=5", NULL},
    {"POST", "/v1/conversations/{id}/receipts", "{\"type\":\"read\",\"up_to_seq\":1}"},
    {"POST", "/v1/conversations/{id}/receipts", "{\"type\":\"delivered\",\"up_to_seq\":1}"},
    {"GET", "/v1/conversations/{id}/messages/{seq}/receipts", NULL},
    {"POST", "/v1/conversations/{id}/typing", NULL},
};

/* Fills the template; the result is static. */
static const char *fill(const char *tmpl, int64_t conv, int64_t user)
{
    static char out[256];
    char *o = out;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{id}", 4) == 0) {
            o += sprintf(o, "%lld", (long long)conv);
            p += 4;
        } else if (strncmp(p, "{user}", 6) == 0) {
            o += sprintf(o, "%lld", (long long)user);
            p += 6;
        } else if (strncmp(p, "{seq}", 5) == 0) {
            o += sprintf(o, "1");
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void call(struct pt_server *s, enum pt_proto proto, const struct endpoint *e,
                 const char *token, int64_t conv, int64_t user, struct pt_resp *r)
{
    const char *path = fill(e->path, conv, user);
    int rc = pt_req(s, proto, e->method, path, token, e->body ? "application/json" : NULL, e->body,
                    e->body ? strlen(e->body) : 0, r);
    if (rc < 0)
        pltest_fail(__FILE__, __LINE__, "%s %s: %s", e->method, path, pt_req_error());
}

/* The members of a problem document other than those that name the
 * request: what a prober could compare. */
static void shape(struct pt_resp *r, char *out, size_t cap)
{
    yajl_val t = pt_json(r);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->u.object.len; i++) {
        const char *k = t->u.object.keys[i];
        if (strcmp(k, "instance") == 0 || strcmp(k, "request_id") == 0)
            continue;
        yajl_val v = t->u.object.values[i];
        n += (size_t)snprintf(out + n, cap - n, "%s=%s;", k,
                              YAJL_IS_STRING(v)    ? v->u.string
                              : YAJL_IS_INTEGER(v) ? "int"
                                                   : "other");
        PL_ASSERT(n < cap);
    }
}

/* Runs the whole table as outsider against conv and against an id that
 * does not exist, expecting the same 404 each time. */
static void expect_all_404(struct pt_server *s, enum pt_proto proto, const struct pt_user *outsider,
                           int64_t conv, int64_t member)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const struct endpoint *e = &endpoints[i];
        char real[512], none[512];
        struct pt_resp r;
        /* The member's id and the outsider's own both hide the group. */
        for (int who = 0; who < 2; who++) {
            call(s, proto, e, outsider->token, conv, who ? outsider->id : member, &r);
            if (r.status != 404)
                pltest_fail(__FILE__, __LINE__,
                            "%s %s by a non-member: expected 404, got %ld: "
                            "%.300s",
                            e->method, fill(e->path, conv, member), r.status, r.body);
            PT_ASSERT_PROBLEM(&r, 404, "not-found");
            shape(&r, real, sizeof(real));
            pt_resp_free(&r);
        }
        call(s, proto, e, outsider->token, 999999999999LL, member, &r);
        if (r.status != 404)
            pltest_fail(__FILE__, __LINE__, "%s %s (no such id): expected 404, got %ld: %.300s",
                        e->method, fill(e->path, 999999999999LL, member), r.status, r.body);
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
        shape(&r, none, sizeof(none));
        pt_resp_free(&r);
        if (strcmp(real, none) != 0)
            pltest_fail(__FILE__, __LINE__,
                        "%s %s: a hidden conversation answers {%s}, a missing one {%s}", e->method,
                        e->path, real, none);
    }
}

/* Nothing the outsider tried changed the conversation. */
static void expect_untouched(struct pt_server *s, enum pt_proto proto, const struct pt_user *m,
                             int64_t conv, const char *title, int64_t members, int64_t last_seq)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, m->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_STR_EQ(pt_json_str(t, "title", NULL), title);
    PL_ASSERT_INT_EQ(pt_json_int(t, "member_count", NULL), members);
    PL_ASSERT_INT_EQ(pt_json_int(t, "last_seq", NULL), last_seq);
    pt_resp_free(&r);
    /* The receipts of seq 1 list no outsider. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/1/receipts", (long long)conv);
    pt_get(s, proto, path, m->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val rc = pt_json_get(pt_json(&r), "receipts", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(rc));
    PL_ASSERT_INT_EQ(rc->u.array.len, members - 1);
    pt_resp_free(&r);
}

PLTEST_PROTO(non_members_get_404_everywhere)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "authz_a", &a);
    PT_USER_NEW(s, proto, "authz_b", &b);
    PT_USER_NEW(s, proto, "authz_c", &c);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t g = PT_GROUP(s, proto, &a, "Private", &b.id, 1);
    PT_SEND(s, proto, &a, dm, "secret");
    PT_SEND(s, proto, &a, g, "secret too");
    /* c is not a member of either, but a member elsewhere. */
    PT_DIRECT(s, proto, &c, a.id, 201);
    expect_all_404(s, proto, &c, dm, a.id);
    expect_all_404(s, proto, &c, g, a.id);
    expect_untouched(s, proto, &a, dm, NULL, 2, 1);
    expect_untouched(s, proto, &a, g, "Private", 2, 1);
    /* The members themselves are fine. */
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)g);
    struct pt_resp r;
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Without a token, or with a revoked one, every endpoint of this issue is
 * a 401 (never a 404 that would tell whether a conversation exists). */
PLTEST_PROTO(unauthenticated_is_401_everywhere)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, gone;
    PT_USER_NEW(s, proto, "unauth_a", &a);
    PT_USER_NEW(s, proto, "unauth_b", &b);
    PT_USER_NEW(s, proto, "unauth_x", &gone);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_SEND(s, proto, &a, dm, "hi");
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", gone.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    static const struct endpoint more[] = {
        {"GET", "/v1/conversations", NULL},
        {"POST", "/v1/conversations", "{\"kind\":\"direct\",\"user\":{user}}"},
        {"GET", "/v1/events", NULL},
        {"GET", "/v1/sync?since=0", NULL},
        {"GET", "/v1/users/{user}/presence", NULL},
        {"POST", "/v1/presence/heartbeat", NULL},
        {"PATCH", "/v1/me", "{\"last_seen_visibility\":\"nobody\"}"},
    };
    size_t n1 = sizeof(endpoints) / sizeof(endpoints[0]), n2 = sizeof(more) / sizeof(more[0]);
    for (size_t i = 0; i < n1 + n2; i++) {
        struct endpoint e = i < n1 ? endpoints[i] : more[i - n1];
        char body[128];
        if (e.body) {
            snprintf(body, sizeof(body), "%s", fill(e.body, dm, b.id));
            e.body = body;
        }
        for (int t = 0; t < 2; t++) {
            call(s, proto, &e, t ? gone.token : NULL, dm, b.id, &r);
            if (r.status != 401)
                pltest_fail(__FILE__, __LINE__, "%s %s %s: expected 401, got %ld: %.200s", e.method,
                            fill(e.path, dm, b.id), t ? "revoked token" : "no token", r.status,
                            r.body);
            PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
            const char *www = pt_resp_header(&r, "WWW-Authenticate");
            PL_ASSERT(www && strncmp(www, "Bearer", 6) == 0);
            pt_resp_free(&r);
        }
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
