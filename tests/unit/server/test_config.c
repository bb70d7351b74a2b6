/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for server/config.c: precedence and validation.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "server/config.h"

#include "pltest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(int argc, char **argv, struct srv_config *cfg, enum srv_command *cmd)
{
    FILE *err = fopen("/dev/null", "w");
    int rc = srv_config_load(argc, argv, cfg, cmd, err);
    fclose(err);
    return rc;
}

PLTEST(defaults_apply)
{
    unsetenv("PARLEY_PORT");
    char *argv[] = {"parleyd", NULL};
    struct srv_config cfg;
    enum srv_command cmd;
    PL_ASSERT_INT_EQ(load(1, argv, &cfg, &cmd), 0);
    PL_ASSERT_INT_EQ(cmd, SRV_CMD_SERVE);
    PL_ASSERT_INT_EQ(cfg.port, 8080);
    PL_ASSERT_INT_EQ(cfg.tls_port, 8443);
    PL_ASSERT_STR_EQ(cfg.bind, "127.0.0.1");
    PL_ASSERT_INT_EQ(cfg.http.max_body, 1048576);
    PL_ASSERT(cfg.access_log);
    srv_config_deinit(&cfg);
}

PLTEST(flags_beat_env_beat_file)
{
    char path[] = "/tmp/parley-config-XXXXXX";
    int fd = mkstemp(path);
    PL_ASSERT(fd >= 0);
    const char text[] = "# comment\nport = 1111\nworkers = 7\nbind=10.0.0.1\naccess_log = off\n";
    PL_ASSERT_INT_EQ(write(fd, text, sizeof(text) - 1), (long long)sizeof(text) - 1);
    close(fd);
    setenv("PARLEY_PORT", "2222", 1);
    setenv("PARLEY_WORKERS", "3", 1);
    char *argv[] = {"parleyd", "--config", path, "--port=3333", "migrate", NULL};
    struct srv_config cfg;
    enum srv_command cmd;
    PL_ASSERT_INT_EQ(load(5, argv, &cfg, &cmd), 0);
    PL_ASSERT_INT_EQ(cmd, SRV_CMD_MIGRATE);
    PL_ASSERT_INT_EQ(cfg.port, 3333);       /* flag */
    PL_ASSERT_INT_EQ(cfg.workers, 3);       /* env over file */
    PL_ASSERT_STR_EQ(cfg.bind, "10.0.0.1"); /* file over default */
    PL_ASSERT(!cfg.access_log);
    srv_config_deinit(&cfg);
    unlink(path);
    unsetenv("PARLEY_PORT");
    unsetenv("PARLEY_WORKERS");
}

PLTEST(dash_and_underscore_spellings_and_separate_value)
{
    char *argv[] = {"parleyd", "--tls-port", "0", "--max_body=10", NULL};
    struct srv_config cfg;
    enum srv_command cmd;
    PL_ASSERT_INT_EQ(load(4, argv, &cfg, &cmd), 0);
    PL_ASSERT_INT_EQ(cfg.tls_port, 0);
    PL_ASSERT_INT_EQ(cfg.http.max_body, 10);
    srv_config_deinit(&cfg);
}

PLTEST(bad_values_are_refused)
{
    struct srv_config cfg;
    enum srv_command cmd;
    char *a1[] = {"parleyd", "--port=70000", NULL};
    PL_ASSERT_INT_EQ(load(2, a1, &cfg, &cmd), PL_EINVAL);
    char *a2[] = {"parleyd", "--workers=-1", NULL};
    PL_ASSERT_INT_EQ(load(2, a2, &cfg, &cmd), PL_EINVAL);
    char *a3[] = {"parleyd", "--workers=4x", NULL};
    PL_ASSERT_INT_EQ(load(2, a3, &cfg, &cmd), PL_EINVAL);
    char *a4[] = {"parleyd", "--no-such-thing=1", NULL};
    PL_ASSERT_INT_EQ(load(2, a4, &cfg, &cmd), PL_EINVAL);
    char *a5[] = {"parleyd", "--tls-cert=/x.pem", NULL};
    PL_ASSERT_INT_EQ(load(2, a5, &cfg, &cmd), PL_EINVAL); /* key missing */
    char *a6[] = {"parleyd", "--port", NULL};
    PL_ASSERT_INT_EQ(load(2, a6, &cfg, &cmd), PL_EINVAL);
    char *a7[] = {"parleyd", "--access-log=maybe", NULL};
    PL_ASSERT_INT_EQ(load(2, a7, &cfg, &cmd), PL_EINVAL);
    setenv("PARLEY_MAX_BODY", "0", 1);
    char *a8[] = {"parleyd", NULL};
    PL_ASSERT_INT_EQ(load(1, a8, &cfg, &cmd), PL_EINVAL);
    unsetenv("PARLEY_MAX_BODY");
}

PLTEST(missing_config_file_is_an_error)
{
    char *argv[] = {"parleyd", "--config=/nonexistent/parley.conf", NULL};
    struct srv_config cfg;
    enum srv_command cmd;
    PL_ASSERT_INT_EQ(load(2, argv, &cfg, &cmd), PL_EINVAL);
}
