/* SPDX-License-Identifier: MIT */
/* Parley - integration: running the parley CLI from a test.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_HARNESS_CLI_H
#define PT_HARNESS_CLI_H

#include "harness.h"

#include <string.h>

/* Where pt_cli_run() points the CLI: set by pt_cli_setup() for each case;
 * a case may change server_url and the transport flags for a while. */
struct pt_cli {
    const char *tmpdir; /* the case's temporary directory (homes go under it) */
    char server_url[128];
    int http11, h2c; /* pass --http1.1 / --http2-prior-knowledge */
};
extern struct pt_cli pt_cli;

/* What one run of the CLI printed. */
struct pt_cli_out {
    int rc;
    char *out, *err; /* stdout and stderr, malloc'd */
};

/* Skips the case unless PARLEY_TEST_CLI is set; a temporary directory named
 * after tag, the server's URL for protocol p, a cheap vault cost. */
void pt_cli_setup(struct pt_server *s, enum pt_proto p, const char *tag);
/* Everything fd gives until EOF, NUL-terminated; free() it. */
char *pt_slurp_fd(int fd);
/* Runs parley with args (NULL-terminated) as the user whose home is home
 * (NULL: a home that must never be created, no password); with_server:
 * pass --server and the transport flags first. */
struct pt_cli_out pt_cli_run(const char *home, int with_server, const char *const *args);
void pt_cli_out_free(struct pt_cli_out *o);

#define RUN(home, ...) pt_cli_run((home), 1, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_ALONE(...) pt_cli_run(NULL, 0, (const char *const[]){__VA_ARGS__, NULL})

/* Fails the case unless o exited with want; shows both outputs. */
#define EXPECT_RC(o, want)                                                                         \
    do {                                                                                           \
        if ((o).rc != (want))                                                                      \
            pltest_fail(__FILE__, __LINE__, "parley exited %d, not %d; out: %.800s err: %.800s",   \
                        (o).rc, (want), (o).out, (o).err);                                         \
    } while (0)
#define EXPECT_IN(hay, needle)                                                                     \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            pltest_fail(__FILE__, __LINE__, "\"%s\" not in: %.1200s", (needle), (hay));            \
    } while (0)
#define EXPECT_NOT_IN(hay, needle)                                                                 \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            pltest_fail(__FILE__, __LINE__, "\"%s\" unexpectedly in: %.1200s", (needle), (hay));   \
    } while (0)

#endif
