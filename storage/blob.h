/* SPDX-License-Identifier: MIT */
/* Parley - blob storage: media and history archives behind one API.    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_BLOB_H
#define PL_STORE_BLOB_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A blob store keeps immutable objects under server-generated keys. Media
 * uploads and history archive segments both live here. Handlers and jobs
 * see only this header; the backend sits behind a vtable (storage/blob/
 * blob_int.h) chosen by store_blob_new() from the configuration.
 *
 * Keys. store_blob_key_init() draws 128 random bits and writes them as 32
 * lowercase hex digits after a short prefix naming the kind of object:
 * "m/" for media, "a/" for archive segments ("m/0f3a...", 34 characters).
 * Every entry point first checks the key with store_blob_key_valid() and
 * refuses anything else with PL_EINVAL, so a string a client sent (a URL
 * path, a file name) can never reach the filesystem or an S3 request.
 *
 * Objects are written once. A put or a writer writes to a temporary object,
 * checks the byte count and, when given, the SHA-256, and only then makes
 * the object visible under its key (rename on the filesystem). A failed or
 * aborted write leaves nothing under the key.
 *
 * Threads. Every call here blocks (disk or network I/O) and is meant for
 * worker threads, never an event loop. A store is safe to use from several
 * threads at once; a writer or reader belongs to one thread at a time.
 *
 * Presigned URLs. store_blob_presign() turns (method, key, size, content
 * type, expiry) into a URL a client can use without further credentials:
 *   - The filesystem backend ("fs") returns a URL served by parleyd itself,
 *     "<url_base>/v1/blobs/<key>?exp=..&sig=..". The signature comes from
 *     the signer callback in the configuration (server/ wires it to
 *     crypto/urlsig, an HMAC under the server's url_secret); the blob
 *     endpoints in api/ verify it the same way before touching the store.
 *   - The S3-compatible backend ("s3", storage/blob/s3.c) returns a SigV4
 *     query-signed URL (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 *     X-Amz-Expires, X-Amz-SignedHeaders with content-length and
 *     content-type for PUT, X-Amz-Signature) for its bucket endpoint, and
 *     the client uploads and downloads straight to and from S3, which
 *     checks the signature and the expiry. Its put/writer/reader/stat/
 *     delete/list entries map to PutObject (multipart upload for objects
 *     over one part), ranged GetObject, HeadObject, DeleteObject and
 *     ListObjectsV2; gc aborts stale multipart uploads; the SHA-256 check
 *     of writers happens here as for fs. store_blob_serves_urls() returns
 *     false for it, so parleyd does not mount its own blob endpoints, and
 *     a media upload is confirmed by store_blob_confirm() (the client's
 *     staging object copied to the key inside S3, then size and SHA-256
 *     of the copy checked) instead of by the PUT handler. Handlers
 *     never change: they call store_blob_presign() and follow the URL it
 *     returns.
 *   - Downloads from S3 (issue 14). Uploaded bytes are the uploader's, so
 *     a download must carry nosniff, a sandbox CSP and, for all but inert
 *     media types, Content-Disposition: attachment (api/blobs.c). S3 can
 *     set the last two per request (the response-content-type and
 *     response-content-disposition overrides of a signed GET, which AWS
 *     and Ceph RGW honour) but no other header. So with s3_proxy_get a
 *     GET URL is parleyd's own, as for fs, and parleyd streams the object
 *     from S3 with every header (store_blob_serves_downloads()); without
 *     it the GET URL goes straight to S3 and carries both overrides, and
 *     nosniff and the CSP must come from a proxy in front of S3.
 */
struct store_blob;
struct store_blob_writer;
struct store_blob_reader;

#define STORE_BLOB_KEY_MAX 48  /* longest key, NUL included */
#define STORE_BLOB_URL_MAX 512 /* longest presigned URL, NUL included */
#define STORE_BLOB_SHA256_BYTES 32
#define STORE_BLOB_ETAG_MAX 48 /* quoted strong ETag, NUL included */

/* Signs a presigned fs URL: writes a NUL-terminated signature (URL-safe
 * characters only) of at most cap bytes over the given fields into sig.
 * Any thread. Returns 0 or a negative code. */
typedef int store_blob_sign_cb(void *ctx, const char *method, const char *key, uint64_t size,
                               const char *content_type, int64_t expires, char *sig, size_t cap);

