/* SPDX-License-Identifier: MIT */
/* Parley - integration: direct conversations, sending, history.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 65536

static void msgs_path(char *buf, size_t cap, int64_t conv, const char *query)
{
    snprintf(buf, cap, "/v1/conversations/%lld/messages%s%s", (long long)conv,
             query && *query ? "?" : "", query ? query : "");
}

/* Posts a raw message body and returns the response (free it). */
static void post_msg(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                     int64_t conv, const char *body, struct pt_resp *r)
{
    char path[96];
    msgs_path(path, sizeof(path), conv, NULL);
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "POST", path, u->token, "application/json", body, strlen(body), r), 0);
}

/* Expects a 422 whose errors name pointer. */
static void expect_422(struct pt_resp *r, const char *pointer, const char *what)
{
    if (r->status != 422)
        pltest_fail(__FILE__, __LINE__, "%s: expected 422, got %ld: %.300s", what, r->status,
                    r->body);
    PT_ASSERT_PROBLEM(r, 422, "validation-failed");
    yajl_val errs = pt_json_get(pt_json(r), "errors", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(errs));
    for (size_t i = 0; i < errs->u.array.len; i++) {
        const char *p = pt_json_str(errs->u.array.values[i], "pointer", NULL);
        if (p && strcmp(p, pointer) == 0)
            return;
    }
    pltest_fail(__FILE__, __LINE__, "%s: no error points at %s: %.300s", what, pointer, r->body);
}

/* GET /v1/conversations/{id} lists exactly a and b. */
static void expect_members(struct pt_server *s, enum pt_proto proto, const struct pt_user *a,
                           int64_t conv, const struct pt_user *b)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, a->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val mem = pt_json_get(pt_json(&r), "members", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(mem) && mem->u.array.len == 2);
    for (size_t i = 0; i < 2; i++) {
        yajl_val m = mem->u.array.values[i];
        int64_t uid = pt_json_int(m, "user_id", NULL);
        PL_ASSERT(uid == a->id || uid == b->id);
        PL_ASSERT_STR_EQ(pt_json_str(m, "username", NULL), uid == a->id ? a->name : b->name);
        PL_ASSERT(pt_json_str(m, "display_name", NULL));
        PL_ASSERT(pt_json_str(m, "role", NULL));
        PL_ASSERT(pt_is_timestamp(pt_json_str(m, "joined_at", NULL)));
    }
    PL_ASSERT(pt_json_int(mem, "0", "user_id", NULL) != pt_json_int(mem, "1", "user_id", NULL));
    pt_resp_free(&r);
}

