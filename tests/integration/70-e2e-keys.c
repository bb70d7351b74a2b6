/* SPDX-License-Identifier: MIT */
/* Parley - integration: the E2E key directory.                         */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

#include <pthread.h>

static void get_json(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                     const char *path, long want, struct pt_resp *r)
{
    pt_get(s, p, path, u->token, r);
    PT_ASSERT_STATUS(r, want);
}

static void expect_count(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                         int64_t otpks, int64_t spk_id)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys/count", (long long)u->device);
    struct pt_resp r;
    get_json(s, p, u, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "one_time_prekeys", NULL), otpks);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "signed_prekey_id", NULL), spk_id);
    pt_resp_free(&r);
}

/* Expects a 422 with an error at pointer. */
static void expect_422(struct pt_resp *r, const char *pointer)
{
    PT_ASSERT_PROBLEM(r, 422, "validation-failed");
    yajl_val errs = pt_json_get(pt_json(r), "errors", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(errs));
    for (size_t i = 0; i < errs->u.array.len; i++) {
        const char *ptr = pt_json_str(errs->u.array.values[i], "pointer", NULL);
        if (ptr && strcmp(ptr, pointer) == 0)
            return;
    }
    pltest_fail(__FILE__, __LINE__, "no error at %s: %.300s", pointer, r->body);
}

PLTEST_PROTO(keys_upload_count_and_replenish)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "keys_a", &a);
    struct pt_resp r;
    /* GET /v1/me names the calling device. */
    get_json(s, proto, &a, "/v1/me", 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "device_id", NULL), a.device);
    pt_resp_free(&r);
    expect_count(s, proto, &a, 0, PT_JSON_MISSING);

    struct pt_keys k;
    pt_keys_new(&k, 7);
    /* Prekeys alone cannot be a first upload. */
    char *body = pt_keys_body(&k, false, 1, 2);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "");
    pt_resp_free(&r);
    free(body);

    body = pt_keys_body(&k, true, 1, 5);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    char ik[PT_B64_MAX];
    pt_keys_identity(&k, ik);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "identity_key", NULL), ik);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "signed_prekey_id", NULL), 7);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "one_time_prekeys", NULL), 5);
    pt_resp_free(&r);
    free(body);
    expect_count(s, proto, &a, 5, 7);

    /* Replenishing: prekeys only. */
    body = pt_keys_body(&k, false, 6, 3);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "one_time_prekeys", NULL), 8);
    pt_resp_free(&r);
    free(body);
    /* An id the device already stored, or twice in one call: 422, nothing added. */
    body = pt_keys_body(&k, false, 8, 2);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "/one_time_prekeys");
    pt_resp_free(&r);
    free(body);
    pt_keys_put_raw(s, proto, &a, a.device,
                    "{\"one_time_prekeys\":[{\"id\":50,\"public_key\":"
                    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},{\"id\":50,\"public_key\":"
                    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
                    &r);
    expect_422(&r, "/one_time_prekeys/1");
    pt_resp_free(&r);
    /* Unknown members, a short key, more than 100 prekeys. */
    pt_keys_put_raw(s, proto, &a, a.device, "{\"identity\":\"x\"}", &r);
    expect_422(&r, "/identity");
    pt_resp_free(&r);
    pt_keys_put_raw(s, proto, &a, a.device, "{\"identity_key\":\"AAAA\"}", &r);
    expect_422(&r, "/identity_key");
    pt_resp_free(&r);
    body = pt_keys_body(&k, false, 1000, 101);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "/one_time_prekeys");
    pt_resp_free(&r);
    free(body);
    expect_count(s, proto, &a, 8, 7);

    /* Rotating the signed prekey under the same identity. */
    k.spk_id = 8;
    randombytes_buf(k.spk, sizeof(k.spk));
    pt_keys_sign(&k);
    pt_keys_upload(s, proto, &a, &k, 0, 0);
    expect_count(s, proto, &a, 8, 8);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(keys_bad_signature_is_422)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "keys_sig", &a);
    struct pt_keys k, other;
    pt_keys_new(&k, 1);
    pt_keys_new(&other, 1);
    struct pt_resp r;
    /* One flipped bit. */
    k.sig[10] ^= 1;
    char *body = pt_keys_body(&k, true, 1, 1);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "/signed_prekey/signature");
    pt_resp_free(&r);
    free(body);
    /* A valid signature by another identity key. */
    memcpy(k.sig, other.sig, sizeof(k.sig));
    memcpy(k.spk, other.spk, sizeof(k.spk));
    body = pt_keys_body(&k, true, 1, 1);
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "/signed_prekey/signature");
    pt_resp_free(&r);
    free(body);
    /* Nothing was stored. */
    expect_count(s, proto, &a, 0, PT_JSON_MISSING);
    pt_keys_sign(&k);
    pt_keys_upload(s, proto, &a, &k, 1, 1);
    expect_count(s, proto, &a, 1, 1);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(keys_of_another_device_are_403)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, a2, b;
    PT_USER_NEW(s, proto, "keys_own", &a);
    pt_user_device(s, proto, &a, &a2);
    PT_USER_NEW(s, proto, "keys_other", &b);
    struct pt_keys k;
    pt_keys_new(&k, 1);
    char *body = pt_keys_body(&k, true, 1, 1);
    struct pt_resp r;
    /* Another user's device, and the same user's other device. */
    const struct pt_user *callers[] = {&b, &a2};
    for (int i = 0; i < 2; i++) {
        pt_keys_put_raw(s, proto, callers[i], a.device, body, &r);
        PT_ASSERT_PROBLEM(&r, 403, "forbidden");
        pt_resp_free(&r);
        char path[64];
        snprintf(path, sizeof(path), "/v1/devices/%lld/keys/count", (long long)a.device);
        pt_get(s, proto, path, callers[i]->token, &r);
        PT_ASSERT_PROBLEM(&r, 403, "forbidden");
        pt_resp_free(&r);
    }
    /* Without a token: 401. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys", (long long)a.device);
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "PUT", path, NULL, "application/json", body, strlen(body), &r), 0);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    free(body);
    expect_count(s, proto, &a, 0, PT_JSON_MISSING);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- bundles ---- */

