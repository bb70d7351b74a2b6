/* SPDX-License-Identifier: MIT */
/* Parley - integration: POST /v1/users and request body validation.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void unique_name(char out[PT_USERNAME_MAX], const char *prefix)
{
    unsigned char rnd[6];
    PL_ASSERT_INT_EQ(getrandom(rnd, sizeof(rnd), 0), sizeof(rnd));
    snprintf(out, PT_USERNAME_MAX, "%s_%02x%02x%02x%02x%02x%02x", prefix, rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
}

/* "2026-11-24T10:41:23.123Z": RFC 3339, UTC, milliseconds. */
static int is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!s || strlen(s) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return 1;
}

/* Posts body to /v1/users and expects a 422 whose first error points at
 * pointer. */
static void expect_422(struct pt_server *s, enum pt_proto proto, const char *body,
                       const char *pointer)
{
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/users", NULL, body, &r);
    if (r.status != 422)
        pltest_fail(__FILE__, __LINE__, "%s: expected 422, got %ld: %.300s", body, r.status,
                    r.body);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    yajl_val t = pt_json(&r);
    const char *got = pt_json_str(t, "errors", "0", "pointer", NULL);
    if (!got || strcmp(got, pointer) != 0)
        pltest_fail(__FILE__, __LINE__, "%s: expected errors[0].pointer %s: %.300s", body, pointer,
                    r.body);
    PL_ASSERT(pt_json_str(t, "errors", "0", "detail", NULL));
    pt_resp_free(&r);
}

/* Sends raw bytes as a registration and expects 400 malformed-json. */
static void expect_400(struct pt_server *s, enum pt_proto proto, const char *body, size_t len)
{
    struct pt_resp r;
    int rc = pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", body, len, &r);
    if (rc < 0)
        pltest_fail(__FILE__, __LINE__, "request failed: %s", pt_req_error());
    if (r.status != 400)
        pltest_fail(__FILE__, __LINE__, "%.60s: expected 400, got %ld: %.300s", body, r.status,
                    r.body);
    PT_ASSERT_PROBLEM(&r, 400, "malformed-json");
    pt_resp_free(&r);
}

