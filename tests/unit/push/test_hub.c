/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for push/: events, streams, in-order delivery.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "push/push.h"

#include "pltest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    unsigned wakes;
};

static void on_wake(void *ctx)
{
    ((struct sink *)ctx)->wakes++;
}

static const struct push_stream_ops sink_ops = {PUSH_STREAM_OPS_VERSION, on_wake};

static struct push_hub *hub_new(struct pl_loop **loop, size_t max_bytes)
{
    PL_ASSERT_INT_EQ(pl_loop_new(loop), 0);
    struct push_hub_config cfg = {
        .stream_max_bytes = max_bytes, .keepalive_ms = 0, .gap_wait_ms = 50};
    struct push_hub *hub;
    PL_ASSERT_INT_EQ(push_hub_new(*loop, &cfg, &hub), 0);
    return hub;
}

static void publish(struct push_hub *hub, uint64_t pos, int64_t user)
{
    char data[32];
    int n = snprintf(data, sizeof(data), "{\"n\":%llu}", (unsigned long long)pos);
    struct push_event *ev = push_event_new(pos, "message.created", data, (size_t)n);
    PL_ASSERT(ev != NULL);
    PL_ASSERT_INT_EQ(push_hub_publish(hub, ev, &user, 1), 0);
}

/* Reads everything queued and returns the ids seen, in order. */
static unsigned read_ids(struct push_stream *s, uint64_t *ids, unsigned max)
{
    char buf[65536];
    ssize_t n = push_stream_read(s, buf, sizeof(buf) - 1);
    unsigned count = 0;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    for (char *p = buf; (p = strstr(p, "id: ")) && count < max; p += 4)
        ids[count++] = strtoull(p + 4, NULL, 10);
    return count;
}

PLTEST(event_frames_are_sse)
{
    struct push_event *ev = push_event_new(42, "receipt", "{\"a\":1}", 7);
    size_t len;
    const char *f = push_event_frame(ev, &len);
    PL_ASSERT_MEM_EQ(f, "id: 42\nevent: receipt\ndata: {\"a\":1}\n\n", len);
    push_event_unref(ev);
    ev = push_event_new(0, "typing", "{}", 2);
    f = push_event_frame(ev, &len);
    PL_ASSERT_MEM_EQ(f, "event: typing\ndata: {}\n\n", len);
    push_event_unref(ev);
}

PLTEST(delivers_in_position_order_and_drops_duplicates)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 1 << 20);
    struct sink sk = {0};
    push_hub_set_position(hub, 10);
    struct push_stream *s = push_stream_open(hub, 7, 1, false, &sink_ops, &sk);
    PL_ASSERT(s != NULL);
    publish(hub, 13, 7);
    publish(hub, 11, 7);
    publish(hub, 12, 7);
    publish(hub, 11, 7); /* duplicate */
    publish(hub, 9, 7);  /* before the start */
    pl_loop_drain(loop);
    uint64_t ids[16];
    unsigned n = read_ids(s, ids, 16);
    PL_ASSERT_INT_EQ(n, 3);
    PL_ASSERT_INT_EQ(ids[0], 11);
    PL_ASSERT_INT_EQ(ids[1], 12);
    PL_ASSERT_INT_EQ(ids[2], 13);
    /* One wake for the three: a stream is woken when its queue goes from
     * empty to non-empty, and the loop delivered 11..13 in one pass. */
    PL_ASSERT_INT_EQ(sk.wakes, 1);
    PL_ASSERT_INT_EQ(push_hub_position(hub), 13);
    /* Drained, the next event wakes it again, exactly once. */
    publish(hub, 14, 7);
    publish(hub, 15, 7);
    pl_loop_drain(loop);
    PL_ASSERT_INT_EQ(read_ids(s, ids, 16), 2);
    PL_ASSERT_INT_EQ(sk.wakes, 2);
    push_stream_release(s);
    pl_loop_drain(loop);
    PL_ASSERT_INT_EQ(push_hub_stream_count(hub), 0);
    push_hub_free(hub);
    pl_loop_free(loop);
}

struct gap_req {
    uint64_t from, to;
    unsigned calls;
};

static void on_gap(void *ctx, uint64_t from, uint64_t to)
{
    struct gap_req *g = ctx;
    g->from = from;
    g->to = to;
    g->calls++;
}

static void on_stop(void *ctx)
{
    pl_loop_stop(ctx);
}

PLTEST(gap_is_reported_then_filled)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 1 << 20);
    struct gap_req g = {0};
    push_hub_on_gap(hub, on_gap, &g);
    push_hub_set_position(hub, 0);
    struct push_stream *s = push_stream_open(hub, 1, 1, false, &sink_ops, &(struct sink){0});
    publish(hub, 1, 1);
    publish(hub, 4, 1);
    struct pl_timer t = {0};
    pl_loop_timer_start(loop, &t, 120, on_stop, loop);
    PL_ASSERT_INT_EQ(pl_loop_run(loop), 0);
    PL_ASSERT(g.calls >= 1);
    PL_ASSERT_INT_EQ(g.from, 2);
    PL_ASSERT_INT_EQ(g.to, 3);
    publish(hub, 3, 1);
    publish(hub, 2, 1);
    pl_loop_drain(loop);
    uint64_t ids[8];
    PL_ASSERT_INT_EQ(read_ids(s, ids, 8), 4);
    for (unsigned i = 0; i < 4; i++)
        PL_ASSERT_INT_EQ(ids[i], i + 1);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}