struct store_blob_config {
    const char *backend;      /* "fs" or "s3"; NULL means "fs" */
    const char *dir;          /* fs: root directory, created if missing */
    const char *url_base;     /* fs: prefix of presigned URLs, "" for relative URLs */
    store_blob_sign_cb *sign; /* fs: signs presigned URLs; NULL disables presign */
    void *sign_ctx;           /* borrowed for the store's lifetime */
    /* s3: an S3-compatible object store (storage/blob/s3.c). */
    const char *s3_endpoint;   /* scheme://host[:port], e.g. http://127.0.0.1:7480 */
    const char *s3_region;     /* signing region; NULL means "us-east-1" */
    const char *s3_bucket;     /* created at open when missing */
    const char *s3_access_key; /* credentials; never logged */
    const char *s3_secret_key;
    bool s3_path_style;  /* endpoint/bucket/key URLs instead of bucket.endpoint/key */
    size_t s3_part_size; /* multipart part size for large writers; 0 means 8 MiB */
    /* s3: GET URLs are parleyd's own (url_base, sign), served by parleyd
     * from S3 with its download headers; false: SigV4 URLs to S3. */
    bool s3_proxy_get;
};

struct store_blob_stat {
    uint64_t size;
    int64_t mtime;                  /* seconds since the epoch */
    char etag[STORE_BLOB_ETAG_MAX]; /* strong validator, quoted: "\"...\"" */
};

/* ---- keys (any thread, no I/O) ---- */

/* Writes prefix (1..8 lowercase letters, without the '/') + '/' + 32 random
 * hex digits into out. Returns 0 or PL_EINVAL for a bad prefix. */
PL_MUST_CHECK int store_blob_key_init(const char *prefix, char out[STORE_BLOB_KEY_MAX]);
/* True when key has exactly the shape store_blob_key_init() produces. */
bool store_blob_key_valid(const char *key);

/* ---- the store ---- */

/* Opens the backend cfg names. cfg and its strings are copied (sign_ctx is
 * borrowed). Returns 0, PL_EINVAL for an unknown backend or a missing
 * setting, or -errno when the directory cannot be created. Free with
 * store_blob_free(). */
PL_MUST_CHECK int store_blob_new(const struct store_blob_config *cfg, struct store_blob **out);
void store_blob_free(struct store_blob *s);
/* True when parleyd itself must serve the presigned URLs (fs backend). */
bool store_blob_serves_urls(const struct store_blob *s);
/* True when parleyd serves the presigned GET URLs: fs, and s3 with
 * s3_proxy_get. */
bool store_blob_serves_downloads(const struct store_blob *s);
/* True for the media types a browser only ever renders as inert pixels
 * or sound (JPEG, PNG, WebP, GIF, AVIF, MP4/WebM/Ogg video, common audio),
 * which may be served inline; everything else downloads as an attachment.
 * Parameters after ';' are ignored. Any thread. */
bool store_blob_inline_type(const char *content_type);

/* Stores len bytes from buf (borrowed) under key, atomically. sha256, when
 * not NULL, must match the data. Returns 0; PL_EINVAL (bad key);
 * PL_ECONFLICT when an object with this key exists; PL_EMALFORMED when the
 * hash does not match (nothing is kept); -errno for I/O errors. */
PL_MUST_CHECK int store_blob_put_buf(struct store_blob *s, const char *key, const void *buf,
                                     size_t len, const uint8_t *sha256);
/* The same, from the local file at path (borrowed; read, not moved). */
PL_MUST_CHECK int store_blob_put_file(struct store_blob *s, const char *key, const char *path,
                                      const uint8_t *sha256);

/* Streaming writer for an object of exactly size bytes whose SHA-256, when
 * sha256 is not NULL, must match (copied). Returns 0 and *out; PL_EINVAL;
 * PL_ECONFLICT when the key exists; -errno. Finish or abort exactly once. */
PL_MUST_CHECK int store_blob_writer_new(struct store_blob *s, const char *key, uint64_t size,
                                        const uint8_t *sha256, struct store_blob_writer **out);
/* Appends len bytes (borrowed). Returns 0; PL_ETOOBIG when the total would
 * pass the declared size (the writer stays open; abort it); -errno. */
PL_MUST_CHECK int store_blob_writer_write(struct store_blob_writer *w, const void *buf, size_t len);
/* Bytes accepted so far. */
uint64_t store_blob_writer_written(const struct store_blob_writer *w);
/* Verifies size and hash, then publishes the object and frees the writer.
 * Returns 0; PL_EINVAL when fewer bytes than declared arrived;
 * PL_EMALFORMED when the hash differs; PL_ECONFLICT when the key appeared
 * meanwhile; -errno. On failure nothing is kept and the writer is freed.
 * When digest is not NULL it receives the SHA-256 of the data. */
