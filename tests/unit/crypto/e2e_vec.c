/* SPDX-License-Identifier: MIT */
/* Parley - test-vector records, scripted randomness and JSON I/O.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "e2e_vec.h"

#include <sodium.h>
#include <yajl/yajl_tree.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct vec *cur_vec; /* for failures inside the RNG */

_Noreturn void vec_fail(const struct vec *v, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vector %s: ", v ? v->name : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

struct vec *vec_new(const char *name, enum vec_mode mode)
{
    struct vec *v = calloc(1, sizeof(*v));
    if (!v)
        abort();
    v->name = xstrdup(name);
    v->mode = mode;
    return v;
}

void vec_free(struct vec *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->nin; i++) {
        free(v->in[i].name);
        free(v->in[i].val);
    }
    for (int i = 0; i < v->nout; i++) {
        free(v->out[i].name);
        free(v->out[i].val);
    }
    free(v->name);
    free(v);
}

static struct vec_kv *find(struct vec_kv *kv, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return &kv[i];
    return NULL;
}

static void kv_add(const struct vec *v, struct vec_kv *kv, int *n, const char *name, const void *b,
                   size_t len)
{
    if (*n == VEC_MAX_KV)
        vec_fail(v, "too many values");
    if (find(kv, *n, name))
        vec_fail(v, "duplicate value %s", name);
    kv[*n].name = xstrdup(name);
    kv[*n].val = memcpy(xmalloc(len + 1), b, len);
    kv[*n].val[len] = 0;
    kv[*n].len = len;
    (*n)++;
}

void vec_in_set(struct vec *v, const char *name, const void *b, size_t n)
{
    kv_add(v, v->in, &v->nin, name, b, n);
}

void vec_in_text(struct vec *v, const char *name, const char *s)
{
    vec_in_set(v, name, s, strlen(s));
}

void vec_in_u32(struct vec *v, const char *name, uint32_t x)
{
    uint8_t b[4] = {(uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
    vec_in_set(v, name, b, 4);
}

int vec_has_in(struct vec *v, const char *name)
{
    return find(v->in, v->nin, name) != NULL;
}

const uint8_t *vec_in(struct vec *v, const char *name, size_t *n)
{
    struct vec_kv *kv = find(v->in, v->nin, name);
    if (!kv)
        vec_fail(v, "missing input %s", name);
    if (n)
        *n = kv->len;
    return kv->val;
}

const char *vec_in_str(struct vec *v, const char *name)
{
    return (const char *)vec_in(v, name, NULL); /* kv_add keeps a NUL after the bytes */
}

uint32_t vec_in_get_u32(struct vec *v, const char *name)
{
    size_t n;
    const uint8_t *b = vec_in(v, name, &n);
    if (n != 4)
        vec_fail(v, "input %s is not 4 bytes", name);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void hexdump(const char *what, const uint8_t *b, size_t n)
{
    fprintf(stderr, "  %s: ", what);
    for (size_t i = 0; i < n && i < 96; i++)
        fprintf(stderr, "%02x", b[i]);
    fprintf(stderr, "%s (%zu bytes)\n", n > 96 ? "..." : "", n);
}

void vec_out(struct vec *v, const char *name, const void *b, size_t n)
{
    if (v->mode == VEC_GEN) {
        kv_add(v, v->out, &v->nout, name, b, n);
        return;
    }
    struct vec_kv *kv = find(v->out, v->nout, name);
    if (!kv)
        vec_fail(v, "output %s is not in the committed vector", name);
    if (kv->len != n || memcmp(kv->val, b, n) != 0) {
        hexdump("want", kv->val, kv->len);
        hexdump("got ", b, n);
        vec_fail(v, "output %s differs", name);
    }
    v->nchecked++;
}

void vec_out_text(struct vec *v, const char *name, const char *s)
{
    vec_out(v, name, s, strlen(s));
}

/* ---- Scripted randomness ------------------------------------------------ */

static struct {
    enum vec_mode mode;
    int active;
    uint8_t queue[4096];
    size_t qlen, qoff;
    uint8_t log[4096];
    size_t loglen;
    uint8_t seed[32];
    uint64_t counter;
} rng;

static const char *rng_name(void)
{
    return "parley-vectors";
}

static void rng_buf(void *const buf, const size_t size)
{
    if (!rng.active)
        vec_fail(cur_vec, "random draw of %zu bytes outside a vector step", size);
    if (rng.mode == VEC_CHECK) {
        if (rng.qlen - rng.qoff < size)
            vec_fail(cur_vec, "the library drew %zu bytes more than the vector scripts", size);
        memcpy(buf, rng.queue + rng.qoff, size);
        rng.qoff += size;
    } else {
        uint8_t seed[32];
        crypto_generichash(seed, 32, (const uint8_t *)&rng.counter, sizeof(rng.counter), rng.seed,
                           32);
        rng.counter++;
        randombytes_buf_deterministic(buf, size, seed);
    }
    if (rng.loglen + size > sizeof(rng.log))
        vec_fail(cur_vec, "step drew too much");
    memcpy(rng.log + rng.loglen, buf, size);
    rng.loglen += size;
}

static uint32_t rng_random(void)
{
    uint8_t b[4];
    rng_buf(b, 4);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static randombytes_implementation rng_impl = {
    .implementation_name = rng_name, .random = rng_random, .buf = rng_buf};

void vec_rng_install(void)
{
    randombytes_set_implementation(&rng_impl);
}

void vec_step_begin(struct vec *v, const char *name)
{
    cur_vec = v;
    rng.mode = v->mode;
    rng.active = 1;
    rng.qlen = rng.qoff = rng.loglen = 0;
    if (v->mode == VEC_CHECK) {
        if (vec_has_in(v, name)) {
            size_t n;
            const uint8_t *b = vec_in(v, name, &n);
            if (n > sizeof(rng.queue))
                vec_fail(v, "step %s too long", name);
            memcpy(rng.queue, b, n);
            rng.qlen = n;
        }
    } else {
        /* Each step's draws derive from the vector and step names only. */
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, (const uint8_t *)v->name, strlen(v->name) + 1);
        crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
        crypto_generichash_final(&st, rng.seed, 32);
        rng.counter = 0;
    }
}

void vec_step_end(struct vec *v, const char *name)
{
    rng.active = 0;
    if (v->mode == VEC_GEN) {
        if (rng.loglen)
            vec_in_set(v, name, rng.log, rng.loglen);
    } else if (rng.qoff != rng.qlen) {
        vec_fail(v, "step %s drew %zu bytes, the vector scripts %zu", name, rng.qoff, rng.qlen);
    }
}

/* ---- JSON ------------------------------------------------------------------- */

static int is_text(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, "_text") == 0;
}

static void write_map(FILE *f, const struct vec_kv *kv, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\n        \"%s\": \"", i ? "," : "", kv[i].name);
        if (is_text(kv[i].name))
            fwrite(kv[i].val, 1, kv[i].len, f); /* our texts need no escaping */
        else
            for (size_t j = 0; j < kv[i].len; j++)
                fprintf(f, "%02x", kv[i].val[j]);
        fputc('"', f);
    }
}

