/* SPDX-License-Identifier: MIT */
/* Parley - integration: login, bearer auth, revocation, devices.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static void login_body(char *buf, size_t cap, const char *user, const char *password)
{
    snprintf(buf, cap, "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
}

static void assert_me(struct pt_server *s, enum pt_proto proto, const char *token, int64_t id,
                      const char *username)
{
    struct pt_resp r;
    pt_get(s, proto, "/v1/me", token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(pt_json_int(t, "id", NULL), id);
    PL_ASSERT_STR_EQ(pt_json_str(t, "username", NULL), username);
    PL_ASSERT(pt_json_str(t, "display_name", NULL));
    PL_ASSERT(pt_json_str(t, "created_at", NULL));
    pt_resp_free(&r);
}

/* Expects 401 for a request with token (NULL: none). A missing token is
 * "unauthenticated" with a bare challenge; a bad one says invalid_token. */
static void assert_401(struct pt_server *s, enum pt_proto proto, const char *method,
                       const char *token)
{
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, method, method[0] == 'G' ? "/v1/me" : "/v1/sessions/current",
                            token, NULL, NULL, 0, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    const char *www = pt_resp_header(&r, "WWW-Authenticate");
    if (!www || strncmp(www, "Bearer", 6) != 0)
        pltest_fail(__FILE__, __LINE__, "WWW-Authenticate \"%s\" is not a Bearer challenge",
                    www ? www : "(none)");
    if (token && !strstr(www, "error=\"invalid_token\""))
        pltest_fail(__FILE__, __LINE__, "WWW-Authenticate \"%s\" lacks error=\"invalid_token\"",
                    www);
    if (!token && strstr(www, "error="))
        pltest_fail(__FILE__, __LINE__, "no token sent, yet \"%s\" names an error", www);
    pt_resp_free(&r);
}

