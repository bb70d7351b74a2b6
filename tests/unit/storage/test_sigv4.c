/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for storage/blob/sigv4.c: the AWS SigV4 vectors. */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "storage/blob/sigv4_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Inputs and expected outputs of the published aws-sig-v4-test-suite
 * (credentials AKIDEXAMPLE, region us-east-1, service "service",
 * 2015-08-30T12:36:00Z) and of the S3 documentation's signing examples
 * (AKIAIOSFODNN7EXAMPLE, examplebucket, 2013-05-24). Each case checks the
 * canonical request where the suite publishes it, then the signature, so a
 * failure names the step that went wrong.
 */

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_DATE "20150830T123600Z"

typedef struct store_blob__sigv4_pair pair;

static const struct store_blob__sigv4_cred suite = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service"};
static const struct store_blob__sigv4_cred s3doc = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};

static void check(const struct store_blob__sigv4_cred *c, const struct store_blob__sigv4_req *r,
                  const char *creq_sha, const char *sig_want, const char *authz_want)
{
    char sig[STORE_BLOB_SIGV4_HEX], creq[4096], hash[STORE_BLOB_SIGV4_HEX], authz[512];
    PL_ASSERT_INT_EQ(store_blob__sigv4_sign(c, r, sig, NULL, 0, creq, sizeof(creq)), 0);
    if (creq_sha) {
        store_blob__sigv4_sha256_hex(creq, strlen(creq), hash);
        PL_ASSERT_STR_EQ(hash, creq_sha);
    }
    PL_ASSERT_STR_EQ(sig, sig_want);
    if (authz_want) {
        PL_ASSERT_INT_EQ(store_blob__sigv4_authorization(c, r, authz, sizeof(authz)), 0);
        PL_ASSERT_STR_EQ(authz, authz_want);
    }
}

