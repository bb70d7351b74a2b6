/* SPDX-License-Identifier: MIT */
/* Parley - internals shared by the files of api/ only.                 */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_INT_H
#define PL_API_INT_H

#include "api.h"
#include "json.h"
#include "problem.h"
#include "replica.h"

#include "storage/messages.h"

#include <yajl/yajl_gen.h>

/* One call of a handler: the request, the worker it runs on (NULL for
 * inline routes), the caller once authenticated, and the field errors a
 * validating handler collected. */
struct api_call {
    struct http_req *req;
    struct api_worker *w;
    const struct api_env *env;
    struct pl_arena *a;
    int64_t user_id;
    int64_t device_id;
    bool via_cookie; /* authenticated by the parley_token cookie (web client) */
    struct api_errors errs;
};

typedef PL_MUST_CHECK int api_handler_fn(struct api_call *c);

/* Hot standby routing (api/replica.c). The connection a lag-tolerant read
 * of the caller runs on: the standby when it has replayed the caller's
 * last write, else the primary. Worker only. */
struct store_pg *api__read_pg(struct api_call *c);
/* After a read on *pg returned rc: true when it must be redone on the
 * primary (*pg now is the primary: the standby failed it for a reason of
 * its own). Counts the read for /metrics either way. */
bool api__read_retry(struct api_call *c, struct store_pg **pg, int rc);
/* Records the primary's WAL position for user's reads, after the user's
 * write committed and before it is acknowledged. No-op without a standby. */
void api__note_write(struct api_worker *w, int64_t user);
/* The primary's WAL insert position now (a position no standby can reach
 * when it cannot be read). Worker only. */
uint64_t api__write_lsn(struct api_worker *w);
/* The read pattern: rc = (call on pg), redone on the primary when the
 * standby failed it. */
#define API_READ(c, pg, rc, call)                                                                  \
    do {                                                                                           \
        struct store_pg *pg = api__read_pg(c);                                                     \
        (rc) = (call);                                                                             \
        if (api__read_retry((c), &pg, (rc)))                                                       \
            (rc) = (call);                                                                         \
    } while (0)

/* A handler's return value meaning "the request was handed on (to the
 * writer or to the loop) and will be completed there": api_handle() must
 * neither answer nor complete it. */
#define API_DEFERRED 1
/* A handler's return value, only when it runs on the loop thread (an
 * API_LOOP route, c->w NULL): it needs a worker after all. Nothing was
 * answered, and api_route() hands the request to a worker, where the
 * handler runs again from the start. */
#define API_WORKER 2

enum api_route_flags {
    API_AUTH = 1u << 0,   /* a valid bearer token is required */
    API_INLINE = 1u << 1, /* cheap and storage-free: runs on the loop thread */
    /* The token may also come from the access_token query parameter:
     * browsers' EventSource cannot set an Authorization header. Only for
     * the stream routes, since tokens in URLs end up in logs and
     * histories. (The parley_token cookie works on every API_AUTH route,
     * with the CSRF check of auth.c for state-changing methods.) */
    API_AUTH_ANY = 1u << 2,
    /* The body is not buffered: the handler reads it with
     * http_req_body_read() (uploads of up to media_max_size). */
    API_STREAM_BODY = 1u << 3,
    /* Served on the admin listener too (/healthz, /readyz, /metrics); every
     * other route answers 404 there. */
    API_OPS = 1u << 4,
    /* Opening an event stream: when the worker queue is full the request
     * waits for room instead of getting 503 (a reconnect burst of every
     * client at once must not fail; issue 17). */
    API_WAITS = 1u << 5,
    /* Cheap once authenticated (a send only validates and queues for the
     * writer): a worker that finds several of these queued takes them
     * together and authenticates them with one statement (server/pool.c). */
    API_BATCH = 1u << 6,
    /* Storage-free once the bearer token is found in the token cache: then
     * api_route() runs the handler on the loop thread, with no worker round
     * trip (a plain text send only validates and queues for the writer).
     * The handler returns API_WORKER before answering anything when the
     * request needs storage after all (a lookup, a quota). */
    API_LOOP = 1u << 7,
};

