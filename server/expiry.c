/* SPDX-License-Identifier: MIT */
/* Parley - the disappearing-messages sweeper.                          */
/* Copyright (c) 2026 Parley developers                                 */
#include "expiry.h"
#include "crypto/crypto.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/ticker.h"
#include "storage/archive.h"
#include "storage/expiry.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("expiry");

/* Messages (and segments) per transaction: a backlog is worked off in
 * bounded steps, each committed before the next. */
#define BATCH 500
#define SEGMENTS 16

struct pass {
    const struct srv_config *cfg;
    struct store_blob *blobs;
    struct store_pg *pg;
    unsigned messages, blobs_deleted, segments;
};

/*
 * Order inside one step: the rows go in a transaction, the blobs of media
 * nothing references any more are deleted before it commits. Dying in
 * between leaves the rows (the next pass takes them again, and deleting a
 * missing blob succeeds), never a blob no row knows of.
 */
static int drop_media(struct pass *p, struct pl_arena *a, const int64_t *media, unsigned n)
{
    char **keys;
    unsigned k;
    int rc = store_pg_media_unreferenced(p->pg, a, media, n, &keys, &k);
    for (unsigned i = 0; i < k && rc == 0; i++)
        if ((rc = store_blob_delete(p->blobs, keys[i])) == 0)
            p->blobs_deleted++;
    return rc;
}

/* One batch of hot messages; *more when the batch was full. */
static int hot_step(struct pass *p, bool *more)
{
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return PL_ENOMEM;
    unsigned n = 0, n_media = 0;
    int64_t *media = NULL;
    int rc = store_pg_tx_begin(p->pg);
    if (rc == 0 && (rc = store_pg_expire_hot(p->pg, a, BATCH, &n, &media, &n_media)) == 0)
        rc = drop_media(p, a, media, n_media);
    if (rc == 0)
        rc = store_pg_tx_commit(p->pg);
    else
        store_pg_tx_rollback(p->pg);
    pl_arena_free(a);
    if (rc == 0)
        p->messages += n;
    *more = rc == 0 && n == BATCH;
    return rc;
}

static bool expired(const struct store_expiring_segment *s, int64_t seq)
{
    for (unsigned i = 0; i < s->n_seqs; i++)
        if (s->seqs[i] == seq)
            return true;
    return false;
}

/* The seq of a segment line. store_archive_line() writes "id" and
 * "conversation_id" (numbers) first, so the first "seq" key is the
 * message's, never text inside its body. */
static bool line_seq(const char *line, size_t len, int64_t *seq)
{
    const char *k = memmem(line, len, "\"seq\":", 6);
    if (!k)
        return false;
    char *end;
    long long v = strtoll(k + 6, &end, 10);
    *seq = v;
    return end != k + 6;
}

/* Writes seg's segment again without its expired lines into a fresh blob
 * (out describes it; out->blob_key points at key). */
static int rewrite(struct pass *p, const struct store_expiring_segment *seg, char *key,
                   struct store_archive_segment *out)
{
    void *blob = NULL, *z = NULL;
    char *raw = NULL;
    size_t len = 0, raw_len = 0, zlen = 0;
    struct pl_buf kept;
    pl_buf_init(&kept, STORE_ARCHIVE_SEG_RAW_MAX);
    *out = (struct store_archive_segment){.conversation_id = seg->conversation_id};
    int rc =
        store_blob_read_all(p->blobs, seg->blob_key, STORE_ARCHIVE_SEG_RAW_MAX + 4096, &blob, &len);
    if (rc == 0)
        rc = store_archive_decompress(blob, len, &raw, &raw_len);
    for (size_t at = 0; rc == 0 && at < raw_len;) {
        const char *nl = memchr(raw + at, '\n', raw_len - at);
        size_t ll = nl ? (size_t)(nl - (raw + at)) + 1 : raw_len - at;
        int64_t seq;
        if (!line_seq(raw + at, ll, &seq)) {
            rc = PL_EMALFORMED;
        } else if (!expired(seg, seq)) {
            if (!out->count++)
                out->first_seq = seq;
            out->last_seq = seq;
            rc = pl_buf_append(&kept, raw + at, ll);
        }
        at += ll;
    }
    if (rc == 0)
        rc = store_archive_compress(pl_buf_head(&kept), kept.len, &z, &zlen);
    if (rc == 0)
        rc = store_blob_key_init("a", key);
    if (rc == 0) {
        out->blob_key = key;
        out->raw_bytes = kept.len;
        out->stored_bytes = zlen;
        pcrypto_sha256(out->sha256, z, zlen);
        rc = store_blob_put_buf(p->blobs, key, z, zlen, out->sha256);
    }
    pl_buf_deinit(&kept);
    free(blob);
    free(raw);
    free(z);
    return rc;
}

