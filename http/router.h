/* SPDX-License-Identifier: MIT */
/* Parley - method + path pattern matching.                             */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_HTTP_ROUTER_H
#define PL_HTTP_ROUTER_H

#include "http.h"

/* A route: method and a pattern of '/'-separated segments where "{name}"
 * matches exactly one non-empty segment. The table is the caller's and is
 * read-only here. */
struct http_route {
    const char *method;
    const char *pattern;
};

/*
 * Finds the route for method and path. Returns its index (>= 0) and stores
 * the captured segments (copied into arena) in params / *n_params; HEAD
 * matches GET routes. Returns PL_ENOTFOUND when no pattern matches the path,
 * PL_EMETHOD when some do but not for this method (allow then holds the
 * allowed methods, comma-separated), or PL_ENOMEM. Any thread.
 */
PL_MUST_CHECK int http_router_match(const struct http_route *routes, size_t n, const char *method,
                                    const char *path, struct pl_arena *arena,
                                    const char *params[HTTP_MAX_PARAMS], unsigned *n_params,
                                    char *allow, size_t allow_len);

#endif