struct api_route_info {
    api_handler_fn *fn;
    unsigned flags;
};

/* One endpoint; files export NULL-terminated tables of these. */
struct api_route_def {
    const char *method;
    const char *pattern;
    api_handler_fn *fn;
    unsigned flags;
};

extern const struct api_route_def api__conversation_routes[]; /* conversations.c */
extern const struct api_route_def api__message_routes[];      /* messages.c */
extern const struct api_route_def api__stream_routes[];       /* events.c */
extern const struct api_route_def api__key_routes[];          /* keys.c */
extern const struct api_route_def api__search_routes[];       /* search.c */
extern const struct api_route_def api__user_routes[];         /* user_lookup.c */
extern const struct api_route_def api__web_routes[];          /* web.c */
extern const struct api_route_def api__media_routes[];        /* media.c */
extern const struct api_route_def api__blob_routes[];         /* blobs.c */
extern const struct api_route_def api__analytics_routes[];    /* analytics.c */
extern const struct api_route_def api__block_routes[];        /* blocks.c */
extern const struct api_route_def api__account_routes[];      /* account.c */
extern const struct api_route_def api__export_routes[];       /* export.c */
extern const struct api_route_def api__push_routes[];         /* push_subs.c */

/* ---- media messages (media_msg.c) ---- */
/* Checks the "media" member of a send (kind "media") and writes the
 * message body (the canonical Media JSON) into s->body; field errors go to
 * c->errs. Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int api__media_msg_read(struct api_call *c, const struct api_json *media,
                                      struct store_send *s);
/* Worker: the media a send references must be ready uploads of the
 * sender. Returns 0, PL_EINVAL (422 set) or a storage code. */
PL_MUST_CHECK int api__media_msg_check(struct api_call *c, const struct store_send *s);
/* True for an RFC 9110 media type ("image/png; q=x") of at most 255
 * printable ASCII characters (media.c). */
bool api__valid_content_type(const char *s);
/* For stores clients upload to directly (S3): checks the caller's pending
 * uploads among ids[0..n) (size and SHA-256 of the stored object) and
 * marks those that match ready. Returns how many it marked, or a negative
 * code; 0 at once for the fs store, whose PUT handler does this. */
PL_MUST_CHECK int api__media_confirm(struct api_call *c, const int64_t *ids, unsigned n);
/* Writes "media": {...} from a media message's stored body. */
void api__gen_media_body(yajl_gen g, const char *body);

/* ---- auth.c ---- */
/* Authenticates the bearer token of c->req; fills user_id / device_id.
 * Returns 0, PL_EUNAUTH (problem already set), or PL_EUNAVAIL. */
PL_MUST_CHECK int api__auth(struct api_call *c, bool allow_query);
/* Loop thread: true when c's Authorization: Bearer token is in the token
 * cache (c->user_id and c->device_id filled). False answers nothing: a
 * worker's api__auth() decides then. */
bool api__auth_cached(struct api_call *c);
/* api__auth() for n calls on one worker (cs[0].w) with one storage round
 * trip: rcs[i] is 0 (cs[i] filled) or the code api__auth() would return,
 * with the problem set. Returns 0, or the storage code that made every
 * token unchecked (each rcs[i] then says so too). */
PL_MUST_CHECK int api__auth_many(struct api_call *cs, unsigned n, bool allow_query, int *rcs);
/* For requests a cookie may authenticate: 0 for GET/HEAD, or when the
 * request carries X-Parley-CSRF and no cross-site Sec-Fetch-Site; else a
 * 403 csrf-check-failed problem is set and PL_EFORBIDDEN returned. */
int api__csrf_check(struct api_call *c);

