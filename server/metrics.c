/* SPDX-License-Identifier: MIT */
/* Parley - Prometheus counters for requests, connections, the pool.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "metrics.h"
#include "webpush.h"
#include "api/api.h"
#include "api/replica.h"
#include "api/token_cache.h"
#include "common/loop.h"
#include "storage/pg.h"
#include "storage/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counters are a dense array indexed by route x method x status class, so
 * counting costs a few index computations and no allocation or lookup. */
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OTHER"};
static const int statuses[] = {200, 201, 204, 206, 302, 304, 400, 401, 403, 404, 405,
                               409, 413, 415, 416, 422, 429, 431, 500, 503, 0};
#define N_METHODS PL_ARRAY_LEN(methods)
#define N_STATUSES PL_ARRAY_LEN(statuses)
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[] = {500,   1000,   2500,   5000,   10000,   25000,
                                     50000, 100000, 250000, 500000, 1000000, 2500000};
#define N_BUCKETS (PL_ARRAY_LEN(bounds_us) + 1)

struct hist {
    uint64_t buckets[N_BUCKETS];
    uint64_t sum_us, count;
};

struct srv_metrics {
    size_t n_routes; /* api routes + 1 for unmatched requests */
    uint64_t *counts;
    struct hist *hists;
    uint64_t in_flight;
    struct pl_loop *loop;
    struct http_server *http;
    struct srv_pool *pool;
    struct srv_live *live;
    struct srv_writer *writer;
    struct api_token_cache *tokens;
};

int srv_metrics_new(struct srv_metrics **out)
{
    struct srv_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return PL_ENOMEM;
    m->n_routes = api_route_count() + 1;
    m->counts = calloc(m->n_routes * N_METHODS * N_STATUSES, sizeof(*m->counts));
    m->hists = calloc(m->n_routes, sizeof(*m->hists));
    if (!m->counts || !m->hists) {
        srv_metrics_free(m);
        return PL_ENOMEM;
    }
    *out = m;
    return 0;
}

void srv_metrics_free(struct srv_metrics *m)
{
    if (!m)
        return;
    free(m->counts);
    free(m->hists);
    free(m);
}

void srv_metrics_sources(struct srv_metrics *m, struct pl_loop *loop, struct http_server *http,
                         struct srv_pool *pool, struct srv_live *live, struct srv_writer *writer)
{
    m->loop = loop;
    m->http = http;
    m->pool = pool;
    m->live = live;
    m->writer = writer;
}

void srv_metrics_tokens(struct srv_metrics *m, struct api_token_cache *tc)
{
    m->tokens = tc;
}

void srv_metrics_begin(struct srv_metrics *m)
{
    m->in_flight++;
}

static size_t method_idx(const char *method)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (method && strcmp(method, methods[i]) == 0)
            return i;
    return N_METHODS - 1;
}

static size_t status_idx(int status)
{
    for (size_t i = 0; i + 1 < N_STATUSES; i++)
        if (statuses[i] == status)
            return i;
    return N_STATUSES - 1;
}

void srv_metrics_end(struct srv_metrics *m, const struct http_req *req, uint64_t duration_us)
{
    m->in_flight--;
    int r = http_req_route(req);
    size_t route = r < 0 ? m->n_routes - 1 : (size_t)r;
    size_t i = (route * N_METHODS + method_idx(http_req_method(req))) * N_STATUSES +
               status_idx(http_resp_status(req));
    m->counts[i]++;
    struct hist *h = &m->hists[route];
    size_t b = 0;
    while (b < PL_ARRAY_LEN(bounds_us) && duration_us > bounds_us[b])
        b++;
    h->buckets[b]++;
    h->sum_us += duration_us;
    h->count++;
}

static const char *route_label(const struct srv_metrics *m, size_t route)
{
    return route + 1 == m->n_routes ? "unmatched" : api_route_name(route);
}

static int render_requests(const struct srv_metrics *m, struct pl_buf *out)
{
    int rc = pl_buf_printf(out, "# HELP parley_http_requests_total HTTP requests answered.\n"
                                "# TYPE parley_http_requests_total counter\n");
    for (size_t r = 0; r < m->n_routes && rc == 0; r++)
        for (size_t me = 0; me < N_METHODS && rc == 0; me++)
            for (size_t s = 0; s < N_STATUSES && rc == 0; s++) {
                uint64_t v = m->counts[(r * N_METHODS + me) * N_STATUSES + s];
                if (!v)
                    continue;
                char status[8];
                snprintf(status, sizeof(status), "%d", statuses[s]);
                rc = pl_buf_printf(out,
                                   "parley_http_requests_total{route=\"%s\",method=\"%s\","
                                   "status=\"%s\"} %llu\n",
                                   route_label(m, r), methods[me], statuses[s] ? status : "other",
                                   (unsigned long long)v);
            }
    return rc;
}

