/* SPDX-License-Identifier: MIT */
/* Parley - the web client: index.html and its content-hashed assets.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <string.h>

/*
 * The files were read into memory at startup (server/webapp.c), so these
 * handlers run inline on the loop and never touch the disk. index.html is
 * revalidated on every load (no-cache) and names every other file by a
 * hash of its content, so those can be cached forever (immutable): a new
 * build is a new name. Each asset may come with a brotli twin made at
 * build time, sent as is to clients that accept br.
 */

/* default-src 'self' covers fonts and images; worker-src 'self' names the
 * one worker, the Web Push service worker at /sw.js, outright;
 * wasm-unsafe-eval lets libsodium instantiate its WebAssembly from bytes
 * (it is not eval of script text); blob: is where decrypted media are
 * shown from. Nothing else runs: no inline script or style, no other
 * origin, no plugins, no framing, no <base> tricks. */
#define WEB_CSP                                                                                    \
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "                 \
    "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; "  \
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct api_web_asset *find(const struct api_web *web, const char *name)
{
    if (!web)
        return NULL;
    for (size_t i = 0; i < web->n; i++)
        if (strcmp(web->assets[i].name, name) == 0)
            return &web->assets[i];
    return NULL;
}

static int security_headers(struct http_req *req)
{
    int rc = http_resp_header(req, "X-Content-Type-Options", "nosniff");
    if (rc == 0)
        rc = http_resp_header(req, "Referrer-Policy", "no-referrer");
    if (rc == 0)
        rc = http_resp_header(req, "Cross-Origin-Opener-Policy", "same-origin");
    return rc;
}

static int send_asset(struct api_call *c, const struct api_web_asset *a)
{
    struct http_req *req = c->req;
    int rc = security_headers(req);
    if (rc == 0)
        rc = http_resp_header(req, "Cache-Control",
                              a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (rc == 0 && !a->immutable)
        rc = http_resp_header(req, "Content-Security-Policy", WEB_CSP);
    if (rc == 0 && !a->immutable)
        rc = http_resp_header(req, "X-Frame-Options", "DENY");
    if (rc == 0 && a->br)
        rc = http_resp_header(req, "Vary", "Accept-Encoding");
    if (rc < 0)
        return rc;
    if (a->br && http_req_accepts_br(req)) {
        /* Content-Encoding set here also tells http/compress.c to leave
         * the body alone. */
        if ((rc = http_resp_header(req, "Content-Encoding", "br")) < 0)
            return rc;
        api__reply_raw(c, 200, a->ctype, a->br, a->br_len);
    } else {
        api__reply_raw(c, 200, a->ctype, a->body, a->len);
    }
    return 0;
}

static int not_built(struct api_call *c)
{
    api_problem_send(c->req, PL_EUNAVAIL,
                     "the web client was not built into this server: run ./scripts/run (or "
                     "`npm ci && npm run build` in web/) and restart parleyd; the API works "
                     "without it");
    return PL_EUNAVAIL;
}

static int web_index(struct api_call *c)
{
    const struct api_web_asset *a = find(c->env->web, "index.html");
    return a ? send_asset(c, a) : not_built(c);
}

/* The operator dashboard: a page of its own (web/src/admin/), same
 * session; its data comes from the admin API, 404 for non-admins. */
static int web_admin(struct api_call *c)
{
    const struct api_web_asset *a = find(c->env->web, "admin.html");
    return a ? send_asset(c, a) : not_built(c);
}

/* The service worker (web/src/sw.js) that shows Web Push notifications.
 * It lives at the root because a worker's scope is at most its own
 * directory, and it cannot have a content-hashed name because the browser
 * registers it by URL: no-cache, so the browser's update check (at least
 * daily, and on each registration) sees a new build at once. Its response
 * carries the same CSP as the page, which is what a worker runs under. */
static int web_sw(struct api_call *c)
{
    const struct api_web_asset *a = find(c->env->web, "sw.js");
    if (!a)
        return c->env->web ? PL_ENOTFOUND : not_built(c);
    return send_asset(c, a);
}

static int web_asset(struct api_call *c)
{
    const struct api_web_asset *a = find(c->env->web, http_req_param(c->req, 0));
    if (!a || !a->immutable) {
        if (!c->env->web)
            return not_built(c);
        return PL_ENOTFOUND;
    }
    return send_asset(c, a);
}

const struct api_route_def api__web_routes[] = {
    {"GET", "/", web_index, API_INLINE},
    {"GET", "/admin", web_admin, API_INLINE},
    {"GET", "/sw.js", web_sw, API_INLINE},
    {"GET", "/assets/{name}", web_asset, API_INLINE},
    {NULL, NULL, NULL, 0},
};
