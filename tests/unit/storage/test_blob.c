/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for storage/blob (the filesystem backend).       */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "storage/blob.h"

#include <dirent.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int fake_sign(void *ctx, const char *method, const char *key, uint64_t size, const char *ct,
                     int64_t exp, char *sig, size_t cap)
{
    (void)ctx, (void)key, (void)exp;
    snprintf(sig, cap, "%s-%llu-%s", method, (unsigned long long)size, ct ? ct : "none");
    return 0;
}

static struct store_blob *open_store(void)
{
    strcpy(root, "/tmp/pl-blob-XXXXXX");
    PL_ASSERT(mkdtemp(root) != NULL);
    atexit(cleanup);
    struct store_blob_config cfg = {.dir = root, .url_base = "http://x", .sign = fake_sign};
    struct store_blob *s;
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &s), 0);
    PL_ASSERT(store_blob_serves_urls(s));
    return s;
}

/* Number of regular files left in root/tmp. */
static int tmp_files(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/tmp", root);
    DIR *d = opendir(p);
    PL_ASSERT(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

PLTEST(blob_keys)
{
    char k1[STORE_BLOB_KEY_MAX], k2[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", k1), 0);
    PL_ASSERT_INT_EQ(store_blob_key_init("m", k2), 0);
    PL_ASSERT_INT_EQ(strlen(k1), 34);
    PL_ASSERT(strcmp(k1, k2) != 0);
    PL_ASSERT(store_blob_key_valid(k1));
    PL_ASSERT_INT_EQ(store_blob_key_init("M", k1), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_key_init("", k1), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_key_init("abcdefghi", k1), PL_EINVAL);
    static const char *const bad[] = {"",
                                      "m",
                                      "m/",
                                      "/0123456789abcdef0123456789abcdef",
                                      "m/0123456789abcdef0123456789abcde",
                                      "m/0123456789abcdef0123456789abcdef0",
                                      "m/0123456789ABCDEF0123456789abcdef",
                                      "../0123456789abcdef0123456789abcdef",
                                      "m/../456789abcdef0123456789abcdef",
                                      "m/0123456789abcdef0123456789abcde/",
                                      "m//123456789abcdef0123456789abcdef",
                                      "tmp/0123456789abcdef0123456789abcdef/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        PL_ASSERT(!store_blob_key_valid(bad[i]));
    PL_ASSERT(!store_blob_key_valid(NULL));
    PL_ASSERT(store_blob_key_valid("a/0123456789abcdef0123456789abcdef"));
}

PLTEST(blob_put_read_stat_delete)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    const char data[] = "hello, blob";
    uint8_t sha[32];
    crypto_hash_sha256(sha, (const uint8_t *)data, sizeof(data) - 1);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, data, sizeof(data) - 1, sha), 0);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, data, sizeof(data) - 1, NULL), PL_ECONFLICT);

    struct store_blob_stat st;
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), 0);
    PL_ASSERT_INT_EQ(st.size, sizeof(data) - 1);
    PL_ASSERT(st.etag[0] == '"' && strstr(st.etag, key + 2) != NULL);

    struct store_blob_reader *r;
    PL_ASSERT_INT_EQ(store_blob_reader_new(s, key, &r, &st), 0);
    char buf[32] = {0};
    PL_ASSERT_INT_EQ(store_blob_reader_pread(r, buf, 4, 7), 4);
    PL_ASSERT_STR_EQ(buf, "blob");
    PL_ASSERT_INT_EQ(store_blob_reader_pread(r, buf, 4, 11), 0);
    store_blob_reader_free(r);

    void *all;
    size_t len;
    PL_ASSERT_INT_EQ(store_blob_read_all(s, key, 100, &all, &len), 0);
    PL_ASSERT_INT_EQ(len, sizeof(data) - 1);
    PL_ASSERT(memcmp(all, data, len) == 0);
    free(all);
    PL_ASSERT_INT_EQ(store_blob_read_all(s, key, 3, &all, &len), PL_ETOOBIG);

    PL_ASSERT_INT_EQ(store_blob_delete(s, key), 0);
    PL_ASSERT_INT_EQ(store_blob_delete(s, key), 0);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(store_blob_reader_new(s, key, &r, &st), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(tmp_files(), 0);
    store_blob_free(s);
}

PLTEST(blob_bad_keys_never_touch_fs)
{
    struct store_blob *s = open_store();
    struct store_blob_stat st;
    struct store_blob_reader *r;
    struct store_blob_writer *w;
    char url[STORE_BLOB_URL_MAX];
    const char *k = "m/../../etc/passwd";
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, k, "x", 1, NULL), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_stat(s, k, &st), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_reader_new(s, k, &r, &st), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, k, 1, NULL, &w), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_delete(s, k), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_presign(s, "GET", k, 0, NULL, 1, url), PL_EINVAL);
    store_blob_free(s);
}

