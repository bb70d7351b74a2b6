/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's names: users, chats, times; message lines.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * People read names, scripts read ids: every line the CLI prints names
 * users and chats, and --json carries the ids next to the names. Names
 * come from the chat list (GET /v1/conversations: peers, titles), read
 * once per process, and for anyone else from GET /v1/users/{id}. Nothing
 * here is written to the state: a read-only command stays read-only, and
 * without a server the lines fall back to "user 12" and "#7".
 *
 * Two direct chats with one person can exist (an E2E one and a plain one,
 * issue 15): the E2E chat is named after the person ("ann"), the plain one
 * "ann (plain)", in every listing and as an argument.
 */

struct chat {
    long long id, peer_id;
    char kind[8];
    int plain;
    char *peer, *title, *name;
};

struct person {
    long long id;
    char *name;
};

static struct {
    int loaded, offline;
    struct chat *chats;
    size_t n_chats;
    struct person *people;
    size_t n_people;
    /* --json output of cli_out_*() */
    yajl_gen g;
    long count;
} dir;

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        cli_die("out of memory");
    return d;
}

static void person_add(long long id, const char *name)
{
    for (size_t i = 0; i < dir.n_people; i++)
        if (dir.people[i].id == id)
            return;
    struct person *p = realloc(dir.people, (dir.n_people + 1) * sizeof(*p));
    if (!p)
        cli_die("out of memory");
    dir.people = p;
    p[dir.n_people++] = (struct person){id, xstrdup(name)};
}

static void chat_add(yajl_val v)
{
    struct chat *cs = realloc(dir.chats, (dir.n_chats + 1) * sizeof(*cs));
    if (!cs)
        cli_die("out of memory");
    dir.chats = cs;
    struct chat *ch = &cs[dir.n_chats++];
    yajl_val peer = cli_jget(v, "peer");
    const char *kind = cli_jstr(v, "kind"), *enc = cli_jstr(v, "encryption"),
               *title = cli_jstr(v, "title"), *pname = cli_jstr(peer, "username");
    *ch = (struct chat){.id = cli_jint(v, "id"), .peer_id = cli_jint(peer, "id")};
    snprintf(ch->kind, sizeof(ch->kind), "%s", kind ? kind : "");
    ch->plain = !enc || strcmp(enc, "e2e") != 0;
    ch->peer = pname ? xstrdup(pname) : NULL;
    ch->title = title ? xstrdup(title) : NULL;
    if (pname)
        person_add(ch->peer_id, pname);
    if (strcmp(ch->kind, "direct") == 0 && pname) {
        if (asprintf(&ch->name, ch->plain ? "%s (plain)" : "%s", pname) < 0)
            cli_die("out of memory");
    } else if (asprintf(&ch->name, "#%lld%s%s", ch->id, title ? " " : "", title ? title : "") < 0) {
        cli_die("out of memory");
    }
}

/* Reads the chat list once (every page); offline leaves it empty. */
static void load(struct cli *c)
{
    char *cursor = NULL;
    if (dir.loaded)
        return;
    dir.loaded = 1;
    if (!cli_conf(c, "token"))
        return;
    for (int page = 0; page < 100; page++) {
        char *path, *ce = cursor ? cli_urlenc(cursor) : NULL;
        yajl_val res;
        if (asprintf(&path, "/v1/conversations?limit=100%s%s", ce ? "&cursor=" : "", ce ? ce : "") <
            0)
            cli_die("out of memory");
        free(ce);
        long st = cli_http_try(c, "GET", path, NULL, &res);
        free(path);
        if (st < 0) {
            dir.offline = 1;
            break;
        }
        cli_expect(st, res, 200, 200, "listing chats");
        yajl_val list = cli_jget(res, "conversations");
        for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++)
            chat_add(list->u.array.values[i]);
        free(cursor);
        cursor = cli_jstr(res, "next_cursor") ? xstrdup(cli_jstr(res, "next_cursor")) : NULL;
        yajl_tree_free(res);
        if (!cursor)
            break;
    }
    free(cursor);
}

static struct chat *chat_by_id(struct cli *c, long long conv)
{
    load(c);
    for (size_t i = 0; i < dir.n_chats; i++)
        if (dir.chats[i].id == conv)
            return &dir.chats[i];
    return NULL;
}

