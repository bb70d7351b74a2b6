/* SPDX-License-Identifier: MIT */
/* Parley - the test-vector runners: inputs -> outputs per composition. */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_vec.h"

#include "crypto/e2e/e2e_int.h"

#include <stdlib.h>
#include <string.h>

#define OK(v, call) VEC_CHECK_TRUE((v), (call) == 0)

static void expect_input_len(struct vec *v, const char *name, size_t want)
{
    size_t n;
    (void)vec_in(v, name, &n);
    if (n != want)
        vec_fail(v, "input %s: %zu bytes, want %zu", name, n, want);
}

void vec_run_hkdf(struct vec *v)
{
    size_t ns, ni;
    const uint8_t *salt = vec_in(v, "salt", &ns), *ikm = vec_in(v, "ikm", &ni);
    uint32_t len = vec_in_get_u32(v, "length");
    VEC_CHECK_TRUE(v, len <= 255 * 32);
    uint8_t *okm = malloc(len);
    e2e__hkdf(salt, ns, ikm, ni, vec_in_str(v, "info_text"), okm, len);
    vec_out(v, "okm", okm, len);
    free(okm);
}

/* The symmetric ratchet, message keys and the root-key KDF. */
void vec_run_chain(struct vec *v)
{
    uint8_t ck[32], mk[32], key[32], nonce[24], rk[32], ck2[32];
    char name[32];
    expect_input_len(v, "chain_key", 32);
    memcpy(ck, vec_in(v, "chain_key", NULL), 32);
    for (int i = 0; i < 3; i++) {
        e2e__kdf_ck(ck, mk);
        snprintf(name, sizeof(name), "message_key_%d", i);
        vec_out(v, name, mk, 32);
        snprintf(name, sizeof(name), "chain_key_%d", i + 1);
        vec_out(v, name, ck, 32);
        e2e__msg_keys(mk, E2E_LABEL_MSGKEYS, key, nonce);
        snprintf(name, sizeof(name), "aead_key_%d", i);
        vec_out(v, name, key, 32);
        snprintf(name, sizeof(name), "aead_nonce_%d", i);
        vec_out(v, name, nonce, 24);
        e2e__msg_keys(mk, E2E_LABEL_SENDERKEY, key, nonce);
        snprintf(name, sizeof(name), "sender_aead_key_%d", i);
        vec_out(v, name, key, 32);
        snprintf(name, sizeof(name), "sender_aead_nonce_%d", i);
        vec_out(v, name, nonce, 24);
    }
    expect_input_len(v, "root_key", 32);
    expect_input_len(v, "dh_output", 32);
    memcpy(rk, vec_in(v, "root_key", NULL), 32);
    e2e__kdf_rk(rk, vec_in(v, "dh_output", NULL), ck2);
    vec_out(v, "next_root_key", rk, 32);
    vec_out(v, "next_chain_key", ck2, 32);
}

/* ---- X3DH and the ratchet ---------------------------------------------------- */

struct pair {
    struct e2e_identity *alice, *bob;
    struct e2e_signed_prekey spk;
    struct e2e_prekey opk;
    int has_opk;
    struct e2e_session *a, *b;
};

static void pair_free(struct pair *p)
{
    e2e_identity_free(p->alice);
    e2e_identity_free(p->bob);
    e2e_session_free(p->a);
    e2e_session_free(p->b);
}

