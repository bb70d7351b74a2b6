/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for storage/pg_replica.c: LSN text.              */
/* Copyright (c) 2026 Parley developers                                 */
#include "storage/replica.h"

#include "pltest.h"

PLTEST(lsns_parse_as_two_hex_halves)
{
    uint64_t v = 1;
    PL_ASSERT_INT_EQ(store_pg_lsn_parse("0/0", &v), 0);
    PL_ASSERT_INT_EQ(v, 0);
    PL_ASSERT_INT_EQ(store_pg_lsn_parse("16/B374D848", &v), 0);
    PL_ASSERT(v == 0x16B374D848ull);
    PL_ASSERT_INT_EQ(store_pg_lsn_parse("ffffffff/ffffffff", &v), 0);
    PL_ASSERT(v == UINT64_MAX);
    PL_ASSERT_INT_EQ(store_pg_lsn_parse("0/3A149D0", &v), 0);
    PL_ASSERT(v == 0x3A149D0ull);
}

PLTEST(malformed_lsns_are_refused)
{
    const char *bad[] = {"",    "/",     "1/",          "/1",          "1",    "g/1",
                         "1/g", "1/2/3", "123456789/1", "1/123456789", " 1/2", "1/2 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 42;
        PL_ASSERT_INT_EQ(store_pg_lsn_parse(bad[i], &v), PL_EINVAL);
        PL_ASSERT_INT_EQ(v, 42);
    }
}
