/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's messages: send (fan-out per device) and listen.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_devices_changed(yajl_val problem)
{
    const char *type = cli_jstr(problem, "type");
    size_t n = type ? strlen(type) : 0;
    return n >= 15 && strcmp(type + n - 15, "devices-changed") == 0;
}

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

struct e2e_session *cli_session_load(struct cli *c, const char *key)
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

/* Fetches the bundle of one device (consumes one of its one-time prekeys). */
static void fetch_bundle(struct cli *c, struct target *t)
{
    char path[128];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/users/%lld/keys?device=%lld", t->uid, t->dev);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "fetching keys");
    yajl_val devs = cli_jget(res, "devices");
    if (!YAJL_IS_ARRAY(devs) || devs->u.array.len != 1)
        cli_die("no key bundle for device %lld", t->dev);
    yajl_val d = devs->u.array.values[0], spk = cli_jget(d, "signed_prekey"),
             opk = cli_jget(d, "one_time_prekey");
    struct e2e_bundle *b = &t->b;
    size_t n1, n2, n3, n4 = 32;
    const char *ikb = cli_jstr(d, "identity_key");
    memset(b, 0, sizeof(*b));
    if (!ikb || cli_unb64(ikb, b->identity_key, 32, &n1) < 0 || !cli_jstr(spk, "public_key") ||
        cli_unb64(cli_jstr(spk, "public_key"), b->spk_pub, 32, &n2) < 0 ||
        !cli_jstr(spk, "signature") ||
        cli_unb64(cli_jstr(spk, "signature"), b->spk_sig, 64, &n3) < 0)
        cli_die("malformed key bundle");
    b->spk_id = (uint32_t)cli_jint(spk, "id");
    if (YAJL_IS_OBJECT(opk) && cli_jstr(opk, "public_key")) {
        b->has_opk = 1;
        b->opk_id = (uint32_t)cli_jint(opk, "id");
        if (cli_unb64(cli_jstr(opk, "public_key"), b->opk_pub, 32, &n4) < 0)
            cli_die("malformed key bundle");
    }
    yajl_tree_free(res);
    /* The bundle's identity must be the one listed (and pinned). */
    if (n1 != 32 || n2 != 32 || n3 != 64 || n4 != 32 || memcmp(b->identity_key, t->ik, 32) != 0)
        cli_die("malformed key bundle for device %lld", t->dev);
    t->has_bundle = 1;
}

void cli_targets_prepare(struct cli *c, struct target *t, size_t n)
{
    char key[48];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%lld:%lld", t[i].uid, t[i].dev);
        struct e2e_session *s = cli_session_load(c, key);
        t[i].has_bundle = 0;
        if (!s || sodium_memcmp(e2e_session_peer_identity(s), t[i].ik, 32) != 0)
            fetch_bundle(c, &t[i]);
        e2e_session_free(s);
    }
    cli_recs_release(c);
}

/* Inside the transaction: the stored session with t, or a new one from
 * the bundle cli_targets_prepare fetched. */
static struct e2e_session *session_for(struct cli *c, struct e2e_identity *me,
                                       const struct target *t, const char *key)
{
    struct e2e_session *s = cli_session_load(c, key);
    if (s && sodium_memcmp(e2e_session_peer_identity(s), t->ik, 32) == 0)
        return s;
    e2e_session_free(s);
    if (!t->has_bundle)
        cli_die("the session with device %lld changed meanwhile; send again", t->dev);
    int rc = e2e_session_initiate(me, &t->b, &s);
    if (rc < 0)
        cli_die("cannot start a session with device %lld: %s", t->dev, e2e_strerror(rc));
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
    int refused = 0;
    char *u = cli_urlenc(who);
    snprintf(path, sizeof(path), "/v1/users/%s/devices", u);
    free(u);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "listing devices");
    yajl_val devs = cli_jget(res, "devices");
    long long uid = cli_jint(res, "user_id");
    /* One transaction: the first listing of a user pins all its devices. */
    cli_tx_begin(c);
    for (size_t i = 0; YAJL_IS_ARRAY(devs) && i < devs->u.array.len && n < CLI_MAX_DEVS; i++) {
        yajl_val d = devs->u.array.values[i];
        size_t len;
        t[n].uid = uid;
        t[n].dev = cli_jint(d, "device_id");
        t[n].has_bundle = 0;
        const char *ik = cli_jstr(d, "identity_key");
        if (t[n].dev == mydev || !ik || cli_unb64(ik, t[n].ik, 32, &len) < 0 || len != 32)
            continue;
        if (cli_pin_check(c, t[n].uid, t[n].dev, t[n].ik) < 0)
            refused++;
        n++;
    }
    cli_pin_listed(c, uid);
    cli_tx_commit(c);
    yajl_tree_free(res);
    if (refused)
        cli_die("not sent: the safety number with %s changed (see above)", cli_user_name(c, uid));
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
    snprintf(key, sizeof(key), "%lld:%lld", t->uid, t->dev);
    struct e2e_session *s = session_for(c, me, t, key);
    if (e2e_session_encrypt(s, (const uint8_t *)pt, strlen(pt), &m, &mlen, &type) < 0)
        cli_die("cannot encrypt");
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

