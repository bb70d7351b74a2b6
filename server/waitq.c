/* SPDX-License-Identifier: MIT */
/* Parley - requests that wait for room in a full worker queue.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "waitq.h"

#include "common/log.h"

#include <stdlib.h>

PL_LOG_TOPIC("server");

/* A worker takes a stream open in well under a millisecond; polling at
 * this period keeps the queue fed without a wake-up per completion. */
#define WAITQ_RETRY_MS 2
#define WAITQ_MIN 1024

struct srv_waitq {
    struct pl_loop *loop;
    struct srv_pool *pool;
    const struct api_env *env;
    struct http_req **ring;
    unsigned head, len, size, cap;
    unsigned long long total;
    struct pl_timer timer;
};

int srv_waitq_new(struct pl_loop *loop, struct srv_pool *pool, const struct api_env *env,
                  unsigned cap, struct srv_waitq **out)
{
    struct srv_waitq *q = calloc(1, sizeof(*q));
    if (!q)
        return PL_ENOMEM;
    *q = (struct srv_waitq){.loop = loop, .pool = pool, .env = env, .cap = cap};
    *out = q;
    return 0;
}

static void on_timer(void *ctx)
{
    struct srv_waitq *q = ctx;
    while (q->len) {
        struct http_req *req = q->ring[q->head];
        int rc = srv_pool_submit(q->pool, req);
        if (rc == PL_EBUSY)
            break;
        if (rc < 0)
            api_reject(q->env, req, rc);
        q->head = (q->head + 1) % q->size;
        q->len--;
    }
    if (q->len)
        pl_loop_timer_start(q->loop, &q->timer, WAITQ_RETRY_MS, on_timer, q);
}

static int grow(struct srv_waitq *q)
{
    unsigned size = q->size ? q->size * 2 : WAITQ_MIN;
    struct http_req **r = malloc(size * sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    for (unsigned i = 0; i < q->len; i++)
        r[i] = q->ring[(q->head + i) % q->size];
    free(q->ring);
    q->ring = r;
    q->size = size;
    q->head = 0;
    return 0;
}

int srv_waitq_add(struct srv_waitq *q, struct http_req *req)
{
    if (q->len >= q->cap || (q->len == q->size && grow(q) < 0))
        return PL_EBUSY;
    q->ring[(q->head + q->len) % q->size] = req;
    q->len++;
    q->total++;
    if (!pl_timer_armed(&q->timer))
        pl_loop_timer_start(q->loop, &q->timer, WAITQ_RETRY_MS, on_timer, q);
    return 0;
}

void srv_waitq_stats(const struct srv_waitq *q, unsigned *waiting, unsigned long long *total)
{
    *waiting = q ? q->len : 0;
    *total = q ? q->total : 0;
}

void srv_waitq_free(struct srv_waitq *q)
{
    if (!q)
        return;
    pl_loop_timer_stop(q->loop, &q->timer);
    for (; q->len; q->len--, q->head = (q->head + 1) % q->size)
        api_reject(q->env, q->ring[q->head], PL_ECANCELED);
    free(q->ring);
    free(q);
}
