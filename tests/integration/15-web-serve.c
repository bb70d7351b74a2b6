/* SPDX-License-Identifier: MIT */
/* Parley - integration: the web client's files and its cookie session. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The bytes stand in for a build: the server must pass the .br twin on
 * verbatim, so any bytes do. */
static const char INDEX[] = "<!doctype html><title>Parley</title><script type=module "
                            "src=/assets/app.0123abcd.js></script>";
static const char APP[] = "console.log('parley');\n";
static const char APP_BR[] = "\x0b\x07\x80not-really-brotli\x03";
static const char SW[] = "self.addEventListener('push', () => {});\n";

static void put(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    PL_ASSERT(f);
    PL_ASSERT_INT_EQ(fwrite(data, 1, len, f), len);
    PL_ASSERT_INT_EQ(fclose(f), 0);
}

static const char *fake_build(void)
{
    const char *dir = pt_temp_dir("web");
    char assets[512];
    snprintf(assets, sizeof(assets), "%s/assets", dir);
    PL_ASSERT_INT_EQ(mkdir(assets, 0755), 0);
    put(dir, "index.html", INDEX, sizeof(INDEX) - 1);
    put(assets, "app.0123abcd.js", APP, sizeof(APP) - 1);
    put(assets, "app.0123abcd.js.br", APP_BR, sizeof(APP_BR) - 1);
    put(assets, ".hidden", "x", 1);
    put(dir, "sw.js", SW, sizeof(SW) - 1);
    return dir;
}

static void assert_header_has(struct pt_resp *r, const char *name, const char *want)
{
    const char *v = pt_resp_header(r, name);
    if (!v || !strstr(v, want))
        pltest_fail(__FILE__, __LINE__, "%s is \"%s\", wanted it to contain \"%s\"", name,
                    v ? v : "(none)", want);
}

