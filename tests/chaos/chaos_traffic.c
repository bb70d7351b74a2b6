/* SPDX-License-Identifier: MIT */
/* Parley - chaos driver: tracked sends, resuming streams, the checks.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "chaos.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* A send that failed for a reason worth retrying (503, 429, a dropped or
 * refused connection) is sent again, with the same client_msg_id, after
 * RETRY_MS; a stream that ended is reopened from its last event id after
 * REOPEN_MS, or after Retry-After (plus jitter) when the server said 503. */
#define RETRY_MS 200
#define REOPEN_MS 100
#define REOPEN_BUSY_MS 2000   /* parleyd's Retry-After on 503, honoured as browsers would, */
#define REOPEN_JITTER_MS 1000 /* plus jitter, so the retries do not come back as one wave */

struct retry {
    unsigned idx;
    uint64_t due;
};
static struct retry *retries;
static size_t n_retries, cap_retries;

static void retry_later(struct chaos *c, unsigned i)
{
    if (n_retries == cap_retries) {
        size_t cap = cap_retries ? cap_retries * 2 : 1024;
        struct retry *r = realloc(retries, cap * sizeof(*r));
        if (!r)
            abort();
        retries = r;
        cap_retries = cap;
    }
    retries[n_retries++] = (struct retry){i, chaos_ms() + RETRY_MS};
    c->retried++;
}

static int64_t json_id(struct lg_req *r)
{
    if (pl_buf_append(&r->resp, "", 1) < 0)
        return 0;
    yajl_val t = yajl_tree_parse(pl_buf_head(&r->resp), NULL, 0);
    const char *path[] = {"id", NULL};
    yajl_val v = t ? yajl_tree_get(t, path, yajl_t_number) : NULL;
    int64_t id = v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
    yajl_tree_free(t);
    return id;
}

static void on_sent(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    struct chaos_msg *m = &c->msgs[r->tag];
    m->inflight = false;
    int st = r->status;
    if (st == 201 || st == 200) {
        int64_t id = json_id(r);
        if (!m->acked) {
            m->acked = true;
            m->id = id;
            c->acked++;
        } else if (id != m->id) {
            c->dup++;
        }
        if (st == 201 && r->flag) /* a repeat of an acked send must be a 200 */
            c->dup++;
        return;
    }
    uint64_t *cnt = st < 0 ? &c->st_net : st == 503 || st == 429 ? &c->st_503 : &c->st_5xx;
    if (st >= 400 && st < 500 && st != 429) {
        c->st_4xx++;
        fprintf(stderr, "chaos: send %" PRIu64 ": %d %.*s\n", r->tag, st,
                (int)PL_MIN(r->resp.len, 200), pl_buf_head(&r->resp));
        return;
    }
    (*cnt)++;
    retry_later(c, (unsigned)r->tag);
}

unsigned chaos_msg_new(struct chaos *c, unsigned sender)
{
    if (c->n_msgs == c->cap_msgs) {
        unsigned cap = c->cap_msgs ? c->cap_msgs * 2 : 4096;
        struct chaos_msg *m = realloc(c->msgs, cap * sizeof(*m));
        if (!m)
            abort();
        memset(m + c->cap_msgs, 0, (cap - c->cap_msgs) * sizeof(*m));
        c->msgs = m;
        for (unsigned s = 0; s < c->n_st; s++) {
            uint64_t *b = realloc(c->st[s].seen, cap / 64 * sizeof(*b));
            if (!b)
                abort();
            memset(b + c->cap_msgs / 64, 0, (cap - c->cap_msgs) / 64 * sizeof(*b));
            c->st[s].seen = b;
        }
        c->cap_msgs = cap;
    }
    c->msgs[c->n_msgs].sender = sender;
    return c->n_msgs++;
}

