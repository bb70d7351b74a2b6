/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/push_note.c: what a Web Push says.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/api_int.h"

#include "pltest.h"

#include <stdlib.h>
#include <string.h>

#define PLAIN                                                                                      \
    "{\"conversation_id\":5,\"message\":{\"id\":9,\"conversation_id\":5,\"seq\":3,\"sender\":7,"   \
    "\"kind\":\"text\",\"text\":\"hi there\"}}"
#define E2E                                                                                        \
    "{\"e2e_for\":{\"12\":[\"prekey\",\"AAAA\"]},\"conversation_id\":5,\"message\":{\"id\":9,"     \
    "\"conversation_id\":5,\"seq\":4,\"sender\":7,\"kind\":\"e2e\",\"text\":null}}"

static struct api_json *payload(struct pl_arena *a, const struct api_push_note *n, const char *name,
                                unsigned count, const char **raw)
{
    size_t len;
    PL_ASSERT_INT_EQ(api_push_note_payload(a, n, name, count, raw, &len), 0);
    PL_ASSERT_INT_EQ(strlen(*raw), len);
    struct api_json *doc;
    struct api_json_error err;
    PL_ASSERT_INT_EQ(api_json_parse(a, *raw, len, &doc, &err), 0);
    return doc;
}

PLTEST(plain_text_is_carried)
{
    struct pl_arena *a = pl_arena_new();
    struct api_push_note n;
    PL_ASSERT_INT_EQ(api_push_note_parse(a, PLAIN, strlen(PLAIN), &n), 0);
    PL_ASSERT_INT_EQ(n.conversation_id, 5);
    PL_ASSERT_INT_EQ(n.seq, 3);
    PL_ASSERT_INT_EQ(n.sender_id, 7);
    PL_ASSERT(!n.e2e);
    PL_ASSERT_STR_EQ(n.text, "hi there");
    const char *raw;
    struct api_json *d = payload(a, &n, "Ann \"A\"", 2, &raw);
    PL_ASSERT_STR_EQ(api_json_get(d, "text")->str, "hi there");
    PL_ASSERT_STR_EQ(api_json_get(api_json_get(d, "sender"), "display_name")->str, "Ann \"A\"");
    int64_t count;
    PL_ASSERT(api_json_int(api_json_get(d, "count"), &count) && count == 2);
    pl_arena_free(a);
}

PLTEST(e2e_never_carries_text)
{
    struct pl_arena *a = pl_arena_new();
    struct api_push_note n;
    PL_ASSERT_INT_EQ(api_push_note_parse(a, E2E, strlen(E2E), &n), 0);
    PL_ASSERT(n.e2e);
    PL_ASSERT(n.text == NULL);
    /* Even a note that claims text is not shown when it is e2e. */
    n.text = "secret";
    const char *raw;
    struct api_json *d = payload(a, &n, "Ann", 1, &raw);
    PL_ASSERT(api_json_get(d, "text") == NULL);
    PL_ASSERT(strstr(raw, "secret") == NULL);
    PL_ASSERT(strstr(raw, "AAAA") == NULL);
    PL_ASSERT(api_json_get(d, "e2e")->b);
    /* The conversation and a count only: no sender, no seq. */
    PL_ASSERT(api_json_get(d, "sender") == NULL);
    PL_ASSERT(api_json_get(d, "seq") == NULL);
    PL_ASSERT(strstr(raw, "Ann") == NULL);
    pl_arena_free(a);
}

PLTEST(long_text_is_cut_on_a_character)
{
    struct pl_arena *a = pl_arena_new();
    char *text = pl_arena_alloc(a, 2001);
    for (int i = 0; i < 1000; i++)
        memcpy(text + 2 * i, "\xc3\xa9", 2); /* é */
    text[2000] = '\0';
    struct api_push_note n = {
        .conversation_id = 1, .seq = 1, .sender_id = 2, .kind = "text", .text = text};
    const char *raw;
    struct api_json *d = payload(a, &n, "B", 1, &raw);
    const struct api_json *t = api_json_get(d, "text");
    PL_ASSERT(t && t->len <= 512 && t->len % 2 == 0);
    PL_ASSERT(api_json_get(d, "truncated")->b);
    PL_ASSERT(strlen(raw) < 1024); /* far below one push (3993 bytes) */
    pl_arena_free(a);
}

PLTEST(other_payloads_are_refused)
{
    struct pl_arena *a = pl_arena_new();
    struct api_push_note n;
    const char *bad[] = {"",
                         "[]",
                         "{}",
                         "{\"message\":1}",
                         "{\"message\":{\"seq\":1}}",
                         "{\"message\":{\"conversation_id\":1,\"sender\":2,\"seq\":3}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        PL_ASSERT_INT_EQ(api_push_note_parse(a, bad[i], strlen(bad[i]), &n), PL_EINVAL);
    pl_arena_free(a);
}
