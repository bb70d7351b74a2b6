/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's presence: subscribe to the chat it shows.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * `parley listen --chat CHAT` watches one chat: the server sends presence
 * only to devices that subscribed (PUT /v1/presence/subscriptions), so the
 * CLI subscribes to that chat's other members (the partner of a direct
 * chat; a group's members up to the server's cap) and prints their
 * transitions. The server ends the set with the device's last stream and
 * after its TTL; the CLI renews it while it listens, at half the TTL.
 */

#define WATCH_MAX 256

static struct {
    int on;
    char path[64];
    long long ids[WATCH_MAX];
    char names[WATCH_MAX][40];
    size_t n;
    time_t renew_at;
} watch;

static void put_set(struct cli *c)
{
    char *body = malloc(16 + watch.n * 21 + 4);
    if (!body)
        cli_die("out of memory");
    size_t o = (size_t)sprintf(body, "{\"users\":[");
    for (size_t i = 0; i < watch.n; i++)
        o += (size_t)sprintf(body + o, "%s%lld", i ? "," : "", watch.ids[i]);
    strcpy(body + o, "]}");
    yajl_val res;
    long st = cli_http(c, "PUT", "/v1/presence/subscriptions", body, &res);
    free(body);
    if (st != 200) {
        /* Presence is a courtesy: say so and keep listening. */
        fprintf(stderr, "parley: presence subscription: HTTP %ld\n", st);
        yajl_tree_free(res);
        watch.renew_at = time(NULL) + 60;
        return;
    }
    /* Renew at half of what the server granted. */
    time_t now = time(NULL), exp = now + 600;
    const char *at = cli_jstr(res, "expires_at");
    struct tm tm = {0};
    if (at && strptime(at, "%Y-%m-%dT%H:%M:%S", &tm))
        exp = timegm(&tm);
    watch.renew_at = now + (exp > now ? (exp - now) / 2 : 30);
    /* The answer carries the current state: print it once. */
    yajl_val ps = cli_jget(res, "presence");
    for (size_t i = 0; YAJL_IS_ARRAY(ps) && i < ps->u.array.len; i++)
        cli_presence_event(c, ps->u.array.values[i]);
    yajl_tree_free(res);
}

void cli_presence_watch(struct cli *c, const char *chat)
{
    long long conv = cli_chat_id(c, chat), me = cli_me_id(c);
    snprintf(watch.path, sizeof(watch.path), "/v1/conversations/%lld", conv);
    yajl_val res;
    long st = cli_http(c, "GET", watch.path, NULL, &res);
    cli_expect(st, res, 200, 200, "reading the chat");
    yajl_val ms = cli_jget(res, "members");
    watch.n = 0;
    for (size_t i = 0; YAJL_IS_ARRAY(ms) && i < ms->u.array.len && watch.n < WATCH_MAX; i++) {
        yajl_val m = ms->u.array.values[i];
        long long uid = cli_jint(m, "user_id");
        const char *name = cli_jstr(m, "username");
        if (uid <= 0 || uid == me)
            continue;
        watch.ids[watch.n] = uid;
        snprintf(watch.names[watch.n], sizeof(watch.names[0]), "%s", name ? name : "?");
        watch.n++;
    }
    yajl_tree_free(res);
    watch.on = 1;
    put_set(c);
}

void cli_presence_lapsed(struct cli *c)
{
    (void)c;
    watch.renew_at = 0;
}

void cli_presence_renew(struct cli *c)
{
    if (watch.on && time(NULL) >= watch.renew_at)
        put_set(c);
}

void cli_presence_event(struct cli *c, yajl_val ev)
{
    long long uid = cli_jint(ev, "user_id");
    const char *status = cli_jstr(ev, "status"), *seen = cli_jstr(ev, "last_seen");
    const char *name = NULL;
    for (size_t i = 0; i < watch.n && !name; i++)
        if (watch.ids[i] == uid)
            name = watch.names[i];
    if (!name || !status)
        return; /* not the chat we show */
    if (c->json)
        printf("{\"presence\":{\"user_id\":%lld,\"username\":\"%s\",\"status\":\"%s\"}}\n", uid,
               name, status);
    else if (!strcmp(status, "online"))
        printf("* %s is online\n", name);
    else if (!strcmp(status, "offline") && seen)
        printf("* %s is offline, last seen %s\n", name, seen);
    else
        printf("* %s: %s\n", name, status);
    fflush(stdout);
}
