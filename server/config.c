/* SPDX-License-Identifier: MIT */
/* Parley - every setting of parleyd, validated once at startup.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "config.h"

/* meson passes the source tree's web/dist; a bare compile gets a relative one. */
#ifndef PL_WEB_DIR_DEFAULT
#define PL_WEB_DIR_DEFAULT "web/dist"
#endif

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * One row per setting (redis static_configs[]): the flag name, the
 * environment variable, the type, the default, the accepted range and one
 * line of help. The same row serves flags (--name value, --name=value, with
 * '-' or '_'), the environment and config files ("name = value" lines, '#'
 * comments), so a setting cannot be spelled differently in different places.
 */
enum type { T_STR, T_UINT, T_SIZE, T_U64, T_BOOL };

struct setting {
    const char *name;
    const char *env;
    enum type type;
    const char *def;
    unsigned long long min, max;
    size_t off;
    const char *help;
};

#define OFF(f) offsetof(struct srv_config, f)
#define KIB 1024ull
#define MIB (1024ull * 1024ull)

static const struct setting table[] = {
    {"config", "PARLEY_CONFIG", T_STR, "", 0, 0, OFF(config), "config file to read"},
    {"bind", "PARLEY_BIND", T_STR, "127.0.0.1", 0, 0, OFF(bind), "address to listen on"},
    {"port", "PARLEY_PORT", T_UINT, "8080", 0, 65535, OFF(port),
     "cleartext port: HTTP/1.1 and h2c (0 = any free port)"},
    {"tls_port", "PARLEY_TLS_PORT", T_UINT, "8443", 0, 65535, OFF(tls_port),
     "TLS port: h2 and HTTP/1.1 via ALPN (0 = any free port)"},
    {"tls_cert", "PARLEY_TLS_CERT", T_STR, "", 0, 0, OFF(tls_cert),
     "PEM certificate chain; no TLS listener when empty"},
    {"tls_key", "PARLEY_TLS_KEY", T_STR, "", 0, 0, OFF(tls_key), "PEM private key"},
    {"admin_bind", "PARLEY_ADMIN_BIND", T_STR, "127.0.0.1", 0, 0, OFF(admin_bind),
     "address of the admin listener"},
    {"admin_port", "PARLEY_ADMIN_PORT", T_UINT, "0", 0, 65535, OFF(admin_port),
     "admin listener port (HTTP/1.1 and h2c): /metrics without a token, /healthz, /readyz "
     "(0 = none)"},
    {"metrics_token", "PARLEY_METRICS_TOKEN", T_STR, "", 0, 0, OFF(metrics_token),
     "bearer token that opens /metrics on the public ports (empty: only the admin listener "
     "serves it)"},
    {"pg", "PARLEY_PG", T_STR, "postgresql:///parley", 0, 0, OFF(pg),
     "PostgreSQL connection string (libpq conninfo or URI)"},
    {"pg_standby", "PARLEY_PG_STANDBY", T_STR, "", 0, 0, OFF(pg_standby),
     "connection string of a streaming hot standby of pg: history pages, search, conversation "
     "lists and analytics read there once it has replayed the caller's last write (empty = "
     "none)"},
    {"pg_standby_poll_ms", "PARLEY_PG_STANDBY_POLL_MS", T_UINT, "100", 10, 60000,
     OFF(pg_standby_poll_ms), "how often the standby's replay position is read"},
    {"pg_connect_timeout", "PARLEY_PG_CONNECT_TIMEOUT", T_UINT, "2", 1, 60,
     OFF(pg_connect_timeout_s), "seconds to wait for a PostgreSQL connection"},
    {"redis", "PARLEY_REDIS", T_STR, "127.0.0.1:6379", 0, 0, OFF(redis),
     "Redis address: host:port or /path/to/socket"},
    {"redis_cluster", "PARLEY_REDIS_CLUSTER", T_STR, "", 0, 0, OFF(redis_cluster),
     "Redis Cluster seed nodes, host:port,host:port (empty: the single Redis at redis)"},
    {"relay_channel", "PARLEY_RELAY_CHANNEL", T_STR, "parley:events", 0, 0, OFF(relay_channel),
     "Redis pub/sub channel on which the nodes of one deployment relay events to each other"},
    {"redis_timeout_ms", "PARLEY_REDIS_TIMEOUT_MS", T_UINT, "1000", 10, 60000,
     OFF(redis_timeout_ms), "timeout of one Redis command"},
    {"workers", "PARLEY_WORKERS", T_UINT, "4", 1, 256, OFF(workers),
     "handler threads, each with its own PostgreSQL and Redis connection"},
    {"queue_max", "PARLEY_QUEUE_MAX", T_UINT, "1024", 1, 1000000, OFF(queue_max),
     "requests waiting for a worker before new ones get 503"},
    {"max_body", "PARLEY_MAX_BODY", T_SIZE, "1048576", 1, 1024 * MIB, OFF(http.max_body),
     "largest request body in bytes (413 past it)"},
    {"max_header_bytes", "PARLEY_MAX_HEADER_BYTES", T_SIZE, "16384", 1024, MIB,
     OFF(http.max_header_bytes), "largest total of request header names and values (431)"},
    {"max_headers", "PARLEY_MAX_HEADERS", T_UINT, "100", 8, 10000, OFF(http.max_headers),
     "most request header fields (431)"},
    {"conn_rate", "PARLEY_CONN_RATE", T_UINT, "200", 0, 1000000, OFF(http.conn_rate),
     "requests per second per connection, 0 = unlimited (429)"},
    {"conn_burst", "PARLEY_CONN_BURST", T_UINT, "400", 1, 1000000, OFF(http.conn_burst),
     "request burst per connection before conn_rate applies"},
    {"h2_max_streams", "PARLEY_H2_MAX_STREAMS", T_UINT, "128", 1, 10000, OFF(http.h2_max_streams),
     "HTTP/2 concurrent streams per connection"},
    {"h2_max_resets", "PARLEY_H2_MAX_RESETS", T_UINT, "200", 1, 1000000, OFF(http.h2_max_resets),
     "client stream resets per second before GOAWAY (Rapid Reset)"},
    {"idle_timeout", "PARLEY_IDLE_TIMEOUT", T_UINT, "60", 1, 86400, OFF(http.idle_timeout_s),
     "seconds before an idle connection is closed"},
    {"header_timeout", "PARLEY_HEADER_TIMEOUT", T_UINT, "20", 0, 3600, OFF(http.header_timeout_s),
     "seconds a request's headers may take to arrive (HTTP/1.1 and h2; 0 = no limit)"},
    {"body_timeout", "PARLEY_BODY_TIMEOUT", T_UINT, "20", 0, 3600, OFF(http.body_timeout_s),
     "window in seconds over which a request body must keep body_min_rate (0 = no limit)"},
    {"body_min_rate", "PARLEY_BODY_MIN_RATE", T_UINT, "500", 0, 1000000000, OFF(http.body_min_rate),
     "bytes per second a request body must average over each body_timeout window"},
    {"max_conns_per_ip", "PARLEY_MAX_CONNS_PER_IP", T_UINT, "1024", 0, 10000000,
     OFF(http.max_conns_per_ip), "open connections per client address (0 = unlimited)"},
    {"conn_ip_exempt", "PARLEY_CONN_IP_EXEMPT", T_STR, "127.0.0.1,::1", 0, 0,
     OFF(http.conn_ip_exempt),
     "client addresses max_conns_per_ip does not apply to (comma-separated; e.g. a local proxy)"},
    {"max_conns", "PARLEY_MAX_CONNS", T_UINT, "200000", 1, 10000000, OFF(http.max_conns),
     "open connections per listener"},
    {"pwhash_opslimit", "PARLEY_PWHASH_OPSLIMIT", T_U64, "2", 1, 64, OFF(pwhash_opslimit),
     "argon2id passes per password hash"},
    {"pwhash_memlimit", "PARLEY_PWHASH_MEMLIMIT", T_SIZE, "67108864", 8 * KIB, 4096 * MIB,
     OFF(pwhash_memlimit), "argon2id memory per password hash in bytes"},
    {"pwhash_threads", "PARLEY_PWHASH_THREADS", T_UINT, "2", 1, 64, OFF(pwhash_threads),
     "threads that hash passwords (logins, registrations), apart from the workers"},
    {"pwhash_queue", "PARLEY_PWHASH_QUEUE", T_UINT, "64", 1, 100000, OFF(pwhash_queue),
     "password hashes waiting for a hashing thread before new ones get 503"},
    {"login_fail_account", "PARLEY_LOGIN_FAIL_ACCOUNT", T_UINT, "5", 0, 1000000,
     OFF(limits.login_fail_account),
     "failed logins of one account before backoff starts (429; 0 = never)"},
    {"login_fail_ip", "PARLEY_LOGIN_FAIL_IP", T_UINT, "20", 0, 1000000, OFF(limits.login_fail_ip),
     "failed logins from one address before backoff starts (429; 0 = never)"},
    {"login_backoff_ms", "PARLEY_LOGIN_BACKOFF_MS", T_UINT, "1000", 1, 3600000,
     OFF(limits.login_backoff_ms), "first backoff after the threshold; doubles per failure"},
    {"login_backoff_max", "PARLEY_LOGIN_BACKOFF_MAX", T_UINT, "900", 1, 86400,
     OFF(limits.login_backoff_max_s), "longest login backoff in seconds"},
    {"register_per_ip", "PARLEY_REGISTER_PER_IP", T_UINT, "10", 0, 1000000,
     OFF(limits.register_per_ip), "registrations per address per hour (429; 0 = unlimited)"},
    {"limit_exempt", "PARLEY_LIMIT_EXEMPT", T_STR, "127.0.0.1,::1", 0, 0, OFF(limits.exempt),
     "comma-separated client addresses that per-address limits skip (local tools, benches)"},
    {"session_ttl", "PARLEY_SESSION_TTL", T_UINT, "2592000", 1, 315360000,
     OFF(limits.session_ttl_s), "seconds of inactivity after which a session expires"},
    {"max_devices", "PARLEY_MAX_DEVICES", T_UINT, "16", 1, 100000, OFF(limits.max_devices),
     "active sessions (devices) per user (409 past it)"},
    {"token_cache_size", "PARLEY_TOKEN_CACHE_SIZE", T_UINT, "131072", 0, 4194304,
     OFF(limits.token_cache_size),
     "bearer token lookups kept in memory, 4 bytes each up front and 72 more once used (0 = ask "
     "PostgreSQL every time); size it to the devices that use one node within token_cache_ms"},
    {"token_cache_ms", "PARLEY_TOKEN_CACHE_MS", T_UINT, "30000", 0, 60000,
     OFF(limits.token_cache_ms),
     "ms a cached token lookup is trusted (at most session_ttl/2); bounds how long another node "
     "accepts a revoked token when the revoking node could not publish the revocation (a node "
     "that lost its own relay subscription holds its cache: parley_token_cache_held)"},
    {"loop_sends_max_load", "PARLEY_LOOP_SENDS_MAX_LOAD", T_UINT, "500", 0, 1000,
     OFF(limits.loop_sends_max_load),
     "the event loop validates and queues a text send itself (token cached, no sends quota) "
     "while its load, parley_loop_load_permille, is below this; past it a worker does (0 = "
     "always a worker)"},
    {"keys_fetch_per_min", "PARLEY_KEYS_FETCH_PER_MIN", T_UINT, "300", 0, 1000000,
     OFF(limits.keys_fetch_per_min),
     "prekey bundle fetches per requesting user per minute (429; 0 = unlimited)"},
    {"keys_target_per_min", "PARLEY_KEYS_TARGET_PER_MIN", T_UINT, "120", 0, 1000000,
     OFF(limits.keys_target_per_min),
     "prekey bundle fetches of one target user per minute, all requesters (429; 0 = unlimited)"},
    {"quota_streams", "PARLEY_QUOTA_STREAMS", T_UINT, "32", 0, 100000, OFF(limits.streams),
     "open event streams per user on all nodes (429; 0 = unlimited)"},
    {"quota_sends_per_s", "PARLEY_QUOTA_SENDS_PER_S", T_UINT, "20", 0, 1000000,
     OFF(limits.sends_per_s), "message sends per user per second (429; 0 = unlimited)"},
    {"quota_searches_per_s", "PARLEY_QUOTA_SEARCHES_PER_S", T_UINT, "5", 0, 1000000,
     OFF(limits.searches_per_s), "searches per user per second (429; 0 = unlimited)"},
    {"quota_groups_per_hour", "PARLEY_QUOTA_GROUPS_PER_HOUR", T_UINT, "50", 0, 1000000,
     OFF(limits.groups_per_hour), "group creations per user per hour (429; 0 = unlimited)"},
    {"quota_media_bytes_per_day", "PARLEY_QUOTA_MEDIA_BYTES_PER_DAY", T_SIZE, "2147483648", 0,
     1ull << 50, OFF(limits.media_bytes_per_day),
     "media bytes a user may upload per day (429; 0 = unlimited)"},
    {"quota_user_searches_per_min", "PARLEY_QUOTA_USER_SEARCHES_PER_MIN", T_UINT, "60", 0, 1000000,
     OFF(limits.user_searches_per_min),
     "user searches by name prefix per user per minute (429; 0 = unlimited)"},
    {"group_max_members", "PARLEY_GROUP_MAX_MEMBERS", T_UINT, "1024", 2, 100000,
     OFF(group_max_members), "members per group conversation (422 past it)"},
    {"presence_timeout", "PARLEY_PRESENCE_TIMEOUT", T_UINT, "60", 2, 3600, OFF(presence_timeout_s),
     "seconds after the last heartbeat that a user counts as online"},
    {"presence_subscriptions_max", "PARLEY_PRESENCE_SUBSCRIPTIONS_MAX", T_UINT, "256", 1, 10000,
     OFF(presence_subs_max), "users one device may subscribe to for presence (422 past it)"},
    {"presence_subscription_ttl", "PARLEY_PRESENCE_SUBSCRIPTION_TTL", T_UINT, "3600", 1, 604800,
     OFF(presence_sub_ttl_s),
     "seconds a presence subscription lasts (it also ends with the device's last stream)"},
    {"typing_max_members", "PARLEY_TYPING_MAX_MEMBERS", T_UINT, "256", 2, 100000,
     OFF(typing_max_members), "no typing events in conversations with more members"},
    {"typing_interval_ms", "PARLEY_TYPING_INTERVAL_MS", T_UINT, "300", 0, 60000,
     OFF(typing_interval_ms), "at most one typing event per user and conversation per interval"},
    {"sync_max_wait_ms", "PARLEY_SYNC_MAX_WAIT_MS", T_UINT, "30000", 0, 300000,
     OFF(sync_max_wait_ms), "longest /v1/sync long-poll"},
    {"sse_keepalive_ms", "PARLEY_SSE_KEEPALIVE_MS", T_UINT, "15000", 100, 600000,
     OFF(sse_keepalive_ms), "keep-alive comment on an idle event stream after this long"},
    {"stream_max_bytes", "PARLEY_STREAM_MAX_BYTES", T_SIZE, "1048576", 4096, 1024 * MIB,
     OFF(stream_max_bytes), "unsent bytes an event stream may queue before it is closed"},
    {"event_retention", "PARLEY_EVENT_RETENTION", T_UINT, "604800", 60, 31536000,
     OFF(event_retention_s), "seconds events are kept for resuming streams"},
    {"sse_br_quality", "PARLEY_SSE_BR_QUALITY", T_UINT, "5", 0, 11, OFF(http_br.stream_quality),
     "brotli quality of compressed event streams (memory per stream: ~7 KiB at 0-1, ~270 KiB "
     "from 2)"},
    {"sse_br_max_streams", "PARLEY_SSE_BR_MAX_STREAMS", T_UINT, "1000", 0, 1000000,
     OFF(http_br.stream_max),
     "compressed event streams open at once; past it streams go uncompressed (0 = never)"},
    {"writer_batch", "PARLEY_WRITER_BATCH", T_UINT, "256", 1, 10000, OFF(writer_batch),
     "most message sends committed in one transaction (group commit)"},
    {"writer_queue", "PARLEY_WRITER_QUEUE", T_UINT, "16384", 1, 1000000, OFF(writer_queue),
     "sends waiting for the writer before new ones get 503"},
    {"writer_connections", "PARLEY_WRITER_CONNECTIONS", T_UINT, "1", 1, 16, OFF(writer_connections),
     "group-commit writers, each with its own PostgreSQL connection: while one commits, another "
     "prepares the next batch (from a quarter of writer_batch queued)"},
    {"writer_hold_us", "PARLEY_WRITER_HOLD_US", T_UINT, "3000", 0, 100000, OFF(writer_hold_us),
     "microseconds a small batch of sends may wait for company while sends arrive steadily, "
     "until 48 are queued (0 = never; a lone send on a quiet server is never held)"},
    {"archive_after", "PARLEY_ARCHIVE_AFTER", T_UINT, "604800", 0, 315360000, OFF(archive_after_s),
     "seconds after which messages are archived into compressed segments"},
    {"archive_interval", "PARLEY_ARCHIVE_INTERVAL", T_UINT, "3600", 0, 31536000,
     OFF(archive_interval_s), "seconds between archive passes inside parleyd (0 = never)"},
    {"archive_only", "PARLEY_ARCHIVE_ONLY", T_STR, "", 0, 0, OFF(archive_only),
     "archive only these conversation ids (comma-separated; empty = all)"},
    {"archive_crash_at", "PARLEY_ARCHIVE_CRASH_AT", T_STR, "", 0, 0, OFF(archive_crash_at),
     "testing: exit at archive step written, verified or committed"},
    {"admins", "PARLEY_ADMINS", T_STR, "", 0, 0, OFF(admins),
     "usernames (comma-separated) that are admins besides `parleyd admin grant`"},
    {"analytics", "PARLEY_ANALYTICS", T_BOOL, "on", 0, 1, OFF(analytics),
     "collect usage analytics (off: no aggregation passes or node samples; the admin API still"
     " serves the rollups already there, and `parleyd analytics run` still aggregates)"},
    {"analytics_interval", "PARLEY_ANALYTICS_INTERVAL", T_UINT, "1000", 0, 86400000,
     OFF(analytics_interval_ms), "milliseconds between analytics aggregation passes (0 = never)"},
    {"analytics_batch", "PARLEY_ANALYTICS_BATCH", T_UINT, "10000", 1, 1000000, OFF(analytics_batch),
     "event positions per analytics aggregation transaction"},
    {"analytics_retention", "PARLEY_ANALYTICS_RETENTION", T_UINT, "760", 0, 36500,
     OFF(analytics_retention_days),
     "days of analytics rollups kept, in whole months (0 = forever)"},
    {"analytics_min_cohort", "PARLEY_ANALYTICS_MIN_COHORT", T_UINT, "10", 0, 1000000,
     OFF(analytics_min_cohort), "retention cohorts smaller than this are suppressed"},
    {"export_url_ttl", "PARLEY_EXPORT_URL_TTL", T_UINT, "3600", 60, 604800, OFF(export_url_ttl_s),
     "seconds an account export's presigned download URL stays valid"},
    {"export_max_bytes", "PARLEY_EXPORT_MAX_BYTES", T_SIZE, "67108864", 4096, 1024 * MIB,
     OFF(export_max_bytes), "JSON bytes an account export holds before it stops (truncated)"},
    {"analytics_crash_at", "PARLEY_ANALYTICS_CRASH_AT", T_STR, "", 0, 0, OFF(analytics_crash_at),
     "testing: exit at analytics step applied (before its COMMIT)"},
    {"edit_window", "PARLEY_EDIT_WINDOW", T_UINT, "900", 0, 31536000, OFF(edit_window_s),
     "seconds after sending in which a message may be edited (409 after)"},
    {"delete_window", "PARLEY_DELETE_WINDOW", T_UINT, "172800", 0, 31536000, OFF(delete_window_s),
     "seconds after sending in which a sender may delete a message for everyone"},
    {"requests_hold_invites", "PARLEY_REQUESTS_HOLD_INVITES", T_BOOL, "false", 0, 1,
     OFF(requests_hold_invites),
     "a pending message request keeps its receiver out of the sender's further groups (403)"},
    {"expire_unit_ms", "PARLEY_EXPIRE_UNIT_MS", T_UINT, "1000", 1, 1000, OFF(expire_unit_ms),
     "testing: milliseconds per second of a disappearing-messages timer"},
    {"expiry_interval", "PARLEY_EXPIRY_INTERVAL", T_UINT, "10000", 0, 60000,
     OFF(expiry_interval_ms), "milliseconds between disappearing-message sweeps (0 = never)"},
    {"search_config", "PARLEY_SEARCH_CONFIG", T_STR, "simple", 0, 0, OFF(search_config),
     "PostgreSQL text search configuration of /v1/search: simple or english"},
    {"node_id", "PARLEY_NODE_ID", T_STR, "", 0, 0, OFF(node_id),
     "this node's name in presence and relays (default: host name and pid)"},
    {"port_file", "PARLEY_PORT_FILE", T_STR, "", 0, 0, OFF(port_file),
     "after binding, write \"PORT TLS_PORT\" (and ADMIN_PORT when there is one) to this file"},
    {"data_dir", "PARLEY_DATA", T_STR, "./var", 0, 0, OFF(data_dir),
     "data directory: blobs and the generated url_secret live under it"},
    {"blob_dir", "PARLEY_BLOB_DIR", T_STR, "", 0, 0, OFF(blob_dir),
     "filesystem blob store root (default: data_dir/blobs)"},
    {"public_url", "PARLEY_PUBLIC_URL", T_STR, "", 0, 0, OFF(public_url),
     "scheme://host[:port] put in front of presigned URLs (default: relative URLs)"},
    {"blob_base_url", "PARLEY_BLOB_BASE_URL", T_STR, "", 0, 0, OFF(blob_base_url),
     "scheme://host[:port] of a separate origin for blob upload/download URLs (default: "
     "public_url)"},
    {"blob_backend", "PARLEY_BLOB_BACKEND", T_STR, "fs", 0, 0, OFF(blob_backend),
     "where media and archive segments live: fs (blob_dir) or s3 (the s3_* settings)"},
    {"s3_endpoint", "PARLEY_S3_ENDPOINT", T_STR, "", 0, 0, OFF(s3_endpoint),
     "s3: scheme://host[:port] of the S3-compatible service; clients reach it too (presigned "
     "URLs)"},
    {"s3_region", "PARLEY_S3_REGION", T_STR, "us-east-1", 0, 0, OFF(s3_region),
     "s3: region the requests are signed for"},
    {"s3_bucket", "PARLEY_S3_BUCKET", T_STR, "parley", 0, 0, OFF(s3_bucket),
     "s3: bucket (created at startup when missing)"},
    {"s3_access_key", "PARLEY_S3_ACCESS_KEY", T_STR, "", 0, 0, OFF(s3_access_key),
     "s3: access key id"},
    {"s3_secret_key", "PARLEY_S3_SECRET_KEY", T_STR, "", 0, 0, OFF(s3_secret_key),
     "s3: secret access key"},
    {"s3_path_style", "PARLEY_S3_PATH_STYLE", T_BOOL, "true", 0, 1, OFF(s3_path_style),
     "s3: endpoint/bucket/key URLs (false: virtual-hosted bucket.endpoint/key)"},
    {"s3_part_size", "PARLEY_S3_PART_SIZE", T_SIZE, "8388608", 5242880, 5368709120,
     OFF(s3_part_size), "s3: multipart part size in bytes (objects larger go up in parts)"},
    {"s3_direct_downloads", "PARLEY_S3_DIRECT_DOWNLOADS", T_BOOL, "false", 0, 1,
     OFF(s3_direct_downloads),
     "s3: download URLs go straight to S3 (with signed content-type and disposition overrides; "
     "nosniff and CSP then need a proxy in front of S3) instead of through parleyd"},
    {"url_secret", "PARLEY_URL_SECRET", T_STR, "", 0, 0, OFF(url_secret),
     "64 hex digits signing presigned URLs (default: generated into data_dir/url_secret)"},
    {"media_max_size", "PARLEY_MEDIA_MAX_SIZE", T_SIZE, "104857600", 1, 1ull << 40,
     OFF(media_max_size), "largest media upload in bytes (413 past it)"},
    {"media_url_ttl", "PARLEY_MEDIA_URL_TTL", T_UINT, "3600", 10, 604800, OFF(media_url_ttl_s),
     "seconds a presigned upload URL stays valid (download URLs: a tenth, at least 60)"},
    {"media_pending_ttl", "PARLEY_MEDIA_PENDING_TTL", T_UINT, "86400", 1, 31536000,
     OFF(media_pending_ttl_s), "seconds before an upload no message references is deleted"},
    {"web_dir", "PARLEY_WEB_DIR", T_STR, PL_WEB_DIR_DEFAULT, 0, 0, OFF(web_dir),
     "the built web client (index.html, assets/) served at /; read at startup, empty = none"},
    {"webpush", "PARLEY_WEBPUSH", T_BOOL, "true", 0, 1, OFF(webpush),
     "send Web Push notifications of new messages to subscribed browsers holding no stream"},
    {"vapid_private_key", "PARLEY_VAPID_PRIVATE_KEY", T_STR, "", 0, 0, OFF(vapid_private_key),
     "Web Push VAPID key: a P-256 private key, 32 bytes in base64url (default: generated into "
     "data_dir/vapid_private_key)"},
    {"vapid_subject", "PARLEY_VAPID_SUBJECT", T_STR, "", 0, 0, OFF(vapid_subject),
     "Web Push VAPID contact (sub claim): mailto:... or an https URL (empty: none)"},
    {"webpush_queue", "PARLEY_WEBPUSH_QUEUE", T_UINT, "4096", 1, 1000000, OFF(webpush_queue),
     "messages waiting for the push dispatcher, and pushes waiting to be retried, before more "
     "are dropped (counted)"},
    {"webpush_ttl", "PARLEY_WEBPUSH_TTL", T_UINT, "86400", 0, 2419200, OFF(webpush_ttl_s),
     "seconds a push service keeps an undelivered notification (TTL header)"},
    {"webpush_urgency", "PARLEY_WEBPUSH_URGENCY", T_STR, "normal", 0, 0, OFF(webpush_urgency),
     "Urgency header of message notifications: very-low, low, normal or high"},
    {"webpush_max_attempts", "PARLEY_WEBPUSH_MAX_ATTEMPTS", T_UINT, "5", 1, 100,
     OFF(webpush_max_attempts), "attempts per notification on 5xx, 429 or network errors"},
    {"webpush_retry_base_ms", "PARLEY_WEBPUSH_RETRY_BASE_MS", T_UINT, "1000", 1, 600000,
     OFF(webpush_retry_base_ms),
     "first retry delay, doubled each attempt (a Retry-After from the service wins)"},
    {"webpush_timeout_ms", "PARLEY_WEBPUSH_TIMEOUT_MS", T_UINT, "10000", 100, 120000,
     OFF(webpush_timeout_ms), "timeout of one request to a push service"},
    {"webpush_allow_http", "PARLEY_WEBPUSH_ALLOW_HTTP", T_BOOL, "false", 0, 1,
     OFF(webpush_allow_http), "testing: accept http:// push endpoints on loopback hosts"},
    {"log", "PARLEY_LOG", T_STR, "info", 0, 0, OFF(log),
     "log levels: level or topic:level list, e.g. info,h2:debug"},
    {"access_log", "PARLEY_ACCESS_LOG", T_BOOL, "true", 0, 1, OFF(access_log),
     "log one line per request"},
};

