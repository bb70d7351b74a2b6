/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: run parleyd, talk h1/h2c/h2 to it.     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_HARNESS_H
#define PT_HARNESS_H

#include "pltest.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

/*
 * Everything here runs inside one pltest case (a forked child) on its main
 * thread, except pt_client_*(), the JSON helpers and pt_now_ms() /
 * pt_sleep_ms(), which sender threads may use (each with its own client).
 * Functions that say "fails the case" end it through pltest_fail() with a
 * message; the others return a code for tests that expect trouble.
 *
 * Environment (./scripts/test sets it up; meson sets PARLEY_TEST_BIN):
 *   PARLEY_TEST_BIN        the parleyd binary to run
 *   PARLEY_TEST_PG         libpq conninfo of the harness database
 *   PARLEY_TEST_REDIS      host:port or socket path of the harness Redis
 *   PARLEY_TEST_TLS_CERT   PEM certificate with IP SAN 127.0.0.1 (also the CA
 *   PARLEY_TEST_TLS_KEY    curl verifies h2 against) and its key
 *   PARLEY_TEST_SVC        command run as `$PARLEY_TEST_SVC pg|redis stop|start`
 *   PARLEY_TEST_REDIS_CLUSTER  seed list of the harness Redis Cluster
 *   PARLEY_TEST_ON_CLUSTER     when set, every server runs on that cluster
 *   PARLEY_TEST_SVC        command run as `$PARLEY_TEST_SVC pg|redis|standby stop|start`
 *   PARLEY_TEST_PG_STANDBY libpq conninfo of a hot standby of PARLEY_TEST_PG
 *                          (scripts/cluster test sets it; tests that need it skip)
 *   PARLEY_TEST_RECORD_DIR when set, every pt_req() appends one JSON line to
 *                          <dir>/<test binary>-<pid>.jsonl for the OpenAPI check
 *   PARLEY_TEST_KEEP_LOGS  when set, parleyd's logs are kept even after a clean stop
 * Without PARLEY_TEST_PG (or the others above but the last two) a case that
 * starts a server is skipped.
 */

/* The password pt_user_register() gives every user it creates. */
#define PT_PASSWORD "correct horse battery staple"
#define PT_USERNAME_MAX 33 /* 32 characters and the NUL */
#define PT_TOKEN_MAX 128
/* Every server the harness starts takes this as its metrics_token: send it
 * as the bearer token of GET /metrics. */
#define PT_METRICS_TOKEN "pt-metrics-token"
/* pt_json_int() for a missing member or one that is not an integer. */
#define PT_JSON_MISSING INT64_MIN

/* ---- the server under test ---- */

struct pt_server;

/* Starts parleyd on free loopback ports with the harness's database,
 * Redis and TLS material, cheap password hashing, 4 workers and
 * PT_METRICS_TOKEN, plus
 * extra_args (a NULL-terminated list, or NULL), e.g. {"--max-body",
 * "1024", NULL}. Its output goes to a log file in a private temp dir.
 * Waits up to 20 s for the port file and for GET /healthz to answer 200.
 * Returns the server, or NULL with the reason in pt_server_error() (the
 * log's tail is printed to stderr). Skips the case when the harness has no
 * database. A server still running when the case exits is killed and its
 * log path printed. */
struct pt_server *pt_server_start(const char *const *extra_args);
/* Why the last pt_server_start() failed. Static storage. */
const char *pt_server_error(void);
/* pt_server_start() that fails the case (at the caller's line) instead of
 * returning NULL. */
#define PT_SERVER_START(args) pt__server_start_or_fail(__FILE__, __LINE__, (args))
struct pt_server *pt__server_start_or_fail(const char *file, int line, const char *const *args);

/* Sends SIGTERM and waits up to 10 s. Returns parleyd's exit status (0 for
 * a clean shutdown, 128 + signal number when a signal ended it), or -1 when
 * it had to be killed. Frees s; the log is kept (and its path printed)
 * unless the status is 0. */
int pt_server_stop(struct pt_server *s);

pid_t pt_server_pid(const struct pt_server *s);
/* parleyd's resident set size in KiB (VmRSS in /proc/<pid>/status); fails
 * the case when it cannot be read. */
long pt_server_rss_kb(const struct pt_server *s);
unsigned pt_server_port(const struct pt_server *s);
unsigned pt_server_tls_port(const struct pt_server *s);
/* The log file's path. Borrowed from s. */
const char *pt_server_log(const struct pt_server *s);
/* A blocking TCP socket connected to the cleartext port (h1 and h2c), for
 * tests that speak raw protocol. Fails the case when it cannot connect. */
