/* SPDX-License-Identifier: MIT */
/* Parley - placeholder.                                                */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

PLTEST(todo)
{
    PL_SKIP("not written yet");
}
