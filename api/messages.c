/* SPDX-License-Identifier: MIT */
/* Parley - messages and receipts.                                      */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

static const char *const status_names[] = {"sent", "delivered", "read"};

void api__gen_message(yajl_gen g, const struct store_message *m)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", m->id);
    api__gen_int(g, "conversation_id", m->conversation_id);
    api__gen_int(g, "seq", m->seq);
    api__gen_int(g, "sender", m->sender_id);
    api__gen_int(g, "sender_device_id", m->sender_device_id);
    api__gen_str(g, "client_msg_id", m->client_msg_id);
    api__gen_str(g, "kind", m->kind);
    api__gen_str(g, "text", m->body);
    api__gen_key(g, "reply_to");
    if (m->reply_to)
        yajl_gen_integer(g, m->reply_to);
    else
        yajl_gen_null(g);
    api__gen_str(g, "created_at", m->created_at);
    api__gen_str(g, "status", status_names[m->status]);
    yajl_gen_map_close(g);
}

const struct api_route_def api__message_routes[] = {
    {NULL, NULL, NULL, 0},
};
