/// Vectorised transcendental functions for the elementwise kernels (softmax, SiLU), accurate to a few
/// ulp in fp32: e^x = 2^n · p(r) with n = round(x·log2 e) and a degree-6 polynomial on
/// r = x − n·ln 2 (Cephes coefficients).
package enum VectorMath {
    package typealias V = SIMD8<Float>

    @inline(__always)
    package static func exp(_ x: V) -> V {
        let lo = V(repeating: -87.3), hi = V(repeating: 88.7)
        let clamped = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- (0x4B40_0000 - 127)) &<< 23
        return y * unsafeBitCast(exponent, to: V.self)
    }

    @inline(__always)
    package static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    @inline(__always)
    package static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    package static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
