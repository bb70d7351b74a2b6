/* SPDX-License-Identifier: MIT */
/* Parley - X3DH and Double Ratchet: behaviour and property tests.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_testutil.h"

#include <stdio.h>
#include <stdlib.h>

struct msg {
    uint8_t *m;
    size_t len;
    char text[48];
};

static void send_one(struct e2e_session *s, struct msg *out, const char *who, uint32_t i)
{
    enum e2e_msg_type t;
    snprintf(out->text, sizeof(out->text), "%s message %u", who, i);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(s, (const uint8_t *)out->text, strlen(out->text), &out->m,
                                         &out->len, &t),
                     0);
}

PLTEST(e2e_session_both_ways_with_and_without_opk)
{
    for (int opk = 0; opk <= 1; opk++) {
        struct tdev a, b;
        struct e2e_session *sa, *sb;
        struct msg m;
        tdev_init(&a, 1, 100);
        tdev_init(&b, 2, 200);
        session_pair(&a, &b, opk, &sa, &sb);
        PL_ASSERT_MEM_EQ(e2e_session_peer_identity(sa), e2e_identity_public(b.id), 32);
        PL_ASSERT_MEM_EQ(e2e_session_peer_identity(sb), e2e_identity_public(a.id), 32);
        for (uint32_t i = 0; i < 6; i++) {
            int from_a = i % 3 != 2;
            send_one(from_a ? sa : sb, &m, from_a ? "alice" : "bob", i);
            expect_plain(from_a ? sb : sa, m.m, m.len, m.text);
            e2e_buf_free(m.m, m.len);
        }
        e2e_session_free(sa);
        e2e_session_free(sb);
        tdev_deinit(&a);
        tdev_deinit(&b);
    }
}

PLTEST(e2e_session_prekey_until_reply)
{
    struct tdev a, b;
    struct e2e_session *sa, *sb;
    struct msg m;
    enum e2e_msg_type t;
    uint8_t *x;
    size_t xl;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    session_pair(&a, &b, 1, &sa, &sb);
    /* Alice has no reply yet: still prekey messages, which Bob's existing
     * session accepts. */
    PL_ASSERT_INT_EQ(e2e_session_encrypt(sa, (const uint8_t *)"x", 1, &x, &xl, &t), 0);
    PL_ASSERT_INT_EQ(t, E2E_MSG_PREKEY);
    PL_ASSERT_INT_EQ(e2e_msg_type_of(x, xl), E2E_MSG_PREKEY);
    expect_plain(sb, x, xl, "x");
    e2e_buf_free(x, xl);
    send_one(sb, &m, "bob", 0);
    PL_ASSERT_INT_EQ(e2e_msg_type_of(m.m, m.len), E2E_MSG_RATCHET);
    expect_plain(sa, m.m, m.len, m.text);
    e2e_buf_free(m.m, m.len);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(sa, (const uint8_t *)"y", 1, &x, &xl, &t), 0);
    PL_ASSERT_INT_EQ(t, E2E_MSG_RATCHET);
    expect_plain(sb, x, xl, "y");
    e2e_buf_free(x, xl);
    e2e_session_free(sa);
    e2e_session_free(sb);
    tdev_deinit(&a);
    tdev_deinit(&b);
}

PLTEST(e2e_session_bad_signature_and_wrong_prekeys)
{
    struct tdev a, b, c;
    struct e2e_bundle bu;
    struct e2e_session *sa, *sb = NULL, *sc = NULL;
    uint8_t *m, *pt;
    size_t mlen, ptlen;
    enum e2e_msg_type t;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    tdev_init(&c, 2, 200);
    tdev_bundle(&b, 1, &bu);
    bu.spk_sig[5] ^= 1;
    PL_ASSERT_INT_EQ(e2e_session_initiate(a.id, &bu, &sa), E2E_EBADSIG);
    tdev_bundle(&b, 1, &bu);
    memcpy(bu.spk_pub, c.spk.key.pub, 32); /* a swapped prekey: signature no longer fits */
    PL_ASSERT_INT_EQ(e2e_session_initiate(a.id, &bu, &sa), E2E_EBADSIG);
    tdev_bundle(&b, 1, &bu);
    PL_ASSERT_INT_EQ(e2e_session_initiate(a.id, &bu, &sa), 0);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(sa, (const uint8_t *)"hi", 2, &m, &mlen, &t), 0);
    /* Without the one-time prekey it names, or with another device's keys
     * under the same ids, Bob gets nothing. */
    PL_ASSERT_INT_EQ(e2e_session_respond(b.id, &b.spk.key, NULL, m, mlen, &sb, &pt, &ptlen),
                     PL_EINVAL);
    PL_ASSERT_INT_EQ(e2e_session_respond(c.id, &c.spk.key, &c.opk, m, mlen, &sc, &pt, &ptlen),
                     E2E_EAUTH);
    PL_ASSERT(sb == NULL && sc == NULL);
    e2e_buf_free(m, mlen);
    e2e_session_free(sa);
    tdev_deinit(&a);
    tdev_deinit(&b);
    tdev_deinit(&c);
}

