/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/buf.c.                                     */
/* Copyright (c) 2026 Parley developers                                 */
#include "common/buf.h"
#include "pltest.h"

#include <string.h>

PLTEST(buf_append_and_consume)
{
    struct pl_buf b;
    pl_buf_init(&b, 1024);
    PL_ASSERT_INT_EQ(b.len, 0);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "hello ", 6), 0);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "world", 5), 0);
    PL_ASSERT_INT_EQ(b.len, 11);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "hello world", 11);
    pl_buf_consume(&b, 6);
    PL_ASSERT_INT_EQ(b.len, 5);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "world", 5);
    pl_buf_consume(&b, 100); /* more than stored drops everything */
    PL_ASSERT_INT_EQ(b.len, 0);
    pl_buf_deinit(&b);
    PL_ASSERT(b.data == NULL);
}

PLTEST(buf_refuses_to_grow_past_max)
{
    struct pl_buf b;
    pl_buf_init(&b, 16);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "0123456789", 10), 0);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "abcdefg", 7), PL_ETOOBIG);
    /* Nothing of the refused append may be stored. */
    PL_ASSERT_INT_EQ(b.len, 10);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "abcdef", 6), 0);
    PL_ASSERT_INT_EQ(b.len, 16);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "0123456789abcdef", 16);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "x", 1), PL_ETOOBIG);
    PL_ASSERT(b.cap <= 16);
    /* A size whose sum with len overflows must not wrap around the check. */
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "", (size_t)-1), PL_ETOOBIG);
    pl_buf_deinit(&b);
}

PLTEST(buf_consumed_space_is_reused)
{
    struct pl_buf b;
    pl_buf_init(&b, 64);
    char chunk[40];
    memset(chunk, 'a', sizeof(chunk));
    /* Append and consume far more than max in total: a buffer that only
     * grew would hit PL_ETOOBIG. */
    for (int i = 0; i < 100; i++) {
        chunk[0] = (char)('A' + i % 26);
        PL_ASSERT_INT_EQ(pl_buf_append(&b, chunk, sizeof(chunk)), 0);
        PL_ASSERT_INT_EQ(pl_buf_head(&b)[b.len - sizeof(chunk)], 'A' + i % 26);
        pl_buf_consume(&b, 30);
        PL_ASSERT(b.len <= 64);
        pl_buf_consume(&b, b.len > 20 ? b.len - 20 : 0);
    }
    pl_buf_deinit(&b);
}

PLTEST(buf_printf_appends)
{
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "id:%d\n", 17), 0);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "data:%s\n\n", "{}"), 0);
    PL_ASSERT_INT_EQ(b.len, strlen("id:17\ndata:{}\n\n"));
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "id:17\ndata:{}\n\n", b.len);
    size_t before = b.len;
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%5000d", 1), PL_ETOOBIG);
    PL_ASSERT_INT_EQ(b.len, before);
    /* Longer than the free space: formatted again after growing. */
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%1000d|", 7), 0);
    PL_ASSERT_INT_EQ(b.len, before + 1001);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b) + before + 999, "7|", 2);
    pl_buf_deinit(&b);
}

/* Output formatted straight into the free space obeys max exactly as
 * output that needs the buffer to grow: the last byte goes to the NUL. */
PLTEST(buf_printf_respects_max_within_free_space)
{
    struct pl_buf b;
    pl_buf_init(&b, 300);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%s", "ab"), 0); /* allocates 256 bytes */
    PL_ASSERT(b.cap > 200);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%297d", 1), 0); /* 299 bytes + NUL = max */
    PL_ASSERT_INT_EQ(b.len, 299);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%s", "x"), PL_ETOOBIG);
    PL_ASSERT_INT_EQ(b.len, 299);
    pl_buf_deinit(&b);
    pl_buf_init(&b, 100);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%s", "a"), 0);          /* cap 100, 99 free */
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%99d", 5), PL_ETOOBIG); /* 1 + 99 + NUL > 100 */
    PL_ASSERT_INT_EQ(b.len, 1);
    PL_ASSERT_INT_EQ(pl_buf_printf(&b, "%97d", 5), 0);
    PL_ASSERT_INT_EQ(b.len, 98);
    pl_buf_deinit(&b);
}

PLTEST(buf_reserve_commit_reset)
{
    struct pl_buf b;
    pl_buf_init(&b, 100);
    int rc = 0;
    char *w = pl_buf_reserve(&b, 50, &rc);
    PL_ASSERT(w);
    memcpy(w, "abc", 3);
    pl_buf_commit(&b, 3);
    PL_ASSERT_INT_EQ(b.len, 3);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "abc", 3);
    rc = 0;
    PL_ASSERT(pl_buf_reserve(&b, 98, &rc) == NULL);
    PL_ASSERT_INT_EQ(rc, PL_ETOOBIG);
    pl_buf_reset(&b);
    PL_ASSERT_INT_EQ(b.len, 0);
    rc = 0;
    PL_ASSERT(pl_buf_reserve(&b, 100, &rc) != NULL);
    PL_ASSERT_INT_EQ(rc, 0);
    pl_buf_deinit(&b);
}

/* Found by the brotli_body fuzzer: an empty body (a buffer that never held
 * storage) handed to a zero-byte append or reservation computed NULL + 0,
 * which UBSan reports. Now it gets storage, and the buffer stays usable. */
PLTEST(buf_zero_byte_reserve_on_empty_buffer)
{
    struct pl_buf b;
    pl_buf_init(&b, 64);
    int rc = 0;
    char *w = pl_buf_reserve(&b, 0, &rc);
    PL_ASSERT(w != NULL);
    PL_ASSERT_INT_EQ(rc, 0);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "", 0), 0);
    PL_ASSERT_INT_EQ(b.len, 0);
    PL_ASSERT_INT_EQ(pl_buf_append(&b, "ab", 2), 0);
    PL_ASSERT_MEM_EQ(pl_buf_head(&b), "ab", 2);
    pl_buf_deinit(&b);
    struct pl_buf z;
    pl_buf_init(&z, 0);
    PL_ASSERT(pl_buf_reserve(&z, 0, &rc) != NULL);
    pl_buf_deinit(&z);
}
