/* SPDX-License-Identifier: MIT */
/* Parley - the blob store and URL-signing key parleyd runs with.      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_MEDIA_H
#define PL_SRV_MEDIA_H

#include "config.h"

#include "crypto/urlsig.h"
#include "storage/blob.h"

/* Startup state of media: the URL-signing key and the blob store. */
struct srv_media {
    struct pcrypto_urlsig_key key;
    struct store_blob *blobs;
};

/*
 * Startup, before the workers: takes url_secret from the settings or,
 * when it is empty, from data_dir/url_secret, creating that file with a
 * random key on first start (so the key survives restarts, and nodes that
 * share data_dir or the setting accept each other's URLs); then opens the
 * blob store under blob_dir (default data_dir/blobs) with presigned URLs
 * signed by that key. Returns 0 or a negative code after logging why.
 */
PL_MUST_CHECK int srv_media_init(const struct srv_config *cfg, struct srv_media *m);
void srv_media_deinit(struct srv_media *m);

#endif
