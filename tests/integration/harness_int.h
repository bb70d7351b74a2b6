/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: internals shared by its source files.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_HARNESS_INT_H
#define PT_HARNESS_INT_H

#include "harness.h"

#include <curl/curl.h>

/* Points c at path on s over p (h1: HTTP/1.1 on the cleartext port; h2:
 * HTTPS with ALPN h2, the harness certificate verified). Only for h1 and
 * h2: h2c goes through our own nghttp2 clients. */
void pt__curl_transport(CURL *c, const struct pt_server *s, enum pt_proto p, const char *path);

/* For the OpenAPI check (when PARLEY_TEST_RECORD_DIR is set): one
 * response, or one event read from a stream (id NULL when it had none).
 * The query string of path is left out. Any thread. */
void pt__record_response(const char *method, const char *path, long status, const char *ctype,
                         const char *body, size_t len);
void pt__record_sse(const char *path, const char *event, const char *data, const char *id);

/* Sets what pt_req_error() returns on the calling thread. */
void pt__set_req_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
