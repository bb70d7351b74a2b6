/* SPDX-License-Identifier: MIT */
#include "tests/pltest.h"
