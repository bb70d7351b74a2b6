/* SPDX-License-Identifier: MIT */
/* Parley - RFC 9457 problem documents: the one place codes become HTTP. */
/* Copyright (c) 2026 Parley developers                                 */
#include "problem.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

PL_LOG_TOPIC("api");

/*
 * Every error leaves the server through here, so the mapping from codes to
 * statuses and problem types lives in one table (janus apierror.h). Types
 * are stable URI references; parleyd serves each one's explanation at that
 * path, so a client that dereferences a type learns what it means.
 */
struct kind {
    int rc;
    int status;
    const char *slug;
    const char *title;
    const char *explain;
};

static const struct kind kinds[] = {
    {PL_EMALFORMED, 400, "malformed-request", "Malformed request",
     "The request could not be parsed: a bad percent-encoding in the URL, an invalid query "
     "parameter or a body that is not what the endpoint reads."},
    {PL_EMALFORMED, 400, "malformed-json", "Malformed JSON",
     "The body is not a valid JSON document: a syntax error (the offset member gives the byte "
     "where parsing stopped), invalid UTF-8, an empty body, or nesting deeper than 32 levels."},
    {PL_EUNAUTH, 401, "unauthenticated", "Authentication required",
     "The endpoint needs a bearer token (Authorization: Bearer <token>, from POST /v1/sessions) "
     "and the request had none, or the token is unknown, revoked or malformed."},
    {PL_EUNAUTH, 401, "invalid-credentials", "Invalid credentials",
     "The username or the password is wrong. The answer is the same for both so that it does "
     "not reveal which usernames exist."},
    {PL_EFORBIDDEN, 403, "forbidden", "Forbidden",
     "The caller is authenticated but not allowed to do this."},
    {PL_EFORBIDDEN, 403, "csrf-check-failed", "Cross-site request refused",
     "The request was authenticated by the web client's session cookie and changes state, but "
     "it did not carry the X-Parley-CSRF header (or the browser said it came from another "
     "site). The web client adds the header to every request; other clients use a bearer "
     "token."},
    {PL_ENOTFOUND, 404, "not-found", "Not found",
     "There is no such resource, or the caller may not see it."},
    {PL_EMETHOD, 405, "method-not-allowed", "Method not allowed",
     "The resource exists but does not support this method; the Allow header lists those it "
     "does."},
    {PL_ECONFLICT, 409, "conflict", "Conflict",
     "The request conflicts with existing state, for example a username that is already taken."},
    {PL_ECONFLICT, 409, "devices-changed", "Devices changed",
     "An e2e message must be addressed to every active keyed device of every member (the "
     "sender's other devices included, the sending device excluded); with a group ciphertext, "
     "only to member devices. missing_devices and extra_devices list the differences: fetch the "
     "device lists and bundles again, start the missing sessions and retry with the same "
     "client_msg_id."},
    {PL_ETOOBIG, 413, "body-too-large", "Content too large",
     "The request body is larger than the server accepts (the max_body setting), or a JSON "
     "object in it has more than 256 members or an array more than 16384 items (parsing stops "
     "there)."},
    {PL_EMEDIATYPE, 415, "unsupported-media-type", "Unsupported media type",
     "The body must be sent as application/json."},
    {PL_EENCODING, 415, "unsupported-encoding", "Unsupported content coding",
     "The body's Content-Encoding is not one the server decodes; send it uncompressed or with "
     "Content-Encoding: br (the Accept-Encoding response header lists what is accepted)."},
    {PL_EINVAL, 422, "validation-failed", "Validation failed",
     "The JSON is well formed but some members are missing, unknown, of the wrong type or out "
     "of range; the errors member lists each one with a JSON Pointer."},
    {PL_ERATE, 429, "rate-limited", "Too many requests",
     "This connection sent requests faster than the server allows; wait for Retry-After "
     "seconds."},
    {PL_EHDRTOOBIG, 431, "headers-too-large", "Request header fields too large",
     "The request has too many header fields or they are too large in total."},
    {PL_EUNAVAIL, 503, "unavailable", "Service unavailable",
     "A backing service (PostgreSQL or Redis) is unreachable. Nothing was changed; retry after "
     "Retry-After seconds."},
    {PL_EBUSY, 503, "overloaded", "Server overloaded",
     "The server's work queue is full. Nothing was changed; retry after Retry-After seconds."},
    {PL_ETIMEDOUT, 503, "timeout", "Timed out",
     "The operation did not finish in time. It may or may not have taken effect."},
    /* A full blob disk is the server's trouble, but not a bug: the client
     * may retry later (RFC 4918's 507 says exactly this). */
    {-ENOSPC, 507, "insufficient-storage", "Insufficient storage",
     "The server's storage for uploads is full. Nothing was kept; retry after Retry-After "
     "seconds."},
    {-EDQUOT, 507, "insufficient-storage", "Insufficient storage",
     "The server's storage for uploads is full. Nothing was kept; retry after Retry-After "
     "seconds."},
    {PL_EINTERNAL, 500, "internal", "Internal server error",
     "The server failed unexpectedly. The request_id member identifies the failure in the "
     "server's log."},
    /* Media and blob URLs; found by slug, so the generic rows above stay
     * the ones their codes map to. */
    {PL_ETOOBIG, 413, "media-too-large", "Media too large",
     "The upload is larger than the server accepts (the media_max_size setting) or larger than "
     "the size its upload URL was signed for."},
    {PL_EFORBIDDEN, 403, "bad-signature", "Invalid or expired URL",
     "The presigned URL's signature does not match what it is used for (another method, blob, "
     "size, content type or expiry) or the URL has expired. Ask for a new one."},
    {PL_EINVAL, 422, "upload-mismatch", "Upload does not match",
     "The uploaded bytes do not have the size or the SHA-256 declared when the upload was "
     "requested. Nothing was kept; upload again."},
    /* Abuse limits and quotas (api/limits.c). */
    {PL_ERATE, 429, "login-throttled", "Too many failed logins",
     "Too many logins with a wrong password for this account, or from this address, in a short "
     "time. Each further failure doubles the wait (up to login_backoff_max); retry after "
     "Retry-After seconds. A successful login resets the account's count."},
    {PL_ERATE, 429, "quota-exceeded", "Quota exceeded",
     "The caller used up one of its quotas (event streams, sends or searches per second, group "
     "creations per hour, media bytes per day, prekey bundle fetches per minute, registrations "
     "per address per hour); detail names it. Nothing was changed; retry after Retry-After "
     "seconds."},
    {PL_ECONFLICT, 409, "too-many-devices", "Too many devices",
     "The account already has as many active sessions (devices) as the server allows (the "
     "max_devices setting). Log out one of them (GET /v1/sessions lists them, DELETE "
     "/v1/sessions/{id} ends one) and log in again."},
    {PL_EFORBIDDEN, 403, "wrong-password", "Wrong password",
     "The current password given to change the password or to delete the account is not the "
     "account's password. Nothing was changed."},
    {PL_EBUSY, 503, "hashing-busy", "Password hashing busy",
     "Too many logins, registrations or password changes are waiting for a password-hashing "
     "thread (the pwhash_queue setting). Nothing was changed; retry after Retry-After seconds."},
    /* Account deletion and export (issue 12). */
    {PL_ECONFLICT, 409, "export-running", "Export running",
     "An export of this account is still being written; only one runs at a time. Wait for its "
     "export.ready event (or poll GET /v1/me/exports/{id}) and retry."},
    {PL_EBUSY, 503, "exports-busy", "Exports busy",
     "This server is already writing as many exports as it allows at once. Nothing was "
     "started; retry after Retry-After seconds."},
    /* Message requests and blocks (issue 12). */
    {PL_EFORBIDDEN, 403, "blocked", "Blocked",
     "The other user blocked you: you cannot send to them in a direct conversation, open one, "
     "add them to a group, or see their presence."},
    {PL_EFORBIDDEN, 403, "request-pending", "Request pending",
     "The user has not accepted your earlier message request yet; until they do you cannot add "
     "them to more groups."},
    {PL_EINVAL, 416, "range-not-satisfiable", "Range not satisfiable",
     "The Range header names no byte of the object; Content-Range gives its size."},
};

