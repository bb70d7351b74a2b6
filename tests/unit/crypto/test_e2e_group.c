/* SPDX-License-Identifier: MIT */
/* Parley - sender keys: groups, rotation on removal, properties.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_testutil.h"

#include <stdio.h>
#include <stdlib.h>

static void group_plain(struct e2e_sender_key *k, const uint8_t *m, size_t len, const char *want)
{
    uint8_t *pt;
    size_t ptlen;
    int rc = e2e_sender_key_decrypt(k, G_CONV, G_DEV, m, len, &pt, &ptlen);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "group decrypt of \"%s\": %s", want, e2e_strerror(rc));
    PL_ASSERT_INT_EQ(ptlen, strlen(want));
    PL_ASSERT_MEM_EQ(pt, want, ptlen);
    e2e_buf_free(pt, ptlen);
}

/* Carries a distribution message from one device to another through a
 * pairwise session, as the CLI does, and returns the receiving state. */
static struct e2e_sender_key *distribute(struct e2e_sender_key *own, struct e2e_session *out,
                                         struct e2e_session *in)
{
    uint8_t skdm[E2E_SKDM_BYTES], *m, *pt;
    size_t mlen, ptlen;
    enum e2e_msg_type t;
    struct e2e_sender_key *k;
    PL_ASSERT_INT_EQ(e2e_sender_key_distribution(own, skdm), 0);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(out, skdm, sizeof(skdm), &m, &mlen, &t), 0);
    PL_ASSERT_INT_EQ(e2e_session_decrypt(in, m, mlen, &pt, &ptlen), 0);
    PL_ASSERT_INT_EQ(e2e_msg_type_of(pt, ptlen), E2E_MSG_SKDM);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(pt, ptlen, G_CONV, G_DEV, &k), 0);
    e2e_buf_free(pt, ptlen);
    e2e_buf_free(m, mlen);
    return k;
}

/* A group of four: Alice's sender key reaches B, C and D through pairwise
 * sessions; all read her messages. D is removed: Alice rotates and gives
 * the new key to B and C only. D reads nothing that follows, B and C do. */
PLTEST(e2e_group_removed_member_cannot_read)
{
    struct tdev dev[4];
    struct e2e_session *out[4], *in[4];
    struct e2e_sender_key *own, *recv[4], *own2, *recv2[4] = {0};
    uint8_t *m, *pt;
    size_t mlen, ptlen;
    for (int i = 0; i < 4; i++)
        tdev_init(&dev[i], (uint32_t)i + 1, (uint32_t)i + 100);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own), 0);
    for (int i = 1; i < 4; i++) {
        session_pair(&dev[0], &dev[i], 1, &out[i], &in[i]);
        recv[i] = distribute(own, out[i], in[i]);
        PL_ASSERT_INT_EQ(e2e_sender_key_id(recv[i]), e2e_sender_key_id(own));
    }
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(own, (const uint8_t *)"to all four", 11, &m, &mlen), 0);
    for (int i = 1; i < 4; i++)
        group_plain(recv[i], m, mlen, "to all four");
    e2e_buf_free(m, mlen);

    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own2), 0);
    PL_ASSERT(e2e_sender_key_id(own2) != e2e_sender_key_id(own));
    for (int i = 1; i < 3; i++)
        recv2[i] = distribute(own2, out[i], in[i]);
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(own2, (const uint8_t *)"without d", 9, &m, &mlen), 0);
    for (int i = 1; i < 3; i++)
        group_plain(recv2[i], m, mlen, "without d");
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(recv[3], G_CONV, G_DEV, m, mlen, &pt, &ptlen),
                     E2E_ENOKEY);
    /* Even told the new key id, D's old chain and signing key fail. */
    uint8_t *forged = malloc(mlen);
    memcpy(forged, m, mlen);
    uint32_t old = e2e_sender_key_id(own);
    forged[1] = (uint8_t)(old >> 24);
    forged[2] = (uint8_t)(old >> 16);
    forged[3] = (uint8_t)(old >> 8);
    forged[4] = (uint8_t)old;
    PL_ASSERT(e2e_sender_key_decrypt(recv[3], G_CONV, G_DEV, forged, mlen, &pt, &ptlen) < 0);
    free(forged);
    e2e_buf_free(m, mlen);

    e2e_sender_key_free(own);
    e2e_sender_key_free(own2);
    for (int i = 1; i < 4; i++) {
        e2e_sender_key_free(recv[i]);
        e2e_sender_key_free(recv2[i]);
        e2e_session_free(out[i]);
        e2e_session_free(in[i]);
    }
    for (int i = 0; i < 4; i++)
        tdev_deinit(&dev[i]);
}

