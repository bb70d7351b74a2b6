/* SPDX-License-Identifier: MIT */
/* Parley - files, safety numbers, the vault and prekey signatures.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_testutil.h"

#include <sodium.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* ---- Files ---------------------------------------------------------------- */

static FILE *pattern_file(size_t n, uint32_t salt)
{
    FILE *f = tmpfile();
    PL_ASSERT(f != NULL);
    for (size_t i = 0; i < n; i++)
        fputc((int)((i * 131 + salt) >> 3 & 0xff), f);
    rewind(f);
    return f;
}

static int files_equal(FILE *a, FILE *b)
{
    rewind(a);
    rewind(b);
    int ca, cb;
    do {
        ca = fgetc(a);
        cb = fgetc(b);
    } while (ca == cb && ca != EOF);
    return ca == cb;
}

/* Copies src to a new tmpfile, applying edit(buf, &len) on the whole
 * content (the files here are small). */
static FILE *edited(FILE *src, void (*edit)(uint8_t *b, size_t *len, void *ctx), void *ctx)
{
    rewind(src);
    fseek(src, 0, SEEK_END);
    size_t len = (size_t)ftell(src), cap = len + 64;
    uint8_t *b = malloc(cap);
    rewind(src);
    PL_ASSERT(fread(b, 1, len, src) == len);
    edit(b, &len, ctx);
    FILE *f = tmpfile();
    PL_ASSERT(fwrite(b, 1, len, f) == len);
    rewind(f);
    free(b);
    return f;
}

#define CT_CHUNK (E2E_FILE_CHUNK + 17)
#define CT_HEAD 28

static void cut(uint8_t *b, size_t *len, void *ctx)
{
    (void)b;
    *len = (size_t)(uintptr_t)ctx;
}

static void swap_chunks(uint8_t *b, size_t *len, void *ctx)
{
    uint8_t *t = malloc(CT_CHUNK);
    (void)ctx;
    PL_ASSERT(*len > CT_HEAD + 2 * CT_CHUNK);
    memcpy(t, b + CT_HEAD, CT_CHUNK);
    memmove(b + CT_HEAD, b + CT_HEAD + CT_CHUNK, CT_CHUNK);
    memcpy(b + CT_HEAD + CT_CHUNK, t, CT_CHUNK);
    free(t);
}

static void flip(uint8_t *b, size_t *len, void *ctx)
{
    b[(size_t)(uintptr_t)ctx % *len] ^= 0x20;
}

static void append(uint8_t *b, size_t *len, void *ctx)
{
    (void)ctx;
    memcpy(b + *len, b + CT_HEAD, 17);
    *len += 17;
}

static int decrypt_to_tmp(FILE *ct, const uint8_t key[32], const uint8_t digest[32])
{
    FILE *out = tmpfile();
    rewind(ct);
    int rc = e2e_file_decrypt(ct, out, key, digest);
    fclose(out);
    return rc;
}

PLTEST(e2e_file_round_trip_sizes)
{
    static const size_t sizes[] = {
        0, 1, 100, E2E_FILE_CHUNK - 1, E2E_FILE_CHUNK, E2E_FILE_CHUNK + 1, 3 * E2E_FILE_CHUNK + 5};
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    for (size_t i = 0; i < PL_ARRAY_LEN(sizes); i++) {
        uint8_t key[32], digest[32];
        FILE *in = pattern_file(sizes[i], (uint32_t)i), *ct = tmpfile(), *back = tmpfile();
        PL_ASSERT_INT_EQ(e2e_file_encrypt(in, ct, key, digest), 0);
        /* Ciphertext size: header + 17 bytes per chunk; the last chunk is
         * the final one even when full, and an empty file is one empty
         * final chunk. */
        size_t chunks = sizes[i] ? (sizes[i] + E2E_FILE_CHUNK - 1) / E2E_FILE_CHUNK : 1;
        PL_ASSERT_INT_EQ(ftell(ct), (long)(CT_HEAD + sizes[i] + 17 * chunks));
        rewind(ct);
        PL_ASSERT_INT_EQ(e2e_file_decrypt(ct, back, key, digest), 0);
        PL_ASSERT(files_equal(in, back));
        fclose(in);
        fclose(ct);
        fclose(back);
    }
}

