/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: users, conversations and messages.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* client_msg_ids only need to be unique per device; a process-wide counter
 * keeps them unique per case. */
static unsigned long msg_counter;

char *pt_json_quote(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(6 * n + 3), *o = out;
    PL_ASSERT(out);
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

int pt_is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!s || strlen(s) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return 1;
}

void pt_reqf(struct pt_server *s, enum pt_proto p, const char *method, const char *token,
             struct pt_resp *out, const char *path, const char *fmt, ...)
{
    char *body = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&body, fmt, ap);
        va_end(ap);
        PL_ASSERT(n >= 0);
    }
    int rc = pt_req(s, p, method, path, token, body ? "application/json" : NULL, body,
                    body ? strlen(body) : 0, out);
    free(body);
    if (rc < 0)
        pltest_fail(__FILE__, __LINE__, "request failed: %s", pt_req_error());
}

void pt__user_new(const char *file, int line, struct pt_server *s, enum pt_proto p,
                  const char *prefix, struct pt_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = pt_user_register(s, p, prefix, u->name);
    u->device = pt_login(s, p, u->name, PT_PASSWORD, u->token);
    if (u->id <= 0 || u->device <= 0)
        pltest_fail(file, line, "user %s: id %lld device %lld", u->name, (long long)u->id,
                    (long long)u->device);
}

void pt_user_device(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                    struct pt_user *dev)
{
    *dev = *u;
    dev->device = pt_login(s, p, u->name, PT_PASSWORD, dev->token);
    PL_ASSERT(dev->device != u->device);
}

void pt_session_revoke(struct pt_server *s, enum pt_proto p, const char *token, int64_t device)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/sessions/%lld", (long long)device);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, p, "DELETE", path, token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

int pt_sessions_status(struct pt_server *s, enum pt_proto p, const char *token)
{
    struct pt_resp r;
    pt_get(s, p, "/v1/sessions", token, &r);
    int st = (int)r.status;
    if (st == 401)
        PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    return st;
}

bool pt_token_cached(struct pt_server *s, enum pt_proto p, const char *token)
{
    for (int tries = 0; tries < 20; tries++) {
        long long hits = pt_metric(s, p, "parley_token_cache_hits_total");
        PL_ASSERT_INT_EQ(pt_sessions_status(s, p, token), 200);
        if (pt_metric(s, p, "parley_token_cache_hits_total") > hits)
            return true;
    }
    return false;
}

int64_t pt__direct(const char *file, int line, struct pt_server *s, enum pt_proto p,
                   const struct pt_user *me, int64_t peer, long want)
{
    struct pt_resp r;
    pt_reqf(s, p, "POST", me->token, &r, "/v1/conversations", "{\"kind\":\"direct\",\"user\":%lld}",
            (long long)peer);
    if (want ? r.status != want : r.status != 200 && r.status != 201)
        pltest_fail(file, line, "direct conversation with %lld: expected %ld, got %ld: %.300s",
                    (long long)peer, want ? want : 201, r.status, r.body);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    if (id <= 0)
        pltest_fail(file, line, "direct conversation without an id: %.300s", r.body);
    pt_resp_free(&r);
    return id;
}

int64_t pt__group(const char *file, int line, struct pt_server *s, enum pt_proto p,
                  const struct pt_user *me, const char *title, const int64_t *members, size_t n)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    PL_ASSERT(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)members[i]);
    fclose(f);
    char *qt = pt_json_quote(title);
    struct pt_resp r;
    pt_reqf(s, p, "POST", me->token, &r, "/v1/conversations",
            "{\"kind\":\"group\",\"title\":%s,\"members\":[%s]}", qt, list);
    free(qt);
    free(list);
    if (r.status != 201)
        pltest_fail(file, line, "group \"%s\": expected 201, got %ld: %.300s", title, r.status,
                    r.body);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    if (id <= 0)
        pltest_fail(file, line, "group without an id: %.300s", r.body);
    pt_resp_free(&r);
    return id;
}

