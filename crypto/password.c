/* SPDX-License-Identifier: MIT */
/* Parley - argon2id password hashing and the timing-equalizing burn.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto.h"

#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

PL_LOG_TOPIC("crypto");

_Static_assert(PCRYPTO_PWHASH_STRBYTES == crypto_pwhash_STRBYTES, "hash buffer size");

/* The dummy hash pcrypto_password_burn() verifies against, and the cost it
 * was made with. A mutex rather than pthread_once because the hash depends
 * on the caller's parameters: pthread_once's routine takes none, and a
 * dummy built at another cost would make "unknown user" measurably faster
 * or slower than "wrong password", which is what the burn exists to hide. */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcrypto_pwhash_params dummy_params;
static char dummy_hash[PCRYPTO_PWHASH_STRBYTES];

int pcrypto_init(void)
{
    /* sodium_init() returns 1 when already initialized, which is fine. */
    if (sodium_init() < 0) {
        pl_log_error("libsodium failed to initialize");
        return PL_EINTERNAL;
    }
    return 0;
}

static bool params_valid(const struct pcrypto_pwhash_params *p)
{
    return p && p->opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
           p->opslimit <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
           p->memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
           p->memlimit <= crypto_pwhash_argon2id_MEMLIMIT_MAX;
}

int pcrypto_password_hash(const struct pcrypto_pwhash_params *p, const char *pw, size_t len,
                          char out[PCRYPTO_PWHASH_STRBYTES])
{
    out[0] = '\0';
    if (!params_valid(p) || (!pw && len > 0) || len > crypto_pwhash_PASSWD_MAX)
        return PL_EINVAL;
    /* With the arguments checked, libsodium's only remaining failure is
     * allocating the argon2 matrix. */
    if (crypto_pwhash_str_alg(out, pw ? pw : "", len, p->opslimit, p->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return PL_ENOMEM;
    }
    return 0;
}

int pcrypto_password_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash || (!pw && len > 0))
        return PL_EUNAUTH;
    /* libsodium reads the string up to its NUL; refuse anything that does
     * not fit the buffer a valid hash would occupy. */
    if (!memchr(hash, '\0', PCRYPTO_PWHASH_STRBYTES))
        return PL_EUNAUTH;
    if (crypto_pwhash_str_verify(hash, pw ? pw : "", len) == 0)
        return 0;
    return PL_EUNAUTH;
}

/* Makes sure dummy_hash holds a hash at cost *p. Called with dummy_lock
 * held. Returns 0 or the pcrypto_password_hash() code. */
static int dummy_refresh(const struct pcrypto_pwhash_params *p)
{
    if (dummy_hash[0] && dummy_params.opslimit == p->opslimit &&
        dummy_params.memlimit == p->memlimit)
        return 0;
    /* The dummy password is random so no real password can match it. */
    unsigned char secret[24];
    randombytes_buf(secret, sizeof(secret));
    int rc = pcrypto_password_hash(p, (const char *)secret, sizeof(secret), dummy_hash);
    sodium_memzero(secret, sizeof(secret));
    if (rc < 0)
        return rc;
    dummy_params = *p;
    return 0;
}

void pcrypto_password_burn(const struct pcrypto_pwhash_params *p, const char *pw, size_t len)
{
    char copy[PCRYPTO_PWHASH_STRBYTES];
    if (!params_valid(p))
        return;
    /* Only the check and the copy happen under the lock, so concurrent
     * burns run their argon2 passes in parallel. The one slow part under
     * the lock is building the dummy, once per process (per cost). */
    pthread_mutex_lock(&dummy_lock);
    int rc = dummy_refresh(p);
    if (rc == 0)
        memcpy(copy, dummy_hash, sizeof(copy));
    pthread_mutex_unlock(&dummy_lock);
    if (rc < 0) {
        /* Could not build the dummy (out of memory): hashing pw costs the
         * same as verifying it, so the timing still matches. */
        int hrc = pcrypto_password_hash(p, pw, len, copy);
        (void)hrc; /* the outcome is irrelevant; only the time spent counts */
    } else {
        int vrc = pcrypto_password_verify(copy, pw, len);
        (void)vrc; /* never matches: the dummy's password is random */
    }
    sodium_memzero(copy, sizeof(copy));
}
