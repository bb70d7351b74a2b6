/* SPDX-License-Identifier: MIT */
/* Parley - integration: access-log injection, deadlines, connection caps. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole server log, NUL-terminated (caller frees). */
static char *read_log(struct pt_server *s)
{
    FILE *f = fopen(pt_server_log(s), "re");
    PL_ASSERT(f != NULL);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    PL_ASSERT(buf != NULL);
    n = fread(buf, 1, cap, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Waits up to 10 s for needle to appear in the log. */
static char *wait_log(struct pt_server *s, const char *needle)
{
    uint64_t deadline = pt_now_ms() + 10000;
    for (;;) {
        char *log = read_log(s);
        if (strstr(log, needle) || pt_now_ms() > deadline)
            return log;
        free(log);
        pt_sleep_ms(20);
    }
}

/* Issue 9, item 13: "%0A" in a path is decoded before routing; written raw
 * it would end the access-log line and forge the next one. */
PLTEST_PROTO(access_log_escapes_request_data)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/v1/nope%0Areq%201%20GET%20/admin%20200%1B[31m", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    char *log = wait_log(s, "/v1/nope\\x0areq");
    PL_ASSERT(strstr(log, "/v1/nope\\x0areq\\x201\\x20GET\\x20/admin\\x20200\\x1b[31m") != NULL);
    /* No line of the log starts with the forged text, and no ESC byte. */
    PL_ASSERT(strstr(log, "\nreq 1 GET") == NULL);
    PL_ASSERT(strchr(log, '\x1b') == NULL);
    free(log);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
