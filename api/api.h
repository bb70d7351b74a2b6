/* SPDX-License-Identifier: MIT */
/* Parley - REST handlers: routing, auth, dispatch to handlers.         */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_H
#define PL_API_H

#include "crypto/crypto.h"
#include "crypto/urlsig.h"
#include "push/push.h"
#include "http/http.h"

/* Storage handles are only named here; the .c files of api/ and server/ include the
 * storage headers they call. */
struct api_token_cache;
struct store_blob;
struct store_pg;
struct store_redis;

#include "common/buf.h"

/*
 * api/ is written once against http/http.h and never sees a protocol. The
 * server wires it up: api_route() runs on the loop thread for every request
 * and either answers at once (transport errors, 404/405, cheap inline
 * routes) or asks for a worker, where api_handle() authenticates, runs the
 * handler with the worker's own PostgreSQL and Redis connections, turns a
 * failure code into a problem document and completes the request.
 */

/* Abuse limits and per-user quotas (api/limits.c). A limit of 0 turns that
 * one off. Counters live in Redis so they hold across nodes. */
struct api_limits {
    unsigned login_fail_account;    /* failed logins per account before backoff */
    unsigned login_fail_ip;         /* failed logins per address before backoff */
    unsigned login_backoff_ms;      /* first backoff; doubles per further failure */
    unsigned login_backoff_max_s;   /* longest backoff */
    unsigned register_per_ip;       /* registrations per address per hour */
    char *exempt;                   /* addresses per-address limits skip ("a,b") */
    unsigned session_ttl_s;         /* inactivity after which a session expires */
    unsigned max_devices;           /* active sessions per user */
    unsigned token_cache_size;      /* cached token lookups (0: none) */
    unsigned token_cache_ms;        /* how long a cached lookup is trusted */
    unsigned loop_sends_max_load;   /* loop load (per mille) below which it takes sends */
    unsigned keys_fetch_per_min;    /* bundle fetches per requester per minute */
    unsigned keys_target_per_min;   /* bundle fetches of one target per minute */
    unsigned streams;               /* open event streams per user */
    unsigned sends_per_s;           /* message sends per user per second */
    unsigned searches_per_s;        /* searches per user per second */
    unsigned groups_per_hour;       /* group creations per user per hour */
    size_t media_bytes_per_day;     /* declared upload bytes per user per day */
    unsigned user_searches_per_min; /* GET /v1/users?prefix= per user per minute */
};

struct api_config {
    struct pcrypto_pwhash_params pwhash;
    struct api_limits limits;
    unsigned group_max_members;   /* members per group (422 past it) */
    unsigned presence_timeout_s;  /* online while the last heartbeat is younger */
    unsigned edit_window_s;       /* a message may be edited this long (409 after) */
    unsigned delete_window_s;     /* its sender may delete it for everyone this long */
    bool requests_hold_invites;   /* a pending request keeps its receiver out of groups */
    unsigned expire_unit_ms;      /* ms per second of a disappearing-messages timer */
    unsigned presence_subs_max;   /* users one device may subscribe to (422 past it) */
    unsigned presence_sub_ttl_s;  /* a subscription lasts at most this long */
    unsigned typing_max_members;  /* no typing events in larger groups */
    unsigned typing_interval_ms;  /* at most one typing event per user and chat per interval */
    unsigned sync_max_wait_ms;    /* longest /v1/sync long-poll */
    uint64_t media_max_size;      /* largest upload (413 past it) */
    unsigned media_url_ttl_s;     /* presigned upload URLs; downloads get a tenth */
    unsigned media_pending_ttl_s; /* unreferenced uploads are swept after this */
    unsigned upload_slots;        /* uploads streaming at once (each holds a 4 MiB pipe) */
    /* /metrics on the public listeners needs "Authorization: Bearer
     * <metrics_token>"; empty: only the admin listener serves it. */
    const char *metrics_token;
    /* Usernames (comma-separated) that are admins besides the admins
     * table; others get 404 on /v1/admin/... */
    const char *admins;
    /* Retention cohorts smaller than this are suppressed in admin views. */
    unsigned analytics_min_cohort;
    unsigned export_url_ttl_s; /* an export's presigned download URL lasts this long */
    size_t export_max_bytes;   /* an export's JSON stops ("truncated") past this size */
    /* Web Push (issue 12): the VAPID public key in base64url (empty: not
     * configured), and whether http:// endpoints on loopback hosts are
     * accepted (tests' local push service). */
    const char *vapid_public_key;
    bool webpush_allow_http;
};

