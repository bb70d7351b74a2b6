/* SPDX-License-Identifier: MIT */
/* Parley - streamed file encryption for E2E media.                     */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <errno.h>
#include <string.h>

/*
 * Format (PROTOCOL.md, "Files"):
 *   "PLF1" || secretstream header (24) || chunk*
 * Every chunk is crypto_secretstream_xchacha20poly1305_push() of up to
 * E2E_FILE_CHUNK plaintext bytes (so E2E_FILE_CHUNK + 17 bytes on the
 * wire, only the last may be shorter); the last carries TAG_FINAL, also
 * when it is full (the encryptor peeks one byte ahead to know), and an
 * empty file is a single empty final chunk. secretstream chains its state through every chunk, so
 * reordered, dropped or repeated chunks fail authentication, and a missing FINAL tag exposes
 * truncation. The digest is SHA-256 over the whole ciphertext, so a receiver can check a download
 * before it decrypts anything.
 *
 * Memory is two chunk buffers whatever the file size.
 */
#define FILE_MAGIC "PLF1"
#define CT_CHUNK (E2E_FILE_CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES)

struct bufs {
    uint8_t pt[E2E_FILE_CHUNK];
    uint8_t ct[CT_CHUNK];
};

static int write_all(FILE *out, const void *p, size_t n, crypto_hash_sha256_state *h)
{
    if (h)
        crypto_hash_sha256_update(h, p, n);
    if (n && fwrite(p, 1, n, out) != n)
        return errno ? -errno : -EIO;
    return 0;
}

/* Reads up to n bytes, retrying short reads; returns the count or -errno. */
static long read_full(FILE *in, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t r = fread(p + got, 1, n - got, in);
        if (r == 0) {
            if (ferror(in))
                return errno ? -errno : -EIO;
            break;
        }
        got += r;
    }
    return (long)got;
}

static int encrypt_chunks(FILE *in, FILE *out, crypto_secretstream_xchacha20poly1305_state *st,
                          struct bufs *b, crypto_hash_sha256_state *h)
{
    long n = read_full(in, b->pt, E2E_FILE_CHUNK);
    for (;;) {
        if (n < 0)
            return (int)n;
        /* A chunk is final when the next read finds nothing more. */
        size_t have = (size_t)n;
        uint8_t tag = 0;
        if (have < E2E_FILE_CHUNK) {
            tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        } else {
            int c = fgetc(in);
            if (c == EOF) {
                if (ferror(in))
                    return -EIO;
                tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
            } else {
                ungetc(c, in);
            }
        }
        unsigned long long clen = 0;
        crypto_secretstream_xchacha20poly1305_push(st, b->ct, &clen, b->pt, have, NULL, 0, tag);
        int rc = write_all(out, b->ct, (size_t)clen, h);
        if (rc < 0 || tag)
            return rc;
        n = read_full(in, b->pt, E2E_FILE_CHUNK);
    }
}

int e2e_file_encrypt(FILE *in, FILE *out, uint8_t key[32], uint8_t digest[32])
{
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_hash_sha256_state h;
    uint8_t hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    struct bufs *b;
    int rc;

    if (!in || !out || !key || !digest)
        return PL_EINVAL;
    if (!(b = sodium_malloc(sizeof(*b))))
        return PL_ENOMEM;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
    crypto_hash_sha256_init(&h);
    if ((rc = write_all(out, FILE_MAGIC, 4, &h)) == 0 &&
        (rc = write_all(out, hdr, sizeof(hdr), &h)) == 0)
        rc = encrypt_chunks(in, out, &st, b, &h);
    if (rc == 0 && fflush(out) != 0)
        rc = errno ? -errno : -EIO;
    crypto_hash_sha256_final(&h, digest);
    sodium_memzero(&st, sizeof(st));
    sodium_free(b);
    return rc;
}

static int decrypt_chunks(FILE *in, FILE *out, crypto_secretstream_xchacha20poly1305_state *st,
                          struct bufs *b, crypto_hash_sha256_state *h)
{
    for (;;) {
        long n = read_full(in, b->ct, CT_CHUNK);
        if (n < 0)
            return (int)n;
        if ((size_t)n < crypto_secretstream_xchacha20poly1305_ABYTES)
            return E2E_EAUTH; /* truncated: the FINAL chunk never came */
        crypto_hash_sha256_update(h, b->ct, (size_t)n);
        unsigned long long plen = 0;
        uint8_t tag = 0;
        if (crypto_secretstream_xchacha20poly1305_pull(st, b->pt, &plen, &tag, b->ct,
                                                       (unsigned long long)n, NULL, 0) != 0)
            return E2E_EAUTH;
        int rc = write_all(out, b->pt, (size_t)plen, NULL);
        if (rc < 0)
            return rc;
        if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
            int c = fgetc(in);
            return c == EOF ? 0 : E2E_EAUTH; /* nothing may follow FINAL */
        }
        if ((size_t)n < CT_CHUNK)
            return E2E_EAUTH; /* a short chunk must be the final one */
    }
}

int e2e_file_decrypt(FILE *in, FILE *out, const uint8_t key[32], const uint8_t digest[32])
{
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_hash_sha256_state h;
    uint8_t head[4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES], got[32];
    struct bufs *b;
    int rc;

    if (!in || !out || !key || !digest)
        return PL_EINVAL;
    long n = read_full(in, head, sizeof(head));
    if (n < 0)
        return (int)n;
    if ((size_t)n != sizeof(head) || memcmp(head, FILE_MAGIC, 4) != 0)
        return PL_EMALFORMED;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, head + 4, key) != 0)
        return E2E_EAUTH;
    if (!(b = sodium_malloc(sizeof(*b))))
        return PL_ENOMEM;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, head, sizeof(head));
    rc = decrypt_chunks(in, out, &st, b, &h);
    crypto_hash_sha256_final(&h, got);
    if (rc == 0 && sodium_memcmp(got, digest, 32) != 0)
        rc = E2E_EDIGEST;
    if (rc == 0 && fflush(out) != 0)
        rc = errno ? -errno : -EIO;
    sodium_memzero(&st, sizeof(st));
    sodium_free(b);
    return rc;
}
