/* SPDX-License-Identifier: MIT */
/* Parley - Web Push delivery: the dispatcher thread (issue 12).        */
/* Copyright (c) 2026 Parley developers                                 */
#include "webpush.h"

#include "storage/presence.h"
#include "storage/push_subs.h"
#include "webpush/webpush.h"

#include "common/ids.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

PL_LOG_TOPIC("webpush");

/* Events the dispatcher takes from the queue per pass. */
#define BATCH 64
/* How long the first event of a pass waits for company (unless BATCH are
 * queued): a pass asks PostgreSQL once which recipients hold a
 * subscription, and a notification for someone without a stream is not
 * worth one query per message (at 5,000 messages/s, passes of one or two
 * events ran that query ~900 times a second; bench/README.md, "Honest CPU
 * accounting"). */
#define GATHER_MS 20
/* A VAPID JWT lives this long (RFC 8292 allows at most 24 hours). */
#define JWT_TTL_S (12 * 3600)
/* The longest wait between two attempts, whatever backoff or Retry-After
 * says: a retry later than this is not worth a notification. */
#define RETRY_MAX_MS (10 * 60 * 1000)

/* One message.created event as published: copied, since the publisher's
 * buffers are gone when the dispatcher gets to it. */
struct note {
    struct note *next;
    uint64_t queued_ms; /* pl_now_ms() when published */
    size_t len;
    unsigned n_users;
    char *json;
    int64_t users[];
};

/* One encrypted push to one subscription, kept for its retries. */
struct delivery {
    struct delivery *next;
    uint64_t due_ms; /* pl_now_ms() of the next attempt */
    unsigned attempts;
    int64_t sub_id, user_id;
    char *endpoint;
    uint8_t *body;
    size_t len;
};

struct srv_webpush {
    const struct srv_config *cfg;
    struct webpush_key *key;
    void (*prev_publish)(void *ctx, uint64_t pos, const char *type, const char *json, size_t len,
                         const int64_t *users, unsigned n_users);
    void *prev_ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping, started;
    pthread_t thread;
    struct note *head, *tail; /* the queue, at most cfg->webpush_queue */
    unsigned queued;
    struct delivery *retries; /* sorted by due_ms, at most cfg->webpush_queue */
    unsigned n_retries;
    /* Dispatcher thread only. */
    struct store_pg *pg;
    struct store_redis *redis;
    struct webpush_client *http;
};

static atomic_ullong st_queued, st_dropped, st_sent, st_failed, st_retried, st_gone, st_online;

void srv_webpush_stats(struct srv_webpush_stats *o)
{
    *o = (struct srv_webpush_stats){.queued = atomic_load(&st_queued),
                                    .dropped = atomic_load(&st_dropped),
                                    .sent = atomic_load(&st_sent),
                                    .failed = atomic_load(&st_failed),
                                    .retried = atomic_load(&st_retried),
                                    .gone = atomic_load(&st_gone),
                                    .skipped_online = atomic_load(&st_online)};
}

/* ---- the VAPID key ---- */

static int key_parse(const char *b64, struct webpush_key **out)
{
    uint8_t d[WEBPUSH_PRIVATE_LEN + 1];
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", b64);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (webpush_b64url_decode(buf, d, sizeof(d)) != WEBPUSH_PRIVATE_LEN)
        return PL_EINVAL;
    return webpush_key_from_private(d, out);
}

/* Reads data_dir/vapid_private_key, or creates it (link() settles a race
 * between nodes sharing data_dir, as for url_secret in media.c). */
static int key_file(const char *dir, struct webpush_key **out)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32], buf[64] = {0};
    if ((size_t)snprintf(path, sizeof(path), "%s/vapid_private_key", dir) >= sizeof(path))
        return PL_EINVAL;
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return -errno;
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            return n > 0 ? key_parse(buf, out) : PL_EINVAL;
        }
        if (errno != ENOENT)
            return -errno;
        struct webpush_key *k;
        int rc = webpush_key_generate(&k);
        if (rc < 0)
            return rc;
        uint8_t d[WEBPUSH_PRIVATE_LEN];
        webpush_key_private(k, d);
        webpush_key_free(k);
        if ((rc = webpush_b64url_encode(d, sizeof(d), buf, sizeof(buf) - 1)) < 0)
            return rc;
        strcat(buf, "\n");
        snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        rc = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) && fsync(fd) == 0 ? 0 : -errno;
        close(fd);
        if (rc == 0 && link(tmp, path) < 0 && errno != EEXIST)
            rc = -errno;
        unlink(tmp);
        if (rc < 0)
            return rc;
        pl_log_info("generated a VAPID key in %s", path);
    }
    return PL_EINTERNAL;
}

