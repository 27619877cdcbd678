/* Two matrix products for the shapes where OpenBLAS 0.3.21 runs far below its peak: one side as small as the
 * `mlp_t` token mixer's sequence length (97 for Sudoku). Both keep a 14 x 32 block of C in 28 AVX-512
 * registers and stream the large operand in its own row-major layout, unpacked (docs/performance.md, "The
 * `mlp_t` mixer's products"):
 *   trmdis_sgemm_packed: C (+)= A * B with B (the weights) packed once into panels of 32 columns (gemm_pack.c),
 *     which sit in L1 or L2 while A's rows stream past, unpacked; B's last n % 32 columns by dot products.
 *     OpenBLAS packs A instead, and with 97 columns (or 97 inner products) each packed value buys only 97
 *     multiply-adds.
 *   trmdis_sgemm_tn_rows: C += X^T * Y summed over many rows (a weight gradient), X's row giving 14 values to
 *     broadcast and Y's row 32 to multiply, in blocks of rows that stay in L2.
 * Fused multiply-adds: the results differ from OpenBLAS's in the last bits, as OpenBLAS's own cores do. */
#include "trmdis_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define GEMM512 __attribute__((target("avx512f,fma")))
#define GEMM512_INLINE __attribute__((target("avx512f,fma"), always_inline)) static inline

enum { TILE_ROWS = 14, PANEL = 32, ROW_BLOCK = 128 };

int trmdis_gemm_avx512_built(void) { return 1; }

/* C[i, 0:32] (+)= sum_p A[i, p] * panel[p, 0:32] for the first h (constant after inlining) of 14 rows. */
GEMM512_INLINE void packed_tile(const int h, const float *a, ptrdiff_t lda, const float *panel, ptrdiff_t k, float *c,
                                ptrdiff_t ldc, int accumulate) {
    __m512 acc[TILE_ROWS][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        const __m512 b0 = _mm512_loadu_ps(panel + p * PANEL), b1 = _mm512_loadu_ps(panel + p * PANEL + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < TILE_ROWS; i++)
            if (i < h) {
                const __m512 ai = _mm512_set1_ps(a[i * lda + p]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++)
        if (i < h) {
            float *ci = c + i * ldc;
            if (accumulate) {
                acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]);
                acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]);
            }
            _mm512_storeu_ps(ci, acc[i][0]);
            _mm512_storeu_ps(ci + 16, acc[i][1]);
        }
}

/* The tile for h rows, 1-14: each height its own unrolled copy. */
GEMM512 static void packed_tile_rows(int h, const float *a, ptrdiff_t lda, const float *panel, ptrdiff_t k, float *c,
                                     ptrdiff_t ldc, int accumulate) {
    switch (h) {
#define PACKED_TILE(rows) case rows: packed_tile(rows, a, lda, panel, k, c, ldc, accumulate); break;
    PACKED_TILE(1) PACKED_TILE(2) PACKED_TILE(3) PACKED_TILE(4) PACKED_TILE(5) PACKED_TILE(6) PACKED_TILE(7)
    PACKED_TILE(8) PACKED_TILE(9) PACKED_TILE(10) PACKED_TILE(11) PACKED_TILE(12) PACKED_TILE(13) PACKED_TILE(14)
#undef PACKED_TILE
    default: break;
    }
}

/* sum_p a[p] * b[p]: sixteen lanes of products, then their sum. */
GEMM512 static float dot(const float *a, const float *b, ptrdiff_t k) {
    __m512 s = _mm512_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 16 <= k; p += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), s);
    float sum = _mm512_reduce_add_ps(s);
    for (; p < k; p++) sum += a[p] * b[p];
    return sum;
}

