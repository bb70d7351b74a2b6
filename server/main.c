/* SPDX-License-Identifier: MIT */
/* Parley - parleyd: startup, wiring of the modules, shutdown.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "config.h"
#include "live.h"
#include "analytics_cmd.h"
#include "archive.h"
#include "expiry.h"
#include "media.h"
#include "webapp.h"
#include "metrics.h"
#include "pool.h"
#include "standby.h"
#include "waitq.h"
#include "webpush.h"
#include "writer.h"

#include "api/api.h"
#include "api/token_cache.h"
#include "common/log.h"
#include "storage/archive.h"
#include "storage/search.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("server");

#define PARLEY_VERSION "0.1.0"
/* How long startup waits for PostgreSQL to accept the migrations: long
 * enough for a database that is still starting next to us. */
#define MIGRATE_WAIT_MS 30000
/* Uploads streaming at once: at most 128 MiB of upload pipes. */
#define UPLOAD_SLOTS 32

/* Everything the loop-thread callbacks need. */
struct srv {
    struct srv_config cfg;
    struct api_config api_cfg;
    struct api_env env;
    struct pl_loop *loop;
    struct srv_pool *pool;
    struct srv_pool *pwpool; /* password hashing */
    struct srv_writer *writer;
    struct srv_live *live;
    char node_id[128];
    struct srv_metrics *metrics;
    struct http_server *http;
    struct http_server *admin; /* the admin listener, or NULL */
    struct srv_media media;
    struct srv_archive_timer *archiver;
    struct srv_expiry_timer *expiry;
    struct analytics_config analytics;
    struct analytics_timer *aggregator; /* NULL when analytics_interval is 0 */
    struct srv_waitq *waitq;            /* stream opens waiting for a full worker queue */
    struct srv_standby *standby;        /* NULL without pg_standby */
    struct srv_webpush *webpush;        /* NULL when Web Push delivery is off */
    struct api_web web;
};

static struct pl_loop *signal_loop;

/* Signal handlers only set flags (pl_loop_stop writes the loop's eventfd,
 * which is async-signal-safe). */
static void on_signal(int sig)
{
    (void)sig;
    if (signal_loop)
        pl_loop_stop(signal_loop);
}

static void on_request(void *ctx, struct http_req *req)
{
    struct srv *s = ctx;
    srv_metrics_begin(s->metrics);
    if (api_route(&s->env, req) == API_ROUTE_DONE)
        return;
    /* Stream opens always go through the wait queue: it hands them to the
     * workers in batches. */
    int rc = s->waitq && api_route_waits(req) ? srv_waitq_add(s->waitq, req)
                                              : srv_pool_submit(s->pool, req);
    if (rc < 0)
        api_reject(&s->env, req, rc);
}

static bool on_stream_body(void *ctx, struct http_req *req)
{
    struct srv *s = ctx;
    return api_route_streams_body(&s->env, req);
}

static void on_done(void *ctx, struct http_req *req, bool sent)
{
    struct srv *s = ctx;
    uint64_t us = http_req_elapsed_us(req);
    srv_metrics_end(s->metrics, req, us);
    if (s->cfg.access_log)
        srv_access_log(req, sent, us);
}

static int write_port_file(const struct srv *s)
{
    if (!*s->cfg.port_file)
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->cfg.port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    if (s->admin)
        fprintf(f, "%u %u %u\n", http_server_port(s->http), http_server_tls_port(s->http),
                http_server_port(s->admin));
    else
        fprintf(f, "%u %u\n", http_server_port(s->http), http_server_tls_port(s->http));
    if (fclose(f) != 0 || rename(tmp, s->cfg.port_file) != 0)
        return -errno;
    return 0;
}

/* Makes search_config the deployment's search configuration (re-indexing
 * the history when it changed). */
static int configure_search(const struct srv_config *cfg)
{
    int rc = store_pg_search_configure(cfg->pg, cfg->search_config);
    if (rc == PL_EINVAL)
        pl_log_error("search_config: PostgreSQL has no text search configuration '%s'",
                     cfg->search_config);
    return rc;
}

/* Applies migrations, waiting for a database that is still starting. */
static int migrate(const struct srv_config *cfg)
{
    uint64_t deadline = pl_now_ms() + MIGRATE_WAIT_MS;
    for (;;) {
        int rc = store_pg_migrate(cfg->pg);
        if (rc == 0)
            rc = configure_search(cfg);
        if (rc != PL_EUNAVAIL || pl_now_ms() >= deadline)
            return rc;
        pl_log_warn("PostgreSQL is not reachable yet; retrying migrations");
        usleep(500 * 1000);
    }
}