static int render_hists(const struct srv_metrics *m, struct pl_buf *out)
{
    int rc = pl_buf_printf(out, "# HELP parley_http_request_duration_seconds Time from a "
                                "complete request to its response being handed over.\n"
                                "# TYPE parley_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->n_routes && rc == 0; r++) {
        const struct hist *h = &m->hists[r];
        if (!h->count)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < N_BUCKETS && rc == 0; b++) {
            cum += h->buckets[b];
            if (b < PL_ARRAY_LEN(bounds_us))
                rc = pl_buf_printf(out,
                                   "parley_http_request_duration_seconds_bucket{route=\"%s\","
                                   "le=\"%g\"} %llu\n",
                                   route_label(m, r), (double)bounds_us[b] / 1e6,
                                   (unsigned long long)cum);
            else
                rc = pl_buf_printf(out,
                                   "parley_http_request_duration_seconds_bucket{route=\"%s\","
                                   "le=\"+Inf\"} %llu\n",
                                   route_label(m, r), (unsigned long long)cum);
        }
        if (rc == 0)
            rc = pl_buf_printf(out,
                               "parley_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                               "parley_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                               route_label(m, r), (double)h->sum_us / 1e6, route_label(m, r),
                               (unsigned long long)h->count);
    }
    return rc;
}

/* One single-value metric: its exposition is HELP, TYPE and the value. */
struct metric_row {
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *help;
    unsigned long long v;
};

/* Writes rows[0..n) in order; stops at the first failure (out of room). */
static int render_rows(struct pl_buf *out, const struct metric_row *rows, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = pl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name, rows[i].help,
                           rows[i].name, rows[i].type, rows[i].name, rows[i].v);
    return rc;
}

static int render_connections(const struct srv_metrics *m, struct pl_buf *out)
{
    static const char *const protos[HTTP_PROTO_N] = {"h1", "h1_tls", "h2c", "h2"};
    int rc = pl_buf_printf(out, "# HELP parley_http_connections Open connections.\n"
                                "# TYPE parley_http_connections gauge\n");
    for (int p = 0; p < HTTP_PROTO_N && rc == 0; p++)
        rc = pl_buf_printf(out, "parley_http_connections{proto=\"%s\"} %u\n", protos[p],
                           http_server_conns(m->http, (enum http_proto)p));
    return rc;
}

static int render_pool(struct srv_pool *pool, struct pl_buf *out)
{
    struct srv_pool_stats st;
    srv_pool_stats(pool, &st);
    const struct metric_row rows[] = {
        {"parley_workers", "gauge", "Worker threads.", st.workers},
        {"parley_worker_busy", "gauge", "Workers running a handler.", st.busy},
        {"parley_worker_queue_depth", "gauge", "Requests waiting for a worker.", st.queued},
        {"parley_worker_queue_rejected_total", "counter",
         "Requests refused because the queue was full.", st.rejected},
        {"parley_worker_batched_total", "counter",
         "Sends a worker took together with others (one token lookup for all).", st.batched},
        {"parley_loop_answered_total", "counter",
         "Sends the event loop took without a worker (token cached, plain text, no quota).",
         api_loop_answered()},
    };
    return render_rows(out, rows, PL_ARRAY_LEN(rows));
}

static int render_tokens(struct api_token_cache *tc, struct pl_buf *out)
{
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    const struct metric_row rows[] = {
        {"parley_token_cache_hits_total", "counter",
         "Bearer tokens authenticated from the token cache (no query).", st.hits},
        {"parley_token_cache_misses_total", "counter",
         "Bearer token lookups the cache could not answer (PostgreSQL asked).", st.misses},
        {"parley_token_cache_evicted_total", "counter",
         "Cached token lookups dropped by a revocation (this node's or a relayed one).",
         st.evicted},
        {"parley_token_cache_replaced_total", "counter",
         "Cached token lookups pushed out because the cache was full.", st.replaced},
        {"parley_token_cache_entries", "gauge", "Token lookups in the cache.", st.entries},
        {"parley_token_cache_held", "gauge",
         "1 while the cache is held (no relay subscription, so every lookup asks PostgreSQL).",
         st.held},
    };
    return render_rows(out, rows, PL_ARRAY_LEN(rows));
}

