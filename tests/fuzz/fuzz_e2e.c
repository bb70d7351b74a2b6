/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: every parser of the e2e wire and state formats        */
/* (crypto/e2e): envelopes, prekey messages, sender-key messages and    */
/* distributions, serialized sessions and sender keys.                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"

#include "crypto/e2e.h"

/* The group and the sending device the sender key is bound to. */
#define CONV 42
#define DEVICE 7

/* Fixed parties, made once: Alice has a session with Bob (Bob answered,
 * so both ratchets are running), and Bob holds Alice's group sender key.
 * Decryption is atomic, so the fuzzed inputs never change them. */
static struct {
    struct e2e_identity *alice, *bob;
    struct e2e_signed_prekey spk;
    struct e2e_prekey opk;
    struct e2e_session *a2b, *b2a;
    struct e2e_sender_key *sk_recv;
} st;

static void init_once(void)
{
    if (st.alice)
        return;
    uint8_t seed_a[32] = {1}, seed_b[32] = {2};
    if (e2e_init() < 0 || e2e_identity_from_seed(seed_a, &st.alice) < 0 ||
        e2e_identity_from_seed(seed_b, &st.bob) < 0 ||
        e2e_signed_prekey_generate(st.bob, 7, &st.spk) < 0 || e2e_prekey_generate(9, &st.opk) < 0)
        abort();
    struct e2e_bundle b = {.spk_id = 7, .has_opk = 1, .opk_id = 9};
    memcpy(b.identity_key, e2e_identity_public(st.bob), 32);
    memcpy(b.spk_pub, st.spk.key.pub, 32);
    memcpy(b.spk_sig, st.spk.sig, 64);
    memcpy(b.opk_pub, st.opk.pub, 32);
    uint8_t *m = NULL, *pt = NULL;
    size_t mlen = 0, ptlen = 0;
    enum e2e_msg_type type;
    if (e2e_session_initiate(st.alice, &b, &st.a2b) < 0 ||
        e2e_session_encrypt(st.a2b, (const uint8_t *)"hi", 2, &m, &mlen, &type) < 0 ||
        e2e_session_respond(st.bob, &st.spk.key, &st.opk, m, mlen, &st.b2a, &pt, &ptlen) < 0)
        abort();
    e2e_buf_free(m, mlen);
    e2e_buf_free(pt, ptlen);
    struct e2e_sender_key *sk;
    uint8_t skdm[E2E_SKDM_BYTES];
    if (e2e_sender_key_new(CONV, DEVICE, &sk) < 0 || e2e_sender_key_distribution(sk, skdm) < 0 ||
        e2e_sender_key_from_distribution(skdm, sizeof(skdm), CONV, DEVICE, &st.sk_recv) < 0)
        abort();
    e2e_sender_key_free(sk);
}

static void take_pt(int rc, uint8_t *pt, size_t n)
{
    if (rc == 0)
        e2e_buf_free(pt, n);
}

/* Input: the first byte picks the parser; the rest is its input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    (void)e2e_msg_type_of(p, n);
    switch (data[0] % 8) {
    case 0: {
        struct e2e_prekey_info info;
        (void)e2e_prekey_msg_parse(p, n, &info);
        break;
    }
    case 1: /* a message of the running session */
        take_pt(e2e_session_decrypt(st.b2a, p, n, &pt, &ptlen), pt, ptlen);
        break;
    case 2: { /* a prekey message that would start a new session */
        struct e2e_session *s = NULL;
        int rc = e2e_session_respond(st.bob, &st.spk.key, &st.opk, p, n, &s, &pt, &ptlen);
        if (rc == 0) {
            e2e_session_free(s);
            e2e_buf_free(pt, ptlen);
        }
        break;
    }
    case 3: {
        struct e2e_session *s = NULL;
        if (e2e_session_deserialize(p, n, &s) == 0)
            e2e_session_free(s);
        break;
    }
    case 4: {
        struct e2e_sender_key *k = NULL;
        if (e2e_sender_key_from_distribution(p, n, CONV, DEVICE, &k) == 0)
            e2e_sender_key_free(k);
        break;
    }
    case 5:
        take_pt(e2e_sender_key_decrypt(st.sk_recv, CONV, DEVICE, p, n, &pt, &ptlen), pt, ptlen);
        break;
    case 6: {
        struct e2e_sender_key *k = NULL;
        if (e2e_sender_key_deserialize(p, n, &k) == 0)
            e2e_sender_key_free(k);
        break;
    }
    default: take_pt(e2e_session_decrypt(st.a2b, p, n, &pt, &ptlen), pt, ptlen); break;
    }
    return 0;
}
