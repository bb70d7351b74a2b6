/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/loop.c: timers, io, posted and deferred.   */
/* Copyright (c) 2026 Parley developers                                 */

/* The coalescing test reads the loop's eventfd, so this file includes the
 * implementation to reach struct pl_loop (allowed in tests/unit only). */
#include "common/loop.c"
#include "pltest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Every test arms this: a loop that never stops fails the case at once
 * instead of waiting for the runner's deadline. */
static void on_guard(void *ctx)
{
    (void)ctx;
    pltest_fail(__FILE__, __LINE__, "the loop did not stop before its guard timer");
}

static struct pl_loop *loop_with_guard(struct pl_timer *guard)
{
    struct pl_loop *l = NULL;
    PL_ASSERT_INT_EQ(pl_loop_new(&l), 0);
    PL_ASSERT(l);
    memset(guard, 0, sizeof(*guard));
    pl_loop_timer_start(l, guard, 10000, on_guard, NULL);
    return l;
}

/* ---- timers ---- */

struct mark {
    struct pl_loop *l;
    struct pl_timer t;
    int id;
    int fired;
    uint64_t fired_at;
};

static int order[600];
static int n_order;
static int stop_after;

static void on_mark(void *ctx)
{
    struct mark *m = ctx;
    m->fired++;
    m->fired_at = pl_now_ms();
    order[n_order++] = m->id;
    if (n_order == stop_after)
        pl_loop_stop(m->l);
}

PLTEST(loop_timers_fire_in_due_order)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    static const int delays[] = {40, 10, 30, 20};
    struct mark m[4];
    uint64_t t0 = pl_now_ms();
    for (int i = 0; i < 4; i++) {
        m[i] = (struct mark){.l = l, .id = delays[i]};
        pl_loop_timer_start(l, &m[i].t, (uint64_t)delays[i], on_mark, &m[i]);
        PL_ASSERT(pl_timer_armed(&m[i].t));
    }
    stop_after = 4;
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(n_order, 4);
    PL_ASSERT_INT_EQ(order[0], 10);
    PL_ASSERT_INT_EQ(order[1], 20);
    PL_ASSERT_INT_EQ(order[2], 30);
    PL_ASSERT_INT_EQ(order[3], 40);
    for (int i = 0; i < 4; i++) {
        PL_ASSERT_INT_EQ(m[i].fired, 1);
        PL_ASSERT(!pl_timer_armed(&m[i].t));
        /* A timer may fire late, never early. */
        PL_ASSERT(m[i].fired_at - t0 >= (uint64_t)delays[i]);
    }
    pl_loop_free(l);
}

PLTEST(loop_timer_heap_keeps_order_with_stops)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    enum { N = 500 };
    static struct mark m[N];
    unsigned seed = 12345;
    int expected = 0;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        m[i] = (struct mark){.l = l, .id = i};
        pl_loop_timer_start(l, &m[i].t, (seed >> 16) % 60, on_mark, &m[i]);
    }
    /* Removing from the middle of the heap must keep it a heap. */
    for (int i = 0; i < N; i++) {
        if (i % 7 == 3)
            pl_loop_timer_stop(l, &m[i].t);
        else
            expected++;
    }
    stop_after = expected;
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(n_order, expected);
    for (int i = 0; i < N; i++)
        PL_ASSERT_INT_EQ(m[i].fired, i % 7 == 3 ? 0 : 1);
    for (int k = 1; k < n_order; k++) {
        struct mark *a = &m[order[k - 1]], *b = &m[order[k]];
        if (a->t.due_ms > b->t.due_ms)
            pltest_fail(__FILE__, __LINE__, "timer %d (due %llu) fired before %d (due %llu)", a->id,
                        (unsigned long long)a->t.due_ms, b->id, (unsigned long long)b->t.due_ms);
    }
    pl_loop_free(l);
}