/* Alice starts a session with Bob's bundle and sends first_text. */
static void pair_start(struct vec *v, struct pair *p)
{
    struct e2e_bundle bu = {0};
    uint8_t *m, *pt, sk[32];
    size_t mlen, ptlen;
    enum e2e_msg_type type;
    const char *first = vec_in_str(v, "first_plaintext_text");

    expect_input_len(v, "alice_identity_seed", 32);
    expect_input_len(v, "bob_identity_seed", 32);
    OK(v, e2e_identity_from_seed(vec_in(v, "alice_identity_seed", NULL), &p->alice));
    OK(v, e2e_identity_from_seed(vec_in(v, "bob_identity_seed", NULL), &p->bob));
    vec_out(v, "alice_identity_public", e2e_identity_public(p->alice), 32);
    vec_out(v, "bob_identity_public", e2e_identity_public(p->bob), 32);

    vec_step_begin(v, "bob_signed_prekey_random");
    OK(v, e2e_signed_prekey_generate(p->bob, vec_in_get_u32(v, "bob_signed_prekey_id"), &p->spk));
    vec_step_end(v, "bob_signed_prekey_random");
    vec_out(v, "bob_signed_prekey_public", p->spk.key.pub, 32);
    vec_out(v, "bob_signed_prekey_signature", p->spk.sig, 64);
    p->has_opk = vec_has_in(v, "bob_one_time_prekey_id");
    if (p->has_opk) {
        vec_step_begin(v, "bob_one_time_prekey_random");
        OK(v, e2e_prekey_generate(vec_in_get_u32(v, "bob_one_time_prekey_id"), &p->opk));
        vec_step_end(v, "bob_one_time_prekey_random");
        vec_out(v, "bob_one_time_prekey_public", p->opk.pub, 32);
    }

    memcpy(bu.identity_key, e2e_identity_public(p->bob), 32);
    bu.spk_id = p->spk.key.id;
    memcpy(bu.spk_pub, p->spk.key.pub, 32);
    memcpy(bu.spk_sig, p->spk.sig, 64);
    bu.has_opk = p->has_opk;
    bu.opk_id = p->opk.id;
    memcpy(bu.opk_pub, p->opk.pub, 32);

    /* Draws: the ephemeral key EK_A, then Alice's first ratchet key. */
    vec_step_begin(v, "alice_initiate_random");
    OK(v, e2e_session_initiate(p->alice, &bu, &p->a));
    vec_step_end(v, "alice_initiate_random");
    expect_input_len(v, "alice_initiate_random", 64);
    OK(v, e2e__x3dh_initiator_secret(p->alice, &bu, vec_in(v, "alice_initiate_random", NULL), sk));
    vec_out(v, "x3dh_shared_secret", sk, 32);
    vec_out(v, "x3dh_associated_data", p->a->ad, 64);
    vec_out(v, "alice_root_key", p->a->rk, 32);
    vec_out(v, "alice_sending_chain_key", p->a->cks, 32);

    OK(v, e2e_session_encrypt(p->a, (const uint8_t *)first, strlen(first), &m, &mlen, &type));
    VEC_CHECK_TRUE(v, type == E2E_MSG_PREKEY);
    vec_out(v, "first_message", m, mlen);
    /* Draws: Bob's first own ratchet key. */
    vec_step_begin(v, "bob_respond_random");
    OK(v, e2e_session_respond(p->bob, &p->spk.key, p->has_opk ? &p->opk : NULL, m, mlen, &p->b, &pt,
                              &ptlen));
    vec_step_end(v, "bob_respond_random");
    VEC_CHECK_TRUE(v, ptlen == strlen(first) && memcmp(pt, first, ptlen) == 0);
    vec_out(v, "bob_root_key", p->b->rk, 32);
    e2e_buf_free(pt, ptlen);
    e2e_buf_free(m, mlen);
}

void vec_run_x3dh(struct vec *v)
{
    struct pair p = {0};
    pair_start(v, &p);
    pair_free(&p);
}

struct late {
    int from_alice;
    uint8_t *m;
    size_t len;
    char name[64];
    const char *text;
};

static void deliver(struct vec *v, struct pair *p, int from_alice, const uint8_t *m, size_t len,
                    const char *step, const char *text)
{
    uint8_t *pt;
    size_t ptlen;
    vec_step_begin(v, step);
    OK(v, e2e_session_decrypt(from_alice ? p->b : p->a, m, len, &pt, &ptlen));
    vec_step_end(v, step);
    VEC_CHECK_TRUE(v, ptlen == strlen(text) && memcmp(pt, text, ptlen) == 0);
    e2e_buf_free(pt, ptlen);
}

