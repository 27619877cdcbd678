/* The `mlp_t` token mixer's SwiGLU MLP in one pass over a block of rows, for a CPU with AVX2 and FMA but no
 * AVX-512 (docs/performance.md, "The mixer in one pass on AVX2"): out = (SiLU(x W_g^T) * (x W_u^T)) W_down^T.
 * Run product by product, gate_up ([rows, 2 * inner], 3 KiB a row for Sudoku) goes to memory and comes back for
 * the activation; here a 6 x 8 tile of the gate and the matching tile of the up branch sit in 12 of the 16 AVX
 * registers, the activation is taken there, and only the activation's block (48 rows, in L2) is written, in
 * the layout the down product reads: 6 rows' values side by side for each inner index. The down product then
 * keeps a 6 x 16 tile of out in 12 registers over a 16-column panel of W_down^T, in L1 while the block's tiles
 * pass it. gate_up is written too where the backward needs it.
 * Fused multiply-adds in one order per element, whatever the block: the same bits for any split of the rows.
 * The activation mirrors Elementwise.swiGLU operation for operation, so the backward, which recomputes it from
 * the gate_up written here, sees the forward's values bit for bit. */
#include "trmdis_kernels.h"

#include <stdint.h>

/* The activation's multiplies round as the Swift version's do; the products use explicit fused multiply-adds. */
#pragma STDC FP_CONTRACT OFF

enum { TILE = 6, GROUP = 8, PANEL = 16, BLOCK_ROWS = 48 };

static ptrdiff_t groups(ptrdiff_t inner) { return (inner + GROUP - 1) / GROUP; }
static ptrdiff_t panels(ptrdiff_t width) { return (width + PANEL - 1) / PANEL; }

ptrdiff_t trmdis_mlp_packed_count(ptrdiff_t width, ptrdiff_t inner) {
    return groups(inner) * width * 2 * GROUP + panels(width) * groups(inner) * GROUP * PANEL;
}

ptrdiff_t trmdis_mlp_scratch_count(ptrdiff_t width, ptrdiff_t inner) {
    return BLOCK_ROWS * groups(inner) * GROUP + width;
}

/* Plain C: group g of the first part holds, for each k, the gate's 8 columns 8g.. and then the up branch's
 * (W_gu rows 8g.. and inner + 8g..); panel q of the second holds, for each inner index j, W_down's rows 16q..;
 * zeros past inner and width, so the padded lanes compute SiLU(0) * 0 = 0 and add nothing. */
void trmdis_mlp_pack(const float *w_gate_up, const float *w_down, ptrdiff_t width, ptrdiff_t inner, float *packed) {
    const ptrdiff_t padded = groups(inner) * GROUP;
    for (ptrdiff_t g = 0; g < groups(inner); g++)
        for (ptrdiff_t p = 0; p < width; p++)
            for (ptrdiff_t c = 0; c < GROUP; c++) {
                const ptrdiff_t j = g * GROUP + c;
                float *dst = packed + (g * width + p) * 2 * GROUP;
                dst[c] = j < inner ? w_gate_up[j * width + p] : 0.0f;
                dst[GROUP + c] = j < inner ? w_gate_up[(inner + j) * width + p] : 0.0f;
            }
    float *down = packed + groups(inner) * width * 2 * GROUP;
    for (ptrdiff_t q = 0; q < panels(width); q++)
        for (ptrdiff_t j = 0; j < padded; j++)
            for (ptrdiff_t c = 0; c < PANEL; c++) {
                const ptrdiff_t o = q * PANEL + c;
                down[(q * padded + j) * PANEL + c] = o < width && j < inner ? w_down[o * inner + j] : 0.0f;
            }
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math_avx2.h"

int trmdis_mlp_avx2_built(void) { return 1; }

#define MLP2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

/* The activation of six rows' gate and up tiles, stored in the down product's layout: act[(8g + c) * 6 + r]. */
MLP2_INLINE void store_activation(const __m256 *gate, const __m256 *up, float *act) {
    float tile[TILE][GROUP];
    for (int r = 0; r < TILE; r++)
        _mm256_storeu_ps(tile[r], _mm256_mul_ps(_mm256_mul_ps(gate[r], sigmoid8(gate[r])), up[r]));
    for (int c = 0; c < GROUP; c++)
        for (int r = 0; r < TILE; r++) act[c * TILE + r] = tile[r][c];
}

/* Six rows (pointers into x, or to zeros past the block's last row) against gate/up group g: the activation into
 * act, and gate_up's 8 + 8 columns into the first h rows at gate_up (row stride ld) unless it is NULL, with
 * non-temporal stores where `stream` says every full group's address is 16-byte aligned. */
MLP2_INLINE void gate_up_tile(const float *const *x, ptrdiff_t width, const float *group, float *act, float *gate_up,
                             ptrdiff_t ld, ptrdiff_t h, ptrdiff_t valid, int stream) {
    __m256 gate[TILE], up[TILE];
    for (int r = 0; r < TILE; r++) gate[r] = up[r] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < width; p++) {
        const __m256 bg = _mm256_loadu_ps(group + p * 2 * GROUP), bu = _mm256_loadu_ps(group + p * 2 * GROUP + GROUP);
        for (int r = 0; r < TILE; r++) {
            const __m256 a = _mm256_broadcast_ss(x[r] + p);
            gate[r] = _mm256_fmadd_ps(a, bg, gate[r]);
            up[r] = _mm256_fmadd_ps(a, bu, up[r]);
        }
    }
    store_activation(gate, up, act);
    if (!gate_up) return;
    const ptrdiff_t inner_half = ld / 2;
    if (valid == GROUP && stream) {
        /* Past the caches: the backward reads gate_up long after, and a plain store would read each line first. */
        for (ptrdiff_t r = 0; r < h; r++) {
            float *g = gate_up + r * ld, *u = g + inner_half;
            _mm_stream_ps(g, _mm256_castps256_ps128(gate[r]));
            _mm_stream_ps(g + 4, _mm256_extractf128_ps(gate[r], 1));
            _mm_stream_ps(u, _mm256_castps256_ps128(up[r]));
            _mm_stream_ps(u + 4, _mm256_extractf128_ps(up[r], 1));
        }
    } else if (valid == GROUP) {
        for (ptrdiff_t r = 0; r < h; r++) {
            _mm256_storeu_ps(gate_up + r * ld, gate[r]);
            _mm256_storeu_ps(gate_up + r * ld + inner_half, up[r]);
        }
    } else {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (ptrdiff_t r = 0; r < h; r++) {
            _mm256_maskstore_ps(gate_up + r * ld, mask, gate[r]);
            _mm256_maskstore_ps(gate_up + r * ld + inner_half, mask, up[r]);
        }
    }
}

