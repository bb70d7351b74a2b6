/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's identity pins: trust on first use, then accept.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * crypto/PROTOCOL.md, "Identity pinning". The server hands out identity
 * keys, so it could substitute its own: each device's key is pinned
 * (CLI_T_PIN) the first time the user's devices are listed, and from then
 * on a changed key or a new device is only recorded (CLI_T_PENDING) and
 * refused, for sending and decrypting, until `parley verify --accept
 * USER`. The user is told "safety number with USER changed" first.
 */

static char *dev_key(char *buf, size_t n, long long uid, long long dev)
{
    snprintf(buf, n, "%lld:%lld", uid, dev);
    return buf;
}

/* "safety number with NAME changed", once per new key, on stdout while
 * listening (the reader's screen) and on stderr otherwise. */
static void notice(struct cli *c, long long uid, long long dev, int is_new)
{
    char *name = cli_safe(cli_user_name(c, uid));
    if (c->listening && c->json) {
        printf("{\"event\":\"safety_number_changed\",\"user_id\":%lld,\"device_id\":%lld}\n", uid,
               dev);
    } else {
        FILE *f = c->listening ? stdout : stderr;
        fprintf(f,
                "%ssafety number with %s changed: %s %lld. Compare `parley verify %s` with them, "
                "then run `parley verify --accept %s`\n",
                c->listening ? "" : "parley: ", name,
                is_new ? "new device" : "new identity key on device", dev, name, name);
    }
    fflush(c->listening ? stdout : stderr);
    free(name);
}

int cli_pin_check(struct cli *c, long long uid, long long dev, const uint8_t ik[32])
{
    char key[48], ukey[24];
    int rc = 0;
    dev_key(key, sizeof(key), uid, dev);
    snprintf(ukey, sizeof(ukey), "%lld", uid);
    cli_tx_begin(c);
    struct cli_rec *pin = cli_rec_get(c, CLI_T_PIN, key);
    if (pin && pin->len == 32 && sodium_memcmp(pin->val, ik, 32) == 0) {
        rc = 0;
    } else if (!pin && !cli_rec_get(c, CLI_T_LISTED, ukey)) {
        cli_rec_set(c, CLI_T_PIN, key, ik, 32); /* trust on first use */
    } else {
        struct cli_rec *p = cli_rec_get(c, CLI_T_PENDING, key);
        if (!p || p->len != 32 || memcmp(p->val, ik, 32) != 0) {
            cli_rec_set(c, CLI_T_PENDING, key, ik, 32);
            notice(c, uid, dev, pin == NULL);
        }
        rc = PL_EFORBIDDEN;
    }
    cli_tx_commit(c);
    return rc;
}

/* Marks uid's devices as listed: from now on an unknown device is new. */
void cli_pin_listed(struct cli *c, long long uid)
{
    char ukey[24];
    snprintf(ukey, sizeof(ukey), "%lld", uid);
    if (!cli_rec_get(c, CLI_T_LISTED, ukey))
        cli_rec_set(c, CLI_T_LISTED, ukey, "1", 1);
}

/* The identity keys of a user's devices (GET /v1/users/{u}/devices). */
static size_t user_keys(struct cli *c, const char *user, uint8_t **keys, long long *uid,
                        long long *dev_ids)
{
    char path[512];
    yajl_val res;
    char *u = cli_urlenc(user);
    snprintf(path, sizeof(path), "/v1/users/%s/devices", u);
    free(u);
    long st = cli_http(c, "GET", path, NULL, &res);
    cli_expect(st, res, 200, 200, "listing devices");
    yajl_val devs = cli_jget(res, "devices");
    size_t n = YAJL_IS_ARRAY(devs) ? devs->u.array.len : 0, k = 0;
    if (!(*keys = malloc(n * 32 + 1)))
        cli_die("out of memory");
    *uid = cli_jint(res, "user_id");
    for (size_t i = 0; i < n && i < CLI_MAX_DEVS; i++) {
        size_t len;
        const char *ik = cli_jstr(devs->u.array.values[i], "identity_key");
        if (!ik || cli_unb64(ik, *keys + 32 * k, 32, &len) < 0 || len != 32)
            continue;
        if (dev_ids)
            dev_ids[k] = cli_jint(devs->u.array.values[i], "device_id");
        k++;
    }
    yajl_tree_free(res);
    return k;
}

