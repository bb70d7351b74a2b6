/* SPDX-License-Identifier: MIT */
/* Parley - integration: e2e messages, projected per device.            */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

#include <inttypes.h>
#include <sys/stat.h>

/*
 * Each device must only ever see its own ciphertext: on its stream (live
 * and replayed), in /v1/sync and in history. The tests give every device
 * a different random ciphertext and look for the others' in every byte a
 * device receives.
 */

struct rcpt {
    const struct pt_user *dev;
    const char *type;
    const char *ct;
};

/* Posts an e2e message; group and media (a JSON array) may be NULL. */
static void send_e2e(struct pt_server *s, enum pt_proto p, const struct pt_user *from, int64_t conv,
                     const char *cmid, const struct rcpt *r, unsigned n, const char *group,
                     const char *media, struct pt_resp *out)
{
    size_t cap = 1024;
    for (unsigned i = 0; i < n; i++)
        cap += strlen(r[i].ct) + 96;
    cap += group ? strlen(group) : 0;
    char *b = malloc(cap);
    PL_ASSERT(b);
    size_t o = (size_t)snprintf(b, cap,
                                "{\"client_msg_id\":\"%s\",\"kind\":\"e2e\",\"e2e\":{"
                                "\"recipients\":[",
                                cmid);
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o,
                              "%s{\"device_id\":%lld,\"type\":\"%s\",\"ciphertext\":\"%s\"}",
                              i ? "," : "", (long long)r[i].dev->device, r[i].type, r[i].ct);
    o += (size_t)snprintf(b + o, cap - o, "]");
    if (group)
        o += (size_t)snprintf(b + o, cap - o, ",\"group\":\"%s\"", group);
    if (media)
        o += (size_t)snprintf(b + o, cap - o, ",\"media_ids\":%s", media);
    snprintf(b + o, cap - o, "}}");
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_send_json(s, p, "POST", path, from->token, b, out);
    free(b);
}

/* Checks one Message object as device `me` must see it: its own entry
 * (ct NULL: none) and none of the others in the whole of raw. */
static void check_e2e(yajl_val m, const char *raw, const struct pt_user *me,
                      const struct pt_user *sender, const char *type, const char *ct,
                      const char *const *all, unsigned n_all, const char *group)
{
    PL_ASSERT(m);
    PL_ASSERT_STR_EQ(pt_json_str(m, "kind", NULL), "e2e");
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(m, "text", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(m, "e2e", "sender_device", NULL), sender->device);
    if (ct) {
        PL_ASSERT_STR_EQ(pt_json_str(m, "e2e", "ciphertext", NULL), ct);
        PL_ASSERT_STR_EQ(pt_json_str(m, "e2e", "type", NULL), type);
    } else {
        PL_ASSERT(YAJL_IS_NULL(pt_json_get(m, "e2e", "ciphertext", NULL)));
        PL_ASSERT(YAJL_IS_NULL(pt_json_get(m, "e2e", "type", NULL)));
    }
    if (group)
        PL_ASSERT_STR_EQ(pt_json_str(m, "e2e", "group", NULL), group);
    else
        PL_ASSERT(YAJL_IS_NULL(pt_json_get(m, "e2e", "group", NULL)));
    for (unsigned i = 0; i < n_all; i++)
        if (!ct || strcmp(all[i], ct) != 0)
            if (strstr(raw, all[i]))
                pltest_fail(__FILE__, __LINE__, "device %lld received another device's ciphertext",
                            (long long)me->device);
    PL_ASSERT(!strstr(raw, "e2e_for"));
    (void)me;
}

static void check_event(struct pt_sse *sse, const struct pt_user *me, const struct pt_user *sender,
                        const char *type, const char *ct, const char *const *all, unsigned n_all,
                        const char *group)
{
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sse, "message.created", PT_EV_MS, &ev);
    check_e2e(pt_json_get(ev.json, "message", NULL), ev.data, me, sender, type, ct, all, n_all,
              group);
    pt_sse_event_free(&ev);
}

