/* SPDX-License-Identifier: MIT */
/* Parley - archive segments: JSON lines, brotli, the read cache.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "archive.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* Quality 9 with a 4 MiB window: segments are written once by a
 * background job and read many times, so compressing harder costs nothing
 * a user waits for, while 10-11 would triple the job's CPU for a few
 * percent. Decompression speed does not depend on the quality. */
#define SEG_QUALITY 9
#define SEG_LGWIN 22

/* Decompressed segments kept for reads: a page of history usually sits in
 * one segment, and paging through old history reads it again and again. */
#define CACHE_SLOTS 16

static int json_str(struct pl_buf *b, const char *key, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = pl_buf_printf(b, ",\"%s\":\"", key);
    for (const char *run = s; rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        if ((rc = pl_buf_append(b, run, (size_t)(s - run))) < 0 || !ch)
            break;
        char esc[6] = {'\\', (char)ch, 'u', '0', '0', 0};
        if (ch < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
        }
        rc = pl_buf_append(b, esc, ch < 0x20 ? 6 : 2);
        run = s + 1;
    }
    return rc < 0 ? rc : pl_buf_append(b, "\"", 1);
}

int store_archive_line(struct pl_buf *raw, const struct store_message *m)
{
    int rc = pl_buf_printf(raw,
                           "{\"id\":%" PRId64 ",\"conversation_id\":%" PRId64 ",\"seq\":%" PRId64
                           ",\"sender_id\":%" PRId64 ",\"sender_device_id\":%" PRId64,
                           m->id, m->conversation_id, m->seq, m->sender_id, m->sender_device_id);
    if (rc == 0)
        rc = json_str(raw, "client_msg_id", m->client_msg_id);
    if (rc == 0)
        rc = json_str(raw, "kind", m->kind);
    if (rc == 0)
        rc = json_str(raw, "body", m->body);
    if (rc == 0)
        rc = pl_buf_printf(raw, ",\"reply_to\":%" PRId64, m->reply_to);
    if (rc == 0)
        rc = json_str(raw, "created_at", m->created_at);
    return rc < 0 ? rc : pl_buf_append(raw, "}\n", 2);
}

