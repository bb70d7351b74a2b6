/* SPDX-License-Identifier: MIT */
/* Parley - Web Push delivery: the dispatcher thread (issue 12).        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_WEBPUSH_H
#define PL_SRV_WEBPUSH_H

#include "config.h"

#include "api/api.h"

/*
 * Notifies browsers that hold no event stream about new messages. The
 * module wraps env->publish: every message.created event committed on
 * this node is copied onto a bounded queue (full: dropped and counted) and
 * the dispatcher, a thread of its own with its own PostgreSQL and Redis
 * connections and one libcurl handle, looks up the recipients' push
 * subscriptions (members who have not muted the chat), leaves out users
 * whom presence shows online, encrypts one message per subscription
 * (RFC 8291) and POSTs it with a VAPID Authorization (RFC 8030/8292).
 * 5xx, 429 and network failures are retried with exponential backoff
 * (Retry-After honoured); 404 and 410 delete the subscription. Nothing
 * here runs on the loop or on a request worker.
 */

struct srv_webpush;

/* Loads the VAPID key (setting vapid_private_key, else data_dir's
 * vapid_private_key file, generated on first start), sets
 * api_cfg->vapid_public_key, and when cfg->webpush is on starts the
 * dispatcher and wraps env->publish (call after srv_live_new() set it and
 * before requests arrive). *out is NULL when delivery is off. 0,
 * PL_EINVAL (bad key setting), PL_ENOMEM or -errno. */
PL_MUST_CHECK int srv_webpush_new(const struct srv_config *cfg, struct api_config *api_cfg,
                                  struct api_env *env, struct srv_webpush **out);
/* Stops the dispatcher (queued and pending retries are dropped) and
 * restores env->publish. Call once nothing publishes any more (after the
 * writer and the workers stopped). NULL is fine. */
void srv_webpush_free(struct srv_webpush *w, struct api_env *env);

/* Process-wide counters for /metrics; any thread. */
struct srv_webpush_stats {
    unsigned long long queued, dropped, sent, failed, retried, gone, skipped_online;
};
void srv_webpush_stats(struct srv_webpush_stats *out);

#endif
