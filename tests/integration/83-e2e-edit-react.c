/* SPDX-License-Identifier: MIT */
/* Parley - integration: e2e edits, reactions, deletes via the CLI.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_cli.h"

#include <yajl/yajl_tree.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Drives the built `parley` binary (PARLEY_TEST_CLI) like 80-cli-e2e:
 * help and version without any server, exit statuses (0 ok, 1 error, 2
 * usage, 3 not found), names rather than ids in the text output, --json on
 * the listings, and the commands added for issue 15.
 */

static void unique_name(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s_%d_%d", tag, (int)getpid() % 100000, rand() % 100000);
}

/* Runs an SQL query with psql on the test database; its output. */
static char *sql(const char *q)
{
    char cmd[1024];
    const char *pg = getenv("PARLEY_TEST_PG");
    PL_ASSERT(pg != NULL);
    snprintf(cmd, sizeof(cmd), "psql -XAtq '%s' -c \"%s\"", pg, q);
    FILE *f = popen(cmd, "r");
    PL_ASSERT(f != NULL);
    char *buf = pt_slurp_fd(fileno(f));
    PL_ASSERT_INT_EQ(pclose(f), 0);
    return buf;
}

/* Dumps the whole database and fails when one of the secrets is in it. */
static void scan_db(const char *const *secrets, int n)
{
    const char *pg = getenv("PARLEY_TEST_PG");
    char cmd[1024];
    PL_ASSERT(pg != NULL);
    snprintf(cmd, sizeof(cmd), "pg_dump --data-only '%s'", pg);
    FILE *f = popen(cmd, "r");
    PL_ASSERT(f != NULL);
    char *buf = pt_slurp_fd(fileno(f));
    PL_ASSERT_INT_EQ(pclose(f), 0);
    PL_ASSERT(strstr(buf, "COPY public.messages") != NULL); /* the dump is real */
    for (int i = 0; i < n; i++)
        if (strstr(buf, secrets[i]))
            pltest_fail(__FILE__, __LINE__, "plaintext \"%s\" found in PostgreSQL", secrets[i]);
    free(buf);
}

#define FLAMINGO "\xF0\x9F\xA6\xA9" /* U+1F9A9, in no other test */

static void registered(const char *home, const char *name)
{
    struct pt_cli_out o = RUN(home, "register", name);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
}

/* listen --count n --json as home; its output (caller frees). */
static struct pt_cli_out listen_n(const char *home, const char *n)
{
    struct pt_cli_out o = RUN(home, "listen", "--count", n, "--timeout", "20", "--json");
    EXPECT_RC(o, 0);
    return o;
}

/* A direct E2E chat: the sender edits (the peer sees the new text, the
 * server only that seq 1 was edited), the peer reacts and takes it back,
 * someone else's edit is refused, a delete reaches the local histories;
 * PostgreSQL never holds the texts or the emoji. */
