/* AVX-512 twins of the SwiGLU activation and its gradient (Sources/TRMDIS/Core/Elementwise.swift; the AVX2
 * ones are in elementwise_avx2.c). Each lane repeats the Swift formula operation for operation, without
 * fused multiply-adds, so all three give the same bits: IEEE rounds a lane's product, sum or quotient the
 * same way at any vector width. A row's tail runs the same formula in a masked vector. The softmax stays
 * AVX2: its sum adds eight lanes in the Swift order, which sixteen lanes would change. */
#include "trmdis_kernels.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math_avx512.h"

int trmdis_kernels_avx512_built(void) { return 1; }

/* The first `left` lanes (0-16). */
AVX512 static inline __mmask16 tail_mask(ptrdiff_t left) { return (__mmask16)((1u << left) - 1u); }

/* act = SiLU(g) * u for sixteen lanes at j; the row's tail passes a mask of its lanes. Full vectors use plain
 * loads and stores: masked stores are slow on some AVX-512 CPUs (AMD's). */
AVX512 static inline void swiglu16(const float *g, const float *u, float *a, ptrdiff_t j, __mmask16 m, int tail) {
    __m512 gv = tail ? _mm512_maskz_loadu_ps(m, g + j) : _mm512_loadu_ps(g + j);
    __m512 uv = tail ? _mm512_maskz_loadu_ps(m, u + j) : _mm512_loadu_ps(u + j);
    __m512 av = _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv);
    if (tail) _mm512_mask_storeu_ps(a + j, m, av); else _mm512_storeu_ps(a + j, av);
}

AVX512 void trmdis_swiglu_avx512(const float *gate_up, float *act, ptrdiff_t inner, ptrdiff_t row_begin,
                                 ptrdiff_t row_end) {
    for (ptrdiff_t r = row_begin; r < row_end; r++) {
        const float *g = gate_up + r * 2 * inner, *u = g + inner;
        float *a = act + r * inner;
        ptrdiff_t j = 0;
        for (; j + 16 <= inner; j += 16) swiglu16(g, u, a, j, 0xFFFF, 0);
        if (j < inner) swiglu16(g, u, a, j, tail_mask(inner - j), 1);
    }
}

/* dU = dAct * SiLU(g), dG = dAct * u * s * (1 + g * (1 - s)) for sixteen lanes at j, as swiglu16. The Swift
 * version computes a row's last inner % 8 values one by one, with dU as dAct * (g * s) rather than its vector
 * form (dAct * g) * s: the lanes in `scalar_lanes` take that form, so that every value keeps its bits. */
AVX512 static inline void swiglu_backward16(const float *g, const float *u, const float *da, float *dg, float *du,
                                            ptrdiff_t j, __mmask16 m, int tail, __mmask16 scalar_lanes) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 gv = tail ? _mm512_maskz_loadu_ps(m, g + j) : _mm512_loadu_ps(g + j);
    __m512 uv = tail ? _mm512_maskz_loadu_ps(m, u + j) : _mm512_loadu_ps(u + j);
    __m512 dav = tail ? _mm512_maskz_loadu_ps(m, da + j) : _mm512_loadu_ps(da + j);
    __m512 s = sigmoid16(gv);
    __m512 duv = _mm512_mul_ps(_mm512_mul_ps(dav, gv), s);
    __m512 slope = _mm512_add_ps(one, _mm512_mul_ps(gv, _mm512_sub_ps(one, s)));
    __m512 dgv = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dav, uv), s), slope);
    if (tail) {
        duv = _mm512_mask_blend_ps(scalar_lanes, duv, _mm512_mul_ps(dav, _mm512_mul_ps(gv, s)));
        _mm512_mask_storeu_ps(du + j, m, duv);
        _mm512_mask_storeu_ps(dg + j, m, dgv);
    } else {
        _mm512_storeu_ps(du + j, duv);
        _mm512_storeu_ps(dg + j, dgv);
    }
}

AVX512 void trmdis_swiglu_backward_avx512(const float *gate_up, const float *d_act, float *d_gate_up, ptrdiff_t inner,
                                          ptrdiff_t row_begin, ptrdiff_t row_end) {
    const ptrdiff_t vector_end = inner - inner % 8;  /* where the Swift version's one-by-one tail starts */
    for (ptrdiff_t r = row_begin; r < row_end; r++) {
        const float *g = gate_up + r * 2 * inner, *u = g + inner, *da = d_act + r * inner;
        float *dg = d_gate_up + r * 2 * inner, *du = dg + inner;
        ptrdiff_t j = 0;
        for (; j + 16 <= inner; j += 16) swiglu_backward16(g, u, da, dg, du, j, 0xFFFF, 0, 0);
        if (j < inner) {
            const __mmask16 m = tail_mask(inner - j);
            const __mmask16 scalar_lanes = (__mmask16)(m & ~tail_mask(vector_end - j));
            swiglu_backward16(g, u, da, dg, du, j, m, 1, scalar_lanes);
        }
    }
}

#else

int trmdis_kernels_avx512_built(void) { return 0; }

#endif
