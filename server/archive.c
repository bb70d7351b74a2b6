/* SPDX-License-Identifier: MIT */
/* Parley - the history archiver: `parleyd archive` and its timer.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "archive.h"
#include "crypto/crypto.h"

#include "common/log.h"
#include "common/loop.h"
#include "common/ticker.h"
#include "storage/archive.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("archive");

/*
 * Crash safety, step by step (each step can be killed; see the
 * archive_crash_at setting, which the tests use to do exactly that):
 *
 *   1. read the candidates (nothing changes)
 *   2. write the segment under a fresh "a/" key: temp file, fsync, link,
 *      fsync of the directory (storage/blob/fs.c)            -> "written"
 *   3. read it back, check its SHA-256, decompress it and check that it
 *      holds every message                                   -> "verified"
 *   4. ONE transaction: the segment row, the slim rows, the deletes; it
 *      rolls back unless exactly the segment's rows moved    -> "committed"
 *
 * Dying before 4 commits leaves the messages hot and at most an orphan
 * blob, which the next pass deletes: blobs under "a/" are only written
 * while the archive lock is held, so under the lock a blob no segment row
 * names cannot belong to a pass still running. Dying after 4 loses
 * nothing either. A message is never in two places: the rows move in the
 * same transaction that records the segment.
 */

/* The process exit status of a deliberate crash (archive_crash_at). */
#define CRASH_STATUS 86
/* How often a pass waiting for the archive lock asks again. */
#define LOCK_POLL_MS 200

struct pass {
    const struct srv_config *cfg;
    struct store_blob *blobs;
    struct store_pg *pg;
    struct srv_archive_stats *st;
};

static void crash_point(const struct pass *p, const char *step)
{
    if (*p->cfg->archive_crash_at && strcmp(p->cfg->archive_crash_at, step) == 0) {
        pl_log_warn("archive_crash_at=%s: exiting as if killed", step);
        _exit(CRASH_STATUS);
    }
}

struct sweep {
    struct pass *p;
    char (*keys)[STORE_BLOB_KEY_MAX];
    unsigned n, cap;
};

static int on_blob(void *ctx, const char *key, const struct store_blob_stat *bs)
{
    struct sweep *sw = ctx;
    (void)bs;
    if (sw->n == sw->cap) {
        unsigned cap = sw->cap ? sw->cap * 2 : 64;
        void *k = realloc(sw->keys, cap * sizeof(*sw->keys));
        if (!k)
            return PL_ENOMEM;
        sw->keys = k;
        sw->cap = cap;
    }
    snprintf(sw->keys[sw->n++], STORE_BLOB_KEY_MAX, "%s", key);
    return 0;
}

/* Deletes the "a/" blobs no segment row names (see above). */
static int sweep_orphans(struct pass *p)
{
    struct sweep sw = {.p = p};
    int rc = store_blob_list(p->blobs, "a/", on_blob, &sw);
    for (unsigned i = 0; i < sw.n && rc == 0; i++) {
        bool known = true;
        rc = store_pg_archive_known(p->pg, sw.keys[i], &known);
        if (rc == 0 && !known) {
            pl_log_info("deleting orphan segment %s", sw.keys[i]);
            rc = store_blob_delete(p->blobs, sw.keys[i]);
            p->st->orphans++;
        }
    }
    free(sw.keys);
    return rc;
}

/* Step 3: the stored object is exactly what we meant to store. */
static int verify(struct pass *p, const char *key, const uint8_t sha[32], unsigned count)
{
    void *blob = NULL;
    size_t len = 0;
    int rc = store_blob_read_all(p->blobs, key, STORE_ARCHIVE_SEG_RAW_MAX + 4096, &blob, &len);
    if (rc < 0)
        return rc;
    uint8_t got[32];
    pcrypto_sha256(got, blob, len);
    char *raw = NULL;
    size_t raw_len = 0;
    unsigned n = 0;
    if (memcmp(got, sha, 32) != 0)
        rc = PL_EMALFORMED;
    if (rc == 0)
        rc = store_archive_decompress(blob, len, &raw, &raw_len);
    if (rc == 0)
        rc = store_archive_check(raw, raw_len, &n);
    if (rc == 0 && n != count)
        rc = PL_EMALFORMED;
    free(blob);
    free(raw);
    return rc;
}

/* Packs m[0..n) (n >= 1) as one segment, stores, verifies and commits
 * it. */
static int write_segment(struct pass *p, const struct store_message *m, unsigned n, const char *raw,
                         size_t raw_len)
{
    void *z = NULL;
    size_t zlen = 0;
    struct store_archive_segment seg = {
        .conversation_id = m[0].conversation_id,
        .first_seq = m[0].seq,
        .last_seq = m[n - 1].seq,
        .count = n,
        .raw_bytes = raw_len,
    };
    char key[STORE_BLOB_KEY_MAX];
    int64_t *seqs = malloc(n * sizeof(*seqs));
    int rc = seqs ? store_archive_compress(raw, raw_len, &z, &zlen) : PL_ENOMEM;
    if (rc == 0)
        rc = store_blob_key_init("a", key);
    if (rc < 0)
        goto done;
    seg.blob_key = key;
    seg.stored_bytes = zlen;
    pcrypto_sha256(seg.sha256, z, zlen);
    if ((rc = store_blob_put_buf(p->blobs, key, z, zlen, seg.sha256)) < 0)
        goto done;
    crash_point(p, "written");
    if ((rc = verify(p, key, seg.sha256, n)) < 0) {
        pl_log_error("segment %s failed verification: %s", key, pl_strerror(rc));
        goto done; /* the next pass sweeps the blob */
    }
    crash_point(p, "verified");
    for (unsigned i = 0; i < n; i++)
        seqs[i] = m[i].seq;
    rc = store_pg_archive_commit(p->pg, &seg, seqs);
    if (rc == 0) {
        crash_point(p, "committed");
        p->st->segments++;
        p->st->messages += n;
        p->st->raw_bytes += raw_len;
        p->st->stored_bytes += zlen;
    } else if (rc != PL_EUNAVAIL && store_blob_delete(p->blobs, key) < 0) {
        pl_log_warn("segment %s: orphan left for the next pass", key);
    }
done:
    free(seqs);
    free(z);
    return rc;
}

