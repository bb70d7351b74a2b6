/* SPDX-License-Identifier: MIT */
/* Parley - integration: a local push service that records what parleyd posts. */
/* Copyright (c) 2026 Parley developers                                 */
#include "push_svc.h"

#include "harness.h"

#include "webpush/webpush.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSGS 256
#define MAX_SCRIPT 32
#define MAX_CONNS 16
#define BUF_MAX (64 * 1024)

struct script {
    char path[128];
    int status;
    unsigned retry_after;
    int used;
};

struct conn {
    int fd;
    char *buf;
    size_t len;
};

struct pt_push_svc {
    int lfd, stop_pipe[2];
    unsigned port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pt_push_msg msgs[MAX_MSGS];
    unsigned n_msgs;
    struct script scripts[MAX_SCRIPT];
    unsigned n_scripts;
    struct conn conns[MAX_CONNS];
};

/* Copies the value of header name (case-insensitive) from the header
 * block h (ends at "\r\n\r\n") into out. */
static void header(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(h, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncmp(line, "\r\n", 2) == 0)
            break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

/* The scripted answer for path, or 201. Holds the lock. */
static int answer_for(struct pt_push_svc *svc, const char *path, unsigned *retry_after)
{
    for (unsigned i = 0; i < svc->n_scripts; i++) {
        struct script *s = &svc->scripts[i];
        if (!s->used && strcmp(s->path, path) == 0) {
            s->used = 1;
            *retry_after = s->retry_after;
            return s->status;
        }
    }
    *retry_after = 0;
    return 201;
}

/* Handles every complete request in c's buffer; -1 to close. */
static int serve(struct pt_push_svc *svc, struct conn *c)
{
    for (;;) {
        char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return c->len >= BUF_MAX ? -1 : 0;
        size_t hlen = (size_t)(end - c->buf) + 4;
        char cl[32], path[128] = "";
        end[2] = '\0'; /* the header block as a string, for a moment */
        header(c->buf, "Content-Length", cl, sizeof(cl));
        size_t blen = (size_t)strtoul(cl, NULL, 10);
        if (hlen + blen > BUF_MAX) {
            end[2] = '\r';
            return -1;
        }
        if (c->len < hlen + blen) {
            end[2] = '\r';
            return 0;
        }
        sscanf(c->buf, "POST %127s HTTP/1.1", path);
        unsigned ra = 0;
        pthread_mutex_lock(&svc->lock);
        int status = answer_for(svc, path, &ra);
        if (svc->n_msgs < MAX_MSGS) {
            struct pt_push_msg *m = &svc->msgs[svc->n_msgs++];
            memset(m, 0, sizeof(*m));
            snprintf(m->path, sizeof(m->path), "%s", path);
            header(c->buf, "Authorization", m->authorization, sizeof(m->authorization));
            header(c->buf, "TTL", m->ttl, sizeof(m->ttl));
            header(c->buf, "Urgency", m->urgency, sizeof(m->urgency));
            header(c->buf, "Content-Encoding", m->encoding, sizeof(m->encoding));
            m->body = malloc(blen ? blen : 1);
            if (m->body)
                memcpy(m->body, c->buf + hlen, blen);
            m->len = blen;
            m->answered = status;
        }
        pthread_cond_broadcast(&svc->cond);
        pthread_mutex_unlock(&svc->lock);
        char resp[256];
        int n =
            ra ? snprintf(resp, sizeof(resp),
                          "HTTP/1.1 %d X\r\nContent-Length: 0\r\nRetry-After: %u\r\n\r\n", status,
                          ra)
               : snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
        if (write(c->fd, resp, (size_t)n) != n)
            return -1;
        memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
        c->len -= hlen + blen;
    }
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void *svc_main(void *arg)
{
    struct pt_push_svc *svc = arg;
    for (;;) {
        struct pollfd p[MAX_CONNS + 2];
        int idx[MAX_CONNS + 2];
        unsigned n = 0;
        p[n] = (struct pollfd){.fd = svc->stop_pipe[0], .events = POLLIN};
        idx[n++] = -1;
        p[n] = (struct pollfd){.fd = svc->lfd, .events = POLLIN};
        idx[n++] = -2;
        for (int i = 0; i < MAX_CONNS; i++)
            if (svc->conns[i].fd >= 0) {
                p[n] = (struct pollfd){.fd = svc->conns[i].fd, .events = POLLIN};
                idx[n++] = i;
            }
        if (poll(p, n, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        for (unsigned k = 1; k < n; k++) {
            if (!p[k].revents)
                continue;
            if (idx[k] == -2) {
                int fd = accept(svc->lfd, NULL, NULL);
                int slot = -1;
                for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                    if (svc->conns[i].fd < 0)
                        slot = i;
                if (fd >= 0 && slot < 0)
                    close(fd);
                else if (fd >= 0)
                    svc->conns[slot].fd = fd;
                continue;
            }
            struct conn *c = &svc->conns[idx[k]];
            ssize_t r = read(c->fd, c->buf + c->len, BUF_MAX - c->len);
            if (r <= 0) {
                conn_close(c);
                continue;
            }
            c->len += (size_t)r;
            if (serve(svc, c) < 0)
                conn_close(c);
        }
    }
    return NULL;
}

struct pt_push_svc *pt_push_svc_start(void)
{
    struct pt_push_svc *svc = calloc(1, sizeof(*svc));
    PL_ASSERT(svc);
    for (int i = 0; i < MAX_CONNS; i++) {
        svc->conns[i].fd = -1;
        svc->conns[i].buf = malloc(BUF_MAX);
        PL_ASSERT(svc->conns[i].buf);
    }
    svc->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    PL_ASSERT(svc->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    PL_ASSERT(bind(svc->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    PL_ASSERT(listen(svc->lfd, 16) == 0);
    PL_ASSERT(getsockname(svc->lfd, (struct sockaddr *)&a, &al) == 0);
    svc->port = ntohs(a.sin_port);
    PL_ASSERT(pipe(svc->stop_pipe) == 0);
    pthread_mutex_init(&svc->lock, NULL);
    pthread_cond_init(&svc->cond, NULL);
    PL_ASSERT(pthread_create(&svc->thread, NULL, svc_main, svc) == 0);
    return svc;
}

unsigned pt_push_svc_port(const struct pt_push_svc *svc)
{
    return svc->port;
}

void pt_push_svc_script(struct pt_push_svc *svc, const char *path, int status, unsigned retry_after)
{
    pthread_mutex_lock(&svc->lock);
    PL_ASSERT(svc->n_scripts < MAX_SCRIPT);
    struct script *s = &svc->scripts[svc->n_scripts++];
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->status = status;
    s->retry_after = retry_after;
    s->used = 0;
    pthread_mutex_unlock(&svc->lock);
}

static unsigned count(struct pt_push_svc *svc, const char *path)
{
    unsigned n = 0;
    for (unsigned i = 0; i < svc->n_msgs; i++)
        n += strcmp(svc->msgs[i].path, path) == 0;
    return n;
}

unsigned pt_push_svc_wait(struct pt_push_svc *svc, const char *path, unsigned n,
                          unsigned timeout_ms)
{
    uint64_t deadline = pt_now_ms() + timeout_ms;
    pthread_mutex_lock(&svc->lock);
    unsigned k;
    while ((k = count(svc, path)) < n && pt_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L; /* re-check the deadline every 50 ms */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&svc->cond, &svc->lock, &ts);
    }
    pthread_mutex_unlock(&svc->lock);
    return k;
}

void pt_push_svc_get(struct pt_push_svc *svc, const char *path, unsigned i, struct pt_push_msg *out)
{
    pthread_mutex_lock(&svc->lock);
    const struct pt_push_msg *m = NULL;
    for (unsigned j = 0, k = 0; j < svc->n_msgs && !m; j++)
        if (strcmp(svc->msgs[j].path, path) == 0 && k++ == i)
            m = &svc->msgs[j];
    if (m) {
        *out = *m;
        out->body = malloc(m->len ? m->len : 1);
        if (out->body)
            memcpy(out->body, m->body, m->len);
    }
    pthread_mutex_unlock(&svc->lock);
    if (!m)
        pltest_fail(__FILE__, __LINE__, "no request %u to %s", i, path);
    PL_ASSERT(out->body);
}

unsigned pt_push_svc_total(struct pt_push_svc *svc)
{
    pthread_mutex_lock(&svc->lock);
    unsigned n = svc->n_msgs;
    pthread_mutex_unlock(&svc->lock);
    return n;
}

void pt_push_svc_stop(struct pt_push_svc *svc)
{
    if (write(svc->stop_pipe[1], "x", 1) != 1)
        abort();
    pthread_join(svc->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (svc->conns[i].fd >= 0)
            close(svc->conns[i].fd);
        free(svc->conns[i].buf);
    }
    for (unsigned i = 0; i < svc->n_msgs; i++)
        free(svc->msgs[i].body);
    close(svc->lfd);
    close(svc->stop_pipe[0]);
    close(svc->stop_pipe[1]);
    pthread_mutex_destroy(&svc->lock);
    pthread_cond_destroy(&svc->cond);
    free(svc);
}

/* ---- the browser's side ---- */

void pt_push_subscribe(struct pt_server *s, enum pt_proto p, const char *token,
                       struct pt_push_svc *svc, const char *path, struct pt_push_sub *out)
{
    memset(out, 0, sizeof(*out));
    PL_ASSERT_INT_EQ(webpush_key_generate(&out->key), 0);
    for (size_t i = 0; i < sizeof(out->auth); i++)
        out->auth[i] = (uint8_t)(rand() ^ (int)i);
    snprintf(out->path, sizeof(out->path), "%s", path);
    snprintf(out->endpoint, sizeof(out->endpoint), "http://127.0.0.1:%u%s", svc->port, path);
    uint8_t pub[WEBPUSH_PUBLIC_LEN];
    webpush_key_public(out->key, pub);
    char p256dh[128], auth[64], body[512];
    PL_ASSERT(webpush_b64url_encode(pub, sizeof(pub), p256dh, sizeof(p256dh)) > 0);
    PL_ASSERT(webpush_b64url_encode(out->auth, sizeof(out->auth), auth, sizeof(auth)) > 0);
    snprintf(body, sizeof(body),
             "{\"endpoint\":\"%s\",\"expirationTime\":null,\"keys\":{\"p256dh\":\"%s\","
             "\"auth\":\"%s\"}}",
             out->endpoint, p256dh, auth);
    struct pt_resp r;
    pt_send_json(s, p, "POST", "/v1/push/subscriptions", token, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    out->id = pt_json_int(pt_json(&r), "id", NULL);
    PL_ASSERT(out->id > 0);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "endpoint", NULL), out->endpoint);
    pt_resp_free(&r);
}

void pt_push_sub_free(struct pt_push_sub *sub)
{
    webpush_key_free(sub->key);
    sub->key = NULL;
}

void pt_push_vapid_key(struct pt_server *s, enum pt_proto p, char out[128])
{
    struct pt_resp r;
    pt_get(s, p, "/v1/push/vapid", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    const char *k = pt_json_str(pt_json(&r), "public_key", NULL);
    PL_ASSERT(k && strlen(k) == 87);
    snprintf(out, 128, "%s", k);
    pt_resp_free(&r);
}

yajl_val pt_push_open(struct pt_push_svc *svc, const struct pt_push_sub *sub, unsigned i,
                      const char *vapid_key)
{
    struct pt_push_msg m;
    pt_push_svc_get(svc, sub->path, i, &m);
    PL_ASSERT_STR_EQ(m.encoding, "aes128gcm");
    PL_ASSERT(atoi(m.ttl) > 0);
    PL_ASSERT_STR_EQ(m.urgency, "normal");
    /* VAPID: signed for this origin, by the key the server publishes. */
    char aud[64];
    snprintf(aud, sizeof(aud), "http://127.0.0.1:%u", svc->port);
    uint8_t signer[WEBPUSH_PUBLIC_LEN];
    PL_ASSERT_INT_EQ(webpush_vapid_verify(m.authorization, aud, (int64_t)time(NULL), signer), 0);
    char signer_b64[128];
    PL_ASSERT(webpush_b64url_encode(signer, sizeof(signer), signer_b64, sizeof(signer_b64)) > 0);
    PL_ASSERT_STR_EQ(signer_b64, vapid_key);
    uint8_t *pt;
    size_t n;
    PL_ASSERT_INT_EQ(webpush_decrypt(sub->key, sub->auth, m.body, m.len, &pt, &n), 0);
    free(m.body);
    char *txt = malloc(n + 1), err[128];
    PL_ASSERT(txt);
    memcpy(txt, pt, n);
    txt[n] = '\0';
    free(pt);
    yajl_val v = yajl_tree_parse(txt, err, sizeof(err));
    if (!v)
        pltest_fail(__FILE__, __LINE__, "push payload is not JSON: %s", txt);
    free(txt);
    return v;
}
