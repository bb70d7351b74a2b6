/* SPDX-License-Identifier: MIT */
/* Parley - sender keys: one encryption per group message.              */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * Signal's sender keys (PROTOCOL.md, "Groups"). Each member device owns a
 * chain key and an Ed25519 signing key per group and hands both, through
 * the pairwise sessions, to every other member device in a distribution
 * message:
 *   0x24 || conv (be64) || device (be64) || key id (be32) || iteration (be32)
 *        || chain key || signing pk
 * A group message is
 *   0x23 || key id || iteration || AEAD(ct, AD) || sig
 * with AD = conv (be64) || device (be64) || the 9 header bytes, and sig
 * the Ed25519 signature over AD || ct. The conversation and the sending
 * device are not on the wire: the receiver takes them from the envelope,
 * so a ciphertext the server moves to another group, or a distribution
 * replayed into another conversation or attributed to another device,
 * fails (version 2; version 1 bound neither). A member cannot forge
 * another's messages even though all share the chain key. When a member
 * leaves, every remaining device makes a new sender key (new id, chain and
 * signing key): the removed member never receives it.
 */
#define SK_HDRBYTES 9
#define SK_CTXBYTES 16 /* conv || device */
#define SK_ADBYTES (SK_CTXBYTES + SK_HDRBYTES)

struct sk_skipped {
    uint32_t iteration;
    uint8_t mk[32];
};

struct e2e_sender_key {
    uint64_t conv_id, device_id; /* what the key is bound to */
    uint32_t key_id;
    uint32_t iteration; /* the next message's iteration */
    uint8_t ck[32];
    uint8_t sign_pk[32];
    uint8_t sign_sk[64];
    uint8_t own; /* we hold sign_sk and may encrypt */
    uint32_t nskipped;
    struct sk_skipped skipped[E2E_MAX_SKIP];
};

static size_t sk_used(const struct e2e_sender_key *k)
{
    return offsetof(struct e2e_sender_key, skipped) + k->nskipped * sizeof(k->skipped[0]);
}

static struct e2e_sender_key *sk_alloc(void)
{
    struct e2e_sender_key *k = sodium_malloc(sizeof(*k));
    if (k)
        sodium_memzero(k, sizeof(*k));
    return k;
}

void e2e_sender_key_free(struct e2e_sender_key *k)
{
    if (k)
        sodium_free(k);
}

uint32_t e2e_sender_key_id(const struct e2e_sender_key *k)
{
    return k->key_id;
}

static void put64(uint8_t *p, uint64_t v)
{
    e2e__put32(p, (uint32_t)(v >> 32));
    e2e__put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)e2e__get32(p) << 32 | e2e__get32(p + 4);
}

/* The AEAD's associated data, which the signature also covers first. */
static void sk_ad(uint8_t ad[SK_ADBYTES], uint64_t conv, uint64_t dev, const uint8_t *hdr)
{
    put64(ad, conv);
    put64(ad + 8, dev);
    memcpy(ad + SK_CTXBYTES, hdr, SK_HDRBYTES);
}

/* What the signature covers: AD || ciphertext (pure Ed25519, not the
 * prehashed crypto_sign_init/update variant, so that any Ed25519 library
 * verifies it). Returns a malloc'd buffer of *n bytes, or NULL. */
static uint8_t *sk_sign_input(const uint8_t ad[SK_ADBYTES], const uint8_t *m, size_t body,
                              size_t *n)
{
    *n = SK_ADBYTES + body - SK_HDRBYTES;
    uint8_t *b = e2e__alloc(*n);
    if (b) {
        memcpy(b, ad, SK_ADBYTES);
        memcpy(b + SK_ADBYTES, m + SK_HDRBYTES, body - SK_HDRBYTES);
    }
    return b;
}

