/* SPDX-License-Identifier: MIT */
/* Parley - integration: disappearing messages leave nothing behind.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <brotli/decode.h>
#include <errno.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The sweeper runs in parleyd every 200 ms here, and a timer second lasts
 * 1 ms (expire_unit_ms), so "3600" expires in 3.6 s. The servers of the
 * three cases (which run in parallel) share one data dir, as nodes share
 * one blob store: whichever sweeper holds the lock deletes any case's
 * blobs. Other test files' servers do not sweep (the harness's default).
 * The cases use a database of their own, created here: expiry deletes
 * message rows, which other tests (analytics) count in the shared one.
 */
#define WAIT_MS 30000

static char dir[256];
static char pg[1024]; /* PARLEY_TEST_PG naming this file's database */

static struct pt_server *start(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/pt-expiry-%d", tmp ? tmp : "/tmp", (int)getppid());
    PL_ASSERT(mkdir(dir, 0700) == 0 || errno == EEXIST);
    pt_own_database("parley_expiry", pg, sizeof(pg));
    const char *args[] = {"--pg",
                          pg,
                          "--data-dir",
                          dir,
                          "--expiry-interval",
                          "200",
                          "--expire-unit-ms",
                          "1",
                          "--archive-interval",
                          "0",
                          "--url-secret",
                          "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                          NULL};
    return PT_SERVER_START(args);
}

static long long sql_int(const char *fmt, long long x, long long y)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, x, y);
    PGconn *c = PQconnectdb(pg);
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    long long v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

static void sql_str(char *out, size_t n, const char *fmt, long long x)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, x);
    PGconn *c = PQconnectdb(pg);
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
}

/* dir/blobs/<prefix>/<hex[0:2]>/<hex> for a key "<prefix>/<hex>". */
static void blob_path(char *out, size_t n, const char *key)
{
    const char *hex = strchr(key, '/') + 1;
    snprintf(out, n, "%s/blobs/%.*s/%.2s/%s", dir, (int)(hex - key - 1), key, hex, hex);
}

static int blob_exists(const char *key)
{
    char p[512];
    blob_path(p, sizeof(p), key);
    return access(p, F_OK) == 0;
}

/* The decompressed segment blob key (a heap string; free() it). */
static char *segment_text(const char *key)
{
    char p[512];
    blob_path(p, sizeof(p), key);
    FILE *f = fopen(p, "rb");
    PL_ASSERT(f != NULL);
    static char z[1 << 16];
    size_t zn = fread(z, 1, sizeof(z), f);
    fclose(f);
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    PL_ASSERT(BrotliDecoderDecompress(zn, (const uint8_t *)z, &cap, (uint8_t *)out) ==
              BROTLI_DECODER_RESULT_SUCCESS);
    out[cap] = '\0';
    return out;
}

static void set_timer(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                      int64_t conv, const char *value, long want)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_reqf(s, proto, "PATCH", u->token, &r, path, "{\"expire_after\":%s}", value);
    if (want == 422)
        PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    else if (want == 404)
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
    else
        PT_ASSERT_STATUS(&r, want);
    if (want == 200 && strcmp(value, "null") == 0)
        PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "expire_after", NULL)));
    else if (want == 200)
        PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "expire_after", NULL), atoll(value));
    pt_resp_free(&r);
}

/* A media message of u in conv with a fresh upload; returns the media id. */
static int64_t send_media(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                          int64_t conv)
{
    char buf[4096], sha[65];
    randombytes_buf(buf, sizeof(buf));
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)buf, sizeof(buf));
    sodium_bin2hex(sha, sizeof(sha), h, 32);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", u->token, &r, "/v1/media",
            "{\"content_type\":\"image/png\",\"size\":%zu,\"sha256\":\"%s\"}", sizeof(buf), sha);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "media_id", NULL);
    char url[512];
    snprintf(url, sizeof(url), "%s", pt_json_str(pt_json(&r), "upload_url", NULL));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "PUT", url, NULL, "image/png", buf, sizeof(buf), &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_reqf(s, proto, "POST", u->token, &r, path,
            "{\"client_msg_id\":\"med-%lld\",\"kind\":\"media\",\"media\":{\"media_id\":%lld,"
            "\"caption\":\"kumquat picture\"}}",
            (long long)id, (long long)id);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    return id;
}

