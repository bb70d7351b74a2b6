/* SPDX-License-Identifier: MIT */
/* Parley - PATCH /v1/conversations/{id}/settings: a member's pin, mute. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/conversations.h"

#include <string.h>

#define TS_MAX 40 /* "2026-12-06T05:23:08.123+01:00" and then some */

struct prefs {
    int pinned;              /* -1: not given */
    const char *muted_until; /* NULL: not given; "": null (unmute) */
};

/* Reads {pinned?, muted_until?}; field errors go to c->errs. null is
 * meaningful for muted_until (unmute), so the members are read by hand
 * rather than bound (binding treats null as absent). */
static int read_prefs(struct api_call *c, struct prefs *p)
{
    const struct api_json *obj;
    int rc = api__body_object(c, &obj);
    if (rc < 0)
        return rc;
    *p = (struct prefs){.pinned = -1};
    for (const struct api_json *m = obj->first; m; m = m->next) {
        if (strcmp(m->key, "pinned") == 0) {
            if (m->type != API_JSON_BOOL)
                api_errors_add(&c->errs, "/pinned", "must be true or false");
            else
                p->pinned = m->b;
        } else if (strcmp(m->key, "muted_until") == 0) {
            if (m->type == API_JSON_NULL)
                p->muted_until = "";
            else if (m->type != API_JSON_STRING || m->len == 0 || m->len > TS_MAX ||
                     strlen(m->str) != m->len)
                api_errors_add(&c->errs, "/muted_until", "must be an RFC 3339 timestamp or null");
            else
                p->muted_until = m->str;
        } else {
            const char *ptr = pl_arena_sprintf(c->a, "/%s", m->key);
            if (!ptr)
                return PL_ENOMEM;
            api_errors_add(&c->errs, ptr, "is not a member of this request");
        }
    }
    if (!c->errs.n && p->pinned < 0 && !p->muted_until)
        api_errors_add(&c->errs, "", "give pinned, muted_until or both");
    return c->errs.n ? api__fail_validation(c) : 0;
}

int api_conversation_settings_patch(struct api_call *c)
{
    int64_t id;
    int rc = api__conversation_id(c, &id);
    if (rc == 0)
        rc = api__require_member(c, id, NULL);
    struct prefs p = {.pinned = -1};
    if (rc == 0)
        rc = read_prefs(c, &p);
    if (rc < 0)
        return rc;
    rc = store_pg_member_prefs_set(c->w->pg, id, c->user_id, p.pinned, p.muted_until);
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc == PL_EINVAL)
        return api__fail_field(c, "/muted_until", "must be an RFC 3339 timestamp or null");
    struct store_conv cv;
    if (rc < 0 || (rc = store_pg_conv_get(c->w->pg, c->a, c->user_id, id, &cv)) < 0)
        return rc;
    return api__reply_conversation(c, 200, &cv, NULL, 0);
}
