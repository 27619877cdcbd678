#if canImport(Glibc)
import Glibc
#endif
import TRMDISKernelsC

/// The elementwise row kernels that dominate after the matrix products (the attention softmax, the SwiGLU
/// activation and its gradient), written here in Swift with SIMD8. The default x86-64 build has only SSE,
/// so each SIMD8 operation is two 4-wide instructions; Sources/TRMDISKernelsC holds AVX2 twins and, for the
/// two SwiGLU kernels, AVX-512 ones (compiled for their instruction set function by function, so the library
/// still runs on any x86-64), used on a CPU whose CPUID shows that instruction set. The twins repeat these
/// operations lane by lane in the same order without fused multiply-adds: results are the same bits at every
/// level (KernelTests). TRMDIS_KERNELS=baseline or =avx2 caps the level (docs/performance.md).
package enum Elementwise {
    package enum Level: Int, Comparable, Sendable {
        case baseline, avx2, avx512
        package static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The widest twins this build and CPU can run, capped by TRMDIS_KERNELS ("baseline" or "avx2"). Decided once.
    package static let level: Level = {
        let cap: Level = switch getenv("TRMDIS_KERNELS").map({ String(cString: $0) }) {
        case "baseline": .baseline
        case "avx2": .avx2
        default: .avx512
        }
        let cpu: Level
        switch BLASRuntime.instructionSet() {
        case "avx512" where trmdis_kernels_avx512_built() == 1: cpu = .avx512
        case "avx512", "avx2": cpu = trmdis_kernels_avx2_built() == 1 ? .avx2 : .baseline
        default: cpu = .baseline
        }
        return min(cap, cpu)
    }()

    /// Whether the AVX2 twins (or wider) run.
    package static var usesAVX2: Bool { level >= .avx2 }

    /// "avx512", "avx2" or "baseline (SSE)", for `trmdis info` and the benchmark's header.
    package static var name: String {
        switch level {
        case .avx512: "avx512"
        case .avx2: "avx2"
        case .baseline: "baseline (SSE)"
        }
    }

    /// p ← softmax(p) over n values.
    @inline(__always)
    package static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if usesAVX2 { trmdis_softmax_row_avx2(p, n) } else { softmaxRowSwift(p, n) }
    }

    /// act[r, j] = SiLU(gate[r, j]) · up[r, j] for `rows`, reading the fused [rows, 2·inner] projection.
    @inline(__always)
    package static func swiGLU(_ gateUp: UnsafePointer<Float>, _ act: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        switch level {
        case .avx512: trmdis_swiglu_avx512(gateUp, act, inner, rows.lowerBound, rows.upperBound)
        case .avx2: trmdis_swiglu_avx2(gateUp, act, inner, rows.lowerBound, rows.upperBound)
        case .baseline: swiGLUSwift(gateUp, act, inner: inner, rows: rows)
        }
    }

    /// dU = dAct·SiLU(g), dG = dAct·u·σ(g)·(1 + g·(1 − σ(g))) for `rows`; `dGateUp` may be `gateUp`.
    @inline(__always)
    package static func swiGLUBackward(_ gateUp: UnsafePointer<Float>, dAct: UnsafePointer<Float>,
                                       dGateUp: UnsafeMutablePointer<Float>, inner: Int, rows: Range<Int>) {
        switch level {
        case .avx512: trmdis_swiglu_backward_avx512(gateUp, dAct, dGateUp, inner, rows.lowerBound, rows.upperBound)
        case .avx2: trmdis_swiglu_backward_avx2(gateUp, dAct, dGateUp, inner, rows.lowerBound, rows.upperBound)
        case .baseline: swiGLUBackwardSwift(gateUp, dAct: dAct, dGateUp: dGateUp, inner: inner, rows: rows)
        }
    }

    // MARK: The Swift versions (the reference for the twins)

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