PLTEST_PROTO(login_returns_token_device_and_user)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[512];
    int64_t id = pt_user_register(s, proto, "login", name);
    snprintf(body, sizeof(body),
             "{\"username\":\"%s\",\"password\":\"%s\",\"device_name\":\"test phone\"}", name,
             PT_PASSWORD);
    struct pt_resp r;
    pt_send_json(s, proto, "POST", "/v1/sessions", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    yajl_val t = pt_json(&r);
    const char *token = pt_json_str(t, "token", NULL);
    PL_ASSERT(token);
    PL_ASSERT_INT_EQ(strlen(token), 46);
    PL_ASSERT(strncmp(token, "pl_", 3) == 0);
    /* base64url without padding. */
    PL_ASSERT_INT_EQ(strspn(token + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_"),
                     43);
    PL_ASSERT(pt_json_int(t, "device_id", NULL) > 0);
    PL_ASSERT_INT_EQ(pt_json_int(t, "user", "id", NULL), id);
    PL_ASSERT_STR_EQ(pt_json_str(t, "user", "username", NULL), name);
    PL_ASSERT(!strstr(r.body, PT_PASSWORD));
    char tok[PT_TOKEN_MAX];
    snprintf(tok, sizeof(tok), "%s", token);
    pt_resp_free(&r);
    assert_me(s, proto, tok, id, name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Drops the members that differ per request and compares the rest of
 * two problem documents, so neither says which half was wrong. */
static void assert_same_problem(struct pt_resp *a, struct pt_resp *b)
{
    yajl_val ta = pt_json(a), tb = pt_json(b);
    PL_ASSERT(YAJL_IS_OBJECT(ta) && YAJL_IS_OBJECT(tb));
    size_t kept = 0;
    for (size_t i = 0; i < ta->u.object.len; i++) {
        const char *k = ta->u.object.keys[i];
        if (strcmp(k, "request_id") == 0 || strcmp(k, "instance") == 0)
            continue;
        kept++;
        yajl_val va = ta->u.object.values[i], vb = pt_json_get(tb, k, NULL);
        if (!vb)
            pltest_fail(__FILE__, __LINE__, "\"%s\" only in one answer: %s | %s", k, a->body,
                        b->body);
        if (YAJL_IS_STRING(va) && (!YAJL_IS_STRING(vb) || strcmp(va->u.string, vb->u.string)))
            pltest_fail(__FILE__, __LINE__, "\"%s\" differs: %s | %s", k, a->body, b->body);
        if (YAJL_IS_INTEGER(va) && (!YAJL_IS_INTEGER(vb) || va->u.number.i != vb->u.number.i))
            pltest_fail(__FILE__, __LINE__, "\"%s\" differs: %s | %s", k, a->body, b->body);
    }
    size_t kept_b = 0;
    for (size_t i = 0; i < tb->u.object.len; i++)
        kept_b += strcmp(tb->u.object.keys[i], "request_id") != 0 &&
                  strcmp(tb->u.object.keys[i], "instance") != 0;
    PL_ASSERT_INT_EQ(kept, kept_b);
}

PLTEST_PROTO(login_failures_are_indistinguishable)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], body[512];
    pt_user_register(s, proto, "badpw", name);
    struct pt_resp wrong_pw, no_user;
    login_body(body, sizeof(body), name, "not the password");
    pt_send_json(s, proto, "POST", "/v1/sessions", NULL, body, &wrong_pw);
    PT_ASSERT_PROBLEM(&wrong_pw, 401, "invalid-credentials");
    /* Same length as a real name, never registered. */
    char ghost[PT_USERNAME_MAX];
    snprintf(ghost, sizeof(ghost), "%s", name);
    memcpy(ghost, "nobody", 6);
    login_body(body, sizeof(body), ghost, PT_PASSWORD);
    pt_send_json(s, proto, "POST", "/v1/sessions", NULL, body, &no_user);
    PT_ASSERT_PROBLEM(&no_user, 401, "invalid-credentials");
    assert_same_problem(&wrong_pw, &no_user);
    pt_resp_free(&wrong_pw);
    pt_resp_free(&no_user);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(me_needs_a_valid_bearer_token)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], token[PT_TOKEN_MAX];
    int64_t id = pt_user_register(s, proto, "me", name);
    pt_login(s, proto, name, PT_PASSWORD, token);
    assert_me(s, proto, token, id, name);
    assert_401(s, proto, "GET", NULL);
    assert_401(s, proto, "GET", "pl_garbage");
    assert_401(s, proto, "GET", "pl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    /* A well-formed token with one character changed. */
    char forged[PT_TOKEN_MAX];
    snprintf(forged, sizeof(forged), "%s", token);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    assert_401(s, proto, "GET", forged);
    /* Another scheme with the right token is not a bearer token. */
    struct pt_resp r;
    char auth[PT_TOKEN_MAX + 32];
    snprintf(auth, sizeof(auth), "Authorization: Basic %s", token);
    const char *const hdrs[] = {auth, NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", "/v1/me", NULL, NULL, NULL, 0, hdrs, &r), 0);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(logout_revokes_the_token_at_once)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], token[PT_TOKEN_MAX];
    int64_t id = pt_user_register(s, proto, "logout", name);
    pt_login(s, proto, name, PT_PASSWORD, token);
    assert_me(s, proto, token, id, name);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", "/v1/sessions/current", token, NULL, NULL, 0, &r),
                     0);
    PT_ASSERT_STATUS(&r, 204);
    PL_ASSERT_INT_EQ(r.len, 0);
    pt_resp_free(&r);
    /* Whoever stole the token before the logout cannot use it now. */
    assert_401(s, proto, "GET", token);
    assert_401(s, proto, "DELETE", token);
    assert_401(s, proto, "DELETE", NULL);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(two_sessions_are_two_devices)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], t1[PT_TOKEN_MAX], t2[PT_TOKEN_MAX];
    int64_t id = pt_user_register(s, proto, "devices", name);
    int64_t d1 = pt_login(s, proto, name, PT_PASSWORD, t1);
    int64_t d2 = pt_login(s, proto, name, PT_PASSWORD, t2);
    PL_ASSERT(d1 != d2);
    PL_ASSERT(strcmp(t1, t2) != 0);
    assert_me(s, proto, t1, id, name);
    assert_me(s, proto, t2, id, name);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", "/v1/sessions/current", t1, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    assert_401(s, proto, "GET", t1);
    assert_me(s, proto, t2, id, name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
