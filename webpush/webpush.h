/* SPDX-License-Identifier: MIT */
/* Parley - Web Push crypto: VAPID (RFC 8292), aes128gcm (RFC 8188/8291). */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_WEBPUSH_H
#define PL_WEBPUSH_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * webpush/ is pure crypto over OpenSSL: no storage, no HTTP, no threads of
 * its own. Every function may be called from any thread; nothing here
 * blocks except on the CPU.
 *
 * Sizes: a P-256 public key travels as the 65-byte uncompressed point
 * (0x04 || X || Y), a private key as its 32-byte scalar, a push
 * subscription's auth secret is 16 bytes (RFC 8291 section 3.2).
 */

#define WEBPUSH_PUBLIC_LEN 65
#define WEBPUSH_PRIVATE_LEN 32
#define WEBPUSH_AUTH_LEN 16
#define WEBPUSH_SALT_LEN 16
/* RFC 8188 header: salt(16) rs(4) idlen(1), then the key id. */
#define WEBPUSH_ECE_HEADER_LEN 21
/* The record size parleyd sends with (RFC 8291 section 4: 4096). */
#define WEBPUSH_RS 4096
/* Most plaintext one push message carries: RFC 8291 section 4 bounds the
 * whole body to 4096 bytes, of which the header takes 21 + 65 (the key id
 * is the sender's public key) and the record's delimiter and tag 17. */
#define WEBPUSH_MAX_PLAINTEXT 3993

/* ---- base64url without padding (RFC 4648 section 5) ---- */

/* Encodes n bytes into out (NUL-terminated). Returns the length, or
 * PL_ETOOBIG when cap is too small (4 * ceil(n / 3) + 1 is always enough). */
PL_MUST_CHECK int webpush_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Decodes in (padding '=' tolerated, no other characters) into out.
 * Returns the byte count, PL_EINVAL for a malformed string or PL_ETOOBIG
 * when it does not fit in cap. */
PL_MUST_CHECK int webpush_b64url_decode(const char *in, uint8_t *out, size_t cap);

/* ---- keys (vapid.c) ---- */

struct webpush_key;

/* A fresh P-256 key pair. 0 or PL_ENOMEM/PL_EINTERNAL; free with
 * webpush_key_free(). */
PL_MUST_CHECK int webpush_key_generate(struct webpush_key **out);
/* The key pair of a 32-byte private scalar (borrowed). 0, PL_EINVAL (not
 * a valid P-256 scalar) or PL_ENOMEM. */
PL_MUST_CHECK int webpush_key_from_private(const uint8_t d[WEBPUSH_PRIVATE_LEN],
                                           struct webpush_key **out);
void webpush_key_free(struct webpush_key *k);
void webpush_key_private(const struct webpush_key *k, uint8_t d[WEBPUSH_PRIVATE_LEN]);
void webpush_key_public(const struct webpush_key *k, uint8_t pub[WEBPUSH_PUBLIC_LEN]);
/* Whether pub is a point on P-256 (a subscription's p256dh). */
bool webpush_public_valid(const uint8_t pub[WEBPUSH_PUBLIC_LEN]);

/* ---- VAPID (RFC 8292) ---- */

/* The Authorization header value "vapid t=<JWT>, k=<public key>" for a
 * push service at aud (its origin, "https://host[:port]"), signed ES256
 * with k, expiring at exp (Unix seconds), with sub as the contact
 * ("mailto:..." or an https URL; may be empty: then no sub claim).
 * Written into out (NUL-terminated). 0, PL_EINVAL (aud or sub would need
 * JSON escaping), PL_ETOOBIG (cap) or PL_EINTERNAL. */
PL_MUST_CHECK int webpush_vapid_header(const struct webpush_key *k, const char *aud,
                                       const char *sub, int64_t exp, char *out, size_t cap);
/* The push service's side, for tests: checks a header made by
 * webpush_vapid_header(): its JWT signature under the key in k=, that its
 * aud is aud and that it has not expired at now (Unix seconds). Copies the
 * key into pub when it is not NULL. 0, PL_EINVAL (malformed) or
 * PL_EFORBIDDEN (signature, aud or exp wrong). */
PL_MUST_CHECK int webpush_vapid_verify(const char *header, const char *aud, int64_t now,
                                       uint8_t pub[WEBPUSH_PUBLIC_LEN]);

/* ---- aes128gcm content coding (ece.c) ---- */