int store_archive_compress(const void *raw, size_t len, void **out, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    uint8_t *buf = malloc(cap ? cap : 64);
    if (!buf)
        return PL_ENOMEM;
    size_t n = cap ? cap : 64;
    if (!BrotliEncoderCompress(SEG_QUALITY, SEG_LGWIN, BROTLI_MODE_TEXT, len, raw, &n, buf)) {
        free(buf);
        return PL_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int store_archive_decompress(const void *seg, size_t len, char **out, size_t *out_len)
{
    BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    char *buf = malloc(STORE_ARCHIVE_SEG_RAW_MAX + 1);
    if (!st || !buf) {
        BrotliDecoderDestroyInstance(st);
        free(buf);
        return PL_ENOMEM;
    }
    const uint8_t *in = seg;
    size_t avail_in = len, avail_out = STORE_ARCHIVE_SEG_RAW_MAX;
    uint8_t *next_out = (uint8_t *)buf;
    /* The output is bounded: a segment that would inflate past the cap is
     * refused rather than grown into. */
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(st, &avail_in, &in, &avail_out, &next_out, NULL);
    BrotliDecoderDestroyInstance(st);
    if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0) {
        free(buf);
        return PL_EMALFORMED;
    }
    *out_len = STORE_ARCHIVE_SEG_RAW_MAX - avail_out;
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
}

/* ---- parsing one line ---- */

static bool get_int(yajl_val t, const char *key, int64_t *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(t, path, yajl_t_number);
    if (!v || !YAJL_IS_INTEGER(v))
        return false;
    *out = YAJL_GET_INTEGER(v);
    return true;
}

static const char *get_str(struct pl_arena *a, yajl_val t, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(t, path, yajl_t_string);
    return v ? pl_arena_strdup(a, YAJL_GET_STRING(v)) : NULL;
}

/* Parses one line (NUL-terminated copy) into *m; a may be NULL to only
 * check it. */
static int parse_line(struct pl_arena *a, const char *line, struct store_message *m)
{
    yajl_val t = yajl_tree_parse(line, NULL, 0);
    if (!t || !YAJL_IS_OBJECT(t)) {
        yajl_tree_free(t);
        return PL_EMALFORMED;
    }
    struct store_message x = {0};
    bool ok = get_int(t, "id", &x.id) && get_int(t, "conversation_id", &x.conversation_id) &&
              get_int(t, "seq", &x.seq) && get_int(t, "sender_id", &x.sender_id) &&
              get_int(t, "sender_device_id", &x.sender_device_id) &&
              get_int(t, "reply_to", &x.reply_to);
    int rc = ok ? 0 : PL_EMALFORMED;
    if (rc == 0 && a) {
        x.client_msg_id = get_str(a, t, "client_msg_id");
        x.kind = get_str(a, t, "kind");
        x.body = get_str(a, t, "body");
        x.created_at = get_str(a, t, "created_at");
        if (!x.client_msg_id || !x.kind || !x.body || !x.created_at)
            rc = PL_EMALFORMED;
    }
    yajl_tree_free(t);
    if (rc == 0 && m)
        *m = x;
    return rc;
}

/* Calls fn for each line of raw (NUL-terminated copies in a scratch
 * buffer); stops at the first non-zero return. */
static int each_line(const char *raw, size_t len, int (*fn)(void *ctx, const char *line), void *ctx)
{
    size_t cap = 4096;
    char *tmp = malloc(cap);
    int rc = tmp ? 0 : PL_ENOMEM;
    for (size_t off = 0; rc == 0 && off < len;) {
        const char *nl = memchr(raw + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (raw + off)) : len - off;
        if (n + 1 > cap) {
            char *t = realloc(tmp, n + 1);
            if (!t) {
                rc = PL_ENOMEM;
                break;
            }
            tmp = t;
            cap = n + 1;
        }
        memcpy(tmp, raw + off, n);
        tmp[n] = '\0';
        rc = fn(ctx, tmp);
        off += n + 1;
    }
    free(tmp);
    return rc;
}

static int count_line(void *ctx, const char *line)
{
    int rc = parse_line(NULL, line, NULL);
    if (rc == 0)
        (*(unsigned *)ctx)++;
    return rc;
}

int store_archive_check(const char *raw, size_t len, unsigned *count)
{
    *count = 0;
    return each_line(raw, len, count_line, count);
}

/* ---- the read cache ---- */

/* One decompressed segment and where each of its lines starts, by seq. */
struct seg {
    char key[STORE_BLOB_KEY_MAX];
    char *raw;
    size_t len;
    int64_t *seqs; /* ascending */
    size_t *offs;
    unsigned n;
    unsigned refs; /* readers using it outside the lock */
    uint64_t used; /* for LRU */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg *cache[CACHE_SLOTS];
static uint64_t cache_clock;
static struct store_blob *seg_blobs;

void store_archive_set_blobs(struct store_blob *blobs)
{
    seg_blobs = blobs;
}

static void seg_free(struct seg *s)
{
    if (!s)
        return;
    free(s->raw);
    free(s->seqs);
    free(s->offs);
    free(s);
}

/* Indexes the lines by seq. Each line starts with {"id":N,"conversation_
 * id":N,"seq":N, as store_archive_line() writes it; a line that does not
 * is a corrupt segment. */
static int seg_index(struct seg *s)
{
    unsigned cap = 0;
    for (size_t i = 0; i < s->len; i++)
        cap += s->raw[i] == '\n';
    s->seqs = malloc((cap ? cap : 1) * sizeof(*s->seqs));
    s->offs = malloc((cap ? cap : 1) * sizeof(*s->offs));
    if (!s->seqs || !s->offs)
        return PL_ENOMEM;
    for (size_t off = 0; off < s->len && s->n < cap;) {
        const char *p = strstr(s->raw + off, ",\"seq\":");
        const char *nl = memchr(s->raw + off, '\n', s->len - off);
        if (!p || !nl || p > nl)
            return PL_EMALFORMED;
        s->seqs[s->n] = strtoll(p + 7, NULL, 10);
        s->offs[s->n++] = off;
        off = (size_t)(nl - s->raw) + 1;
    }
    return 0;
}

static int seg_load(const char *key, struct seg **out)
{
    if (!seg_blobs)
        return PL_EUNAVAIL;
    void *blob = NULL;
    size_t blen = 0;
    /* A compressed segment is never larger than its raw cap. */
    int rc = store_blob_read_all(seg_blobs, key, STORE_ARCHIVE_SEG_RAW_MAX + 4096, &blob, &blen);
    if (rc < 0)
        return rc;
    struct seg *s = calloc(1, sizeof(*s));
    rc = s ? store_archive_decompress(blob, blen, &s->raw, &s->len) : PL_ENOMEM;
    free(blob);
    if (rc == 0)
        rc = seg_index(s);
    if (rc < 0) {
        seg_free(s);
        return rc;
    }
    snprintf(s->key, sizeof(s->key), "%s", key);
    *out = s;
    return 0;
}

/* Returns the cached segment with a reference, loading it (outside the
 * lock: blob reads are disk I/O) when missing. */
static int seg_get(const char *key, struct seg **out)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i] && strcmp(cache[i]->key, key) == 0) {
            cache[i]->refs++;
            cache[i]->used = ++cache_clock;
            *out = cache[i];
            pthread_mutex_unlock(&cache_lock);
            return 0;
        }
    pthread_mutex_unlock(&cache_lock);
    struct seg *s;
    int rc = seg_load(key, &s);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&cache_lock);
    /* Replace a free slot or the least recently used one nobody holds; if
     * every slot is busy, the segment serves this read only. */
    int victim = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!cache[i]) {
            victim = i;
            break;
        }
        if (cache[i]->refs == 0 && (victim < 0 || cache[i]->used < cache[victim]->used))
            victim = i;
    }
    s->refs = 1;
    s->used = ++cache_clock;
    if (victim >= 0) {
        seg_free(cache[victim]);
        cache[victim] = s;
    } else {
        s->refs = 1u << 30; /* marks an uncached segment: seg_put frees it */
    }
    pthread_mutex_unlock(&cache_lock);
    *out = s;
    return 0;
}

