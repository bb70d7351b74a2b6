/* SPDX-License-Identifier: MIT */
/* Parley - integration: login/registration throttling, hashing pool.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retry-After must be a positive number of seconds. */
static unsigned retry_after(struct pt_resp *r)
{
    const char *ra = pt_resp_header(r, "Retry-After");
    if (!ra || atoi(ra) < 1)
        pltest_fail(__FILE__, __LINE__, "Retry-After \"%s\" is not a positive number",
                    ra ? ra : "(none)");
    return (unsigned)atoi(ra);
}

static void login(struct pt_server *s, enum pt_proto p, const char *name, const char *pw,
                  struct pt_resp *r)
{
    pt_reqf(s, p, "POST", NULL, r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            name, pw);
}

/* After login_fail_account wrong passwords the account is locked for a
 * while, even for the right password; Retry-After says how long, and once
 * it passed the right password works again. */
PLTEST_PROTO(failed_logins_back_off_per_account)
{
    const char *const args[] = {"--login-fail-account", "3", "--login-backoff-ms", "1000", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    char name[PT_USERNAME_MAX];
    pt_user_register(s, proto, "throttle", name);
    struct pt_resp r;
    for (int i = 0; i < 3; i++) {
        login(s, proto, name, "wrong password", &r);
        PT_ASSERT_PROBLEM(&r, 401, "invalid-credentials");
        pt_resp_free(&r);
    }
    /* Locked now: even the right password is refused, without a hash. */
    login(s, proto, name, PT_PASSWORD, &r);
    PT_ASSERT_PROBLEM(&r, 429, "login-throttled");
    retry_after(&r);
    pt_resp_free(&r);
    /* The lock ends: poll (with a deadline) until the login goes through. */
    uint64_t deadline = pt_now_ms() + 20000;
    long st = 0;
    while (st != 201 && pt_now_ms() < deadline) {
        login(s, proto, name, PT_PASSWORD, &r);
        st = r.status;
        if (st == 429)
            pt_sleep_ms(200);
        else
            PT_ASSERT_STATUS(&r, 201);
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(st, 201);
    /* The success cleared the record: one wrong password is not locked. */
    login(s, proto, name, "wrong again", &r);
    PT_ASSERT_PROBLEM(&r, 401, "invalid-credentials");
    pt_resp_free(&r);
    struct pt_resp m;
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &m);
    PL_ASSERT(strstr(m.body, "parley_limit_rejected_total{limit=\"login_account\"}"));
    PL_ASSERT(!strstr(m.body, "parley_limit_rejected_total{limit=\"login_account\"} 0\n"));
    pt_resp_free(&m);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Wrong passwords spread over many accounts from one address: the address
 * is throttled. 127.0.0.1 is exempt by default, so the exemption is lifted.
 * Other cases of this test share the address's record in Redis, so the
 * 429 may come sooner, never later. */
PLTEST_PROTO(failed_logins_back_off_per_address)
{
    const char *const args[] = {
        "--login-fail-ip", "3", "--login-fail-account", "0", "--limit-exempt", "", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    char name[PT_USERNAME_MAX];
    pt_user_register(s, proto, "ipthrottle", name);
    struct pt_resp r;
    int i;
    for (i = 0; i < 4; i++) {
        char ghost[64];
        snprintf(ghost, sizeof(ghost), "ghost%d_%s", i, name + 11);
        login(s, proto, ghost, "wrong password", &r);
        if (r.status == 429)
            break;
        PT_ASSERT_PROBLEM(&r, 401, "invalid-credentials");
        pt_resp_free(&r);
    }
    if (i == 4)
        login(s, proto, name, PT_PASSWORD, &r);
    PT_ASSERT_PROBLEM(&r, 429, "login-throttled");
    retry_after(&r);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Registrations per address per hour. Like the address backoff, earlier
 * cases may have used part of the budget. */
PLTEST_PROTO(registrations_are_limited_per_address)
{
    const char *const args[] = {"--register-per-ip", "3", "--limit-exempt", "", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    int i;
    for (i = 0; i < 4; i++) {
        char name[PT_USERNAME_MAX];
        snprintf(name, sizeof(name), "reg%d_%08x", i, (unsigned)(pt_now_ms() * 7919 + (unsigned)i));
        pt_reqf(s, proto, "POST", NULL, &r, "/v1/users",
                "{\"username\":\"%s\",\"password\":\"%s\"}", name, PT_PASSWORD);
        if (r.status == 429)
            break;
        PT_ASSERT_STATUS(&r, 201);
        pt_resp_free(&r);
    }
    PL_ASSERT(i < 4);
    PT_ASSERT_PROBLEM(&r, 429, "quota-exceeded");
    PL_ASSERT(retry_after(&r) <= 3600);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- the hashing pool ---- */

#define LOGINS 8

struct login_thread {
    struct pt_server *s;
    enum pt_proto p;
    const char *name;
    const char *password; /* PT_PASSWORD when NULL */
    long status;
    char slug[64];
    int retry_ok;
};

static void *login_main(void *arg)
{
    struct login_thread *t = arg;
    struct pt_client *c = pt_client_new(t->s, t->p);
    char body[256];
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", t->name,
             t->password ? t->password : PT_PASSWORD);
    struct pt_resp r;
    if (pt_client_req(c, "POST", "/v1/sessions", NULL, "application/json", body, strlen(body), NULL,
                      &r) == 0) {
        t->status = r.status;
        if (r.status == 503 || r.status == 429) {
            const char *ra = pt_resp_header(&r, "Retry-After");
            t->retry_ok = ra && atoi(ra) >= 1;
            const char *type = strstr(r.body, "/problems/");
            if (type)
                snprintf(t->slug, sizeof(t->slug), "%.*s", (int)strcspn(type + 10, "\""),
                         type + 10);
        }
        pt_resp_free(&r);
    }
    pt_client_free(c);
    return NULL;
}

/* One hashing thread, a queue of one, and a slow hash: of eight logins at
 * once some are turned away with 503 hashing-busy (Retry-After), the rest
 * succeed, and the API answers other requests meanwhile. */
PLTEST_PROTO(password_hashing_has_its_own_bounded_pool)
{
    /* Eight logins of one account at once would also trip its backoff
     * (attempts count until they succeed): that is not what is tested. */
    const char *const args[] = {"--pwhash-threads",
                                "1",
                                "--pwhash-queue",
                                "1",
                                "--pwhash-opslimit",
                                "3",
                                "--pwhash-memlimit",
                                "33554432",
                                "--login-fail-account",
                                "0",
                                NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user u;
    PT_USER_NEW(s, proto, "pool", &u);
    struct login_thread t[LOGINS];
    pthread_t th[LOGINS];
    for (int i = 0; i < LOGINS; i++) {
        t[i] = (struct login_thread){.s = s, .p = proto, .name = u.name};
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, login_main, &t[i]), 0);
    }
    /* Workers stay free for everything else while hashes run. */
    struct pt_resp r;
    pt_get(s, proto, "/v1/me", u.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    int ok = 0, busy = 0;
    for (int i = 0; i < LOGINS; i++) {
        pthread_join(th[i], NULL);
        if (t[i].status == 201)
            ok++;
        else if (t[i].status == 503 && strcmp(t[i].slug, "hashing-busy") == 0 && t[i].retry_ok)
            busy++;
        else
            pltest_fail(__FILE__, __LINE__, "login %d: status %ld (%s)", i, t[i].status, t[i].slug);
    }
    PL_ASSERT(ok >= 1);
    PL_ASSERT(busy >= 1);
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &r);
    PL_ASSERT(strstr(r.body, "parley_limit_rejected_total{limit=\"pwhash_busy\"}"));
    PL_ASSERT(!strstr(r.body, "parley_limit_rejected_total{limit=\"pwhash_busy\"} 0\n"));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Guesses sent in parallel are counted when they start, not when their
 * (slow) hash finishes: of eight at once with a threshold of three, at
 * most three are checked at all. */
PLTEST_PROTO(parallel_guesses_are_counted_before_they_are_checked)
{
    const char *const args[] = {"--login-fail-account",
                                "3",
                                "--pwhash-opslimit",
                                "3",
                                "--pwhash-memlimit",
                                "33554432",
                                NULL};
    struct pt_server *s = PT_SERVER_START(args);
    char name[PT_USERNAME_MAX];
    pt_user_register(s, proto, "burst", name);
    struct login_thread t[LOGINS];
    pthread_t th[LOGINS];
    for (int i = 0; i < LOGINS; i++) {
        t[i] = (struct login_thread){.s = s, .p = proto, .name = name, .password = "a wrong one"};
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, login_main, &t[i]), 0);
    }
    int checked = 0, throttled = 0;
    for (int i = 0; i < LOGINS; i++) {
        pthread_join(th[i], NULL);
        if (t[i].status == 401)
            checked++;
        else if (t[i].status == 429 && strcmp(t[i].slug, "login-throttled") == 0 && t[i].retry_ok)
            throttled++;
        else
            pltest_fail(__FILE__, __LINE__, "guess %d: status %ld (%s)", i, t[i].status, t[i].slug);
    }
    PL_ASSERT(checked <= 3);
    PL_ASSERT_INT_EQ(checked + throttled, LOGINS);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