/* A conversation: steps i = 0..step_count-1, each "stepI_from_text"
 * (alice|bob), "stepI_plaintext_text" and "stepI_deliver_text" (now|later).
 * "later" messages arrive after every step, in reverse order. The
 * receiver's draws (a new ratchet key on each DH ratchet step) are
 * "stepI_receive_random". */
void vec_run_ratchet(struct vec *v)
{
    struct pair p = {0};
    struct late late[32];
    int nlate = 0;
    char name[64];
    uint32_t steps = vec_in_get_u32(v, "step_count");
    VEC_CHECK_TRUE(v, steps <= 32);

    pair_start(v, &p);
    for (uint32_t i = 0; i < steps; i++) {
        uint8_t *m;
        size_t mlen;
        enum e2e_msg_type type;
        snprintf(name, sizeof(name), "step%u_from_text", i);
        int from_alice = strcmp(vec_in_str(v, name), "alice") == 0;
        snprintf(name, sizeof(name), "step%u_plaintext_text", i);
        const char *text = vec_in_str(v, name);
        snprintf(name, sizeof(name), "step%u_send_random", i);
        vec_step_begin(v, name);
        OK(v, e2e_session_encrypt(from_alice ? p.a : p.b, (const uint8_t *)text, strlen(text), &m,
                                  &mlen, &type));
        vec_step_end(v, name);
        snprintf(name, sizeof(name), "step%u_message", i);
        vec_out(v, name, m, mlen);
        snprintf(name, sizeof(name), "step%u_type_text", i);
        vec_out_text(v, name, type == E2E_MSG_PREKEY ? "prekey" : "message");
        snprintf(name, sizeof(name), "step%u_deliver_text", i);
        int now = strcmp(vec_in_str(v, name), "now") == 0;
        snprintf(name, sizeof(name), "step%u_receive_random", i);
        if (now) {
            deliver(v, &p, from_alice, m, mlen, name, text);
            e2e_buf_free(m, mlen);
        } else {
            late[nlate++] = (struct late){from_alice, m, mlen, "", text};
            snprintf(late[nlate - 1].name, sizeof(late[0].name), "%s", name);
        }
    }
    while (nlate-- > 0) {
        struct late *l = &late[nlate];
        deliver(v, &p, l->from_alice, l->m, l->len, l->name, l->text);
        e2e_buf_free(l->m, l->len);
    }
    vec_out(v, "final_alice_root_key", p.a->rk, 32);
    vec_out(v, "final_bob_root_key", p.b->rk, 32);
    pair_free(&p);
}

/* ---- Sender keys -------------------------------------------------------------- */

static uint64_t in_be64(struct vec *v, const char *name)
{
    size_t n;
    const uint8_t *b = vec_in(v, name, &n);
    uint64_t x = 0;
    if (n != 8)
        vec_fail(v, "input %s: %zu bytes, want 8", name, n);
    for (size_t i = 0; i < 8 && i < n; i++)
        x = x << 8 | b[i];
    return x;
}

/* Inputs "conversation_id" and "sender_device" (be64) bind the key.
 * Draws "create_random": key id (4), chain key (32), signing seed (32).
 * Messages message0..2 are decrypted by a member in the order 2, 0, 1;
 * then the key is rotated ("rotate_random") and the old state must not
 * read the new message. */
