/* SPDX-License-Identifier: MIT */
/* Parley - password work off the API workers; PUT /v1/me/password.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"
#include "token_cache.h"

#include "storage/sessions.h"

#include <stdio.h>
#include <string.h>

/*
 * Every argon2id call (login, registration, password change) runs on the
 * hashing pool that server/ wires to env->pwhash_run: a few threads of its
 * own with a bounded queue. A handler does its cheap checks (body,
 * throttles) on an API worker, then hands the request over and returns
 * API_DEFERRED; the rest of the handler runs on a hashing thread, with
 * that thread's own PostgreSQL and Redis connections, and completes the
 * request there. A flood of logins therefore fills the hashing queue
 * (503 hashing-busy) but never holds the workers the rest of the API
 * needs.
 */
struct pwjob {
    struct api_call c;
    api_pw_fn *fn;
    void *arg;
};

static void on_pwjob(struct api_worker *w, void *arg)
{
    struct pwjob *j = arg;
    j->c.w = w;
    api__finish(&j->c, j->fn(&j->c, j->arg));
}

int api__pwhash_defer(struct api_call *c, api_pw_fn *fn, void *arg)
{
    struct pwjob *j = pl_arena_zalloc(c->a, sizeof(*j));
    if (!j)
        return PL_ENOMEM;
    *j = (struct pwjob){.c = *c, .fn = fn, .arg = arg};
    int rc =
        c->env->pwhash_run ? c->env->pwhash_run(c->env->pwhash_ctx, on_pwjob, j) : PL_ECANCELED;
    if (rc == 0)
        return API_DEFERRED;
    if (rc == PL_EBUSY) {
        api__limit_count(API_LIMIT_PWHASH_BUSY);
        struct api_problem p = {.rc = PL_EBUSY, .slug = "hashing-busy", .offset = -1};
        api_problem_sendx(c->req, &p);
    }
    return rc;
}

/* Ends the given (revoked) sessions' event streams and cached token
 * lookups on every node. This node's cache forgets them here, before the
 * revoking request is answered, so the token never works here again. */
void api__close_devices(struct api_call *c, const int64_t *ids, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        api_token_cache_evict_device(c->env->tokens, ids[i]);
        c->env->close_device(c->env->close_ctx, c->user_id, ids[i]);
    }
}

/* ---- PUT /v1/me/password ---- */

struct pwchange {
    const char *old_pw, *new_pw;
    char account[24];
};

static int wrong_password(struct api_call *c)
{
    struct api_problem p = {.rc = PL_EFORBIDDEN, .slug = "wrong-password", .offset = -1};
    api_problem_sendx(c->req, &p);
    return PL_EFORBIDDEN;
}

/* Hashing thread: verify the old password, hash the new one, store it
 * and revoke every other session in one statement. */
static int change_hashed(struct api_call *c, void *arg)
{
    struct pwchange *pc = arg;
    const char *stored;
    int rc = store_pg_user_pwhash(c->w->pg, c->a, c->user_id, &stored);
    if (rc < 0) {
        api__login_result(c, pc->account, API_LOGIN_UNCHECKED);
        return rc;
    }
    if (pcrypto_password_verify(stored, pc->old_pw, strlen(pc->old_pw)) < 0) {
        api__login_result(c, pc->account, API_LOGIN_FAILED);
        return wrong_password(c);
    }
    api__login_result(c, pc->account, API_LOGIN_OK);
    char hash[PCRYPTO_PWHASH_STRBYTES];
    if ((rc = pcrypto_password_hash(&c->env->cfg->pwhash, pc->new_pw, strlen(pc->new_pw), hash)) <
        0)
        return rc;
    int64_t *revoked;
    unsigned n;
    rc = store_pg_password_set(c->w->pg, c->a, c->user_id, c->device_id, hash, &revoked, &n);
    pcrypto_wipe(hash, sizeof(hash));
    if (rc < 0)
        return rc;
    api__close_devices(c, revoked, n);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

int api_me_password_put(struct api_call *c)
{
    struct pwchange *pc = pl_arena_zalloc(c->a, sizeof(*pc));
    if (!pc)
        return PL_ENOMEM;
    const struct api_field fields[] = {
        {"old_password", API_FIELD_STRING, true, &pc->old_pw},
        {"new_password", API_FIELD_STRING, true, &pc->new_pw},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (pc->old_pw && strlen(pc->old_pw) > API_PASSWORD_MAX)
        api_errors_add(&c->errs, "/old_password", "must be at most 1024 bytes long");
    if (pc->new_pw && !api__valid_password(pc->new_pw))
        api_errors_add(&c->errs, "/new_password", "must be 8 to 1024 bytes long");
    if (c->errs.n)
        return api__fail_validation(c);
    /* Guessing the current password through this endpoint (a stolen
     * token) is throttled like logins, under the user's id. */
    snprintf(pc->account, sizeof(pc->account), "#%lld", (long long)c->user_id);
    if ((rc = api__login_check(c, pc->account)) < 0)
        return rc;
    if ((rc = api__pwhash_defer(c, change_hashed, pc)) < 0)
        api__login_result(c, pc->account, API_LOGIN_UNCHECKED);
    return rc;
}
