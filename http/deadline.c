/* SPDX-License-Identifier: MIT */
/* Parley - deadlines for what a client sends: headers and body rate.   */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * A connection costs us a descriptor and memory for as long as the client
 * keeps it, and a request that never finishes arriving costs a stream slot
 * (h2) or a whole connection (HTTP/1.1) too. libmicrohttpd's and our own
 * idle timeouts restart with every byte, so a client that sends one byte
 * every few seconds (slowloris), or HEADERS without END_STREAM and then
 * nothing, was never cut. The rules, the same on every transport:
 *
 *   - waiting for a request line (HTTP/1.1 keep-alive): at most
 *     idle_timeout in all, however the bytes trickle in;
 *   - headers: complete within header_timeout of their start;
 *   - body: at least max(1, body_min_rate * body_timeout) bytes in every
 *     body_timeout window (Apache mod_reqtimeout's MinRate idea). A window
 *     in which the server itself held the client back (a streamed upload
 *     whose handler has not read what it was given) does not count.
 *
 * The transports keep one struct http__rx per request being received and
 * call http__rx_check() from a timer; this file only does the arithmetic.
 */
#include "http_int.h"

void http__rx_set(struct http__rx *rx, enum http__rx_phase phase, uint64_t now_ms)
{
    *rx = (struct http__rx){.phase = phase, .since_ms = now_ms};
}

void http__rx_bytes(struct http__rx *rx, size_t n)
{
    rx->window_bytes += n;
}

static int limit_from(uint64_t since, unsigned limit_s, uint64_t now, uint64_t *next_ms)
{
    if (!limit_s) {
        *next_ms = 0;
        return 0;
    }
    uint64_t limit = limit_s * 1000ull, elapsed = now - since;
    if (elapsed >= limit) {
        *next_ms = 0;
        return PL_ETIMEDOUT;
    }
    *next_ms = limit - elapsed;
    return 0;
}

int http__rx_check(struct http__rx *rx, const struct http_limits *lim, uint64_t now, bool held,
                   uint64_t *next_ms)
{
    switch (rx->phase) {
    case HTTP_RX_IDLE: return limit_from(rx->since_ms, lim->idle_timeout_s, now, next_ms);
    case HTTP_RX_HEADERS: return limit_from(rx->since_ms, lim->header_timeout_s, now, next_ms);
    case HTTP_RX_BODY: break;
    case HTTP_RX_DONE: *next_ms = 0; return 0;
    }
    uint64_t window = lim->body_timeout_s * 1000ull;
    if (!window) {
        *next_ms = 0;
        return 0;
    }
    if (held) { /* our fault, not the client's: start over */
        rx->since_ms = now;
        rx->window_bytes = 0;
        *next_ms = window;
        return 0;
    }
    uint64_t elapsed = now - rx->since_ms;
    if (elapsed < window) {
        *next_ms = window - elapsed;
        return 0;
    }
    uint64_t need = PL_MAX(1ull, (uint64_t)lim->body_min_rate * lim->body_timeout_s);
    if (rx->window_bytes < need) {
        *next_ms = 0;
        return PL_ETIMEDOUT;
    }
    rx->since_ms = now;
    rx->window_bytes = 0;
    *next_ms = window;
    return 0;
}
