/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's local message log: history, read, search.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * The server cannot read E2E messages, and a message key is gone once used,
 * so the CLI keeps what it decrypted (and what it sent) in its own state:
 * one CLI_T_LOG record per message, key "conv:seq" (seq zero-padded so the
 * keys sort), value "sender\ttext". `history` and `search` read it; search
 * is therefore local for every chat this device has seen.
 */

void cli_log_add(struct cli *c, long long conv, long long seq, long long sender, const char *text)
{
    cli_log_add_at(c, conv, seq, sender, 0, text);
}

/* The value is "sender@ms\ttext"; records written before the time was
 * kept are "sender\ttext" (their time shows as --:--). */
void cli_log_add_at(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                    const char *text)
{
    char key[64];
    size_t n = strlen(text) + 48;
    char *v = malloc(n);
    if (!v)
        cli_die("out of memory");
    if (ms <= 0)
        ms = (long long)time(NULL) * 1000;
    snprintf(key, sizeof(key), "%lld:%020lld", conv, seq);
    snprintf(v, n, "%lld@%lld\t%s", sender, ms, text);
    cli_names_remember(c, conv, sender);
    cli_rec_set(c, CLI_T_LOG, key, v, strlen(v));
    free(v);
}

/* The log records of conv (all when conv is 0), sorted by key; free the
 * array. */
static size_t log_list(struct cli *c, long long conv, struct cli_rec ***out)
{
    char prefix[32] = "";
    if (conv)
        snprintf(prefix, sizeof(prefix), "%lld:", conv);
    return cli_rec_list(c, CLI_T_LOG, prefix, out);
}

/* The sender and time of a log record's value. */
static long long rec_time(const struct cli_rec *r)
{
    const char *v = (const char *)r->val, *at = memchr(v, '@', r->len),
               *tab = memchr(v, '\t', r->len);
    return at && (!tab || at < tab) ? atoll(at + 1) : 0;
}

/* The text a log record shows: NULL for an edit or reaction message
 * (its effect shows on the message it acts on). */
static const char *rec_text(const struct cli_rec *r)
{
    const char *tab = strchr((const char *)r->val, '\t');
    if (tab && tab[1] == CLI_ACTION_MARK)
        return NULL;
    if (tab && tab[1] == CLI_DELETED_MARK)
        return "(message deleted)";
    return tab ? tab + 1 : "";
}

static void print_rec(struct cli *c, const struct cli_rec *r, int chat_ctx)
{
    long long conv = atoll(r->key), seq = atoll(strchr(r->key, ':') + 1);
    const char *text = rec_text(r);
    long long sender = atoll((const char *)r->val);
    struct cli_overlay ov;
    if (!text)
        return;
    const char *edited = cli_overlay_get(c, conv, seq, sender, &ov);
    cli_out_msg_x(c, conv, seq, sender, rec_time(r), edited ? edited : text, NULL, chat_ctx, &ov);
}

/* A chat argument: "#id", a user name (E2E chat first), "NAME (plain)",
 * or a group title (names.c). */
long long cli_chat_id(struct cli *c, const char *chat)
{
    return cli_chat_resolve(c, chat, 0);
}

void cli_history(struct cli *c, const char *chat)
{
    struct cli_rec **r;
    long long conv = cli_chat_id(c, chat);
    size_t n = log_list(c, conv, &r);
    cli_out_begin(c);
    for (size_t i = 0; i < n; i++)
        print_rec(c, r[i], 0);
    cli_out_end(c);
    free(r);
    if (!n && !c->json)
        fprintf(stderr, "parley: no messages with %s on this device yet\n", cli_chat_name(c, conv));
}

/* The ids of this account's E2E conversations (the server cannot search
 * them); free the array. */
static size_t e2e_chats(struct cli *c, long long **ids)
{
    yajl_val res;
    size_t n = 0;
    long st = cli_http(c, "GET", "/v1/conversations?limit=100", NULL, &res);
    cli_expect(st, res, 200, 200, "listing chats");
    yajl_val list = cli_jget(res, "conversations");
    size_t len = YAJL_IS_ARRAY(list) ? list->u.array.len : 0;
    if (!(*ids = malloc((len + 1) * sizeof(**ids))))
        cli_die("out of memory");
    for (size_t i = 0; i < len; i++) {
        yajl_val v = list->u.array.values[i];
        const char *enc = cli_jstr(v, "encryption");
        if (enc && !strcmp(enc, "e2e"))
            (*ids)[n++] = cli_jint(v, "id");
    }
    yajl_tree_free(res);
    return n;
}

/* A server snippet for a terminal: the <mark> tags dropped, the HTML
 * escapes (&amp; &lt; &gt; &quot; &#39;) undone; malloc'd. */
static char *plain_snippet(const char *s)
{
    static const struct {
        const char *from, *to;
    } subst[] = {{"<mark>", ""}, {"</mark>", ""},  {"&amp;", "&"}, {"&lt;", "<"},
                 {"&gt;", ">"},  {"&quot;", "\""}, {"&#39;", "'"}, {"&#x27;", "'"}};
    char *out = cli_strndup(s, strlen(s)), *w = out;
    while (*s) {
        size_t k = 0, n = sizeof(subst) / sizeof(subst[0]);
        while (k < n && strncmp(s, subst[k].from, strlen(subst[k].from)) != 0)
            k++;
        if (k < n) {
            for (const char *t = subst[k].to; *t;)
                *w++ = *t++;
            s += strlen(subst[k].from);
        } else {
            *w++ = *s++;
        }
    }
    *w = 0;
    return out;
}

