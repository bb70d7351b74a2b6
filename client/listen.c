/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's listen: decrypt once, print, reconnect.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Several listeners (and senders) may run on one PARLEY_HOME. Each message
 * is decrypted at most once per device: inside one transaction the
 * listener looks for the message in the local history, and only when it
 * is not there decrypts it and stores the moved session, the used
 * one-time prekey's deletion and the plaintext together. A listener that
 * comes second prints the stored text (PROTOCOL.md, "Client state rules"
 * 2). A message from a device whose identity is not accepted is held
 * (CLI_T_HELD), undecrypted, until `parley verify --accept`.
 */

struct listen {
    long count, got;
    char last_id[64];
};

/* Finds our prekeys named by a prekey message and answers it. */
static int respond(struct cli *c, struct e2e_identity *me, const uint8_t *m, size_t len,
                   struct e2e_session **s, uint8_t **pt, size_t *ptlen)
{
    struct e2e_prekey_info in;
    struct e2e_prekey spk = {0}, opk = {0};
    char key[16];
    int rc = e2e_prekey_msg_parse(m, len, &in);
    if (rc < 0)
        return rc;
    snprintf(key, sizeof(key), "%u", in.spk_id);
    struct cli_rec *r = cli_rec_get(c, CLI_T_SPK, key);
    if (!r || r->len != 132)
        return PL_ENOTFOUND;
    spk.id = (uint32_t)r->val[0] << 24 | (uint32_t)r->val[1] << 16 | (uint32_t)r->val[2] << 8 |
             r->val[3];
    memcpy(spk.pub, r->val + 4, 32);
    memcpy(spk.priv, r->val + 36, 32);
    snprintf(key, sizeof(key), "%u", in.opk_id);
    struct cli_rec *o = in.has_opk ? cli_rec_get(c, CLI_T_OPK, key) : NULL;
    if (in.has_opk && (!o || o->len != 64))
        return PL_ENOTFOUND;
    if (o) {
        opk.id = in.opk_id;
        memcpy(opk.pub, o->val, 32);
        memcpy(opk.priv, o->val + 32, 32);
    }
    rc = e2e_session_respond(me, &spk, o ? &opk : NULL, m, len, s, pt, ptlen);
    if (rc == 0 && o)
        cli_rec_del(c, CLI_T_OPK, key); /* one-time: never again */
    e2e_prekey_wipe(&spk);
    e2e_prekey_wipe(&opk);
    return rc;
}

/* Earlier sessions with a device (CLI_T_OLDSESSION "uid:dev:k", k <
 * OLD_SESSIONS, newest first). When both sides start a session at the
 * same moment (two processes, two devices), each answers the other's
 * prekey message and their current sessions differ; as in Signal, a
 * message that the current session cannot open is tried on the earlier
 * ones, and the one that opens it becomes current, so the two sides
 * converge on one session. */
#define OLD_SESSIONS 4

static void old_key(char *buf, size_t n, const char *key, int k)
{
    snprintf(buf, n, "%s:%d", key, k);
}

/* Makes s current; the session it replaces becomes the newest old one,
 * and slot `free_slot` (the one s came from, or the oldest) is reused. */
static void promote(struct cli *c, const char *key, struct e2e_session *s, int free_slot)
{
    char k1[64], k2[64];
    struct cli_rec *cur = cli_rec_get(c, CLI_T_SESSION, key);
    for (int k = free_slot; k > 0; k--) {
        old_key(k1, sizeof(k1), key, k - 1);
        old_key(k2, sizeof(k2), key, k);
        struct cli_rec *r = cli_rec_get(c, CLI_T_OLDSESSION, k1);
        if (r)
            cli_rec_set(c, CLI_T_OLDSESSION, k2, r->val, r->len);
        else
            cli_rec_del(c, CLI_T_OLDSESSION, k2);
    }
    old_key(k1, sizeof(k1), key, 0);
    if (cur)
        cli_rec_set(c, CLI_T_OLDSESSION, k1, cur->val, cur->len);
    cli_session_store(c, key, s);
}

