/// Vectorised transcendental functions for the elementwise kernels (softmax, SiLU) and the AdamATan2 update,
/// accurate to a few ulp in fp32: e^x = 2^n · p(r) with n = round(x·log2 e) and a degree-6 polynomial on
/// r = x − n·ln 2; atan on [0, tan π/8] by an odd degree-9 polynomial (Cephes coefficients for both).
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

    /// atan2(y, x) for x ≥ 0 (or +0), the only half-plane AdamATan2 needs (x = √v̂): t = min/max of |y| and x
    /// lies in [0, 1]; above tan π/8 it is folded to (t − 1)/(t + 1) around π/4; where |y| > x the angle is
    /// π/2 minus atan(x/|y|); y's sign is copied last, so atan2(±0, 0) = ±0 and atan2(y, 0) = ±π/2, as libm.
    /// Within 3·10⁻⁷ relative of atan2f, NaN in NaN out (KernelTests). Negative x is outside the domain.
    @inline(__always)
    package static func atan2(_ y: V, nonNegative x: V) -> V {
        let signMask = SIMD8<UInt32>(repeating: 0x8000_0000)
        let yBits = unsafeBitCast(y, to: SIMD8<UInt32>.self)
        let a = unsafeBitCast(yBits & ~signMask, to: V.self)
        let big = pointwiseMax(a, x), small = pointwiseMin(a, x)
        var t = small / big
        t.replace(with: 1, where: small .== big)  // ∞/∞: atan2(±∞, ∞) = ±π/4
        t.replace(with: 0, where: big .== 0)
        let folded = t .> 0.414_213_56
        let u = t.replacing(with: (t - 1) / (t + 1), where: folded)
        let z = u * u
        var p = V(repeating: 8.053_744_495_38e-2)
        p = p * z - 1.387_768_560_32e-1
        p = p * z + 1.997_771_064_78e-1
        p = p * z - 3.333_294_915_39e-1
        var r = p * z * u + u
        r.replace(with: r + 0.785_398_163_397, where: folded)
        r.replace(with: 1.570_796_326_79 - r, where: a .> x)
        var result = unsafeBitCast(unsafeBitCast(r, to: SIMD8<UInt32>.self) | (yBits & signMask), to: V.self)
        result.replace(with: .nan, where: (y .!= y) .| (x .!= x))  // min and max above drop a NaN
        return result
    }

    @inline(__always)
    package static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    @inline(__always)
    package static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    package static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
}
