/* SPDX-License-Identifier: MIT */
/* Parley - epoll event loop: fds, timers, cross-thread tasks.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_LOOP_H
#define PL_LOOP_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

/*
 * One loop per I/O thread. Every function here is "loop thread only"
 * unless it says "any thread". An iteration runs these chores in order:
 *
 *   poll fds (sleeping until the next timer)  ->  io callbacks
 *   run posted tasks (completions handed back by workers)
 *   run deferred callbacks (flush dirty streams, free closed objects)
 *   run due timers
 *
 * Tasks posted from other threads are moved out of the shared queue under
 * the lock in one swap and run without it (libuv threadpool.c); one eventfd
 * write wakes the loop and wakeups coalesce, so a pass always drains all.
 */
struct pl_loop;

typedef void pl_io_cb(void *ctx, uint32_t events);
typedef void pl_timer_cb(void *ctx);

/* Caller-provided storage; valid while registered. */
struct pl_io {
    int fd;
    uint32_t events;
    pl_io_cb *cb;
    void *ctx;
};

struct pl_timer {
    uint64_t due_ms; /* monotonic */
    /* The loop's heap links (zeroed: not armed). */
    struct pl_timer *heap_parent, *heap_left, *heap_right;
    bool armed;
    pl_timer_cb *cb;
    void *ctx;
};

/* A unit of work handed to the loop from any thread. The poster owns the
 * storage until run() is called on the loop thread. */
struct pl_task {
    struct pl_task *next;
    void (*run)(struct pl_task *t);
};

/* Returns 0 and the loop in *out, or a negative errno. */
PL_MUST_CHECK int pl_loop_new(struct pl_loop **out);
void pl_loop_free(struct pl_loop *l);

/* Runs until pl_loop_stop(). Returns 0 or a negative errno from epoll. */
int pl_loop_run(struct pl_loop *l);
/* Any thread (and signal-safe: it only sets a flag and writes the eventfd). */
void pl_loop_stop(struct pl_loop *l);

/* Runs posted and deferred tasks until none are left, without polling
 * fds. For shutdown: lets completions posted by workers reach their
 * transports after the loop has stopped. */
void pl_loop_drain(struct pl_loop *l);

/* Registers fd for events (EPOLLIN, EPOLLOUT, ...). 0 or negative errno. */
PL_MUST_CHECK int pl_loop_io_add(struct pl_loop *l, struct pl_io *io, int fd, uint32_t events,
                                 pl_io_cb *cb, void *ctx);
PL_MUST_CHECK int pl_loop_io_mod(struct pl_loop *l, struct pl_io *io, uint32_t events);
/* Unregisters; safe to call from the io's own callback. */
void pl_loop_io_del(struct pl_loop *l, struct pl_io *io);

/* Arms (or re-arms) a one-shot timer ms milliseconds from now. */
void pl_loop_timer_start(struct pl_loop *l, struct pl_timer *t, uint64_t ms, pl_timer_cb *cb,
                         void *ctx);
void pl_loop_timer_stop(struct pl_loop *l, struct pl_timer *t);
static inline bool pl_timer_armed(const struct pl_timer *t)
{
    return t->armed;
}

/* Any thread: queues t to run on the loop thread and wakes the loop. */
void pl_loop_post(struct pl_loop *l, struct pl_task *t);

/* Queues t to run at the end of this iteration, after io and tasks: the
 * place to free objects closed inside callbacks (libuv uv_close) and to
 * flush streams made dirty during the pass. Loop thread only. */
void pl_loop_defer(struct pl_loop *l, struct pl_task *t);

/* Monotonic milliseconds, cached per iteration. */
uint64_t pl_loop_now(const struct pl_loop *l);

/* The window over which pl_loop_load() is measured. */
#define PL_LOOP_LOAD_WINDOW_US 100000u
/* Any thread: the share of the last complete window (per mille, 0-1000)
 * the loop spent outside epoll_wait(): running callbacks, or runnable and
 * waiting for a CPU. 0 before the first window closed. A window closes at
 * the first wake-up after it is full, so an idle loop reports its last
 * busy window until something wakes it. */
unsigned pl_loop_load(const struct pl_loop *l);
/* Monotonic milliseconds read from the clock. Any thread. */
uint64_t pl_now_ms(void);
/* Monotonic microseconds read from the clock. Any thread. */
uint64_t pl_now_us(void);
/* Wall-clock milliseconds since the epoch. Any thread. */
uint64_t pl_wall_ms(void);

#endif
