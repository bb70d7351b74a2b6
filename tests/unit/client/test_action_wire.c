/* SPDX-License-Identifier: MIT */
/* Parley - client/action_wire.c against crypto/testvectors/actions.json. */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "client/cli.h"

#include <yajl/yajl_tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef E2E_VECTOR_DIR
#error "meson defines E2E_VECTOR_DIR"
#endif

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    PL_ASSERT(f != NULL);
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0)
        if ((len += r) + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    buf[len] = 0;
    fclose(f);
    return buf;
}

static const char *field(yajl_val v, const char *a, const char *b)
{
    const char *path[] = {a, b, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);
    PL_ASSERT(x != NULL);
    return YAJL_GET_STRING(x);
}

/* Every vector: the effect the CLI applies equals the committed one (the
 * web client's runner checks web/src/e2e/action.js against the same). */
PLTEST(action_vectors)
{
    char *text = slurp(E2E_VECTOR_DIR "/actions.json"), err[256];
    yajl_val doc = yajl_tree_parse(text, err, sizeof(err));
    PL_ASSERT(doc != NULL);
    const char *vp[] = {"vectors", NULL};
    yajl_val vs = yajl_tree_get(doc, vp, yajl_t_array);
    PL_ASSERT(vs != NULL && vs->u.array.len >= 10);
    for (size_t i = 0; i < vs->u.array.len; i++) {
        yajl_val v = vs->u.array.values[i];
        const char *np[] = {"name", NULL};
        char *got = cli_action_effect(
            atoll(field(v, "inputs", "refers_to_text")), field(v, "inputs", "action_text"),
            field(v, "inputs", "payload_text"), atoll(field(v, "inputs", "sender_text")),
            atoll(field(v, "inputs", "target_sender_text")));
        const char *want = field(v, "outputs", "effect_text");
        if (strcmp(got, want) != 0)
            pltest_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"",
                        YAJL_GET_STRING(yajl_tree_get(v, np, yajl_t_string)), got, want);
        free(got);
    }
    yajl_tree_free(doc);
    free(text);
}

/* What the CLI sends parses back to the same effect. */
PLTEST(action_payload_round_trip)
{
    char *p = cli_action_payload('E', 5, "new \"text\"\n");
    char *e = cli_action_effect(5, "edit", p, 1, 1);
    PL_ASSERT_STR_EQ(e, "edit 5 new \"text\"\n");
    free(p);
    free(e);
    p = cli_action_payload('R', 2, NULL);
    e = cli_action_effect(2, "reaction", p, 1, 9);
    PL_ASSERT_STR_EQ(e, "reaction 2 ");
    free(p);
    free(e);
    PL_ASSERT(!cli_emoji_ok(""));
    PL_ASSERT(!cli_emoji_ok("\xF0\x9F"));  /* truncated */
    PL_ASSERT(!cli_emoji_ok("a\xCC\x81")); /* a letter with a combining mark */
    PL_ASSERT(cli_emoji_ok("\xE2\x9D\xA4\xEF\xB8\x8F"));
}
