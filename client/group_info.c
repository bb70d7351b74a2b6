/* SPDX-License-Identifier: MIT */
/* Parley - CLI: group info, group rename, group leave.                 */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A GROUP argument: "#ID", "ID" or the exact title of one of our groups. */
long long cli_group_id(struct cli *c, const char *arg)
{
    char *end;
    long long id = strtoll(arg[0] == '#' ? arg + 1 : arg, &end, 10);
    if (*arg && !*end && id > 0)
        return id;
    return cli_chat_resolve(c, arg, 0);
}

static void info(struct cli *c, long long id)
{
    char path[96];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld", id);
    long st = cli_http(c, "GET", path, NULL, &res);
    if (st == 404)
        cli_die_code(CLI_EXIT_NOTFOUND,
                     "no group #%lld among your chats (`parley chats` lists them)", id);
    cli_expect(st, res, 200, 200, "reading the group");
    const char *title = cli_jstr(res, "title"), *enc = cli_jstr(res, "encryption");
    yajl_val ms = cli_jget(res, "members");
    size_t n = YAJL_IS_ARRAY(ms) ? ms->u.array.len : 0;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, "id");
    yajl_gen_integer(g, id);
    GEN_STR(g, "title");
    title ? GEN_STR(g, title) : yajl_gen_null(g);
    GEN_STR(g, "encryption");
    GEN_STR(g, enc ? enc : "none");
    GEN_STR(g, "members");
    yajl_gen_array_open(g);
    if (!c->json)
        printf("#%lld %s (%s group, %zu member%s)\n", id, title ? title : "",
               enc && !strcmp(enc, "e2e") ? "end-to-end encrypted" : "plain", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        yajl_val m = ms->u.array.values[i];
        const char *name = cli_jstr(m, "username"), *role = cli_jstr(m, "role");
        if (!c->json) {
            printf("  %-32s %s\n", name ? name : "?", role ? role : "");
            continue;
        }
        yajl_gen_map_open(g);
        GEN_STR(g, "user_id");
        yajl_gen_integer(g, cli_jint(m, "user_id"));
        GEN_STR(g, "username");
        name ? GEN_STR(g, name) : yajl_gen_null(g);
        GEN_STR(g, "role");
        role ? GEN_STR(g, role) : yajl_gen_null(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    char *s = cli_gen_done(g);
    if (c->json)
        printf("%s\n", s);
    free(s);
    yajl_tree_free(res);
}

static void rename_group(struct cli *c, long long id, const char *title)
{
    char path[96];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld", id);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, "title");
    GEN_STR(g, title);
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g);
    long st = cli_http(c, "PATCH", path, body, &res);
    free(body);
    cli_expect(st, res, 200, 204, "renaming the group");
    yajl_tree_free(res);
    printf("group #%lld renamed to %s\n", id, title);
}

static void leave(struct cli *c, long long id)
{
    char path[96], key[24];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld/members/%lld", id, cli_me_id(c));
    long st = cli_http(c, "DELETE", path, NULL, &res);
    cli_expect(st, res, 204, 200, "leaving the group");
    yajl_tree_free(res);
    /* Our sender key is of no use any more; the others rotate theirs. */
    snprintf(key, sizeof(key), "%lld", id);
    cli_tx_begin(c);
    cli_rec_del(c, CLI_T_OWNKEY, key);
    cli_rec_del(c, CLI_T_DISTRIB, key);
    cli_tx_commit(c);
    printf("left group #%lld\n", id);
}

int cli_group_more(struct cli *c, int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "info"))
        info(c, cli_group_id(c, argv[2]));
    else if (argc == 4 && !strcmp(argv[1], "rename"))
        rename_group(c, cli_group_id(c, argv[2]), argv[3]);
    else if (argc == 3 && !strcmp(argv[1], "leave"))
        leave(c, cli_group_id(c, argv[2]));
    else
        return -1;
    return 0;
}
