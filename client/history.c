/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's local message log: history, read, search.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

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

static int cmp_rec(const void *a, const void *b)
{
    const struct cli_rec *x = *(const struct cli_rec *const *)a,
                         *y = *(const struct cli_rec *const *)b;
    return strcmp(x->key, y->key);
}

/* The log records of conv (all when conv is 0), sorted; free the array. */
static size_t log_list(struct cli *c, long long conv, struct cli_rec ***out)
{
    char prefix[32];
    size_t n = 0;
    snprintf(prefix, sizeof(prefix), "%lld:", conv);
    *out = malloc((c->nrecs + 1) * sizeof(**out));
    if (!*out)
        cli_die("out of memory");
    for (size_t i = 0; i < c->nrecs; i++)
        if (c->recs[i].tag == CLI_T_LOG &&
            (!conv || strncmp(c->recs[i].key, prefix, strlen(prefix)) == 0))
            (*out)[n++] = &c->recs[i];
    qsort(*out, n, sizeof(**out), cmp_rec);
    return n;
}

static void print_rec(struct cli *c, const struct cli_rec *r)
{
    long long conv = atoll(r->key), seq = atoll(strchr(r->key, ':') + 1);
    const char *tab = strchr((const char *)r->val, '\t');
    long long sender = atoll((const char *)r->val);
    printf("[%lld #%lld] %lld: %s\n", conv, seq, sender, tab ? tab + 1 : "");
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
    if (id <= 0)
        cli_die("no chat with %s", chat);
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

void cli_search(struct cli *c, int nwords, char **words)
{
    struct cli_rec **r;
    size_t n = log_list(c, 0, &r), hits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = strchr((const char *)r[i]->val, '\t');
        int all = text != NULL;
        for (int w = 0; all && w < nwords; w++)
            all = strcasestr(text + 1, words[w]) != NULL;
        if (all) {
            print_rec(c, r[i]);
            hits++;
        }
    }
    free(r);
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
