/* The AVX2 twins of Sources/TRMDIS/Core/Elementwise.swift, and the row kernel of Kernels.transpose (see
 * include/trmdis_kernels.h). Every arithmetic expression mirrors the Swift one operation for operation:
 * a*b + c is a multiply then an add (two roundings, as Swift computes it), sums run lane by lane in the same
 * order, and a scalar tail uses lane 0 of the vector formula. */
#include "trmdis_kernels.h"

/* Never fuse a*b + c into one rounding: the Swift versions round twice. */
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math_avx2.h"

int trmdis_kernels_avx2_built(void) { return 1; }

AVX2 void trmdis_softmax_row_avx2(float *p, ptrdiff_t n) {
    float m = -__builtin_inff();
    ptrdiff_t j = 0;
    if (n >= 8) {
        __m256 mv = _mm256_loadu_ps(p);
        for (j = 8; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(p + j));
        float lanes[8];
        _mm256_storeu_ps(lanes, mv);
        m = lanes[0];
        for (int i = 1; i < 8; i++) m = lanes[i] > m ? lanes[i] : m;
    }
    for (; j < n; j++) m = p[j] > m ? p[j] : m;
    const __m256 mv = _mm256_set1_ps(m);
    __m256 sv = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), mv));
        _mm256_storeu_ps(p + j, e);
        sv = _mm256_add_ps(sv, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sv);
    float sum = -0.0f;  /* SIMD.sum(): -0 + lane 0 + lane 1 + ... in order */
    for (int i = 0; i < 8; i++) sum += lanes[i];
    for (; j < n; j++) {
        float e = _mm256_cvtss_f32(exp8(_mm256_set1_ps(p[j] - m)));
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (ptrdiff_t i = 0; i < n; i++) p[i] *= inv;
}

AVX2 void trmdis_swiglu_avx2(const float *gate_up, float *act, ptrdiff_t inner, ptrdiff_t row_begin, ptrdiff_t row_end) {
    for (ptrdiff_t r = row_begin; r < row_end; r++) {
        const float *g = gate_up + r * 2 * inner, *u = g + inner;
        float *a = act + r * inner;
        ptrdiff_t j = 0;
        for (; j + 8 <= inner; j += 8) {
            __m256 gv = _mm256_loadu_ps(g + j);
            _mm256_storeu_ps(a + j, _mm256_mul_ps(_mm256_mul_ps(gv, sigmoid8(gv)), _mm256_loadu_ps(u + j)));
        }
        for (; j < inner; j++) a[j] = g[j] * sigmoid1(g[j]) * u[j];
    }
}

AVX2 void trmdis_swiglu_backward_avx2(const float *gate_up, const float *d_act, float *d_gate_up, ptrdiff_t inner,
                                      ptrdiff_t row_begin, ptrdiff_t row_end) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (ptrdiff_t r = row_begin; r < row_end; r++) {
        const float *g = gate_up + r * 2 * inner, *u = g + inner, *da = d_act + r * inner;
        float *dg = d_gate_up + r * 2 * inner, *du = dg + inner;
        ptrdiff_t j = 0;
        for (; j + 8 <= inner; j += 8) {
            __m256 gv = _mm256_loadu_ps(g + j), uv = _mm256_loadu_ps(u + j), dav = _mm256_loadu_ps(da + j);
            __m256 s = sigmoid8(gv);
            _mm256_storeu_ps(du + j, _mm256_mul_ps(_mm256_mul_ps(dav, gv), s));
            __m256 slope = _mm256_add_ps(one, _mm256_mul_ps(gv, _mm256_sub_ps(one, s)));
            _mm256_storeu_ps(dg + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dav, uv), s), slope));
        }
        for (; j < inner; j++) {
            float gj = g[j], uj = u[j], s = sigmoid1(gj), silu = gj * s;
            du[j] = da[j] * silu;
            dg[j] = da[j] * uj * s * (1 + gj * (1 - s));
        }
    }
}

/* The 8x8 block at s (row stride ls) written transposed at d (row stride ld): three shuffle stages in registers. */
AVX2 static inline void transpose8x8(const float *s, ptrdiff_t ls, float *d, ptrdiff_t ld) {
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ls), r2 = _mm256_loadu_ps(s + 2 * ls),
           r3 = _mm256_loadu_ps(s + 3 * ls), r4 = _mm256_loadu_ps(s + 4 * ls), r5 = _mm256_loadu_ps(s + 5 * ls),
           r6 = _mm256_loadu_ps(s + 6 * ls), r7 = _mm256_loadu_ps(s + 7 * ls);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ld, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}

AVX2 void trmdis_transpose_rows_avx2(const float *src, float *dst, ptrdiff_t rows, ptrdiff_t cols,
                                     ptrdiff_t row_begin, ptrdiff_t row_end) {
    ptrdiff_t r = row_begin;
    for (; r + 8 <= row_end; r += 8) {
        ptrdiff_t c = 0;
        for (; c + 8 <= cols; c += 8) transpose8x8(src + r * cols + c, cols, dst + c * rows + r, rows);
        for (; c < cols; c++)
            for (ptrdiff_t k = 0; k < 8; k++) dst[c * rows + r + k] = src[(r + k) * cols + c];
    }
    for (; r < row_end; r++)
        for (ptrdiff_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

#else

int trmdis_kernels_avx2_built(void) { return 0; }

#endif
