/* SPDX-License-Identifier: MIT */
/* Parley - integration: GET /v1/search (relevance, permissions, abuse).*/
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Percent-encodes s (every byte but unreserved ones) into a static buffer
 * large enough for the 10 KiB queries below. */
static const char *pct(const char *s, size_t n)
{
    static char out[3 * 16384 + 1];
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    PL_ASSERT(n <= 16384);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

/* GET /v1/search?q=<q>&<extra> as u; fills *r. */
static void search_raw(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                       const char *q_encoded, const char *extra, struct pt_resp *r)
{
    static char path[3 * 16384 + 512];
    pt_search_wait();
    snprintf(path, sizeof(path), "/v1/search?q=%s%s%s", q_encoded, extra ? "&" : "",
             extra ? extra : "");
    pt_get(s, p, path, u->token, r);
}

/* The hits of query q as u (expects 200), as seqs of conversation conv in
 * rank order: "3,1" (hits elsewhere print as "c<id>:<seq>"). Checks the
 * shape of every hit. Static storage. */
static const char *hits(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                        const char *q, int64_t conv)
{
    static char out[1024];
    struct pt_resp r;
    search_raw(s, p, u, pct(q, strlen(q)), NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val h = pt_json_get(pt_json(&r), "hits", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(h));
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < h->u.array.len; i++) {
        yajl_val e = h->u.array.values[i];
        PL_ASSERT(pt_json_int(e, "id", NULL) > 0);
        PL_ASSERT(pt_json_int(e, "sender", NULL) > 0);
        PL_ASSERT(pt_is_timestamp(pt_json_str(e, "created_at", NULL)));
        PL_ASSERT(pt_json_str(e, "snippet", NULL) != NULL);
        int64_t c = pt_json_int(e, "conversation_id", NULL), seq = pt_json_int(e, "seq", NULL);
        if (c == conv)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%lld", i ? "," : "", (long long)seq);
        else
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%sc%lld:%lld", i ? "," : "",
                                  (long long)c, (long long)seq);
        PL_ASSERT(n < sizeof(out));
    }
    pt_resp_free(&r);
    return out;
}

/* The same set of hits in any order: the seqs sorted ascending. */
static const char *sorted(const char *list)
{
    static char out[1024];
    long v[64];
    int n = 0;
    for (const char *p = list; *p && n < 64;) {
        v[n++] = strtol(p, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            long t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%ld", i ? "," : "", v[i]);
    return out;
}

PLTEST_PROTO(phrase_or_exclusion_and_snippets)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "srch_a", &a);
    PT_USER_NEW(s, proto, "srch_b", &b);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_SEND(s, proto, &a, dm, "the quick brown fox jumps over the fence");    /* 1 */
    PT_SEND(s, proto, &b, dm, "a lazy dog sleeps all day");                   /* 2 */
    PT_SEND(s, proto, &a, dm, "quick thinking saves the day");                /* 3 */
    PT_SEND(s, proto, &b, dm, "a brown bear chased a red fox");               /* 4 */
    PT_SEND(s, proto, &a, dm, "<script>alert(1)</script> & the fox escapes"); /* 5 */

    PL_ASSERT_STR_EQ(sorted(hits(s, proto, &a, "fox", dm)), "1,4,5");
    PL_ASSERT_STR_EQ(hits(s, proto, &a, "\"brown fox\"", dm), "1");
    PL_ASSERT_STR_EQ(sorted(hits(s, proto, &b, "fox -bear", dm)), "1,5");
    PL_ASSERT_STR_EQ(sorted(hits(s, proto, &b, "dog or bear", dm)), "2,4");
    PL_ASSERT_STR_EQ(sorted(hits(s, proto, &a, "quick day", dm)), "3");
    PL_ASSERT_STR_EQ(hits(s, proto, &a, "giraffe", dm), "");
    /* More matching words rank higher: both words beat one. */
    PL_ASSERT_STR_EQ(hits(s, proto, &a, "brown or fox or fence", dm), "1,4,5");

    /* The snippet highlights the match and escapes the text. */
    struct pt_resp r;
    search_raw(s, proto, &a, "escapes", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    const char *snip = pt_json_str(pt_json(&r), "hits", "0", "snippet", NULL);
    PL_ASSERT(snip && strstr(snip, "<mark>escapes</mark>"));
    /* A fragment starts at a word, so the first "&lt;" may be cut off. */
    PL_ASSERT(strstr(snip, "&lt;/script&gt;") && !strstr(snip, "<script") &&
              !strstr(snip, "</script"));
    PL_ASSERT(strstr(snip, "&amp;"));
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "hits", "0", "sender", NULL), a.id);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "hits", "0", "conversation_id", NULL), dm);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "hits", "0", "seq", NULL), 5);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "next_cursor", NULL)));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Short messages come back whole, short words included; a long one is cut
 * into fragments that keep their short words (issue 15, item 6). */