/* ---- limits and quotas (limits.c) ---- */
enum api_limit_kind {
    API_LIMIT_LOGIN_ACCOUNT,
    API_LIMIT_LOGIN_IP,
    API_LIMIT_REGISTER_IP,
    API_LIMIT_PWHASH_BUSY,
    API_LIMIT_DEVICES,
    API_LIMIT_KEYS_REQUESTER,
    API_LIMIT_KEYS_TARGET,
    API_LIMIT_STREAMS,
    API_LIMIT_SENDS,
    API_LIMIT_SEARCHES,
    API_LIMIT_GROUPS,
    API_LIMIT_MEDIA_BYTES,
    API_LIMIT_USER_SEARCHES,
    API_LIMIT__COUNT
};
/* Worker. Adds cost to the fixed window of kind k for subject (a user id
 * or an address). Returns 0 (allowed, or Redis unreachable: fail-open,
 * counted) or PL_ERATE with the 429 quota-exceeded problem and its
 * Retry-After set. */
PL_MUST_CHECK int api__limit_window(struct api_call *c, enum api_limit_kind k, const char *subject,
                                    uint64_t cost);
/* True when limit k is on (api__limit_window() then asks Redis). */
bool api__limit_on(const struct api_env *env, enum api_limit_kind k);
/* api__limit_window() for a user id. */
PL_MUST_CHECK int api__limit_user(struct api_call *c, enum api_limit_kind k, int64_t user,
                                  uint64_t cost);
/* Sets a 429 problem of slug with Retry-After from retry_ms, counts a
 * refusal of k; returns PL_ERATE. detail is borrowed. */
PL_MUST_CHECK int api__limit_refuse(struct api_call *c, enum api_limit_kind k, const char *slug,
                                    uint64_t retry_ms, const char *detail);
/* Counts one refusal of k (for limits enforced elsewhere). Any thread. */
void api__limit_count(enum api_limit_kind k);
/* True when addr is in the limit_exempt list. */
bool api__addr_exempt(const struct api_env *env, const char *addr);
/* Worker. Login backoff for account (a username, or "#<id>") and the
 * caller's address: 0 with the attempt counted as a failure until
 * api__login_result() says otherwise, or PL_ERATE with 429
 * login-throttled set (nothing counted). */
PL_MUST_CHECK int api__login_check(struct api_call *c, const char *account);
enum api_login_outcome {
    API_LOGIN_FAILED,    /* wrong password or unknown account */
    API_LOGIN_OK,        /* the password was right */
    API_LOGIN_UNCHECKED, /* the password was never checked (busy, storage down) */
};
/* Worker (any with Redis): settles an attempt api__login_check() let in. */
void api__login_result(struct api_call *c, const char *account, enum api_login_outcome outcome);
/* Worker: counts an event stream of c's user opening on this node: 0, or
 * PL_ERATE (429 set) when the user has quota_streams open on all nodes. */
PL_MUST_CHECK int api__streams_open(struct api_call *c);
/* api__streams_open() for the calls cs[i] with rcs[i] == 0, in one round
 * trip per STORE_REDIS_STREAMS_BATCH: a refused one gets its 429 and
 * rcs[i] = PL_ERATE. */
void api__streams_open_many(struct api_call *cs, unsigned n, int *rcs);
/* Worker: a stream api__streams_open() counted has closed. */
void api__streams_closed(struct api_worker *w, int64_t user);

/* ---- password hashing off the workers (password.c) ---- */
/* The rest of a handler, run on a password-hashing thread with c->w that
 * thread's worker (own connections); returns like a handler. */
typedef int api_pw_fn(struct api_call *c, void *arg);
/* Hands c's request to the hashing pool to run fn(c, arg) there and
 * complete it. arg must live in the request's arena. Returns
 * API_DEFERRED; PL_EBUSY with the 503 hashing-busy problem set when the
 * pool's queue is full; PL_ECANCELED when shutting down. */
