/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/conversations.c: ids, cursors, member sets. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/api_int.h"
#include "common/ids.h"

#include "pltest.h"

#include <stdio.h>
#include <string.h>

PLTEST(parse_id_accepts_positive_integers)
{
    int64_t v = 0;
    PL_ASSERT(api__parse_id("1", &v));
    PL_ASSERT_INT_EQ(v, 1);
    PL_ASSERT(api__parse_id("007", &v));
    PL_ASSERT_INT_EQ(v, 7);
    PL_ASSERT(api__parse_id("9223372036854775807", &v));
    PL_ASSERT(v == INT64_MAX);
}

PLTEST(parse_id_refuses_everything_else)
{
    int64_t v = 42;
    const char *bad[] = {
        "", "0", "-1", "+1", " 1", "1 ", "1.0", "1e3", "abc", "0x1", "9223372036854775808",
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++)
        PL_ASSERT(!api__parse_id(bad[i], &v));
    PL_ASSERT(!api__parse_id(NULL, &v));
    PL_ASSERT_INT_EQ(v, 42); /* untouched on failure */
}

PLTEST(cursor_round_trips)
{
    char buf[48];
    api__conv_cursor_format(buf, sizeof(buf), 1795519041493159, 5);
    PL_ASSERT_STR_EQ(buf, "1795519041493159.5");
    int64_t us = 0, id = 0;
    PL_ASSERT(api__conv_cursor_parse(buf, &us, &id));
    PL_ASSERT(us == 1795519041493159);
    PL_ASSERT_INT_EQ(id, 5);
    api__conv_cursor_format(buf, sizeof(buf), 0, INT64_MAX);
    PL_ASSERT(api__conv_cursor_parse(buf, &us, &id));
    PL_ASSERT(us == 0 && id == INT64_MAX);
}

PLTEST(cursor_refuses_garbage)
{
    int64_t us = 0, id = 0;
    const char *bad[] = {
        "",
        "abc",
        ".",
        "1.",
        ".1",
        "1.0",
        "1.-2",
        "-1.2",
        "1.2.3",
        "1 .2",
        "1.2 ",
        "1,2",
        "1x.2",
        "12345678901234567890.1",
        "1.99999999999999999999",
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++)
        if (api__conv_cursor_parse(bad[i], &us, &id))
            pltest_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
    PL_ASSERT(!api__conv_cursor_parse(NULL, &us, &id));
}

PLTEST(ids_unique_sorts_and_drops)
{
    int64_t ids[] = {5, 3, 0, 5, 7, 3, 1, 7, 7};
    unsigned n = pl_ids_unique(ids, PL_ARRAY_LEN(ids), 7);
    PL_ASSERT_INT_EQ(n, 3);
    PL_ASSERT_INT_EQ(ids[0], 1);
    PL_ASSERT_INT_EQ(ids[1], 3);
    PL_ASSERT_INT_EQ(ids[2], 5);
}

PLTEST(ids_unique_empty_and_all_dropped)
{
    int64_t ids[] = {9, 9, 0};
    PL_ASSERT_INT_EQ(pl_ids_unique(ids, 0, 0), 0);
    PL_ASSERT_INT_EQ(pl_ids_unique(ids, PL_ARRAY_LEN(ids), 9), 0);
}