static void check_sync(struct pt_server *s, enum pt_proto p, const struct pt_user *me,
                       int64_t since, const struct pt_user *sender, const char *type,
                       const char *ct, const char *const *all, unsigned n_all)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/sync?since=%lld", (long long)since);
    struct pt_resp r;
    pt_get(s, p, path, me->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val evs = pt_json_get(pt_json(&r), "events", NULL);
    yajl_val m = NULL;
    for (size_t i = 0; evs && i < evs->u.array.len && !m; i++)
        if (!strcmp(pt_json_str(evs->u.array.values[i], "event", NULL), "message.created"))
            m = pt_json_get(evs->u.array.values[i], "data", "message", NULL);
    check_e2e(m, r.body, me, sender, type, ct, all, n_all, NULL);
    pt_resp_free(&r);
}

static void check_history(struct pt_server *s, enum pt_proto p, const struct pt_user *me,
                          int64_t conv, const struct pt_user *sender, const char *type,
                          const char *ct, const char *const *all, unsigned n_all)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    struct pt_resp r;
    pt_get(s, p, path, me->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    check_e2e(pt_json_get(pt_json(&r), "messages", "0", NULL), r.body, me, sender, type, ct, all,
              n_all, NULL);
    pt_resp_free(&r);
}

/* a1, a2 (alice) and b1, b2 (bob), every device with keys. */
struct four {
    struct pt_user a1, a2, b1, b2;
};

static void four_new(struct pt_server *s, enum pt_proto p, struct four *f)
{
    PT_USER_NEW(s, p, "e2e_alice", &f->a1);
    pt_user_device(s, p, &f->a1, &f->a2);
    PT_USER_NEW(s, p, "e2e_bob", &f->b1);
    pt_user_device(s, p, &f->b1, &f->b2);
    const struct pt_user *d[] = {&f->a1, &f->a2, &f->b1, &f->b2};
    for (int i = 0; i < 4; i++) {
        struct pt_keys k;
        pt_keys_new(&k, 1);
        pt_keys_upload(s, p, d[i], &k, 1, 3);
    }
}