/* Deletes the sessions (tag: current or earlier ones) with uid's devices
 * whose peer identity is not the pinned one. */
static void forget_unpinned(struct cli *c, uint8_t tag, const char *prefix)
{
    struct cli_rec **r;
    char key[48];
    size_t n = cli_rec_list(c, tag, prefix, &r);
    for (size_t i = 0; i < n; i++) {
        struct e2e_session *s = NULL;
        long long uid = 0, dev = 0;
        sscanf(r[i]->key, "%lld:%lld", &uid, &dev);
        struct cli_rec *pin = cli_rec_get(c, CLI_T_PIN, dev_key(key, sizeof(key), uid, dev));
        if (e2e_session_deserialize(r[i]->val, r[i]->len, &s) < 0 || !pin ||
            memcmp(e2e_session_peer_identity(s), pin->val, 32) != 0)
            cli_rec_del(c, tag, r[i]->key);
        e2e_session_free(s);
    }
    free(r);
}

/* verify --accept: pins every current device of the user, forgets the
 * pending keys and every session whose peer key is no longer pinned. */
static void accept(struct cli *c, long long uid, const uint8_t *keys, const long long *devs,
                   size_t n)
{
    char key[48], prefix[32];
    cli_tx_begin(c);
    for (size_t i = 0; i < n; i++) {
        dev_key(key, sizeof(key), uid, devs[i]);
        cli_rec_set(c, CLI_T_PIN, key, keys + 32 * i, 32);
        cli_rec_del(c, CLI_T_PENDING, key);
    }
    cli_pin_listed(c, uid);
    snprintf(prefix, sizeof(prefix), "%lld:", uid);
    forget_unpinned(c, CLI_T_SESSION, prefix);
    forget_unpinned(c, CLI_T_OLDSESSION, prefix);
    cli_tx_commit(c);
}

void cli_verify(struct cli *c, const char *user, int do_accept)
{
    uint8_t *mine, *theirs, qr[E2E_SAFETY_QR_BYTES];
    long long my_id, their_id, devs[CLI_MAX_DEVS];
    char a[24], b[24], digits[61];
    size_t nm = user_keys(c, cli_conf(c, "username"), &mine, &my_id, NULL);
    size_t nt = user_keys(c, user, &theirs, &their_id, devs);
    if (!nm || !nt)
        cli_die("%s has no device with keys", nm ? user : "you");
    snprintf(a, sizeof(a), "%lld", my_id);
    snprintf(b, sizeof(b), "%lld", their_id);
    if (e2e_safety_number(a, mine, nm, b, theirs, nt, digits, qr) < 0)
        cli_die("cannot compute the safety number");
    if (do_accept)
        accept(c, their_id, theirs, devs, nt);
    char *name = cli_safe(user);
    if (c->json) {
        char *q = cli_b64(qr, sizeof(qr));
        printf("{\"user_id\":%lld,\"safety_number\":\"%s\",\"qr\":\"%s\",\"accepted\":%s}\n",
               their_id, digits, q, do_accept ? "true" : "false");
        free(q);
    } else {
        for (int i = 0; i < 12; i++)
            printf("%.5s%s", digits + 5 * i, i == 5 ? "\n" : i == 11 ? "\n" : " ");
        if (do_accept)
            printf("accepted the current devices of %s (%zu)\n", name, nt);
    }
    free(name);
    free(mine);
    free(theirs);
}
