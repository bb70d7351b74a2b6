/* SPDX-License-Identifier: MIT */
/* Parley - e2e messages: base64url checks, the Message "e2e" member and */
/* the per-device projection of message.created payloads.               */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * An e2e message is stored once and its event once, but each device may
 * only ever see its own ciphertext. The event payload therefore carries
 * every recipient's ciphertext in a leading member that no client sees:
 *
 *   {"e2e_for":{"12":["prekey","<b64>"],"13":["message","<b64>"]},
 *    "conversation_id":5,"message":{...,"e2e":{"sender_device":3,
 *    "group":null,"media_ids":[],"type":null,"ciphertext":null}}}
 *
 * and whoever hands it to a device (the hub for live events, the replay
 * and /v1/sync for stored ones) projects it for that device: the leading
 * member is dropped and the trailing nulls are replaced by the device's
 * own entry. We wrote the layout ourselves (send.c), base64url needs no
 * JSON escaping and device ids are digits, so the projection is a bounded
 * scan and two copies, with no JSON parser on the loop thread.
 */

#define FOR_PREFIX "{\"e2e_for\":{"
#define NULL_TAIL "\"type\":null,\"ciphertext\":null}}}"

bool api__b64_check(const char *s, size_t min, size_t max, size_t *n)
{
    size_t got = 0;
    if (!s || pcrypto_b64url_check(s, strlen(s), max, &got) < 0 || got < min || got == 0)
        return false;
    if (n)
        *n = got;
    return true;
}

bool api__b64_decode(const char *s, unsigned char *out, size_t size)
{
    size_t got = 0;
    return pcrypto_b64url_decode(s, strlen(s), out, size, &got) == 0 && got == size;
}

void api__gen_e2e(yajl_gen g, const struct store_message *m)
{
    /* The body is the members every viewer shares, as one JSON object we
     * wrote; the viewer's own entry goes after them. */
    size_t blen = strlen(m->body);
    const char *type = m->e2e_type, *ct = m->e2e_ciphertext;
    size_t cap = blen + (ct ? strlen(ct) : 0) + 64;
    char *buf = malloc(cap);
    api__gen_key(g, "e2e");
    if (!buf || blen < 2 || m->body[blen - 1] != '}') {
        yajl_gen_null(g); /* out of memory: the client refetches */
        free(buf);
        return;
    }
    size_t o = blen - 1;
    memcpy(buf, m->body, o);
    if (type && ct)
        o +=
            (size_t)snprintf(buf + o, cap - o, ",\"type\":\"%s\",\"ciphertext\":\"%s\"}", type, ct);
    else
        o += (size_t)snprintf(buf + o, cap - o, ",%s", "\"type\":null,\"ciphertext\":null}");
    yajl_gen_number(g, buf, o); /* our own JSON, spliced */
    free(buf);
}

bool api_e2e_is_enveloped(const char *json, size_t len)
{
    return len > sizeof(FOR_PREFIX) && memcmp(json, FOR_PREFIX, sizeof(FOR_PREFIX) - 1) == 0;
}

/* Reads one "<digits>":["<type>","<b64>"] entry at *p; on success moves
 * *p past it and reports the spans. */
static bool read_entry(const char **p, const char *end, int64_t *dev, const char **type,
                       size_t *tlen, const char **ct, size_t *clen)
{
    const char *q = *p;
    if (q >= end || *q++ != '"')
        return false;
    int64_t v = 0;
    const char *digits = q;
    while (q < end && *q >= '0' && *q <= '9' && q - digits < 18)
        v = v * 10 + (*q++ - '0');
    if (q == digits || end - q < 5 || memcmp(q, "\":[\"", 4) != 0)
        return false;
    q += 4;
    *type = q;
    const char *close = memchr(q, '"', (size_t)(end - q));
    if (!close || end - close < 3 || memcmp(close, "\",\"", 3) != 0)
        return false;
    *tlen = (size_t)(close - q);
    q = close + 3;
    *ct = q;
    close = memchr(q, '"', (size_t)(end - q));
    if (!close || end - close < 2 || close[1] != ']')
        return false;
    *clen = (size_t)(close - q);
    *dev = v;
    *p = close + 2;
    return true;
}

int api_e2e_project(const char *json, size_t len, int64_t device_id, char **out, size_t *out_len)
{
    if (!api_e2e_is_enveloped(json, len))
        return 0;
    const char *end = json + len, *p = json + sizeof(FOR_PREFIX) - 1;
    const char *type = NULL, *ct = NULL;
    size_t tlen = 0, clen = 0;
    while (p < end && *p != '}') {
        int64_t dev;
        const char *t, *c;
        size_t tl, cl;
        if (!read_entry(&p, end, &dev, &t, &tl, &c, &cl))
            return PL_EINVAL;
        if (dev == device_id) {
            type = t, tlen = tl, ct = c, clen = cl;
        }
        if (p < end && *p == ',')
            p++;
    }
    /* p is at the map's '}', followed by ',' and the visible members. */
    const size_t tail = sizeof(NULL_TAIL) - 1;
    if (end - p < 2 || p[1] != ',' || (size_t)(end - p) < 2 + tail ||
        memcmp(end - tail, NULL_TAIL, tail) != 0)
        return PL_EINVAL;
    const char *rest = p + 2;
    size_t keep = (size_t)(end - rest) - (type ? tail : 0);
    size_t cap = 1 + keep + (type ? tlen + clen + 32 : 0) + 1;
    char *o = malloc(cap);
    if (!o)
        return PL_ENOMEM;
    size_t n = 0;
    o[n++] = '{';
    memcpy(o + n, rest, keep);
    n += keep;
    if (type) {
        memcpy(o + n, "\"type\":\"", 8);
        n += 8;
        memcpy(o + n, type, tlen);
        n += tlen;
        memcpy(o + n, "\",\"ciphertext\":\"", 16);
        n += 16;
        memcpy(o + n, ct, clen);
        n += clen;
        memcpy(o + n, "\"}}}", 4);
        n += 4;
    }
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return 1;
}
