/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/json.c: parsing, limits, binding.        */
/* Copyright (c) 2026 Parley developers                                 */
/* Counts the key comparisons of duplicate detection (json_key_cmps). */
#define API_JSON_TEST_HOOKS 1
#include "api/json.c"

#include "pltest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct api_json *parse_ok(struct pl_arena *a, const char *s)
{
    struct api_json *root = NULL;
    struct api_json_error err;
    int rc = api_json_parse(a, s, strlen(s), &root, &err);
    PL_ASSERT_INT_EQ(rc, 0);
    PL_ASSERT(root != NULL);
    return root;
}

static int parse_err(const char *s, size_t len, struct api_json_error *err)
{
    struct pl_arena *a = pl_arena_new();
    struct api_json *root;
    int rc = api_json_parse(a, s, len, &root, err);
    pl_arena_free(a);
    return rc;
}

PLTEST(parse_object_members_in_order)
{
    struct pl_arena *a = pl_arena_new();
    struct api_json *r = parse_ok(a, "{\"a\":1,\"b\":\"x\\u00e9\",\"c\":[true,null,2.5],\"d\":{}}");
    PL_ASSERT_INT_EQ(r->type, API_JSON_OBJECT);
    PL_ASSERT_INT_EQ(r->n, 4);
    PL_ASSERT_STR_EQ(r->first->key, "a");
    int64_t v = 0;
    PL_ASSERT(api_json_int(api_json_get(r, "a"), &v));
    PL_ASSERT_INT_EQ(v, 1);
    PL_ASSERT_STR_EQ(api_json_get(r, "b")->str, "x\xc3\xa9");
    const struct api_json *c = api_json_get(r, "c");
    PL_ASSERT_INT_EQ(c->n, 3);
    PL_ASSERT_INT_EQ(c->first->type, API_JSON_BOOL);
    PL_ASSERT_INT_EQ(c->first->next->type, API_JSON_NULL);
    PL_ASSERT(!api_json_int(c->last, &v)); /* 2.5 is not an integer */
    PL_ASSERT(api_json_get(r, "zz") == NULL);
    pl_arena_free(a);
}

PLTEST(parse_reports_offset_of_syntax_error)
{
    struct api_json_error err;
    const char *s = "{\"username\": tru}";
    PL_ASSERT_INT_EQ(parse_err(s, strlen(s), &err), PL_EMALFORMED);
    PL_ASSERT(err.offset > 10 && err.offset <= strlen(s));
    PL_ASSERT(err.msg[0] != '\0');
}

