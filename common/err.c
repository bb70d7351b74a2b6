/* SPDX-License-Identifier: MIT */
/* Parley - error code texts.                                           */
/* Copyright (c) 2026 Parley developers                                 */
#include "err.h"

#include <string.h>

static const char *const texts[] = {
    [-1001 - PL_ENOMEM] = "out of memory",
    [-1001 - PL_EINVAL] = "invalid value",
    [-1001 - PL_ENOTFOUND] = "not found",
    [-1001 - PL_ECONFLICT] = "already exists",
    [-1001 - PL_EFORBIDDEN] = "forbidden",
    [-1001 - PL_ETOOBIG] = "too large",
    [-1001 - PL_EUNAVAIL] = "backing service unavailable",
    [-1001 - PL_ETIMEDOUT] = "timed out",
    [-1001 - PL_ECANCELED] = "canceled",
    [-1001 - PL_EMALFORMED] = "malformed input",
    [-1001 - PL_EUNAUTH] = "unauthenticated",
    [-1001 - PL_EMETHOD] = "method not allowed",
    [-1001 - PL_EMEDIATYPE] = "unsupported media type",
    [-1001 - PL_ERATE] = "rate limited",
    [-1001 - PL_EHDRTOOBIG] = "headers too large",
    [-1001 - PL_EBUSY] = "queue full",
    [-1001 - PL_EINTERNAL] = "internal error",
    [-1001 - PL_EENCODING] = "unsupported content coding",
};

const char *pl_strerror(int rc)
{
    if (rc == 0)
        return "success";
    if (rc <= PL_ENOMEM && rc > PL_ERR_LAST_ + 0) {
        const char *t = texts[-1001 - rc];
        return t ? t : "unknown error";
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc); /* glibc's table is static and thread-safe */
    return "unknown error";
}
