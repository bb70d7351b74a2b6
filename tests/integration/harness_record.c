/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: records for the OpenAPI check.         */
/* Copyright (c) 2026 Parley developers                                 */

/* Every response pt_req() gets and every event an SSE stream parses can be
 * appended as one JSON line to <PARLEY_TEST_RECORD_DIR>/<test>-<pid>.jsonl,
 * the input of tests/openapi/validate.mjs (which documents the format). */
#include "harness_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *record_dir(void)
{
    const char *v = getenv("PARLEY_TEST_RECORD_DIR");
    return v && *v ? v : NULL;
}

/* Appends s as a JSON string. Bytes that are not valid UTF-8 become
 * U+FFFD so one odd body cannot break the whole record file. */
static void json_put_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else if (c < 0x80) {
            fputc(c, f);
        } else {
            size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int ok = len && i + len <= n;
            for (size_t k = 1; ok && k < len; k++)
                ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
            if (ok) {
                fwrite(s + i, 1, len, f);
                i += len;
                continue;
            }
            fputs("\\ufffd", f);
        }
        i++;
    }
    fputc('"', f);
}

/* Appends one finished JSON line to this process's record file. */
static void record_line(char *line, size_t len)
{
    const char *dir = record_dir();
    char file[512];
    snprintf(file, sizeof(file), "%s/%s-%d.jsonl", dir, program_invocation_short_name,
             (int)getpid());
    /* One write per line with O_APPEND keeps lines whole, also when sender
     * threads record at the same time. */
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, len) != (ssize_t)len)
        pltest_fail(__FILE__, __LINE__, "recording to %s: %s", file, strerror(errno));
    close(fd);
    free(line);
}

void pt__record_response(const char *method, const char *path, long status, const char *ctype,
                         const char *body, size_t len)
{
    if (!record_dir())
        return;
    char *line = NULL;
    size_t llen = 0;
    FILE *f = open_memstream(&line, &llen);
    PL_ASSERT(f);
    size_t plen = strcspn(path, "?");
    fputs("{\"method\":", f);
    json_put_str(f, method, strlen(method));
    fputs(",\"path\":", f);
    json_put_str(f, path, plen);
    fprintf(f, ",\"status\":%ld,\"content_type\":", status);
    if (ctype)
        json_put_str(f, ctype, strlen(ctype));
    else
        fputs("null", f);
    fputs(",\"body\":", f);
    json_put_str(f, body ? body : "", body ? len : 0);
    fputs("}\n", f);
    fclose(f);
    record_line(line, llen);
}

void pt__record_sse(const char *path, const char *event, const char *data, const char *id)
{
    if (!record_dir())
        return;
    char *line = NULL;
    size_t llen = 0;
    FILE *f = open_memstream(&line, &llen);
    PL_ASSERT(f);
    fputs("{\"sse\":true,\"path\":", f);
    json_put_str(f, path, strcspn(path, "?"));
    fputs(",\"event\":", f);
    json_put_str(f, event, strlen(event));
    fputs(",\"data\":", f);
    json_put_str(f, data, strlen(data));
    fputs(",\"id\":", f);
    if (id)
        json_put_str(f, id, strlen(id));
    else
        fputs("null", f);
    fputs("}\n", f);
    fclose(f);
    record_line(line, llen);
}
