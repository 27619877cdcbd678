#if canImport(Glibc)
import Glibc
#endif
import TRMDISKernelsC

/// The elementwise row kernels that dominate after the matrix products (the attention softmax, the SwiGLU
/// activation and its gradient), written here in Swift with SIMD8. The default x86-64 build has only SSE,
/// so each SIMD8 operation is two 4-wide instructions; Sources/TRMDISKernelsC holds AVX2 twins (compiled
/// for AVX2 function by function, so the library still runs on any x86-64), used on a CPU whose CPUID shows
/// AVX2 and FMA. The twins repeat these operations in the same order without fused multiply-adds: results
/// are the same bits either way (KernelTests). TRMDIS_KERNELS=baseline forces the Swift versions
/// (docs/performance.md).
package enum Elementwise {
    /// Whether the AVX2 twins run: built for x86-64, the CPU has AVX2 and FMA, and TRMDIS_KERNELS is not
    /// "baseline". Decided once.
    package static let usesAVX2: Bool = {
        if let v = getenv("TRMDIS_KERNELS"), String(cString: v) == "baseline" { return false }
        return trmdis_kernels_avx2_built() == 1 && BLASRuntime.instructionSet() != "sse"
    }()

    /// "avx2" or "baseline (SSE)", for `trmdis info` and the benchmark's header.
    package static var name: String { usesAVX2 ? "avx2" : "baseline (SSE)" }

    /// p ← softmax(p) over n values.
    @inline(__always)
    package static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if usesAVX2 { trmdis_softmax_row_avx2(p, n) } else { softmaxRowSwift(p, n) }
    }

    /// act[r, j] = SiLU(gate[r, j]) · up[r, j] for `rows`, reading the fused [rows, 2·inner] projection.
    @inline(__always)
    package static func swiGLU(_ gateUp: UnsafePointer<Float>, _ act: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        if usesAVX2 { trmdis_swiglu_avx2(gateUp, act, inner, rows.lowerBound, rows.upperBound) }
        else { swiGLUSwift(gateUp, act, inner: inner, rows: rows) }
    }

    /// dU = dAct·SiLU(g), dG = dAct·u·σ(g)·(1 + g·(1 − σ(g))) for `rows`; `dGateUp` may be `gateUp`.
    @inline(__always)
    package static func swiGLUBackward(_ gateUp: UnsafePointer<Float>, dAct: UnsafePointer<Float>,
                                       dGateUp: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        if usesAVX2 { trmdis_swiglu_backward_avx2(gateUp, dAct, dGateUp, inner, rows.lowerBound, rows.upperBound) }
        else { swiGLUBackwardSwift(gateUp, dAct: dAct, dGateUp: dGateUp, inner: inner, rows: rows) }
    }

    // MARK: The Swift versions (the reference for the AVX2 twins)

    package static func softmaxRowSwift(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        typealias V = VectorMath.V
        var m = -Float.infinity
        var j = 0
        if n >= 8 {
            var mv = VectorMath.load(p)
            j = 8
            while j + 8 <= n { mv = pointwiseMax(mv, VectorMath.load(p + j)); j += 8 }
            m = mv.max()
        }
        while j < n { m = max(m, p[j]); j += 1 }
        let mv = V(repeating: m)
        var sv = V(repeating: 0)
        j = 0
        while j + 8 <= n {
            let e = VectorMath.exp(VectorMath.load(p + j) - mv)
            VectorMath.store(e, p + j)
            sv += e
            j += 8
        }
        var sum = sv.sum()
        while j < n {
            let e = VectorMath.exp(V(repeating: p[j] - m))[0]
            p[j] = e
            sum += e
            j += 1
        }
        let inv = 1 / sum
        for i in 0..<n { p[i] *= inv }
    }

    /// σ(x) for one value: lane 0 of the vector formula, so a value's result does not depend on where it sits.
    @inline(__always) static func sigmoid(_ x: Float) -> Float { VectorMath.sigmoid(.init(repeating: x))[0] }

    package static func swiGLUSwift(_ gateUp: UnsafePointer<Float>, _ act: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        for r in rows {
            let g = gateUp + r * 2 * inner, u = g + inner, a = act + r * inner
            var j = 0
            while j + 8 <= inner {
                let gv = VectorMath.load(g + j)
                VectorMath.store(gv * VectorMath.sigmoid(gv) * VectorMath.load(u + j), a + j)
                j += 8
            }
            while j < inner { a[j] = g[j] * sigmoid(g[j]) * u[j]; j += 1 }
        }
    }

    package static func swiGLUBackwardSwift(_ gateUp: UnsafePointer<Float>, dAct: UnsafePointer<Float>,
                                            dGateUp: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        for r in rows {
            let g = gateUp + r * 2 * inner, u = g + inner, da = dAct + r * inner
            let dg = dGateUp + r * 2 * inner, du = dg + inner
            var j = 0
            while j + 8 <= inner {
                let gv = VectorMath.load(g + j), uv = VectorMath.load(u + j), dav = VectorMath.load(da + j)
                let s = VectorMath.sigmoid(gv)
                VectorMath.store(dav * gv * s, du + j)
                VectorMath.store(dav * uv * s * (1 + gv * (1 - s)), dg + j)
                j += 8
            }
            while j < inner {
                let gj = g[j], uj = u[j], s = sigmoid(gj), silu = gj * s
                du[j] = da[j] * silu
                dg[j] = da[j] * uj * s * (1 + gj * (1 - s))
                j += 1
            }
        }
    }
}