PLTEST(blob_writer_verifies)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    uint8_t sha[32], got[32];
    crypto_hash_sha256(sha, (const uint8_t *)"abcdef", 6);
    struct store_blob_writer *w;
    struct store_blob_stat st;

    /* Wrong content: hash mismatch, nothing kept. */
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 6, sha, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "abcdeX", 6), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_finish(w, NULL), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), PL_ENOTFOUND);

    /* Short: size mismatch. */
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 6, sha, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "abc", 3), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_finish(w, NULL), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), PL_ENOTFOUND);

    /* Too long: refused at the write, then aborted. */
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 6, sha, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "abcd", 4), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "efg", 3), PL_ETOOBIG);
    PL_ASSERT_INT_EQ(store_blob_writer_written(w), 4);
    store_blob_writer_abort(w);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(tmp_files(), 0);

    /* Right: in chunks, published, digest reported. */
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 6, sha, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "ab", 2), 0);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), PL_ENOTFOUND); /* not visible yet */
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "cdef", 4), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_finish(w, got), 0);
    PL_ASSERT(memcmp(got, sha, 32) == 0);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), 0);
    PL_ASSERT_INT_EQ(st.size, 6);
    PL_ASSERT_INT_EQ(tmp_files(), 0);

    /* A second writer for the same key loses. */
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 1, NULL, &w), PL_ECONFLICT);
    store_blob_free(s);
}

PLTEST(blob_put_file_and_empty)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX], path[128];
    snprintf(path, sizeof(path), "%s/src", root);
    FILE *f = fopen(path, "w");
    PL_ASSERT(f != NULL);
    for (int i = 0; i < 100000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    PL_ASSERT_INT_EQ(store_blob_key_init("a", key), 0);
    PL_ASSERT_INT_EQ(store_blob_put_file(s, key, path, NULL), 0);
    struct store_blob_stat st;
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), 0);
    PL_ASSERT_INT_EQ(st.size, 100000);
    PL_ASSERT_INT_EQ(store_blob_key_init("a", key), 0);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, "", 0, NULL), 0);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), 0);
    PL_ASSERT_INT_EQ(st.size, 0);
    store_blob_free(s);
}

static int count_cb(void *ctx, const char *key, const struct store_blob_stat *st)
{
    (void)st;
    PL_ASSERT(store_blob_key_valid(key));
    PL_ASSERT(key[0] == 'm');
    (*(int *)ctx)++;
    return 0;
}

static int stop_cb(void *ctx, const char *key, const struct store_blob_stat *st)
{
    (void)ctx, (void)key, (void)st;
    return 7;
}

PLTEST(blob_list)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX];
    for (int i = 0; i < 20; i++) {
        PL_ASSERT_INT_EQ(store_blob_key_init(i % 4 ? "m" : "a", key), 0);
        PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, "x", 1, NULL), 0);
    }
    int n = 0;
    PL_ASSERT_INT_EQ(store_blob_list(s, "m/", count_cb, &n), 0);
    PL_ASSERT_INT_EQ(n, 15);
    PL_ASSERT_INT_EQ(store_blob_list(s, "m/", stop_cb, NULL), 7);
    PL_ASSERT_INT_EQ(store_blob_list(s, "m", count_cb, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_blob_list(s, "../", count_cb, &n), PL_EINVAL);
    n = 0;
    PL_ASSERT_INT_EQ(store_blob_list(s, "x/", count_cb, &n), 0);
    PL_ASSERT_INT_EQ(n, 0);
    store_blob_free(s);
}

PLTEST(blob_presign)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX], url[STORE_BLOB_URL_MAX], want[STORE_BLOB_URL_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    PL_ASSERT_INT_EQ(store_blob_presign(s, "PUT", key, 42, "image/png", 1000, url), 0);
    snprintf(want, sizeof(want), "http://x/v1/blobs/%s?exp=1000&sig=PUT-42-image/png", key);
    PL_ASSERT_STR_EQ(url, want);
    PL_ASSERT_INT_EQ(store_blob_presign(s, "DELETE", key, 0, NULL, 1000, url), PL_EINVAL);
    store_blob_free(s);
    struct store_blob_config cfg = {.dir = root};
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &s), 0);
    PL_ASSERT_INT_EQ(store_blob_presign(s, "GET", key, 0, NULL, 1000, url), PL_EUNAVAIL);
    store_blob_free(s);
    cfg.backend = "nfs";
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &s), PL_EINVAL);
}

PLTEST(blob_gc_removes_abandoned_temporaries)
{
    struct store_blob *s = open_store();
    char key[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    struct store_blob_writer *w;
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, 10, NULL, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "abc", 3), 0);
    PL_ASSERT_INT_EQ(tmp_files(), 1);
    PL_ASSERT_INT_EQ(store_blob_gc(s, 3600), 0); /* young: kept */
    PL_ASSERT_INT_EQ(tmp_files(), 1);
    PL_ASSERT_INT_EQ(store_blob_gc(s, 0), 1);
    PL_ASSERT_INT_EQ(tmp_files(), 0);
    store_blob_writer_abort(w); /* its file is gone already: harmless */
    store_blob_free(s);
}
