/* SPDX-License-Identifier: MIT */
/* Parley - integration: groups, members, roles, history from joining.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000

/* Every case runs with a group limit of 3 members. */
static const char *const limit3[] = {"--group-max-members", "3", NULL};

static void member_path(char *buf, size_t cap, int64_t conv, int64_t user)
{
    snprintf(buf, cap, "/v1/conversations/%lld/members/%lld", (long long)conv, (long long)user);
}

/* PUT a member (role NULL: no body); returns the status, fills *r. */
static long put_member(struct pt_server *s, enum pt_proto proto, const struct pt_user *by,
                       int64_t conv, int64_t user, const char *role, struct pt_resp *r)
{
    char path[128];
    member_path(path, sizeof(path), conv, user);
    if (role)
        pt_reqf(s, proto, "PUT", by->token, r, path, "{\"role\":\"%s\"}", role);
    else
        pt_reqf(s, proto, "PUT", by->token, r, path, NULL);
    return r->status;
}

static long del_member(struct pt_server *s, enum pt_proto proto, const struct pt_user *by,
                       int64_t conv, int64_t user)
{
    char path[128];
    member_path(path, sizeof(path), conv, user);
    struct pt_resp r;
    pt_reqf(s, proto, "DELETE", by->token, &r, path, NULL);
    long st = r.status;
    if (st != 204)
        fprintf(stderr, "DELETE %s: %ld %.300s\n", path, st, r.body);
    pt_resp_free(&r);
    return st;
}

/* The role of user in conv as GET /v1/conversations/{id} shows it to
 * viewer, or NULL (not listed); static storage. */
static const char *role_of(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                           int64_t conv, int64_t user, int64_t *count)
{
    static char role[16];
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val mem = pt_json_get(pt_json(&r), "members", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(mem));
    if (count) {
        *count = pt_json_int(pt_json(&r), "member_count", NULL);
        PL_ASSERT_INT_EQ(*count, mem->u.array.len);
    }
    const char *found = NULL;
    for (size_t i = 0; i < mem->u.array.len; i++)
        if (pt_json_int(mem->u.array.values[i], "user_id", NULL) == user)
            found = pt_json_str(mem->u.array.values[i], "role", NULL);
    if (found)
        snprintf(role, sizeof(role), "%s", found);
    pt_resp_free(&r);
    return found ? role : NULL;
}

static void expect_problem(struct pt_resp *r, long status, const char *slug, const char *what)
{
    if (r->status != status)
        pltest_fail(__FILE__, __LINE__, "%s: expected %ld, got %ld: %.300s", what, status,
                    r->status, r->body);
    PT_ASSERT_PROBLEM(r, status, slug);
}

