/* SPDX-License-Identifier: MIT */
/* Parley - every setting of parleyd, validated once at startup.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_CONFIG_H
#define PL_SRV_CONFIG_H

#include "api/api.h"
#include "http/http.h"

#include <stdbool.h>
#include <stdio.h>

/* The validated settings. Built once by srv_config_load() and read-only
 * afterwards, so any thread may read it. Strings are owned by the struct
 * (free with srv_config_deinit). */
struct srv_config {
    char *bind;
    unsigned port, tls_port;
    char *tls_cert, *tls_key;
    char *admin_bind, *metrics_token;
    unsigned admin_port;
    char *pg;
    char *pg_standby; /* empty: no standby */
    unsigned pg_standby_poll_ms;
    char *redis;
    char *redis_cluster; /* seed list; empty: single Redis */
    char *relay_channel; /* the nodes' event relay (server/live.c) */
    unsigned pg_connect_timeout_s, redis_timeout_ms;
    unsigned workers, queue_max;
    struct http_limits http;
    struct http_br_config http_br;
    unsigned long long pwhash_opslimit;
    size_t pwhash_memlimit;
    unsigned pwhash_threads, pwhash_queue;
    struct api_limits limits;
    unsigned group_max_members;
    unsigned presence_timeout_s;
    unsigned edit_window_s, delete_window_s; /* message edit / delete for everyone */
    bool requests_hold_invites;              /* issue 12: pending requests hold invites */
    unsigned expire_unit_ms;                 /* issue 12: disappearing messages (testing) */
    unsigned expiry_interval_ms;             /* issue 12: sweeper period, 0 = off */
    unsigned presence_subs_max, presence_sub_ttl_s;
    unsigned typing_max_members, typing_interval_ms;
    unsigned sync_max_wait_ms;
    unsigned sse_keepalive_ms;
    size_t stream_max_bytes;
    unsigned event_retention_s;
    unsigned writer_batch, writer_queue, writer_connections, writer_hold_us;
    char *search_config;
    unsigned archive_after_s, archive_interval_s;
    char *archive_crash_at;
    char *archive_only;
    char *admins;   /* usernames, comma-separated */
    bool analytics; /* off: the server neither aggregates nor samples */
    unsigned analytics_interval_ms, analytics_batch, analytics_retention_days;
    unsigned analytics_min_cohort;
    unsigned export_url_ttl_s;
    size_t export_max_bytes;
    char *analytics_crash_at;
    /* The words after `admin` / `analytics` and the values of --from and
     * --to; borrowed from argv. */
    const char *cmd_words[3];
    unsigned n_cmd_words;
    const char *cmd_from, *cmd_to;
    char *node_id;
    char *port_file;
    char *data_dir, *blob_dir, *public_url, *url_secret;
    char *web_dir;
    char *blob_base_url;
    char *blob_backend; /* "fs" or "s3" */
    char *s3_endpoint, *s3_region, *s3_bucket, *s3_access_key, *s3_secret_key;
    bool s3_path_style;
    size_t s3_part_size;
    bool s3_direct_downloads; /* presigned GETs to S3, not parleyd's /v1/blobs */
    size_t media_max_size;
    unsigned media_url_ttl_s, media_pending_ttl_s;
    bool webpush, webpush_allow_http; /* issue 12: Web Push */
    char *vapid_private_key, *vapid_subject, *webpush_urgency;
    unsigned webpush_queue, webpush_ttl_s, webpush_max_attempts, webpush_retry_base_ms;
    unsigned webpush_timeout_ms;
    char *log;
    char *config;
    bool access_log;
};

enum srv_command {
    SRV_CMD_SERVE,
    SRV_CMD_MIGRATE,
    SRV_CMD_ARCHIVE,
    SRV_CMD_ADMIN,
    SRV_CMD_ANALYTICS,
    SRV_CMD_HELP,
    SRV_CMD_VERSION
};

/* Applies, in increasing precedence: defaults, the config file (config
 * setting, from PARLEY_CONFIG or --config), PARLEY_* environment variables,
 * command-line flags. Returns 0, or PL_EINVAL after printing to err which
 * setting is wrong and why. The only place getenv() is called. */
PL_MUST_CHECK int srv_config_load(int argc, char **argv, struct srv_config *cfg,
                                  enum srv_command *cmd, FILE *err);
void srv_config_deinit(struct srv_config *cfg);

/* Prints usage and the settings table (name, env, default, range, help). */
void srv_config_usage(FILE *out);

#endif
