/* SPDX-License-Identifier: MIT */
/* Parley - integration: edits and deletions racing the search indexer. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The indexer inserts a message's terms into message_search a moment after
 * the send (migration 0020); an edit or a deletion for everyone upserts
 * them. Whichever comes last, search must find the edited text, never the
 * old one, and never a deleted message. The first case races them the way
 * clients do; the other two force each interleaving with locks held from
 * here. Each case has a database (and so an indexer) of its own, so the
 * locks below pause nobody else's server and no other server's indexer
 * does the work.
 */
#define WAIT_MS 20000

struct env {
    struct pt_server *s;
    char db[64];
    char pg[1024]; /* conninfo of the case's database */
    struct pt_user a, b;
    int64_t conv;
};

static PGconn *conn(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        pltest_fail(__FILE__, __LINE__, "%s", PQerrorMessage(c));
    return c;
}

/* Runs sql on c; the first column of its first row as a number (0 when
 * it returns no rows). */
static long long run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    long long v = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return v;
}

/* Starts a server on a database of its own, named after the runner, the
 * case (tag) and the transport, with users a and b and their chat. */
static void start(struct env *e, enum pt_proto proto, char tag)
{
    snprintf(e->db, sizeof(e->db), "parley_sidx_%d_%c%d", (int)getppid(), tag, (int)proto);
    snprintf(e->pg, sizeof(e->pg), "%s dbname=%s", getenv("PARLEY_TEST_PG"), e->db);
    PGconn *c = conn(getenv("PARLEY_TEST_PG"));
    char q[128];
    snprintf(q, sizeof(q), "CREATE DATABASE %s", e->db);
    /* The cases create theirs at the same time from one template, which
     * PostgreSQL may refuse while another copy holds it: try again. */
    uint64_t deadline = pt_now_ms() + WAIT_MS;
    for (;;) {
        PGresult *r = PQexec(c, q);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            break;
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
        pt_sleep_ms(50);
    }
    PQfinish(c);
    /* One worker: the warm-up below then prepares its connection. */
    const char *args[] = {"--pg", e->pg, "--workers", "1", NULL};
    e->s = PT_SERVER_START(args);
    PT_USER_NEW(e->s, proto, "sidx_a", &e->a);
    PT_USER_NEW(e->s, proto, "sidx_b", &e->b);
    e->conv = PT_DIRECT(e->s, proto, &e->a, e->b.id, 201);
    /* A first message and search: the server's connections prepare their
     * statements on first use, and a prepare that reads search_settings
     * would wait for the lock the cases below hold on it. */
    PT_SEND(e->s, proto, &e->a, e->conv, "hello");
    pt_search_wait_on(e->pg);
    struct pt_resp r;
    pt_get(e->s, proto, "/v1/search?q=hello", e->a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

static void stop(struct env *e)
{
    PL_ASSERT_INT_EQ(pt_server_stop(e->s), 0);
    PGconn *c = conn(getenv("PARLEY_TEST_PG"));
    char q[128];
    snprintf(q, sizeof(q), "DROP DATABASE %s WITH (FORCE)", e->db);
    run(c, q);
    PQfinish(c);
}

/* The seqs of the hits for q (one plain word) as a, ascending, as
 * "3,7"; "" for none. Waits for the indexer first. Static storage. */
static const char *hits(struct env *e, enum pt_proto proto, const char *q)
{
    static char out[512];
    char path[128];
    long seqs[64];
    size_t n = 0, o = 0;
    pt_search_wait_on(e->pg);
    snprintf(path, sizeof(path), "/v1/search?q=%s&limit=50", q);
    struct pt_resp r;
    pt_get(e->s, proto, path, e->a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val h = pt_json_get(pt_json(&r), "hits", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(h) && h->u.array.len <= 64);
    for (size_t i = 0; i < h->u.array.len; i++) {
        long s = (long)pt_json_int(h->u.array.values[i], "seq", NULL);
        size_t j = n++;
        for (; j > 0 && seqs[j - 1] > s; j--)
            seqs[j] = seqs[j - 1];
        seqs[j] = s;
    }
    pt_resp_free(&r);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%ld", i ? "," : "", seqs[i]);
    return out;
}

static void edit(struct env *e, enum pt_proto proto, int64_t seq, const char *text)
{
    char path[128], body[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld", (long long)e->conv,
             (long long)seq);
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    struct pt_resp r;
    pt_send_json(e->s, proto, "PATCH", path, e->a.token, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

static void erase(struct env *e, enum pt_proto proto, int64_t seq)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld?for=everyone",
             (long long)e->conv, (long long)seq);
    struct pt_resp r;
    pt_reqf(e->s, proto, "DELETE", e->a.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

/* Appends seq to the list in buf ("3,7"). */
static void list_add(char *buf, size_t cap, int64_t seq)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%lld", n ? "," : "", (long long)seq);
}

/* Waits until a backend running the indexer's step waits for a lock held
 * by the backend blocker (a pid). */
static void wait_indexer_blocked_by(PGconn *c, long long blocker)
{
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
             " AND query LIKE 'WITH st AS (SELECT pos FROM search_index_state%%'"
             " AND %lld = ANY(pg_blocking_pids(pid))",
             blocker);
    uint64_t deadline = pt_now_ms() + WAIT_MS;
    while (run(c, q) == 0) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the indexer never waited for backend %lld", blocker);
        pt_sleep_ms(5);
    }
}

/* Edits and deletions for everyone right after the send (the indexer has
 * most likely not run yet: it runs every 100 ms) and after it caught up. */
PLTEST_PROTO(edit_and_delete_right_after_sending)
{
    struct env e;
    start(&e, proto, 'a');
    char edited[512] = "";
    for (int i = 0; i < 10; i++) {
        struct pt_msg m = PT_SEND(e.s, proto, &e.a, e.conv, "an oldtext message");
        edit(&e, proto, m.seq, "a newtext message");
        list_add(edited, sizeof(edited), m.seq);
        struct pt_msg d = PT_SEND(e.s, proto, &e.a, e.conv, "a doomed message");
        erase(&e, proto, d.seq);
    }
    for (int i = 0; i < 3; i++) {
        struct pt_msg m = PT_SEND(e.s, proto, &e.a, e.conv, "an oldtext message");
        struct pt_msg d = PT_SEND(e.s, proto, &e.a, e.conv, "a doomed message");
        char one[32] = "";
        list_add(one, sizeof(one), m.seq);
        PL_ASSERT_STR_EQ(hits(&e, proto, "oldtext"), one); /* indexed: only this one */
        one[0] = '\0';
        list_add(one, sizeof(one), d.seq);
        PL_ASSERT_STR_EQ(hits(&e, proto, "doomed"), one);
        edit(&e, proto, m.seq, "a newtext message");
        list_add(edited, sizeof(edited), m.seq);
        erase(&e, proto, d.seq);
    }
    PL_ASSERT_STR_EQ(hits(&e, proto, "oldtext"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "doomed"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "newtext"), edited);
    /* Every deleted message left a tombstone, never terms. */
    PGconn *c = conn(e.pg);
    PL_ASSERT_INT_EQ(run(c, "SELECT count(*) FROM messages m JOIN message_search s"
                            " USING (conversation_id, seq)"
                            " WHERE m.kind = 'deleted' AND s.tsv IS NULL"),
                     13);
    PQfinish(c);
    stop(&e);
}

/* The indexer's snapshot still sees the old text, and the edit (and the
 * deletion) commit before its insert: the insert must do nothing. The
 * indexer is held in two steps: a lock on search_settings stops its next
 * step before it takes a snapshot, while the messages are sent; then the
 * row lock of search_index_state stops that step after its snapshot. */
PLTEST_PROTO(edit_commits_between_snapshot_and_insert)
{
    struct env e;
    start(&e, proto, 'b');
    pt_search_wait_on(e.pg);
    PGconn *settings = conn(e.pg), *pos = conn(e.pg);
    run(settings, "BEGIN");
    run(settings, "LOCK TABLE search_settings IN ACCESS EXCLUSIVE MODE");
    struct pt_msg m = PT_SEND(e.s, proto, &e.a, e.conv, "a stalecherry message");
    struct pt_msg d = PT_SEND(e.s, proto, &e.a, e.conv, "a stalegrape message");
    long long pos_pid = run(pos, "SELECT pg_backend_pid()");
    run(pos, "BEGIN");
    run(pos, "SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE");
    run(settings, "COMMIT");
    wait_indexer_blocked_by(settings, pos_pid);
    /* Its snapshot, taken after both sends, holds the old texts. */
    edit(&e, proto, m.seq, "a freshcherry message");
    erase(&e, proto, d.seq);
    run(pos, "COMMIT");
    char want[32] = "";
    list_add(want, sizeof(want), m.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "stalecherry"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "stalegrape"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "freshcherry"), want);
    PQfinish(settings);
    PQfinish(pos);
    stop(&e);
}

/* The edit (and the deletion) are in progress, their rows upserted but not
 * committed, when the indexer inserts: the insert must wait for them and
 * then do nothing. The edit runs here in SQL, as the API's statements do
 * (an UPDATE of body, or of kind and body), so that it can be held open;
 * the trigger does the rest. */
PLTEST_PROTO(indexer_waits_for_an_edit_in_progress)
{
    struct env e;
    start(&e, proto, 'c');
    pt_search_wait_on(e.pg);
    PGconn *pos = conn(e.pg), *ed = conn(e.pg);
    run(pos, "BEGIN");
    run(pos, "SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE");
    struct pt_msg m = PT_SEND(e.s, proto, &e.a, e.conv, "a stalekiwi message");
    struct pt_msg d = PT_SEND(e.s, proto, &e.a, e.conv, "a stalelime message");
    long long ed_pid = run(ed, "SELECT pg_backend_pid()");
    char q[256];
    run(ed, "BEGIN");
    snprintf(q, sizeof(q),
             "UPDATE messages SET body = 'a freshkiwi message', edited_at = now()"
             " WHERE conversation_id = %lld AND seq = %lld",
             (long long)e.conv, (long long)m.seq);
    run(ed, q);
    snprintf(q, sizeof(q),
             "UPDATE messages SET kind = 'deleted', body = '', deleted_at = now()"
             " WHERE conversation_id = %lld AND seq = %lld",
             (long long)e.conv, (long long)d.seq);
    run(ed, q);
    /* Let the indexer go: whatever step sees the messages reads their old
     * texts (the edit has not committed) and its insert meets the edit's
     * uncommitted rows. */
    run(pos, "COMMIT");
    wait_indexer_blocked_by(pos, ed_pid);
    run(ed, "COMMIT");
    char want[32] = "";
    list_add(want, sizeof(want), m.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "stalekiwi"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "stalelime"), "");
    PL_ASSERT_STR_EQ(hits(&e, proto, "freshkiwi"), want);
    PQfinish(pos);
    PQfinish(ed);
    stop(&e);
}

