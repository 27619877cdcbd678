/* e^x and the sigmoid on sixteen lanes, shared by the AVX-512 kernels (elementwise_avx512.c, mlp_avx512.c): each
 * lane repeats Sources/TRMDIS/Core/VectorMath.swift's formula operation for operation, with no fused
 * multiply-add, so every file that includes this computes the Swift versions' bits. Include it only after
 * `#pragma STDC FP_CONTRACT OFF` and <immintrin.h>, on x86-64. */
#ifndef TRMDIS_VECTOR_MATH_AVX512_H
#define TRMDIS_VECTOR_MATH_AVX512_H

#define AVX512 __attribute__((target("avx512f")))

/* e^x = 2^n * p(r): Elementwise.exp, sixteen lanes. */
AVX512 static inline __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.7f);
    __m512 c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), x, lo);
    c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, hi, _CMP_GT_OQ), c, hi);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(c, _mm512_set1_ps(1.44269504f)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(c, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.1219444e-4f)));
    __m512 p = _mm512_set1_ps(1.98756915e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000 - 127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* 1 / (1 + e^-x): Elementwise.sigmoid. */
AVX512 static inline __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 negated = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000)));
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(negated)));
}

#endif
