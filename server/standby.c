/* SPDX-License-Identifier: MIT */
/* Parley - the thread that follows the hot standby's replay position.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "standby.h"

#include "api/replica.h"
#include "common/log.h"
#include "common/loop.h"
#include "storage/replica.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

PL_LOG_TOPIC("standby");

struct srv_standby {
    const struct srv_config *cfg;
    struct store_pg *primary, *standby;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    bool up; /* for logging transitions once */
    /* The previous poll's start and the primary's position then (0: none):
     * under steady writes the standby is rarely past the position read a
     * moment before, but it is past the one of the poll before. */
    uint64_t prev_ms, prev_lsn;
};

/* One poll. The primary's position is read first: when the standby's
 * replay position read afterwards is at or past it, everything committed
 * before the first read is on the standby (api_replica_caught_up()); the
 * same holds for the previous poll's pair. The stream position goes out
 * before the replay position, so a reader never pairs a new replay
 * position with an older stream position than it stands for. */
static void poll_once(struct srv_standby *s)
{
    uint64_t t0_ms = pl_now_us() / 1000, p = 0, r = 0, pos = 0;
    bool have_p = store_pg_wal_insert_lsn(s->primary, &p) == 0;
    int rc = store_pg_replay_lsn(s->standby, &r, &pos);
    if (rc < 0) {
        api_replica_standby_set(0);
        if (s->up)
            pl_log_warn("not usable (%s); reads go to the primary", pl_strerror(rc));
        s->up = false;
        s->prev_lsn = 0;
        return;
    }
    api_replica_standby_pos_set(pos);
    api_replica_standby_set(r);
    if (have_p && r >= p)
        api_replica_caught_up(t0_ms);
    else if (s->prev_lsn && r >= s->prev_lsn)
        api_replica_caught_up(s->prev_ms);
    s->prev_ms = t0_ms;
    s->prev_lsn = have_p ? p : 0;
    if (!s->up)
        pl_log_info("replaying (at %X/%X); lag-tolerant reads may go there", (unsigned)(r >> 32),
                    (unsigned)r);
    s->up = true;
}

static void *standby_main(void *arg)
{
    struct srv_standby *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        poll_once(s);
        pthread_mutex_lock(&s->lock);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->cfg->pg_standby_poll_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int srv_standby_new(const struct srv_config *cfg, struct srv_standby **out)
{
    *out = NULL;
    if (!cfg->pg_standby || !*cfg->pg_standby)
        return 0;
    struct srv_standby *s = calloc(1, sizeof(*s));
    if (!s)
        return PL_ENOMEM;
    s->cfg = cfg;
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_pg_config sc = {.conninfo = cfg->pg_standby,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    int rc = store_pg_new(&pc, &s->primary);
    if (rc == 0)
        rc = store_pg_new(&sc, &s->standby);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);
    if (rc == 0)
        rc = -pthread_create(&s->thread, NULL, standby_main, s);
    if (rc < 0) {
        store_pg_free(s->primary);
        store_pg_free(s->standby);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    api_replica_enable(true);
    *out = s;
    return 0;
}

void srv_standby_free(struct srv_standby *s)
{
    if (!s)
        return;
    api_replica_enable(false);
    api_replica_standby_set(0);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    store_pg_free(s->primary);
    store_pg_free(s->standby);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