/* A member holds the chain key too, but not the sender's signing key: it
 * cannot pass its own message off as the sender's. */
PLTEST(e2e_group_member_cannot_forge)
{
    struct e2e_sender_key *own, *member, *mallory;
    uint8_t skdm[E2E_SKDM_BYTES], *m, *pt;
    size_t mlen, ptlen;
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_distribution(own, skdm), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV, G_DEV, &member),
                     0);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &mallory), 0);
    /* A receiving state cannot encrypt. */
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(member, (const uint8_t *)"x", 1, &m, &mlen), PL_EINVAL);
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(mallory, (const uint8_t *)"fake", 4, &m, &mlen), 0);
    uint32_t id = e2e_sender_key_id(own);
    m[1] = (uint8_t)(id >> 24);
    m[2] = (uint8_t)(id >> 16);
    m[3] = (uint8_t)(id >> 8);
    m[4] = (uint8_t)id;
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV, G_DEV, m, mlen, &pt, &ptlen),
                     E2E_EBADSIG);
    e2e_buf_free(m, mlen);
    e2e_sender_key_free(own);
    e2e_sender_key_free(member);
    e2e_sender_key_free(mallory);
}

/* Property: bursts shuffled with drops always decrypt; replays and
 * tampered copies never do and leave the state as it was. */
PLTEST(e2e_group_property_orders_drops_replays_tamper)
{
    uint64_t seed = 0xd1b54a32d192ed03ULL;
    struct e2e_sender_key *own, *member;
    uint8_t skdm[E2E_SKDM_BYTES];
    uint32_t dropped = 0;
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_distribution(own, skdm), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV, G_DEV, &member),
                     0);
    for (int round = 0; round < 150; round++) {
        uint32_t n = 1 + prng_below(&seed, 16), order[16];
        uint8_t *m[16], *pt;
        size_t mlen[16], ptlen;
        char text[16][32];
        for (uint32_t i = 0; i < n; i++) {
            snprintf(text[i], sizeof(text[i]), "round %d msg %u", round, i);
            PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(own, (const uint8_t *)text[i], strlen(text[i]),
                                                    &m[i], &mlen[i]),
                             0);
            order[i] = i;
        }
        prng_shuffle(&seed, order, n);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = order[k];
            if (dropped < 500 && prng_below(&seed, 6) == 0) {
                dropped++;
                continue;
            }
            uint8_t *bad = malloc(mlen[i]);
            memcpy(bad, m[i], mlen[i]);
            bad[prng_below(&seed, (uint32_t)mlen[i])] ^= (uint8_t)(1u << prng_below(&seed, 8));
            PL_ASSERT(e2e_sender_key_decrypt(member, G_CONV, G_DEV, bad, mlen[i], &pt, &ptlen) < 0);
            free(bad);
            group_plain(member, m[i], mlen[i], text[i]);
            PL_ASSERT(e2e_sender_key_decrypt(member, G_CONV, G_DEV, m[i], mlen[i], &pt, &ptlen) <
                      0);
        }
        for (uint32_t i = 0; i < n; i++)
            e2e_buf_free(m[i], mlen[i]);
    }
    e2e_sender_key_free(own);
    e2e_sender_key_free(member);
}