PLTEST(e2e_session_prekey_of_another_session)
{
    struct tdev a, b;
    struct e2e_bundle bu;
    struct e2e_session *sa, *sb, *sa2, *sb2;
    uint8_t *m, *pt;
    size_t mlen, ptlen;
    enum e2e_msg_type t;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    session_pair(&a, &b, 0, &sa, &sb);
    /* Alice reinstalled and starts over: Bob's old session refuses it with
     * a code that tells him to respond anew. */
    tdev_bundle(&b, 0, &bu);
    PL_ASSERT_INT_EQ(e2e_session_initiate(a.id, &bu, &sa2), 0);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(sa2, (const uint8_t *)"again", 5, &m, &mlen, &t), 0);
    PL_ASSERT_INT_EQ(e2e_session_decrypt(sb, m, mlen, &pt, &ptlen), E2E_ENEWSESSION);
    PL_ASSERT_INT_EQ(e2e_session_respond(b.id, &b.spk.key, NULL, m, mlen, &sb2, &pt, &ptlen), 0);
    PL_ASSERT_MEM_EQ(pt, "again", 5);
    e2e_buf_free(pt, ptlen);
    e2e_buf_free(m, mlen);
    e2e_session_free(sa);
    e2e_session_free(sb);
    e2e_session_free(sa2);
    e2e_session_free(sb2);
    tdev_deinit(&a);
    tdev_deinit(&b);
}

/* Property: in rounds, one side sends a burst; the burst arrives shuffled
 * with some messages dropped for good. Every delivered message decrypts,
 * as long as the dropped ones stay within the skipped-key bound. Every
 * delivered message is also replayed once, and a tampered copy sent
 * first: neither may decrypt, and neither may disturb the session. */
PLTEST(e2e_session_property_orders_drops_replays_tamper)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int run = 0; run < 8; run++) {
        struct tdev a, b;
        struct e2e_session *s[2];
        uint32_t dropped = 0;
        tdev_init(&a, 1, 100);
        tdev_init(&b, 2, 200);
        session_pair(&a, &b, run & 1, &s[0], &s[1]);
        for (int round = 0; round < 40; round++) {
            int from = (int)prng_below(&seed, 2);
            uint32_t n = 1 + prng_below(&seed, 12), order[12];
            struct msg ms[12];
            for (uint32_t i = 0; i < n; i++) {
                send_one(s[from], &ms[i], from ? "bob" : "alice", i);
                order[i] = i;
            }
            prng_shuffle(&seed, order, n);
            for (uint32_t k = 0; k < n; k++) {
                struct msg *m = &ms[order[k]];
                uint8_t *pt;
                size_t ptlen;
                if (dropped < 400 && prng_below(&seed, 5) == 0) {
                    dropped++;
                    continue;
                }
                uint8_t *bad = malloc(m->len);
                memcpy(bad, m->m, m->len);
                bad[prng_below(&seed, (uint32_t)m->len)] ^= (uint8_t)(1u << prng_below(&seed, 8));
                PL_ASSERT(e2e_session_decrypt(s[!from], bad, m->len, &pt, &ptlen) < 0);
                free(bad);
                expect_plain(s[!from], m->m, m->len, m->text);
                PL_ASSERT(e2e_session_decrypt(s[!from], m->m, m->len, &pt, &ptlen) < 0);
            }
            for (uint32_t i = 0; i < n; i++)
                e2e_buf_free(ms[i].m, ms[i].len);
        }
        e2e_session_free(s[0]);
        e2e_session_free(s[1]);
        tdev_deinit(&a);
        tdev_deinit(&b);
    }
}

PLTEST(e2e_session_replay_same_chain_is_ereplay)
{
    struct tdev a, b;
    struct e2e_session *sa, *sb;
    struct msg m0, m1;
    uint8_t *pt;
    size_t ptlen;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    session_pair(&a, &b, 1, &sa, &sb);
    send_one(sb, &m0, "bob", 0);
    send_one(sb, &m1, "bob", 1);
    expect_plain(sa, m0.m, m0.len, m0.text);
    expect_plain(sa, m1.m, m1.len, m1.text);
    PL_ASSERT_INT_EQ(e2e_session_decrypt(sa, m0.m, m0.len, &pt, &ptlen), E2E_EREPLAY);
    PL_ASSERT_INT_EQ(e2e_session_decrypt(sa, m1.m, m1.len, &pt, &ptlen), E2E_EREPLAY);
    e2e_buf_free(m0.m, m0.len);
    e2e_buf_free(m1.m, m1.len);
    e2e_session_free(sa);
    e2e_session_free(sb);
    tdev_deinit(&a);
    tdev_deinit(&b);
}

/* The bound: a message that needs more than E2E_MAX_SKIP skipped keys is
 * refused; exactly E2E_MAX_SKIP is fine, and the skipped ones still open. */