/* out's 6 x 16 tile at panel q: sum over the padded inner j of act[j * 6 + r] * panel[j * 16 + 0:16]; h rows and
 * w columns of it are stored. */
MLP2_INLINE void down_tile(const float *act, const float *panel, ptrdiff_t padded, float *out, ptrdiff_t ldo,
                          ptrdiff_t h, ptrdiff_t w) {
    __m256 acc[TILE][2];
    for (int r = 0; r < TILE; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (ptrdiff_t j = 0; j < padded; j++) {
        const __m256 b0 = _mm256_loadu_ps(panel + j * PANEL), b1 = _mm256_loadu_ps(panel + j * PANEL + 8);
        for (int r = 0; r < TILE; r++) {
            const __m256 a = _mm256_broadcast_ss(act + j * TILE + r);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    if (w == PANEL) {
        for (ptrdiff_t r = 0; r < h; r++) {
            _mm256_storeu_ps(out + r * ldo, acc[r][0]);
            _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
        }
        return;
    }
    float tile[TILE][PANEL];
    for (int r = 0; r < TILE; r++) {
        _mm256_storeu_ps(tile[r], acc[r][0]);
        _mm256_storeu_ps(tile[r] + 8, acc[r][1]);
    }
    for (ptrdiff_t r = 0; r < h; r++)
        for (ptrdiff_t c = 0; c < w; c++) out[r * ldo + c] = tile[r][c];
}

__attribute__((target("avx2,fma"))) void trmdis_mlp_swiglu_avx2(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner,
                                                                const float *x, const float *packed, float *out,
                                                                float *gate_up, float *scratch) {
    const ptrdiff_t padded = groups(inner) * GROUP;
    const float *down = packed + groups(inner) * width * 2 * GROUP;
    float *act = scratch, *zeros = scratch + BLOCK_ROWS * padded;
    const int stream = gate_up && (uintptr_t)gate_up % 16 == 0 && inner % 4 == 0;
    for (ptrdiff_t p = 0; p < width; p++) zeros[p] = 0.0f;
    for (ptrdiff_t first = 0; first < rows; first += BLOCK_ROWS) {
        const ptrdiff_t block = rows - first < BLOCK_ROWS ? rows - first : BLOCK_ROWS;
        /* The activation, group by group: the group's 2 x 8 columns of weights stay in L1 while the block's
         * tiles pass them. */
        for (ptrdiff_t g = 0; g < groups(inner); g++) {
            const ptrdiff_t valid = inner - g * GROUP < GROUP ? inner - g * GROUP : GROUP;
            for (ptrdiff_t i = 0; i < block; i += TILE) {
                const ptrdiff_t h = block - i < TILE ? block - i : TILE;
                const float *rows_x[TILE];
                for (ptrdiff_t r = 0; r < TILE; r++) rows_x[r] = r < h ? x + (first + i + r) * width : zeros;
                gate_up_tile(rows_x, width, packed + g * width * 2 * GROUP, act + i * padded + g * GROUP * TILE,
                             gate_up ? gate_up + (first + i) * 2 * inner + g * GROUP : NULL, 2 * inner, h, valid,
                             stream);
            }
        }
        /* The down product, panel by panel. */
        for (ptrdiff_t q = 0; q < panels(width); q++) {
            const ptrdiff_t w = width - q * PANEL < PANEL ? width - q * PANEL : PANEL;
            for (ptrdiff_t i = 0; i < block; i += TILE) {
                const ptrdiff_t h = block - i < TILE ? block - i : TILE;
                down_tile(act + i * padded, down + q * padded * PANEL, padded, out + (first + i) * width + q * PANEL,
                          width, h, w);
            }
        }
    }
    if (stream) _mm_sfence(); /* the streamed gate_up is visible before the pool's hand-off says the rows are done */
}

#else

int trmdis_mlp_avx2_built(void) { return 0; }
void trmdis_mlp_swiglu_avx2(ptrdiff_t rows, ptrdiff_t width, ptrdiff_t inner, const float *x, const float *packed,
                            float *out, float *gate_up, float *scratch) {
    (void)rows; (void)width; (void)inner; (void)x; (void)packed; (void)out; (void)gate_up; (void)scratch;
}

#endif
