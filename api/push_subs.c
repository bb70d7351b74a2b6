/* SPDX-License-Identifier: MIT */
/* Parley - Web Push: the VAPID key and subscriptions (/v1/push/...).   */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/push_subs.h"
#include "webpush/webpush.h"

#include <string.h>

/* GET /v1/push/vapid: the applicationServerKey a browser subscribes with.
 * Public, inline: a constant string. */
static int api_push_vapid_get(struct api_call *c)
{
    const char *key = c->env->cfg->vapid_public_key;
    if (!key || !*key) {
        api_problem_send(c->req, PL_EUNAVAIL, "Web Push is not configured on this server");
        return PL_EUNAVAIL;
    }
    const char *body = pl_arena_sprintf(c->a, "{\"public_key\":\"%s\"}", key);
    if (!body)
        return PL_ENOMEM;
    api__reply_raw(c, 200, "application/json", body, strlen(body));
    return 0;
}

struct sub_in {
    const char *endpoint, *p256dh, *auth;
};

/* A key member of "keys": a base64url string of exactly len bytes. */
static const char *key_member(struct api_call *c, const struct api_json *keys, const char *name,
                              size_t len)
{
    const struct api_json *v = api_json_get(keys, name);
    const char *ptr = pl_arena_sprintf(c->a, "/keys/%s", name);
    uint8_t buf[WEBPUSH_PUBLIC_LEN + 1];
    if (!v || v->type != API_JSON_STRING) {
        api_errors_add(&c->errs, ptr, "is required and must be a base64url string");
        return NULL;
    }
    int n = webpush_b64url_decode(v->str, buf, sizeof(buf));
    if (n != (int)len || strchr(v->str, '=')) {
        api_errors_add(
            &c->errs, ptr,
            pl_arena_sprintf(c->a, "must be %zu bytes in base64url without padding", len));
        return NULL;
    }
    if (len == WEBPUSH_PUBLIC_LEN && !webpush_public_valid(buf)) {
        api_errors_add(&c->errs, ptr, "is not an uncompressed P-256 public key");
        return NULL;
    }
    return v->str;
}

/* Reads and checks {endpoint, keys: {p256dh, auth}}; field errors go to
 * c->errs. */
static int read_sub(struct api_call *c, struct sub_in *in)
{
    const struct api_json *keys = NULL, *ignored = NULL;
    const struct api_field fields[] = {
        {"endpoint", API_FIELD_STRING, true, &in->endpoint},
        {"keys", API_FIELD_ANY, true, &keys},
        /* What PushSubscription.toJSON() adds; accepted and ignored. */
        {"expirationTime", API_FIELD_ANY, false, &ignored},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    char origin[512];
    if (in->endpoint && webpush_endpoint_origin(in->endpoint, c->env->cfg->webpush_allow_http,
                                                origin, sizeof(origin)) < 0)
        api_errors_add(&c->errs, "/endpoint", "must be an https URL of a push service");
    else if (in->endpoint && strlen(in->endpoint) > 2048)
        api_errors_add(&c->errs, "/endpoint", "must be at most 2048 bytes");
    if (keys && keys->type != API_JSON_OBJECT)
        api_errors_add(&c->errs, "/keys", "must be an object with p256dh and auth");
    else if (keys) {
        in->p256dh = key_member(c, keys, "p256dh", WEBPUSH_PUBLIC_LEN);
        in->auth = key_member(c, keys, "auth", WEBPUSH_AUTH_LEN);
    }
    return 0;
}

static void gen_sub(struct api_call *c, yajl_gen g, const struct store_push_sub *s)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", s->id);
    api__gen_int(g, "device_id", s->device_id);
    api__gen_str(g, "endpoint", s->endpoint);
    api__gen_key(g, "current_device");
    yajl_gen_bool(g, s->device_id == c->device_id);
    if (s->created_at)
        api__gen_str(g, "created_at", s->created_at);
    yajl_gen_map_close(g);
}

/* POST /v1/push/subscriptions: 201 for a new one, 200 when this device
 * had registered the endpoint already (its keys are replaced). */
static int api_push_subs_create(struct api_call *c)
{
    struct sub_in in = {0};
    int rc = read_sub(c, &in);
    if (rc < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    int64_t id;
    bool created;
    rc = store_pg_push_sub_put(c->w->pg, c->user_id, c->device_id, in.endpoint, in.p256dh, in.auth,
                               &id, &created);
    if (rc == PL_ECONFLICT) {
        api_problem_send(c->req, rc,
                         pl_arena_sprintf(c->a, "this device has %d push subscriptions already",
                                          STORE_PUSH_SUBS_PER_DEVICE));
        return rc;
    }
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    struct store_push_sub s = {
        .id = id, .user_id = c->user_id, .device_id = c->device_id, .endpoint = in.endpoint};
    gen_sub(c, g, &s);
    return api__reply_json(c, created ? 201 : 200, g);
}

static int api_push_subs_list(struct api_call *c)
{
    struct store_push_sub *v;
    unsigned n;
    int rc = store_pg_push_subs_list(c->w->pg, c->a, c->user_id, &v, &n);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "subscriptions");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++)
        gen_sub(c, g, &v[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int api_push_subs_delete(struct api_call *c)
{
    int64_t id;
    if (!api__parse_id(http_req_param(c->req, 0), &id)) {
        api_problem_send(c->req, PL_ENOTFOUND, "no such push subscription");
        return PL_ENOTFOUND;
    }
    int rc = store_pg_push_sub_delete(c->w->pg, c->user_id, id);
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such push subscription");
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

const struct api_route_def api__push_routes[] = {
    {"GET", "/v1/push/vapid", api_push_vapid_get, API_INLINE},
    {"POST", "/v1/push/subscriptions", api_push_subs_create, API_AUTH},
    {"GET", "/v1/push/subscriptions", api_push_subs_list, API_AUTH},
    {"DELETE", "/v1/push/subscriptions/{id}", api_push_subs_delete, API_AUTH},
    {NULL, NULL, NULL, 0},
};
