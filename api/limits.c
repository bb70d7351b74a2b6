/* SPDX-License-Identifier: MIT */
/* Parley - abuse limits and per-user quotas, counted in Redis.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/limit.h"

#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

PL_LOG_TOPIC("limits");

/*
 * Every limit is a counter in Redis (storage/limit.h), so it holds however
 * many nodes serve a client. What happens when Redis cannot be reached is
 * decided per limit, below; every check skipped that way is counted
 * (parley_limit_unchecked_total) so an operator sees the protection lapse.
 *
 * All of them fail OPEN. Refusing logins, sends or stream opens because
 * Redis is down would turn a Redis outage into a full outage, while the
 * harm of an unchecked window is bounded anyway:
 *  - logins and registrations still go through the bounded hashing pool
 *    (pwhash_threads), which caps password guesses per node at a few per
 *    second whatever the counters say;
 *  - prekey fetches: draining one-time prekeys only makes new sessions
 *    fall back to the signed prekey (weaker forward secrecy for the first
 *    message, no loss of confidentiality); the device cap (PostgreSQL)
 *    still holds;
 *  - quotas (streams, sends, searches, groups, media bytes) protect
 *    capacity, and the worker queue and the writer queue stay bounded
 *    without them.
 * Counts that matter durably (devices per user) live in PostgreSQL and do
 * not depend on Redis at all.
 */
struct kind {
    const char *name;   /* metrics label and Redis key part */
    uint64_t window_ms; /* fixed-window kinds */
};

static const struct kind kinds[API_LIMIT__COUNT] = {
    [API_LIMIT_LOGIN_ACCOUNT] = {"login_account", 0},
    [API_LIMIT_LOGIN_IP] = {"login_ip", 0},
    [API_LIMIT_REGISTER_IP] = {"register_ip", 3600 * 1000},
    [API_LIMIT_PWHASH_BUSY] = {"pwhash_busy", 0},
    [API_LIMIT_DEVICES] = {"devices", 0},
    [API_LIMIT_KEYS_REQUESTER] = {"keys_requester", 60 * 1000},
    [API_LIMIT_KEYS_TARGET] = {"keys_target", 60 * 1000},
    [API_LIMIT_STREAMS] = {"streams", 0},
    [API_LIMIT_SENDS] = {"sends", 1000},
    [API_LIMIT_SEARCHES] = {"searches", 1000},
    [API_LIMIT_GROUPS] = {"groups", 3600 * 1000},
    [API_LIMIT_MEDIA_BYTES] = {"media_bytes", 86400 * 1000},
    [API_LIMIT_USER_SEARCHES] = {"user_searches", 60 * 1000},
};

static _Atomic uint64_t rejected[API_LIMIT__COUNT], unchecked[API_LIMIT__COUNT];

size_t api_limit_count(void)
{
    return API_LIMIT__COUNT;
}

const char *api_limit_name(size_t i)
{
    return kinds[i].name;
}

void api_limit_stats(size_t i, uint64_t *rej, uint64_t *unch)
{
    *rej = atomic_load_explicit(&rejected[i], memory_order_relaxed);
    *unch = atomic_load_explicit(&unchecked[i], memory_order_relaxed);
}

void api__limit_count(enum api_limit_kind k)
{
    atomic_fetch_add_explicit(&rejected[k], 1, memory_order_relaxed);
}

/* A Redis failure: logged at debug (a down Redis would flood the log)
 * and counted; the caller lets the request through. */
static int fail_open(enum api_limit_kind k, int rc)
{
    atomic_fetch_add_explicit(&unchecked[k], 1, memory_order_relaxed);
    pl_log_debug("%s limit not checked: %s", kinds[k].name, pl_strerror(rc));
    return 0;
}

static uint64_t limit_of(const struct api_limits *l, enum api_limit_kind k)
{
    switch (k) {
    case API_LIMIT_REGISTER_IP: return l->register_per_ip;
    case API_LIMIT_KEYS_REQUESTER: return l->keys_fetch_per_min;
    case API_LIMIT_KEYS_TARGET: return l->keys_target_per_min;
    case API_LIMIT_SENDS: return l->sends_per_s;
    case API_LIMIT_SEARCHES: return l->searches_per_s;
    case API_LIMIT_GROUPS: return l->groups_per_hour;
    case API_LIMIT_MEDIA_BYTES: return l->media_bytes_per_day;
    case API_LIMIT_USER_SEARCHES: return l->user_searches_per_min;
    default: return 0;
    }
}

