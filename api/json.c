/* SPDX-License-Identifier: MIT */
/* Parley - bounded JSON parsing into the request arena, field binding. */
/* Copyright (c) 2026 Parley developers                                 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/*
 * yajl's own tree API allocates every node with malloc and frees the tree
 * recursively, so a deeply nested document costs stack on free. We use the
 * event API instead and build nodes in the request arena: nothing to free,
 * and the depth is capped while parsing.
 */

struct builder {
    struct pl_arena *a;
    struct api_json *stack[API_JSON_MAX_DEPTH];
    unsigned depth;
    struct api_json *root;
    const char *pending_key;
    bool too_deep, too_many, oom, bad_utf8;
};

/* Unit tests define API_JSON_TEST_HOOKS to count the key comparisons that
 * duplicate detection makes (a structural proof that it is not quadratic). */
#ifdef API_JSON_TEST_HOOKS
static unsigned long json_key_cmps;
#define COUNT_KEY_CMP() (json_key_cmps++)
#else
#define COUNT_KEY_CMP() ((void)0)
#endif

/* yajl's own UTF-8 check lets overlong forms (C0 AF for '/') through, and
 * its \u escapes can decode to lone surrogates. Every decoded string and
 * key is checked again here, strictly (RFC 3629): shortest form only, no
 * surrogates, nothing above U+10FFFF. */
bool api_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static struct api_json *add_node(struct builder *b, enum api_json_type t)
{
    struct api_json *v = pl_arena_zalloc(b->a, sizeof(*v));
    if (!v) {
        b->oom = true;
        return NULL;
    }
    v->type = t;
    if (b->depth == 0) {
        b->root = v;
        return v;
    }
    struct api_json *parent = b->stack[b->depth - 1];
    if (parent->n >=
        (parent->type == API_JSON_OBJECT ? API_JSON_MAX_MEMBERS : API_JSON_MAX_ITEMS)) {
        b->too_many = true; /* yajl stops at the first callback returning 0 */
        return NULL;
    }
    if (parent->type == API_JSON_OBJECT) {
        v->key = b->pending_key;
        b->pending_key = NULL;
    }
    if (parent->last)
        parent->last->next = v;
    else
        parent->first = v;
    parent->last = v;
    parent->n++;
    return v;
}

static int on_null(void *ctx)
{
    return add_node(ctx, API_JSON_NULL) != NULL;
}

static int on_bool(void *ctx, int val)
{
    struct api_json *v = add_node(ctx, API_JSON_BOOL);
    if (v)
        v->b = val != 0;
    return v != NULL;
}

static int on_scalar(struct builder *b, enum api_json_type t, const unsigned char *s, size_t len)
{
    if (t == API_JSON_STRING && !api_utf8_valid((const char *)s, len)) {
        b->bad_utf8 = true;
        return 0;
    }
    struct api_json *v = add_node(b, t);
    if (!v)
        return 0;
    if (!(v->str = pl_arena_strndup(b->a, (const char *)s, len))) {
        b->oom = true;
        return 0;
    }
    v->len = len;
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    return on_scalar(ctx, API_JSON_NUMBER, (const unsigned char *)s, len);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_scalar(ctx, API_JSON_STRING, s, len);
}

static int push(struct builder *b, enum api_json_type t)
{
    if (b->depth == API_JSON_MAX_DEPTH) {
        b->too_deep = true;
        return 0;
    }
    struct api_json *v = add_node(b, t);
    if (!v)
        return 0;
    b->stack[b->depth++] = v;
    return 1;
}

static int on_start_map(void *ctx)
{
    return push(ctx, API_JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
    return push(ctx, API_JSON_ARRAY);
}

static int on_end(void *ctx)
{
    struct builder *b = ctx;
    b->depth--;
    return 1;
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    if (!api_utf8_valid((const char *)s, len)) {
        b->bad_utf8 = true;
        return 0;
    }
    b->pending_key = pl_arena_strndup(b->a, (const char *)s, len);
    if (!b->pending_key)
        b->oom = true;
    return b->pending_key != NULL;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* yajl's messages carry a trailing newline and sometimes a prefix. */
static void copy_msg(struct api_json_error *err, const char *msg)
{
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
}

int api_json_parse(struct pl_arena *a, const char *buf, size_t len, struct api_json **out,
                   struct api_json_error *err)
{
    struct builder b = {.a = a};
    memset(err, 0, sizeof(*err));
    if (len == 0) {
        copy_msg(err, "the body is empty; a JSON document is required");
        return PL_EMALFORMED;
    }
    yajl_handle h = yajl_alloc(&callbacks, NULL, &b);
    if (!h)
        return PL_ENOMEM;
    /* yajl counts consumed bytes per call; a failure in the final call
     * means the document ended early, i.e. at its last byte. */
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    size_t consumed = yajl_get_bytes_consumed(h);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        consumed = len;
    }
    int rc = 0;
    if (b.oom) {
        rc = PL_ENOMEM;
    } else if (st != yajl_status_ok) {
        rc = PL_EMALFORMED;
        err->offset = consumed;
        if (b.too_deep) {
            snprintf(err->msg, sizeof(err->msg), "nesting deeper than %d levels",
                     API_JSON_MAX_DEPTH);
        } else if (b.too_many) {
            rc = PL_ETOOBIG;
            snprintf(err->msg, sizeof(err->msg),
                     "an object has more than %d members or an array more than %d items",
                     API_JSON_MAX_MEMBERS, API_JSON_MAX_ITEMS);
        } else if (b.bad_utf8) {
            copy_msg(err, "a string is not valid UTF-8");
        } else {
            unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)buf, len);
            const char *text = m ? (const char *)m : "invalid JSON";
            if (strncmp(text, "parse error: ", 13) == 0)
                text += 13;
            copy_msg(err, text);
            if (m)
                yajl_free_error(h, m);
        }
    } else {
        *out = b.root;
    }
    yajl_free(h);
    return rc;
}