int pt_connect(const struct pt_server *s);
/* A new private directory ($TMPDIR or /tmp, named after tag), removed with
 * everything in it when the case's process exits; e.g. for --data-dir.
 * Fails the case when it cannot be made. Static storage, at most 8 per
 * process. */
const char *pt_temp_dir(const char *tag);

/* ---- HTTP requests (libcurl) ---- */

struct pt_resp {
    long status; /* 0 when the request failed */
    char *body;  /* NUL-terminated (len excludes the NUL); never NULL */
    size_t len;
    char *headers_raw; /* the final response's status line and headers */
    long http_version; /* 11 or 20 */
    /* private */
    char *_ctype;
    yajl_val _json;
    void *_copies;
};

/* Sends one request over the transport p to s and fills *out (free it
 * with pt_resp_free()). PT_H1 is HTTP/1.1 over cleartext, PT_H2C HTTP/2
 * with prior knowledge, PT_H2 HTTP/2 over TLS with ALPN, the certificate
 * verified. One connection per (server, transport) is kept alive across
 * calls (h2c goes through a small nghttp2 client of ours: libcurl 7.88
 * cannot reuse prior-knowledge connections). token, content_type and body may be NULL; a body is
 * sent as is (len bytes), without any Content-Type but the one given. Fails the case when the
 * response came over another HTTP version than asked for. Returns 0 when a response arrived (any
 * status), -1 when the transfer failed (the error is in pt_req_error()). */
int pt_req(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
           const char *token, const char *content_type, const char *body, size_t len,
           struct pt_resp *out);
/* pt_req() with extra request headers: a NULL-terminated list of
 * "Name: value" strings, or NULL. */
int pt_req_h(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
             const char *token, const char *content_type, const char *body, size_t len,
             const char *const *headers, struct pt_resp *out);
/* libcurl's text for the last failed pt_req() or pt_client_req() of the
 * calling thread. Thread-local storage. */
const char *pt_req_error(void);

/* pt_req() keeps its connections in the server object, for the case's main
 * thread. A thread that sends requests of its own (concurrent senders)
 * uses a client: one keep-alive connection over p, opened at the first
 * request, used by one thread at a time. s must outlive it. */
struct pt_client;
struct pt_client *pt_client_new(struct pt_server *s, enum pt_proto p);
/* Closes the connection. NULL is fine. */
void pt_client_free(struct pt_client *c);
/* pt_req_h() over c; may be called from any thread that owns c. */
int pt_client_req(struct pt_client *c, const char *method, const char *path, const char *token,
                  const char *content_type, const char *body, size_t len,
                  const char *const *headers, struct pt_resp *out);
/* GET without a body, and a JSON request (Content-Type application/json);
 * both fail the case when the transfer fails. */
void pt_get(struct pt_server *s, enum pt_proto p, const char *path, const char *token,
            struct pt_resp *out);
/* The value of the unlabelled series name in GET /metrics; fails the case
 * when /metrics does not answer 200 or has no such series. */
long long pt_metric(struct pt_server *s, enum pt_proto p, const char *name);
void pt_send_json(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
                  const char *token, const char *json, struct pt_resp *out);

/* The first response header called name (case-insensitive), trimmed, or
 * NULL. Owned by r, valid until pt_resp_free(). */
const char *pt_resp_header(struct pt_resp *r, const char *name);
/* The Content-Type of the response, or NULL. Owned by r. */
const char *pt_resp_ctype(struct pt_resp *r);
void pt_resp_free(struct pt_resp *r);

/* Fails the case (showing the body) unless r's status is status. */
#define PT_ASSERT_STATUS(r, st) pt__assert_status(__FILE__, __LINE__, (r), (st))
void pt__assert_status(const char *file, int line, struct pt_resp *r, long status);
/* Fails the case unless r is an RFC 9457 problem: the status, Content-Type
 * application/problem+json, type "/problems/<slug>", a matching "status"
 * member, a title, and request_id equal to the X-Request-Id header. */
#define PT_ASSERT_PROBLEM(r, st, slug) pt__assert_problem(__FILE__, __LINE__, (r), (st), (slug))
void pt__assert_problem(const char *file, int line, struct pt_resp *r, long status,
                        const char *slug);

/* ---- JSON ---- */

/* The body parsed with yajl; fails the case when it is not JSON. Owned by
 * r (freed by pt_resp_free()). */
