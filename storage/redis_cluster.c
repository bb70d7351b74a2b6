/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster: key slots, the slot map, redirections.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis_cluster.h"

#include "redis.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static atomic_uint_fast64_t counts[3];

void store_redis__cluster_count(int kind)
{
    if (kind >= 1 && kind <= 3)
        atomic_fetch_add_explicit(&counts[kind - 1], 1, memory_order_relaxed);
}

void store_redis_cluster_stats(struct store_redis_cluster_stats *out)
{
    out->moved = atomic_load_explicit(&counts[0], memory_order_relaxed);
    out->ask = atomic_load_explicit(&counts[1], memory_order_relaxed);
    out->refreshes = atomic_load_explicit(&counts[2], memory_order_relaxed);
}

uint16_t store_redis_crc16(const char *buf, size_t len)
{
    /* Bit by bit: keys are short, and 16 lines of table would buy
     * nothing measurable next to a network round trip. */
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

void store_redis_presence_bucket_tag(unsigned b, char buf[STORE_REDIS_TAG_MAX])
{
    snprintf(buf, STORE_REDIS_TAG_MAX, "{pl:presence:%u}", b % STORE_REDIS_PRESENCE_BUCKETS);
}

unsigned store_redis_key_slot(const char *key, size_t len)
{
    /* Only the first '{' counts, and an empty tag "{}" means no tag: the
     * rule of the cluster specification, so "{}{a}" hashes whole. */
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return store_redis_crc16(open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return store_redis_crc16(key, len) & 16383;
}

void store_redis__slotmap_init(struct store_redis_slotmap *m)
{
    m->n = 0;
    memset(m->owner, STORE_REDIS_NO_NODE, sizeof(m->owner));
}

int store_redis__slotmap_node(struct store_redis_slotmap *m, const char *addr)
{
    for (unsigned i = 0; i < m->n; i++)
        if (strcmp(m->addr[i], addr) == 0)
            return (int)i;
    if (m->n >= STORE_REDIS_MAP_NODES || strlen(addr) >= STORE_REDIS_ADDR_MAX)
        return -1;
    snprintf(m->addr[m->n], STORE_REDIS_ADDR_MAX, "%s", addr);
    return (int)m->n++;
}

const char *store_redis__slotmap_lookup(const struct store_redis_slotmap *m, unsigned slot)
{
    if (slot >= STORE_REDIS_SLOTS || m->owner[slot] == STORE_REDIS_NO_NODE)
        return NULL;
    return m->addr[m->owner[slot]];
}

/* The master of one CLUSTER SLOTS entry: [ip, port, id, ...]. An empty
 * ip means "the address you reached me at" (a node that does not know
 * its own address); "?" is an unknown endpoint. */
static int entry_addr(const redisReply *node, const char *from, char *out, size_t cap)
{
    if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
        node->element[0]->type != REDIS_REPLY_STRING ||
        node->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    const char *ip = node->element[0]->str;
    long long port = node->element[1]->integer;
    if (strcmp(ip, "?") == 0 || port <= 0 || port > 65535)
        return -1;
    if (!ip[0]) {
        const char *colon = strrchr(from, ':');
        if (!colon)
            return -1;
        snprintf(out, cap, "%.*s:%lld", (int)(colon - from), from, port);
    } else if (strchr(ip, ':')) {
        snprintf(out, cap, "[%s]:%lld", ip, port);
    } else {
        snprintf(out, cap, "%s:%lld", ip, port);
    }
    return 0;
}

int store_redis__slotmap_parse(struct store_redis_slotmap *m, const void *reply, const char *from)
{
    const redisReply *rep = reply;
    store_redis__slotmap_init(m);
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return PL_EINTERNAL;
    unsigned served = 0;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        char addr[STORE_REDIS_ADDR_MAX];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            entry_addr(e->element[2], from, addr, sizeof(addr)) < 0)
            continue;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        int idx = store_redis__slotmap_node(m, addr);
        if (idx < 0 || lo < 0 || hi >= STORE_REDIS_SLOTS || lo > hi)
            continue;
        memset(m->owner + lo, idx, (size_t)(hi - lo + 1));
        served += (unsigned)(hi - lo + 1);
    }
    if (served == 0) {
        store_redis__slotmap_init(m);
        return PL_EINTERNAL;
    }
    return 0;
}

int store_redis__redirect_parse(const char *err, unsigned *slot, char *addr, size_t cap)
{
    int kind;
    if (strncmp(err, "MOVED ", 6) == 0)
        kind = 1;
    else if (strncmp(err, "ASK ", 4) == 0)
        kind = 2;
    else
        return 0;
    const char *p = err + (kind == 1 ? 6 : 4);
    char *end;
    unsigned long s = strtoul(p, &end, 10);
    if (end == p || *end != ' ' || s >= STORE_REDIS_SLOTS)
        return 0;
    const char *a = end + 1;
    size_t n = strcspn(a, " \r\n");
    /* Redis 7 may say ":6381" (no known endpoint): the caller keeps the
     * host it used, which we cannot know here, so treat it as unknown. */
    if (n == 0 || n >= cap || a[0] == ':')
        return 0;
    memcpy(addr, a, n);
    addr[n] = '\0';
    *slot = (unsigned)s;
    return kind;
}

/* Reads one RESP bulk string at *p (within end): its start and length. */
static int bulk_next(const char **p, const char *end, const char **s, size_t *n)
{
    const char *q = *p;
    if (q >= end || *q != '$')
        return -1;
    char *e;
    unsigned long len = strtoul(q + 1, &e, 10);
    if (e + 2 > end || e[0] != '\r' || e[1] != '\n' || (size_t)(end - (e + 2)) < len + 2)
        return -1;
    *s = e + 2;
    *n = len;
    *p = e + 2 + len + 2;
    return 0;
}

static bool arg_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

int store_redis__command_slot(const char *cmd, size_t len)
{
    const char *end = cmd + len, *p = cmd;
    if (len < 4 || cmd[0] != '*')
        return -1;
    char *e;
    long argc = strtol(cmd + 1, &e, 10);
    if (argc < 1 || e + 2 > end || e[0] != '\r')
        return -1;
    p = e + 2;
    const char *arg[4];
    size_t n[4];
    long have = argc < 4 ? argc : 4;
    for (long i = 0; i < have; i++)
        if (bulk_next(&p, end, &arg[i], &n[i]) < 0)
            return -1;
    if (arg_is(arg[0], n[0], "EVAL") || arg_is(arg[0], n[0], "EVALSHA")) {
        if (have < 4 || n[2] == 0 || arg[2][0] == '0')
            return -1; /* numkeys 0: the script names no key */
        return (int)store_redis_key_slot(arg[3], n[3]);
    }
    if (have < 2 || arg_is(arg[0], n[0], "PING") || arg_is(arg[0], n[0], "CLUSTER") ||
        arg_is(arg[0], n[0], "INFO"))
        return -1;
    return (int)store_redis_key_slot(arg[1], n[1]);
}

int store_redis__seeds_parse(const char *list, char **seeds, unsigned max, unsigned *n)
{
    *n = 0;
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            break;
        char *s = strndup(p, len), *host = NULL;
        int port, rc = s ? store_redis__parse_addr(s, &host, &port) : PL_ENOMEM;
        free(host);
        if (rc == 0 && (port == 0 || *n >= max))
            rc = PL_EINVAL; /* cluster nodes talk TCP only */
        if (rc < 0) {
            free(s);
            while (*n)
                free(seeds[--*n]);
            return rc;
        }
        seeds[(*n)++] = s;
        p += len;
    }
    return *n ? 0 : PL_EINVAL;
}