PLTEST(loop_timer_stop_and_rearm)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    struct mark a = {.l = l, .id = 1}, b = {.l = l, .id = 2}, c = {.l = l, .id = 3};
    pl_loop_timer_start(l, &a.t, 10, on_mark, &a);
    pl_loop_timer_start(l, &b.t, 60, on_mark, &b);
    pl_loop_timer_start(l, &c.t, 40, on_mark, &c);
    pl_loop_timer_stop(l, &a.t);
    PL_ASSERT(!pl_timer_armed(&a.t));
    pl_loop_timer_stop(l, &a.t); /* stopping twice is a no-op */
    /* Re-arming an armed timer moves it; it must fire once, not twice. */
    pl_loop_timer_start(l, &c.t, 5, on_mark, &c);
    stop_after = 2;
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(a.fired, 0);
    PL_ASSERT_INT_EQ(c.fired, 1);
    PL_ASSERT_INT_EQ(b.fired, 1);
    PL_ASSERT_INT_EQ(order[0], 3);
    PL_ASSERT_INT_EQ(order[1], 2);
    PL_ASSERT(pl_timer_armed(&guard));
    pl_loop_timer_stop(l, &guard);
    PL_ASSERT_INT_EQ(l->heap_len, 0);
    pl_loop_free(l);
}

/* ---- tasks posted from other threads ---- */

enum { POSTERS = 2, PER_POSTER = 500, POSTS = POSTERS * PER_POSTER };

struct post_ctx {
    struct pl_loop *l;
    pthread_t loop_thread;
    int runs;
    int wrong_thread;
};

struct post_item {
    struct pl_task task;
    struct post_ctx *pc;
    int ran;
};

static struct post_item items[POSTS];

static void on_posted(struct pl_task *t)
{
    struct post_item *it = PL_CONTAINER_OF(t, struct post_item, task);
    if (!pthread_equal(pthread_self(), it->pc->loop_thread))
        it->pc->wrong_thread++;
    it->ran++;
    if (++it->pc->runs == POSTS)
        pl_loop_stop(it->pc->l);
}

static void *poster_main(void *arg)
{
    struct post_item *first = arg;
    for (int i = 0; i < PER_POSTER; i++)
        pl_loop_post(first[i].pc->l, &first[i].task);
    return NULL;
}

PLTEST(loop_post_from_threads_runs_each_task_once_on_loop_thread)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    struct post_ctx pc = {.l = l, .loop_thread = pthread_self()};
    for (int i = 0; i < POSTS; i++)
        items[i] = (struct post_item){.task.run = on_posted, .pc = &pc};
    pthread_t th[POSTERS];
    for (int i = 0; i < POSTERS; i++)
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, poster_main, &items[i * PER_POSTER]), 0);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    for (int i = 0; i < POSTERS; i++)
        PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
    PL_ASSERT_INT_EQ(pc.runs, POSTS);
    PL_ASSERT_INT_EQ(pc.wrong_thread, 0);
    for (int i = 0; i < POSTS; i++)
        PL_ASSERT_INT_EQ(items[i].ran, 1);
    pl_loop_free(l);
}

static int ran_before_timer = -1;

static void on_count_posted(struct pl_task *t)
{
    struct post_item *it = PL_CONTAINER_OF(t, struct post_item, task);
    it->ran++;
    it->pc->runs++;
}

static void on_after_posted(void *ctx)
{
    struct post_ctx *pc = ctx;
    ran_before_timer = pc->runs;
    pl_loop_stop(pc->l);
}

PLTEST(loop_post_wakeups_coalesce_and_one_pass_drains_all)
{
    struct pl_timer guard, after;
    struct pl_loop *l = loop_with_guard(&guard);
    struct post_ctx pc = {.l = l, .loop_thread = pthread_self()};
    for (int i = 0; i < POSTS; i++) {
        items[i] = (struct post_item){.task.run = on_count_posted, .pc = &pc};
        pl_loop_post(l, &items[i].task);
    }
    /* 1000 posts while the loop is not draining: one eventfd write, not
     * 1000 (the counter would read 1000). */
    uint64_t v = 0;
    PL_ASSERT_INT_EQ(read(l->wakefd, &v, sizeof(v)), sizeof(v));
    PL_ASSERT_INT_EQ(v, 1);
    /* A 0 ms timer runs after the posted tasks of the same pass: all of
     * them must have run by then. */
    memset(&after, 0, sizeof(after));
    pl_loop_timer_start(l, &after, 0, on_after_posted, &pc);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(ran_before_timer, POSTS);
    for (int i = 0; i < POSTS; i++)
        PL_ASSERT_INT_EQ(items[i].ran, 1);
    pl_loop_free(l);
}

