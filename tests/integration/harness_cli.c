/* SPDX-License-Identifier: MIT */
/* Parley - integration: running the parley CLI from a test.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct pt_cli pt_cli;

void pt_cli_setup(struct pt_server *s, enum pt_proto p, const char *tag)
{
    if (!getenv("PARLEY_TEST_CLI"))
        PL_SKIP("PARLEY_TEST_CLI is not set");
    pt_cli.tmpdir = pt_temp_dir(tag);
    if (p == PT_H2) {
        snprintf(pt_cli.server_url, sizeof(pt_cli.server_url), "https://127.0.0.1:%u",
                 pt_server_tls_port(s));
        setenv("PARLEY_CA_FILE", getenv("PARLEY_TEST_TLS_CERT"), 1);
    } else {
        snprintf(pt_cli.server_url, sizeof(pt_cli.server_url), "http://127.0.0.1:%u",
                 pt_server_port(s));
    }
    pt_cli.http11 = p == PT_H1;
    pt_cli.h2c = p == PT_H2C;
    setenv("PARLEY_VAULT_COST", "low", 1);
}

char *pt_slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    return buf;
}

struct pt_cli_out pt_cli_run(const char *home, int with_server, const char *const *args)
{
    const char *argv[40];
    int n = 0, fds[2];
    char errpath[600], nohome[600];
    argv[n++] = getenv("PARLEY_TEST_CLI");
    if (with_server) {
        argv[n++] = "--server";
        argv[n++] = pt_cli.server_url;
        if (pt_cli.http11)
            argv[n++] = "--http1.1";
        if (pt_cli.h2c)
            argv[n++] = "--http2-prior-knowledge";
    }
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(errpath, sizeof(errpath), "%s/stderr", pt_cli.tmpdir);
    snprintf(nohome, sizeof(nohome), "%s/never-created", pt_cli.tmpdir);
    PL_ASSERT_INT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (!freopen(errpath, "w", stderr))
            _exit(126);
        unsetenv("PARLEY_SERVER");
        setenv("PARLEY_HOME", home ? home : nohome, 1);
        if (home) {
            setenv("PARLEY_PASSWORD", "daily password 1", 1);
            setenv("PARLEY_PASSPHRASE", "daily store passphrase", 1);
        } else {
            unsetenv("PARLEY_PASSWORD");
            unsetenv("PARLEY_PASSPHRASE");
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    struct pt_cli_out o = {0};
    o.out = pt_slurp_fd(fds[0]);
    close(fds[0]);
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *f = fopen(errpath, "r");
    PL_ASSERT(f != NULL);
    o.err = pt_slurp_fd(fileno(f));
    fclose(f);
    return o;
}

void pt_cli_out_free(struct pt_cli_out *o)
{
    free(o->out);
    free(o->err);
}
