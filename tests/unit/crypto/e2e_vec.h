/* SPDX-License-Identifier: MIT */
/* Parley - test vectors for crypto/e2e: one runner per composition.    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_TEST_E2E_VEC_H
#define PL_TEST_E2E_VEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A vector is a name, inputs and outputs, each a map from a name to bytes
 * (hex in JSON) or, for names ending in "_text", to a string. One runner
 * per composition computes the outputs from the inputs. The generator
 * (gen_e2e_vectors) runs them in VEC_GEN mode and writes the JSON; the unit
 * test loads the committed JSON, runs them in VEC_CHECK mode, and every
 * vec_out() compares with the committed value.
 *
 * Randomness is scripted: a runner wraps each library call that draws
 * random bytes in vec_step_begin/end(name). In VEC_GEN mode the draws come
 * from a fixed deterministic stream and are recorded as the input `name`;
 * in VEC_CHECK mode the input `name` is served to the library and any draw
 * beyond it fails the test. So the JSON names every random value, e.g. the
 * ephemeral key of X3DH, and a second implementation can replay them.
 */
enum vec_mode { VEC_GEN, VEC_CHECK };

#define VEC_MAX_KV 160

struct vec_kv {
    char *name;
    uint8_t *val;
    size_t len;
};

struct vec {
    char *name;
    enum vec_mode mode;
    struct vec_kv in[VEC_MAX_KV];
    int nin;
    struct vec_kv out[VEC_MAX_KV]; /* GEN: computed; CHECK: expected */
    int nout;
    int nchecked; /* CHECK: outputs compared so far */
};

typedef void vec_runner(struct vec *v);

/* Fails the vector: prints and exits 1 (a failed case under pltest). */
_Noreturn void vec_fail(const struct vec *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define VEC_CHECK_TRUE(v, cond)                                                                    \
    do {                                                                                           \
        if (!(cond))                                                                               \
            vec_fail((v), "%s:%d: %s", __FILE__, __LINE__, #cond);                                 \
    } while (0)

struct vec *vec_new(const char *name, enum vec_mode mode);
void vec_free(struct vec *v);

void vec_in_set(struct vec *v, const char *name, const void *b, size_t n);
void vec_in_text(struct vec *v, const char *name, const char *s);
void vec_in_u32(struct vec *v, const char *name, uint32_t x);
const uint8_t *vec_in(struct vec *v, const char *name, size_t *n);
const char *vec_in_str(struct vec *v, const char *name); /* NUL-terminated copy */
uint32_t vec_in_get_u32(struct vec *v, const char *name);
int vec_has_in(struct vec *v, const char *name);

/* GEN: records; CHECK: compares with the committed value. */
void vec_out(struct vec *v, const char *name, const void *b, size_t n);
void vec_out_text(struct vec *v, const char *name, const char *s);

/* Installs the scripted RNG (after e2e_init). */
void vec_rng_install(void);
void vec_step_begin(struct vec *v, const char *name);
void vec_step_end(struct vec *v, const char *name);

/* JSON files: {"description", "vectors": [{"name", "inputs", "outputs"}]}. */
int vec_file_write(const char *path, const char *description, struct vec **vs, int n);
int vec_file_load(const char *path, struct vec ***vs, int *n);

/* The runners, one per file in crypto/testvectors. */
void vec_run_hkdf(struct vec *v);
void vec_run_chain(struct vec *v);
void vec_run_x3dh(struct vec *v);
void vec_run_ratchet(struct vec *v);
void vec_run_senderkey(struct vec *v);
void vec_run_safety(struct vec *v);
void vec_run_file(struct vec *v);
void vec_run_vault(struct vec *v);

#endif