/* Tries the earlier sessions; 0 and the promoted one's plaintext. */
static int try_old(struct cli *c, const char *key, const uint8_t *m, size_t len, uint8_t **pt,
                   size_t *ptlen)
{
    char k1[64];
    for (int k = 0; k < OLD_SESSIONS; k++) {
        struct e2e_session *s;
        old_key(k1, sizeof(k1), key, k);
        struct cli_rec *r = cli_rec_get(c, CLI_T_OLDSESSION, k1);
        if (!r || e2e_session_deserialize(r->val, r->len, &s) < 0)
            continue;
        int rc = e2e_session_decrypt(s, m, len, pt, ptlen);
        if (rc == 0)
            promote(c, key, s, k);
        e2e_session_free(s);
        if (rc == 0)
            return 0;
    }
    return E2E_EAUTH;
}

/* Decrypts our pairwise ciphertext from (uid, dev) into a parsed JSON doc.
 * Inside the message's transaction. */
static int pairwise(struct cli *c, long long uid, long long dev, const uint8_t *m, size_t len,
                    yajl_val *doc)
{
    char key[48];
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    struct e2e_identity *me = cli_identity(c);
    struct e2e_session *s = cli_session_load(c, key);
    int rc = s ? e2e_session_decrypt(s, m, len, &pt, &ptlen) : E2E_ENEWSESSION;
    if (rc == 0)
        cli_session_store(c, key, s);
    else if (rc != E2E_EVERSION && try_old(c, key, m, len, &pt, &ptlen) == 0)
        rc = 0;
    else if (rc == E2E_ENEWSESSION && e2e_msg_type_of(m, len) == E2E_MSG_PREKEY) {
        e2e_session_free(s);
        s = NULL;
        if ((rc = respond(c, me, m, len, &s, &pt, &ptlen)) == 0)
            promote(c, key, s, OLD_SESSIONS - 1);
    }
    if (rc == 0) {
        char *js = cli_strndup((const char *)pt, ptlen);
        *doc = yajl_tree_parse(js, NULL, 0);
        sodium_memzero(js, ptlen);
        free(js);
        e2e_buf_free(pt, ptlen);
        if (!*doc)
            rc = PL_EMALFORMED;
    }
    e2e_session_free(s);
    e2e_identity_free(me);
    return rc;
}

/* The identity the sender device's message rests on must be pinned: the
 * IK_A of a prekey message, or the peer key of the stored session. 0, or
 * PL_EFORBIDDEN (the notice was given). */
static int sender_trusted(struct cli *c, long long uid, long long dev, const uint8_t *m, size_t len)
{
    char key[48];
    struct e2e_prekey_info in;
    if (e2e_msg_type_of(m, len) == E2E_MSG_PREKEY && e2e_prekey_msg_parse(m, len, &in) == 0)
        return cli_pin_check(c, uid, dev, in.identity_key);
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    struct e2e_session *s = cli_session_load(c, key);
    int rc = s ? cli_pin_check(c, uid, dev, e2e_session_peer_identity(s)) : 0;
    e2e_session_free(s);
    return rc;
}

/* 0 and the payload document in *out, 1 when nothing was addressed to this
 * device, PL_EFORBIDDEN when the sender is not accepted, or < 0. */
