/* SPDX-License-Identifier: MIT */
/* Parley - CLI commands: typing, presence, user(s), devices, sessions. */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each command is one or two requests: its text output names things,
 * --json prints the ids as well (mostly the server's own object). A 404
 * exits CLI_EXIT_NOTFOUND (cli_expect).
 */

/* Prints a yajl tree as JSON on one line. */
static void print_tree(yajl_gen g, yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            GEN_STR(g, v->u.object.keys[i]);
            print_tree(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            print_tree(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        const char *str = YAJL_GET_STRING(v);
        GEN_STR(g, str ? str : "");
    } else if (YAJL_IS_INTEGER(v)) {
        yajl_gen_integer(g, YAJL_GET_INTEGER(v));
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(g, YAJL_GET_NUMBER(v), strlen(YAJL_GET_NUMBER(v)));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(g);
    }
}

static void print_json(yajl_val v)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    print_tree(g, v);
    char *s = cli_gen_done(g);
    printf("%s\n", s);
    free(s);
}

int cli_cmd_typing(struct cli *c, int argc, char **argv)
{
    char path[96];
    yajl_val res;
    if (argc != 2)
        return -1;
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", cli_chat_resolve(c, argv[1], 0));
    long st = cli_http(c, "POST", path, NULL, &res);
    cli_expect(st, res, 204, 200, "sending the typing indicator");
    yajl_tree_free(res);
    return 0;
}

/* "online", "offline, last seen 12:04", ... for a Presence object. */
static void print_presence(const char *who, yajl_val p)
{
    char tb[32];
    const char *status = cli_jstr(p, "status"), *seen = cli_jstr(p, "last_seen");
    if (status && !strcmp(status, "online"))
        printf("%s: online\n", who);
    else if (status && !strcmp(status, "unknown"))
        printf("%s: unknown (the server cannot tell right now)%s%s\n", who,
               seen ? "; last seen " : "", seen ? cli_time_str(cli_time_parse(seen), tb) : "");
    else if (seen)
        printf("%s: last seen %s\n", who, cli_time_str(cli_time_parse(seen), tb));
    else
        printf("%s: offline (last seen hidden or unknown)\n", who);
}

int cli_cmd_presence(struct cli *c, int argc, char **argv)
{
    char path[256];
    yajl_val res;
    if (argc != 2)
        return -1;
    char *u = cli_urlenc(argv[1]);
    snprintf(path, sizeof(path), "/v1/users/%s/presence", u);
    free(u);
    long st = cli_http(c, "GET", path, NULL, &res);
    if (st == 404)
        cli_die_code(CLI_EXIT_NOTFOUND, "no user named %s", argv[1]);
    cli_expect(st, res, 200, 200, "asking for presence");
    if (c->json)
        print_json(res);
    else
        print_presence(argv[1], res);
    yajl_tree_free(res);
    return 0;
}

/* user NAME: the public profile; users PREFIX: matching contacts. */
int cli_cmd_user(struct cli *c, int argc, char **argv)
{
    char path[256];
    yajl_val res;
    if (argc != 2)
        return -1;
    int list = !strcmp(argv[0], "users");
    char *u = cli_urlenc(argv[1]);
    snprintf(path, sizeof(path), list ? "/v1/users?prefix=%s" : "/v1/users/%s", u);
    free(u);
    long st = cli_http(c, "GET", path, NULL, &res);
    if (st == 404 && !list)
        cli_die_code(CLI_EXIT_NOTFOUND, "no user named %s", argv[1]);
    if (st == 429)
        cli_die("too many user searches; wait a few seconds and try again");
    cli_expect(st, res, 200, 200, list ? "searching users" : "looking the user up");
    yajl_val users = cli_jget(res, "users");
    if (c->json) {
        print_json(list ? users : res);
    } else if (list) {
        for (size_t i = 0; YAJL_IS_ARRAY(users) && i < users->u.array.len; i++) {
            yajl_val v = users->u.array.values[i];
            printf("%-32s %s\n", cli_jstr(v, "username"), cli_jstr(v, "display_name"));
        }
    } else {
        printf("%s (%s)\n", cli_jstr(res, "username"), cli_jstr(res, "display_name"));
        print_presence(cli_jstr(res, "username"), cli_jget(res, "presence"));
    }
    long n = list && YAJL_IS_ARRAY(users) ? (long)users->u.array.len : 1;
    yajl_tree_free(res);
    if (!n)
        cli_die_code(CLI_EXIT_NOTFOUND,
                     "nobody you share a chat with has a name starting with %s (`parley user "
                     "NAME` finds anyone by exact name)",
                     argv[1]);
    return 0;
}

int cli_cmd_devices(struct cli *c, int argc, char **argv)
{
    char path[96];
    yajl_val res;
    (void)argv;
    if (argc != 1)
        return -1;
    long long me = cli_me_id(c), mine = cli_conf_int(c, "device_id");
    snprintf(path, sizeof(path), "/v1/users/%lld/devices", me);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "listing devices");
    yajl_val devs = cli_jget(res, "devices");
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_array_open(g);
    for (size_t i = 0; YAJL_IS_ARRAY(devs) && i < devs->u.array.len; i++) {
        yajl_val d = devs->u.array.values[i];
        long long id = cli_jint(d, "device_id");
        const char *ik = cli_jstr(d, "identity_key");
        if (!c->json) {
            printf("device %-8lld key %.12s%s\n", id, ik ? ik : "?",
                   id == mine ? "  (this device)" : "");
            continue;
        }
        yajl_gen_map_open(g);
        GEN_STR(g, "device_id");
        yajl_gen_integer(g, id);
        GEN_STR(g, "identity_key");
        ik ? GEN_STR(g, ik) : yajl_gen_null(g);
        GEN_STR(g, "current");
        yajl_gen_bool(g, id == mine);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    char *s = cli_gen_done(g);
    if (c->json)
        printf("%s\n", s);
    free(s);
    yajl_tree_free(res);
    return 0;
}

/* 404 or 405 for the collection itself: a server without the sessions
 * API (it arrives with another change). */
static _Noreturn void no_sessions_api(struct cli *c)
{
    cli_die("%s does not offer session management yet (no GET/DELETE /v1/sessions); "
            "`parley devices` lists this account's devices, `parley logout` ends this one",
            c->server);
}

static int sessions_list(struct cli *c)
{
    char tb[32], ub[32];
    yajl_val res;
    long st = cli_http(c, "GET", "/v1/sessions", NULL, &res);
    if (st == 404 || st == 405)
        no_sessions_api(c);
    cli_expect(st, res, 200, 200, "listing sessions");
    yajl_val list = cli_jget(res, "sessions");
    if (c->json) {
        print_json(list);
    } else {
        for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
            yajl_val v = list->u.array.values[i];
            yajl_val cur = cli_jget(v, "current");
            const char *name = cli_jstr(v, "device_name");
            printf("session %-8lld %-16s created %s, last used %s%s\n", cli_jint(v, "id"),
                   name ? name : "", cli_time_str(cli_time_parse(cli_jstr(v, "created_at")), tb),
                   cli_time_str(cli_time_parse(cli_jstr(v, "last_used_at")), ub),
                   YAJL_IS_TRUE(cur) ? "  (this device)" : "");
        }
    }
    yajl_tree_free(res);
    return 0;
}

int cli_cmd_sessions(struct cli *c, int argc, char **argv)
{
    if (argc == 1 || (argc == 2 && !strcmp(argv[1], "list")))
        return sessions_list(c);
    if (argc != 3 || strcmp(argv[1], "revoke") != 0)
        return -1;
    char path[96], *end;
    yajl_val res;
    long long id = strtoll(argv[2], &end, 10);
    if (*end || id <= 0)
        cli_die_code(CLI_EXIT_USAGE, "'%s' is not a session id (`parley sessions` lists them)",
                     argv[2]);
    snprintf(path, sizeof(path), "/v1/sessions/%lld", id);
    long st = cli_http(c, "DELETE", path, NULL, &res);
    const char *detail = cli_jstr(res, "detail");
    if (st == 405 || (st == 404 && detail && strstr(detail, "no such endpoint")))
        no_sessions_api(c);
    if (st == 404)
        cli_die_code(CLI_EXIT_NOTFOUND,
                     "no session %lld on your account (`parley sessions` "
                     "lists them)",
                     id);
    cli_expect(st, res, 204, 200, "ending the session");
    yajl_tree_free(res);
    printf("session %lld ended\n", id);
    return 0;
}
