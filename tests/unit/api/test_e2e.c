/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/e2e.c: base64url checks and projection.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/api_int.h"

#include "pltest.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD                                                                                    \
    "{\"e2e_for\":{\"12\":[\"prekey\",\"AAAA\"],\"13\":[\"message\",\"BBBB\"]},"                   \
    "\"conversation_id\":5,\"message\":{\"id\":9,\"kind\":\"e2e\",\"e2e\":{\"sender_device\":3,"   \
    "\"group\":null,\"media_ids\":[],\"type\":null,\"ciphertext\":null}}}"

#define VISIBLE                                                                                    \
    "{\"conversation_id\":5,\"message\":{\"id\":9,\"kind\":\"e2e\",\"e2e\":{\"sender_device\":3,"  \
    "\"group\":null,\"media_ids\":[],"

static char *project(const char *json, int64_t device, int *rc)
{
    char *out = NULL;
    size_t len = 0;
    *rc = api_e2e_project(json, strlen(json), device, &out, &len);
    if (*rc == 1)
        PL_ASSERT_INT_EQ(strlen(out), len);
    return out;
}

PLTEST(each_device_gets_only_its_own_entry)
{
    int rc;
    char *out = project(PAYLOAD, 12, &rc);
    PL_ASSERT_INT_EQ(rc, 1);
    PL_ASSERT_STR_EQ(out, VISIBLE "\"type\":\"prekey\",\"ciphertext\":\"AAAA\"}}}");
    free(out);
    out = project(PAYLOAD, 13, &rc);
    PL_ASSERT_INT_EQ(rc, 1);
    PL_ASSERT_STR_EQ(out, VISIBLE "\"type\":\"message\",\"ciphertext\":\"BBBB\"}}}");
    free(out);
    /* Not addressed (the sender, or a device that joined later): nulls. */
    out = project(PAYLOAD, 3, &rc);
    PL_ASSERT_INT_EQ(rc, 1);
    PL_ASSERT_STR_EQ(out, VISIBLE "\"type\":null,\"ciphertext\":null}}}");
    free(out);
    /* A device id that is a prefix of another's is not confused with it. */
    out = project(PAYLOAD, 1, &rc);
    PL_ASSERT_INT_EQ(rc, 1);
    PL_ASSERT(!strstr(out, "AAAA") && !strstr(out, "BBBB"));
    free(out);
}

PLTEST(empty_map_and_other_payloads)
{
    int rc;
    const char *none = "{\"e2e_for\":{},\"conversation_id\":5,\"message\":{\"e2e\":{"
                       "\"type\":null,\"ciphertext\":null}}}";
    char *out = project(none, 4, &rc);
    PL_ASSERT_INT_EQ(rc, 1);
    PL_ASSERT_STR_EQ(
        out, "{\"conversation_id\":5,\"message\":{\"e2e\":{\"type\":null,\"ciphertext\":null}}}");
    free(out);
    /* Plain payloads pass as they are. */
    PL_ASSERT(project("{\"conversation_id\":5,\"message\":{}}", 4, &rc) == NULL);
    PL_ASSERT_INT_EQ(rc, 0);
    PL_ASSERT(!api_e2e_is_enveloped("{\"conversation_id\":1}", 21));
    PL_ASSERT(api_e2e_is_enveloped(PAYLOAD, strlen(PAYLOAD)));
}

PLTEST(malformed_payloads_are_refused_without_overreading)
{
    /* Every truncation of a valid payload (copied to an exact-size heap
     * block, so ASan catches a read past it) is refused or passed on. */
    size_t n = strlen(PAYLOAD);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1);
        PL_ASSERT(copy);
        memcpy(copy, PAYLOAD, len);
        char *out = NULL;
        size_t out_len;
        int rc = api_e2e_project(copy, len, 12, &out, &out_len);
        PL_ASSERT(rc == 0 || rc == PL_EINVAL);
        PL_ASSERT(out == NULL);
        free(copy);
    }
    int rc;
    const char *bad[] = {
        "{\"e2e_for\":{\"x\":[\"prekey\",\"A\"]},\"m\":{\"type\":null,\"ciphertext\":null}}}",
        "{\"e2e_for\":{\"1\":[\"prekey\"]},\"m\":{\"type\":null,\"ciphertext\":null}}}",
        "{\"e2e_for\":{\"1\":[\"prekey\",\"A\"]}\"m\":{\"type\":null,\"ciphertext\":null}}}",
        "{\"e2e_for\":{\"1\":[\"prekey\",\"A\"]},\"m\":{\"type\":1}}}",
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++) {
        PL_ASSERT(project(bad[i], 1, &rc) == NULL);
        PL_ASSERT_INT_EQ(rc, PL_EINVAL);
    }
}

PLTEST(base64url_is_checked_canonically)
{
    PL_ASSERT(sodium_init() >= 0);
    size_t n = 0;
    PL_ASSERT(api__b64_check("AA", 1, 1, &n) && n == 1);
    PL_ASSERT(!api__b64_check("AB", 1, 1, NULL)); /* non-zero padding bits */
    PL_ASSERT(!api__b64_check("AA==", 1, 1, NULL));
    PL_ASSERT(!api__b64_check("A", 0, 10, NULL));
    PL_ASSERT(!api__b64_check("", 0, 10, NULL));
    PL_ASSERT(!api__b64_check("+/AA", 3, 3, NULL)); /* standard alphabet */
    PL_ASSERT(api__b64_check("-_AA", 3, 3, &n) && n == 3);
    PL_ASSERT(!api__b64_check("AAAA", 4, 8, NULL));   /* too short */
    PL_ASSERT(!api__b64_check("AAAAAA", 1, 3, NULL)); /* too long */
    unsigned char key[32], out[32];
    char b64[64];
    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    PL_ASSERT(api__b64_check(b64, 32, 32, &n) && n == 32);
    PL_ASSERT(api__b64_decode(b64, out, sizeof(out)));
    PL_ASSERT(memcmp(key, out, 32) == 0);
    PL_ASSERT(!api__b64_decode(b64, out, 31));
}
