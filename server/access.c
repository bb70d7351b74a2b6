/* SPDX-License-Identifier: MIT */
/* Parley - the access log: one line per request.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "metrics.h"

#include "common/log.h"

PL_LOG_TOPIC("access");

void srv_access_log(const struct http_req *req, bool sent, uint64_t us)
{
    /* The path, never the query: a query may carry an access token. */
    pl_log_info("req %llu %s %s %d %zuB %.3fms %s %s%s", (unsigned long long)http_req_id(req),
                http_req_method(req), http_req_path(req), http_resp_status(req),
                http_resp_bytes_sent(req), (double)us / 1000.0, http_req_proto_name(req),
                http_req_peer(req), sent ? "" : " (client gone)");
}
