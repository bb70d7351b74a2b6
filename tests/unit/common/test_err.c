/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/err.c.                                     */
/* Copyright (c) 2026 Parley developers                                 */
#include "common/err.h"
#include "pltest.h"

#include <errno.h>
#include <string.h>

PLTEST(err_every_project_code_has_its_own_text)
{
    for (int rc = PL_ENOMEM; rc > PL_ERR_LAST_; rc--) {
        const char *t = pl_strerror(rc);
        PL_ASSERT(t);
        if (strcmp(t, "unknown error") == 0)
            pltest_fail(__FILE__, __LINE__, "code %d has no text", rc);
        for (int other = PL_ENOMEM; other > rc; other--)
            if (strcmp(t, pl_strerror(other)) == 0)
                pltest_fail(__FILE__, __LINE__, "codes %d and %d share \"%s\"", rc, other, t);
    }
}

PLTEST(err_known_texts)
{
    PL_ASSERT_STR_EQ(pl_strerror(0), "success");
    PL_ASSERT_STR_EQ(pl_strerror(PL_ENOMEM), "out of memory");
    PL_ASSERT_STR_EQ(pl_strerror(PL_EUNAVAIL), "backing service unavailable");
}

PLTEST(err_errno_passes_through)
{
    PL_ASSERT_STR_EQ(pl_strerror(-ENOENT), strerror(ENOENT));
    PL_ASSERT_STR_EQ(pl_strerror(-EADDRINUSE), strerror(EADDRINUSE));
}

PLTEST(err_out_of_range_is_unknown)
{
    /* Past the last project code the value is read as an errno, which
     * has no text either; it must still not borrow a project text. */
    const char *last = pl_strerror(PL_ERR_LAST_);
    PL_ASSERT(last);
    for (int rc = PL_ENOMEM; rc > PL_ERR_LAST_; rc--)
        PL_ASSERT(strcmp(last, pl_strerror(rc)) != 0);
    PL_ASSERT_STR_EQ(pl_strerror(-5000), "unknown error");
    PL_ASSERT_STR_EQ(pl_strerror(7), "unknown error");
    PL_ASSERT_STR_EQ(pl_strerror(-2147483647 - 1), "unknown error");
}