yajl_val pt_json(struct pt_resp *r);
/* Walks a NULL-terminated path of object keys; a component that is all
 * digits indexes an array: pt_json_str(t, "errors", "0", "pointer", NULL).
 * pt_json_get returns the node or NULL; pt_json_str the string or NULL;
 * pt_json_int the integer or PT_JSON_MISSING. Borrowed from the tree. */
yajl_val pt_json_get(yajl_val v, ...) __attribute__((sentinel));
const char *pt_json_str(yajl_val v, ...) __attribute__((sentinel));
int64_t pt_json_int(yajl_val v, ...) __attribute__((sentinel));

/* ---- accounts ---- */

/* Registers a user called <prefix>_<12 random hex digits> with password
 * PT_PASSWORD, so names never collide across parallel tests and runs
 * (prefix: at most 19 of [a-z0-9_.]). Stores the name in out_username and
 * returns the user's id. Fails the case unless the server answers 201. */
int64_t pt_user_register(struct pt_server *s, enum pt_proto p, const char *prefix,
                         char out_username[PT_USERNAME_MAX]);
/* Logs in and stores the bearer token in out_token; returns the device id.
 * Fails the case unless the server answers 201. */
int64_t pt_login(struct pt_server *s, enum pt_proto p, const char *username, const char *password,
                 char out_token[PT_TOKEN_MAX]);

/* ---- internal: the h2c client behind pt_req(PT_H2C) (harness_h2c.c) ---- */

struct pt__h2c;
/* Connects to the cleartext port; NULL when the connection is refused. */
struct pt__h2c *pt__h2c_open(unsigned port);
/* False once the connection failed, closed or received GOAWAY. */
int pt__h2c_usable(const struct pt__h2c *c);
void pt__h2c_free(struct pt__h2c *c);
/* One request on the connection. headers: NULL-terminated "Name: value"
 * strings, which are lowercased in place. Fills *out (which must be zeroed)
 * and returns 0, or -1 with a reason in err. */
int pt__h2c_req(struct pt__h2c *c, const char *method, const char *path, char **headers,
                const char *body, size_t len, struct pt_resp *out, char *err, size_t errlen);

/* ---- shared services and time ---- */

/* Runs `$PARLEY_TEST_SVC what action` (what: "pg" or "redis"; action:
 * "stop" or "start") and waits up to 60 s for it. Skips the case when
 * PARLEY_TEST_SVC is unset; fails it when the command fails. A service
 * stopped here and not started again is started when the case exits, so a
 * failing chaos test does not take the shared services down with it. */
void pt_svc(const char *what, const char *action);
/* Skips the case unless PARLEY_TEST_SVC is set: call it before starting
 * anything in a test that will need pt_svc(). */
void pt_svc_require(void);

/* The harness's Redis Cluster (3 masters, 3 replicas): its seed list for
 * --redis-cluster, from PARLEY_TEST_REDIS_CLUSTER. Skips the case when
 * there is none. With PARLEY_TEST_ON_CLUSTER set (meson does, for a
 * selection of tests registered a second time as "rc-NN-..."), every
 * pt_server_start() passes it, so parleyd runs on the cluster. */
const char *pt_redis_cluster(void);
/* SIGKILLs the master serving key's slot (`$PARLEY_TEST_SVC rcluster
 * kill-master KEY`) and returns its port; its replica takes over. Fails
 * the case when that does not work. The cluster is made whole again (the
 * node restarts and rejoins as a replica) by pt_redis_cluster_restore(),
 * or when the case exits. */
unsigned pt_redis_cluster_kill_master(const char *key);
void pt_redis_cluster_restore(void);

/* Monotonic milliseconds, and a sleep for polling a condition that has a
 * deadline (never to wait for something to happen). */
uint64_t pt_now_ms(void);
void pt_sleep_ms(unsigned ms);

/* Waits (with a deadline, failing the case past it) until the search
 * indexer of the servers has indexed every message committed before the
 * call (migration 0015: search lags the commits by ~0.1 s). Call before a
 * search or an archive run that must see the messages just sent. */
void pt_search_wait(void);
/* The same for servers on the database conninfo (a case's own database). */
void pt_search_wait_on(const char *conninfo);

/* A database of this test run's own, prefix_<runner pid>, created when
 * missing (the cases of one file race to create it: one wins); its
 * conninfo into out. For cases that delete or rewrite rows that other
 * tests count in the shared database (the analytics checks of 65). */
void pt_own_database(const char *prefix, char *out, size_t cap);

#endif
