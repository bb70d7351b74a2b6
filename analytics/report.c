/* SPDX-License-Identifier: MIT */
/* Parley - `parleyd analytics report`: the rollups as a terminal table. */
/* Copyright (c) 2026 Parley developers                                 */
#include "report.h"

#include "storage/analytics.h"

#include <stdbool.h>
#include <string.h>

const char *const analytics_metrics[] = {
    "messages",
    "messages_direct",
    "messages_group",
    "messages_media",
    "messages_e2e",
    "registrations",
    "dau",
    "wau",
    "mau",
    "stickiness",
    "media_uploads",
    "media_bytes",
    "peak_streams",
    "stream_opens",
    "stream_opens_h1",
    "stream_opens_h2c",
    "stream_opens_h2",
    "reconnects",
    "searches",
    "media_downloads",
    "active_groups",
    NULL,
};

bool analytics_metric_known(const char *name)
{
    const char *h, *d, *q;
    if (store_pg_analytics_quantile_metric(name, &h, &d, &q))
        return true;
    for (unsigned i = 0; analytics_metrics[i]; i++)
        if (strcmp(analytics_metrics[i], name) == 0)
            return true;
    return false;
}

/* Column labels, narrower than the metric names. */
static const char *const labels[] = {
    "messages", "direct", "group", "media", "e2e", "regs", "dau", "wau", "mau", "dau/mau", NULL,
};

#define REPORT_DAYS_MAX 3660
#define N_METRICS 10

int analytics_report(FILE *out, const struct analytics_config *cfg, const char *from,
                     const char *to)
{
    struct store_pg_config pc = {.conninfo = cfg->conninfo,
                                 .connect_timeout_s = cfg->connect_timeout_s};
    struct store_pg *pg;
    int rc = store_pg_new(&pc, &pg);
    if (rc < 0)
        return rc;
    struct pl_arena *a = pl_arena_new();
    struct store_analytics_point *col[N_METRICS] = {0};
    unsigned n[N_METRICS] = {0};
    rc = a ? 0 : PL_ENOMEM;
    for (unsigned m = 0; m < N_METRICS && rc == 0; m++)
        rc = store_pg_analytics_series(pg, a, analytics_metrics[m], from, to, "day",
                                       REPORT_DAYS_MAX, &col[m], &n[m]);
    for (unsigned m = 1; m < N_METRICS && rc == 0; m++)
        if (n[m] != n[0])
            rc = PL_EINTERNAL;
    if (rc == 0) {
        fprintf(out, "%-10s", "day");
        for (unsigned m = 0; labels[m]; m++)
            fprintf(out, " %9s", labels[m]);
        fputc('\n', out);
        int64_t total[N_METRICS] = {0};
        for (unsigned i = 0; i < n[0]; i++) {
            fprintf(out, "%-10.10s", col[0][i].t);
            for (unsigned m = 0; m < N_METRICS; m++) {
                const struct store_analytics_point *p = &col[m][i];
                if (p->is_real) /* stickiness, as a percentage */
                    fprintf(out, " %8.1f%%", 100.0 * p->real);
                else
                    fprintf(out, " %9lld", (long long)p->value);
                total[m] += p->value;
            }
            fputc('\n', out);
        }
        /* Distinct-user columns do not add up across days. */
        fprintf(out, "%-10s", "total");
        for (unsigned m = 0; m < N_METRICS; m++)
            if (m < 6)
                fprintf(out, " %9lld", (long long)total[m]);
            else
                fprintf(out, " %9s", "-");
        fputc('\n', out);
    }
    pl_arena_free(a);
    store_pg_free(pg);
    return rc;
}
