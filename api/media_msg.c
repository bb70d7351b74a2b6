/* SPDX-License-Identifier: MIT */
/* Parley - messages of kind "media": checking, storing, showing.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/media.h"

#include <string.h>

/*
 * A media message carries {media_id, caption?, mime?, size?, width?,
 * height?, duration_ms?, thumbnail_media_id?, filename?}. Everything but the
 * ids is client-supplied metadata the server only bounds (clients make
 * thumbnails; in E2E conversations the server could not anyway). The
 * checked object is stored, re-serialized in a fixed member order, as the
 * message body; a trigger on messages (migration 0003) reads the ids from
 * it to record who may download the media.
 */

#define CAPTION_MAX_CHARS 4096
#define FILENAME_MAX_CHARS 255
#define DIMENSION_MAX 100000
#define DURATION_MAX_MS (7LL * 24 * 3600 * 1000)

struct media_meta {
    int64_t media_id, size, width, height, duration_ms, thumbnail_media_id;
    const char *caption, *mime, *filename;
};

/* Prefixes the pointers of errors from errs[from..] with "/media". */
static void prefix_errors(struct api_call *c, unsigned from)
{
    for (unsigned i = from; i < c->errs.n; i++) {
        const char *p = pl_arena_sprintf(c->a, "/media%s", c->errs.e[i].pointer);
        if (p)
            c->errs.e[i].pointer = p;
    }
}

static void check_range(struct api_call *c, int64_t v, int64_t min, int64_t max, const char *ptr,
                        const char *detail)
{
    if (v != -1 && (v < min || v > max))
        api_errors_add(&c->errs, ptr, detail);
}

static void check_meta(struct api_call *c, const struct media_meta *m)
{
    if (m->media_id != -1 && m->media_id < 1)
        api_errors_add(&c->errs, "/media/media_id", "must be a media id");
    check_range(c, m->thumbnail_media_id, 1, INT64_MAX, "/media/thumbnail_media_id",
                "must be a media id");
    check_range(c, m->size, 0, INT64_MAX, "/media/size", "must be >= 0");
    check_range(c, m->width, 1, DIMENSION_MAX, "/media/width", "must be 1 to 100000");
    check_range(c, m->height, 1, DIMENSION_MAX, "/media/height", "must be 1 to 100000");
    check_range(c, m->duration_ms, 0, DURATION_MAX_MS, "/media/duration_ms",
                "must be 0 to 604800000");
    if (m->caption && !api__valid_display_text(m->caption, CAPTION_MAX_CHARS))
        api_errors_add(&c->errs, "/media/caption",
                       "must be 1 to 4096 characters without control characters");
    if (m->mime && !api__valid_content_type(m->mime))
        api_errors_add(&c->errs, "/media/mime", "must be a media type such as image/png");
    if (m->filename && !api__valid_display_text(m->filename, FILENAME_MAX_CHARS))
        api_errors_add(&c->errs, "/media/filename",
                       "must be 1 to 255 characters without control characters");
}

static void gen_opt_int(yajl_gen g, const char *key, int64_t v)
{
    if (v != -1)
        api__gen_int(g, key, v);
}

static void gen_opt_str(yajl_gen g, const char *key, const char *v)
{
    if (v)
        api__gen_str(g, key, v);
}

