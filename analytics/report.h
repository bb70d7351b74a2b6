/* SPDX-License-Identifier: MIT */
/* Parley - `parleyd analytics report`: the rollups as a terminal table. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_ANALYTICS_REPORT_H
#define PL_ANALYTICS_REPORT_H

#include "aggregator.h"

#include <stdbool.h>
#include <stdio.h>

/* The metrics every report and the admin API know, NULL-terminated. */
extern const char *const analytics_metrics[];

/* Whether name is one of analytics_metrics or a latency quantile
 * ((delivery|read)_p(50|95|99)_ms[_direct|_group]). */
bool analytics_metric_known(const char *name);

/*
 * Prints one row per UTC day of [from, to) (RFC 3339 or YYYY-MM-DD) and
 * one column per metric to out, after running nothing but reads on a
 * connection of its own (cfg->conninfo). Returns 0, PL_EINVAL for a bad
 * range, or a code.
 */
PL_MUST_CHECK int analytics_report(FILE *out, const struct analytics_config *cfg, const char *from,
                                   const char *to);

#endif
