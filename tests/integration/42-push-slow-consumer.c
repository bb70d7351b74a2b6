/* SPDX-License-Identifier: MIT */
/* Parley - integration: slow consumers are cut off, memory stays flat. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Streams that stop reading: their sockets get a 4 KiB receive buffer and
 * the test never drives them, so TCP (and on h2c flow control too: those
 * streams offer a 64 KiB window that is never replenished) backs up into
 * parleyd's per-stream buffer, capped here at 512 KiB (eight events: a
 * reading stream must not be cut off by one burst of them). Each slow stream
 * must be closed by the server while a reading stream of the same user
 * keeps up; parleyd's RSS must not grow with what the slow streams miss;
 * and a slow stream, resumed from its last id, must get everything.
 *
 * The sizes follow from two facts. Linux lets a socket's send buffer grow
 * to tcp_wmem's maximum (4 MiB here) whatever the peer's window, and
 * parleyd leaves SO_SNDBUF alone, so over h1 and h2 about 3 MB of events
 * sit in the kernel before parleyd's buffer sees any back-pressure. And
 * events are shared by every stream they are queued on, so more slow
 * streams do not hold more memory; more event bytes do. 500 messages of
 * 60 KB make 30 MB of events: an unbounded server would keep some 27 MB.
 */

#define SLOW 4
#define MSGS 500
#define WARMUP 20
#define TEXT_BYTES 60000
#define MAX_BYTES "524288"
#define EV_MS 10000
/* What RSS may grow by while MSGS messages go to SLOW stalled streams;
 * twice that under ASan, whose allocator keeps more (redzones, caches and
 * the quarantine, which the test shrinks to 4 MB). */
#define RSS_GROWTH_KB (12 * 1024)

/* Whether parleyd runs with AddressSanitizer. */
static int server_has_asan(const struct pt_server *s)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pt_server_pid(s));
    FILE *f = fopen(path, "re");
    PL_ASSERT(f);
    int asan = 0;
    while (!asan && fgets(line, sizeof(line), f))
        asan = strstr(line, "libasan") != NULL;
    fclose(f);
    return asan;
}

/* One stored event seen by a reader: enough to prove nothing was lost. */
struct seen {
    int64_t ids[MSGS + WARMUP + 8];
    unsigned n;
    int64_t last;
};

static void take(struct seen *sn, const struct pt_sse_event *ev)
{
    if (strcmp(ev->name, "message.created") != 0)
        return;
    if (ev->pos <= sn->last)
        pltest_fail(__FILE__, __LINE__, "id %lld after %lld", (long long)ev->pos,
                    (long long)sn->last);
    PL_ASSERT(sn->n < sizeof(sn->ids) / sizeof(sn->ids[0]));
    sn->ids[sn->n++] = ev->pos;
    sn->last = ev->pos;
}

/* Sends one message and waits until the reading stream has it. One
 * message at a time keeps the reader's queue at one event: were several
 * sent at once, the hub could hold them back together (while it waits for
 * a gap in the positions, 200 ms) and hand the reader a burst bigger than
 * its cap, which is not what this test is about. */
static int64_t send_and_read(struct pt_server *s, enum pt_proto proto, const struct pt_user *b,
                             int64_t conv, const char *text, struct pt_sse *reader, struct seen *sn)
{
    struct pt_msg m = PT_SEND(s, proto, b, conv, text);
    while (sn->last < m.id) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(reader, EV_MS, &ev);
        if (rc < 0)
            pltest_fail(__FILE__, __LINE__, "the reading stream %s after %u messages",
                        rc == PT_SSE_ENDED ? "ended" : "stalled", sn->n);
        take(sn, &ev);
        pt_sse_event_free(&ev);
    }
    return m.id;
}

/* Reads a stalled stream to its end: what got through before the server
 * cut it off. */
static void read_to_end(struct pt_sse *sse, struct seen *sn)
{
    for (;;) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(sse, EV_MS, &ev);
        if (rc == PT_SSE_ENDED)
            return;
        if (rc == PT_SSE_TIMEOUT)
            pltest_fail(__FILE__, __LINE__,
                        "a stalled stream was still open %d ms after its %u events: never cut off",
                        EV_MS, sn->n);
        take(sn, &ev);
        pt_sse_event_free(&ev);
    }
}

/* Resumes like EventSource: from the last id, again whenever the stream
 * ends, until message `until` arrived. Each connection must make progress:
 * a replay that overflows the cap every time would never catch up. */