int api__media_msg_read(struct api_call *c, const struct api_json *media, struct store_send *s)
{
    if (!media || media->type != API_JSON_OBJECT) {
        api_errors_add(&c->errs, "/media", "is required for kind \"media\" and must be an object");
        return 0;
    }
    struct media_meta m = {-1, -1, -1, -1, -1, -1, NULL, NULL, NULL};
    const struct api_field fields[] = {
        {"media_id", API_FIELD_INT, true, &m.media_id},
        {"caption", API_FIELD_STRING, false, &m.caption},
        {"mime", API_FIELD_STRING, false, &m.mime},
        {"size", API_FIELD_INT, false, &m.size},
        {"width", API_FIELD_INT, false, &m.width},
        {"height", API_FIELD_INT, false, &m.height},
        {"duration_ms", API_FIELD_INT, false, &m.duration_ms},
        {"thumbnail_media_id", API_FIELD_INT, false, &m.thumbnail_media_id},
        {"filename", API_FIELD_STRING, false, &m.filename},
    };
    unsigned before = c->errs.n;
    int rc = api_json_bind(c->a, media, fields, PL_ARRAY_LEN(fields), &c->errs);
    if (rc < 0)
        return rc;
    prefix_errors(c, before);
    check_meta(c, &m);
    if (c->errs.n)
        return 0;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "media_id", m.media_id);
    gen_opt_str(g, "caption", m.caption);
    gen_opt_str(g, "mime", m.mime);
    gen_opt_int(g, "size", m.size);
    gen_opt_int(g, "width", m.width);
    gen_opt_int(g, "height", m.height);
    gen_opt_int(g, "duration_ms", m.duration_ms);
    gen_opt_int(g, "thumbnail_media_id", m.thumbnail_media_id);
    gen_opt_str(g, "filename", m.filename);
    yajl_gen_map_close(g);
    s->body = api__gen_take(c, g);
    s->kind = "media";
    return s->body ? 0 : PL_ENOMEM;
}

int api__media_msg_check(struct api_call *c, const struct store_send *s)
{
    struct api_json *doc;
    struct api_json_error err;
    int64_t ids[2];
    unsigned n = 0;
    int rc = api_json_parse(c->a, s->body, strlen(s->body), &doc, &err);
    if (rc < 0)
        return rc == PL_ENOMEM ? rc : PL_EINTERNAL;
    if (api_json_int(api_json_get(doc, "media_id"), &ids[n]))
        n++;
    if (api_json_int(api_json_get(doc, "thumbnail_media_id"), &ids[n]) &&
        (n == 0 || ids[1] != ids[0]))
        n++;
    unsigned ok = 0;
    if ((rc = store_pg_media_count_sendable(c->w->pg, ids, n, c->user_id, &ok)) < 0)
        return rc;
    if (ok < n && (rc = api__media_confirm(c, ids, n)) > 0)
        rc = store_pg_media_count_sendable(c->w->pg, ids, n, c->user_id, &ok);
    if (rc < 0)
        return rc;
    if (ok == n)
        return 0;
    return api__fail_field(c, "/media/media_id",
                           "media_id and thumbnail_media_id must name completed uploads of yours");
}

/* Writes a parsed JSON value back out. */
static void gen_value(yajl_gen g, const struct api_json *v)
{
    switch (v->type) {
    case API_JSON_NULL: yajl_gen_null(g); break;
    case API_JSON_BOOL: yajl_gen_bool(g, v->b); break;
    case API_JSON_NUMBER: yajl_gen_number(g, v->str, v->len); break;
    case API_JSON_STRING: yajl_gen_string(g, (const unsigned char *)v->str, v->len); break;
    case API_JSON_ARRAY:
        yajl_gen_array_open(g);
        for (const struct api_json *e = v->first; e; e = e->next)
            gen_value(g, e);
        yajl_gen_array_close(g);
        break;
    case API_JSON_OBJECT:
        yajl_gen_map_open(g);
        for (const struct api_json *e = v->first; e; e = e->next) {
            api__gen_key(g, e->key);
            gen_value(g, e);
        }
        yajl_gen_map_close(g);
        break;
    }
}

void api__gen_media_body(yajl_gen g, const char *body)
{
    struct pl_arena *a = pl_arena_new();
    struct api_json *doc = NULL;
    struct api_json_error err;
    api__gen_key(g, "media");
    if (a && api_json_parse(a, body, strlen(body), &doc, &err) == 0)
        gen_value(g, doc);
    else
        yajl_gen_null(g);
    pl_arena_free(a);
}