PLTEST(sigv4_get_vanilla)
{
    pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    struct store_blob__sigv4_req r = {.method = "GET",
                                      .path = "/",
                                      .headers = h,
                                      .n_headers = 2,
                                      .payload_hash = EMPTY_SHA,
                                      .amz_date = SUITE_DATE};
    check(&suite, &r, "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
          "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

PLTEST(sigv4_post_vanilla)
{
    pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    struct store_blob__sigv4_req r = {.method = "POST",
                                      .path = "/",
                                      .headers = h,
                                      .n_headers = 2,
                                      .payload_hash = EMPTY_SHA,
                                      .amz_date = SUITE_DATE};
    check(&suite, &r, NULL, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
          NULL);
}

PLTEST(sigv4_get_vanilla_query_order_key_case)
{
    pair q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    struct store_blob__sigv4_req r = {.method = "GET",
                                      .path = "/",
                                      .query = q,
                                      .n_query = 2,
                                      .headers = h,
                                      .n_headers = 2,
                                      .payload_hash = EMPTY_SHA,
                                      .amz_date = SUITE_DATE};
    char creq[1024], sig[STORE_BLOB_SIGV4_HEX];
    PL_ASSERT_INT_EQ(store_blob__sigv4_sign(&suite, &r, sig, NULL, 0, creq, sizeof(creq)), 0);
    PL_ASSERT_STR_EQ(creq, "GET\n/\nParam1=value1&Param2=value2\n"
                           "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                           "host;x-amz-date\n" EMPTY_SHA);
    check(&suite, &r, "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
          "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", NULL);
}

PLTEST(sigv4_post_x_www_form_urlencoded)
{
    const char *body = "Param1=value1";
    char payload[STORE_BLOB_SIGV4_HEX];
    store_blob__sigv4_sha256_hex(body, strlen(body), payload);
    PL_ASSERT_STR_EQ(payload, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    pair h[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"Host", "example.amazonaws.com"},
                {"X-Amz-Date", SUITE_DATE}};
    struct store_blob__sigv4_req r = {.method = "POST",
                                      .path = "/",
                                      .headers = h,
                                      .n_headers = 3,
                                      .payload_hash = payload,
                                      .amz_date = SUITE_DATE};
    check(&suite, &r, "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
          "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

PLTEST(sigv4_get_header_value_trim)
{
    /* Headers in a different order than signed, values with spaces. */
    pair h[] = {{"X-Amz-Date", SUITE_DATE},
                {"My-Header2", " \"a   b   c\""},
                {"Host", "example.amazonaws.com"},
                {"My-Header1", " value1"}};
    struct store_blob__sigv4_req r = {.method = "GET",
                                      .path = "/",
                                      .headers = h,
                                      .n_headers = 4,
                                      .payload_hash = EMPTY_SHA,
                                      .amz_date = SUITE_DATE};
    char creq[1024], sig[STORE_BLOB_SIGV4_HEX], names[128];
    PL_ASSERT_INT_EQ(
        store_blob__sigv4_sign(&suite, &r, sig, names, sizeof(names), creq, sizeof(creq)), 0);
    PL_ASSERT_STR_EQ(creq, "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                           "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
                           "host;my-header1;my-header2;x-amz-date\n" EMPTY_SHA);
    PL_ASSERT_STR_EQ(names, "host;my-header1;my-header2;x-amz-date");
    check(&suite, &r, "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
          "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736", NULL);
}

/* The S3 documentation's GET Object example (a Range header signed). */
PLTEST(sigv4_s3_get_object_example)
{
    pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", EMPTY_SHA},
                {"x-amz-date", "20130524T000000Z"}};
    struct store_blob__sigv4_req r = {.method = "GET",
                                      .path = "/test.txt",
                                      .headers = h,
                                      .n_headers = 4,
                                      .payload_hash = EMPTY_SHA,
                                      .amz_date = "20130524T000000Z"};
    check(&s3doc, &r, NULL, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
          NULL);
}

/* The S3 documentation's presigned URL example: GET /test.txt, valid for
 * 86400 s, only Host signed. */
PLTEST(sigv4_s3_presigned_url_example)
{
    pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    struct store_blob__sigv4_req r = {.method = "GET",
                                      .path = "/test.txt",
                                      .headers = h,
                                      .n_headers = 1,
                                      .amz_date = "20130524T000000Z"};
    char q[1024];
    int n = store_blob__sigv4_presign(&s3doc, &r, 86400, q, sizeof(q));
    PL_ASSERT((size_t)n == strlen(q));
    PL_ASSERT_STR_EQ(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
                        "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                        "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* Too small a buffer is refused, never cut. */
    PL_ASSERT_INT_EQ(store_blob__sigv4_presign(&s3doc, &r, 86400, q, 100), PL_ETOOBIG);
}

PLTEST(sigv4_encoding_and_query_order)
{
    char out[64];
    PL_ASSERT_INT_EQ(store_blob__sigv4_encode("a b/c+~", 7, 0, out, sizeof(out)), 13);
    PL_ASSERT_STR_EQ(out, "a%20b%2Fc%2B~");
    PL_ASSERT_INT_EQ(store_blob__sigv4_encode("/m/ab", 5, 1, out, sizeof(out)), 5);
    PL_ASSERT_STR_EQ(out, "/m/ab");
    PL_ASSERT_INT_EQ(store_blob__sigv4_encode("abc", 3, 0, out, 3), PL_ETOOBIG);
    /* A name that prefixes another sorts first; equal names by value. */
    pair q[] = {{"uploads", ""}, {"prefix", "m/"}, {"p", "2"}, {"p", "1"}, {"list-type", "2"}};
    PL_ASSERT(store_blob__sigv4_query(q, 5, out, sizeof(out)) > 0);
    PL_ASSERT_STR_EQ(out, "list-type=2&p=1&p=2&prefix=m%2F&uploads=");
    char date[STORE_BLOB_SIGV4_DATE];
    store_blob__sigv4_date(1369353600, date);
    PL_ASSERT_STR_EQ(date, "20130524T000000Z");
}

__attribute__((constructor)) static void init_sodium(void)
{
    if (sodium_init() < 0)
        abort();
}