const struct api_json *api_json_get(const struct api_json *obj, const char *key)
{
    if (!obj || obj->type != API_JSON_OBJECT)
        return NULL;
    for (const struct api_json *v = obj->first; v; v = v->next)
        if (strcmp(v->key, key) == 0)
            return v;
    return NULL;
}

bool api_json_int(const struct api_json *v, int64_t *out)
{
    if (!v || v->type != API_JSON_NUMBER || strpbrk(v->str, ".eE"))
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v->str, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

void api_errors_add(struct api_errors *errs, const char *pointer, const char *detail)
{
    if (errs->n < API_MAX_FIELD_ERRORS)
        errs->e[errs->n++] = (struct api_field_error){pointer, detail};
}

const char *api_json_pointer(struct pl_arena *a, const char *name)
{
    size_t extra = 0;
    for (const char *p = name; *p; p++)
        extra += *p == '~' || *p == '/';
    char *out = pl_arena_alloc(a, strlen(name) + extra + 2), *o = out;
    if (!out)
        return NULL;
    *o++ = '/';
    for (const char *p = name; *p; p++) {
        if (*p == '~' || *p == '/') {
            *o++ = '~';
            *o++ = *p == '~' ? '0' : '1';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static const char *const type_names[] = {"a string", "an integer", "a boolean", "a value"};

static bool type_ok(const struct api_field *f, const struct api_json *v)
{
    switch (f->type) {
    case API_FIELD_STRING: return v->type == API_JSON_STRING;
    case API_FIELD_INT: return api_json_int(v, &(int64_t){0});
    case API_FIELD_BOOL: return v->type == API_JSON_BOOL;
    case API_FIELD_ANY: return true;
    }
    return false;
}

static void store(const struct api_field *f, const struct api_json *v)
{
    switch (f->type) {
    case API_FIELD_STRING: *(const char **)f->dst = v->str; break;
    case API_FIELD_INT: api_json_int(v, (int64_t *)f->dst); break;
    case API_FIELD_BOOL: *(bool *)f->dst = v->b; break;
    case API_FIELD_ANY: *(const struct api_json **)f->dst = v; break;
    }
}

static const struct api_field *find_field(const struct api_field *fields, unsigned n,
                                          const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

/* A member's name and position, for duplicate detection. */
struct member_ref {
    const char *key;
    unsigned idx;
};

/* Orders by name, then by position, so the first of a run of equal names
 * is the one that appeared first (qsort is not stable). */
static int cmp_member(const void *pa, const void *pb)
{
    const struct member_ref *a = pa, *b = pb;
    COUNT_KEY_CMP();
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Marks in dup[i] every member i whose name an earlier member already had.
 * The scan this replaces looked each member up by name, O(n^2) in the
 * member count; sorting is O(n log n). */
static int find_dups(struct pl_arena *a, const struct api_json *obj, bool *dup)
{
    struct member_ref *r = pl_arena_alloc(a, (obj->n ? obj->n : 1) * sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    unsigned n = 0;
    for (const struct api_json *m = obj->first; m && n < obj->n; m = m->next, n++)
        r[n] = (struct member_ref){m->key, n};
    qsort(r, n, sizeof(*r), cmp_member);
    for (unsigned k = 1; k < n; k++) {
        COUNT_KEY_CMP();
        if (strcmp(r[k - 1].key, r[k].key) == 0)
            dup[r[k].idx] = true;
    }
    return 0;
}

int api_json_bind(struct pl_arena *a, const struct api_json *obj, const struct api_field *fields,
                  unsigned n, struct api_errors *errs)
{
    if (obj->n > n + API_MAX_FIELD_ERRORS) {
        /* Each field may appear once and nothing else may, so past this
         * many members there are more errors than we report: refuse without
         * looking at the members, whatever their number. */
        api_errors_add(
            errs, "",
            pl_arena_sprintf(a, "has %u members; at most %u are allowed here", obj->n, n));
        return 0;
    }
    bool *dup = pl_arena_zalloc(a, (obj->n ? obj->n : 1) * sizeof(*dup));
    if (!dup || find_dups(a, obj, dup) < 0)
        return PL_ENOMEM;
    unsigned idx = 0;
    for (const struct api_json *v = obj->first; v; v = v->next, idx++) {
        const struct api_field *f = find_field(fields, n, v->key);
        const char *ptr = api_json_pointer(a, v->key);
        if (!ptr)
            return PL_ENOMEM;
        if (dup[idx]) {
            api_errors_add(errs, ptr, "appears more than once");
        } else if (!f) {
            api_errors_add(errs, ptr, "unknown field");
        } else if (v->type == API_JSON_NULL) {
            continue; /* null means absent; required fields are checked below */
        } else if (!type_ok(f, v)) {
            api_errors_add(errs, ptr, pl_arena_sprintf(a, "must be %s", type_names[f->type]));
        } else if (f->type == API_FIELD_STRING && strlen(v->str) != v->len) {
            api_errors_add(errs, ptr, "must not contain NUL characters");
        } else {
            store(f, v);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        const struct api_json *v = fields[i].required ? api_json_get(obj, fields[i].name) : NULL;
        if (fields[i].required && (!v || v->type == API_JSON_NULL)) {
            const char *ptr = api_json_pointer(a, fields[i].name);
            if (!ptr)
                return PL_ENOMEM;
            api_errors_add(errs, ptr, "is required");
        }
    }
    return 0;
}

size_t api_utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}
