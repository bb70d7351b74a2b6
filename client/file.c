/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's files: encrypt, upload, download, decrypt.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Nothing here holds a whole file in memory. Sending an E2E file encrypts
 * it (crypto/e2e file.c, 64 KiB chunks) into an unlinked temporary file
 * under $PARLEY_HOME, declares the ciphertext's size and SHA-256 with
 * POST /v1/media, and PUTs it to the presigned URL from a libcurl read
 * callback. Receiving downloads into another unlinked temporary file while
 * hashing, compares the digest the message carried, and only then decrypts
 * into the output directory. Plain chats upload and download the bytes as
 * they are.
 */

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
    GEN_STR(g, k);
    GEN_STR(g, v);
}

static void gen_b64(yajl_gen g, const char *k, const uint8_t *b, size_t n)
{
    char *s = cli_b64(b, n);
    gen_kv(g, k, s);
    sodium_memzero(s, strlen(s));
    free(s);
}

char *cli_payload_json(const struct cli_msg *m)
{
    if (m->payload)
        return cli_strndup(m->payload, strlen(m->payload));
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    if (m->file) {
        const struct cli_file *f = m->file;
        GEN_STR(g, "file");
        yajl_gen_map_open(g);
        GEN_STR(g, "media_id");
        yajl_gen_integer(g, f->media_id);
        gen_b64(g, "key", f->key, sizeof(f->key));
        gen_b64(g, "digest", f->digest, sizeof(f->digest));
        GEN_STR(g, "size");
        yajl_gen_integer(g, f->size);
        gen_kv(g, "name", f->name);
        gen_kv(g, "mime", f->mime);
        yajl_gen_map_close(g);
    } else {
        gen_kv(g, "text", m->text);
    }
    yajl_gen_map_close(g);
    return cli_gen_done(g);
}

void cli_gen_media_ids(yajl_gen g, const struct cli_msg *m)
{
    if (m->action) {
        GEN_STR(g, "refers_to");
        yajl_gen_integer(g, m->refers_to);
        GEN_STR(g, "action");
        GEN_STR(g, m->action);
    }
    if (!m->file)
        return;
    GEN_STR(g, "media_ids");
    yajl_gen_array_open(g);
    yajl_gen_integer(g, m->file->media_id);
    yajl_gen_array_close(g);
}

char *cli_msg_summary(const struct cli_msg *m)
{
    char *s;
    if (m->summary)
        return cli_strndup(m->summary, strlen(m->summary));
    if (!m->file)
        return cli_strndup(m->text, strlen(m->text));
    if (asprintf(&s, "file %s (%lld bytes, %s)", m->file->name, m->file->size, m->file->mime) < 0)
        cli_die("out of memory");
    return s;
}

/* ---- names ---- */

static const struct {
    const char *ext, *mime;
} mimes[] = {
    {".txt", "text/plain"},        {".png", "image/png"}, {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},       {".gif", "image/gif"}, {".webp", "image/webp"},
    {".pdf", "application/pdf"},   {".mp4", "video/mp4"}, {".webm", "video/webm"},
    {".mp3", "audio/mpeg"},        {".ogg", "audio/ogg"}, {".zip", "application/zip"},
    {".json", "application/json"},
};

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(mimes) / sizeof(mimes[0]); i++)
        if (strcasecmp(dot, mimes[i].ext) == 0)
            return mimes[i].mime;
    return "application/octet-stream";
}

/* A safe base name from what a sender claims: no directories, no control
 * characters, no leading dot. */
static void safe_name(char *out, size_t cap, const char *claimed)
{
    const char *b = claimed ? strrchr(claimed, '/') : NULL;
    b = b ? b + 1 : (claimed ? claimed : "");
    size_t n = 0;
    for (; *b && n + 1 < cap && n < 200; b++)
        out[n++] = ((unsigned char)*b < 0x20 || *b == '\\' || *b == 0x7f) ? '_' : *b;
    out[n] = 0;
    if (!n)
        snprintf(out, cap, "file");
    else if (out[0] == '.')
        out[0] = '_';
}

/* An anonymous read-write temporary file under dir. */
static FILE *temp_file(const char *dir)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/.tmp-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        cli_die("directory name too long: %s", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        cli_die("cannot create a temporary file in %s: %s", dir, strerror(errno));
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        cli_die("out of memory");
    return f;
}

static void mkdir_home(struct cli *c)
{
    if (mkdir(c->home, 0700) < 0 && errno != EEXIST)
        cli_die("cannot create %s: %s", c->home, strerror(errno));
}

/* ---- sending ---- */

