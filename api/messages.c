/* SPDX-License-Identifier: MIT */
/* Parley - routes for messages, receipts.                      */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

const struct api_route_def api__message_routes[] = {
    {NULL, NULL, NULL, 0},
};
