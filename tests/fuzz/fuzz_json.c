/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: the JSON parser and the binding of members (api/json.c). */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"

#include "api/json.h"
#include "common/arena.h"

#include <stdbool.h>

/* Binds the document like a handler would: a mix of field types, one of
 * them required, so unknown, missing and mistyped members all occur. */
static void bind_all(struct pl_arena *a, const struct api_json *root)
{
    const char *s = NULL;
    int64_t i = 0;
    bool b = false;
    const struct api_json *any = NULL;
    struct api_field f[] = {
        {"text", API_FIELD_STRING, true, &s},    {"client_msg_id", API_FIELD_STRING, false, &s},
        {"up_to_seq", API_FIELD_INT, false, &i}, {"admin", API_FIELD_BOOL, false, &b},
        {"members", API_FIELD_ANY, false, &any},
    };
    struct api_errors errs = {0};
    if (api_json_bind(a, root, f, sizeof(f) / sizeof(f[0]), &errs) < 0)
        return;
    /* Walk what came back, as handlers do with arrays of ids. */
    if (any && any->type == API_JSON_ARRAY)
        for (const struct api_json *m = any->first; m; m = m->next)
            (void)api_json_int(m, &i);
    if (s)
        (void)api_utf8_len(s, strlen(s));
    (void)api_json_get(root, "text");
    (void)api_json_pointer(a, s ? s : "a~b/c");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return 0;
    struct api_json *root = NULL;
    struct api_json_error err;
    if (api_json_parse(a, (const char *)data, size, &root, &err) == 0 && root &&
        root->type == API_JSON_OBJECT)
        bind_all(a, root);
    (void)api_utf8_valid((const char *)data, size);
    pl_arena_free(a);
    return 0;
}
