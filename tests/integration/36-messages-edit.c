/* SPDX-License-Identifier: MIT */
/* Parley - integration: editing and deleting messages.                 */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000

/* The message at seq in viewer's history (a parsed copy kept in *r), or
 * NULL when the history does not show it. */
static yajl_val history_msg(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                            int64_t conv, int64_t seq, struct pt_resp *r)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_get(s, proto, path, viewer->token, r);
    PT_ASSERT_STATUS(r, 200);
    yajl_val msgs = pt_json_get(pt_json(r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    for (size_t i = 0; i < msgs->u.array.len; i++)
        if (pt_json_int(msgs->u.array.values[i], "seq", NULL) == seq)
            return msgs->u.array.values[i];
    return NULL;
}

/* The number of search hits for q (one plain word) as u. */
static size_t search_hits(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                          const char *q)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/search?q=%s", q);
    pt_search_wait();
    struct pt_resp r;
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val h = pt_json_get(pt_json(&r), "hits", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(h));
    size_t n = h->u.array.len;
    pt_resp_free(&r);
    return n;
}

static void msg_path(char *out, size_t n, int64_t conv, int64_t seq, const char *query)
{
    snprintf(out, n, "/v1/conversations/%lld/messages/%lld%s", (long long)conv, (long long)seq,
             query ? query : "");
}

/* The sender edits within the window: the answer, the peer's event and
 * history show the new text and edited_at; search sees only the new text;
 * anyone else gets 403, bad bodies 422, unknown messages 404. */