PL_MUST_CHECK int store_blob_writer_finish(struct store_blob_writer *w,
                                           uint8_t digest[STORE_BLOB_SHA256_BYTES]);
/* Drops the temporary data and frees the writer. */
void store_blob_writer_abort(struct store_blob_writer *w);

/* Opens key for reading and fills *st. Returns 0; PL_EINVAL;
 * PL_ENOTFOUND; -errno. Close with store_blob_reader_free(). */
PL_MUST_CHECK int store_blob_reader_new(struct store_blob *s, const char *key,
                                        struct store_blob_reader **out, struct store_blob_stat *st);
/* Reads up to len bytes at offset off into buf. Returns the count (0 at
 * the end) or -errno. */
ssize_t store_blob_reader_pread(struct store_blob_reader *r, void *buf, size_t len, uint64_t off);
void store_blob_reader_free(struct store_blob_reader *r);
/* Reads the whole object into a heap buffer (free() it) of at most max
 * bytes. Returns 0; PL_ETOOBIG over max; PL_ENOTFOUND; -errno. */
PL_MUST_CHECK int store_blob_read_all(struct store_blob *s, const char *key, size_t max, void **buf,
                                      size_t *len);

/* Reads key through and checks that it holds exactly size bytes whose
 * SHA-256 is sha256 (borrowed). Returns 0; PL_EINVAL (bad key);
 * PL_ENOTFOUND; PL_EMALFORMED when size or hash differ; -errno or another
 * negative code when the store fails. For stores the client uploads to
 * directly (S3), before the upload is trusted. */
PL_MUST_CHECK int store_blob_verify(struct store_blob *s, const char *key, uint64_t size,
                                    const uint8_t sha256[STORE_BLOB_SHA256_BYTES]);

/* For stores clients upload to directly (S3; store_blob_serves_urls() is
 * false): takes what the presigned PUT URL for key wrote (a staging object
 * the client can still overwrite while its URL is valid), copies it to key
 * inside the store, checks the copy with store_blob_verify() and drops the
 * staging object; from then on key is immutable like any other object. A
 * copy that does not match is replaced by the next call, so a corrected
 * upload can still be confirmed. Returns 0 (also when key was confirmed
 * before, without copying again);
 * PL_EINVAL; PL_ENOTFOUND when nothing was uploaded; PL_EMALFORMED when
 * size or hash differ; another negative code when the store fails. For
 * the fs store it is store_blob_verify(). */
PL_MUST_CHECK int store_blob_confirm(struct store_blob *s, const char *key, uint64_t size,
                                     const uint8_t sha256[STORE_BLOB_SHA256_BYTES]);

/* Fills *st for key. Returns 0, PL_EINVAL, PL_ENOTFOUND or -errno. */
PL_MUST_CHECK int store_blob_stat(struct store_blob *s, const char *key,
                                  struct store_blob_stat *st);
/* Removes key. Returns 0 (also when it did not exist), PL_EINVAL, -errno. */
PL_MUST_CHECK int store_blob_delete(struct store_blob *s, const char *key);

/* Calls cb for every object whose key starts with prefix ("m/"), in no
 * particular order, until cb returns non-zero (which is returned).
 * Returns 0, the callback's value, or -errno. */
typedef int store_blob_list_cb(void *ctx, const char *key, const struct store_blob_stat *st);
PL_MUST_CHECK int store_blob_list(struct store_blob *s, const char *prefix, store_blob_list_cb *cb,
                                  void *ctx);

/* Removes what writers abandoned (a crash between open and finish) more
 * than max_age_s seconds ago: temporary files for fs, incomplete
 * multipart uploads for S3. Call it now and then from a worker. Returns
 * how many went, or -errno. */
PL_MUST_CHECK int store_blob_gc(struct store_blob *s, unsigned max_age_s);

/* Writes a presigned URL for method ("GET" or "PUT") on key into out,
 * valid until expires (seconds since the epoch). size and content_type
 * (borrowed; may be NULL for GET) are bound into a PUT signature. For a
 * GET straight to S3, content_type (when not NULL) becomes the signed
 * response-content-type override, and response-content-disposition is
 * inline or attachment by store_blob_inline_type(); parleyd's own GET URLs
 * ignore it (the download handler looks the type up). Returns 0;
 * PL_EINVAL; PL_ETOOBIG when the URL does not fit; PL_EUNAVAIL when the
 * store has no signer. */
PL_MUST_CHECK int store_blob_presign(struct store_blob *s, const char *method, const char *key,
                                     uint64_t size, const char *content_type, int64_t expires,
                                     char out[STORE_BLOB_URL_MAX]);

#endif
