/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's state: an SQLite store of sealed records.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * $PARLEY_HOME/parley.db is shared by every parley process of the device
 * (a listener and senders in other terminals). Each record is a row
 * (tag, key, value); the value is sealed with the store key (argon2id of
 * the passphrase, crypto/e2e vault.c) and the AD "parley-store-v1" || tag
 * || key, so a value copied to another row does not open. Tags and keys
 * (conversation and device ids, seq numbers) are in the clear; keys,
 * sessions, the token and message texts are not.
 *
 * Concurrency: reads go to the database every time (cli_rec_get never
 * answers from a stale cache), and every read-modify-write runs between
 * cli_tx_begin() and cli_tx_commit(), i.e. inside BEGIN IMMEDIATE, which
 * takes SQLite's write lock first: another process's step either
 * committed before our reads or waits until we commit. A process that dies
 * inside a transaction leaves nothing behind (SQLite rolls it back).
 * WAL journal with synchronous=FULL: a committed step survives a crash of
 * the process and of the machine.
 */

#define STORE_FILE "parley.db"
#define STORE_AD "parley-store-v1"
#define STORE_CHECK "parley store check"

/* The open database, also here: c->store lives in sodium_malloc memory
 * (it holds the key), which leak checkers do not scan, and a command that
 * exits early (cli_die, exit status 3) leaves the handle open on purpose,
 * as SQLite closes cleanly at exit. */
static sqlite3 *live_db;

struct cli_store {
    sqlite3 *db;
    uint8_t key[32];
    int keyed;
    int depth; /* cli_tx_begin nesting */
};

static void db_die(struct cli *c, const char *what)
{
    cli_die("state store %s/%s: %s: %s", c->home, STORE_FILE, what,
            c->store ? sqlite3_errmsg(c->store->db) : "not open");
}

static void exec(struct cli *c, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(c->store->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "parley: %s\n", err ? err : "?");
        sqlite3_free(err);
        db_die(c, sql);
    }
}

static sqlite3_stmt *prep(struct cli *c, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->store->db, sql, -1, &st, NULL) != SQLITE_OK)
        db_die(c, "prepare");
    return st;
}

void cli_tx_begin(struct cli *c)
{
    if (c->store->depth++ == 0)
        exec(c, "BEGIN IMMEDIATE");
}

void cli_tx_commit(struct cli *c)
{
    if (--c->store->depth > 0)
        return;
    /* With busy_timeout set, COMMIT waits for readers' locks itself. */
    exec(c, "COMMIT");
}

/* The AD of a record: label || tag || key. */
static uint8_t *rec_ad(uint8_t tag, const char *key, size_t *n)
{
    size_t kl = strlen(key), ll = sizeof(STORE_AD) - 1;
    uint8_t *ad = malloc(ll + 1 + kl);
    if (!ad)
        cli_die("out of memory");
    memcpy(ad, STORE_AD, ll);
    ad[ll] = tag;
    memcpy(ad + ll + 1, key, kl);
    *n = ll + 1 + kl;
    return ad;
}

static void rec_free(struct cli_rec *r)
{
    if (!r)
        return;
    free(r->key);
    e2e_buf_free(r->val, r->len + 1);
    free(r);
}

/* Opens one sealed value into a fresh record (NUL after the value). */
static struct cli_rec *rec_open(struct cli *c, uint8_t tag, const char *key, const void *blob,
                                int n)
{
    size_t adn, ptlen;
    uint8_t *ad = rec_ad(tag, key, &adn), *pt;
    int rc =
        e2e_vault_record_open(c->store->key, ad, adn, blob, (size_t)(n < 0 ? 0 : n), &pt, &ptlen);
    free(ad);
    if (rc < 0)
        cli_die("state store: record %c/%s does not open: %s", tag, key, e2e_strerror(rc));
    pt[ptlen] = 0;
    struct cli_rec *r = calloc(1, sizeof(*r));
    if (!r || !(r->key = strdup(key)))
        cli_die("out of memory");
    r->tag = tag;
    r->val = pt;
    r->len = ptlen;
    return r;
}

/* Records handed out stay valid until the process ends (they are kept on
 * c->recs and freed by cli_store_close), so callers may hold several. */
static struct cli_rec *keep(struct cli *c, struct cli_rec *r)
{
    if (c->nrecs == c->caprecs) {
        size_t cap = c->caprecs ? c->caprecs * 2 : 64;
        struct cli_rec **n = realloc(c->recs, cap * sizeof(*n));
        if (!n)
            cli_die("out of memory");
        c->recs = n;
        c->caprecs = cap;
    }
    c->recs[c->nrecs++] = r;
    return r;
}