static unsigned resume_until(struct pt_server *s, enum pt_proto proto, const char *token,
                             struct seen *sn, int64_t until)
{
    unsigned connections = 0;
    while (sn->last < until) {
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)sn->last);
        struct pt_sse *sse = pt_sse_open(s, proto, token, id);
        connections++;
        unsigned before = sn->n;
        for (;;) {
            struct pt_sse_event ev;
            int rc = pt_sse_next_durable(sse, EV_MS, &ev);
            if (rc == PT_SSE_TIMEOUT)
                pltest_fail(__FILE__, __LINE__, "resume from %s stalled at %u messages", id, sn->n);
            if (rc == PT_SSE_ENDED)
                break;
            if (strcmp(ev.name, "reset") == 0)
                pltest_fail(__FILE__, __LINE__, "resume from %s was answered with reset: %s", id,
                            ev.data);
            take(sn, &ev);
            pt_sse_event_free(&ev);
            if (sn->last >= until)
                break;
        }
        pt_sse_close(sse);
        if (sn->n == before)
            pltest_fail(__FILE__, __LINE__,
                        "resume from %s delivered nothing before the stream ended (%u of %d "
                        "messages after %u connections)",
                        id, sn->n, MSGS + WARMUP, connections);
    }
    return connections;
}

PLTEST_PROTO(slow_consumers_are_cut_off_and_resume_without_loss)
{
    /* ASan's quarantine keeps freed memory resident: keep it small, so
     * RSS shows what parleyd holds, not what it freed. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    /* One connection sends all the messages: no per-connection rate limit. */
    const char *args[] = {"--stream-max-bytes", MAX_BYTES, "--conn-rate", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, fast, b;
    PT_USER_NEW(s, proto, "slow_a", &a);
    pt_user_device(s, proto, &a, &fast);
    PT_USER_NEW(s, proto, "slow_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    struct pt_sse *slow[SLOW];
    for (int i = 0; i < SLOW; i++) {
        struct pt_sse_opts o = {.token = a.token, .rcvbuf = 4096, .h2c_window = 65535};
        PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &slow[i]), 0);
        PL_ASSERT_INT_EQ(pt_sse_status(slow[i]), 200);
    }
    struct pt_sse *reader = PT_SSE_OPEN_READY(s, proto, fast.token, NULL);
    char *text = malloc(TEXT_BYTES + 1);
    PL_ASSERT(text);
    struct seen *live = calloc(1, sizeof(*live));
    PL_ASSERT(live);
    /* Warm up: buffers, pools and caches reach their working size. */
    for (int i = 0; i < WARMUP; i++) {
        memset(text, 'a' + i % 26, TEXT_BYTES);
        text[TEXT_BYTES] = '\0';
        send_and_read(s, proto, &b, conv, text, reader, live);
    }
    long rss0 = pt_server_rss_kb(s);
    int64_t last = 0;
    for (int i = 0; i < MSGS; i++) {
        memset(text, 'a' + i % 26, TEXT_BYTES);
        last = send_and_read(s, proto, &b, conv, text, reader, live);
    }
    long rss1 = pt_server_rss_kb(s);
    free(text);
    /* The reading stream got every message. */
    PL_ASSERT(!pt_sse_ended(reader));
    PL_ASSERT_INT_EQ(live->n, MSGS + WARMUP);
    long bound = server_has_asan(s) ? 2 * RSS_GROWTH_KB : RSS_GROWTH_KB;
    if (rss1 - rss0 > bound)
        pltest_fail(__FILE__, __LINE__, "parleyd's RSS grew from %ld to %ld KiB (bound %ld)", rss0,
                    rss1, bound);
    fprintf(stderr, "rss %ld -> %ld KiB\n", rss0, rss1);

    /* Each stalled stream was cut off short of the end... */
    struct seen *sn = calloc(1, sizeof(*sn));
    PL_ASSERT(sn);
    for (int i = 0; i < SLOW; i++) {
        memset(sn, 0, sizeof(*sn));
        read_to_end(slow[i], sn);
        if (sn->last >= last)
            pltest_fail(__FILE__, __LINE__, "stalled stream %d received all %u messages", i, sn->n);
        /* ... and the first resumes from its last id to the very end. */
        if (i == 0) {
            unsigned conns = resume_until(s, proto, a.token, sn, last);
            fprintf(stderr, "resumed in %u connection(s)\n", conns);
            PL_ASSERT_INT_EQ(sn->n, MSGS + WARMUP);
            for (unsigned k = 0; k < sn->n; k++)
                PL_ASSERT_INT_EQ(sn->ids[k], live->ids[k]);
        }
        pt_sse_close(slow[i]);
    }
    free(sn);
    free(live);
    pt_sse_close(reader);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
