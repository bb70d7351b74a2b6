/* SPDX-License-Identifier: MIT */
/* Parley - the web client's files, read into memory at startup.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "webapp.h"

#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

PL_LOG_TOPIC("server");

/* Reading at startup keeps the loop off the disk while serving, and a
 * rebuilt client needs a restart, not a recompile of parleyd: C-only
 * builds never depend on npm. */
#define FILE_MAX (16u << 20)
#define TOTAL_MAX (64u << 20)
#define ASSETS_MAX 256

static const struct {
    const char *ext, *ctype;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".wasm", "application/wasm"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < PL_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].ctype;
    return "application/octet-stream";
}

static bool plain_name(const char *n)
{
    if (!*n || *n == '.' || strlen(n) > 128)
        return false;
    return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
           strlen(n);
}

/* Reads path whole into a new buffer. Returns 0, -ENOENT when it does not
 * exist, or another negative code. */
static int slurp(const char *path, size_t *budget, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
        rc = PL_EINVAL;
    else if ((size_t)st.st_size > FILE_MAX || (size_t)st.st_size > *budget)
        rc = PL_ETOOBIG;
    char *buf = rc == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (rc == 0 && !buf)
        rc = PL_ENOMEM;
    if (rc == 0 && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = PL_EINVAL;
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[st.st_size] = '\0';
    *budget -= (size_t)st.st_size;
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
}

/* Loads dir/name (and dir/name.br) as the next asset. */
static int load_one(struct api_web *web, const char *dir, const char *name, bool immutable,
                    size_t *budget)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) - 3)
        return PL_EINVAL;
    struct api_web_asset *a = &web->assets[web->n];
    *a = (struct api_web_asset){.ctype = type_of(name), .immutable = immutable};
    int rc = slurp(path, budget, &a->body, &a->len);
    if (rc < 0) {
        if (rc != -ENOENT)
            pl_log_error("web client: cannot read %s: %s", path, pl_strerror(rc));
        return rc;
    }
    strcat(path, ".br");
    rc = slurp(path, budget, &a->br, &a->br_len);
    if (rc < 0 && rc != -ENOENT) {
        pl_log_error("web client: cannot read %s: %s", path, pl_strerror(rc));
        free(a->body);
        return rc;
    }
    if (!(a->name = strdup(name))) {
        free(a->body);
        free(a->br);
        return PL_ENOMEM;
    }
    web->n++;
    return 0;
}

static int load_assets(struct api_web *web, const char *web_dir, size_t *budget)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof(dir), "%s/assets", web_dir) >= sizeof(dir))
        return PL_EINVAL;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (!plain_name(e->d_name) || (n > 3 && strcmp(e->d_name + n - 3, ".br") == 0))
            continue;
        if (web->n == ASSETS_MAX) {
            pl_log_error("web client: more than %d files in %s", ASSETS_MAX, dir);
            rc = PL_ETOOBIG;
        } else {
            rc = load_one(web, dir, e->d_name, true, budget);
        }
    }
    closedir(d);
    return rc;
}

int srv_web_init(const char *web_dir, struct api_web *out)
{
    *out = (struct api_web){0};
    if (!web_dir || !*web_dir)
        return 0;
    if (!(out->assets = calloc(ASSETS_MAX + 1, sizeof(*out->assets))))
        return PL_ENOMEM;
    size_t budget = TOTAL_MAX;
    int rc = load_one(out, web_dir, "index.html", false, &budget);
    if (rc == -ENOENT) {
        pl_log_warn("web client: %s/index.html not found; / answers 503 (build it with "
                    "./scripts/run or npm run build in web/)",
                    web_dir);
        srv_web_deinit(out);
        return 0;
    }
    /* The operator dashboard (/admin), when the build has one. */
    if (rc == 0 && (rc = load_one(out, web_dir, "admin.html", false, &budget)) == -ENOENT)
        rc = 0;
    /* The Web Push service worker, served at /sw.js, when the build has one. */
    if (rc == 0 && (rc = load_one(out, web_dir, "sw.js", false, &budget)) == -ENOENT)
        rc = 0;
    if (rc == 0)
        rc = load_assets(out, web_dir, &budget);
    if (rc < 0) {
        srv_web_deinit(out);
        return rc;
    }
    pl_log_info("web client: %zu files from %s", out->n, web_dir);
    return 1;
}

void srv_web_deinit(struct api_web *web)
{
    for (size_t i = 0; web->assets && i < web->n; i++) {
        free(web->assets[i].name);
        free(web->assets[i].body);
        free(web->assets[i].br);
    }
    free(web->assets);
    *web = (struct api_web){0};
}
