/* SPDX-License-Identifier: MIT */
/* Parley - parley block / requests: blocking and message requests.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parley block [--remove] USER, or parley block --list. */
int cli_cmd_block(struct cli *c, int argc, char **argv)
{
    yajl_val res;
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        long st = cli_http(c, "GET", "/v1/me/blocks", NULL, &res);
        cli_expect(st, res, 200, 200, "listing your blocks");
        yajl_val v = yajl_tree_get(res, (const char *[]){"blocks", NULL}, yajl_t_array);
        size_t n = v ? v->u.array.len : 0;
        for (size_t i = 0; i < n; i++) {
            yajl_val b = v->u.array.values[i];
            if (c->json)
                printf("{\"user_id\":%lld}\n", cli_jint(b, "user_id"));
            else
                printf("%s (blocked %s)\n", cli_jstr(b, "username"), cli_jstr(b, "blocked_at"));
        }
        if (!c->json && n == 0)
            printf("you blocked nobody\n");
        yajl_tree_free(res);
        return 0;
    }
    int remove = argc == 3 && !strcmp(argv[1], "--remove");
    if (argc != 2 && !remove)
        return -1;
    const char *who = argv[1 + remove];
    char *enc = cli_urlenc(who);
    size_t cap = strlen(enc) + 32;
    char *path = malloc(cap);
    if (!path)
        cli_die("out of memory");
    snprintf(path, cap, "/v1/me/blocks/%s", enc);
    long st = cli_http(c, remove ? "DELETE" : "PUT", path, NULL, &res);
    free(path);
    free(enc);
    cli_expect(st, res, 204, 204, remove ? "unblocking" : "blocking");
    yajl_tree_free(res);
    if (c->json)
        printf("{\"user\":\"%s\",\"blocked\":%s}\n", who, remove ? "false" : "true");
    else
        printf("%s %s\n", remove ? "unblocked" : "blocked", who);
    return 0;
}

/* parley requests: list; parley requests accept|decline CHAT. */
int cli_cmd_requests(struct cli *c, int argc, char **argv)
{
    yajl_val res;
    if (argc == 1) {
        long st = cli_http(c, "GET", "/v1/requests", NULL, &res);
        cli_expect(st, res, 200, 200, "listing message requests");
        yajl_val v = yajl_tree_get(res, (const char *[]){"requests", NULL}, yajl_t_array);
        size_t n = v ? v->u.array.len : 0;
        for (size_t i = 0; i < n; i++) {
            yajl_val r = v->u.array.values[i];
            long long id = cli_jint(r, "id"), from = cli_jint(r, "request_from");
            if (c->json)
                printf("{\"conversation_id\":%lld,\"request_from\":%lld}\n", id, from);
            else
                printf("#%lld %s from %s\n", id, cli_chat_name(c, id), cli_user_name(c, from));
        }
        if (!c->json && n == 0)
            printf("no message requests\n");
        yajl_tree_free(res);
        return 0;
    }
    int accept = argc == 3 && !strcmp(argv[1], "accept");
    if (argc != 3 || (!accept && strcmp(argv[1], "decline")))
        return -1;
    long long conv = cli_chat_resolve(c, argv[2], 0);
    char path[96];
    snprintf(path, sizeof(path), "/v1/requests/%lld/%s", conv, argv[1]);
    long st = cli_http(c, "POST", path, NULL, &res);
    cli_expect(st, res, accept ? 200 : 204, accept ? 200 : 204,
               accept ? "accepting the request" : "declining the request");
    yajl_tree_free(res);
    if (c->json)
        printf("{\"conversation_id\":%lld,\"%s\":true}\n", conv, accept ? "accepted" : "declined");
    else
        printf("%s the request of %s\n", accept ? "accepted" : "declined", cli_chat_name(c, conv));
    return 0;
}

/* parley expire CHAT off|1h|24h|7d|90d: the disappearing-messages timer. */
int cli_cmd_expire(struct cli *c, int argc, char **argv)
{
    static const struct {
        const char *name, *json;
    } timers[] = {
        {"off", "null"}, {"1h", "3600"}, {"24h", "86400"}, {"7d", "604800"}, {"90d", "7776000"}};
    if (argc != 3)
        return -1;
    const char *json = NULL;
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
        if (!strcmp(argv[2], timers[i].name))
            json = timers[i].json;
    if (!json)
        cli_die_code(CLI_EXIT_USAGE, "'%s' is not a timer: off, 1h, 24h, 7d or 90d", argv[2]);
    long long conv = cli_chat_resolve(c, argv[1], 0);
    char path[64], body[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", conv);
    snprintf(body, sizeof(body), "{\"expire_after\":%s}", json);
    yajl_val res;
    long st = cli_http(c, "PATCH", path, body, &res);
    cli_expect(st, res, 200, 200, "setting the timer");
    yajl_tree_free(res);
    if (c->json)
        printf("{\"conversation_id\":%lld,\"expire_after\":%s}\n", conv, json);
    else if (!strcmp(json, "null"))
        printf("messages in %s no longer disappear\n", cli_chat_name(c, conv));
    else
        printf("messages sent in %s from now on disappear after %s\n", cli_chat_name(c, conv),
               argv[2]);
    return 0;
}
