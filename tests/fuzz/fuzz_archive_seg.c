/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: reading archive segments (storage/archive_seg.c).     */
/* Copyright (c) 2026 Parley developers                                 */
#include "storage/archive_seg.c"

#include "fuzz.h"

/* What seg_load() does after the blob read: decompress, index by seq,
 * then parse each indexed line as store_archive_fill() would. */
static void read_segment(char *raw, size_t len)
{
    struct seg *s = calloc(1, sizeof(*s));
    if (!s) {
        free(raw);
        return;
    }
    s->raw = raw;
    s->len = len;
    unsigned count = 0;
    (void)store_archive_check(raw, len, &count);
    if (seg_index(s) == 0) {
        struct pl_arena *a = pl_arena_new();
        for (unsigned i = 0; a && i < s->n && i < 64; i++) {
            const char *line = s->raw + s->offs[i];
            const char *nl = memchr(line, '\n', s->len - s->offs[i]);
            size_t n = nl ? (size_t)(nl - line) : s->len - s->offs[i];
            char *copy = pl_arena_strndup(a, line, n);
            struct store_message m;
            if (copy && parse_line(a, copy, &m) == 0)
                (void)store_archive_search_text(a, &m, &(const char *){NULL});
        }
        pl_arena_free(a);
    }
    seg_free(s);
}

/* The whole read path once per input: the bytes stored as a segment blob,
 * then store_archive_fill() for a few seqs (cache, decompress, index,
 * binary search, line parse). */
static void through_store(const uint8_t *p, size_t n, uint8_t seq)
{
    static struct store_blob *blobs;
    if (!blobs) {
        char dir[] = "/tmp/parley-fuzz-archive-XXXXXX";
        struct store_blob_config cfg = {.dir = mkdtemp(dir)};
        if (!cfg.dir || store_blob_new(&cfg, &blobs) < 0)
            abort();
        store_archive_set_blobs(blobs);
    }
    char key[STORE_BLOB_KEY_MAX];
    if (store_blob_key_init("a", key) < 0 || store_blob_put_buf(blobs, key, p, n, NULL) < 0)
        return;
    struct pl_arena *a = pl_arena_new();
    int64_t seqs[] = {0, 1, 2, seq};
    for (unsigned i = 0; a && i < 4; i++) {
        struct store_message m = {0};
        (void)store_archive_fill(a, key, seqs[i], &m);
    }
    pl_arena_free(a);
    (void)store_blob_delete(blobs, key);
}

/* Input: first byte even = a compressed segment (as stored), odd = the
 * raw JSON lines (a segment that decompressed to anything at all). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t mode = fuzz_byte(&in);
    char *raw = NULL;
    size_t len = 0;
    if (mode % 2 == 0) {
        through_store(in.p, in.left, mode);
        if (store_archive_decompress(in.p, in.left, &raw, &len) < 0)
            return 0;
    } else {
        raw = malloc(in.left + 1);
        if (!raw)
            return 0;
        memcpy(raw, in.p, in.left);
        raw[in.left] = 0;
        len = in.left;
    }
    read_segment(raw, len);
    return 0;
}