static int render_live(const struct srv_live *live, struct pl_buf *out)
{
    struct srv_live_stats ls;
    srv_live_stats(live, &ls);
    uint64_t tr, au;
    api_presence_counters(&tr, &au);
    const struct metric_row rows[] = {
        {"parley_sse_streams", "gauge", "Open event streams and long-polls.", ls.streams},
        {"parley_sse_users", "gauge", "Users with an open stream here.", ls.users},
        {"parley_stream_position", "gauge", "Last stream position delivered by this node.",
         ls.position},
        {"parley_relay_received_total", "counter",
         "Events received from other nodes through Redis.", ls.relay_received},
        {"parley_relay_dropped_total", "counter",
         "Events not relayed because Redis was unavailable.", ls.relay_dropped},
        {"parley_relay_skipped_total", "counter",
         "Events not relayed because no other node listened.", ls.relay_skipped},
        {"parley_relay_replayed_total", "counter",
         "Skipped events relayed after all when another node appeared.", ls.relay_replayed},
        {"parley_relay_alone", "gauge", "1 while no other node listens to this node's events.",
         ls.relay_alone},
        {"parley_presence_transitions_total", "counter",
         "Presence transitions (online, offline) this node announced.", tr},
        {"parley_presence_audience_total", "counter",
         "Subscribed devices those transitions were sent to, after privacy, on every node.", au},
        {"parley_presence_events_total", "counter",
         "Presence events queued on this node's streams (one per subscribed stream and "
         "transition).",
         ls.presence_events},
        {"parley_presence_frames_sent_total", "counter",
         "Presence frames published to other nodes holding subscribers.", ls.presence_frames_out},
        {"parley_presence_frames_received_total", "counter",
         "Presence frames received from other nodes.", ls.presence_frames_in},
        {"parley_presence_frames_lost_total", "counter",
         "Presence frames not published (Redis down).", ls.presence_frames_lost},
        {"parley_presence_resyncs_total", "counter",
         "Catch-ups of this node's streams after its presence channel was lost and made again.",
         ls.presence_resyncs},
    };
    return render_rows(out, rows, PL_ARRAY_LEN(rows));
}

/* The hot standby's share of lag-tolerant reads (only with pg_standby). */
static int render_standby(struct pl_buf *out)
{
    struct api_replica_stats st;
    api_replica_stats(&st);
    const struct metric_row rows[] = {
        {"parley_pg_standby_reads_total", "counter",
         "Lag-tolerant reads (history, search, lists, analytics) the standby served.",
         st.standby_reads},
        {"parley_pg_primary_reads_total", "counter",
         "Lag-tolerant reads the primary served (standby behind the caller's last write, down, "
         "or failed the read).",
         st.primary_reads},
        {"parley_pg_standby_fallbacks_total", "counter",
         "Reads the standby failed that were redone on the primary.", st.fallbacks},
        {"parley_pg_standby_up", "gauge", "1 while the standby is replaying and reachable.",
         st.standby_lsn != 0},
    };
    return render_rows(out, rows, PL_ARRAY_LEN(rows));
}

/* The in-flight gauge, then each part this node has (tests run without
 * some of them), then the storage error counters. */
static int render_runtime(const struct srv_metrics *m, struct pl_buf *out)
{
    const struct metric_row in_flight[] = {
        {"parley_http_in_flight", "gauge", "Requests being handled.", m->in_flight},
    };
    int rc = render_rows(out, in_flight, PL_ARRAY_LEN(in_flight));
    const struct metric_row loop[] = {
        {"parley_loop_load_permille", "gauge",
         "Share of the last 100 ms the event loop spent outside epoll_wait (per mille); from "
         "loop_sends_max_load on, text sends go to the workers.",
         m->loop ? pl_loop_load(m->loop) : 0},
    };
    if (rc == 0 && m->loop)
        rc = render_rows(out, loop, PL_ARRAY_LEN(loop));
    if (rc == 0 && m->http)
        rc = render_connections(m, out);
    if (rc == 0 && m->pool)
        rc = render_pool(m->pool, out);
    if (rc == 0 && m->live)
        rc = render_live(m->live, out);
    if (rc == 0)
        rc = render_tokens(m->tokens, out);
    struct store_redis_cluster_stats rcs;
    store_redis_cluster_stats(&rcs);
    const struct metric_row errors[] = {
        {"parley_uploads_active", "gauge",
         "Media uploads in progress (they hold a worker only while writing).",
         api_uploads_active()},
        {"parley_pg_errors_total", "counter", "Failed PostgreSQL operations.", store_pg_errors()},
        {"parley_redis_errors_total", "counter", "Failed Redis operations.", store_redis_errors()},
        {"parley_redis_cluster_moved_total", "counter",
         "Redis Cluster MOVED redirections followed (0 on a single Redis).", rcs.moved},
        {"parley_redis_cluster_ask_total", "counter",
         "Redis Cluster ASK redirections followed (a slot in migration).", rcs.ask},
        {"parley_redis_cluster_refreshes_total", "counter",
         "Redis Cluster slot maps read with CLUSTER SLOTS.", rcs.refreshes},
    };
    if (rc == 0)
        rc = render_rows(out, errors, PL_ARRAY_LEN(errors));
    return rc == 0 && api_replica_enabled() ? render_standby(out) : rc;
}

