/* The CPU feature probe (cpu_features.c), and AVX2 (and, for SwiGLU, AVX-512) twins of the engine's elementwise
 * row kernels (Sources/TRMDIS/Core/Elementwise.swift) and of the batched transpose's row kernel
 * (Core/Kernels.swift), compiled for their instruction set function by function (a target attribute, no build
 * flag), so the rest of the library still runs on any x86-64. The engine calls them only on a CPU with that
 * instruction set (AVX2 with FMA, or AVX-512). Each repeats the Swift
 * version's operations in the same order without fused multiply-adds, so both give the same bits. Not part
 * of the C API (Include/trmdis.h): internal to the engine. */
#ifndef TRMDIS_KERNELS_H
#define TRMDIS_KERNELS_H

#include <stddef.h>

/* The CPU's vector instruction sets (cpu_features.c): CPUID's flags, counted only where the operating system
 * saves the registers (XGETBV). 0 on other architectures. */
#define TRMDIS_CPU_AVX2_FMA 1u    /* AVX2 and FMA */
#define TRMDIS_CPU_AVX512 2u      /* AVX-512 F, DQ, BW and VL */
#define TRMDIS_CPU_AVX512_BF16 4u /* AVX-512 BF16 (OpenBLAS's Cooperlake kernels) */
unsigned int trmdis_cpu_features(void);

/* The CPUs this process may use: its affinity mask, within its cgroup's CPU quota (available_cpus.c). */
int trmdis_available_cpus(void);
/* The CPU quota of this process's cgroup under `root` (normally /sys/fs/cgroup), rounded up; 0 for none. */
int trmdis_cgroup_cpu_quota(const char *root);

/* 1 when this build has the AVX2 kernels (an x86-64 compiler), 0 elsewhere (the functions are then absent). */
int trmdis_kernels_avx2_built(void);

/* p <- softmax(p) over n values. */
void trmdis_softmax_row_avx2(float *p, ptrdiff_t n);

/* act[r, j] = SiLU(gate[r, j]) * up[r, j] for rows [row_begin, row_end), gate_up holding [rows, 2*inner]
 * (the gate half first). */
void trmdis_swiglu_avx2(const float *gate_up, float *act, ptrdiff_t inner, ptrdiff_t row_begin, ptrdiff_t row_end);

/* The gradient of act = SiLU(g)*u for rows [row_begin, row_end): dU = dAct*SiLU(g), dG = dAct*u*s*(1 + g*(1 - s))
 * with s = sigmoid(g). d_gate_up may be gate_up itself. */
void trmdis_swiglu_backward_avx2(const float *gate_up, const float *d_act, float *d_gate_up, ptrdiff_t inner,
                                 ptrdiff_t row_begin, ptrdiff_t row_end);

/* 1 when this build has the AVX-512 twins of the two SwiGLU kernels above (elementwise_avx512.c), 0 elsewhere.
 * The engine calls them only on a CPU with AVX-512 (TRMDIS_CPU_AVX512). Same arguments, same bits. */
int trmdis_kernels_avx512_built(void);
void trmdis_swiglu_avx512(const float *gate_up, float *act, ptrdiff_t inner, ptrdiff_t row_begin, ptrdiff_t row_end);
void trmdis_swiglu_backward_avx512(const float *gate_up, const float *d_act, float *d_gate_up, ptrdiff_t inner,
                                   ptrdiff_t row_begin, ptrdiff_t row_end);

/* The mixer-shape products of gemm_avx512.c, for a CPU with AVX-512; 1 when this build has them. Row-major. */
int trmdis_gemm_avx512_built(void);
/* packed <- B [k, n] in panels of 32 columns, then its n % 32 last columns: from w [n, k] (B = w^T, pack_nt) or
 * from b [k, n] (pack_nn). n * k floats. Plain C (gemm_pack.c): any CPU. */
void trmdis_pack_nt(const float *w, ptrdiff_t n, ptrdiff_t k, float *packed);
void trmdis_pack_nn(const float *b, ptrdiff_t n, ptrdiff_t k, float *packed);
/* c [m, n] = a [m, k] * B (accumulate 0) or c += a * B (accumulate 1), B packed as above. */
void trmdis_sgemm_packed(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, const float *packed,
                         float *c, ptrdiff_t ldc, int accumulate);
/* trmdis_sgemm_packed for a CPU with AVX2 and FMA (gemm_avx2.c; 1 when this build has it): the same panels,
 * other tiles, so other bits in the last places. */
int trmdis_gemm_avx2_built(void);
void trmdis_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                              const float *packed, float *c, ptrdiff_t ldc, int accumulate);
/* c [m, n] += x^T * y over `rows` rows of x [rows, m] and y [rows, n]; n a multiple of 32. */
void trmdis_sgemm_tn_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t rows, const float *x, ptrdiff_t ldx, const float *y,
                          ptrdiff_t ldy, float *c, ptrdiff_t ldc);

/* The `mlp_t` mixer's whole SwiGLU MLP for a CPU with AVX2 and FMA (mlp_avx2.c; 1 when this build has it):
 * out [rows, width] = (SiLU(x W_g^T) * (x W_u^T)) W_down^T for x [rows, width], W_gu [2 * inner, width] (the gate's
 * rows first) and W_down [width, inner], both packed by trmdis_mlp_pack (plain C) into trmdis_mlp_packed_count
 * floats; gate_up [rows, 2 * inner] = x W_gu^T is written too unless it is NULL. scratch: trmdis_mlp_scratch_count
 * floats, one per calling thread. Row-major, contiguous rows. */
int trmdis_mlp_avx2_built(void);
ptrdiff_t trmdis_mlp_packed_count(ptrdiff_t width, ptrdiff_t inner);
ptrdiff_t trmdis_mlp_scratch_count(ptrdiff_t width, ptrdiff_t inner);
void trmdis_mlp_pack(const float *w_gate_up, const float *w_down, ptrdiff_t width, ptrdiff_t inner, float *packed);
void trmdis_mlp_swiglu_avx2(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner, const float *x, const float *packed,
                            float *out, float *gate_up, float *scratch);

/* The first half of that MLP on AVX-512 (mlp_avx512.c; 1 when this build has it): act [rows, inner] = SiLU(x W_g^T)
 * * (x W_u^T) for x [rows, width], W_gu packed by trmdis_pack_nt (n = 2 * inner, k = width); inner a multiple of
 * 32. gate_up [rows, 2 * inner] written too unless it is NULL. The bits of trmdis_sgemm_packed followed by
 * trmdis_swiglu_avx512. */
int trmdis_mlp_avx512_built(void);
void trmdis_mlp_gate_up_avx512(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner, const float *x, const float *packed,
                               float *act, float *gate_up);

/* dst[c * rows + r] = src[r * cols + c] for r in [row_begin, row_end) and every c: rows of one src [rows, cols]
 * matrix written as columns of dst [cols, rows]. A copy, so the same bits as any other order. */
void trmdis_transpose_rows_avx2(const float *src, float *dst, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t row_begin,
                                ptrdiff_t row_end);

/* A hint inside a spin-wait loop (x86 PAUSE): the core slows the loop down, frees resources for a sibling
 * hyper-thread, and a hypervisor can see the spin and run another virtual CPU of the guest. */
static inline void trmdis_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
