/* SPDX-License-Identifier: MIT */
/* Parley - integration: history archived into segments, read through. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Messages become archivable when they are older than archive_after. The
 * tests backdate their own conversations' messages by 30 days in SQL and
 * archive with archive_after = 10 days and archive_only naming their own
 * conversations, so a pass never touches what other tests (or other cases
 * of this file, which run in parallel) store in the shared database.
 */
#define AFTER "864000"

struct env {
    char dir[256]; /* data_dir shared by parleyd and `parleyd archive` */
    struct pt_server *s;
};

static void start(struct env *e)
{
    snprintf(e->dir, sizeof(e->dir), "%s", pt_temp_dir("archive"));
    const char *args[] = {"--data-dir", e->dir, "--archive-interval", "0", NULL};
    e->s = PT_SERVER_START(args);
}

static void sql(const char *fmt, long long a)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, a);
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static long long sql_int(const char *fmt, long long a)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, a);
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Runs `parleyd archive` over the conversations in only (crash_at: NULL
 * or a step) and returns its exit status. */
static int archive(const struct env *e, const char *only, const char *crash_at)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    pt_search_wait(); /* only indexed messages are archived */
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        const char *argv[] = {bin,
                              "archive",
                              "--pg",
                              getenv("PARLEY_TEST_PG"),
                              "--data-dir",
                              e->dir,
                              "--archive-after",
                              AFTER,
                              "--log",
                              "warn",
                              "--archive-only",
                              only,
                              crash_at ? "--archive-crash-at" : NULL,
                              crash_at,
                              NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Segment blobs in the data dir (files under blobs/a, any depth). */
static int count_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[512];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        DIR *x = opendir(sub);
        if (x) {
            closedir(x);
            n += count_files(sub);
        } else if (!strstr(de->d_name, "tmp")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int segment_blobs(const struct env *e)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/blobs/a", e->dir);
    return count_files(p);
}

/* Everything a client can read about conv, concatenated: history in one
 * page and in small pages both ways, and searches. */
static char *snapshot(struct env *e, enum pt_proto p, const struct pt_user *u, int64_t conv)
{
    static const char *const paths[] = {
        "/v1/conversations/%lld/messages?limit=200",
        "/v1/conversations/%lld/messages?limit=7",
        "/v1/conversations/%lld/messages?before=20&limit=6",
        "/v1/conversations/%lld/messages?after=3&limit=9",
        /* Ticks of archived messages read the same (watermarks stay hot). */
        "/v1/conversations/%lld/messages/2/receipts",
        "/v1/conversations/%lld/messages/5/receipts",
        "/v1/search?q=%%22archived+walrus%%22&conversation_id=%lld",
        "/v1/search?q=walrus+or+narwhal&limit=5&conversation_id=%lld",
        "/v1/search?q=caption+-zebra&conversation_id=%lld",
    };
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    pt_search_wait();
    PL_ASSERT(out);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), paths[i], (long long)conv);
        struct pt_resp r;
        pt_get(e->s, p, path, u->token, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT(n + r.len + 2 < cap);
        memcpy(out + n, r.body, r.len);
        n += r.len;
        out[n++] = '\n';
        pt_resp_free(&r);
    }
    out[n] = '\0';
    return out;
}

/* A conversation of a and b with n messages of recognisable words,
 * backdated 30 days; returns its id. */
static int64_t old_history(struct env *e, enum pt_proto p, struct pt_user *a, struct pt_user *b,
                           int n)
{
    int64_t conv = PT_DIRECT(e->s, p, a, b->id, 0);
    for (int i = 1; i <= n; i++) {
        char text[160];
        snprintf(text, sizeof(text),
                 i % 3 == 0   ? "message %d: an archived walrus \"quoted\" <b>&</b>"
                 : i % 3 == 1 ? "message %d: the narwhal caption zebra \xE2\x9C\x93"
                              : "message %d: caption only",
                 i);
        PT_SEND(e->s, p, i % 2 ? a : b, conv, text);
    }
    PT_RECEIPT(e->s, p, b, conv, "read", n / 2);
    /* created_at never changes in the product, so message_search keeps a
     * copy (migration 0020): backdate both, once the indexer wrote it. */
    pt_search_wait();
    sql("WITH m AS (UPDATE messages SET created_at = created_at - interval '30 days'"
        " WHERE conversation_id = %lld RETURNING conversation_id, seq, created_at)"
        " UPDATE message_search s SET created_at = m.created_at FROM m"
        " WHERE s.conversation_id = m.conversation_id AND s.seq = m.seq",
        (long long)conv);
    return conv;
}

static void expect_rows(int64_t conv, long long hot, long long archived)
{
    PL_ASSERT_INT_EQ(
        sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld", (long long)conv),
        hot);
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM archived_messages WHERE conversation_id = %lld",
                             (long long)conv),
                     archived);
}

