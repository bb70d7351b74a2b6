/* SPDX-License-Identifier: MIT */
/* Parley - the web client's files, read into memory at startup.       */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_WEBAPP_H
#define PL_SRV_WEBAPP_H

#include "api/api.h"

/*
 * Startup only (it reads the disk): loads web_dir/index.html and every file
 * of web_dir/assets/ whose name is a plain file name ([A-Za-z0-9._-], no
 * leading dot), each with its ".br" twin when there is one, into *out.
 * Files are capped at 16 MiB each and 64 MiB in all.
 * Returns 1 when the client was loaded, 0 when web_dir has no index.html
 * (the build did not make the web client: parleyd serves a 503 at / and
 * everything else as usual), or a negative code after logging why (a
 * directory that exists but cannot be read). Free with srv_web_deinit().
 */
PL_MUST_CHECK int srv_web_init(const char *web_dir, struct api_web *out);
void srv_web_deinit(struct api_web *web);

#endif
