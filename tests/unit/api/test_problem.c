/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/problem.c: the code-to-status mapping.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/problem.h"

#include "pltest.h"

#include <errno.h>

PLTEST(codes_map_to_statuses)
{
    PL_ASSERT_INT_EQ(api_problem_status(PL_EMALFORMED), 400);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EUNAUTH), 401);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EFORBIDDEN), 403);
    PL_ASSERT_INT_EQ(api_problem_status(PL_ENOTFOUND), 404);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EMETHOD), 405);
    PL_ASSERT_INT_EQ(api_problem_status(PL_ECONFLICT), 409);
    PL_ASSERT_INT_EQ(api_problem_status(PL_ETOOBIG), 413);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EMEDIATYPE), 415);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EINVAL), 422);
    PL_ASSERT_INT_EQ(api_problem_status(PL_ERATE), 429);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EHDRTOOBIG), 431);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EUNAVAIL), 503);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EBUSY), 503);
    PL_ASSERT_INT_EQ(api_problem_status(PL_ENOMEM), 503);
    PL_ASSERT_INT_EQ(api_problem_status(PL_EINTERNAL), 500);
    PL_ASSERT_INT_EQ(api_problem_status(-5 /* EIO */), 500);
}

PLTEST(every_slug_is_explained)
{
    const char *slugs[] = {"malformed-request",  "malformed-json",
                           "unauthenticated",    "invalid-credentials",
                           "forbidden",          "not-found",
                           "method-not-allowed", "conflict",
                           "body-too-large",     "unsupported-media-type",
                           "validation-failed",  "rate-limited",
                           "headers-too-large",  "unavailable",
                           "overloaded",         "internal",
                           "devices-changed"};
    for (size_t i = 0; i < PL_ARRAY_LEN(slugs); i++)
        PL_ASSERT(api_problem_explain(slugs[i]) != NULL);
    PL_ASSERT(api_problem_explain("no-such-problem") == NULL);
}

/* The chaos case disk-full: a full blob disk is a 507 with Retry-After,
 * not an internal error. */
PLTEST(problem_disk_full_is_507)
{
    PL_ASSERT_INT_EQ(api_problem_status(-ENOSPC), 507);
    PL_ASSERT_INT_EQ(api_problem_status(-EDQUOT), 507);
    PL_ASSERT_STR_EQ(api_problem_explain("insufficient-storage") != NULL ? "yes" : "no", "yes");
}
