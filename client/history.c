/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's local message log: history, read, search.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The server cannot read E2E messages, and a message key is gone once used,
 * so the CLI keeps what it decrypted (and what it sent) in its own state:
 * one CLI_T_LOG record per message, key "conv:seq" (seq zero-padded so the
 * keys sort), value "sender\ttext". `history` and `search` read it; search
 * is therefore local for every chat this device has seen.
 */

void cli_log_add(struct cli *c, long long conv, long long seq, long long sender, const char *text)
{
    char key[64];
    size_t n = strlen(text) + 32;
    char *v = malloc(n);
    if (!v)
        cli_die("out of memory");
    snprintf(key, sizeof(key), "%lld:%020lld", conv, seq);
    snprintf(v, n, "%lld\t%s", sender, text);
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

static void print_rec(struct cli *c, const struct cli_rec *r)
{
    long long conv = atoll(r->key), seq = atoll(strchr(r->key, ':') + 1);
    const char *tab = strchr((const char *)r->val, '\t');
    long long sender = atoll((const char *)r->val);
    char *text = cli_safe(tab ? tab + 1 : "");
    printf("[%lld #%lld] %lld: %s\n", conv, seq, sender, text);
    free(text);
    (void)c;
}

/* A chat argument: "#id", or a user name whose direct chat this device
 * knows (E2E first). */
long long cli_chat_id(struct cli *c, const char *chat)
{
    char key[160];
    if (chat[0] == '#')
        return atoll(chat + 1);
    snprintf(key, sizeof(key), "conv:e2e:%s", chat);
    long long id = cli_conf_int(c, key);
    if (id > 0)
        return id;
    snprintf(key, sizeof(key), "conv:none:%s", chat);
    if ((id = cli_conf_int(c, key)) > 0)
        return id;
    yajl_val res;
    long st = cli_http(c, "GET", "/v1/conversations", NULL, &res);
    cli_expect(st, res, 200, 200, "listing chats");
    yajl_val list = cli_jget(res, "conversations");
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len && id <= 0; i++) {
        yajl_val v = list->u.array.values[i];
        const char *peer = cli_jstr(cli_jget(v, "peer"), "username");
        if (peer && !strcmp(peer, chat))
            id = cli_jint(v, "id");
    }
    yajl_tree_free(res);
    if (id <= 0) {
        char *name = cli_safe(chat);
        cli_die("no chat with %s", name);
    }
    return id;
}

void cli_history(struct cli *c, const char *chat)
{
    struct cli_rec **r;
    size_t n = log_list(c, cli_chat_id(c, chat), &r);
    for (size_t i = 0; i < n; i++)
        print_rec(c, r[i]);
    free(r);
}

/* The ids of this account's E2E conversations (the server cannot search
 * them); free the array. */
static size_t e2e_chats(struct cli *c, long long **ids)
{
    yajl_val res;
    size_t n = 0;
    long st = cli_http(c, "GET", "/v1/conversations", NULL, &res);
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

static void print_hit(struct cli *c, long long conv, long long seq, long long sender,
                      const char *text, int local)
{
    if (!c->json) {
        char *safe = cli_safe(text);
        printf("[%lld #%lld] %lld: %s\n", conv, seq, sender, safe);
        free(safe);
        return;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"conversation_id", 15);
    yajl_gen_integer(g, conv);
    yajl_gen_string(g, (const unsigned char *)"seq", 3);
    yajl_gen_integer(g, seq);
    yajl_gen_string(g, (const unsigned char *)"sender", 6);
    yajl_gen_integer(g, sender);
    yajl_gen_string(g, (const unsigned char *)(local ? "text" : "snippet"), local ? 4 : 7);
    yajl_gen_string(g, (const unsigned char *)text, strlen(text));
    yajl_gen_map_close(g);
    char *s = cli_gen_done(g);
    printf("%s\n", s);
    free(s);
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
 * CLI_SEARCH_PAGES pages: the number of hits printed, or -1 when the
 * server has no search (404), so everything is searched locally. */
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
        long st = cli_http(c, "GET", path, NULL, &res);
        free(path);
        if (st == 404 && page == 0) {
            yajl_tree_free(res);
            free(e);
            return -1;
        }
        cli_expect(st, res, 200, 200, "searching");
        yajl_val hits = cli_jget(res, "hits");
        for (size_t i = 0; YAJL_IS_ARRAY(hits) && i < hits->u.array.len; i++, n++) {
            yajl_val h = hits->u.array.values[i];
            const char *snip = cli_jstr(h, "snippet");
            /* --json keeps the snippet as the server sent it (HTML, <mark>). */
            char *text = c->json ? NULL : plain_snippet(snip ? snip : "");
            print_hit(c, cli_jint(h, "conversation_id"), cli_jint(h, "seq"), cli_jint(h, "sender"),
                      text ? text : (snip ? snip : ""), 0);
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
    long server = server_search(c, nwords, words);
    if (server >= 0)
        ne2e = e2e_chats(c, &e2e);
    /* Locally: E2E chats when the server searched the plain ones, else all
     * that this device has seen. */
    size_t n = log_list(c, 0, &r), hits = server > 0 ? (size_t)server : 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = strchr((const char *)r[i]->val, '\t');
        long long conv = atoll(r[i]->key);
        int all = text != NULL && (server < 0 || in_list(e2e, ne2e, conv));
        for (int w = 0; all && w < nwords; w++)
            all = strcasestr(text + 1, words[w]) != NULL;
        if (all) {
            print_hit(c, conv, atoll(strchr(r[i]->key, ':') + 1), atoll((const char *)r[i]->val),
                      text + 1, 1);
            hits++;
        }
    }
    free(r);
    free(e2e);
    if (!hits && !c->json)
        fprintf(stderr, "parley: no match\n");
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
