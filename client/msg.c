/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's messages: send (fan-out per device) and listen.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_gen_e2e_open(yajl_gen g, const char *cmid)
{
    yajl_gen_map_open(g);
    GEN_STR(g, "client_msg_id");
    GEN_STR(g, cmid);
    GEN_STR(g, "kind");
    GEN_STR(g, "e2e");
    GEN_STR(g, "e2e");
    yajl_gen_map_open(g);
    GEN_STR(g, "recipients");
    yajl_gen_array_open(g);
}

char *cli_gen_done(yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *s = cli_strndup((const char *)buf, len);
    yajl_gen_free(g);
    if (!s)
        cli_die("out of memory");
    return s;
}

static struct e2e_session *session_load(struct cli *c, const char *key)
{
    struct cli_rec *r = cli_rec_get(c, CLI_T_SESSION, key);
    struct e2e_session *s;
    if (!r)
        return NULL;
    if (e2e_session_deserialize(r->val, r->len, &s) < 0)
        cli_die("session %s in the state is damaged", key);
    return s;
}

void cli_session_store(struct cli *c, const char *key, struct e2e_session *s)
{
    uint8_t *b;
    size_t n;
    if (e2e_session_serialize(s, &b, &n) < 0)
        cli_die("out of memory");
    cli_rec_set(c, CLI_T_SESSION, key, b, n);
    e2e_buf_free(b, n);
}

/* A session with (uid, dev) whose identity key is ik: the stored one, or a
 * new one from a fetched bundle. */
struct e2e_session *cli_session_for(struct cli *c, struct e2e_identity *me, long long uid,
                                    long long dev, const uint8_t ik[32])
{
    char key[48], path[128];
    yajl_val res;
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    cli_rec_set(c, CLI_T_PIN, key, ik, 32);
    struct e2e_session *s = session_load(c, key);
    if (s && sodium_memcmp(e2e_session_peer_identity(s), ik, 32) == 0)
        return s;
    if (s) {
        fprintf(stderr,
                "parley: safety number with %s changed (device %lld); `parley verify %s` "
                "shows the new one\n",
                cli_user_name(c, uid), dev, cli_user_name(c, uid));
        e2e_session_free(s);
    }
    snprintf(path, sizeof(path), "/v1/users/%lld/keys?device=%lld", uid, dev);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "fetching keys");
    yajl_val devs = cli_jget(res, "devices");
    if (!YAJL_IS_ARRAY(devs) || devs->u.array.len != 1)
        cli_die("no key bundle for device %lld", dev);
    yajl_val d = devs->u.array.values[0], spk = cli_jget(d, "signed_prekey"),
             opk = cli_jget(d, "one_time_prekey");
    struct e2e_bundle b = {0};
    size_t n1, n2, n3, n4 = 32;
    const char *ikb = cli_jstr(d, "identity_key");
    if (!ikb || cli_unb64(ikb, b.identity_key, 32, &n1) < 0 || !cli_jstr(spk, "public_key") ||
        cli_unb64(cli_jstr(spk, "public_key"), b.spk_pub, 32, &n2) < 0 ||
        !cli_jstr(spk, "signature") ||
        cli_unb64(cli_jstr(spk, "signature"), b.spk_sig, 64, &n3) < 0)
        cli_die("malformed key bundle");
    b.spk_id = (uint32_t)cli_jint(spk, "id");
    if (YAJL_IS_OBJECT(opk) && cli_jstr(opk, "public_key")) {
        b.has_opk = 1;
        b.opk_id = (uint32_t)cli_jint(opk, "id");
        if (cli_unb64(cli_jstr(opk, "public_key"), b.opk_pub, 32, &n4) < 0)
            cli_die("malformed key bundle");
    }
    yajl_tree_free(res);
    if (n1 != 32 || n2 != 32 || n3 != 64 || n4 != 32 || memcmp(b.identity_key, ik, 32) != 0)
        cli_die("malformed key bundle for device %lld", dev);
    int rc = e2e_session_initiate(me, &b, &s);
    if (rc < 0)
        cli_die("cannot start a session with device %lld: %s", dev, e2e_strerror(rc));
    return s;
}

