/* SPDX-License-Identifier: MIT */
/* Parley - end-to-end protocol library: X3DH, Double Ratchet, sender keys. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_CRYPTO_E2E_H
#define PL_CRYPTO_E2E_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The client side of Parley's end-to-end encryption, built only from
 * libsodium primitives. crypto/PROTOCOL.md is the wire-format spec; this
 * header is the C contract. The server never links this library.
 *
 * Threads: every function is safe from any thread once e2e_init() returned
 * 0, provided one object (identity, session, sender key) is not used by two
 * threads at once.
 *
 * Memory: objects are allocated with sodium_malloc (guard pages, wiped and
 * unmapped by their _free). Byte buffers the library returns through
 * `uint8_t **out` are heap-allocated; the caller owns them and releases them
 * with e2e_buf_free(), which wipes them first.
 *
 * Errors: 0 on success, negative on failure: PL_ENOMEM, PL_EINVAL (bad
 * argument), PL_EMALFORMED (input too short/long or not of our format),
 * PL_ETOOBIG, or one of the E2E_E* codes below.
 */

#define E2E_PROTOCOL_VERSION 2
#define E2E_KEYBYTES 32   /* Ed25519 / X25519 public keys, chain and root keys */
#define E2E_SIGBYTES 64   /* Ed25519 detached signatures */
#define E2E_MAX_SKIP 1000 /* skipped message keys kept per session / sender key */
#define E2E_MAX_PLAINTEXT (16u * 1024 * 1024)

/* Codes beyond common/err.h, in their own range. */
enum e2e_err {
    E2E_EAUTH = -1101,        /* ciphertext or header failed authentication */
    E2E_EREPLAY = -1102,      /* the message key was already used (duplicate) */
    E2E_ETOOMANYSKIP = -1103, /* would skip more than E2E_MAX_SKIP message keys */
    E2E_EBADSIG = -1104,      /* a signature did not verify */
    E2E_EVERSION = -1105,     /* unknown protocol version or message type */
    E2E_ENOKEY = -1106,       /* sender key id unknown (rotated or never received) */
    E2E_ENEWSESSION = -1107,  /* a prekey message for a different session: respond anew */
    E2E_EPASSPHRASE = -1108,  /* vault: wrong passphrase or damaged file */
    E2E_EDIGEST = -1109,      /* file: ciphertext digest mismatch */
    E2E_ECONTEXT = -1110      /* sender key bound to another conversation or device */
};

/* Message kinds: the high nibble of every wire message's first byte is
 * E2E_PROTOCOL_VERSION, the low nibble one of these. */
enum e2e_msg_type {
    E2E_MSG_PREKEY = 1,  /* X3DH header + ratchet message (contract "prekey") */
    E2E_MSG_RATCHET = 2, /* ratchet message (contract "message") */
    E2E_MSG_GROUP = 3,   /* sender-key message (contract "group") */
    E2E_MSG_SKDM = 4     /* sender-key distribution (inside a pairwise message) */
};

/* Initializes libsodium. Call once before anything else; repeat calls are
 * harmless. Returns 0 or PL_EINTERNAL. */
PL_MUST_CHECK int e2e_init(void);

/* Text for an E2E_E* code, or pl_strerror() for any other. Never NULL. */
const char *e2e_strerror(int rc);

/* The type of a wire message (its first byte), or a negative code
 * (PL_EMALFORMED when empty, E2E_EVERSION when not ours). */
int e2e_msg_type_of(const uint8_t *msg, size_t len);

/* Wipes and frees a buffer returned by this library. NULL is a no-op. */
void e2e_buf_free(uint8_t *p, size_t len);

/* ---- Keys ---------------------------------------------------------------- */

/* A device's long-term Ed25519 identity key pair. */
struct e2e_identity;

/* A fresh random identity. *out: free with e2e_identity_free(). */
PL_MUST_CHECK int e2e_identity_new(struct e2e_identity **out);
/* The identity whose Ed25519 seed is seed (32 bytes, borrowed). */
PL_MUST_CHECK int e2e_identity_from_seed(const uint8_t seed[32], struct e2e_identity **out);
/* Copies the 32-byte seed out (for the vault). Wipe it after use. */
void e2e_identity_seed(const struct e2e_identity *id, uint8_t seed[32]);
/* The 32-byte Ed25519 public key; valid as long as id. */
const uint8_t *e2e_identity_public(const struct e2e_identity *id);
void e2e_identity_free(struct e2e_identity *id);

