/* libtrmdis in a process that uses OpenBLAS itself (linked with -l:libopenblas.so.0). The engine does not link
 * OpenBLAS; finding the host's already loaded, it loads a private copy of it (docs/engine.md), so that its
 * own setting, one OpenBLAS thread per call, never changes the host's. Checked: the host's thread count and
 * products are untouched by a network step of the engine, which runs on a copy of the same file. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trmdis.h"

/* OpenBLAS's own calls, declared here so that the test needs no OpenBLAS header. */
void openblas_set_num_threads(int threads);
int openblas_get_num_threads(void);
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

static int failed = 0;
#define EXPECT(cond, ...)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "host_blas_test: FAILED %s: ", #cond);              \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, " (%s)\n", trm_last_error());                       \
            failed++;                                                           \
        }                                                                       \
    } while (0)

/* The host's own 2x2 product, row-major: [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50]. */
static int host_product_is_right(void) {
    const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    float c[4] = {0, 0, 0, 0};
    cblas_sgemm(101, 111, 111, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    return c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50;
}

int main(void) {
    openblas_set_num_threads(3);
    EXPECT(openblas_get_num_threads() == 3, "the host's OpenBLAS takes 3 threads");
    EXPECT(host_product_is_right(), "the host's product before the engine");

    trm_blas_info info = {.struct_size = sizeof info};
    /* A warning only where the user forced a core (OPENBLAS_CORETYPE, kept and warned about if below the CPU). */
    EXPECT(trm_get_blas_info(&info) == TRM_OK && info.library[0] != '\0' && (!info.warning || info.core_from_environment),
           "the engine's BLAS");

    trm_model_config cfg;
    trm_model *model = NULL;
    trm_runner *runner = NULL;
    EXPECT(trm_model_config_preset("nqueens", &cfg) == TRM_OK, "preset");
    cfg.hidden_size = 64;
    cfg.num_heads = 2;
    EXPECT(trm_model_create(&cfg, 1, &model) == TRM_OK, "model");
    EXPECT(model && trm_runner_create(model, 1, &runner) == TRM_OK, "runner");
    if (runner) {
        int32_t tokens[64];
        float logits[64 * 3], q_logits[2];
        for (int i = 0; i < cfg.seq_len && i < 64; i++) tokens[i] = i % cfg.vocab_size;
        EXPECT(trm_runner_reset_carry(runner) == TRM_OK, "reset");
        EXPECT(trm_runner_step(runner, tokens, (size_t)cfg.seq_len, NULL, 0, 1, logits,
                               (size_t)cfg.seq_len * (size_t)cfg.vocab_size, q_logits, 2) == TRM_OK, "a network step");
        int finite = 1;
        for (int i = 0; i < cfg.seq_len * cfg.vocab_size; i++) finite &= logits[i] == logits[i];
        EXPECT(finite, "the step's logits are numbers");
    }
    trm_runner_free(runner);
    trm_model_free(model);

    EXPECT(openblas_get_num_threads() == 3, "the host's OpenBLAS still has 3 threads, has %d",
           openblas_get_num_threads());
    EXPECT(host_product_is_right(), "the host's product after the engine");
    printf("host_blas_test: the host's OpenBLAS kept its 3 threads; the engine ran on %s (core %s): %d failed\n",
           info.library, info.core, failed);
    return failed ? 1 : 0;
}
