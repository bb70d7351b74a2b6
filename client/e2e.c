/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's end-to-end side: keys, sessions, send, listen.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void gen_b64(yajl_gen g, const char *key, const uint8_t *b, size_t n)
{
    char *s = cli_b64(b, n);
    GEN_STR(g, key);
    GEN_STR(g, s);
    free(s);
}

struct e2e_identity *cli_identity(struct cli *c)
{
    struct cli_rec *r = cli_rec_get(c, CLI_T_IDENTITY, "");
    struct e2e_identity *id;
    if (!r || r->len != 32)
        cli_die("not logged in (run parley login)");
    if (e2e_identity_from_seed(r->val, &id) < 0)
        cli_die("out of memory");
    return id;
}

long long cli_me_id(struct cli *c)
{
    long long id = cli_conf_int(c, "user_id");
    if (id <= 0)
        cli_die("not logged in (run parley login)");
    return id;
}

/* Uploads keys: on the first upload a new identity and signed prekey, and
 * n_opks one-time prekeys with fresh ids. */
void cli_keys_upload(struct cli *c, int first, int rotate, int n_opks)
{
    struct e2e_identity *id;
    struct e2e_signed_prekey spk;
    uint8_t seed[32], rec[4 + 32 + 32 + 64];
    char path[96], key[24];
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_val res;

    int new_spk = first || rotate;
    /* The new secrets are stored before their public halves are published:
     * a prekey message can only name keys we have. */
    cli_tx_begin(c);
    if (first) {
        if (e2e_identity_new(&id) < 0)
            cli_die("cannot make keys");
        e2e_identity_seed(id, seed);
        cli_rec_set(c, CLI_T_IDENTITY, "", seed, 32);
        sodium_memzero(seed, sizeof(seed));
    } else {
        id = cli_identity(c);
    }
    if (new_spk) {
        /* Signed prekeys are rotated; the previous one is kept so prekey
         * messages already on their way still open, older ones go. */
        long long prev = cli_conf_int(c, "spk_id"), spk_id = prev + 1;
        if (e2e_signed_prekey_generate(id, (uint32_t)spk_id, &spk) < 0)
            cli_die("cannot make keys");
        put_be32(rec, (uint32_t)spk_id);
        memcpy(rec + 4, spk.key.pub, 32);
        memcpy(rec + 36, spk.key.priv, 32);
        memcpy(rec + 68, spk.sig, 64);
        snprintf(key, sizeof(key), "%lld", spk_id);
        cli_rec_set(c, CLI_T_SPK, key, rec, sizeof(rec));
        sodium_memzero(rec, sizeof(rec));
        snprintf(key, sizeof(key), "%lld", prev - 1);
        cli_rec_del(c, CLI_T_SPK, key);
        snprintf(key, sizeof(key), "%lld", spk_id);
        cli_conf_set(c, "spk_id", key);
        snprintf(key, sizeof(key), "%lld", (long long)time(NULL));
        cli_conf_set(c, "spk_time", key);
    }
    yajl_gen_map_open(g);
    if (first)
        gen_b64(g, "identity_key", e2e_identity_public(id), 32);
    if (new_spk) {
        GEN_STR(g, "signed_prekey");
        yajl_gen_map_open(g);
        GEN_STR(g, "id");
        yajl_gen_integer(g, spk.key.id);
        gen_b64(g, "public_key", spk.key.pub, 32);
        gen_b64(g, "signature", spk.sig, 64);
        yajl_gen_map_close(g);
        e2e_prekey_wipe(&spk.key);
    }
    GEN_STR(g, "one_time_prekeys");
    yajl_gen_array_open(g);
    long long next = cli_conf_int(c, "next_opk_id");
    if (next <= 0)
        next = 1;
    for (int i = 0; i < n_opks; i++, next++) {
        struct e2e_prekey pk;
        if (e2e_prekey_generate((uint32_t)next, &pk) < 0)
            cli_die("cannot make keys");
        snprintf(key, sizeof(key), "%lld", next);
        cli_rec_set(c, CLI_T_OPK, key, pk.pub, 64); /* pub || priv, adjacent */
        yajl_gen_map_open(g);
        GEN_STR(g, "id");
        yajl_gen_integer(g, next);
        gen_b64(g, "public_key", pk.pub, 32);
        yajl_gen_map_close(g);
        e2e_prekey_wipe(&pk);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    snprintf(key, sizeof(key), "%lld", next);
    cli_conf_set(c, "next_opk_id", key);
    cli_tx_commit(c);
    char *body = cli_gen_done(g);
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys", cli_conf_int(c, "device_id"));
    long st = cli_http(c, "PUT", path, body, &res);
    free(body);
    cli_expect(st, res, 200, 200, "uploading keys");
    yajl_tree_free(res);
    e2e_identity_free(id);
}

void cli_keys_status(struct cli *c, int force_rotate)
{
    char path[96];
    yajl_val res;
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys/count", cli_conf_int(c, "device_id"));
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "key count");
    long long n = cli_jint(res, "one_time_prekeys");
    yajl_tree_free(res);
    int added = 0;
    /* Rotate the signed prekey weekly, or when asked to. */
    int rotate = force_rotate || time(NULL) - cli_conf_int(c, "spk_time") > 7 * 24 * 3600;
    if (rotate && n >= 20)
        cli_keys_upload(c, 0, 1, 0);
    if (n < 20) {
        cli_keys_upload(c, 0, rotate, 100 - (int)n);
        added = 100 - (int)n;
    }
    if (c->json)
        printf("{\"one_time_prekeys\":%lld,\"uploaded\":%d,\"signed_prekey_id\":%lld}\n", n + added,
               added, cli_conf_int(c, "spk_id"));
    else
        printf("one-time prekeys on the server: %lld%s; signed prekey %lld%s\n", n + added,
               added ? " (replenished)" : "", cli_conf_int(c, "spk_id"),
               rotate ? " (rotated)" : "");
}