static unsigned retry_seconds(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s ? (unsigned)PL_MIN(s, 86400u) : 1;
}

int api__limit_refuse(struct api_call *c, enum api_limit_kind k, const char *slug,
                      uint64_t retry_ms, const char *detail)
{
    api__limit_count(k);
    struct api_problem p = {.rc = PL_ERATE,
                            .slug = slug,
                            .offset = -1,
                            .detail = detail,
                            .retry_after = retry_seconds(retry_ms)};
    api_problem_sendx(c->req, &p);
    return PL_ERATE;
}

bool api__limit_on(const struct api_env *env, enum api_limit_kind k)
{
    return limit_of(&env->cfg->limits, k) != 0;
}

int api__limit_window(struct api_call *c, enum api_limit_kind k, const char *subject, uint64_t cost)
{
    uint64_t limit = limit_of(&c->env->cfg->limits, k), retry_ms;
    if (limit == 0 || !c->w)
        return 0;
    char key[128];
    snprintf(key, sizeof(key), "pl:lim:%s:%s", kinds[k].name, subject);
    int rc = store_redis_limit_window(c->w->redis, key, limit, kinds[k].window_ms, cost, &retry_ms);
    if (rc == PL_ERATE)
        return api__limit_refuse(
            c, k, "quota-exceeded", retry_ms,
            pl_arena_sprintf(c->a, "the %s limit (%llu per %llu s) is used up; retry later",
                             kinds[k].name, (unsigned long long)limit,
                             (unsigned long long)(kinds[k].window_ms / 1000)));
    return rc < 0 ? fail_open(k, rc) : 0;
}

int api__limit_user(struct api_call *c, enum api_limit_kind k, int64_t user, uint64_t cost)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)user);
    return api__limit_window(c, k, id, cost);
}

bool api__addr_exempt(const struct api_env *env, const char *addr)
{
    const char *list = env->cfg->limits.exempt;
    size_t n = addr ? strlen(addr) : 0;
    if (!list || !n)
        return false;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchrnul(p, ',');
        const char *e = end;
        while (e > p && e[-1] == ' ')
            e--;
        if ((size_t)(e - p) == n && memcmp(p, addr, n) == 0)
            return true;
        p = end;
    }
    return false;
}

/* ---- logins: exponential backoff per account and per address ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The two backoff keys of an attempt; the address key is empty when the
 * address is exempt or its limit is off. Usernames are [a-z0-9_.] (or an
 * id for password changes), so they cannot break the key's shape. */
static void login_keys(const struct api_env *env, const char *account, const char *addr,
                       char acct_key[96], char ip_key[96])
{
    const struct api_limits *l = &env->cfg->limits;
    acct_key[0] = ip_key[0] = '\0';
    if (l->login_fail_account)
        snprintf(acct_key, 96, "pl:lim:login:a:%.60s", account);
    if (l->login_fail_ip && addr && !api__addr_exempt(env, addr))
        snprintf(ip_key, 96, "pl:lim:login:ip:%.64s", addr);
}

static struct store_backoff backoff(const struct api_limits *l, unsigned threshold)
{
    return (struct store_backoff){.threshold = threshold,
                                  .base_ms = l->login_backoff_ms,
                                  .max_ms = (uint64_t)l->login_backoff_max_s * 1000,
                                  .forget_ms = 3600 * 1000};
}

int api__login_check(struct api_call *c, const char *account)
{
    const struct api_limits *l = &c->env->cfg->limits;
    char ak[96], ik[96];
    login_keys(c->env, account, http_req_peer(c->req), ak, ik);
    /* The address first: when it is blocked the account is not charged. */
    const char *keys[] = {ik, ak};
    const struct store_backoff b[] = {backoff(l, l->login_fail_ip),
                                      backoff(l, l->login_fail_account)};
    const enum api_limit_kind k[] = {API_LIMIT_LOGIN_IP, API_LIMIT_LOGIN_ACCOUNT};
    for (int i = 0; i < 2; i++) {
        uint64_t retry_ms;
        if (!keys[i][0])
            continue;
        int rc = store_redis_backoff_attempt(c->w->redis, keys[i], now_ms(), &b[i], &retry_ms);
        if (rc == PL_ERATE) {
            if (i == 1 && ik[0] && store_redis_backoff_forgive(c->w->redis, ik) < 0)
                fail_open(API_LIMIT_LOGIN_IP, PL_EUNAVAIL);
            return api__limit_refuse(c, k[i], "login-throttled", retry_ms,
                                     i == 1 ? "too many failed logins for this account; wait "
                                              "Retry-After seconds"
                                            : "too many failed logins from this address; wait "
                                              "Retry-After seconds");
        }
        if (rc < 0)
            fail_open(k[i], rc);
    }
    return 0;
}

