/* SPDX-License-Identifier: MIT */
/* Parley - E2E edit and reaction payloads (crypto/PROTOCOL.md, "Edits */
/* and reactions"): build, parse against the clear envelope, emoji.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Nothing here touches the state or the network, so the vector test
 * (tests/unit/client/test_action_wire.c) runs it on its own against
 * crypto/testvectors/actions.json, as the web client's vector runner runs
 * web/src/e2e/action.js.
 */

static yajl_val jget(yajl_val v, const char *k)
{
    const char *path[] = {k, NULL};
    return YAJL_IS_OBJECT(v) ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static const char *jstr(yajl_val v, const char *k)
{
    yajl_val x = jget(v, k);
    return YAJL_IS_STRING(x) ? YAJL_GET_STRING(x) : NULL;
}

static long long jint(yajl_val v, const char *k)
{
    yajl_val x = jget(v, k);
    return YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : 0;
}

static char *gen_done(yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *s = strndup((const char *)buf, len);
    yajl_gen_free(g);
    if (!s)
        abort(); /* out of memory: the CLI cannot go on */
    return s;
}

char *cli_action_line(char kind, long long seq, const char *value)
{
    char *s;
    if (asprintf(&s, "%c%c%lld\t%s", CLI_ACTION_MARK, kind, seq, value ? value : "") < 0)
        abort(); /* out of memory: the CLI cannot go on */
    return s;
}

char *cli_action_payload(char kind, long long seq, const char *value)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    GEN_STR(g, kind == 'E' ? "edit" : "reaction");
    yajl_gen_map_open(g);
    GEN_STR(g, "seq");
    yajl_gen_integer(g, seq);
    GEN_STR(g, kind == 'E' ? "text" : "emoji");
    if (value && *value)
        GEN_STR(g, value);
    else
        yajl_gen_null(g);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    return gen_done(g);
}

char *cli_action_from_doc(yajl_val env, yajl_val doc)
{
    yajl_val ed = jget(doc, "edit"), re = jget(doc, "reaction");
    yajl_val o = YAJL_IS_OBJECT(ed) ? ed : YAJL_IS_OBJECT(re) ? re : NULL;
    const char *action = jstr(env, "action");
    if (!o || !action || !YAJL_IS_INTEGER(jget(o, "seq")))
        return NULL;
    long long seq = YAJL_GET_INTEGER(jget(o, "seq"));
    /* The clear marker the server checked must say what the ciphertext
     * says: otherwise the server (or the sender) pointed it elsewhere. */
    if (seq < 1 || seq != jint(env, "refers_to") ||
        strcmp(action, o == ed ? "edit" : "reaction") != 0)
        return NULL;
    yajl_val v = jget(o, o == ed ? "text" : "emoji");
    const char *str = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    if (o == ed && (!str || !*str || strlen(str) > 65536))
        return NULL;
    if (o == re && !(YAJL_IS_NULL(v) || (str && cli_emoji_ok(str))))
        return NULL;
    return cli_action_line(o == ed ? 'E' : 'R', seq, str ? str : "");
}

/* ---- one emoji ---- */

/* One UTF-8 code point at *p (bounded by end); -1 when malformed. */
static long next_cp(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    int n = s[0] < 0x80             ? 1
            : (s[0] & 0xE0) == 0xC0 ? 2
            : (s[0] & 0xF0) == 0xE0 ? 3
            : (s[0] & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || end - s < n)
        return -1;
    long cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *p = s + n;
    return cp;
}

static int pictographic(long cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF) ||
           (cp >= 0x2190 && cp <= 0x21FF) || (cp >= 0x25A0 && cp <= 0x25FF) || cp == 0xA9 ||
           cp == 0xAE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 || cp == 0x2139 ||
           cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

static int modifier(long cp)
{
    return cp == 0xFE0F || cp == 0xFE0E || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
           (cp >= 0xE0020 && cp <= 0xE007F);
}

/* The rule the server applies to plain chats' reactions (api/reactions.c):
 * a flag, a keycap, or pictographs joined by ZWJ with their modifiers. */
int cli_emoji_ok(const char *str)
{
    size_t len = strlen(str);
    const unsigned char *p = (const unsigned char *)str, *end = p + len;
    if (len == 0 || len > 64)
        return 0;
    long cp = next_cp(&p, end);
    if (cp >= 0x1F1E6 && cp <= 0x1F1FF) {
        long k = p < end ? next_cp(&p, end) : -1;
        return k >= 0x1F1E6 && k <= 0x1F1FF && p == end;
    }
    if ((cp >= '0' && cp <= '9') || cp == '#' || cp == '*') {
        long k = p < end ? next_cp(&p, end) : -1;
        if (k == 0xFE0F)
            k = p < end ? next_cp(&p, end) : -1;
        return k == 0x20E3 && p == end;
    }
    for (;;) {
        if (!pictographic(cp))
            return 0;
        const unsigned char *save = p;
        while (p < end && modifier(next_cp(&p, end)))
            save = p;
        p = save;
        if (p == end)
            return 1;
        if (next_cp(&p, end) != 0x200D || p == end)
            return 0;
        cp = next_cp(&p, end);
    }
}

char *cli_action_effect(long long refers_to, const char *action, const char *payload,
                        long long sender, long long target_sender)
{
    yajl_val doc = yajl_tree_parse(payload, NULL, 0), env = NULL;
    char *line = NULL, *out;
    char js[96];
    snprintf(js, sizeof(js), "{\"refers_to\":%lld,\"action\":\"%s\"}", refers_to,
             action ? action : "");
    env = yajl_tree_parse(js, NULL, 0);
    if (doc && env)
        line = cli_action_from_doc(env, doc);
    yajl_tree_free(doc);
    yajl_tree_free(env);
    if (!line || (line[1] == 'E' && sender != target_sender)) {
        free(line);
        return strdup("ignore");
    }
    char *end;
    long long seq = strtoll(line + 2, &end, 10);
    if (asprintf(&out, "%s %lld %s", line[1] == 'E' ? "edit" : "reaction", seq, end + 1) < 0)
        abort();
    free(line);
    return out;
}