PLTEST(parse_rejects_empty_truncated_and_trailing)
{
    struct api_json_error err;
    PL_ASSERT_INT_EQ(parse_err("", 0, &err), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(parse_err("{\"a\":", 5, &err), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(parse_err("{} {}", 5, &err), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(parse_err("{'a':1}", 7, &err), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(parse_err("{\"a\":1,}", 8, &err), PL_EMALFORMED);
}

PLTEST(parse_rejects_invalid_utf8)
{
    struct api_json_error err;
    const char s[] = "{\"a\":\"\xff\xfe\"}";
    PL_ASSERT_INT_EQ(parse_err(s, sizeof(s) - 1, &err), PL_EMALFORMED);
    const char overlong[] = "{\"a\":\"\xc0\xaf\"}";
    PL_ASSERT_INT_EQ(parse_err(overlong, sizeof(overlong) - 1, &err), PL_EMALFORMED);
}

PLTEST(parse_rejects_surrogate_escapes_and_bad_keys)
{
    struct api_json_error err;
    /* A lone surrogate escape must never reach us as invalid UTF-8: yajl
     * substitutes it, and whatever comes out must pass the strict check. */
    struct pl_arena *a = pl_arena_new();
    struct api_json *r = NULL;
    const char lone[] = "{\"a\":\"\\ud800\"}";
    if (api_json_parse(a, lone, sizeof(lone) - 1, &r, &err) == 0)
        PL_ASSERT(api_utf8_valid(r->first->str, r->first->len));
    pl_arena_free(a);
    const char key[] = "{\"\xed\xa0\x80\":1}";
    PL_ASSERT_INT_EQ(parse_err(key, sizeof(key) - 1, &err), PL_EMALFORMED);
    const char pair[] = "{\"a\":\"\\ud83d\\ude00\"}";
    PL_ASSERT_INT_EQ(parse_err(pair, sizeof(pair) - 1, &err), 0);
}

PLTEST(utf8_validator_edges)
{
    PL_ASSERT(api_utf8_valid("", 0));
    PL_ASSERT(api_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    PL_ASSERT(!api_utf8_valid("\xf4\x90\x80\x80", 4)); /* above */
    PL_ASSERT(!api_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    PL_ASSERT(!api_utf8_valid("\xe2\x82", 2));         /* truncated */
    PL_ASSERT(!api_utf8_valid("\x80", 1));             /* stray continuation */
}

PLTEST(parse_caps_depth)
{
    struct api_json_error err;
    char ok[2 * API_JSON_MAX_DEPTH + 1], deep[200001];
    memset(ok, '[', API_JSON_MAX_DEPTH);
    memset(ok + API_JSON_MAX_DEPTH, ']', API_JSON_MAX_DEPTH);
    PL_ASSERT_INT_EQ(parse_err(ok, 2 * API_JSON_MAX_DEPTH, &err), 0);
    memset(deep, '[', sizeof(deep) - 1);
    PL_ASSERT_INT_EQ(parse_err(deep, sizeof(deep) - 1, &err), PL_EMALFORMED);
    PL_ASSERT(strstr(err.msg, "nesting") != NULL);
    PL_ASSERT_INT_EQ(err.offset <= API_JSON_MAX_DEPTH + 1, 1);
}

PLTEST(bind_reports_unknown_missing_wrong_type)
{
    struct pl_arena *a = pl_arena_new();
    struct api_json *r = parse_ok(a, "{\"name\":5,\"extra/x\":1,\"age\":\"7\",\"ok\":true}");
    const char *name = NULL;
    int64_t age = -1;
    bool ok = false;
    const char *need = NULL;
    const struct api_field f[] = {
        {"name", API_FIELD_STRING, true, &name},
        {"age", API_FIELD_INT, false, &age},
        {"ok", API_FIELD_BOOL, false, &ok},
        {"need", API_FIELD_STRING, true, &need},
    };
    struct api_errors errs = {0};
    PL_ASSERT_INT_EQ(api_json_bind(a, r, f, 4, &errs), 0);
    PL_ASSERT_INT_EQ(errs.n, 4);
    PL_ASSERT_STR_EQ(errs.e[0].pointer, "/name");
    PL_ASSERT_STR_EQ(errs.e[1].pointer, "/extra~1x");
    PL_ASSERT_STR_EQ(errs.e[1].detail, "unknown field");
    PL_ASSERT_STR_EQ(errs.e[2].pointer, "/age");
    PL_ASSERT_STR_EQ(errs.e[3].pointer, "/need");
    PL_ASSERT_STR_EQ(errs.e[3].detail, "is required");
    PL_ASSERT(ok);
    PL_ASSERT_INT_EQ(age, -1);
    pl_arena_free(a);
}

PLTEST(bind_rejects_nul_and_duplicates)
{
    struct pl_arena *a = pl_arena_new();
    struct api_json *r = parse_ok(a, "{\"s\":\"a\\u0000b\",\"t\":\"x\",\"t\":\"y\"}");
    const char *s = NULL, *t = NULL;
    const struct api_field f[] = {{"s", API_FIELD_STRING, false, &s},
                                  {"t", API_FIELD_STRING, false, &t}};
    struct api_errors errs = {0};
    PL_ASSERT_INT_EQ(api_json_bind(a, r, f, 2, &errs), 0);
    PL_ASSERT_INT_EQ(errs.n, 2);
    PL_ASSERT_STR_EQ(errs.e[0].pointer, "/s");
    PL_ASSERT_STR_EQ(errs.e[1].pointer, "/t");
    PL_ASSERT(s == NULL);
    pl_arena_free(a);
}

PLTEST(utf8_length_counts_code_points)
{
    PL_ASSERT_INT_EQ(api_utf8_len("abc", 3), 3);
    PL_ASSERT_INT_EQ(api_utf8_len("\xc3\xa9t\xc3\xa9", 5), 3);
    PL_ASSERT_INT_EQ(api_utf8_len("\xf0\x9f\x98\x80", 4), 1);
}

/* Fail the Nth allocation (nghttp2 failmalloc): the parser allocates only
 * from the arena, so capping the arena at every size below what the
 * document needs exercises each out-of-memory path; each must report
 * PL_ENOMEM cleanly, and the uncapped run must succeed. */
PLTEST(parse_survives_allocation_failure_at_every_step)
{
    const char *doc = "{\"a\":[1,2,{\"b\":\"xyz\"}],\"c\":null,\"d\":{\"e\":[true,false]}}";
    struct pl_arena *a = pl_arena_new();
    parse_ok(a, doc);
    size_t need = pl_arena_used(a);
    pl_arena_free(a);
    unsigned failures = 0;
    for (size_t cap = 16; cap < need; cap += 16) {
        a = pl_arena_new();
        pl_arena_set_limit(a, cap);
        struct api_json *root;
        struct api_json_error err;
        int rc = api_json_parse(a, doc, strlen(doc), &root, &err);
        PL_ASSERT_INT_EQ(rc, PL_ENOMEM);
        failures++;
        pl_arena_free(a);
    }
    PL_ASSERT(failures > 5);
}

/* A 1 MiB object of distinct keys ({"k0":0,"k1":0,...}) as an attacker would
 * send it. Caller frees. */
static char *wide_object(unsigned members, size_t *len)
{
    size_t cap = (size_t)members * 24 + 16, n = 0;
    char *s = malloc(cap);
    PL_ASSERT(s != NULL);
    s[n++] = '{';
    for (unsigned i = 0; i < members; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"k%u\":0", i ? "," : "", i);
    s[n++] = '}';
    s[n] = '\0';
    *len = n;
    return s;
}

/* The parser stops at the first member past the cap: a 100,000-member body
 * is refused after reading about 257 members, so its cost does not grow
 * with its size (no timing needed to see that). */
PLTEST(parse_stops_at_member_and_item_caps)
{
    size_t len;
    char *doc = wide_object(100000, &len);
    PL_ASSERT(len > 1000000);
    struct pl_arena *a = pl_arena_new();
    struct api_json *root = NULL;
    struct api_json_error err;
    PL_ASSERT_INT_EQ(api_json_parse(a, doc, len, &root, &err), PL_ETOOBIG);
    PL_ASSERT(strstr(err.msg, "members") != NULL);
    /* The member past the cap starts within the first 257 * 10 bytes. */
    PL_ASSERT(err.offset < (API_JSON_MAX_MEMBERS + 1) * 10);
    /* ...and nothing past it was built: the arena holds a few hundred nodes. */
    PL_ASSERT(pl_arena_used(a) < (API_JSON_MAX_MEMBERS + 1) * (sizeof(struct api_json) + 64));
    pl_arena_free(a);
    free(doc);
    /* Exactly at the cap is fine. */
    doc = wide_object(API_JSON_MAX_MEMBERS, &len);
    PL_ASSERT_INT_EQ(parse_err(doc, len, &err), 0);
    free(doc);
    /* Arrays: one item past the cap is refused, the cap itself accepted. */
    size_t alen = 2 + 2 * (API_JSON_MAX_ITEMS + 1);
    char *arr = malloc(alen + 1);
    PL_ASSERT(arr != NULL);
    arr[0] = '[';
    for (unsigned i = 0; i <= API_JSON_MAX_ITEMS; i++) {
        arr[1 + 2 * i] = '0';
        arr[2 + 2 * i] = ',';
    }
    arr[alen - 2] = ']'; /* replaces the comma after the last item */
    PL_ASSERT_INT_EQ(parse_err(arr, alen - 1, &err), PL_ETOOBIG);
    arr[alen - 4] = ']'; /* one item fewer */
    PL_ASSERT_INT_EQ(parse_err(arr, alen - 3, &err), 0);
    free(arr);
}

/* Duplicate detection sorts: for n members it makes about n log2 n key
 * comparisons, where the scan it replaced made about n^2 / 2. The object
 * is built by hand, past the parser's cap, to make the difference large. */
PLTEST(duplicate_detection_is_n_log_n)
{
    enum { N = 20000 };
    struct pl_arena *a = pl_arena_new();
    struct api_json *obj = pl_arena_zalloc(a, sizeof(*obj));
    obj->type = API_JSON_OBJECT;
    for (unsigned i = 0; i < N; i++) {
        struct api_json *m = pl_arena_zalloc(a, sizeof(*m));
        /* Every key twice (k0, k0, k1, k1 ... reversed halves). */
        m->key = pl_arena_sprintf(a, "k%u", i < N / 2 ? i : N - 1 - i);
        m->type = API_JSON_NULL;
        if (obj->last)
            obj->last->next = m;
        else
            obj->first = m;
        obj->last = m;
        obj->n++;
    }
    bool *dup = pl_arena_zalloc(a, N * sizeof(*dup));
    json_key_cmps = 0;
    PL_ASSERT_INT_EQ(find_dups(a, obj, dup), 0);
    unsigned ndup = 0;
    for (unsigned i = 0; i < N; i++)
        ndup += dup[i];
    PL_ASSERT_INT_EQ(ndup, N / 2);
    PL_ASSERT(!dup[0] && dup[N - 1]); /* the later one of each pair is marked */
    /* 20000 * log2(20000) ~ 286,000; the quadratic scan: 200,000,000. */
    PL_ASSERT(json_key_cmps < 2ul * N * 15);
    /* Binding such an object is refused before any member is compared. */
    const struct api_field f[] = {{"k1", API_FIELD_ANY, false, &(const struct api_json *){0}}};
    struct api_errors errs = {0};
    json_key_cmps = 0;
    PL_ASSERT_INT_EQ(api_json_bind(a, obj, f, 1, &errs), 0);
    PL_ASSERT_INT_EQ(errs.n, 1);
    PL_ASSERT_STR_EQ(errs.e[0].pointer, "");
    PL_ASSERT_INT_EQ(json_key_cmps, 0);
    pl_arena_free(a);
}