PLTEST_PROTO(direct_conversation_is_created_once)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "dir_a", &a);
    PT_USER_NEW(s, proto, "dir_b", &b);
    struct pt_resp r;
    char body[128];
    snprintf(body, sizeof(body), "{\"kind\":\"direct\",\"user\":%lld}", (long long)b.id);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    yajl_val t = pt_json(&r);
    int64_t id = pt_json_int(t, "id", NULL);
    PL_ASSERT(id > 0);
    PL_ASSERT_STR_EQ(pt_json_str(t, "kind", NULL), "direct");
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(t, "title", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(t, "encryption", NULL), "none");
    PL_ASSERT_INT_EQ(pt_json_int(t, "member_count", NULL), 2);
    PL_ASSERT_INT_EQ(pt_json_int(t, "last_seq", NULL), 0);
    PL_ASSERT_INT_EQ(pt_json_int(t, "unread_count", NULL), 0);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(t, "last_message", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(t, "created_at", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(t, "peer", "id", NULL), b.id);
    PL_ASSERT_STR_EQ(pt_json_str(t, "peer", "username", NULL), b.name);
    pt_resp_free(&r);
    /* Again from either side, by id or by username: the same one. */
    PL_ASSERT_INT_EQ(PT_DIRECT(s, proto, &a, b.id, 200), id);
    PL_ASSERT_INT_EQ(PT_DIRECT(s, proto, &b, a.id, 200), id);
    snprintf(body, sizeof(body), "{\"kind\":\"direct\",\"user\":\"%s\"}", a.name);
    pt_send_json(s, proto, "POST", "/v1/conversations", b.token, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), id);
    /* Seen from b, the peer is a. */
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "peer", "id", NULL), a.id);
    pt_resp_free(&r);
    expect_members(s, proto, &a, id, &b);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(direct_conversation_needs_another_existing_user)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "dir_self", &a);
    struct pt_resp r;
    char body[128];
    /* With myself, or with nobody. */
    snprintf(body, sizeof(body), "{\"kind\":\"direct\",\"user\":%lld}", (long long)a.id);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, body, &r);
    expect_422(&r, "/user", "direct with myself");
    pt_resp_free(&r);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token,
                 "{\"kind\":\"direct\",\"user\":999999999999}", &r);
    expect_422(&r, "/user", "direct with an unknown id");
    pt_resp_free(&r);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token,
                 "{\"kind\":\"direct\",\"user\":\"no_such_user_zz\"}", &r);
    expect_422(&r, "/user", "direct with an unknown name");
    pt_resp_free(&r);
    pt_send_json(s, proto, "POST", "/v1/conversations", a.token, "{\"kind\":\"channel\"}", &r);
    expect_422(&r, "/kind", "unknown kind");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void check_message(yajl_val m, const struct pt_user *from, int64_t conv, int64_t seq,
                          const char *cmid, const char *text)
{
    PL_ASSERT(pt_json_int(m, "id", NULL) > 0);
    PL_ASSERT_INT_EQ(pt_json_int(m, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_json_int(m, "seq", NULL), seq);
    PL_ASSERT_INT_EQ(pt_json_int(m, "sender", NULL), from->id);
    PL_ASSERT_INT_EQ(pt_json_int(m, "sender_device_id", NULL), from->device);
    PL_ASSERT_STR_EQ(pt_json_str(m, "client_msg_id", NULL), cmid);
    PL_ASSERT_STR_EQ(pt_json_str(m, "kind", NULL), "text");
    PL_ASSERT_STR_EQ(pt_json_str(m, "text", NULL), text);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(m, "reply_to", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(m, "created_at", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(m, "status", NULL), "sent");
}

PLTEST_PROTO(send_numbers_messages_and_is_idempotent)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, a2, b;
    PT_USER_NEW(s, proto, "send_a", &a);
    pt_user_device(s, proto, &a, &a2);
    PT_USER_NEW(s, proto, "send_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        char body[160], cmid[16], text[16];
        snprintf(cmid, sizeof(cmid), "c%d", i);
        snprintf(text, sizeof(text), "hello %d", i);
        snprintf(body, sizeof(body), "{\"client_msg_id\":\"%s\",\"kind\":\"text\",\"text\":\"%s\"}",
                 cmid, text);
        struct pt_resp r;
        post_msg(s, proto, &a, conv, body, &r);
        PT_ASSERT_STATUS(&r, 201);
        check_message(pt_json(&r), &a, conv, i + 1, cmid, text);
        ids[i] = pt_json_int(pt_json(&r), "id", NULL);
        PL_ASSERT(i == 0 || ids[i] > ids[i - 1]);
        pt_resp_free(&r);
    }
    /* The same client_msg_id from the same device: the stored message,
     * even when the retry's text differs; no new seq. */
    struct pt_resp r;
    post_msg(s, proto, &a, conv,
             "{\"client_msg_id\":\"c1\",\"kind\":\"text\",\"text\":\"hello 1\"}", &r);
    PT_ASSERT_STATUS(&r, 200);
    check_message(pt_json(&r), &a, conv, 2, "c1", "hello 1");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), ids[1]);
    pt_resp_free(&r);
    post_msg(s, proto, &a, conv,
             "{\"client_msg_id\":\"c1\",\"kind\":\"text\",\"text\":\"changed\"}", &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "seq", NULL), 2);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "text", NULL), "hello 1");
    pt_resp_free(&r);
    /* Another device may reuse the id: it is a new message, and seq has
     * no gap where the retries were. */
    post_msg(s, proto, &a2, conv, "{\"client_msg_id\":\"c1\",\"kind\":\"text\",\"text\":\"d2\"}",
             &r);
    PT_ASSERT_STATUS(&r, 201);
    check_message(pt_json(&r), &a2, conv, 4, "c1", "d2");
    pt_resp_free(&r);
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "from b");
    PL_ASSERT_INT_EQ(m.seq, 5);
    /* History holds exactly these five, the retried one once. */
    char path[96];
    msgs_path(path, sizeof(path), conv, NULL);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs) && msgs->u.array.len == 5);
    for (size_t i = 0; i < 5; i++)
        PL_ASSERT_INT_EQ(pt_json_int(msgs->u.array.values[i], "seq", NULL), (int64_t)i + 1);
    PL_ASSERT_INT_EQ(pt_json_int(msgs, "1", "id", NULL), ids[1]);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Fetches a page and compares its seqs (0-terminated) and has_more. */