int e2e_sender_key_new(uint64_t conv_id, uint64_t sender_device, struct e2e_sender_key **out)
{
    uint8_t seed[32], id[4];
    struct e2e_sender_key *k;
    if (!out)
        return PL_EINVAL;
    if (!(k = sk_alloc()))
        return PL_ENOMEM;
    randombytes_buf(id, sizeof(id));
    k->key_id = e2e__get32(id);
    randombytes_buf(k->ck, 32);
    randombytes_buf(seed, sizeof(seed));
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
    sodium_memzero(seed, sizeof(seed));
    k->own = 1;
    k->conv_id = conv_id;
    k->device_id = sender_device;
    *out = k;
    return 0;
}

int e2e_sender_key_distribution(const struct e2e_sender_key *k, uint8_t out[E2E_SKDM_BYTES])
{
    if (!k || !out || !k->own)
        return PL_EINVAL;
    out[0] = E2E_TYPE_BYTE(E2E_MSG_SKDM);
    put64(out + 1, k->conv_id);
    put64(out + 9, k->device_id);
    e2e__put32(out + 17, k->key_id);
    e2e__put32(out + 21, k->iteration);
    memcpy(out + 25, k->ck, 32);
    memcpy(out + 57, k->sign_pk, 32);
    return 0;
}

int e2e_sender_key_from_distribution(const uint8_t *msg, size_t len, uint64_t conv_id,
                                     uint64_t sender_device, struct e2e_sender_key **out)
{
    struct e2e_sender_key *k;
    int t = e2e_msg_type_of(msg, len);
    if (t < 0)
        return t;
    if (t != E2E_MSG_SKDM || !out)
        return PL_EINVAL;
    if (len != E2E_SKDM_BYTES)
        return PL_EMALFORMED;
    if (get64(msg + 1) != conv_id || get64(msg + 9) != sender_device)
        return E2E_ECONTEXT;
    if (!(k = sk_alloc()))
        return PL_ENOMEM;
    k->conv_id = conv_id;
    k->device_id = sender_device;
    k->key_id = e2e__get32(msg + 17);
    k->iteration = e2e__get32(msg + 21);
    memcpy(k->ck, msg + 25, 32);
    memcpy(k->sign_pk, msg + 57, 32);
    *out = k;
    return 0;
}

int e2e_sender_key_encrypt(struct e2e_sender_key *k, const uint8_t *pt, size_t len, uint8_t **out,
                           size_t *outlen)
{
    uint8_t mk[32], key[32], nonce[E2E_NONCEBYTES], ad[SK_ADBYTES];
    size_t sn;
    if (!k || (!pt && len) || !out || !outlen || !k->own)
        return PL_EINVAL;
    if (len > E2E_MAX_PLAINTEXT)
        return PL_ETOOBIG;
    size_t body = SK_HDRBYTES + len + E2E_TAGBYTES, total = body + E2E_SIGBYTES;
    uint8_t *m = e2e__alloc(total);
    if (!m)
        return PL_ENOMEM;
    m[0] = E2E_TYPE_BYTE(E2E_MSG_GROUP);
    e2e__put32(m + 1, k->key_id);
    e2e__put32(m + 5, k->iteration);
    e2e__kdf_ck(k->ck, mk);
    k->iteration++;
    e2e__msg_keys(mk, E2E_LABEL_SENDERKEY, key, nonce);
    sk_ad(ad, k->conv_id, k->device_id, m);
    crypto_aead_xchacha20poly1305_ietf_encrypt(m + SK_HDRBYTES, NULL, pt, len, ad, SK_ADBYTES, NULL,
                                               nonce, key);
    sodium_memzero(mk, sizeof(mk));
    sodium_memzero(key, sizeof(key));
    uint8_t *signed_part = sk_sign_input(ad, m, body, &sn);
    if (!signed_part) {
        e2e_buf_free(m, total);
        return PL_ENOMEM; /* the chain step is lost, never reused */
    }
    crypto_sign_detached(m + body, NULL, signed_part, sn, k->sign_sk);
    free(signed_part);
    *out = m;
    *outlen = total;
    return 0;
}