static int decrypt_msg(struct cli *c, long long conv, yajl_val msg, yajl_val *out)
{
    yajl_val e = cli_jget(msg, "e2e"), doc = NULL;
    const char *ct = cli_jstr(e, "ciphertext"), *group = cli_jstr(e, "group");
    long long uid = cli_jint(msg, "sender"), dev = cli_jint(e, "sender_device");
    int rc = 1;
    if (ct) {
        size_t cap = strlen(ct), len;
        uint8_t *m = malloc(cap + 1);
        if (!m || cli_unb64(ct, m, cap, &len) < 0) {
            free(m);
            return PL_EMALFORMED;
        }
        rc = sender_trusted(c, uid, dev, m, len);
        if (rc == 0)
            rc = pairwise(c, uid, dev, m, len, &doc);
        free(m);
        if (rc < 0)
            return rc;
    }
    if (group) {
        rc = cli_group_receive(c, conv, uid, dev, doc, group, out);
        yajl_tree_free(doc);
    } else if (cli_jstr(doc, "text") || YAJL_IS_OBJECT(cli_jget(doc, "file")) ||
               YAJL_IS_OBJECT(cli_jget(doc, "edit")) || YAJL_IS_OBJECT(cli_jget(doc, "reaction"))) {
        *out = doc;
        rc = 0;
    } else {
        yajl_tree_free(doc); /* a sender key alone, or nothing we know */
        rc = 1;
    }
    return rc;
}

static void ack(struct cli *c, long long conv, long long seq)
{
    char path[96], body[96], err[256];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", conv);
    snprintf(body, sizeof(body), "{\"type\":\"delivered\",\"up_to_seq\":%lld}", seq);
    long st = cli_http_send(c, "POST", path, body, &res, NULL, err);
    yajl_tree_free(res);
    if (st != 200)
        fprintf(stderr, "parley: delivered receipt: %s\n", st < 0 ? err : "refused");
}

static void print_msg(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                      int e2e, const char *text, const char *file)
{
    if (!c->json) {
        cli_out_msg(c, conv, seq, sender, ms, text, NULL, 1); /* escapes control characters */
        fflush(stdout);
        return;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, "conversation_id");
    yajl_gen_integer(g, conv);
    GEN_STR(g, "seq");
    yajl_gen_integer(g, seq);
    GEN_STR(g, "sender");
    yajl_gen_integer(g, sender);
    GEN_STR(g, "sender_name");
    GEN_STR(g, cli_user_name(c, sender));
    GEN_STR(g, "chat");
    GEN_STR(g, cli_chat_name(c, conv));
    GEN_STR(g, "e2e");
    yajl_gen_bool(g, e2e);
    GEN_STR(g, "text");
    GEN_STR(g, text);
    if (file) {
        GEN_STR(g, "file");
        GEN_STR(g, file);
    }
    yajl_gen_map_close(g);
    char *s = cli_gen_done(g);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
}

/* A received file: downloaded, checked and decrypted outside any
 * transaction; the history line names where it went. */
static int fetch_file(struct cli *c, yajl_val f, int e2e, char **text, char **file)
{
    int rc = cli_file_receive(c, f, e2e, file);
    if (rc == 0) {
        const char *base = strrchr(*file, '/');
        if (asprintf(text, "file %s saved to %s", base ? base + 1 : *file, *file) < 0)
            cli_die("out of memory");
    }
    return rc;
}

/* An edit or reaction (its history line) as a line or a JSON object. */
static void print_action(struct cli *c, long long conv, long long seq, long long sender,
                         long long ms, int e2e, const char *line)
{
    char *end, tb[32];
    long long target = strtoll(line + 2, &end, 10);
    const char *value = *end == '\t' ? end + 1 : "";
    int edit = line[1] == 'E';
    if (line[1] != 'E' && line[1] != 'R')
        return;
    if (c->json) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_map_open(g);
        GEN_STR(g, "conversation_id");
        yajl_gen_integer(g, conv);
        GEN_STR(g, "seq");
        yajl_gen_integer(g, target);
        GEN_STR(g, "action_seq");
        yajl_gen_integer(g, seq);
        GEN_STR(g, "sender");
        yajl_gen_integer(g, sender);
        GEN_STR(g, "sender_name");
        GEN_STR(g, cli_user_name(c, sender));
        GEN_STR(g, "chat");
        GEN_STR(g, cli_chat_name(c, conv));
        GEN_STR(g, "e2e");
        yajl_gen_bool(g, e2e);
        GEN_STR(g, "action");
        GEN_STR(g, edit ? "edit" : "reaction");
        GEN_STR(g, edit ? "text" : "emoji");
        if (*value)
            GEN_STR(g, value);
        else
            yajl_gen_null(g);
        yajl_gen_map_close(g);
        char *out = cli_gen_done(g);
        printf("%s\n", out);
        free(out);
    } else {
        char *who = cli_safe(cli_user_name(c, sender)), *v = cli_safe(value);
        if (edit)
            printf("[%s] %s edited message %lld in %s: %s\n", cli_time_str(ms, tb), who, target,
                   cli_chat_name(c, conv), v);
        else if (*value)
            printf("[%s] %s reacted %s to message %lld in %s\n", cli_time_str(ms, tb), who, v,
                   target, cli_chat_name(c, conv));
        else
            printf("[%s] %s removed their reaction to message %lld in %s\n", cli_time_str(ms, tb),
                   who, target, cli_chat_name(c, conv));
        free(who);
        free(v);
    }
    fflush(stdout);
}