static int discard(void *ctx, const void *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return 0;
}

/* Declares and uploads size bytes of f; returns the media id. */
static long long upload(struct cli *c, FILE *f, long long size, const uint8_t sha[32],
                        const char *ctype, const char *filename)
{
    char hex[65];
    yajl_val res;
    sodium_bin2hex(hex, sizeof(hex), sha, 32);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    gen_kv(g, "content_type", ctype);
    GEN_STR(g, "size");
    yajl_gen_integer(g, size);
    gen_kv(g, "sha256", hex);
    if (filename) /* plain chats only: an E2E upload names nothing */
        gen_kv(g, "filename", filename);
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g);
    long st = cli_http(c, "POST", "/v1/media", body, &res);
    free(body);
    cli_expect(st, res, 201, 200, "reserving the upload");
    long long id = cli_jint(res, "media_id");
    const char *url = cli_jstr(res, "upload_url");
    if (id <= 0 || !url)
        cli_die("reserving the upload: unexpected answer");
    char *u = cli_strndup(url, strlen(url));
    yajl_tree_free(res);
    if (fseeko(f, 0, SEEK_SET) < 0)
        cli_die("cannot rewind the upload: %s", strerror(errno));
    /* The presigned URL is the credential: no token. */
    st = cli_http_stream(c, "PUT", u, 0, f, size, ctype, discard, NULL);
    free(u);
    if (st != 204 && st != 200 && st != 201)
        cli_die("uploading failed: HTTP %ld", st);
    return id;
}

/* SHA-256 of f from its start; leaves f at its end; returns its size. */
static long long hash_file(FILE *f, uint8_t sha[32])
{
    crypto_hash_sha256_state h;
    uint8_t buf[65536];
    size_t r;
    long long n = 0;
    crypto_hash_sha256_init(&h);
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0) {
        crypto_hash_sha256_update(&h, buf, r);
        n += (long long)r;
    }
    if (ferror(f))
        cli_die("cannot read the file: %s", strerror(errno));
    crypto_hash_sha256_final(&h, sha);
    return n;
}

void cli_send_file(struct cli *c, const char *to, const char *path, int plain)
{
    struct cli_file *f = sodium_malloc(sizeof(*f));
    struct cli_msg m = {.file = f};
    struct stat sb;
    uint8_t sha[32];
    if (!f)
        cli_die("out of memory");
    memset(f, 0, sizeof(*f));
    FILE *in = fopen(path, "rb");
    if (!in || fstat(fileno(in), &sb) < 0 || !S_ISREG(sb.st_mode))
        cli_die("cannot read %s: %s", path, in ? "not a regular file" : strerror(errno));
    (void)cli_me_id(c); /* logged in? */
    safe_name(f->name, sizeof(f->name), path);
    snprintf(f->mime, sizeof(f->mime), "%s", mime_of(f->name));
    f->size = (long long)sb.st_size;
    if (plain) {
        if (hash_file(in, sha) != f->size || f->size == 0)
            cli_die("%s: empty, or changed while reading", path);
        f->media_id = upload(c, in, f->size, sha, f->mime, f->name);
    } else {
        mkdir_home(c);
        FILE *ct = temp_file(c->home);
        int rc = e2e_file_encrypt(in, ct, f->key, f->digest);
        if (rc < 0)
            cli_die("cannot encrypt %s: %s", path, e2e_strerror(rc));
        long long ctlen = ftello(ct);
        f->media_id = upload(c, ct, ctlen, f->digest, "application/octet-stream", NULL);
        fclose(ct);
    }
    fclose(in);
    cli_send(c, to, &m, plain); /* groups too */
    sodium_free(f);
}

/* ---- receiving ---- */

struct sink {
    FILE *out;
    crypto_hash_sha256_state h;
    long long n, cap;
};

static int on_bytes(void *ctx, const void *p, size_t n)
{
    struct sink *s = ctx;
    s->n += (long long)n;
    if (s->cap > 0 && s->n > s->cap)
        return -1; /* more than announced */
    crypto_hash_sha256_update(&s->h, p, n);
    return fwrite(p, 1, n, s->out) == n ? 0 : -1;
}

/* Creates dir/name (or dir/name-N.ext when taken); returns its path. */
static char *create_unique(const char *dir, const char *name, int *fd)
{
    char path[4096], stem[256];
    const char *dot = strrchr(name, '.');
    size_t sl = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    snprintf(stem, sizeof(stem), "%.*s", (int)sl, name);
    for (int i = 0; i < 1000; i++) {
        int w = i == 0 ? snprintf(path, sizeof(path), "%s/%s", dir, name)
                       : snprintf(path, sizeof(path), "%s/%s-%d%s", dir, stem, i, name + sl);
        if (w < 0 || (size_t)w >= sizeof(path)) {
            errno = ENAMETOOLONG;
            break;
        }
        *fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (*fd >= 0)
            return cli_strndup(path, strlen(path));
        if (errno != EEXIST)
            break;
    }
    return NULL;
}

