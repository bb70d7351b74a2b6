/* SPDX-License-Identifier: MIT */
/* Parley - blob storage on the local filesystem.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "blob_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Layout under the root directory:
 *   <prefix>/<first two hex digits>/<32 hex digits>   published objects
 *   tmp/<random>.part                                 writes in progress
 * The two-digit fan-out keeps directories small with millions of objects.
 * A writer fills a file in tmp/ (same filesystem, so publishing is a
 * link), fsyncs it, and publishes it with link(2), which unlike rename(2)
 * refuses to replace an existing object; then the temporary name goes and
 * the directory is fsynced so the object survives a crash once finish()
 * has returned. Objects are immutable, so the ETag is the key's random
 * part and needs no I/O.
 */

struct fs {
    char *root;
};

static int path_of(const struct store_blob *s, const char *key, char *out, size_t cap, bool dir)
{
    const struct fs *fs = s->impl;
    const char *hex = strchr(key, '/') + 1;
    int n =
        dir ? snprintf(out, cap, "%s/%.*s/%.2s", fs->root, (int)(hex - key - 1), key, hex)
            : snprintf(out, cap, "%s/%.*s/%.2s/%s", fs->root, (int)(hex - key - 1), key, hex, hex);
    return n < 0 || (size_t)n >= cap ? PL_EINVAL : 0;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0750);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static void fill_stat(const char *key, const struct stat *sb, struct store_blob_stat *st)
{
    st->size = (uint64_t)sb->st_size;
    st->mtime = (int64_t)sb->st_mtime;
    snprintf(st->etag, sizeof(st->etag), "\"%s\"", strchr(key, '/') + 1);
}

static int fs_init(const struct store_blob_config *cfg, struct store_blob *s)
{
    if (!cfg->dir || !*cfg->dir)
        return PL_EINVAL;
    struct fs *fs = calloc(1, sizeof(*fs));
    char tmp[PATH_MAX];
    if (!fs || !(fs->root = strdup(cfg->dir))) {
        free(fs);
        return PL_ENOMEM;
    }
    int rc = PL_EINVAL;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp", fs->root) < sizeof(tmp))
        rc = mkdir_p(tmp);
    if (rc < 0) {
        free(fs->root);
        free(fs);
        return rc;
    }
    s->impl = fs;
    return 0;
}

static void fs_deinit(struct store_blob *s)
{
    struct fs *fs = s->impl;
    free(fs->root);
    free(fs);
}

static int fs_writer_init(struct store_blob *s, const char *key, struct store_blob_writer *w)
{
    const struct fs *fs = s->impl;
    char final[PATH_MAX];
    struct stat sb;
    int rc = path_of(s, key, final, sizeof(final), false);
    if (rc < 0)
        return rc;
    if (stat(final, &sb) == 0)
        return PL_ECONFLICT;
    uint8_t rnd[12];
    char hex[sizeof(rnd) * 2 + 1];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    if ((size_t)snprintf(w->tmp, sizeof(w->tmp), "%s/tmp/%s.part", fs->root, hex) >= sizeof(w->tmp))
        return PL_EINVAL;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    return w->fd < 0 ? -errno : 0;
}

static int fs_writer_write(struct store_blob_writer *w, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fs_writer_commit(struct store_blob_writer *w)
{
    char dir[PATH_MAX], final[PATH_MAX];
    int rc = path_of(w->s, w->key, dir, sizeof(dir), true);
    if (rc == 0)
        rc = path_of(w->s, w->key, final, sizeof(final), false);
    if (rc == 0 && fsync(w->fd) < 0)
        rc = -errno;
    if (rc == 0)
        rc = mkdir_p(dir);
    if (rc == 0 && link(w->tmp, final) < 0)
        rc = errno == EEXIST ? PL_ECONFLICT : -errno;
    if (rc < 0)
        return rc; /* the caller discards the temporary file */
    close(w->fd);
    w->fd = -1;
    unlink(w->tmp);
    return fsync_dir(dir);
}

static void fs_writer_discard(struct store_blob_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp);
    }
}

static int fs_reader_init(struct store_blob *s, const char *key, struct store_blob_reader *r,
                          struct store_blob_stat *st)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc = path_of(s, key, path, sizeof(path), false);
    if (rc < 0)
        return rc;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return errno == ENOENT ? PL_ENOTFOUND : -errno;
    if (fstat(r->fd, &sb) < 0) {
        rc = -errno;
        close(r->fd);
        return rc;
    }
    if (st)
        fill_stat(key, &sb, st);
    return 0;
}

static ssize_t fs_reader_pread(struct store_blob_reader *r, void *buf, size_t len, uint64_t off)
{
    for (;;) {
        ssize_t n = pread(r->fd, buf, len, (off_t)off);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

static void fs_reader_deinit(struct store_blob_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
}

static int fs_stat(struct store_blob *s, const char *key, struct store_blob_stat *st)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc = path_of(s, key, path, sizeof(path), false);
    if (rc < 0)
        return rc;
    if (stat(path, &sb) < 0)
        return errno == ENOENT ? PL_ENOTFOUND : -errno;
    fill_stat(key, &sb, st);
    return 0;
}

static int fs_del(struct store_blob *s, const char *key)
{
    char path[PATH_MAX];
    int rc = path_of(s, key, path, sizeof(path), false);
    if (rc < 0)
        return rc;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Removes temporary files a crashed writer left behind. A live writer
 * keeps writing, so its file's mtime stays fresh. */
static int fs_gc(struct store_blob *s, unsigned max_age_s)
{
    const struct fs *fs = s->impl;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tmp", fs->root);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    time_t now = time(NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        struct stat sb;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &sb, 0) < 0)
            continue;
        if (S_ISREG(sb.st_mode) && now - sb.st_mtime >= (time_t)max_age_s &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int list_fanout(const char *dir, const char *prefix, store_blob_list_cb *cb, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    char key[STORE_BLOB_KEY_MAX];
    while (rc == 0 && (e = readdir(d))) {
        struct stat sb;
        if ((size_t)snprintf(key, sizeof(key), "%s%s", prefix, e->d_name) >= sizeof(key) ||
            !store_blob_key_valid(key) || fstatat(dirfd(d), e->d_name, &sb, 0) < 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        struct store_blob_stat st;
        fill_stat(key, &sb, &st);
        rc = cb(ctx, key, &st);
    }
    closedir(d);
    return rc;
}

static int fs_list(struct store_blob *s, const char *prefix, store_blob_list_cb *cb, void *ctx)
{
    const struct fs *fs = s->impl;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%.*s", fs->root, (int)strlen(prefix) - 1, prefix);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strlen(e->d_name) != 2 || !strchr("0123456789abcdef", e->d_name[0]) ||
            !strchr("0123456789abcdef", e->d_name[1]))
            continue;
        char sub[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) < sizeof(sub))
            rc = list_fanout(sub, prefix, cb, ctx);
    }
    closedir(d);
    return rc;
}

const struct store_blob__ops store_blob__fs_ops = {
    .name = "fs",
    .serves_urls = true,
    .init = fs_init,
    .deinit = fs_deinit,
    .writer_init = fs_writer_init,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_discard = fs_writer_discard,
    .reader_init = fs_reader_init,
    .reader_pread = fs_reader_pread,
    .reader_deinit = fs_reader_deinit,
    .stat = fs_stat,
    .del = fs_del,
    .list = fs_list,
    .gc = fs_gc,
    .presign = store_blob__presign_local,
};
