/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for storage/archive_seg.c (segments, read cache). */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "storage/archive.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char root[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    if (root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store_message msg(int64_t seq, const char *kind, const char *body)
{
    return (struct store_message){.id = 1000 + seq,
                                  .conversation_id = 7,
                                  .seq = seq,
                                  .sender_id = 3,
                                  .sender_device_id = 4,
                                  .client_msg_id = "c\"id\\",
                                  .kind = kind,
                                  .body = body,
                                  .reply_to = seq > 1 ? seq - 1 : 0,
                                  .created_at = "2026-11-24T10:41:23.123Z"};
}

/* Bodies that need every kind of escaping survive the round trip. */
static const char *const bodies[] = {
    "plain",
    "quote \" backslash \\ slash /",
    "controls \x01\x1f\t\n\r end",
    "utf-8 \xC3\xA9 \xF0\x9F\x98\x80",
    "{\"media_id\":5,\"caption\":\"a caption\"}",
};

/* Builds, compresses and stores a segment of the bodies above (seq 1..n)
 * in a fresh store; returns its key in key. */
static struct store_blob *store_segment(char key[STORE_BLOB_KEY_MAX])
{
    strcpy(root, "/tmp/pl-arch-XXXXXX");
    PL_ASSERT(mkdtemp(root) != NULL);
    atexit(cleanup);
    struct store_blob *s;
    struct store_blob_config cfg = {.dir = root};
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &s), 0);
    struct pl_buf raw;
    pl_buf_init(&raw, STORE_ARCHIVE_SEG_RAW_MAX);
    for (size_t i = 0; i < PL_ARRAY_LEN(bodies); i++) {
        struct store_message m = msg((int64_t)i + 1, i == 4 ? "media" : "text", bodies[i]);
        PL_ASSERT_INT_EQ(store_archive_line(&raw, &m), 0);
    }
    unsigned count = 0;
    PL_ASSERT_INT_EQ(store_archive_check(pl_buf_head(&raw), raw.len, &count), 0);
    PL_ASSERT_INT_EQ(count, PL_ARRAY_LEN(bodies));
    void *z;
    size_t zlen;
    PL_ASSERT_INT_EQ(store_archive_compress(pl_buf_head(&raw), raw.len, &z, &zlen), 0);
    PL_ASSERT(zlen < raw.len);
    PL_ASSERT_INT_EQ(store_blob_key_init("a", key), 0);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, z, zlen, NULL), 0);
    free(z);
    pl_buf_deinit(&raw);
    return s;
}

PLTEST(segment_round_trip)
{
    char key[STORE_BLOB_KEY_MAX];
    struct store_blob *s = store_segment(key);
    store_archive_set_blobs(s);
    struct pl_arena *a = pl_arena_new();
    for (size_t i = 0; i < PL_ARRAY_LEN(bodies); i++) {
        /* Twice: from the blob, then from the cache. */
        for (int pass = 0; pass < 2; pass++) {
            struct store_message m = {.seq = (int64_t)i + 1};
            PL_ASSERT_INT_EQ(store_archive_fill(a, key, m.seq, &m), 0);
            PL_ASSERT_STR_EQ(m.body, bodies[i]);
            PL_ASSERT_STR_EQ(m.client_msg_id, "c\"id\\");
            PL_ASSERT_STR_EQ(m.kind, i == 4 ? "media" : "text");
            PL_ASSERT_INT_EQ(m.sender_device_id, 4);
            PL_ASSERT_INT_EQ(m.reply_to, i ? (int64_t)i : 0);
            PL_ASSERT_STR_EQ(m.created_at, "2026-11-24T10:41:23.123Z");
        }
    }
    struct store_message m = {.seq = 99};
    PL_ASSERT_INT_EQ(store_archive_fill(a, key, 99, &m), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(store_archive_fill(a, "a/00000000000000000000000000000000", 1, &m),
                     PL_ENOTFOUND);
    /* The searchable text: the text, or a media message's caption. */
    struct store_message t = msg(1, "media", bodies[4]);
    const char *text;
    PL_ASSERT_INT_EQ(store_archive_search_text(a, &t, &text), 0);
    PL_ASSERT_STR_EQ(text, "a caption");
    t.kind = "e2e";
    PL_ASSERT_INT_EQ(store_archive_search_text(a, &t, &text), 0);
    PL_ASSERT(text == NULL);
    pl_arena_free(a);
    store_archive_set_blobs(NULL);
    store_blob_free(s);
}

PLTEST(decompress_refuses_garbage_and_bombs)
{
    char *out;
    size_t n;
    PL_ASSERT_INT_EQ(store_archive_decompress("not brotli at all", 17, &out, &n), PL_EMALFORMED);
    /* 4 MiB of zeros compress to a few bytes and must not inflate past
     * the segment cap. */
    size_t big = (size_t)4 << 20;
    char *zeros = calloc(1, big);
    void *z;
    size_t zlen;
    PL_ASSERT(zeros);
    PL_ASSERT_INT_EQ(store_archive_compress(zeros, big, &z, &zlen), 0);
    PL_ASSERT(zlen < 1024);
    PL_ASSERT_INT_EQ(store_archive_decompress(z, zlen, &out, &n), PL_EMALFORMED);
    free(z);
    /* Truncated input is refused too. */
    PL_ASSERT_INT_EQ(store_archive_compress(zeros, 1000, &z, &zlen), 0);
    PL_ASSERT_INT_EQ(store_archive_decompress(z, zlen - 1, &out, &n), PL_EMALFORMED);
    free(z);
    free(zeros);
    unsigned count;
    PL_ASSERT(store_archive_check("{\"id\":1}\n", 9, &count) < 0);
    PL_ASSERT(store_archive_check("garbage\n", 8, &count) < 0);
}