/* One file of the web client, read at startup (server/webapp.c). */
struct api_web_asset {
    char *name;        /* "index.html" or a content-hashed "app.3f9a….js" */
    const char *ctype; /* static string */
    char *body;        /* the bytes, len of them */
    size_t len;
    char *br; /* the build's brotli twin, br_len bytes, or NULL */
    size_t br_len;
    bool immutable; /* under /assets/: cached forever */
};

/* The web client's files; owned by server/, read-only while serving. */
struct api_web {
    struct api_web_asset *assets;
    size_t n;
};

struct api_worker;
struct api_send; /* a message send handed to the group-commit writer (messages.c) */

/* Process-wide, set up by server/ before the first request; read-only after. */
struct api_env {
    const struct api_config *cfg;
    /* Renders the Prometheus exposition into out (loop thread). */
    int (*render_metrics)(void *ctx, struct pl_buf *out);
    void *metrics_ctx;
    /* Any thread: hands committed events to the live streams of this node
     * and of the other nodes. type and json are copied; users is the
     * audience. Never fails the caller: the events are committed, and a
     * stream that misses one gets it on resume. */
    void (*publish)(void *ctx, uint64_t pos, const char *type, const char *json, size_t len,
                    const int64_t *users, unsigned n_users);
    void *publish_ctx;
    /* Any thread: queues a send for the group-commit writer, which
     * completes the request after its transaction commits. Returns 0, or
     * PL_EBUSY when the writer's queue is full. */
    int (*send)(void *ctx, struct api_send *job);
    void *send_ctx;
    /* The loop's hub (streams are opened and drained on the loop). */
    struct push_hub *hub;
    struct pl_loop *loop;
    /* Any thread: runs fn on a worker (follow-up storage work started on
     * the loop). Returns 0, or PL_EBUSY/PL_ECANCELED (fn not called). */
    int (*run)(void *ctx, void (*fn)(struct api_worker *w, void *arg), void *arg);
    void *run_ctx;
    /* Cached token lookups (api/token_cache.h), NULL when disabled. */
    struct api_token_cache *tokens;
    /* Any thread: ends the event streams of a device (logout) on every
     * node, and drops its cached token lookups on the other nodes. */
    void (*close_device)(void *ctx, int64_t user_id, int64_t device_id);
    void *close_ctx;
    /* Any thread: sends the presence event json to the streams of the n
     * (users[i], devices[i]) on node (this node or another). */
    void (*presence_send)(void *ctx, const char *node, const char *json, size_t len,
                          const int64_t *users, const int64_t *devices, unsigned n);
    /* Loop thread: an event stream of the device is registered with the
     * hub (presence transitions for its subscriptions come here now). */
    void (*stream_opened)(void *ctx, int64_t user, int64_t device);
    /* Loop thread: an event stream of the device closed (its presence
     * subscriptions end with its last stream). */
    void (*stream_closed)(void *ctx, int64_t user, int64_t device);
    void *presence_ctx;
    /* Any thread: runs fn on a password-hashing thread (its own bounded
     * pool, with its own connections), so argon2 never holds an API
     * worker. Returns 0, or PL_EBUSY/PL_ECANCELED (fn not called). */
    int (*pwhash_run)(void *ctx, void (*fn)(struct api_worker *w, void *arg), void *arg);
    void *pwhash_ctx;
    /* This node's name, for presence. */
    const char *node_id;
    /* Media and archive objects (storage/blob.h); thread-safe. */
    struct store_blob *blobs;
    /* Signs and checks the URLs parleyd serves for the fs blob store. */
    const struct pcrypto_urlsig_key *url_key;
    /* The web client served at / (api/web.c), or NULL when it was not
     * built: / then answers 503 with how to build it. */
    const struct api_web *web;
};