/* ---- io, deferred tasks, ordering within one pass ---- */

static char trace[16];
static size_t n_trace;

struct order_ctx {
    struct pl_loop *l;
    struct pl_io io;
    int rfd;
    struct pl_task posted, defer1, defer2;
    struct pl_timer timer;
};

static void note(char c)
{
    if (n_trace < sizeof(trace) - 1)
        trace[n_trace++] = c;
}

static void on_defer2(struct pl_task *t)
{
    (void)t;
    note('E');
}

static void on_defer1(struct pl_task *t)
{
    struct order_ctx *oc = PL_CONTAINER_OF(t, struct order_ctx, defer1);
    note('D');
    /* Deferred work may defer more; it runs in the same pass. */
    oc->defer2.run = on_defer2;
    pl_loop_defer(oc->l, &oc->defer2);
}

static void on_posted_note(struct pl_task *t)
{
    (void)t;
    note('P');
}

static void on_readable(void *ctx, uint32_t events)
{
    struct order_ctx *oc = ctx;
    char c;
    PL_ASSERT(events & EPOLLIN);
    PL_ASSERT_INT_EQ(read(oc->rfd, &c, 1), 1);
    note('I');
    pl_loop_io_del(oc->l, &oc->io);
    oc->defer1.run = on_defer1;
    pl_loop_defer(oc->l, &oc->defer1);
}

static void on_order_timer(void *ctx)
{
    struct order_ctx *oc = ctx;
    note('T');
    pl_loop_stop(oc->l);
}

PLTEST(loop_defer_runs_after_io_and_tasks_and_before_timers)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    struct order_ctx oc = {.l = l};
    int p[2];
    PL_ASSERT_INT_EQ(pipe(p), 0);
    oc.rfd = p[0];
    PL_ASSERT_INT_EQ(pl_loop_io_add(l, &oc.io, p[0], EPOLLIN, on_readable, &oc), 0);
    PL_ASSERT_INT_EQ(write(p[1], "x", 1), 1);
    oc.posted.run = on_posted_note;
    pl_loop_post(l, &oc.posted);
    pl_loop_timer_start(l, &oc.timer, 0, on_order_timer, &oc);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    trace[n_trace] = '\0';
    /* One pass: io callbacks, posted tasks, deferred (to a fixpoint),
     * then due timers. */
    PL_ASSERT_STR_EQ(trace, "IPDET");
    close(p[0]);
    close(p[1]);
    pl_loop_free(l);
}

struct twin {
    struct pl_loop *l;
    struct pl_io io[2];
    struct pl_timer stop;
    int calls;
};

static void on_stop_timer(void *ctx)
{
    pl_loop_stop(ctx);
}

static void on_twin(void *ctx, uint32_t events)
{
    struct twin *tw = ctx;
    (void)events;
    tw->calls++;
    /* The other fd's event was fetched in the same epoll batch; deleting
     * its io here must keep its callback from running. */
    pl_loop_io_del(tw->l, &tw->io[0]);
    pl_loop_io_del(tw->l, &tw->io[1]);
    pl_loop_timer_start(tw->l, &tw->stop, 20, on_stop_timer, tw->l);
}

PLTEST(loop_io_del_in_callback_skips_fetched_events)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    struct twin tw = {.l = l};
    int a[2], b[2];
    PL_ASSERT_INT_EQ(pipe(a), 0);
    PL_ASSERT_INT_EQ(pipe(b), 0);
    PL_ASSERT_INT_EQ(write(a[1], "x", 1), 1);
    PL_ASSERT_INT_EQ(write(b[1], "x", 1), 1);
    PL_ASSERT_INT_EQ(pl_loop_io_add(l, &tw.io[0], a[0], EPOLLIN, on_twin, &tw), 0);
    PL_ASSERT_INT_EQ(pl_loop_io_add(l, &tw.io[1], b[0], EPOLLIN, on_twin, &tw), 0);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(tw.calls, 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    pl_loop_free(l);
}

