/* SPDX-License-Identifier: MIT */
/* Parley - chaos driver: state shared by its files.                    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef CHAOS_H
#define CHAOS_H

#include "bench/lg.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The chaos driver (scripts/chaos runs it) drives parleyd with the load
 * generator's event loop (bench/lg_*.c) while it breaks things: it kills
 * parleyd or PostgreSQL, or drops every stream at once. It owns parleyd
 * (started from the command line after `--`, killed and started again on
 * the same port) and tracks every message it sends by client_msg_id:
 *
 *   acked      a 201 (or a 200 repeat) arrived with the message's id
 *   found      the id is in the conversation's history at the end
 *   duplicated a second stored message for one client_msg_id, or a retry
 *              answered with another id
 *   missing    (per stream) an acked message whose event never arrived on
 *              the stream of the sender or of the recipient
 *
 * Everything runs on one thread.
 */

struct chaos_msg {
    int64_t id;      /* the id the first ack gave; 0 until acked */
    unsigned sender; /* user index; the recipient is its peer */
    uint8_t tries;
    bool inflight, acked, found;
};

struct chaos_stream {
    unsigned user;
    int64_t last_id; /* resume point: the last event id received */
    uint64_t *seen;  /* bitmap over message indexes */
    bool open, ready;
    unsigned reopen_at_ms; /* 0: not waiting to reopen */
    unsigned opens;
    struct lg_req *req; /* while open */
    uint64_t ready_ms;  /* when ready came, chaos_ms() */
};

struct chaos {
    struct lg_bench b; /* users, tokens, conversations (lg_setup.c) */
    const char *mode;
    unsigned port, rate, cycles, cycle_ms, n_users, storm_streams, soak_s;
    const char *svc, *log;
    const char *node_cmd; /* kill-node: scripts/cluster node */
    unsigned n_nodes;
    char **server_argv;
    pid_t server;
    bool server_up;
    struct lg_client *send, *streams, *aux;
    struct chaos_msg *msgs;
    unsigned n_msgs, cap_msgs;
    struct chaos_stream *st;
    unsigned n_st;
    uint64_t t0_ms;
    /* counters */
    uint64_t acked, dup, retried, st_503, st_5xx, st_4xx, st_net, drops, reopened, ready_total;
    uint64_t events, dup_events, other_fail, media_ok;
    bool stop_sending;
};

/* chaos.c */
uint64_t chaos_ms(void);
/* Starts parleyd (c->server_argv) and waits up to 30 s for /healthz. */
PL_MUST_CHECK int chaos_server_start(struct chaos *c);
void chaos_server_kill(struct chaos *c, int sig);
/* Runs `svc what verb` to completion while the loop keeps turning. */
PL_MUST_CHECK int chaos_svc(struct chaos *c, const char *what, const char *verb);
/* Runs the loop for ms milliseconds (or until cond holds). */
void chaos_run(struct chaos *c, unsigned ms, lg_cond_cb *cond);

/* chaos_traffic.c */
void chaos_traffic_tick(struct chaos *c);
void chaos_stream_open(struct chaos *c, unsigned i);
PL_MUST_CHECK int chaos_streams_init(struct chaos *c, unsigned n);
/* Sends message i (again, with the same client_msg_id, when tries > 0). */
void chaos_send(struct chaos *c, unsigned i);
/* A new message from user s to its peer; returns its index. */
unsigned chaos_msg_new(struct chaos *c, unsigned sender);
/* Waits until every message is acked and every stream saw every acked
 * message of its user, or timeout_ms. */
void chaos_settle(struct chaos *c, unsigned timeout_ms);
/* Reads every conversation's history; counts found and duplicated. */
PL_MUST_CHECK int chaos_verify_history(struct chaos *c, uint64_t *found, uint64_t *dups);
/* Acked messages some stream of the sender or recipient has not seen. */
uint64_t chaos_events_missing(struct chaos *c);
/* Resends up to n acked messages; counts answers with another id. */
void chaos_repeat_check(struct chaos *c, unsigned n);

#endif
