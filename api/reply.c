/* SPDX-License-Identifier: MIT */
/* Parley - helpers for reading bodies and writing JSON replies.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

yajl_gen api__gen_new(void)
{
    return yajl_gen_alloc(NULL);
}

int api__reply_json(struct api_call *c, int status, yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *body = pl_arena_memdup(c->a, buf, len);
    yajl_gen_free(g);
    if (!body)
        return PL_ENOMEM;
    http_resp_set(c->req, status, "application/json", body, len);
    return 0;
}

void api__reply_raw(struct api_call *c, int status, const char *ctype, const char *body, size_t len)
{
    http_resp_set(c->req, status, ctype, body, len);
}

void api__gen_key(yajl_gen g, const char *key)
{
    yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

void api__gen_str(yajl_gen g, const char *key, const char *val)
{
    api__gen_key(g, key);
    yajl_gen_string(g, (const unsigned char *)val, strlen(val));
}

void api__gen_int(yajl_gen g, const char *key, long long v)
{
    api__gen_key(g, key);
    yajl_gen_integer(g, v);
}

/* application/json, optionally with parameters ("; charset=utf-8"). */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

int api__body_object(struct api_call *c, const struct api_json **out)
{
    size_t len;
    const char *body = http_req_body(c->req, &len);
    if (!is_json_type(http_req_header(c->req, "content-type"))) {
        api_problem_send(c->req, PL_EMEDIATYPE, "send the body as application/json");
        return PL_EMEDIATYPE;
    }
    struct api_json *root;
    struct api_json_error err;
    int rc = api_json_parse(c->a, body, len, &root, &err);
    if (rc == PL_EMALFORMED) {
        char detail[200];
        snprintf(detail, sizeof(detail), "invalid JSON at byte %zu: %s", err.offset, err.msg);
        struct api_problem p = {
            .rc = rc, .slug = "malformed-json", .detail = detail, .offset = (long long)err.offset};
        api_problem_sendx(c->req, &p);
        return rc;
    }
    if (rc == PL_ETOOBIG) {
        char detail[240];
        snprintf(detail, sizeof(detail), "at byte %zu: %s", err.offset, err.msg);
        api_problem_send(c->req, rc, detail);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (root->type != API_JSON_OBJECT) {
        struct api_problem p = {
            .rc = PL_EINVAL, .detail = "the body must be a JSON object", .offset = -1};
        api_errors_add(&c->errs, "", "must be an object");
        p.errors = &c->errs;
        api_problem_sendx(c->req, &p);
        return PL_EINVAL;
    }
    *out = root;
    return 0;
}

int api__fail_validation(struct api_call *c)
{
    struct api_problem p = {.rc = PL_EINVAL, .offset = -1, .errors = &c->errs};
    p.detail = c->errs.n == 1
                   ? pl_arena_sprintf(c->a, "%s %s", c->errs.e[0].pointer, c->errs.e[0].detail)
                   : "several members are invalid; see errors";
    api_problem_sendx(c->req, &p);
    return PL_EINVAL;
}

int api__bind_body(struct api_call *c, const struct api_field *fields, unsigned n)
{
    const struct api_json *obj;
    int rc = api__body_object(c, &obj);
    if (rc < 0)
        return rc;
    if ((rc = api_json_bind(c->a, obj, fields, n, &c->errs)) < 0)
        return rc;
    return 0;
}
