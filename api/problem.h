/* SPDX-License-Identifier: MIT */
/* Parley - RFC 9457 problem documents: the one place codes become HTTP. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_PROBLEM_H
#define PL_API_PROBLEM_H

#include "json.h"

#include "http/http.h"

/* A problem to send. Only rc is required; the rest refines it. */
struct api_problem {
    int rc;                          /* a code from common/err.h */
    const char *slug;                /* overrides the code's slug (e.g. "invalid-credentials") */
    const char *detail;              /* human text; the code's generic text when NULL */
    long long offset;                /* malformed-json: byte offset, or -1 */
    const struct api_errors *errors; /* validation-failed: field errors */
    const char *checks_json;         /* readiness: a raw JSON object text */
    const char *allow;               /* 405: the Allow header */
    bool invalid_token;              /* 401: the token was present but bad */
    unsigned retry_after;            /* 429/503: Retry-After seconds (0: the default) */
    /* Extension members: ext_json[i] (raw JSON text, borrowed) under
     * ext_key[i]; unused slots are NULL. */
    const char *ext_key[2];
    const char *ext_json[2];
};

/* Fills req's response with an RFC 9457 document for rc (status, type,
 * title, detail, instance, request_id) plus the headers the status needs:
 * WWW-Authenticate on 401, Allow on 405, Retry-After on 429/503. Does not
 * complete the request. detail is copied. Any thread holding req. */
void api_problem_send(struct http_req *req, int rc, const char *detail);
void api_problem_sendx(struct http_req *req, const struct api_problem *p);

/* The HTTP status a code maps to. */
int api_problem_status(int rc);

/* The plain-text explanation served at /problems/{slug}, or NULL. */
const char *api_problem_explain(const char *slug);

#endif