static const struct kind *kind_for(int rc, const char *slug)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(kinds); i++)
        if (slug ? strcmp(kinds[i].slug, slug) == 0 : kinds[i].rc == rc)
            return &kinds[i];
    /* Unknown codes (ENOMEM, ECANCELED, errno values) are server trouble. */
    if (rc == PL_ENOMEM || rc == PL_ECANCELED)
        return kind_for(PL_EBUSY, NULL);
    return kind_for(PL_EINTERNAL, NULL);
}

int api_problem_status(int rc)
{
    return kind_for(rc, NULL)->status;
}

const char *api_problem_explain(const char *slug)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].slug, slug) == 0)
            return kinds[i].explain;
    return NULL;
}

/* The request path as a URI reference: the path the transport gives us is
 * percent-decoded, so bytes that may not appear in a URI (CR, LF, space,
 * controls, non-ASCII) are encoded again. */
static const char *instance_of(struct http_req *req)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *path = http_req_path(req) ? http_req_path(req) : "/";
    char *out = pl_arena_alloc(http_req_arena(req), strlen(path) * 3 + 1), *o = out;
    if (!out)
        return "/";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p > 0x20 && *p < 0x7f && !strchr("\"<>\\^`{|}%[]#?", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
    yajl_gen_string(g, (const unsigned char *)k, strlen(k));
    yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

static void gen_errors(yajl_gen g, const struct api_errors *errs)
{
    yajl_gen_string(g, (const unsigned char *)"errors", 6);
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < errs->n; i++) {
        yajl_gen_map_open(g);
        gen_kv(g, "pointer", errs->e[i].pointer);
        gen_kv(g, "detail", errs->e[i].detail);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void add_headers(struct http_req *req, const struct kind *k, const struct api_problem *p)
{
    int rc = 0;
    if (k->status == 401)
        rc |= http_resp_header(req, "WWW-Authenticate",
                               p->invalid_token ? "Bearer realm=\"parley\", error=\"invalid_token\""
                                                : "Bearer realm=\"parley\"");
    if (k->status == 405 && p->allow)
        rc |= http_resp_header(req, "Allow", p->allow);
    if (k->rc == PL_EENCODING)
        rc |= http_resp_header(req, "Accept-Encoding", "br, identity");
    char ra[16];
    snprintf(ra, sizeof(ra), "%u",
             p->retry_after     ? p->retry_after
             : k->status == 429 ? 1
             : k->status == 507 ? 60
                                : 2);
    if (k->status == 429 || k->status == 503 || k->status == 507)
        rc |= http_resp_header(req, "Retry-After", ra);
    if (rc)
        pl_log_warn("req %llu: could not add problem headers",
                    (unsigned long long)http_req_id(req));
}

/* The fallback when the arena or yajl cannot allocate: a fixed document
 * that needs no memory. */
static const char oom_doc[] =
    "{\"type\":\"/problems/overloaded\",\"title\":\"Server overloaded\",\"status\":503}";

void api_problem_sendx(struct http_req *req, const struct api_problem *p)
{
    const struct kind *k = kind_for(p->rc, p->slug);
    yajl_gen g = yajl_gen_alloc(NULL);
    char rid[24], type[64];
    snprintf(rid, sizeof(rid), "%llu", (unsigned long long)http_req_id(req));
    snprintf(type, sizeof(type), "/problems/%s", k->slug);
    if (!g) {
        http_resp_set(req, 503, "application/problem+json", oom_doc, sizeof(oom_doc) - 1);
        return;
    }
    yajl_gen_map_open(g);
    gen_kv(g, "type", type);
    gen_kv(g, "title", k->title);
    yajl_gen_string(g, (const unsigned char *)"status", 6);
    yajl_gen_integer(g, k->status);
    gen_kv(g, "detail", p->detail ? p->detail : k->explain);
    gen_kv(g, "instance", instance_of(req));
    gen_kv(g, "request_id", rid);
    if (p->offset >= 0) {
        yajl_gen_string(g, (const unsigned char *)"offset", 6);
        yajl_gen_integer(g, p->offset);
    }
    if (p->errors && p->errors->n)
        gen_errors(g, p->errors);
    if (p->checks_json) {
        yajl_gen_string(g, (const unsigned char *)"checks", 6);
        yajl_gen_number(g, p->checks_json, strlen(p->checks_json));
    }
    for (size_t i = 0; i < PL_ARRAY_LEN(p->ext_key); i++)
        if (p->ext_key[i] && p->ext_json[i]) {
            yajl_gen_string(g, (const unsigned char *)p->ext_key[i], strlen(p->ext_key[i]));
            yajl_gen_number(g, p->ext_json[i], strlen(p->ext_json[i]));
        }
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *body = pl_arena_memdup(http_req_arena(req), buf, len);
    yajl_gen_free(g);
    if (!body) {
        http_resp_set(req, 503, "application/problem+json", oom_doc, sizeof(oom_doc) - 1);
        return;
    }
    add_headers(req, k, p);
    http_resp_set(req, k->status, "application/problem+json", body, len);
}

void api_problem_send(struct http_req *req, int rc, const char *detail)
{
    struct api_problem p = {.rc = rc, .detail = detail, .offset = -1};
    api_problem_sendx(req, &p);
}