/* A new search_config re-indexes message_search at the next start: with
 * "english", "run" finds "running" (stemmed) and "the" nothing (a stop
 * word); an edited message keeps its new text, a deleted one stays out. */
PLTEST_PROTO(new_configuration_reindexes_the_terms)
{
    struct env e;
    start(&e, proto, 'd');
    struct pt_msg m = PT_SEND(e.s, proto, &e.a, e.conv, "the dogs were running");
    struct pt_msg x = PT_SEND(e.s, proto, &e.a, e.conv, "walking the cats");
    struct pt_msg d = PT_SEND(e.s, proto, &e.a, e.conv, "running late");
    edit(&e, proto, x.seq, "jumping the cats");
    erase(&e, proto, d.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "run"), "");
    PL_ASSERT_INT_EQ(pt_server_stop(e.s), 0);
    const char *args[] = {"--pg", e.pg, "--workers", "1", "--search-config", "english", NULL};
    e.s = PT_SERVER_START(args);
    char want[32] = "";
    list_add(want, sizeof(want), m.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "run"), want);
    PL_ASSERT_STR_EQ(hits(&e, proto, "the"), "");
    want[0] = '\0';
    list_add(want, sizeof(want), x.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "jump"), want);
    PL_ASSERT_STR_EQ(hits(&e, proto, "walk"), "");
    /* Messages sent now are indexed with it too. */
    struct pt_msg n = PT_SEND(e.s, proto, &e.a, e.conv, "she runs");
    want[0] = '\0';
    list_add(want, sizeof(want), m.seq);
    list_add(want, sizeof(want), n.seq);
    PL_ASSERT_STR_EQ(hits(&e, proto, "run"), want);
    stop(&e);
}