const char *cli_user_name(struct cli *c, long long uid)
{
    static char unknown[40];
    if (uid == cli_conf_int(c, "user_id") && cli_conf(c, "username"))
        return cli_conf(c, "username");
    char path[64];
    snprintf(path, sizeof(path), "name:%lld", uid);
    if (cli_conf(c, path))
        return cli_conf(c, path);
    load(c);
    for (size_t i = 0; i < dir.n_people; i++)
        if (dir.people[i].id == uid)
            return dir.people[i].name;
    yajl_val res = NULL;
    snprintf(path, sizeof(path), "/v1/users/%lld", uid);
    long st = dir.offline ? -1 : cli_http_try(c, "GET", path, NULL, &res);
    const char *name = st == 200 ? cli_jstr(res, "username") : NULL;
    if (name)
        person_add(uid, name);
    yajl_tree_free(res);
    if (name)
        return dir.people[dir.n_people - 1].name;
    snprintf(unknown, sizeof(unknown), "user %lld", uid);
    return unknown;
}

const char *cli_chat_name(struct cli *c, long long conv)
{
    static char unknown[40];
    struct chat *ch = chat_by_id(c, conv);
    if (ch)
        return ch->name;
    snprintf(unknown, sizeof(unknown), "chat:%lld", conv);
    if (cli_conf(c, unknown))
        return cli_conf(c, unknown);
    snprintf(unknown, sizeof(unknown), "#%lld", conv);
    return unknown;
}

/* "NAME (plain)" → NAME and plain = 1 (name malloc'd). */
static char *split_plain(const char *chat, int *plain)
{
    static const char suffix[] = " (plain)";
    size_t n = strlen(chat), k = sizeof(suffix) - 1;
    if (n > k && strcmp(chat + n - k, suffix) == 0) {
        *plain = 1;
        return cli_strndup(chat, n - k);
    }
    return xstrdup(chat);
}

long long cli_chat_resolve(struct cli *c, const char *chat, int plain)
{
    char key[160];
    long long id = 0;
    if (chat[0] == '#') {
        char *end;
        id = strtoll(chat + 1, &end, 10);
        if (*end || id <= 0)
            cli_die_code(CLI_EXIT_USAGE, "'%s' is not a chat: #ID takes a number", chat);
        return id;
    }
    char *name = split_plain(chat, &plain);
    /* The E2E chat before the plain one; for each, what this device
     * remembers from its own sends (works offline), then the chat list. */
    for (int p = plain; p <= 1 && id <= 0; p++) {
        snprintf(key, sizeof(key), "conv:%s:%s", p ? "none" : "e2e", name);
        id = cli_conf_int(c, key);
        load(c);
        for (size_t i = 0; i < dir.n_chats && id <= 0; i++)
            if (dir.chats[i].peer && dir.chats[i].plain == p &&
                !strcmp(dir.chats[i].kind, "direct") && !strcmp(dir.chats[i].peer, name))
                id = dir.chats[i].id;
    }
    for (size_t i = 0; i < dir.n_chats && id <= 0 && !plain; i++)
        if (dir.chats[i].title && !strcmp(dir.chats[i].title, name))
            id = dir.chats[i].id;
    if (id <= 0) {
        if (dir.offline)
            cli_die_code(CLI_EXIT_NOTFOUND,
                         "no chat with %s known on this device, and %s cannot be reached", chat,
                         c->server);
        cli_die_code(
            CLI_EXIT_NOTFOUND,
            "no chat with %s; `parley chats` lists yours, `parley send %s TEXT` starts one", chat,
            name);
    }
    free(name);
    return id;
}

static void conf_update(struct cli *c, const char *key, const char *val)
{
    const char *old = cli_conf(c, key);
    if (!old || strcmp(old, val) != 0)
        cli_conf_set(c, key, val);
}

void cli_names_remember(struct cli *c, long long conv, long long sender)
{
    char key[64], val[24];
    const char *who = cli_user_name(c, sender);
    if (strncmp(who, "user ", 5) != 0) {
        snprintf(key, sizeof(key), "name:%lld", sender);
        conf_update(c, key, who);
    }
    struct chat *ch = chat_by_id(c, conv);
    if (!ch)
        return;
    snprintf(key, sizeof(key), "chat:%lld", conv);
    conf_update(c, key, ch->name);
    if (!strcmp(ch->kind, "direct") && ch->peer) {
        char ck[160];
        snprintf(ck, sizeof(ck), "conv:%s:%s", ch->plain ? "none" : "e2e", ch->peer);
        snprintf(val, sizeof(val), "%lld", conv);
        conf_update(c, ck, val);
    }
}

