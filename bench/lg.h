/* SPDX-License-Identifier: MIT */
/* Parley - load generator: types shared by the bench/ sources.         */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef LG_H
#define LG_H

#include "common/buf.h"
#include "common/err.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The load generator is one thread around one epoll fd. Everything here is
 * called on that thread; nothing is locked. The pieces:
 *
 *   lg_loop.c   the loop, sockets, connection pools ("clients"), the request queue
 *   lg_h1.c     a minimal HTTP/1.1 client: keep-alive, Content-Length and chunked bodies
 *   lg_h2.c     h2c with prior knowledge on nghttp2's client API, many streams per connection
 *   lg_sse.c    the text/event-stream parser both transports feed
 *   lg_hist.c   a log-linear latency histogram (HdrHistogram's bucket layout, simplified)
 *   lg_cpu.c    CPU use of parleyd, PostgreSQL, Redis and ourselves per measured window
 *   lg_setup.c  users, sessions, conversations, event streams (not timed)
 *   lg_run.c    the timed phases: open-loop rate, closed-loop saturation, idle RSS
 *   loadgen.c   options, the scenarios in order, RESULT lines
 */

enum lg_proto { LG_H1, LG_H2 };

#define LG_RESP_MAX (1u << 20)   /* largest non-SSE response body we keep */
#define LG_SSE_MAX (1u << 20)    /* largest SSE line or event data */
#define LG_OUT_HIGH (256u << 10) /* stop pulling nghttp2 frames past this much unsent */
#define LG_MAX_CONNECTING 256    /* connects in flight at once, so SYNs never overflow backlog */

struct lg_conn;
struct lg_client;
struct lg_req;

/* Called once per request with r->status set (an HTTP status, or a negative
 * errno when the transport failed). r is freed when the callback returns. */
typedef void lg_done_cb(struct lg_req *r);
/* One parsed SSE event. event is NUL-terminated; data is not and may hold
 * len bytes of several data: lines joined by '\n'. Borrowed for the call. */
typedef void lg_event_cb(struct lg_req *r, const char *event, const char *data, size_t len);
typedef bool lg_cond_cb(void *ctx);
typedef void lg_tick_cb(void *ctx);

struct lg_sse {
    struct pl_buf line; /* a line split across reads */
    struct pl_buf data; /* data: lines of the event being read */
    char event[32];
    uint64_t last_id; /* the last id: field seen (0: none yet) */
};

struct lg_req {
    struct lg_req *next, *prev; /* client queue, then the connection's list */
    struct lg_conn *conn;
    int32_t stream_id;
    int status;
    bool sse;
    const char *method; /* a string literal */
    const char *token;  /* borrowed; must outlive the request */
    char *body;         /* owned */
    size_t body_len, body_off;
    struct pl_buf resp; /* non-SSE response body */
    struct lg_sse sse_p;
    lg_done_cb *on_done;
    lg_event_cb *on_event;
    void *ctx;
    uint64_t tag;
    bool flag;     /* free for the owner: an event stream marks `ready` here */
    uint8_t tries; /* free for the owner: how often it was resubmitted */
    char path[];
};

enum h1_state { H1_HEAD, H1_LEN, H1_CHUNK_SIZE, H1_CHUNK_DATA, H1_CHUNK_END, H1_TRAILER, H1_EOF };

struct lg_conn {
    struct lg_client *c;
    int fd;
    uint32_t events; /* what epoll watches now */
    bool connecting, closed, closing, in_ready, dirty;
    unsigned active;
    struct lg_conn *next, *prev;   /* the client's connections */
    struct lg_conn *rnext, *rprev; /* the client's connections with room for a request */
    struct lg_conn *dirty_next;    /* lg.dirty */
    struct lg_conn *dead_next;     /* lg.dead */
    struct lg_req *reqs;           /* requests on this connection */
    struct pl_buf out, in;
    /* HTTP/1.1 response state */
    enum h1_state h1;
    size_t h1_left;
    bool h1_close;
    void *ng; /* nghttp2_session, h2 only */
};

struct lg_client {
    enum lg_proto proto;
    unsigned max_conns, per_conn, n_conns;
    uint16_t ports[4]; /* other ports than lg.dst's, taken in turn (lg_client_add_port) */
    unsigned n_ports;
    struct lg_conn *all, *ready;
    struct lg_req *qhead, *qtail;
    size_t queued;
    uint64_t conn_opened, conn_failed;
};

/* The one global context. */
struct lg {
    int epfd;
    struct sockaddr_in dst;
    char authority[32];
    unsigned n_src, src_next; /* source addresses 127.0.0.1 .. 127.0.0.n_src */
    unsigned connecting;
    struct lg_conn *dirty, *dead;
    struct lg_client *clients[8];
    unsigned n_clients;
    bool verbose;
    char rbuf[64 * 1024];
};
extern struct lg lg;

/* lg_loop.c */
PL_MUST_CHECK int lg_init(uint16_t port, unsigned n_src);
void lg_deinit(void);
uint64_t lg_now_ns(void);
/* Runs the loop until cond(ctx) holds or timeout_ms pass; tick(ctx) runs
 * after every poll, which waits at most tick_ms. 0, or -ETIMEDOUT. */
int lg_loop_run(lg_cond_cb *cond, lg_tick_cb *tick, void *ctx, unsigned tick_ms,
                uint64_t timeout_ms);
/* A pool of up to max_conns connections carrying up to per_conn requests
 * each (1 for HTTP/1.1). Connections open on demand. NULL when out of memory. */
struct lg_client *lg_client_new(enum lg_proto proto, unsigned max_conns, unsigned per_conn);
/* Closes every connection; outstanding requests complete with -ECANCELED. */
void lg_client_free(struct lg_client *c);
/* Connections c opens from now on go to 127.0.0.1:port instead of lg_init's
 * port (--send-port: sends through another node of a cluster); with several
 * ports added (at most 4), each new connection takes the next. */
void lg_client_add_port(struct lg_client *c, uint16_t port);
/* A request; takes ownership of body (malloc'd, may be NULL). NULL on ENOMEM. */
struct lg_req *lg_req_new(const char *method, const char *path, const char *token, char *body,
                          size_t body_len, lg_done_cb *on_done, void *ctx);
/* Makes r an event stream: its body goes to an SSE parser that calls
 * on_event per event, and on_done runs when the stream ends. */
void lg_req_set_sse(struct lg_req *r, lg_event_cb *on_event);
/* Queues r; the client owns it until on_done returns. */
void lg_client_submit(struct lg_client *c, struct lg_req *r);
/* Transport side: response body bytes, the end of a request, failure. */
PL_MUST_CHECK int lg_req_body(struct lg_req *r, const char *p, size_t n);
void lg_conn_req_done(struct lg_conn *cn, struct lg_req *r, int status);
void lg_conn_fail(struct lg_conn *cn, int err);
void lg_conn_mark_dirty(struct lg_conn *cn);
/* Ends r (an event stream, typically) from our side: HTTP/1.1 closes its
 * connection, h2 resets its stream. on_done still runs, with a failure
 * status. A request not yet on a connection is left alone. */
void lg_req_cancel(struct lg_req *r);

/* lg_h1.c */
PL_MUST_CHECK int lg_h1_submit(struct lg_conn *cn, struct lg_req *r);
PL_MUST_CHECK int lg_h1_recv(struct lg_conn *cn, const char *p, size_t n);
PL_MUST_CHECK int lg_h1_eof(struct lg_conn *cn);

/* lg_h2.c */
PL_MUST_CHECK int lg_h2_init(struct lg_conn *cn);
PL_MUST_CHECK int lg_h2_submit(struct lg_conn *cn, struct lg_req *r);
PL_MUST_CHECK int lg_h2_recv(struct lg_conn *cn, const char *p, size_t n);
/* Moves frames nghttp2 wants to send into cn->out. */
PL_MUST_CHECK int lg_h2_fill(struct lg_conn *cn);
void lg_h2_deinit(struct lg_conn *cn);
void lg_h2_cancel(struct lg_conn *cn, struct lg_req *r);

/* lg_sse.c */
void lg_sse_init(struct lg_sse *s);
void lg_sse_deinit(struct lg_sse *s);
PL_MUST_CHECK int lg_sse_feed(struct lg_req *r, const char *p, size_t n);

/* lg_hist.c: microsecond latencies, about 1.6% resolution up to ~19 hours. */
#define LG_HIST_SUB 64
#define LG_HIST_BUCKETS (2 * LG_HIST_SUB + 40 * LG_HIST_SUB)
struct lg_hist {
    uint64_t count, max, sum;
    uint64_t b[LG_HIST_BUCKETS];
};
void lg_hist_reset(struct lg_hist *h);
void lg_hist_add(struct lg_hist *h, uint64_t us);
/* The value at quantile q (0..1), in microseconds; 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

/* ---- scenarios (lg_setup.c, lg_run.c, loadgen.c) --------------------- */

struct lg_opts {
    uint16_t port;
    const char *send_ports; /* "P[,P...]": sends go there (other nodes), streams to port */
    enum lg_proto proto;
    const char *scenario; /* "1:1", "fanout", "idle" */
    unsigned users, members;
    const char *rates;   /* comma list of messages/s for open-loop phases */
    const char *windows; /* comma list of in-flight windows for saturation phases */
    double warmup, duration, drain;
    unsigned send_conns, send_streams, streams_per_conn, setup_conns;
    unsigned msg_bytes;
    const char *prefix, *password, *idle_steps;
    const char *on_measure;  /* shell command run once, when the first measured window opens */
    const char *cpu_watch;   /* "name=pid[+],...": processes whose CPU use is reported */
    const char *after_setup; /* shell command run between the data setup and the streams */
    int server_pid;
    unsigned src_addrs, setup_timeout, settle;
    unsigned subs, burst_ms, churn_rate; /* presence scenarios */
    unsigned per_min;                    /* idle-live: messages per user and minute */
    unsigned groups;                     /* mixed: groups of 5-200 members */
    double search_rate;                  /* mixed: searches per second */
    const char *metrics_token;           /* reads parleyd's presence counters */
    uint64_t seed;
};

struct lg_user {
    char name[40];
    char token[64];
    int64_t id;
    int64_t conv; /* 1:1: the direct conversation with peer */
    unsigned peer;
};

/* Monotonic counters; a phase reports the difference of two snapshots. */
struct lg_counts {
    uint64_t sent, resp, ok, deliv, echo, skipped;
    uint64_t st_429, st_503, st_4xx, st_5xx, st_net;
    uint64_t ready, closed, other_events;
};

/* A group of the mixed scenario: users first .. first+size-1 (mod n). */
struct lg_group {
    int64_t conv;
    unsigned first, size;
};

struct lg_bench {
    struct lg_opts o;
    struct lg_group *groups;
    unsigned n_groups;
    struct lg_user *users;
    unsigned n_users;
    unsigned fanout; /* deliveries expected per stored message */
    int64_t group;
    struct lg_client *setup, *streams, *send;
    struct lg_counts n;
    struct lg_hist lat;   /* deliveries received while measuring: send -> receive */
    struct lg_hist lat_w; /* 201s received while measuring: send -> response */
    bool measuring;
    uint64_t msg_seq, rng;
    unsigned streams_opened;
    unsigned subs, sub_stride; /* presence: each user watches subs users, stride apart */
    int hook_pid;
    char run_tag[16];
};

/* xorshift64: fast and reproducible from --seed; quality is no concern. */
static inline uint64_t lg_rand(struct lg_bench *b)
{
    uint64_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return b->rng = x;
}

/* lg_setup.c: each returns 0, or negative after printing why. */
PL_MUST_CHECK int lg_setup_users(struct lg_bench *b, unsigned n);
PL_MUST_CHECK int lg_setup_direct(struct lg_bench *b);
PL_MUST_CHECK int lg_setup_group(struct lg_bench *b, unsigned members);
/* n groups of min..max members (contiguous runs of users) into b->groups. */
PL_MUST_CHECK int lg_setup_groups(struct lg_bench *b, unsigned n, unsigned min, unsigned max);
/* Opens streams until `total` are open, round-robin over the first n_users
 * users, and waits for their `ready` events. */
PL_MUST_CHECK int lg_setup_streams(struct lg_bench *b, unsigned total, unsigned n_users);
/* Every user PUTs its presence subscriptions (b->subs, b->sub_stride). */
PL_MUST_CHECK int lg_setup_subs(struct lg_bench *b);

/* lg_cpu.c: CPU ticks of the --cpu-watch processes, then our own; the
 * machine's busy ticks in the last slot. */
#define LG_CPU_MAX 8
void lg_cpu_sample(struct lg_bench *b, uint64_t *out);
/* Prints " cpu_<name>=<percent of one CPU>" for each, over secs. */
void lg_cpu_print(struct lg_bench *b, const uint64_t *a, const uint64_t *z, double secs);

/* lg_run.c */
/* Starts --on-measure's command in the background, once per run: call it
 * when the first measured window begins. */
void lg_fire_hook(struct lg_bench *b);
/* Opens an event stream for user u (the tries-th attempt). 0 or negative. */
PL_MUST_CHECK int lg_run_stream_open(struct lg_bench *b, unsigned u, unsigned tries);
/* One timed phase: rate > 0 is open loop at rate messages/s, otherwise a
 * closed loop keeping `window` messages in flight. Prints a RESULT line. */
void lg_run_phase(struct lg_bench *b, double rate, unsigned window);
PL_MUST_CHECK int lg_run_idle(struct lg_bench *b);
/* VmRSS of pid in KiB, -1 when unreadable. */
long lg_rss_kib(int pid);

/* lg_presence.c: the presence scenarios (see the file's comment). */
PL_MUST_CHECK int lg_presence_burst(struct lg_bench *b);
PL_MUST_CHECK int lg_presence_mixed(struct lg_bench *b);

/* lg_mixed.c: the mixed realistic scenario, one phase per --rate. */
PL_MUST_CHECK int lg_mixed_run(struct lg_bench *b);

#endif