PLTEST_PROTO(sender_edits_a_message)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "edit_a", &a);
    PT_USER_NEW(s, proto, "edit_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_msg m = PT_SEND(s, proto, &a, conv, "meet at teh station");
    PT_SSE_EXPECT_MSG(bs, m.id, EV_MS);
    PL_ASSERT_INT_EQ(search_hits(s, proto, &a, "teh"), 1);

    char path[128];
    msg_path(path, sizeof(path), conv, m.seq, NULL);
    struct pt_resp r;
    pt_send_json(s, proto, "PATCH", path, a.token, "{\"text\":\"meet at the station\"}", &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "text", NULL), "meet at the station");
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "edited_at", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "seq", NULL), m.seq);
    pt_resp_free(&r);

    struct pt_sse_event ev = {0};
    PT_SSE_EXPECT_NEXT(bs, "message.edited", EV_MS, &ev);
    PL_ASSERT(ev.pos > m.id);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "seq", NULL), m.seq);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "text", NULL), "meet at the station");
    PL_ASSERT(pt_is_timestamp(pt_json_str(ev.json, "message", "edited_at", NULL)));
    pt_sse_event_free(&ev);

    yajl_val h = history_msg(s, proto, &b, conv, m.seq, &r);
    PL_ASSERT(h != NULL);
    PL_ASSERT_STR_EQ(pt_json_str(h, "text", NULL), "meet at the station");
    PL_ASSERT(pt_is_timestamp(pt_json_str(h, "edited_at", NULL)));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(search_hits(s, proto, &a, "teh"), 0);
    PL_ASSERT_INT_EQ(search_hits(s, proto, &b, "station"), 1);

    pt_send_json(s, proto, "PATCH", path, b.token, "{\"text\":\"mine now\"}", &r);
    PT_ASSERT_PROBLEM(&r, 403, "forbidden");
    pt_resp_free(&r);
    pt_send_json(s, proto, "PATCH", path, a.token, "{\"text\":\"\"}", &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_send_json(s, proto, "PATCH", path, a.token, "{}", &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    msg_path(path, sizeof(path), conv, 99, NULL);
    pt_send_json(s, proto, "PATCH", path, a.token, "{\"text\":\"x\"}", &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_sse_close(bs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Past edit_window (0 here: never) an edit is 409; past delete_window a
 * sender cannot delete for everyone (409) but still for itself. */
PLTEST_PROTO(windows_are_enforced)
{
    static const char *const args[] = {"--edit-window", "0", "--delete-window", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "win_a", &a);
    PT_USER_NEW(s, proto, "win_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_msg m = PT_SEND(s, proto, &a, conv, "too late");
    char path[128];
    msg_path(path, sizeof(path), conv, m.seq, NULL);
    struct pt_resp r;
    pt_send_json(s, proto, "PATCH", path, a.token, "{\"text\":\"fixed\"}", &r);
    PT_ASSERT_PROBLEM(&r, 409, "conflict");
    pt_resp_free(&r);
    msg_path(path, sizeof(path), conv, m.seq, "?for=everyone");
    pt_reqf(s, proto, "DELETE", a.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 409, "conflict");
    pt_resp_free(&r);
    msg_path(path, sizeof(path), conv, m.seq, "?for=me");
    pt_reqf(s, proto, "DELETE", a.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT(history_msg(s, proto, &a, conv, m.seq, &r) == NULL);
    pt_resp_free(&r);
    PL_ASSERT(history_msg(s, proto, &b, conv, m.seq, &r) != NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Deleting for everyone: the sender or a group admin only; text and
 * search entry are gone, a message.deleted event goes out, the ticks
 * stay; "for me" hides it from one member only. */
PLTEST_PROTO(delete_for_everyone_and_for_me)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "del_a", &a);
    PT_USER_NEW(s, proto, "del_b", &b);
    PT_USER_NEW(s, proto, "del_c", &c);
    int64_t members[] = {b.id, c.id};
    int64_t g = PT_GROUP(s, proto, &a, "Deletes", members, 2);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);
    struct pt_msg m1 = PT_SEND(s, proto, &a, g, "keep this");
    struct pt_msg m2 = PT_SEND(s, proto, &b, g, "secret pineapple");
    PT_SSE_EXPECT_MSG(cs, m1.id, EV_MS);
    PT_SSE_EXPECT_MSG(cs, m2.id, EV_MS);
    PT_RECEIPT(s, proto, &c, g, "read", 2);
    PT_RECEIPT(s, proto, &a, g, "read", 2);
    char path[128];
    struct pt_resp r;
    /* b is neither a's message's sender nor an admin. */
    msg_path(path, sizeof(path), g, m1.seq, "?for=everyone");
    pt_reqf(s, proto, "DELETE", b.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 403, "forbidden");
    pt_resp_free(&r);
    msg_path(path, sizeof(path), g, m1.seq, "?for=someone");
    pt_reqf(s, proto, "DELETE", a.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 400, "malformed-request");
    pt_resp_free(&r);
    /* a, the admin, deletes b's message for everyone. */
    PL_ASSERT_INT_EQ(search_hits(s, proto, &c, "pineapple"), 1);
    msg_path(path, sizeof(path), g, m2.seq, "?for=everyone");
    pt_reqf(s, proto, "DELETE", a.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct pt_sse_event ev = {0};
    /* The receipts of the reads above come first. */
    do {
        pt_sse_event_free(&ev);
        PL_ASSERT_INT_EQ(pt_sse_next_durable(cs, EV_MS, &ev), 0);
    } while (strcmp(ev.name, "receipt") == 0);
    PL_ASSERT_STR_EQ(ev.name, "message.deleted");
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "seq", NULL), m2.seq);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "by", NULL), a.id);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "kind", NULL), "deleted");
    pt_sse_event_free(&ev);
    yajl_val h = history_msg(s, proto, &b, g, m2.seq, &r);
    PL_ASSERT(h != NULL);
    PL_ASSERT_STR_EQ(pt_json_str(h, "kind", NULL), "deleted");
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(h, "text", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(h, "deleted_at", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(h, "status", NULL), "read"); /* the ticks stay */
    PL_ASSERT(strstr(r.body, "pineapple") == NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(search_hits(s, proto, &c, "pineapple"), 0);
    /* A resume from before it replays the stored message.created: erased too. */
    char lei[24];
    snprintf(lei, sizeof(lei), "%lld", (long long)(m2.id - 1));
    struct pt_sse *rs = pt_sse_open(s, proto, c.token, lei);
    do {
        pt_sse_event_free(&ev);
        PL_ASSERT_INT_EQ(pt_sse_next_durable(rs, EV_MS, &ev), 0);
    } while (ev.pos != m2.id);
    PL_ASSERT_STR_EQ(ev.name, "message.created");
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "kind", NULL), "deleted");
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(ev.json, "message", "text", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(ev.json, "message", "deleted_at", NULL)));
    PL_ASSERT(strstr(ev.data, "pineapple") == NULL);
    pt_sse_event_free(&ev);
    pt_sse_close(rs);
    /* A deleted message cannot be edited any more. */
    msg_path(path, sizeof(path), g, m2.seq, NULL);
    pt_send_json(s, proto, "PATCH", path, b.token, "{\"text\":\"back\"}", &r);
    PT_ASSERT_PROBLEM(&r, 409, "conflict");
    pt_resp_free(&r);
    /* c hides a's message from itself only. */
    msg_path(path, sizeof(path), g, m1.seq, "?for=me");
    pt_reqf(s, proto, "DELETE", c.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT(history_msg(s, proto, &c, g, m1.seq, &r) == NULL);
    pt_resp_free(&r);
    h = history_msg(s, proto, &b, g, m1.seq, &r);
    PL_ASSERT(h != NULL);
    PL_ASSERT_STR_EQ(pt_json_str(h, "text", NULL), "keep this");
    pt_resp_free(&r);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
