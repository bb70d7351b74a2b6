/* SPDX-License-Identifier: MIT */
/* Parley - full-text search: the query, its scope, the configuration.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "search.h"
#include "pg_int.h"

#include "archive.h"

#include "common/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

PL_LOG_TOPIC("store");

enum { SEARCH, HEADLINE, SCOPE, INDEX_STEP };

/*
 * The plan this query is written for (check with EXPLAIN ANALYZE, see
 * bench/README.md): the caller's member rows (members_by_user), then for
 * each of its conversations one bitmap scan of message_search_tsv, the GIN
 * index on message_search (conversation_id, tsv) (migration 0020), so only
 * matches the caller may read are ever fetched and ranked. message_search
 * carries id and created_at, so the hits are ranked and paged without
 * touching messages; only the page's messages rows are read, for the
 * sender and the text. The seq > joined_seq condition hides what was sent
 * before the caller joined; a removed member has no row and sees nothing.
 * Only the page's rows get a headline, which is the costly part.
 *
 * The body is HTML-escaped before ts_headline() so the snippet can be
 * shown as HTML with its <mark> tags and nothing else.
 */
#define RANK_SQL                                                                                   \
    "ln(ts_rank_cd(m.tsv, q.q) + 1e-6) + extract(epoch FROM m.created_at)::float8 / 2592000"

#define HIT_WHERE                                                                                  \
    " WHERE mb.user_id = $2::bigint AND ($3::bigint = 0 OR mb.conversation_id = $3::bigint)"       \
    " AND m.tsv IS NOT NULL AND m.tsv @@ q.q AND ($4::bigint = 0 OR m.id < $4::bigint)"
/* A short message (up to HEADLINE_WHOLE characters) comes back whole,
 * every match marked: a fragment of it would only drop words. Longer ones
 * get fragments, and ShortWord=0 keeps short words (the default drops
 * words of three letters or fewer at a fragment's ends, so "hi Ben" lost
 * "Ben"). */
#define HEADLINE_WHOLE "160"
#define HEADLINE_SQL(text)                                                                         \
    "ts_headline(q.cfg, replace(replace(replace(" text ", '&', '&amp;'), '<', '&lt;'), '>',"       \
    " '&gt;'), q.q, 'StartSel=<mark>, StopSel=</mark>, ' || CASE WHEN length(" text                \
    ") <= " HEADLINE_WHOLE " THEN 'HighlightAll=true' ELSE 'MaxWords=24, MinWords=8, ShortWord=0," \
    " MaxFragments=2, FragmentDelimiter=\" … \"' END)"

/* The page's hot hits get their messages rows here, after the LIMIT (which
 * keeps the page a subquery, so only its rows are read). Archive and
 * expiry delete a message's row and its terms in one transaction, so a
 * hot hit always has its row; the WHERE only keeps an orphan, which
 * cannot happen, from failing the whole search. */
#define PAGE_ROWS                                                                                  \
    " FROM page p CROSS JOIN q LEFT JOIN messages h ON p.seg IS NULL"                              \
    " AND h.conversation_id = p.conversation_id AND h.seq = p.seq"                                 \
    " WHERE p.seg IS NOT NULL OR h.seq IS NOT NULL ORDER BY p.score DESC, p.id DESC"