PLTEST_PROTO(group_create_checks_title_members_and_limit)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c, d;
    PT_USER_NEW(s, proto, "grp_a", &a);
    PT_USER_NEW(s, proto, "grp_b", &b);
    PT_USER_NEW(s, proto, "grp_c", &c);
    PT_USER_NEW(s, proto, "grp_d", &d);
    struct pt_resp r;
    char body[512];
    /* Members by id or by username; the creator is the admin. */
    snprintf(body, sizeof(body),
             "{\"kind\":\"group\",\"title\":\"Team\",\"members\":[%lld,\"%s\"]}", (long long)b.id,
             c.name);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    yajl_val t = pt_json(&r);
    int64_t g = pt_json_int(t, "id", NULL);
    PL_ASSERT_STR_EQ(pt_json_str(t, "kind", NULL), "group");
    PL_ASSERT_STR_EQ(pt_json_str(t, "title", NULL), "Team");
    PL_ASSERT_STR_EQ(pt_json_str(t, "my_role", NULL), "admin");
    PL_ASSERT_INT_EQ(pt_json_int(t, "member_count", NULL), 3);
    PL_ASSERT(!pt_json_get(t, "peer", NULL));
    pt_resp_free(&r);
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, a.id, NULL), "admin");
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, c.id, NULL), "member");
    /* Four with the creator is over the limit of three. */
    snprintf(body, sizeof(body),
             "{\"kind\":\"group\",\"title\":\"Big\",\"members\":[%lld,%lld,%lld]}", (long long)b.id,
             (long long)c.id, (long long)d.id);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, body, &r);
    expect_problem(&r, 422, "validation-failed", "four members");
    pt_resp_free(&r);
    /* Alone is fine. */
    PL_ASSERT(PT_GROUP(s, proto, &a, "Just me", NULL, 0) > 0);
    /* Titles: 1..128 characters (not bytes). */
    char title[128 * 2 + 1] = "";
    for (int i = 0; i < 128; i++)
        strcat(title, "\xc3\xa9");
    PL_ASSERT(PT_GROUP(s, proto, &a, title, NULL, 0) > 0);
    const char *bad[] = {
        "{\"kind\":\"group\",\"title\":\"\",\"members\":[]}",
        "{\"kind\":\"group\",\"members\":[]}",
        "{\"kind\":\"group\",\"title\":\"x\",\"members\":[999999999999]}",
        "{\"kind\":\"group\",\"title\":\"x\",\"members\":[\"no_such_user_zz\"]}",
        "{\"kind\":\"group\",\"title\":\"x\",\"members\":\"everyone\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pt_send_json(s, proto, "POST", "/v1/conversations", a.token, bad[i], &r);
        expect_problem(&r, 422, "validation-failed", bad[i]);
        pt_resp_free(&r);
    }
    snprintf(body, sizeof(body), "{\"kind\":\"group\",\"title\":\"%sa\",\"members\":[]}", title);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, body, &r);
    expect_problem(&r, 422, "validation-failed", "129-character title");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/title");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(admins_manage_members_and_title)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c, d;
    PT_USER_NEW(s, proto, "adm_a", &a);
    PT_USER_NEW(s, proto, "adm_b", &b);
    PT_USER_NEW(s, proto, "adm_c", &c);
    PT_USER_NEW(s, proto, "adm_d", &d);
    int64_t g = PT_GROUP(s, proto, &a, "Club", &b.id, 1);
    struct pt_resp r;
    /* Only admins add. */
    PL_ASSERT_INT_EQ(put_member(s, proto, &b, g, c.id, NULL, &r), 403);
    PT_ASSERT_PROBLEM(&r, 403, "forbidden");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, NULL, &r), 201);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "user_id", NULL), c.id);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "username", NULL), c.name);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "role", NULL), "member");
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "joined_at", NULL)));
    pt_resp_free(&r);
    /* Adding a member again is a 200, and by username works too. */
    char path[160];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/members/%s", (long long)g, c.name);
    pt_reqf(s, proto, "PUT", a.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "role", NULL), "member");
    pt_resp_free(&r);
    /* A fourth member is over the limit. */
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, d.id, NULL, &r), 422);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    /* Roles: only admins change them. */
    PL_ASSERT_INT_EQ(put_member(s, proto, &b, g, b.id, "admin", &r), 403);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, "admin", &r), 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "role", NULL), "admin");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, "owner", &r), 422);
    pt_resp_free(&r);
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, c.id, NULL), "admin");
    /* Titles: admins only. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)g);
    pt_reqf(s, proto, "PATCH", b.token, &r, path, "{\"title\":\"Mine now\"}");
    expect_problem(&r, 403, "forbidden", "PATCH by a member");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PATCH", c.token, &r, path, "{\"title\":\"Renamed\"}");
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "title", NULL), "Renamed");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), g);
    pt_resp_free(&r);
    pt_reqf(s, proto, "PATCH", a.token, &r, path, "{\"title\":\"\"}");
    expect_problem(&r, 422, "validation-failed", "empty title");
    pt_resp_free(&r);
    /* Removing: a member may not remove others, an admin may, anyone may
     * leave. */
    PL_ASSERT_INT_EQ(del_member(s, proto, &b, g, c.id), 403);
    PL_ASSERT_INT_EQ(del_member(s, proto, &c, g, b.id), 204);
    int64_t count = 0;
    PL_ASSERT(!role_of(s, proto, &a, g, b.id, &count));
    PL_ASSERT_INT_EQ(count, 2);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, d.id, NULL, &r), 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(del_member(s, proto, &d, g, d.id), 204);
    PL_ASSERT(!role_of(s, proto, &a, g, d.id, &count));
    PL_ASSERT_INT_EQ(count, 2);
    /* Direct conversations have neither members to manage nor a title. */
    int64_t dir = PT_DIRECT(s, proto, &a, b.id, 201);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, dir, c.id, NULL, &r), 422);
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)dir);
    pt_reqf(s, proto, "PATCH", a.token, &r, path, "{\"title\":\"x\"}");
    expect_problem(&r, 422, "validation-failed", "PATCH of a direct conversation");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The last admin leaving hands the role to the member who joined first
 * (not the one with the smallest id). */