/* RFC 8188 encryption as one record of size rs (plaintext + delimiter +
 * tag must fit in it): header with salt, rs and keyid (keyid_len < 256),
 * then the record. *out is malloc'ed (free()), *out_len its size.
 * 0, PL_ETOOBIG (does not fit one record), PL_EINVAL or PL_ENOMEM. */
PL_MUST_CHECK int webpush_ece_encrypt(const uint8_t *ikm, size_t ikm_len,
                                      const uint8_t salt[WEBPUSH_SALT_LEN], uint32_t rs,
                                      const uint8_t *keyid, size_t keyid_len, const uint8_t *pt,
                                      size_t pt_len, uint8_t **out, size_t *out_len);
/* RFC 8188 decryption of any number of records. *pt is malloc'ed (free()).
 * 0, PL_EINVAL (malformed, or authentication failed) or PL_ENOMEM. */
PL_MUST_CHECK int webpush_ece_decrypt(const uint8_t *ikm, size_t ikm_len, const uint8_t *body,
                                      size_t len, uint8_t **pt, size_t *pt_len);

/* Fixed inputs of webpush_encrypt(), for the RFC's test vectors only: the
 * salt and the application server's ephemeral key. */
struct webpush_fixed {
    const uint8_t *salt; /* WEBPUSH_SALT_LEN bytes */
    const struct webpush_key *as_key;
};

/* RFC 8291 message encryption for a subscription (ua_public, auth), with a
 * fresh salt and ephemeral key (or fixed's, for tests; NULL otherwise).
 * *out is malloc'ed (free()). 0, PL_EINVAL (bad ua_public), PL_ETOOBIG
 * (over WEBPUSH_MAX_PLAINTEXT) or PL_ENOMEM. */
PL_MUST_CHECK int webpush_encrypt(const uint8_t ua_public[WEBPUSH_PUBLIC_LEN],
                                  const uint8_t auth[WEBPUSH_AUTH_LEN], const uint8_t *pt,
                                  size_t pt_len, const struct webpush_fixed *fixed, uint8_t **out,
                                  size_t *out_len);
/* The user agent's side (tests): decrypts a body made for ua (its private
 * key) and auth. *pt is malloc'ed (free()). 0, PL_EINVAL or PL_ENOMEM. */
PL_MUST_CHECK int webpush_decrypt(const struct webpush_key *ua,
                                  const uint8_t auth[WEBPUSH_AUTH_LEN], const uint8_t *body,
                                  size_t len, uint8_t **pt, size_t *pt_len);

/* ---- endpoints ---- */

/* The origin "scheme://host[:port]" of an endpoint URL (a VAPID JWT's
 * aud), into out. Only https URLs pass, and http ones to a loopback host
 * (127.0.0.1, [::1], localhost) when allow_loopback_http is set (tests).
 * 0, PL_EINVAL (not such a URL: no host, user info, spaces, a fragment)
 * or PL_ETOOBIG (cap). */
PL_MUST_CHECK int webpush_endpoint_origin(const char *endpoint, bool allow_loopback_http, char *out,
                                          size_t cap);

/* ---- delivery to a push service (send.c, libcurl) ---- */

struct webpush_client;

/* One message for a push service (RFC 8030 section 5); all borrowed. */
struct webpush_request {
    const char *endpoint;
    const char *authorization; /* webpush_vapid_header() */
    unsigned ttl_s;
    const char *urgency; /* "very-low", "low", "normal" or "high" */
    const uint8_t *body; /* aes128gcm */
    size_t len;
};

struct webpush_response {
    long status;            /* HTTP status */
    unsigned retry_after_s; /* Retry-After in seconds; 0 when absent */
};

/* A client owns one libcurl handle and reuses its connections. One thread
 * at a time per client; blocking. timeout_ms bounds each request. 0 or
 * PL_ENOMEM. Free with webpush_client_free(). */
PL_MUST_CHECK int webpush_client_new(unsigned timeout_ms, struct webpush_client **out);
void webpush_client_free(struct webpush_client *c);
/* POSTs req and fills res. 0 when a response arrived (whatever its
 * status), PL_ETIMEDOUT, or PL_EUNAVAIL (could not connect, reset). */
PL_MUST_CHECK int webpush_client_post(struct webpush_client *c, const struct webpush_request *req,
                                      struct webpush_response *res);

#endif