static void expect_page(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                        int64_t conv, const char *query, const int64_t *want, int more)
{
    char path[128];
    msgs_path(path, sizeof(path), conv, query);
    struct pt_resp r;
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    size_t n = 0;
    while (want[n])
        n++;
    int ok = msgs->u.array.len == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = pt_json_int(msgs->u.array.values[i], "seq", NULL) == want[i];
    yajl_val hm = pt_json_get(pt_json(&r), "has_more", NULL);
    if (!ok || !(more ? YAJL_IS_TRUE(hm) : YAJL_IS_FALSE(hm)))
        pltest_fail(__FILE__, __LINE__,
                    "%s: expected %zu messages from seq %lld, has_more %d: %.400s", path, n,
                    (long long)want[0], more, r.body);
    pt_resp_free(&r);
}

PLTEST_PROTO(history_pages_by_seq)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "hist_a", &a);
    PT_USER_NEW(s, proto, "hist_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    for (int i = 0; i < 7; i++)
        PT_SEND(s, proto, i % 2 ? &a : &b, conv, "page me");
    expect_page(s, proto, &a, conv, NULL, (int64_t[]){1, 2, 3, 4, 5, 6, 7, 0}, 0);
    /* The newest page, then older ones. */
    expect_page(s, proto, &a, conv, "limit=3", (int64_t[]){5, 6, 7, 0}, 1);
    expect_page(s, proto, &a, conv, "before=5&limit=3", (int64_t[]){2, 3, 4, 0}, 1);
    expect_page(s, proto, &a, conv, "before=2&limit=3", (int64_t[]){1, 0}, 0);
    expect_page(s, proto, &a, conv, "before=1", (int64_t[]){0}, 0);
    /* Forward from a seq. */
    expect_page(s, proto, &b, conv, "after=4&limit=2", (int64_t[]){5, 6, 0}, 1);
    expect_page(s, proto, &b, conv, "after=6&limit=2", (int64_t[]){7, 0}, 0);
    expect_page(s, proto, &b, conv, "after=7", (int64_t[]){0}, 0);
    expect_page(s, proto, &b, conv, "after=0&limit=1", (int64_t[]){1, 0}, 1);
    expect_page(s, proto, &b, conv, "limit=200", (int64_t[]){1, 2, 3, 4, 5, 6, 7, 0}, 0);
    /* limit is 1..200; a bad query is a problem, the same kind each time. */
    const char *bad[] = {"limit=0", "limit=201", "limit=-1", "limit=abc", "before=x", NULL};
    long first = 0;
    for (size_t i = 0; bad[i]; i++) {
        char path[128];
        msgs_path(path, sizeof(path), conv, bad[i]);
        struct pt_resp r;
        pt_get(s, proto, path, a.token, &r);
        if (r.status != 400 && r.status != 422)
            pltest_fail(__FILE__, __LINE__, "%s: expected 400 or 422, got %ld: %.300s", path,
                        r.status, r.body);
        PT_ASSERT_PROBLEM(&r, r.status,
                          r.status == 400 ? "malformed-request" : "validation-failed");
        if (i < 2 && first && r.status != first)
            pltest_fail(__FILE__, __LINE__, "limit=0 gave %ld but limit=201 %ld", first, r.status);
        first = r.status;
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A body with a text of n bytes: ASCII, then unit (a UTF-8 sequence)
 * repeated to fill the end. */
static char *text_body(size_t n, const char *unit, size_t units)
{
    size_t ul = strlen(unit);
    PL_ASSERT(ul * units <= n);
    char *b = malloc(n + 128);
    PL_ASSERT(b);
    int h = sprintf(b, "{\"client_msg_id\":\"big%zu\",\"kind\":\"text\",\"text\":\"", n);
    memset(b + h, 'a', n - ul * units);
    char *p = b + h + n - ul * units;
    for (size_t i = 0; i < units; i++, p += ul)
        memcpy(p, unit, ul);
    strcpy(p, "\"}");
    return b;
}

PLTEST_PROTO(text_limits_and_kinds)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "lim_a", &a);
    PT_USER_NEW(s, proto, "lim_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_resp r;
    /* 65536 bytes, ending in a two-byte character: fits. */
    char *body = text_body(MAX_TEXT, "\xc3\xa9", 1);
    post_msg(s, proto, &a, conv, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_INT_EQ(strlen(pt_json_str(pt_json(&r), "text", NULL)), MAX_TEXT);
    pt_resp_free(&r);
    free(body);
    body = text_body(MAX_TEXT + 1, "\xc3\xa9", 1);
    post_msg(s, proto, &a, conv, body, &r);
    expect_422(&r, "/text", "65537 bytes");
    pt_resp_free(&r);
    free(body);
    /* The limit is in bytes: 21846 three-byte characters are too many. */
    body = text_body(21846 * 3, "\xe2\x82\xac", 21846);
    post_msg(s, proto, &a, conv, body, &r);
    expect_422(&r, "/text", "21846 euro signs");
    pt_resp_free(&r);
    free(body);
    struct {
        const char *body, *pointer;
    } bad[] = {
        {"{\"client_msg_id\":\"k1\",\"kind\":\"text\",\"text\":\"\"}", "/text"},
        {"{\"client_msg_id\":\"k2\",\"kind\":\"media\",\"text\":\"x\"}", "/kind"},
        {"{\"client_msg_id\":\"k3\",\"kind\":\"e2e\",\"text\":\"x\"}", "/kind"},
        {"{\"client_msg_id\":\"k4\",\"kind\":\"sticker\",\"text\":\"x\"}", "/kind"},
        {"{\"kind\":\"text\",\"text\":\"x\"}", "/client_msg_id"},
        {"{\"client_msg_id\":\"\",\"kind\":\"text\",\"text\":\"x\"}", "/client_msg_id"},
        {"{\"client_msg_id\":\"0123456789012345678901234567890123456789012345678901234567890123"
         "4\",\"kind\":\"text\",\"text\":\"x\"}",
         "/client_msg_id"},
        {"{\"client_msg_id\":\"k5\",\"kind\":\"text\",\"text\":7}", "/text"},
        {"{\"client_msg_id\":\"k6\",\"kind\":\"text\",\"text\":\"x\",\"reply_to\":99}",
         "/reply_to"},
        {"{\"client_msg_id\":\"k7\",\"kind\":\"text\",\"text\":\"x\",\"colour\":1}", "/colour"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        post_msg(s, proto, &a, conv, bad[i].body, &r);
        expect_422(&r, bad[i].pointer, bad[i].body);
        pt_resp_free(&r);
    }
    /* 64 characters of client_msg_id are fine; none of the failures above
     * took a seq. */
    post_msg(s, proto, &a, conv,
             "{\"client_msg_id\":\"0123456789012345678901234567890123456789012345678901234567890123"
             "\",\"kind\":\"text\",\"text\":\"x\"}",
             &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "seq", NULL), 2);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(reply_to_names_a_seq_of_this_conversation)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "reply_a", &a);
    PT_USER_NEW(s, proto, "reply_b", &b);
    PT_USER_NEW(s, proto, "reply_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t other = PT_DIRECT(s, proto, &a, c.id, 201);
    PT_SEND(s, proto, &a, conv, "question");
    for (int i = 0; i < 3; i++)
        PT_SEND(s, proto, &a, other, "elsewhere");
    struct pt_resp r;
    post_msg(s, proto, &b, conv,
             "{\"client_msg_id\":\"r1\",\"kind\":\"text\",\"text\":\"answer\",\"reply_to\":1}", &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "reply_to", NULL), 1);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "seq", NULL), 2);
    pt_resp_free(&r);
    /* seq 3 exists in the other conversation, not in this one. */
    post_msg(s, proto, &b, conv,
             "{\"client_msg_id\":\"r2\",\"kind\":\"text\",\"text\":\"no\",\"reply_to\":3}", &r);
    expect_422(&r, "/reply_to", "reply_to a seq of another conversation");
    pt_resp_free(&r);
    char path[96];
    msgs_path(path, sizeof(path), conv, "after=1");
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "messages", "0", "reply_to", NULL), 1);
    PL_ASSERT_INT_EQ(pt_json_get(pt_json(&r), "messages", NULL)->u.array.len, 1);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* GET /v1/conversations?limit=&cursor=: the ids in order, following
 * next_cursor to the end. */
