/* SPDX-License-Identifier: MIT */
/* Parley - leveled logging with per-file topics.                       */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include "err.h"

#include <stdbool.h>

enum pl_log_level { PL_LOG_ERROR = 0, PL_LOG_WARN, PL_LOG_INFO, PL_LOG_DEBUG };

/* One per .c file, declared with PL_LOG_TOPIC("name"). The level is
 * resolved lazily from the spec given to pl_log_configure(). */
struct pl_log_topic {
    const char *name;
    int level; /* -1 until resolved; read and written with relaxed atomics */
};

#define PL_LOG_TOPIC(n) static struct pl_log_topic pl__log_topic PL_UNUSED = {n, -1}

/* Sets the levels from a spec such as "info" or "push:debug,store:warn,info"
 * (a bare level is the default). Call once at startup, before threads start.
 * Returns 0, or PL_EINVAL for an unknown level name. */
PL_MUST_CHECK int pl_log_configure(const char *spec);

/* True when a message at lvl would be written for topic t. Any thread. */
bool pl_log_enabled(struct pl_log_topic *t, int lvl);

/* Copies in into out (cap > 0 bytes, always NUL-terminated, truncated to
 * fit) with every byte that could forge or break a log line escaped as
 * \xNN: control characters (CR, LF, ESC...), DEL, space, backslash, double
 * quote and bytes >= 0x80. For request data (paths, methods) written into
 * space-separated log fields. Returns out. Any thread. */
char *pl_log_escape(char *out, size_t cap, const char *in);

/* Writes one line to stderr. Any thread; lines never interleave. Control
 * characters in the formatted message (other than tab) become '?'. */
void pl_log_write(struct pl_log_topic *t, int lvl, const char *fmt, ...) PL_PRINTF(3, 4);

/* The level check comes first, so arguments are not evaluated when the
 * message would be dropped (redis serverLog does the same). */
#define pl_log_at(lvl, ...)                                                                        \
    do {                                                                                           \
        if (pl_log_enabled(&pl__log_topic, (lvl)))                                                 \
            pl_log_write(&pl__log_topic, (lvl), __VA_ARGS__);                                      \
    } while (0)
#define pl_log_error(...) pl_log_at(PL_LOG_ERROR, __VA_ARGS__)
#define pl_log_warn(...) pl_log_at(PL_LOG_WARN, __VA_ARGS__)
#define pl_log_info(...) pl_log_at(PL_LOG_INFO, __VA_ARGS__)
#define pl_log_debug(...) pl_log_at(PL_LOG_DEBUG, __VA_ARGS__)

#endif
