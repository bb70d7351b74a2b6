/* SPDX-License-Identifier: MIT */
/* Parley - posting push messages to a push service (RFC 8030), libcurl. */
/* Copyright (c) 2026 Parley developers                                 */
#include "webpush.h"

#include <curl/curl.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct webpush_client {
    CURL *curl;
    unsigned timeout_ms;
};

/* localhost, [::1] or a dotted 127.x.y.z (digits and dots only, so that
 * "127.0.0.1.example.net" is not taken for one). */
static bool loopback_host(const char *h, size_t n)
{
    if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0))
        return true;
    if (n < 7 || strncmp(h, "127.", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            return false;
    return true;
}

int webpush_endpoint_origin(const char *endpoint, bool allow_loopback_http, char *out, size_t cap)
{
    bool https = strncasecmp(endpoint, "https://", 8) == 0;
    bool http = !https && strncasecmp(endpoint, "http://", 7) == 0;
    if (!https && !http)
        return PL_EINVAL;
    for (const char *p = endpoint; *p; p++)
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == '#' || *p == 0x7f)
            return PL_EINVAL;
    const char *host = endpoint + (https ? 8 : 7);
    size_t alen = strcspn(host, "/?");
    if (alen == 0 || memchr(host, '@', alen))
        return PL_EINVAL;
    /* The host without the port, for the loopback rule. */
    size_t hlen = alen;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', alen);
        if (!close)
            return PL_EINVAL;
        hlen = (size_t)(close - host) + 1;
    } else {
        const char *colon = memchr(host, ':', alen);
        if (colon)
            hlen = (size_t)(colon - host);
    }
    if (hlen == 0 || (http && !(allow_loopback_http && loopback_host(host, hlen))))
        return PL_EINVAL;
    size_t n = (size_t)(host - endpoint) + alen;
    if (n + 1 > cap)
        return PL_ETOOBIG;
    memcpy(out, endpoint, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++) /* scheme and host compare case-insensitively */
        out[i] = (char)tolower((unsigned char)out[i]);
    return 0;
}

int webpush_client_new(unsigned timeout_ms, struct webpush_client **out)
{
    struct webpush_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        return PL_ENOMEM;
    }
    c->timeout_ms = timeout_ms;
    *out = c;
    return 0;
}

void webpush_client_free(struct webpush_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

/* Reads Retry-After when it is delta-seconds (an HTTP date is treated as
 * absent: the caller's own backoff applies). */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct webpush_response *res = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
        const char *p = buf + 12;
        while (*p == ' ' || *p == '\t')
            p++;
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end != p && v <= 86400)
            res->retry_after_s = (unsigned)v;
    }
    return len;
}

/* The push service's response body says nothing we act on. */
static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    (void)buf, (void)ud;
    return size * n;
}

int webpush_client_post(struct webpush_client *c, const struct webpush_request *req,
                        struct webpush_response *res)
{
    *res = (struct webpush_response){0};
    char auth[2600], ttl[32], urg[48];
    if (snprintf(auth, sizeof(auth), "Authorization: %s", req->authorization) >= (int)sizeof(auth))
        return PL_ETOOBIG;
    snprintf(ttl, sizeof(ttl), "TTL: %u", req->ttl_s);
    snprintf(urg, sizeof(urg), "Urgency: %s", req->urgency);
    struct curl_slist *h = NULL, *t;
    const char *lines[] = {
        auth,     ttl, urg, "Content-Encoding: aes128gcm", "Content-Type: application/octet-stream",
        "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!(t = curl_slist_append(h, lines[i]))) {
            curl_slist_free_all(h);
            return PL_ENOMEM;
        }
        h = t;
    }
    CURL *e = c->curl;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, req->endpoint);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    /* Redirects are not followed: a push service answers where it is. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode cc = curl_easy_perform(e);
    curl_slist_free_all(h);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return PL_ETIMEDOUT;
    if (cc != CURLE_OK)
        return PL_EUNAVAIL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
    return 0;
}