static long long conversation_for(struct cli *c, const char *user, int plain)
{
    char body[512], key[160];
    yajl_val res;
    snprintf(key, sizeof(key), "conv:%s:%s", plain ? "none" : "e2e", user);
    long long id = cli_conf_int(c, key);
    if (id > 0)
        return id;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, "kind");
    GEN_STR(g, "direct");
    GEN_STR(g, "user");
    GEN_STR(g, user);
    GEN_STR(g, "encryption");
    GEN_STR(g, plain ? "none" : "e2e");
    yajl_gen_map_close(g);
    char *b = cli_gen_done(g);
    long st = cli_http(c, "POST", "/v1/conversations", b, &res);
    free(b);
    cli_expect(st, res, 200, 201, "starting the chat");
    id = cli_jint(res, "id");
    yajl_tree_free(res);
    snprintf(body, sizeof(body), "%lld", id);
    cli_conf_set(c, key, body);
    return id;
}

size_t cli_devices(struct cli *c, const char *who, struct target *t, size_t n)
{
    char path[512];
    yajl_val res;
    long long mydev = cli_conf_int(c, "device_id");
    char *u = cli_urlenc(who);
    snprintf(path, sizeof(path), "/v1/users/%s/devices", u);
    free(u);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "listing devices");
    yajl_val devs = cli_jget(res, "devices");
    for (size_t i = 0; YAJL_IS_ARRAY(devs) && i < devs->u.array.len && n < CLI_MAX_DEVS; i++) {
        yajl_val d = devs->u.array.values[i];
        size_t len;
        t[n].uid = cli_jint(res, "user_id");
        t[n].dev = cli_jint(d, "device_id");
        const char *ik = cli_jstr(d, "identity_key");
        if (t[n].dev == mydev || !ik || cli_unb64(ik, t[n].ik, 32, &len) < 0 || len != 32)
            continue;
        n++;
    }
    yajl_tree_free(res);
    return n;
}

/* Every device that must get a copy: the peer's and our own others. */
static size_t targets(struct cli *c, const char *user, struct target *t)
{
    return cli_devices(c, cli_conf(c, "username"), t, cli_devices(c, user, t, 0));
}

void cli_gen_recipient(struct cli *c, yajl_gen g, struct e2e_identity *me, const struct target *t,
                       const char *pt)
{
    char key[48];
    uint8_t *m;
    size_t mlen;
    enum e2e_msg_type type;
    struct e2e_session *s = cli_session_for(c, me, t->uid, t->dev, t->ik);
    if (e2e_session_encrypt(s, (const uint8_t *)pt, strlen(pt), &m, &mlen, &type) < 0)
        cli_die("cannot encrypt");
    snprintf(key, sizeof(key), "%lld:%lld", t->uid, t->dev);
    cli_session_store(c, key, s);
    e2e_session_free(s);
    char *b64 = cli_b64(m, mlen);
    e2e_buf_free(m, mlen);
    yajl_gen_map_open(g);
    GEN_STR(g, "device_id");
    yajl_gen_integer(g, t->dev);
    GEN_STR(g, "type");
    GEN_STR(g, type == E2E_MSG_PREKEY ? "prekey" : "message");
    GEN_STR(g, "ciphertext");
    GEN_STR(g, b64);
    yajl_gen_map_close(g);
    free(b64);
}