static int open_with(const uint8_t mk[32], const uint8_t ad[SK_ADBYTES], const uint8_t *m,
                     size_t body, uint8_t **pt, size_t *ptlen)
{
    uint8_t key[32], nonce[E2E_NONCEBYTES];
    unsigned long long n = 0;
    size_t ctlen = body - SK_HDRBYTES;
    uint8_t *p = e2e__alloc(ctlen);
    if (!p)
        return PL_ENOMEM;
    e2e__msg_keys(mk, E2E_LABEL_SENDERKEY, key, nonce);
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(p, &n, NULL, m + SK_HDRBYTES, ctlen, ad,
                                                        SK_ADBYTES, nonce, key);
    sodium_memzero(key, sizeof(key));
    if (rc != 0) {
        e2e_buf_free(p, ctlen);
        return E2E_EAUTH;
    }
    *pt = p;
    *ptlen = (size_t)n;
    return 0;
}

/* Finds (and removes on success) the key of an earlier, skipped iteration,
 * or advances the chain to `it`, keeping the keys passed over. */
static int decrypt_in(struct e2e_sender_key *k, uint32_t it, const uint8_t ad[SK_ADBYTES],
                      const uint8_t *m, size_t body, uint8_t **pt, size_t *ptlen)
{
    uint8_t mk[32];
    int rc;
    if (it < k->iteration) {
        for (uint32_t i = 0; i < k->nskipped; i++) {
            if (k->skipped[i].iteration != it)
                continue;
            if ((rc = open_with(k->skipped[i].mk, ad, m, body, pt, ptlen)) == 0) {
                memmove(&k->skipped[i], &k->skipped[i + 1],
                        (k->nskipped - i - 1) * sizeof(k->skipped[0]));
                k->nskipped--;
            }
            return rc;
        }
        return E2E_EREPLAY;
    }
    if (it - k->iteration > E2E_MAX_SKIP)
        return E2E_ETOOMANYSKIP;
    while (k->iteration < it) {
        if (k->nskipped == E2E_MAX_SKIP) {
            memmove(&k->skipped[0], &k->skipped[1], (E2E_MAX_SKIP - 1) * sizeof(k->skipped[0]));
            k->nskipped--;
        }
        k->skipped[k->nskipped].iteration = k->iteration++;
        e2e__kdf_ck(k->ck, k->skipped[k->nskipped++].mk);
    }
    e2e__kdf_ck(k->ck, mk);
    k->iteration++;
    rc = open_with(mk, ad, m, body, pt, ptlen);
    sodium_memzero(mk, sizeof(mk));
    return rc;
}

int e2e_sender_key_decrypt(struct e2e_sender_key *k, uint64_t conv_id, uint64_t sender_device,
                           const uint8_t *msg, size_t len, uint8_t **pt, size_t *ptlen)
{
    struct e2e_sender_key *tmp;
    uint8_t ad[SK_ADBYTES], *signed_part;
    size_t sn;
    int t = e2e_msg_type_of(msg, len), rc;
    if (t < 0)
        return t;
    if (t != E2E_MSG_GROUP || !k || !pt || !ptlen)
        return PL_EINVAL;
    if (len < SK_HDRBYTES + E2E_TAGBYTES + E2E_SIGBYTES)
        return PL_EMALFORMED;
    size_t body = len - E2E_SIGBYTES;
    if (conv_id != k->conv_id || sender_device != k->device_id)
        return E2E_ECONTEXT;
    if (e2e__get32(msg + 1) != k->key_id)
        return E2E_ENOKEY;
    sk_ad(ad, conv_id, sender_device, msg);
    if (!(signed_part = sk_sign_input(ad, msg, body, &sn)))
        return PL_ENOMEM;
    rc = crypto_sign_verify_detached(msg + body, signed_part, sn, k->sign_pk);
    free(signed_part);
    if (rc != 0)
        return E2E_EBADSIG;
    /* As for sessions, work on a copy and keep it only on success, so a
     * message that fails to decrypt cannot advance the chain. */
    if (!(tmp = sk_alloc()))
        return PL_ENOMEM;
    memcpy(tmp, k, sk_used(k));
    if ((rc = decrypt_in(tmp, e2e__get32(msg + 5), ad, msg, body, pt, ptlen)) == 0) {
        memcpy(k, tmp, sk_used(tmp));
        if (k->nskipped < E2E_MAX_SKIP)
            sodium_memzero(&k->skipped[k->nskipped],
                           (E2E_MAX_SKIP - k->nskipped) * sizeof(k->skipped[0]));
    }
    e2e_sender_key_free(tmp);
    return rc;
}