/* The text of the local history record, or NULL. */
static const char *logged(struct cli *c, long long conv, long long seq)
{
    char key[64];
    snprintf(key, sizeof(key), "%lld:%020lld", conv, seq);
    struct cli_rec *r = cli_rec_get(c, CLI_T_LOG, key);
    const char *tab = r ? strchr((const char *)r->val, '\t') : NULL;
    return tab ? tab + 1 : NULL;
}

static void hold(struct cli *c, long long conv, long long seq, const char *data)
{
    char key[64];
    snprintf(key, sizeof(key), "%lld:%020lld", conv, seq);
    cli_rec_set(c, CLI_T_HELD, key, data, strlen(data));
}

/* One message.created event. Returns 1 when it counts as a message shown. */
static int on_message(struct cli *c, yajl_val ev, const char *data)
{
    yajl_val msg = cli_jget(ev, "message"), doc = NULL;
    long long conv = cli_jint(ev, "conversation_id"), seq = cli_jint(msg, "seq");
    long long sender = cli_jint(msg, "sender"), ms = cli_time_parse(cli_jstr(msg, "created_at"));
    const char *kind = cli_jstr(msg, "kind"), *t;
    char *text = NULL, *file = NULL;
    int rc = 0, e2e = kind && strcmp(kind, "e2e") == 0;
    /* Our own sends arrive too: they are in the history already. */
    if (sender == cli_me_id(c) && cli_jint(msg, "sender_device_id") == cli_conf_int(c, "device_id"))
        return 0;
    cli_tx_begin(c);
    if ((t = logged(c, conv, seq))) {
        text = strdup(t); /* another process of this device decrypted it */
    } else if (e2e && (rc = decrypt_msg(c, conv, msg, &doc)) == PL_EFORBIDDEN) {
        hold(c, conv, seq, data);
    } else if (rc >= 0 && (t = cli_jstr(e2e ? doc : msg, "text"))) {
        text = strdup(t);
        cli_log_add_at(c, conv, seq, sender, ms, text);
    } else if (rc == 0 && e2e &&
               (YAJL_IS_OBJECT(cli_jget(doc, "edit")) ||
                YAJL_IS_OBJECT(cli_jget(doc, "reaction")))) {
        /* Decrypted once, kept once; one that does not match its clear
         * marker is kept as an action that does nothing. */
        text = cli_action_from_doc(cli_jget(msg, "e2e"), doc);
        if (!text)
            text = cli_action_line('X', 0, NULL);
        cli_log_add_at(c, conv, seq, sender, ms, text);
        cli_action_apply(c, conv, seq, sender, text);
    }
    cli_tx_commit(c); /* the history line and the moved session together */
    yajl_val f = e2e ? cli_jget(doc, "file") : cli_jget(msg, "media");
    if (!text && rc == 0 && YAJL_IS_OBJECT(f) && (rc = fetch_file(c, f, e2e, &text, &file)) == 0) {
        cli_tx_begin(c);
        cli_log_add_at(c, conv, seq, sender, ms, text);
        cli_tx_commit(c);
    }
    yajl_tree_free(doc);
    if (rc == PL_EFORBIDDEN) {
        fprintf(stderr,
                "parley: message %lld in conversation %lld is held until you accept the "
                "sender's new safety number\n",
                seq, conv);
        return 0;
    }
    if (rc < 0)
        fprintf(stderr, "parley: message %lld in %s: %s\n", seq, cli_chat_name(c, conv),
                e2e_strerror(rc));
    else if (text && text[0] == CLI_ACTION_MARK)
        print_action(c, conv, seq, sender, ms, e2e, text);
    else if (text && text[0] == CLI_DELETED_MARK)
        ; /* deleted for everyone meanwhile */
    else if (text)
        print_msg(c, conv, seq, sender, ms, e2e, text, file);
    int shown = text != NULL || rc < 0;
    if (shown)
        ack(c, conv, seq);
    free(text);
    free(file);
    return shown;
}

