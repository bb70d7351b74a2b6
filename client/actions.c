/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's edits, reactions and deletes in the local history: */
/* encrypted action envelopes in E2E chats, server events in plain ones. */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * An edit or a reaction in an E2E chat is an encrypted message of its own
 * (crypto/PROTOCOL.md, "Edits and reactions"): {"edit":{"seq","text"}} or
 * {"reaction":{"seq","emoji"}}, with "refers_to" and "action" in the clear
 * envelope. Such a message is kept in the local history like any other
 * (so it is decrypted once), as an action line that history never prints:
 * "\x01E<seq>\t<text>" or "\x01R<seq>\t<emoji>" (empty: no reaction). Its
 * effect is kept beside the message it acts on, so history shows the
 * latest state whatever order things arrived in:
 *
 *   CLI_T_EDIT  "conv:seq"      "sender@pos\ttext"  the latest edit by the
 *                                                   message's sender
 *   CLI_T_REACT "conv:seq:uid"  "pos\temoji"        uid's reaction (latest)
 *
 * pos orders competing actions: the action message's seq in E2E chats,
 * the event's stream position for plain chats' server events (0: always
 * replace). A message deleted for everyone keeps its history record as
 * "\x02", so a replayed event is recognised and never decrypted again.
 */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        cli_die("out of memory");
    return s;
}

static void log_key(char *buf, size_t n, long long conv, long long seq)
{
    snprintf(buf, n, "%lld:%020lld", conv, seq);
}

/* The position stored at the head of an overlay value ("sender@pos\t" or
 * "pos\t"). */
static long long stored_pos(const struct cli_rec *r, int with_sender)
{
    const char *v = (const char *)r->val, *at = with_sender ? strchr(v, '@') : v - 1;
    return at ? atoll(at + 1) : 0;
}

static void set_edit(struct cli *c, long long conv, long long seq, long long sender, long long pos,
                     const char *text)
{
    char key[64];
    log_key(key, sizeof(key), conv, seq);
    struct cli_rec *old = cli_rec_get(c, CLI_T_EDIT, key);
    if (old && pos > 0 && stored_pos(old, 1) >= pos)
        return;
    char *v = xasprintf("%lld@%lld\t%s", sender, pos, text);
    cli_rec_set(c, CLI_T_EDIT, key, v, strlen(v));
    free(v);
}

static void set_reaction(struct cli *c, long long conv, long long seq, long long uid, long long pos,
                         const char *emoji)
{
    char key[96];
    snprintf(key, sizeof(key), "%lld:%020lld:%lld", conv, seq, uid);
    struct cli_rec *old = cli_rec_get(c, CLI_T_REACT, key);
    if (old && pos > 0 && stored_pos(old, 0) >= pos)
        return;
    char *v = xasprintf("%lld\t%s", pos, emoji ? emoji : "");
    cli_rec_set(c, CLI_T_REACT, key, v, strlen(v));
    free(v);
}

void cli_action_apply(struct cli *c, long long conv, long long pos, long long sender,
                      const char *line)
{
    char *end;
    if (!line || line[0] != CLI_ACTION_MARK || (line[1] != 'E' && line[1] != 'R'))
        return;
    long long seq = strtoll(line + 2, &end, 10);
    if (seq < 1 || *end != '\t')
        return;
    if (line[1] == 'E')
        set_edit(c, conv, seq, sender, pos, end + 1);
    else
        set_reaction(c, conv, seq, sender, pos, end + 1);
}

void cli_local_edited(struct cli *c, long long conv, long long seq, long long sender, long long pos,
                      const char *text)
{
    set_edit(c, conv, seq, sender, pos, text);
}

void cli_local_reaction(struct cli *c, long long conv, long long seq, long long uid, long long pos,
                        const char *emoji)
{
    set_reaction(c, conv, seq, uid, pos, emoji);
}