PLTEST(overflow_closes_the_stream_and_frees_its_queue)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 256);
    struct push_stream *s = push_stream_open(hub, 1, 1, false, &sink_ops, &(struct sink){0});
    for (uint64_t p = 1; p <= 20; p++)
        publish(hub, p, 1);
    pl_loop_drain(loop);
    PL_ASSERT(push_stream_closed(s));
    PL_ASSERT_INT_EQ(push_stream_queued_bytes(s), 0);
    char buf[64];
    PL_ASSERT_INT_EQ(push_stream_read(s, buf, sizeof(buf)), -1);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}

PLTEST(replay_then_live_without_gap_or_duplicate)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 1 << 20);
    push_hub_set_position(hub, 5);
    struct push_stream *s = push_stream_open(hub, 1, 1, true, &sink_ops, &(struct sink){0});
    /* Live events 6..8 arrive while the replay query (which saw 4..7) runs. */
    for (uint64_t p = 6; p <= 8; p++)
        publish(hub, p, 1);
    pl_loop_drain(loop);
    for (uint64_t p = 4; p <= 7; p++) {
        struct push_event *ev = push_event_new(p, "message.created", "{}", 2);
        PL_ASSERT_INT_EQ(push_stream_replay_add(s, ev), 0);
        push_event_unref(ev);
    }
    push_stream_replay_end(s);
    uint64_t ids[16];
    unsigned n = read_ids(s, ids, 16);
    PL_ASSERT_INT_EQ(n, 5);
    for (unsigned i = 0; i < n; i++)
        PL_ASSERT_INT_EQ(ids[i], 4 + i);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}

PLTEST(fan_out_reaches_every_stream_of_each_user)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 1 << 20);
    push_hub_set_position(hub, 0);
    struct push_stream *a1 = push_stream_open(hub, 1, 1, false, &sink_ops, &(struct sink){0});
    struct push_stream *a2 = push_stream_open(hub, 1, 2, false, &sink_ops, &(struct sink){0});
    struct push_stream *b = push_stream_open(hub, 2, 3, false, &sink_ops, &(struct sink){0});
    struct push_stream *c = push_stream_open(hub, 3, 4, false, &sink_ops, &(struct sink){0});
    int64_t users[] = {1, 2};
    struct push_event *ev = push_event_new(1, "message.created", "{}", 2);
    PL_ASSERT_INT_EQ(push_hub_publish(hub, ev, users, 2), 0);
    pl_loop_drain(loop);
    uint64_t ids[4];
    PL_ASSERT_INT_EQ(read_ids(a1, ids, 4), 1);
    PL_ASSERT_INT_EQ(read_ids(a2, ids, 4), 1);
    PL_ASSERT_INT_EQ(read_ids(b, ids, 4), 1);
    PL_ASSERT_INT_EQ(read_ids(c, ids, 4), 0);
    PL_ASSERT_INT_EQ(push_hub_user_count(hub), 3);
    push_hub_close_device(hub, 1, 2);
    PL_ASSERT(!push_stream_closed(a1));
    PL_ASSERT(push_stream_closed(a2));
    push_stream_release(a2);
    pl_loop_drain(loop);
    PL_ASSERT_INT_EQ(push_hub_stream_count(hub), 3);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}

struct publisher {
    struct push_hub *hub;
    uint64_t first;
};

static void *publish_thread(void *arg)
{
    struct publisher *p = arg;
    for (uint64_t i = 0; i < 500; i++)
        publish(p->hub, p->first + 2 * i, 1);
    return NULL;
}

/* Two threads publish interleaved positions (odd and even) with no
 * coordination; the stream must still see 1..1000 exactly once, in order. */
PLTEST(concurrent_publishers_are_sequenced)
{
    struct pl_loop *loop;
    struct push_hub *hub = hub_new(&loop, 1 << 22);
    push_hub_set_position(hub, 0);
    struct push_stream *s = push_stream_open(hub, 1, 1, false, &sink_ops, &(struct sink){0});
    struct publisher odd = {hub, 1}, even = {hub, 2};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, publish_thread, &odd);
    pthread_create(&t2, NULL, publish_thread, &even);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pl_loop_drain(loop);
    uint64_t *ids = calloc(2000, sizeof(*ids));
    unsigned total = 0, n;
    while ((n = read_ids(s, ids + total, 2000 - total)) > 0)
        total += n;
    PL_ASSERT_INT_EQ(total, 1000);
    for (unsigned i = 0; i < total; i++)
        PL_ASSERT_INT_EQ(ids[i], i + 1);
    free(ids);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}