static void http_config(const struct srv *s, struct http_server_config *hc)
{
    *hc = (struct http_server_config){
        .bind = s->cfg.bind,
        .port = s->cfg.port,
        .tls_port = s->cfg.tls_port,
        .tls = *s->cfg.tls_cert != '\0',
        .tls_cert = s->cfg.tls_cert,
        .tls_key = s->cfg.tls_key,
        .limits = s->cfg.http,
        .br = s->cfg.http_br,
    };
}

static int pwhash_run(void *ctx, void (*fn)(struct api_worker *w, void *arg), void *arg)
{
    return srv_pool_run(ctx, fn, arg);
}

static const struct http_server_ops http_ops = {
    .version = HTTP_SERVER_OPS_VERSION,
    .on_request = on_request,
    .on_done = on_done,
    .stream_body = on_stream_body,
};

static int start(struct srv *s)
{
    s->api_cfg = (struct api_config){
        .pwhash = {.opslimit = s->cfg.pwhash_opslimit, .memlimit = s->cfg.pwhash_memlimit},
        .limits = s->cfg.limits,
        .group_max_members = s->cfg.group_max_members,
        .presence_timeout_s = s->cfg.presence_timeout_s,
        .edit_window_s = s->cfg.edit_window_s,
        .delete_window_s = s->cfg.delete_window_s,
        .requests_hold_invites = s->cfg.requests_hold_invites,
        .expire_unit_ms = s->cfg.expire_unit_ms,
        .presence_subs_max = s->cfg.presence_subs_max,
        .presence_sub_ttl_s = s->cfg.presence_sub_ttl_s,
        .typing_max_members = s->cfg.typing_max_members,
        .typing_interval_ms = s->cfg.typing_interval_ms,
        .sync_max_wait_ms = s->cfg.sync_max_wait_ms,
        .media_max_size = s->cfg.media_max_size,
        .media_url_ttl_s = s->cfg.media_url_ttl_s,
        .media_pending_ttl_s = s->cfg.media_pending_ttl_s,
        .metrics_token = s->cfg.metrics_token,
        .admins = s->cfg.admins,
        .analytics_min_cohort = s->cfg.analytics_min_cohort,
        .export_url_ttl_s = s->cfg.export_url_ttl_s,
        .export_max_bytes = s->cfg.export_max_bytes,
        /* Uploads hold no worker while they wait for the client (a job
         * writes what arrived); what bounds them is their pipes' memory,
         * 4 MiB each. */
        .upload_slots = UPLOAD_SLOTS,
    };
    s->env = (struct api_env){.cfg = &s->api_cfg, .render_metrics = srv_metrics_render};
    if (!*s->cfg.node_id) {
        char host[64] = "node";
        gethostname(host, sizeof(host) - 1);
        snprintf(s->node_id, sizeof(s->node_id), "%s:%d", host, (int)getpid());
    } else {
        snprintf(s->node_id, sizeof(s->node_id), "%s", s->cfg.node_id);
    }
    s->env.node_id = s->node_id;
    int rc = api_init();
    if (rc == 0)
        rc = api_token_cache_new(s->cfg.limits.token_cache_size, s->cfg.limits.token_cache_ms,
                                 s->cfg.limits.session_ttl_s, &s->env.tokens);
    if (rc == 0)
        rc = srv_metrics_new(&s->metrics);
    if (rc == 0)
        rc = srv_media_init(&s->cfg, &s->media);
    if (rc < 0)
        return rc;
    s->env.blobs = s->media.blobs;
    s->env.url_key = &s->media.key;
    if ((rc = srv_web_init(s->cfg.web_dir, &s->web)) < 0)
        return rc;
    s->env.web = rc == 1 ? &s->web : NULL;
    /* Before the workers: history pages read archived segments. */
    store_archive_set_blobs(s->media.blobs);
    if ((rc = srv_archive_timer_new(&s->cfg, s->media.blobs, &s->archiver)) < 0)
        return rc;
    if ((rc = srv_expiry_timer_new(&s->cfg, s->media.blobs, &s->expiry)) < 0)
        return rc;
    srv_analytics_config(&s->cfg, &s->analytics);
    s->analytics.node = s->node_id;
    if ((rc = analytics_timer_new(&s->analytics, &s->aggregator)) < 0)
        return rc;
    s->env.metrics_ctx = s->metrics;
    srv_metrics_tokens(s->metrics, s->env.tokens);
    if ((rc = pl_loop_new(&s->loop)) < 0)
        return rc;
    /* Before the pool, so that no worker can see env.send unset. */
    if ((rc = srv_writer_new(&s->cfg, &s->env, &s->writer)) < 0) {
        pl_log_error("cannot start the writer: %s", pl_strerror(rc));
        return rc;
    }
    s->env.send = srv_writer_submit;
    s->env.send_ctx = s->writer;
    /* Password hashing gets threads of its own (api/password.c). */
    if ((rc = srv_pool_new_n(&s->cfg, &s->env, s->cfg.pwhash_threads, s->cfg.pwhash_queue,
                             &s->pwpool)) < 0) {
        pl_log_error("cannot start password hashing threads: %s", pl_strerror(rc));
        return rc;
    }
    s->env.pwhash_run = pwhash_run;
    s->env.pwhash_ctx = s->pwpool;
    if ((rc = srv_standby_new(&s->cfg, &s->standby)) < 0) {
        pl_log_error("cannot start the standby poller: %s", pl_strerror(rc));
        return rc;
    }
    if ((rc = srv_pool_new(&s->cfg, &s->env, &s->pool)) < 0 ||
        (rc = srv_waitq_new(s->loop, s->pool, &s->env, s->cfg.http.max_conns, &s->waitq)) < 0) {
        pl_log_error("cannot start workers: %s", pl_strerror(rc));
        return rc;
    }
    if ((rc = srv_live_new(&s->cfg, s->loop, s->pool, &s->env, &s->live)) < 0)
        return rc;
    /* After live (it wraps env.publish), before the listeners. */
    if ((rc = srv_webpush_new(&s->cfg, &s->api_cfg, &s->env, &s->webpush)) < 0) {
        pl_log_error("cannot start Web Push: %s", pl_strerror(rc));
        return rc;
    }
    struct http_server_config hc;
    http_config(s, &hc);
    if ((rc = http_server_new(s->loop, &hc, &http_ops, s, &s->http)) < 0) {
        pl_log_error("cannot listen on %s: %s", s->cfg.bind, pl_strerror(rc));
        return rc;
    }
    srv_waitq_set_http(s->waitq, s->http);
    if (s->cfg.admin_port) {
        /* Operators' listener: cleartext only, same handlers, but only the
         * API_OPS routes answer there (and /metrics needs no token). */
        hc.bind = s->cfg.admin_bind;
        hc.port = s->cfg.admin_port;
        hc.tls = false;
        hc.admin = true;
        if ((rc = http_server_new(s->loop, &hc, &http_ops, s, &s->admin)) < 0) {
            pl_log_error("cannot listen on %s:%u (admin_port): %s", s->cfg.admin_bind,
                         s->cfg.admin_port, pl_strerror(rc));
            return rc;
        }
    }
    srv_metrics_sources(s->metrics, s->loop, s->http, s->pool, s->live, s->writer);
    if ((rc = write_port_file(s)) < 0)
        pl_log_error("cannot write port file %s: %s", s->cfg.port_file, pl_strerror(rc));
    return rc;
}

