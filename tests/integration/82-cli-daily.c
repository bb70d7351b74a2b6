/* SPDX-License-Identifier: MIT */
/* Parley - integration: the parley CLI as a daily tool (issue 15).     */
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

static const char *const commands[] = {
    "register", "login",    "logout", "chats",    "send", "listen",  "history",
    "read",     "search",   "typing", "presence", "user", "users",   "group",
    "devices",  "sessions", "verify", "keys",     "help", "version", NULL,
};

/* Help and the version: no server, no state, nothing written. */
PLTEST(cli_help_and_version_without_a_server)
{
    if (!getenv("PARLEY_TEST_CLI"))
        PL_SKIP("PARLEY_TEST_CLI is not set");
    pt_cli.tmpdir = pt_temp_dir("clidaily");
    struct pt_cli_out o = RUN_ALONE("--version");
    EXPECT_RC(o, 0);
    PL_ASSERT(strncmp(o.out, "parley ", 7) == 0);
    pt_cli_out_free(&o);
    o = RUN_ALONE("version");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN_ALONE("help");
    EXPECT_RC(o, 0);
    for (int i = 0; commands[i]; i++)
        if (strcmp(commands[i], "users") != 0)
            EXPECT_IN(o.out, commands[i]);
    /* Every environment variable the CLI reads, and the exit statuses. */
    static const char *const env[] = {"PARLEY_SERVER",
                                      "PARLEY_HOME",
                                      "PARLEY_PASSWORD",
                                      "PARLEY_PASSPHRASE",
                                      "PARLEY_CA_FILE",
                                      "PARLEY_VAULT_COST",
                                      "HOME",
                                      "Exit status",
                                      "3 not found",
                                      NULL};
    for (int i = 0; env[i]; i++)
        EXPECT_IN(o.out, env[i]);
    pt_cli_out_free(&o);
    char want[64];
    for (int i = 0; commands[i]; i++) {
        const char *name = strcmp(commands[i], "users") ? commands[i] : "user";
        snprintf(want, sizeof(want), "usage: parley %s", name);
        o = RUN_ALONE(commands[i], "--help");
        EXPECT_RC(o, 0);
        EXPECT_IN(o.out, want);
        EXPECT_IN(o.out, "PARLEY_SERVER");
        pt_cli_out_free(&o);
        o = RUN_ALONE("help", commands[i]);
        EXPECT_RC(o, 0);
        EXPECT_IN(o.out, want);
        pt_cli_out_free(&o);
    }
    /* --help is never an argument, wherever it stands. */
    o = RUN_ALONE("send", "bob", "--help");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "usage: parley send");
    pt_cli_out_free(&o);
    o = RUN_ALONE("group", "create", "-h");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "usage: parley group");
    pt_cli_out_free(&o);
    /* Usage errors exit 2 before any server is needed. */
    const char *const *bad[] = {
        (const char *const[]){"frobnicate", NULL},
        (const char *const[]){"help", "frob", NULL},
        (const char *const[]){"send", "bob", NULL},
        (const char *const[]){"history", NULL},
        (const char *const[]){"presence", "a", "b", NULL},
        (const char *const[]){NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = pt_cli_run(NULL, 0, bad[i]);
        EXPECT_RC(o, 2);
        PL_ASSERT(strstr(o.err, "usage") || strstr(o.err, "parley help"));
        pt_cli_out_free(&o);
    }
    o = RUN_ALONE("chats");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "PARLEY_SERVER");
    pt_cli_out_free(&o);
    char nohome[600];
    struct stat stb;
    snprintf(nohome, sizeof(nohome), "%s/never-created", pt_cli.tmpdir);
    PL_ASSERT(stat(nohome, &stb) != 0);
}

static void unique_name(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s_%d_%d", tag, (int)getpid() % 100000, rand() % 100000);
}

/* A line "[HH:MM] rest" (or "[YYYY-MM-DD HH:MM] rest") in out. */
static void expect_line(const char *out, const char *rest, int line)
{
    for (const char *p = out; (p = strstr(p, rest)); p++) {
        const char *start = p;
        while (start > out && start[-1] != '\n')
            start--;
        if (start[0] == '[' && p - start >= 8 && p[-2] == ']' && p[-1] == ' ' &&
            (start[3] == ':' || start[5] == '-') && (p[strlen(rest)] == '\n' || !p[strlen(rest)]))
            return;
    }
    pltest_fail(__FILE__, line, "no line \"[time] %s\" in: %.1200s", rest, out);
}

static yajl_val parse(const char *s, int line)
{
    char err[256];
    yajl_val v = yajl_tree_parse(s, err, sizeof(err));
    if (!v)
        pltest_fail(__FILE__, line, "not JSON (%s): %.600s", err, s);
    return v;
}

