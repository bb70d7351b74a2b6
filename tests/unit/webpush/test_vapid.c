/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for webpush/vapid.c: keys and VAPID JWTs.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "webpush/webpush.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUD "https://push.example.net"
#define NOW 1700000000

PLTEST(vapid_sign_verify)
{
    struct webpush_key *k;
    PL_ASSERT_INT_EQ(webpush_key_generate(&k), 0);
    char h[1024];
    PL_ASSERT_INT_EQ(
        webpush_vapid_header(k, AUD, "mailto:ops@example.org", NOW + 3600, h, sizeof(h)), 0);
    PL_ASSERT(strncmp(h, "vapid t=", 8) == 0);
    PL_ASSERT(strstr(h, ", k=B") != NULL); /* 0x04 encodes as B */
    uint8_t pub[65], mine[65];
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h, AUD, NOW, pub), 0);
    webpush_key_public(k, mine);
    PL_ASSERT_MEM_EQ(pub, mine, 65);
    /* Wrong audience, expired, too far ahead. */
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h, "https://other.example", NOW, NULL), PL_EFORBIDDEN);
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h, AUD, NOW + 3600, NULL), PL_EFORBIDDEN);
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h, AUD, NOW - 90000, NULL), PL_EFORBIDDEN);
    /* A changed signature or claim fails. */
    char *t = strstr(h, "t=") + 2;
    char *sig = strrchr(strchr(strchr(t, '.') + 1, '.'), '.') + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h, AUD, NOW, NULL), PL_EFORBIDDEN);
    PL_ASSERT_INT_EQ(webpush_vapid_verify("Bearer x", AUD, NOW, NULL), PL_EINVAL);
    /* Another key's k= does not verify this signature. */
    struct webpush_key *k2;
    PL_ASSERT_INT_EQ(webpush_key_generate(&k2), 0);
    char h2[1024], h3[2048];
    PL_ASSERT_INT_EQ(webpush_vapid_header(k2, AUD, "", NOW + 60, h2, sizeof(h2)), 0);
    PL_ASSERT_INT_EQ(webpush_vapid_header(k, AUD, "", NOW + 60, h, sizeof(h)), 0);
    *strstr(h, ", k=") = '\0';
    snprintf(h3, sizeof(h3), "%s%s", h, strstr(h2, ", k="));
    PL_ASSERT_INT_EQ(webpush_vapid_verify(h3, AUD, NOW, NULL), PL_EFORBIDDEN);
    /* Strings needing JSON escapes are refused, a short buffer too. */
    PL_ASSERT_INT_EQ(webpush_vapid_header(k, "https://a\"b", "", NOW, h, sizeof(h)), PL_EINVAL);
    PL_ASSERT_INT_EQ(webpush_vapid_header(k, AUD, "", NOW, h, 40), PL_ETOOBIG);
    webpush_key_free(k);
    webpush_key_free(k2);
}

PLTEST(key_private_round_trip)
{
    struct webpush_key *k, *k2;
    PL_ASSERT_INT_EQ(webpush_key_generate(&k), 0);
    uint8_t d[32], p1[65], p2[65];
    webpush_key_private(k, d);
    PL_ASSERT_INT_EQ(webpush_key_from_private(d, &k2), 0);
    webpush_key_public(k, p1);
    webpush_key_public(k2, p2);
    PL_ASSERT_MEM_EQ(p1, p2, 65);
    webpush_key_free(k);
    webpush_key_free(k2);
    /* Zero and the group order are no private keys. */
    memset(d, 0, sizeof(d));
    PL_ASSERT_INT_EQ(webpush_key_from_private(d, &k), PL_EINVAL);
    memset(d, 0xff, sizeof(d));
    PL_ASSERT_INT_EQ(webpush_key_from_private(d, &k), PL_EINVAL);
}