void chaos_send(struct chaos *c, unsigned i)
{
    struct chaos_msg *m = &c->msgs[i];
    struct lg_user *u = &c->b.users[m->sender];
    char path[64], *body = NULL;
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", u->conv);
    if (asprintf(&body, "{\"client_msg_id\":\"ch-%s-%u\",\"kind\":\"text\",\"text\":\"chaos %u\"}",
                 c->b.run_tag, i, i) < 0)
        abort();
    struct lg_req *r = lg_req_new("POST", path, u->token, body, strlen(body), on_sent, c);
    if (!r)
        abort();
    r->tag = i;
    r->flag = m->acked; /* a deliberate repeat */
    m->inflight = true;
    m->tries++;
    lg_client_submit(c->send, r);
}

/* ---- streams ------------------------------------------------------------- */

/* "ch-<tag>-<index>" inside the message's JSON: the index of our message. */
static bool msg_index(struct chaos *c, const char *data, size_t len, unsigned *out)
{
    char pat[40];
    int n = snprintf(pat, sizeof(pat), "\"ch-%s-", c->b.run_tag);
    const char *p = memmem(data, len, pat, (size_t)n);
    if (!p)
        return false;
    p += n;
    unsigned long v = 0;
    bool any = false;
    while (p < data + len && *p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        any = true;
    }
    if (!any || v >= c->n_msgs)
        return false;
    *out = (unsigned)v;
    return true;
}

static void on_event(struct lg_req *r, const char *ev, const char *data, size_t len)
{
    struct chaos *c = r->ctx;
    struct chaos_stream *s = &c->st[r->tag];
    if (strcmp(ev, "ready") == 0) {
        /* A fresh stream starts at the position ready names: resuming
         * from there replays whatever it missed while away. */
        const char *p = memmem(data, len, "\"position\":", 11);
        int64_t pos = p ? strtoll(p + 11, NULL, 10) : 0;
        if (pos > s->last_id)
            s->last_id = pos;
        if (!s->ready) {
            c->ready_total++;
            s->ready_ms = chaos_ms();
        }
        s->ready = true;
        return;
    }
    unsigned i;
    if (strcmp(ev, "message.created") != 0 || !msg_index(c, data, len, &i))
        return;
    c->events++;
    /* A resumed stream gets no ready event: its first event shows it is
     * established again (and caught up from where it was). */
    if (!s->ready) {
        s->ready = true;
        s->ready_ms = chaos_ms();
        c->ready_total++;
    }
    uint64_t bit = 1ull << (i % 64);
    if (s->seen[i / 64] & bit)
        c->dup_events++;
    s->seen[i / 64] |= bit;
    /* The message id is the event's stream position (its SSE id). */
    const char *p = memmem(data, len, "\"message\":{\"id\":", 16);
    if (p) {
        int64_t id = strtoll(p + 16, NULL, 10);
        if (id > s->last_id)
            s->last_id = id;
    }
}

static void on_stream_done(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    struct chaos_stream *s = &c->st[r->tag];
    s->open = s->ready = false;
    s->req = NULL;
    c->drops++;
    if (r->status == 503 || r->status == 429)
        c->st_503++;
    unsigned wait = r->status == 503 || r->status == 429
                        ? REOPEN_BUSY_MS + (unsigned)(lg_rand(&c->b) % REOPEN_JITTER_MS)
                        : REOPEN_MS;
    s->reopen_at_ms = (unsigned)(chaos_ms() - c->t0_ms) + wait;
}

void chaos_stream_open(struct chaos *c, unsigned i)
{
    struct chaos_stream *s = &c->st[i];
    char path[64] = "/v1/events";
    if (s->last_id > 0)
        snprintf(path, sizeof(path), "/v1/events?last_event_id=%" PRId64, s->last_id);
    struct lg_req *r =
        lg_req_new("GET", path, c->b.users[s->user].token, NULL, 0, on_stream_done, c);
    if (!r)
        abort();
    lg_req_set_sse(r, on_event);
    r->tag = i;
    s->open = true;
    s->req = r;
    s->reopen_at_ms = 0;
    if (s->opens++)
        c->reopened++;
    lg_client_submit(c->streams, r);
}