GEMM512 void trmdis_sgemm_packed(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                 const float *packed, float *c, ptrdiff_t ldc, int accumulate) {
    /* Blocks of panels of at most 512 KiB stay in L2 while 56 rows of A at a time (in L1 at k 97, in L2 at k
     * 1,024) pass every panel of the block. All of B in one block where it fits (the mixer's weights, batch 1);
     * at training's thousands of rows and B of megabytes, a panel read from L3 once per 56 rows ran at 83-88
     * GFLOP/s on one core of the Zen 4 against 96-98 in blocks (docs/performance.md, "Training on packed
     * weights"). */
    const ptrdiff_t full = n - n % PANEL, row_block = 4 * TILE_ROWS;
    const ptrdiff_t block_panels = k > 0 && (1 << 17) / (PANEL * k) > 1 ? (1 << 17) / (PANEL * k) : 1;
    for (ptrdiff_t b0 = 0; b0 < full; b0 += block_panels * PANEL) {
        const ptrdiff_t b1 = full - b0 < block_panels * PANEL ? full : b0 + block_panels * PANEL;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += row_block) {
            const ptrdiff_t rows = m - i0 < row_block ? m - i0 : row_block;
            for (ptrdiff_t j0 = b0; j0 < b1; j0 += PANEL)
                for (ptrdiff_t i = 0; i < rows; i += TILE_ROWS) {
                    const int h = rows - i < TILE_ROWS ? (int)(rows - i) : TILE_ROWS;
                    packed_tile_rows(h, a + (i0 + i) * lda, lda, packed + j0 * k, k, c + (i0 + i) * ldc + j0, ldc,
                                     accumulate);
                }
        }
    }
    /* The tail columns (97 = 3 * 32 + 1): one dot product per row, a few per cent of the work. */
    for (ptrdiff_t j = full; j < n; j++)
        for (ptrdiff_t i = 0; i < m; i++) {
            const float d = dot(a + i * lda, packed + j * k, k);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + d : d;
        }
}

/* C[i, 0:32] += sum_{p < rows} X[p, i] * Y[p, 0:32] for the first h of 14 values of i. */
GEMM512_INLINE void tn_tile(const int h, const float *x, ptrdiff_t ldx, const float *y, ptrdiff_t ldy, ptrdiff_t rows,
                            float *c, ptrdiff_t ldc) {
    __m512 acc[TILE_ROWS][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < rows; p++) {
        const float *yp = y + p * ldy, *xp = x + p * ldx;
        const __m512 y0 = _mm512_loadu_ps(yp), y1 = _mm512_loadu_ps(yp + 16);
        _mm_prefetch((const char *)(yp + 8 * ldy), _MM_HINT_T0);
        _mm_prefetch((const char *)(yp + 8 * ldy + 16), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int i = 0; i < TILE_ROWS; i++)
            if (i < h) {
                const __m512 xi = _mm512_set1_ps(xp[i]);
                acc[i][0] = _mm512_fmadd_ps(xi, y0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(xi, y1, acc[i][1]);
            }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < TILE_ROWS; i++)
        if (i < h) {
            float *ci = c + i * ldc;
            _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]));
            _mm512_storeu_ps(ci + 16, _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]));
        }
}

GEMM512 static void tn_tile_rows(int h, const float *x, ptrdiff_t ldx, const float *y, ptrdiff_t ldy, ptrdiff_t rows,
                                 float *c, ptrdiff_t ldc) {
    switch (h) {
#define TN_TILE(n) case n: tn_tile(n, x, ldx, y, ldy, rows, c, ldc); break;
    TN_TILE(1) TN_TILE(2) TN_TILE(3) TN_TILE(4) TN_TILE(5) TN_TILE(6) TN_TILE(7)
    TN_TILE(8) TN_TILE(9) TN_TILE(10) TN_TILE(11) TN_TILE(12) TN_TILE(13) TN_TILE(14)
#undef TN_TILE
    default: break;
    }
}

GEMM512 void trmdis_sgemm_tn_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t rows, const float *x, ptrdiff_t ldx,
                                  const float *y, ptrdiff_t ldy, float *c, ptrdiff_t ldc) {
    for (ptrdiff_t p0 = 0; p0 < rows; p0 += ROW_BLOCK) {
        const ptrdiff_t block = rows - p0 < ROW_BLOCK ? rows - p0 : ROW_BLOCK;
        for (ptrdiff_t j0 = 0; j0 < n; j0 += PANEL)
            for (ptrdiff_t i = 0; i < m; i += TILE_ROWS) {
                const int h = m - i < TILE_ROWS ? (int)(m - i) : TILE_ROWS;
                tn_tile_rows(h, x + p0 * ldx + i, ldx, y + p0 * ldy + j0, ldy, block, c + i * ldc + j0, ldc);
            }
    }
}

#else

int trmdis_gemm_avx512_built(void) { return 0; }

#endif
