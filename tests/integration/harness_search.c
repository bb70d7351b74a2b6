/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: waiting for the search indexer.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One bigint from sql on c. */
static long long pos_of(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

void pt_search_wait(void)
{
    pt_search_wait_on(getenv("PARLEY_TEST_PG"));
}

void pt_search_wait_on(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    /* Everything committed before this call has a position up to target;
     * servers of other cases move both counters meanwhile, which only
     * makes the wait end later, never too early. */
    long long target = pos_of(c, "SELECT pos FROM stream_state WHERE id = 1");
    uint64_t deadline = pt_now_ms() + 20000;
    while (pos_of(c, "SELECT pos FROM search_index_state WHERE id = 1") < target) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the search indexer did not reach position %lld",
                        target);
        pt_sleep_ms(10);
    }
    PQfinish(c);
}

void pt_own_database(const char *prefix, char *out, size_t cap)
{
    char name[64];
    snprintf(name, sizeof(name), "%s_%d", prefix, (int)getppid());
    snprintf(out, cap, "%s dbname=%s", getenv("PARLEY_TEST_PG"), name);
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    if (PQstatus(c) != CONNECTION_OK)
        pltest_fail(__FILE__, __LINE__, "%s", PQerrorMessage(c));
    char q[128];
    snprintf(q, sizeof(q), "CREATE DATABASE %s", name);
    PQclear(PQexec(c, q)); /* fails harmlessly when another case made it */
    PQfinish(c);
    c = PQconnectdb(out);
    if (PQstatus(c) != CONNECTION_OK)
        pltest_fail(__FILE__, __LINE__, "database %s: %s", name, PQerrorMessage(c));
    PQfinish(c);
}
