/* SPDX-License-Identifier: MIT */
/* Parley - the E2E key directory: device keys, bundles, prekey counts.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/events.h"
#include "storage/keys.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/*
 * The server is a directory of public keys: it checks shapes, sizes and
 * the signed prekey's signature (so a client never fetches a bundle a
 * broken or malicious uploader could not have signed), hands out each
 * one-time prekey once, and tells peers when a device's identity key
 * appears or changes. It never holds a private key.
 */

#define OTPK_MAX 100 /* one-time prekeys per call */
#define KEY_BYTES 32
#define SIG_BYTES 64

struct key_upload {
    const char *identity; /* NULL: keep the stored one */
    bool has_spk;
    struct store_spk spk;
    const char *otpk_rows; /* JSON rows for store_pg_prekeys_add, or NULL */
    /* results */
    const char *effective_identity;
    bool announce;
    int64_t count, spk_id;
    uint64_t first_pos;
    int64_t *audience; /* self first, then the peers; one event each */
    unsigned n_audience;
    const char *payload;
};

/* 403 unless {id} is the calling device. */
static int own_device(struct api_call *c)
{
    int64_t id;
    if (api__parse_id(http_req_param(c->req, 0), &id) && id == c->device_id)
        return 0;
    api_problem_send(c->req, PL_EFORBIDDEN, "only the device itself may use its keys");
    return PL_EFORBIDDEN;
}

