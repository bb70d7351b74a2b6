/* SPDX-License-Identifier: MIT */
/* Parley - integration: e2e messages.                                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

PLTEST_PROTO(placeholder)
{
}
