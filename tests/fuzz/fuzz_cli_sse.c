/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: the CLI's event-stream parser (client/net.c).         */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/net.c"

#include "fuzz.h"

/* net.c's only dependencies on the rest of the CLI (main.c, state.c);
 * the parser reaches neither. */
_Noreturn void cli_die(const char *fmt, ...)
{
    (void)fmt;
    abort();
}

_Noreturn void cli_die_code(int code, const char *fmt, ...)
{
    (void)code, (void)fmt;
    abort();
}

const char *cli_conf(struct cli *c, const char *key)
{
    (void)c, (void)key;
    return NULL;
}

static int on_ev(struct cli *c, const char *type, const char *data, const char *id, void *ctx)
{
    unsigned *n = ctx;
    (void)c;
    /* The CLI parses every event's data as JSON. */
    yajl_val v = yajl_tree_parse(data, NULL, 0);
    yajl_tree_free(v);
    if (!type || !id)
        abort();
    return ++*n > 1000; /* the CLI stops after a count: so do we, sometimes */
}

/* Input: the first byte chooses the chunk size the bytes arrive in (as
 * libcurl would cut them), the rest is the stream body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    size_t chunk = (size_t)fuzz_byte(&in) + 1;
    unsigned n = 0;
    struct cli_stream_end end = {0};
    struct sse s = {.cb = on_ev, .ctx = &n, .end = &end}; /* end: the retry: field lands there */
    pl_buf_init(&s.buf, BODY_MAX);
    while (in.left) {
        size_t k = in.left < chunk ? in.left : chunk;
        char tmp[256];
        memcpy(tmp, in.p, k); /* libcurl's buffer is writable but not ours */
        size_t took = on_stream(tmp, 1, k, &s);
        in.p += k;
        in.left -= k;
        if (took != k)
            break;
    }
    pl_buf_deinit(&s.buf);
    free(s.data);
    return 0;
}