PL_MUST_CHECK int api__pwhash_defer(struct api_call *c, api_pw_fn *fn, void *arg);
/* Ends the event streams of c's user's sessions ids[0..n) on every node. */
void api__close_devices(struct api_call *c, const int64_t *ids, unsigned n);
#define API_PASSWORD_MIN 8
/* argon2 takes any length, but hashing megabytes per login attempt would
 * hand attackers a cheap way to burn CPU. */
#define API_PASSWORD_MAX 1024
/* True for a password of API_PASSWORD_MIN..API_PASSWORD_MAX bytes. */
bool api__valid_password(const char *pw);

/* ---- persisted events (emit.c) ---- */

/* Events a handler persists in its own transaction. Usage: api__emit()
 * each event while building the transaction's writes, api__emit_store()
 * as the last step before commit (it takes the stream positions, which
 * holds the global position lock, so it must come last), commit, then
 * api__emit_publish(). */
#define API_EMIT_MAX 8
struct api_emit_event {
    const char *type;
    const char *payload; /* JSON, borrowed (arena) */
    int64_t conversation_id, target_user_id;
    uint64_t pos;
    int64_t *users; /* audience, filled by api__emit_store */
    unsigned n_users;
};
struct api_emit {
    struct api_emit_event ev[API_EMIT_MAX];
    unsigned n;
};
/* Returns 0 or PL_ENOMEM when more than API_EMIT_MAX are queued. */
PL_MUST_CHECK int api__emit(struct api_emit *e, const char *type, int64_t conversation_id,
                            int64_t target_user_id, const char *payload);
/* Inside the open transaction on c->w->pg. */
PL_MUST_CHECK int api__emit_store(struct api_call *c, struct api_emit *e);
/* The same for em[0..n_em) at once: one run of positions for all of them,
 * in that order (audiences and rows from c's arena). */
PL_MUST_CHECK int api__emit_store_all(struct api_call *c, struct api_emit *em, unsigned n_em);
/* After commit. */
void api__emit_publish(struct api_call *c, const struct api_emit *e);

/* ---- blocks and message requests (blocks.c) ---- */
/* Sets the 403 "blocked" problem; returns PL_EFORBIDDEN. */
PL_MUST_CHECK int api__blocked(struct api_call *c);
/* Worker: may the caller add ids[0..n) to a group? 0, or PL_EFORBIDDEN
 * with a 403 "blocked" / "request-pending" problem naming the first one
 * refused, or a storage code. */
PL_MUST_CHECK int api__invite_check(struct api_call *c, const int64_t *ids, unsigned n);

/* ---- reply helpers (reply.c) ---- */
/* A generator whose buffer is copied into the request arena on reply.
 * NULL when out of memory. */
yajl_gen api__gen_new(void);
/* Sends the generated JSON with status and frees g. Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int api__reply_json(struct api_call *c, int status, yajl_gen g);
/* Sends a static or arena-owned body. */
void api__reply_raw(struct api_call *c, int status, const char *ctype, const char *body,
                    size_t len);
/* Checks Content-Type (415) and parses the body as a JSON object (400/422).
 * On failure the problem is already set and the code is returned. */
PL_MUST_CHECK int api__body_object(struct api_call *c, const struct api_json **out);
/* api__body_object + api_json_bind: field errors land in c->errs (the
 * caller adds its own checks, then calls api__fail_validation if any). */
PL_MUST_CHECK int api__bind_body(struct api_call *c, const struct api_field *fields, unsigned n);
/* Sends 422 with c->errs and returns PL_EINVAL. */
PL_MUST_CHECK int api__fail_validation(struct api_call *c);
void api__gen_str(yajl_gen g, const char *key, const char *val);
void api__gen_int(yajl_gen g, const char *key, long long v);
void api__gen_key(yajl_gen g, const char *key);