static int key_load(const struct srv_config *cfg, struct webpush_key **out)
{
    if (*cfg->vapid_private_key) {
        int rc = key_parse(cfg->vapid_private_key, out);
        if (rc < 0)
            pl_log_error("vapid_private_key must be a P-256 private key: 32 bytes in base64url");
        return rc;
    }
    int rc = key_file(cfg->data_dir, out);
    if (rc < 0)
        pl_log_error("cannot use the VAPID key in %s: %s", cfg->data_dir, pl_strerror(rc));
    return rc;
}

/* ---- the queue (any thread) ---- */

static void publish(void *ctx, uint64_t pos, const char *type, const char *json, size_t len,
                    const int64_t *users, unsigned n_users)
{
    struct srv_webpush *w = ctx;
    w->prev_publish(w->prev_ctx, pos, type, json, len, users, n_users);
    /* A message with nobody but its sender has no one to notify. */
    if (n_users < 2 || strcmp(type, "message.created") != 0)
        return;
    struct note *n = malloc(sizeof(*n) + (size_t)n_users * sizeof(int64_t));
    char *copy = n ? malloc(len + 1) : NULL;
    if (!copy) {
        free(n);
        atomic_fetch_add(&st_dropped, 1);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    *n = (struct note){.queued_ms = pl_now_ms(), .len = len, .n_users = n_users, .json = copy};
    memcpy(n->users, users, (size_t)n_users * sizeof(int64_t));
    bool wake = false;
    pthread_mutex_lock(&w->lock);
    bool full = w->queued >= w->cfg->webpush_queue || w->stopping;
    if (!full) {
        if (w->tail)
            w->tail->next = n;
        else
            w->head = n;
        w->tail = n;
        /* The first note starts the dispatcher's gathering wait, a full
         * pass ends it; the ones between need no wake-up. */
        wake = ++w->queued == 1 || w->queued == BATCH;
    }
    pthread_mutex_unlock(&w->lock);
    if (wake) /* after the unlock, as in server/pool.c */
        pthread_cond_signal(&w->cond);
    if (full) {
        free(copy);
        free(n);
        atomic_fetch_add(&st_dropped, 1);
    } else {
        atomic_fetch_add(&st_queued, 1);
    }
}

static void delivery_free(struct delivery *d)
{
    free(d->endpoint);
    free(d->body);
    free(d);
}

/* Dispatcher thread: files d for another attempt at d->due_ms, or drops
 * it when the retry list is full. */
static void retry_add(struct srv_webpush *w, struct delivery *d)
{
    pthread_mutex_lock(&w->lock);
    bool full = w->n_retries >= w->cfg->webpush_queue;
    if (!full) {
        struct delivery **p = &w->retries;
        while (*p && (*p)->due_ms <= d->due_ms)
            p = &(*p)->next;
        d->next = *p;
        *p = d;
        w->n_retries++;
    }
    pthread_mutex_unlock(&w->lock);
    if (full) {
        atomic_fetch_add(&st_dropped, 1);
        delivery_free(d);
    }
}

/* ---- one attempt ---- */

/* The next attempt's delay: the push service's Retry-After when it gave
 * one, else base × 2^(attempts-1), capped. */
static uint64_t backoff_ms(const struct srv_webpush *w, unsigned attempts, unsigned retry_after_s)
{
    uint64_t ms = retry_after_s ? (uint64_t)retry_after_s * 1000
                                : (uint64_t)w->cfg->webpush_retry_base_ms
                                      << (attempts - 1 < 20 ? attempts - 1 : 20);
    return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

static int post(struct srv_webpush *w, const struct delivery *d, struct webpush_response *res)
{
    char aud[512], auth[2600];
    int rc = webpush_endpoint_origin(d->endpoint, w->cfg->webpush_allow_http, aud, sizeof(aud));
    if (rc == 0)
        rc = webpush_vapid_header(w->key, aud, w->cfg->vapid_subject,
                                  (int64_t)time(NULL) + JWT_TTL_S, auth, sizeof(auth));
    if (rc < 0)
        return rc;
    struct webpush_request req = {.endpoint = d->endpoint,
                                  .authorization = auth,
                                  .ttl_s = w->cfg->webpush_ttl_s,
                                  .urgency = w->cfg->webpush_urgency,
                                  .body = d->body,
                                  .len = d->len};
    return webpush_client_post(w->http, &req, res);
}

/* Sends d once and decides its fate: done, gone (subscription deleted),
 * retried later, or failed. Takes d. */
static void attempt(struct srv_webpush *w, struct delivery *d)
{
    struct webpush_response res = {0};
    int rc = post(w, d, &res);
    d->attempts++;
    if (rc == 0 && res.status >= 200 && res.status < 300) {
        atomic_fetch_add(&st_sent, 1);
    } else if (rc == 0 && (res.status == 404 || res.status == 410)) {
        /* RFC 8030 section 7.3: the subscription expired or was removed. */
        pl_log_info("push subscription %lld of user %lld: gone (%ld), deleted",
                    (long long)d->sub_id, (long long)d->user_id, res.status);
        if (store_pg_push_sub_drop(w->pg, d->sub_id) < 0)
            pl_log_warn("push subscription %lld: could not delete it", (long long)d->sub_id);
        atomic_fetch_add(&st_gone, 1);
    } else if ((rc == PL_EUNAVAIL || rc == PL_ETIMEDOUT || (rc == 0 && res.status == 429) ||
                (rc == 0 && res.status >= 500)) &&
               d->attempts < w->cfg->webpush_max_attempts) {
        d->due_ms = pl_now_ms() + backoff_ms(w, d->attempts, res.retry_after_s);
        atomic_fetch_add(&st_retried, 1);
        retry_add(w, d);
        return;
    } else {
        pl_log_warn("push subscription %lld: not delivered after %u attempts: %s %ld",
                    (long long)d->sub_id, d->attempts, rc < 0 ? pl_strerror(rc) : "status",
                    res.status);
        atomic_fetch_add(&st_failed, 1);
    }
    delivery_free(d);
}

/* ---- one event ---- */

/* The recipients of n other than its sender, unique, into out (arena). */
static unsigned recipients(struct pl_arena *a, const struct note *n, int64_t sender, int64_t **out)
{
    int64_t *v = pl_arena_alloc(a, (size_t)n->n_users * sizeof(*v));
    unsigned k = 0;
    for (unsigned i = 0; v && i < n->n_users; i++) {
        bool dup = n->users[i] == sender;
        for (unsigned j = 0; j < k && !dup; j++)
            dup = v[j] == n->users[i];
        if (!dup)
            v[k++] = n->users[i];
    }
    *out = v;
    return v ? k : 0;
}

/* Marks the targets whose user is online (presence, on any node): they
 * see the message on their stream. Redis down: nobody counts as online,
 * so a notification may duplicate what a stream showed, never go missing. */
static void online_filter(struct srv_webpush *w, struct store_push_sub *t, unsigned n, bool *skip)
{
    int64_t users[64];
    uint64_t hb[64];
    for (unsigned i = 0; i < n; i += 64) {
        unsigned k = n - i < 64 ? n - i : 64;
        for (unsigned j = 0; j < k; j++)
            users[j] = t[i + j].user_id;
        if (store_redis_presence_get_many(w->redis, users, k, hb) < 0)
            continue;
        uint64_t now = pl_wall_ms(), limit = (uint64_t)w->cfg->presence_timeout_s * 1000;
        for (unsigned j = 0; j < k; j++)
            skip[i + j] = hb[j] && now - hb[j] < limit;
    }
}

/* Builds the encrypted delivery of payload for subscription t. */
static struct delivery *delivery_new(const struct store_push_sub *t, const char *payload,
                                     size_t len)
{
    uint8_t pub[WEBPUSH_PUBLIC_LEN + 1], auth[WEBPUSH_AUTH_LEN + 1];
    if (webpush_b64url_decode(t->p256dh, pub, sizeof(pub)) != WEBPUSH_PUBLIC_LEN ||
        webpush_b64url_decode(t->auth, auth, sizeof(auth)) != WEBPUSH_AUTH_LEN)
        return NULL;
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    *d = (struct delivery){.sub_id = t->id, .user_id = t->user_id, .endpoint = strdup(t->endpoint)};
    if (!d->endpoint ||
        webpush_encrypt(pub, auth, (const uint8_t *)payload, len, NULL, &d->body, &d->len) < 0) {
        delivery_free(d);
        return NULL;
    }
    return d;
}

static void process(struct srv_webpush *w, struct pl_arena *a, const struct note *n)
{
    struct api_push_note pn;
    int64_t *users;
    struct store_push_sub *t;
    unsigned nt;
    const char *sender_name = "";
    if (api_push_note_parse(a, n->json, n->len, &pn) < 0)
        return;
    unsigned nu = recipients(a, n, pn.sender_id, &users);
    if (!nu)
        return;
    int rc = store_pg_push_targets(w->pg, a, pn.conversation_id, pn.seq, pn.sender_id, users, nu,
                                   &t, &nt, &sender_name);
    if (rc < 0) {
        /* PostgreSQL down: this message's notifications are lost (the
         * message is not; clients see it when they come back). */
        atomic_fetch_add(&st_dropped, 1);
        pl_log_warn("conversation %lld seq %lld: no push: %s", (long long)pn.conversation_id,
                    (long long)pn.seq, pl_strerror(rc));
        return;
    }
    if (!nt)
        return;
    bool *skip = pl_arena_zalloc(a, nt * sizeof(*skip));
    if (!skip)
        return;
    online_filter(w, t, nt, skip);
    for (unsigned i = 0; i < nt; i++) {
        if (skip[i]) {
            atomic_fetch_add(&st_online, 1);
            continue;
        }
        const char *payload;
        size_t len;
        unsigned count = t[i].unread > 0 ? (unsigned)t[i].unread : 1;
        if (api_push_note_payload(a, &pn, sender_name, count, &payload, &len) < 0)
            continue;
        struct delivery *d = delivery_new(&t[i], payload, len);
        if (d)
            attempt(w, d);
        else
            atomic_fetch_add(&st_failed, 1);
    }
}

/* ---- a batch: who has a subscription at all ---- */

/* The batch's recipients holding a subscription, ascending; all: unknown
 * (the query failed), so every note goes through process(). */
struct subscribed {
    int64_t *ids;
    unsigned n;
    bool all;
};

/* One statement for the whole batch instead of one per message: most
 * recipients hold no subscription (they use a stream, the CLI or none). */
static void subscribed_load(struct srv_webpush *w, struct pl_arena *a, const struct note *list,
                            struct subscribed *out)
{
    size_t total = 0;
    for (const struct note *n = list; n; n = n->next)
        total += n->n_users;
    int64_t *users = pl_arena_alloc(a, (total ? total : 1) * sizeof(*users));
    out->all = true;
    if (!users || total > UINT_MAX)
        return;
    size_t k = 0;
    for (const struct note *n = list; n; n = n->next) {
        memcpy(users + k, n->users, n->n_users * sizeof(*users));
        k += n->n_users;
    }
    unsigned u = pl_ids_unique(users, (unsigned)k, 0);
    if (store_pg_push_subscribed(w->pg, a, users, u, &out->ids, &out->n) == 0)
        out->all = false;
}

/* Whether any recipient of n holds a subscription (the sender included:
 * process() leaves them out). */
static bool note_wanted(const struct subscribed *s, const struct note *n)
{
    if (s->all)
        return true;
    for (unsigned i = 0; s->n && i < n->n_users; i++)
        if (bsearch(&n->users[i], s->ids, s->n, sizeof(*s->ids), pl_ids_cmp))
            return true;
    return false;
}

/* ---- the thread ---- */

/* Waits for work; returns the notes taken (a list) and the due retries. */
static struct note *take(struct srv_webpush *w, struct delivery **due)
{
    pthread_mutex_lock(&w->lock);
    for (;;) {
        uint64_t now = pl_now_ms();
        uint64_t ready = w->head ? w->head->queued_ms + GATHER_MS : UINT64_MAX;
        if (w->stopping || w->queued >= BATCH || ready <= now ||
            (w->retries && w->retries->due_ms <= now))
            break;
        if (w->retries && w->retries->due_ms < ready)
            ready = w->retries->due_ms;
        if (ready == UINT64_MAX) {
            pthread_cond_wait(&w->cond, &w->lock);
            continue;
        }
        uint64_t wait = ready - now;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    struct note *list = NULL, **end = &list;
    for (unsigned i = 0; i < BATCH && w->head && !w->stopping; i++) {
        struct note *n = w->head;
        if (!(w->head = n->next))
            w->tail = NULL;
        n->next = NULL;
        *end = n;
        end = &n->next;
        w->queued--;
    }
    uint64_t now = pl_now_ms();
    struct delivery *d = NULL, **dend = &d;
    while (!w->stopping && w->retries && w->retries->due_ms <= now) {
        struct delivery *r = w->retries;
        w->retries = r->next;
        r->next = NULL;
        *dend = r;
        dend = &r->next;
        w->n_retries--;
    }
    pthread_mutex_unlock(&w->lock);
    *due = d;
    return list;
}

static void *dispatcher_main(void *arg)
{
    struct srv_webpush *w = arg;
    store_pg_open(w->pg);
    for (;;) {
        struct delivery *due;
        struct note *list = take(w, &due);
        if (!list && !due)
            break; /* stopping */
        struct pl_arena *ba = pl_arena_new();
        struct subscribed sub = {.all = true};
        if (ba)
            subscribed_load(w, ba, list, &sub);
        while (list) {
            struct note *n = list;
            list = n->next;
            struct pl_arena *a = note_wanted(&sub, n) ? pl_arena_new() : NULL;
            if (a)
                process(w, a, n);
            pl_arena_free(a);
            free(n->json);
            free(n);
        }
        pl_arena_free(ba);
        while (due) {
            struct delivery *d = due;
            due = d->next;
            attempt(w, d);
        }
    }
    return NULL;
}

static int start(struct srv_webpush *w)
{
    const struct srv_config *cfg = w->cfg;
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_redis_config rc_ = {
        .addr = cfg->redis, .timeout_ms = cfg->redis_timeout_ms, .cluster = cfg->redis_cluster};
    int rc = store_pg_new(&pc, &w->pg);
    if (rc == 0)
        rc = store_redis_new(&rc_, &w->redis);
    if (rc == 0)
        rc = webpush_client_new(cfg->webpush_timeout_ms, &w->http);
    if (rc == 0) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);
        rc = -pthread_create(&w->thread, NULL, dispatcher_main, w);
        w->started = rc == 0;
    }
    return rc;
}

int srv_webpush_new(const struct srv_config *cfg, struct api_config *api_cfg, struct api_env *env,
                    struct srv_webpush **out)
{
    *out = NULL;
    static char pub_b64[96];
    const char *u = cfg->webpush_urgency;
    if (strcmp(u, "very-low") && strcmp(u, "low") && strcmp(u, "normal") && strcmp(u, "high")) {
        pl_log_error("webpush_urgency must be very-low, low, normal or high");
        return PL_EINVAL;
    }
    struct webpush_key *key;
    int rc = key_load(cfg, &key);
    if (rc < 0)
        return rc;
    uint8_t pub[WEBPUSH_PUBLIC_LEN];
    webpush_key_public(key, pub);
    if ((rc = webpush_b64url_encode(pub, sizeof(pub), pub_b64, sizeof(pub_b64))) < 0) {
        webpush_key_free(key);
        return rc;
    }
    api_cfg->vapid_public_key = pub_b64;
    api_cfg->webpush_allow_http = cfg->webpush_allow_http;
    if (!cfg->webpush || !env->publish) {
        webpush_key_free(key);
        return 0;
    }
    struct srv_webpush *w = calloc(1, sizeof(*w));
    if (!w) {
        webpush_key_free(key);
        return PL_ENOMEM;
    }
    *w = (struct srv_webpush){.cfg = cfg, .key = key};
    pthread_mutex_init(&w->lock, NULL);
    if ((rc = start(w)) < 0) {
        srv_webpush_free(w, env);
        return rc;
    }
    w->prev_publish = env->publish;
    w->prev_ctx = env->publish_ctx;
    env->publish = publish;
    env->publish_ctx = w;
    *out = w;
    return 0;
}

void srv_webpush_free(struct srv_webpush *w, struct api_env *env)
{
    if (!w)
        return;
    if (env && env->publish == publish) {
        env->publish = w->prev_publish;
        env->publish_ctx = w->prev_ctx;
    }
    if (w->started) {
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
    }
    while (w->head) {
        struct note *n = w->head;
        w->head = n->next;
        free(n->json);
        free(n);
    }
    while (w->retries) {
        struct delivery *d = w->retries;
        w->retries = d->next;
        delivery_free(d);
    }
    webpush_client_free(w->http);
    store_redis_free(w->redis);
    store_pg_free(w->pg);
    pthread_mutex_destroy(&w->lock);
    webpush_key_free(w->key);
    free(w);
}
