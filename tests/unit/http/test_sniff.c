/* SPDX-License-Identifier: MIT */
/* Parley - tests for http_sniff_preface (h2c prior knowledge or h1).   */
/* Copyright (c) 2026 Parley developers                                 */
#include "http/http.h"
#include "pltest.h"

#include <string.h>

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(preface) - 1)

PLTEST(sniff_full_preface_is_h2)
{
    PL_ASSERT_INT_EQ(PREFACE_LEN, 24);
    PL_ASSERT_INT_EQ(http_sniff_preface(preface, PREFACE_LEN), HTTP_SNIFF_H2);
}

PLTEST(sniff_preface_followed_by_frames_is_h2)
{
    /* The client's SETTINGS frame usually arrives in the same read. */
    char buf[64];
    memcpy(buf, preface, PREFACE_LEN);
    memcpy(buf + PREFACE_LEN, "\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    PL_ASSERT_INT_EQ(http_sniff_preface(buf, PREFACE_LEN + 9), HTTP_SNIFF_H2);
}

PLTEST(sniff_every_partial_prefix_needs_more)
{
    for (size_t n = 1; n < PREFACE_LEN; n++)
        if (http_sniff_preface(preface, n) != HTTP_SNIFF_NEED_MORE)
            pltest_fail(__FILE__, __LINE__, "a %zu-byte prefix of the preface was classified", n);
}

PLTEST(sniff_empty_needs_more)
{
    PL_ASSERT_INT_EQ(http_sniff_preface("", 0), HTTP_SNIFF_NEED_MORE);
}

PLTEST(sniff_h1_request_line)
{
    PL_ASSERT_INT_EQ(http_sniff_preface("GET /", 5), HTTP_SNIFF_H1);
    PL_ASSERT_INT_EQ(http_sniff_preface("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), HTTP_SNIFF_H1);
    PL_ASSERT_INT_EQ(http_sniff_preface("POST /v1/users HTTP/1.1\r\n", 25), HTTP_SNIFF_H1);
    /* One byte that departs from the preface is enough to decide. */
    PL_ASSERT_INT_EQ(http_sniff_preface("G", 1), HTTP_SNIFF_H1);
}

PLTEST(sniff_pri_with_http11_is_h1)
{
    /* Shares the first nine bytes with the preface, then departs. */
    PL_ASSERT_INT_EQ(http_sniff_preface("PRI * HTTP/1.1", 14), HTTP_SNIFF_H1);
    PL_ASSERT_INT_EQ(http_sniff_preface("PRI * HTTP/1.1\r\n\r\n", 18), HTTP_SNIFF_H1);
}

PLTEST(sniff_corrupt_tail_is_h1)
{
    char buf[PREFACE_LEN];
    memcpy(buf, preface, PREFACE_LEN);
    buf[PREFACE_LEN - 1] = 'X';
    PL_ASSERT_INT_EQ(http_sniff_preface(buf, PREFACE_LEN), HTTP_SNIFF_H1);
}