static const struct setting *find(const char *name, size_t n)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(table); i++) {
        const char *t = table[i].name;
        if (strlen(t) != n)
            continue;
        size_t j = 0;
        while (j < n && (t[j] == name[j] || (t[j] == '_' && name[j] == '-')))
            j++;
        if (j == n)
            return &table[i];
    }
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcmp(v, "off"))
        *out = false;
    else
        return PL_EINVAL;
    return 0;
}

/* Stores value into the setting's field, checking type and range. */
static int apply(struct srv_config *cfg, const struct setting *s, const char *value,
                 const char *origin, FILE *err)
{
    char *field = (char *)cfg + s->off;
    if (s->type == T_STR) {
        char *dup = strdup(value);
        if (!dup)
            return PL_ENOMEM;
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    if (s->type == T_BOOL) {
        if (parse_bool(value, (bool *)field) == 0)
            return 0;
        fprintf(err, "parleyd: %s (from %s): '%s' is not a boolean\n", s->name, origin, value);
        return PL_EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || v < s->min || v > s->max) {
        fprintf(err, "parleyd: %s (from %s): '%s' is not a number in %llu..%llu\n", s->name, origin,
                value, s->min, s->max);
        return PL_EINVAL;
    }
    if (s->type == T_UINT)
        *(unsigned *)field = (unsigned)v;
    else if (s->type == T_SIZE)
        *(size_t *)field = (size_t)v;
    else
        *(unsigned long long *)field = v;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int load_file(struct srv_config *cfg, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(err, "parleyd: config: cannot open %s: %s\n", path, strerror(errno));
        return PL_EINVAL;
    }
    char line[4096], origin[PATH_MAX + 32];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *l = trim(line), *eq = strchr(l, '=');
        if (*l == '\0' || *l == '#')
            continue;
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (!eq) {
            fprintf(err, "parleyd: %s: expected 'name = value'\n", origin);
            rc = PL_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(l), *value = trim(eq + 1);
        const struct setting *s = find(name, strlen(name));
        if (!s || s->off == OFF(config)) {
            fprintf(err, "parleyd: %s: unknown setting '%s'\n", origin, name);
            rc = PL_EINVAL;
        } else {
            rc = apply(cfg, s, value, origin, err);
        }
    }
    fclose(f);
    return rc;
}

static int load_env(struct srv_config *cfg, FILE *err)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(table); i++) {
        const char *v = getenv(table[i].env);
        if (v && table[i].off != OFF(config)) {
            int rc = apply(cfg, &table[i], v, table[i].env, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Flags: --name=value or --name value. Returns the index of the first
 * non-flag argument (the command) through *cmd_idx. */
static int load_flags(struct srv_config *cfg, int argc, char **argv, bool config_only,
                      enum srv_command *cmd, FILE *err)
{
    cfg->n_cmd_words = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *cmd = SRV_CMD_HELP;
            continue;
        }
        if (!strcmp(a, "--version")) {
            *cmd = SRV_CMD_VERSION;
            continue;
        }
        bool sub = *cmd == SRV_CMD_ADMIN || *cmd == SRV_CMD_ANALYTICS;
        if (sub && (!strcmp(a, "--from") || !strcmp(a, "--to")) && i + 1 < argc) {
            *(a[2] == 'f' ? &cfg->cmd_from : &cfg->cmd_to) = argv[++i];
            continue;
        }
        /* The command word itself is seen again by the second pass. */
        bool cmd_word =
            cfg->n_cmd_words == 0 && !strcmp(a, *cmd == SRV_CMD_ADMIN ? "admin" : "analytics");
        if (sub && strncmp(a, "--", 2) != 0 && !cmd_word) {
            if (cfg->n_cmd_words == PL_ARRAY_LEN(cfg->cmd_words)) {
                fprintf(err, "parleyd: too many arguments (try --help)\n");
                return PL_EINVAL;
            }
            cfg->cmd_words[cfg->n_cmd_words++] = a;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (!strcmp(a, "admin") || !strcmp(a, "analytics")) {
                *cmd = a[1] == 'd' ? SRV_CMD_ADMIN : SRV_CMD_ANALYTICS;
                continue;
            }
            if (!strcmp(a, "serve") || !strcmp(a, "migrate") || !strcmp(a, "archive")) {
                *cmd = !strcmp(a, "migrate") ? SRV_CMD_MIGRATE : *cmd;
                *cmd = !strcmp(a, "archive") ? SRV_CMD_ARCHIVE : *cmd;
                continue;
            }
            fprintf(err, "parleyd: unknown command '%s' (try --help)\n", a);
            return PL_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '='), *value;
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find(name, n);
        if (!s) {
            fprintf(err, "parleyd: unknown option '%s' (try --help)\n", a);
            return PL_EINVAL;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fprintf(err, "parleyd: option '%s' needs a value\n", a);
            return PL_EINVAL;
        }
        if (config_only != (s->off == OFF(config)))
            continue;
        int rc = apply(cfg, s, value, "command line", err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool origin_ok(const char *url)
{
    return !*url || ((strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
                     !strpbrk(strchr(url, ':') + 3, "/?#") && url[strlen(url) - 1] != ':');
}

static int cross_checks(const struct srv_config *cfg, FILE *err)
{
    if (!origin_ok(cfg->blob_base_url)) {
        fprintf(err, "parleyd: blob_base_url must look like scheme://host[:port] (http or "
                     "https, no path)\n");
        return PL_EINVAL;
    }
    if (!*cfg->tls_cert != !*cfg->tls_key) {
        fprintf(err, "parleyd: tls_cert and tls_key must be given together\n");
        return PL_EINVAL;
    }
    return 0;
}

int srv_config_load(int argc, char **argv, struct srv_config *cfg, enum srv_command *cmd, FILE *err)
{
    memset(cfg, 0, sizeof(*cfg));
    *cmd = SRV_CMD_SERVE;
    int rc = 0;
    for (size_t i = 0; i < PL_ARRAY_LEN(table) && rc == 0; i++)
        rc = apply(cfg, &table[i], table[i].def, "default", err);
    /* The config file's path may come from the environment or a flag, and
     * the file's values sit below both, so find the path first. */
    const char *env_config = getenv("PARLEY_CONFIG");
    if (rc == 0 && env_config)
        rc = apply(cfg, &table[0], env_config, "PARLEY_CONFIG", err);
    if (rc == 0)
        rc = load_flags(cfg, argc, argv, true, cmd, err);
    if (rc == 0 && *cfg->config)
        rc = load_file(cfg, cfg->config, err);
    if (rc == 0)
        rc = load_env(cfg, err);
    if (rc == 0)
        rc = load_flags(cfg, argc, argv, false, cmd, err);
    if (rc == 0)
        rc = cross_checks(cfg, err);
    if (rc < 0)
        srv_config_deinit(cfg);
    return rc < 0 ? PL_EINVAL : 0;
}

void srv_config_deinit(struct srv_config *cfg)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(table); i++)
        if (table[i].type == T_STR) {
            char **p = (char **)((char *)cfg + table[i].off);
            free(*p);
            *p = NULL;
        }
}

void srv_config_usage(FILE *out)
{
    fprintf(out, "usage: parleyd [serve|migrate|archive|admin|analytics] [--setting value ...]\n\n"
                 "  serve     run the server (default)\n"
                 "  migrate   apply database migrations and exit\n"
                 "  archive   archive old history into compressed segments once and exit\n"
                 "  admin grant|revoke USER   make USER an admin, or no longer one\n"
                 "  analytics run             aggregate the pending events once and exit\n"
                 "  analytics report --from DATE --to DATE   daily metrics as a table\n"
                 "  analytics rebuild [--from DATE]   recompute the rollups from history\n"
                 "  --help    this text;  --version  the version\n\n"
                 "Settings: flag, environment variable, default, range. Precedence:\n"
                 "flags > environment > config file (\"name = value\" lines) > default.\n\n");
    for (size_t i = 0; i < PL_ARRAY_LEN(table); i++) {
        const struct setting *s = &table[i];
        char flag[32];
        size_t k = 0;
        for (; s->name[k] && k + 1 < sizeof(flag); k++)
            flag[k] = s->name[k] == '_' ? '-' : s->name[k];
        flag[k] = '\0';
        fprintf(out, "  --%-20s %-26s default: %s", flag, s->env, *s->def ? s->def : "(none)");
        if (s->type != T_STR && s->type != T_BOOL)
            fprintf(out, " [%llu..%llu]", s->min, s->max);
        fprintf(out, "\n      %s\n", s->help);
    }
}