/* Two users, an E2E and a plain chat, a group: names in every line, the
 * ids in --json, exit status 3 for what does not exist, and the commands
 * typing, presence, user(s), devices, sessions, group info/rename/leave. */
PLTEST_PROTO(cli_daily_names_json_and_commands)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char a[40], b[40], ha[600], hb[600], line[200], gid[32], word[32];
    pt_cli_setup(s, proto, "clidaily");
    srand((unsigned)getpid() * 31u + (unsigned)proto);
    unique_name(a, sizeof(a), "dya");
    unique_name(b, sizeof(b), "dyb");
    snprintf(ha, sizeof(ha), "%s/a", pt_cli.tmpdir);
    snprintf(hb, sizeof(hb), "%s/b", pt_cli.tmpdir);
    snprintf(word, sizeof(word), "wombat%d", rand() % 100000);
    struct pt_cli_out o = RUN(ha, "register", a);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "register", b);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    char secret[96], plain[96];
    snprintf(secret, sizeof(secret), "secret %s here", word);
    snprintf(plain, sizeof(plain), "plain %s there", word);
    o = RUN(ha, "send", b, secret);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "send", "--plain", b, plain);
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "sent to %s (plain)", b);
    EXPECT_IN(o.out, line);
    pt_cli_out_free(&o);

    /* listen names the sender, and the plain chat as such. */
    o = RUN(hb, "listen", "--count", "2", "--timeout", "20");
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "%s: %s", a, secret);
    expect_line(o.out, line, __LINE__);
    snprintf(line, sizeof(line), "%s (plain): %s", a, plain);
    expect_line(o.out, line, __LINE__);
    pt_cli_out_free(&o);

    /* Two chats with one person, named apart; unread counts. */
    o = RUN(hb, "chats");
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "%s (plain) ", a);
    EXPECT_IN(o.out, line);
    snprintf(line, sizeof(line), "\n%s ", a);
    if (!strstr(o.out, line) && strncmp(o.out, line + 1, strlen(line + 1)) != 0)
        pltest_fail(__FILE__, __LINE__, "no line for the E2E chat: %s", o.out);
    EXPECT_IN(o.out, "1 unread");
    pt_cli_out_free(&o);
    o = RUN(hb, "chats", "--json");
    EXPECT_RC(o, 0);
    yajl_val v = parse(o.out, __LINE__);
    PL_ASSERT(YAJL_IS_ARRAY(v) && v->u.array.len == 2);
    pt_cli_out_free(&o);
    yajl_tree_free(v);

    /* history: names and times; --json: ids too; each chat its own. */
    o = RUN(hb, "history", a);
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "%s: %s", a, secret);
    expect_line(o.out, line, __LINE__);
    PL_ASSERT(!strstr(o.out, plain));
    pt_cli_out_free(&o);
    snprintf(line, sizeof(line), "%s (plain)", a);
    o = RUN(hb, "history", line);
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "%s: %s", a, plain);
    expect_line(o.out, line, __LINE__);
    pt_cli_out_free(&o);
    o = RUN(hb, "--json", "history", a);
    EXPECT_RC(o, 0);
    v = parse(o.out, __LINE__);
    PL_ASSERT(YAJL_IS_ARRAY(v) && v->u.array.len == 1);
    yajl_val m = v->u.array.values[0];
    const char *sk[] = {"sender", NULL}, *tk[] = {"text", NULL}, *ik[] = {"sender_id", NULL},
               *tm[] = {"time", NULL};
    PL_ASSERT_STR_EQ(YAJL_GET_STRING(yajl_tree_get(m, sk, yajl_t_string)), a);
    PL_ASSERT_STR_EQ(YAJL_GET_STRING(yajl_tree_get(m, tk, yajl_t_string)), secret);
    PL_ASSERT(yajl_tree_get(m, ik, yajl_t_number) != NULL);
    PL_ASSERT(yajl_tree_get(m, tm, yajl_t_string) != NULL);
    yajl_tree_free(v);
    pt_cli_out_free(&o);

    /* search: server and local hits; no match exits 3; offline, E2E
     * chats are still searched on the device. */
    pt_search_wait();
    o = RUN(hb, "search", word);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, secret);
    EXPECT_IN(o.out, plain);
    pt_cli_out_free(&o);
    o = RUN(hb, "search", "nothingmatchesthis");
    EXPECT_RC(o, 3);
    EXPECT_IN(o.err, "no match");
    pt_cli_out_free(&o);
    {
        char saved[128];
        snprintf(saved, sizeof(saved), "%s", pt_cli.server_url);
        snprintf(pt_cli.server_url, sizeof(pt_cli.server_url), "http://127.0.0.1:1");
        int keep11 = pt_cli.http11, keepc = pt_cli.h2c;
        pt_cli.http11 = pt_cli.h2c = 0;
        o = RUN(hb, "search", word);
        EXPECT_RC(o, 0);
        snprintf(line, sizeof(line), "%s: %s", a, secret);
        expect_line(o.out, line, __LINE__);
        EXPECT_IN(o.err, "cannot be reached");
        pt_cli_out_free(&o);
        o = RUN(hb, "history", a);
        EXPECT_RC(o, 0);
        EXPECT_IN(o.out, secret);
        pt_cli_out_free(&o);
        snprintf(pt_cli.server_url, sizeof(pt_cli.server_url), "%s", saved);
        pt_cli.http11 = keep11;
        pt_cli.h2c = keepc;
    }

    /* Not found: 3, with a message saying what to do. */
    o = RUN(hb, "history", "no_such_person_x");
    EXPECT_RC(o, 3);
    EXPECT_IN(o.err, "parley chats");
    pt_cli_out_free(&o);
    o = RUN(hb, "presence", "no_such_person_x");
    EXPECT_RC(o, 3);
    pt_cli_out_free(&o);
    o = RUN(hb, "user", "no_such_person_x");
    EXPECT_RC(o, 3);
    pt_cli_out_free(&o);
    o = RUN(hb, "group", "info", "#999999999");
    EXPECT_RC(o, 3);
    pt_cli_out_free(&o);

    /* typing, presence, user, users */
    o = RUN(hb, "typing", a);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "presence", b);
    EXPECT_RC(o, 0);
    snprintf(line, sizeof(line), "%s: ", b);
    EXPECT_IN(o.out, line);
    pt_cli_out_free(&o);
    o = RUN(ha, "--json", "presence", b);
    EXPECT_RC(o, 0);
    yajl_tree_free(parse(o.out, __LINE__));
    EXPECT_IN(o.out, "\"status\"");
    pt_cli_out_free(&o);
    o = RUN(ha, "user", b);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, b);
    pt_cli_out_free(&o);
    o = RUN(ha, "users", "dyb_");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, b);
    pt_cli_out_free(&o);

    /* group create, rename, info, leave */
    o = RUN(ha, "group", "create", "daily", b);
    EXPECT_RC(o, 0);
    long long id = 0;
    PL_ASSERT(sscanf(o.out, "group %lld created", &id) == 1 && id > 0);
    pt_cli_out_free(&o);
    snprintf(gid, sizeof(gid), "#%lld", id);
    o = RUN(ha, "group", "rename", gid, "daily renamed");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "group", "info", gid);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "daily renamed");
    EXPECT_IN(o.out, a);
    EXPECT_IN(o.out, "admin");
    pt_cli_out_free(&o);
    o = RUN(hb, "group", "leave", gid);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "--json", "group", "info", "daily renamed");
    EXPECT_RC(o, 0);
    v = parse(o.out, __LINE__);
    const char *mk[] = {"members", NULL};
    yajl_val ms = yajl_tree_get(v, mk, yajl_t_array);
    PL_ASSERT(ms && ms->u.array.len == 1);
    yajl_tree_free(v);
    pt_cli_out_free(&o);

    /* devices and sessions */
    o = RUN(ha, "devices");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "(this device)");
    pt_cli_out_free(&o);
    o = RUN(ha, "--json", "devices");
    EXPECT_RC(o, 0);
    v = parse(o.out, __LINE__);
    PL_ASSERT(YAJL_IS_ARRAY(v) && v->u.array.len == 1);
    yajl_tree_free(v);
    pt_cli_out_free(&o);
    /* sessions: a second device of a's is listed, then revoked from the
     * first; the revoked one is told to log in again. */
    char ha2[600];
    snprintf(ha2, sizeof(ha2), "%s/a2", pt_cli.tmpdir);
    o = RUN(ha2, "login", a);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "sessions");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "(this device)");
    pt_cli_out_free(&o);
    o = RUN(ha2, "--json", "sessions");
    EXPECT_RC(o, 0);
    v = parse(o.out, __LINE__);
    PL_ASSERT(YAJL_IS_ARRAY(v) && v->u.array.len == 2);
    long long other = 0;
    for (size_t i = 0; i < v->u.array.len; i++) {
        const char *idk[] = {"id", NULL}, *ck[] = {"current", NULL};
        yajl_val e = v->u.array.values[i];
        if (YAJL_IS_TRUE(yajl_tree_get(e, ck, yajl_t_true)))
            other = YAJL_GET_INTEGER(yajl_tree_get(e, idk, yajl_t_number));
    }
    yajl_tree_free(v);
    pt_cli_out_free(&o);
    PL_ASSERT(other > 0);
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", other);
    o = RUN(ha, "sessions", "revoke", sid);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha2, "chats");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "parley login");
    pt_cli_out_free(&o);
    o = RUN(ha, "sessions", "revoke", "999999999");
    EXPECT_RC(o, 3);
    pt_cli_out_free(&o);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* parley edit and parley delete (issue 12) on a plain chat: the sender
 * edits and deletes, the peer may not edit it but may hide it for itself. */
