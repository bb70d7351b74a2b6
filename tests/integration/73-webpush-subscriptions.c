/* SPDX-License-Identifier: MIT */
/* Parley - integration: Web Push subscriptions and the VAPID key.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"
#include "push_svc.h"

#include <stdio.h>
#include <string.h>

static const char *const ARGS[] = {"--webpush-allow-http", "true", NULL};

/* A valid p256dh (a real point) and auth, for bodies built by hand. */
#define P256DH                                                                                     \
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define AUTH "BTBZMqHH6r4Tts7J_aSIgg"

static void post_sub(struct pt_server *s, enum pt_proto p, const char *token, const char *endpoint,
                     const char *p256dh, const char *auth, struct pt_resp *r)
{
    pt_reqf(s, p, "POST", token, r, "/v1/push/subscriptions",
            "{\"endpoint\":\"%s\",\"keys\":{\"p256dh\":\"%s\",\"auth\":\"%s\"}}", endpoint, p256dh,
            auth);
}

static unsigned count_subs(struct pt_server *s, enum pt_proto p, const char *token)
{
    struct pt_resp r;
    pt_get(s, p, "/v1/push/subscriptions", token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val v = pt_json_get(pt_json(&r), "subscriptions", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(v));
    unsigned n = (unsigned)v->u.array.len;
    pt_resp_free(&r);
    return n;
}

PLTEST_PROTO(vapid_key_is_public_and_stable)
{
    struct pt_server *s = PT_SERVER_START(ARGS);
    char k1[128], k2[128];
    pt_push_vapid_key(s, proto, k1);
    PL_ASSERT(k1[0] == 'B'); /* 0x04: an uncompressed point */
    pt_push_vapid_key(s, proto, k2);
    PL_ASSERT_STR_EQ(k1, k2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(subscribe_list_update_delete)
{
    struct pt_server *s = PT_SERVER_START(ARGS);
    struct pt_user u, other;
    PT_USER_NEW(s, proto, "wp_sub", &u);
    PT_USER_NEW(s, proto, "wp_other", &other);
    struct pt_resp r;
    post_sub(s, proto, u.token, "https://push.example.net/a/1", P256DH, AUTH, &r);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "device_id", NULL), u.device);
    pt_resp_free(&r);
    /* The same endpoint again from the same device: an update, 200. */
    post_sub(s, proto, u.token, "https://push.example.net/a/1", P256DH, AUTH, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), id);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_subs(s, proto, u.token), 1);
    pt_get(s, proto, "/v1/push/subscriptions", u.token, &r);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "subscriptions", "0", "endpoint", NULL),
                     "https://push.example.net/a/1");
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "subscriptions", "0", "created_at", NULL)));
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(pt_json(&r), "subscriptions", "0", "current_device", NULL)));
    pt_resp_free(&r);
    /* Nobody else sees or deletes it. */
    PL_ASSERT_INT_EQ(count_subs(s, proto, other.token), 0);
    char path[64];
    snprintf(path, sizeof(path), "/v1/push/subscriptions/%lld", (long long)id);
    pt_reqf(s, proto, "DELETE", other.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", u.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", u.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", u.token, &r, "/v1/push/subscriptions/abc", NULL);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_subs(s, proto, u.token), 0);
    /* Without a token: 401. */
    pt_get(s, proto, "/v1/push/subscriptions", NULL, &r);
    PL_ASSERT_INT_EQ(r.status, 401);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Expects 422 with one error at pointer. */
static void expect_422(struct pt_resp *r, const char *pointer)
{
    PT_ASSERT_PROBLEM(r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(r), "errors", "0", "pointer", NULL), pointer);
    pt_resp_free(r);
}

PLTEST_PROTO(bad_subscriptions_get_422)
{
    struct pt_server *s = PT_SERVER_START(ARGS);
    struct pt_user u;
    PT_USER_NEW(s, proto, "wp_bad", &u);
    struct pt_resp r;
    /* http only to loopback (and only with the test setting). */
    post_sub(s, proto, u.token, "http://push.example.net/x", P256DH, AUTH, &r);
    expect_422(&r, "/endpoint");
    post_sub(s, proto, u.token, "ftp://push.example.net/x", P256DH, AUTH, &r);
    expect_422(&r, "/endpoint");
    post_sub(s, proto, u.token, "https://user@push.example.net/x", P256DH, AUTH, &r);
    expect_422(&r, "/endpoint");
    post_sub(s, proto, u.token, "https:///x", P256DH, AUTH, &r);
    expect_422(&r, "/endpoint");
    /* Key lengths and the point itself. */
    post_sub(s, proto, u.token, "https://push.example.net/x", "BCVxsr7N", AUTH, &r);
    expect_422(&r, "/keys/p256dh");
    post_sub(s, proto, u.token, "https://push.example.net/x", P256DH, "BTBZMqHH6r4Tts7J", &r);
    expect_422(&r, "/keys/auth");
    char off[128];
    snprintf(off, sizeof(off), "%s", P256DH);
    off[40] = off[40] == 'A' ? 'B' : 'A'; /* no longer on the curve */
    post_sub(s, proto, u.token, "https://push.example.net/x", off, AUTH, &r);
    expect_422(&r, "/keys/p256dh");
    post_sub(s, proto, u.token, "https://push.example.net/x", P256DH "=", AUTH, &r);
    expect_422(&r, "/keys/p256dh");
    pt_reqf(s, proto, "POST", u.token, &r, "/v1/push/subscriptions",
            "{\"endpoint\":\"https://push.example.net/x\"}");
    expect_422(&r, "/keys");
    pt_reqf(s, proto, "POST", u.token, &r, "/v1/push/subscriptions",
            "{\"endpoint\":\"https://push.example.net/x\",\"keys\":[]}");
    expect_422(&r, "/keys");
    PL_ASSERT_INT_EQ(count_subs(s, proto, u.token), 0);
    /* A loopback http endpoint passes with the setting. */
    post_sub(s, proto, u.token, "http://127.0.0.1:9/p", P256DH, AUTH, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(loopback_http_refused_without_the_setting)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user u;
    PT_USER_NEW(s, proto, "wp_nohttp", &u);
    struct pt_resp r;
    post_sub(s, proto, u.token, "http://127.0.0.1:9/p", P256DH, AUTH, &r);
    expect_422(&r, "/endpoint");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(logout_deletes_the_devices_subscriptions)
{
    struct pt_server *s = PT_SERVER_START(ARGS);
    struct pt_user u, dev2;
    PT_USER_NEW(s, proto, "wp_logout", &u);
    pt_user_device(s, proto, &u, &dev2);
    struct pt_resp r;
    post_sub(s, proto, u.token, "https://push.example.net/d1", P256DH, AUTH, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    post_sub(s, proto, dev2.token, "https://push.example.net/d2", P256DH, AUTH, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_subs(s, proto, dev2.token), 2);
    pt_reqf(s, proto, "DELETE", u.token, &r, "/v1/sessions/current", NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    /* Only the logged-out device's subscription is gone. */
    pt_get(s, proto, "/v1/push/subscriptions", dev2.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val v = pt_json_get(pt_json(&r), "subscriptions", NULL);
    PL_ASSERT_INT_EQ(v->u.array.len, 1);
    PL_ASSERT_STR_EQ(pt_json_str(v, "0", "endpoint", NULL), "https://push.example.net/d2");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
