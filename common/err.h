/* SPDX-License-Identifier: MIT */
/* Parley - error codes shared by every module.                         */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_ERR_H
#define PL_ERR_H

#include <stddef.h>

/*
 * Fallible functions return int: 0 on success, negative on failure.
 * A negative errno value (-ENOENT, -EAGAIN, ...) passes through unchanged;
 * project codes live in their own range below -1000 so the two never
 * collide. Only api/problem.c turns a code into an HTTP status.
 */
enum pl_err {
    PL_OK = 0,
    PL_ENOMEM = -1001,     /* allocation failed during a request */
    PL_EINVAL = -1002,     /* a value is syntactically fine but not acceptable */
    PL_ENOTFOUND = -1003,  /* no such object, or the caller may not know of it */
    PL_ECONFLICT = -1004,  /* unique constraint: the object already exists */
    PL_EFORBIDDEN = -1005, /* authenticated but not allowed */
    PL_ETOOBIG = -1006,    /* body or field over its limit */
    PL_EUNAVAIL = -1007,   /* PostgreSQL or Redis unreachable */
    PL_ETIMEDOUT = -1008,  /* an operation ran out of time */
    PL_ECANCELED = -1009,  /* the object owning the work was closed */
    PL_EMALFORMED = -1010, /* unparseable input: bad JSON, bad UTF-8, bad query */
    PL_EUNAUTH = -1011,    /* missing or invalid credentials */
    PL_EMETHOD = -1012,    /* the resource exists but not with this method */
    PL_EMEDIATYPE = -1013, /* unsupported Content-Type */
    PL_ERATE = -1014,      /* rate limit exceeded */
    PL_EHDRTOOBIG = -1015, /* request headers over their limit */
    PL_EBUSY = -1016,      /* a bounded queue is full */
    PL_EINTERNAL = -1017,  /* a bug or an unexpected reply from a dependency */
    PL_EENCODING = -1018,  /* unsupported Content-Encoding */
    PL_ERR_LAST_ = -1019   /* one past the last code */
};

/* Text for any code: a project code, a negative errno, or 0. Never NULL;
 * the string is static. Safe from any thread. */
const char *pl_strerror(int rc);

#if defined(__GNUC__)
#define PL_MUST_CHECK __attribute__((warn_unused_result))
#define PL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PL_UNUSED __attribute__((unused))
#define PL_LIKELY(x) __builtin_expect(!!(x), 1)
#define PL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PL_MUST_CHECK
#define PL_PRINTF(a, b)
#define PL_UNUSED
#define PL_LIKELY(x) (x)
#define PL_UNLIKELY(x) (x)
#endif

#define PL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PL_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
