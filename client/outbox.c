/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's write-ahead outbox: a send survives any failure.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/*
 * Encrypting moves ratchets and sender-key chains. If the state were saved
 * only after the POST, a transport error after the server committed would
 * leave the old state on disk and the next send would use the same chain
 * step again: the same key and nonce for another plaintext. So a send is
 * made in one transaction that stores the advanced chains together with
 * the exact request body under its client_msg_id (CLI_T_OUTBOX), and only
 * then is anything sent. A retry posts the stored body unchanged; the
 * server, which keys messages by client_msg_id, answers 200 with the
 * message it already has. The entry is settled by the answer; one left by
 * a process that died is posted by the next send or listen.
 */

#define OUTBOX_GIVE_UP_S 120

static int lock_fd = -1;

int cli_send_lock(struct cli *c, int wait)
{
    char path[4200];
    if (lock_fd >= 0)
        return 0;
    snprintf(path, sizeof(path), "%s/send.lock", c->home);
    if ((lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        cli_die("cannot open %s: %s", path, strerror(errno));
    while (flock(lock_fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK && !wait) {
            close(lock_fd);
            lock_fd = -1;
            return -1;
        }
        if (errno != EINTR)
            cli_die("cannot lock %s: %s", path, strerror(errno));
    }
    /* Held until cli_send_unlock or exit (the kernel releases it even when
     * the process crashes). */
    return 0;
}

void cli_send_unlock(void)
{
    if (lock_fd >= 0)
        close(lock_fd);
    lock_fd = -1;
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
    GEN_STR(g, k);
    if (v)
        GEN_STR(g, v);
    else
        yajl_gen_null(g);
}

void cli_outbox_put(struct cli *c, const struct cli_out *o)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    char stamp[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(stamp, sizeof(stamp), "%lld", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    yajl_gen_map_open(g);
    GEN_STR(g, "conv");
    yajl_gen_integer(g, o->conv);
    gen_kv(g, "body", o->body);
    gen_kv(g, "summary", o->summary);
    gen_kv(g, "distrib", o->distrib);
    GEN_STR(g, "key_id");
    yajl_gen_integer(g, o->key_id);
    gen_kv(g, "created", stamp);
    yajl_gen_map_close(g);
    char *v = cli_gen_done(g);
    cli_rec_set(c, CLI_T_OUTBOX, o->cmid, v, strlen(v));
    free(v);
}

/* Devices that got our sender key with this message join the list of
 * those that have it, provided the key is still the one they got. */
static void merge_distrib(struct cli *c, long long conv, const char *add, long long key_id)
{
    char id[24];
    struct e2e_sender_key *k;
    snprintf(id, sizeof(id), "%lld", conv);
    struct cli_rec *own = cli_rec_get(c, CLI_T_OWNKEY, id), *d = cli_rec_get(c, CLI_T_DISTRIB, id);
    if (!own || e2e_sender_key_deserialize(own->val, own->len, &k) < 0)
        return;
    long long cur = e2e_sender_key_id(k);
    e2e_sender_key_free(k);
    if (cur != key_id)
        return; /* rotated since: the new key starts from nobody */
    size_t n = (d ? d->len : 0) + strlen(add) + 1;
    char *list = malloc(n);
    if (!list)
        cli_die("out of memory");
    snprintf(list, n, "%s%s", d ? (const char *)d->val : "", add);
    cli_rec_set(c, CLI_T_DISTRIB, id, list, strlen(list));
    free(list);
}

/* Settles an entry after a final answer. */
static void settle(struct cli *c, const char *cmid, yajl_val e, long st, yajl_val res)
{
    cli_tx_begin(c);
    if (cli_rec_get(c, CLI_T_OUTBOX, cmid)) {
        long long conv = cli_jint(e, "conv");
        if (st == 200 || st == 201) {
            const char *sum = cli_jstr(e, "summary"), *dist = cli_jstr(e, "distrib");
            if (sum)
                cli_log_add(c, conv, cli_jint(res, "seq"), cli_me_id(c), sum);
            /* An edit or reaction takes effect here, with its history line. */
            if (sum && sum[0] == CLI_ACTION_MARK)
                cli_action_apply(c, conv, cli_jint(res, "seq"), cli_me_id(c), sum);
            if (dist && *dist)
                merge_distrib(c, conv, dist, cli_jint(e, "key_id"));
        }
        cli_rec_del(c, CLI_T_OUTBOX, cmid);
    }
    cli_tx_commit(c);
}

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !cli_interrupted)
        ;
}

long cli_outbox_post(struct cli *c, const char *cmid, yajl_val *res)
{
    char path[96], err[256];
    struct cli_rec *r = cli_rec_get(c, CLI_T_OUTBOX, cmid);
    if (!r)
        cli_die("internal: no outbox entry %s", cmid);
    yajl_val e = yajl_tree_parse((const char *)r->val, NULL, 0);
    const char *body = cli_jstr(e, "body");
    if (!body)
        cli_die("outbox entry %s is damaged", cmid);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", cli_jint(e, "conv"));
    long st, delay_ms = 250, ra;
    time_t start = time(NULL);
    for (int attempt = 0;; attempt++) {
        st = cli_http_send(c, "POST", path, body, res, &ra, err);
        if (st >= 200 && st < 500 && st != 429)
            break;
        /* Not answered, or answered "later": the same bytes again. */
        if (time(NULL) - start > OUTBOX_GIVE_UP_S || cli_interrupted)
            cli_die("sending failed (%s); the message is kept and will be sent, unchanged, by "
                    "the next `parley send` or `parley listen`",
                    st < 0 ? err : "the server is unavailable");
        if (ra >= 0)
            delay_ms = ra * 1000 > 30000 ? 30000 : (ra ? ra * 1000 : 100);
        fprintf(stderr, "parley: %s; retrying the same message in %ld ms\n",
                st < 0 ? err : "the server is unavailable", delay_ms);
        yajl_tree_free(*res);
        *res = NULL;
        nap(delay_ms);
        delay_ms = delay_ms * 2 > 8000 ? 8000 : delay_ms * 2;
    }
    settle(c, cmid, e, st, *res);
    yajl_tree_free(e);
    return st;
}

void cli_outbox_flush(struct cli *c)
{
    struct cli_rec **r;
    size_t n = cli_rec_list(c, CLI_T_OUTBOX, "", &r);
    char **keys = calloc(n + 1, sizeof(*keys));
    long long *when = calloc(n + 1, sizeof(*when));
    if (!keys || !when)
        cli_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        yajl_val e = yajl_tree_parse((const char *)r[i]->val, NULL, 0);
        const char *t = cli_jstr(e, "created");
        when[i] = t ? atoll(t) : 0;
        keys[i] = strdup(r[i]->key);
        yajl_tree_free(e);
    }
    free(r);
    /* Oldest first, so a distribution goes before what needs it. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && when[j] < when[j - 1]; j--) {
            long long tw = when[j];
            char *tk = keys[j];
            when[j] = when[j - 1], keys[j] = keys[j - 1];
            when[j - 1] = tw, keys[j - 1] = tk;
        }
    for (size_t i = 0; i < n; i++) {
        yajl_val res = NULL;
        long st = cli_outbox_post(c, keys[i], &res);
        if (st != 200 && st != 201)
            fprintf(stderr, "parley: an earlier unsent message was refused: HTTP %ld\n", st);
        else if (!c->listening)
            fprintf(stderr, "parley: sent an earlier message that was still pending (seq %lld)\n",
                    cli_jint(res, "seq"));
        yajl_tree_free(res);
        free(keys[i]);
    }
    free(keys);
    free(when);
}