int chaos_streams_init(struct chaos *c, unsigned n)
{
    c->st = calloc(n, sizeof(*c->st));
    if (!c->st)
        return PL_ENOMEM;
    c->n_st = n;
    for (unsigned i = 0; i < n; i++) {
        c->st[i].user = i % c->n_users;
        c->st[i].seen = calloc(c->cap_msgs / 64 + 1, sizeof(uint64_t));
        if (!c->st[i].seen)
            return PL_ENOMEM;
    }
    return 0;
}

void chaos_traffic_tick(struct chaos *c)
{
    uint64_t now = chaos_ms();
    unsigned rel = (unsigned)(now - c->t0_ms);
    for (unsigned i = 0; i < c->n_st; i++)
        if (!c->st[i].open && c->st[i].reopen_at_ms && rel >= c->st[i].reopen_at_ms)
            chaos_stream_open(c, i);
    size_t keep = 0;
    for (size_t k = 0; k < n_retries; k++) {
        if (retries[k].due <= now)
            chaos_send(c, retries[k].idx);
        else
            retries[keep++] = retries[k];
    }
    n_retries = keep;
}

/* ---- checks --------------------------------------------------------------- */

static bool stream_saw(struct chaos *c, unsigned user, unsigned i)
{
    for (unsigned s = user; s < c->n_st; s += c->n_users)
        if (!(c->st[s].seen[i / 64] & (1ull << (i % 64))))
            return false;
    return true;
}

uint64_t chaos_events_missing(struct chaos *c)
{
    uint64_t missing = 0;
    for (unsigned i = 0; i < c->n_msgs; i++) {
        struct chaos_msg *m = &c->msgs[i];
        if (!m->acked)
            continue;
        missing += !stream_saw(c, m->sender, i);
        missing += !stream_saw(c, c->b.users[m->sender].peer, i);
    }
    return missing;
}

struct settle {
    struct chaos *c;
    uint64_t next_check;
};

static bool settled(void *ctx)
{
    struct settle *s = ctx;
    struct chaos *c = s->c;
    if (c->acked < c->n_msgs || n_retries)
        return false;
    for (unsigned i = 0; i < c->n_msgs; i++)
        if (c->msgs[i].inflight)
            return false;
    uint64_t now = chaos_ms();
    if (now < s->next_check)
        return false;
    s->next_check = now + 200;
    return chaos_events_missing(c) == 0;
}

static void settle_tick(void *ctx)
{
    struct settle *s = ctx;
    chaos_traffic_tick(s->c);
}

void chaos_settle(struct chaos *c, unsigned timeout_ms)
{
    struct settle s = {c, 0};
    (void)lg_loop_run(settled, settle_tick, &s, 20, timeout_ms);
}

void chaos_repeat_check(struct chaos *c, unsigned n)
{
    unsigned sent = 0;
    for (unsigned i = 0; i < c->n_msgs && sent < n; i += 1 + c->n_msgs / (n + 1))
        if (c->msgs[i].acked && !c->msgs[i].inflight) {
            chaos_send(c, i);
            sent++;
        }
}

/* ---- history ------------------------------------------------------------- */

/* History is read by HIST_WALKERS walkers at once, each paging through
 * one conversation (after=<last seq>, 200 at a time) and then taking the
 * next one. */
#define HIST_WALKERS 8

struct hist;
struct hist_walk {
    struct hist *h;
    unsigned pair; /* UINT32_MAX: take the next conversation */
    int64_t after;
};

struct hist {
    struct chaos *c;
    uint8_t *count; /* per message index: times found */
    int rc;
    unsigned next_pair, busy;
    struct hist_walk w[HIST_WALKERS];
};

static void hist_next(struct hist_walk *wk);