PLTEST(e2e_file_tamper_truncate_reorder)
{
    uint8_t key[32], digest[32], wrong[32];
    FILE *in = pattern_file(3 * E2E_FILE_CHUNK + 500, 9), *ct = tmpfile();
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_file_encrypt(in, ct, key, digest), 0);
    size_t len = (size_t)ftell(ct);
    PL_ASSERT_INT_EQ(decrypt_to_tmp(ct, key, digest), 0);

    /* Truncation anywhere, including exactly at a chunk boundary where
     * every remaining chunk still authenticates: no FINAL tag, refused. */
    size_t cuts[] = {0,
                     10,
                     CT_HEAD,
                     CT_HEAD + 5,
                     CT_HEAD + CT_CHUNK,
                     CT_HEAD + 2 * CT_CHUNK,
                     CT_HEAD + 3 * CT_CHUNK,
                     len - 1};
    for (size_t i = 0; i < PL_ARRAY_LEN(cuts); i++) {
        FILE *t = edited(ct, cut, (void *)(uintptr_t)cuts[i]);
        PL_ASSERT(decrypt_to_tmp(t, key, digest) < 0);
        fclose(t);
    }
    FILE *t = edited(ct, swap_chunks, NULL);
    PL_ASSERT_INT_EQ(decrypt_to_tmp(t, key, digest), E2E_EAUTH);
    fclose(t);
    t = edited(ct, append, NULL);
    PL_ASSERT_INT_EQ(decrypt_to_tmp(t, key, digest), E2E_EAUTH);
    fclose(t);
    uint64_t seed = 42;
    for (int i = 0; i < 40; i++) {
        t = edited(ct, flip, (void *)(uintptr_t)prng_below(&seed, (uint32_t)len));
        PL_ASSERT(decrypt_to_tmp(t, key, digest) < 0);
        fclose(t);
    }
    memcpy(wrong, digest, 32);
    wrong[0] ^= 1;
    PL_ASSERT_INT_EQ(decrypt_to_tmp(ct, key, wrong), E2E_EDIGEST);
    memcpy(wrong, key, 32);
    wrong[31] ^= 1;
    PL_ASSERT_INT_EQ(decrypt_to_tmp(ct, wrong, digest), E2E_EAUTH);
    fclose(in);
    fclose(ct);
}

/* Streams that make and swallow bytes without holding them, so a 100 MiB
 * file costs no memory of its own. */
struct gen {
    uint64_t left, pos;
};

static ssize_t gen_read(void *c, char *buf, size_t n)
{
    struct gen *g = c;
    size_t k = (size_t)PL_MIN((uint64_t)n, g->left);
    for (size_t i = 0; i < k; i++)
        buf[i] = (char)(g->pos++ * 7);
    g->left -= k;
    return (ssize_t)k;
}