PLTEST_PROTO(every_device_sees_only_its_own_ciphertext)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct four f;
    four_new(s, proto, &f);
    int64_t conv = pt_e2e_direct(s, proto, &f.a1, f.b1.id, 201);
    const struct pt_user *dev[4] = {&f.a1, &f.a2, &f.b1, &f.b2};
    struct pt_sse *st[4];
    int64_t pos0;
    for (int i = 0; i < 4; i++)
        st[i] = PT_SSE_OPEN_READY(s, proto, dev[i]->token, i == 0 ? &pos0 : NULL);
    char *ct[4] = {NULL, pt_random_ct(48), pt_random_ct(64), pt_random_ct(80)};
    const char *type[4] = {NULL, "message", "prekey", "prekey"};
    const char *all[3] = {ct[1], ct[2], ct[3]};
    struct rcpt r[3] = {
        {&f.a2, "message", ct[1]}, {&f.b1, "prekey", ct[2]}, {&f.b2, "prekey", ct[3]}};
    struct pt_resp resp;
    send_e2e(s, proto, &f.a1, conv, "e2e-1", r, 3, NULL, NULL, &resp);
    PT_ASSERT_STATUS(&resp, 201);
    /* The sending device's copy has no ciphertext. */
    check_e2e(pt_json(&resp), resp.body, &f.a1, &f.a1, NULL, NULL, all, 3, NULL);
    PL_ASSERT(YAJL_IS_ARRAY(pt_json_get(pt_json(&resp), "e2e", "media_ids", NULL)));
    pt_resp_free(&resp);

    /* Live: each stream, the sender's other device included. */
    for (int i = 0; i < 4; i++)
        check_event(st[i], dev[i], &f.a1, type[i], ct[i], all, 3, NULL);
    /* Sync and history. */
    for (int i = 0; i < 4; i++) {
        check_sync(s, proto, dev[i], pos0, &f.a1, type[i], ct[i], all, 3);
        check_history(s, proto, dev[i], conv, &f.a1, type[i], ct[i], all, 3);
    }
    /* A resumed stream replays it projected too. */
    char last[32];
    snprintf(last, sizeof(last), "%lld", (long long)pos0);
    for (int i = 0; i < 4; i++) {
        struct pt_sse_opts o = {.token = dev[i]->token, .last_event_id = last};
        struct pt_sse *re;
        PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &re), 0);
        check_event(re, dev[i], &f.a1, type[i], ct[i], all, 3, NULL);
        pt_sse_close(re);
    }
    /* Another sender, another projection. */
    send_e2e(s, proto, &f.b2, conv, "e2e-2",
             (struct rcpt[]){
                 {&f.a1, "message", ct[1]}, {&f.a2, "message", ct[2]}, {&f.b1, "message", ct[3]}},
             3, NULL, NULL, &resp);
    PT_ASSERT_STATUS(&resp, 201);
    pt_resp_free(&resp);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(st[0], "message.created", PT_EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_json_int(ev.json, "message", "e2e", "sender_device", NULL), f.b2.device);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "e2e", "ciphertext", NULL), ct[1]);
    pt_sse_event_free(&ev);
    for (int i = 0; i < 4; i++) {
        pt_sse_close(st[i]);
        free(ct[i]);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Expects a 409 devices-changed naming exactly the devices given. */
static void expect_409(struct pt_resp *r, const int64_t *missing, unsigned n_missing,
                       const int64_t *extra, unsigned n_extra)
{
    PT_ASSERT_PROBLEM(r, 409, "devices-changed");
    yajl_val m = pt_json_get(pt_json(r), "missing_devices", NULL);
    yajl_val x = pt_json_get(pt_json(r), "extra_devices", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(m) && YAJL_IS_ARRAY(x));
    PL_ASSERT_INT_EQ(m->u.array.len, n_missing);
    PL_ASSERT_INT_EQ(x->u.array.len, n_extra);
    for (unsigned i = 0; i < n_missing; i++) {
        bool found = false;
        for (unsigned k = 0; k < n_missing && !found; k++)
            found = pt_json_int(m->u.array.values[k], "device_id", NULL) == missing[i];
        PL_ASSERT(found);
    }
    for (unsigned i = 0; i < n_extra; i++)
        PL_ASSERT_INT_EQ(pt_json_int(x->u.array.values[i], "device_id", NULL), extra[i]);
}

PLTEST_PROTO(wrong_device_sets_get_409_and_a_retry_succeeds)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct four f;
    four_new(s, proto, &f);
    int64_t conv = pt_e2e_direct(s, proto, &f.a1, f.b1.id, 201);
    char *ct = pt_random_ct(32);
    struct pt_resp r;
    /* Missing the sender's other device and one of bob's. */
    send_e2e(s, proto, &f.a1, conv, "retry-1", (struct rcpt[]){{&f.b1, "prekey", ct}}, 1, NULL,
             NULL, &r);
    expect_409(&r, (int64_t[]){f.a2.device, f.b2.device}, 2, NULL, 0);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "missing_devices", "0", "user_id", NULL), f.a1.id);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "missing_devices", "1", "user_id", NULL), f.b1.id);
    pt_resp_free(&r);
    /* The sending device itself is extra. */
    struct rcpt full[4] = {{&f.a2, "message", ct},
                           {&f.b1, "prekey", ct},
                           {&f.b2, "prekey", ct},
                           {&f.a1, "message", ct}};
    send_e2e(s, proto, &f.a1, conv, "retry-1", full, 4, NULL, NULL, &r);
    expect_409(&r, NULL, 0, (int64_t[]){f.a1.device}, 1);
    pt_resp_free(&r);
    /* Nothing was stored: the same client_msg_id with the right set is new. */
    send_e2e(s, proto, &f.a1, conv, "retry-1", full, 3, NULL, NULL, &r);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    send_e2e(s, proto, &f.a1, conv, "retry-1", full, 3, NULL, NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), id);
    pt_resp_free(&r);
    /* bob's laptop logs out: it is extra from now on. */
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", f.b2.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    send_e2e(s, proto, &f.a1, conv, "retry-2", full, 3, NULL, NULL, &r);
    expect_409(&r, NULL, 0, (int64_t[]){f.b2.device}, 1);
    pt_resp_free(&r);
    send_e2e(s, proto, &f.a1, conv, "retry-2", full, 2, NULL, NULL, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    free(ct);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(group_sender_key_form)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct four f;
    four_new(s, proto, &f);
    struct pt_user c, out;
    PT_USER_NEW(s, proto, "e2e_carol", &c);
    PT_USER_NEW(s, proto, "e2e_out", &out);
    struct pt_keys k;
    pt_keys_new(&k, 1);
    pt_keys_upload(s, proto, &c, &k, 1, 1);
    pt_keys_upload(s, proto, &out, &k, 1, 1);
    struct pt_resp r;
    char body[160];
    snprintf(body, sizeof(body),
             "{\"kind\":\"group\",\"title\":\"Secret\",\"members\":[%lld,%lld],"
             "\"encryption\":\"e2e\"}",
             (long long)f.b1.id, (long long)c.id);
    pt_send_json(s, proto, "POST", "/v1/conversations", f.a1.token, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "encryption", NULL), "e2e");
    int64_t g = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    const struct pt_user *dev[5] = {&f.a1, &f.a2, &f.b1, &f.b2, &c};
    struct pt_sse *st[5];
    for (int i = 0; i < 5; i++)
        st[i] = PT_SSE_OPEN_READY(s, proto, dev[i]->token, NULL);
    char *grp = pt_random_ct(100), *skd = pt_random_ct(40);
    const char *all[] = {skd};
    /* A sender-key distribution to bob's phone only, and one group
     * ciphertext for everybody. */
    send_e2e(s, proto, &f.a1, g, "grp-1", (struct rcpt[]){{&f.b1, "prekey", skd}}, 1, grp, NULL,
             &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    for (int i = 0; i < 5; i++)
        check_event(st[i], dev[i], &f.a1, i == 2 ? "prekey" : NULL, i == 2 ? skd : NULL, all, 1,
                    grp);
    /* Not to a device outside the group; pairwise still needs all. */
    send_e2e(s, proto, &f.a1, g, "grp-2", (struct rcpt[]){{&out, "prekey", skd}}, 1, grp, NULL, &r);
    expect_409(&r, NULL, 0, (int64_t[]){out.device}, 1);
    pt_resp_free(&r);
    send_e2e(s, proto, &f.a1, g, "grp-2",
             (struct rcpt[]){{&f.a2, "message", skd}, {&f.b1, "message", skd}}, 2, NULL, NULL, &r);
    expect_409(&r, (int64_t[]){f.b2.device, c.device}, 2, NULL, 0);
    pt_resp_free(&r);
    for (int i = 0; i < 5; i++)
        pt_sse_close(st[i]);
    free(grp);
    free(skd);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void expect_422_at(struct pt_resp *r, const char *pointer)
{
    PT_ASSERT_PROBLEM(r, 422, "validation-failed");
    yajl_val errs = pt_json_get(pt_json(r), "errors", NULL);
    for (size_t i = 0; errs && i < errs->u.array.len; i++) {
        const char *ptr = pt_json_str(errs->u.array.values[i], "pointer", NULL);
        if (ptr && strcmp(ptr, pointer) == 0)
            return;
    }
    pltest_fail(__FILE__, __LINE__, "no error at %s: %.300s", pointer, r->body);
}

PLTEST_PROTO(kinds_must_match_the_conversation_encryption)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct four f;
    four_new(s, proto, &f);
    struct pt_user eve;
    PT_USER_NEW(s, proto, "e2e_eve", &eve);
    int64_t plain = PT_DIRECT(s, proto, &f.a1, f.b1.id, 201);
    int64_t e2e = pt_e2e_direct(s, proto, &f.a1, f.b1.id, 201);
    PL_ASSERT(plain != e2e);
    PL_ASSERT_INT_EQ(pt_e2e_direct(s, proto, &f.b2, f.a1.id, 200), e2e);
    PL_ASSERT_INT_EQ(PT_DIRECT(s, proto, &f.b2, f.a1.id, 200), plain);
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)e2e);
    pt_get(s, proto, path, f.b1.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "encryption", NULL), "e2e");
    pt_resp_free(&r);
    pt_send_json(s, proto, "POST", "/v1/conversations", f.a1.token,
                 "{\"kind\":\"group\",\"title\":\"x\",\"encryption\":\"rot13\"}", &r);
    expect_422_at(&r, "/encryption");
    pt_resp_free(&r);

    /* Text into an e2e conversation; e2e into a plain one. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)e2e);
    pt_send_json(s, proto, "POST", path, f.a1.token,
                 "{\"client_msg_id\":\"t1\",\"kind\":\"text\",\"text\":\"leak\"}", &r);
    expect_422_at(&r, "/kind");
    pt_resp_free(&r);
    char *ct = pt_random_ct(16);
    struct rcpt full[3] = {{&f.a2, "message", ct}, {&f.b1, "message", ct}, {&f.b2, "message", ct}};
    send_e2e(s, proto, &f.a1, plain, "t2", full, 3, NULL, NULL, &r);
    expect_422_at(&r, "/kind");
    pt_resp_free(&r);
    /* Envelope shapes and sizes. */
    struct rcpt bad[3] = {
        {&f.a2, "message", "not base64!"}, {&f.b1, "whisper", ct}, {&f.b2, "message", ct}};
    send_e2e(s, proto, &f.a1, e2e, "t3", bad, 3, NULL, NULL, &r);
    expect_422_at(&r, "/e2e/recipients/0");
    expect_422_at(&r, "/e2e/recipients/1");
    pt_resp_free(&r);
    char *huge = pt_random_ct(128 * 1024 + 1);
    bad[0].ct = huge;
    bad[1].type = "message";
    send_e2e(s, proto, &f.a1, e2e, "t4", bad, 3, NULL, NULL, &r);
    expect_422_at(&r, "/e2e/recipients/0");
    pt_resp_free(&r);
    send_e2e(s, proto, &f.a1, e2e, "t5", full, 3, "@@", "[0]", &r);
    expect_422_at(&r, "/e2e/group");
    expect_422_at(&r, "/e2e/media_ids");
    pt_resp_free(&r);
    pt_send_json(s, proto, "POST", path, f.a1.token,
                 "{\"client_msg_id\":\"t6\",\"kind\":\"e2e\",\"e2e\":{\"recipients\":[],"
                 "\"secret\":1}}",
                 &r);
    expect_422_at(&r, "/e2e");
    pt_resp_free(&r);
    /* Not a member: 404, as for every other send. */
    send_e2e(s, proto, &eve, e2e, "t7", full, 3, NULL, NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    free(ct);
    free(huge);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(receipts_typing_and_presence_work_in_e2e_conversations)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "e2e_tick_a", &a);
    PT_USER_NEW(s, proto, "e2e_tick_b", &b);
    struct pt_keys k;
    pt_keys_new(&k, 1);
    pt_keys_upload(s, proto, &a, &k, 1, 1);
    pt_keys_upload(s, proto, &b, &k, 1, 1);
    int64_t conv = pt_e2e_direct(s, proto, &a, b.id, 201);
    struct pt_sse *sa = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_sse *sb = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    char *ct = pt_random_ct(24);
    struct pt_resp r;
    send_e2e(s, proto, &a, conv, "tick-1", (struct rcpt[]){{&b, "prekey", ct}}, 1, NULL, NULL, &r);
    PT_ASSERT_STATUS(&r, 201);
    int64_t seq = pt_json_int(pt_json(&r), "seq", NULL);
    pt_resp_free(&r);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sb, "message.created", PT_EV_MS, &ev);
    pt_sse_event_free(&ev);

    PT_RECEIPT(s, proto, &b, conv, "delivered", seq);
    PT_SSE_EXPECT(sa, "message.status", PT_EV_MS, &ev);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "status", NULL), "delivered");
    pt_sse_event_free(&ev);
    PT_RECEIPT(s, proto, &b, conv, "read", seq);
    PT_SSE_EXPECT(sa, "message.status", PT_EV_MS, &ev);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "status", NULL), "read");
    pt_sse_event_free(&ev);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "messages", "0", "status", NULL), "read");
    pt_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)conv);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", path, b.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PT_SSE_EXPECT(sa, "typing", PT_EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), conv);
    pt_sse_event_free(&ev);

    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)b.id);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "status", NULL), "online");
    pt_resp_free(&r);
    pt_sse_close(sa);
    pt_sse_close(sb);
    free(ct);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- media references ---- */