long long cli_time_parse(const char *s)
{
    struct tm tm = {0};
    int ms = 0, n = 0;
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    if (s[n] == '.')
        ms = atoi(s + n + 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

const char *cli_time_str(long long ms, char buf[32])
{
    if (ms <= 0)
        return strcpy(buf, "--:--");
    time_t t = (time_t)(ms / 1000), now = time(NULL);
    struct tm tm, today;
    localtime_r(&t, &tm);
    localtime_r(&now, &today);
    int same = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
    strftime(buf, 32, same ? "%H:%M" : "%Y-%m-%d %H:%M", &tm);
    return buf;
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
    GEN_STR(g, k);
    v ? GEN_STR(g, v) : yajl_gen_null(g);
}

static void gen_ki(yajl_gen g, const char *k, long long v)
{
    GEN_STR(g, k);
    yajl_gen_integer(g, v);
}

void cli_out_begin(struct cli *c)
{
    dir.count = 0;
    if (c->json) {
        dir.g = yajl_gen_alloc(NULL);
        yajl_gen_array_open(dir.g);
    }
}

void cli_out_msg(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                 const char *text, const char *snippet, int chat_ctx)
{
    cli_out_msg_x(c, conv, seq, sender, ms, text, snippet, chat_ctx, NULL);
}

/* " (edited)" and " [👍 2, ❤️ 1]" after a line's text; malloc'd. */
static char *overlay_suffix(const struct cli_overlay *ov)
{
    size_t cap = 32 + (ov ? ov->n : 0) * 96, o = 0;
    char *s = malloc(cap);
    if (!s)
        cli_die("out of memory");
    s[0] = 0;
    if (ov && ov->edited)
        o += (size_t)snprintf(s + o, cap - o, " (edited)");
    for (unsigned i = 0; ov && i < ov->n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s%s %lld%s", i ? ", " : " [", ov->r[i].emoji,
                              ov->r[i].count, i + 1 == ov->n ? "]" : "");
    return s;
}

static void gen_overlay(yajl_gen g, const struct cli_overlay *ov)
{
    GEN_STR(g, "edited");
    yajl_gen_bool(g, ov->edited);
    GEN_STR(g, "reactions");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < ov->n; i++) {
        yajl_gen_map_open(g);
        gen_kv(g, "emoji", ov->r[i].emoji);
        gen_ki(g, "count", ov->r[i].count);
        GEN_STR(g, "mine");
        yajl_gen_bool(g, ov->r[i].mine);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

void cli_out_msg_x(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                   const char *text, const char *snippet, int chat_ctx,
                   const struct cli_overlay *ov)
{
    char tb[32], iso[32];
    const char *who = cli_user_name(c, sender);
    dir.count++;
    if (c->json) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(iso + strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm), sizeof(iso) - 19,
                 ".%03dZ", (int)(ms % 1000));
        yajl_gen g = dir.g;
        yajl_gen_map_open(g);
        gen_ki(g, "conversation_id", conv);
        gen_kv(g, "chat", cli_chat_name(c, conv));
        gen_ki(g, "seq", seq);
        gen_ki(g, "sender_id", sender);
        gen_kv(g, "sender", who);
        gen_kv(g, "time", ms > 0 ? iso : NULL);
        gen_kv(g, snippet ? "snippet" : "text", snippet ? snippet : text);
        if (ov)
            gen_overlay(g, ov);
        yajl_gen_map_close(g);
        return;
    }
    /* "[12:04] ann: hi" when the chat is ann's E2E chat with us; else the
     * chat in brackets after the sender ("to" for a direct chat). Works
     * from the remembered names alone, without a server. What others
     * chose (text, names, titles) is printed through cli_safe(). */
    const char *chat = cli_chat_name(c, conv);
    size_t wl = strlen(who);
    char *st = cli_safe(text), *sw = cli_safe(who), *sc = cli_safe(chat);
    char *raw = overlay_suffix(ov), *sx = cli_safe(raw);
    free(raw);
    cli_time_str(ms, tb);
    if (!chat_ctx || !strcmp(chat, who))
        printf("[%s] %s: %s%s\n", tb, sw, st, sx);
    else if (!strncmp(chat, who, wl) && !strcmp(chat + wl, " (plain)"))
        printf("[%s] %s (plain): %s%s\n", tb, sw, st, sx);
    else
        printf("[%s] %s (%s%s): %s%s\n", tb, sw, chat[0] == '#' ? "" : "to ", sc, st, sx);
    free(sx);
    free(st);
    free(sw);
    free(sc);
}

long cli_out_end(struct cli *c)
{
    if (c->json && dir.g) {
        yajl_gen_array_close(dir.g);
        char *s = cli_gen_done(dir.g);
        dir.g = NULL;
        printf("%s\n", s);
        free(s);
    }
    fflush(stdout);
    return dir.count;
}