void vec_run_senderkey(struct vec *v)
{
    struct e2e_sender_key *own, *member, *rotated, *member2;
    uint8_t skdm[E2E_SKDM_BYTES], *m[3], *pt, *rm;
    size_t mlen[3], ptlen, rmlen;
    char name[48];
    const char *texts[3];
    uint64_t conv = in_be64(v, "conversation_id"), dev = in_be64(v, "sender_device");

    vec_step_begin(v, "create_random");
    OK(v, e2e_sender_key_new(conv, dev, &own));
    vec_step_end(v, "create_random");
    OK(v, e2e_sender_key_distribution(own, skdm));
    vec_out(v, "distribution", skdm, sizeof(skdm));
    OK(v, e2e_sender_key_from_distribution(skdm, sizeof(skdm), conv, dev, &member));
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "message%d_plaintext_text", i);
        texts[i] = vec_in_str(v, name);
        vec_step_begin(v, "encrypt_random");
        OK(v, e2e_sender_key_encrypt(own, (const uint8_t *)texts[i], strlen(texts[i]), &m[i],
                                     &mlen[i]));
        vec_step_end(v, "encrypt_random");
        snprintf(name, sizeof(name), "message%d", i);
        vec_out(v, name, m[i], mlen[i]);
    }
    static const int order[3] = {2, 0, 1};
    for (int k = 0; k < 3; k++) {
        int i = order[k];
        OK(v, e2e_sender_key_decrypt(member, conv, dev, m[i], mlen[i], &pt, &ptlen));
        VEC_CHECK_TRUE(v, ptlen == strlen(texts[i]) && memcmp(pt, texts[i], ptlen) == 0);
        e2e_buf_free(pt, ptlen);
    }
    vec_step_begin(v, "rotate_random");
    OK(v, e2e_sender_key_new(conv, dev, &rotated));
    vec_step_end(v, "rotate_random");
    OK(v, e2e_sender_key_distribution(rotated, skdm));
    vec_out(v, "rotated_distribution", skdm, sizeof(skdm));
    const char *rt = vec_in_str(v, "rotated_plaintext_text");
    OK(v, e2e_sender_key_encrypt(rotated, (const uint8_t *)rt, strlen(rt), &rm, &rmlen));
    vec_out(v, "rotated_message", rm, rmlen);
    VEC_CHECK_TRUE(v,
                   e2e_sender_key_decrypt(member, conv, dev, rm, rmlen, &pt, &ptlen) == E2E_ENOKEY);
    OK(v, e2e_sender_key_from_distribution(skdm, sizeof(skdm), conv, dev, &member2));
    OK(v, e2e_sender_key_decrypt(member2, conv, dev, rm, rmlen, &pt, &ptlen));
    VEC_CHECK_TRUE(v, ptlen == strlen(rt) && memcmp(pt, rt, ptlen) == 0);
    e2e_buf_free(pt, ptlen);
    /* Bound: another conversation or device is refused. */
    VEC_CHECK_TRUE(v, e2e_sender_key_decrypt(member2, conv + 1, dev, rm, rmlen, &pt, &ptlen) ==
                          E2E_ECONTEXT);
    for (int i = 0; i < 3; i++)
        e2e_buf_free(m[i], mlen[i]);
    e2e_buf_free(rm, rmlen);
    e2e_sender_key_free(own);
    e2e_sender_key_free(member);
    e2e_sender_key_free(rotated);
    e2e_sender_key_free(member2);
}

/* ---- Safety numbers ------------------------------------------------------------ */

void vec_run_safety(struct vec *v)
{
    size_t na, nb;
    const uint8_t *ka = vec_in(v, "user_a_keys", &na), *kb = vec_in(v, "user_b_keys", &nb);
    const char *ia = vec_in_str(v, "user_a_id_text"), *ib = vec_in_str(v, "user_b_id_text");
    char d1[61], d2[61];
    uint8_t q1[E2E_SAFETY_QR_BYTES], q2[E2E_SAFETY_QR_BYTES];
    VEC_CHECK_TRUE(v, na % 32 == 0 && nb % 32 == 0);
    OK(v, e2e_safety_number(ia, ka, na / 32, ib, kb, nb / 32, d1, q1));
    OK(v, e2e_safety_number(ib, kb, nb / 32, ia, ka, na / 32, d2, q2));
    VEC_CHECK_TRUE(v, strcmp(d1, d2) == 0 && memcmp(q1, q2, sizeof(q1)) == 0);
    vec_out_text(v, "safety_number_text", d1);
    vec_out(v, "qr_payload", q1, sizeof(q1));
}