/* ---- handlers ---- */
api_handler_fn api_users_create, api_me_get, api_me_patch, api_sessions_create,
    api_sessions_delete_current, api_sessions_list, api_sessions_delete, api_me_password_put,
    api_health_live, api_health_ready, api_metrics_get, api_openapi_get, api_problem_doc_get;
/* Startup (api_init): compresses the static documents once. */
PL_MUST_CHECK int api__docs_init(void);

/* True for a username: 3 to 32 of a-z, 0-9, '_' and '.' (users.c). */
bool api__valid_username(const char *s);
/* True for 1..max_chars characters of UTF-8 without control characters. */
bool api__valid_display_text(const char *s, size_t max_chars);

/* Membership of the caller in conversation_id (conversations.c): 0 and the
 * role; PL_ENOTFOUND (problem set: 404, so that non-members cannot learn
 * that the conversation exists); or a storage code. */
PL_MUST_CHECK int api__require_member(struct api_call *c, int64_t conversation_id, bool *is_admin);
/* Parses a {user} path parameter / "user" value: an integer id or a
 * username; all digits (up to 18) is an id (conversations.c). Does not set
 * a problem. 0, PL_ENOTFOUND, or a storage code. */
PL_MUST_CHECK int api__resolve_user(struct api_call *c, const char *id_or_name, int64_t *user_id);

/* ---- conversations and members (conversations.c, conversation_create.c,
 * members.c) ---- */
struct store_conv;
struct store_conv_lock;
struct store_member;
api_handler_fn api_conversations_create, api_conversations_list, api_conversations_get,
    api_conversations_update, api_members_put, api_members_delete, api_conversation_settings_patch;

/* True for a positive decimal integer (digits only) that fits int64_t. */
bool api__parse_id(const char *s, int64_t *out);
/* The {id} path parameter (the route's first) as a conversation id.
 * Returns 0, or PL_ENOTFOUND with the 404 problem set when malformed. */
PL_MUST_CHECK int api__conversation_id(struct api_call *c, int64_t *id);
/* Sets the 404 "no such conversation" problem; returns PL_ENOTFOUND. */
PL_MUST_CHECK int api__conversation_not_found(struct api_call *c);
/* api__resolve_user() for n references at once (one query): ids[i] is 0
 * for an unknown one. Entries of refs that cannot name a user are
 * replaced by "". Returns 0 or a storage code. */
PL_MUST_CHECK int api__resolve_users(struct api_call *c, const char **refs, unsigned n,
                                     int64_t *ids);
/* Inside a transaction: locks the conversation for a membership or title
 * change. 0; PL_ENOTFOUND (404 set) when there is no such conversation
 * or the caller is not a member; PL_EINVAL (422 set, with direct_detail)
 * for a direct conversation; or a storage code. */
PL_MUST_CHECK int api__conv_lock_group(struct api_call *c, int64_t id, struct store_conv_lock *lk,
                                       const char *direct_detail);

/* GET /v1/conversations cursors: "<last activity in us>.<id>". */
void api__conv_cursor_format(char *buf, size_t size, int64_t activity_us, int64_t id);
bool api__conv_cursor_parse(const char *s, int64_t *activity_us, int64_t *id);

/* Writes a Conversation. viewer=false leaves out my_role, unread_count
 * and last_message (events). members (may be NULL: no "members" key). */
void api__gen_conversation(yajl_gen g, const struct store_conv *cv, bool viewer,
                           const struct store_member *members, unsigned n_members);
void api__gen_member(yajl_gen g, const struct store_member *m);
/* Sends the Conversation as the caller sees it. */
PL_MUST_CHECK int api__reply_conversation(struct api_call *c, int status,
                                          const struct store_conv *cv,
                                          const struct store_member *members, unsigned n_members);
/* The generated JSON as a NUL-terminated arena string; frees g. NULL when
 * out of memory. */
