/* SPDX-License-Identifier: MIT */
/* Parley - sending kind "e2e": envelope checks and the device-set rule. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/keys.h"
#include "storage/media.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/*
 * The server validates an envelope's shape and sizes, never its content.
 * Pairwise messages must be addressed to exactly the active keyed devices
 * of every member (the sender's other devices included, the sending
 * device excluded): a device that would silently miss a message is the
 * failure mode this rule exists for, so a stale device list gets a 409
 * naming the missing and extra devices and the client retries with the
 * same client_msg_id. The check runs here, before the send is queued for
 * the writer; a device that appears between it and the commit gets the
 * message's successors (its keys.changed event tells the senders).
 */

#define RECIPIENTS_MAX 1024
#define MEDIA_MAX 32

static int cmp_dev(const void *x, const void *y)
{
    int64_t a = ((const struct store_e2e_recipient *)x)->device_id;
    int64_t b = ((const struct store_e2e_recipient *)y)->device_id;
    return (a > b) - (a < b);
}

static bool is_type(const char *t)
{
    return t && (strcmp(t, "prekey") == 0 || strcmp(t, "message") == 0);
}

/* Reads recipients[] into e (sorted by device id); errors into c->errs. */
static int read_recipients(struct api_call *c, const struct api_json *v, struct store_e2e_send *e)
{
    static const char *const detail =
        "must be {device_id, type: prekey|message, ciphertext: base64url of at most 128 KiB}";
    if (!v || v->type != API_JSON_ARRAY || v->n > RECIPIENTS_MAX) {
        api_errors_add(&c->errs, "/e2e/recipients", "must be an array of at most 1024 entries");
        return 0;
    }
    e->r = pl_arena_zalloc(c->a, (v->n ? v->n : 1) * sizeof(*e->r));
    if (!e->r)
        return PL_ENOMEM;
    unsigned i = 0;
    for (const struct api_json *x = v->first; x; x = x->next, i++) {
        struct store_e2e_recipient *r = &e->r[e->n];
        const struct api_json *d = NULL, *t = NULL, *ct = NULL;
        unsigned members = 0;
        if (x->type == API_JSON_OBJECT) {
            d = api_json_get(x, "device_id");
            t = api_json_get(x, "type");
            ct = api_json_get(x, "ciphertext");
            members = x->n;
        }
        size_t n = 0;
        bool ok = d && t && ct && members == 3 && api_json_int(d, &r->device_id) &&
                  r->device_id > 0 && t->type == API_JSON_STRING && is_type(t->str) &&
                  ct->type == API_JSON_STRING && api__b64_check(ct->str, 1, API_E2E_CT_MAX, &n);
        if (!ok) {
            const char *ptr = pl_arena_sprintf(c->a, "/e2e/recipients/%u", i);
            api_errors_add(&c->errs, ptr ? ptr : "/e2e/recipients", detail);
            continue;
        }
        r->type = t->str;
        r->ciphertext = ct->str;
        e->bytes += ct->len;
        e->n++;
    }
    qsort(e->r, e->n, sizeof(*e->r), cmp_dev);
    for (unsigned k = 1; k < e->n; k++)
        if (e->r[k].device_id == e->r[k - 1].device_id) {
            api_errors_add(&c->errs, "/e2e/recipients", "names a device twice");
            break;
        }
    return 0;
}

static void read_media(struct api_call *c, const struct api_json *v, struct store_e2e_send *e)
{
    if (!v)
        return;
    if (v->type != API_JSON_ARRAY || v->n > MEDIA_MAX) {
        api_errors_add(&c->errs, "/e2e/media_ids", "must be an array of at most 32 media ids");
        return;
    }
    e->media_ids = pl_arena_alloc(c->a, (v->n ? v->n : 1) * sizeof(*e->media_ids));
    if (!e->media_ids)
        return;
    for (const struct api_json *x = v->first; x; x = x->next) {
        int64_t id;
        if (!api_json_int(x, &id) || id <= 0) {
            api_errors_add(&c->errs, "/e2e/media_ids", "must be media ids (integers >= 1)");
            return;
        }
        bool dup = false;
        for (unsigned k = 0; k < e->n_media && !dup; k++)
            dup = e->media_ids[k] == id;
        if (!dup)
            e->media_ids[e->n_media++] = id;
    }
}

/* The media an e2e message references must be ready uploads of the
 * sender, as for media messages (api/media_msg.c): members may download
 * what a message references, so it must not name someone else's upload. */
static int check_media(struct api_call *c, const struct store_e2e_send *e)
{
    unsigned ok = 0;
    int rc = e->n_media ? store_pg_media_count_sendable(c->w->pg, e->media_ids, e->n_media,
                                                        c->user_id, &ok)
                        : 0;
    if (rc == 0 && ok < e->n_media && (rc = api__media_confirm(c, e->media_ids, e->n_media)) > 0)
        rc = store_pg_media_count_sendable(c->w->pg, e->media_ids, e->n_media, c->user_id, &ok);
    if (rc < 0 || ok == e->n_media)
        return rc;
    return api__fail_field(c, "/e2e/media_ids", "must name completed uploads of yours");
}

/* The members every viewer shares, as the message body. */
static const char *shared_body(struct api_call *c, const char *group,
                               const struct store_e2e_send *e, const struct api_e2e_action *act)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return NULL;
    yajl_gen_map_open(g);
    api__gen_int(g, "sender_device", c->device_id);
    api__gen_key(g, "group");
    if (group)
        yajl_gen_string(g, (const unsigned char *)group, strlen(group));
    else
        yajl_gen_null(g);
    api__gen_key(g, "media_ids");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < e->n_media; i++)
        yajl_gen_integer(g, e->media_ids[i]);
    yajl_gen_array_close(g);
    if (act->action) {
        api__gen_int(g, "refers_to", act->refers_to);
        api__gen_str(g, "action", act->action);
    }
    yajl_gen_map_close(g);
    return api__gen_take(c, g);
}