/* keys.changed: a device's identity key appeared or changed. A known
 * user's new or changed device is announced and not trusted; a user whose
 * devices were never listed is left for the first listing. */
static void key_changed(struct cli *c, yajl_val ev)
{
    char ukey[24], key[48];
    uint8_t ik[32];
    size_t n;
    long long uid = cli_jint(ev, "user_id"), dev = cli_jint(ev, "device_id");
    const char *b64 = cli_jstr(ev, "identity_key");
    if (!b64 || cli_unb64(b64, ik, sizeof(ik), &n) < 0 || n != 32 ||
        dev == cli_conf_int(c, "device_id"))
        return;
    snprintf(ukey, sizeof(ukey), "%lld", uid);
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    if (cli_rec_get(c, CLI_T_LISTED, ukey) || cli_rec_get(c, CLI_T_PIN, key))
        (void)cli_pin_check(c, uid, dev, ik);
}

/* message.edited / message.deleted / reaction: the server's own actions
 * (plain chats; deletes in e2e chats too) reach the local history. pos
 * (the event's position) orders them. Returns 1 when printed. */
static int on_change(struct cli *c, const char *type, yajl_val ev, long long pos)
{
    long long conv = cli_jint(ev, "conversation_id"), seq = cli_jint(ev, "seq");
    yajl_val msg = cli_jget(ev, "message");
    int del = !strcmp(type, "message.deleted"), edit = !strcmp(type, "message.edited");
    long long who = del || edit ? cli_jint(ev, "by") : cli_jint(ev, "user_id");
    const char *text = cli_jstr(msg, "text"), *emoji = cli_jstr(ev, "emoji");
    if (conv < 1 || seq < 1 || (edit && !text))
        return 0;
    cli_tx_begin(c);
    if (del)
        cli_local_deleted(c, conv, seq);
    else if (edit)
        cli_local_edited(c, conv, seq, cli_jint(msg, "sender"), pos, text);
    else
        cli_local_reaction(c, conv, seq, who, pos, emoji);
    cli_tx_commit(c);
    if (del) {
        if (c->json)
            printf("{\"conversation_id\":%lld,\"seq\":%lld,\"action\":\"delete\",\"by\":%lld}\n",
                   conv, seq, who);
        else
            printf("message %lld in %s was deleted\n", seq, cli_chat_name(c, conv));
        fflush(stdout);
    } else {
        char *line = cli_action_line(edit ? 'E' : 'R', seq, edit ? text : emoji);
        print_action(c, conv, seq, who, cli_time_parse(cli_jstr(msg, "edited_at")), 0, line);
        free(line);
    }
    return 1;
}

