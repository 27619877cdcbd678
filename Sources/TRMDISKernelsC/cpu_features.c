/* The CPU's vector instruction sets, as the CPU itself reports them (CPUID) and as the operating system
 * enables them (XGETBV: the registers are saved on a context switch). This is the test OpenBLAS applies
 * when it loads or is asked for a core, and the one that decides whether an instruction runs; the flags
 * line of /proc/cpuinfo is the kernel's view of the host and disagrees under an emulator (qemu-user shows
 * the host's file while the program runs on the emulated CPU). */
#include "trmdis_kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

unsigned int trmdis_cpu_features(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const unsigned long long state = xcr0();
    if ((state & 0x6) != 0x6) return 0;  /* XMM and YMM state */
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);  /* a: the highest sub-leaf of leaf 7 */
    unsigned int features = 0;
    if (((b >> 5) & 1) && fma) features |= TRMDIS_CPU_AVX2_FMA;
    /* AVX-512 F, DQ, BW and VL (bits 16, 17, 30, 31), with opmask and ZMM state enabled (XCR0 bits 5-7). */
    const unsigned int avx512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((b & avx512) == avx512 && (state & 0xE0) == 0xE0 && (features & TRMDIS_CPU_AVX2_FMA)) {
        features |= TRMDIS_CPU_AVX512;
        if (a >= 1) {
            unsigned int a1, b1, c1, d1;
            __cpuid_count(7, 1, a1, b1, c1, d1);
            if ((a1 >> 5) & 1) features |= TRMDIS_CPU_AVX512_BF16;  /* leaf 7.1 EAX bit 5 */
        }
    }
    return features;
}
#else
unsigned int trmdis_cpu_features(void) { return 0; }
#endif
