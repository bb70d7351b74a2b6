/* SPDX-License-Identifier: MIT */
/* Parley - a small forking test runner for unit and integration tests. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PLTEST_H
#define PLTEST_H

#include <stddef.h>
#include <string.h> /* memcmp in PL_ASSERT_MEM_EQ */

/*
 * Tests are plain functions registered by a constructor:
 *
 *   PLTEST(arena_strdup) { PL_ASSERT_STR_EQ(pl_arena_strdup(a, "x"), "x"); }
 *
 * Linking pltest_dep provides main(). It runs every case (or those whose
 * name contains one of the command-line arguments) in a forked child, so a
 * crash, a leak of global state or a failed assertion stays in that case
 * (pwtest, the libuv runner). Each case has a deadline: PLTEST_TIMEOUT
 * seconds (default 60; 0 disables it). On expiry the child gets SIGTERM,
 * which runs its atexit handlers (the integration harness stops its
 * servers and restarts services there), and SIGKILL 5 s later.
 *
 * Output, one line per case on stdout:
 *   ok - name | FAIL - name (reason) | skip - name (reason)
 * and as the last line:
 *   pltest: N passed, N failed, N skipped
 * The exit status is 1 when any case failed, 77 (meson's "skipped") when
 * every case that ran skipped, else 0. A skip always names its reason.
 *
 * Assertions may be used from any thread of the child; a failing one
 * prints file:line and the values to stderr and ends the child with
 * exit(), so atexit handlers run.
 */

/* The transport an integration case runs over (PLTEST_PROTO). */
enum pt_proto { PT_H1 = 0, PT_H2C, PT_H2, PT_PROTO_N };

/* "h1", "h2c" or "h2". */
const char *pt_proto_name(enum pt_proto p);

typedef void pltest_fn(enum pt_proto proto);

#define PLTEST__PLAIN (-1)
#define PLTEST__ALL_PROTOS (-2)

/* Called by the registration constructors; proto is PLTEST__PLAIN,
 * PLTEST__ALL_PROTOS or one enum pt_proto value. name is borrowed (a
 * string literal). Aborts when out of memory. */
void pltest__register(const char *name, pltest_fn *fn, int proto);

/* Ends the current case as failed (or skipped). file and line locate the
 * caller; the message becomes the reason the runner prints. */
_Noreturn void pltest_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void pltest_skip(const char *file, int line, const char *reason);

/* Helpers behind the assertion macros. */
int pltest__str_eq(const char *a, const char *b);
_Noreturn void pltest__str_fail(const char *file, int line, const char *ea, const char *eb,
                                const char *a, const char *b);
_Noreturn void pltest__mem_fail(const char *file, int line, const char *ea, const char *eb,
                                const void *a, const void *b, size_t n);

/* Registers a case called name. */
#define PLTEST(name)                                                                               \
    static void pltest__body_##name(void);                                                         \
    static void pltest__run_##name(enum pt_proto proto)                                            \
    {                                                                                              \
        (void)proto;                                                                               \
        pltest__body_##name();                                                                     \
    }                                                                                              \
    __attribute__((constructor)) static void pltest__ctor_##name(void)                             \
    {                                                                                              \
        pltest__register(#name, pltest__run_##name, PLTEST__PLAIN);                                \
    }                                                                                              \
    static void pltest__body_##name(void)

/* Registers one body as three cases, name[h1], name[h2c] and name[h2];
 * the body sees the transport in `enum pt_proto proto`. */
#define PLTEST_PROTO(name)                                                                         \
    static void pltest__body_##name(enum pt_proto proto);                                          \
    __attribute__((constructor)) static void pltest__ctor_##name(void)                             \
    {                                                                                              \
        pltest__register(#name, pltest__body_##name, PLTEST__ALL_PROTOS);                          \
    }                                                                                              \
    static void pltest__body_##name(enum pt_proto proto)

#define PL_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            pltest_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);                        \
    } while (0)

/* Both sides are evaluated once and compared as long long. */
#define PL_ASSERT_INT_EQ(a, b)                                                                     \
    do {                                                                                           \
        long long pl__ia = (long long)(a), pl__ib = (long long)(b);                                \
        if (pl__ia != pl__ib)                                                                      \
            pltest_fail(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", #a, #b, pl__ia,       \
                        pl__ib);                                                                   \
    } while (0)

/* NULL-safe: two NULLs are equal, NULL and a string are not. */
#define PL_ASSERT_STR_EQ(a, b)                                                                     \
    do {                                                                                           \
        const char *pl__sa = (a), *pl__sb = (b);                                                   \
        if (!pltest__str_eq(pl__sa, pl__sb))                                                       \
            pltest__str_fail(__FILE__, __LINE__, #a, #b, pl__sa, pl__sb);                          \
    } while (0)

#define PL_ASSERT_MEM_EQ(a, b, n)                                                                  \
    do {                                                                                           \
        const void *pl__ma = (a), *pl__mb = (b);                                                   \
        size_t pl__mn = (n);                                                                       \
        if (pl__mn && (!pl__ma || !pl__mb || memcmp(pl__ma, pl__mb, pl__mn) != 0))                 \
            pltest__mem_fail(__FILE__, __LINE__, #a, #b, pl__ma, pl__mb, pl__mn);                  \
    } while (0)

/* The resident set size of process pid (0: this one) in KiB, VmRSS of
 * /proc/<pid>/status; fails the case when it cannot be read. */
long pltest_rss_kb(int pid);

#define PL_SKIP(reason) pltest_skip(__FILE__, __LINE__, (reason))

#endif
