/* SPDX-License-Identifier: MIT */
/* Parley - integration: reactions to messages.                         */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000

#define THUMBS "%F0%9F%91%8D"           /* U+1F44D */
#define HEART "%E2%9D%A4%EF%B8%8F"      /* U+2764 U+FE0F */
#define FLAG "%F0%9F%87%AB%F0%9F%87%B7" /* regional F, R */
#define FAMILY                                                                                     \
    "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7" /* man ZWJ woman ZWJ girl             \
                                                              */

static long react(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int64_t conv,
                  int64_t seq, const char *method, const char *emoji)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld/reactions/%s",
             (long long)conv, (long long)seq, emoji);
    struct pt_resp r;
    pt_reqf(s, proto, method, u->token, &r, path, NULL);
    long st = r.status;
    if (st == 422)
        PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    return st;
}

/* "emoji:count:mine,..." of message seq as viewer sees it. Static. */
static const char *reactions(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                             int64_t conv, int64_t seq)
{
    static char out[512];
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    out[0] = '\0';
    for (size_t i = 0; i < msgs->u.array.len; i++) {
        yajl_val m = msgs->u.array.values[i];
        if (pt_json_int(m, "seq", NULL) != seq)
            continue;
        yajl_val rs = pt_json_get(m, "reactions", NULL);
        size_t n = 0;
        for (size_t k = 0; rs && YAJL_IS_ARRAY(rs) && k < rs->u.array.len; k++) {
            yajl_val x = rs->u.array.values[k];
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%lld:%s", k ? "," : "",
                                  pt_json_str(x, "emoji", NULL),
                                  (long long)pt_json_int(x, "count", NULL),
                                  YAJL_IS_TRUE(pt_json_get(x, "mine", NULL)) ? "mine" : "-");
        }
    }
    pt_resp_free(&r);
    return out;
}

/* One reaction per user per message, replaced by the next; counts and
 * "mine" in history; a reaction event for every change; bad emoji 422. */
PLTEST_PROTO(reactions_counted_per_user)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "rx_a", &a);
    PT_USER_NEW(s, proto, "rx_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_msg m = PT_SEND(s, proto, &a, conv, "lunch?");
    PT_SSE_EXPECT_MSG(as, m.id, EV_MS);

    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, m.seq, "PUT", THUMBS), 204);
    struct pt_sse_event ev = {0};
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "seq", NULL), m.seq);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "emoji", NULL), "\xF0\x9F\x91\x8D");
    pt_sse_event_free(&ev);
    PL_ASSERT_STR_EQ(reactions(s, proto, &a, conv, m.seq), "\xF0\x9F\x91\x8D:1:-");
    PL_ASSERT_STR_EQ(reactions(s, proto, &b, conv, m.seq), "\xF0\x9F\x91\x8D:1:mine");
    /* The same again changes nothing; another replaces it. */
    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, m.seq, "PUT", THUMBS), 204);
    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, m.seq, "PUT", HEART), 204);
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "emoji", NULL), "\xE2\x9D\xA4\xEF\xB8\x8F");
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(react(s, proto, &a, conv, m.seq, "PUT", HEART), 204);
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    pt_sse_event_free(&ev);
    PL_ASSERT_STR_EQ(reactions(s, proto, &a, conv, m.seq), "\xE2\x9D\xA4\xEF\xB8\x8F:2:mine");
    /* Flags and ZWJ sequences are one emoji each. */
    PL_ASSERT_INT_EQ(react(s, proto, &a, conv, m.seq, "PUT", FLAG), 204);
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(react(s, proto, &a, conv, m.seq, "PUT", FAMILY), 204);
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    pt_sse_event_free(&ev);
    /* Not one emoji: 422. */
    const char *bad[] = {"a", THUMBS THUMBS, "%F0%9F", "%E2%80%8D", "%20"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (react(s, proto, &a, conv, m.seq, "PUT", bad[i]) != 422)
            pltest_fail(__FILE__, __LINE__, "%s was taken as an emoji", bad[i]);
    /* Removing: the event carries emoji null; removing again is a no-op. */
    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, m.seq, "DELETE", HEART), 204);
    PT_SSE_EXPECT_NEXT(as, "reaction", EV_MS, &ev);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(ev.json, "emoji", NULL)));
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, m.seq, "DELETE", HEART), 204);
    PL_ASSERT_STR_EQ(
        reactions(s, proto, &b, conv, m.seq),
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7:1:-");
    /* Unknown messages are 404. */
    PL_ASSERT_INT_EQ(react(s, proto, &b, conv, 42, "PUT", THUMBS), 404);
    pt_sse_close(as);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
