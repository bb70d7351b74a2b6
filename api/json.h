/* SPDX-License-Identifier: MIT */
/* Parley - bounded JSON parsing into the request arena, field binding. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_JSON_H
#define PL_API_JSON_H

#include "common/arena.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Deeper documents are refused: nothing we accept nests more than a few
 * levels, and a bound keeps hostile input from costing memory or stack. */
#define API_JSON_MAX_DEPTH 32
/* Members per object and items per array that the parser accepts. No
 * schema of ours has more than a few dozen members, and the longest arrays
 * we take (group members, e2e recipients) are bounded lower by their own
 * handlers; the caps stop a hostile 1 MiB body of 100,000 members at the
 * first member past them, before any work per member is done. */
#define API_JSON_MAX_MEMBERS 256
#define API_JSON_MAX_ITEMS 16384

enum api_json_type {
    API_JSON_NULL,
    API_JSON_BOOL,
    API_JSON_NUMBER,
    API_JSON_STRING,
    API_JSON_ARRAY,
    API_JSON_OBJECT,
};

/* A parsed value; all memory is in the arena given to api_json_parse(). */
struct api_json {
    enum api_json_type type;
    const char *key;               /* member name when inside an object */
    struct api_json *next;         /* next sibling in the parent container */
    const char *str;               /* STRING: NUL-terminated value; NUMBER: raw text */
    size_t len;                    /* STRING/NUMBER: bytes in str */
    bool b;                        /* BOOL */
    struct api_json *first, *last; /* ARRAY/OBJECT children, in order */
    unsigned n;                    /* ARRAY/OBJECT: number of children */
};

struct api_json_error {
    size_t offset; /* byte offset where parsing stopped */
    char msg[160];
};

/* Parses a whole document. Returns 0 and the root in *out, PL_EMALFORMED
 * (invalid JSON, invalid UTF-8, trailing data, nesting over the limit, empty
 * input) with err filled, PL_ETOOBIG (an object with more than
 * API_JSON_MAX_MEMBERS members or an array with more than API_JSON_MAX_ITEMS
 * items; parsing stops there) with err filled, or PL_ENOMEM. Any thread. */
PL_MUST_CHECK int api_json_parse(struct pl_arena *a, const char *buf, size_t len,
                                 struct api_json **out, struct api_json_error *err);

/* The member called key of an object, or NULL. */
const struct api_json *api_json_get(const struct api_json *obj, const char *key);
/* True when v is an integral number that fits int64_t; stores it. */
bool api_json_int(const struct api_json *v, int64_t *out);

/* ---- validation errors, reported as RFC 9457 "errors" members ---- */

struct api_field_error {
    const char *pointer; /* JSON Pointer to the offending member */
    const char *detail;
};
#define API_MAX_FIELD_ERRORS 16
struct api_errors {
    struct api_field_error e[API_MAX_FIELD_ERRORS];
    unsigned n;
};
/* Records an error; both strings are borrowed (static or arena). Errors past
 * the cap are dropped: the first ones are enough to act on. */
void api_errors_add(struct api_errors *errs, const char *pointer, const char *detail);

/* ---- binding an object's members to C variables ---- */

enum api_field_type {
    API_FIELD_STRING, /* dst: const char ** (never contains NUL bytes) */
    API_FIELD_INT,    /* dst: int64_t * */
    API_FIELD_BOOL,   /* dst: bool * */
    API_FIELD_ANY,    /* dst: const struct api_json ** */
};

struct api_field {
    const char *name;
    enum api_field_type type;
    bool required;
    void *dst; /* left untouched when the member is absent */
};

/* Binds obj's members to fields. Unknown members, missing required ones,
 * wrong types, repeated names and (for strings) NUL bytes are recorded in
 * errs with JSON pointers; a null value counts as absent. An object with
 * more than n + API_MAX_FIELD_ERRORS members cannot be valid and is refused
 * with one error on "" before any member is looked at. Repeated names are found by
 * sorting (O(n log n)). Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int api_json_bind(struct pl_arena *a, const struct api_json *obj,
                                const struct api_field *fields, unsigned n,
                                struct api_errors *errs);

/* "/name" with JSON Pointer escaping (~0, ~1), in the arena; NULL on OOM. */
const char *api_json_pointer(struct pl_arena *a, const char *name);

/* Strict RFC 3629 check: shortest forms, no surrogates, <= U+10FFFF. */
bool api_utf8_valid(const char *s, size_t n);

/* Number of Unicode code points in valid UTF-8 s (yajl validated it). */
size_t api_utf8_len(const char *s, size_t n);

#endif
