/* SPDX-License-Identifier: MIT */
/* Parley - the E2E key directory and e2e message ciphertexts.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_KEYS_H
#define PL_STORE_KEYS_H

#include "pg.h"

/*
 * Public keys of devices (identity key, signed prekey, one-time prekeys)
 * and the per-device ciphertexts of e2e messages. Keys and ciphertexts
 * are stored as the base64url text the API validated; storage never looks
 * inside them.
 *
 * "Active keyed device": a device that has uploaded keys and is not logged
 * out (devices.revoked_at IS NULL). Only those are listed, handed out in
 * bundles, or required as recipients.
 *
 * Worker or writer thread (blocking). Strings returned come from the
 * arena a. Besides the codes named, each may return the common codes of
 * pg.h.
 */

struct store_spk {
    uint32_t id;
    const char *public_key;
    const char *signature;
};

/* Inside a transaction: locks the device's key row and returns its
 * identity key in *identity (arena), or NULL when it has none yet. */
PL_MUST_CHECK int store_pg_keys_lock(struct store_pg *pg, struct pl_arena *a, int64_t device_id,
                                     const char **identity);

/* Inside a transaction: stores the device's identity key and signed
 * prekey (all strings borrowed). replace_prekeys drops every one-time
 * prekey of the device (identity change). */
PL_MUST_CHECK int store_pg_keys_put(struct store_pg *pg, int64_t device_id, int64_t user_id,
                                    const char *identity, const struct store_spk *spk,
                                    bool replace_prekeys);

/* Inside a transaction: adds one-time prekeys. rows_json is a JSON array
 * of {"id": uint32, "k": "<public key>"}. Returns 0 or PL_ECONFLICT when
 * one of the ids is stored for the device already. */
PL_MUST_CHECK int store_pg_prekeys_add(struct store_pg *pg, int64_t device_id,
                                       const char *rows_json);

/* The number of one-time prekeys left and the signed prekey id
 * (*has_keys false when the device has uploaded nothing). */
PL_MUST_CHECK int store_pg_prekeys_count(struct store_pg *pg, int64_t device_id, int64_t *count,
                                         int64_t *spk_id, bool *has_keys);

struct store_device_key {
    int64_t user_id;
    int64_t device_id;
    const char *identity_key;
    struct store_spk spk;  /* bundles only */
    bool has_otpk;         /* bundles only */
    struct store_spk otpk; /* bundles only (signature unused) */
};

/* The active keyed devices of user_id, by device id. */
PL_MUST_CHECK int store_pg_devices_keyed(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                         struct store_device_key **out, unsigned *n);

/* One bundle per active keyed device of user_id other than skip_device,
 * only those in only[0..n_only) when n_only > 0, each taking (deleting)
 * one one-time prekey: concurrent callers never get the same one (FOR
 * UPDATE SKIP LOCKED); none left leaves has_otpk false. A write: never
 * retried. */
PL_MUST_CHECK int store_pg_bundles_take(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                        int64_t skip_device, const int64_t *only, unsigned n_only,
                                        struct store_device_key **out, unsigned *n);

/* The users sharing at least one conversation with user_id (without
 * user_id), ascending. */
PL_MUST_CHECK int store_pg_keys_peers(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                      int64_t **out, unsigned *n);

/* For an e2e send: the conversation's encryption ("none"/"e2e", arena),
 * and the active keyed devices of every member (user_id and device_id
 * filled; by user, then device). Returns PL_ENOTFOUND when user_id is not
 * a member (or there is no such conversation). */
PL_MUST_CHECK int store_pg_e2e_audience(struct store_pg *pg, struct pl_arena *a,
                                        int64_t conversation_id, int64_t user_id,
                                        const char **encryption, struct store_device_key **out,
                                        unsigned *n);

/* Inside the send transaction, before the messages are inserted (the
 * foreign keys are deferred): rows_json is a JSON array of {"c":
 * conversation_id, "s": seq, "d": device_id, "t": type, "x": ciphertext};
 * media_json of {"c", "s", "m": media_id}. Either may be NULL. */
PL_MUST_CHECK int store_pg_e2e_insert(struct store_pg *pg, const char *rows_json,
                                      const char *media_json);

/* One device's ciphertext of a message. */
struct store_e2e_ct {
    int64_t seq;
    const char *type;
    const char *ciphertext;
};

/* The ciphertexts addressed to device_id among the messages seqs[0..n) of
 * conversation_id, ascending by seq. */
PL_MUST_CHECK int store_pg_e2e_for_device(struct store_pg *pg, struct pl_arena *a,
                                          int64_t conversation_id, int64_t device_id,
                                          const int64_t *seqs, unsigned n,
                                          struct store_e2e_ct **out, unsigned *n_out);

#endif