const char *api__gen_take(struct api_call *c, yajl_gen g);
/* Sets a 422 with one field error (pointer "" for the whole request) and
 * detail as the problem's detail; returns PL_EINVAL. */
PL_MUST_CHECK int api__fail_field(struct api_call *c, const char *pointer, const char *detail);

/* A state change run by api__tx_emit(): does its writes on c->w->pg and
 * queues its events on em. A failure (with or without a problem set)
 * rolls everything back. */
typedef int api_tx_fn(struct api_call *c, void *arg, struct api_emit *em);
/* Begins a transaction, runs fn, stores the events (last, since that takes
 * the position lock), commits, then publishes the events. Returns 0 or
 * fn's / the storage's code (rolled back). */
PL_MUST_CHECK int api__tx_emit(struct api_call *c, api_tx_fn *fn, void *arg);

/* Sends the Conversation with its "archive" summary (archive.c). */
PL_MUST_CHECK int api__reply_conversation_archive(struct api_call *c, const struct store_conv *cv,
                                                  const struct store_member *members,
                                                  unsigned n_members);

/* Writes a Message object (messages.c). */
struct store_message;
void api__gen_message(yajl_gen g, const struct store_message *m);
/* PATCH and DELETE /v1/conversations/{id}/messages/{seq} (message_edit.c). */
api_handler_fn api__message_patch, api__message_delete;
/* PUT and DELETE .../messages/{seq}/reactions/{emoji} (reactions.c). */
api_handler_fn api__reaction_put, api__reaction_delete;
/* Fills the reactions of a history page (one query when n > 0). */
PL_MUST_CHECK int api__reactions_attach(struct api_call *c, int64_t conv, struct store_message *m,
                                        unsigned n);
/* The "reactions" member of a message. */
void api__gen_reactions(yajl_gen g, const struct store_message *m);
/* A send with forward_of (forward.c): fills s->kind and s->body from the
 * message it names when the caller can read it (404 otherwise; 422 for e2e
 * and deleted ones) and marks it forwarded. */
PL_MUST_CHECK int api__forward_read(struct api_call *c, const struct api_json *fwd,
                                    struct store_send *s);
/* True for one emoji grapheme (reactions.c). */
bool api__valid_emoji(const char *s);

/* A message send on its way to the group-commit writer (messages.c builds
 * it, send.c commits it). It lives in the request's arena; from a
 * successful env->send() on, the writer owns it and the request until it
 * completes the request. */
struct api_send {
    struct http_req *req;
    struct store_send s; /* strings borrowed from the request's arena */
};

/* Receipts (receipts.c); routed by messages.c. */
api_handler_fn api__receipts_post, api__receipts_get;
/* Worker: n authenticated receipts (bodies decoded) of one batch, in one
 * transaction (receipts.c); rcs[i] gets what api__receipts_post() would
 * have returned for cs[i], and each request has its answer. */
void api__receipts_post_many(struct api_call **cs, unsigned n, int *rcs);

/* Completes a request a handler deferred (any thread), exactly as
 * api_handle() would have with the handler's result rc: the problem for a
 * bare failure code, X-Request-Id, http_req_complete() (routes.c). */
void api__finish(struct api_call *c, int rc);

/* presence.c */
api_handler_fn api_presence_get, api_presence_heartbeat, api_typing_post;
/* ---- event streams (events.c) and GET /v1/sync (sync.c) ---- */
api_handler_fn api__sync_get;
struct store_event;
/* A stored event's payload as device may see it (e2e messages projected);
 * *owned is set when the result must be freed. NULL when out of memory or
 * malformed. */
const char *api__event_payload(const struct store_event *e, int64_t device, size_t *len,
                               char **owned);
