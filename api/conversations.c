/* SPDX-License-Identifier: MIT */
/* Parley - routes for conversations, members.                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

const struct api_route_def api__conversation_routes[] = {
    {NULL, NULL, NULL, 0},
};
