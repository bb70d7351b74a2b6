/* SPDX-License-Identifier: MIT */
/* Parley - open connections per client address (max_conns_per_ip).     */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * Every connection object http/ counts (sniffer, TLS handshake, h2
 * session, libmicrohttpd connection, detached HTTP/1.1 stream) also counts
 * under its client's address, in the same http__conn_count() call, so the
 * two tallies cannot drift apart. A hash table of addresses (as text,
 * inet_ntop's form) maps to counts; an address whose count returns to zero
 * is removed, so the table holds only addresses with open connections.
 * Loop thread only.
 */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#define IP_BUCKETS 4096

struct http__ip_node {
    struct http__ip_node *next;
    unsigned count;
    char addr[];
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IP_BUCKETS;
}

bool http__ip_exempt(const struct http_server *s, const char *peer)
{
    const char *list = s->cfg.limits.conn_ip_exempt;
    size_t n = strlen(peer);
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t k = strcspn(p, ", ");
        if (k == n && k && strncmp(p, peer, n) == 0)
            return true;
        p += k;
    }
    return false;
}

static struct http__ip_node **find(struct http_server *s, const char *peer)
{
    struct http__ip_node **pp = &s->ip_buckets[hash(peer)];
    while (*pp && strcmp((*pp)->addr, peer) != 0)
        pp = &(*pp)->next;
    return pp;
}

unsigned http__ip_conns(struct http_server *s, const char *peer)
{
    if (!s->ip_buckets || !peer)
        return 0;
    struct http__ip_node *n = *find(s, peer);
    return n ? n->count : 0;
}

void http__ip_count(struct http_server *s, const char *peer, int delta)
{
    if (!peer || !*peer || !s->cfg.limits.max_conns_per_ip || http__ip_exempt(s, peer))
        return;
    if (!s->ip_buckets && !(s->ip_buckets = calloc(IP_BUCKETS, sizeof(*s->ip_buckets))))
        return; /* out of memory: the cap is not enforced, nothing breaks */
    struct http__ip_node **pp = find(s, peer), *n = *pp;
    if (delta > 0) {
        if (!n) {
            size_t len = strlen(peer) + 1;
            if (!(n = calloc(1, sizeof(*n) + len)))
                return;
            memcpy(n->addr, peer, len);
            *pp = n;
        }
        n->count += (unsigned)delta;
    } else if (n) {
        n->count = n->count > (unsigned)-delta ? n->count - (unsigned)-delta : 0;
        if (n->count == 0) {
            *pp = n->next;
            free(n);
        }
    }
}

void http__ip_free(struct http_server *s)
{
    if (!s->ip_buckets)
        return;
    for (unsigned i = 0; i < IP_BUCKETS; i++)
        for (struct http__ip_node *n = s->ip_buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    free(s->ip_buckets);
    s->ip_buckets = NULL;
}