/* Shutdown order matters: workers first finish every queued request (their
 * completions are posted to the loop), the loop drains those completions
 * into the transports, and only then are connections closed and freed. */
static void stop(struct srv *s)
{
    /* Streams and long-polls end first, while workers and transports
     * still exist to answer them. */
    srv_live_close_all(s->live);
    srv_waitq_free(s->waitq);
    s->waitq = NULL;
    srv_archive_timer_free(s->archiver);
    s->archiver = NULL;
    srv_expiry_timer_free(s->expiry);
    s->expiry = NULL;
    analytics_timer_free(s->aggregator);
    s->aggregator = NULL;
    if (s->loop)
        pl_loop_drain(s->loop);
    /* Uploads waiting for their clients end now: their last job (which
     * aborts the blob writer and answers) still finds the pool. */
    if (s->http)
        http_server_cancel_bodies(s->http);
    srv_live_detach_pool(s->live);
    srv_pool_free(s->pool);
    s->pool = NULL;
    srv_standby_free(s->standby);
    s->standby = NULL;
    /* After the workers, which hand logins to it; its jobs hand nothing
     * back, so every deferred login is still answered. */
    srv_pool_free(s->pwpool);
    s->pwpool = NULL;
    /* After the pool (no handler submits any more) and before the drains
     * (its answers go through the loop): queued sends still commit. */
    srv_writer_free(s->writer);
    s->writer = NULL;
    /* Nothing publishes any more. */
    srv_webpush_free(s->webpush, &s->env);
    s->webpush = NULL;
    if (s->metrics)
        srv_metrics_sources(s->metrics, NULL, NULL, NULL, NULL, NULL);
    if (s->loop)
        pl_loop_drain(s->loop);
    http_server_free(s->admin);
    http_server_free(s->http);
    if (s->loop)
        pl_loop_drain(s->loop);
    srv_live_free(s->live);
    if (s->loop)
        pl_loop_drain(s->loop);
    pl_loop_free(s->loop);
    srv_metrics_free(s->metrics);
    api_token_cache_free(s->env.tokens);
    s->env.tokens = NULL;
    srv_media_deinit(&s->media);
    srv_web_deinit(&s->web);
}