/* One segment: rewritten (or dropped when nothing stays), its expired rows
 * erased, then the old blob deleted. Runs under the archive lock, so the
 * archiver's orphan sweep never sees the fresh blob before its row. */
static int segment_step(struct pass *p, const struct store_expiring_segment *seg)
{
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return PL_ENOMEM;
    char key[STORE_BLOB_KEY_MAX];
    struct store_archive_segment fresh;
    bool keep = seg->n_seqs < seg->count;
    int rc = keep ? rewrite(p, seg, key, &fresh) : 0;
    if (rc == 0 && keep && fresh.count == 0)
        keep = false; /* the rows said otherwise; nothing is left either way */
    int64_t *media = NULL;
    unsigned n_media = 0;
    if (rc == 0 && (rc = store_pg_tx_begin(p->pg)) == 0) {
        rc = store_pg_expire_archived(p->pg, a, seg, keep ? &fresh : NULL, &media, &n_media);
        if (rc == 0)
            rc = drop_media(p, a, media, n_media);
        if (rc == 0)
            rc = store_pg_tx_commit(p->pg);
        else
            store_pg_tx_rollback(p->pg);
    }
    if (rc == 0) {
        p->segments++;
        p->messages += seg->n_seqs;
        rc = store_blob_delete(p->blobs, seg->blob_key);
    } else if (keep && store_blob_delete(p->blobs, key) < 0) {
        pl_log_warn("segment %s: orphan left for the archiver", key);
    }
    pl_arena_free(a);
    return rc;
}

static int archived_steps(struct pass *p)
{
    bool got = false;
    int rc = store_pg_archive_lock(p->pg, true, &got);
    if (rc < 0 || !got)
        return rc; /* the archiver is running: the next pass does it */
    struct pl_arena *a = pl_arena_new();
    struct store_expiring_segment *segs = NULL;
    unsigned n = 0;
    rc = a ? store_pg_expiring_segments(p->pg, a, SEGMENTS, &segs, &n) : PL_ENOMEM;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = segment_step(p, &segs[i]);
    pl_arena_free(a);
    bool ignored;
    if (store_pg_archive_lock(p->pg, false, &ignored) < 0)
        pl_log_warn("archive lock release failed; it ends with the connection");
    return rc;
}

static int run_pass(struct pass *p)
{
    bool got = false;
    int rc = store_pg_expiry_lock(p->pg, true, &got);
    if (rc < 0 || !got)
        return rc;
    bool more = true;
    while (rc == 0 && more)
        rc = hot_step(p, &more);
    if (rc == 0 && p->blobs)
        rc = archived_steps(p);
    bool ignored;
    if (store_pg_expiry_lock(p->pg, false, &ignored) < 0)
        pl_log_warn("expiry lock release failed; it ends with the connection");
    return rc;
}

struct srv_expiry_timer {
    const struct srv_config *cfg;
    struct store_blob *blobs;
    struct pl_ticker *ticker;
};

static void on_tick(void *ctx)
{
    struct srv_expiry_timer *t = ctx;
    struct store_pg_config pc = {.conninfo = t->cfg->pg,
                                 .connect_timeout_s = t->cfg->pg_connect_timeout_s};
    struct pass p = {.cfg = t->cfg, .blobs = t->blobs};
    int rc = store_pg_new(&pc, &p.pg);
    if (rc == 0)
        rc = run_pass(&p);
    store_pg_free(p.pg);
    if (rc < 0)
        pl_log_error("expiry pass failed: %s", pl_strerror(rc));
    else if (p.messages)
        pl_log_info("expired %u messages (%u segments rewritten, %u media blobs deleted)",
                    p.messages, p.segments, p.blobs_deleted);
}

int srv_expiry_timer_new(const struct srv_config *cfg, struct store_blob *blobs,
                         struct srv_expiry_timer **out)
{
    *out = NULL;
    if (cfg->expiry_interval_ms == 0)
        return 0;
    struct srv_expiry_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return PL_ENOMEM;
    t->cfg = cfg;
    t->blobs = blobs;
    int rc = pl_ticker_new(cfg->expiry_interval_ms, on_tick, t, &t->ticker);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void srv_expiry_timer_free(struct srv_expiry_timer *t)
{
    if (!t)
        return;
    pl_ticker_free(t->ticker);
    free(t);
}
