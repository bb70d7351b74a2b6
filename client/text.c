/* SPDX-License-Identifier: MIT */
/* Parley - the CLI's terminal output: received text made inert.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Everything the CLI prints that another user chose (message texts, file
 * names, group titles, user names, server snippets) goes through
 * cli_safe() first. A raw ESC would let a sender run ANSI/OSC sequences in
 * the reader's terminal (move the cursor, rewrite the screen, set the
 * window title, OSC 52 clipboard writes on some terminals); a raw \r or \n
 * would let it fake whole lines such as "[1] 2: ..." or a safety-number
 * notice. We escape:
 *   - C0 controls and DEL: \n \r \t, else \xHH;
 *   - C1 controls (U+0080..U+009F, which some terminals obey as CSI/OSC);
 *   - bidirectional overrides and isolates (U+202A..U+202E,
 *     U+2066..U+2069), which reorder what is shown ("Trojan Source");
 * as \u{HHHH}. --json output needs none of this: yajl escapes control
 * characters in JSON strings.
 */

char *cli_safe(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 4 + 1), *w = out; /* the longest form: 1 byte -> \xHH */
    if (!out)
        cli_die("out of memory");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f) {
            if (c == '\n' || c == '\r' || c == '\t') {
                *w++ = '\\';
                *w++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            } else {
                w += sprintf(w, "\\x%02x", c);
            }
            p++;
            continue;
        }
        /* C2 80..C2 9F: U+0080..U+009F (2 bytes -> 8: "\u{0085}"). */
        if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            w += sprintf(w, "\\u{%04x}", (unsigned)p[1]);
            p += 2;
            continue;
        }
        /* E2 80 AA..AE: U+202A..U+202E; E2 81 A6..A9: U+2066..U+2069 (3
         * bytes -> 8). */
        if (c == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                          (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
            unsigned cp = 0x2000u | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            w += sprintf(w, "\\u{%04x}", cp);
            p += 3;
            continue;
        }
        *w++ = (char)*p++;
    }
    *w = 0;
    return out;
}
