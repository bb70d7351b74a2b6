/* SPDX-License-Identifier: MIT */
/* Parley - what a Web Push notification says about a new message.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <string.h>

/* Text longer than this is cut (at a character boundary) in a push: the
 * whole encrypted message must stay under 4096 bytes (RFC 8291), and a
 * notification shows a line or two anyway. */
#define NOTE_TEXT_MAX 512

int api_push_note_parse(struct pl_arena *a, const char *json, size_t len, struct api_push_note *n)
{
    struct api_json *doc;
    struct api_json_error err;
    int rc = api_json_parse(a, json, len, &doc, &err);
    if (rc < 0)
        return rc == PL_ENOMEM ? rc : PL_EINVAL;
    const struct api_json *m = doc->type == API_JSON_OBJECT ? api_json_get(doc, "message") : NULL;
    if (!m || m->type != API_JSON_OBJECT)
        return PL_EINVAL;
    const struct api_json *kind = api_json_get(m, "kind"), *text = api_json_get(m, "text");
    *n = (struct api_push_note){0};
    if (!api_json_int(api_json_get(m, "conversation_id"), &n->conversation_id) ||
        !api_json_int(api_json_get(m, "sender"), &n->sender_id) ||
        !api_json_int(api_json_get(m, "seq"), &n->seq) || !kind || kind->type != API_JSON_STRING)
        return PL_EINVAL;
    n->kind = kind->str;
    /* An e2e message's text is null in the payload anyway; the kind is
     * checked too, so nothing an e2e chat carries can reach a push. */
    n->e2e = strcmp(kind->str, "e2e") == 0 || api_json_get(doc, "e2e_for") != NULL;
    if (!n->e2e && strcmp(kind->str, "text") == 0 && text && text->type == API_JSON_STRING)
        n->text = text->str;
    return 0;
}

/* The length of at most max bytes of s that ends on a UTF-8 character
 * boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

int api_push_note_payload(struct pl_arena *a, const struct api_push_note *n,
                          const char *sender_name, unsigned count, const char **out, size_t *len)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_str(g, "type", "message");
    api__gen_int(g, "conversation_id", n->conversation_id);
    /* An e2e chat's push names the conversation and a count only (issue
     * 12): not even who wrote or which message. */
    if (!n->e2e) {
        api__gen_int(g, "seq", n->seq);
        api__gen_key(g, "sender");
        yajl_gen_map_open(g);
        api__gen_int(g, "id", n->sender_id);
        api__gen_key(g, "display_name");
        yajl_gen_string(g, (const unsigned char *)sender_name, utf8_cut(sender_name, 128));
        yajl_gen_map_close(g);
    }
    api__gen_int(g, "count", count);
    api__gen_key(g, "e2e");
    yajl_gen_bool(g, n->e2e);
    if (n->text && !n->e2e) {
        size_t cut = utf8_cut(n->text, NOTE_TEXT_MAX);
        api__gen_key(g, "text");
        yajl_gen_string(g, (const unsigned char *)n->text, cut);
        if (cut < strlen(n->text)) {
            api__gen_key(g, "truncated");
            yajl_gen_bool(g, 1);
        }
    }
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t blen;
    yajl_gen_get_buf(g, &buf, &blen);
    *out = pl_arena_strndup(a, (const char *)buf, blen);
    *len = blen;
    yajl_gen_free(g);
    return *out ? 0 : PL_ENOMEM;
}