/* An X25519 prekey (one-time, or the key part of a signed prekey). Caller
 * storage; wipe with e2e_prekey_wipe(). */
struct e2e_prekey {
    uint32_t id;
    uint8_t pub[E2E_KEYBYTES];
    uint8_t priv[E2E_KEYBYTES];
};

struct e2e_signed_prekey {
    struct e2e_prekey key;
    uint8_t sig[E2E_SIGBYTES]; /* Ed25519 by the identity, see below */
};

/* A fresh random prekey with the given id. */
PL_MUST_CHECK int e2e_prekey_generate(uint32_t id, struct e2e_prekey *out);
/* A fresh signed prekey: sig = Ed25519(identity, "parley-spk-v1" ||
 * be32(id) || pub), as the server checks it. */
PL_MUST_CHECK int e2e_signed_prekey_generate(const struct e2e_identity *id, uint32_t spk_id,
                                             struct e2e_signed_prekey *out);
/* 0 when sig is the identity key ik's signature over (spk_id, pub), else
 * E2E_EBADSIG. */
PL_MUST_CHECK int e2e_signed_prekey_verify(const uint8_t ik[32], uint32_t spk_id,
                                           const uint8_t pub[32], const uint8_t sig[64]);
void e2e_prekey_wipe(struct e2e_prekey *pk);

/* What GET /v1/users/{u}/keys returns for one device. */
struct e2e_bundle {
    uint8_t identity_key[E2E_KEYBYTES];
    uint32_t spk_id;
    uint8_t spk_pub[E2E_KEYBYTES];
    uint8_t spk_sig[E2E_SIGBYTES];
    int has_opk;
    uint32_t opk_id;
    uint8_t opk_pub[E2E_KEYBYTES];
};

/* ---- Pairwise sessions (X3DH + Double Ratchet) ---------------------------- */

struct e2e_session;

/* Starts a session with a peer device from its bundle (X3DH as the
 * initiator). Verifies the signed prekey first (E2E_EBADSIG). Until the
 * first reply decrypts, every message this session encrypts is a
 * E2E_MSG_PREKEY. *out: free with e2e_session_free(). */
PL_MUST_CHECK int e2e_session_initiate(const struct e2e_identity *me, const struct e2e_bundle *peer,
                                       struct e2e_session **out);

/* The X3DH header of a prekey message, so the responder can find the
 * prekeys it names. */
struct e2e_prekey_info {
    uint8_t identity_key[E2E_KEYBYTES]; /* the initiator's */
    uint8_t base_key[E2E_KEYBYTES];     /* its ephemeral key */
    uint32_t spk_id;
    int has_opk;
    uint32_t opk_id;
};
PL_MUST_CHECK int e2e_prekey_msg_parse(const uint8_t *msg, size_t len,
                                       struct e2e_prekey_info *info);

/* Creates the responder's session from a prekey message and decrypts it.
 * spk is the signed prekey the message names; opk its one-time prekey, or
 * NULL when it names none (the caller deletes a used one-time prekey after
 * success). On success *out is the new session and *pt / *ptlen the
 * plaintext (free with e2e_buf_free). Nothing is created on failure. */
PL_MUST_CHECK int e2e_session_respond(const struct e2e_identity *me, const struct e2e_prekey *spk,
                                      const struct e2e_prekey *opk, const uint8_t *msg, size_t len,
                                      struct e2e_session **out, uint8_t **pt, size_t *ptlen);

/* Encrypts pt into a new wire message *out (free with e2e_buf_free) and
 * reports its kind in *type (E2E_MSG_PREKEY or E2E_MSG_RATCHET). */
PL_MUST_CHECK int e2e_session_encrypt(struct e2e_session *s, const uint8_t *pt, size_t len,
                                      uint8_t **out, size_t *outlen, enum e2e_msg_type *type);