static size_t list_all(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int limit,
                       int64_t *ids, size_t cap)
{
    char cursor[768] = "";
    size_t n = 0;
    for (int pages = 0; pages < 20; pages++) {
        char path[900];
        snprintf(path, sizeof(path), "/v1/conversations?limit=%d%s%s", limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        struct pt_resp r;
        pt_get(s, proto, path, u->token, &r);
        PT_ASSERT_STATUS(&r, 200);
        yajl_val list = pt_json_get(pt_json(&r), "conversations", NULL);
        PL_ASSERT(YAJL_IS_ARRAY(list) && list->u.array.len <= (size_t)limit);
        for (size_t i = 0; i < list->u.array.len; i++) {
            PL_ASSERT(n < cap);
            ids[n++] = pt_json_int(list->u.array.values[i], "id", NULL);
        }
        yajl_val next = pt_json_get(pt_json(&r), "next_cursor", NULL);
        if (YAJL_IS_NULL(next)) {
            pt_resp_free(&r);
            return n;
        }
        PL_ASSERT(YAJL_IS_STRING(next) && 3 * strlen(next->u.string) < sizeof(cursor));
        /* The cursor is opaque: percent-encode it as any client would. */
        char *o = cursor;
        for (const unsigned char *p = (const unsigned char *)next->u.string; *p; p++)
            o += strchr("-._~", *p) || (*p < 128 && isalnum(*p)) ? sprintf(o, "%c", *p)
                                                                 : sprintf(o, "%%%02X", *p);
        pt_resp_free(&r);
    }
    pltest_fail(__FILE__, __LINE__, "next_cursor never ended");
}

PLTEST_PROTO(conversation_list_by_recent_activity)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c, d;
    PT_USER_NEW(s, proto, "list_a", &a);
    PT_USER_NEW(s, proto, "list_b", &b);
    PT_USER_NEW(s, proto, "list_c", &c);
    PT_USER_NEW(s, proto, "list_d", &d);
    int64_t ab = PT_DIRECT(s, proto, &b, a.id, 201);
    int64_t ac = PT_DIRECT(s, proto, &c, a.id, 201);
    int64_t ad = PT_DIRECT(s, proto, &d, a.id, 201);
    PT_SEND(s, proto, &c, ac, "c1");
    PT_SEND(s, proto, &c, ac, "c2");
    PT_SEND(s, proto, &b, ab, "b1");
    /* Most recent activity first: ab (message), ac (message), ad. */
    int64_t ids[8];
    for (int limit = 1; limit <= 3; limit++) {
        PL_ASSERT_INT_EQ(list_all(s, proto, &a, limit, ids, 8), 3);
        PL_ASSERT_INT_EQ(ids[0], ab);
        PL_ASSERT_INT_EQ(ids[1], ac);
        PL_ASSERT_INT_EQ(ids[2], ad);
    }
    struct pt_resp r;
    pt_get(s, proto, "/v1/conversations", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val l = pt_json_get(pt_json(&r), "conversations", NULL);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "next_cursor", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(l, "0", "unread_count", NULL), 1);
    PL_ASSERT_INT_EQ(pt_json_int(l, "1", "unread_count", NULL), 2);
    PL_ASSERT_INT_EQ(pt_json_int(l, "2", "unread_count", NULL), 0);
    PL_ASSERT_STR_EQ(pt_json_str(l, "1", "last_message", "text", NULL), "c2");
    PL_ASSERT_INT_EQ(pt_json_int(l, "1", "last_message", "seq", NULL), 2);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(l, "2", "last_message", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(l, "1", "peer", "id", NULL), c.id);
    PL_ASSERT(pt_json_str(l, "0", "my_role", NULL));
    pt_resp_free(&r);
    /* Reading clears the count; activity in ad moves it to the top. */
    PT_RECEIPT(s, proto, &a, ac, "read", 2);
    PT_SEND(s, proto, &a, ad, "d1");
    PL_ASSERT_INT_EQ(list_all(s, proto, &a, 50, ids, 8), 3);
    PL_ASSERT_INT_EQ(ids[0], ad);
    PL_ASSERT_INT_EQ(ids[1], ab);
    PL_ASSERT_INT_EQ(ids[2], ac);
    pt_get(s, proto, "/v1/conversations", a.token, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "conversations", "2", "unread_count", NULL), 0);
    /* Own messages are never unread for their sender (issue 15, item 3). */
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "conversations", "0", "unread_count", NULL), 0);
    pt_resp_free(&r);
    PT_SEND(s, proto, &a, ad, "d2");
    PT_SEND(s, proto, &d, ad, "d3");
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)ad);
    pt_get(s, proto, path, a.token, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "unread_count", NULL), 1);
    pt_resp_free(&r);
    pt_get(s, proto, path, d.token, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "unread_count", NULL), 2);
    pt_resp_free(&r);
    /* A sender's own messages after a read watermark still do not count. */
    PT_RECEIPT(s, proto, &a, ad, "read", 3);
    PT_SEND(s, proto, &a, ad, "d4");
    pt_get(s, proto, path, a.token, &r);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "unread_count", NULL), 0);
    pt_resp_free(&r);
    /* b sees only its own conversation. */
    PL_ASSERT_INT_EQ(list_all(s, proto, &b, 10, ids, 8), 1);
    PL_ASSERT_INT_EQ(ids[0], ab);
    const char *bad[] = {"/v1/conversations?limit=0", "/v1/conversations?limit=101",
                         "/v1/conversations?cursor=%25%25garbage", NULL};
    for (size_t i = 0; bad[i]; i++) {
        pt_get(s, proto, bad[i], a.token, &r);
        if (r.status != 400 && r.status != 422)
            pltest_fail(__FILE__, __LINE__, "%s: expected 400 or 422, got %ld: %.300s", bad[i],
                        r.status, r.body);
        PT_ASSERT_PROBLEM(&r, r.status,
                          r.status == 400 ? "malformed-request" : "validation-failed");
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