PLTEST_PROTO(last_admin_leaving_promotes_the_oldest_member)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "prom_a", &a);
    PT_USER_NEW(s, proto, "prom_b", &b);
    PT_USER_NEW(s, proto, "prom_c", &c);
    PL_ASSERT(b.id < c.id);
    int64_t g = PT_GROUP(s, proto, &a, "Heirs", NULL, 0);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, NULL, &r), 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, b.id, NULL, &r), 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(del_member(s, proto, &a, g, a.id), 204);
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, c.id, NULL), "admin");
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, b.id, NULL), "member");
    /* The new admin can act as one; with another admin around, leaving
     * promotes nobody. */
    PL_ASSERT_INT_EQ(put_member(s, proto, &c, g, a.id, "admin", &r), 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "role", NULL), "admin");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(del_member(s, proto, &c, g, c.id), 204);
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, b.id, NULL), "member");
    PL_ASSERT_STR_EQ(role_of(s, proto, &b, g, a.id, NULL), "admin");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The seqs in conv that viewer can see, ascending; returns the count. */
static size_t visible_seqs(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                           int64_t conv, const char *query, int64_t *out, size_t cap)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages%s", (long long)conv,
             query ? query : "");
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs) && msgs->u.array.len <= cap);
    for (size_t i = 0; i < msgs->u.array.len; i++)
        out[i] = pt_json_int(msgs->u.array.values[i], "seq", NULL);
    size_t n = msgs->u.array.len;
    pt_resp_free(&r);
    return n;
}

PLTEST_PROTO(members_see_history_from_when_they_joined)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "join_a", &a);
    PT_USER_NEW(s, proto, "join_b", &b);
    PT_USER_NEW(s, proto, "join_c", &c);
    int64_t before_join;
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, &before_join);
    struct pt_sse_event ev;
    int64_t g = PT_GROUP(s, proto, &a, "Late", &b.id, 1);
    PT_SEND(s, proto, &a, g, "before c");
    PT_SEND(s, proto, &b, g, "before c too");
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, NULL, &r), 201);
    pt_resp_free(&r);
    struct pt_msg m3 = PT_SEND(s, proto, &a, g, "welcome c");
    int64_t seqs[8];
    PL_ASSERT_INT_EQ(visible_seqs(s, proto, &c, g, NULL, seqs, 8), 1);
    PL_ASSERT_INT_EQ(seqs[0], 3);
    PL_ASSERT_INT_EQ(visible_seqs(s, proto, &c, g, "?before=3", seqs, 8), 0);
    PL_ASSERT_INT_EQ(visible_seqs(s, proto, &c, g, "?after=0", seqs, 8), 1);
    PL_ASSERT_INT_EQ(visible_seqs(s, proto, &b, g, NULL, seqs, 8), 3);
    /* Receipts of a message from before joining are not c's to see. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/1/receipts", (long long)g);
    pt_get(s, proto, path, c.token, &r);
    expect_problem(&r, 404, "not-found", "receipts of a message from before joining");
    pt_resp_free(&r);
    /* c's stream: its own member.added, then only the new message. */
    PT_SSE_EXPECT_NEXT(cs, "member.added", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), g);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), c.id);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "by", NULL), a.id);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "role", NULL), "member");
    pt_sse_event_free(&ev);
    PT_SSE_EXPECT_MSG(cs, m3.id, EV_MS);
    pt_sse_close(cs);
    /* Replaying from before c joined shows no more than that. */
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)before_join);
    cs = pt_sse_open(s, proto, c.token, id);
    PT_SSE_EXPECT_NEXT(cs, "member.added", EV_MS, &ev);
    pt_sse_event_free(&ev);
    PT_SSE_EXPECT_MSG(cs, m3.id, EV_MS);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Group events reach members: creation, new members (the new one too),
 * renames. */