int vec_file_write(const char *path, const char *description, struct vec **vs, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\n  \"description\": \"%s\",\n  \"vectors\": [", description);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\n    {\n      \"name\": \"%s\",\n      \"inputs\": {", i ? "," : "",
                vs[i]->name);
        write_map(f, vs[i]->in, vs[i]->nin);
        fprintf(f, "\n      },\n      \"outputs\": {");
        write_map(f, vs[i]->out, vs[i]->nout);
        fprintf(f, "\n      }\n    }");
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static int load_map(struct vec *v, yajl_val obj, int out)
{
    if (!YAJL_IS_OBJECT(obj))
        return -1;
    for (size_t i = 0; i < obj->u.object.len; i++) {
        const char *k = obj->u.object.keys[i];
        yajl_val val = obj->u.object.values[i];
        if (!YAJL_IS_STRING(val))
            return -1;
        const char *s = YAJL_GET_STRING(val);
        size_t slen = strlen(s), blen = 0;
        uint8_t *b = xmalloc(slen + 1);
        if (is_text(k)) {
            memcpy(b, s, slen);
            blen = slen;
        } else if (sodium_hex2bin(b, slen / 2 + 1, s, slen, NULL, &blen, NULL) != 0 ||
                   blen * 2 != slen) {
            free(b);
            return -1;
        }
        kv_add(v, out ? v->out : v->in, out ? &v->nout : &v->nin, k, b, blen);
        free(b);
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, r;
    char *buf = xmalloc(cap);
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                abort();
            buf = nb;
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

int vec_file_load(const char *path, struct vec ***vs, int *n)
{
    char err[256];
    char *text = slurp(path);
    if (!text)
        return -1;
    yajl_val root = yajl_tree_parse(text, err, sizeof(err));
    free(text);
    const char *vp[] = {"vectors", NULL};
    yajl_val arr = root ? yajl_tree_get(root, vp, yajl_t_array) : NULL;
    if (!arr) {
        yajl_tree_free(root);
        return -1;
    }
    *n = (int)arr->u.array.len;
    *vs = calloc(arr->u.array.len + 1, sizeof(**vs));
    for (size_t i = 0; i < arr->u.array.len; i++) {
        yajl_val o = arr->u.array.values[i];
        const char *np[] = {"name", NULL}, *ip[] = {"inputs", NULL}, *op[] = {"outputs", NULL};
        yajl_val name = yajl_tree_get(o, np, yajl_t_string);
        struct vec *v = vec_new(name ? YAJL_GET_STRING(name) : "?", VEC_CHECK);
        (*vs)[i] = v;
        if (!name || load_map(v, yajl_tree_get(o, ip, yajl_t_object), 0) < 0 ||
            load_map(v, yajl_tree_get(o, op, yajl_t_object), 1) < 0) {
            yajl_tree_free(root);
            return -1;
        }
    }
    yajl_tree_free(root);
    return 0;
}