static void seg_put(struct seg *s)
{
    if (s->refs == 1u << 30) {
        seg_free(s);
        return;
    }
    pthread_mutex_lock(&cache_lock);
    s->refs--;
    pthread_mutex_unlock(&cache_lock);
}

int store_archive_fill(struct pl_arena *a, const char *key, int64_t seq, struct store_message *m)
{
    struct seg *s;
    int rc = seg_get(key, &s);
    if (rc < 0)
        return rc;
    unsigned lo = 0, hi = s->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (s->seqs[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    rc = PL_ENOTFOUND;
    if (lo < s->n && s->seqs[lo] == seq) {
        const char *line = s->raw + s->offs[lo];
        const char *nl = strchr(line, '\n');
        char *copy = pl_arena_strndup(a, line, nl ? (size_t)(nl - line) : strlen(line));
        struct store_message x;
        rc = copy ? parse_line(a, copy, &x) : PL_ENOMEM;
        if (rc == 0) {
            m->sender_device_id = x.sender_device_id;
            m->client_msg_id = x.client_msg_id;
            m->kind = x.kind;
            m->body = x.body;
            m->reply_to = x.reply_to;
            m->created_at = x.created_at;
        }
    }
    seg_put(s);
    return rc;
}

int store_archive_search_text(struct pl_arena *a, const struct store_message *m, const char **text)
{
    *text = NULL;
    if (m->kind && strcmp(m->kind, "text") == 0) {
        *text = m->body;
    } else if (m->kind && strcmp(m->kind, "media") == 0) {
        yajl_val t = yajl_tree_parse(m->body, NULL, 0);
        const char *c = t ? get_str(a, t, "caption") : NULL;
        yajl_tree_free(t);
        *text = c ? c : "";
    }
    return 0;
}
