/* SPDX-License-Identifier: MIT */
/* Parley - `parleyd admin` and `parleyd analytics` commands.           */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_ANALYTICS_CMD_H
#define PL_SRV_ANALYTICS_CMD_H

#include "config.h"

#include "analytics/aggregator.h"

/* The aggregator's settings from cfg (strings borrowed from cfg). */
void srv_analytics_config(const struct srv_config *cfg, struct analytics_config *out);

/* `parleyd admin grant|revoke USER`: prints what it did. Returns 0, or a
 * negative code after printing why to stderr. */
PL_MUST_CHECK int srv_admin_cmd(const struct srv_config *cfg);

/* `parleyd analytics run` (one aggregation pass) and `parleyd analytics
 * report --from DATE --to DATE` (a table on stdout). */
PL_MUST_CHECK int srv_analytics_cmd(const struct srv_config *cfg);

#endif