/* ---- Web Push notes (push_note.c): any thread, CPU only ---- */

/* What a push says about one new message; strings in the caller's arena. */
struct api_push_note {
    int64_t conversation_id, sender_id, seq;
    const char *kind;
    bool e2e;         /* an e2e message: never any text */
    const char *text; /* plain text messages only, else NULL */
};
/* Reads a message.created event payload (json, len bytes; borrowed).
 * 0, PL_EINVAL (not one) or PL_ENOMEM. */
PL_MUST_CHECK int api_push_note_parse(struct pl_arena *a, const char *json, size_t len,
                                      struct api_push_note *n);
/* The notification JSON for count messages of which n is the latest:
 * conversation, seq, sender id and display name, count, e2e and (plain
 * chats only) the text, cut to fit one push. *out in a (len bytes).
 * 0 or PL_ENOMEM. */
PL_MUST_CHECK int api_push_note_payload(struct pl_arena *a, const struct api_push_note *n,
                                        const char *sender_name, unsigned count, const char **out,
                                        size_t *len);

/* One per worker thread; the connections are used by that thread only. */
struct api_worker {
    const struct api_env *env;
    struct store_pg *pg;
    struct store_redis *redis;
    /* The hot standby (setting pg_standby), or NULL: lag-tolerant reads
     * go there when api/replica.h allows it. */
    struct store_pg *pg_ro;
};

enum api_route_result {
    API_ROUTE_DONE = 0, /* answered; http_req_complete() was called */
    API_ROUTE_WORKER,   /* hand the request to a worker's api_handle() */
};

/* Loop thread. Matches the route, stores it on the request, and answers
 * what needs no worker. */
enum api_route_result api_route(const struct api_env *env, struct http_req *req);

/* Loop thread, after api_route() asked for a worker: true when the request
 * opens an event stream and should wait for room in a full worker queue
 * rather than be refused. */
bool api_route_waits(const struct http_req *req);

/* Loop thread, when a request's headers are in: true when its route takes
 * the body streamed (uploads; see http_req_body_read). */
bool api_route_streams_body(const struct api_env *env, struct http_req *req);

/* Uploads in progress (holding an upload slot). Any thread. */
unsigned api_uploads_active(void);

/* Worker: deletes up to limit expired, unreferenced uploads (rows, then
 * blobs). Returns how many went, or a negative code. */
PL_MUST_CHECK int api_media_sweep(struct api_worker *w, unsigned limit);

/* Worker thread: runs the routed request to completion (always completes). */
void api_handle(struct api_worker *w, struct http_req *req);
/* Worker: requests of API_WAITS routes (api_route_waits(): event-stream
 * opens) handled together, with one storage round trip per step for all
 * of them; each is answered or handed on like api_handle() does. */
void api_handle_waiting(struct api_worker *w, struct http_req **reqs, unsigned n);
/* Any thread: whether the request's route is API_BATCH (cheap once
 * authenticated: message sends; receipts, which share one transaction),
 * so a worker may take several at once. */
bool api_route_batches(const struct http_req *req);
/* Worker: n requests of API_BATCH routes (all API_AUTH, not API_AUTH_ANY),
 * authenticated with one statement (for the tokens the token cache did not
 * know), then each handled and completed like api_handle() does; the
 * receipts among them in one transaction (api/receipts.c). */
void api_handle_batch(struct api_worker *w, struct http_req **reqs, unsigned n);

/* Any thread: answers a request that could not be handed to a worker
 * (rc = PL_EBUSY: queue full; PL_ECANCELED: shutting down) and completes it. */
void api_reject(const struct api_env *env, struct http_req *req, int rc);