static void expect_archive_summary(struct env *e, enum pt_proto p, const struct pt_user *u,
                                   int64_t conv, long long segments, long long messages)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_get(e->s, p, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "archive", "segments", NULL), segments);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "archive", "messages", NULL), messages);
    if (segments)
        PL_ASSERT(pt_json_int(pt_json(&r), "archive", "bytes", NULL) > 0);
    pt_resp_free(&r);
}

PLTEST_PROTO(round_trip_is_invisible)
{
    struct env e;
    start(&e);
    struct pt_user a, b;
    PT_USER_NEW(e.s, proto, "arch_a", &a);
    PT_USER_NEW(e.s, proto, "arch_b", &b);
    int64_t conv = old_history(&e, proto, &a, &b, 30);
    char only[32];
    snprintf(only, sizeof(only), "%lld", (long long)conv);
    char *before_a = snapshot(&e, proto, &a, conv), *before_b = snapshot(&e, proto, &b, conv);
    expect_archive_summary(&e, proto, &a, conv, 0, 0);

    PL_ASSERT_INT_EQ(archive(&e, only, NULL), 0);
    /* All but the last message (conversation lists show it) moved. */
    expect_rows(conv, 1, 29);
    PL_ASSERT_INT_EQ(segment_blobs(&e), 1);
    expect_archive_summary(&e, proto, &b, conv, 1, 29);

    char *after_a = snapshot(&e, proto, &a, conv), *after_b = snapshot(&e, proto, &b, conv);
    PL_ASSERT_STR_EQ(after_a, before_a);
    PL_ASSERT_STR_EQ(after_b, before_b);
    /* A second pass finds nothing more to do. */
    PL_ASSERT_INT_EQ(archive(&e, only, NULL), 0);
    expect_rows(conv, 1, 29);
    PL_ASSERT_INT_EQ(segment_blobs(&e), 1);
    /* Replies to archived messages are still accepted. */
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_reqf(e.s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"reply-old\",\"kind\":\"text\",\"text\":\"re\",\"reply_to\":2}");
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    free(before_a);
    free(before_b);
    free(after_a);
    free(after_b);
    PL_ASSERT_INT_EQ(pt_server_stop(e.s), 0);
}

/* Killed after each step, nothing is lost or duplicated, and a rerun
 * completes the work. Two conversations, so "committed" stops between
 * them. */
PLTEST_PROTO(killed_at_each_step)
{
    static const char *const steps[] = {"written", "verified", "committed"};
    struct env e;
    start(&e);
    struct pt_user a, b, c;
    PT_USER_NEW(e.s, proto, "arch_ka", &a);
    PT_USER_NEW(e.s, proto, "arch_kb", &b);
    PT_USER_NEW(e.s, proto, "arch_kc", &c);
    int64_t c1 = old_history(&e, proto, &a, &b, 20);
    int64_t c2 = old_history(&e, proto, &a, &c, 25);
    if (c1 > c2) { /* the archiver goes in id order */
        int64_t t = c1;
        c1 = c2;
        c2 = t;
    }
    char only[64];
    snprintf(only, sizeof(only), "%lld,%lld", (long long)c1, (long long)c2);
    char *s1 = snapshot(&e, proto, &a, c1), *s2 = snapshot(&e, proto, &a, c2);
    int n1 = (int)sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld", c1);
    int n2 = (int)sql_int("SELECT count(*) FROM messages WHERE conversation_id = %lld", c2);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        PL_ASSERT_INT_EQ(archive(&e, only, steps[i]), 86);
        char *x1 = snapshot(&e, proto, &a, c1), *x2 = snapshot(&e, proto, &a, c2);
        PL_ASSERT_STR_EQ(x1, s1);
        PL_ASSERT_STR_EQ(x2, s2);
        free(x1);
        free(x2);
        if (i < 2) {
            /* Before the commit: rows untouched, one orphan blob. */
            expect_rows(c1, n1, 0);
            PL_ASSERT_INT_EQ(segment_blobs(&e), 1);
        } else {
            /* After the first commit: c1 done, c2 untouched. */
            expect_rows(c1, 1, n1 - 1);
            expect_rows(c2, n2, 0);
            PL_ASSERT_INT_EQ(segment_blobs(&e), 1);
        }
    }
    PL_ASSERT_INT_EQ(archive(&e, only, NULL), 0);
    expect_rows(c1, 1, n1 - 1);
    expect_rows(c2, 1, n2 - 1);
    PL_ASSERT_INT_EQ(segment_blobs(&e), 2);
    expect_archive_summary(&e, proto, &a, c1, 1, n1 - 1);
    expect_archive_summary(&e, proto, &a, c2, 1, n2 - 1);
    char *x1 = snapshot(&e, proto, &a, c1), *x2 = snapshot(&e, proto, &a, c2);
    PL_ASSERT_STR_EQ(x1, s1);
    PL_ASSERT_STR_EQ(x2, s2);
    free(x1);
    free(x2);
    free(s1);
    free(s2);
    PL_ASSERT_INT_EQ(pt_server_stop(e.s), 0);
}