/* A stream position as a client sent it: decimal digits only. */
bool api__parse_pos(const char *s, uint64_t *out);
/* Worker: the current and the oldest stream positions, in one statement. */
PL_MUST_CHECK int api__positions(struct api_call *c, uint64_t *current, uint64_t *oldest);
api_handler_fn api_presence_subs_put, api_presence_subs_get, api_presence_subs_delete;
/* Writes a Presence object for a user the caller may see: hb_ms is the
 * last heartbeat, 0 for never seen, UINT64_MAX for unknown (Redis down). */
void api__gen_presence_hb(struct api_call *c, yajl_gen g, int64_t user, uint64_t hb_ms);
/* Writes the Presence of a user whose setting hides it from the caller. */
void api__gen_presence_hidden(yajl_gen g, int64_t user);
/* RFC 3339 UTC with milliseconds. */
void api__format_ms(uint64_t ms, char out[48]);
/* Refreshes the user's heartbeat and announces it when it came online;
 * returns whether it did. Failures (Redis down) are ignored (false):
 * presence is best effort. */
bool api__presence_touch(struct api_worker *w, int64_t user);
/* api__presence_touch() for n users (one may repeat) in one round trip
 * per 4,096. */
void api__presence_touch_many(struct api_worker *w, const int64_t *users, unsigned n);
/* Writes user's Presence object, as the caller may see it (status
 * "hidden" and nothing else when the user's privacy setting hides it), to
 * g. Returns 0 or a storage code. */
int api__gen_presence(struct api_call *c, yajl_gen g, int64_t user);

/* ---- e2e (e2e.c, e2e_send.c, keys.c) ---- */

/* A ciphertext's largest decoded size. */
#define API_E2E_CT_MAX (128 * 1024)
/* True when s is canonical base64url without padding that decodes to min
 * to max bytes; stores the size in *n (may be NULL). */
bool api__b64_check(const char *s, size_t min, size_t max, size_t *n);
/* Decodes s (checked) into exactly size bytes; false otherwise. */
bool api__b64_decode(const char *s, unsigned char *out, size_t size);
/* Writes the "e2e" member of an e2e Message: the shared members of its
 * body plus the viewer's type and ciphertext (null when m has none). */
void api__gen_e2e(yajl_gen g, const struct store_message *m);
/* Reads the "e2e" member v of a send to conversation conv into s (kind,
 * body, e2e): validates the envelope, checks the conversation is an e2e
 * one the caller belongs to (404 / 422) and the device set (409
 * devices-changed). The problem is set on failure. */
PL_MUST_CHECK int api__e2e_read_send(struct api_call *c, int64_t conv, const struct api_json *v,
                                     struct store_send *s);

/* The clear action marker of an e2e edit or reaction (e2e_action.c):
 * action "edit" | "reaction" (borrowed from the body) and the seq it
 * refers to; action NULL for an ordinary message. */
struct api_e2e_action {
    const char *action;
    int64_t refers_to;
};
/* Reads "refers_to" and "action" of the e2e object v (both or neither);
 * errors go to c->errs. Returns 0 (or PL_ENOMEM). */
PL_MUST_CHECK int api__e2e_action_read(struct api_call *c, const struct api_json *v,
                                       struct api_e2e_action *out);
/* Enforces the rules of an action in conversation conv sent under
 * client_msg_id cmid (borrowed): the target exists and the caller sees it
 * (422), not deleted (409), not an action itself (422); an edit is the
 * sender's (403) within edit_window (409), and marks the target edited.
 * Skipped for a retry of a stored send. The problem is set on failure. */
PL_MUST_CHECK int api__e2e_action_check(struct api_call *c, int64_t conv, const char *cmid,
                                        const struct api_e2e_action *act);

/* Writes a user object (users.c), used by sessions and /v1/me. */
void api__gen_user(yajl_gen g, const struct store_user *u);
/* Writes "deleted": true when username (borrowed) is a deleted account's
 * tombstone (storage/account.h), nothing otherwise (users.c). */
void api__gen_deleted(yajl_gen g, const char *username);

#endif
