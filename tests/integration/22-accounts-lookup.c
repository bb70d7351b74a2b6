/* SPDX-License-Identifier: MIT */
/* Parley - integration: finding people (exact lookup, prefix search).  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void heartbeat(struct pt_server *s, enum pt_proto proto, const struct pt_user *u)
{
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "POST", "/v1/presence/heartbeat", u->token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

/* GET /v1/users/{name} as viewer: checks the public profile of u and
 * returns whether its presence shows a last_seen. */
static int profile(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                   const struct pt_user *u, const char *ref)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%s", ref);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(pt_json_int(t, "id", NULL), u->id);
    PL_ASSERT_STR_EQ(pt_json_str(t, "username", NULL), u->name);
    PL_ASSERT_STR_EQ(pt_json_str(t, "display_name", NULL), u->name);
    PL_ASSERT_INT_EQ(pt_json_int(t, "presence", "user_id", NULL), u->id);
    PL_ASSERT(pt_json_str(t, "presence", "status", NULL));
    /* Public profile only: nothing of the account's settings. */
    PL_ASSERT(!pt_json_get(t, "last_seen_visibility", NULL) && !pt_json_get(t, "created_at", NULL));
    int seen = pt_json_str(t, "presence", "last_seen", NULL) != NULL;
    pt_resp_free(&r);
    return seen;
}

PLTEST_PROTO(exact_lookup_shows_the_public_profile_and_allowed_presence)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "look_a", &a);
    PT_USER_NEW(s, proto, "look_b", &b);
    PT_USER_NEW(s, proto, "look_c", &c);
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201);
    heartbeat(s, proto, &b);
    struct pt_resp r;
    /* b accepts a's chat: a is b's contact from then on (issue 12). */
    char path[64];
    snprintf(path, sizeof(path), "/v1/requests/%lld/accept", (long long)ab);
    pt_reqf(s, proto, "POST", b.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    pt_reqf(s, proto, "PATCH", b.token, &r, "/v1/me", "{\"last_seen_visibility\":\"contacts\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    /* Anyone can look a name up; last_seen follows b's privacy setting. */
    PL_ASSERT_INT_EQ(profile(s, proto, &a, &b, b.name), 1);
    PL_ASSERT_INT_EQ(profile(s, proto, &c, &b, b.name), 0);
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)b.id);
    PL_ASSERT_INT_EQ(profile(s, proto, &a, &b, id), 1);
    pt_get(s, proto, "/v1/users/nobody_by_this_name", a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/users/BAD%20NAME", a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/users/look_a", NULL, &r);
    PT_ASSERT_STATUS(&r, 401);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The user ids of a prefix search as "id,id" (static storage). */
static const char *prefix_ids(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                              const char *query)
{
    static char out[512];
    char path[160];
    snprintf(path, sizeof(path), "/v1/users?%s", query);
    struct pt_resp r;
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val l = pt_json_get(pt_json(&r), "users", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(l));
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->u.array.len && o < sizeof(out) - 24; i++) {
        yajl_val v = l->u.array.values[i];
        PL_ASSERT(pt_json_str(v, "username", NULL) && pt_json_str(v, "display_name", NULL));
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld", i ? "," : "",
                              (long long)pt_json_int(v, "id", NULL));
    }
    pt_resp_free(&r);
    return out;
}

static const char *const user_quota[] = {"--quota-user-searches-per-min", "10", NULL};

PLTEST_PROTO(prefix_search_lists_only_contacts_and_is_rate_limited)
{
    struct pt_server *s = PT_SERVER_START(user_quota);
    struct pt_user a, b1, b2, stranger;
    PT_USER_NEW(s, proto, "pfx_a", &a);
    PT_USER_NEW(s, proto, "pfx_friend", &b1);
    PT_USER_NEW(s, proto, "pfx_friend", &b2);
    PT_USER_NEW(s, proto, "pfx_friend", &stranger);
    PT_DIRECT(s, proto, &a, b1.id, 201);
    int64_t members[] = {b2.id};
    PT_GROUP(s, proto, &a, "pfx", members, 1);
    /* Sorted by username; the stranger and a itself are never listed. */
    int b1_first = strcmp(b1.name, b2.name) < 0;
    char want[64], q[80];
    snprintf(want, sizeof(want), "%lld,%lld", (long long)(b1_first ? b1.id : b2.id),
             (long long)(b1_first ? b2.id : b1.id));
    PL_ASSERT_STR_EQ(prefix_ids(s, proto, &a, "prefix=pfx_friend_"), want);
    char first[24];
    snprintf(first, sizeof(first), "%lld", (long long)(b1_first ? b1.id : b2.id));
    PL_ASSERT_STR_EQ(prefix_ids(s, proto, &a, "prefix=PFX_FRIEND_&limit=1"), first);
    snprintf(q, sizeof(q), "prefix=%.14s", b1.name);
    snprintf(want, sizeof(want), "%lld", (long long)b1.id);
    PL_ASSERT(strstr(prefix_ids(s, proto, &a, q), want));
    PL_ASSERT_STR_EQ(prefix_ids(s, proto, &a, "prefix=pfx_a"), "");
    /* "_" is a literal character, not LIKE's wildcard. */
    PL_ASSERT_STR_EQ(prefix_ids(s, proto, &a, "prefix=pfx%5Ffriend_"),
                     prefix_ids(s, proto, &a, "prefix=pfx_friend_"));
    PL_ASSERT_STR_EQ(prefix_ids(s, proto, &stranger, "prefix=pfx_"), "");
    const char *bad[] = {"/v1/users",
                         "/v1/users?prefix=",
                         "/v1/users?prefix=a%25",
                         "/v1/users?prefix=ab&limit=0",
                         "/v1/users?prefix=ab&limit=51",
                         NULL};
    struct pt_resp r;
    for (size_t i = 0; bad[i]; i++) {
        pt_get(s, proto, bad[i], a.token, &r);
        PT_ASSERT_PROBLEM(&r, 400, "malformed-request");
        pt_resp_free(&r);
    }
    /* quota_user_searches_per_min is 10 here: the 11th search in the
     * minute is refused, and says when to come back. */
    int ok = 0;
    long st = 200;
    for (int i = 0; i < 30 && st == 200; i++) {
        pt_get(s, proto, "/v1/users?prefix=pfx", b1.token, &r);
        st = r.status;
        if (st == 429) {
            PT_ASSERT_PROBLEM(&r, 429, "quota-exceeded");
            PL_ASSERT(pt_resp_header(&r, "Retry-After"));
            PL_ASSERT(strstr(pt_json_str(pt_json(&r), "detail", NULL), "user_searches"));
        }
        ok += st == 200;
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(st, 429);
    PL_ASSERT_INT_EQ(ok, 10);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