struct cli_rec *cli_rec_get(struct cli *c, uint8_t tag, const char *key)
{
    sqlite3_stmt *st = prep(c, "SELECT val FROM recs WHERE tag = ?1 AND key = ?2");
    struct cli_rec *r = NULL;
    sqlite3_bind_int(st, 1, tag);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = keep(c, rec_open(c, tag, key, sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)));
    else if (rc != SQLITE_DONE)
        db_die(c, "read");
    sqlite3_finalize(st);
    return r;
}

size_t cli_rec_list(struct cli *c, uint8_t tag, const char *prefix, struct cli_rec ***out)
{
    /* key >= prefix AND key < prefix || 0xff: the keys starting with prefix. */
    sqlite3_stmt *st = prep(c, "SELECT key, val FROM recs WHERE tag = ?1 AND key >= ?2 AND "
                               "key < ?2 || char(1114111) ORDER BY key");
    size_t n = 0, cap = 16;
    *out = malloc(cap * sizeof(**out));
    if (!*out)
        cli_die("out of memory");
    sqlite3_bind_int(st, 1, tag);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap && !(*out = realloc(*out, (cap *= 2) * sizeof(**out))))
            cli_die("out of memory");
        (*out)[n++] = keep(c, rec_open(c, tag, (const char *)sqlite3_column_text(st, 0),
                                       sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1)));
    }
    if (rc != SQLITE_DONE)
        db_die(c, "list");
    sqlite3_finalize(st);
    return n;
}

void cli_rec_set(struct cli *c, uint8_t tag, const char *key, const void *val, size_t len)
{
    size_t adn, n;
    uint8_t *ad = rec_ad(tag, key, &adn), *sealed;
    if (e2e_vault_record_seal(c->store->key, ad, adn, val, len, &sealed, &n) < 0)
        cli_die("out of memory");
    free(ad);
    sqlite3_stmt *st = prep(c, "INSERT OR REPLACE INTO recs (tag, key, val) VALUES (?1, ?2, ?3)");
    sqlite3_bind_int(st, 1, tag);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, sealed, (int)n, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        db_die(c, "write");
    sqlite3_finalize(st);
    e2e_buf_free(sealed, n);
}

void cli_rec_del(struct cli *c, uint8_t tag, const char *key)
{
    sqlite3_stmt *st = prep(c, "DELETE FROM recs WHERE tag = ?1 AND key = ?2");
    sqlite3_bind_int(st, 1, tag);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        db_die(c, "delete");
    sqlite3_finalize(st);
}

/* Logout: every record except the local history (and the chat names it is
 * found by) goes; the store key stays, so `login` on this home opens the
 * history again with the same passphrase. */