PLTEST_PROTO(cli_edit_and_delete)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char a[40], b[40], ha[600], hb[600], ca[64], cb[64];
    pt_cli_setup(s, proto, "clidaily");
    srand((unsigned)getpid() * 37u + (unsigned)proto);
    unique_name(a, sizeof(a), "eda");
    unique_name(b, sizeof(b), "edb");
    snprintf(ha, sizeof(ha), "%s/ea", pt_cli.tmpdir);
    snprintf(hb, sizeof(hb), "%s/eb", pt_cli.tmpdir);
    snprintf(ca, sizeof(ca), "%s (plain)", b);
    snprintf(cb, sizeof(cb), "%s (plain)", a);
    struct pt_cli_out o = RUN(ha, "register", a);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "register", b);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "send", "--plain", b, "meet at teh station");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "edit", ca, "1", "meet at the station");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "edited message 1");
    pt_cli_out_free(&o);
    o = RUN(hb, "react", cb, "1", "\xF0\x9F\x91\x8D");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "reacted");
    pt_cli_out_free(&o);
    o = RUN(hb, "react", cb, "1", "no");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "422");
    pt_cli_out_free(&o);
    o = RUN(hb, "react", "--remove", cb, "1", "\xF0\x9F\x91\x8D");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "removed");
    pt_cli_out_free(&o);
    o = RUN(hb, "edit", cb, "1", "not yours");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "403");
    pt_cli_out_free(&o);
    o = RUN(ha, "edit", ca, "x", "bad seq");
    EXPECT_RC(o, 2);
    pt_cli_out_free(&o);
    o = RUN(hb, "forward", cb, "1", cb);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "forwarded message 1");
    pt_cli_out_free(&o);
    o = RUN(hb, "delete", "--for-me", cb, "1");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "for you");
    pt_cli_out_free(&o);
    o = RUN(ha, "delete", ca, "1", "--json");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "\"for\":\"everyone\"");
    pt_cli_out_free(&o);
    o = RUN(ha, "delete", ca, "7");
    EXPECT_RC(o, 3);
    pt_cli_out_free(&o);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* parley requests and parley block (issue 12): b sees a's chat as a
 * request, accepts it; blocked, a cannot send; unblocked, it can. */