PLTEST_PROTO(group_events_reach_the_members)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "gev_a", &a);
    PT_USER_NEW(s, proto, "gev_b", &b);
    PT_USER_NEW(s, proto, "gev_c", &c);
    struct pt_sse *bs = pt_sse_open(s, proto, b.token, NULL);
    struct pt_sse *cs = pt_sse_open(s, proto, c.token, NULL);
    int64_t g = PT_GROUP(s, proto, &a, "Events", &b.id, 1);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(bs, "conversation.created", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation", "id"), g);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "conversation", "title", NULL), "Events");
    PL_ASSERT(ev.pos > 0);
    pt_sse_event_free(&ev);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, c.id, NULL, &r), 201);
    pt_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        PT_SSE_EXPECT(i ? cs : bs, "member.added", EV_MS, &ev);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), c.id);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "by", NULL), a.id);
        pt_sse_event_free(&ev);
    }
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)g);
    pt_reqf(s, proto, "PATCH", a.token, &r, path, "{\"title\":\"Renamed\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        PT_SSE_EXPECT(i ? cs : bs, "conversation.updated", EV_MS, &ev);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), g);
        PL_ASSERT_STR_EQ(pt_json_str(ev.json, "title", NULL), "Renamed");
        pt_sse_event_free(&ev);
    }
    pt_sse_close(bs);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A removed member hears of it, then nothing more from the group, at
 * once; the group is a 404 to them. */
PLTEST_PROTO(removed_member_stops_receiving_at_once)
{
    struct pt_server *s = PT_SERVER_START(limit3);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "rm_a", &a);
    PT_USER_NEW(s, proto, "rm_b", &b);
    PT_USER_NEW(s, proto, "rm_c", &c);
    int64_t members[] = {b.id, c.id};
    int64_t g = PT_GROUP(s, proto, &a, "Leaving", members, 2);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_msg m1 = PT_SEND(s, proto, &a, g, "while b is in");
    PT_SSE_EXPECT_MSG(bs, m1.id, EV_MS);
    PL_ASSERT_INT_EQ(del_member(s, proto, &a, g, b.id), 204);
    struct pt_sse_event ev;
    PL_ASSERT_INT_EQ(pt_sse_next_durable(bs, EV_MS, &ev), 0);
    PL_ASSERT_STR_EQ(ev.name, "member.removed");
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), g);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "by", NULL), a.id);
    pt_sse_event_free(&ev);
    /* The group's next message must not reach b: the direct message
     * after it is the next thing b's stream carries. */
    PT_SEND(s, proto, &a, g, "after b left");
    struct pt_msg marker = PT_SEND(s, proto, &a, dm, "marker");
    PT_SSE_EXPECT_MSG(bs, marker.id, EV_MS);
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)g);
    pt_get(s, proto, path, b.token, &r);
    expect_problem(&r, 404, "not-found", "GET by a removed member");
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)g);
    pt_get(s, proto, path, b.token, &r);
    expect_problem(&r, 404, "not-found", "history for a removed member");
    pt_resp_free(&r);
    /* The group no longer lists b. */
    int64_t count = 0;
    PL_ASSERT(!role_of(s, proto, &c, g, b.id, &count));
    PL_ASSERT_INT_EQ(count, 2);
    /* Re-added, b starts over from the re-join. */
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g, b.id, NULL, &r), 201);
    pt_resp_free(&r);
    struct pt_msg m4 = PT_SEND(s, proto, &c, g, "welcome back");
    int64_t seqs[8];
    PL_ASSERT_INT_EQ(visible_seqs(s, proto, &b, g, NULL, seqs, 8), 1);
    PL_ASSERT_INT_EQ(seqs[0], m4.seq);
    PT_SSE_EXPECT_NEXT(bs, "member.added", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    pt_sse_event_free(&ev);
    PT_SSE_EXPECT_MSG(bs, m4.id, EV_MS);
    pt_sse_close(bs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
