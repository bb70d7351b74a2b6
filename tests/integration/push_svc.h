/* SPDX-License-Identifier: MIT */
/* Parley - integration: a local push service that records what parleyd posts. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_PUSH_SVC_H
#define PT_PUSH_SVC_H

#include <stddef.h>
#include <stdint.h>

/*
 * A tiny HTTP/1.1 server on a free loopback port, run by a thread of its
 * own: it keeps every request it receives (path, the Web Push headers and
 * the body) and answers 201, or the statuses a test scripted for a path.
 * The case's thread reads what arrived with pt_push_svc_wait() (a deadline,
 * never a sleep). Subscriptions point at http://127.0.0.1:PORT/<path>.
 */

struct pt_push_svc;

/* One request as received; strings are "" when the header was absent. */
struct pt_push_msg {
    char path[128];
    char authorization[2600];
    char ttl[32], urgency[32], encoding[64];
    uint8_t *body;
    size_t len;
    int answered; /* the status we sent back */
};

/* Starts the service; fails the case when it cannot listen. */
struct pt_push_svc *pt_push_svc_start(void);
unsigned pt_push_svc_port(const struct pt_push_svc *svc);
/* The next request to path (not yet received) is answered status, with
 * Retry-After: retry_after when it is not 0. Scripts queue up per path. */
void pt_push_svc_script(struct pt_push_svc *svc, const char *path, int status,
                        unsigned retry_after);
/* Waits until at least n requests to path arrived or timeout_ms passed;
 * returns how many did. */
unsigned pt_push_svc_wait(struct pt_push_svc *svc, const char *path, unsigned n,
                          unsigned timeout_ms);
/* The i-th request to path (a copy; free its body with free()). Fails the
 * case when there is no such request. */
void pt_push_svc_get(struct pt_push_svc *svc, const char *path, unsigned i,
                     struct pt_push_msg *out);
/* Requests received in all, to every path. */
unsigned pt_push_svc_total(struct pt_push_svc *svc);
void pt_push_svc_stop(struct pt_push_svc *svc);

/* ---- the browser's side ---- */

#include "harness.h"

struct webpush_key;

/* A browser's push subscription: its P-256 key pair and auth secret, and
 * the endpoint on the local service. */
struct pt_push_sub {
    struct webpush_key *key;
    uint8_t auth[16];
    char path[64];
    char endpoint[160];
    int64_t id;
};

/* Makes the keys and registers http://127.0.0.1:PORT<path> with
 * POST /v1/push/subscriptions as token's device; fails the case unless
 * the server answers 201. */
void pt_push_subscribe(struct pt_server *s, enum pt_proto p, const char *token,
                       struct pt_push_svc *svc, const char *path, struct pt_push_sub *out);
void pt_push_sub_free(struct pt_push_sub *sub);
/* The server's VAPID public key from GET /v1/push/vapid, into out. */
void pt_push_vapid_key(struct pt_server *s, enum pt_proto p, char out[128]);
/* Checks the i-th request to sub's path as a push service would (the
 * RFC 8030 headers, the VAPID JWT for this service's origin signed by
 * vapid_key) and decrypts it as the browser would. Returns the payload
 * parsed (free with yajl_tree_free()); fails the case otherwise. */
yajl_val pt_push_open(struct pt_push_svc *svc, const struct pt_push_sub *sub, unsigned i,
                      const char *vapid_key);

#endif