static char *e2e_body(struct cli *c, const char *user, const char *cmid, const struct cli_msg *msg)
{
    struct target t[CLI_MAX_DEVS];
    struct e2e_identity *me = cli_identity(c);
    size_t n = targets(c, user, t);
    yajl_gen g = yajl_gen_alloc(NULL);

    /* The plaintext every device gets: a small JSON document (PROTOCOL.md,
     * "Client message payload"): a text, a file, or a sender key. */
    char *pt = cli_payload_json(msg);

    cli_gen_e2e_open(g, cmid);
    for (size_t i = 0; i < n; i++)
        cli_gen_recipient(c, g, me, &t[i], pt);
    yajl_gen_array_close(g);
    cli_gen_media_ids(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    sodium_memzero(pt, strlen(pt));
    free(pt);
    e2e_identity_free(me);
    return cli_gen_done(g);
}

static char *plain_body(const char *cmid, const struct cli_msg *m)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, "client_msg_id");
    GEN_STR(g, cmid);
    GEN_STR(g, "kind");
    if (m->file) {
        GEN_STR(g, "media");
        GEN_STR(g, "media");
        yajl_gen_map_open(g);
        GEN_STR(g, "media_id");
        yajl_gen_integer(g, m->file->media_id);
        GEN_STR(g, "mime");
        GEN_STR(g, m->file->mime);
        GEN_STR(g, "size");
        yajl_gen_integer(g, m->file->size);
        GEN_STR(g, "filename");
        GEN_STR(g, m->file->name);
        yajl_gen_map_close(g);
    } else {
        GEN_STR(g, "text");
        GEN_STR(g, "text");
        GEN_STR(g, m->text);
    }
    yajl_gen_map_close(g);
    return cli_gen_done(g);
}

void cli_send(struct cli *c, const char *user, const struct cli_msg *m, int plain)
{
    char cmid[33], path[96];
    uint8_t rnd[16];
    yajl_val res = NULL;
    long st = 0;
    (void)cli_me_id(c);
    if (user[0] == '#' && !plain) {
        cli_group_send(c, atoll(user + 1), m);
        return;
    }
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(cmid, sizeof(cmid), rnd, sizeof(rnd));
    /* "#id --plain": a plain group (or any chat) the server can read. */
    long long conv = user[0] == '#' ? atoll(user + 1) : conversation_for(c, user, plain);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", conv);
    /* A 409 devices-changed means our device list was stale: list again,
     * start sessions with new devices, and retry with the same id. */
    for (int attempt = 0; attempt < 4; attempt++) {
        char *body = plain ? plain_body(cmid, m) : e2e_body(c, user, cmid, m);
        st = cli_http(c, "POST", path, body, &res);
        free(body);
        if (st != 409 || plain)
            break;
        yajl_tree_free(res);
        res = NULL;
    }
    if (st == 201 || st == 200) {
        char *line = cli_msg_summary(m);
        cli_log_add(c, conv, cli_jint(res, "seq"), cli_me_id(c), line);
        free(line);
    }
    cli_state_save(c); /* ratchets moved even when the server refused */
    cli_expect(st, res, 201, 200, "sending");
    if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"client_msg_id\":\"%s\"}\n", conv,
               cli_jint(res, "seq"), cmid);
    else
        printf("sent to %s%s (conversation %lld, seq %lld)\n", user,
               plain && user[0] != '#' ? " (plain)" : "", conv, cli_jint(res, "seq"));
    yajl_tree_free(res);
}

/* ---- listen ---- */

