/* SPDX-License-Identifier: MIT */
/* Parley - integration helpers for the e2e tests: real keys, uploads.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_HARNESS_E2E_H
#define PT_HARNESS_E2E_H

#include "harness_chat.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The tests make real Ed25519 identity keys and real signed-prekey
 * signatures with libsodium, as a client would (the server verifies
 * them); ciphertexts are random bytes, since the server never decrypts.
 * Header-only (static inline) so that each test file links what it uses.
 */

#define PT_B64_MAX 256 /* base64url of up to 190 bytes, with the NUL */
#define PT_EV_MS 5000

struct pt_keys {
    unsigned char id_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char id_sk[crypto_sign_SECRETKEYBYTES];
    uint32_t spk_id;
    unsigned char spk[32];
    unsigned char sig[crypto_sign_BYTES];
};

static inline void pt_b64(const unsigned char *bin, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Signs the signed prekey as the contract says: "parley-spk-v1" || id
 * (4 bytes big-endian) || public key. */
static inline void pt_keys_sign(struct pt_keys *k)
{
    unsigned char msg[13 + 4 + 32];
    memcpy(msg, "parley-spk-v1", 13);
    msg[13] = (unsigned char)(k->spk_id >> 24);
    msg[14] = (unsigned char)(k->spk_id >> 16);
    msg[15] = (unsigned char)(k->spk_id >> 8);
    msg[16] = (unsigned char)k->spk_id;
    memcpy(msg + 17, k->spk, 32);
    crypto_sign_detached(k->sig, NULL, msg, sizeof(msg), k->id_sk);
}

static inline void pt_keys_new(struct pt_keys *k, uint32_t spk_id)
{
    PL_ASSERT(sodium_init() >= 0);
    crypto_sign_keypair(k->id_pk, k->id_sk);
    k->spk_id = spk_id;
    randombytes_buf(k->spk, sizeof(k->spk));
    pt_keys_sign(k);
}

static inline void pt_keys_identity(const struct pt_keys *k, char out[PT_B64_MAX])
{
    pt_b64(k->id_pk, sizeof(k->id_pk), out, PT_B64_MAX);
}

/* The PUT body: identity and signed prekey when with_id, plus n one-time
 * prekeys numbered from first. malloc'd. */
static inline char *pt_keys_body(const struct pt_keys *k, bool with_id, uint32_t first, unsigned n)
{
    size_t cap = 512 + (size_t)n * 96;
    char *b = malloc(cap), ik[PT_B64_MAX], spk[PT_B64_MAX], sig[PT_B64_MAX];
    PL_ASSERT(b);
    size_t o = 0;
    o += (size_t)snprintf(b + o, cap - o, "{");
    if (with_id) {
        pt_keys_identity(k, ik);
        pt_b64(k->spk, 32, spk, sizeof(spk));
        pt_b64(k->sig, sizeof(k->sig), sig, sizeof(sig));
        o += (size_t)snprintf(b + o, cap - o,
                              "\"identity_key\":\"%s\",\"signed_prekey\":{\"id\":%u,"
                              "\"public_key\":\"%s\",\"signature\":\"%s\"}%s",
                              ik, k->spk_id, spk, sig, n ? "," : "");
    }
    if (n) {
        o += (size_t)snprintf(b + o, cap - o, "\"one_time_prekeys\":[");
        for (unsigned i = 0; i < n; i++) {
            unsigned char pk[32];
            char pkb[PT_B64_MAX];
            randombytes_buf(pk, sizeof(pk));
            pt_b64(pk, sizeof(pk), pkb, sizeof(pkb));
            o += (size_t)snprintf(b + o, cap - o, "%s{\"id\":%u,\"public_key\":\"%s\"}",
                                  i ? "," : "", first + i, pkb);
        }
        o += (size_t)snprintf(b + o, cap - o, "]");
    }
    snprintf(b + o, cap - o, "}");
    return b;
}

/* PUT /v1/devices/{dev}/keys with body as u; returns the response. */
static inline void pt_keys_put_raw(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                                   int64_t dev, const char *body, struct pt_resp *r)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/devices/%lld/keys", (long long)dev);
    pt_send_json(s, p, "PUT", path, u->token, body, r);
}

/* Uploads k (and n one-time prekeys from first) for u's device; expects 200. */
static inline void pt_keys_upload(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                                  const struct pt_keys *k, uint32_t first, unsigned n)
{
    char *body = pt_keys_body(k, true, first, n);
    struct pt_resp r;
    pt_keys_put_raw(s, p, u, u->device, body, &r);
    PT_ASSERT_STATUS(&r, 200);
    free(body);
    pt_resp_free(&r);
}

/* POST /v1/conversations for an e2e direct conversation; want 201/200/0. */
static inline int64_t pt_e2e_direct(struct pt_server *s, enum pt_proto p, const struct pt_user *me,
                                    int64_t peer, long want)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"kind\":\"direct\",\"user\":%lld,\"encryption\":\"e2e\"}",
             (long long)peer);
    struct pt_resp r;
    pt_send_json(s, p, "POST", "/v1/conversations", me->token, body, &r);
    if (want)
        PT_ASSERT_STATUS(&r, want);
    else if (r.status != 200 && r.status != 201)
        PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "encryption", NULL), "e2e");
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    return id;
}

/* A random ciphertext of n bytes as base64url (malloc'd). */
static inline char *pt_random_ct(size_t n)
{
    unsigned char *bin = malloc(n);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    PL_ASSERT(bin && out);
    randombytes_buf(bin, n);
    pt_b64(bin, n, out, cap);
    free(bin);
    return out;
}

#endif