/* Archives what conversation conv has to archive, segment by segment. */
static int archive_conversation(struct pass *p, int64_t conv)
{
    int64_t after = (int64_t)p->cfg->archive_after_s;
    for (;;) {
        struct pl_arena *a = pl_arena_new();
        if (!a)
            return PL_ENOMEM;
        struct store_message *m;
        unsigned n, used = 0;
        int rc =
            store_pg_archive_candidates(p->pg, a, conv, after, STORE_ARCHIVE_SEG_MESSAGES, &m, &n);
        struct pl_buf raw;
        pl_buf_init(&raw, STORE_ARCHIVE_SEG_RAW_MAX);
        /* As many whole lines as fit under the raw cap. */
        while (rc == 0 && used < n) {
            size_t before = raw.len;
            int lr = store_archive_line(&raw, &m[used]);
            if (lr == PL_ETOOBIG && used > 0) {
                raw.len = before;
                break;
            }
            rc = lr;
            used++;
        }
        if (rc == 0 && used > 0)
            rc = write_segment(p, m, used, pl_buf_head(&raw), raw.len);
        pl_buf_deinit(&raw);
        pl_arena_free(a);
        if (rc < 0 || (n < STORE_ARCHIVE_SEG_MESSAGES && used == n))
            return rc;
        if (used == 0)
            return 0;
    }
}

/* Whether conversation id is in the archive_only list ("" selects all).
 * Lets an operator archive chosen conversations by hand, and lets tests
 * that share one database archive only their own. */
static bool selected(const char *only, int64_t id)
{
    if (!*only)
        return true;
    for (const char *s = only; *s;) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end != s && v == id)
            return true;
        s = *end ? end + 1 : end;
    }
    return false;
}

static int run_locked(struct pass *p)
{
    int rc = sweep_orphans(p);
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return PL_ENOMEM;
    int64_t *convs = NULL;
    unsigned n = 0;
    if (rc == 0)
        rc = store_pg_archive_conversations(p->pg, a, (int64_t)p->cfg->archive_after_s, &convs, &n);
    for (unsigned i = 0; i < n && rc == 0; i++)
        if (selected(p->cfg->archive_only, convs[i]))
            rc = archive_conversation(p, convs[i]);
    pl_arena_free(a);
    return rc;
}

int srv_archive_run(const struct srv_config *cfg, struct store_blob *blobs, unsigned wait_ms,
                    struct srv_archive_stats *st)
{
    *st = (struct srv_archive_stats){0};
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct pass p = {.cfg = cfg, .blobs = blobs, .st = st};
    int rc = store_pg_new(&pc, &p.pg);
    if (rc < 0)
        return rc;
    bool got = false;
    /* Another pass (a node's timer) is usually short: a pass run by hand
     * waits for it rather than doing nothing. */
    uint64_t until = pl_now_ms() + wait_ms;
    while ((rc = store_pg_archive_lock(p.pg, true, &got)) == 0 && !got && pl_now_ms() < until)
        usleep(LOCK_POLL_MS * 1000);
    if (rc == 0 && got) {
        rc = run_locked(&p);
        bool ignored;
        if (store_pg_archive_lock(p.pg, false, &ignored) < 0)
            pl_log_warn("archive lock release failed; it ends with the connection");
    } else if (rc == 0) {
        pl_log_info("another archiver is running; nothing to do");
        st->busy = true;
    }
    store_pg_free(p.pg);
    if (rc == 0 && st->segments + st->orphans)
        pl_log_info("archived %u messages in %u segments (%llu bytes raw, %llu stored), "
                    "%u orphans removed",
                    st->messages, st->segments, (unsigned long long)st->raw_bytes,
                    (unsigned long long)st->stored_bytes, st->orphans);
    return rc;
}

/* ---- the timer ---- */

struct srv_archive_timer {
    const struct srv_config *cfg;
    struct store_blob *blobs;
    struct pl_ticker *ticker;
};

static void on_tick(void *ctx)
{
    struct srv_archive_timer *t = ctx;
    struct srv_archive_stats st;
    int rc = srv_archive_run(t->cfg, t->blobs, 0, &st);
    if (rc < 0)
        pl_log_error("archive pass failed: %s", pl_strerror(rc));
}

int srv_archive_timer_new(const struct srv_config *cfg, struct store_blob *blobs,
                          struct srv_archive_timer **out)
{
    *out = NULL;
    if (cfg->archive_interval_s == 0 || !blobs)
        return 0;
    struct srv_archive_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return PL_ENOMEM;
    t->cfg = cfg;
    t->blobs = blobs;
    int rc = pl_ticker_new((uint64_t)cfg->archive_interval_s * 1000, on_tick, t, &t->ticker);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void srv_archive_timer_free(struct srv_archive_timer *t)
{
    if (!t)
        return;
    pl_ticker_free(t->ticker);
    free(t);
}
