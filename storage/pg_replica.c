/* SPDX-License-Identifier: MIT */
/* Parley - WAL positions for read-your-writes on a hot standby.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "replica.h"
#include "pg_int.h"

#include <libpq-fe.h>
#include <string.h>

enum { INSERT_LSN, REPLAY_LSN };

/* Both run on every connection, primary or standby, since every table is
 * prepared on every connect; each fails only when run on the wrong kind of
 * server, which is the answer the caller wants. */
const struct store_pg__stmt store_pg__replica_stmts[] = {
    [INSERT_LSN] = {"replica_insert_lsn",
                    "SELECT CASE WHEN pg_is_in_recovery() THEN NULL"
                    " ELSE pg_current_wal_insert_lsn()::text END",
                    0, true},
    /* NULL while the standby has replayed nothing, and on a primary; then
     * the stream position the standby has replayed (storage/replica.h). */
    [REPLAY_LSN] = {"replica_replay_lsn",
                    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text"
                    " END, (SELECT pos FROM stream_state WHERE id = 1)",
                    0, true},
    {NULL, NULL, 0, false},
};

int store_pg_lsn_parse(const char *s, uint64_t *lsn)
{
    uint64_t hi = 0, lo = 0;
    const char *p = s;
    unsigned digits = 0;
    for (; *p && *p != '/'; p++, digits++) {
        const char *h = strchr("0123456789ABCDEFabcdef", *p);
        if (!h || digits >= 8)
            return PL_EINVAL;
        unsigned v = (unsigned)(h - "0123456789ABCDEFabcdef");
        hi = hi * 16 + (v < 16 ? v : v - 6);
    }
    if (!digits || *p != '/')
        return PL_EINVAL;
    digits = 0;
    for (p++; *p; p++, digits++) {
        const char *h = strchr("0123456789ABCDEFabcdef", *p);
        if (!h || digits >= 8)
            return PL_EINVAL;
        unsigned v = (unsigned)(h - "0123456789ABCDEFabcdef");
        lo = lo * 16 + (v < 16 ? v : v - 6);
    }
    if (!digits)
        return PL_EINVAL;
    *lsn = hi << 32 | lo;
    return 0;
}

/* The statement's first column as an LSN; its second, when pos is given,
 * as a stream position. */
static int one_lsn(struct store_pg *pg, int idx, uint64_t *lsn, uint64_t *pos)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__replica_stmts[idx], NULL, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t p = 0;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
        rc = PL_EINVAL;
    else
        rc = store_pg_lsn_parse(PQgetvalue(r, 0, 0), lsn);
    if (rc == 0 && pos && (rc = store_pg__get_i64(r, 0, 1, &p)) == 0)
        *pos = p > 0 ? (uint64_t)p : 0;
    PQclear(r);
    return rc;
}

int store_pg_wal_insert_lsn(struct store_pg *pg, uint64_t *lsn)
{
    return one_lsn(pg, INSERT_LSN, lsn, NULL);
}

int store_pg_replay_lsn(struct store_pg *pg, uint64_t *lsn, uint64_t *pos)
{
    return one_lsn(pg, REPLAY_LSN, lsn, pos);
}
