/* trmdis_sgemm_packed's twin for CPUs with AVX2 and FMA but no AVX-512 (the Zen 3 of docs/performance.md):
 * C (+)= A * B with B (a layer's weights) packed once into the 32-column panels of gemm_pack.c, for inference
 * on a few puzzles (docs/performance.md, "Batch 1 on packed weights"). A tile keeps 6 rows x 16 columns of C
 * in 12 of the 16 AVX registers, two more hold the panel's half row and one A's broadcast value (the 6 x 16
 * block of BLIS's and OpenBLAS's Haswell kernels); a 32-column panel is two such halves, each a 64-byte line
 * of the panel per k. Fused multiply-adds in one order per element: the same bits for any split of the
 * columns, other bits than OpenBLAS's or the AVX-512 kernel's in the last places. */
#include "trmdis_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define GEMM2 __attribute__((target("avx2,fma")))
#define GEMM2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

enum { TILE_ROWS = 6, HALF = 16, PANEL = 32, ROW_BLOCK_FLOATS = 32768 };

int trmdis_gemm_avx2_built(void) { return 1; }

/* C[i, 0:16] (+)= sum_p A[i, p] * b[p * 32 + 0:16] for the first h (constant after inlining) of 6 rows. */
GEMM2_INLINE void half_tile(const int h, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t k, float *c,
                            ptrdiff_t ldc, int accumulate) {
    __m256 acc[TILE_ROWS][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_loadu_ps(b + p * PANEL), b1 = _mm256_loadu_ps(b + p * PANEL + 8);
#pragma clang loop unroll(full)
        for (int i = 0; i < TILE_ROWS; i++)
            if (i < h) {
                const __m256 ai = _mm256_broadcast_ss(a + i * lda + p);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++)
        if (i < h) {
            float *ci = c + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]);
                acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]);
            }
            _mm256_storeu_ps(ci, acc[i][0]);
            _mm256_storeu_ps(ci + 8, acc[i][1]);
        }
}

/* The tile for h rows, 1-6: each height its own unrolled copy. */
GEMM2 static void half_tile_rows(int h, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t k, float *c,
                                 ptrdiff_t ldc, int accumulate) {
    switch (h) {
#define HALF_TILE(rows) case rows: half_tile(rows, a, lda, b, k, c, ldc, accumulate); break;
    HALF_TILE(1) HALF_TILE(2) HALF_TILE(3) HALF_TILE(4) HALF_TILE(5) HALF_TILE(6)
#undef HALF_TILE
    default: break;
    }
}

/* sum_p a[p] * b[p]: eight lanes of products, then their sum. */
GEMM2 static float dot(const float *a, const float *b, ptrdiff_t k) {
    __m256 s = _mm256_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 8 <= k; p += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s);
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    float sum = _mm_cvtss_f32(q);
    for (; p < k; p++) sum += a[p] * b[p];
    return sum;
}

GEMM2 void trmdis_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                    const float *packed, float *c, ptrdiff_t ldc, int accumulate) {
    /* Blocks of A's rows of at most 128 KiB, which stay in L2 while every panel passes them (fewer blocks, fewer
     * passes of the weights: at 194-512 rows up to 6% faster than blocks of 48 rows), of equal size in whole
     * tiles: at k 512, 97 rows are 54 + 43, not 64 + 33. */
    const ptrdiff_t most = k > 0 && ROW_BLOCK_FLOATS / k > TILE_ROWS ? ROW_BLOCK_FLOATS / k : TILE_ROWS;
    const ptrdiff_t blocks = (m + most - 1) / most, per_block = blocks ? (m + blocks - 1) / blocks : 0;
    const ptrdiff_t row_block = (per_block + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS, full = n - n % PANEL;
    for (ptrdiff_t i0 = 0; i0 < m; i0 += row_block) {
        const ptrdiff_t rows = m - i0 < row_block ? m - i0 : row_block;
        for (ptrdiff_t j0 = 0; j0 < full; j0 += PANEL)
            for (ptrdiff_t half = 0; half < PANEL; half += HALF)
                for (ptrdiff_t i = 0, h; i < rows; i += h) {
                    /* 7-11 rows left run as two tiles of 3-6: a tile of 1 or 2 rows has too few
                     * accumulators to hide the multiply-adds' latency. */
                    const ptrdiff_t left = rows - i;
                    h = left >= 2 * TILE_ROWS ? TILE_ROWS : left > TILE_ROWS ? (left + 1) / 2 : left;
                    half_tile_rows((int)h, a + (i0 + i) * lda, lda, packed + j0 * k + half, k,
                                   c + (i0 + i) * ldc + j0 + half, ldc, accumulate);
                }
        /* The tail columns: one dot product per row. */
        for (ptrdiff_t j = full; j < n; j++)
            for (ptrdiff_t i = i0; i < i0 + rows; i++) {
                const float d = dot(a + i * lda, packed + j * k, k);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + d : d;
            }
    }
}

#else

int trmdis_gemm_avx2_built(void) { return 0; }
void trmdis_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                              const float *packed, float *c, ptrdiff_t ldc, int accumulate) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)c; (void)ldc; (void)accumulate;
}

#endif