void cli_state_wipe_keys(struct cli *c)
{
    cli_tx_begin(c);
    sqlite3_stmt *st =
        prep(c, "DELETE FROM recs WHERE tag NOT IN (?1, ?2) AND "
                "NOT (tag = ?3 AND (key LIKE 'conv:%' OR key IN ('owner', 'last_event_id')))");
    sqlite3_bind_int(st, 1, CLI_T_LOG);
    sqlite3_bind_int(st, 2, CLI_T_NAME);
    sqlite3_bind_int(st, 3, CLI_T_CONF);
    if (sqlite3_step(st) != SQLITE_DONE)
        db_die(c, "logout");
    sqlite3_finalize(st);
    cli_tx_commit(c);
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

void cli_recs_release(struct cli *c)
{
    for (size_t i = 0; i < c->nrecs; i++)
        rec_free(c->recs[i]);
    c->nrecs = 0;
}

/* ---- opening ---- */

/* The argon2id cost of a new store. PARLEY_VAULT_COST=low exists only in
 * builds configured with -Dinsecure_test_kdf=true (./scripts/test), so the
 * test suite's hundreds of CLI runs stay fast; a release build always
 * uses MODERATE. */
static struct e2e_vault_params new_cost(void)
{
#ifdef PARLEY_INSECURE_TEST_KDF
    const char *cost = getenv("PARLEY_VAULT_COST");
    if (cost && strcmp(cost, "low") == 0)
        return (struct e2e_vault_params){1, 8192 * 1024};
#endif
    return e2e_vault_params_default();
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* meta 'kdf' = salt (16) || be32(opslimit) || be32(memlimit / 1024). A new
 * store gets it (and a sealed check record, so a wrong passphrase is told
 * at once) inside one transaction: two processes creating the store at
 * the same time agree on one salt. Returns 1 when this call created it. */
static int ensure_kdf(struct cli *c, uint8_t kdf[24])
{
    int created = 0;
    cli_tx_begin(c);
    sqlite3_stmt *st = prep(c, "SELECT value FROM meta WHERE name = 'kdf'");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 24) {
        memcpy(kdf, sqlite3_column_blob(st, 0), 24);
    } else if (rc == SQLITE_DONE) {
        struct e2e_vault_params p = new_cost();
        randombytes_buf(kdf, E2E_VAULT_SALTBYTES);
        put32(kdf + 16, (uint32_t)p.opslimit);
        put32(kdf + 20, (uint32_t)(p.memlimit / 1024));
        created = 1;
    } else {
        db_die(c, "read meta");
    }
    sqlite3_finalize(st);
    if (created) {
        st = prep(c, "INSERT INTO meta (name, value) VALUES ('kdf', ?1)");
        sqlite3_bind_blob(st, 1, kdf, 24, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            db_die(c, "write meta");
        sqlite3_finalize(st);
    }
    /* The commit comes after the check record is written (below). */
    return created;
}

static void derive_key(struct cli *c, const uint8_t kdf[24])
{
    struct e2e_vault_params p = {get32(kdf + 16), (size_t)get32(kdf + 20) * 1024};
    int rc = e2e_vault_key_derive(c->pass, strlen(c->pass), kdf, &p, c->store->key);
    if (rc < 0)
        cli_die("cannot derive the store key: %s", e2e_strerror(rc));
    c->store->keyed = 1;
}

int cli_store_open(struct cli *c, int create)
{
    char path[4200];
    uint8_t kdf[24];
    snprintf(path, sizeof(path), "%s/%s", c->home, STORE_FILE);
    if (access(path, F_OK) != 0) {
        if (!create)
            return 1;
        if (mkdir(c->home, 0700) != 0 && errno != EEXIST)
            cli_die("cannot create %s: %s", c->home, strerror(errno));
    }
    if (!c->pass)
        cli_die("set PARLEY_PASSPHRASE (the passphrase that protects this device's keys; "
                "not the account password) or run from a terminal");
    if (!(c->store = sodium_malloc(sizeof(*c->store))))
        cli_die("out of memory");
    memset(c->store, 0, sizeof(*c->store));
    mode_t old = umask(077);
    int rc = sqlite3_open_v2(path, &c->store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    umask(old);
    live_db = c->store->db;
    if (rc != SQLITE_OK)
        db_die(c, "open");
    sqlite3_busy_timeout(c->store->db, 60000);
    exec(c, "PRAGMA journal_mode = WAL");
    exec(c, "PRAGMA synchronous = FULL");
    exec(c, "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
            "CREATE TABLE IF NOT EXISTS recs (tag INTEGER NOT NULL, key TEXT NOT NULL,"
            " val BLOB NOT NULL, PRIMARY KEY (tag, key)) WITHOUT ROWID");
    int created = ensure_kdf(c, kdf);
    derive_key(c, kdf);
    if (created)
        cli_rec_set(c, CLI_T_CHECK, "", STORE_CHECK, strlen(STORE_CHECK));
    cli_tx_commit(c);
    /* A wrong passphrase fails here, on a record made for this purpose. */
    sqlite3_stmt *st = prep(c, "SELECT val FROM recs WHERE tag = ?1 AND key = ''");
    sqlite3_bind_int(st, 1, CLI_T_CHECK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        size_t adn, n;
        uint8_t *ad = rec_ad(CLI_T_CHECK, "", &adn), *pt;
        rc = e2e_vault_record_open(c->store->key, ad, adn, sqlite3_column_blob(st, 0),
                                   (size_t)sqlite3_column_bytes(st, 0), &pt, &n);
        free(ad);
        if (rc < 0)
            cli_die("wrong passphrase for %s (PARLEY_PASSPHRASE)", c->home);
        e2e_buf_free(pt, n + 1);
    }
    sqlite3_finalize(st);
    return 0;
}

void cli_store_close(struct cli *c)
{
    cli_recs_release(c);
    free(c->recs);
    c->recs = NULL;
    c->caprecs = 0;
    if (!c->store)
        return;
    sqlite3_close(c->store->db);
    live_db = NULL;
    sodium_free(c->store); /* wipes the key */
    c->store = NULL;
}

void cli_store_wipe(struct cli *c)
{
    static const char *const files[] = {STORE_FILE, STORE_FILE "-wal", STORE_FILE "-shm"};
    char path[4200];
    cli_store_close(c);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", c->home, files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            cli_die("cannot remove %s: %s", path, strerror(errno));
    }
}