PLTEST(e2e_group_skip_bound_and_serialize)
{
    struct e2e_sender_key *own, *member, *copy;
    uint8_t skdm[E2E_SKDM_BYTES], *m[E2E_MAX_SKIP + 2], *buf, *pt;
    size_t mlen[E2E_MAX_SKIP + 2], len, ptlen;
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_distribution(own, skdm), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV, G_DEV, &member),
                     0);
    for (int i = 0; i < E2E_MAX_SKIP + 2; i++)
        PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(own, (const uint8_t *)"m", 1, &m[i], &mlen[i]), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV, G_DEV, m[E2E_MAX_SKIP + 1],
                                            mlen[E2E_MAX_SKIP + 1], &pt, &ptlen),
                     E2E_ETOOMANYSKIP);
    group_plain(member, m[E2E_MAX_SKIP], mlen[E2E_MAX_SKIP], "m");
    PL_ASSERT_INT_EQ(e2e_sender_key_serialize(member, &buf, &len), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_deserialize(buf, len, &copy), 0);
    group_plain(copy, m[3], mlen[3], "m");
    group_plain(copy, m[E2E_MAX_SKIP + 1], mlen[E2E_MAX_SKIP + 1], "m");
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(copy, G_CONV, G_DEV, m[3], mlen[3], &pt, &ptlen),
                     E2E_EREPLAY);
    e2e_buf_free(buf, len);
    /* Our own key survives a round trip too and keeps encrypting. */
    PL_ASSERT_INT_EQ(e2e_sender_key_serialize(own, &buf, &len), 0);
    e2e_sender_key_free(copy);
    PL_ASSERT_INT_EQ(e2e_sender_key_deserialize(buf, len, &copy), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_deserialize(buf, len - 1, &own), PL_EMALFORMED);
    e2e_buf_free(buf, len);
    e2e_buf_free(m[0], mlen[0]);
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(copy, (const uint8_t *)"next", 4, &m[0], &mlen[0]), 0);
    group_plain(member, m[0], mlen[0], "next");
    for (int i = 0; i < E2E_MAX_SKIP + 2; i++)
        e2e_buf_free(m[i], mlen[i]);
    e2e_sender_key_free(own);
    e2e_sender_key_free(member);
    e2e_sender_key_free(copy);
}

/* Version 2 binds a sender key to its conversation and sending device: a
 * distribution replayed into another conversation or credited to another
 * device is refused, a group ciphertext moved to another conversation
 * fails even with the right chain and signing keys, and version-1 bytes
 * are refused as such. */
PLTEST(e2e_group_bound_to_conversation_and_device)
{
    struct e2e_sender_key *own, *member, *k, *moved;
    uint8_t skdm[E2E_SKDM_BYTES], *m, *pt, *buf;
    size_t mlen, ptlen, len;
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_new(G_CONV, G_DEV, &own), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_distribution(own, skdm), 0);
    PL_ASSERT_INT_EQ(skdm[0], 0x24);
    k = NULL;
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV + 1, G_DEV, &k),
                     E2E_ECONTEXT);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV, G_DEV - 1, &k),
                     E2E_ECONTEXT);
    PL_ASSERT(k == NULL);
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(skdm, sizeof(skdm), G_CONV, G_DEV, &member),
                     0);
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(own, (const uint8_t *)"hi", 2, &m, &mlen), 0);
    PL_ASSERT_INT_EQ(m[0], 0x23);
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV + 1, G_DEV, m, mlen, &pt, &ptlen),
                     E2E_ECONTEXT);
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV, G_DEV + 1, m, mlen, &pt, &ptlen),
                     E2E_ECONTEXT);
    e2e_buf_free(m, mlen);

    /* The same chain and signing key relabelled for another conversation
     * (the serialized state holds conv at bytes 4..11; flip one bit): its messages carry
     * another AD, so the member for G_CONV cannot be fooled. */
    PL_ASSERT_INT_EQ(e2e_sender_key_serialize(own, &buf, &len), 0);
    buf[11] ^= 1;
    PL_ASSERT_INT_EQ(e2e_sender_key_deserialize(buf, len, &moved), 0);
    e2e_buf_free(buf, len);
    PL_ASSERT_INT_EQ(e2e_sender_key_encrypt(moved, (const uint8_t *)"moved", 5, &m, &mlen), 0);
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV, G_DEV, m, mlen, &pt, &ptlen),
                     E2E_EBADSIG);
    /* A version-1 first byte is refused before anything else. */
    m[0] = 0x13;
    PL_ASSERT_INT_EQ(e2e_sender_key_decrypt(member, G_CONV, G_DEV, m, mlen, &pt, &ptlen),
                     E2E_EVERSION);
    e2e_buf_free(m, mlen);
    uint8_t v1[73] = {0x14};
    PL_ASSERT_INT_EQ(e2e_sender_key_from_distribution(v1, sizeof(v1), G_CONV, G_DEV, &k),
                     E2E_EVERSION);
    PL_ASSERT_INT_EQ(e2e_msg_type_of((const uint8_t *)"\x12", 1), E2E_EVERSION);
    PL_ASSERT_INT_EQ(e2e_msg_type_of((const uint8_t *)"\x22", 1), E2E_MSG_RATCHET);
    e2e_sender_key_free(own);
    e2e_sender_key_free(member);
    e2e_sender_key_free(moved);
}
