/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's groups: sender keys, distribution and rotation.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Per group (conversation id) the state holds our own sender key
 * (CLI_T_OWNKEY), the devices it was distributed to (CLI_T_DISTRIB, text
 * "uid:dev," entries) and one receiving state per member device
 * (CLI_T_MEMBERKEY, key "conv:uid:dev"). Before each send the member
 * devices are listed: a device that is no longer among them means a member
 * left or was removed, and the key is replaced before anything else is
 * encrypted (rotation); devices that have not had the current key get its
 * distribution message through their pairwise session, in the same
 * envelope as the group ciphertext.
 */

static size_t member_devices(struct cli *c, long long conv, struct target *t)
{
    char path[96], id[24];
    yajl_val res;
    size_t n = 0;
    snprintf(path, sizeof(path), "/v1/conversations/%lld", conv);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "reading the group");
    yajl_val ms = cli_jget(res, "members");
    for (size_t i = 0; YAJL_IS_ARRAY(ms) && i < ms->u.array.len; i++) {
        snprintf(id, sizeof(id), "%lld", cli_jint(ms->u.array.values[i], "user_id"));
        n = cli_devices(c, id, t, n);
    }
    yajl_tree_free(res);
    return n;
}

static int listed(const char *list, long long uid, long long dev)
{
    char item[48];
    snprintf(item, sizeof(item), "%lld:%lld,", uid, dev);
    for (const char *p = list; p && (p = strstr(p, item)); p++)
        if (p == list || p[-1] == ',')
            return 1;
    return 0;
}

/* True when a device the key went to is not a member device any more. */
static int someone_left(const char *list, const struct target *t, size_t n)
{
    for (const char *p = list; p && *p;) {
        long long uid, dev;
        int used, found = 0;
        if (sscanf(p, "%lld:%lld,%n", &uid, &dev, &used) != 2)
            return 1;
        for (size_t i = 0; i < n && !found; i++)
            found = t[i].uid == uid && t[i].dev == dev;
        if (!found)
            return 1;
        p += used;
    }
    return 0;
}

static struct e2e_sender_key *own_key(struct cli *c, const char *conv, const struct target *t,
                                      size_t n)
{
    struct cli_rec *k = cli_rec_get(c, CLI_T_OWNKEY, conv),
                   *d = cli_rec_get(c, CLI_T_DISTRIB, conv);
    struct e2e_sender_key *sk;
    if (k && !someone_left(d ? (const char *)d->val : "", t, n)) {
        if (e2e_sender_key_deserialize(k->val, k->len, &sk) < 0)
            cli_die("sender key of group %s is damaged", conv);
        return sk;
    }
    if (e2e_sender_key_new((uint64_t)atoll(conv), (uint64_t)cli_conf_int(c, "device_id"), &sk) < 0)
        cli_die("out of memory");
    cli_rec_set(c, CLI_T_DISTRIB, conv, "", 0);
    return sk;
}

static void store_key(struct cli *c, uint8_t tag, const char *key, struct e2e_sender_key *k)
{
    uint8_t *b;
    size_t n;
    if (e2e_sender_key_serialize(k, &b, &n) < 0)
        cli_die("out of memory");
    cli_rec_set(c, tag, key, b, n);
    e2e_buf_free(b, n);
}

/* Encrypts one group message in one transaction with everything it moves
 * (pairwise sessions for the distributions, our sender key) and the body
 * in the outbox (write-ahead). */