#define FETCHERS 4
#define FETCHES 8
#define OTPKS 20

struct fetcher {
    pthread_t th;
    struct pt_server *s;
    enum pt_proto p;
    const char *token;
    int64_t user;
    int64_t got[FETCHES]; /* the one-time prekey id, -1 for null, -2 for a failure */
};

static void *fetch_all(void *arg)
{
    struct fetcher *f = arg;
    struct pt_client *c = pt_client_new(f->s, f->p);
    char path[64];
    snprintf(path, sizeof(path), "/v1/users/%lld/keys", (long long)f->user);
    for (int i = 0; i < FETCHES; i++) {
        struct pt_resp r;
        f->got[i] = -2;
        if (pt_client_req(c, "GET", path, f->token, NULL, NULL, 0, NULL, &r) < 0)
            continue;
        yajl_val t = r.status == 200 ? pt_json(&r) : NULL;
        yajl_val otpk = t ? pt_json_get(t, "devices", "0", "one_time_prekey", NULL) : NULL;
        if (t && YAJL_IS_NULL(otpk))
            f->got[i] = -1;
        else if (otpk)
            f->got[i] = pt_json_int(otpk, "id", NULL);
        pt_resp_free(&r);
    }
    pt_client_free(c);
    return NULL;
}

PLTEST_PROTO(concurrent_bundle_fetches_never_share_a_prekey)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "bundle_a", &a);
    PT_USER_NEW(s, proto, "bundle_b", &b);
    struct pt_keys k;
    pt_keys_new(&k, 3);
    pt_keys_upload(s, proto, &a, &k, 100, OTPKS);

    /* Listing devices consumes nothing. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/users/%s/devices", a.name);
    struct pt_resp r;
    get_json(s, proto, &b, path, 200, &r);
    char ik[PT_B64_MAX];
    pt_keys_identity(&k, ik);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "user_id", NULL), a.id);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a.device);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "devices", "0", "identity_key", NULL), ik);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "1", NULL));
    pt_resp_free(&r);
    expect_count(s, proto, &a, OTPKS, 3);

    /* One bundle, checked in full: its signature verifies. */
    snprintf(path, sizeof(path), "/v1/users/%lld/keys", (long long)a.id);
    get_json(s, proto, &b, path, 200, &r);
    yajl_val d = pt_json_get(pt_json(&r), "devices", "0", NULL);
    PL_ASSERT_INT_EQ(pt_json_int(d, "device_id", NULL), a.device);
    PL_ASSERT_STR_EQ(pt_json_str(d, "identity_key", NULL), ik);
    PL_ASSERT_INT_EQ(pt_json_int(d, "signed_prekey", "id", NULL), 3);
    char spk[PT_B64_MAX], sig[PT_B64_MAX];
    pt_b64(k.spk, 32, spk, sizeof(spk));
    pt_b64(k.sig, sizeof(k.sig), sig, sizeof(sig));
    PL_ASSERT_STR_EQ(pt_json_str(d, "signed_prekey", "public_key", NULL), spk);
    PL_ASSERT_STR_EQ(pt_json_str(d, "signed_prekey", "signature", NULL), sig);
    int64_t first = pt_json_int(d, "one_time_prekey", "id", NULL);
    PL_ASSERT(first >= 100 && first < 100 + OTPKS);
    PL_ASSERT(pt_json_str(d, "one_time_prekey", "public_key", NULL));
    pt_resp_free(&r);
    /* The caller's own device is never in its own bundle list. */
    get_json(s, proto, &a, path, 200, &r);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "0", NULL));
    pt_resp_free(&r);

    /* Concurrent fetches take the other 19 once each, then get null. */
    struct fetcher f[FETCHERS];
    for (int i = 0; i < FETCHERS; i++) {
        f[i] = (struct fetcher){.s = s, .p = proto, .token = b.token, .user = a.id};
        PL_ASSERT_INT_EQ(pthread_create(&f[i].th, NULL, fetch_all, &f[i]), 0);
    }
    char seen[OTPKS] = {0};
    seen[first - 100] = 1;
    unsigned nulls = 0;
    for (int i = 0; i < FETCHERS; i++) {
        PL_ASSERT_INT_EQ(pthread_join(f[i].th, NULL), 0);
        for (int k2 = 0; k2 < FETCHES; k2++) {
            int64_t id = f[i].got[k2];
            PL_ASSERT(id != -2);
            if (id == -1) {
                nulls++;
                continue;
            }
            PL_ASSERT(id >= 100 && id < 100 + OTPKS);
            if (seen[id - 100])
                pltest_fail(__FILE__, __LINE__, "one-time prekey %lld handed out twice",
                            (long long)id);
            seen[id - 100] = 1;
        }
    }
    PL_ASSERT_INT_EQ(nulls, FETCHERS * FETCHES - (OTPKS - 1));
    expect_count(s, proto, &a, 0, 3);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(bundles_for_listed_devices_and_logged_out_devices_disappear)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a1, a2, b;
    PT_USER_NEW(s, proto, "gone_a", &a1);
    pt_user_device(s, proto, &a1, &a2);
    PT_USER_NEW(s, proto, "gone_b", &b);
    struct pt_keys k1, k2;
    pt_keys_new(&k1, 1);
    pt_keys_new(&k2, 1);
    pt_keys_upload(s, proto, &a1, &k1, 1, 2);
    pt_keys_upload(s, proto, &a2, &k2, 1, 2);
    char path[96];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/users/%lld/devices", (long long)a1.id);
    get_json(s, proto, &b, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a1.device);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "1", "device_id", NULL), a2.device);
    pt_resp_free(&r);
    /* ?device= picks devices. */
    snprintf(path, sizeof(path), "/v1/users/%lld/keys?device=%lld", (long long)a1.id,
             (long long)a2.device);
    get_json(s, proto, &b, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a2.device);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "1", NULL));
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%lld/keys?device=%lld&device=%lld", (long long)a1.id,
             (long long)a2.device, (long long)a1.device);
    get_json(s, proto, &b, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a1.device);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "1", "device_id", NULL), a2.device);
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%lld/keys?device=x", (long long)a1.id);
    get_json(s, proto, &b, path, 400, &r);
    pt_resp_free(&r);
    get_json(s, proto, &b, "/v1/users/no_such_user_zz/devices", 404, &r);
    pt_resp_free(&r);

    /* a2 logs out: it is gone from listings and bundles at once. */
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", a2.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%lld/devices", (long long)a1.id);
    get_json(s, proto, &b, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a1.device);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "1", NULL));
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/users/%lld/keys", (long long)a1.id);
    get_json(s, proto, &b, path, 200, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "devices", "0", "device_id", NULL), a1.device);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "1", NULL));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- keys.changed ---- */