const struct store_pg__stmt store_pg__search_stmts[] = {
    /* Hot and archived messages alike: an archived hit has no text here,
     * so it carries its segment's key and gets its headline from
     * HEADLINE once its text is read from the segment. */
    // clang-format off
    [SEARCH] = {"search",
        "WITH q AS (SELECT s.config AS cfg, websearch_to_tsquery(s.config, $1::text) AS q"
        "   FROM search_settings s WHERE s.id = 1),"
        " hits AS (SELECT m.id, m.conversation_id, m.seq, NULL::bigint AS sender_id,"
        "   m.created_at, NULL::text AS seg, " RANK_SQL " AS score"
        "   FROM q, members mb JOIN message_search m ON m.conversation_id = mb.conversation_id"
        "   AND m.seq > mb.joined_seq" HIT_WHERE " UNION ALL"
        "  SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.created_at,"
        "   s.blob_key, " RANK_SQL " FROM q, members mb JOIN archived_messages m"
        "   ON m.conversation_id = mb.conversation_id AND m.seq > mb.joined_seq"
        "   JOIN archive_segments s ON s.id = m.segment_id" HIT_WHERE "),"
        " page AS (SELECT * FROM hits WHERE $5::float8 IS NULL"
        "   OR (score, id) < ($5::float8, $6::bigint)"
        "   ORDER BY score DESC, id DESC LIMIT $7::int)"
        " SELECT p.id, p.conversation_id, p.seq, COALESCE(p.sender_id, h.sender_id), "
        STORE_PG_TS("p.created_at") ", p.score::text, CASE WHEN p.seg IS NULL THEN "
        HEADLINE_SQL("message_search_text(h.kind, h.body)") " END, p.seg" PAGE_ROWS,
        7, true},
    // clang-format on
    [HEADLINE] = {"search_headline",
                  "SELECT " HEADLINE_SQL(
                      "$2::text") " FROM (SELECT s.config AS cfg,"
                                  " websearch_to_tsquery(s.config, $1::text) AS q"
                                  " FROM search_settings s WHERE s.id = 1) q",
                  2, true},
    [SCOPE] = {"search_scope",
               "SELECT v.encryption = 'e2e' FROM members mb JOIN conversations v"
               " ON v.id = mb.conversation_id"
               " WHERE mb.conversation_id = $1::bigint AND mb.user_id = $2::bigint",
               2, true},
    /* The indexer's step (migrations 0015, 0020): the terms of the next
     * $1 messages above the indexed position, in position order, are
     * inserted into message_search, and the position moves past them, in
     * one statement (one transaction). The row lock on search_index_state
     * makes nodes take turns; under it, the messages this snapshot sees
     * above the position are a gap-free run of commits, so none is skipped
     * or indexed twice. When the step took them all, the position moves on
     * to stream_state's as this snapshot sees it (every position up to it
     * has committed, so every message up to it was among them). An idle
     * step writes nothing. The position is a scalar subquery so that it
     * bounds the index scan of messages_id_key (as a join it became a
     * filter over the whole index: 10 million entries read per step on a
     * big history).
     *
     * Only inserts: the message row is never written again (an UPDATE of
     * an indexed column is never HOT, so it rewrote the whole row and
     * every index entry of messages). ON CONFLICT DO NOTHING leaves alone
     * a row an edit or a deletion upserted meanwhile (the trigger of
     * 0020), even one this snapshot cannot see: that row is newer than
     * the body read here. An edit still in progress makes the insert wait
     * for it and then do nothing.
     * Returns the number of messages passed (0: caught up). */
    [INDEX_STEP] = {"search_index_step",
                    "WITH st AS (SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE),"
                    " due AS (SELECT m.conversation_id, m.seq, m.id, m.created_at, m.kind,"
                    "   m.body FROM messages m"
                    "   WHERE m.id > (SELECT pos FROM st) ORDER BY m.id LIMIT $1::int),"
                    " ins AS (INSERT INTO message_search (conversation_id, seq, id, created_at,"
                    "   tsv) SELECT due.conversation_id, due.seq, due.id, due.created_at,"
                    "   to_tsvector(c.config, message_search_text(due.kind, due.body))"
                    "   FROM due, search_settings c WHERE c.id = 1"
                    "   AND due.kind IN ('text', 'media') ORDER BY due.id"
                    "   ON CONFLICT (conversation_id, seq) DO NOTHING RETURNING 1),"
                    " nx AS (SELECT CASE WHEN (SELECT count(*) FROM due) = $1::int"
                    "   THEN (SELECT max(id) FROM due)"
                    "   ELSE (SELECT pos FROM stream_state WHERE id = 1) END AS pos),"
                    " mv AS (UPDATE search_index_state x SET pos = nx.pos FROM nx"
                    "   WHERE x.id = 1 AND nx.pos > x.pos RETURNING 1)"
                    " SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM ins),"
                    "  (SELECT count(*) FROM mv)",
                    1, false},
    {NULL, NULL, 0, false},
};

int store_pg_search_index_step(struct store_pg *pg, unsigned limit, unsigned *n)
{
    char lb[16];
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {lb};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__search_stmts[INDEX_STEP], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t v = 0;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &v) : PL_EINTERNAL;
    PQclear(r);
    *n = (unsigned)v;
    return rc;
}

static int read_hit(struct pl_arena *a, const PGresult *r, int row, struct store_search_hit *h)
{
    int rc = store_pg__get_i64(r, row, 0, &h->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 1, &h->conversation_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 2, &h->seq);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 3, &h->sender_id);
    if (rc < 0)
        return rc;
    h->created_at = store_pg__get_str(a, r, row, 4);
    h->score = store_pg__get_str(a, r, row, 5);
    if (PQgetisnull(r, row, 6)) {
        h->snippet = NULL;
        h->_segment = store_pg__get_str(a, r, row, 7);
        return h->created_at && h->score && h->_segment ? 0 : PL_ENOMEM;
    }
    h->snippet = store_pg__get_str(a, r, row, 6);
    return h->created_at && h->score && h->snippet ? 0 : PL_ENOMEM;
}

/* The snippet of an archived hit: its text from the segment, the
 * headline from PostgreSQL (the same one a hot hit gets). */