/* ---- Files ------------------------------------------------------------------------ */

/* Plaintext: "plaintext", or "pattern_length" bytes with byte i =
 * (i * 31 + 7) mod 256. Draws "encrypt_random": key (32), secretstream
 * header (24). Outputs the digest, and the ciphertext when short. */
void vec_run_file(struct vec *v)
{
    size_t n;
    uint8_t *pt, key[32], digest[32];
    if (vec_has_in(v, "plaintext")) {
        const uint8_t *b = vec_in(v, "plaintext", &n);
        pt = memcpy(malloc(n + 1), b, n);
    } else {
        n = vec_in_get_u32(v, "pattern_length");
        pt = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            pt[i] = (uint8_t)(i * 31 + 7);
    }
    FILE *in = fmemopen(pt, n ? n : 1, "rb"), *ct = tmpfile(), *back = tmpfile();
    VEC_CHECK_TRUE(v, in && ct && back);
    if (!n)
        (void)fgetc(in); /* fmemopen cannot open an empty buffer: consume the byte */
    vec_step_begin(v, "encrypt_random");
    OK(v, e2e_file_encrypt(in, ct, key, digest));
    vec_step_end(v, "encrypt_random");
    vec_out(v, "digest", digest, 32);
    long clen = ftell(ct);
    vec_out(v, "ciphertext_length",
            (uint8_t[4]){(uint8_t)(clen >> 24), (uint8_t)(clen >> 16), (uint8_t)(clen >> 8),
                         (uint8_t)clen},
            4);
    rewind(ct);
    if (clen <= 4096) {
        uint8_t buf[4096];
        VEC_CHECK_TRUE(v, fread(buf, 1, (size_t)clen, ct) == (size_t)clen);
        vec_out(v, "ciphertext", buf, (size_t)clen);
        rewind(ct);
    }
    OK(v, e2e_file_decrypt(ct, back, key, digest));
    VEC_CHECK_TRUE(v, ftell(back) == (long)n);
    rewind(back);
    for (size_t i = 0; i < n; i++)
        VEC_CHECK_TRUE(v, fgetc(back) == pt[i]);
    fclose(in);
    fclose(ct);
    fclose(back);
    free(pt);
}

/* ---- Vault ------------------------------------------------------------------------ */

/* Draws "seal_random": salt (16), nonce (24). */
void vec_run_vault(struct vec *v)
{
    const char *pass = vec_in_str(v, "passphrase_text"), *text = vec_in_str(v, "plaintext_text");
    struct e2e_vault_params p = {vec_in_get_u32(v, "opslimit"), vec_in_get_u32(v, "memlimit")};
    uint8_t *sealed, *pt;
    size_t slen, ptlen;
    vec_step_begin(v, "seal_random");
    OK(v,
       e2e_vault_seal(pass, strlen(pass), &p, (const uint8_t *)text, strlen(text), &sealed, &slen));
    vec_step_end(v, "seal_random");
    vec_out(v, "sealed", sealed, slen);
    OK(v, e2e_vault_open(pass, strlen(pass), sealed, slen, &pt, &ptlen));
    VEC_CHECK_TRUE(v, ptlen == strlen(text) && memcmp(pt, text, ptlen) == 0);
    e2e_buf_free(pt, ptlen);
    VEC_CHECK_TRUE(v, e2e_vault_open("wrong", 5, sealed, slen, &pt, &ptlen) == E2E_EPASSPHRASE);
    e2e_buf_free(sealed, slen);
}