PLTEST_PROTO(web_index_no_cache_with_strict_csp)
{
    const char *args[] = {"--web-dir", fake_build(), NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    pt_get(s, proto, "/", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(r.body, INDEX);
    assert_header_has(&r, "Content-Type", "text/html");
    assert_header_has(&r, "Cache-Control", "no-cache");
    const char *csp[] = {"default-src 'self'",     "connect-src 'self'", "object-src 'none'",
                         "frame-ancestors 'none'", "style-src 'self'",   "worker-src 'self'"};
    for (size_t i = 0; i < PL_ARRAY_LEN(csp); i++)
        assert_header_has(&r, "Content-Security-Policy", csp[i]);
    const char *pol = pt_resp_header(&r, "Content-Security-Policy");
    PL_ASSERT(!strstr(pol, "unsafe-inline"));
    PL_ASSERT(!strstr(pol, "'unsafe-eval'"));
    assert_header_has(&r, "X-Content-Type-Options", "nosniff");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(web_assets_immutable_and_precompressed)
{
    const char *args[] = {"--web-dir", fake_build(), NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    pt_get(s, proto, "/assets/app.0123abcd.js", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(r.body, APP);
    PL_ASSERT(!pt_resp_header(&r, "Content-Encoding"));
    assert_header_has(&r, "Cache-Control", "immutable");
    assert_header_has(&r, "Cache-Control", "max-age=31536000");
    assert_header_has(&r, "Content-Type", "text/javascript");
    assert_header_has(&r, "Vary", "Accept-Encoding");
    pt_resp_free(&r);

    const char *br[] = {"Accept-Encoding: gzip, br", NULL};
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "GET", "/assets/app.0123abcd.js", NULL, NULL, NULL, 0, br, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    assert_header_has(&r, "Content-Encoding", "br");
    PL_ASSERT_INT_EQ(r.len, sizeof(APP_BR) - 1);
    PL_ASSERT(memcmp(r.body, APP_BR, r.len) == 0);
    pt_resp_free(&r);

    /* Only plain names under assets/ exist; index.html is not an asset. */
    const char *missing[] = {"/assets/nope.js",         "/assets/.hidden",
                             "/assets/index.html",      "/assets/app.0123abcd.js.br",
                             "/assets/..%2Findex.html", "/index.html"};
    for (size_t i = 0; i < PL_ARRAY_LEN(missing); i++) {
        pt_get(s, proto, missing[i], NULL, &r);
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The Web Push service worker: at the root (its scope is /), under a fixed
 * name, so revalidated on every registration or update check. */
PLTEST_PROTO(web_service_worker_at_root_no_cache)
{
    const char *args[] = {"--web-dir", fake_build(), NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    pt_get(s, proto, "/sw.js", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(r.body, SW);
    assert_header_has(&r, "Content-Type", "text/javascript");
    assert_header_has(&r, "Cache-Control", "no-cache");
    PL_ASSERT(!strstr(pt_resp_header(&r, "Cache-Control"), "immutable"));
    assert_header_has(&r, "Content-Security-Policy", "worker-src 'self'");
    assert_header_has(&r, "Content-Security-Policy", "connect-src 'self'");
    assert_header_has(&r, "X-Content-Type-Options", "nosniff");
    pt_resp_free(&r);
    /* It is not one of the content-hashed assets. */
    pt_get(s, proto, "/assets/sw.js", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    /* A build without one: 404, not the app shell. */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/sw.js", fake_build());
    PL_ASSERT_INT_EQ(remove(dir), 0);
    *strrchr(dir, '/') = '\0';
    const char *args2[] = {"--web-dir", dir, NULL};
    s = PT_SERVER_START(args2);
    pt_get(s, proto, "/sw.js", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(web_not_built_is_503_and_api_works)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/none", pt_temp_dir("noweb"));
    const char *args[] = {"--web-dir", dir, NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    pt_get(s, proto, "/", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 503, "unavailable");
    PL_ASSERT(strstr(r.body, "web client was not built"));
    pt_resp_free(&r);
    pt_get(s, proto, "/assets/app.js", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 503, "unavailable");
    pt_resp_free(&r);
    pt_get(s, proto, "/sw.js", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 503, "unavailable");
    pt_resp_free(&r);
    char name[PT_USERNAME_MAX];
    PL_ASSERT(pt_user_register(s, proto, "noweb", name) > 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Logs in for the web client; returns the cookie header line to send. */
static void cookie_login(struct pt_server *s, enum pt_proto proto, const char *name, char *cookie,
                         size_t cap)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\",\"cookie\":true}", name,
             PT_PASSWORD);
    struct pt_resp r;
    /* Without the header another site could sign the browser in. */
    pt_send_json(s, proto, "POST", "/v1/sessions", NULL, body, &r);
    PT_ASSERT_PROBLEM(&r, 403, "csrf-check-failed");
    PL_ASSERT(!pt_resp_header(&r, "Set-Cookie"));
    pt_resp_free(&r);
    const char *h[] = {"X-Parley-CSRF: 1", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "POST", "/v1/sessions", NULL, "application/json", body,
                              strlen(body), h, &r),
                     0);
    PT_ASSERT_STATUS(&r, 201);
    const char *sc = pt_resp_header(&r, "Set-Cookie");
    PL_ASSERT(sc && strncmp(sc, "parley_token=pl_", 16) == 0);
    const char *attrs[] = {"; HttpOnly", "; Secure", "; SameSite=Strict", "; Path=/"};
    for (size_t i = 0; i < PL_ARRAY_LEN(attrs); i++)
        assert_header_has(&r, "Set-Cookie", attrs[i]);
    /* The page's scripts never see the token. */
    PL_ASSERT(!pt_json_get(pt_json(&r), "token", NULL));
    PL_ASSERT(pt_json_int(pt_json(&r), "device_id", NULL) > 0);
    snprintf(cookie, cap, "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
    pt_resp_free(&r);
}

PLTEST_PROTO(web_cookie_session_needs_csrf_header_to_change_state)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], cookie[256];
    pt_user_register(s, proto, "webck", name);
    cookie_login(s, proto, name, cookie, sizeof(cookie));
    struct pt_resp r;
    const char *get[] = {cookie, NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", "/v1/me", NULL, NULL, NULL, 0, get, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "username", NULL), name);
    pt_resp_free(&r);

    static const char patch[] = "{\"display_name\":\"Web Person\"}";
    const char *no_csrf[] = {cookie, NULL};
    const char *cross[] = {cookie, "X-Parley-CSRF: 1", "Sec-Fetch-Site: cross-site", NULL};
    const char *const *refused[] = {no_csrf, cross};
    for (size_t i = 0; i < PL_ARRAY_LEN(refused); i++) {
        PL_ASSERT_INT_EQ(pt_req_h(s, proto, "PATCH", "/v1/me", NULL, "application/json", patch,
                                  sizeof(patch) - 1, refused[i], &r),
                         0);
        PT_ASSERT_PROBLEM(&r, 403, "csrf-check-failed");
        pt_resp_free(&r);
    }
    const char *ok[] = {cookie, "X-Parley-CSRF: 1", "Sec-Fetch-Site: same-origin", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "PATCH", "/v1/me", NULL, "application/json", patch,
                              sizeof(patch) - 1, ok, &r),
                     0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "display_name", NULL), "Web Person");
    pt_resp_free(&r);

    /* Logging out revokes the device and clears the cookie. */
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "DELETE", "/v1/sessions/current", NULL, NULL, NULL, 0, ok, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    assert_header_has(&r, "Set-Cookie", "Max-Age=0");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", "/v1/me", NULL, NULL, NULL, 0, get, &r), 0);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Bearer clients are unaffected: no CSRF header needed. */
PLTEST_PROTO(web_bearer_clients_need_no_csrf_header)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_USERNAME_MAX], token[PT_TOKEN_MAX];
    pt_user_register(s, proto, "webbr", name);
    pt_login(s, proto, name, PT_PASSWORD, token);
    struct pt_resp r;
    pt_send_json(s, proto, "PATCH", "/v1/me", token, "{\"display_name\":\"B\"}", &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
