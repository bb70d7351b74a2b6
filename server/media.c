/* SPDX-License-Identifier: MIT */
/* Parley - the blob store and URL-signing key parleyd runs with.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "media.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

PL_LOG_TOPIC("server");

static int read_key_file(const char *path, struct pcrypto_urlsig_key *key)
{
    char buf[PCRYPTO_URLSIG_KEYHEX + 8] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return -errno;
    return pcrypto_urlsig_key_parse(buf, key);
}

/* Writes a fresh key to a temporary file and links it into place, so two
 * nodes starting at once on a shared data_dir end up with the same key:
 * the loser of link() reads the winner's file. */
static int create_key_file(const char *path, struct pcrypto_urlsig_key *key)
{
    char tmp[PATH_MAX + 32], hex[PCRYPTO_URLSIG_KEYHEX + 2];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    pcrypto_urlsig_key_init(key);
    pcrypto_urlsig_key_format(key, hex);
    strcat(hex, "\n");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0 && link(tmp, path) < 0)
        rc = errno == EEXIST ? read_key_file(path, key) : -errno;
    unlink(tmp);
    return rc;
}

static int load_key(const struct srv_config *cfg, struct pcrypto_urlsig_key *key)
{
    if (*cfg->url_secret) {
        if (pcrypto_urlsig_key_parse(cfg->url_secret, key) == 0)
            return 0;
        pl_log_error("url_secret must be 64 hex digits");
        return PL_EINVAL;
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/url_secret", cfg->data_dir) >= sizeof(path))
        return PL_EINVAL;
    if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
        pl_log_error("cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        return -errno;
    }
    int rc = read_key_file(path, key);
    if (rc == -ENOENT) {
        rc = create_key_file(path, key);
        if (rc == 0)
            pl_log_info("generated a URL signing key in %s", path);
    }
    if (rc < 0)
        pl_log_error("cannot use the URL signing key in %s: %s", path, pl_strerror(rc));
    return rc;
}

static int sign(void *ctx, const char *method, const char *key, uint64_t size,
                const char *content_type, int64_t expires, char *sig, size_t cap)
{
    return pcrypto_urlsig_sign(ctx, method, key, size, content_type, expires, sig, cap);
}

int srv_media_init(const struct srv_config *cfg, struct srv_media *m)
{
    int rc = load_key(cfg, &m->key);
    if (rc < 0)
        return rc;
    char dir[PATH_MAX];
    int n = *cfg->blob_dir ? snprintf(dir, sizeof(dir), "%s", cfg->blob_dir)
                           : snprintf(dir, sizeof(dir), "%s/blobs", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return PL_EINVAL;
    struct store_blob_config bc = {.backend = cfg->blob_backend,
                                   .dir = dir,
                                   .url_base =
                                       *cfg->blob_base_url ? cfg->blob_base_url : cfg->public_url,
                                   .sign = sign,
                                   .sign_ctx = &m->key,
                                   .s3_endpoint = cfg->s3_endpoint,
                                   .s3_region = cfg->s3_region,
                                   .s3_bucket = cfg->s3_bucket,
                                   .s3_access_key = cfg->s3_access_key,
                                   .s3_secret_key = cfg->s3_secret_key,
                                   .s3_path_style = cfg->s3_path_style,
                                   .s3_part_size = cfg->s3_part_size,
                                   .s3_proxy_get = !cfg->s3_direct_downloads};
    bool s3 = strcmp(cfg->blob_backend, "s3") == 0;
    if (!s3 && strcmp(cfg->blob_backend, "fs") != 0) {
        pl_log_error("blob_backend must be fs or s3");
        return PL_EINVAL;
    }
    if ((rc = store_blob_new(&bc, &m->blobs)) < 0 && s3)
        pl_log_error("cannot open the S3 blob store: %s (blob_backend s3 needs s3_endpoint as "
                     "scheme://host[:port], s3_bucket, s3_access_key and s3_secret_key)",
                     pl_strerror(rc));
    else if (rc < 0)
        pl_log_error("cannot open the blob store in %s: %s", dir, pl_strerror(rc));
    else if (s3)
        pl_log_info("blobs in S3 bucket %s at %s", cfg->s3_bucket, cfg->s3_endpoint);
    return rc;
}

void srv_media_deinit(struct srv_media *m)
{
    store_blob_free(m->blobs);
    m->blobs = NULL;
}
