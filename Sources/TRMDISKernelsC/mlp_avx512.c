/* The first half of the `mlp_t` mixer's SwiGLU on AVX-512 without gate_up in memory (docs/performance.md, "The
 * mixer in one pass on AVX2", its AVX-512 twin): act = SiLU(x W_g^T) * (x W_u^T) for a pass of rows, W_gu packed by
 * trmdis_pack_nt (gemm_pack.c) as trmdis_sgemm_packed reads it. A 14-row tile takes 16 columns of the gate and the
 * matching 16 of the up branch (halves of two 32-column panels) in 28 of the 32 zmm registers, forms the
 * activation there and stores it; gate_up is stored too only where a backward follows. Each gate_up value is
 * trmdis_sgemm_packed's (the same fused multiply-adds in the same order from zero), and the activation repeats
 * Elementwise.swiGLU's operations, so the result is the bits of that product followed by the activation. */
#include "trmdis_kernels.h"

/* The activation rounds as the Swift version does; the products use explicit fused multiply-adds. */
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math_avx512.h"

#define MLP512 __attribute__((target("avx512f,fma")))
#define MLP512_INLINE __attribute__((target("avx512f,fma"), always_inline)) static inline

enum { TILE_ROWS = 14, PANEL = 32, HALF = 16 };

int trmdis_mlp_avx512_built(void) { return 1; }

/* Rows 0..h-1 (h constant after inlining) of x against 16 gate columns (`gate`, a half-panel) and the matching
 * up columns (`up`): the activation into act (row stride ld_act), gate and up into gate_up (row stride 2 * inner)
 * unless it is NULL. */
MLP512_INLINE void gate_up_tile(const int h, const float *x, ptrdiff_t width, const float *gate, const float *up,
                                float *act, ptrdiff_t ld_act, float *gate_up, ptrdiff_t inner) {
    __m512 g[TILE_ROWS], u[TILE_ROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++) g[i] = u[i] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < width; p++) {
        const __m512 bg = _mm512_loadu_ps(gate + p * PANEL), bu = _mm512_loadu_ps(up + p * PANEL);
#pragma clang loop unroll(full)
        for (int i = 0; i < TILE_ROWS; i++)
            if (i < h) {
                const __m512 a = _mm512_set1_ps(x[i * width + p]);
                g[i] = _mm512_fmadd_ps(a, bg, g[i]);
                u[i] = _mm512_fmadd_ps(a, bu, u[i]);
            }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++)
        if (i < h) {
            _mm512_storeu_ps(act + i * ld_act, _mm512_mul_ps(_mm512_mul_ps(g[i], sigmoid16(g[i])), u[i]));
            if (gate_up) {
                _mm512_storeu_ps(gate_up + i * 2 * inner, g[i]);
                _mm512_storeu_ps(gate_up + i * 2 * inner + inner, u[i]);
            }
        }
}

/* The tile for h rows, 1-14: each height its own unrolled copy. */
MLP512 static void gate_up_tile_rows(int h, const float *x, ptrdiff_t width, const float *gate, const float *up,
                                     float *act, ptrdiff_t ld_act, float *gate_up, ptrdiff_t inner) {
    switch (h) {
#define TILE(rows) case rows: gate_up_tile(rows, x, width, gate, up, act, ld_act, gate_up, inner); break;
    TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) TILE(13)
    TILE(14)
#undef TILE
    default: break;
    }
}

MLP512 void trmdis_mlp_gate_up_avx512(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner, const float *x,
                                      const float *packed, float *act, float *gate_up) {
    /* Half-panel by half-panel: its 2 x 16 columns of weights (2 x 6 KiB for Sudoku) stay in L1 while the pass's
     * rows (56 x 97 floats, 21 KiB) go by. */
    for (ptrdiff_t c = 0; c < inner; c += HALF) {
        const float *gate = packed + (c - c % PANEL) * width + c % PANEL;
        const float *up = packed + (inner + c - c % PANEL) * width + c % PANEL;
        for (ptrdiff_t i = 0; i < rows; i += TILE_ROWS) {
            const int h = rows - i < TILE_ROWS ? (int)(rows - i) : TILE_ROWS;
            gate_up_tile_rows(h, x + i * width, width, gate, up, act + i * inner + c, inner,
                              gate_up ? gate_up + i * 2 * inner + c : NULL, inner);
        }
    }
}

#else

int trmdis_mlp_avx512_built(void) { return 0; }
void trmdis_mlp_gate_up_avx512(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner, const float *x, const float *packed,
                               float *act, float *gate_up) {
    (void)rows; (void)width; (void)inner; (void)x; (void)packed; (void)act; (void)gate_up;
}

#endif