/* Encrypts msg for every device and stores the advanced sessions with the
 * body in the outbox, in one transaction (write-ahead). */
static void e2e_prepare(struct cli *c, const char *user, long long conv, const char *cmid,
                        const struct cli_msg *msg)
{
    static struct target t[CLI_MAX_DEVS];
    size_t n = targets(c, user, t);
    cli_targets_prepare(c, t, n);
    yajl_gen g = yajl_gen_alloc(NULL);
    /* The plaintext every device gets: a small JSON document (PROTOCOL.md,
     * "Client message payload"): a text, a file, or a sender key. */
    char *pt = cli_payload_json(msg), *sum = cli_msg_summary(msg);
    cli_tx_begin(c);
    struct e2e_identity *me = cli_identity(c);
    cli_gen_e2e_open(g, cmid);
    for (size_t i = 0; i < n; i++)
        cli_gen_recipient(c, g, me, &t[i], pt);
    yajl_gen_array_close(g);
    cli_gen_media_ids(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g);
    struct cli_out o = {cmid, conv, body, sum, NULL, 0};
    cli_outbox_put(c, &o);
    cli_tx_commit(c);
    sodium_memzero(pt, strlen(pt));
    free(pt);
    free(sum);
    free(body);
    e2e_identity_free(me);
    cli_recs_release(c);
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
    char cmid[33];
    uint8_t rnd[16];
    yajl_val res = NULL;
    long st = 0;
    (void)cli_me_id(c);
    (void)cli_send_lock(c, 1);
    cli_outbox_flush(c);
    if (user[0] == '#' && !plain) {
        cli_group_send(c, atoll(user + 1), m);
        return;
    }
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(cmid, sizeof(cmid), rnd, sizeof(rnd));
    /* "#id --plain": a plain group (or any chat) the server can read. */
    long long conv = user[0] == '#' ? atoll(user + 1) : conversation_for(c, user, plain);
    /* A 409 devices-changed means our device list was stale: list again,
     * start sessions with new devices, and retry with the same id (the
     * refused body is gone; its chain steps are simply never used). */
    for (int attempt = 0; attempt < 4; attempt++) {
        if (plain) {
            char *body = plain_body(cmid, m), *sum = cli_msg_summary(m);
            struct cli_out o = {cmid, conv, body, sum, NULL, 0};
            cli_tx_begin(c);
            cli_outbox_put(c, &o);
            cli_tx_commit(c);
            free(body);
            free(sum);
        } else {
            e2e_prepare(c, user, conv, cmid, m);
        }
        yajl_tree_free(res);
        st = cli_outbox_post(c, cmid, &res);
        if (st != 409 || plain || !cli_devices_changed(res))
            break;
    }
    cli_expect(st, res, 201, 200, "sending");
    char *name = cli_safe(user);
    if (m->quiet)
        ;
    else if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"client_msg_id\":\"%s\",\"repeat\":%s}\n",
               conv, cli_jint(res, "seq"), cmid, st == 200 ? "true" : "false");
    else
        printf("sent to %s%s (conversation %lld, seq %lld)\n", name,
               plain && user[0] != '#' ? " (plain)" : "", conv, cli_jint(res, "seq"));
    free(name);
    yajl_tree_free(res);
}
