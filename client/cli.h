/* SPDX-License-Identifier: MIT */
/* Parley - the parley command-line client: shared declarations.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_CLIENT_CLI_H
#define PL_CLIENT_CLI_H

#include "crypto/e2e.h"

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

/*
 * The CLI is one process per command, and several may run on one
 * PARLEY_HOME at once (a listener in one terminal, sends in another). Its
 * state is $PARLEY_HOME/parley.db (store.c): SQLite, one row per record,
 * every value sealed under a key derived from the passphrase
 * (PARLEY_PASSPHRASE or a prompt; never the account password). Reads go to
 * the database every time; read-modify-write steps run inside
 * cli_tx_begin/cli_tx_commit (BEGIN IMMEDIATE). Each ratchet or sender-key
 * step is committed together with what it produced before anything leaves
 * the process (crypto/PROTOCOL.md, "Client state rules").
 */

/* One state record: a tag, a key and bytes. */
enum cli_tag {
    CLI_T_CONF = 'C',       /* key: setting name; value: text */
    CLI_T_CHECK = 'c',      /* key: ""; a known text, to tell a wrong passphrase */
    CLI_T_IDENTITY = 'I',   /* key: ""; value: the 32-byte seed */
    CLI_T_SPK = 'S',        /* key: decimal id; value: id(4) pub priv sig (current and previous) */
    CLI_T_OPK = 'O',        /* key: decimal id; value: pub priv */
    CLI_T_SESSION = 'X',    /* key: "user:device"; value: e2e_session_serialize() */
    CLI_T_OLDSESSION = 'Y', /* key: "user:device:k"; an earlier session (listen.c) */
    CLI_T_PIN = 'P',        /* key: "user:device"; value: the trusted identity key (32) */
    CLI_T_PENDING = 'Q',    /* key: "user:device"; value: an identity key not accepted yet */
    CLI_T_LISTED = 'U',     /* key: user id; the user's devices were listed (pinned) once */
    CLI_T_NAME = 'N',       /* key: user id; value: username */
    CLI_T_OWNKEY = 'K',     /* key: conversation id; value: our sender key */
    CLI_T_DISTRIB = 'D',    /* key: conversation id; value: "uid:dev," devices that have it */
    CLI_T_MEMBERKEY = 'M',  /* key: "conv:uid:dev"; value: a member device's sender key */
    CLI_T_LOG = 'L',        /* key: "conv:seq"; value: "sender<TAB>text" (local history) */
    CLI_T_OUTBOX = 'W',     /* key: client_msg_id; value: a send not yet answered (outbox.c) */
    CLI_T_HELD = 'H',       /* key: "conv:seq"; value: a message event held until accepted */
    CLI_T_EDIT = 'E',       /* key: "conv:seq"; value: "sender@pos\ttext", the latest edit */
    CLI_T_REACT = 'R',      /* key: "conv:seq:uid"; value: "pos\temoji" (actions.c) */
};

struct cli_rec {
    uint8_t tag;
    char *key;
    uint8_t *val; /* NUL-terminated after len bytes */
    size_t len;
};

struct cli_store;

struct cli {
    char *home;          /* $PARLEY_HOME */
    char *server;        /* base URL, no trailing slash */
    int http11;          /* --http1.1 */
    int h2c;             /* --http2-prior-knowledge */
    const char *out_dir; /* --out-dir: where received files go (default home/files) */
    int json;            /* --json output */
    int listening;       /* in `listen`: notices go to stdout */
    const char *pass;    /* store passphrase (borrowed) */
    struct cli_store *store;
    struct cli_rec **recs; /* records handed out since the last cli_recs_release */
    size_t nrecs, caprecs;
    void *curl;     /* the event stream's handle */
    void *curl_req; /* requests' handle */
};

/* Exit statuses (parley help lists them). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,    /* anything that failed */
    CLI_EXIT_USAGE = 2,    /* a command line parley cannot parse */
    CLI_EXIT_NOTFOUND = 3, /* no such user, chat, group, session; search without a match */
};

/* Prints "parley: msg" to stderr and exits 1. */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with the exit status code (enum cli_exit). */
_Noreturn void cli_die_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- state (store.c) ---- */
/* Opens (create: or creates) the store; 1 when there is none and !create.
 * Dies on a wrong passphrase. */
