/* SPDX-License-Identifier: MIT */
/* Parley - integration: what the messages' foreign keys guarded (0021). */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Migration 0021 took the foreign keys off messages: they cost a query and
 * a row lock per inserted message inside the writer's serial section. What
 * they guarded must still hold. On insert, the writer's check is the guard:
 * a send to a conversation that does not exist, or whose member the sender
 * is not, stores nothing. On delete, two statement triggers stand in: a
 * conversation takes its messages (and their search terms) along, and a
 * user who sent messages cannot be deleted. Nothing in parleyd deletes
 * either, so the deletes are SQL, on a database of this file's own: the
 * shared one's analytics checks (65) count every message ever stored.
 */

static char pg[1024]; /* conninfo of this file's database */

static struct pt_server *start(void)
{
    pt_own_database("parley_refs", pg, sizeof(pg));
    const char *args[] = {"--pg", pg, NULL};
    return PT_SERVER_START(args);
}

/* Runs sql; the first column of the first row as a number (0 when none).
 * With want_error set, the statement must fail with that SQLSTATE. */
static long long sql(const char *q, const char *want_error)
{
    PGconn *c = PQconnectdb(pg);
    if (PQstatus(c) != CONNECTION_OK)
        pltest_fail(__FILE__, __LINE__, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    long long v = 0;
    if (want_error) {
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (st != PGRES_FATAL_ERROR || !code || strcmp(code, want_error) != 0)
            pltest_fail(__FILE__, __LINE__, "%s: wanted SQLSTATE %s, got %s (%s)", q, want_error,
                        code ? code : "success", PQerrorMessage(c));
    } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        v = atoll(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    PQfinish(c);
    return v;
}

static long long count(const char *table, const char *column, int64_t id)
{
    char q[160];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s WHERE %s = %lld", table, column, (long long)id);
    return sql(q, NULL);
}

static void send_expect(struct pt_server *s, const struct pt_user *u, int64_t conv, long status)
{
    char path[96], body[160];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    snprintf(body, sizeof(body),
             "{\"client_msg_id\":\"ref-%lld-%lld\",\"kind\":\"text\",\"text\":\"nope\"}",
             (long long)u->id, (long long)conv);
    struct pt_resp r;
    pt_send_json(s, PT_H1, "POST", path, u->token, body, &r);
    PT_ASSERT_STATUS(&r, status);
    pt_resp_free(&r);
}

PLTEST(sends_outside_a_membership_store_nothing)
{
    struct pt_server *s = start();
    struct pt_user a, b, c;
    PT_USER_NEW(s, PT_H1, "ref_a", &a);
    PT_USER_NEW(s, PT_H1, "ref_b", &b);
    PT_USER_NEW(s, PT_H1, "ref_c", &c);
    int64_t conv = PT_DIRECT(s, PT_H1, &a, b.id, 201);
    int64_t none = conv + 1000000000;
    /* No such conversation: the check, not a foreign key, refuses it. */
    send_expect(s, &a, none, 404);
    PL_ASSERT_INT_EQ(count("messages", "conversation_id", none), 0);
    /* A conversation that exists, of which c is no member. */
    send_expect(s, &c, conv, 404);
    PL_ASSERT_INT_EQ(count("messages", "sender_id", c.id), 0);
    PL_ASSERT_INT_EQ(count("messages", "conversation_id", conv), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST(a_conversation_takes_its_messages_along)
{
    struct pt_server *s = start();
    struct pt_user a, b;
    PT_USER_NEW(s, PT_H1, "ref_a", &a);
    PT_USER_NEW(s, PT_H1, "ref_b", &b);
    int64_t conv = PT_DIRECT(s, PT_H1, &a, b.id, 201);
    PT_SEND(s, PT_H1, &a, conv, "first words");
    PT_SEND(s, PT_H1, &b, conv, "and an answer");
    pt_search_wait_on(pg);
    PL_ASSERT_INT_EQ(count("messages", "conversation_id", conv), 2);
    PL_ASSERT_INT_EQ(count("message_search", "conversation_id", conv), 2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    char q[96];
    snprintf(q, sizeof(q), "DELETE FROM conversations WHERE id = %lld", (long long)conv);
    sql(q, NULL);
    PL_ASSERT_INT_EQ(count("messages", "conversation_id", conv), 0);
    PL_ASSERT_INT_EQ(count("message_search", "conversation_id", conv), 0);
}

PLTEST(a_sender_cannot_be_deleted)
{
    struct pt_server *s = start();
    struct pt_user a, b, quiet;
    PT_USER_NEW(s, PT_H1, "ref_a", &a);
    PT_USER_NEW(s, PT_H1, "ref_b", &b);
    PT_USER_NEW(s, PT_H1, "ref_q", &quiet);
    int64_t conv = PT_DIRECT(s, PT_H1, &a, b.id, 201);
    PT_SEND(s, PT_H1, &b, conv, "kept");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    char q[96];
    /* b sent a message: refused as the foreign key did, nothing removed. */
    snprintf(q, sizeof(q), "DELETE FROM users WHERE id = %lld", (long long)b.id);
    sql(q, "23503");
    PL_ASSERT_INT_EQ(count("users", "id", b.id), 1);
    PL_ASSERT_INT_EQ(count("messages", "sender_id", b.id), 1);
    /* A user who never sent anything (nor created a conversation) goes. */
    snprintf(q, sizeof(q), "DELETE FROM users WHERE id = %lld", (long long)quiet.id);
    sql(q, NULL);
    PL_ASSERT_INT_EQ(count("users", "id", quiet.id), 0);
}
