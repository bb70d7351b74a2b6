/* SPDX-License-Identifier: MIT */
/* Parley - leveled logging with per-file topics.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The spec is copied once at startup and only read afterwards, so threads
 * resolving their topics concurrently need no lock. */
static char spec_copy[512] = "info";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int parse_level(const char *s, size_t n)
{
    for (size_t i = 0; i < PL_ARRAY_LEN(level_names); i++)
        if (strlen(level_names[i]) == n && strncasecmp(s, level_names[i], n) == 0)
            return (int)i;
    return -1;
}

/* Walks "topic:level,level" and returns the level for name, the bare
 * default when no entry names it, or -1 when the spec is malformed. */
static int resolve(const char *spec, const char *name)
{
    int def = PL_LOG_INFO, found = -1;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (colon) {
            int lvl = parse_level(colon + 1, n - (size_t)(colon - p) - 1);
            if (lvl < 0)
                return -1;
            if ((size_t)(colon - p) == strlen(name) && strncmp(p, name, (size_t)(colon - p)) == 0)
                found = lvl;
        } else if (n > 0) {
            def = parse_level(p, n);
            if (def < 0)
                return -1;
        }
        p += n + (end ? 1 : 0);
    }
    return found >= 0 ? found : def;
}

int pl_log_configure(const char *spec)
{
    if (!spec || !*spec)
        return 0;
    if (strlen(spec) >= sizeof(spec_copy) || resolve(spec, "") < 0)
        return PL_EINVAL;
    strcpy(spec_copy, spec);
    return 0;
}

bool pl_log_enabled(struct pl_log_topic *t, int lvl)
{
    int cur = __atomic_load_n(&t->level, __ATOMIC_RELAXED);
    if (PL_UNLIKELY(cur < 0)) {
        cur = resolve(spec_copy, t->name);
        __atomic_store_n(&t->level, cur, __ATOMIC_RELAXED);
    }
    return lvl <= cur;
}

char *pl_log_escape(char *out, size_t cap, const char *in)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool esc = *p <= 0x20 || *p >= 0x7f || *p == '\\' || *p == '"';
        size_t need = esc ? 4 : 1;
        if (o + need >= cap)
            break;
        if (esc) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return out;
}

/* Control characters in a formatted message (a user-supplied string that a
 * caller forgot to escape) are rewritten in place as '?' rather than
 * expanded, so no message can end its line early, forge another, or send
 * terminal escapes to whoever reads the log. Tabs are kept. */
static void neutralize(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            s[i] = '?';
}

void pl_log_write(struct pl_log_topic *t, int lvl, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[lvl], t->name);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : PL_MIN((size_t)m, sizeof(line) - (size_t)n - 2));
    neutralize(line + n, len - (size_t)n);
    line[len++] = '\n';
    /* One fwrite per line: stdio locks the stream, so lines stay whole. */
    fwrite(line, 1, len, stderr);
}
