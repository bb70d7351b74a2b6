/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's state: one passphrase-sealed file in PARLEY_HOME. */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The sealed payload is a list of records, each
 *   tag (1) || be32(key length) || key || be32(value length) || value
 * It holds keys, so it exists in clear only in memory; on disk it is an
 * e2e_vault (argon2id + secretbox). PARLEY_VAULT_COST=low lowers the
 * argon2id cost for tests.
 */

static char *state_path(struct cli *c, const char *suffix)
{
    size_t n = strlen(c->home) + 32;
    char *p = malloc(n);
    if (!p)
        cli_die("out of memory");
    snprintf(p, n, "%s/state.vault%s", c->home, suffix);
    return p;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void parse(struct cli *c, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < 5)
            cli_die("state file damaged");
        uint8_t tag = p[off];
        uint32_t kl = get32(p + off + 1);
        off += 5;
        if (len - off < (size_t)kl + 4)
            cli_die("state file damaged");
        char *key = cli_strndup((const char *)p + off, kl);
        off += kl;
        uint32_t vl = get32(p + off);
        off += 4;
        if (len - off < vl)
            cli_die("state file damaged");
        cli_rec_set(c, tag, key, p + off, vl);
        free(key);
        off += vl;
    }
}

int cli_state_load(struct cli *c)
{
    char *path = state_path(c, "");
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) {
        if (errno == ENOENT)
            return 1;
        cli_die("cannot read state in %s: %s", c->home, strerror(errno));
    }
    uint8_t *buf = NULL, *pt;
    size_t len = 0, cap = 0, r, ptlen;
    do {
        if (len == cap && !(buf = realloc(buf, cap = cap ? cap * 2 : 65536)))
            cli_die("out of memory");
        r = fread(buf + len, 1, cap - len, f);
        len += r;
    } while (r > 0);
    fclose(f);
    if (!c->pass)
        cli_die("set PARLEY_PASSWORD (or PARLEY_PASSPHRASE) to open the state");
    int rc = e2e_vault_open(c->pass, strlen(c->pass), buf, len, &pt, &ptlen);
    free(buf);
    if (rc < 0)
        cli_die("cannot open the state in %s: %s", c->home, e2e_strerror(rc));
    parse(c, pt, ptlen);
    e2e_buf_free(pt, ptlen);
    c->dirty = 0;
    return 0;
}

void cli_state_save(struct cli *c)
{
    size_t len = 0;
    for (size_t i = 0; i < c->nrecs; i++)
        len += 9 + strlen(c->recs[i].key) + c->recs[i].len;
    uint8_t *p = malloc(len ? len : 1), *w = p, *out;
    size_t outlen;
    if (!p)
        cli_die("out of memory");
    for (size_t i = 0; i < c->nrecs; i++) {
        size_t kl = strlen(c->recs[i].key);
        *w++ = c->recs[i].tag;
        put32(w, (uint32_t)kl);
        memcpy(w + 4, c->recs[i].key, kl);
        w += 4 + kl;
        put32(w, (uint32_t)c->recs[i].len);
        memcpy(w + 4, c->recs[i].val, c->recs[i].len);
        w += 4 + c->recs[i].len;
    }
    struct e2e_vault_params vp = e2e_vault_params_default();
    const char *cost = getenv("PARLEY_VAULT_COST");
    if (cost && strcmp(cost, "low") == 0)
        vp = (struct e2e_vault_params){1, 8192 * 1024};
    if (!c->pass)
        cli_die("set PARLEY_PASSWORD (or PARLEY_PASSPHRASE) to protect the state");
    int rc = e2e_vault_seal(c->pass, strlen(c->pass), &vp, p, len, &out, &outlen);
    e2e_buf_free(p, len);
    if (rc < 0)
        cli_die("cannot seal the state: %s", e2e_strerror(rc));
    if (mkdir(c->home, 0700) != 0 && errno != EEXIST)
        cli_die("cannot create %s: %s", c->home, strerror(errno));
    char *tmp = state_path(c, ".tmp"), *path = state_path(c, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, out, outlen) != (ssize_t)outlen || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0)
        cli_die("cannot write %s: %s", path, strerror(errno));
    e2e_buf_free(out, outlen);
    free(tmp);
    free(path);
    c->dirty = 0;
}

void cli_state_wipe(struct cli *c)
{
    char *path = state_path(c, "");
    if (unlink(path) != 0 && errno != ENOENT)
        cli_die("cannot remove %s: %s", path, strerror(errno));
    free(path);
    for (size_t i = 0; i < c->nrecs; i++) {
        free(c->recs[i].key);
        e2e_buf_free(c->recs[i].val, c->recs[i].len);
    }
    c->nrecs = 0;
    c->dirty = 0;
}

struct cli_rec *cli_rec_get(struct cli *c, uint8_t tag, const char *key)
{
    for (size_t i = 0; i < c->nrecs; i++)
        if (c->recs[i].tag == tag && strcmp(c->recs[i].key, key) == 0)
            return &c->recs[i];
    return NULL;
}

void cli_rec_set(struct cli *c, uint8_t tag, const char *key, const void *val, size_t len)
{
    struct cli_rec *r = cli_rec_get(c, tag, key);
    if (!r) {
        struct cli_rec *n = realloc(c->recs, (c->nrecs + 1) * sizeof(*n));
        if (!n)
            cli_die("out of memory");
        c->recs = n;
        r = &c->recs[c->nrecs++];
        r->tag = tag;
        r->key = strdup(key);
        r->val = NULL;
        r->len = 0;
    }
    e2e_buf_free(r->val, r->len);
    r->val = malloc(len + 1);
    if (!r->key || !r->val)
        cli_die("out of memory");
    memcpy(r->val, val, len);
    r->val[len] = 0;
    r->len = len;
    c->dirty = 1;
}

void cli_rec_del(struct cli *c, uint8_t tag, const char *key)
{
    struct cli_rec *r = cli_rec_get(c, tag, key);
    if (!r)
        return;
    free(r->key);
    e2e_buf_free(r->val, r->len);
    *r = c->recs[--c->nrecs];
    c->dirty = 1;
}

const char *cli_conf(struct cli *c, const char *key)
{
    struct cli_rec *r = cli_rec_get(c, CLI_T_CONF, key);
    return r ? (const char *)r->val : NULL;
}

void cli_conf_set(struct cli *c, const char *key, const char *val)
{
    cli_rec_set(c, CLI_T_CONF, key, val, strlen(val));
}

long long cli_conf_int(struct cli *c, const char *key)
{
    const char *v = cli_conf(c, key);
    return v ? strtoll(v, NULL, 10) : 0;
}