PLTEST_PROTO(e2e_direct_edit_react_delete)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char a[40], b[40], ha[600], hb[600], old[64], new[64], q[256], notyours[64];
    pt_cli_setup(s, proto, "e2eact");
    srand((unsigned)getpid() * 31u + (unsigned)proto);
    unique_name(a, sizeof(a), "xa");
    unique_name(b, sizeof(b), "xb");
    snprintf(old, sizeof(old), "meet at teh station %d", rand());
    snprintf(new, sizeof(new), "meet at the station %d", rand());
    /* Secrets unique to this run: the database scan sees other tests' rows. */
    snprintf(notyours, sizeof(notyours), "not yours %d", rand());
    snprintf(ha, sizeof(ha), "%s/a", pt_cli.tmpdir);
    snprintf(hb, sizeof(hb), "%s/b", pt_cli.tmpdir);
    registered(ha, a);
    registered(hb, b);
    struct pt_cli_out o = RUN(ha, "send", b, old, "--json");
    EXPECT_RC(o, 0);
    long long conv = atoll(strstr(o.out, "\"conversation_id\":") + 18);
    pt_cli_out_free(&o);
    o = listen_n(hb, "1");
    EXPECT_IN(o.out, old);
    pt_cli_out_free(&o);

    o = RUN(ha, "edit", b, "1", new);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "edited message 1");
    EXPECT_IN(o.out, "end-to-end encrypted");
    pt_cli_out_free(&o);
    /* The server learnt that seq 1 was edited, and the marker of seq 2. */
    snprintf(q, sizeof(q),
             "SELECT seq, edited_at IS NOT NULL, body FROM messages WHERE conversation_id = %lld "
             "ORDER BY seq",
             conv);
    char *rows = sql(q);
    EXPECT_IN(rows, "1|t|");
    EXPECT_IN(rows, "\"refers_to\":1,\"action\":\"edit\"");
    free(rows);
    o = listen_n(hb, "1");
    EXPECT_IN(o.out, "\"action\":\"edit\"");
    EXPECT_IN(o.out, "\"seq\":1");
    EXPECT_IN(o.out, new);
    pt_cli_out_free(&o);

    o = RUN(hb, "react", a, "1", FLAMINGO);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "reacted to message 1");
    pt_cli_out_free(&o);
    o = RUN(hb, "react", a, "1", "no");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "not a single emoji");
    pt_cli_out_free(&o);
    o = listen_n(ha, "1");
    EXPECT_IN(o.out, "\"action\":\"reaction\"");
    EXPECT_IN(o.out, FLAMINGO);
    pt_cli_out_free(&o);

    /* Both histories: the new text, marked edited, with the reaction. */
    o = RUN(hb, "history", a, "--json");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, new);
    EXPECT_NOT_IN(o.out, old);
    EXPECT_IN(o.out, "\"edited\":true");
    EXPECT_IN(o.out, "{\"emoji\":\"" FLAMINGO "\",\"count\":1,\"mine\":true}");
    pt_cli_out_free(&o);
    o = RUN(ha, "history", b);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, new);
    EXPECT_IN(o.out, "(edited) [" FLAMINGO " 1]");
    EXPECT_NOT_IN(o.out, "\\x01"); /* the action messages themselves are not listed */
    pt_cli_out_free(&o);
    o = RUN(ha, "search", "the", "station");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, new);
    pt_cli_out_free(&o);

    /* Someone else's message: 403, and nothing is stored. */
    o = RUN(hb, "edit", a, "1", notyours);
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "403");
    pt_cli_out_free(&o);
    o = RUN(hb, "react", "--remove", a, "1", FLAMINGO);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = listen_n(ha, "1");
    EXPECT_IN(o.out, "\"emoji\":null");
    pt_cli_out_free(&o);
    o = RUN(ha, "history", b, "--json");
    EXPECT_IN(o.out, "\"reactions\":[]");
    pt_cli_out_free(&o);

    const char *secrets[] = {old, new, FLAMINGO, notyours};
    scan_db(secrets, 4);

    o = RUN(ha, "delete", b, "1");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "history", b);
    EXPECT_IN(o.out, "(message deleted)");
    EXPECT_NOT_IN(o.out, new);
    pt_cli_out_free(&o);
    o = listen_n(hb, "1");
    EXPECT_IN(o.out, "\"action\":\"delete\"");
    pt_cli_out_free(&o);
    o = RUN(hb, "history", a);
    EXPECT_IN(o.out, "(message deleted)");
    EXPECT_NOT_IN(o.out, new);
    pt_cli_out_free(&o);
    /* Editing or reacting to a deleted message: 409. */
    o = RUN(hb, "react", a, "1", FLAMINGO);
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "409");
    pt_cli_out_free(&o);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A group of three with sender keys: past edit_window (0 here) an edit is
 * 409 and nothing is sent; a reaction reaches both other members; an edit
 * envelope naming a message that does not exist is 422. */
PLTEST_PROTO(e2e_group_window_and_reaction)
{
    static const char *const args[] = {"--edit-window", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    char a[40], b[40], c[40], ha[600], hb[600], hc[600], g[48], text[64], late[64];
    pt_cli_setup(s, proto, "e2eact");
    srand((unsigned)getpid() * 17u + (unsigned)proto);
    unique_name(a, sizeof(a), "ga");
    unique_name(b, sizeof(b), "gb");
    unique_name(c, sizeof(c), "gc");
    snprintf(text, sizeof(text), "group hello %d", rand());
    snprintf(late, sizeof(late), "too late %d", rand()); /* 36-messages-edit says "too late" */
    snprintf(ha, sizeof(ha), "%s/ga", pt_cli.tmpdir);
    snprintf(hb, sizeof(hb), "%s/gb", pt_cli.tmpdir);
    snprintf(hc, sizeof(hc), "%s/gc", pt_cli.tmpdir);
    registered(ha, a);
    registered(hb, b);
    registered(hc, c);
    struct pt_cli_out o = RUN(ha, "group", "create", "trio", b, c, "--json");
    EXPECT_RC(o, 0);
    snprintf(g, sizeof(g), "#%lld", atoll(strstr(o.out, "\"conversation_id\":") + 18));
    pt_cli_out_free(&o);
    o = RUN(ha, "send", g, text);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = listen_n(hb, "1");
    EXPECT_IN(o.out, text);
    pt_cli_out_free(&o);
    o = listen_n(hc, "1");
    EXPECT_IN(o.out, text);
    pt_cli_out_free(&o);

    o = RUN(ha, "edit", g, "1", late);
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "409");
    EXPECT_IN(o.err, "edit window");
    pt_cli_out_free(&o);
    o = RUN(ha, "edit", g, "9", "no such message");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "422");
    pt_cli_out_free(&o);

    o = RUN(hb, "react", g, "1", FLAMINGO);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = listen_n(hc, "1");
    EXPECT_IN(o.out, "\"action\":\"reaction\"");
    EXPECT_IN(o.out, FLAMINGO);
    pt_cli_out_free(&o);
    o = listen_n(ha, "1");
    EXPECT_IN(o.out, FLAMINGO);
    pt_cli_out_free(&o);
    o = RUN(hc, "history", g, "--json");
    EXPECT_IN(o.out, text);
    EXPECT_IN(o.out, "\"edited\":false");
    EXPECT_IN(o.out, "{\"emoji\":\"" FLAMINGO "\",\"count\":1,\"mine\":false}");
    pt_cli_out_free(&o);
    const char *secrets[] = {text, FLAMINGO, late};
    scan_db(secrets, 3);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