int cli_store_open(struct cli *c, int create);
void cli_store_close(struct cli *c);
/* The open SQLite handle, kept where leak checkers look (store.c). */
extern void *cli__live_db;
/* BEGIN IMMEDIATE / COMMIT; nests (only the outermost pair reaches SQLite).
 * Dying inside leaves the store as it was before the begin. Never hold a
 * transaction across a network request. */
void cli_tx_begin(struct cli *c);
void cli_tx_commit(struct cli *c);
/* Logout: deletes keys, sessions, pins, token; keeps the local history
 * (and the names of chats, their owner and the stream position). */
void cli_state_wipe_keys(struct cli *c);
/* logout --wipe: closes the store and deletes its files. */
void cli_store_wipe(struct cli *c);
/* The record as it is in the store now (NULL when absent). Records are
 * owned by c and valid until cli_recs_release() or exit. */
struct cli_rec *cli_rec_get(struct cli *c, uint8_t tag, const char *key);
/* The records of tag whose key starts with prefix, sorted by key; *out is
 * malloc'd (free it), the records are c's as above. */
size_t cli_rec_list(struct cli *c, uint8_t tag, const char *prefix, struct cli_rec ***out);
void cli_rec_set(struct cli *c, uint8_t tag, const char *key, const void *val, size_t len);
void cli_rec_del(struct cli *c, uint8_t tag, const char *key);
/* Frees every record handed out so far (a long listener calls it per event). */
void cli_recs_release(struct cli *c);
const char *cli_conf(struct cli *c, const char *key); /* NULL when unset */
void cli_conf_set(struct cli *c, const char *key, const char *val);
long long cli_conf_int(struct cli *c, const char *key);

/* ---- terminal output (text.c) ---- */
/* s with control characters (C0, DEL, C1, bidi overrides) escaped as \n,
 * \r, \t, \xHH or \u{HHHH}, so that received text cannot move the cursor,
 * set titles, fake lines or run terminal escapes. malloc'd. */
char *cli_safe(const char *s);

/* ---- identity pins (pin.c) ---- */
/* 0 when device (uid, dev) may be used with identity key ik: it is pinned
 * with ik, or is pinned now (trust on first use: uid's devices were never
 * listed). Otherwise records ik as pending, says "safety number with USER
 * changed" (once per key) and returns PL_EFORBIDDEN. Joins or runs a
 * transaction. */
int cli_pin_check(struct cli *c, long long uid, long long dev, const uint8_t ik[32]);
/* Marks uid as listed (call inside the transaction of a full listing). */
void cli_pin_listed(struct cli *c, long long uid);
/* verify USER [--accept]: the safety number; accept re-pins USER's devices. */
void cli_verify(struct cli *c, const char *user, int accept);

/* ---- HTTP (net.c) ---- */
/* Sends a request with the token (when logged in) and a JSON body (may be
 * NULL); returns the HTTP status and the parsed JSON body in *out (NULL
 * when empty; free with yajl_tree_free). Dies on transport errors. */
long cli_http(struct cli *c, const char *method, const char *path, const char *body, yajl_val *out);
/* A request whose body streams from in (size bytes; NULL: no body) and
 * whose response body streams to sink (which returns < 0 to abort). url is
 * a path on the server or an absolute URL; auth: send the token. Follows
 * redirects; no overall timeout, only a stall limit. Returns the HTTP
 * status; dies on transport errors. */
typedef int cli_sink_cb(void *ctx, const void *p, size_t n);
#include <stdio.h>
long cli_http_stream(struct cli *c, const char *method, const char *url, int auth, FILE *in,
                     long long size, const char *ctype, cli_sink_cb *sink, void *ctx);
/* cli_http() that returns -1 instead of dying when the server cannot be
 * reached (offline use: history, search); *out is NULL then. */
long cli_http_try(struct cli *c, const char *method, const char *path, const char *body,
                  yajl_val *out);
/* Dies with the problem's title/detail unless status is one of ok1/ok2
 * (404 exits CLI_EXIT_NOTFOUND, 401 says to log in again). */
