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
 * The CLI is one process per command. Its state lives in $PARLEY_HOME
 * (default ~/.parley) as one vault file, state.vault, sealed under the
 * passphrase (PARLEY_PASSPHRASE, else PARLEY_PASSWORD): the token, the
 * device's identity seed and prekeys, and every pairwise session. It is
 * loaded at start and written back (atomically, by rename) after a command
 * changed it.
 */

/* One state record: a tag, a key and bytes. */
enum cli_tag {
    CLI_T_CONF = 'C',      /* key: setting name; value: text */
    CLI_T_IDENTITY = 'I',  /* key: ""; value: the 32-byte seed */
    CLI_T_SPK = 'S',       /* key: decimal id; value: id(4) pub priv sig (current and previous) */
    CLI_T_OPK = 'O',       /* key: decimal id; value: pub priv */
    CLI_T_SESSION = 'X',   /* key: "user:device"; value: e2e_session_serialize() */
    CLI_T_PIN = 'P',       /* key: "user:device"; value: the identity key last seen */
    CLI_T_OWNKEY = 'K',    /* key: conversation id; value: our sender key */
    CLI_T_DISTRIB = 'D',   /* key: conversation id; value: "uid:dev," devices that have it */
    CLI_T_MEMBERKEY = 'M', /* key: "conv:uid:dev"; value: a member device's sender key */
    CLI_T_LOG = 'L',       /* key: "conv:seq"; value: "sender<TAB>text" (local history) */
};

struct cli_rec {
    uint8_t tag;
    char *key;
    uint8_t *val;
    size_t len;
};

struct cli {
    char *home;          /* $PARLEY_HOME */
    char *server;        /* base URL, no trailing slash */
    int http11;          /* --http1.1 */
    int h2c;             /* --http2-prior-knowledge */
    const char *out_dir; /* --out-dir: where received files go (default home/files) */
    int json;            /* --json output */
    const char *pass;    /* vault passphrase (borrowed from the environment) */
    struct cli_rec *recs;
    size_t nrecs;
    int dirty;
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

/* ---- state (state.c) ---- */
int cli_state_load(struct cli *c);  /* 0, or 1 when there is no state yet */
void cli_state_save(struct cli *c); /* dies on failure */
void cli_state_wipe(struct cli *c);
struct cli_rec *cli_rec_get(struct cli *c, uint8_t tag, const char *key);
void cli_rec_set(struct cli *c, uint8_t tag, const char *key, const void *val, size_t len);
void cli_rec_del(struct cli *c, uint8_t tag, const char *key);
const char *cli_conf(struct cli *c, const char *key); /* NULL when unset */
void cli_conf_set(struct cli *c, const char *key, const char *val);
long long cli_conf_int(struct cli *c, const char *key);

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
/* Streams GET /v1/events, calling on_event(type, data JSON, id) for each
 * event until it returns nonzero or the stream ends. */
typedef int cli_event_cb(struct cli *c, const char *type, const char *data, const char *id,
                         void *ctx);
int cli_stream(struct cli *c, const char *last_id, long timeout_s, cli_event_cb *cb, void *ctx);

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
};

#include <string.h>
#include <yajl/yajl_gen.h>
#define GEN_STR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))
char *cli_gen_done(yajl_gen g); /* the generated text, malloc'd; frees g */
/* Opens an e2e send body up to its recipients array:
 * {"client_msg_id": cmid, "kind": "e2e", "e2e": {"recipients": [ */
void cli_gen_e2e_open(yajl_gen g, const char *cmid);
/* Appends the devices of user `who` (id or name), except this one, to t
 * from index n; returns the new count. */
size_t cli_devices(struct cli *c, const char *who, struct target *t, size_t n);
/* The pairwise session with a device (stored, or started from its bundle);
 * free with e2e_session_free after cli_session_store. */
struct e2e_session *cli_session_for(struct cli *c, struct e2e_identity *me, long long uid,
                                    long long dev, const uint8_t ik[32]);
void cli_session_store(struct cli *c, const char *key, struct e2e_session *s);
/* Encrypts pt for one device and appends {device_id, type, ciphertext}. */
void cli_gen_recipient(struct cli *c, yajl_gen g, struct e2e_identity *me, const struct target *t,
                       const char *pt);
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
/* What one send carries: text, or (file != NULL) an uploaded file. */
struct cli_msg {
    const char *text;
    const struct cli_file *file;
};
/* The E2E plaintext payload of m (PROTOCOL.md, "Client message payload");
 * malloc'd, wipe before free. */
char *cli_payload_json(const struct cli_msg *m);
/* Appends "media_ids": [...] to an open e2e envelope map when m has a file. */
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
/* group info | rename | leave (group_info.c) */
int cli_group_more(struct cli *c, int argc, char **argv);
/* A GROUP argument: "#ID", "ID" or a group's exact title. */
long long cli_group_id(struct cli *c, const char *arg);

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
void cli_verify(struct cli *c, const char *user);
void cli_send(struct cli *c, const char *user, const struct cli_msg *m, int plain);
void cli_listen(struct cli *c, long count, long timeout_s);

/* ---- presence (presence.c) ---- */
/* Subscribes this device to the presence of CHAT's other members and
 * prints their current state; listen then prints their transitions. */
void cli_presence_watch(struct cli *c, const char *chat);
/* Renews the subscription when half its lifetime has passed. */
void cli_presence_renew(struct cli *c);
/* Prints a presence event (or Presence object) about a watched user. */
void cli_presence_event(struct cli *c, yajl_val ev);

#endif
