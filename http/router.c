/* SPDX-License-Identifier: MIT */
/* Parley - method + path pattern matching.                             */
/* Copyright (c) 2026 Parley developers                                 */
#include "router.h"

#include <string.h>

/* Route tables are small (tens of entries) and matching is a few string
 * compares per entry, so a linear scan beats building a tree; it also keeps
 * the table in the order a reader expects. */

struct capture {
    const char *ptr[HTTP_MAX_PARAMS];
    size_t len[HTTP_MAX_PARAMS];
    unsigned n;
};

static bool match_path(const char *pattern, const char *path, struct capture *cap)
{
    cap->n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *pend = strchrnul(p, '/'), *send = strchrnul(s, '/');
        size_t plen = (size_t)(pend - p), slen = (size_t)(send - s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || cap->n == HTTP_MAX_PARAMS)
                return false;
            cap->ptr[cap->n] = s;
            cap->len[cap->n++] = slen;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p = pend;
        s = send;
    }
    return *p == '\0' && *s == '\0';
}

static void allow_add(char *allow, size_t cap, const char *method)
{
    if (!cap || strstr(allow, method))
        return;
    size_t used = strlen(allow);
    size_t need = strlen(method) + (used ? 2 : 0);
    if (used + need + 1 > cap)
        return;
    if (used)
        strcat(allow, ", ");
    strcat(allow, method);
}

int http_router_match(const struct http_route *routes, size_t n, const char *method,
                      const char *path, struct pl_arena *arena, const char *params[HTTP_MAX_PARAMS],
                      unsigned *n_params, char *allow, size_t allow_len)
{
    bool path_known = false;
    struct capture cap;
    if (allow_len)
        allow[0] = '\0';
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (size_t i = 0; i < n; i++) {
        if (!match_path(routes[i].pattern, path, &cap))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, want) != 0) {
            allow_add(allow, allow_len, routes[i].method);
            if (strcmp(routes[i].method, "GET") == 0)
                allow_add(allow, allow_len, "HEAD");
            continue;
        }
        for (unsigned j = 0; j < cap.n; j++)
            if (!(params[j] = pl_arena_strndup(arena, cap.ptr[j], cap.len[j])))
                return PL_ENOMEM;
        *n_params = cap.n;
        return (int)i;
    }
    return path_known ? PL_EMETHOD : PL_ENOTFOUND;
}
