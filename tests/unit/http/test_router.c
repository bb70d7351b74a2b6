/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http/router.c and request target parsing.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "http/router.h"

#include "pltest.h"

#include <string.h>

static const struct http_route routes[] = {
    {"GET", "/healthz"},
    {"POST", "/v1/users"},
    {"GET", "/v1/users/{id}/presence"},
    {"PUT", "/v1/conversations/{id}/members/{user}"},
    {"DELETE", "/v1/conversations/{id}/members/{user}"},
};

static int match(const char *method, const char *path, const char **params, unsigned *n,
                 char *allow)
{
    static struct pl_arena *a;
    if (!a)
        a = pl_arena_new();
    return http_router_match(routes, PL_ARRAY_LEN(routes), method, path, a, params, n, allow, 64);
}

PLTEST(literal_and_param_routes)
{
    const char *p[HTTP_MAX_PARAMS];
    unsigned n = 0;
    char allow[64];
    PL_ASSERT_INT_EQ(match("GET", "/healthz", p, &n, allow), 0);
    PL_ASSERT_INT_EQ(n, 0);
    PL_ASSERT_INT_EQ(match("GET", "/v1/users/42/presence", p, &n, allow), 2);
    PL_ASSERT_INT_EQ(n, 1);
    PL_ASSERT_STR_EQ(p[0], "42");
    PL_ASSERT_INT_EQ(match("DELETE", "/v1/conversations/7/members/bob", p, &n, allow), 4);
    PL_ASSERT_INT_EQ(n, 2);
    PL_ASSERT_STR_EQ(p[0], "7");
    PL_ASSERT_STR_EQ(p[1], "bob");
}

PLTEST(head_matches_get)
{
    const char *p[HTTP_MAX_PARAMS];
    unsigned n = 0;
    char allow[64];
    PL_ASSERT_INT_EQ(match("HEAD", "/healthz", p, &n, allow), 0);
}

PLTEST(unknown_paths_and_methods)
{
    const char *p[HTTP_MAX_PARAMS];
    unsigned n = 0;
    char allow[64];
    PL_ASSERT_INT_EQ(match("GET", "/nope", p, &n, allow), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(match("GET", "/healthz/", p, &n, allow), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(match("GET", "/v1/users//presence", p, &n, allow), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(match("GET", "/v1/users/1/presence/x", p, &n, allow), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(match("GET", "", p, &n, allow), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(match("DELETE", "/v1/users", p, &n, allow), PL_EMETHOD);
    PL_ASSERT_STR_EQ(allow, "POST");
    PL_ASSERT_INT_EQ(match("GET", "/v1/conversations/1/members/2", p, &n, allow), PL_EMETHOD);
    PL_ASSERT_STR_EQ(allow, "PUT, DELETE");
    PL_ASSERT_INT_EQ(match("POST", "/healthz", p, &n, allow), PL_EMETHOD);
    PL_ASSERT_STR_EQ(allow, "GET, HEAD");
}