void cli_local_deleted(struct cli *c, long long conv, long long seq)
{
    char key[64], prefix[72], tomb[2] = {CLI_DELETED_MARK, 0};
    struct cli_rec **r;
    log_key(key, sizeof(key), conv, seq);
    struct cli_rec *log = cli_rec_get(c, CLI_T_LOG, key);
    const char *v = log ? (const char *)log->val : NULL, *tab = v ? strchr(v, '\t') : NULL;
    if (tab) {
        /* Sender and time stay; the text goes. */
        char *nv = xasprintf("%.*s\t%s", (int)(tab - v), v, tomb);
        cli_rec_set(c, CLI_T_LOG, key, nv, strlen(nv));
        free(nv);
    } else {
        char *nv = xasprintf("0\t%s", tomb);
        cli_rec_set(c, CLI_T_LOG, key, nv, strlen(nv));
        free(nv);
    }
    cli_rec_del(c, CLI_T_EDIT, key);
    snprintf(prefix, sizeof(prefix), "%s:", key);
    size_t n = cli_rec_list(c, CLI_T_REACT, prefix, &r);
    char **keys = calloc(n + 1, sizeof(*keys));
    for (size_t i = 0; keys && i < n; i++)
        keys[i] = strdup(r[i]->key);
    for (size_t i = 0; keys && i < n; i++) {
        if (keys[i])
            cli_rec_del(c, CLI_T_REACT, keys[i]);
        free(keys[i]);
    }
    free(keys);
    free(r);
}

/* Adds one emoji to the aggregate (at most CLI_MAX_EMOJI distinct). */
static void count_emoji(struct cli_overlay *ov, const char *emoji, int mine)
{
    for (unsigned i = 0; i < ov->n; i++)
        if (strcmp(ov->r[i].emoji, emoji) == 0) {
            ov->r[i].count++;
            ov->r[i].mine |= mine;
            return;
        }
    if (ov->n < CLI_MAX_EMOJI) {
        snprintf(ov->r[ov->n].emoji, sizeof(ov->r[ov->n].emoji), "%s", emoji);
        ov->r[ov->n].count = 1;
        ov->r[ov->n++].mine = mine;
    }
}

const char *cli_overlay_get(struct cli *c, long long conv, long long seq, long long sender,
                            struct cli_overlay *ov)
{
    char key[64], prefix[72];
    struct cli_rec **r;
    const char *text = NULL;
    long long me = cli_conf_int(c, "user_id");
    memset(ov, 0, sizeof(*ov));
    log_key(key, sizeof(key), conv, seq);
    struct cli_rec *e = cli_rec_get(c, CLI_T_EDIT, key);
    const char *tab = e ? strchr((const char *)e->val, '\t') : NULL;
    /* Only the message's own sender may edit it. */
    if (tab && atoll((const char *)e->val) == sender) {
        ov->edited = 1;
        text = tab + 1;
    }
    snprintf(prefix, sizeof(prefix), "%s:", key);
    size_t n = cli_rec_list(c, CLI_T_REACT, prefix, &r);
    for (size_t i = 0; i < n; i++) {
        const char *em = strchr((const char *)r[i]->val, '\t');
        const char *uid = strrchr(r[i]->key, ':');
        if (em && em[1])
            count_emoji(ov, em + 1, uid && atoll(uid + 1) == me);
    }
    free(r);
    return text;
}

/* ---- sending an action into an E2E chat ---- */

int cli_e2e_action_send(struct cli *c, long long conv, char kind, long long seq, const char *value)
{
    char path[96], key[160];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld", conv);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "reading the chat");
    const char *enc = cli_jstr(res, "encryption"), *ckind = cli_jstr(res, "kind");
    if (!enc || strcmp(enc, "e2e") != 0) {
        yajl_tree_free(res);
        return 0;
    }
    /* The server cannot see the emoji, so it is checked here. */
    if (kind == 'R' && value && !cli_emoji_ok(value)) {
        yajl_tree_free(res);
        cli_die("'%s' is not a single emoji", value);
    }
    char *to;
    if (ckind && !strcmp(ckind, "direct")) {
        const char *peer = cli_jstr(cli_jget(res, "peer"), "username");
        if (!peer)
            cli_die("chat %lld has no peer to encrypt to", conv);
        to = strdup(peer);
        /* cli_send finds the chat by its peer's name. */
        snprintf(key, sizeof(key), "conv:e2e:%s", peer);
        snprintf(path, sizeof(path), "%lld", conv);
        cli_tx_begin(c);
        cli_conf_set(c, key, path);
        cli_tx_commit(c);
    } else {
        to = xasprintf("#%lld", conv);
    }
    yajl_tree_free(res);
    char *payload = cli_action_payload(kind, seq, value), *line = cli_action_line(kind, seq, value);
    struct cli_msg m = {.payload = payload,
                        .summary = line,
                        .refers_to = seq,
                        .action = kind == 'E' ? "edit" : "reaction",
                        .quiet = 1};
    cli_send(c, to, &m, 0);
    free(payload);
    free(line);
    free(to);
    return 1;
}
