/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/log.c: escaping of logged request data.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "common/log.h"
#include "pltest.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("test");

PLTEST(escape_turns_line_breaks_and_escapes_into_hex)
{
    char out[128];
    PL_ASSERT_STR_EQ(pl_log_escape(out, sizeof(out), "/v1/x\nreq 1 GET /admin 200"),
                     "/v1/x\\x0areq\\x201\\x20GET\\x20/admin\\x20200");
    PL_ASSERT_STR_EQ(pl_log_escape(out, sizeof(out), "\r\x1b[31m\x7f\\\""),
                     "\\x0d\\x1b[31m\\x7f\\x5c\\x22");
    PL_ASSERT_STR_EQ(pl_log_escape(out, sizeof(out), "caf\xc3\xa9"), "caf\\xc3\\xa9");
    PL_ASSERT_STR_EQ(pl_log_escape(out, sizeof(out), "/v1/users/42"), "/v1/users/42");
    /* Truncation never splits an escape. */
    PL_ASSERT_STR_EQ(pl_log_escape(out, 7, "ab\ncd"), "ab\\x0a");
    PL_ASSERT_STR_EQ(pl_log_escape(out, 6, "ab\ncd"), "ab");
}

/* Even a message that passes raw input through stays one line. */
PLTEST(write_keeps_one_line_per_message)
{
    FILE *tmp = tmpfile();
    PL_ASSERT(tmp != NULL);
    int saved = dup(2);
    PL_ASSERT(dup2(fileno(tmp), 2) == 2);
    pl_log_write(&pl__log_topic, PL_LOG_INFO, "user said %s", "hi\nforged line\x1b]0;x\x07");
    fflush(stderr);
    PL_ASSERT(dup2(saved, 2) == 2);
    close(saved);
    char buf[512] = "";
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
    fclose(tmp);
    buf[n] = '\0';
    PL_ASSERT(n > 0 && buf[n - 1] == '\n');
    PL_ASSERT(strchr(buf, '\n') == buf + n - 1); /* exactly one line */
    PL_ASSERT(strstr(buf, "user said hi?forged line?]0;x?") != NULL);
}
