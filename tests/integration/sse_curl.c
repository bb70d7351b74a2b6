/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: SSE over libcurl (h1, h2 over TLS).    */
/* Copyright (c) 2026 Parley developers                                 */

/* A multi handle per connection, driven only from pt_sse_next() and
 * friends: the test decides when the socket is read, which is what lets it
 * play a slow consumer. Several transfers on one multi handle with
 * PIPEWAIT and one connection per host become streams of one h2
 * connection. */
#include "sse_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct pt__sse_curl {
    CURLM *multi;
    unsigned transfers;
    int rcvbuf;
    unsigned long activity; /* callbacks so far: did a perform deliver anything? */
};

static size_t on_write(char *d, size_t size, size_t n, void *ctx)
{
    struct pt_sse *sse = ctx;
    sse->curl->activity++;
    pt__sse_body(sse, d, size * n);
    return size * n;
}

static size_t on_header(char *d, size_t size, size_t n, void *ctx)
{
    struct pt_sse *sse = ctx;
    sse->curl->activity++;
    size_t len = size * n;
    while (len && (d[len - 1] == '\n' || d[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(d, "HTTP/", 5) == 0) {
        /* "HTTP/1.1 200 OK" or "HTTP/2 200" */
        const char *sp = memchr(d, ' ', len);
        pt__sse_set_status(sse, sp ? strtol(sp + 1, NULL, 10) : 0);
        sse->head_done = false;
    } else if (len == 0) {
        /* The blank line after a 1xx head is followed by another head. */
        sse->head_done = sse->status >= 200;
    } else {
        const char *colon = memchr(d, ':', len);
        if (colon) {
            const char *v = colon + 1;
            while (v < d + len && (*v == ' ' || *v == '\t'))
                v++;
            pt__sse_add_header(sse, d, (size_t)(colon - d), v, (size_t)(d + len - v));
        }
    }
    sse->touched = true;
    return size * n;
}

static int on_sockopt(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
    struct pt__sse_curl *m = ctx;
    /* Before connect(), so the window the server sees is small from the
     * start. */
    if (m->rcvbuf > 0 && purpose == CURLSOCKTYPE_IPCXN)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &m->rcvbuf, sizeof(m->rcvbuf));
    return CURL_SOCKOPT_OK;
}

struct pt__sse_curl *pt__sse_curl_new(bool multiplex)
{
    struct pt__sse_curl *m = calloc(1, sizeof(*m));
    PL_ASSERT(m);
    m->multi = curl_multi_init();
    PL_ASSERT(m->multi);
    if (multiplex) {
        curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
        curl_multi_setopt(m->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    }
    return m;
}

void pt__sse_curl_submit(struct pt__sse_curl *m, struct pt_server *s, enum pt_proto p,
                         const char *path, char **lines, int rcvbuf, struct pt_sse *sse)
{
    CURL *c = curl_easy_init();
    PL_ASSERT(c);
    pt__curl_transport(c, s, p, path);
    for (size_t i = 0; lines[i]; i++) {
        struct curl_slist *l = curl_slist_append(sse->req_headers, lines[i]);
        PL_ASSERT(l);
        sse->req_headers = l;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sse->req_headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sse);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, sse);
    curl_easy_setopt(c, CURLOPT_PRIVATE, sse);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    /* An event stream is never cached and never reused by another test. */
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    m->rcvbuf = rcvbuf;
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, m);
    sse->easy = c;
    sse->curl = m;
    m->transfers++;
    PL_ASSERT_INT_EQ(curl_multi_add_handle(m->multi, c), CURLM_OK);
}

/* Transfers that finished: their streams have ended. */
static void reap(struct pt__sse_curl *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct pt_sse *sse = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sse);
        if (sse) {
            if (sse->status == 0)
                pt__set_req_error("GET /v1/events: %s", curl_easy_strerror(msg->data.result));
            pt__sse_end(sse);
        }
    }
}

void pt__sse_curl_io(struct pt__sse_curl *m, int timeout_ms)
{
    int running = 0;
    unsigned long before = m->activity;
    curl_multi_perform(m->multi, &running);
    reap(m);
    /* What curl had already read may have come out just now: the caller
     * looks at it before anyone waits for more. */
    if (!running || m->activity != before)
        return;
    int numfds = 0;
    curl_multi_poll(m->multi, NULL, 0, timeout_ms, &numfds);
    curl_multi_perform(m->multi, &running);
    reap(m);
}

void pt__sse_curl_close_stream(struct pt__sse_curl *m, struct pt_sse *sse)
{
    curl_multi_remove_handle(m->multi, sse->easy);
    curl_easy_cleanup(sse->easy);
    curl_slist_free_all(sse->req_headers);
    sse->easy = NULL;
    sse->req_headers = NULL;
    sse->curl = NULL;
    if (--m->transfers == 0) {
        curl_multi_cleanup(m->multi);
        free(m);
    }
}

void pt__sse_curl_assert_one_conn(struct pt_sse **v, size_t n)
{
    long port0 = 0;
    for (size_t i = 0; i < n; i++) {
        long port = 0, version = 0;
        curl_easy_getinfo(v[i]->easy, CURLINFO_LOCAL_PORT, &port);
        curl_easy_getinfo(v[i]->easy, CURLINFO_HTTP_VERSION, &version);
        if (version != CURL_HTTP_VERSION_2_0)
            pltest_fail(__FILE__, __LINE__, "stream %zu did not use HTTP/2", i);
        if (i == 0)
            port0 = port;
        else if (port != port0)
            pltest_fail(__FILE__, __LINE__,
                        "stream %zu uses local port %ld, stream 0 port %ld: not one connection", i,
                        port, port0);
    }
}