struct writable {
    struct pl_loop *l;
    struct pl_io io;
    int calls;
};

static void on_writable(void *ctx, uint32_t events)
{
    struct writable *w = ctx;
    PL_ASSERT(events & EPOLLOUT);
    /* Level-triggered: this would fire every pass until switched off. */
    if (++w->calls == 3) {
        PL_ASSERT_INT_EQ(pl_loop_io_mod(w->l, &w->io, EPOLLIN), 0);
        pl_loop_stop(w->l);
    }
}

PLTEST(loop_io_mod_changes_interest)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    struct writable w = {.l = l};
    int p[2];
    PL_ASSERT_INT_EQ(pipe(p), 0);
    PL_ASSERT_INT_EQ(pl_loop_io_add(l, &w.io, p[1], EPOLLOUT, on_writable, &w), 0);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(w.calls, 3);
    pl_loop_io_del(l, &w.io);
    close(p[0]);
    close(p[1]);
    pl_loop_free(l);
}

static void *stopper_main(void *arg)
{
    pl_loop_stop(arg);
    return NULL;
}

PLTEST(loop_stop_from_another_thread)
{
    struct pl_timer guard;
    struct pl_loop *l = loop_with_guard(&guard);
    pthread_t th;
    PL_ASSERT_INT_EQ(pthread_create(&th, NULL, stopper_main, l), 0);
    PL_ASSERT_INT_EQ(pl_loop_run(l), 0);
    PL_ASSERT_INT_EQ(pthread_join(th, NULL), 0);
    pl_loop_free(l);
}

PLTEST(loop_clock_is_monotonic_and_wall_is_sane)
{
    uint64_t a = pl_now_ms(), b = pl_now_ms();
    PL_ASSERT(b >= a);
    /* After 2020-01-01 and before 2100-01-01, in milliseconds. */
    uint64_t w = pl_wall_ms();
    PL_ASSERT(w > 1577836800000ull);
    PL_ASSERT(w < 4102444800000ull);
}

/* ---- load ---- */

struct load_run {
    struct pl_loop *l;
    struct pl_timer t;
    int ticks;
    unsigned idle_load, busy_load;
};

/* Busy phase: each tick computes for 30 ms and asks for the next at once. */
static void on_busy_tick(void *ctx)
{
    struct load_run *r = ctx;
    uint64_t until = pl_now_us() + 30000;
    while (pl_now_us() < until)
        ;
    if (++r->ticks < 10) {
        pl_loop_timer_start(r->l, &r->t, 0, on_busy_tick, r);
        return;
    }
    r->busy_load = pl_loop_load(r->l);
    pl_loop_stop(r->l);
}

/* Idle phase: a tick every 20 ms that does nothing, for 300 ms. */
static void on_idle_tick(void *ctx)
{
    struct load_run *r = ctx;
    if (++r->ticks < 15) {
        pl_loop_timer_start(r->l, &r->t, 20, on_idle_tick, r);
        return;
    }
    r->idle_load = pl_loop_load(r->l);
    r->ticks = 0;
    pl_loop_timer_start(r->l, &r->t, 0, on_busy_tick, r);
}

/* Wall time outside epoll_wait(): an idle loop reads near 0, one that
 * computes all the time near 1000 (both phases span three windows, so
 * the last window closed in each lies wholly inside it). */
PLTEST(loop_load_tells_a_busy_loop_from_an_idle_one)
{
    struct pl_timer guard;
    struct load_run r = {0};
    r.l = loop_with_guard(&guard);
    PL_ASSERT_INT_EQ(pl_loop_load(r.l), 0);
    pl_loop_timer_start(r.l, &r.t, 20, on_idle_tick, &r);
    PL_ASSERT_INT_EQ(pl_loop_run(r.l), 0);
    PL_ASSERT(r.idle_load < 300);
    PL_ASSERT(r.busy_load > 700);
    pl_loop_free(r.l);
}