struct listen {
    long count, got;
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

/* Decrypts our pairwise ciphertext from (uid, dev) into a parsed JSON doc. */
static int pairwise(struct cli *c, long long uid, long long dev, const char *ct, yajl_val *doc)
{
    char key[48];
    size_t cap = strlen(ct), len;
    uint8_t *m = malloc(cap + 1), *pt = NULL;
    size_t ptlen = 0;
    if (!m || cli_unb64(ct, m, cap, &len) < 0) {
        free(m);
        return PL_EMALFORMED;
    }
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    struct e2e_identity *me = cli_identity(c);
    struct e2e_session *s = session_load(c, key);
    int rc = s ? e2e_session_decrypt(s, m, len, &pt, &ptlen) : E2E_ENEWSESSION;
    if (rc == E2E_ENEWSESSION && e2e_msg_type_of(m, len) == E2E_MSG_PREKEY) {
        e2e_session_free(s);
        s = NULL;
        rc = respond(c, me, m, len, &s, &pt, &ptlen);
    }
    if (rc == 0) {
        cli_session_store(c, key, s);
        cli_rec_set(c, CLI_T_PIN, key, e2e_session_peer_identity(s), 32);
        char *js = cli_strndup((const char *)pt, ptlen);
        *doc = js ? yajl_tree_parse(js, NULL, 0) : NULL;
        free(js);
        e2e_buf_free(pt, ptlen);
        if (!*doc)
            rc = PL_EMALFORMED;
    }
    e2e_session_free(s);
    e2e_identity_free(me);
    free(m);
    return rc;
}

/* 0 and the payload document in *out, 1 when nothing was addressed to this
 * device, or < 0. */
static int decrypt_msg(struct cli *c, long long conv, yajl_val msg, yajl_val *out)
{
    yajl_val e = cli_jget(msg, "e2e"), doc = NULL;
    const char *ct = cli_jstr(e, "ciphertext"), *group = cli_jstr(e, "group");
    long long uid = cli_jint(msg, "sender"), dev = cli_jint(e, "sender_device");
    int rc = 1;
    if (uid == cli_me_id(c) && dev == cli_conf_int(c, "device_id"))
        return 1; /* our own send */
    if (ct && (rc = pairwise(c, uid, dev, ct, &doc)) < 0)
        return rc;
    if (group) {
        rc = cli_group_receive(c, conv, uid, dev, doc, group, out);
        yajl_tree_free(doc);
    } else if (cli_jstr(doc, "text") || YAJL_IS_OBJECT(cli_jget(doc, "file"))) {
        *out = doc;
        rc = 0;
    } else {
        yajl_tree_free(doc); /* a sender key alone, or nothing we know */
    }
    return rc;
}

static void ack(struct cli *c, long long conv, long long seq)
{
    char path[96], body[96];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", conv);
    snprintf(body, sizeof(body), "{\"type\":\"delivered\",\"up_to_seq\":%lld}", seq);
    long st = cli_http(c, "POST", path, body, &res);
    yajl_tree_free(res);
    if (st != 200)
        fprintf(stderr, "parley: delivered receipt: HTTP %ld\n", st);
}

static void print_json(struct cli *c, long long conv, long long seq, long long sender, int e2e,
                       const char *text, const char *file)
{
    const unsigned char *buf;
    size_t len;
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
    yajl_gen_get_buf(g, &buf, &len);
    printf("%.*s\n", (int)len, buf);
    yajl_gen_free(g);
}

/* A device's identity key appeared or changed. The keys first seen for a
 * user are pinned silently; a new or changed device key of a user already
 * pinned is announced, since the safety number with that user is no longer
 * the one that was verified. */
static void key_changed(struct cli *c, yajl_val ev)
{
    char key[48], prefix[32];
    uint8_t ik[32];
    size_t n;
    long long uid = cli_jint(ev, "user_id"), dev = cli_jint(ev, "device_id");
    const char *b64 = cli_jstr(ev, "identity_key");
    if (!b64 || cli_unb64(b64, ik, sizeof(ik), &n) < 0 || n != 32 || uid == cli_me_id(c))
        return;
    snprintf(key, sizeof(key), "%lld:%lld", uid, dev);
    snprintf(prefix, sizeof(prefix), "%lld:", uid);
    int known = 0;
    for (size_t i = 0; i < c->nrecs; i++)
        if (c->recs[i].tag == CLI_T_PIN && strncmp(c->recs[i].key, prefix, strlen(prefix)) == 0)
            known = 1;
    struct cli_rec *pin = cli_rec_get(c, CLI_T_PIN, key);
    if (known && (!pin || pin->len != 32 || memcmp(pin->val, ik, 32) != 0)) {
        if (c->json)
            printf("{\"event\":\"safety_number_changed\",\"user_id\":%lld,\"device_id\":%lld}\n",
                   uid, dev);
        else
            printf("safety number with %s changed (device %lld); `parley verify %s` shows "
                   "the new one\n",
                   cli_user_name(c, uid), dev, cli_user_name(c, uid));
        fflush(stdout);
    }
    cli_rec_set(c, CLI_T_PIN, key, ik, 32);
}

/* What a received message says: its text, or for a file (downloaded,
 * checked and decrypted here) a line naming where it was saved. Returns 0
 * (and *text, NULL for nothing to show) or a negative code. */
static int payload(struct cli *c, long long conv, yajl_val msg, int e2e, char **text, char **file)
{
    yajl_val doc = NULL, f = NULL;
    int rc = 0;
    if (e2e) {
        if ((rc = decrypt_msg(c, conv, msg, &doc)) != 0)
            return rc < 0 ? rc : 0;
        f = cli_jget(doc, "file");
    } else {
        f = cli_jget(msg, "media");
    }
    const char *t = cli_jstr(e2e ? doc : msg, "text");
    if (YAJL_IS_OBJECT(f)) {
        if ((rc = cli_file_receive(c, f, e2e, file)) == 0) {
            const char *base = strrchr(*file, '/');
            if (asprintf(text, "file %s saved to %s", base ? base + 1 : *file, *file) < 0)
                cli_die("out of memory");
        }
    } else if (t) {
        *text = strdup(t);
    }
    yajl_tree_free(doc);
    return rc;
}

static int on_event(struct cli *c, const char *type, const char *data, const char *id, void *ctx)
{
    struct listen *l = ctx;
    yajl_val ev = yajl_tree_parse(data, NULL, 0);
    int done = 0;
    if (strcmp(type, "message.created") == 0) {
        yajl_val msg = cli_jget(ev, "message");
        long long conv = cli_jint(ev, "conversation_id"), seq = cli_jint(msg, "seq");
        long long sender = cli_jint(msg, "sender"), me = cli_me_id(c);
        const char *kind = cli_jstr(msg, "kind");
        char *text = NULL, *file = NULL;
        int rc = 0, e2e = kind && strcmp(kind, "e2e") == 0;
        /* Our own other devices' sends arrive too (each with its copy). */
        int own = sender == me && cli_jint(msg, "sender_device_id") == cli_conf_int(c, "device_id");
        if (!own)
            rc = payload(c, conv, msg, e2e, &text, &file);
        if (!own && (text || rc < 0)) {
            if (rc < 0)
                fprintf(stderr, "parley: message %lld in %s: %s\n", seq, cli_chat_name(c, conv),
                        e2e_strerror(rc));
            else if (c->json)
                print_json(c, conv, seq, sender, e2e, text, file);
            else
                cli_out_msg(c, conv, seq, sender, cli_time_parse(cli_jstr(msg, "created_at")), text,
                            NULL, 1);
            fflush(stdout);
            if (text)
                cli_log_add_at(c, conv, seq, sender, cli_time_parse(cli_jstr(msg, "created_at")),
                               text);
            ack(c, conv, seq);
            l->got++;
        }
        free(text);
        free(file);
    } else if (strcmp(type, "keys.changed") == 0) {
        key_changed(c, ev);
    } else if (strcmp(type, "presence") == 0) {
        cli_presence_event(c, ev); /* listen --chat */
    }
    cli_presence_renew(c);
    yajl_tree_free(ev);
    if (id && *id)
        cli_conf_set(c, "last_event_id", id);
    cli_state_save(c); /* sessions and position move together */
    if (l->count > 0 && l->got >= l->count)
        done = 1;
    return done;
}

void cli_listen(struct cli *c, long count, long timeout_s)
{
    struct listen l = {count, 0};
    (void)cli_me_id(c);
    /* Without a position yet, replay from the start: messages sent to this
     * device before its first listen are still delivered (offline). */
    const char *pos = cli_conf(c, "last_event_id");
    int rc = cli_stream(c, pos ? pos : "0", timeout_s, on_event, &l);
    if (rc == 1 && count > 0 && l.got < count)
        cli_die("timed out after %ld of %ld messages", l.got, count);
}