static int render_writer(struct srv_writer *w, struct pl_buf *out)
{
    struct srv_writer_stats st;
    srv_writer_stats(w, &st);
    const struct metric_row rows[] = {
        {"parley_writer_batches_total", "counter", "Group-commit transactions attempted.",
         st.batches},
        {"parley_writer_failed_batches_total", "counter",
         "Group-commit transactions that failed (every send got a problem).", st.failed_batches},
        {"parley_writer_sends_total", "counter", "Message sends answered.", st.sends},
        {"parley_writer_queue_depth", "gauge", "Sends waiting for the writer.", st.queued},
        {"parley_writer_queue_rejected_total", "counter",
         "Sends refused because the writer's queue was full.", st.rejected},
        {"parley_writer_held_total", "counter",
         "Times a writer held a small batch of sends for company (writer_hold_us).", st.held},
    };
    int rc = render_rows(out, rows, PL_ARRAY_LEN(rows));
    if (rc == 0)
        rc = pl_buf_printf(out, "# HELP parley_writer_batch_size Sends per transaction.\n"
                                "# TYPE parley_writer_batch_size histogram\n");
    unsigned long long cum = 0;
    for (unsigned b = 0; b < SRV_WRITER_BUCKETS && rc == 0; b++) {
        cum += st.size_buckets[b];
        if (b + 1 < SRV_WRITER_BUCKETS)
            rc = pl_buf_printf(out, "parley_writer_batch_size_bucket{le=\"%u\"} %llu\n",
                               srv_writer_bucket_le[b], cum);
        else
            rc = pl_buf_printf(out,
                               "parley_writer_batch_size_bucket{le=\"+Inf\"} %llu\n"
                               "parley_writer_batch_size_count %llu\n",
                               cum, st.batches);
    }
    return rc;
}

/* Abuse limits and quotas (api/limits.c): what each refused, and what it
 * let through unchecked because Redis was unreachable (fail-open). */
static int render_limits(struct pl_buf *out)
{
    static const char *const names[] = {"parley_limit_rejected_total",
                                        "parley_limit_unchecked_total"};
    static const char *const helps[] = {
        "Requests refused by an abuse limit or quota (429, 409 too-many-devices, 503 "
        "hashing-busy).",
        "Limit checks skipped because Redis was unreachable (the request was let through)."};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        rc = pl_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", names[k], helps[k], names[k]);
        for (size_t i = 0; i < api_limit_count() && rc == 0; i++) {
            uint64_t v[2];
            api_limit_stats(i, &v[0], &v[1]);
            rc = pl_buf_printf(out, "%s{limit=\"%s\"} %llu\n", names[k], api_limit_name(i),
                               (unsigned long long)v[k]);
        }
    }
    return rc;
}

static int render_webpush(struct pl_buf *out)
{
    struct srv_webpush_stats st;
    srv_webpush_stats(&st);
    const struct metric_row rows[] = {
        {"parley_webpush_queued_total", "counter",
         "New messages handed to the Web Push dispatcher.", st.queued},
        {"parley_webpush_dropped_total", "counter",
         "Messages or retries dropped because the dispatcher's queue was full.", st.dropped},
        {"parley_webpush_sent_total", "counter", "Push messages a push service accepted (2xx).",
         st.sent},
        {"parley_webpush_retries_total", "counter",
         "Push attempts scheduled again after 5xx, 429 or a network error.", st.retried},
        {"parley_webpush_failed_total", "counter",
         "Push messages given up on (other 4xx, or out of attempts).", st.failed},
        {"parley_webpush_gone_total", "counter",
         "Subscriptions deleted because the push service answered 404 or 410.", st.gone},
        {"parley_webpush_skipped_online_total", "counter",
         "Subscriptions not notified because their user was online.", st.skipped_online},
    };
    return render_rows(out, rows, PL_ARRAY_LEN(rows));
}

int srv_metrics_render(void *ctx, struct pl_buf *out)
{
    const struct srv_metrics *m = ctx;
    int (*const parts[])(const struct srv_metrics *,
                         struct pl_buf *) = {render_requests, render_hists, render_runtime};
    int rc = 0;
    for (size_t i = 0; i < PL_ARRAY_LEN(parts) && rc == 0; i++)
        rc = parts[i](m, out);
    if (rc == 0 && m->writer)
        rc = render_writer(m->writer, out);
    if (rc == 0)
        rc = render_limits(out);
    if (rc == 0)
        rc = render_webpush(out);
    return rc;
}