/* A uint32 member; false when absent or out of range. */
static bool get_u32(const struct api_json *obj, const char *key, uint32_t *out)
{
    int64_t v;
    const struct api_json *m = api_json_get(obj, key);
    if (!m || !api_json_int(m, &v) || v < 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static const char *get_key(const struct api_json *obj, const char *key, size_t bytes)
{
    const struct api_json *m = api_json_get(obj, key);
    size_t n;
    if (!m || m->type != API_JSON_STRING || !api__b64_check(m->str, bytes, bytes, &n))
        return NULL;
    return m->str;
}

/* Only the named members may appear in obj. */
static bool only_members(const struct api_json *obj, const char *const *names, unsigned n)
{
    for (const struct api_json *m = obj->first; m; m = m->next) {
        bool known = false;
        for (unsigned i = 0; i < n && !known; i++)
            known = strcmp(m->key, names[i]) == 0;
        if (!known)
            return false;
    }
    return true;
}

static void read_spk(struct api_call *c, const struct api_json *v, struct key_upload *u)
{
    static const char *const names[] = {"id", "public_key", "signature"};
    if (v->type != API_JSON_OBJECT || !only_members(v, names, 3)) {
        api_errors_add(&c->errs, "/signed_prekey",
                       "must be an object with id, public_key and signature");
        return;
    }
    u->has_spk = true;
    if (!get_u32(v, "id", &u->spk.id))
        api_errors_add(&c->errs, "/signed_prekey/id", "must be an integer from 0 to 4294967295");
    if (!(u->spk.public_key = get_key(v, "public_key", KEY_BYTES)))
        api_errors_add(&c->errs, "/signed_prekey/public_key",
                       "must be 32 bytes in base64url without padding");
    if (!(u->spk.signature = get_key(v, "signature", SIG_BYTES)))
        api_errors_add(&c->errs, "/signed_prekey/signature",
                       "must be 64 bytes in base64url without padding");
}

/* Validates one_time_prekeys and turns it into store_pg_prekeys_add rows. */
static int read_otpks(struct api_call *c, const struct api_json *v, struct key_upload *u)
{
    static const char *const names[] = {"id", "public_key"};
    if (v->type != API_JSON_ARRAY || v->n > OTPK_MAX) {
        api_errors_add(&c->errs, "/one_time_prekeys", "must be an array of at most 100 prekeys");
        return 0;
    }
    if (v->n == 0)
        return 0;
    uint32_t *ids = pl_arena_alloc(c->a, v->n * sizeof(*ids));
    yajl_gen g = api__gen_new();
    if (!ids || !g) {
        if (g)
            yajl_gen_free(g);
        return PL_ENOMEM;
    }
    yajl_gen_array_open(g);
    unsigned i = 0;
    for (const struct api_json *e = v->first; e; e = e->next, i++) {
        const char *ptr = pl_arena_sprintf(c->a, "/one_time_prekeys/%u", i);
        const char *key = e->type == API_JSON_OBJECT ? get_key(e, "public_key", KEY_BYTES) : NULL;
        bool ok = e->type == API_JSON_OBJECT && only_members(e, names, 2) &&
                  get_u32(e, "id", &ids[i]) && key;
        for (unsigned k = 0; ok && k < i; k++)
            ok = ids[k] != ids[i];
        if (!ok) {
            api_errors_add(&c->errs, ptr ? ptr : "/one_time_prekeys",
                           "must be {id: uint32, public_key: 32 bytes base64url}, ids unique");
            continue;
        }
        yajl_gen_map_open(g);
        api__gen_int(g, "id", ids[i]);
        api__gen_str(g, "k", key);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    u->otpk_rows = api__gen_take(c, g);
    return u->otpk_rows ? 0 : PL_ENOMEM;
}

/* Checks the signed prekey's signature by the identity key (both
 * validated base64url already). */
static bool spk_signed(const char *identity, const struct store_spk *spk)
{
    uint8_t pk[KEY_BYTES], pub[KEY_BYTES], sig[SIG_BYTES];
    return api__b64_decode(identity, pk, sizeof(pk)) &&
           api__b64_decode(spk->public_key, pub, sizeof(pub)) &&
           api__b64_decode(spk->signature, sig, sizeof(sig)) &&
           pcrypto_spk_verify(pk, spk->id, pub, sig) == 0;
}

/* Queues keys.changed for the device's user and every user sharing a
 * conversation with them: one targeted event each, so that each of them
 * (and a resume) sees it exactly once. Last step of the transaction: it
 * takes the stream positions. */
static int store_announce(struct api_call *c, struct key_upload *u)
{
    int64_t *peers;
    unsigned n_peers;
    int rc = store_pg_keys_peers(c->w->pg, c->a, c->user_id, &peers, &n_peers);
    if (rc < 0)
        return rc;
    u->n_audience = n_peers + 1;
    u->audience = pl_arena_alloc(c->a, u->n_audience * sizeof(*u->audience));
    yajl_gen g = api__gen_new();
    if (!u->audience || !g) {
        if (g)
            yajl_gen_free(g);
        return PL_ENOMEM;
    }
    u->audience[0] = c->user_id;
    memcpy(u->audience + 1, peers, n_peers * sizeof(*peers));
    yajl_gen_map_open(g);
    api__gen_int(g, "user_id", c->user_id);
    api__gen_int(g, "device_id", c->device_id);
    api__gen_str(g, "identity_key", u->effective_identity);
    yajl_gen_map_close(g);
    struct store_event_row *rows = pl_arena_alloc(c->a, u->n_audience * sizeof(*rows));
    if (!(u->payload = api__gen_take(c, g)) || !rows)
        return PL_ENOMEM;
    for (unsigned i = 0; i < u->n_audience; i++)
        rows[i] = (struct store_event_row){
            .target_user_id = u->audience[i], .type = "keys.changed", .payload = u->payload};
    return store_pg_events_append(c->w->pg, rows, u->n_audience, &u->first_pos);
}

static int keys_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct key_upload *u = arg;
    struct store_pg *pg = c->w->pg;
    const char *stored;
    (void)em;
    int rc = store_pg_keys_lock(pg, c->a, c->device_id, &stored);
    if (rc < 0)
        return rc;
    bool changed = stored && u->identity && strcmp(stored, u->identity) != 0;
    if (!stored && (!u->identity || !u->has_spk))
        return api__fail_field(c, "",
                               "identity_key and signed_prekey are required on the "
                               "first upload");
    if (changed && !u->has_spk)
        return api__fail_field(c, "/signed_prekey", "is required with a new identity_key");
    u->effective_identity = u->identity ? u->identity : stored;
    if (u->has_spk && !spk_signed(u->effective_identity, &u->spk))
        return api__fail_field(c, "/signed_prekey/signature",
                               "is not a valid signature of the signed prekey by the identity key");
    if (u->has_spk && (rc = store_pg_keys_put(pg, c->device_id, c->user_id, u->effective_identity,
                                              &u->spk, changed)) < 0)
        return rc;
    if (u->otpk_rows && (rc = store_pg_prekeys_add(pg, c->device_id, u->otpk_rows)) < 0) {
        if (rc == PL_ECONFLICT)
            return api__fail_field(c, "/one_time_prekeys",
                                   "a prekey id is already stored for this device");
        return rc;
    }
    bool has_keys;
    if ((rc = store_pg_prekeys_count(pg, c->device_id, &u->count, &u->spk_id, &has_keys)) < 0)
        return rc;
    u->announce = !stored || changed;
    return u->announce ? store_announce(c, u) : 0;
}

static int keys_put(struct api_call *c)
{
    int rc = own_device(c);
    if (rc < 0)
        return rc;
    struct key_upload u = {0};
    const struct api_json *spk = NULL, *otpks = NULL;
    const char *identity = NULL;
    const struct api_field fields[] = {
        {"identity_key", API_FIELD_STRING, false, &identity},
        {"signed_prekey", API_FIELD_ANY, false, &spk},
        {"one_time_prekeys", API_FIELD_ANY, false, &otpks},
    };
    if ((rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields))) < 0)
        return rc;
    if (identity && !api__b64_check(identity, KEY_BYTES, KEY_BYTES, NULL))
        api_errors_add(&c->errs, "/identity_key", "must be 32 bytes in base64url without padding");
    u.identity = identity;
    if (spk)
        read_spk(c, spk, &u);
    if (otpks && (rc = read_otpks(c, otpks, &u)) < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    if ((rc = api__tx_emit(c, keys_tx, &u)) < 0)
        return rc;
    for (unsigned i = 0; u.announce && i < u.n_audience; i++)
        c->env->publish(c->env->publish_ctx, u.first_pos + i, "keys.changed", u.payload,
                        strlen(u.payload), &u.audience[i], 1);
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_str(g, "identity_key", u.effective_identity);
    api__gen_int(g, "signed_prekey_id", u.spk_id);
    api__gen_int(g, "one_time_prekeys", u.count);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int keys_count(struct api_call *c)
{
    int rc = own_device(c);
    if (rc < 0)
        return rc;
    int64_t count, spk_id;
    bool has_keys;
    if ((rc = store_pg_prekeys_count(c->w->pg, c->device_id, &count, &spk_id, &has_keys)) < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "one_time_prekeys", count);
    api__gen_key(g, "signed_prekey_id");
    if (has_keys)
        yajl_gen_integer(g, spk_id);
    else
        yajl_gen_null(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* {user} of the path: 404 problem when nobody has that id or name. */
static int path_user(struct api_call *c, int64_t *user)
{
    int rc = api__resolve_user(c, http_req_param(c->req, 0), user);
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such user");
    return rc;
}

static void gen_spk(yajl_gen g, const char *key, const struct store_spk *k, bool sig)
{
    api__gen_key(g, key);
    yajl_gen_map_open(g);
    api__gen_int(g, "id", k->id);
    api__gen_str(g, "public_key", k->public_key);
    if (sig)
        api__gen_str(g, "signature", k->signature);
    yajl_gen_map_close(g);
}

static int reply_devices(struct api_call *c, int64_t user, const struct store_device_key *d,
                         unsigned n, bool bundles)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "user_id", user);
    api__gen_key(g, "devices");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "device_id", d[i].device_id);
        api__gen_str(g, "identity_key", d[i].identity_key);
        if (bundles) {
            gen_spk(g, "signed_prekey", &d[i].spk, true);
            if (d[i].has_otpk) {
                gen_spk(g, "one_time_prekey", &d[i].otpk, false);
            } else {
                api__gen_key(g, "one_time_prekey");
                yajl_gen_null(g);
            }
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int devices_get(struct api_call *c)
{
    int64_t user;
    int rc = path_user(c, &user);
    if (rc < 0)
        return rc;
    struct store_device_key *d;
    unsigned n;
    if ((rc = store_pg_devices_keyed(c->w->pg, c->a, user, &d, &n)) < 0)
        return rc;
    return reply_devices(c, user, d, n, false);
}

/* ?device=N (repeatable; a value may also list several, comma-separated). */
struct device_filter {
    struct api_call *c;
    int64_t ids[64];
    unsigned n;
    bool bad;
};

static int on_query(void *ctx, const char *name, const char *value)
{
    struct device_filter *f = ctx;
    if (strcmp(name, "device") != 0)
        return 0;
    char *copy = pl_arena_strndup(f->c->a, value, strlen(value));
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        if (f->n == PL_ARRAY_LEN(f->ids) || !api__parse_id(t, &f->ids[f->n])) {
            f->bad = true;
            return 1;
        }
        f->n++;
    }
    f->bad |= !copy;
    return f->bad;
}

static int keys_get(struct api_call *c)
{
    int64_t user;
    int rc = path_user(c, &user);
    if (rc < 0)
        return rc;
    struct device_filter f = {.c = c};
    /* on_query stops the walk (non-zero) exactly when it marks f bad. */
    if (http_req_query_each(c->req, on_query, &f) != 0 || f.bad) {
        api_problem_send(c->req, PL_EMALFORMED, "device must be device ids (at most 64)");
        return PL_EMALFORMED;
    }
    /* Each fetch hands out one-time prekeys: bound how fast one requester
     * can take them, and how fast anyone's can be taken by all requesters
     * together (many accounts draining one target). */
    if ((rc = api__limit_user(c, API_LIMIT_KEYS_REQUESTER, c->user_id, 1)) < 0 ||
        (rc = api__limit_user(c, API_LIMIT_KEYS_TARGET, user, 1)) < 0)
        return rc;
    struct store_device_key *d;
    unsigned n;
    if ((rc = store_pg_bundles_take(c->w->pg, c->a, user, c->device_id, f.ids, f.n, &d, &n)) < 0)
        return rc;
    return reply_devices(c, user, d, n, true);
}

const struct api_route_def api__key_routes[] = {
    {"PUT", "/v1/devices/{id}/keys", keys_put, API_AUTH},
    {"GET", "/v1/devices/{id}/keys/count", keys_count, API_AUTH},
    {"GET", "/v1/users/{user}/devices", devices_get, API_AUTH},
    {"GET", "/v1/users/{user}/keys", keys_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