/* Reserves and uploads n random bytes as u (the ciphertext of a file, as
 * far as the server can tell); returns the media id. */
static int64_t upload_blob(struct pt_server *s, enum pt_proto p, const struct pt_user *u, size_t n)
{
    unsigned char *buf = malloc(n);
    uint8_t h[32];
    char sha[65];
    PL_ASSERT(buf);
    randombytes_buf(buf, n);
    crypto_hash_sha256(h, buf, n);
    sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
    struct pt_resp r;
    pt_reqf(s, p, "POST", u->token, &r, "/v1/media",
            "{\"content_type\":\"application/octet-stream\",\"size\":%zu,\"sha256\":\"%s\"}", n,
            sha);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "media_id", NULL);
    char url[512];
    snprintf(url, sizeof(url), "%s", pt_json_str(pt_json(&r), "upload_url", NULL));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(
        pt_req(s, p, "PUT", url, NULL, "application/octet-stream", (const char *)buf, n, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    free(buf);
    return id;
}

static long media_status(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t id)
{
    char path[64];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/media/%" PRId64, id);
    pt_get(s, p, path, u->token, &r);
    long st = r.status;
    if (st != 302)
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    return st;
}

PLTEST_PROTO(media_ids_let_members_download)
{
    PL_ASSERT(sodium_init() >= 0);
    const char *args[] = {"--data-dir", pt_temp_dir("e2e"), NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "e2e_med_a", &a);
    PT_USER_NEW(s, proto, "e2e_med_b", &b);
    PT_USER_NEW(s, proto, "e2e_med_c", &c);
    struct pt_keys k;
    pt_keys_new(&k, 1);
    pt_keys_upload(s, proto, &a, &k, 1, 1);
    pt_keys_upload(s, proto, &b, &k, 1, 1);
    int64_t conv = pt_e2e_direct(s, proto, &a, b.id, 201);
    int64_t id = upload_blob(s, proto, &a, 4096);
    PL_ASSERT_INT_EQ(media_status(s, proto, &b, id), 404);
    char *ct = pt_random_ct(64);
    char media[64];
    struct pt_resp r;
    /* Only the sender's own completed uploads. */
    send_e2e(s, proto, &a, conv, "med-0", (struct rcpt[]){{&b, "prekey", ct}}, 1, NULL,
             "[999999999]", &r);
    expect_422_at(&r, "/e2e/media_ids");
    pt_resp_free(&r);
    snprintf(media, sizeof(media), "[%" PRId64 "]", id);
    send_e2e(s, proto, &b, conv, "med-1", (struct rcpt[]){{&a, "prekey", ct}}, 1, NULL, media, &r);
    expect_422_at(&r, "/e2e/media_ids");
    pt_resp_free(&r);
    send_e2e(s, proto, &a, conv, "med-2", (struct rcpt[]){{&b, "prekey", ct}}, 1, NULL, media, &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "e2e", "media_ids", "0", NULL), id);
    pt_resp_free(&r);
    /* Now a member may download it; anyone else still may not. */
    PL_ASSERT_INT_EQ(media_status(s, proto, &b, id), 302);
    PL_ASSERT_INT_EQ(media_status(s, proto, &c, id), 404);
    free(ct);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
