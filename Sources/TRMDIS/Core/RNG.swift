#if canImport(Glibc)
import Glibc
#endif

/// xoshiro256** seeded through SplitMix64: fast, small state, and the same stream on every platform.
/// Every random draw in the engine goes through one of these, so a seed fixes the bits.
package struct RNG: RandomNumberGenerator, Sendable, Equatable {
    package var state: (UInt64, UInt64, UInt64, UInt64)

    package init(seed: UInt64) {
        var s = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(&s), splitmix(&s), splitmix(&s), splitmix(&s))
    }

    package static func == (a: RNG, b: RNG) -> Bool {
        a.state.0 == b.state.0 && a.state.1 == b.state.1 && a.state.2 == b.state.2 && a.state.3 == b.state.3
    }

    @inline(__always)
    package mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    package mutating func uniform() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<bound.
    package mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
    }

    /// JAX/Flax-style truncated normal (bounds at -2 and +2 of the underlying normal), rescaled so the
    /// sample's actual standard deviation equals `std` (docs/model.md: The network).
    package mutating func truncatedNormal(std: Double) -> Double {
        if std == 0 { return 0 }
        let lower = -2.0, upper = 2.0
        let sqrt2 = 2.0.squareRoot()
        let pdf = { (x: Double) in exp(-0.5 * x * x) / (2.0 * Double.pi).squareRoot() }
        let z = (erf(upper / sqrt2) - erf(lower / sqrt2)) / 2
        let variance = 1 - (upper * pdf(upper) - lower * pdf(lower)) / z - pow((pdf(upper) - pdf(lower)) / z, 2)
        let compStd = std / variance.squareRoot()
        let a = erf(lower / sqrt2), b = erf(upper / sqrt2)
        let u = a + (b - a) * uniform()
        let value = inverseErf(u) * sqrt2 * compStd
        return min(max(value, lower * compStd), upper * compStd)
    }
}

/// erf⁻¹ on (-1, 1): a rational first guess refined by Newton steps on Glibc's erf.
func inverseErf(_ y: Double) -> Double {
    if y <= -1 { return -.infinity }
    if y >= 1 { return .infinity }
    // Winitzki's approximation, good to ~2e-3, then Newton to full double precision.
    let a = 0.147
    let ln = log(1 - y * y)
    let t = 2 / (Double.pi * a) + ln / 2
    var x = ((t * t - ln / a).squareRoot() - t).squareRoot()
    if y < 0 { x = -x }
    for _ in 0..<4 {
        let err = erf(x) - y
        x -= err / (2 / Double.pi.squareRoot() * exp(-x * x))
    }
    return x
}