PLTEST_PROTO(cli_requests_and_block)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char a[40], b[40], ha[600], hb[600], cb[64];
    pt_cli_setup(s, proto, "clidaily");
    srand((unsigned)getpid() * 41u + (unsigned)proto);
    unique_name(a, sizeof(a), "rqa");
    unique_name(b, sizeof(b), "rqb");
    snprintf(ha, sizeof(ha), "%s/ra", pt_cli.tmpdir);
    snprintf(hb, sizeof(hb), "%s/rb", pt_cli.tmpdir);
    snprintf(cb, sizeof(cb), "%s (plain)", a);
    struct pt_cli_out o = RUN(ha, "register", a);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "register", b);
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(ha, "send", "--plain", b, "hello there");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "requests");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, a);
    pt_cli_out_free(&o);
    o = RUN(hb, "requests", "accept", cb);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "accepted");
    pt_cli_out_free(&o);
    o = RUN(hb, "requests");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "no message requests");
    pt_cli_out_free(&o);
    o = RUN(hb, "block", a);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "blocked");
    pt_cli_out_free(&o);
    o = RUN(hb, "block", "--list");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, a);
    pt_cli_out_free(&o);
    o = RUN(ha, "send", "--plain", b, "are you there?");
    EXPECT_RC(o, 1);
    EXPECT_IN(o.err, "403");
    pt_cli_out_free(&o);
    o = RUN(hb, "block", "--remove", a);
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "unblocked");
    pt_cli_out_free(&o);
    o = RUN(ha, "send", "--plain", b, "are you there now?");
    EXPECT_RC(o, 0);
    pt_cli_out_free(&o);
    o = RUN(hb, "expire", cb, "7d");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "disappear after 7d");
    pt_cli_out_free(&o);
    o = RUN(hb, "expire", cb, "5m");
    EXPECT_RC(o, 2);
    pt_cli_out_free(&o);
    o = RUN(hb, "expire", cb, "off");
    EXPECT_RC(o, 0);
    EXPECT_IN(o.out, "no longer disappear");
    pt_cli_out_free(&o);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