struct pt_msg pt__send(const char *file, int line, struct pt_server *s, enum pt_proto p,
                       const struct pt_user *me, int64_t conv, const char *text)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    char *qt = pt_json_quote(text);
    struct pt_resp r;
    pt_reqf(s, p, "POST", me->token, &r, path,
            "{\"client_msg_id\":\"pt-%lu\",\"kind\":\"text\",\"text\":%s}", ++msg_counter, qt);
    free(qt);
    if (r.status != 201)
        pltest_fail(file, line, "send to %lld: expected 201, got %ld: %.300s", (long long)conv,
                    r.status, r.body);
    yajl_val t = pt_json(&r);
    struct pt_msg m = {pt_json_int(t, "id", NULL), pt_json_int(t, "seq", NULL)};
    if (m.id <= 0 || m.seq <= 0)
        pltest_fail(file, line, "message without id or seq: %.300s", r.body);
    pt_resp_free(&r);
    return m;
}

void pt__receipt(const char *file, int line, struct pt_server *s, enum pt_proto p,
                 const struct pt_user *me, int64_t conv, const char *type, int64_t up_to_seq)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", (long long)conv);
    struct pt_resp r;
    pt_reqf(s, p, "POST", me->token, &r, path, "{\"type\":\"%s\",\"up_to_seq\":%lld}", type,
            (long long)up_to_seq);
    if (r.status != 200)
        pltest_fail(file, line, "%s receipt up to %lld in %lld: expected 200, got %ld: %.300s",
                    type, (long long)up_to_seq, (long long)conv, r.status, r.body);
    pt_resp_free(&r);
}

int64_t pt_sse_int(const struct pt_sse_event *ev, const char *key1, const char *key2)
{
    if (!ev->json)
        return PT_JSON_MISSING;
    return key2 ? pt_json_int(ev->json, key1, key2, NULL) : pt_json_int(ev->json, key1, NULL);
}

int pt_sse_next_durable(struct pt_sse *sse, int timeout_ms, struct pt_sse_event *ev)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        uint64_t now = pt_now_ms();
        int rc = pt_sse_next(sse, now < deadline ? (int)(deadline - now) : 0, ev);
        if (rc < 0 || (strcmp(ev->name, "presence") != 0 && strcmp(ev->name, "typing") != 0))
            return rc;
        pt_sse_event_free(ev);
    }
}

void pt__sse_expect_next(const char *file, int line, struct pt_sse *sse, const char *name,
                         int timeout_ms, struct pt_sse_event *ev)
{
    int rc = pt_sse_next_durable(sse, timeout_ms, ev);
    if (rc == PT_SSE_TIMEOUT)
        pltest_fail(file, line, "no event within %d ms (waiting for %s)", timeout_ms, name);
    if (rc == PT_SSE_ENDED)
        pltest_fail(file, line, "the stream ended (waiting for %s)", name);
    if (strcmp(ev->name, name) != 0)
        pltest_fail(file, line, "expected %s, got %s id:%s: %.300s", name, ev->name, ev->id,
                    ev->data);
}

void pt__sse_expect_msg(const char *file, int line, struct pt_sse *sse, int64_t id, int timeout_ms)
{
    struct pt_sse_event ev;
    int rc = pt_sse_next_durable(sse, timeout_ms, &ev);
    if (rc == PT_SSE_TIMEOUT)
        pltest_fail(file, line, "message %lld did not arrive within %d ms", (long long)id,
                    timeout_ms);
    if (rc == PT_SSE_ENDED)
        pltest_fail(file, line, "the stream ended before message %lld", (long long)id);
    int64_t got = pt_sse_int(&ev, "message", "id");
    if (strcmp(ev.name, "message.created") != 0 || got != id || ev.pos != id)
        pltest_fail(file, line, "expected message.created %lld, got %s id:%s: %.300s",
                    (long long)id, ev.name, ev.id, ev.data);
    pt_sse_event_free(&ev);
}

struct pt_sse *pt__sse_open_ready(const char *file, int line, struct pt_server *s, enum pt_proto p,
                                  const char *token, int64_t *pos)
{
    struct pt_sse *sse = pt_sse_open(s, p, token, NULL);
    struct pt_sse_event ev;
    pt__sse_expect_next(file, line, sse, "ready", 5000, &ev);
    int64_t at = pt_sse_int(&ev, "position", NULL);
    if (ev.id[0] || at < 0 || at == PT_JSON_MISSING)
        pltest_fail(file, line, "ready with id \"%s\" and data %s", ev.id, ev.data);
    pt_sse_event_free(&ev);
    if (pos)
        *pos = at;
    return sse;
}
