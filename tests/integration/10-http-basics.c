/* SPDX-License-Identifier: MIT */
/* Parley - integration: health, readiness, metrics, OpenAPI, errors.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static void assert_ctype(struct pt_resp *r, const char *want)
{
    const char *ct = pt_resp_ctype(r);
    /* Parameters such as "; charset=utf-8" may follow the media type. */
    if (!ct || strncmp(ct, want, strlen(want)) != 0 ||
        (ct[strlen(want)] != '\0' && ct[strlen(want)] != ';'))
        pltest_fail(__FILE__, __LINE__, "Content-Type \"%s\" is not %s", ct ? ct : "(none)", want);
}

PLTEST_PROTO(healthz_answers_ok)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    assert_ctype(&r, "application/json");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "status", NULL), "ok");
    const char *rid = pt_resp_header(&r, "X-Request-Id");
    PL_ASSERT(rid && *rid);
    char first[64];
    snprintf(first, sizeof(first), "%s", rid);
    pt_resp_free(&r);
    /* Request ids identify requests: the next one gets another. */
    pt_get(s, proto, "/healthz", NULL, &r);
    rid = pt_resp_header(&r, "X-Request-Id");
    PL_ASSERT(rid && *rid);
    PL_ASSERT(strcmp(rid, first) != 0);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(readyz_reports_checks)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/readyz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    assert_ctype(&r, "application/json");
    yajl_val t = pt_json(&r);
    PL_ASSERT_STR_EQ(pt_json_str(t, "status", NULL), "ready");
    PL_ASSERT_STR_EQ(pt_json_str(t, "checks", "postgres", NULL), "ok");
    PL_ASSERT_STR_EQ(pt_json_str(t, "checks", "redis", NULL), "ok");
    PL_ASSERT(pt_resp_header(&r, "X-Request-Id"));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(metrics_are_prometheus_text)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    /* Make sure at least one request was counted before the scrape. */
    pt_get(s, proto, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &r);
    PT_ASSERT_STATUS(&r, 200);
    assert_ctype(&r, "text/plain");
    PL_ASSERT(strstr(r.body, "# TYPE parley_http_requests_total counter"));
    PL_ASSERT(strstr(r.body, "\nparley_http_requests_total{"));
    PL_ASSERT(strstr(r.body, "parley_http_request_duration_seconds_bucket{"));
    PL_ASSERT(strstr(r.body, "\nparley_workers "));
    PL_ASSERT(pt_resp_header(&r, "X-Request-Id"));
    /* Every sample line is "name{labels} value" or "name value". */
    for (const char *line = r.body; *line;) {
        size_t n = strcspn(line, "\n");
        if (n && line[0] != '#' && memchr(line, ' ', n) == NULL)
            pltest_fail(__FILE__, __LINE__, "odd metrics line: %.*s", (int)n, line);
        line += n + (line[n] == '\n');
    }
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(openapi_document_is_served)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/openapi.yaml", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    assert_ctype(&r, "application/yaml");
    /* Leading comment lines (a license header) are allowed by YAML. */
    const char *p = r.body;
    while (*p == '#' || *p == '\n') {
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    if (strncmp(p, "openapi: 3.1", 12) != 0)
        pltest_fail(__FILE__, __LINE__, "document does not start with openapi: 3.1: %.80s", p);
    PL_ASSERT(strstr(r.body, "/v1/users"));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(unknown_path_is_a_404_problem)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/no/such/thing", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    PL_ASSERT(pt_json_str(pt_json(&r), "instance", NULL));
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/nothing-here?x=1", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(wrong_method_is_a_405_with_allow)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", "/v1/users", NULL, NULL, NULL, 0, &r), 0);
    PT_ASSERT_PROBLEM(&r, 405, "method-not-allowed");
    const char *allow = pt_resp_header(&r, "Allow");
    if (!allow || !strstr(allow, "POST"))
        pltest_fail(__FILE__, __LINE__, "Allow header \"%s\" does not list POST",
                    allow ? allow : "(none)");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/healthz", NULL, "application/json", "{}", 2, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 405, "method-not-allowed");
    allow = pt_resp_header(&r, "Allow");
    if (!allow || !strstr(allow, "GET"))
        pltest_fail(__FILE__, __LINE__, "Allow header \"%s\" does not list GET",
                    allow ? allow : "(none)");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(problem_types_are_explained)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    static const char *const slugs[] = {"not-found", "malformed-json", "validation-failed",
                                        "unavailable", "rate-limited"};
    for (size_t i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/problems/%s", slugs[i]);
        pt_get(s, proto, path, NULL, &r);
        PT_ASSERT_STATUS(&r, 200);
        assert_ctype(&r, "text/plain");
        PL_ASSERT(r.len > 10);
        pt_resp_free(&r);
    }
    pt_get(s, proto, "/problems/no-such-problem", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