static void expect_keys_changed(struct pt_sse *sse, const struct pt_user *who, const char *ik)
{
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sse, "keys.changed", PT_EV_MS, &ev);
    PL_ASSERT(ev.pos > 0);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), who->id);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "device_id", NULL), who->device);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "identity_key", NULL), ik);
    pt_sse_event_free(&ev);
}

PLTEST_PROTO(identity_change_reaches_peers_as_keys_changed)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, a2, b, c;
    PT_USER_NEW(s, proto, "kc_a", &a);
    pt_user_device(s, proto, &a, &a2);
    PT_USER_NEW(s, proto, "kc_b", &b);
    PT_USER_NEW(s, proto, "kc_c", &c);
    PT_DIRECT(s, proto, &a, b.id, 201); /* b shares a conversation with a; c does not */
    int64_t pos_c;
    struct pt_sse *sb = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_sse *sa2 = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    struct pt_sse *sc = PT_SSE_OPEN_READY(s, proto, c.token, &pos_c);

    struct pt_keys k;
    pt_keys_new(&k, 1);
    pt_keys_upload(s, proto, &a, &k, 1, 5);
    char ik[PT_B64_MAX];
    pt_keys_identity(&k, ik);
    /* The first upload is announced to a peer and to a's other device. */
    expect_keys_changed(sb, &a, ik);
    expect_keys_changed(sa2, &a, ik);

    /* Same identity again (replenishing): nothing to announce. A new
     * identity replaces the keys: the old prekeys are dropped. */
    pt_keys_upload(s, proto, &a, &k, 10, 1);
    expect_count(s, proto, &a, 6, 1);
    pt_keys_new(&k, 2);
    pt_keys_upload(s, proto, &a, &k, 20, 2);
    expect_count(s, proto, &a, 2, 2);
    pt_keys_identity(&k, ik);
    expect_keys_changed(sb, &a, ik); /* the next keys.changed: the replenish sent none */
    expect_keys_changed(sa2, &a, ik);

    /* A new identity without a new signed prekey is refused. */
    struct pt_keys k3;
    pt_keys_new(&k3, 2);
    char ik3[PT_B64_MAX], body[PT_B64_MAX + 32];
    pt_keys_identity(&k3, ik3);
    snprintf(body, sizeof(body), "{\"identity_key\":\"%s\"}", ik3);
    struct pt_resp r;
    pt_keys_put_raw(s, proto, &a, a.device, body, &r);
    expect_422(&r, "/signed_prekey");
    pt_resp_free(&r);

    /* The event is stored: sync and resume have it; c never got one. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/sync?since=%lld", (long long)pos_c);
    get_json(s, proto, &c, path, 200, &r);
    PL_ASSERT(!strstr(r.body, "keys.changed"));
    pt_resp_free(&r);
    get_json(s, proto, &b, "/v1/sync?since=0", 200, &r);
    PL_ASSERT(strstr(r.body, "keys.changed"));
    PL_ASSERT(strstr(r.body, ik));
    pt_resp_free(&r);
    pt_sse_close(sb);
    pt_sse_close(sa2);
    pt_sse_close(sc);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