/* GET /v1/search for the plain chats, following next_cursor for up to
 * CLI_SEARCH_PAGES pages: the number of hits printed, -1 when the server
 * has no search (404) or -2 when it cannot be reached, so everything is
 * searched locally. */
#define CLI_SEARCH_PAGES 10

static long server_search(struct cli *c, int nwords, char **words)
{
    size_t len = 1;
    for (int w = 0; w < nwords; w++)
        len += strlen(words[w]) + 1;
    char *q = calloc(1, len), *cursor = NULL;
    long n = 0;
    if (!q)
        cli_die("out of memory");
    for (int w = 0; w < nwords; w++) {
        if (w)
            strcat(q, " ");
        strcat(q, words[w]);
    }
    char *e = cli_urlenc(q);
    free(q);
    for (int page = 0; page < CLI_SEARCH_PAGES; page++) {
        char *path, *ce = cursor ? cli_urlenc(cursor) : NULL;
        yajl_val res;
        if (asprintf(&path, "/v1/search?q=%s&limit=100%s%s", e, ce ? "&cursor=" : "",
                     ce ? ce : "") < 0)
            cli_die("out of memory");
        free(ce);
        long st = cli_http_try(c, "GET", path, NULL, &res);
        free(path);
        if ((st == 404 || st < 0) && page == 0) {
            yajl_tree_free(res);
            free(e);
            return st < 0 ? -2 : -1;
        }
        if (st < 0)
            cli_die("cannot reach %s to go on searching", c->server);
        cli_expect(st, res, 200, 200, "searching");
        yajl_val hits = cli_jget(res, "hits");
        for (size_t i = 0; YAJL_IS_ARRAY(hits) && i < hits->u.array.len; i++, n++) {
            yajl_val h = hits->u.array.values[i];
            const char *snip = cli_jstr(h, "snippet");
            /* --json keeps the snippet as the server sent it (HTML, <mark>). */
            char *text = c->json ? NULL : plain_snippet(snip ? snip : "");
            cli_out_msg(c, cli_jint(h, "conversation_id"), cli_jint(h, "seq"),
                        cli_jint(h, "sender"), cli_time_parse(cli_jstr(h, "created_at")),
                        text ? text : "", c->json ? (snip ? snip : "") : NULL, 1);
            free(text);
        }
        free(cursor);
        cursor = cli_jstr(res, "next_cursor") ? strdup(cli_jstr(res, "next_cursor")) : NULL;
        yajl_tree_free(res);
        if (!cursor)
            break;
    }
    if (cursor && !c->json)
        fprintf(stderr, "parley: more server results (first %ld shown)\n", n);
    free(cursor);
    free(e);
    return n;
}

static int in_list(const long long *ids, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

void cli_search(struct cli *c, int nwords, char **words)
{
    struct cli_rec **r;
    long long *e2e = NULL;
    size_t ne2e = 0;
    cli_out_begin(c);
    long server = cli_conf(c, "token") ? server_search(c, nwords, words) : -2;
    if (server >= 0)
        ne2e = e2e_chats(c, &e2e);
    else if (server == -2)
        fprintf(stderr, "parley: %s cannot be reached; searching this device's history only\n",
                c->server);
    /* Locally: E2E chats when the server searched the plain ones, else all
     * that this device has seen. */
    size_t n = log_list(c, 0, &r);
    for (size_t i = 0; i < n; i++) {
        const char *text = rec_text(r[i]), *edited;
        long long conv = atoll(r[i]->key), seq = atoll(strchr(r[i]->key, ':') + 1);
        struct cli_overlay ov;
        /* Search sees what history shows: the edited text, no actions. */
        if (text && (edited = cli_overlay_get(c, conv, seq, atoll((const char *)r[i]->val), &ov)))
            text = edited;
        const char *tab = strchr((const char *)r[i]->val, '\t');
        int all = text != NULL && !(tab && tab[1] == CLI_DELETED_MARK) &&
                  (server < 0 || in_list(e2e, ne2e, conv));
        for (int w = 0; all && w < nwords; w++)
            all = strcasestr(text, words[w]) != NULL;
        if (all)
            print_rec(c, r[i], 1);
    }
    free(r);
    free(e2e);
    if (cli_out_end(c) == 0) {
        size_t len = 1;
        for (int w = 0; w < nwords; w++)
            len += strlen(words[w]) + 1;
        char *q = calloc(1, len);
        for (int w = 0; q && w < nwords; w++)
            strcat(strcat(q, w ? " " : ""), words[w]);
        cli_die_code(CLI_EXIT_NOTFOUND, "no match for \"%s\"", q ? q : "");
    }
}

void cli_read(struct cli *c, const char *chat)
{
    char path[96], body[96];
    yajl_val res;
    long long conv = cli_chat_id(c, chat);
    snprintf(path, sizeof(path), "/v1/conversations/%lld", conv);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "reading the chat");
    long long last = cli_jint(res, "last_seq");
    yajl_tree_free(res);
    if (last > 0) {
        snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", conv);
        snprintf(body, sizeof(body), "{\"type\":\"read\",\"up_to_seq\":%lld}", last);
        st = cli_http(c, "POST", path, body, &res);
        cli_expect(st, res, 200, 200, "marking read");
        yajl_tree_free(res);
    }
    cli_history(c, chat);
}
