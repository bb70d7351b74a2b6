/* SPDX-License-Identifier: MIT */
/* Parley - epoll event loop: fds, timers, cross-thread tasks.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct pl_loop {
    int epfd;
    int wakefd;
    struct pl_io wake_io;
    /* Set from signal handlers and from other threads, read by the loop.
     * volatile sig_atomic_t would do for a handler on the loop's own
     * thread only; a store from another thread needs an atomic. A
     * lock-free atomic_int is also async-signal-safe (C11 7.14.1.1). */
    atomic_int stopping;
    uint64_t now;

    pthread_mutex_t lock; /* guards posted and wake_pending */
    struct pl_task *posted_head, **posted_tail;
    int wake_pending;

    struct pl_task *deferred_head, **deferred_tail;

    struct pl_timer *heap_root; /* intrusive min-heap of armed timers */
    unsigned heap_len;

    /* Load: time outside epoll_wait() per window of PL_LOOP_LOAD_WINDOW_US
     * (pl_loop_load()). */
    uint64_t win_start_us, win_idle_us;
    atomic_uint load;
};

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "pl_loop_stop() must be async-signal-safe");

uint64_t pl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t pl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t pl_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t pl_loop_now(const struct pl_loop *l)
{
    return l->now;
}

static void on_wake(void *ctx, uint32_t events)
{
    struct pl_loop *l = ctx;
    uint64_t v;
    (void)events;
    /* The counter is reset by the read; a failed read (EAGAIN) only means
     * another pass already drained it. */
    if (read(l->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        abort();
}

int pl_loop_new(struct pl_loop **out)
{
    struct pl_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    atomic_init(&l->stopping, 0);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wakefd < 0) {
        int rc = -errno;
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->wakefd >= 0)
            close(l->wakefd);
        free(l);
        return rc;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->posted_tail = &l->posted_head;
    l->deferred_tail = &l->deferred_head;
    l->now = pl_now_ms();
    int rc = pl_loop_io_add(l, &l->wake_io, l->wakefd, EPOLLIN, on_wake, l);
    if (rc < 0) {
        pl_loop_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void pl_loop_free(struct pl_loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int pl_loop_io_add(struct pl_loop *l, struct pl_io *io, int fd, uint32_t events, pl_io_cb *cb,
                   void *ctx)
{
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->ctx = ctx;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int pl_loop_io_mod(struct pl_loop *l, struct pl_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    io->events = events;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void pl_loop_io_del(struct pl_loop *l, struct pl_io *io)
{
    if (io->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    /* Events already fetched for this io in the current batch are skipped
     * because the batch checks cb, which we clear here. */
    io->cb = NULL;
    io->fd = -1;
}

/* ---- timers: an intrusive binary min-heap on due_ms ----
 *
 * The heap's links live in the timers themselves (libuv's timer heap is
 * built the same way), so arming a timer never allocates: a loop that
 * runs out of memory still keeps every timeout. The tree is complete: the
 * node at 1-based index i has children 2i and 2i + 1, and the bits of an
 * index below its leading 1, read from the top, are the left (0) / right
 * (1) turns from the root to that node. */

static bool earlier(const struct pl_timer *a, const struct pl_timer *b)
{
    return a->due_ms < b->due_ms;
}

/* The link that holds (or will hold) the node at 1-based index i. */
static struct pl_timer **slot_of(struct pl_loop *l, unsigned i, struct pl_timer **parent)
{
    unsigned depth = 0;
    while (i >> (depth + 1))
        depth++;
    struct pl_timer **link = &l->heap_root;
    *parent = NULL;
    while (depth--) {
        *parent = *link;
        link = (i >> depth) & 1 ? &(*link)->heap_right : &(*link)->heap_left;
    }
    return link;
}

/* Points whatever held old (its parent's link, or the root) at new. */
static void relink(struct pl_loop *l, struct pl_timer *parent, struct pl_timer *old,
                   struct pl_timer *new)
{
    if (!parent)
        l->heap_root = new;
    else if (parent->heap_left == old)
        parent->heap_left = new;
    else
        parent->heap_right = new;
}

/* Moves child up one level, exchanging places with its parent p. */
static void swap_with_parent(struct pl_loop *l, struct pl_timer *p, struct pl_timer *child)
{
    struct pl_timer *grand = p->heap_parent;
    struct pl_timer *cl = child->heap_left, *cr = child->heap_right;
    if (p->heap_left == child) {
        child->heap_left = p;
        child->heap_right = p->heap_right;
    } else {
        child->heap_right = p;
        child->heap_left = p->heap_left;
    }
    child->heap_parent = grand;
    relink(l, grand, p, child);
    p->heap_parent = child;
    p->heap_left = cl;
    p->heap_right = cr;
    struct pl_timer *kids[] = {child->heap_left, child->heap_right};
    for (int k = 0; k < 2; k++)
        if (kids[k])
            kids[k]->heap_parent = child;
    if (cl)
        cl->heap_parent = p;
    if (cr)
        cr->heap_parent = p;
}

static void sift_up(struct pl_loop *l, struct pl_timer *t)
{
    while (t->heap_parent && earlier(t, t->heap_parent))
        swap_with_parent(l, t->heap_parent, t);
}

static void sift_down(struct pl_loop *l, struct pl_timer *t)
{
    for (;;) {
        struct pl_timer *least = t;
        if (t->heap_left && earlier(t->heap_left, least))
            least = t->heap_left;
        if (t->heap_right && earlier(t->heap_right, least))
            least = t->heap_right;
        if (least == t)
            return;
        swap_with_parent(l, t, least);
    }
}

void pl_loop_timer_stop(struct pl_loop *l, struct pl_timer *t)
{
    if (!t->armed)
        return;
    t->armed = false;
    /* The last node of the tree takes t's place, then finds its level. */
    struct pl_timer *parent;
    struct pl_timer **last_link = slot_of(l, l->heap_len, &parent);
    struct pl_timer *last = *last_link;
    *last_link = NULL;
    l->heap_len--;
    if (last != t) {
        last->heap_parent = t->heap_parent;
        last->heap_left = t->heap_left;
        last->heap_right = t->heap_right;
        relink(l, t->heap_parent, t, last);
        if (last->heap_left)
            last->heap_left->heap_parent = last;
        if (last->heap_right)
            last->heap_right->heap_parent = last;
        sift_down(l, last);
        sift_up(l, last);
    }
    t->heap_parent = t->heap_left = t->heap_right = NULL;
}

void pl_loop_timer_start(struct pl_loop *l, struct pl_timer *t, uint64_t ms, pl_timer_cb *cb,
                         void *ctx)
{
    pl_loop_timer_stop(l, t);
    t->due_ms = pl_now_ms() + ms;
    t->cb = cb;
    t->ctx = ctx;
    t->armed = true;
    t->heap_left = t->heap_right = NULL;
    struct pl_timer *parent;
    *slot_of(l, ++l->heap_len, &parent) = t;
    t->heap_parent = parent;
    sift_up(l, t);
}

static int next_timeout(struct pl_loop *l)
{
    if (l->posted_head || l->deferred_head)
        return 0;
    if (!l->heap_root)
        return -1;
    uint64_t due = l->heap_root->due_ms, now = pl_now_ms();
    return due <= now ? 0 : (int)PL_MIN(due - now, 60000u);
}

static void run_timers(struct pl_loop *l)
{
    uint64_t now = l->now;
    while (l->heap_root && l->heap_root->due_ms <= now) {
        struct pl_timer *t = l->heap_root;
        pl_loop_timer_stop(l, t);
        t->cb(t->ctx);
    }
}

/* ---- tasks ---- */

void pl_loop_post(struct pl_loop *l, struct pl_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&l->lock);
    *l->posted_tail = t;
    l->posted_tail = &t->next;
    int need_wake = !l->wake_pending;
    l->wake_pending = 1;
    pthread_mutex_unlock(&l->lock);
    if (need_wake) {
        uint64_t one = 1;
        (void)!write(l->wakefd, &one, sizeof(one));
    }
}

void pl_loop_defer(struct pl_loop *l, struct pl_task *t)
{
    t->next = NULL;
    *l->deferred_tail = t;
    l->deferred_tail = &t->next;
}

static void run_posted(struct pl_loop *l)
{
    pthread_mutex_lock(&l->lock);
    struct pl_task *t = l->posted_head;
    l->posted_head = NULL;
    l->posted_tail = &l->posted_head;
    l->wake_pending = 0;
    pthread_mutex_unlock(&l->lock);
    while (t) {
        struct pl_task *next = t->next;
        t->run(t);
        t = next;
    }
}

static void run_deferred(struct pl_loop *l)
{
    /* Deferred work may defer more (a flush that closes a stream); keep
     * going until the list stays empty. */
    while (l->deferred_head) {
        struct pl_task *t = l->deferred_head;
        l->deferred_head = NULL;
        l->deferred_tail = &l->deferred_head;
        while (t) {
            struct pl_task *next = t->next;
            t->run(t);
            t = next;
        }
    }
}

void pl_loop_drain(struct pl_loop *l)
{
    do {
        run_posted(l);
        run_deferred(l);
    } while (l->posted_head || l->deferred_head);
}

void pl_loop_stop(struct pl_loop *l)
{
    uint64_t one = 1;
    atomic_store_explicit(&l->stopping, 1, memory_order_release);
    (void)!write(l->wakefd, &one, sizeof(one));
}

/* Counts [before, after) as idle and closes the window when it is full.
 * Wall time, not CPU time: a loop that is runnable but waits for a CPU is
 * as unavailable to its sockets as one that computes. */
static void account(struct pl_loop *l, uint64_t before, uint64_t after)
{
    if (!l->win_start_us)
        l->win_start_us = before;
    l->win_idle_us += after - before;
    uint64_t span = after - l->win_start_us;
    if (span < PL_LOOP_LOAD_WINDOW_US)
        return;
    uint64_t idle = PL_MIN(l->win_idle_us, span);
    atomic_store_explicit(&l->load, (unsigned)(1000u - idle * 1000u / span), memory_order_relaxed);
    l->win_start_us = after;
    l->win_idle_us = 0;
}

unsigned pl_loop_load(const struct pl_loop *l)
{
    return atomic_load_explicit(&l->load, memory_order_relaxed);
}

int pl_loop_run(struct pl_loop *l)
{
    struct epoll_event evs[128];
    while (!atomic_load_explicit(&l->stopping, memory_order_acquire)) {
        uint64_t before = pl_now_us();
        int n = epoll_wait(l->epfd, evs, (int)PL_ARRAY_LEN(evs), next_timeout(l));
        if (n < 0 && errno != EINTR)
            return -errno;
        uint64_t after = pl_now_us();
        account(l, before, after);
        l->now = after / 1000u;
        for (int i = 0; i < n; i++) {
            struct pl_io *io = evs[i].data.ptr;
            if (io->cb)
                io->cb(io->ctx, evs[i].events);
        }
        run_posted(l);
        run_deferred(l);
        run_timers(l);
        run_deferred(l);
    }
    return 0;
}
