/* SPDX-License-Identifier: MIT */
/* Parley - DELETE /v1/me: account deletion with a password re-check.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "common/log.h"
#include "storage/account.h"
#include "storage/blob.h"
#include "storage/conversations.h"
#include "storage/presence.h"
#include "storage/sessions.h"

#include <stdio.h>
#include <string.h>

PL_LOG_TOPIC("api");

/*
 * Deleting an account erases what belongs to the user alone and keeps
 * what belongs to conversations with others:
 *   - erased: sessions (tokens stop working at the commit, and every open
 *     event stream of the user is closed on every node), devices with
 *     their E2E identity keys, prekeys and Web Push subscriptions,
 *     presence in Redis and last seen, blocks in both directions, "delete for me" marks, pin/mute
 * settings, exports, uploads no message references (rows and blobs, through storage/blob.h, so fs
 * and S3 alike) and the profile;
 *   - kept: the messages the user sent, in the other members' history,
 *     search and archives. Their "sender" id now names a tombstone whose
 *     profile reads {"deleted": true, "display_name": "Deleted account"}
 *     (migrations/0016_account.sql). The username is freed.
 * The user leaves every group first, each with a member.removed event as
 * if it had left itself, so admins are promoted the usual way; direct
 * conversations stay, readable by the other side.
 *
 * The groups are left one transaction each, before the erase: a failure
 * half way leaves an account that still exists and can retry, never a
 * deleted one stuck in groups.
 */

struct account_delete {
    const char *password;
    char account[24];
};

struct leave {
    int64_t conv;
};

static int leave_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct leave *l = arg;
    struct store_conv_lock lk;
    int rc = store_pg_conv_lock(c->w->pg, l->conv, c->user_id, &lk);
    if (rc == PL_ENOTFOUND || (rc == 0 && lk.caller_role == STORE_ROLE_NONE))
        return 0; /* left or gone meanwhile */
    enum store_role was;
    if (rc == 0)
        rc = store_pg_member_remove(c->w->pg, l->conv, c->user_id, &was);
    if (rc == 0)
        rc = store_pg_conv_touch(c->w->pg, l->conv, -1);
    int64_t promoted;
    if (rc == 0 && was == STORE_ROLE_ADMIN)
        rc = store_pg_member_promote_oldest(c->w->pg, l->conv, &promoted);
    if (rc < 0)
        return rc;
    /* The same payload as a member leaving by itself (api/members.c). */
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", l->conv);
    api__gen_int(g, "user_id", c->user_id);
    api__gen_int(g, "by", c->user_id);
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    return payload ? api__emit(em, "member.removed", l->conv, c->user_id, payload) : PL_ENOMEM;
}

static int leave_groups(struct api_call *c)
{
    int64_t *ids;
    unsigned n;
    int rc = store_pg_account_groups(c->w->pg, c->a, c->user_id, &ids, &n);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        struct leave l = {.conv = ids[i]};
        rc = api__tx_emit(c, leave_tx, &l);
    }
    return rc;
}

static int erase(struct api_call *c, struct store_account_erased *out)
{
    int rc = store_pg_tx_begin(c->w->pg);
    if (rc < 0)
        return rc;
    if ((rc = store_pg_account_erase(c->w->pg, c->a, c->user_id, out)) == 0 &&
        (rc = store_pg_tx_commit(c->w->pg)) == 0)
        return 0;
    store_pg_tx_rollback(c->w->pg);
    return rc;
}

/* After the commit: what lives outside PostgreSQL. None of it can undo
 * the deletion, so failures are logged and the request still succeeds
 * (a blob left behind is unreachable: its row is gone). */
static void erase_outside(struct api_call *c, const struct store_account_erased *e)
{
    api__close_devices(c, e->devices, e->n_devices);
    if (store_redis_presence_forget(c->w->redis, c->user_id) < 0)
        pl_log_warn("user %lld: deleted, presence left to expire", (long long)c->user_id);
    for (unsigned i = 0; i < e->n_blob_keys; i++) {
        int rc = c->env->blobs ? store_blob_delete(c->env->blobs, e->blob_keys[i]) : 0;
        if (rc < 0)
            pl_log_warn("user %lld: deleted, blob %s stays: %s", (long long)c->user_id,
                        e->blob_keys[i], pl_strerror(rc));
    }
}

/* Hashing thread: the password re-check, then the deletion. */
static int delete_hashed(struct api_call *c, void *arg)
{
    struct account_delete *d = arg;
    const char *stored;
    int rc = store_pg_user_pwhash(c->w->pg, c->a, c->user_id, &stored);
    if (rc < 0) {
        api__login_result(c, d->account, API_LOGIN_UNCHECKED);
        return rc;
    }
    if (pcrypto_password_verify(stored, d->password, strlen(d->password)) < 0) {
        api__login_result(c, d->account, API_LOGIN_FAILED);
        struct api_problem p = {.rc = PL_EFORBIDDEN, .slug = "wrong-password", .offset = -1};
        api_problem_sendx(c->req, &p);
        return PL_EFORBIDDEN;
    }
    api__login_result(c, d->account, API_LOGIN_OK);
    struct store_account_erased e;
    if ((rc = leave_groups(c)) < 0 || (rc = erase(c, &e)) < 0)
        return rc;
    erase_outside(c, &e);
    pl_log_info("user %lld: account deleted (%u sessions, %u blobs)", (long long)c->user_id,
                e.n_devices, e.n_blob_keys);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

static int api_me_delete(struct api_call *c)
{
    struct account_delete *d = pl_arena_zalloc(c->a, sizeof(*d));
    if (!d)
        return PL_ENOMEM;
    const struct api_field fields[] = {
        {"password", API_FIELD_STRING, true, &d->password},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (d->password && strlen(d->password) > API_PASSWORD_MAX)
        api_errors_add(&c->errs, "/password", "must be at most 1024 bytes long");
    if (c->errs.n)
        return api__fail_validation(c);
    /* Guessing the password through this endpoint (a stolen token) is
     * throttled like logins and password changes, under the user's id. */
    snprintf(d->account, sizeof(d->account), "#%lld", (long long)c->user_id);
    if ((rc = api__login_check(c, d->account)) < 0)
        return rc;
    if ((rc = api__pwhash_defer(c, delete_hashed, d)) < 0)
        api__login_result(c, d->account, API_LOGIN_UNCHECKED);
    return rc;
}

const struct api_route_def api__account_routes[] = {
    {"DELETE", "/v1/me", api_me_delete, API_AUTH},
    {NULL, NULL, NULL, 0},
};