static int archived_snippet(struct store_pg *pg, struct pl_arena *a, const char *q,
                            struct store_search_hit *h)
{
    struct store_message m = {.seq = h->seq};
    const char *text = NULL;
    int rc = store_archive_fill(a, h->_segment, h->seq, &m);
    if (rc == 0)
        rc = store_archive_search_text(a, &m, &text);
    if (rc < 0)
        return rc;
    const char *vals[] = {q, text ? text : ""};
    PGresult *r;
    if ((rc = store_pg__exec(pg, &store_pg__search_stmts[HEADLINE], vals, NULL, NULL, &r)) < 0)
        return rc;
    h->snippet = PQntuples(r) == 1 ? store_pg__get_str(a, r, 0, 0) : "";
    PQclear(r);
    return h->snippet ? 0 : PL_ENOMEM;
}

int store_pg_search(struct store_pg *pg, struct pl_arena *a, const struct store_search_query *q,
                    struct store_search_hit **out, unsigned *n, bool *has_more)
{
    char ub[24], cb[24], bb[24], ab[24], lim[16];
    snprintf(ub, sizeof(ub), "%" PRId64, q->user_id);
    snprintf(cb, sizeof(cb), "%" PRId64, q->conversation_id);
    snprintf(bb, sizeof(bb), "%" PRId64, q->before_id);
    snprintf(ab, sizeof(ab), "%" PRId64, q->after_id);
    snprintf(lim, sizeof(lim), "%u", q->limit + 1); /* one more tells whether there is more */
    const char *vals[] = {q->q, ub, cb, bb, q->after_score, q->after_score ? ab : NULL, lim};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__search_stmts[SEARCH], vals, NULL, NULL, &r);
    if (rc == PL_EINVAL) {
        /* websearch_to_tsquery() has no syntax errors, but PostgreSQL may
         * still refuse a value of the query (class 22: a word or a query
         * past its internal limits). Such a query can match nothing. */
        *out = NULL;
        *n = 0;
        *has_more = false;
        return 0;
    }
    if (rc < 0)
        return rc;
    unsigned rows = (unsigned)PQntuples(r), keep = PL_MIN(rows, q->limit);
    struct store_search_hit *h = pl_arena_zalloc(a, (keep ? keep : 1) * sizeof(*h));
    rc = h ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < keep && rc == 0; i++)
        rc = read_hit(a, r, (int)i, &h[i]);
    PQclear(r);
    for (unsigned i = 0; i < keep && rc == 0; i++)
        if (!h[i].snippet)
            rc = archived_snippet(pg, a, q->q, &h[i]);
    *out = h;
    *n = keep;
    *has_more = rows > q->limit;
    return rc;
}

int store_pg_search_scope(struct store_pg *pg, int64_t conversation_id, int64_t user_id, bool *e2e)
{
    return store_pg__exec_bool(pg, &store_pg__search_stmts[SCOPE], conversation_id, user_id, e2e);
}

/* ---- the deployment's configuration ---- */

/* Runs sql with the parameters on c; 0 or the failure's code (logged). */
static int exec_on(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
                   PGresult **out)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = PQstatus(c) == CONNECTION_BAD ? PL_EUNAVAIL : PL_EINTERNAL;
    if (rc == PL_EINTERNAL && state && strcmp(state, "42704") == 0)
        rc = PL_EINVAL; /* undefined_object: no such text search configuration */
    else
        pl_log_error("search configuration: %s failed: %s", what,
                     r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return rc;
}

/* Re-indexing rewrites the terms of every hot message once (message_search;
 * tombstones stay NULL); it happens only when an operator changes
 * search_config. It runs under the row lock of search_settings, so two
 * nodes starting together do it once. The indexer and the edit trigger
 * read search_settings without that lock: a node still running with the
 * old setting indexes its new messages with the old configuration, so
 * every node must be restarted with the same setting (README, "Search").
 * Archived messages keep the vectors they were archived with. */
int store_pg_search_configure(const char *conninfo, const char *config)
{
    PGconn *c;
    int rc = store_pg__connect(conninfo, "10", NULL, &c);
    if (rc < 0)
        return rc;
    const char *vals[] = {config};
    PGresult *r = NULL;
    bool same = false;
    if ((rc = exec_on(c, "begin", "BEGIN", 0, NULL, NULL)) < 0)
        goto done;
    rc = exec_on(c, "read",
                 "SELECT config = $1::text::regconfig FROM search_settings"
                 " WHERE id = 1 FOR UPDATE",
                 1, vals, &r);
    if (rc < 0)
        goto done;
    same = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!same) {
        pl_log_info("search configuration becomes '%s': indexing the history again", config);
        rc = exec_on(c, "update", "UPDATE search_settings SET config = $1::text::regconfig", 1,
                     vals, NULL);
        if (rc == 0)
            rc = exec_on(c, "reindex",
                         "UPDATE message_search s SET tsv = to_tsvector($1::text::regconfig,"
                         " message_search_text(m.kind, m.body)) FROM messages m"
                         " WHERE m.conversation_id = s.conversation_id AND m.seq = s.seq"
                         " AND s.tsv IS NOT NULL",
                         1, vals, NULL);
    }
    if (rc == 0)
        rc = exec_on(c, "commit", "COMMIT", 0, NULL, NULL);
done:
    PQfinish(c);
    return rc;
}
