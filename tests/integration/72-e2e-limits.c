/* SPDX-License-Identifier: MIT */
/* Parley - integration: prekey draining and device floods are bounded. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

static int64_t prekeys_left(struct pt_server *s, enum pt_proto p, const struct pt_user *u)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys/count", (long long)u->device);
    struct pt_resp r;
    pt_get(s, p, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    int64_t n = pt_json_int(pt_json(&r), "one_time_prekeys", NULL);
    pt_resp_free(&r);
    return n;
}

static void fetch_bundle(struct pt_server *s, enum pt_proto p, const struct pt_user *me,
                         const struct pt_user *target, struct pt_resp *r)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/users/%lld/keys", (long long)target->id);
    pt_get(s, p, path, me->token, r);
}

static void expect_quota(struct pt_resp *r)
{
    PT_ASSERT_PROBLEM(r, 429, "quota-exceeded");
    const char *ra = pt_resp_header(r, "Retry-After");
    PL_ASSERT(ra && atoi(ra) >= 1 && atoi(ra) <= 60);
}

static void upload_keys(struct pt_server *s, enum pt_proto p, const struct pt_user *u, unsigned n)
{
    struct pt_keys k;
    pt_keys_new(&k, 1);
    char *body = pt_keys_body(&k, true, 1, n);
    struct pt_resp r;
    pt_keys_put_raw(s, p, u, u->device, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    free(body);
}

/* One requester cannot take more than keys_fetch_per_min bundles a minute:
 * the target keeps the rest of its one-time prekeys. */
PLTEST_PROTO(bundle_fetches_are_limited_per_requester)
{
    const char *const args[] = {"--keys-fetch-per-min", "3", "--keys-target-per-min", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "drain_a", &a);
    PT_USER_NEW(s, proto, "drain_b", &b);
    upload_keys(s, proto, &b, 10);
    struct pt_resp r;
    for (int i = 0; i < 3; i++) {
        fetch_bundle(s, proto, &a, &b, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT(pt_json_get(pt_json(&r), "devices", "0", "one_time_prekey", "id", NULL));
        pt_resp_free(&r);
    }
    fetch_bundle(s, proto, &a, &b, &r);
    expect_quota(&r);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(prekeys_left(s, proto, &b), 7);
    struct pt_resp m;
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &m);
    PT_ASSERT_STATUS(&m, 200);
    PL_ASSERT(strstr(m.body, "parley_limit_rejected_total{limit=\"keys_requester\"} "));
    PL_ASSERT(!strstr(m.body, "parley_limit_rejected_total{limit=\"keys_requester\"} 0\n"));
    pt_resp_free(&m);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Many requesters together cannot drain one target faster than
 * keys_target_per_min. */
PLTEST_PROTO(bundle_fetches_are_limited_per_target)
{
    const char *const args[] = {"--keys-fetch-per-min", "100", "--keys-target-per-min", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "drain_t", &b);
    PT_USER_NEW(s, proto, "drain_r1", &a);
    PT_USER_NEW(s, proto, "drain_r2", &c);
    upload_keys(s, proto, &b, 10);
    struct pt_resp r;
    fetch_bundle(s, proto, &a, &b, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    fetch_bundle(s, proto, &c, &b, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    fetch_bundle(s, proto, &c, &b, &r);
    expect_quota(&r);
    pt_resp_free(&r);
    /* Another target is unaffected. */
    fetch_bundle(s, proto, &c, &a, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(prekeys_left(s, proto, &b), 8);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static long login_status(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                         struct pt_resp *r)
{
    pt_reqf(s, p, "POST", NULL, r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            u->name, PT_PASSWORD);
    return r->status;
}

/* A user has at most max_devices live sessions (devices); past it a login
 * gets 409 too-many-devices, and ending one makes room. */
PLTEST_PROTO(devices_per_user_are_capped)
{
    const char *const args[] = {"--max-devices", "3", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, a2, a3;
    PT_USER_NEW(s, proto, "devcap", &a);
    pt_user_device(s, proto, &a, &a2);
    pt_user_device(s, proto, &a, &a3);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(login_status(s, proto, &a, &r), 409);
    PT_ASSERT_PROBLEM(&r, 409, "too-many-devices");
    PL_ASSERT(strstr(r.body, "/v1/sessions/"));
    pt_resp_free(&r);
    /* The device list others see stays at three. */
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", a3.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(login_status(s, proto, &a, &r), 201);
    pt_resp_free(&r);
    struct pt_resp m;
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &m);
    PT_ASSERT_STATUS(&m, 200);
    PL_ASSERT(strstr(m.body, "parley_limit_rejected_total{limit=\"devices\"} "));
    PL_ASSERT(!strstr(m.body, "parley_limit_rejected_total{limit=\"devices\"} 0\n"));
    pt_resp_free(&m);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The default cap is 16. */
PLTEST_PROTO(default_device_cap_is_sixteen)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "devcap16", &a);
    struct pt_resp r;
    for (int i = 1; i < 16; i++) {
        PL_ASSERT_INT_EQ(login_status(s, proto, &a, &r), 201);
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(login_status(s, proto, &a, &r), 409);
    PT_ASSERT_PROBLEM(&r, 409, "too-many-devices");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