#define SK_MAGIC "PLK"
#define SK_FORMAT 2 /* 2: bound to (conversation, device) */

int e2e_sender_key_serialize(const struct e2e_sender_key *k, uint8_t **out, size_t *outlen)
{
    struct e2e__wr w = {0};
    if (!k || !out || !outlen)
        return PL_EINVAL;
    e2e__wr_bytes(&w, SK_MAGIC, 3);
    e2e__wr_u8(&w, SK_FORMAT);
    e2e__wr_u32(&w, (uint32_t)(k->conv_id >> 32));
    e2e__wr_u32(&w, (uint32_t)k->conv_id);
    e2e__wr_u32(&w, (uint32_t)(k->device_id >> 32));
    e2e__wr_u32(&w, (uint32_t)k->device_id);
    e2e__wr_u32(&w, k->key_id);
    e2e__wr_u32(&w, k->iteration);
    e2e__wr_bytes(&w, k->ck, 32);
    e2e__wr_bytes(&w, k->sign_pk, 32);
    e2e__wr_u8(&w, k->own);
    if (k->own)
        e2e__wr_bytes(&w, k->sign_sk, 64);
    e2e__wr_u32(&w, k->nskipped);
    for (uint32_t i = 0; i < k->nskipped; i++) {
        e2e__wr_u32(&w, k->skipped[i].iteration);
        e2e__wr_bytes(&w, k->skipped[i].mk, 32);
    }
    if (!w.p)
        return PL_ENOMEM;
    *out = w.p;
    *outlen = w.len;
    return 0;
}

int e2e_sender_key_deserialize(const uint8_t *buf, size_t len, struct e2e_sender_key **out)
{
    struct e2e__rd r = {.p = buf, .len = len};
    uint8_t magic[3];
    struct e2e_sender_key *k;
    if (!buf || !out)
        return PL_EINVAL;
    e2e__rd_bytes(&r, magic, 3);
    if (r.bad || memcmp(magic, SK_MAGIC, 3) != 0)
        return PL_EMALFORMED;
    if (e2e__rd_u8(&r) != SK_FORMAT)
        return E2E_EVERSION;
    if (!(k = sk_alloc()))
        return PL_ENOMEM;
    k->conv_id = (uint64_t)e2e__rd_u32(&r) << 32;
    k->conv_id |= e2e__rd_u32(&r);
    k->device_id = (uint64_t)e2e__rd_u32(&r) << 32;
    k->device_id |= e2e__rd_u32(&r);
    k->key_id = e2e__rd_u32(&r);
    k->iteration = e2e__rd_u32(&r);
    e2e__rd_bytes(&r, k->ck, 32);
    e2e__rd_bytes(&r, k->sign_pk, 32);
    k->own = e2e__rd_u8(&r);
    if (k->own > 1)
        r.bad = 1;
    if (k->own)
        e2e__rd_bytes(&r, k->sign_sk, 64);
    uint32_t n = e2e__rd_u32(&r);
    if (n > E2E_MAX_SKIP)
        r.bad = 1;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        k->skipped[i].iteration = e2e__rd_u32(&r);
        e2e__rd_bytes(&r, k->skipped[i].mk, 32);
    }
    k->nskipped = r.bad ? 0 : n;
    if (r.bad || r.off != r.len) {
        e2e_sender_key_free(k);
        return PL_EMALFORMED;
    }
    *out = k;
    return 0;
}