/* Decrypts a E2E_MSG_RATCHET or E2E_MSG_PREKEY message of this session.
 * Atomic: on failure the session is unchanged. Returns E2E_EAUTH (tampered
 * or not of this session), E2E_EREPLAY (already decrypted),
 * E2E_ETOOMANYSKIP, E2E_ENEWSESSION (a prekey message that starts another
 * session: use e2e_session_respond), E2E_EVERSION, PL_EMALFORMED. */
PL_MUST_CHECK int e2e_session_decrypt(struct e2e_session *s, const uint8_t *msg, size_t len,
                                      uint8_t **pt, size_t *ptlen);

/* The peer device's Ed25519 identity key; valid as long as s. */
const uint8_t *e2e_session_peer_identity(const struct e2e_session *s);

/* Persistence. serialize: *out owned by the caller (e2e_buf_free; it holds
 * secrets: store it only inside a vault). deserialize: PL_EMALFORMED or
 * E2E_EVERSION on foreign input. */
PL_MUST_CHECK int e2e_session_serialize(const struct e2e_session *s, uint8_t **out, size_t *outlen);
PL_MUST_CHECK int e2e_session_deserialize(const uint8_t *buf, size_t len, struct e2e_session **out);
void e2e_session_free(struct e2e_session *s);

/* ---- Groups: sender keys -------------------------------------------------- */

/* One device's sender key in one group: ours (can encrypt) or a member's
 * (received from its distribution message; can only decrypt). */
struct e2e_sender_key;

#define E2E_SKDM_BYTES 89

/* A fresh sender key (random id, chain key and Ed25519 signing key) for
 * our device sender_device in conversation conv_id: both are bound into
 * the distribution message and into every message's AD and signature
 * (PROTOCOL.md, version 2). A new one is made whenever a member leaves or
 * is removed (rotation). */
PL_MUST_CHECK int e2e_sender_key_new(uint64_t conv_id, uint64_t sender_device,
                                     struct e2e_sender_key **out);
/* The distribution message (E2E_SKDM_BYTES) for the key's current
 * iteration, to send to each member device through the pairwise sessions. */
PL_MUST_CHECK int e2e_sender_key_distribution(const struct e2e_sender_key *k,
                                              uint8_t out[E2E_SKDM_BYTES]);
/* A receiving state from a distribution message that arrived for
 * conversation conv_id through the pairwise session with device
 * sender_device. E2E_ECONTEXT when the message names another conversation
 * or device (moved by the server, or forged by another member);
 * E2E_EVERSION for a version-1 (73-byte) distribution. */
PL_MUST_CHECK int e2e_sender_key_from_distribution(const uint8_t *msg, size_t len, uint64_t conv_id,
                                                   uint64_t sender_device,
                                                   struct e2e_sender_key **out);
uint32_t e2e_sender_key_id(const struct e2e_sender_key *k);
/* Encrypts and signs one group message (PL_EINVAL on a receiving state). */
PL_MUST_CHECK int e2e_sender_key_encrypt(struct e2e_sender_key *k, const uint8_t *pt, size_t len,
                                         uint8_t **out, size_t *outlen);
/* Verifies and decrypts a group message that the envelope says device
 * sender_device sent in conversation conv_id; atomic. E2E_ECONTEXT when
 * the key belongs to another conversation or device, E2E_ENOKEY when the
 * message is under another key id, E2E_EBADSIG, E2E_EAUTH, E2E_EREPLAY,
 * E2E_ETOOMANYSKIP, E2E_EVERSION (another protocol version). */
PL_MUST_CHECK int e2e_sender_key_decrypt(struct e2e_sender_key *k, uint64_t conv_id,
                                         uint64_t sender_device, const uint8_t *msg, size_t len,
                                         uint8_t **pt, size_t *ptlen);
PL_MUST_CHECK int e2e_sender_key_serialize(const struct e2e_sender_key *k, uint8_t **out,
                                           size_t *outlen);
PL_MUST_CHECK int e2e_sender_key_deserialize(const uint8_t *buf, size_t len,
                                             struct e2e_sender_key **out);
void e2e_sender_key_free(struct e2e_sender_key *k);

