/* SPDX-License-Identifier: MIT */
/* Parley - relaying events only while another node listens.            */
/* Copyright (c) 2026 Parley developers                                 */
#include "relay_gate.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("relay");

/* A frame not published, kept for a node that may be about to listen. */
struct kept {
    struct kept *next;
    uint64_t at_ms;
    size_t len;
    char *frame;
};

struct srv_relay_gate {
    struct pl_loop *loop;
    struct store_relay *relay;
    char *hello;
    size_t hello_len;
    struct pl_timer hello_timer; /* armed while a hello waits to go out */
    /* Moves with every hello heard and every subscription of our own: a
     * count tagged with an older epoch may predate a listener. */
    uintptr_t epoch;
    bool alone;
    uint64_t probe_at_ms;
    struct kept *head, *tail;
    size_t kept_bytes;
    struct srv_relay_gate_stats stats;
};

static uint64_t now_ms(void)
{
    return pl_now_us() / 1000u;
}

static void drop_head(struct srv_relay_gate *g)
{
    struct kept *k = g->head;
    g->head = k->next;
    if (!g->head)
        g->tail = NULL;
    g->kept_bytes -= k->len;
    free(k->frame);
    free(k);
}

static void keep(struct srv_relay_gate *g, char *frame, size_t len, uint64_t now)
{
    while (g->head && (now - g->head->at_ms > SRV_RELAY_GATE_KEEP_MS ||
                       g->kept_bytes + len > SRV_RELAY_GATE_KEEP_BYTES))
        drop_head(g);
    struct kept *k = malloc(sizeof(*k));
    if (!k) { /* out of memory: as if Redis had lost it, the hubs' gap fill covers it */
        free(frame);
        return;
    }
    *k = (struct kept){.at_ms = now, .len = len, .frame = frame};
    if (g->tail)
        g->tail->next = k;
    else
        g->head = k;
    g->tail = k;
    g->kept_bytes += len;
}

/* Someone listens: the kept frames go out first, in order. */
static void leave_alone(struct srv_relay_gate *g)
{
    g->alone = false;
    uint64_t n = 0, now = now_ms();
    for (; g->head; drop_head(g)) {
        if (now - g->head->at_ms > SRV_RELAY_GATE_KEEP_MS)
            continue;
        if (store_relay_publish_tagged(g->relay, g->head->frame, g->head->len, g->epoch) == 0)
            n++;
    }
    g->stats.replayed += n;
    pl_log_info("another node listens: relaying events again (%llu kept frames replayed)",
                (unsigned long long)n);
}

static void on_count(void *ctx, uintptr_t tag, long long receivers)
{
    struct srv_relay_gate *g = ctx;
    if (receivers > 1) {
        if (g->alone)
            leave_alone(g);
    } else if (!g->alone && tag == g->epoch && store_relay_listening(g->relay)) {
        g->alone = true;
        g->probe_at_ms = now_ms() + SRV_RELAY_GATE_PROBE_MS;
        pl_log_info("no other node listens: events stay on this node until one does");
    }
}

/* Says hello, or tries again shortly: at start-up the subscription is
 * often confirmed before the publishing connection is up. A hello Redis
 * took but lost (a restart just then) is made up for by the others'
 * probes. */
static void say_hello(void *ctx)
{
    struct srv_relay_gate *g = ctx;
    if (store_relay_publish(g->relay, g->hello, g->hello_len) < 0)
        pl_loop_timer_start(g->loop, &g->hello_timer, SRV_RELAY_GATE_HELLO_RETRY_MS, say_hello, g);
}

static void on_subscribed(void *ctx, unsigned n)
{
    struct srv_relay_gate *g = ctx;
    (void)n;
    g->epoch++;
    pl_loop_timer_stop(g->loop, &g->hello_timer); /* a retry pending: this hello replaces it */
    say_hello(g);
}

int srv_relay_gate_new(struct pl_loop *loop, struct store_relay *relay, const char *node,
                       struct srv_relay_gate **out)
{
    struct srv_relay_gate *g = calloc(1, sizeof(*g));
    size_t len = strlen(node) + sizeof(SRV_RELAY_GATE_HELLO) + 8;
    char *hello = g ? malloc(len) : NULL;
    if (!hello) {
        free(g);
        return PL_ENOMEM;
    }
    /* The relay frame layout of live.c: node, position, type, audience. */
    g->hello_len = (size_t)snprintf(hello, len, "%s\n0\n%s\n\n", node, SRV_RELAY_GATE_HELLO);
    g->hello = hello;
    g->loop = loop;
    g->relay = relay;
    store_relay_on_count(relay, on_count, g);
    store_relay_on_subscribed(relay, on_subscribed, g);
    *out = g;
    return 0;
}

void srv_relay_gate_free(struct srv_relay_gate *g)
{
    if (!g)
        return;
    pl_loop_timer_stop(g->loop, &g->hello_timer);
    store_relay_on_count(g->relay, NULL, NULL);
    store_relay_on_subscribed(g->relay, NULL, NULL);
    while (g->head)
        drop_head(g);
    free(g->hello);
    free(g);
}

void srv_relay_gate_publish(struct srv_relay_gate *g, char *frame, size_t len)
{
    uint64_t now = now_ms();
    if (g->alone && now < g->probe_at_ms) {
        g->stats.skipped++;
        keep(g, frame, len, now);
        return;
    }
    if (g->alone) /* a probe: its count says whether still nobody listens */
        g->probe_at_ms = now + SRV_RELAY_GATE_PROBE_MS;
    (void)!store_relay_publish_tagged(g->relay, frame, len, g->epoch); /* counted as dropped */
    free(frame);
}

void srv_relay_gate_hello(struct srv_relay_gate *g)
{
    g->epoch++;
    if (g->alone)
        leave_alone(g);
}

void srv_relay_gate_stats(const struct srv_relay_gate *g, struct srv_relay_gate_stats *out)
{
    *out = g->stats;
    out->alone = g->alone;
}