static ssize_t sink_write(void *c, const char *buf, size_t n)
{
    (void)buf;
    *(uint64_t *)c += n;
    return (ssize_t)n;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    PL_ASSERT_INT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

PLTEST(e2e_file_100mib_constant_memory)
{
    struct gen g = {100ull << 20, 0};
    uint64_t written = 0;
    uint8_t key[32], digest[32];
    cookie_io_functions_t rf = {.read = gen_read}, wf = {.write = sink_write};
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    FILE *in = fopencookie(&g, "r", rf), *out = fopencookie(&written, "w", wf);
    PL_ASSERT(in && out);
    long before = max_rss_kib();
    PL_ASSERT_INT_EQ(e2e_file_encrypt(in, out, key, digest), 0);
    long grew = max_rss_kib() - before;
    PL_ASSERT_INT_EQ(written, 28 + (100ull << 20) + 17 * ((100ull << 20) / E2E_FILE_CHUNK));
    /* Two chunk buffers and stdio's: far below 100 MiB. */
    if (grew > 8 * 1024)
        pltest_fail(__FILE__, __LINE__, "peak RSS grew by %ld KiB", grew);
    fclose(in);
    fclose(out);
}

/* ---- Safety numbers ------------------------------------------------------------ */

PLTEST(e2e_safety_number_properties)
{
    uint8_t ka[3 * 32], kb[2 * 32], swapped[3 * 32], qa[E2E_SAFETY_QR_BYTES],
        qb[E2E_SAFETY_QR_BYTES];
    char d1[61], d2[61], d3[61];
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    randombytes_buf(ka, sizeof(ka));
    randombytes_buf(kb, sizeof(kb));
    PL_ASSERT_INT_EQ(e2e_safety_number("1", ka, 3, "2", kb, 2, d1, qa), 0);
    PL_ASSERT_INT_EQ(strlen(d1), 60);
    for (int i = 0; i < 60; i++)
        PL_ASSERT(isdigit((unsigned char)d1[i]));
    /* Symmetric and independent of the order of a user's devices. */
    PL_ASSERT_INT_EQ(e2e_safety_number("2", kb, 2, "1", ka, 3, d2, qb), 0);
    PL_ASSERT_STR_EQ(d1, d2);
    PL_ASSERT_MEM_EQ(qa, qb, sizeof(qa));
    PL_ASSERT_INT_EQ(qa[0], 1);
    memcpy(swapped, ka + 64, 32);
    memcpy(swapped + 32, ka, 64);
    PL_ASSERT_INT_EQ(e2e_safety_number("1", swapped, 3, "2", kb, 2, d3, NULL), 0);
    PL_ASSERT_STR_EQ(d1, d3);
    /* A changed key, a dropped device or another id changes it. */
    ka[40] ^= 1;
    PL_ASSERT_INT_EQ(e2e_safety_number("1", ka, 3, "2", kb, 2, d3, NULL), 0);
    PL_ASSERT(strcmp(d1, d3) != 0);
    ka[40] ^= 1;
    PL_ASSERT_INT_EQ(e2e_safety_number("1", ka, 2, "2", kb, 2, d3, NULL), 0);
    PL_ASSERT(strcmp(d1, d3) != 0);
    PL_ASSERT_INT_EQ(e2e_safety_number("3", ka, 3, "2", kb, 2, d3, NULL), 0);
    PL_ASSERT(strcmp(d1, d3) != 0);
    PL_ASSERT_INT_EQ(e2e_safety_number("1", ka, 0, "2", kb, 2, d3, NULL), PL_EINVAL);
}

/* ---- Vault -------------------------------------------------------------------- */

PLTEST(e2e_vault_round_trip_and_refusals)
{
    struct e2e_vault_params p = {1, 8192};
    const char *secret = "seed and sessions";
    uint8_t *v, *pt;
    size_t vlen, ptlen;
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(
        e2e_vault_seal("pw", 2, &p, (const uint8_t *)secret, strlen(secret), &v, &vlen), 0);
    PL_ASSERT(memmem(v, vlen, secret, strlen(secret)) == NULL);
    PL_ASSERT_INT_EQ(e2e_vault_open("pw", 2, v, vlen, &pt, &ptlen), 0);
    PL_ASSERT_INT_EQ(ptlen, strlen(secret));
    PL_ASSERT_MEM_EQ(pt, secret, ptlen);
    e2e_buf_free(pt, ptlen);
    PL_ASSERT_INT_EQ(e2e_vault_open("pW", 2, v, vlen, &pt, &ptlen), E2E_EPASSPHRASE);
    v[vlen - 1] ^= 1;
    PL_ASSERT_INT_EQ(e2e_vault_open("pw", 2, v, vlen, &pt, &ptlen), E2E_EPASSPHRASE);
    v[vlen - 1] ^= 1;
    PL_ASSERT_INT_EQ(e2e_vault_open("pw", 2, v, 20, &pt, &ptlen), PL_EMALFORMED);
    v[4] = 0xff; /* an absurd cost must not be attempted */
    PL_ASSERT_INT_EQ(e2e_vault_open("pw", 2, v, vlen, &pt, &ptlen), PL_EMALFORMED);
    e2e_buf_free(v, vlen);
    struct e2e_vault_params bad = {0, 8192};
    PL_ASSERT_INT_EQ(e2e_vault_seal("pw", 2, &bad, (const uint8_t *)"x", 1, &v, &vlen), PL_EINVAL);
    struct e2e_vault_params def = e2e_vault_params_default();
    PL_ASSERT(def.opslimit >= 2 && def.memlimit >= 64u << 20);
}

/* ---- Keys ------------------------------------------------------------------------ */

PLTEST(e2e_keys_signed_prekey_and_identity_seed)
{
    struct e2e_identity *id, *again;
    struct e2e_signed_prekey spk;
    uint8_t seed[32];
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_identity_new(&id), 0);
    PL_ASSERT_INT_EQ(e2e_signed_prekey_generate(id, 77, &spk), 0);
    PL_ASSERT_INT_EQ(spk.key.id, 77);
    const uint8_t *ik = e2e_identity_public(id);
    PL_ASSERT_INT_EQ(e2e_signed_prekey_verify(ik, 77, spk.key.pub, spk.sig), 0);
    PL_ASSERT_INT_EQ(e2e_signed_prekey_verify(ik, 78, spk.key.pub, spk.sig), E2E_EBADSIG);
    spk.key.pub[0] ^= 1;
    PL_ASSERT_INT_EQ(e2e_signed_prekey_verify(ik, 77, spk.key.pub, spk.sig), E2E_EBADSIG);
    /* The signed bytes are exactly the contract's: check with libsodium. */
    spk.key.pub[0] ^= 1;
    uint8_t m[49];
    memcpy(m, "parley-spk-v1", 13);
    m[13] = 0, m[14] = 0, m[15] = 0, m[16] = 77;
    memcpy(m + 17, spk.key.pub, 32);
    PL_ASSERT_INT_EQ(crypto_sign_verify_detached(spk.sig, m, sizeof(m), ik), 0);
    e2e_identity_seed(id, seed);
    PL_ASSERT_INT_EQ(e2e_identity_from_seed(seed, &again), 0);
    PL_ASSERT_MEM_EQ(e2e_identity_public(again), ik, 32);
    PL_ASSERT_INT_EQ(e2e_msg_type_of(NULL, 0), PL_EMALFORMED);
    /* Version 1 (0x1_) and unknown versions or types are refused. */
    PL_ASSERT_INT_EQ(e2e_msg_type_of((const uint8_t *)"\x12", 1), E2E_EVERSION);
    PL_ASSERT_INT_EQ(e2e_msg_type_of((const uint8_t *)"\x32", 1), E2E_EVERSION);
    PL_ASSERT_INT_EQ(e2e_msg_type_of((const uint8_t *)"\x25", 1), E2E_EVERSION);
    PL_ASSERT_STR_EQ(e2e_strerror(E2E_EREPLAY), "message already decrypted (replay)");
    e2e_identity_free(id);
    e2e_identity_free(again);
    e2e_prekey_wipe(&spk.key);
}