static void prepare(struct cli *c, const char *cmid, const char *conv, const struct cli_msg *msg)
{
    static struct target t[CLI_MAX_DEVS];
    size_t n = member_devices(c, atoll(conv), t);
    cli_targets_prepare(c, t, n);
    uint8_t skdm[E2E_SKDM_BYTES], *m;
    size_t mlen;
    yajl_gen g = yajl_gen_alloc(NULL), p = yajl_gen_alloc(NULL);

    cli_tx_begin(c);
    struct e2e_sender_key *k = own_key(c, conv, t, n);
    struct cli_rec *d = cli_rec_get(c, CLI_T_DISTRIB, conv);
    struct e2e_identity *me = cli_identity(c);
    const char *have = d ? (const char *)d->val : "";
    size_t cap = 48 * n + 1;
    char *added = calloc(1, cap);
    if (!added)
        cli_die("out of memory");
    if (e2e_sender_key_distribution(k, skdm) < 0)
        cli_die("cannot distribute the sender key");
    char *b64 = cli_b64(skdm, sizeof(skdm));
    yajl_gen_map_open(p);
    GEN_STR(p, "skdm");
    GEN_STR(p, b64);
    yajl_gen_map_close(p);
    char *pt = cli_gen_done(p);
    free(b64);

    cli_gen_e2e_open(g, cmid);
    for (size_t i = 0; i < n; i++) {
        if (listed(have, t[i].uid, t[i].dev))
            continue;
        cli_gen_recipient(c, g, me, &t[i], pt);
        size_t used = strlen(added);
        snprintf(added + used, cap - used, "%lld:%lld,", t[i].uid, t[i].dev);
    }
    yajl_gen_array_close(g);
    sodium_memzero(pt, strlen(pt));
    free(pt);

    /* The message itself, once for everyone. */
    pt = cli_payload_json(msg);
    if (e2e_sender_key_encrypt(k, (const uint8_t *)pt, strlen(pt), &m, &mlen) < 0)
        cli_die("cannot encrypt");
    sodium_memzero(pt, strlen(pt));
    free(pt);
    store_key(c, CLI_T_OWNKEY, conv, k);
    b64 = cli_b64(m, mlen);
    e2e_buf_free(m, mlen);
    GEN_STR(g, "group");
    GEN_STR(g, b64);
    free(b64);
    cli_gen_media_ids(g, msg);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g), *sum = cli_msg_summary(msg);
    struct cli_out o = {cmid, atoll(conv), body, sum, added, e2e_sender_key_id(k)};
    cli_outbox_put(c, &o);
    cli_tx_commit(c);
    free(body);
    free(sum);
    free(added);
    e2e_sender_key_free(k);
    e2e_identity_free(me);
    cli_recs_release(c);
}

void cli_group_send(struct cli *c, long long conv, const struct cli_msg *m)
{
    char cmid[33], id[24];
    uint8_t rnd[16];
    yajl_val res = NULL;
    long st = 0;
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(cmid, sizeof(cmid), rnd, sizeof(rnd));
    snprintf(id, sizeof(id), "%lld", conv);
    for (int attempt = 0; attempt < 4; attempt++) {
        prepare(c, cmid, id, m);
        yajl_tree_free(res);
        st = cli_outbox_post(c, cmid, &res);
        if (st != 409 || !cli_devices_changed(res))
            break;
    }
    cli_expect(st, res, 201, 200, "sending");
    if (m->quiet)
        ;
    else if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"client_msg_id\":\"%s\",\"repeat\":%s}\n",
               conv, cli_jint(res, "seq"), cmid, st == 200 ? "true" : "false");
    else
        printf("sent to group %lld (seq %lld)\n", conv, cli_jint(res, "seq"));
    yajl_tree_free(res);
}

