/* SPDX-License-Identifier: MIT */
/* Parley - push/: SSE framing and delivery with every allocation failing once. */
/* Copyright (c) 2026 Parley developers                                 */
#include "push/push.h"

#include "failmalloc.h"
#include "pltest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The scenario builds events (positioned, ephemeral and raw frames),
 * delivers them to a live stream and to one in replay mode (held events,
 * replayed events, the overlap between them), out of order once, and
 * reads both streams. With an allocation failing it must still end
 * cleanly: whatever a stream yields is whole SSE frames with increasing
 * ids, and a stream that lost an event is closed (its client resumes),
 * never silently short. Without a failure the bytes are exact.
 */

#define FIRST 11
#define LAST 40 /* enough events to grow each ring and held array twice */

struct run_result {
    unsigned full_runs;
};

static void on_wake(void *ctx)
{
    (*(unsigned *)ctx)++;
}

static const struct push_stream_ops ops = {PUSH_STREAM_OPS_VERSION, on_wake};

static struct push_event *event(uint64_t pos)
{
    char data[32];
    int n = snprintf(data, sizeof(data), "{\"n\":%llu}", (unsigned long long)pos);
    return push_event_new(pos, "message.created", data, (size_t)n);
}

/* Delivers pos to user 7; an event that cannot be built is simply not
 * delivered (the caller in the server closes streams in that case). */
static bool deliver(struct push_hub *hub, uint64_t pos)
{
    int64_t user = 7;
    struct push_event *ev = event(pos);
    return ev && push_hub_deliver(hub, ev, &user, 1) == 0;
}

/* Reads everything s yields; checks it is whole frames with increasing
 * ids and returns how many positioned frames there were. ended is set
 * when the stream reported its end. */
static unsigned read_frames(struct push_stream *s, char *buf, size_t cap, bool *ended)
{
    size_t len = 0;
    ssize_t n;
    while ((n = push_stream_read(s, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    *ended = n < 0;
    buf[len] = '\0';
    unsigned frames = 0;
    unsigned long long last = 0;
    for (char *p = buf; *p;) {
        char *end = strstr(p, "\n\n");
        PL_ASSERT(end != NULL); /* never half a frame */
        if (strncmp(p, "id: ", 4) == 0) {
            unsigned long long id = strtoull(p + 4, NULL, 10);
            PL_ASSERT(id > last);
            last = id;
            frames++;
            PL_ASSERT(strstr(p, "\nevent: message.created\ndata: {\"n\":") != NULL);
        } else {
            PL_ASSERT(p[0] == ':' || strncmp(p, "event: typing", 13) == 0);
        }
        p = end + 2;
    }
    return frames;
}

static void scenario(void *ctx)
{
    struct run_result *res = ctx;
    struct pl_loop *loop;
    if (pl_loop_new(&loop) < 0)
        return;
    struct push_hub_config cfg = {.stream_max_bytes = 1 << 16, .gap_wait_ms = 50};
    struct push_hub *hub;
    if (push_hub_new(loop, &cfg, &hub) < 0) {
        pl_loop_free(loop);
        return;
    }
    push_hub_set_position(hub, FIRST - 1);
    unsigned wakes_live = 0, wakes_replay = 0;
    struct push_stream *live = push_stream_open(hub, 7, 1, false, &ops, &wakes_live);
    struct push_stream *replay = push_stream_open(hub, 7, 2, true, &ops, &wakes_replay);
    bool all = true;
    /* In order, except one pair the hub must put back in order. */
    for (uint64_t pos = FIRST; pos <= LAST; pos++) {
        if (pos == FIRST + 4) {
            all &= deliver(hub, pos + 1);
            all &= deliver(hub, pos);
            pos++;
        } else {
            all &= deliver(hub, pos);
        }
    }
    struct push_event *typing = push_event_new(0, "typing", "{}", 2);
    struct push_event *comment = push_event_raw(": keep-alive\n\n", 14);
    int64_t user = 7;
    if (typing)
        all &= push_hub_deliver(hub, typing, &user, 1) == 0;
    if (live && comment)
        push_stream_enqueue(live, comment);
    if (comment)
        push_event_unref(comment);
    /* The replaying stream gets the first half again from "storage"; the
     * overlap with the held live events is dropped by position. */
    for (uint64_t pos = FIRST; replay && pos < FIRST + 15; pos++) {
        struct push_event *ev = event(pos);
        if (!ev) {
            /* What the server does when it cannot build a replayed event:
             * the stream ends and the client resumes from what it got. */
            push_stream_close(replay);
            break;
        }
        push_stream_replay_add(replay, ev);
        push_event_unref(ev);
    }
    if (replay)
        push_stream_replay_end(replay);
    pl_loop_drain(loop);

    static char buf[1 << 16];
    bool ended;
    struct push_stream *streams[] = {live, replay};
    for (int i = 0; i < 2; i++) {
        if (!streams[i])
            continue;
        unsigned frames = read_frames(streams[i], buf, sizeof(buf), &ended);
        if (!pt_failmalloc_failed()) {
            PL_ASSERT_INT_EQ(frames, LAST - FIRST + 1);
            PL_ASSERT(!ended);
            PL_ASSERT(strstr(buf, "event: typing\ndata: {}\n\n") != NULL);
        } else if (frames < LAST - FIRST + 1 && all) {
            /* Every event was built and handed over, yet some are missing:
             * only a stream that was closed may be short. */
            if (!ended)
                pltest_fail(__FILE__, __LINE__, "run %u: stream %d has %u of %u events and is open",
                            pt_failmalloc_runs(), i, frames, LAST - FIRST + 1);
        }
        push_stream_release(streams[i]);
    }
    if (!pt_failmalloc_failed()) {
        PL_ASSERT_INT_EQ(wakes_live, 1);
        PL_ASSERT(strstr(buf, ": keep-alive") == NULL); /* live only */
        res->full_runs++;
    }
    pl_loop_drain(loop);
    PL_ASSERT_INT_EQ(push_hub_stream_count(hub), 0);
    push_hub_free(hub);
    pl_loop_drain(loop);
    pl_loop_free(loop);
}

PLTEST(sse_framing_survives_every_failed_allocation)
{
    struct run_result res = {0};
    pt_failmalloc_loop(scenario, &res, 10000);
    /* The last run had nothing fail and checked the exact output; the ones
     * before it each failed one allocation point. */
    PL_ASSERT_INT_EQ(res.full_runs, 1);
    PL_ASSERT(pt_failmalloc_runs() > 20);
}