PLTEST_PROTO(snippets_keep_short_words)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "snip_a", &a);
    PT_USER_NEW(s, proto, "snip_b", &b);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_SEND(s, proto, &a, dm, "hi Ben");
    PT_SEND(s, proto, &b, dm,
            "one two three four five six seven eight nine ten eleven twelve zebra go by");
    char long_text[1024] = "";
    for (int i = 0; i < 40; i++)
        strcat(long_text, i == 30 ? "a cat is on it " : "word ");
    PT_SEND(s, proto, &a, dm, long_text);
    struct pt_resp r;
    search_raw(s, proto, &a, "hi", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "hits", "0", "snippet", NULL), "<mark>hi</mark> Ben");
    pt_resp_free(&r);
    search_raw(s, proto, &a, "zebra", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "hits", "0", "snippet", NULL),
                     "one two three four five six seven eight nine ten eleven twelve "
                     "<mark>zebra</mark> go by");
    pt_resp_free(&r);
    search_raw(s, proto, &a, "cat", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    const char *snip = pt_json_str(pt_json(&r), "hits", "0", "snippet", NULL);
    PL_ASSERT(snip && strstr(snip, "a <mark>cat</mark> is on it"));
    PL_ASSERT(strlen(snip) < strlen(long_text));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static long put_member(struct pt_server *s, enum pt_proto p, const struct pt_user *by, int64_t conv,
                       int64_t user, const char *method)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/members/%lld", (long long)conv,
             (long long)user);
    struct pt_resp r;
    pt_reqf(s, p, method, by->token, &r, path, NULL);
    long st = r.status;
    pt_resp_free(&r);
    return st;
}

