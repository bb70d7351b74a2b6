/* SPDX-License-Identifier: MIT */
/* Parley - the access log: one line per request.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "metrics.h"

#include "common/log.h"

PL_LOG_TOPIC("access");

void srv_access_log(const struct http_req *req, bool sent, uint64_t us)
{
    if (!pl_log_enabled(&pl__log_topic, PL_LOG_INFO))
        return;
    /* The path, never the query: a query may carry an access token. The
     * path is percent-decoded, so "%0A" or "%1B[" would reach the log as a
     * line break or a terminal escape: method and path are escaped (\xNN),
     * which also keeps their spaces from shifting the fields. */
    char method[48], path[1024];
    pl_log_escape(method, sizeof(method), http_req_method(req) ? http_req_method(req) : "-");
    pl_log_escape(path, sizeof(path), http_req_path(req) ? http_req_path(req) : "-");
    pl_log_info("req %llu %s %s %d %zuB %.3fms %s %s%s", (unsigned long long)http_req_id(req),
                method, path, http_resp_status(req), http_resp_bytes_sent(req), (double)us / 1000.0,
                http_req_proto_name(req), http_req_peer(req), sent ? "" : " (client gone)");
}
