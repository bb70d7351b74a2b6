/* SPDX-License-Identifier: MIT */
/* Parley - full-text search over the history a user may read.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_SEARCH_H
#define PL_STORE_SEARCH_H

#include "pg.h"

/*
 * Messages are indexed by PostgreSQL, off the send's commit path: the
 * indexer (store_pg_search_index_step) inserts the terms of the text of
 * kind "text" and of the caption of kind "media" into message_search
 * (migration 0020), a table of its own written by inserts only, so a
 * message row is written once; e2e messages are never indexed. Edits and
 * deletions for everyone upsert their row there (a trigger; tsv NULL is a
 * tombstone), so neither is lost to a race with the indexer. Archiving and
 * expiry delete a message's terms with it. Queries
 * go through websearch_to_tsquery(), which accepts any text without a
 * syntax error: quoted phrases, OR, -exclusion; anything else is words.
 *
 * Ranking: score = ln(ts_rank_cd + 1e-6) + created_at_epoch / 30 days, so
 * a match counts e times more than the same match 30 days older. The
 * score does not depend on the current time, which keeps cursors stable.
 */

/* One search. Strings are borrowed for the call. */
struct store_search_query {
    const char *q;           /* the user's query, valid UTF-8 without NUL */
    int64_t user_id;         /* the caller: only its readable messages */
    int64_t conversation_id; /* 0 for every conversation */
    int64_t before_id;       /* 0, or only messages with id < before_id */
    const char *after_score; /* NULL, or the cursor: continue after ... */
    int64_t after_id;        /* ... (after_score, after_id) in rank order */
    unsigned limit;          /* 1..100 */
};

struct store_search_hit {
    int64_t id, conversation_id, seq, sender_id;
    const char *created_at; /* RFC 3339 UTC with ms */
    const char *snippet;    /* HTML-escaped text, matches in <mark>...</mark> */
    const char *score;      /* the rank as PostgreSQL printed it (for cursors) */
    const char *_segment;   /* internal: the segment of an archived hit */
};

/* The hits of q in rank order (best first); *out is an arena array and
 * *has_more tells whether another page exists. A query without lexemes
 * (only stop words, only punctuation) finds nothing. Worker thread.
 * Returns 0 or a common code (pg.h). */
PL_MUST_CHECK int store_pg_search(struct store_pg *pg, struct pl_arena *a,
                                  const struct store_search_query *q, struct store_search_hit **out,
                                  unsigned *n, bool *has_more);

/* Whether user_id is a member of conversation_id and whether that
 * conversation is end-to-end encrypted. Returns 0 or PL_ENOTFOUND (not a
 * member, or no such conversation). Worker thread. */
PL_MUST_CHECK int store_pg_search_scope(struct store_pg *pg, int64_t conversation_id,
                                        int64_t user_id, bool *e2e);

/* Makes config (a PostgreSQL text search configuration name, e.g.
 * "simple" or "english"; borrowed) the deployment's search configuration.
 * When it differs from the stored one, every indexed hot message is
 * indexed again (archived ones keep their vectors), in the same transaction (so a search never
 * mixes vectors built with one configuration with queries parsed with another). Opens its own
 * connection to conninfo; blocking; call at startup after the migrations.
 * Returns 0; PL_EINVAL when PostgreSQL knows no such configuration;
 * PL_EUNAVAIL; or PL_EINTERNAL. */
PL_MUST_CHECK int store_pg_search_configure(const char *conninfo, const char *config);

/* The search indexer's step (server/writer.c): inserts the terms of up to
 * limit messages committed after the indexed position into message_search,
 * in position order, and moves the position past them, in one transaction;
 * *n is how many it passed (0 when search has caught up). Safe on every
 * node at once: each message is indexed exactly once, and a row an edit or
 * a deletion wrote first is left as it is. Blocking; returns 0 or a common
 * code. */
PL_MUST_CHECK int store_pg_search_index_step(struct store_pg *pg, unsigned limit, unsigned *n);

#endif