PLTEST_PROTO(register_creates_a_user)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[512];
    unique_name(name, "reg");
    snprintf(body, sizeof(body),
             "{\"username\":\"%s\",\"password\":\"%s\",\"display_name\":\"Zo\xc3\xab K.\"}", name,
             PT_PASSWORD);
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/users", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    yajl_val t = pt_json(&r);
    int64_t id = pt_json_int(t, "id", NULL);
    PL_ASSERT(id != PT_JSON_MISSING && id > 0);
    PL_ASSERT_STR_EQ(pt_json_str(t, "username", NULL), name);
    PL_ASSERT_STR_EQ(pt_json_str(t, "display_name", NULL), "Zo\xc3\xab K.");
    PL_ASSERT(is_timestamp(pt_json_str(t, "created_at", NULL)));
    /* The password (or its hash) never comes back. */
    PL_ASSERT(!strstr(r.body, "password"));
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/users/%lld", (long long)id);
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "Location"), loc);
    pt_resp_free(&r);

    /* Without display_name it defaults to the username; the charset
     * parameter on the media type is fine. */
    unique_name(name, "reg");
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name, PT_PASSWORD);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, "application/json; charset=utf-8",
                            body, strlen(body), &r),
                     0);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "display_name", NULL), name);
    int64_t id2 = pt_json_int(pt_json(&r), "id", NULL);
    PL_ASSERT(id2 > 0 && id2 != id);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_duplicate_is_409)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[512];
    pt_user_register(s, proto, "dup", name);
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"another password\"}", name);
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/users", NULL, body, &r);
    PT_ASSERT_PROBLEM(&r, 409, "conflict");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_rejects_bad_usernames)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    static const char *const bad[] = {"ab",  "Alice", "aaaaaaaaaabbbbbbbbbbccccccccccddd",
                                      "a b", "bob!",  ""};
    char body[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", bad[i],
                 PT_PASSWORD);
        expect_422(s, proto, body, "/username");
    }
    /* 32 characters is the longest valid name; 3 the shortest. */
    char name[PT_USERNAME_MAX];
    unique_name(name, "len32_abcdefghijklm");
    PL_ASSERT_INT_EQ(strlen(name), 32);
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name, PT_PASSWORD);
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/users", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_rejects_bad_fields)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[512];
    unique_name(name, "fld");
    /* Password too short (8 bytes minimum). */
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"short\"}", name);
    expect_422(s, proto, body, "/password");
    /* An unknown field is named by its pointer. */
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\",\"nickname\":\"x\"}",
             name, PT_PASSWORD);
    expect_422(s, proto, body, "/nickname");
    /* Wrong type. */
    snprintf(body, sizeof(body), "{\"username\":5,\"password\":\"%s\"}", PT_PASSWORD);
    expect_422(s, proto, body, "/username");
    /* Missing field. */
    snprintf(body, sizeof(body), "{\"username\":\"%s\"}", name);
    expect_422(s, proto, body, "/password");
    /* display_name of 65 characters. */
    snprintf(body, sizeof(body),
             "{\"username\":\"%s\",\"password\":\"%s\",\"display_name\":\"%065d\"}", name,
             PT_PASSWORD, 0);
    expect_422(s, proto, body, "/display_name");
    /* None of the refused requests created the user. */
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name, PT_PASSWORD);
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/users", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_rejects_malformed_json)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    static const char partial[] = "{\"username\":";
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", partial,
                            strlen(partial), &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 400, "malformed-json");
    int64_t off = pt_json_int(pt_json(&r), "offset", NULL);
    PL_ASSERT(off >= 0 && off <= (int64_t)strlen(partial));
    pt_resp_free(&r);
    expect_400(s, proto, "", 0);
    expect_400(s, proto, "{\"username\":\"abc\",}", 19);
    expect_400(s, proto, "[1, 2", 5);
    /* A JSON value that is not an object is well-formed: 422 or 400 are
     * both defensible, a 2xx or 5xx is not. */
    pt_send_json(s, proto, "POST", "/v1/users", NULL, "[]", &r);
    PL_ASSERT(r.status == 400 || r.status == 422);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_rejects_deep_nesting_and_bad_utf8)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    /* A recursive parser would overflow its stack on these; both are
     * refused at depth 33. */
    enum { DEPTH = 100000 };
    char *deep = malloc(2 * DEPTH);
    PL_ASSERT(deep);
    memset(deep, '[', DEPTH);
    expect_400(s, proto, deep, DEPTH);
    memset(deep + DEPTH, ']', DEPTH);
    expect_400(s, proto, deep, 2 * DEPTH);
    free(deep);
    /* 33 levels, just past the limit of 32, closed properly. */
    char nest[80];
    memset(nest, '[', 33);
    memset(nest + 33, ']', 33);
    expect_400(s, proto, nest, 66);
    static const char bad_utf8[] = "{\"username\":\"ab\xff\xfe\",\"password\":\"" PT_PASSWORD "\"}";
    expect_400(s, proto, bad_utf8, sizeof(bad_utf8) - 1);
    /* An overlong encoding of '/' is invalid UTF-8 too. */
    static const char overlong[] = "{\"username\":\"ab\xc0\xaf\",\"password\":\"" PT_PASSWORD "\"}";
    expect_400(s, proto, overlong, sizeof(overlong) - 1);
    struct pt_resp r;
    pt_get(s, proto, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(register_needs_json_media_type)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[256];
    unique_name(name, "mt");
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name, PT_PASSWORD);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "POST", "/v1/users", NULL, "text/plain", body, strlen(body), &r), 0);
    PT_ASSERT_PROBLEM(&r, 415, "unsupported-media-type");
    pt_resp_free(&r);
    /* No Content-Type at all is not JSON either. */
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, NULL, body, strlen(body), &r), 0);
    PT_ASSERT_PROBLEM(&r, 415, "unsupported-media-type");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