void cli_expect(long status, yajl_val body, long ok1, long ok2, const char *what);
/* cli_http that returns -1 (and the reason in err) on a transport error
 * instead of dying; *retry_after (may be NULL): the Retry-After seconds,
 * or -1. */
long cli_http_send(struct cli *c, const char *method, const char *path, const char *body,
                   yajl_val *out, long *retry_after, char err[256]);
/* Streams GET /v1/events, calling on_event(type, data JSON, id) for each
 * event until it returns nonzero, timeout_s passes (0: never), SIGINT or
 * the stream fails. Returns 0 (callback), 1 (timeout), 2 (interrupted),
 * or -1 (failed or ended: *end says why and when to come back). Dies on
 * 401/403. */
typedef int cli_event_cb(struct cli *c, const char *type, const char *data, const char *id,
                         void *ctx);
struct cli_stream_end {
    long status;        /* HTTP status, 0 when there was no response */
    long retry_after_s; /* Retry-After, or -1 */
    long retry_ms;      /* the last SSE "retry:" field (kept across calls by the caller) */
    char why[128];
};
int cli_stream(struct cli *c, const char *last_id, long timeout_s, cli_event_cb *cb, void *ctx,
               struct cli_stream_end *end);
#include <signal.h>
extern volatile sig_atomic_t cli_interrupted; /* set by listen's SIGINT/SIGTERM handler */

/* JSON helpers. */
yajl_val cli_jget(yajl_val v, const char *k);
long long cli_jint(yajl_val v, const char *k);
const char *cli_jstr(yajl_val v, const char *k);
char *cli_b64(const uint8_t *b, size_t n);                         /* malloc'd */
int cli_unb64(const char *s, uint8_t *out, size_t cap, size_t *n); /* 0 or -1 */
/* Both return malloc'd strings and die on ENOMEM. */
char *cli_urlenc(const char *s);
char *cli_strndup(const void *p, size_t n); /* n bytes + NUL (p need not hold a NUL) */

/* ---- E2E (e2e.c, msg.c, group.c) ---- */
#define CLI_MAX_DEVS 256

struct target {
    long long uid, dev;
    uint8_t ik[32];
    int has_bundle;      /* b was fetched: there was no usable session */
    struct e2e_bundle b; /* public keys only */
};

#include <string.h>
#include <yajl/yajl_gen.h>
#define GEN_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))
char *cli_gen_done(yajl_gen g); /* the generated text, malloc'd; frees g */
/* True when a 409 answer is devices-changed (encrypt again for the new
 * device list); other 409s (an edit window that passed) are final. */
int cli_devices_changed(yajl_val problem);
/* Opens an e2e send body up to its recipients array:
 * {"client_msg_id": cmid, "kind": "e2e", "e2e": {"recipients": [ */
void cli_gen_e2e_open(yajl_gen g, const char *cmid);
/* Appends the devices of user `who` (id or name), except this one, to t
 * from index n; returns the new count. Checks every device against its pin
 * and dies with "safety number with USER changed" when one is not trusted
 * (nothing may be encrypted to it). */
size_t cli_devices(struct cli *c, const char *who, struct target *t, size_t n);
/* Outside any transaction: fetches a bundle for every target without a
 * session whose peer key is the target's (one network round trip each). */
void cli_targets_prepare(struct cli *c, struct target *t, size_t n);
/* The stored session under key "uid:dev", or NULL; free with
 * e2e_session_free. */
struct e2e_session *cli_session_load(struct cli *c, const char *key);
void cli_session_store(struct cli *c, const char *key, struct e2e_session *s);
/* Inside the send's transaction: encrypts pt for one device (its stored
 * session, or a new one from the prepared bundle), stores the advanced
 * session and appends {device_id, type, ciphertext}. */
void cli_gen_recipient(struct cli *c, yajl_gen g, struct e2e_identity *me, const struct target *t,
                       const char *pt);

/* ---- write-ahead sending (outbox.c) ---- */
/* One send, as stored before it is posted (PROTOCOL.md, "Client state
 * rules" 1). Strings are borrowed. */
