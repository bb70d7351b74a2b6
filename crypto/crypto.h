/* SPDX-License-Identifier: MIT */
/* Parley - passwords, session tokens, public E2E material (libsodium).  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_CRYPTO_H
#define PL_CRYPTO_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Thin wrappers over libsodium. Callers never see libsodium types, and no
 * function here allocates from the heap except libsodium's own argon2
 * working memory. Every function is safe from any thread once
 * pcrypto_init() has returned 0.
 */

/* Initializes libsodium (sodium_init). Call once at startup, before the
 * other functions, from one thread; calling it again is harmless.
 * Returns 0, or PL_EINTERNAL when libsodium cannot initialize (no usable
 * random source). */
PL_MUST_CHECK int pcrypto_init(void);

/* ---- Passwords ---------------------------------------------------------- */

/* Argon2id cost. Defaults come from the config table (libsodium's
 * INTERACTIVE: opslimit 2, memlimit 64 MiB); tests use 1 / 8192 to stay
 * fast. Must lie within libsodium's argon2id bounds (opslimit >= 1,
 * memlimit >= 8192). */
struct pcrypto_pwhash_params {
    unsigned long long opslimit;
    size_t memlimit;
};

/* Size of an encoded hash buffer, NUL included (crypto_pwhash_STRBYTES). */
#define PCRYPTO_PWHASH_STRBYTES 128

/* Hashes the password pw (len bytes, need not be NUL-terminated; borrowed)
 * with argon2id v1.3 and a fresh random salt, writing the NUL-terminated
 * "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string into out. The string
 * carries its own cost and salt, so it is all that needs storing.
 * CPU and memory heavy (memlimit bytes for ~opslimit passes): call it on a
 * worker thread, never a loop thread.
 * Returns 0; PL_EINVAL when p is outside libsodium's bounds; PL_ENOMEM when
 * libsodium fails, which in practice means it could not allocate memlimit
 * bytes. On failure out holds an empty string. */
PL_MUST_CHECK int pcrypto_password_hash(const struct pcrypto_pwhash_params *p, const char *pw,
                                        size_t len, char out[PCRYPTO_PWHASH_STRBYTES]);

/* Checks pw (len bytes; borrowed) against hash, a NUL-terminated string
 * produced by pcrypto_password_hash() (borrowed). Costs as much as the hash
 * did, using the cost recorded in the string. The comparison is constant
 * time (libsodium).
 * Returns 0 on a match; PL_EUNAUTH on a mismatch, on a malformed or
 * over-long hash string, and also when libsodium cannot allocate the
 * memory the hash asks for (libsodium reports all of these as one failure,
 * and failing closed is the safe reading). */
PL_MUST_CHECK int pcrypto_password_verify(const char *hash, const char *pw, size_t len);

/* Spends the time of one pcrypto_password_verify() at cost p, so that
 * "no such user" takes as long as "wrong password" and login timing does
 * not reveal which usernames exist. It verifies pw (borrowed) against a
 * dummy hash that is computed on first use and cached; the cache is
 * guarded by a mutex and recomputed if p changes. Any thread. */
void pcrypto_password_burn(const struct pcrypto_pwhash_params *p, const char *pw, size_t len);

/* ---- Session tokens ----------------------------------------------------- */

/* "pl_" followed by 43 base64url characters (32 random bytes, no padding). */
#define PCRYPTO_TOKEN_PREFIX "pl_"
#define PCRYPTO_TOKEN_STRLEN 46
#define PCRYPTO_TOKEN_HASHBYTES 32

/* Draws a new token from libsodium's CSPRNG into out (NUL-terminated) and
 * writes its lookup hash (BLAKE2b-256 of the 46-character string, the value
 * stored in devices.token_hash) into hash. Both buffers are the caller's.
 * The token is shown to the client once and never stored or logged.
 * Returns 0 (the CSPRNG cannot fail once pcrypto_init() succeeded). */
PL_MUST_CHECK int pcrypto_token_init(char out[PCRYPTO_TOKEN_STRLEN + 1],
                                     uint8_t hash[PCRYPTO_TOKEN_HASHBYTES]);

/* Validates the NUL-terminated token (borrowed; typically the Bearer value)
 * and writes its lookup hash into hash.
 * Returns 0; PL_EUNAUTH when token is NULL or not well formed: wrong length,
 * missing prefix, a character outside the base64url alphabet, or non-zero
 * trailing bits (a non-canonical encoding no server could have issued).
 * On failure hash is zeroed. */
PL_MUST_CHECK int pcrypto_token_hash(const char *token, uint8_t hash[PCRYPTO_TOKEN_HASHBYTES]);

/* ---- Public E2E material ------------------------------------------------ */

#define PCRYPTO_SIGN_PKBYTES 32 /* Ed25519 public key */
#define PCRYPTO_SIGN_BYTES 64   /* Ed25519 detached signature */

/* Decodes the len characters at s (borrowed), canonical base64url without
 * padding, into out (cap bytes, the caller's) and sets *n (may be NULL) to
 * the decoded size. Canonical means: only A-Z a-z 0-9 - _, no '=', no
 * whitespace, no one-character tail and zero spare bits, so each byte
 * string has exactly one accepted spelling. Any thread.
 * Returns 0; PL_EMALFORMED when s is NULL or not canonical; PL_ETOOBIG when
 * it would decode to more than cap bytes. */
PL_MUST_CHECK int pcrypto_b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                        size_t *n);

/* pcrypto_b64url_decode() into a scratch buffer of its own, for callers
 * that only validate: sets *n (may be NULL) to the decoded size. Any thread.
 * Returns 0; PL_EMALFORMED; PL_ETOOBIG when it would decode to more than
 * max bytes; PL_ENOMEM. */
PL_MUST_CHECK int pcrypto_b64url_check(const char *s, size_t len, size_t max, size_t *n);

/* Checks a signed prekey: sig must be identity's Ed25519 signature over
 * "parley-spk-v1" || be32(spk_id) || spk_pub (crypto/PROTOCOL.md). All
 * buffers are borrowed. Any thread.
 * Returns 0 when it verifies; PL_EUNAUTH otherwise (also for a malformed
 * public key). */
PL_MUST_CHECK int pcrypto_spk_verify(const uint8_t identity[PCRYPTO_SIGN_PKBYTES], uint32_t spk_id,
                                     const uint8_t spk_pub[PCRYPTO_SIGN_PKBYTES],
                                     const uint8_t sig[PCRYPTO_SIGN_BYTES]);

/* Writes the SHA-256 of len bytes at p (borrowed) into out. Any thread. */
void pcrypto_sha256(uint8_t out[32], const void *p, size_t len);

/* Overwrites n bytes at p with zeros in a way the compiler cannot drop
 * (secrets on the stack, such as a token before its frame goes). */
void pcrypto_wipe(void *p, size_t n);

/* Compares n bytes at a and b (both borrowed) in time that depends only on
 * n, for secrets such as tokens. True when they are equal. Any thread. */
bool pcrypto_equal(const void *a, const void *b, size_t n);

#endif