/* Writer thread (the group-commit writer in server/): commits the n >= 1
 * queued sends in ONE transaction on w->pg, then publishes their
 * message.created events and completes every job's request: 201 with the
 * new message, 200 with the one a repeated client_msg_id stored before, or
 * a problem (404 not a member, 409, 422, 503). Every job is completed
 * exactly once, whatever happens; afterwards neither the jobs nor their
 * requests may be touched. A failed transaction fails every job of the
 * batch with its code (nothing is acknowledged that did not commit). A
 * batch of more than a few MiB of text is split into several
 * transactions. Returns 0 when everything committed, or the code of the
 * last transaction that failed. */
PL_MUST_CHECK int api_send_commit(struct api_worker *w, struct api_send *const *jobs, unsigned n);

/* Any thread, while the caller owns job: the conversation it sends to. The
 * writer keeps a conversation in one transaction at a time by it, so that
 * its sends commit in queue order. */
int64_t api_send_conversation(const struct api_send *job);

/* Builds the route table and compresses the static documents. Call once at
 * startup, before anything else in api/. Returns 0, PL_ENOMEM or
 * PL_EINTERNAL (more routes than the table holds). */
PL_MUST_CHECK int api_init(void);

/* Worker: the periodic presence chore. Refreshes the heartbeat of users
 * (those holding streams on this node), announces the ones that came
 * online, and sweeps and announces the ones whose heartbeat expired. */
void api_presence_tick(struct api_worker *w, const int64_t *users, unsigned n);
/* Any thread: presence transitions announced by this node, and the
 * subscribed streams' devices they went to (the sum of their audiences). */
void api_presence_counters(uint64_t *transitions, uint64_t *audience);
/* Any thread: requests api_route() answered on the loop thread although
 * their route may need a worker (sends whose token was in the cache). */
uint64_t api_loop_answered(void);
/* Most devices one api_presence_streams_closed() call takes. */
#define API_PRESENCE_CLOSED_MAX 4096
/* Worker: this node's presence channel was lost and made again (a Redis
 * restart or failover), so transitions published meanwhile never came.
 * Tells each of the n (users[i], devices[i]) streams here the current
 * state of every user its device subscribes to (and may see), whether or
 * not it changed. 0, or PL_EUNAVAIL while Redis or PostgreSQL cannot
 * answer (the caller tries again later). */
PL_MUST_CHECK int api_presence_resync(struct api_worker *w, const int64_t *users,
                                      const int64_t *devices, unsigned n);
/* Worker: the devices' last streams on this node closed; the ones with no
 * stream left anywhere lose their presence subscriptions. */
void api_presence_streams_closed(struct api_worker *w, const int64_t *devices, unsigned n);

/* Any thread, pure: the message.created payload json (len bytes) as the
 * device device_id may see it. An e2e message's event carries every
 * recipient device's ciphertext (api/e2e.c); each device gets only its
 * own. Returns 0 when json needs no projection (use it as is); 1 with
 * *out a malloc'd, NUL-terminated projection of *out_len bytes (free
 * it); PL_EINVAL when json is a malformed e2e payload; PL_ENOMEM. */
PL_MUST_CHECK int api_e2e_project(const char *json, size_t len, int64_t device_id, char **out,
                                  size_t *out_len);
/* True when json is an e2e payload that must be projected per device. */
bool api_e2e_is_enveloped(const char *json, size_t len);

/* Limits and quotas, for /metrics: the number of kinds, and for kind i
 * its name, the requests it refused and the checks skipped because Redis
 * was unreachable (fail-open). Any thread. */
size_t api_limit_count(void);
const char *api_limit_name(size_t i);
void api_limit_stats(size_t i, uint64_t *rejected, uint64_t *unchecked);

/* Worker: refreshes this node's count of open event streams of each user
 * in users (counts[i] streams) in the cross-node streams quota. */
void api_streams_refresh(struct api_worker *w, const int64_t *users, const unsigned *counts,
                         unsigned n);

/* Route names for metrics labels, indexed like the route table. */
size_t api_route_count(void);
const char *api_route_name(size_t i);

#endif
