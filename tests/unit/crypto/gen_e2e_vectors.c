/* SPDX-License-Identifier: MIT */
/* Parley - writes crypto/testvectors JSON files from fixed inputs.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_vec.h"

#include "crypto/e2e.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

/*
 * Usage: gen_e2e_vectors OUTDIR. Run it only when the protocol changes on
 * purpose (and bump the version in PROTOCOL.md): test_e2e_vectors checks the
 * library against the committed files, so regenerating hides regressions.
 * Fixed inputs are BLAKE2b of a label, so the files are reproducible.
 */
static void fixed(struct vec *v, const char *name, const char *label, size_t n)
{
    uint8_t b[64];
    crypto_generichash(b, n, (const uint8_t *)label, strlen(label), NULL, 0);
    vec_in_set(v, name, b, n);
}

static void run_all(struct vec **vs, int n, vec_runner *run)
{
    for (int i = 0; i < n; i++)
        run(vs[i]);
}

static int write(const char *dir, const char *file, const char *desc, struct vec **vs, int n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (vec_file_write(path, desc, vs, n) != 0) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < n; i++)
        vec_free(vs[i]);
    return 0;
}

static int gen_kdf(const char *dir)
{
    struct vec *vs[4];
    static const uint8_t rfc_ikm[22] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
    static const uint8_t rfc_salt[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* RFC 5869 test case 1 with an ASCII info (ours are ASCII labels). */
    vs[0] = vec_new("hkdf-rfc5869-ikm-salt", VEC_GEN);
    vec_in_set(vs[0], "ikm", rfc_ikm, sizeof(rfc_ikm));
    vec_in_set(vs[0], "salt", rfc_salt, sizeof(rfc_salt));
    vec_in_text(vs[0], "info_text", "parley-x3dh-v1");
    vec_in_u32(vs[0], "length", 42);
    vs[1] = vec_new("hkdf-empty-salt-long-output", VEC_GEN);
    fixed(vs[1], "ikm", "hkdf ikm", 32);
    vec_in_set(vs[1], "salt", "", 0);
    vec_in_text(vs[1], "info_text", "parley-ratchet-v1");
    vec_in_u32(vs[1], "length", 100);
    run_all(vs, 2, vec_run_hkdf);
    vs[2] = vec_new("chains", VEC_GEN);
    fixed(vs[2], "chain_key", "chain key", 32);
    fixed(vs[2], "root_key", "root key", 32);
    fixed(vs[2], "dh_output", "dh output", 32);
    vec_run_chain(vs[2]);
    return write(dir, "kdf.json",
                 "HKDF-SHA256, KDF_CK chain steps, message keys (both labels) and KDF_RK", vs, 3);
}

static void pair_inputs(struct vec *v, int opk)
{
    fixed(v, "alice_identity_seed", "alice identity", 32);
    fixed(v, "bob_identity_seed", "bob identity", 32);
    vec_in_u32(v, "bob_signed_prekey_id", 7);
    if (opk)
        vec_in_u32(v, "bob_one_time_prekey_id", 1001);
    vec_in_text(v, "first_plaintext_text", "hello bob, this is alice");
}

static int gen_x3dh(const char *dir)
{
    struct vec *vs[2];
    vs[0] = vec_new("x3dh-with-one-time-prekey", VEC_GEN);
    pair_inputs(vs[0], 1);
    vs[1] = vec_new("x3dh-without-one-time-prekey", VEC_GEN);
    pair_inputs(vs[1], 0);
    run_all(vs, 2, vec_run_x3dh);
    return write(dir, "x3dh.json", "X3DH from identity seeds and scripted random draws", vs, 2);
}

static int gen_ratchet(const char *dir)
{
    static const struct {
        const char *from, *text, *deliver;
    } script[] = {
        {"alice", "a0 second prekey message", "now"},
        {"bob", "b0 first reply", "now"},
        {"bob", "b1 delayed", "later"},
        {"bob", "b2", "now"},
        {"alice", "a1 after ratchet", "now"},
        {"alice", "a2 delayed", "later"},
        {"alice", "a3", "now"},
        {"bob", "b3 new chain", "now"},
        {"alice", "a4", "now"},
    };
    struct vec *v = vec_new("conversation-out-of-order", VEC_GEN);
    char name[48];
    pair_inputs(v, 1);
    vec_in_u32(v, "step_count", PL_ARRAY_LEN(script));
    for (size_t i = 0; i < PL_ARRAY_LEN(script); i++) {
        snprintf(name, sizeof(name), "step%zu_from_text", i);
        vec_in_text(v, name, script[i].from);
        snprintf(name, sizeof(name), "step%zu_plaintext_text", i);
        vec_in_text(v, name, script[i].text);
        snprintf(name, sizeof(name), "step%zu_deliver_text", i);
        vec_in_text(v, name, script[i].deliver);
    }
    vec_run_ratchet(v);
    return write(dir, "ratchet.json", "Double Ratchet conversation after X3DH", &v, 1);
}

static int gen_senderkey(const char *dir)
{
    static const uint8_t conv[8] = {0, 0, 0, 0, 0, 0, 0x30, 0x39};   /* 12345 */
    static const uint8_t device[8] = {0, 0, 0, 0x01, 0, 0, 0, 0x02}; /* 2^32 + 2 */
    struct vec *v = vec_new("sender-key-and-rotation", VEC_GEN);
    vec_in_set(v, "conversation_id", conv, 8);
    vec_in_set(v, "sender_device", device, 8);
    vec_in_text(v, "message0_plaintext_text", "group hello");
    vec_in_text(v, "message1_plaintext_text", "second");
    vec_in_text(v, "message2_plaintext_text", "third, read first");
    vec_in_text(v, "rotated_plaintext_text", "after a member left");
    vec_run_senderkey(v);
    return write(dir, "senderkey.json", "Sender keys: distribution, messages, rotation", &v, 1);
}

static int gen_safety(const char *dir)
{
    struct vec *vs[2];
    uint8_t keys[3 * 32];
    vs[0] = vec_new("one-device-each", VEC_GEN);
    vec_in_text(vs[0], "user_a_id_text", "17");
    fixed(vs[0], "user_a_keys", "alice identity key", 32);
    vec_in_text(vs[0], "user_b_id_text", "42");
    fixed(vs[0], "user_b_keys", "bob identity key", 32);
    vs[1] = vec_new("several-devices", VEC_GEN);
    vec_in_text(vs[1], "user_a_id_text", "17");
    for (int i = 0; i < 3; i++)
        crypto_generichash(keys + 32 * i, 32, (const uint8_t *)&i, sizeof(i), NULL, 0);
    vec_in_set(vs[1], "user_a_keys", keys, 96);
    vec_in_text(vs[1], "user_b_id_text", "42");
    vec_in_set(vs[1], "user_b_keys", keys + 32, 64);
    run_all(vs, 2, vec_run_safety);
    return write(dir, "safety.json", "Safety numbers (60 digits) and QR payloads", vs, 2);
}

static int gen_file(const char *dir)
{
    struct vec *vs[3];
    vs[0] = vec_new("short-file", VEC_GEN);
    vec_in_set(vs[0], "plaintext", "a short attachment", 18);
    vs[1] = vec_new("exactly-one-chunk", VEC_GEN);
    vec_in_u32(vs[1], "pattern_length", E2E_FILE_CHUNK);
    vs[2] = vec_new("three-chunks", VEC_GEN);
    vec_in_u32(vs[2], "pattern_length", 2 * E2E_FILE_CHUNK + 1000);
    run_all(vs, 3, vec_run_file);
    return write(dir, "file.json", "Chunked file encryption (secretstream), digest", vs, 3);
}

static int gen_vault(const char *dir)
{
    struct vec *v = vec_new("vault-low-cost", VEC_GEN);
    vec_in_text(v, "passphrase_text", "correct horse battery staple");
    vec_in_text(v, "plaintext_text", "identity seed and sessions");
    vec_in_u32(v, "opslimit", 1);
    vec_in_u32(v, "memlimit", 8192);
    vec_run_vault(v);
    return write(dir, "vault.json", "Secrets at rest: argon2id + secretbox", &v, 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    if (e2e_init() != 0)
        return 1;
    vec_rng_install();
    return gen_kdf(argv[1]) | gen_x3dh(argv[1]) | gen_ratchet(argv[1]) | gen_senderkey(argv[1]) |
           gen_safety(argv[1]) | gen_file(argv[1]) | gen_vault(argv[1]);
}