PLTEST_PROTO(only_what_the_caller_may_read)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "srch_pa", &a);
    PT_USER_NEW(s, proto, "srch_pb", &b);
    PT_USER_NEW(s, proto, "srch_pc", &c);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t g = PT_GROUP(s, proto, &a, "Fruit", &c.id, 1);
    PT_SEND(s, proto, &a, dm, "secret pineapple plans");
    PT_SEND(s, proto, &a, g, "pineapple for the group");
    /* c is in g only. */
    char want[64];
    snprintf(want, sizeof(want), "c%lld:1", (long long)g);
    PL_ASSERT_STR_EQ(hits(s, proto, &c, "pineapple", dm), want);
    PL_ASSERT_STR_EQ(hits(s, proto, &b, "pineapple", dm), "1");
    snprintf(want, sizeof(want), "%lld", (long long)g);
    PL_ASSERT_INT_EQ(strlen(hits(s, proto, &a, "pineapple", 0)) > 0, 1);

    /* Joined later: only what was sent after joining. */
    int64_t g2 = PT_GROUP(s, proto, &a, "Late", &b.id, 1);
    PT_SEND(s, proto, &a, g2, "mango before c joined"); /* 1 */
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g2, c.id, "PUT"), 201);
    PT_SEND(s, proto, &a, g2, "mango after c joined"); /* 2 */
    PL_ASSERT_STR_EQ(hits(s, proto, &c, "mango", g2), "2");
    PL_ASSERT_STR_EQ(sorted(hits(s, proto, &a, "mango", g2)), "1,2");
    /* Removed: nothing any more, also with conversation_id (404). */
    PL_ASSERT_INT_EQ(put_member(s, proto, &a, g2, c.id, "DELETE"), 204);
    PL_ASSERT_STR_EQ(hits(s, proto, &c, "mango", g2), "");

    struct pt_resp r;
    char extra[64];
    snprintf(extra, sizeof(extra), "conversation_id=%lld", (long long)g2);
    search_raw(s, proto, &c, "mango", extra, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    snprintf(extra, sizeof(extra), "conversation_id=%lld", (long long)dm);
    search_raw(s, proto, &c, "pineapple", extra, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    search_raw(s, proto, &c, "pineapple", "conversation_id=999999999999", &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    /* Restricted to one conversation: only its hits. */
    snprintf(extra, sizeof(extra), "conversation_id=%lld", (long long)dm);
    search_raw(s, proto, &a, "pineapple", extra, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val h = pt_json_get(pt_json(&r), "hits", NULL);
    PL_ASSERT_INT_EQ(h->u.array.len, 1);
    PL_ASSERT_INT_EQ(pt_json_int(h->u.array.values[0], "conversation_id", NULL), dm);
    pt_resp_free(&r);
    /* Without a token: 401. */
    pt_get(s, proto, "/v1/search?q=pineapple", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* 10 KiB queries need longer request lines than the default allows. */
static const char *const long_urls[] = {"--max-header-bytes", "131072", NULL};

PLTEST_PROTO(hostile_queries_never_fail)
{
    struct pt_server *s = PT_SERVER_START(long_urls);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "srch_ha", &a);
    PT_USER_NEW(s, proto, "srch_hb", &b);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_SEND(s, proto, &a, dm, "ordinary words: don't panic, it's fine");
    static const char *const garbage[] = {
        "\"",
        "'",
        "''",
        "\"\"\"",
        "!",
        "&",
        "|",
        "&|!<->():*",
        "-",
        "--",
        "- - -",
        "or",
        "OR OR",
        "a:*",
        "a:A",
        "\\",
        "\\'",
        "(((",
        ")))",
        "'; DROP TABLE messages; --",
        "<->",
        "!!!x",
        "\"unterminated phrase",
        "-\"excluded phrase\"",
        "don't",
        "it's",
        "\xF0\x9F\x98\x80",
        "日本語 検索",
        "%",
        "_",
        "*",
        "$1",
        "NULL",
        " ",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        struct pt_resp r;
        search_raw(s, proto, &a, pct(garbage[i], strlen(garbage[i])), NULL, &r);
        if (r.status != 200)
            pltest_fail(__FILE__, __LINE__, "q=%s: %ld %.300s", garbage[i], r.status, r.body);
        PL_ASSERT(YAJL_IS_ARRAY(pt_json_get(pt_json(&r), "hits", NULL)));
        pt_resp_free(&r);
    }
    /* Words inside the garbage are still found. */
    PL_ASSERT_STR_EQ(hits(s, proto, &a, "\"panic", dm), "1");
    PL_ASSERT_STR_EQ(hits(s, proto, &a, "ordinary -", dm), "1");
    /* 10 KiB queries: one huge word, and thousands of operators. */
    static char big[10240 + 1];
    memset(big, 'x', 10240);
    struct pt_resp r;
    search_raw(s, proto, &a, pct(big, 10240), NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    for (size_t i = 0; i + 5 <= 10240; i += 5)
        memcpy(big + i, "a|-!(", 5);
    search_raw(s, proto, &a, pct(big, 10240), NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    for (size_t i = 0; i + 4 <= 10240; i += 4)
        memcpy(big + i, "ab -", 4);
    search_raw(s, proto, &a, pct(big, 10240), NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);

    /* What the request itself gets wrong is a 400. */
    static const char *const bad[] = {
        "/v1/search",
        "/v1/search?q=",
        "/v1/search?q=a%00b",
        "/v1/search?q=%FF%FE",
        "/v1/search?q=%C3%28",
        "/v1/search?q=fine&limit=0",
        "/v1/search?q=fine&limit=101",
        "/v1/search?q=fine&limit=x",
        "/v1/search?q=fine&conversation_id=-1",
        "/v1/search?q=fine&conversation_id=abc",
        "/v1/search?q=fine&before=1e3",
        "/v1/search?q=fine&cursor=garbage",
        "/v1/search?q=fine&cursor=1~x",
        "/v1/search?q=fine&cursor=nan~5",
        "/v1/search?q=fine&cursor=inf~5",
        "/v1/search?q=fine&cursor=1e999~5",
        "/v1/search?q=fine&cursor=~5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pt_get(s, proto, bad[i], a.token, &r);
        if (r.status != 400)
            pltest_fail(__FILE__, __LINE__, "%s: %ld %.300s", bad[i], r.status, r.body);
        PT_ASSERT_PROBLEM(&r, 400, "malformed-request");
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Collects every page of q with page size limit; returns the number of
 * hits, checking that no id repeats and ranks never increase. */
static size_t all_pages(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                        const char *q, unsigned limit, const char *extra, int64_t *ids, size_t cap)
{
    char cursor[256] = "";
    size_t n = 0;
    for (int page = 0; page < 100; page++) {
        char x[512];
        snprintf(x, sizeof(x), "limit=%u%s%s%s%s", limit, extra ? "&" : "", extra ? extra : "",
                 *cursor ? "&cursor=" : "", *cursor ? pct(cursor, strlen(cursor)) : "");
        struct pt_resp r;
        search_raw(s, p, u, q, x, &r);
        PT_ASSERT_STATUS(&r, 200);
        yajl_val h = pt_json_get(pt_json(&r), "hits", NULL);
        PL_ASSERT(h->u.array.len <= limit);
        for (size_t i = 0; i < h->u.array.len; i++) {
            int64_t id = pt_json_int(h->u.array.values[i], "id", NULL);
            for (size_t j = 0; j < n; j++)
                PL_ASSERT(ids[j] != id);
            PL_ASSERT(n < cap);
            ids[n++] = id;
        }
        const char *next = pt_json_str(pt_json(&r), "next_cursor", NULL);
        if (!next) {
            pt_resp_free(&r);
            return n;
        }
        PL_ASSERT_INT_EQ(h->u.array.len, limit);
        snprintf(cursor, sizeof(cursor), "%s", next);
        pt_resp_free(&r);
    }
    pltest_fail(__FILE__, __LINE__, "more than 100 pages");
}

PLTEST_PROTO(cursor_pagination_and_before)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "srch_ga", &a);
    PT_USER_NEW(s, proto, "srch_gb", &b);
    int64_t dm = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t id[25];
    for (int i = 0; i < 25; i++) {
        char text[64];
        /* Different ranks: i extra repetitions of the word. */
        int n = snprintf(text, sizeof(text), "kiwi");
        for (int k = 0; k < i % 4; k++)
            n += snprintf(text + n, sizeof(text) - (size_t)n, " kiwi");
        id[i] = PT_SEND(s, proto, i % 2 ? &a : &b, dm, text).id;
    }
    int64_t got[64];
    PL_ASSERT_INT_EQ(all_pages(s, proto, &a, "kiwi", 10, NULL, got, 64), 25);
    PL_ASSERT_INT_EQ(all_pages(s, proto, &b, "kiwi", 7, NULL, got, 64), 25);
    PL_ASSERT_INT_EQ(all_pages(s, proto, &b, "kiwi", 100, NULL, got, 64), 25);
    /* Every message appears exactly once over all pages. */
    for (int i = 0; i < 25; i++) {
        int seen = 0;
        for (int j = 0; j < 25; j++)
            seen += got[j] == id[i];
        PL_ASSERT_INT_EQ(seen, 1);
    }
    /* before: only older messages. */
    char x[64];
    snprintf(x, sizeof(x), "before=%lld", (long long)id[10]);
    PL_ASSERT_INT_EQ(all_pages(s, proto, &a, "kiwi", 4, x, got, 64), 10);
    for (int j = 0; j < 10; j++)
        PL_ASSERT(got[j] < id[10]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(e2e_conversations_are_not_searchable)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "srch_ea", &a);
    PT_USER_NEW(s, proto, "srch_eb", &b);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", a.token, &r, "/v1/conversations",
            "{\"kind\":\"direct\",\"user\":%lld,\"encryption\":\"e2e\"}", (long long)b.id);
    /* E2E conversations exist (issue 4): creating one must work, and
     * searching it must be refused, since the server cannot read it. */
    PL_ASSERT_INT_EQ(r.status, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "encryption", NULL), "e2e");
    int64_t conv = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    char extra[64];
    snprintf(extra, sizeof(extra), "conversation_id=%lld", (long long)conv);
    search_raw(s, proto, &a, "anything", extra, &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT(strstr(pt_json_str(pt_json(&r), "detail", NULL), "end-to-end"));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