static size_t search_hits(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                          const char *q)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/search?q=%s", q);
    pt_search_wait_on(pg);
    struct pt_resp r;
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    size_t n = pt_json_get(pt_json(&r), "hits", NULL)->u.array.len;
    pt_resp_free(&r);
    return n;
}

/* Search may lag behind writes (it can read a replica): polls until u's
 * hits for q are want, failing the case after 15 s. */
static void wait_hits(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                      const char *q, size_t want)
{
    uint64_t deadline = pt_now_ms() + 15000;
    size_t n;
    while ((n = search_hits(s, proto, u, q)) != want) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "search %s: %zu hits, not %zu", q, n, want);
        pt_sleep_ms(100);
    }
}

static int archive(long long conv)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    pt_search_wait_on(pg); /* only indexed messages are archived (0015) */
    char only[24];
    snprintf(only, sizeof(only), "%lld", conv);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        const char *argv[] = {bin,
                              "archive",
                              "--pg",
                              pg,
                              "--data-dir",
                              dir,
                              "--archive-after",
                              "864000",
                              "--log",
                              "warn",
                              "--archive-only",
                              only,
                              NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The timer is announced and shown; messages sent while it is set vanish
 * from PostgreSQL (rows, events, reactions, references, search), the blob
 * store (their media) and the archive (their segment lines) once expired;
 * a message sent while it was off stays, in a rewritten segment. */
PLTEST_PROTO(expired_messages_leave_nothing_behind)
{
    PL_ASSERT(sodium_init() >= 0);
    struct pt_server *s = start();
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "exp_a", &a);
    PT_USER_NEW(s, proto, "exp_b", &b);
    PT_USER_NEW(s, proto, "exp_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);

    /* A day (86.4 s here) for the message that will be archived. */
    set_timer(s, proto, &a, conv, "86400", 200);
    /* Announced to the members (read back through /v1/sync, which reads
     * the persisted events: this file's database has its own positions,
     * while Redis and its relay are shared with the other tests). */
    struct pt_resp r;
    pt_get(s, proto, "/v1/sync?since=0", b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val evs = pt_json_get(pt_json(&r), "events", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(evs));
    int announced = 0;
    for (size_t i = 0; i < evs->u.array.len; i++) {
        yajl_val e = evs->u.array.values[i];
        const char *name = pt_json_str(e, "event", NULL);
        if (name && strcmp(name, "conversation.updated") == 0 &&
            pt_json_int(e, "data", "expire_after", NULL) == 86400 &&
            pt_json_int(e, "data", "by", NULL) == a.id)
            announced = 1;
    }
    PL_ASSERT(announced);
    pt_resp_free(&r);
    set_timer(s, proto, &a, conv, "5", 422);
    set_timer(s, proto, &a, conv, "\"1h\"", 422);
    set_timer(s, proto, &c, conv, "3600", 404);
    struct pt_msg gone_arch = PT_SEND(s, proto, &a, conv, "durian archived and expiring");
    set_timer(s, proto, &b, conv, "null", 200);
    struct pt_msg kept = PT_SEND(s, proto, &a, conv, "keeper stays archived");
    /* The newest message stays hot (the archiver leaves it): one more. */
    struct pt_msg tail = PT_SEND(s, proto, &a, conv, "tail stays hot");
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld"
                             " AND seq = %lld AND expires_at IS NULL",
                             conv, kept.seq),
                     1);
    /* Both are archived into one segment. */
    /* And their copy in message_search (migration 0020), once written. */
    pt_search_wait_on(pg);
    sql_int("WITH m AS (UPDATE messages SET created_at = created_at - interval '30 days'"
            " WHERE conversation_id = %lld AND seq <= %lld"
            " RETURNING conversation_id, seq, created_at)"
            " UPDATE message_search s SET created_at = m.created_at FROM m"
            " WHERE s.conversation_id = m.conversation_id AND s.seq = m.seq",
            conv, tail.seq);
    PL_ASSERT_INT_EQ(archive(conv), 0);
    char old_seg[64];
    sql_str(old_seg, sizeof(old_seg),
            "SELECT blob_key FROM archive_segments WHERE conversation_id = %lld", conv);
    PL_ASSERT(blob_exists(old_seg));

    /* An hour (3.6 s here) for the hot ones: text with a reaction, media. */
    set_timer(s, proto, &a, conv, "3600", 200);
    struct pt_msg hot = PT_SEND(s, proto, &a, conv, "kumquat hot and expiring");
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld/reactions/%%F0%%9F%%91%%8D",
             (long long)conv, (long long)hot.seq);
    pt_reqf(s, proto, "PUT", b.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    int64_t media = send_media(s, proto, &a, conv);
    char media_key[64];
    sql_str(media_key, sizeof(media_key), "SELECT blob_key FROM media WHERE id = %lld", media);
    PL_ASSERT(blob_exists(media_key));
    wait_hits(s, proto, &a, "kumquat", 2); /* the text and the caption */
    /* The archived one expires now. */
    sql_int("UPDATE archived_messages SET expires_at = now()"
            " WHERE conversation_id = %lld AND seq = %lld",
            conv, gone_arch.seq);

    uint64_t deadline = pt_now_ms() + WAIT_MS;
    while (sql_int("SELECT (SELECT count(*) FROM messages WHERE conversation_id = %lld"
                   "    AND expires_at IS NOT NULL)"
                   " + (SELECT count(*) FROM archived_messages WHERE conversation_id = %lld"
                   "    AND expires_at IS NOT NULL)",
                   conv, conv) != 0) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__,
                        "expired messages still there after %d ms: %lld hot, %lld archived",
                        WAIT_MS,
                        sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld"
                                " AND expires_at IS NOT NULL AND %lld <> 0",
                                conv, 1),
                        sql_int("SELECT count(*) FROM archived_messages WHERE conversation_id ="
                                " %lld AND expires_at IS NOT NULL AND %lld <> 0",
                                conv, 1));
        pt_sleep_ms(100);
    }
    /* PostgreSQL: only the kept messages and what belongs to them. */
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld"
                             " AND seq = %lld",
                             conv, tail.seq),
                     1);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld"
                             " AND %lld <> 0",
                             conv, 1),
                     1);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM archived_messages WHERE conversation_id = %lld"
                             " AND seq = %lld",
                             conv, kept.seq),
                     1);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM reactions WHERE conversation_id = %lld"
                             " OR %lld = 0",
                             conv, 1),
                     0);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM media_refs WHERE conversation_id = %lld"
                             " OR media_id = %lld",
                             conv, media),
                     0);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM media WHERE id = %lld OR %lld = 0", media, 1),
                     0);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM events WHERE conversation_id = %lld"
                             " AND type IN ('message.created', 'reaction') AND pos <> %lld",
                             conv, kept.id),
                     1); /* the tail's */
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM events WHERE conversation_id = %lld"
                             " AND (payload LIKE '%%kumquat%%' OR payload LIKE '%%durian%%'"
                             " OR %lld = 0)",
                             conv, 1),
                     0);
    wait_hits(s, proto, &a, "kumquat", 0);
    wait_hits(s, proto, &a, "durian", 0);
    wait_hits(s, proto, &b, "keeper", 1);
    /* The blob store: the media is gone, the segment was rewritten. */
    PL_ASSERT(!blob_exists(media_key));
    PL_ASSERT(!blob_exists(old_seg));
    char new_seg[64];
    sql_str(new_seg, sizeof(new_seg),
            "SELECT blob_key FROM archive_segments WHERE conversation_id = %lld", conv);
    PL_ASSERT(strcmp(new_seg, old_seg) != 0);
    PL_ASSERT_INT_EQ(sql_int("SELECT message_count FROM archive_segments WHERE conversation_id ="
                             " %lld AND %lld <> 0",
                             conv, 1),
                     1);
    char *text = segment_text(new_seg);
    PL_ASSERT(strstr(text, "keeper stays archived") != NULL);
    PL_ASSERT(strstr(text, "durian") == NULL);
    free(text);
    /* History shows the kept message only, read through the new segment. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "messages", "0", "text", NULL),
                     "keeper stays archived");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "messages", "1", "text", NULL), "tail stays hot");
    PL_ASSERT(pt_json_get(pt_json(&r), "messages", "2", NULL) == NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
