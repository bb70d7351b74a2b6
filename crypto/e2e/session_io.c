/* SPDX-License-Identifier: MIT */
/* Parley - serialising sessions so the CLI can persist them.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * Layout (PROTOCOL.md, "Session state"): a magic "PLS", a format version,
 * then every field in declaration order, integers big-endian, flags as
 * one byte, then the skipped keys. It is a private format of one client,
 * but explicit so an upgrade can read what an older version wrote.
 */
#define SESSION_MAGIC "PLS"
#define SESSION_FORMAT 1

int e2e_session_serialize(const struct e2e_session *s, uint8_t **out, size_t *outlen)
{
    struct e2e__wr w = {0};
    if (!s || !out || !outlen)
        return PL_EINVAL;
    e2e__wr_bytes(&w, SESSION_MAGIC, 3);
    e2e__wr_u8(&w, SESSION_FORMAT);
    e2e__wr_bytes(&w, s->ad, 64);
    e2e__wr_bytes(&w, s->peer_ik, 32);
    e2e__wr_bytes(&w, s->rk, 32);
    e2e__wr_bytes(&w, s->dhs_pk, 32);
    e2e__wr_bytes(&w, s->dhs_sk, 32);
    e2e__wr_bytes(&w, s->dhr, 32);
    e2e__wr_bytes(&w, s->cks, 32);
    e2e__wr_bytes(&w, s->ckr, 32);
    e2e__wr_u8(&w, s->has_dhr);
    e2e__wr_u8(&w, s->has_cks);
    e2e__wr_u8(&w, s->has_ckr);
    e2e__wr_u8(&w, s->initiator);
    e2e__wr_u8(&w, s->pending);
    e2e__wr_u8(&w, s->has_opk);
    e2e__wr_u32(&w, s->spk_id);
    e2e__wr_u32(&w, s->opk_id);
    e2e__wr_bytes(&w, s->base_key, 32);
    e2e__wr_u32(&w, s->ns);
    e2e__wr_u32(&w, s->nr);
    e2e__wr_u32(&w, s->pn);
    e2e__wr_u32(&w, s->nskipped);
    for (uint32_t i = 0; i < s->nskipped; i++) {
        e2e__wr_bytes(&w, s->skipped[i].dh, 32);
        e2e__wr_u32(&w, s->skipped[i].n);
        e2e__wr_bytes(&w, s->skipped[i].mk, 32);
    }
    if (!w.p)
        return PL_ENOMEM;
    *out = w.p;
    *outlen = w.len;
    return 0;
}

static int flag(struct e2e__rd *r, uint8_t *f)
{
    *f = e2e__rd_u8(r);
    if (*f > 1)
        r->bad = 1;
    return 0;
}

int e2e_session_deserialize(const uint8_t *buf, size_t len, struct e2e_session **out)
{
    struct e2e__rd r = {.p = buf, .len = len};
    uint8_t magic[3];
    struct e2e_session *s;
    if (!buf || !out)
        return PL_EINVAL;
    e2e__rd_bytes(&r, magic, 3);
    if (r.bad || memcmp(magic, SESSION_MAGIC, 3) != 0)
        return PL_EMALFORMED;
    if (e2e__rd_u8(&r) != SESSION_FORMAT)
        return E2E_EVERSION;
    if (!(s = e2e__session_alloc()))
        return PL_ENOMEM;
    e2e__rd_bytes(&r, s->ad, 64);
    e2e__rd_bytes(&r, s->peer_ik, 32);
    e2e__rd_bytes(&r, s->rk, 32);
    e2e__rd_bytes(&r, s->dhs_pk, 32);
    e2e__rd_bytes(&r, s->dhs_sk, 32);
    e2e__rd_bytes(&r, s->dhr, 32);
    e2e__rd_bytes(&r, s->cks, 32);
    e2e__rd_bytes(&r, s->ckr, 32);
    (void)flag(&r, &s->has_dhr);
    (void)flag(&r, &s->has_cks);
    (void)flag(&r, &s->has_ckr);
    (void)flag(&r, &s->initiator);
    (void)flag(&r, &s->pending);
    (void)flag(&r, &s->has_opk);
    s->spk_id = e2e__rd_u32(&r);
    s->opk_id = e2e__rd_u32(&r);
    e2e__rd_bytes(&r, s->base_key, 32);
    s->ns = e2e__rd_u32(&r);
    s->nr = e2e__rd_u32(&r);
    s->pn = e2e__rd_u32(&r);
    uint32_t n = e2e__rd_u32(&r);
    if (n > E2E_MAX_SKIP)
        r.bad = 1;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        e2e__rd_bytes(&r, s->skipped[i].dh, 32);
        s->skipped[i].n = e2e__rd_u32(&r);
        e2e__rd_bytes(&r, s->skipped[i].mk, 32);
    }
    s->nskipped = r.bad ? 0 : n;
    if (r.bad || r.off != r.len) {
        e2e_session_free(s);
        return PL_EMALFORMED;
    }
    *out = s;
    return 0;
}