/* ---- Files ----------------------------------------------------------------- */

#define E2E_FILE_CHUNK 65536 /* plaintext bytes per secretstream chunk */

/* Encrypts in (read to EOF) into out with a fresh random key, streaming in
 * E2E_FILE_CHUNK pieces (constant memory). key and digest (SHA-256 of all
 * of out's bytes) go into the E2E message. Returns -errno on I/O errors. */
PL_MUST_CHECK int e2e_file_encrypt(FILE *in, FILE *out, uint8_t key[32], uint8_t digest[32]);
/* Decrypts in into out. Fails with E2E_EAUTH on a tampered, reordered or
 * truncated file and E2E_EDIGEST when its digest differs; on failure the
 * caller must discard what was written to out. */
PL_MUST_CHECK int e2e_file_decrypt(FILE *in, FILE *out, const uint8_t key[32],
                                   const uint8_t digest[32]);

/* ---- Safety numbers ------------------------------------------------------- */

#define E2E_SAFETY_DIGITS 60
#define E2E_SAFETY_QR_BYTES 65

/* The safety number of two users, each given by a stable id (the user id as
 * a string) and the Ed25519 identity keys of their devices (n keys of 32
 * bytes, any order). Symmetric: swapping the users gives the same result.
 * digits: 60 digits + NUL; qr: the QR payload (may be NULL). */
PL_MUST_CHECK int e2e_safety_number(const char *id_a, const uint8_t *keys_a, size_t na,
                                    const char *id_b, const uint8_t *keys_b, size_t nb,
                                    char digits[E2E_SAFETY_DIGITS + 1],
                                    uint8_t qr[E2E_SAFETY_QR_BYTES]);

/* ---- Secrets at rest ------------------------------------------------------- */

/* argon2id cost; e2e_vault_params_default() gives libsodium's MODERATE
 * (3 passes, 256 MiB). */
struct e2e_vault_params {
    unsigned long long opslimit;
    size_t memlimit;
};
struct e2e_vault_params e2e_vault_params_default(void);

/* Seals pt under pass (crypto_pwhash argon2id -> crypto_secretbox) into
 * *out (free with e2e_buf_free). */
PL_MUST_CHECK int e2e_vault_seal(const char *pass, size_t passlen, const struct e2e_vault_params *p,
                                 const uint8_t *pt, size_t len, uint8_t **out, size_t *outlen);
/* Opens a vault; E2E_EPASSPHRASE on a wrong passphrase or damage. */
PL_MUST_CHECK int e2e_vault_open(const char *pass, size_t passlen, const uint8_t *in, size_t len,
                                 uint8_t **pt, size_t *ptlen);

/* A store key for many sealed records (PROTOCOL.md, "Secrets at rest"):
 * key = crypto_pwhash argon2id13 (pass, salt, p). PL_EMALFORMED when p is
 * outside libsodium's MIN..SENSITIVE limits, PL_ENOMEM. Wipe key after use. */
#define E2E_VAULT_SALTBYTES 16
PL_MUST_CHECK int e2e_vault_key_derive(const char *pass, size_t passlen,
                                       const uint8_t salt[E2E_VAULT_SALTBYTES],
                                       const struct e2e_vault_params *p, uint8_t key[32]);
/* One record: nonce (24, random) || XChaCha20-Poly1305(pt, ad) into *out
 * (free with e2e_buf_free). ad names the record (table, key), so a sealed
 * value moved to another record fails to open. */
PL_MUST_CHECK int e2e_vault_record_seal(const uint8_t key[32], const uint8_t *ad, size_t adlen,
                                        const uint8_t *pt, size_t len, uint8_t **out,
                                        size_t *outlen);
/* Opens a record: *pt (free with e2e_buf_free; one spare byte after *ptlen
 * may be set to 0 by the caller). E2E_EPASSPHRASE on a wrong key, damage
 * or a record moved; PL_EMALFORMED when too short. */
PL_MUST_CHECK int e2e_vault_record_open(const uint8_t key[32], const uint8_t *ad, size_t adlen,
                                        const uint8_t *in, size_t len, uint8_t **pt, size_t *ptlen);

#endif
