/* SPDX-License-Identifier: MIT */
/* Parley - Prometheus counters for requests, connections, the pool.    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_METRICS_H
#define PL_SRV_METRICS_H

#include "live.h"
#include "pool.h"
#include "writer.h"

/* Request metrics are updated and rendered on the loop thread only (from
 * on_request / on_done and the inline /metrics route), so they need no
 * atomics; pool and storage figures are read through their own locks. */
struct srv_metrics;
struct api_token_cache;
struct pl_loop;

PL_MUST_CHECK int srv_metrics_new(struct srv_metrics **out);
void srv_metrics_free(struct srv_metrics *m);
/* What to read at render time; any may be NULL. Borrowed. */
void srv_metrics_sources(struct srv_metrics *m, struct pl_loop *loop, struct http_server *http,
                         struct srv_pool *pool, struct srv_live *live, struct srv_writer *writer);
/* The token cache to report (NULL: none). Borrowed. */
void srv_metrics_tokens(struct srv_metrics *m, struct api_token_cache *tc);

void srv_metrics_begin(struct srv_metrics *m);
/* Counts a finished request (route, method, status, duration). */
void srv_metrics_end(struct srv_metrics *m, const struct http_req *req, uint64_t duration_us);

/* Writes the exposition text. Returns 0, PL_ETOOBIG or PL_ENOMEM.
 * Matches api_env.render_metrics. */
int srv_metrics_render(void *m, struct pl_buf *out);

/* Writes the access-log line of a finished request (access.c). */
void srv_access_log(const struct http_req *req, bool sent, uint64_t us);

#endif
