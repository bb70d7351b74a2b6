/* SPDX-License-Identifier: MIT */
/* Parley - `parleyd admin` and `parleyd analytics` commands.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "analytics_cmd.h"

#include "analytics/report.h"
#include "storage/analytics.h"

#include <stdio.h>
#include <string.h>

void srv_analytics_config(const struct srv_config *cfg, struct analytics_config *out)
{
    *out = (struct analytics_config){
        .conninfo = cfg->pg,
        .connect_timeout_s = cfg->pg_connect_timeout_s,
        /* analytics off: no timer in the server (analytics_timer_new);
         * `parleyd analytics run` aggregates regardless. */
        .interval_ms = cfg->analytics ? cfg->analytics_interval_ms : 0,
        .batch = cfg->analytics_batch,
        .retention_days = cfg->analytics_retention_days,
        .node = NULL, /* set by the server: its node id */
        .crash_at = cfg->analytics_crash_at,
    };
}

int srv_admin_cmd(const struct srv_config *cfg)
{
    const char *verb = cfg->n_cmd_words > 0 ? cfg->cmd_words[0] : "";
    bool grant = strcmp(verb, "grant") == 0;
    if ((!grant && strcmp(verb, "revoke") != 0) || cfg->n_cmd_words != 2) {
        fprintf(stderr, "usage: parleyd admin grant|revoke USER\n");
        return PL_EINVAL;
    }
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_pg *pg;
    int rc = store_pg_new(&pc, &pg);
    if (rc == 0)
        rc = store_pg_analytics_admin_set(pg, cfg->cmd_words[1], grant);
    store_pg_free(pg);
    if (rc == PL_ENOTFOUND)
        fprintf(stderr, "parleyd: no user named '%s'\n", cfg->cmd_words[1]);
    else if (rc < 0)
        fprintf(stderr, "parleyd: admin %s failed: %s\n", verb, pl_strerror(rc));
    else
        printf("%s is %s an admin\n", cfg->cmd_words[1], grant ? "now" : "no longer");
    return rc;
}

/* `parleyd analytics rebuild [--from DATE]` */
static int rebuild(const struct srv_config *cfg)
{
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_pg *pg;
    int rc = store_pg_new(&pc, &pg);
    if (rc < 0)
        return rc;
    struct store_analytics_rebuild rb;
    rc = store_pg_analytics_rebuild(pg, cfg->cmd_from, cfg->analytics_retention_days, &rb);
    store_pg_free(pg);
    if (rc == 0)
        printf("rebuilt from %s up to position %llu: %lld rollup rows deleted, %lld written,"
               " %u partitions created\n",
               rb.from, (unsigned long long)rb.checkpoint, (long long)rb.deleted,
               (long long)rb.written, rb.partitions);
    return rc;
}

int srv_analytics_cmd(const struct srv_config *cfg)
{
    struct analytics_config ac;
    srv_analytics_config(cfg, &ac);
    const char *verb = cfg->n_cmd_words == 1 ? cfg->cmd_words[0] : "";
    int rc;
    if (strcmp(verb, "run") == 0) {
        struct analytics_pass p;
        rc = analytics_aggregate(&ac, &p);
        if (rc == 0)
            printf("aggregated %llu positions in %u transactions; checkpoint %llu%s\n",
                   (unsigned long long)p.consumed, p.steps, (unsigned long long)p.checkpoint,
                   p.busy ? " (another node holds the lock)" : "");
    } else if (strcmp(verb, "rebuild") == 0 && !cfg->cmd_to) {
        rc = rebuild(cfg);
    } else if (strcmp(verb, "report") == 0 && cfg->cmd_from && cfg->cmd_to) {
        rc = analytics_report(stdout, &ac, cfg->cmd_from, cfg->cmd_to);
    } else {
        fprintf(stderr, "usage: parleyd analytics run\n"
                        "       parleyd analytics rebuild [--from DATE]\n"
                        "       parleyd analytics report --from DATE --to DATE\n");
        return PL_EINVAL;
    }
    if (rc < 0)
        fprintf(stderr, "parleyd: analytics %s failed: %s\n", verb, pl_strerror(rc));
    return rc;
}
