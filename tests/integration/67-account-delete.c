/* SPDX-License-Identifier: MIT */
/* Parley - integration: DELETE /v1/me (account deletion).              */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define EV_MS 10000

static const char *data_dir;

static struct pt_server *start(void)
{
    PL_ASSERT(sodium_init() >= 0);
    data_dir = pt_temp_dir("acctdel");
    const char *args[] = {"--data-dir", data_dir, NULL};
    return PT_SERVER_START(args);
}

/* Files under data_dir/blobs/m (two levels of fan-out at most). */
static int count_blobs(const char *sub)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/blobs/%s", data_dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char child[300], full[600];
        snprintf(child, sizeof(child), "%s/%s", sub, e->d_name);
        snprintf(full, sizeof(full), "%s/blobs/%s", data_dir, child);
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_blobs(child);
        else
            n++;
    }
    closedir(d);
    return n;
}

/* Reserves and uploads n random bytes as u; returns the media id. */
static int64_t upload(struct pt_server *s, enum pt_proto p, const struct pt_user *u, size_t n)
{
    char buf[256], sha[65];
    uint8_t h[32];
    PL_ASSERT(n <= sizeof(buf));
    randombytes_buf(buf, n);
    crypto_hash_sha256(h, (const uint8_t *)buf, n);
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
    PL_ASSERT_INT_EQ(pt_req(s, p, "PUT", url, NULL, "application/octet-stream", buf, n, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    return id;
}

static void delete_me(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                      const char *password, struct pt_resp *r)
{
    pt_reqf(s, p, "DELETE", u->token, r, "/v1/me", "{\"password\":\"%s\"}", password);
}

static void expect_stream_ends(struct pt_sse *st)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (;;) {
        struct pt_sse_event ev;
        int rc = pt_sse_next(st, 500, &ev);
        pt_sse_event_free(&ev);
        if (rc == PT_SSE_ENDED)
            return;
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the deleted account's stream is still open");
    }
}

/* The message of seq in conv's history as u sees it: its sender, or
 * PT_JSON_MISSING when it is not there; text into text. */
static int64_t history_sender(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                              int64_t conv, int64_t seq, char *text, size_t cap)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    struct pt_resp r;
    pt_get(s, p, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(msgs && YAJL_IS_ARRAY(msgs));
    int64_t sender = PT_JSON_MISSING;
    for (size_t i = 0; i < msgs->u.array.len; i++)
        if (pt_json_int(msgs->u.array.values[i], "seq", NULL) == seq) {
            sender = pt_json_int(msgs->u.array.values[i], "sender", NULL);
            const char *t = pt_json_str(msgs->u.array.values[i], "text", NULL);
            snprintf(text, cap, "%s", t ? t : "");
        }
    pt_resp_free(&r);
    return sender;
}

/* A bad or missing password changes nothing. */
PLTEST_PROTO(delete_needs_the_password)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "del_pw", &a);
    struct pt_resp r;
    delete_me(s, proto, &a, "not the password", &r);
    PT_ASSERT_PROBLEM(&r, 403, "wrong-password");
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", a.token, &r, "/v1/me", "{}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/password");
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", a.token, &r, "/v1/me", "{\"password\":7}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_reqf(s, proto, "DELETE", NULL, &r, "/v1/me", "{\"password\":\"%s\"}", PT_PASSWORD);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/me", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "username", NULL), a.name);
    PL_ASSERT(!pt_json_get(pt_json(&r), "deleted", NULL));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Sessions, streams, keys, groups and private uploads go; messages stay in
 * the others' history, from a "Deleted account"; the username is free. */
PLTEST_PROTO(delete_erases_the_account_and_keeps_others_history)
{
    struct pt_server *s = start();
    struct pt_user a, a2, b, c;
    PT_USER_NEW(s, proto, "del_a", &a);
    pt_user_device(s, proto, &a, &a2);
    PT_USER_NEW(s, proto, "del_b", &b);
    PT_USER_NEW(s, proto, "del_c", &c);
    struct pt_keys k;
    pt_keys_new(&k, 1);
    pt_keys_upload(s, proto, &a, &k, 1, 3);
    int64_t direct = PT_DIRECT(s, proto, &b, a.id, 201);
    int64_t members[] = {a.id, c.id};
    int64_t group = PT_GROUP(s, proto, &b, "del group", members, 2);
    struct pt_msg m1 = PT_SEND(s, proto, &a, direct, "direct words of a");
    struct pt_msg m2 = PT_SEND(s, proto, &a, group, "group words of a");
    /* One upload a message references (stays), one private (goes). */
    int64_t sent = upload(s, proto, &a, 100);
    upload(s, proto, &a, 120);
    struct pt_resp r;
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)direct);
    pt_reqf(s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"media-1\",\"kind\":\"media\",\"media\":{\"media_id\":%lld}}",
            (long long)sent);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_blobs("m"), 2);

    struct pt_sse *sa = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    struct pt_sse *sb = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    delete_me(s, proto, &a, PT_PASSWORD, &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);

    /* Tokens stop working at once; the other device's stream ends. */
    pt_get(s, proto, "/v1/me", a.token, &r);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/me", a2.token, &r);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    expect_stream_ends(sa);
    pt_sse_close(sa);
    /* The group heard a leave like any other. */
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sb, "member.removed", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), group);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), a.id);
    pt_sse_event_free(&ev);
    pt_sse_close(sb);

    /* The old credentials log nobody in. */
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            a.name, PT_PASSWORD);
    PL_ASSERT_INT_EQ(r.status, 401);
    pt_resp_free(&r);
    /* Keys and devices are gone. */
    snprintf(path, sizeof(path), "/v1/users/%lld/keys", (long long)a.id);
    pt_get(s, proto, path, b.token, &r);
    PL_ASSERT(!pt_json_get(pt_json(&r), "devices", "0", NULL));
    pt_resp_free(&r);
    /* The profile is a tombstone. */
    snprintf(path, sizeof(path), "/v1/users/%lld", (long long)a.id);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(pt_json(&r), "deleted", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "display_name", NULL), "Deleted account");
    PL_ASSERT(strcmp(pt_json_str(pt_json(&r), "username", NULL), a.name) != 0);
    pt_resp_free(&r);

    /* History keeps a's messages for the others, in both chats. */
    char text[128];
    PL_ASSERT_INT_EQ(history_sender(s, proto, &b, direct, m1.seq, text, sizeof(text)), a.id);
    PL_ASSERT_STR_EQ(text, "direct words of a");
    PL_ASSERT_INT_EQ(history_sender(s, proto, &c, group, m2.seq, text, sizeof(text)), a.id);
    PL_ASSERT_STR_EQ(text, "group words of a");
    /* The group lists b and c only; the direct chat shows a deleted peer. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)group);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "member_count", NULL), 2);
    yajl_val mem = pt_json_get(pt_json(&r), "members", NULL);
    PL_ASSERT(mem && YAJL_IS_ARRAY(mem));
    for (size_t i = 0; i < mem->u.array.len; i++)
        PL_ASSERT(pt_json_int(mem->u.array.values[i], "user_id", NULL) != a.id);
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)direct);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/conversations", b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    /* Search still finds what a wrote. */
    pt_search_wait();
    pt_get(s, proto, "/v1/search?q=words", b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strstr(r.body, "direct"));
    pt_resp_free(&r);
    /* The private upload's blob is gone, the sent one stays readable. */
    PL_ASSERT_INT_EQ(count_blobs("m"), 1);
    snprintf(path, sizeof(path), "/v1/media/%lld", (long long)sent);
    pt_get(s, proto, path, b.token, &r);
    PL_ASSERT_INT_EQ(r.status, 302);
    pt_resp_free(&r);

    /* The username is free again: a new account may take it. */
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/users", "{\"username\":\"%s\",\"password\":\"%s\"}",
            a.name, "another secret");
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT(pt_json_int(pt_json(&r), "id", NULL) != a.id);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