struct cli_out {
    const char *cmid;    /* client_msg_id, the record's key */
    long long conv;      /* POST /v1/conversations/{conv}/messages */
    const char *body;    /* the exact request body */
    const char *summary; /* the local history line once it is stored */
    const char *distrib; /* groups: the devices that got our sender key with it, or NULL */
    long long key_id;    /* groups: the sender key id distrib belongs to */
};
/* Stores the entry; call inside the transaction that advanced the chains. */
void cli_outbox_put(struct cli *c, const struct cli_out *o);
/* Posts the stored entry cmid until the server answers (transport errors,
 * 5xx and 503 are retried with backoff, honouring Retry-After, with the
 * same body), then settles it: 200/201 store the history line and drop the
 * entry, 409 and other 4xx drop it. Returns the status and the response
 * (*res, yajl_tree_free). Dies after ~2 minutes of failures, leaving the
 * entry for the next run. */
long cli_outbox_post(struct cli *c, const char *cmid, yajl_val *res);
/* Posts whatever an earlier process left in the outbox (oldest first). */
void cli_outbox_flush(struct cli *c);
/* Serialises this device's sends across processes (flock on
 * $PARLEY_HOME/send.lock, held until cli_send_unlock or exit): the server
 * then stores a device's messages in the order they were encrypted, so a
 * sender-key distribution always precedes the group messages that need
 * it. wait = 0: returns -1 at once when another process holds it. */
int cli_send_lock(struct cli *c, int wait);
void cli_send_unlock(void);

struct cli_msg;
void cli_group_send(struct cli *c, long long conv, const struct cli_msg *m);
/* Group part of a received message: applies a distribution found in the
 * pairwise plaintext doc (may be NULL) and decrypts the group ciphertext.
 * Returns 0 and the payload document in *out (yajl_tree_free), or a
 * negative code. */
int cli_group_receive(struct cli *c, long long conv, long long uid, long long dev, yajl_val doc,
                      const char *group_b64, yajl_val *out);
int cli_group_cmd(struct cli *c, int argc, char **argv);

/* ---- files and payloads (file.c) ---- */
/* An uploaded file, as a message announces it. */
struct cli_file {
    long long media_id;
    long long size;     /* plaintext bytes */
    uint8_t key[32];    /* E2E: the secretstream key */
    uint8_t digest[32]; /* E2E: SHA-256 of the uploaded ciphertext */
    char name[256];     /* base name, no directories */
    char mime[128];
};
/* What one send carries: text, or (file != NULL) an uploaded file, or
 * (payload != NULL) a ready plaintext: an edit or reaction (actions.c),
 * with its clear refers_to/action and its local history line. */
struct cli_msg {
    const char *text;
    const struct cli_file *file;
    const char *payload, *summary, *action;
    long long refers_to;
    int quiet; /* cli_send prints nothing */
};
/* The E2E plaintext payload of m (PROTOCOL.md, "Client message payload");
 * malloc'd, wipe before free. */
char *cli_payload_json(const struct cli_msg *m);
/* Appends "media_ids": [...] to an open e2e envelope map when m has a file,
 * and "refers_to"/"action" when m is an edit or reaction. */
void cli_gen_media_ids(yajl_gen g, const struct cli_msg *m);
/* The line the local log keeps for m (malloc'd). */
char *cli_msg_summary(const struct cli_msg *m);
/* parley send --file: encrypt (unless plain), upload, send. */
void cli_send_file(struct cli *c, const char *to, const char *path, int plain);
/* A received file: the payload's "file" object (e2e) or a plain message's
 * "media" object. Downloads it (streaming), checks the digest, decrypts to
 * the output directory. Returns 0 and the saved path (malloc'd) in *path,
 * or a negative code (E2E_EDIGEST, E2E_EAUTH, PL_ENOTFOUND, -errno...)
 * after printing why to stderr; nothing is left on disk then. */
int cli_file_receive(struct cli *c, yajl_val file, int e2e, char **path);

/* ---- help and version (help.c) ---- */
/* Prints the help of cmd (NULL: the overview) to f; 0, or -1 when cmd is
 * not a command. */
int cli_help(FILE *f, const char *cmd);
/* True when name is a command (or an alias of one). */
int cli_is_command(const char *name);
/* False when cmd surely cannot take nargs arguments (checked before any
 * server or state is needed, so a usage error is always exit 2). */