static const char *out_dir(struct cli *c, char *buf, size_t cap)
{
    if (c->out_dir)
        return c->out_dir;
    mkdir_home(c);
    snprintf(buf, cap, "%s/files", c->home);
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        cli_die("cannot create %s: %s", buf, strerror(errno));
    return buf;
}

/* Downloads media id into f while hashing; 0, or < 0 after a message. */
static int download(struct cli *c, long long id, long long cap, FILE *f, uint8_t sha[32])
{
    char path[64];
    struct sink s = {.out = f, .cap = cap};
    crypto_hash_sha256_init(&s.h);
    snprintf(path, sizeof(path), "/v1/media/%lld", id);
    long st = cli_http_stream(c, "GET", path, 1, NULL, 0, NULL, on_bytes, &s);
    crypto_hash_sha256_final(&s.h, sha);
    if (st != 200) {
        fprintf(stderr, "parley: downloading media %lld: HTTP %ld\n", id, st);
        return st == 404 ? PL_ENOTFOUND : PL_EUNAVAIL;
    }
    if (fflush(f) != 0) {
        fprintf(stderr, "parley: media %lld: %s\n", id, strerror(errno));
        return -EIO;
    }
    return 0;
}

static int decode_key(yajl_val file, const char *k, uint8_t out[32])
{
    size_t n;
    const char *s = cli_jstr(file, k);
    return s && cli_unb64(s, out, 32, &n) == 0 && n == 32 ? 0 : -1;
}

int cli_file_receive(struct cli *c, yajl_val file, int e2e, char **path)
{
    char dirbuf[4096], name[256];
    uint8_t *keys = sodium_malloc(64), sha[32];
    long long id = cli_jint(file, "media_id"), size = cli_jint(file, "size");
    int fd = -1, rc = PL_EMALFORMED;
    FILE *tmp = NULL, *out = NULL;
    *path = NULL;
    if (!keys)
        cli_die("out of memory");
    if (id <= 0 ||
        (e2e && (decode_key(file, "key", keys) < 0 || decode_key(file, "digest", keys + 32) < 0))) {
        fprintf(stderr, "parley: a file message is malformed\n");
        goto done;
    }
    const char *dir = out_dir(c, dirbuf, sizeof(dirbuf));
    safe_name(name, sizeof(name), cli_jstr(file, e2e ? "name" : "filename"));
    if (!(*path = create_unique(dir, name, &fd)) || !(out = fdopen(fd, "wb"))) {
        rc = errno ? -errno : -EIO;
        fprintf(stderr, "parley: cannot create a file in %s: %s\n", dir, strerror(errno));
        goto done;
    }
    fd = -1;
    if (!e2e) {
        rc = download(c, id, size > 0 ? size : 0, out, sha);
        goto done;
    }
    /* A ciphertext is the plaintext plus 17 bytes per 64 KiB chunk and a
     * 28-byte header: bound the download by what the sender announced. */
    long long cap = size >= 0 ? size + 28 + 17 * (size / E2E_FILE_CHUNK + 1) : 0;
    tmp = temp_file(dir);
    if ((rc = download(c, id, cap, tmp, sha)) < 0)
        goto done;
    if (sodium_memcmp(sha, keys + 32, 32) != 0) {
        rc = E2E_EDIGEST;
        fprintf(stderr, "parley: media %lld: the digest does not match; discarded\n", id);
        goto done;
    }
    if (fseeko(tmp, 0, SEEK_SET) < 0)
        rc = errno ? -errno : -EIO;
    else
        rc = e2e_file_decrypt(tmp, out, keys, keys + 32);
    if (rc < 0)
        fprintf(stderr, "parley: media %lld: cannot decrypt: %s\n", id, e2e_strerror(rc));
done:
    if (tmp)
        fclose(tmp);
    if (out && fclose(out) != 0 && rc == 0) {
        rc = errno ? -errno : -EIO;
        fprintf(stderr, "parley: writing %s: %s\n", *path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0 && *path) {
        unlink(*path); /* never leave a partial or unverified file */
        free(*path);
        *path = NULL;
    }
    sodium_free(keys);
    return rc < 0 ? rc : 0;
}
