/* SPDX-License-Identifier: MIT */
/* Parley - routes for the event stream, sync, presence, typing.*/
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

const struct api_route_def api__stream_routes[] = {
    {NULL, NULL, NULL, 0},
};
