/* SPDX-License-Identifier: MIT */
/* Parley - reactions: one emoji per user per message.                 */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include <string.h>

#define EMOJI_MAX 64 /* bytes: the longest ZWJ family sequences are ~35 */

/* Decodes one UTF-8 code point at *p (well-formed input assumed: the
 * checks below reject anything else); -1 on a bad sequence. */
static long next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    long cp;
    int n;
    if (s[0] < 0x80)
        cp = s[0], n = 1;
    else if ((s[0] & 0xE0) == 0xC0)
        cp = s[0] & 0x1F, n = 2;
    else if ((s[0] & 0xF0) == 0xE0)
        cp = s[0] & 0x0F, n = 3;
    else if ((s[0] & 0xF8) == 0xF0)
        cp = s[0] & 0x07, n = 4;
    else
        return -1;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p = s + n;
    return cp;
}

/* A code point that starts (or, after a ZWJ, continues) an emoji: the
 * pictographic blocks of Unicode 15 and the older symbols that have an
 * emoji presentation. */
static bool pictographic(long cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF) ||
           (cp >= 0x2190 && cp <= 0x21FF) || (cp >= 0x25A0 && cp <= 0x25FF) || cp == 0x00A9 ||
           cp == 0x00AE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 || cp == 0x2139 ||
           cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

static bool regional(long cp)
{
    return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

/* One emoji grapheme: a flag (two regional indicators), a keycap
 * ([0-9#*] FE0F? 20E3), or pictographs joined by ZWJ, each optionally
 * followed by a variation selector, a skin tone or tag characters. */
bool api__valid_emoji(const char *str)
{
    size_t len = strlen(str);
    if (len == 0 || len > EMOJI_MAX)
        return false;
    const unsigned char *p = (const unsigned char *)str, *end = p + len;
    long cp = next_cp(&p);
    if (regional(cp))
        return p < end && regional(next_cp(&p)) && p == end;
    if ((cp >= '0' && cp <= '9') || cp == '#' || cp == '*') {
        long k = p < end ? next_cp(&p) : -1;
        if (k == 0xFE0F)
            k = p < end ? next_cp(&p) : -1;
        return k == 0x20E3 && p == end;
    }
    for (;;) {
        if (!pictographic(cp))
            return false;
        while (p < end) {
            const unsigned char *save = p;
            long m = next_cp(&p);
            if (m == 0xFE0F || m == 0xFE0E || (m >= 0x1F3FB && m <= 0x1F3FF) ||
                (m >= 0xE0020 && m <= 0xE007F))
                continue;
            p = save;
            break;
        }
        if (p == end)
            return true;
        if (next_cp(&p) != 0x200D || p == end)
            return false;
        cp = next_cp(&p);
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The {emoji} path segment percent-decoded into the arena; NULL when it
 * has a bad escape or a NUL. */
static char *decode_segment(struct pl_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = pl_arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n + 1 ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return NULL;
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    if (out)
        *o = '\0';
    return out;
}

struct react {
    int64_t conv, seq;
    const char *emoji;
    bool remove;
};

static int react_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct react *x = arg;
    struct store_msg_target t;
    int rc = store_pg_message_target(c->w->pg, c->a, x->conv, c->user_id, x->seq, &t);
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such message");
    if (rc < 0)
        return rc;
    if (strcmp(t.msg.kind, "deleted") == 0 || strcmp(t.msg.kind, "e2e") == 0) {
        api_problem_send(c->req, PL_ECONFLICT,
                         strcmp(t.msg.kind, "e2e") == 0
                             ? "reactions to e2e messages are not supported by the server yet"
                             : "the message was deleted");
        return PL_ECONFLICT;
    }
    bool changed;
    rc = x->remove
             ? store_pg_reaction_delete(c->w->pg, x->conv, x->seq, c->user_id, x->emoji, &changed)
             : store_pg_reaction_set(c->w->pg, x->conv, x->seq, c->user_id, x->emoji, &changed);
    if (rc < 0 || !changed)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", x->conv);
    api__gen_int(g, "seq", x->seq);
    api__gen_int(g, "user_id", c->user_id);
    api__gen_key(g, "emoji"); /* null: the user's reaction was removed */
    x->remove ? yajl_gen_null(g)
              : yajl_gen_string(g, (const unsigned char *)x->emoji, strlen(x->emoji));
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    return payload ? api__emit(em, "reaction", x->conv, 0, payload) : PL_ENOMEM;
}

static int react(struct api_call *c, bool remove)
{
    struct react x = {.remove = remove};
    if (api__conversation_id(c, &x.conv) < 0 || !api__parse_id(http_req_param(c->req, 1), &x.seq)) {
        api_problem_send(c->req, PL_ENOTFOUND, "no such message");
        return PL_ENOTFOUND;
    }
    x.emoji = decode_segment(c->a, http_req_param(c->req, 2));
    if (!x.emoji || !api__valid_emoji(x.emoji))
        return api__fail_field(c, "", "emoji must be a single emoji (percent-encoded UTF-8)");
    int rc = api__tx_emit(c, react_tx, &x);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

int api__reaction_put(struct api_call *c)
{
    return react(c, false);
}

int api__reaction_delete(struct api_call *c)
{
    return react(c, true);
}

int api__reactions_attach(struct api_call *c, int64_t conv, struct store_message *m, unsigned n)
{
    if (n == 0)
        return 0;
    int64_t *seqs = pl_arena_alloc(c->a, n * sizeof(*seqs));
    if (!seqs)
        return PL_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        seqs[i] = m[i].seq;
        m[i].reactions = NULL;
        m[i].n_reactions = 0;
    }
    struct store_reaction *r;
    unsigned n_r;
    int rc = store_pg_reactions_page(c->w->pg, c->a, conv, c->user_id, seqs, n, &r, &n_r);
    if (rc < 0)
        return rc;
    /* Both are ascending by seq. */
    for (unsigned i = 0, j = 0; i < n && j < n_r; i++) {
        while (j < n_r && r[j].seq < m[i].seq)
            j++;
        unsigned k = j;
        while (k < n_r && r[k].seq == m[i].seq)
            k++;
        m[i].reactions = r + j;
        m[i].n_reactions = k - j;
        j = k;
    }
    return 0;
}

void api__gen_reactions(yajl_gen g, const struct store_message *m)
{
    api__gen_key(g, "reactions");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < m->n_reactions; i++) {
        yajl_gen_map_open(g);
        api__gen_str(g, "emoji", m->reactions[i].emoji);
        api__gen_int(g, "count", m->reactions[i].count);
        api__gen_key(g, "mine");
        yajl_gen_bool(g, m->reactions[i].mine);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}