/* Counts the messages of one page; false when it was the last. */
static bool hist_page(struct hist_walk *wk, struct lg_req *r)
{
    struct hist *h = wk->h;
    yajl_val t = yajl_tree_parse(pl_buf_head(&r->resp), NULL, 0);
    const char *mp[] = {"messages", NULL}, *hp[] = {"has_more", NULL};
    yajl_val arr = t ? yajl_tree_get(t, mp, yajl_t_array) : NULL;
    yajl_val more = t ? yajl_tree_get(t, hp, yajl_t_any) : NULL;
    size_t n = arr ? YAJL_GET_ARRAY(arr)->len : 0;
    char pat[40];
    int pn = snprintf(pat, sizeof(pat), "ch-%s-", h->c->b.run_tag);
    for (size_t k = 0; k < n; k++) {
        yajl_val m = YAJL_GET_ARRAY(arr)->values[k];
        const char *sp[] = {"seq", NULL}, *cp[] = {"client_msg_id", NULL};
        yajl_val seq = yajl_tree_get(m, sp, yajl_t_number);
        yajl_val cm = yajl_tree_get(m, cp, yajl_t_string);
        if (seq && YAJL_IS_INTEGER(seq) && YAJL_GET_INTEGER(seq) > wk->after)
            wk->after = YAJL_GET_INTEGER(seq);
        const char *s = cm ? YAJL_GET_STRING(cm) : NULL;
        if (s && strncmp(s, pat, (size_t)pn) == 0) {
            unsigned long i = strtoul(s + pn, NULL, 10);
            if (i < h->c->n_msgs && h->count[i] < 255)
                h->count[i]++;
        }
    }
    bool has_more = more && YAJL_IS_TRUE(more);
    yajl_tree_free(t);
    return has_more;
}

static void on_page(struct lg_req *r)
{
    struct hist_walk *wk = r->ctx;
    struct hist *h = wk->h;
    if (r->status == -ECANCELED)
        return;
    if (r->status != 200) {
        if (r->status != 503 && r->status >= 0) { /* 503 or a lost connection: again */
            fprintf(stderr, "chaos: history: status %d\n", r->status);
            h->rc = PL_EINTERNAL;
        }
    } else if (pl_buf_append(&r->resp, "", 1) < 0) {
        h->rc = PL_ENOMEM;
    } else if (!hist_page(wk, r)) {
        wk->pair = UINT32_MAX;
    }
    hist_next(wk);
}

static void hist_next(struct hist_walk *wk)
{
    struct hist *h = wk->h;
    struct chaos *c = h->c;
    if (wk->pair == UINT32_MAX) {
        wk->pair = h->next_pair++;
        wk->after = 0;
    }
    if (h->rc < 0 || 2 * wk->pair + 1 >= c->n_users) {
        h->busy--;
        return;
    }
    struct lg_user *u = &c->b.users[2 * wk->pair];
    char path[96];
    snprintf(path, sizeof(path),
             "/v1/conversations/%" PRId64 "/messages?after=%" PRId64 "&limit=200", u->conv,
             wk->after);
    struct lg_req *r = lg_req_new("GET", path, u->token, NULL, 0, on_page, wk);
    if (!r)
        abort();
    lg_client_submit(c->aux, r);
}

static bool hist_done(void *ctx)
{
    struct hist *h = ctx;
    return h->busy == 0;
}

int chaos_verify_history(struct chaos *c, uint64_t *found, uint64_t *dups)
{
    struct hist *h = calloc(1, sizeof(*h));
    if (!h || !(h->count = calloc(c->n_msgs + 1, 1))) {
        free(h);
        return PL_ENOMEM;
    }
    h->c = c;
    h->busy = HIST_WALKERS;
    for (unsigned k = 0; k < HIST_WALKERS; k++) {
        h->w[k] = (struct hist_walk){h, UINT32_MAX, 0};
        hist_next(&h->w[k]);
    }
    int rc = lg_loop_run(hist_done, NULL, h, 50, 600000);
    *found = *dups = 0;
    for (unsigned i = 0; i < c->n_msgs; i++) {
        if (c->msgs[i].acked && h->count[i] >= 1)
            (*found)++;
        if (h->count[i] > 1)
            *dups += h->count[i] - 1u;
    }
    rc = rc < 0 ? rc : h->rc;
    free(h->count);
    free(h);
    if (rc < 0)
        fprintf(stderr, "chaos: history not read whole: %s\n", pl_strerror(rc));
    return rc;
}