/* A JSON array of {"user_id", "device_id"} (user 0: null, not known). */
static const char *device_list(struct api_call *c, const int64_t *users, const int64_t *devs,
                               unsigned n)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return NULL;
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_key(g, "user_id");
        if (users[i])
            yajl_gen_integer(g, users[i]);
        else
            yajl_gen_null(g);
        api__gen_int(g, "device_id", devs[i]);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    return api__gen_take(c, g);
}

/* Compares the recipients (sorted) with the expected devices (the
 * audience without the sending device) and answers 409 on a mismatch.
 * With a group ciphertext only extra devices count. */
static int check_devices(struct api_call *c, const struct store_e2e_send *e,
                         const struct store_device_key *aud, unsigned n_aud, bool group)
{
    unsigned cap = e->n + n_aud + 1;
    int64_t *mu = pl_arena_zalloc(c->a, cap * sizeof(int64_t));
    int64_t *md = pl_arena_zalloc(c->a, cap * sizeof(int64_t));
    int64_t *xd = pl_arena_zalloc(c->a, cap * sizeof(int64_t));
    int64_t *xu = pl_arena_zalloc(c->a, cap * sizeof(int64_t));
    if (!mu || !md || !xd || !xu)
        return PL_ENOMEM;
    unsigned n_missing = 0, n_extra = 0;
    for (unsigned i = 0; i < n_aud; i++) {
        if (aud[i].device_id == c->device_id)
            continue;
        struct store_e2e_recipient key = {.device_id = aud[i].device_id};
        if (!bsearch(&key, e->r, e->n, sizeof(*e->r), cmp_dev) && !group) {
            mu[n_missing] = aud[i].user_id;
            md[n_missing++] = aud[i].device_id;
        }
    }
    for (unsigned i = 0; i < e->n; i++) {
        bool known = false;
        for (unsigned k = 0; k < n_aud && !known; k++)
            known = aud[k].device_id == e->r[i].device_id && aud[k].device_id != c->device_id;
        if (!known)
            xd[n_extra++] = e->r[i].device_id; /* xu stays 0: the user is not known */
    }
    if (!n_missing && !n_extra)
        return 0;
    const char *missing = device_list(c, mu, md, n_missing);
    const char *extra = device_list(c, xu, xd, n_extra);
    if (!missing || !extra)
        return PL_ENOMEM;
    struct api_problem p = {
        .rc = PL_ECONFLICT,
        .slug = "devices-changed",
        .detail = "the recipients are not the conversation's devices; refresh the device lists "
                  "and retry with the same client_msg_id",
        .offset = -1,
        .ext_key = {"missing_devices", "extra_devices"},
        .ext_json = {missing, extra},
    };
    api_problem_sendx(c->req, &p);
    return PL_ECONFLICT;
}

int api__e2e_read_send(struct api_call *c, int64_t conv, const struct api_json *v,
                       struct store_send *s)
{
    static const char *const names[] = {"recipients", "group", "media_ids", "refers_to", "action"};
    struct api_e2e_action act;
    struct store_e2e_send *e = pl_arena_zalloc(c->a, sizeof(*e));
    if (!e)
        return PL_ENOMEM;
    const struct api_json *group = NULL;
    bool shape = v && v->type == API_JSON_OBJECT;
    for (const struct api_json *m = shape ? v->first : NULL; m && shape; m = m->next) {
        bool known = false;
        for (unsigned k = 0; k < PL_ARRAY_LEN(names) && !known; k++)
            known = strcmp(m->key, names[k]) == 0;
        shape = known;
    }
    if (!shape) {
        api_errors_add(&c->errs, "/e2e",
                       "must be an object with recipients, group, media_ids, refers_to, action");
        return api__fail_validation(c);
    }
    int rc = read_recipients(c, api_json_get(v, "recipients"), e);
    if (rc < 0)
        return rc;
    group = api_json_get(v, "group");
    if (group && group->type == API_JSON_NULL)
        group = NULL;
    if (group &&
        !(group->type == API_JSON_STRING && api__b64_check(group->str, 1, API_E2E_CT_MAX, NULL)))
        api_errors_add(&c->errs, "/e2e/group", "must be base64url of at most 128 KiB");
    read_media(c, api_json_get(v, "media_ids"), e);
    if ((rc = api__e2e_action_read(c, v, &act)) < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    const char *encryption;
    struct store_device_key *aud;
    unsigned n_aud;
    rc = store_pg_e2e_audience(c->w->pg, c->a, conv, c->user_id, &encryption, &aud, &n_aud);
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc < 0)
        return rc;
    if (strcmp(encryption, "e2e") != 0)
        return api__fail_field(c, "/kind", "kind \"e2e\" is only for e2e conversations");
    if ((rc = check_media(c, e)) < 0 || (rc = check_devices(c, e, aud, n_aud, group != NULL)) < 0 ||
        (rc = api__e2e_action_check(c, conv, s->client_msg_id, &act)) < 0)
        return rc;
    if (group)
        e->bytes += group->len;
    s->kind = "e2e";
    s->e2e = e;
    s->body = shared_body(c, group ? group->str : NULL, e, &act);
    return s->body ? 0 : PL_ENOMEM;
}