static int on_event(struct cli *c, const char *type, const char *data, const char *id, void *ctx)
{
    struct listen *l = ctx;
    yajl_val ev = yajl_tree_parse(data, NULL, 0);
    if (strcmp(type, "message.created") == 0)
        l->got += on_message(c, ev, data);
    else if (!strcmp(type, "message.edited") || !strcmp(type, "message.deleted") ||
             !strcmp(type, "reaction"))
        l->got += on_change(c, type, ev, id ? atoll(id) : 0);
    else if (strcmp(type, "keys.changed") == 0)
        key_changed(c, ev);
    else if (strcmp(type, "presence") == 0)
        cli_presence_event(c, ev); /* listen --chat (presence.c) */
    yajl_tree_free(ev);
    cli_presence_renew(c);
    if (id && *id) {
        snprintf(l->last_id, sizeof(l->last_id), "%s", id);
        /* Several listeners may share the home: keep the furthest position. */
        if (atoll(id) > cli_conf_int(c, "last_event_id")) {
            cli_tx_begin(c);
            if (atoll(id) > cli_conf_int(c, "last_event_id"))
                cli_conf_set(c, "last_event_id", id);
            cli_tx_commit(c);
        }
    }
    cli_recs_release(c);
    return l->count > 0 && l->got >= l->count;
}

/* Held messages whose sender has been accepted since. */
static void replay_held(struct cli *c, struct listen *l)
{
    struct cli_rec **r;
    size_t n = cli_rec_list(c, CLI_T_HELD, "", &r);
    for (size_t i = 0; i < n && !(l->count > 0 && l->got >= l->count); i++) {
        char *key = strdup(r[i]->key), *data = strdup((const char *)r[i]->val);
        yajl_val ev = yajl_tree_parse(data, NULL, 0);
        cli_rec_del(c, CLI_T_HELD, key); /* held again if still not accepted */
        l->got += on_message(c, ev, data);
        yajl_tree_free(ev);
        free(key);
        free(data);
    }
    free(r);
    cli_recs_release(c);
}

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!cli_interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void cli_listen(struct cli *c, long count, long timeout_s)
{
    struct listen l = {count, 0, ""};
    struct cli_stream_end end = {.retry_ms = 1000};
    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    c->listening = 1;
    (void)cli_me_id(c);
    if (cli_send_lock(c, 0) == 0) { /* unless a send is running, which does it */
        cli_outbox_flush(c);
        cli_send_unlock();
    }
    replay_held(c, &l);
    /* Without a position yet, replay from the start: messages sent to this
     * device before its first listen are still delivered (offline). */
    const char *pos = cli_conf(c, "last_event_id");
    snprintf(l.last_id, sizeof(l.last_id), "%s", pos ? pos : "0");
    cli_recs_release(c);
    time_t deadline = timeout_s > 0 ? time(NULL) + timeout_s : 0;
    long backoff_ms = 0;
    while (!(count > 0 && l.got >= count)) {
        long left = deadline ? (long)(deadline - time(NULL)) : 0;
        if (deadline && left <= 0)
            break;
        int rc = cli_stream(c, l.last_id, deadline ? left : 0, on_event, &l, &end);
        if (rc == 0 || rc == 1 || cli_interrupted)
            break;
        cli_presence_lapsed(c); /* the set ended with the stream: again after reconnecting */
        /* Dropped: come back after the server's retry: (or Retry-After on a
         * 503), doubling up to 30 s while it keeps failing, with jitter so
         * that a restarted server is not hit by every client at once. */
        long wait = end.retry_after_s >= 0 ? end.retry_after_s * 1000 : end.retry_ms;
        backoff_ms = end.status == 200 ? wait : (backoff_ms ? backoff_ms * 2 : wait);
        if (backoff_ms > 30000)
            backoff_ms = 30000;
        if (end.retry_after_s >= 0 && end.retry_after_s * 1000 > backoff_ms)
            backoff_ms = end.retry_after_s * 1000;
        long jittered = backoff_ms / 2 + (long)randombytes_uniform((uint32_t)backoff_ms / 2 + 1);
        fprintf(stderr, "parley: event stream: %s%s; reconnecting in %.1f s…\n", end.why,
                end.status && end.status != 200 ? " (HTTP error)" : "", jittered / 1000.0);
        nap_ms(jittered);
    }
    c->listening = 0;
    if (cli_interrupted)
        return; /* Ctrl-C: a normal way to stop listening */
    if (count > 0 && l.got < count)
        cli_die("timed out after %ld of %ld messages", l.got, count);
}