int cli_args_ok(const char *cmd, int nargs);
/* The one-line usage of cmd and a pointer to `parley help cmd`, to
 * stderr; exits CLI_EXIT_USAGE. */
_Noreturn void cli_usage_die(const char *cmd);
extern const char cli_version[];

/* ---- names, times and chat references (names.c) ---- */
/* A user's name: ours from the state, others from the chat list or
 * GET /v1/users/{id}; "user ID" when the server cannot be asked. Borrowed,
 * valid until exit. */
const char *cli_user_name(struct cli *c, long long uid);
/* How a chat is named everywhere: "ann" (E2E direct), "ann (plain)"
 * (plain direct), "#5 Team" (group); "#ID" when unknown. Borrowed. */
const char *cli_chat_name(struct cli *c, long long conv);
/* Resolves a chat argument: "#ID", "NAME" (the E2E direct chat with NAME,
 * else the plain one), "NAME (plain)", or a group's exact title. plain
 * forces the plain direct chat. Exits CLI_EXIT_NOTFOUND when there is
 * none; without a server, only what the state remembers resolves. */
long long cli_chat_resolve(struct cli *c, const char *chat, int plain);
/* Keeps the names of conv and sender in the state (saved with the message
 * that named them), so history and search name them without a server. */
void cli_names_remember(struct cli *c, long long conv, long long sender);
/* "12:04" today, "2026-12-05 12:04" before (local time); "--:--" for 0. */
const char *cli_time_str(long long ms, char buf[32]);
/* Milliseconds since the epoch of an RFC 3339 UTC time; 0 when malformed. */
long long cli_time_parse(const char *rfc3339);
/* One message as a line, or (--json) as an object in the array that
 * cli_out_begin() opened. chat_ctx: name the chat when it is not obvious
 * from the sender. */
void cli_out_begin(struct cli *c);
void cli_out_msg(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                 const char *text, const char *snippet, int chat_ctx);
/* Ends the array (--json); returns how many messages were put out. */
long cli_out_end(struct cli *c);

/* ---- more commands (cmd_info.c) ---- */
int cli_cmd_typing(struct cli *c, int argc, char **argv);
int cli_cmd_presence(struct cli *c, int argc, char **argv);
int cli_cmd_devices(struct cli *c, int argc, char **argv);
int cli_cmd_sessions(struct cli *c, int argc, char **argv);
int cli_cmd_user(struct cli *c, int argc, char **argv);
/* edit CHAT SEQ TEXT, delete [--for-me] CHAT SEQ (cmd_edit.c) */
int cli_cmd_edit(struct cli *c, int argc, char **argv);
int cli_cmd_delete(struct cli *c, int argc, char **argv);
int cli_cmd_react(struct cli *c, int argc, char **argv); /* react [--remove] CHAT SEQ EMOJI */
/* block [--remove] USER | block --list; requests [accept|decline CHAT] (cmd_block.c) */
int cli_cmd_block(struct cli *c, int argc, char **argv);
int cli_cmd_requests(struct cli *c, int argc, char **argv);
int cli_cmd_expire(struct cli *c, int argc, char **argv);  /* expire CHAT off|1h|24h|7d|90d */
int cli_cmd_forward(struct cli *c, int argc, char **argv); /* forward FROM SEQ TO */
/* account delete [--password-stdin]; export [--out FILE] (cmd_account.c) */
int cli_cmd_account(struct cli *c, int argc, char **argv);
int cli_cmd_export(struct cli *c, int argc, char **argv);
/* group info | rename | leave (group_info.c) */
int cli_group_more(struct cli *c, int argc, char **argv);
/* A GROUP argument: "#ID", "ID" or a group's exact title. */
long long cli_group_id(struct cli *c, const char *arg);

/* ---- edits, reactions, deletes in the local history (actions.c) ---- */
#define CLI_ACTION_MARK '\x01'  /* history text of an edit/reaction message */
#define CLI_DELETED_MARK '\x02' /* history text of a message deleted for everyone */
#define CLI_MAX_EMOJI 16
/* A message's state on top of its history record. */
struct cli_overlay {
    int edited;
    unsigned n;
    struct {
        char emoji[72];
        long long count;
        int mine;
    } r[CLI_MAX_EMOJI];
};
/* The history line of an action: kind 'E' (value: the new text) or 'R'
 * (value: the emoji, NULL or "" for none). malloc'd. */
