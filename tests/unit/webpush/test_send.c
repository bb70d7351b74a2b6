/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for webpush/send.c: endpoint origins.            */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "webpush/webpush.h"

#include <string.h>

static const char *origin(const char *url, bool allow_http)
{
    static char out[128];
    return webpush_endpoint_origin(url, allow_http, out, sizeof(out)) == 0 ? out : NULL;
}

PLTEST(https_endpoints_give_their_origin)
{
    PL_ASSERT_STR_EQ(origin("https://fcm.googleapis.com/fcm/send/abc:def", false),
                     "https://fcm.googleapis.com");
    PL_ASSERT_STR_EQ(origin("https://Push.Example.NET:8443/p?x=1", false),
                     "https://push.example.net:8443");
    PL_ASSERT_STR_EQ(origin("https://[2001:db8::1]:444/x", false), "https://[2001:db8::1]:444");
    PL_ASSERT_STR_EQ(origin("https://updates.push.services.mozilla.com", false),
                     "https://updates.push.services.mozilla.com");
}

PLTEST(http_only_to_loopback_when_allowed)
{
    PL_ASSERT(origin("http://127.0.0.1:9/p", false) == NULL);
    PL_ASSERT_STR_EQ(origin("http://127.0.0.1:9/p", true), "http://127.0.0.1:9");
    PL_ASSERT_STR_EQ(origin("http://localhost/p", true), "http://localhost");
    PL_ASSERT_STR_EQ(origin("http://[::1]:80/p", true), "http://[::1]:80");
    PL_ASSERT(origin("http://push.example.net/p", true) == NULL);
    PL_ASSERT(origin("http://127.0.0.1.evil.example/p", true) == NULL);
}

PLTEST(malformed_endpoints_are_refused)
{
    const char *bad[] = {"",
                         "push.example.net/x",
                         "ftp://push.example.net/x",
                         "https://",
                         "https:///x",
                         "https://user:pw@push.example.net/x",
                         "https://push.example.net/a b",
                         "https://push.example.net/x#frag",
                         "https://push.example.net/\n",
                         "https://[::1/x",
                         "https://:443/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (origin(bad[i], true))
            pltest_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
    char small[8];
    PL_ASSERT_INT_EQ(webpush_endpoint_origin("https://push.example.net/x", false, small, 8),
                     PL_ETOOBIG);
}
