/* SPDX-License-Identifier: MIT */
/* Parley - cursors from the request target, with every allocation failing once. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/api_int.h"
#include "http/http_int.h"

#include "failmalloc.h"
#include "pltest.h"

#include <string.h>

/*
 * A pagination cursor reaches a handler percent-encoded in the query: the
 * transport decodes the target into the request's arena (http/req.c), and
 * the handler parses what it gets (api__conv_cursor_parse). Every
 * allocation on that path fails once in turn; each run must end with
 * either PL_ENOMEM (the request is answered 503) or the exact cursor.
 */

static struct http_server srv;
static const struct http__req_ops rops = {0};

struct cursor_case {
    const char *target;
    int64_t us, id;
    unsigned exact;
};

static void scenario(void *ctx)
{
    struct cursor_case *c = ctx;
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "test", &rops, NULL);
    if (!req) {
        PL_ASSERT(pt_failmalloc_failed());
        return;
    }
    int rc = http__req_set_line(req, "GET", 3, c->target, strlen(c->target));
    if (rc < 0) {
        PL_ASSERT_INT_EQ(rc, PL_ENOMEM);
        PL_ASSERT(pt_failmalloc_failed());
        PL_ASSERT_INT_EQ(http_req_error(req), 0); /* not a client error */
        http__req_free(req);
        return;
    }
    /* Decoded whole or not at all: a parsed request has the real cursor. */
    int64_t us = 0, id = 0;
    PL_ASSERT_STR_EQ(http_req_path(req), "/v1/conversations");
    PL_ASSERT(api__conv_cursor_parse(http_req_query(req, "cursor"), &us, &id));
    PL_ASSERT_INT_EQ(us, c->us);
    PL_ASSERT_INT_EQ(id, c->id);
    PL_ASSERT_STR_EQ(http_req_query(req, "limit"), "3");
    char again[48];
    api__conv_cursor_format(again, sizeof(again), us, id);
    int64_t us2 = 0, id2 = 0;
    PL_ASSERT(api__conv_cursor_parse(again, &us2, &id2));
    PL_ASSERT(us2 == us && id2 == id);
    if (!pt_failmalloc_failed())
        c->exact++;
    http__req_free(req);
}

PLTEST(conversation_cursor_survives_every_failed_allocation)
{
    memset(&srv, 0, sizeof(srv));
    srv.cfg.limits.max_headers = 16;
    srv.cfg.limits.max_header_bytes = 4096;
    static const struct cursor_case cases[] = {
        {"/v1/conversations?cursor=1795519041493159.5&limit=3", 1795519041493159, 5, 0},
        /* Percent-encoded, as a client that encodes every dot sends it. */
        {"/v1/conversations?limit=3&cursor=%31795519041493159%2E42", 1795519041493159, 42, 0},
        {"/v1/conversations?cursor=0.9223372036854775807&limit=3", 0, INT64_MAX, 0},
    };
    for (size_t i = 0; i < PL_ARRAY_LEN(cases); i++) {
        struct cursor_case c = cases[i];
        pt_failmalloc_loop(scenario, &c, 1000);
        /* Only the last run, with nothing failing, got to the end whole. */
        PL_ASSERT_INT_EQ(c.exact, 1);
        PL_ASSERT(pt_failmalloc_runs() >= 2);
    }
}

PLTEST(malformed_cursors_stay_client_errors)
{
    static const char *const bad[] = {"",
                                      ".",
                                      "1.",
                                      ".1",
                                      "1.2.3",
                                      "-1.2",
                                      "1.-2",
                                      "a.b",
                                      "1795519041493159",
                                      "1.2 ",
                                      "99999999999999999999.1"};
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++) {
        int64_t us = 7, id = 7;
        PL_ASSERT(!api__conv_cursor_parse(bad[i], &us, &id));
    }
    int64_t us, id;
    PL_ASSERT(!api__conv_cursor_parse(NULL, &us, &id));
}
