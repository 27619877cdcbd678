/* The weights' panels that both kernels on packed weights read (gemm_avx512.c, gemm_avx2.c): n / 32 panels of
 * 32 columns of B (packed[j0 * k + p * 32 + c] = B[p, j0 + c]), then the n % 32 tail columns one after
 * another (packed[j * k + p] = B[p, j]). Plain C, so that any x86-64 CPU may pack: a copy, done once per
 * prediction or per training step. */
#include "trmdis_kernels.h"

enum { PANEL = 32 };

void trmdis_pack_nt(const float *w, ptrdiff_t n, ptrdiff_t k, float *packed) {
    const ptrdiff_t full = n - n % PANEL;
    for (ptrdiff_t j0 = 0; j0 < full; j0 += PANEL)
        for (ptrdiff_t p = 0; p < k; p++)
            for (ptrdiff_t c = 0; c < PANEL; c++) packed[j0 * k + p * PANEL + c] = w[(j0 + c) * k + p];
    for (ptrdiff_t j = full; j < n; j++)
        for (ptrdiff_t p = 0; p < k; p++) packed[j * k + p] = w[j * k + p];
}

void trmdis_pack_nn(const float *b, ptrdiff_t n, ptrdiff_t k, float *packed) {
    const ptrdiff_t full = n - n % PANEL;
    for (ptrdiff_t j0 = 0; j0 < full; j0 += PANEL)
        for (ptrdiff_t p = 0; p < k; p++)
            for (ptrdiff_t c = 0; c < PANEL; c++) packed[j0 * k + p * PANEL + c] = b[p * n + j0 + c];
    for (ptrdiff_t j = full; j < n; j++)
        for (ptrdiff_t p = 0; p < k; p++) packed[j * k + p] = b[p * n + j];
}