char *cli_action_line(char kind, long long seq, const char *value);
/* The encrypted payload of an action (PROTOCOL.md). malloc'd. */
char *cli_action_payload(char kind, long long seq, const char *value);
/* A decrypted payload doc of a message whose envelope is env: its action
 * line when it is a well-formed edit or reaction whose clear refers_to and
 * action match the encrypted ones, else NULL. malloc'd. */
char *cli_action_from_doc(yajl_val env, yajl_val doc);
/* Applies an action line sent by sender as message (or event) pos:
 * inside a transaction. */
void cli_action_apply(struct cli *c, long long conv, long long pos, long long sender,
                      const char *line);
/* Plain chats' events, and our own commands: the same overlays. pos 0
 * always replaces. Inside a transaction. */
void cli_local_edited(struct cli *c, long long conv, long long seq, long long sender, long long pos,
                      const char *text);
void cli_local_reaction(struct cli *c, long long conv, long long seq, long long uid, long long pos,
                        const char *emoji);
void cli_local_deleted(struct cli *c, long long conv, long long seq);
/* The edited text of message seq (NULL: not edited by its sender) and its
 * reactions in *ov. Borrowed until cli_recs_release. */
const char *cli_overlay_get(struct cli *c, long long conv, long long seq, long long sender,
                            struct cli_overlay *ov);
/* In an E2E chat: sends the action as an encrypted message and returns
 * 1; returns 0 (nothing sent) when conv is a plain chat. */
int cli_e2e_action_send(struct cli *c, long long conv, char kind, long long seq, const char *value);
/* What a receiver makes of an action payload (JSON text) that came with
 * the clear refers_to/action, sent by user sender to a message of
 * target_sender: "edit SEQ TEXT", "reaction SEQ EMOJI" (EMOJI empty: none)
 * or "ignore" (actions.json's canonical result). malloc'd. */
char *cli_action_effect(long long refers_to, const char *action, const char *payload,
                        long long sender, long long target_sender);
/* True when s is one emoji grapheme (the server's rule for reactions). */
int cli_emoji_ok(const char *s);
/* cli_out_msg with the overlay (NULL: none). */
void cli_out_msg_x(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                   const char *text, const char *snippet, int chat_ctx,
                   const struct cli_overlay *ov);

/* ---- local history (history.c) ---- */
/* cli_log_add() with the message's time (ms since the epoch; 0: now). */
void cli_log_add_at(struct cli *c, long long conv, long long seq, long long sender, long long ms,
                    const char *text);
void cli_log_add(struct cli *c, long long conv, long long seq, long long sender, const char *text);
long long cli_chat_id(struct cli *c, const char *chat); /* "#id" or a user name */
void cli_history(struct cli *c, const char *chat);
void cli_read(struct cli *c, const char *chat);
void cli_search(struct cli *c, int nwords, char **words);
struct e2e_identity *cli_identity(struct cli *c); /* dies without one */
void cli_keys_upload(struct cli *c, int first, int rotate, int n_opks);
void cli_keys_status(struct cli *c, int force_rotate);
long long cli_me_id(struct cli *c);
void cli_send(struct cli *c, const char *user, const struct cli_msg *m, int plain);
/* listen: reconnects with backoff until count messages, the timeout or
 * SIGINT/SIGTERM (then it exits 0). */
void cli_listen(struct cli *c, long count, long timeout_s);

/* ---- presence (presence.c) ---- */
/* Subscribes this device to the presence of CHAT's other members and
 * prints their current state; listen then prints their transitions. */
void cli_presence_watch(struct cli *c, const char *chat);
/* The stream dropped: the server ends the set with it, so the next renew
 * subscribes again. */
void cli_presence_lapsed(struct cli *c);
/* Renews the subscription when half its lifetime has passed. */
void cli_presence_renew(struct cli *c);
/* Prints a presence event (or Presence object) about a watched user. */
void cli_presence_event(struct cli *c, yajl_val ev);

#endif
