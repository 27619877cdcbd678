/* Allocation test: after warm-up, a training step (trm_trainer_step, DIS and TRM-ACT, across epoch boundaries)
 * and a supervision step of inference (trm_runner_step) make no heap allocation. This program defines malloc,
 * calloc, realloc, free and the aligned allocators itself (forwarding to glibc's __libc_* entry points), so
 * every allocation of the process, libtrmdis.so and the Swift runtime included, passes through a counter.
 * Two threads, so that the pool's hand-offs and the per-thread fused SwiGLU forward are counted too.
 * Prints each count and "N passed, M failed". */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trmdis.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile long allocations = 0;

void *malloc(size_t n) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    void *p = memalign(a, n);
    if (p == NULL) return 12; /* ENOMEM */
    *out = p;
    return 0;
}


#define MUST(call)                                                                                 \
    do {                                                                                           \
        if ((call) != TRM_OK) {                                                                    \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, trm_last_error()); \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static int passed = 0, failed = 0;

static void report(long before, int steps, const char *what) {
    long n = allocations - before;
    printf("%-34s %6.1f allocations per step\n", what, (double)n / steps);
    if (n == 0) passed++;
    else failed++;
}

enum { N = 64, L = 9, V = 6 };

int main(void) {
    MUST(trm_set_num_threads(2));
    trm_model_config c;
    trm_model_config_init(&c);
    c.vocab_size = V;
    c.seq_len = L;
    c.hidden_size = 32;
    c.num_heads = 4;
    c.num_layers = 2;
    c.puzzle_emb_len = 2;
    c.puzzle_emb_ndim = 32;
    c.num_puzzle_identifiers = 4;
    c.h_cycles = 2;
    c.l_cycles = 2;
    c.supervision_steps = 3;
    int32_t x[N * L], y[N * L], ids[N];
    for (int i = 0; i < N * L; i++) {
        x[i] = 1 + i % 3;
        y[i] = 1 + (i * 7) % 5;
    }
    for (int i = 0; i < N; i++) ids[i] = i % 4;
    trm_dataset *data = NULL;
    MUST(trm_dataset_create(L, x, y, N * L, ids, N, &data));
    /* Both mixers: the mlp_t mixer's SwiGLU (width 11, 1,024 rows of B*D) runs fused per thread too. */
    for (int run = 0; run < 3; run++) {
        const int method = run == 1 ? TRM_METHOD_TRM : TRM_METHOD_DIS, mlp_t = run == 2;
        trm_model_config mc = c;
        MUST(trm_model_config_for_method(&mc, method));
        if (mlp_t) {
            mc.mixer = TRM_MIXER_MLP_T;
            mc.pos_encoding = TRM_POS_NONE;
        }
        trm_model *model = NULL;
        MUST(trm_model_create(&mc, 1, &model));
        trm_train_params tp;
        trm_train_params_init(&tp);
        tp.method = method;
        tp.batch_size = 32; /* 352 rows: with two threads the SwiGLU forward runs fused per thread */
        tp.ema_rate = 0.9f; /* the EMA update runs every step too */
        trm_trainer *trainer = NULL;
        MUST(trm_trainer_create(model, data, NULL, &tp, &trainer));
        trm_step_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        for (int i = 0; i < 3; i++) MUST(trm_trainer_step(trainer, &info)); /* warm-up: lazy runtime state */
        long before = allocations;
        for (int i = 0; i < 5; i++) MUST(trm_trainer_step(trainer, &info));
        report(before, 5, mlp_t ? "DIS training step, mlp_t mixer" : method == TRM_METHOD_DIS ? "DIS training step (N_sup 3)"
                                                                                     : "TRM-ACT training step");
        trm_trainer_free(trainer);

        trm_runner *runner = NULL;
        float logits[8 * L * V], q[16];
        MUST(trm_runner_create(model, 8, &runner));
        MUST(trm_runner_reset_carry(runner));
        MUST(trm_runner_step(runner, x, 8 * L, ids, 8, 1, logits, 8 * L * V, q, 16));
        before = allocations;
        for (int s = 2; s <= 4; s++) MUST(trm_runner_step(runner, x, 8 * L, ids, 8, s, logits, 8 * L * V, q, 16));
        report(before, 3, mlp_t ? "DIS inference step, mlp_t mixer" : method == TRM_METHOD_DIS ? "DIS inference step"
                                                                                       : "TRM-ACT inference step");
        trm_runner_free(runner);
        trm_model_free(model);
    }
    trm_dataset_free(data);
    printf("alloc_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