PLTEST(e2e_session_skipped_key_bound)
{
    struct tdev a, b;
    struct e2e_session *sa, *sb;
    struct msg *ms = calloc(E2E_MAX_SKIP + 2, sizeof(*ms));
    uint8_t *pt;
    size_t ptlen;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    session_pair(&a, &b, 1, &sa, &sb);
    for (uint32_t i = 0; i < E2E_MAX_SKIP + 2; i++)
        send_one(sb, &ms[i], "bob", i);
    PL_ASSERT_INT_EQ(
        e2e_session_decrypt(sa, ms[E2E_MAX_SKIP + 1].m, ms[E2E_MAX_SKIP + 1].len, &pt, &ptlen),
        E2E_ETOOMANYSKIP);
    expect_plain(sa, ms[E2E_MAX_SKIP].m, ms[E2E_MAX_SKIP].len, ms[E2E_MAX_SKIP].text);
    expect_plain(sa, ms[E2E_MAX_SKIP + 1].m, ms[E2E_MAX_SKIP + 1].len, ms[E2E_MAX_SKIP + 1].text);
    for (uint32_t i = 0; i < E2E_MAX_SKIP; i += 97)
        expect_plain(sa, ms[i].m, ms[i].len, ms[i].text);
    for (uint32_t i = 0; i < E2E_MAX_SKIP + 2; i++)
        e2e_buf_free(ms[i].m, ms[i].len);
    free(ms);
    e2e_session_free(sa);
    e2e_session_free(sb);
    tdev_deinit(&a);
    tdev_deinit(&b);
}

PLTEST(e2e_session_serialize_round_trip)
{
    struct tdev a, b;
    struct e2e_session *sa, *sb, *sa2;
    struct msg m[3];
    uint8_t *buf, *pt;
    size_t len, ptlen;
    tdev_init(&a, 1, 100);
    tdev_init(&b, 2, 200);
    session_pair(&a, &b, 1, &sa, &sb);
    for (uint32_t i = 0; i < 3; i++)
        send_one(sb, &m[i], "bob", i);
    expect_plain(sa, m[2].m, m[2].len, m[2].text); /* two skipped keys to persist */
    PL_ASSERT_INT_EQ(e2e_session_serialize(sa, &buf, &len), 0);
    PL_ASSERT_INT_EQ(e2e_session_deserialize(buf, len, &sa2), 0);
    expect_plain(sa2, m[0].m, m[0].len, m[0].text);
    expect_plain(sa2, m[1].m, m[1].len, m[1].text);
    /* Damaged or foreign state is refused, never half-loaded. */
    struct e2e_session *bad = NULL;
    PL_ASSERT_INT_EQ(e2e_session_deserialize(buf, len - 1, &bad), PL_EMALFORMED);
    buf[3] = 9;
    PL_ASSERT_INT_EQ(e2e_session_deserialize(buf, len, &bad), E2E_EVERSION);
    buf[0] = 'X';
    PL_ASSERT_INT_EQ(e2e_session_deserialize(buf, len, &bad), PL_EMALFORMED);
    PL_ASSERT(bad == NULL);
    PL_ASSERT_INT_EQ(e2e_session_decrypt(sa2, m[1].m, m[1].len, &pt, &ptlen) < 0, 1);
    e2e_buf_free(buf, len);
    for (int i = 0; i < 3; i++)
        e2e_buf_free(m[i].m, m[i].len);
    e2e_session_free(sa);
    e2e_session_free(sa2);
    e2e_session_free(sb);
    tdev_deinit(&a);
    tdev_deinit(&b);
}

/* Multi-device: one plaintext, one ciphertext per device (Bob's two and
 * Alice's own second device), each readable only by its device. */
PLTEST(e2e_session_fan_out_per_device)
{
    struct tdev a1, a2, b1, b2;
    struct tdev *peers[3] = {&b1, &b2, &a2};
    struct e2e_session *out[3], *in[3];
    struct msg m[3];
    uint8_t *pt;
    size_t ptlen;
    tdev_init(&a1, 1, 10);
    tdev_init(&a2, 2, 20);
    tdev_init(&b1, 3, 30);
    tdev_init(&b2, 4, 40);
    for (int i = 0; i < 3; i++) {
        session_pair(&a1, peers[i], 1, &out[i], &in[i]);
        send_one(out[i], &m[i], "alice", 7);
    }
    for (int i = 0; i < 3; i++) {
        expect_plain(in[i], m[i].m, m[i].len, "alice message 7");
        PL_ASSERT(e2e_session_decrypt(in[(i + 1) % 3], m[i].m, m[i].len, &pt, &ptlen) < 0);
    }
    for (int i = 0; i < 3; i++) {
        e2e_buf_free(m[i].m, m[i].len);
        e2e_session_free(out[i]);
        e2e_session_free(in[i]);
    }
    tdev_deinit(&a1);
    tdev_deinit(&a2);
    tdev_deinit(&b1);
    tdev_deinit(&b2);
}