void api__login_result(struct api_call *c, const char *account, enum api_login_outcome outcome)
{
    char ak[96], ik[96];
    login_keys(c->env, account, http_req_peer(c->req), ak, ik);
    int rc = 0;
    /* A failure was counted when the attempt started. */
    if (outcome == API_LOGIN_FAILED)
        return;
    /* A success forgets the account's record, but only takes this attempt
     * back from the address's: an attacker logging in to an account of
     * their own must not wipe out their failures elsewhere. */
    if (ak[0])
        rc = outcome == API_LOGIN_OK ? store_redis_backoff_clear(c->w->redis, ak)
                                     : store_redis_backoff_forgive(c->w->redis, ak);
    if (ik[0] && rc == 0)
        rc = store_redis_backoff_forgive(c->w->redis, ik);
    if (rc < 0)
        fail_open(API_LIMIT_LOGIN_ACCOUNT, rc);
}

/* ---- event streams per user, across nodes ---- */

/* A node refreshes its counts every presence period (a third of
 * presence_timeout); a count outlives its node by this lease at most. */
static uint64_t stream_lease_ms(const struct api_env *env)
{
    return (uint64_t)env->cfg->presence_timeout_s * 1000 + 5000;
}

int api__streams_open(struct api_call *c)
{
    unsigned max = c->env->cfg->limits.streams;
    if (max == 0)
        return 0;
    int rc = store_redis_streams_open(c->w->redis, c->user_id, c->env->node_id, max, now_ms(),
                                      stream_lease_ms(c->env));
    if (rc == PL_ERATE)
        return api__limit_refuse(
            c, API_LIMIT_STREAMS, "quota-exceeded", 5000,
            pl_arena_sprintf(c->a, "this user already has %u event streams open; close one", max));
    return rc < 0 ? fail_open(API_LIMIT_STREAMS, rc) : 0;
}

void api__streams_open_many(struct api_call *cs, unsigned n, int *rcs)
{
    unsigned max = n ? cs[0].env->cfg->limits.streams : 0;
    if (max == 0)
        return;
    const struct api_env *env = cs[0].env;
    int64_t users[STORE_REDIS_STREAMS_BATCH];
    unsigned at[STORE_REDIS_STREAMS_BATCH];
    bool ok[STORE_REDIS_STREAMS_BATCH];
    for (unsigned i = 0; i < n;) {
        unsigned k = 0;
        for (; i < n && k < STORE_REDIS_STREAMS_BATCH; i++)
            if (rcs[i] == 0)
                users[k] = cs[i].user_id, at[k++] = i;
        int rc = store_redis_streams_open_many(cs[0].w->redis, users, k, env->node_id, max,
                                               now_ms(), stream_lease_ms(env), ok);
        if (rc < 0) {
            fail_open(API_LIMIT_STREAMS, rc);
            continue;
        }
        for (unsigned j = 0; j < k; j++)
            if (!ok[j])
                rcs[at[j]] = api__limit_refuse(
                    &cs[at[j]], API_LIMIT_STREAMS, "quota-exceeded", 5000,
                    pl_arena_sprintf(cs[at[j]].a,
                                     "this user already has %u event streams open; close one",
                                     max));
    }
}

void api__streams_closed(struct api_worker *w, int64_t user)
{
    if (w->env->cfg->limits.streams == 0)
        return;
    int rc = store_redis_streams_close(w->redis, user, w->env->node_id, now_ms(),
                                       stream_lease_ms(w->env));
    if (rc < 0)
        fail_open(API_LIMIT_STREAMS, rc);
}

void api_streams_refresh(struct api_worker *w, const int64_t *users, const unsigned *counts,
                         unsigned n)
{
    if (w->env->cfg->limits.streams == 0)
        return;
    uint64_t now = now_ms(), lease = stream_lease_ms(w->env);
    for (unsigned i = 0; i < n; i += STORE_REDIS_STREAMS_BATCH) {
        unsigned k = PL_MIN(n - i, (unsigned)STORE_REDIS_STREAMS_BATCH);
        if (store_redis_streams_refresh(w->redis, users + i, counts + i, k, w->env->node_id, now,
                                        lease) < 0)
            return; /* Redis down: the next refresh catches up */
    }
}