int cli_group_receive(struct cli *c, long long conv, long long uid, long long dev, yajl_val doc,
                      const char *group_b64, yajl_val *out)
{
    char key[80];
    struct cli_rec *r;
    struct e2e_sender_key *k, *old;
    int rc;
    snprintf(key, sizeof(key), "%lld:%lld:%lld", conv, uid, dev);
    const char *skdm = cli_jstr(doc, "skdm");
    if (skdm) {
        uint8_t b[E2E_SKDM_BYTES + 1];
        size_t n;
        if (cli_unb64(skdm, b, sizeof(b), &n) < 0)
            return PL_EMALFORMED;
        /* Bound to this conversation and to the device whose pairwise
         * session carried it (PROTOCOL.md version 2). */
        if ((rc = e2e_sender_key_from_distribution(b, n, (uint64_t)conv, (uint64_t)dev, &k)) < 0)
            return rc;
        /* A repeated distribution of the key we already follow must not
         * reset it: the state we have can derive every later step and
         * holds the skipped keys (a reset would reopen used ones). */
        r = cli_rec_get(c, CLI_T_MEMBERKEY, key);
        if (!r || e2e_sender_key_deserialize(r->val, r->len, &old) < 0) {
            store_key(c, CLI_T_MEMBERKEY, key, k);
        } else {
            if (e2e_sender_key_id(old) != e2e_sender_key_id(k))
                store_key(c, CLI_T_MEMBERKEY, key, k);
            e2e_sender_key_free(old);
        }
        e2e_sender_key_free(k);
    }
    if (!(r = cli_rec_get(c, CLI_T_MEMBERKEY, key)))
        return E2E_ENOKEY;
    if ((rc = e2e_sender_key_deserialize(r->val, r->len, &k)) < 0)
        return rc;
    size_t cap = strlen(group_b64), len, ptlen;
    uint8_t *m = malloc(cap + 1), *pt;
    if (!m || cli_unb64(group_b64, m, cap, &len) < 0) {
        free(m);
        e2e_sender_key_free(k);
        return PL_EMALFORMED;
    }
    rc = e2e_sender_key_decrypt(k, (uint64_t)conv, (uint64_t)dev, m, len, &pt, &ptlen);
    free(m);
    if (rc == 0) {
        store_key(c, CLI_T_MEMBERKEY, key, k);
        char *js = cli_strndup((const char *)pt, ptlen);
        *out = yajl_tree_parse(js, NULL, 0);
        sodium_memzero(js, ptlen);
        free(js);
        e2e_buf_free(pt, ptlen);
        if (!*out)
            rc = PL_EMALFORMED;
    }
    e2e_sender_key_free(k);
    return rc;
}

/* group create TITLE USER... | group add ID USER | group remove ID USER */
int cli_group_cmd(struct cli *c, int argc, char **argv)
{
    char path[512], id[24];
    yajl_val res;
    long st;
    if (argc >= 3 && !strcmp(argv[1], "create")) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_map_open(g);
        GEN_STR(g, "kind");
        GEN_STR(g, "group");
        GEN_STR(g, "title");
        GEN_STR(g, argv[2]);
        GEN_STR(g, "encryption");
        GEN_STR(g, "e2e");
        GEN_STR(g, "members");
        yajl_gen_array_open(g);
        for (int i = 3; i < argc; i++)
            GEN_STR(g, argv[i]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        char *b = cli_gen_done(g);
        st = cli_http(c, "POST", "/v1/conversations", b, &res);
        free(b);
        cli_expect(st, res, 201, 200, "creating the group");
        printf(c->json ? "{\"conversation_id\":%lld}\n" : "group %lld created\n",
               cli_jint(res, "id"));
        yajl_tree_free(res);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "add") && strcmp(argv[1], "remove"))
        return cli_group_more(c, argc, argv); /* info, rename, leave */
    if (argc != 4)
        return -1;
    int add = !strcmp(argv[1], "add");
    long long gid = cli_group_id(c, argv[2]);
    char *u = cli_urlenc(argv[3]);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/members/%s", gid, u);
    free(u);
    st = cli_http(c, add ? "PUT" : "DELETE", path, NULL, &res);
    cli_expect(st, res, add ? 201 : 204, 200, add ? "adding the member" : "removing the member");
    yajl_tree_free(res);
    if (!add) {
        /* Rotate at once: our next message must not be readable by them. */
        snprintf(id, sizeof(id), "%lld", gid);
        cli_tx_begin(c);
        cli_rec_del(c, CLI_T_OWNKEY, id);
        cli_rec_del(c, CLI_T_DISTRIB, id);
        cli_tx_commit(c);
    }
    char *who = cli_safe(argv[3]);
    printf("%s %s\n", add ? "added" : "removed", who);
    free(who);
    return 0;
}