/* How long `parleyd archive` waits for a pass already running (a node's
 * timer) before giving up. */
#define ARCHIVE_WAIT_MS 60000u

/* `parleyd archive`: one pass, then exit. */
static int archive_once(struct srv *s)
{
    int rc = migrate(&s->cfg);
    if (rc == 0)
        rc = srv_media_init(&s->cfg, &s->media);
    if (rc < 0)
        return rc;
    store_archive_set_blobs(s->media.blobs);
    struct srv_archive_stats st;
    rc = srv_archive_run(&s->cfg, s->media.blobs, ARCHIVE_WAIT_MS, &st);
    if (rc == 0 && st.busy) {
        pl_log_error("another archiver held the archive lock for %u s: nothing archived; "
                     "run it again later",
                     ARCHIVE_WAIT_MS / 1000);
        rc = PL_EBUSY;
    } else if (rc < 0)
        pl_log_error("archive failed: %s", pl_strerror(rc));
    else
        printf("archived %u messages in %u segments: %llu bytes raw, %llu stored; "
               "%u orphan segments removed\n",
               st.messages, st.segments, (unsigned long long)st.raw_bytes,
               (unsigned long long)st.stored_bytes, st.orphans);
    srv_media_deinit(&s->media);
    return rc;
}

static int serve(struct srv *s)
{
    int rc = migrate(&s->cfg);
    if (rc < 0) {
        pl_log_error("migrations failed: %s", pl_strerror(rc));
        return rc;
    }
    if ((rc = start(s)) == 0) {
        pl_log_info("parleyd %s listening on %s: port %u (HTTP/1.1, h2c)%s%u%s", PARLEY_VERSION,
                    s->cfg.bind, http_server_port(s->http), *s->cfg.tls_cert ? ", port " : "",
                    *s->cfg.tls_cert ? http_server_tls_port(s->http) : 0,
                    *s->cfg.tls_cert ? " (h2, HTTP/1.1 over TLS)" : "");
        signal_loop = s->loop;
        rc = pl_loop_run(s->loop);
        signal_loop = NULL;
        pl_log_info("shutting down");
    }
    stop(s);
    return rc;
}

int main(int argc, char **argv)
{
    struct srv s = {0};
    enum srv_command cmd;
    if (srv_config_load(argc, argv, &s.cfg, &cmd, stderr) < 0)
        return 2;
    int rc = 0;
    if (cmd == SRV_CMD_HELP) {
        srv_config_usage(stdout);
    } else if (cmd == SRV_CMD_VERSION) {
        printf("parleyd %s\n", PARLEY_VERSION);
    } else if (pl_log_configure(s.cfg.log) < 0) {
        fprintf(stderr, "parleyd: log: '%s' is not a valid level list\n", s.cfg.log);
        rc = 2;
    } else if (pcrypto_init() < 0) {
        fprintf(stderr, "parleyd: libsodium failed to initialise\n");
        rc = 1;
    } else {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN); /* a dead peer is an EPIPE, not a crash */
        rc = cmd == SRV_CMD_MIGRATE   ? migrate(&s.cfg)
             : cmd == SRV_CMD_ARCHIVE ? archive_once(&s)
             : cmd == SRV_CMD_ADMIN   ? srv_admin_cmd(&s.cfg)
             : cmd == SRV_CMD_ANALYTICS
                 ? (migrate(&s.cfg) < 0 ? PL_EUNAVAIL : srv_analytics_cmd(&s.cfg))
                 : serve(&s);
        if (cmd == SRV_CMD_MIGRATE && rc == 0)
            pl_log_info("migrations are up to date");
        rc = rc < 0 ? 1 : 0;
    }
    srv_config_deinit(&s.cfg);
    return rc;
}
